/*
 * The HTTP/1.1 client: targets, their pools of keep-alive connections, the
 * request queue and deadlines, and the request calls. A connection's lws
 * side (opening, writing, TLS, the callback) is http_client_conn.c, the
 * answer side (parsing, framing, delivery) http_client_rx.c, where its
 * connections go http_client_addr.c. Service thread only.
 */
#include "http_client.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "http/limits.h"
#include "http_client_int.h"
#include "net/tls_client.h"

/* The request struct rounded up so the caller's data behind it is aligned for anything. */
#define REQ_SIZE                                                                        \
    ((sizeof(struct hw_http_req) + _Alignof(max_align_t) - 1) / _Alignof(max_align_t) * \
     _Alignof(max_align_t))

struct hw_http_client *hw_http_client_new(struct lws_context *cx,
                                          const struct hw_http_client_opts *o)
{
    struct hw_http_client *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->cx = cx;
    c->connect_timeout_ms = o && o->connect_timeout_ms ? o->connect_timeout_ms : 5000;
    c->timeout_ms = o && o->timeout_ms ? o->timeout_ms : 30000;
    return c;
}

struct hw_http_target *hw_http_target_new(struct hw_http_client *c,
                                          const struct hw_http_target_opts *o)
{
    struct hw_http_target *t;
    const char *host = o->host ? o->host : o->address;

    if (!o->address || o->port <= 0 || o->port > 65535 ||
        strlen(o->address) >= sizeof(t->address) || strlen(host) >= sizeof(t->host))
        return NULL;
    t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->client = c;
    snprintf(t->address, sizeof(t->address), "%s", o->address);
    snprintf(t->host, sizeof(t->host), "%s", host);
    t->numeric = hw_addr_is_numeric(t->address);
    t->port = o->port;
    t->tls = o->tls ? hw_tls_ctx_ref(o->tls) : NULL;
    t->max_conns = o->max_conns ? o->max_conns : 64;
    t->max_idle = o->max_idle;
    t->max_pending = o->max_pending ? o->max_pending : 1024;
    t->next = c->targets;
    c->targets = t;
    return t;
}

/* ---- pool and queue ---- */

void hwc_idle_remove(struct hwc_conn *c)
{
    struct hw_http_target *t = c->t;
    struct hwc_conn **pp = &t->idle;

    if (!c->idle)
        return;
    while (*pp != c)
        pp = &(*pp)->next_idle;
    *pp = c->next_idle;
    c->idle = 0;
    t->nidle--;
}

static void attach(struct hwc_conn *c, struct hw_http_req *r)
{
    c->req = r;
    r->c = c;
    c->state = HWC_HEAD;
    c->got_bytes = 0;
    c->paused = 0;
    hw_buf_reset(&c->in);
    hwc_want_write(c);
}

/* Gives r a connection: an idle one, a new one, or a place in the queue. */
int hwc_dispatch(struct hw_http_req *r)
{
    struct hw_http_target *t = r->t;
    struct hwc_conn *c = t->idle;
    const char *addr;

    /* A resent request goes on a fresh connection when one may be opened. */
    if (c && !(r->retried && t->nconns < t->max_conns)) {
        hwc_idle_remove(c);
        c->reused = 1;
        attach(c, r);
        return 0;
    }
    if (t->nconns < t->max_conns && (addr = hwc_addr(t))) {
        c = hwc_conn_new(t, r, addr);
        /* An address lws cannot even try (IPv6 where the context has none, no route): the next. */
        for (size_t k = 1; !c && k < t->addrs.n && hwc_addr_failed(t, addr); k++)
            c = (addr = hwc_addr(t)) ? hwc_conn_new(t, r, addr) : NULL;
        if (!c)
            return HW_EUNAVAIL;
        attach(c, r);
        return 0;
    }
    /* Waits for a connection, or for the name's lookup (hwc_addr() started it). */
    r->queued = 1;
    r->queued_at = lws_now_usecs();
    r->gen = t->lookups;
    r->next = NULL;
    if (t->qtail)
        t->qtail->next = r;
    else
        t->qhead = r;
    t->qtail = r;
    return 0;
}

static void unqueue(struct hw_http_req *r)
{
    struct hw_http_target *t = r->t;
    struct hw_http_req **pp = &t->qhead, *prev = NULL;

    if (!r->queued)
        return;
    while (*pp != r) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    *pp = r->next;
    if (t->qtail == r)
        t->qtail = prev;
    r->queued = 0;
}

void hwc_pump(struct hw_http_target *t)
{
    if (t->pumping)
        return; /* a failure below releases a request, which pumps: the loop here goes on */
    t->pumping = 1;
    while (t->qhead && (t->idle || (t->nconns < t->max_conns && hwc_addr(t)))) {
        struct hw_http_req *r = t->qhead;

        unqueue(r);
        if (hwc_dispatch(r))
            hwc_fail(r, HW_HTTP_REFUSED, "cannot connect to the target");
    }
    t->pumping = 0;
}

/*
 * Fails the queued requests of lookups up to gen, or (gen 0) those that
 * have waited past their connect timeout by now. One at a time from the
 * head: a caller's on_error may start or cancel other requests.
 */
static void fail_queued(struct hw_http_target *t, unsigned gen, enum hw_http_fail why,
                        const char *text)
{
    lws_usec_t now = lws_now_usecs();
    char copy[sizeof(t->client->why)];

    snprintf(copy, sizeof(copy), "%s", text); /* a callback may write the client's own */
    for (;;) {
        struct hw_http_req *r = t->qhead;

        while (r &&
               (gen ? r->gen > gen : now < r->queued_at + (lws_usec_t)r->connect_timeout_ms * 1000))
            r = r->next;
        if (!r)
            return;
        unqueue(r);
        hwc_fail(r, why, copy);
    }
}

void hwc_fail_waiting(struct hw_http_target *t, unsigned gen, enum hw_http_fail why,
                      const char *text)
{
    fail_queued(t, gen, why, text);
}

void hwc_fail_overdue(struct hw_http_target *t, enum hw_http_fail why, const char *text)
{
    fail_queued(t, 0, why, text);
}

/* ---- requests ---- */

static void req_release(struct hw_http_req *r)
{
    struct hw_http_target *t = r->t;

    lws_sul_cancel(&r->timer);
    unqueue(r);
    t->npending--;
    if (r->cb->on_release) {
        r->in_cb = 1; /* a cancel from inside is a no-op now */
        r->cb->on_release(r, r->user);
    }
    hw_buf_cleanup(&r->msg);
    free(r);
    hwc_pump(t);
}

/* Detaches r from its connection; keep says the connection may serve the next request. */
void hwc_detach(struct hw_http_req *r, int keep)
{
    struct hwc_conn *c = r->c;
    struct hw_http_target *t = r->t;

    if (!c)
        return;
    r->c = NULL;
    c->req = NULL;
    if (keep && t->nidle < t->max_idle) {
        c->idle = 1;
        c->next_idle = t->idle;
        t->idle = c;
        t->nidle++;
    } else {
        hwc_conn_drop(c);
    }
}

/* Runs after a callback: 1 if the caller cancelled r inside it (r is freed then). */
int hwc_after_cb(struct hw_http_req *r)
{
    r->in_cb = 0;
    if (!r->cancelled)
        return 0;
    hwc_detach(r, 0);
    req_release(r);
    return 1;
}

void hwc_fail(struct hw_http_req *r, enum hw_http_fail why, const char *text)
{
    hwc_detach(r, 0);
    r->in_cb = 1;
    r->cb->on_error(r, r->user, why, text);
    req_release(r);
}

void hwc_finish_ok(struct hw_http_req *r, int keep)
{
    hwc_detach(r, keep && r->body_done && r->sent == hw_buf_size(&r->msg));
    r->in_cb = 1;
    r->cb->on_end(r, r->user);
    req_release(r);
}

int hwc_call_head(struct hw_http_req *r, const struct hw_http_head *h, const char *raw,
                  size_t raw_len)
{
    r->in_cb = 1;
    r->cb->on_head(r, r->user, h, raw, raw_len);
    return hwc_after_cb(r);
}

int hwc_call_body(struct hw_http_req *r, const char *p, size_t n, size_t *taken)
{
    r->in_cb = 1;
    *taken = r->cb->on_body(r, r->user, p, n);
    if (*taken > n)
        *taken = n;
    return hwc_after_cb(r);
}

static void total_timeout_cb(lws_sorted_usec_list_t *sul)
{
    struct hw_http_req *r = lws_container_of(sul, struct hw_http_req, timer);
    struct hw_http_target *t = r->t;

    if (r->queued && !t->numeric && !t->addrs.n) {
        snprintf(t->client->why, sizeof(t->client->why), "%.160s did not resolve in time",
                 t->address);
        hwc_fail(r, HW_HTTP_TIMEOUT, t->client->why);
        return;
    }
    hwc_fail(r, HW_HTTP_TIMEOUT,
             r->c && r->c->got_bytes ? "the answer did not complete in time" : "no answer in time");
}

struct hw_http_req *hw_http_req_start(struct hw_http_target *t, struct hw_buf *msg,
                                      const struct hw_http_req_opts *o,
                                      const struct hw_http_req_cb *cb, void *user, int *err)
{
    struct hw_http_client *cl = t->client;
    struct hw_http_req *r;

    if (t->npending >= t->max_pending) {
        *err = HW_EFULL;
        return NULL;
    }
    r = calloc(1, REQ_SIZE + o->data_size);
    if (!r) {
        *err = HW_ENOMEM;
        return NULL;
    }
    r->t = t;
    r->cb = cb;
    r->user = user;
    r->msg = *msg;
    r->msg.max = (size_t)-1; /* bounded by the caller's flow control (on_sent) */
    hw_buf_init(msg, msg->max);
    r->is_head = o->method && strcmp(o->method, "HEAD") == 0;
    r->body_done = o->body_done ? 1 : 0;
    r->chunked = o->chunked ? 1 : 0;
    r->replayable = hw_buf_size(&r->msg) <= HW_HEAD_MAX + HW_REPLAY_MAX;
    r->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : cl->connect_timeout_ms;
    t->npending++;
    *err = hwc_dispatch(r);
    if (*err) {
        t->npending--;
        hw_buf_cleanup(&r->msg);
        free(r);
        return NULL;
    }
    if (o->timeout_ms != HW_HTTP_NO_DEADLINE)
        lws_sul_schedule(cl->cx, 0, &r->timer, total_timeout_cb,
                         (lws_usec_t)(o->timeout_ms ? o->timeout_ms : cl->timeout_ms) * 1000);
    return r;
}

static int queue_bytes(struct hw_http_req *r, const void *p, size_t n)
{
    if (r->replayable && hw_buf_size(&r->msg) + n > HW_HEAD_MAX + HW_REPLAY_MAX) {
        /* Too big to hold for a resend: written bytes can go now. */
        r->replayable = 0;
        hw_buf_consume(&r->msg, r->sent);
        r->sent = 0;
    }
    return hw_buf_append(&r->msg, p, n);
}

int hw_http_req_write(struct hw_http_req *r, const void *p, size_t n)
{
    char size[24];
    int err = 0;

    if (r->body_done)
        return HW_EINVAL;
    if (!n)
        return 0;
    if (r->chunked) {
        int len = snprintf(size, sizeof(size), "%zx\r\n", n);
        err = queue_bytes(r, size, (size_t)len);
    }
    err = err ? err : queue_bytes(r, p, n);
    err = err ? err : r->chunked ? queue_bytes(r, "\r\n", 2) : 0;
    if (err)
        return err == HW_E2BIG ? HW_ENOMEM : err;
    r->owed += n;
    if (r->c)
        hwc_want_write(r->c);
    return 0;
}

int hw_http_req_finish(struct hw_http_req *r)
{
    int err;

    if (r->body_done)
        return HW_EINVAL;
    if (r->chunked) {
        err = queue_bytes(r, "0\r\n\r\n", 5);
        if (err)
            return err;
    }
    r->body_done = 1;
    if (r->c)
        hwc_want_write(r->c);
    return 0;
}

void hw_http_req_cancel(struct hw_http_req *r)
{
    if (r->in_cb) {
        r->cancelled = 1; /* finished when the callback returns */
        return;
    }
    hwc_detach(r, 0);
    req_release(r);
}

void *hw_http_req_data(struct hw_http_req *r)
{
    return (char *)r + REQ_SIZE;
}

int hw_http_req_resent(const struct hw_http_req *r)
{
    return r->retried;
}

void hw_http_client_free(struct hw_http_client *cl)
{
    struct hw_http_target *t, *tn;

    if (!cl)
        return;
    for (t = cl->targets; t; t = tn) {
        tn = t->next;
        t->max_conns = t->max_idle = 0; /* pump() starts nothing now, nothing goes idle */
        while (t->qhead) {
            struct hw_http_req *r = t->qhead;
            unqueue(r);
            hwc_fail(r, HW_HTTP_CANCELLED, "the client is shutting down");
        }
        for (;;) {
            /* Rescan after each failure: the caller's on_error may drop other requests. */
            struct hwc_conn *c = t->conns;
            while (c && !c->req)
                c = c->next;
            if (!c)
                break;
            hwc_fail(c->req, HW_HTTP_CANCELLED, "the client is shutting down");
        }
        while (t->conns) {
            struct hwc_conn *c = t->conns;
            if (c->wsi) {
                lws_set_opaque_user_data(c->wsi, NULL);
                lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
                c->wsi = NULL;
            }
            hwc_conn_free(c);
        }
        hwc_addr_cleanup(t);
        hw_tls_ctx_free(t->tls);
        free(t);
    }
    free(cl);
}
