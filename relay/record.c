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
 * A finished record the store could not take because the database was away
 * (HW_EUNAVAIL) is written again after 1 s, then twice as long each time up
 * to 30 s, 12 times at most (about 4 minutes in all), and only while the
 * records held leave half of --history-buffer to live webhooks; past that it
 * is counted lost. An id the first try committed after all is stored once.
 */
/* The least time a requeued webhook's commit gets before its sender is answered 503. */
#define REQUEUE_COMMIT_MS 2000

#define RETRY_FIRST_MS 1000
#define RETRY_MAX_MS   30000
#define RETRY_TRIES    12

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
    /* The finished record as first written, kept to write it again (resend_cb()). */
    int http_status;
    int64_t done_ms;
    char *error; /* owned; NULL without one */
    int tries;
    int64_t retry_at_ms;
    struct relay_live *retry_next;
};

static void maybe_free(struct relay_live *l)
{
    if (l->released && (!l->submitted || l->stored)) {
        l->r->history_held -= l->bytes;
        free(l->error);
        free(l);
    }
}

static void resend_cb(lws_sorted_usec_list_t *sul);

/*
 * The store refused l's finished record with err: 1 when it is kept to be
 * written again (on the relay's retry list, in arrival order), 0 when it is
 * lost.
 */
static int retry_later(struct relay_live *l, int err)
{
    struct relay *r = l->r;
    int64_t wait = (int64_t)RETRY_FIRST_MS << (l->tries < 5 ? l->tries : 5);

    if (err != HW_EUNAVAIL || l->queued || r->stopping || l->tries >= RETRY_TRIES ||
        r->history_held > r->cfg.history_buffer / 2)
        return 0;
    l->tries++;
    l->retry_at_ms = hw_wall_ms() + (wait < RETRY_MAX_MS ? wait : RETRY_MAX_MS);
    if (!r->history_retry)
        r->history_retry_tail = &r->history_retry;
    l->retry_next = NULL;
    *r->history_retry_tail = l;
    r->history_retry_tail = &l->retry_next;
    if (l->tries == 1)
        HW_INFO("evt=%s the store is unavailable: its history record is written again later",
                l->ev.id);
    lws_sul_schedule(r->context, 0, &r->history_resend, resend_cb,
                     (lws_usec_t)RETRY_FIRST_MS * 1000);
    return 1;
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
    if (err && retry_later(l, err))
        return; /* still submitted, not stored: kept */
    l->stored = 1;
    l->err = err;
    if (err && !l->queued)
        l->r->metrics.history_lost++;
    if (!err && l->tries)
        HW_INFO("evt=%s history recorded after %d more tries", l->ev.id, l->tries);
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

/* Hands l's finished record (http_status, done_ms, error) to the store. */
static void submit(struct relay_live *l)
{
    struct hw_store_attempt a = {
        .at_ms = l->sent_ms,
        .duration_ms = l->done_ms > l->sent_ms ? (int)(l->done_ms - l->sent_ms) : 0,
        .http_status = l->http_status,
        .error = l->error,
    };
    /* A live answer is the sender's business: a failure is kept for replay, not retried. */
    int ok = l->http_status >= 200 && l->http_status < 300 && !l->error;
    int err = hw_store_append_finished_lend(
        l->r->store, &l->ev, &a, ok ? HW_STORE_DELIVERED : HW_STORE_FAILED, on_stored, l);

    if (err) {
        /* Only past the store's own caps, which the history buffer keeps well below. */
        l->r->metrics.history_lost++;
        HW_WARN("evt=%s not recorded: %s", l->ev.id, hw_strerror(err));
        return;
    }
    l->submitted = 1;
}

/* Writes l finished, with the app's status (0 when there was none) or an error. */
static void record(struct relay_live *l, int http_status, const char *error)
{
    if (!l->r->store || l->submitted)
        return; /* shutting down (the store is closed), or requeued */
    l->http_status = http_status;
    l->done_ms = hw_wall_ms();
    if (error) {
        l->error = strndup(error, HW_STORE_ERROR_MAX);
        if (!l->error) {
            l->r->metrics.history_lost++;
            HW_WARN("evt=%s not recorded: out of memory", l->ev.id);
            return;
        }
    }
    submit(l);
}

/* The retry timer: records due are handed to the store again, in arrival order. */
static void resend_cb(lws_sorted_usec_list_t *sul)
{
    struct relay *r = lws_container_of(sul, struct relay, history_resend);
    struct relay_live **pp = &r->history_retry, *l;
    int64_t now = hw_wall_ms();

    while ((l = *pp)) {
        if (l->retry_at_ms > now) {
            pp = &l->retry_next;
            continue;
        }
        *pp = l->retry_next;
        l->submitted = 0;
        submit(l);
        maybe_free(l);
    }
    r->history_retry_tail = pp;
    if (r->history_retry)
        lws_sul_schedule(r->context, 0, &r->history_resend, resend_cb,
                         (lws_usec_t)RETRY_FIRST_MS * 1000);
}

void relay_record_stop(struct relay *r)
{
    struct relay_live *l;
    size_t n = 0;

    lws_sul_cancel(&r->history_resend);
    while ((l = r->history_retry)) {
        r->history_retry = l->retry_next;
        l->stored = 1;
        r->metrics.history_lost++;
        n++;
        maybe_free(l);
    }
    if (n)
        HW_WARN("%zu history record%s not written: the store was unavailable until the stop", n,
                n == 1 ? "" : "s");
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
    /* A tunnel found dead at the deadline leaves the commit no time of its own: give it some. */
    hw_http_conn_wait_at_least(c, REQUEUE_COMMIT_MS);
    return 0;
}

int relay_record_requeued(const struct relay_live *l)
{
    return l && l->queued;
}

void relay_record_overdue(struct relay_live *l, int http_status, const char *error)
{
    if (!l)
        return;
    if (!l->queued || l->stored || !l->conn) {
        relay_record_conn_gone(l, http_status, error);
        return;
    }
    l->conn = NULL;
    if (relay_queue_withdraw_overdue(l->r->store, on_stored, l, l->ev.source, l->ev.id))
        l->submitted = 0;
    else
        l->late = 1;
    maybe_free(l);
}

void relay_record_conn_gone(struct relay_live *l, int http_status, const char *error)
{
    if (!l)
        return;
    if (!l->released)
        record(l, http_status, error ? error : "the sender went away before the answer");
    l->conn = NULL; /* a requeued webhook is still queued; only its 202 is lost */
    release(l);
    maybe_free(l);
}
