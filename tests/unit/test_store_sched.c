/*
 * The store threads' scheduling (store_queue.c, store_sched.c): with cfg.idle, a writer that
 * takes a batch of finished appends alone runs it in SCHED_IDLE; a pending append, or two full
 * batches of finished ones waiting, takes it out of SCHED_IDLE as it is submitted, while the
 * writer is still busy with its batch (on a busy machine it might not get the core to do so
 * itself); a batch that holds a pending append is written in SCHED_OTHER,
 * and a writer done with its batch is back in SCHED_OTHER before it takes the lock. The check that
 * the process may leave SCHED_IDLE at all (hw_sched_idle_reversible()) answers as the kernel does.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/err.h"
#include "store/store_queue.h"
#include "store/store_sched.h"

#define BATCH 8

/* What the commit function saw, and the gate that holds it inside a batch. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pid_t tid;
    int entered;    /* batches the commit function entered */
    int open;       /* batches it may finish */
    int policy[16]; /* the writer's policy in each batch */
    int wakes;      /* the queue's calls of its wake function */
} g = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void commit(void *ctx, unsigned writer, struct hw_store_pending **v, size_t n)
{
    (void)ctx;
    (void)writer;
    for (size_t i = 0; i < n; i++)
        v[i]->err = 0;
    pthread_mutex_lock(&g.lock);
    g.tid = gettid();
    g.policy[g.entered < 16 ? g.entered : 15] = sched_getscheduler(0);
    g.entered++;
    pthread_cond_broadcast(&g.cond);
    while (g.open < g.entered)
        pthread_cond_wait(&g.cond, &g.lock);
    pthread_mutex_unlock(&g.lock);
}

static void on_done(void *arg, int err, const struct hw_store_result *res)
{
    (void)res;
    CHECK_EQ(err, 0);
    ++*(int *)arg;
}

/* The queue's wake function: completions are ready to poll. */
static void wake(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g.lock);
    g.wakes++;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
}

static void submit(struct hw_store_queue *q, int finished, int *done)
{
    struct hw_store_pending *p = calloc(1, sizeof(*p));

    CHECK(p);
    p->finished = finished;
    p->bytes = 64;
    p->cb = on_done;
    p->arg = done;
    CHECK_EQ(hw_store_queue_submit(q, p), 0);
}

/* Waits (5 s at most) until the commit function entered n batches. */
static void wait_entered(int n)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&g.lock);
    while (g.entered < n && pthread_cond_timedwait(&g.cond, &g.lock, &until) == 0)
        ;
    CHECK_EQ(g.entered, n);
    pthread_mutex_unlock(&g.lock);
}

static void open_gate(int n)
{
    pthread_mutex_lock(&g.lock);
    g.open = n;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
}

static struct hw_store_queue *new_queue(void)
{
    struct hw_store_queue *q = NULL;
    struct hw_store_queue_cfg cfg = {
        .commit = commit,
        .wake = wake,
        .max_items = 100,
        .max_bytes = 1 << 20,
        .batch_items = BATCH,
        .batch_bytes = 1 << 20,
        .writers = 1,
        .idle = 1,
    };

    memset(g.policy, -1, sizeof(g.policy));
    g.entered = g.open = 0;
    CHECK_EQ(hw_store_queue_new(&cfg, &q), 0);
    return q;
}

/* Runs the callbacks each time the queue wakes this thread, until n ran (5 s at most). */
static void poll_until(struct hw_store_queue *q, int *done, int n)
{
    struct timespec until;
    int seen = 0, late = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    while (!late) {
        hw_store_queue_poll(q);
        if (*done >= n)
            break;
        pthread_mutex_lock(&g.lock);
        while (g.wakes == seen && !late)
            late = pthread_cond_timedwait(&g.cond, &g.lock, &until) != 0;
        seen = g.wakes;
        pthread_mutex_unlock(&g.lock);
    }
    CHECK_EQ(*done, n);
}

/* A pending append lifts the writer while it is still inside a batch of finished ones. */
static void test_pending_lifts(void)
{
    struct hw_store_queue *q = new_queue();
    int done = 0;

    submit(q, 1, &done);
    wait_entered(1);
    CHECK_EQ(g.policy[0], SCHED_IDLE);
    CHECK_EQ(sched_getscheduler(g.tid), SCHED_IDLE);
    submit(q, 0, &done);
    CHECK_EQ(sched_getscheduler(g.tid), SCHED_OTHER); /* the writer is still held in batch 1 */
    open_gate(1);
    wait_entered(2);
    CHECK_EQ(g.policy[1], SCHED_OTHER); /* the pending append's batch */
    open_gate(2);
    poll_until(q, &done, 2);
    /* Finished appends alone again: back to SCHED_IDLE. */
    submit(q, 1, &done);
    wait_entered(3);
    CHECK_EQ(g.policy[2], SCHED_IDLE);
    open_gate(3);
    poll_until(q, &done, 3);
    /* Its batch is done: it left SCHED_IDLE before it took the queue's lock again. */
    CHECK_EQ(sched_getscheduler(g.tid), SCHED_OTHER);
    hw_store_queue_free(q);
}

/*
 * Two full batches of finished appends waiting lift it too; fewer do not. A full batch with
 * less than another one behind it is what a linger ends with at a high rate: SCHED_IDLE.
 */
static void test_backlog_lifts(void)
{
    struct hw_store_queue *q = new_queue();
    int done = 0;

    submit(q, 1, &done);
    wait_entered(1);
    for (int i = 0; i < 2 * BATCH - 1; i++)
        submit(q, 1, &done);
    CHECK_EQ(sched_getscheduler(g.tid), SCHED_IDLE);
    submit(q, 1, &done);
    CHECK_EQ(sched_getscheduler(g.tid), SCHED_OTHER); /* two full batches: the writer is behind */
    open_gate(1);
    wait_entered(2);
    CHECK_EQ(g.policy[1], SCHED_IDLE); /* full, one batch behind it: no longer a backlog */
    open_gate(2);
    wait_entered(3);
    CHECK_EQ(g.policy[2], SCHED_IDLE);
    open_gate(3);
    poll_until(q, &done, 2 * BATCH + 1);
    hw_store_queue_free(q);
}

/* The kernel's rule: leaving SCHED_IDLE takes CAP_SYS_NICE (or RLIMIT_NICE); the check agrees. */
static void test_reversible(void)
{
    const char *why = NULL;
    int cap = 0;
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");

    CHECK(f);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "CapEff:", 7) == 0)
            cap = (int)(strtoull(line + 7, NULL, 16) >> 23 & 1);
    }
    fclose(f);
    if (cap) {
        CHECK_EQ(hw_sched_idle_reversible(10, &why), 1);
        CHECK(why == NULL);
    } else {
        struct rlimit rl;

        CHECK_EQ(getrlimit(RLIMIT_NICE, &rl), 0);
        CHECK_EQ(hw_sched_idle_reversible(10, &why), rl.rlim_cur >= 10);
    }
    /* The trial ran on a thread of its own: this one is as it was. */
    CHECK_EQ(sched_getscheduler(0), SCHED_OTHER);
}

int main(void)
{
    const char *why;

    test_reversible();
    if (!hw_sched_idle_reversible(10, &why)) {
        /* No privilege here: what the queue does in SCHED_IDLE cannot be tried. */
        fprintf(stderr, "test_store_sched: %s; the queue's policy changes were not tried\n", why);
        return 0;
    }
    test_pending_lifts();
    test_backlog_lifts();
    return 0;
}
