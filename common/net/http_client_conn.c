/*
 * The HTTP client's connections, their lws side: opening one within its
 * connect deadline, writing its request (end of round or WRITEABLE), TLS for
 * https targets (tls_client.h), the lws callback. A connection is freed only
 * from its own close callback, or later once its socket is gone. Service
 * thread only.
 */
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

/* ---- connections ---- */

void hwc_conn_free(struct hwc_conn *c)
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
        hwc_conn_free(c);
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
struct hwc_conn *hwc_conn_new(struct hw_http_target *t, struct hw_http_req *r, const char *addr)
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
        hwc_conn_free(c);
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
void hwc_want_write(struct hwc_conn *c)
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
        hwc_after_cb(r);
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
        c->failed = 1; /* hwc_conn_new() cleans up */
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
        if (hwc_dispatch(r))
            hwc_fail(r, HW_HTTP_REFUSED, why);
    } else if (r && !c->connected && hwc_addr_failed(t, c->addr) && ++r->addr_tries < t->addrs.n) {
        /* The name has other addresses: the next one, on a fresh connection. */
        hwc_detach(r, 0);
        r->sent = 0;
        if (hwc_dispatch(r))
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
        hwc_conn_free(c);
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
        hwc_want_write(c);
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
        hwc_want_write(c); /* the request, if one waits */
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
