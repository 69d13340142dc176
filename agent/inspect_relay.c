/*
 * Relay threads for the inspector (see inspect_relay.h): a queue of jobs
 * under one mutex, a few threads that take them and make their blocking
 * calls with the agent's history client, and a done list the service
 * thread empties when woken. Owns struct agent_relays and every job handed
 * to it. Threads: as each function says.
 */
#include "inspect_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "history.h"

#define THREADS_MAX 4
#define WAITING_MAX 64                  /* jobs waiting for a thread */
#define ANSWER_MAX  (64u * 1024 * 1024) /* the relay's list and bodies stay far below */

struct agent_relays {
    struct agent *a;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct agent_relay_job *todo, *todo_tail, *done;
    unsigned waiting;
    int stopping;
    unsigned nthreads;
    pthread_t threads[THREADS_MAX];
    int cancel[2]; /* a byte in it ends every call under way: the stop does not wait for them */
};

void agent_relay_job_free(struct agent_relay_job *j)
{
    if (!j)
        return;
    for (int i = 0; i < AGENT_RELAY_CALLS; i++)
        hw_buf_cleanup(&j->body[i]);
    free(j);
}

static void list_free(struct agent_relay_job *j)
{
    while (j) {
        struct agent_relay_job *next = j->next;
        agent_relay_job_free(j);
        j = next;
    }
}

/* Relay thread: takes jobs until told to stop. */
static void *worker(void *arg)
{
    struct agent_relays *rp = arg;

    pthread_mutex_lock(&rp->mu);
    for (;;) {
        struct agent_relay_job *j;

        while (!rp->todo && !rp->stopping)
            pthread_cond_wait(&rp->cv, &rp->mu);
        if (rp->stopping)
            break;
        j = rp->todo;
        rp->todo = j->next;
        if (!rp->todo)
            rp->todo_tail = NULL;
        rp->waiting--;
        pthread_mutex_unlock(&rp->mu);
        /*
         * The job is this thread's alone until it is on the done list. Its
         * calls share the deadline set at its submit (the wait for a thread
         * included): the inspector's request that made it is answered, 504
         * at worst, AGENT_HISTORY_TIMEOUT_S after it came.
         */
        for (int i = 0; i < j->ncalls; i++) {
            j->err[i] = hw_mono_ms() >= j->deadline_ms
                            ? -ETIMEDOUT
                            : agent_history_call(rp->a, j->method, j->path[i], j->deadline_ms,
                                                 rp->cancel[0], &j->status[i], &j->body[i]);
            if (j->err[i] || j->status[i] >= 300)
                break;
        }
        pthread_mutex_lock(&rp->mu);
        j->next = rp->done;
        rp->done = j;
        lws_cancel_service(rp->a->context);
    }
    pthread_mutex_unlock(&rp->mu);
    return NULL;
}

struct agent_relays *agent_relays_new(struct agent *a, unsigned nthreads)
{
    struct agent_relays *rp = calloc(1, sizeof(*rp));

    if (!rp)
        return NULL;
    rp->a = a;
    pthread_mutex_init(&rp->mu, NULL);
    pthread_cond_init(&rp->cv, NULL);
    if (pipe2(rp->cancel, O_CLOEXEC | O_NONBLOCK)) {
        rp->cancel[0] = rp->cancel[1] = -1;
        agent_relays_free(rp);
        return NULL;
    }
    nthreads = nthreads > THREADS_MAX ? THREADS_MAX : nthreads;
    for (; rp->nthreads < nthreads; rp->nthreads++)
        if (pthread_create(&rp->threads[rp->nthreads], NULL, worker, rp))
            break;
    if (!rp->nthreads) {
        agent_relays_free(rp);
        return NULL;
    }
    return rp;
}

struct agent_relay_job *agent_relay_job_new(void)
{
    struct agent_relay_job *j = calloc(1, sizeof(*j));

    if (!j)
        return NULL;
    for (int i = 0; i < AGENT_RELAY_CALLS; i++)
        hw_buf_init(&j->body[i], ANSWER_MAX);
    j->method = "GET";
    return j;
}

int agent_relays_submit(struct agent_relays *rp, struct agent_relay_job *j)
{
    pthread_mutex_lock(&rp->mu);
    if (rp->waiting >= WAITING_MAX || rp->stopping) {
        pthread_mutex_unlock(&rp->mu);
        agent_relay_job_free(j);
        return HW_EFULL;
    }
    j->next = NULL;
    j->deadline_ms = hw_mono_ms() + AGENT_HISTORY_TIMEOUT_S * 1000;
    if (rp->todo_tail)
        rp->todo_tail->next = j;
    else
        rp->todo = j;
    rp->todo_tail = j;
    rp->waiting++;
    pthread_cond_signal(&rp->cv);
    pthread_mutex_unlock(&rp->mu);
    return 0;
}

void agent_relays_drain(struct agent_relays *rp)
{
    struct agent_relay_job *j;

    if (!rp)
        return;
    pthread_mutex_lock(&rp->mu);
    j = rp->done;
    rp->done = NULL;
    pthread_mutex_unlock(&rp->mu);
    while (j) {
        struct agent_relay_job *next = j->next;
        j->done(j);
        agent_relay_job_free(j);
        j = next;
    }
}

void agent_relays_stop(struct agent_relays *rp)
{
    if (!rp)
        return;
    pthread_mutex_lock(&rp->mu);
    rp->stopping = 1;
    pthread_cond_broadcast(&rp->cv);
    pthread_mutex_unlock(&rp->mu);
    /* Calls under way end now (-ECANCELED); their jobs are dropped with the rest. */
    if (rp->cancel[1] >= 0 && write(rp->cancel[1], "x", 1) < 0)
        HW_WARN("inspector: cannot end the relay calls under way: %s", strerror(errno));
    for (unsigned i = 0; i < rp->nthreads; i++)
        pthread_join(rp->threads[i], NULL);
    rp->nthreads = 0;
}

void agent_relays_free(struct agent_relays *rp)
{
    if (!rp)
        return;
    agent_relays_stop(rp);
    list_free(rp->todo);
    list_free(rp->done);
    for (int i = 0; i < 2; i++)
        if (rp->cancel[i] >= 0)
            close(rp->cancel[i]);
    pthread_mutex_destroy(&rp->mu);
    pthread_cond_destroy(&rp->cv);
    free(rp);
}
