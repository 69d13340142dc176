/*
 * The deadline of a whole MySQL call (store_mysql_watch.h): a thread that
 * shuts down the socket of a call that outlived its limit. It only ever
 * touches a socket under the connection's watch lock, and the backend
 * gives the socket up under the same lock before it closes it, so a number
 * the kernel gave to another file is never shut down.
 */
#include "store_mysql_watch.h"

#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"

#define WATCH_EVERY_MS 250

static pthread_mutex_t watched_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hw_my_watch *watched; /* every watched connection, under watched_lock */
static pthread_once_t thread_once = PTHREAD_ONCE_INIT;

/* Shuts down w's socket if its call is past its limit (w->lock held). */
static void check(struct hw_my_watch *w, int64_t now)
{
    if (!w->held || w->cut || w->sock < 0 || now - w->start_ms <= w->limit_ms)
        return;
    w->cut = 1;
    shutdown(w->sock, SHUT_RDWR);
    HW_WARN("store %s: MySQL call cut after %lld s: the server's answer comes too slowly", w->name,
            (long long)(now - w->start_ms) / 1000);
}

static void *watch_main(void *arg)
{
    struct timespec every = { 0, WATCH_EVERY_MS * 1000000L };

    (void)arg;
    pthread_setname_np(pthread_self(), "hw-my-watch");
    for (;;) {
        nanosleep(&every, NULL);
        pthread_mutex_lock(&watched_lock);
        for (struct hw_my_watch *w = watched; w; w = w->next) {
            pthread_mutex_lock(&w->lock);
            check(w, hw_mono_ms());
            pthread_mutex_unlock(&w->lock);
        }
        pthread_mutex_unlock(&watched_lock);
    }
    return NULL;
}

/*
 * Starts the thread with every signal blocked (it inherits the mask): a
 * signal meant for the program (a CLI's Ctrl-C, which it may poll for with
 * the signal blocked on its own thread) never lands here.
 */
static void thread_start(void)
{
    sigset_t all, was;
    pthread_t th;
    pthread_attr_t a;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &was);
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &a, watch_main, NULL) != 0)
        HW_WARN("store: cannot start the MySQL watch thread: a trickling answer is not cut");
    pthread_attr_destroy(&a);
    pthread_sigmask(SIG_SETMASK, &was, NULL);
}

void hw_my_watch_add(struct hw_my_watch *w, const char *name)
{
    pthread_mutex_init(&w->lock, NULL);
    w->name = name;
    w->sock = -1;
    w->held = w->cut = 0;
    w->start_ms = w->limit_ms = 0;
    pthread_once(&thread_once, thread_start);
    pthread_mutex_lock(&watched_lock);
    w->next = watched;
    watched = w;
    pthread_mutex_unlock(&watched_lock);
}

void hw_my_watch_remove(struct hw_my_watch *w)
{
    pthread_mutex_lock(&watched_lock);
    for (struct hw_my_watch **pp = &watched; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    pthread_mutex_unlock(&watched_lock);
    pthread_mutex_destroy(&w->lock);
}

void hw_my_watch_socket(struct hw_my_watch *w, int sock)
{
    pthread_mutex_lock(&w->lock);
    w->sock = sock;
    pthread_mutex_unlock(&w->lock);
}

void hw_my_watch_call(struct hw_my_watch *w, int begin)
{
    pthread_mutex_lock(&w->lock);
    w->held = begin;
    w->cut = 0;
    w->start_ms = hw_mono_ms();
    pthread_mutex_unlock(&w->lock);
}

void hw_my_watch_touch(struct hw_my_watch *w, int64_t limit_ms)
{
    pthread_mutex_lock(&w->lock);
    w->cut = 0;
    w->start_ms = hw_mono_ms();
    w->limit_ms = limit_ms;
    pthread_mutex_unlock(&w->lock);
}
