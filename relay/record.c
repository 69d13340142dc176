/*
 * Live passthrough history: a copy of each forwarded webhook is held while
 * it is in flight and written once, finished, after its answer (one row
 * through the store thread, never waited for); a webhook whose tunnel died
 * is appended pending and joins the offline queue. Owns struct relay_live
 * and the relay's count of history bytes held. Service thread only.
 */
#include "record.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "edge.h"
#include "ingress.h"
#include "net/http_server.h"
#include "queue.h"
#include "relay.h"
#include "store/store.h"

/* What a record costs besides its bytes: the store's queue entry. */
#define RECORD_OVERHEAD 1024u

/*
 * One block: this struct, then the event's strings and bytes, which ev
 * points at. The store reads ev where it is (lent) until on_stored; ev
 * stays as long as the record, so its id and source (the channel) are the
 * record's own.
 */
struct relay_live {
    struct relay *r;
    struct hw_http_conn *conn; /* set while a 202 is owed (requeued) */
    struct hw_store_event ev;
    size_t bytes;    /* counted in r->history_held until the store is done */
    int64_t sent_ms; /* when it went to the agent */
    int submitted;   /* handed to the store: on_stored will run */
    int stored;      /* on_stored ran */
    int err;         /* its result */
    int released;    /* the ingress side handed it back */
    int queued;      /* requeued: answer conn 202 once stored */
    int late;        /* requeued, and its sender was answered 503 before the commit ended */
};

static void maybe_free(struct relay_live *l)
{
    if (l->released && (!l->submitted || l->stored)) {
        l->r->history_held -= l->bytes;
        free(l);
    }
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
        int n = snprintf(body, sizeof(body), "{\"id\":\"%s\",\"queued\":true}\n", l->ev.id);

        hw_http_conn_respond(c, 202, NULL, type, sizeof(type) - 1, body, (size_t)n);
    } else {
        hw_http_conn_stream_abort(c, HW_ERRC_AGENT_DISCONNECTED, "the tunnel died");
    }
}

static void on_stored(void *arg, int err, const struct hw_store_result *res)
{
    struct relay_live *l = arg;

    (void)res;
    l->stored = 1;
    l->err = err;
    if (err && !l->queued)
        l->r->metrics.history_lost++;
    if (err)
        HW_WARN("evt=%s cannot record the webhook: %s", l->ev.id, hw_strerror(err));
    if (l->late)
        HW_WARN("channel=%s evt=%s %s after its sender was answered 503", l->ev.source, l->ev.id,
                err ? "was not queued" : "was queued");
    if (l->queued) {
        if (!err)
            relay_queue_adopt(l->r->queue, l->ev.source);
        answer_queued(l);
    }
    maybe_free(l);
}

int relay_record_full(const struct relay *r)
{
    return r->history_held >= r->cfg.history_buffer;
}

/* Copies n bytes to *p, NUL-terminated, and advances it. */
static const char *put(char **p, const char *s, size_t n)
{
    const char *start = *p;

    if (n)
        memcpy(*p, s, n);
    (*p)[n] = '\0';
    *p += n + 1;
    return start;
}

struct relay_live *relay_record_live(struct relay *r, struct hw_http_conn *c, const char *channel,
                                     size_t channel_len, const struct hw_http_request *rq,
                                     const char *target, size_t target_len, const char *headers,
                                     size_t headers_len, const char *id, int verify)
{
    const struct hw_http_head *h = rq->head;
    const char *query = memchr(target, '?', target_len);
    size_t path_len = query ? (size_t)(query - target) : target_len;
    size_t body_len = hw_buf_size(rq->body);
    size_t id_len = strnlen(id, HW_ID_LEN);
    size_t size = sizeof(struct relay_live) + channel_len + h->method_len + target_len +
                  headers_len + body_len + 6;
    struct hw_store_event *ev;
    struct relay_live *l;
    char *p;

    (void)c;
    if (h->method_len > HW_STORE_METHOD_MAX || target_len > HW_STORE_TARGET_MAX ||
        channel_len > HW_STORE_NAME_MAX) {
        HW_WARN("evt=%s not recorded: its method, target or channel is too long for the store", id);
        return NULL;
    }
    l = malloc(size);
    if (!l) {
        HW_WARN("evt=%s not recorded: out of memory", id);
        return NULL;
    }
    *l = (struct relay_live){ .r = r, .ev = { .verify = verify } };
    ev = &l->ev;
    memcpy(ev->id, id, id_len);
    p = (char *)(l + 1);
    ev->source = put(&p, channel, channel_len);
    ev->method = put(&p, h->method, h->method_len);
    ev->path = put(&p, target, path_len);
    ev->query = query ? put(&p, query + 1, target_len - path_len - 1) : put(&p, "", 0);
    ev->headers = put(&p, headers, headers_len);
    ev->headers_len = headers_len;
    ev->body = put(&p, hw_buf_head(rq->body), body_len);
    ev->body_len = body_len;
    ev->received_ms = l->sent_ms = hw_wall_ms();
    l->bytes = size + RECORD_OVERHEAD;
    r->history_held += l->bytes;
    relay_queue_live(r->queue, ev->source, 1);
    return l;
}

/* Writes l finished, with the app's status (0 when there was none) or an error. */
static void record(struct relay_live *l, int http_status, const char *error)
{
    int64_t now = hw_wall_ms();
    struct hw_store_attempt a = {
        .at_ms = l->sent_ms,
        .duration_ms = now > l->sent_ms ? (int)(now - l->sent_ms) : 0,
        .http_status = http_status,
        .error = error,
    };
    /* A live answer is the sender's business: a failure is kept for replay, not retried. */
    int ok = http_status >= 200 && http_status < 300 && !error;
    int err;

    if (!l->r->store || l->submitted)
        return; /* shutting down (the store is closed), or requeued */
    err = hw_store_append_finished_lend(l->r->store, &l->ev, &a,
                                        ok ? HW_STORE_DELIVERED : HW_STORE_FAILED, on_stored, l);
    if (err) {
        /* Only past the store's own caps, which the history buffer keeps well below. */
        l->r->metrics.history_lost++;
        HW_WARN("evt=%s not recorded: %s", l->ev.id, hw_strerror(err));
        return;
    }
    l->submitted = 1;
}

/* The exchange no longer holds the webhook live; the queue may read the store again. */
static void release(struct relay_live *l)
{
    if (l->released)
        return;
    l->released = 1;
    relay_queue_live(l->r->queue, l->ev.source, -1);
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
    int err;

    if (!l || l->submitted || !l->r->store ||
        strcmp(
            relay_edge_offline(l->r->edge, l->ev.source, strlen(l->ev.source), l->r->cfg.offline),
            "queue") != 0)
        return HW_EINVAL;
    /* Pending this time: the queue delivers it, and its sender gets 202 once it is committed. */
    err = hw_store_append_async_with_id(l->r->store, &l->ev, on_stored, l);
    if (err) {
        HW_WARN("evt=%s cannot queue the webhook: %s", l->ev.id, hw_strerror(err));
        return err;
    }
    l->submitted = 1; /* the store made its own copy; l->ev stays until l goes */
    l->conn = c;
    l->queued = 1;
    release(l);
    /* A store that cannot commit in time did not take the webhook: the sender retries. */
    hw_http_conn_set_timeout_error(c, HW_ERRC_STORE_UNAVAILABLE, "Retry-After: 10\r\n");
    return 0;
}

int relay_record_requeued(const struct relay_live *l)
{
    return l && l->queued;
}

void relay_record_overdue(struct relay_live *l, const char *error)
{
    if (!l)
        return;
    if (!l->queued || l->stored || !l->conn) {
        relay_record_conn_gone(l, error);
        return;
    }
    l->conn = NULL;
    if (relay_queue_withdraw_overdue(l->r->store, on_stored, l, l->ev.source, l->ev.id))
        l->submitted = 0;
    else
        l->late = 1;
    maybe_free(l);
}

void relay_record_conn_gone(struct relay_live *l, const char *error)
{
    if (!l)
        return;
    if (!l->released)
        record(l, 0, error ? error : "the sender went away before the answer");
    l->conn = NULL; /* a requeued webhook is still queued; only its 202 is lost */
    release(l);
    maybe_free(l);
}
