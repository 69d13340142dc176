/*
 * The offline queue's drain: one event in flight per channel so that the app
 * sees arrival order. Reads pending events in seq order from an in-memory
 * cursor, sends each to the agent, reads its answer from the tunnel within its
 * deadline, records the outcome and retries with backoff; asks the store now
 * and then for pending events requeued outside the relay. Service thread only.
 */
#include "queue_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "http/limits.h"
#include "outcomes.h"
#include "relay.h"
#include "store/store.h"
#include "tunnel.h"
#include "tunnel/mux.h"

#define READ_MAX   256                /* events per read of the queue */
#define READ_BYTES (8u * 1024 * 1024) /* bytes per read (one larger event still goes) */
#define RESCAN_MS  2000               /* how often an idle, empty queue asks the store */

static void finish(struct qchan *qc, int http_status, const char *error);

/*
 * The event in flight gets --response-timeout for the head of its answer
 * and as long again for the whole of its body: nobody waits for the body of
 * a queued event's answer, and an app that trickles it must not hold the
 * channel's queue. Past either the stream is reset and the attempt failed
 * (retried, then failed).
 */
static void deadline_cb(lws_sorted_usec_list_t *sul)
{
    struct qchan *qc = lws_container_of(sul, struct qchan, deadline);
    const char *error =
        qc->status ? "timeout: the app's answer did not end within --response-timeout of its head"
                   : "timeout: the app did not answer within --response-timeout";

    if (!qc->stream)
        return;
    HW_WARN("channel=%s evt=%s %s", qc->name, qc->batch.v[qc->next]->id, error);
    hw_mux_stream_reset(qc->stream, HW_RST_TIMEOUT, "the relay's --response-timeout passed");
    finish(qc, 0, error);
}

/* (Re)starts the deadline of the event in flight. */
static void deadline_arm(struct qchan *qc)
{
    lws_sul_schedule(qc->q->r->context, 0, &qc->deadline, deadline_cb,
                     (lws_usec_t)qc->q->r->cfg.response_timeout_ms * 1000);
}

void relay_queue_stop(struct relay_queue *q)
{
    if (!q)
        return;
    q->stopping = 1;
    if (q->rescan_armed)
        lws_sul_cancel(&q->rescan);
    q->rescan_armed = 0;
    for (struct qchan *qc = q->chans; qc; qc = qc->nextc) {
        if (qc->waiting)
            lws_sul_cancel(&qc->retry);
        qc->waiting = 0;
        lws_sul_cancel(&qc->deadline); /* the stop waits for what is in flight itself */
    }
}

/* Records the attempt through the store thread (batched); the drain does not wait for it. */
static void record(struct qchan *qc, const struct hw_store_event *ev, int http_status,
                   const char *error, int status)
{
    struct hw_store_attempt a = {
        .at_ms = qc->sent_ms,
        .duration_ms = (int)(hw_wall_ms() - qc->sent_ms),
        .http_status = http_status,
        .error = error,
        .excerpt = hw_buf_head(&qc->excerpt),
        .excerpt_len = hw_buf_size(&qc->excerpt),
    };

    relay_outcomes_add(qc->q->r->outcomes, ev->id, &a, status);
}

static void retry_cb(lws_sorted_usec_list_t *sul)
{
    struct qchan *qc = lws_container_of(sul, struct qchan, retry);

    qc->waiting = 0;
    relay_queue_drain(qc);
}

struct read_job {
    struct qchan *qc;
    unsigned gen;
    uint64_t sent; /* qc->sent when a rescan began */
    int64_t after;
    size_t max; /* READ_MAX, or 1 for a rescan */
    struct hw_store_events out;
};

static int read_run(struct hw_store *s, void *arg)
{
    struct read_job *j = arg;

    return hw_store_next_pending(s, j->qc->name, j->after, j->max, READ_BYTES, &j->out);
}

static void read_done(void *arg, int err)
{
    struct read_job *j = arg;
    struct qchan *qc = j->qc;

    qc->reading = 0;
    if (j->gen != qc->gen || err) {
        if (err)
            HW_WARN("channel=%s cannot read the queue: %s", qc->name, hw_strerror(err));
        hw_store_events_cleanup(&j->out);
        free(j);
        if (err && qc->agent) {
            qc->waiting = 1; /* try again after a pause: the store may be back */
            lws_sul_schedule(qc->q->r->context, 0, &qc->retry, retry_cb, LWS_US_PER_SEC);
        }
        relay_queue_drain(qc);
        return;
    }
    hw_store_events_cleanup(&qc->batch);
    qc->batch = j->out;
    qc->next = 0;
    if (!qc->batch.n)
        qc->unsure = 0; /* what a rescan found is read and finished */
    if (!qc->batch.n && !qc->appending && qc->stored) {
        /* Everything committed has been read and finished: live passthrough resumes. */
        qc->stored = 0;
        HW_INFO("channel=%s queue drained", qc->name);
    }
    free(j);
    relay_queue_drain(qc);
}

/*
 * Pending events the queue was not told of: hookwire-replay retry on the
 * relay's store makes a failed event pending again from another process,
 * below the cursor. Every RESCAN_MS, each channel whose agent is connected
 * and whose queue holds nothing it knows of asks the store for its first
 * pending event (one indexed row); one found is drained from there, with
 * what follows it, in order, until a read finds none left (qc->unsure:
 * stored cannot count them). Not while an outcome is still being written
 * (the store would show that event pending), and a rescan during which the
 * queue sent anything is dropped for the same reason: the next one asks
 * again.
 */
static int idle_empty(const struct qchan *qc)
{
    return qc->agent && !qc->q->stopping && !relay_agent_leaving(qc->agent) && !qc->stream &&
           !qc->reading && !qc->waiting && !qc->probing && !qc->unsure && !qc->stored &&
           !qc->appending && qc->next >= qc->batch.n;
}

static void probe_done(void *arg, int err)
{
    struct read_job *j = arg;
    struct qchan *qc = j->qc;

    qc->probing = 0;
    if (!err && j->out.n && j->gen == qc->gen && j->sent == qc->sent && idle_empty(qc)) {
        int64_t seq = j->out.v[0]->seq;

        HW_INFO("channel=%s evt=%s is pending, requeued outside the relay: draining from it",
                qc->name, j->out.v[0]->id);
        if (seq - 1 < qc->cursor)
            qc->cursor = seq - 1;
        qc->unsure = 1;
        hw_store_events_cleanup(&qc->batch);
        qc->next = 0;
        relay_queue_drain(qc);
    }
    hw_store_events_cleanup(&j->out);
    free(j);
}

static void rescan_cb(lws_sorted_usec_list_t *sul);

void relay_queue_rescan_arm(struct relay_queue *q)
{
    q->rescan_armed = 1;
    lws_sul_schedule(q->r->context, 0, &q->rescan, rescan_cb, (lws_usec_t)RESCAN_MS * 1000);
}

static void rescan_cb(lws_sorted_usec_list_t *sul)
{
    struct relay_queue *q = lws_container_of(sul, struct relay_queue, rescan);

    q->rescan_armed = 0;
    if (q->stopping)
        return;
    for (struct qchan *qc = q->chans; qc && relay_outcomes_idle(q->r->outcomes); qc = qc->nextc) {
        struct read_job *j;

        if (!idle_empty(qc) || !(j = calloc(1, sizeof(*j))))
            continue;
        j->qc = qc;
        j->gen = qc->gen;
        j->sent = qc->sent;
        j->max = 1; /* from seq 0: the first pending event */
        if (hw_store_job_async(q->r->store, read_run, probe_done, j)) {
            free(j);
            continue;
        }
        qc->probing = 1;
    }
    relay_queue_rescan_arm(q);
}

/* Sends batch[next] to the agent as attempt attempts + 1. */
static int send_event(struct qchan *qc, struct hw_store_event *ev)
{
    struct hw_mux *mux = relay_agent_mux(qc->agent);
    struct hw_msg_request m;
    struct hw_buf hb, body;
    char target[HW_HEAD_MAX];
    int n, err;

    n = snprintf(target, sizeof(target), "%s%s%s", ev->path, ev->query[0] ? "?" : "", ev->query);
    if (n < 0 || (size_t)n >= sizeof(target))
        return HW_EINVAL;
    hw_buf_init(&hb, HW_FRAME_MAX_PAYLOAD / 2);
    hw_buf_init(&body, HW_STORE_BODY_MAX);
    err = hw_buf_append(&hb, ev->headers, ev->headers_len);
    err = err ? err
              : hw_buf_printf(&hb, "Hookwire-Event-Id: %s\r\nHookwire-Attempt: %d\r\n", ev->id,
                              ev->attempts + 1);
    err = err ? err : hw_buf_append(&body, ev->body, ev->body_len);
    m.body_len = ev->body_len;
    m.event_id = (struct hw_str){ ev->id, strlen(ev->id) };
    m.method = (struct hw_str){ ev->method, strlen(ev->method) };
    m.target = (struct hw_str){ target, (size_t)n };
    m.headers = (struct hw_str){ hw_buf_head(&hb), hw_buf_size(&hb) };
    qc->stream = err ? NULL : hw_mux_stream_open(mux, qc);
    if (!qc->stream || hw_mux_send_request(qc->stream, &m) ||
        hw_mux_send_body_buf(qc->stream, &body) || hw_mux_send_end(qc->stream)) {
        if (qc->stream)
            hw_mux_stream_close(qc->stream);
        qc->stream = NULL;
        err = err ? err : HW_ENOMEM;
    }
    hw_buf_cleanup(&hb);
    hw_buf_cleanup(&body);
    if (!err) {
        qc->sent++;
        qc->status = 0;
        qc->sent_ms = hw_wall_ms();
        hw_buf_reset(&qc->excerpt);
        deadline_arm(qc);
    }
    return err;
}

/* Moves the drain on: send the next event, read more, or rest. */
void relay_queue_drain(struct qchan *qc)
{
    struct relay *r = qc->q->r;

    if (qc->q->stopping || !qc->agent || qc->live || qc->stream || qc->reading || qc->waiting)
        return;
    /* An agent that is going away takes no new stream; its successor drains (agent_up). */
    if (relay_agent_leaving(qc->agent))
        return;
    if (qc->next < qc->batch.n) {
        struct hw_store_event *ev = qc->batch.v[qc->next];
        int err = send_event(qc, ev);

        if (err) {
            HW_WARN("channel=%s evt=%s cannot send a queued event: %s", qc->name, ev->id,
                    hw_strerror(err));
            qc->waiting = 1;
            lws_sul_schedule(r->context, 0, &qc->retry, retry_cb, LWS_US_PER_SEC);
        }
        return;
    }
    if (!qc->stored && !qc->appending && !qc->unsure)
        return;
    if (!qc->stored && !qc->unsure)
        return; /* the commits in flight call back here */
    {
        struct read_job *j = calloc(1, sizeof(*j));

        if (!j)
            return;
        j->qc = qc;
        j->gen = qc->gen;
        j->after = qc->cursor;
        j->max = READ_MAX;
        if (hw_store_job_async(r->store, read_run, read_done, j)) {
            free(j);
            qc->waiting = 1;
            lws_sul_schedule(r->context, 0, &qc->retry, retry_cb, LWS_US_PER_SEC);
            return;
        }
        qc->reading = 1;
    }
}

/* The event in flight ended with the app's status (0: no answer, error says why). */
static void finish(struct qchan *qc, int http_status, const char *error)
{
    struct relay *r = qc->q->r;
    struct hw_store_event *ev = qc->batch.v[qc->next];
    int ok = http_status >= 200 && http_status < 300 && !error;
    int last = ev->attempts + 1 >= (int)r->cfg.queue_retries;

    qc->stream = NULL;
    lws_sul_cancel(&qc->deadline);
    record(qc, ev, http_status, error,
           ok     ? HW_STORE_DELIVERED
           : last ? HW_STORE_FAILED
                  : HW_STORE_PENDING);
    ev->attempts++;
    if (ok)
        r->metrics.drained++;
    if (ok || last) {
        if (!ok)
            HW_WARN("channel=%s evt=%s failed after %d attempt%s (last: %d %s): kept as failed",
                    qc->name, ev->id, ev->attempts, ev->attempts == 1 ? "" : "s", http_status,
                    error ? error : "");
        qc->cursor = ev->seq;
        qc->next++;
        if (qc->stored && !--qc->stored && !qc->appending && !qc->unsure)
            HW_INFO("channel=%s queue drained", qc->name);
        relay_queue_drain(qc);
        return;
    }
    if (qc->q->stopping)
        return; /* the retry is the next run's: the event stays pending */
    /* The same event again after a pause: later ones wait, so the order holds. */
    qc->waiting = 1;
    lws_sul_schedule(r->context, 0, &qc->retry, retry_cb,
                     (lws_usec_t)r->cfg.queue_backoff_ms * 1000
                         << (ev->attempts - 1 < 10 ? ev->attempts - 1 : 10));
}

static struct qchan *owner(struct relay_queue *q, struct hw_mux_stream *s)
{
    struct qchan *qc;

    for (qc = q->chans; qc; qc = qc->nextc)
        if (qc->stream == s)
            return qc;
    return NULL;
}

int relay_queue_on_head(struct relay_queue *q, struct hw_mux_stream *s, const struct hw_frame *f)
{
    struct qchan *qc = owner(q, s);
    struct hw_msg_response m;

    if (!qc)
        return 0;
    if (hw_frame_decode_response(f, &m)) {
        char error[160];

        snprintf(error, sizeof(error), "a malformed answer head from the agent: %s",
                 hw_frame_response_broken(f));
        HW_WARN("channel=%s evt=%s %s", qc->name, qc->batch.v[qc->next]->id, error);
        hw_mux_stream_close(s);
        finish(qc, 0, error);
        return 1;
    }
    qc->status = m.status;
    qc->announced = m.body_len;
    qc->got = 0;
    deadline_arm(qc); /* now for the whole body */
    return 1;
}

/* The answer's body broke its announced length: a failed attempt, as for a live webhook. */
static void malformed(struct qchan *qc, struct hw_mux_stream *s, const char *error)
{
    HW_WARN("channel=%s evt=%s %s", qc->name, qc->batch.v[qc->next]->id, error);
    if (s)
        hw_mux_stream_reset(s, HW_RST_PROTOCOL, "the answer broke its Content-Length");
    finish(qc, qc->status, error);
}

int relay_queue_on_data(struct relay_queue *q, struct hw_mux_stream *s, const uint8_t *p, size_t n)
{
    struct qchan *qc = owner(q, s);
    size_t room;

    if (!qc)
        return 0;
    room = HW_STORE_EXCERPT_MAX - hw_buf_size(&qc->excerpt);
    /* The excerpt is best effort: without memory the attempt is recorded without it. */
    if (room && hw_buf_append(&qc->excerpt, p, n < room ? n : room))
        HW_DEBUG("channel=%s no memory for the answer's excerpt", qc->name);
    qc->got += n;
    if (qc->announced != HW_BODY_LEN_UNKNOWN && qc->got > qc->announced) {
        malformed(qc, s, "malformed answer from the app: more body than its Content-Length");
        return 1;
    }
    hw_mux_consumed(s, n); /* the answer is only looked at: the agent may send on */
    return 1;
}

int relay_queue_on_end(struct relay_queue *q, struct hw_mux_stream *s)
{
    struct qchan *qc = owner(q, s);

    if (!qc)
        return 0;
    hw_mux_stream_close(s);
    if (qc->announced != HW_BODY_LEN_UNKNOWN && qc->got < qc->announced) {
        malformed(qc, NULL, "malformed answer from the app: it ended before its Content-Length");
        return 1;
    }
    finish(qc, qc->status, NULL);
    return 1;
}

int relay_queue_on_reset(struct relay_queue *q, struct hw_mux_stream *s, uint16_t code,
                         const char *text, size_t len)
{
    struct qchan *qc = owner(q, s);
    char why[128];

    if (!qc)
        return 0;
    qc->stream = NULL; /* the mux frees it */
    lws_sul_cancel(&qc->deadline);
    if (code == HW_RST_TUNNEL_LOST || q->stopping) {
        if (q->stopping)
            return 1;
        /*
         * Not the app's failure: the event stays first in line. The tunnel is
         * being torn down; a newer agent (if one replaced it) goes on from a
         * timer, never from inside the old mux.
         */
        qc->waiting = 1;
        lws_sul_schedule(qc->q->r->context, 0, &qc->retry, retry_cb, 1000); /* 1 ms: next round */
        return 1;
    }
    /* As for a live webhook: the agent's own words (the app refused, timed out, ...). */
    finish(qc, 0, relay_answer_reset_reason(why, sizeof(why), text, len));
    return 1;
}
