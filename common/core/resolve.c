/*
 * Host name lookups on a detached thread each (resolve.h). The lookup and
 * its caller share one struct with two references: the thread drops its own
 * when the answer is in, the caller when it no longer wants it, and the
 * last one frees it, so that neither waits for the other.
 */
#include "resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Lookups whose thread runs, given up on by their caller or not. */
static atomic_int running;

struct hw_resolve {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs; /* the thread's and the caller's */
    int done;
    int gai;
    struct hw_addrs out;
    char name[]; /* the name looked up */
};

int hw_addr_is_numeric(const char *s)
{
    const char *scope = strchr(s, '%');
    char v6[HW_ADDR_STRLEN];
    struct in6_addr a6;
    struct in_addr a4;

    if (strlen(s) >= HW_ADDR_STRLEN)
        return 0; /* it would not fit struct hw_addrs: a scope past any interface name */
    if (!scope)
        return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
    /* A link-local IPv6 address with its scope: "fe80::1%eth0". */
    if (scope == s || !scope[1] || (size_t)(scope - s) >= sizeof(v6))
        return 0;
    memcpy(v6, s, (size_t)(scope - s));
    v6[scope - s] = 0;
    return inet_pton(AF_INET6, v6, &a6) == 1;
}

static void unref(struct hw_resolve *q)
{
    int last;

    pthread_mutex_lock(&q->mu);
    last = --q->refs == 0;
    pthread_mutex_unlock(&q->mu);
    if (!last)
        return;
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

/* The addresses of res in numbers (a link-local one with its scope), without repeats. */
static void keep(struct hw_addrs *out, const struct addrinfo *res)
{
    out->n = 0;
    for (const struct addrinfo *ai = res; ai && out->n < HW_ADDRS_MAX; ai = ai->ai_next) {
        char s[HW_ADDR_STRLEN];
        size_t i;

        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            getnameinfo(ai->ai_addr, ai->ai_addrlen, s, sizeof(s), NULL, 0, NI_NUMERICHOST))
            continue;
        for (i = 0; i < out->n && strcmp(out->a[i], s) != 0; i++)
            ;
        if (i == out->n)
            memcpy(out->a[out->n++], s, sizeof(s));
    }
}

static void *lookup(void *arg)
{
    struct hw_resolve *q = arg;
    struct addrinfo hints, *res = NULL;
    struct hw_addrs out;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(q->name, NULL, &hints, &res);
    memset(&out, 0, sizeof(out));
    if (!rc) {
        keep(&out, res);
        if (!out.n)
            rc = EAI_NONAME; /* only families a TCP connection cannot use */
    }
    if (res)
        freeaddrinfo(res);
    pthread_mutex_lock(&q->mu);
    q->gai = rc;
    q->out = out;
    q->done = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    unref(q);
    atomic_fetch_sub(&running, 1);
    return NULL;
}

struct hw_resolve *hw_resolve_start(const char *name)
{
    size_t len = strlen(name);
    struct hw_resolve *q = calloc(1, sizeof(*q) + len + 1);
    pthread_condattr_t ca;
    pthread_attr_t ta;
    pthread_t tid;
    sigset_t all, old;
    int rc;

    if (!q)
        return NULL;
    /* A name service that never answers keeps each thread: their number stays bounded. */
    if (atomic_fetch_add(&running, 1) >= HW_RESOLVE_RUNNING_MAX) {
        atomic_fetch_sub(&running, 1);
        free(q);
        errno = EAGAIN;
        return NULL;
    }
    memcpy(q->name, name, len + 1);
    q->refs = 2;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* hw_resolve_wait()'s deadlines */
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_attr_init(&ta);
    pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
    /* Signals stay with the threads that handle them. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&tid, &ta, lookup, q);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&ta);
    if (rc) {
        atomic_fetch_sub(&running, 1);
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
        free(q);
        errno = rc;
        return NULL;
    }
    return q;
}

/* With q->mu held: copies the answer out if it is in. */
static int answer(struct hw_resolve *q, struct hw_addrs *out, int *gai)
{
    if (!q->done)
        return 0;
    *gai = q->gai;
    *out = q->out;
    return 1;
}

int hw_resolve_poll(struct hw_resolve *q, struct hw_addrs *out, int *gai)
{
    int done;

    pthread_mutex_lock(&q->mu);
    done = answer(q, out, gai);
    pthread_mutex_unlock(&q->mu);
    return done;
}

int hw_resolve_wait(struct hw_resolve *q, int64_t deadline_ms, struct hw_addrs *out, int *gai)
{
    struct timespec until = { .tv_sec = (time_t)(deadline_ms / 1000),
                              .tv_nsec = (long)(deadline_ms % 1000) * 1000000 };
    int done;

    pthread_mutex_lock(&q->mu);
    while (!(done = answer(q, out, gai)))
        if (pthread_cond_timedwait(&q->cv, &q->mu, &until) == ETIMEDOUT) {
            done = answer(q, out, gai);
            break;
        }
    pthread_mutex_unlock(&q->mu);
    return done;
}

void hw_resolve_drop(struct hw_resolve *q)
{
    if (q)
        unref(q);
}
