/*
 * The HTTP/1.1 client: targets, their pools of raw client connections, the
 * request queue and deadlines, the writing of requests and the lws callback.
 * The answer side (parsing, framing, delivery) is http_client_rx.c; TLS
 * for https targets sits between the socket and both (tls_client.h). A
 * connection is freed only from its own close callback, or later when its
 * socket is already gone. Service thread only.
 */
#include "http_client.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/err.h"
#include "http/limits.h"
#include "http_client_int.h"
#include "net/lwsio.h"
#include "net/tls_client.h"

#define WRITE_CHUNK (256 * 1024)
/* TLS records waiting for the socket: one chunk of plaintext sealed, with room to spare. */
#define TLS_OUT_MAX (2 * WRITE_CHUNK)
/*
 * Plaintext of one read from the socket (lws reads at most rx_buffer_size,
 * plus a record left from the read before): it is all decrypted before the
 * answer side sees any, as a plain read would hand it over in one piece, so
 * bytes past an answer's end are seen with it and never go to the next request.
 */
#define TLS_PLAIN_MAX (128 * 1024)
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

/* ---- connections ---- */

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

static void conn_free(struct hwc_conn *c)
{
    struct hw_http_target *t = c->t;

    hwc_idle_remove(c);
    lws_sul_cancel(&c->connect_timer);
    lws_sul_cancel(&c->flush);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    hw_buf_cleanup(&c->in);
    hw_tls_free(c->tls);
    hw_buf_cleanup(&c->tls_out);
    free(c);
}

/* Closes the socket (its close callback frees c), or frees c if the socket is gone. */
void hwc_conn_drop(struct hwc_conn *c)
{
    hwc_idle_remove(c);
    if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    else if (!c->in_gone)
        conn_free(c);
}

static void connect_timeout_cb(lws_sorted_usec_list_t *sul)
{
    struct hwc_conn *c = lws_container_of(sul, struct hwc_conn, connect_timer);

    if (!c->connected)
        (void)hwc_addr_failed(c->t, c->addr); /* the next connection tries another address */
    if (c->req)
        hwc_fail(c->req, HW_HTTP_TIMEOUT,
                 c->connected ? "TLS handshake timeout" : "connect timeout");
    else
        hwc_conn_drop(c);
}

/* Opens a connection to addr (in numbers) for r; NULL if lws cannot even start one. */
static struct hwc_conn *conn_new(struct hw_http_target *t, struct hw_http_req *r, const char *addr)
{
    struct hwc_conn *c = calloc(1, sizeof(*c));
    struct lws_client_connect_info i;

    if (!c)
        return NULL;
    c->t = t;
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    hw_buf_init(&c->in, HW_ANSWER_IN_MAX);
    hw_buf_init(&c->tls_out, TLS_OUT_MAX);
    if (t->tls) {
        c->tls = hw_tls_new(t->tls, t->host);
        if (!c->tls) {
            free(c);
            return NULL;
        }
    }
    c->next = t->conns;
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;
    memset(&i, 0, sizeof(i));
    i.context = t->client->cx;
    i.address = c->addr; /* no name: lws would look it up on this thread */
    i.port = t->port;
    i.host = t->host;
    i.origin = t->host;
    i.method = "RAW";
    i.local_protocol_name = hw_http_client_protocol.name;
    i.opaque_user_data = c;
    i.pwsi = &c->wsi;
    /* lws may report a failure from inside the call: on_gone() then only marks c. */
    c->in_connect = 1;
    if (!lws_client_connect_via_info(&i) || c->failed) {
        c->wsi = NULL;
        c->in_connect = 0;
        conn_free(c);
        return NULL;
    }
    c->in_connect = 0;
    t->nconns++;
    lws_sul_schedule(t->client->cx, 0, &c->connect_timer, connect_timeout_cb,
                     (lws_usec_t)r->connect_timeout_ms * 1000);
    return c;
}

static void flush_cb(lws_sorted_usec_list_t *sul);

/*
 * Bytes to send. A plain socket gets them at the end of this service round
 * (flush_cb(): lws runs timers that are due before it polls again), which
 * saves the poll round trip that WRITEABLE costs; a TLS connection, or one
 * whose socket was full, waits for WRITEABLE.
 */
static void want_write(struct hwc_conn *c)
{
    if (!c->wsi || !c->connected || c->flush_armed)
        return;
    if (c->tls || c->blocked) {
        lws_callback_on_writable(c->wsi);
        return;
    }
    c->flush_armed = 1;
    lws_sul_schedule(c->t->client->cx, 0, &c->flush, flush_cb, 0);
}

static void attach(struct hwc_conn *c, struct hw_http_req *r)
{
    c->req = r;
    r->c = c;
    c->state = HWC_HEAD;
    c->got_bytes = 0;
    c->paused = 0;
    hw_buf_reset(&c->in);
    want_write(c);
}

/* Gives r a connection: an idle one, a new one, or a place in the queue. */
static int dispatch(struct hw_http_req *r)
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
        c = conn_new(t, r, addr);
        /* An address lws cannot even try (IPv6 where the context has none, no route): the next. */
        for (size_t k = 1; !c && k < t->addrs.n && hwc_addr_failed(t, addr); k++)
            c = (addr = hwc_addr(t)) ? conn_new(t, r, addr) : NULL;
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
        if (dispatch(r))
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
static int after_cb(struct hw_http_req *r)
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
    return after_cb(r);
}

int hwc_call_body(struct hw_http_req *r, const char *p, size_t n, size_t *taken)
{
    r->in_cb = 1;
    *taken = r->cb->on_body(r, r->user, p, n);
    if (*taken > n)
        *taken = n;
    return after_cb(r);
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
    *err = dispatch(r);
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
        want_write(r->c);
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
        want_write(r->c);
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

/* ---- lws side ---- */

/* Fails the request of a connection whose TLS set-up failed (a one-line reason in the log). */
static void tls_failed(struct hwc_conn *c, const char *why)
{
    struct hw_http_client *cl = c->t->client;

    snprintf(cl->why, sizeof(cl->why), "%s", why ? why : "TLS handshake failed");
    if (c->req)
        hwc_fail(c->req, HW_HTTP_TLS, cl->why);
}

/* The one lws_write of this callback: n bytes as they are, or sealed for TLS first. */
static int send_bytes(struct hwc_conn *c, const char *p, size_t n)
{
    if (!c->tls)
        return lws_write(c->wsi, (unsigned char *)p, n, LWS_WRITE_RAW) < 0 ? -1 : 0;
    if (hw_tls_send(c->tls, p, n, &c->tls_out))
        return -1;
    return hw_lwsio_write_raw(c->wsi, &c->tls_out);
}

/*
 * After n bytes of r's message went to the socket (or to lws): asks for
 * WRITEABLE while bytes are left, and reports body bytes sent once the
 * backlog is low (c and r may be gone after that callback). Returns the
 * bytes that were left to send.
 */
static size_t wrote(struct hwc_conn *c, struct hw_http_req *r, size_t n)
{
    size_t left;

    r->sent += n;
    if (!r->replayable) {
        hw_buf_consume(&r->msg, r->sent);
        r->sent = 0;
    }
    left = hw_buf_size(&r->msg) - r->sent;
    if (left)
        lws_callback_on_writable(c->wsi);
    else
        c->blocked = 0; /* all went: the next bytes may go at the end of a round again */
    if (r->owed && left < HW_OUT_LOW && r->cb->on_sent) {
        size_t owed = r->owed;

        r->owed = 0;
        r->in_cb = 1;
        r->cb->on_sent(r, r->user, owed);
        after_cb(r);
    }
    return left;
}

/*
 * The connection failed (a write could not go, or lws saw it reset): the
 * target may have answered early (a 413 before the body) and closed
 * without reading the rest, so its answer is still in the socket, ahead
 * of the reset. Reads it before lws closes the socket, which it does
 * without reading. TLS records would need the TLS layer: plain
 * connections only.
 */
static void read_before_close(struct hwc_conn *c, struct lws *wsi)
{
    char buf[16384];
    ssize_t got;

    if (c->tls || c->in_connect || !c->connected)
        return;
    while (c->req && (got = recv(lws_get_socket_fd(wsi), buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        if (hwc_on_rx(c, buf, (size_t)got))
            break;
}

static int on_writeable(struct hwc_conn *c)
{
    struct hw_http_req *r = c->req;
    size_t n;

    if (c->tls && hw_buf_size(&c->tls_out)) {
        /* Records made before (the handshake's, or the rest of a big piece) go first. */
        if (hw_lwsio_write_raw(c->wsi, &c->tls_out))
            return -1;
        if (!hw_buf_size(&c->tls_out) && r && hw_buf_size(&r->msg) > r->sent)
            lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (!r || (c->tls && !hw_tls_ready(c->tls)))
        return 0; /* the request goes once the handshake is done */
    n = hw_buf_size(&r->msg) - r->sent;
    if (n > WRITE_CHUNK)
        n = WRITE_CHUNK;
    if (n && send_bytes(c, hw_buf_head(&r->msg) + r->sent, n)) {
        read_before_close(c, c->wsi);
        return -1;
    }
    (void)wrote(c, r, n);
    return 0;
}

/*
 * The end-of-round write of a plain connection: outside every lws callback.
 * Sends what the socket takes now (nothing when lws holds bytes written
 * earlier); the rest waits for WRITEABLE.
 */
static void flush_cb(lws_sorted_usec_list_t *sul)
{
    struct hwc_conn *c = lws_container_of(sul, struct hwc_conn, flush);
    struct hw_http_req *r = c->req;
    size_t n;
    ssize_t sent;

    c->flush_armed = 0;
    if (!c->wsi || !r)
        return;
    n = hw_buf_size(&r->msg) - r->sent;
    if (!n)
        return;
    /* Bytes lws still holds go first: writing past them would reorder the stream. */
    if (lws_partial_buffered(c->wsi)) {
        c->blocked = 1;
        lws_callback_on_writable(c->wsi);
        return;
    }
    if (n > WRITE_CHUNK)
        n = WRITE_CHUNK;
    sent = send(lws_get_socket_fd(c->wsi), hw_buf_head(&r->msg) + r->sent, n,
                MSG_DONTWAIT | MSG_NOSIGNAL);
    /* A full socket takes nothing; a broken one is for lws to find (WRITEABLE) and close. */
    if (sent < 0)
        sent = 0;
    if ((size_t)sent < n)
        c->blocked = 1;
    (void)wrote(c, r, (size_t)sent);
}

/* The socket is gone (closed by the target, killed by us, or never connected). */
static void on_gone(struct hwc_conn *c, const char *why)
{
    struct hw_http_target *t = c->t;
    struct hw_http_req *r = c->req;

    c->wsi = NULL;
    c->eof = 1;
    lws_sul_cancel(&c->connect_timer);
    if (c->in_connect) {
        c->failed = 1; /* conn_new() cleans up */
        return;
    }
    t->nconns--;
    hwc_idle_remove(c);
    c->in_gone = 1;
    if (r && c->state == HWC_BODY && c->body_kind == HW_BODY_CLOSE) {
        hwc_process(c); /* the close ends the body */
    } else if (r && !c->got_bytes && c->reused && !r->retried && r->replayable) {
        /* A pooled connection the target had already closed: once more, on a fresh one. */
        hwc_detach(r, 0);
        r->retried = 1;
        r->sent = 0;
        if (dispatch(r))
            hwc_fail(r, HW_HTTP_REFUSED, why);
    } else if (r && !c->connected && hwc_addr_failed(t, c->addr) && ++r->addr_tries < t->addrs.n) {
        /* The name has other addresses: the next one, on a fresh connection. */
        hwc_detach(r, 0);
        r->sent = 0;
        if (dispatch(r))
            hwc_fail(r, HW_HTTP_REFUSED, why);
    } else if (r && !c->connected) {
        hwc_fail(r, HW_HTTP_REFUSED, why);
    } else if (r && c->tls && !hw_tls_ready(c->tls)) {
        tls_failed(c, "the target closed the connection during the TLS handshake");
    } else if (r) {
        hwc_fail(r, HW_HTTP_BAD_ANSWER,
                 c->state == HWC_HEAD && c->got_bytes ? "the target closed the connection mid-head"
                 : c->state == HWC_HEAD               ? "the target closed the connection early"
                                        : "the target closed the connection mid-body");
    }
    c->in_gone = 0;
    if (!c->req)
        conn_free(c);
    hwc_pump(t);
}

/* TCP is up: a plain connection is ready, a TLS one sends its ClientHello. */
static int on_connected(struct hwc_conn *c, struct lws *wsi)
{
    const char *why;

    c->wsi = wsi;
    c->connected = 1;
    if (!c->tls) {
        lws_sul_cancel(&c->connect_timer);
        want_write(c);
        return 0;
    }
    /* The connect deadline runs on until the handshake is done. */
    if (hw_tls_start(c->tls, &c->tls_out, &why) < 0) {
        tls_failed(c, why);
        return -1;
    }
    lws_callback_on_writable(wsi);
    return 0;
}

/* A TLS connection's plaintext, all of one read at once (hw_tls_rx()). */
static int client_plain(void *user, const uint8_t *p, size_t n)
{
    return hwc_on_rx(user, p, n) ? -1 : 0;
}

/* Received bytes of a TLS connection: the handshake, then records to decrypt. */
static int on_tls_rx(struct hwc_conn *c, const void *in, size_t len)
{
    static uint8_t plain[TLS_PLAIN_MAX]; /* service thread only */
    const char *why;
    int up, was_ready = hw_tls_ready(c->tls);
    int rc =
        hw_tls_rx(c->tls, in, len, plain, sizeof(plain), client_plain, c, &c->tls_out, &up, &why);

    if (rc < 0) {
        if (why && !was_ready && !up)
            tls_failed(c, why);
        else if (why && c->req)
            hwc_fail(c->req, rc == HW_E2BIG ? HW_HTTP_TOO_LARGE : HW_HTTP_BAD_ANSWER, why);
        return -1;
    }
    if (hw_buf_size(&c->tls_out))
        lws_callback_on_writable(c->wsi);
    if (up) {
        lws_sul_cancel(&c->connect_timer);
        want_write(c); /* the request, if one waits */
    }
    /* close_notify: nothing more comes; the close decides, as a plain FIN would. */
    return hw_tls_closed(c->tls) ? -1 : 0;
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    struct hwc_conn *c = lws_get_opaque_user_data(wsi);

    if (!c)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_RAW_CONNECTED:
        return on_connected(c, wsi);
    case LWS_CALLBACK_RAW_RX:
        return c->tls ? on_tls_rx(c, in, len) : hwc_on_rx(c, in, len);
    case LWS_CALLBACK_RAW_WRITEABLE:
        return on_writeable(c);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        lws_set_opaque_user_data(wsi, NULL);
        on_gone(c, "connection refused by the target");
        return 0;
    case LWS_CALLBACK_RAW_CLOSE:
        read_before_close(c, wsi);
        lws_set_opaque_user_data(wsi, NULL);
        on_gone(c, "the target closed the connection");
        return 0;
    default:
        return 0;
    }
}

const struct lws_protocols hw_http_client_protocol = {
    .name = "hw-http-client",
    .callback = client_cb,
    .rx_buffer_size = 65536,
};

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
            conn_free(c);
        }
        hwc_addr_cleanup(t);
        hw_tls_ctx_free(t->tls);
        free(t);
    }
    free(cl);
}
