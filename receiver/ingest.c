/*
 * Ingest on the HTTP server: routes a webhook to its source, admits it
 * (signature, handshake), appends it through the store's group commit and
 * answers 200 {"id":"evt_..."} only from the commit's callback. While its
 * source has room in memory, the append leases the event to this receiver
 * and the callback hands it straight to delivery (no claim, no read back);
 * otherwise it is appended due and a claim finds it. At the answer timeout
 * an append no commit has taken is withdrawn. Owns the per-connection state
 * and the acknowledgement waiting for each commit. Service thread only.
 */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admit.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "db.h"
#include "deliver.h"
#include "net/http_server.h"
#include "recv.h"
#include "server.h"
#include "store/store.h"

/* What a provider is told to wait before retrying when we cannot store. */
#define RETRY_AFTER "Retry-After: 5\r\n"

/*
 * An acknowledgement waiting for its commit; outlives the connection if that
 * goes first. Listed in r->acks until its commit's callback (or withdrawal).
 */
struct recv_ack {
    struct recv_ack *next, **prev;
    struct recv *r;
    struct hw_http_conn *c; /* NULL once the connection or the exchange is gone */
    int64_t started_us;
    const struct recv_source *src;
    size_t leased_bytes; /* leased at append: what recv_db_reserve() counted */
    int leased;
    int overdue; /* its sender got 503 at the answer timeout while it was in a commit */
    char id[HW_ID_LEN + 1];
};

struct ingest_conn {
    struct recv *r;
    struct recv_ack *ack;       /* the exchange waiting for a commit, or NULL */
    char log_id[HW_ID_LEN + 1]; /* the server's evt= for this exchange (outlives the ack) */
};

static void reject(struct hw_http_conn *c, struct recv *r, enum recv_reject why, enum hw_errc e,
                   const char *extra)
{
    r->metrics.rejected[why]++;
    hw_http_conn_error(c, e, extra);
}

/* a's append is done with (committed, failed or withdrawn): it leaves r->acks. */
static void ack_unlink(struct recv_ack *a)
{
    *a->prev = a->next;
    if (a->next)
        a->next->prev = a->prev;
}

/* The store's verdict on one append: the answer goes out now, if anyone still waits for it. */
static void on_committed(void *arg, int err, const struct hw_store_result *res)
{
    struct recv_ack *a = arg;
    struct recv *r = a->r;
    char body[64];
    static const char type[] = "Content-Type: application/json\r\n";

    ack_unlink(a);
    if (a->c)
        ((struct ingest_conn *)hw_http_conn_user(a->c))->ack = NULL;
    if (a->leased && !(res && res->event))
        recv_db_unreserve(r->db, a->src, a->leased_bytes);
    if (err == 0) {
        if (res->duplicate) {
            r->metrics.duplicates++;
            if (a->c)
                memcpy(((struct ingest_conn *)hw_http_conn_user(a->c))->log_id, res->id,
                       sizeof(res->id));
        } else {
            r->metrics.stored++;
            if (a->overdue)
                HW_WARN("source=%s evt=%s stored after all, after its sender got 503 at the "
                        "answer timeout: it is delivered (at least once)",
                        a->src->name, res->id);
            if (res->event) {
                r->metrics.leased_at_append++;
                recv_deliver_leased(r->deliver, a->src, res->event, a->leased_bytes);
            } else {
                recv_db_kick(r->db);
            }
        }
        recv_metrics_observe(&r->metrics.ingest, 0, (double)(recv_now_us() - a->started_us) / 1e6);
        if (a->c) {
            int n = snprintf(body, sizeof(body), "{\"id\":\"%s\"}\n", res->id);

            hw_http_conn_respond(a->c, 200, NULL, type, sizeof(type) - 1, body, (size_t)n);
        }
    } else {
        /*
         * res->unknown: whether it was stored cannot be known (HW_EUNAVAIL
         * mid-commit, its answer lost): the provider retries, and the dedup
         * key makes the retry a duplicate. Otherwise nothing was stored.
         */
        if (res && res->unknown)
            HW_WARN("source=%s evt=%s the store's answer to its commit was lost (%s): the "
                    "sender gets 503, and the event may still be stored and then delivered (at "
                    "least once; a retry without a dedup key is stored again)",
                    a->src->name, res->id, hw_strerror(err));
        else
            HW_WARN("source=%s append failed: %s: not stored (the sender gets 503 and retries)",
                    a->src->name, hw_strerror(err));
        if (!a->overdue) /* else counted when its sender got 503 */
            r->metrics.rejected[RECV_REJECT_STORE_UNAVAILABLE]++;
        if (a->c)
            hw_http_conn_error(a->c, HW_ERRC_STORE_UNAVAILABLE, RETRY_AFTER);
    }
    free(a);
}

/* Copies n bytes into a NUL-terminated string at *p (inside one block). */
static const char *put(char **p, const char *s, size_t n)
{
    char *d = *p;

    memcpy(d, s, n);
    d[n] = '\0';
    *p += n + 1;
    return d;
}

/*
 * A path a backend could route outside deliver-to's path (recv_route_parse()):
 * 400, logged, at the head, before the body is read.
 */
static void refuse_path(struct hw_http_conn *c, struct recv *r, const struct hw_http_head *h)
{
    HW_WARN("conn=%s path refused (a dot or empty segment, an encoded slash, a byte past ASCII, "
            "a '#' or an escape a decoder could misread): %.*s",
            hw_http_conn_peer(c), (int)(h->target_len < 200 ? h->target_len : 200), h->target);
    reject(c, r, RECV_REJECT_INVALID, HW_ERRC_BAD_REQUEST, NULL);
}

/* Appends the admitted request; the answer waits for on_committed(). */
static void store(struct hw_http_conn *c, struct recv *r, const struct hw_http_request *rq,
                  const struct recv_admission *ad)
{
    struct ingest_conn *x = hw_http_conn_user(c);
    const struct hw_http_head *h = rq->head;
    const char *line_end = memchr(rq->raw_head, '\n', rq->raw_head_len);
    size_t skip = line_end ? (size_t)(line_end + 1 - rq->raw_head) : rq->raw_head_len;
    struct hw_store_event ev;
    struct recv_ack *a;
    char *strs, *p;
    int64_t lease_until;
    int err;

    strs = malloc(h->method_len + ad->route.path_len + ad->route.query_len + 3);
    a = calloc(1, sizeof(*a));
    if (!strs || !a) {
        free(strs);
        free(a);
        reject(c, r, RECV_REJECT_STORE_UNAVAILABLE, HW_ERRC_STORE_UNAVAILABLE, RETRY_AFTER);
        return;
    }
    p = strs;
    memset(&ev, 0, sizeof(ev));
    /* Our own id, so that an answer timeout can name the event before the commit has. */
    hw_id_new(ev.id);
    ev.source = ad->source->name;
    ev.method = put(&p, h->method, h->method_len);
    ev.path = put(&p, ad->route.path, ad->route.path_len);
    ev.query = put(&p, ad->route.query ? ad->route.query : "", ad->route.query_len);
    /* The header lines exactly as received: after the request line, before the blank line. */
    ev.headers = rq->raw_head + skip;
    ev.headers_len = rq->raw_head_len - skip >= 2 ? rq->raw_head_len - skip - 2 : 0;
    ev.body = hw_buf_head(rq->body);
    ev.body_len = hw_buf_size(rq->body);
    ev.verify = ad->verified ? HW_STORE_VERIFIED : HW_STORE_UNVERIFIED;
    ev.dedup_key = ad->dedup_key;
    a->r = r;
    a->c = c;
    a->started_us = recv_now_us();
    a->src = ad->source;
    a->leased_bytes = ev.headers_len + ev.body_len;
    a->leased = recv_db_reserve(r->db, a->src, a->leased_bytes);
    if (a->leased) {
        lease_until = hw_wall_ms() + (int64_t)r->cfg.lease_ms;
        err = hw_store_append_leased_async_with_id(r->store, &ev, lease_until, on_committed, a);
    } else {
        err = hw_store_append_async_with_id(r->store, &ev, on_committed, a);
    }
    free(strs);
    if (err < 0) {
        if (a->leased)
            recv_db_unreserve(r->db, a->src, a->leased_bytes);
        free(a);
        if (err == HW_E2BIG)
            reject(c, r, RECV_REJECT_TOO_LARGE, HW_ERRC_BODY_TOO_LARGE, NULL);
        else if (err == HW_EINVAL)
            reject(c, r, RECV_REJECT_INVALID, HW_ERRC_BAD_REQUEST, NULL);
        else
            reject(c, r, RECV_REJECT_STORE_UNAVAILABLE, HW_ERRC_STORE_UNAVAILABLE, RETRY_AFTER);
        return;
    }
    a->next = r->acks;
    if (a->next)
        a->next->prev = &a->next;
    a->prev = &r->acks;
    r->acks = a;
    memcpy(a->id, ev.id, sizeof(a->id));
    memcpy(x->log_id, ev.id, sizeof(x->log_id));
    hw_http_conn_set_log_id(c, x->log_id);
    x->ack = a;
}

static void on_request(struct hw_http_conn *c, const struct hw_http_request *rq)
{
    struct ingest_conn *x = hw_http_conn_user(c);
    struct recv *r = x->r;
    struct recv_admission ad;
    int rc;

    r->metrics.received++;
    if (r->draining) {
        reject(c, r, RECV_REJECT_DRAINING, HW_ERRC_SHUTTING_DOWN, RETRY_AFTER);
        return;
    }
    rc = recv_admit(&r->cfg, rq->head, hw_buf_head(rq->body), hw_buf_size(rq->body),
                    (int64_t)time(NULL), &ad);
    if (rc < 0) {
        reject(c, r, RECV_REJECT_STORE_UNAVAILABLE, HW_ERRC_STORE_UNAVAILABLE, RETRY_AFTER);
        return;
    }
    if (ad.verdict == RECV_ADMIT_REFUSE) {
        if (ad.errc == HW_ERRC_SIGNATURE)
            HW_WARN("conn=%s source=%s signature refused: %s%s%s", rq->peer,
                    ad.source ? ad.source->name : "?", hw_sig_reason_str(ad.reason),
                    ad.reason_header ? " " : "", ad.reason_header ? ad.reason_header : "");
        reject(c, r,
               ad.errc == HW_ERRC_SIGNATURE     ? RECV_REJECT_SIGNATURE
               : ad.errc == HW_ERRC_BAD_REQUEST ? RECV_REJECT_INVALID
                                                : RECV_REJECT_UNKNOWN_SOURCE,
               ad.errc, NULL);
        return;
    }
    r->metrics.verified += (uint64_t)ad.verified;
    if (ad.verdict == RECV_ADMIT_HANDSHAKE && ad.handshake.status != 200) {
        HW_WARN("conn=%s source=%s handshake refused: %s", rq->peer, ad.source->name,
                ad.handshake.why);
        reject(c, r, RECV_REJECT_INVALID, HW_ERRC_BAD_REQUEST, NULL);
        return;
    }
    if (ad.verdict == RECV_ADMIT_HANDSHAKE) {
        char type[96];
        int n = snprintf(type, sizeof(type), "Content-Type: %s\r\n", ad.handshake.content_type);

        r->metrics.handshakes++;
        hw_http_conn_respond(c, ad.handshake.status, NULL, type, (size_t)n, ad.handshake.body,
                             ad.handshake.body_len);
        return;
    }
    store(c, r, rq, &ad);
}

/* Our own endpoints and unknown paths are answered before the body is read. */
static void on_head(struct hw_http_conn *c, const struct hw_http_head *h)
{
    struct ingest_conn *x = hw_http_conn_user(c);
    struct recv *r = x->r;
    struct recv_route route;
    int rc;

    if (recv_server_endpoint(r, c, h))
        return;
    rc = recv_route_parse(r->cfg.path_prefix, h->target, h->target_len, &route);
    if (rc == HW_EINVAL) {
        refuse_path(c, r, h);
        return;
    }
    if (rc < 0) {
        hw_http_conn_error(c, HW_ERRC_NOT_FOUND, NULL);
        return;
    }
    if (!recv_sources_find(&r->cfg.sources, route.source, route.source_len)) {
        reject(c, r, RECV_REJECT_UNKNOWN_SOURCE, HW_ERRC_UNKNOWN_SOURCE, NULL);
        return;
    }
    /* HTTP allows "post"; backends' parsers refuse it: it would be stored and never delivered. */
    for (size_t i = 0; i < h->method_len; i++) {
        if (h->method[i] < 'A' || h->method[i] > 'Z') {
            HW_WARN("conn=%s method refused (not capital letters, which backends require): %.*s",
                    hw_http_conn_peer(c), (int)h->method_len, h->method);
            reject(c, r, RECV_REJECT_INVALID, HW_ERRC_BAD_REQUEST, NULL);
            return;
        }
    }
    hw_http_conn_set_max_body(c, r->cfg.max_body);
}

/* The exchange is gone: a commit still to come is kept, only its answer is dropped. */
static void forget(struct hw_http_conn *c)
{
    struct ingest_conn *x = hw_http_conn_user(c);

    if (x->ack)
        x->ack->c = NULL;
    x->ack = NULL;
}

/*
 * The sender got 503 at the answer timeout (the server's "no answer in
 * time"): an append no commit has taken yet is withdrawn, so that what was
 * refused is never stored; one already in a commit may still be stored, and
 * is then delivered.
 */
static void overdue(struct recv *r, struct recv_ack *a, const char *when)
{
    r->metrics.rejected[RECV_REJECT_STORE_UNAVAILABLE]++;
    if (hw_store_withdraw(r->store, on_committed, a) == 0) {
        HW_WARN("source=%s evt=%s not stored: the store did not take it by %s (the sender got "
                "503 and retries)",
                a->src->name, a->id, when);
        ack_unlink(a);
        if (a->leased)
            recv_db_unreserve(r->db, a->src, a->leased_bytes);
        free(a);
        return;
    }
    HW_WARN("source=%s evt=%s the store is still committing it at %s (the sender got 503): "
            "it may still be stored and delivered (at least once; a retry without a dedup key "
            "is then stored again)",
            a->src->name, a->id, when);
    a->overdue = 1;
    a->c = NULL;
}

static void on_abort(struct hw_http_conn *c, const char *why)
{
    struct ingest_conn *x = hw_http_conn_user(c);

    /* The server's words for the answer timeout (net/http_conn_timer.c). */
    if (x->ack && strcmp(why, "no answer in time") == 0) {
        overdue(x->r, x->ack, "the answer timeout");
        x->ack = NULL;
        return;
    }
    forget(c);
}

void recv_ingest_give_up(struct recv *r)
{
    struct recv_ack *a, *next;
    size_t n = 0;

    for (a = r->acks; a; a = a->next)
        n++;
    HW_WARN("%zu acknowledgements still waiting for the store at exit", n);
    for (a = r->acks; a; a = next) {
        struct hw_http_conn *c = a->c;

        next = a->next;
        if (!c)
            continue; /* nobody waits for its answer */
        ((struct ingest_conn *)hw_http_conn_user(c))->ack = NULL;
        overdue(r, a, "the end of the stop's drain");
        hw_http_conn_error(c, HW_ERRC_STORE_UNAVAILABLE, RETRY_AFTER);
    }
}

static void on_open(struct hw_http_conn *c)
{
    struct ingest_conn *x = hw_http_conn_user(c);

    x->r = hw_http_server_user(hw_http_conn_server(c));
}

static const struct hw_http_server_callbacks callbacks = {
    .on_open = on_open,
    .on_head = on_head,
    .on_request = on_request,
    .on_abort = on_abort,
    .on_close = forget,
};

struct hw_http_server *recv_ingest_new(struct recv *r)
{
    struct hw_http_server_config cfg;

    hw_http_server_config_defaults(&cfg);
    cfg.max_body = r->cfg.max_body;
    cfg.max_held = r->cfg.max_held;
    cfg.max_connections = r->max_connections;
    /* The answer waits for a commit; a database that hangs fails appends within its timeout. */
    cfg.answer_timeout_ms = 30000;
    cfg.timeout_errc = HW_ERRC_STORE_UNAVAILABLE;
    cfg.conn_user_size = sizeof(struct ingest_conn);
    return hw_http_server_new(&cfg, &callbacks, r);
}
