/*
 * The offline queue: accepts (commit, then 202), and the drain, one event
 * in flight per channel so that the app sees arrival order. Owns the
 * per-channel queue state; the durable state is the store (pending events,
 * read in seq order from an in-memory cursor, and asked for now and then
 * for pending events requeued outside the relay). Service thread only.
 */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "answer.h"
#include "channels.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "http/hwerror.h"
#include "http/limits.h"
#include "ingress.h"
#include "net/http_server.h"
#include "outcomes.h"
#include "relay.h"
#include "store/store.h"
#include "tunnel.h"
#include "tunnel/mux.h"

#define READ_MAX   256                /* events per read of the queue */
#define READ_BYTES (8u * 1024 * 1024) /* bytes per read (one larger event still goes) */
#define RESCAN_MS  2000               /* how often an idle, empty queue asks the store */

struct qchan {
    char name[HW_STORE_NAME_MAX + 1];
    struct relay_queue *q;
    uint64_t appending; /* accepts whose commit is in flight */
    uint64_t stored;    /* committed and not finished, as far as known */
    uint64_t live;      /* live webhooks in flight: pending in the store, not the drain's */
    struct relay_agent *agent;
    int reading;    /* a read job is in flight */
    int probing;    /* a rescan job is in flight (rescan_cb()) */
    int unsure;     /* a rescan found pending events stored does not count: read until none */
    uint64_t sent;  /* events sent so far: a rescan that saw the queue move is dropped */
    unsigned gen;   /* raised when the agent goes: late reads are dropped */
    int64_t cursor; /* seq of the last event finished (or given up for now) */
    struct hw_store_events batch;
    size_t next; /* batch index of the event in flight or next */
    struct hw_mux_stream *stream;
    int status;         /* the app's status for the event in flight, 0 before */
    uint64_t announced; /* its answer's body length (HW_BODY_LEN_UNKNOWN when not said) */
    uint64_t got;       /* body bytes of that answer so far */
    int64_t sent_ms;
    struct hw_buf excerpt;
    lws_sorted_usec_list_t retry;
    int waiting;                     /* the retry timer runs */
    lws_sorted_usec_list_t deadline; /* the app's answer to the event in flight is due */
    struct qchan *nextc;
};

struct relay_queue {
    struct relay *r;
    struct qchan *chans;
    int stopping; /* shutting down: nothing new is sent, read or scheduled */
    lws_sorted_usec_list_t rescan;
    int rescan_armed; /* the rescan timer runs */
};

/* An accept waiting for its commit; conn is cleared when the connection goes first. */
struct relay_queued {
    struct hw_http_conn *conn;
    struct qchan *qc;
    char id[HW_ID_LEN + 1];
    int late; /* its sender was answered 503 before the commit ended */
};

static void drain(struct qchan *qc);
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

static struct qchan *find(struct relay_queue *q, const char *name, size_t len, int create)
{
    struct qchan *qc;

    for (qc = q->chans; qc; qc = qc->nextc)
        if (strlen(qc->name) == len && memcmp(qc->name, name, len) == 0)
            return qc;
    if (!create || len > HW_STORE_NAME_MAX)
        return NULL;
    qc = calloc(1, sizeof(*qc));
    if (!qc)
        return NULL;
    memcpy(qc->name, name, len);
    qc->q = q;
    hw_buf_init(&qc->excerpt, HW_STORE_EXCERPT_MAX);
    qc->nextc = q->chans;
    q->chans = qc;
    return qc;
}

struct relay_queue *relay_queue_new(struct relay *r)
{
    struct relay_queue *q = calloc(1, sizeof(*q));

    if (q)
        q->r = r;
    return q;
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

void relay_queue_free(struct relay_queue *q)
{
    struct qchan *qc, *next;

    if (!q)
        return;
    for (qc = q->chans; qc; qc = next) {
        next = qc->nextc;
        hw_store_events_cleanup(&qc->batch);
        hw_buf_cleanup(&qc->excerpt);
        free(qc);
    }
    free(q);
}

int relay_queue_start(struct relay_queue *q)
{
    struct hw_store_summary sum;
    int err = hw_store_summarize(q->r->store, 0, &sum);

    if (err)
        return err;
    for (size_t i = 0; i < sum.nsources; i++) {
        uint64_t n = sum.sources[i].by_status[HW_STORE_PENDING];
        struct qchan *qc;

        if (!n)
            continue;
        qc = find(q, sum.sources[i].source, strlen(sum.sources[i].source), 1);
        if (!qc) {
            hw_store_summary_cleanup(&sum);
            return HW_ENOMEM;
        }
        qc->stored = n;
        HW_INFO("channel=%s %llu queued events waiting for the agent", qc->name,
                (unsigned long long)n);
    }
    hw_store_summary_cleanup(&sum);
    return 0;
}

uint64_t relay_queue_depth(const struct relay_queue *q)
{
    uint64_t n = 0;

    for (const struct qchan *qc = q ? q->chans : NULL; qc; qc = qc->nextc)
        n += qc->stored + qc->appending;
    return n;
}

int relay_queue_busy(struct relay_queue *q, const char *channel, size_t len)
{
    struct qchan *qc = find(q, channel, len, 0);

    return qc && (qc->appending || qc->stored || qc->unsure || qc->reading || qc->stream ||
                  qc->waiting || qc->next < qc->batch.n);
}

/* Runs on the service thread once the accept's transaction committed (or failed). */
static void on_stored(void *arg, int err, const struct hw_store_result *res)
{
    struct relay_queued *pend = arg;
    struct qchan *qc = pend->qc;
    struct hw_http_conn *c = pend->conn;

    qc->appending--;
    if (!err) {
        qc->stored++;
        qc->q->r->metrics.queued++;
    }
    if (pend->late)
        HW_WARN("channel=%s evt=%s %s after its sender was answered 503", qc->name, pend->id,
                err ? "was not queued" : "was queued");
    if (c) {
        struct relay_exchange *x = hw_http_conn_user(c);

        x->pend = NULL;
        if (!err) {
            static const char type[] = "Content-Type: application/json\r\n";
            char body[96];
            int n = snprintf(body, sizeof(body), "{\"id\":\"%s\",\"queued\":true}\n", res->id);

            hw_http_conn_respond(c, 202, NULL, type, sizeof(type) - 1, body, (size_t)n);
        } else if (err == HW_EFULL) {
            hw_http_conn_error(c, HW_ERRC_OVERLOADED, "Retry-After: 1\r\n");
        } else {
            /* HW_EUNAVAIL: the server may have gone during the commit (store.h). */
            HW_WARN("channel=%s evt=%s cannot queue the webhook: %s (the sender gets 503%s)",
                    qc->name, pend->id, hw_strerror(err),
                    err == HW_EUNAVAIL ? "; had its commit gone through after all, it is "
                                         "delivered as well as the sender's retry"
                                       : "");
            hw_http_conn_error(c, HW_ERRC_STORE_UNAVAILABLE, "Retry-After: 10\r\n");
        }
    }
    free(pend);
    drain(qc);
}

void relay_queue_conn_gone(struct relay_queued *pend)
{
    if (pend)
        pend->conn = NULL;
}

int relay_queue_withdraw_overdue(struct hw_store *s, hw_store_append_cb cb, void *arg,
                                 const char *channel, const char *id)
{
    if (s && hw_store_withdraw(s, cb, arg) == 0) {
        HW_WARN("channel=%s evt=%s not queued: the store did not take it within "
                "--response-timeout (the sender got 503)",
                channel, id);
        return 1;
    }
    /* In a commit already: its outcome is logged when it ends. */
    HW_WARN("channel=%s evt=%s the store is still committing it after --response-timeout "
            "(the sender got 503; if the commit succeeds, it is delivered as well as the "
            "sender's retry)",
            channel, id);
    return 0;
}

void relay_queue_overdue(struct relay_queued *pend)
{
    struct qchan *qc = pend->qc;

    if (relay_queue_withdraw_overdue(qc->q->r->store, on_stored, pend, qc->name, pend->id)) {
        qc->appending--;
        free(pend);
        drain(qc);
        return;
    }
    pend->conn = NULL;
    pend->late = 1;
}

void relay_queue_accept(struct relay_queue *q, struct hw_http_conn *c, const char *channel,
                        size_t len, const struct hw_http_request *rq, const char *target,
                        size_t target_len, const char *headers, size_t headers_len)
{
    struct relay_exchange *x = hw_http_conn_user(c);
    struct qchan *qc = find(q, channel, len, 1);
    const struct hw_http_head *h = rq->head;
    char method[HW_STORE_METHOD_MAX + 1], path[HW_HEAD_MAX], *query;
    struct hw_store_event ev;
    struct relay_queued *pend;
    int err;

    if (!qc || h->method_len > HW_STORE_METHOD_MAX || target_len >= sizeof(path)) {
        hw_http_conn_error(c, HW_ERRC_OVERLOADED, "Retry-After: 1\r\n");
        return;
    }
    if (qc->appending + qc->stored >= q->r->cfg.max_queued) {
        hw_http_conn_error(c, HW_ERRC_QUEUE_FULL, "Retry-After: 30\r\n");
        return;
    }
    memcpy(method, h->method, h->method_len);
    method[h->method_len] = '\0';
    memcpy(path, target, target_len);
    path[target_len] = '\0';
    query = memchr(path, '?', target_len);
    if (query)
        *query++ = '\0';
    memset(&ev, 0, sizeof(ev));
    memcpy(ev.id, x->event_id, sizeof(ev.id));
    ev.source = qc->name;
    ev.method = method;
    ev.path = path;
    ev.query = query;
    ev.headers = headers;
    ev.headers_len = headers_len;
    ev.body = hw_buf_head(rq->body);
    ev.body_len = hw_buf_size(rq->body);
    ev.verify = x->verdict == RELAY_EDGE_PASS   ? HW_STORE_VERIFIED
                : x->verdict == RELAY_EDGE_MARK ? HW_STORE_VERIFY_FAILED
                                                : HW_STORE_UNVERIFIED;
    pend = calloc(1, sizeof(*pend));
    if (!pend) {
        hw_http_conn_error(c, HW_ERRC_OVERLOADED, "Retry-After: 1\r\n");
        return;
    }
    pend->conn = c;
    pend->qc = qc;
    memcpy(pend->id, x->event_id, sizeof(pend->id));
    err = hw_store_append_async_with_id(q->r->store, &ev, on_stored, pend);
    if (err) {
        free(pend);
        hw_http_conn_error(c, err == HW_EFULL ? HW_ERRC_OVERLOADED : HW_ERRC_STORE_UNAVAILABLE,
                           "Retry-After: 1\r\n");
        return;
    }
    qc->appending++;
    x->pend = pend;
    /* A store that cannot commit in time did not take the webhook: the sender retries. */
    hw_http_conn_set_timeout_error(c, HW_ERRC_STORE_UNAVAILABLE, "Retry-After: 10\r\n");
}

/* ---- the drain ---------------------------------------------------------- */

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
    drain(qc);
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
        drain(qc);
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
    drain(qc);
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
        drain(qc);
    }
    hw_store_events_cleanup(&j->out);
    free(j);
}

static void rescan_cb(lws_sorted_usec_list_t *sul);

static void rescan_arm(struct relay_queue *q)
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
    rescan_arm(q);
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
static void drain(struct qchan *qc)
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
        drain(qc);
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

int relay_queue_in_flight(struct relay_queue *q, const char *channel, const char *id)
{
    struct qchan *qc = q ? find(q, channel, strlen(channel), 0) : NULL;

    return qc && qc->stream && strcmp(qc->batch.v[qc->next]->id, id) == 0;
}

void relay_queue_live(struct relay_queue *q, const char *channel, int delta)
{
    struct qchan *qc = find(q, channel, strlen(channel), 1);

    if (!qc)
        return;
    if (delta > 0)
        qc->live++;
    else if (qc->live && !--qc->live)
        drain(qc); /* a replay or a requeue may be waiting for the live ones to end */
}

void relay_queue_replay(struct relay_queue *q, const char *channel, int64_t seq)
{
    struct qchan *qc = find(q, channel, strlen(channel), 1);

    if (!qc)
        return;
    /* Everything at or before the cursor is finished, so going back to seq re-reads just it. */
    if (seq - 1 < qc->cursor)
        qc->cursor = seq - 1;
    relay_queue_adopt(q, channel);
}

void relay_queue_adopt(struct relay_queue *q, const char *channel)
{
    struct qchan *qc = find(q, channel, strlen(channel), 1);

    if (!qc)
        return;
    qc->stored++;
    if (qc->agent && !qc->stream && !qc->reading && qc->next >= qc->batch.n) {
        /* Agent connected and idle (a replacement): read from the cursor again. */
        hw_store_events_cleanup(&qc->batch);
        qc->next = 0;
    }
    drain(qc);
}

void relay_queue_agent_up(struct relay_queue *q, const char *channel, struct relay_agent *a)
{
    struct qchan *qc = find(q, channel, strlen(channel), 1);

    if (!qc)
        return;
    qc->agent = a;
    if (!q->rescan_armed && !q->stopping)
        rescan_arm(q);
    if (qc->stored || qc->appending)
        HW_INFO("channel=%s agent connected: draining %llu queued events", qc->name,
                (unsigned long long)qc->stored);
    drain(qc);
}

void relay_queue_agent_down(struct relay_queue *q, const char *channel, struct relay_agent *a)
{
    struct qchan *qc = find(q, channel, strlen(channel), 0);

    if (!qc || qc->agent != a || q->stopping)
        return;
    qc->agent = NULL;
    qc->gen++;
    qc->stream = NULL; /* the mux is freed with the tunnel */
    lws_sul_cancel(&qc->deadline);
    if (qc->waiting)
        lws_sul_cancel(&qc->retry);
    qc->waiting = 0;
    /* What was read but not finished is read again from the cursor next time. */
    hw_store_events_cleanup(&qc->batch);
    qc->next = 0;
}
