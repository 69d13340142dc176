/*
 * Live passthrough history: the append of each forwarded webhook (through
 * the store thread, never waited for), its outcome after the answer, and
 * the hand-over of a webhook whose tunnel died to the offline queue. Owns
 * struct relay_live. Service thread only.
 */
#include "record.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "edge.h"
#include "http/limits.h"
#include "ingress.h"
#include "net/http_server.h"
#include "outcomes.h"
#include "queue.h"
#include "relay.h"
#include "store/store.h"

struct relay_live {
    struct relay *r;
    struct hw_http_conn *conn; /* set while a 202 is owed (requeued) */
    char id[HW_ID_LEN + 1];
    char channel[HW_STORE_NAME_MAX + 1];
    int stored;   /* the append's callback ran */
    int err;      /* its result */
    int released; /* the ingress side handed it back */
    int queued;   /* requeued: answer conn 202 once stored */
};

static void maybe_free(struct relay_live *l)
{
    if (l->stored && l->released)
        free(l);
}

static void answer_queued(struct relay_live *l)
{
    struct hw_http_conn *c = l->conn;

    l->conn = NULL;
    if (!c)
        return;
    ((struct relay_exchange *)hw_http_conn_user(c))->live = NULL;
    if (!l->err) {
        static const char type[] = "Content-Type: application/json\r\n";
        char body[96];
        int n = snprintf(body, sizeof(body), "{\"id\":\"%s\",\"queued\":true}\n", l->id);

        hw_http_conn_respond(c, 202, NULL, type, sizeof(type) - 1, body, (size_t)n);
    } else {
        hw_http_conn_stream_abort(c, HW_ERRC_AGENT_DISCONNECTED, "the tunnel died");
    }
}

static void on_stored(void *arg, int err, const struct hw_store_result *res)
{
    struct relay_live *l = arg;

    l->stored = 1;
    l->err = err;
    if (err)
        HW_WARN("evt=%s cannot record the webhook: %s", l->id, hw_strerror(err));
    if (l->queued) {
        if (!err)
            relay_queue_adopt(l->r->queue, l->channel);
        answer_queued(l);
    }
    maybe_free(l);
}

struct relay_live *relay_record_live(struct relay *r, struct hw_http_conn *c, const char *channel,
                                     size_t channel_len, const struct hw_http_request *rq,
                                     const char *target, size_t target_len, const char *headers,
                                     size_t headers_len, const char *id, int verify)
{
    const struct hw_http_head *h = rq->head;
    char method[HW_STORE_METHOD_MAX + 1], path[HW_HEAD_MAX], *query;
    struct hw_store_event ev;
    struct relay_live *l;
    int err;

    if (h->method_len > HW_STORE_METHOD_MAX || target_len >= sizeof(path) ||
        channel_len > HW_STORE_NAME_MAX)
        return NULL;
    l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->r = r;
    memcpy(l->channel, channel, channel_len);
    snprintf(l->id, sizeof(l->id), "%s", id);
    memcpy(method, h->method, h->method_len);
    method[h->method_len] = '\0';
    memcpy(path, target, target_len);
    path[target_len] = '\0';
    query = memchr(path, '?', target_len);
    if (query)
        *query++ = '\0';
    memset(&ev, 0, sizeof(ev));
    memcpy(ev.id, l->id, sizeof(ev.id));
    ev.source = l->channel;
    ev.method = method;
    ev.path = path;
    ev.query = query;
    ev.headers = headers;
    ev.headers_len = headers_len;
    ev.body = hw_buf_head(rq->body);
    ev.body_len = hw_buf_size(rq->body);
    ev.verify = verify;
    err = hw_store_append_async_with_id(r->store, &ev, on_stored, l);
    if (err) {
        HW_WARN("evt=%s not recorded: %s", l->id, hw_strerror(err));
        free(l);
        return NULL;
    }
    relay_queue_live(r->queue, l->channel, 1);
    return l;
}

static void record(struct relay_live *l, int http_status, const char *error)
{
    struct hw_store_attempt a = {
        .at_ms = relay_wall_ms(),
        .http_status = http_status,
        .error = error,
    };

    /* A live answer is the sender's business: a failure is kept for replay, not retried. */
    if (l->r->outcomes)
        relay_outcomes_add(l->r->outcomes, l->id, &a,
                           http_status >= 200 && http_status < 300 ? HW_STORE_DELIVERED
                                                                   : HW_STORE_FAILED);
}

/* The exchange no longer holds the webhook live; the queue may read the store again. */
static void release(struct relay_live *l)
{
    if (l->released)
        return;
    l->released = 1;
    relay_queue_live(l->r->queue, l->channel, -1);
}

void relay_record_outcome(struct relay_live *l, int http_status, const char *error)
{
    if (!l)
        return;
    record(l, http_status, error);
    release(l);
    maybe_free(l);
}

int relay_record_requeue(struct relay_live *l, struct hw_http_conn *c)
{
    if (!l ||
        strcmp(relay_edge_offline(l->r->edge, l->channel, strlen(l->channel), l->r->cfg.offline),
               "queue") != 0)
        return HW_EINVAL;
    if (l->stored && l->err)
        return l->err;
    l->conn = c;
    l->queued = 1;
    release(l);
    if (l->stored) {
        relay_queue_adopt(l->r->queue, l->channel);
        answer_queued(l);
        maybe_free(l);
    }
    return 0;
}

void relay_record_conn_gone(struct relay_live *l)
{
    if (!l)
        return;
    if (!l->released)
        record(l, 0, "the sender went away before the answer");
    l->conn = NULL; /* a requeued webhook is still queued; only its 202 is lost */
    release(l);
    maybe_free(l);
}
