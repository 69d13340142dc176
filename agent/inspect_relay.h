#ifndef AGENT_INSPECT_RELAY_H
#define AGENT_INSPECT_RELAY_H

/*
 * The inspector's calls to the relay's history API. They block (the
 * agent's history client, TLS included), so they run on a few threads of
 * their own; the loop hands a job over and gets it back, done, through
 * lws_cancel_service() and agent_relays_drain(). Service thread, except
 * where a comment says otherwise.
 */
#include <stdint.h>

#include "core/buf.h"

struct agent;
struct agent_relays;
struct agent_relay_job;

#define AGENT_RELAY_CALLS 2 /* calls in one job at most, made in order */

/* Called on the service thread with the job done; the job is freed after it returns. */
typedef void (*agent_relay_done_fn)(struct agent_relay_job *j);

struct agent_relay_job {
    /* in: what to ask, set by the caller */
    const char *method; /* static */
    char path[AGENT_RELAY_CALLS][600];
    int ncalls;
    agent_relay_done_fn done;
    void *user; /* the caller's; cleared by the caller when it no longer wants the answer */
    uint64_t arg;
    /* out: per call, the transport error (0 or HW_E*), the answer's status and body */
    int err[AGENT_RELAY_CALLS];
    int status[AGENT_RELAY_CALLS];
    struct hw_buf body[AGENT_RELAY_CALLS];
    int64_t deadline_ms; /* set at submit: the calls end AGENT_HISTORY_TIMEOUT_S after it */
    struct agent_relay_job *next;
};

/* Starts nthreads threads calling a's relay. NULL when they cannot be started. */
struct agent_relays *agent_relays_new(struct agent *a, unsigned nthreads);

/* A zeroed job with its answer buffers ready; NULL when out of memory. */
struct agent_relay_job *agent_relay_job_new(void);

/* Frees a job that was never submitted. NULL is ignored. */
void agent_relay_job_free(struct agent_relay_job *j);

/*
 * Queues j (taken): its calls run on a relay thread, then done(j) runs on
 * the service thread. Returns 0, or HW_EFULL when too many jobs wait (j is
 * freed then).
 */
int agent_relays_submit(struct agent_relays *rp, struct agent_relay_job *j);

/* Runs done() for every finished job. From LWS_CALLBACK_EVENT_WAIT_CANCELLED. */
void agent_relays_drain(struct agent_relays *rp);

/*
 * Stops the threads (a call under way is waited for, within its
 * deadlines); jobs not done stay, without their done(). Before
 * lws_context_destroy(). NULL is ignored.
 */
void agent_relays_stop(struct agent_relays *rp);

/* Frees what is left; after agent_relays_stop() and the context. NULL is ignored. */
void agent_relays_free(struct agent_relays *rp);

#endif
