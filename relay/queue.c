/*
 * The offline queue's channels: accepts (commit, then 202), the per-channel
 * state (queue_int.h), made here on a channel's first use, and what steers
 * each channel's drain in queue_drain.c: agents coming and going, live
 * webhooks, replays, adopted events. The durable state is the store (pending
 * events). Service thread only.
 */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "http/hwerror.h"
#include "http/limits.h"
#include "ingress.h"
#include "net/http_server.h"
#include "queue_int.h"
#include "relay.h"
#include "store/store.h"

/* An accept waiting for its commit; conn is cleared when the connection goes first. */
struct relay_queued {
    struct hw_http_conn *conn;
    struct qchan *qc;
    char id[HW_ID_LEN + 1];
    int late; /* its sender was answered 503 before the commit ended */
};

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
    relay_queue_drain(qc);
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
        relay_queue_drain(qc);
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
        relay_queue_drain(qc); /* a replay or a requeue may be waiting for the live ones to end */
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
    relay_queue_drain(qc);
}

void relay_queue_agent_up(struct relay_queue *q, const char *channel, struct relay_agent *a)
{
    struct qchan *qc = find(q, channel, strlen(channel), 1);

    if (!qc)
        return;
    qc->agent = a;
    if (!q->rescan_armed && !q->stopping)
        relay_queue_rescan_arm(q);
    if (qc->stored || qc->appending)
        HW_INFO("channel=%s agent connected: draining %llu queued events", qc->name,
                (unsigned long long)qc->stored);
    relay_queue_drain(qc);
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
