/*
 * Public ingress connections (lws raw sockets): read a request head and body
 * within their caps, route /t/CHANNEL/PATH to the channel's agent as one
 * tunnel stream, write the agent's answer back (re-framed for this hop), and
 * answer every failure with its status and Hookwire-Error. Keep-alive and
 * pipelined requests are served in order. Service thread only.
 */
#include "ingress.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "channels.h"
#include "edge.h"
#include "err.h"
#include "http1.h"
#include "hwerror.h"
#include "id.h"
#include "log.h"
#include "lwsio.h"
#include "mux.h"
#include "relay.h"
#include "tokens.h"
#include "tunnel.h"

#define HEAD_MAX     (64 * 1024)    /* largest request head */
#define IN_MAX       (HEAD_MAX * 4) /* unparsed bytes held, pipelining included */
#define IN_PAUSE     HEAD_MAX       /* stop reading past this while an answer is pending */
#define OUT_LOW      (256 * 1024)   /* output backlog below which credit flows */
#define IDLE_TIMEOUT 60             /* seconds a connection may sit between requests */

enum conn_state {
    ST_HEAD,     /* reading a request head */
    ST_BODY,     /* reading its body */
    ST_WAIT,     /* forwarded, waiting for the answer's head */
    ST_RESPONSE, /* writing the answer */
};

struct ingress_conn {
    struct lws *wsi;
    struct relay *relay;
    enum conn_state state;
    struct hw_buf in;   /* received bytes not yet parsed */
    struct hw_buf head; /* the current request's head; req points into it */
    struct hw_http_head req;
    struct hw_buf body;
    struct hw_chunked chunked;
    uint64_t body_left;
    struct hw_buf out;
    struct hw_mux_stream *stream;
    lws_sorted_usec_list_t timer;
    lws_usec_t started;
    size_t credit_owed;
    const char *channel; /* into head */
    size_t channel_len;
    unsigned keep_alive : 1, close_after : 1, resp_chunked : 1, resp_started : 1, resp_done : 1;
    unsigned resp_written : 1, rx_paused : 1;
    size_t resp_mark;   /* bytes queued before the answer's head and not yet written */
    uint64_t resp_left; /* body bytes the answer still owes, or HW_BODY_LEN_UNKNOWN */
    int status;
    enum relay_edge_verdict verdict;
    char event_id[HW_ID_LEN + 1];
    char peer[64];
};

static void want_write(struct ingress_conn *c)
{
    lws_callback_on_writable(c->wsi);
}

/* Ends the exchange with our own error answer; the stream, if any, is dropped. */
static void respond_error(struct ingress_conn *c, enum hw_errc e, const char *extra)
{
    struct relay *r = c->relay;

    if (c->stream) {
        hw_mux_stream_close(c->stream);
        c->stream = NULL;
    }
    lws_sul_cancel(&c->timer);
    /* Unread request bytes would be taken for the next request: close instead. */
    if (c->state == ST_HEAD || c->state == ST_BODY)
        c->close_after = 1;
    if (!c->keep_alive)
        c->close_after = 1;
    hw_error_response(&c->out, e, !c->close_after, extra);
    r->metrics.errors[e]++;
    c->status = hw_errc_status(e);
    c->state = ST_RESPONSE;
    c->resp_started = c->resp_done = 1;
    HW_INFO("conn=%s %.*s %.*s -> %d %s%s%s", c->peer, (int)c->req.method_len, c->req.method,
            (int)c->req.target_len, c->req.target, c->status, hw_errc_name(e),
            c->event_id[0] ? " evt=" : "", c->event_id);
    want_write(c);
}

static void reset_request(struct ingress_conn *c)
{
    hw_buf_reset(&c->head);
    hw_buf_reset(&c->body);
    memset(&c->req, 0, offsetof(struct hw_http_head, headers));
    c->req.nheaders = 0;
    c->state = ST_HEAD;
    c->keep_alive = 1;
    c->resp_chunked = c->resp_started = c->resp_done = 0;
    c->credit_owed = 0;
    c->event_id[0] = '\0';
    c->channel = NULL;
    c->channel_len = 0;
    c->resp_written = 0;
    c->resp_mark = 0;
    if (c->rx_paused) {
        c->rx_paused = 0;
        lws_rx_flow_control(c->wsi, 1);
    }
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, IDLE_TIMEOUT);
}

static void timeout_cb(lws_sorted_usec_list_t *sul)
{
    struct ingress_conn *c = lws_container_of(sul, struct ingress_conn, timer);

    if (c->state == ST_WAIT)
        respond_error(c, HW_ERRC_LOCAL_TIMEOUT, NULL);
}

/* Appends the forwarded header block: originals minus hop-by-hop, then ours. */
static int build_headers(struct ingress_conn *c, struct hw_buf *hb)
{
    const struct hw_http_header *host = hw_http_find(&c->req, "host");
    int err = 0;

    for (size_t i = 0; i < c->req.nheaders && !err; i++) {
        const struct hw_http_header *h = &c->req.headers[i];
        if (hw_http_is_hop_by_hop(&c->req, h))
            continue;
        err = hw_buf_append(hb, h->name, h->name_len);
        err = err ? err : hw_buf_append(hb, ":", 1);
        err = err ? err : hw_buf_append(hb, h->value, h->value_len);
        err = err ? err : hw_buf_append(hb, "\r\n", 2);
    }
    if (!err)
        err = hw_buf_printf(hb, "X-Forwarded-For: %s\r\nX-Forwarded-Proto: %s\r\n", c->peer,
                            c->relay->cfg.tls_cert ? "https" : "http");
    if (!err && host) {
        size_t n;
        const char *v = hw_http_value_trim(host, &n);
        err = hw_buf_printf(hb, "X-Forwarded-Host: %.*s\r\n", (int)n, v);
    }
    if (!err)
        err = hw_buf_printf(hb, "Hookwire-Event-Id: %s\r\nHookwire-Attempt: 1\r\n", c->event_id);
    if (!err && c->verdict != RELAY_EDGE_NONE)
        err = hw_buf_printf(hb, "Hookwire-Verified: %s\r\n",
                            c->verdict == RELAY_EDGE_PASS ? "true" : "false");
    return err;
}

/* The request is complete: hand it to the channel's agent. */
static void dispatch(struct ingress_conn *c)
{
    struct relay *r = c->relay;
    struct relay_agent *agent = relay_channels_get(r->channels, c->channel, c->channel_len);
    struct hw_msg_request m;
    struct hw_mux *mux;
    struct hw_buf hb;
    const char *rest = c->channel + c->channel_len;
    size_t rest_len = (size_t)(c->req.target + c->req.target_len - rest);
    char fwd[HEAD_MAX];
    int err;

    hw_id_new(c->event_id);
    c->state = ST_WAIT; /* the request has been read whole */
    c->verdict = relay_edge_check(r->edge, c->channel, c->channel_len, r->public_base, &c->req,
                                  hw_buf_head(&c->body), hw_buf_size(&c->body), c->peer);
    if (c->verdict == RELAY_EDGE_REJECT) {
        respond_error(c, HW_ERRC_SIGNATURE, NULL);
        return;
    }
    if (!agent) {
        char name[RELAY_CHANNEL_MAX + 1];

        memcpy(name, c->channel, c->channel_len);
        name[c->channel_len] = '\0';
        switch (relay_tokens_channel_exists(r->tokens, name)) {
        case 0:
            respond_error(c, HW_ERRC_UNKNOWN_CHANNEL, NULL);
            break;
        case 1:
            respond_error(c, HW_ERRC_AGENT_OFFLINE, "Retry-After: 30\r\n");
            break;
        default:
            respond_error(c, HW_ERRC_STORE_UNAVAILABLE, "Retry-After: 10\r\n");
            break;
        }
        return;
    }
    mux = relay_agent_mux(agent);
    if (hw_mux_stream_count(mux) >= r->cfg.max_streams) {
        respond_error(c, HW_ERRC_OVERLOADED, "Retry-After: 1\r\n");
        return;
    }
    /* "/t/alice/x?y" forwards "/x?y"; "/t/alice" and "/t/alice?y" forward "/" and "/?y". */
    if (rest_len && rest[0] == '/') {
        memcpy(fwd, rest, rest_len);
    } else {
        fwd[0] = '/';
        memcpy(fwd + 1, rest, rest_len++);
    }
    hw_buf_init(&hb, HW_FRAME_MAX_PAYLOAD / 2);
    err = build_headers(c, &hb);
    m.body_len = hw_buf_size(&c->body);
    m.event_id = (struct hw_str){ c->event_id, strlen(c->event_id) };
    m.method = (struct hw_str){ c->req.method, c->req.method_len };
    m.target = (struct hw_str){ fwd, rest_len };
    m.headers = (struct hw_str){ hw_buf_head(&hb), hw_buf_size(&hb) };
    c->stream = err ? NULL : hw_mux_stream_open(mux, c);
    if (!c->stream || hw_mux_send_request(c->stream, &m) ||
        hw_mux_send_body_buf(c->stream, &c->body) || hw_mux_send_end(c->stream)) {
        hw_buf_cleanup(&hb);
        HW_ERR("conn=%s cannot queue request on the tunnel", c->peer);
        respond_error(c, HW_ERRC_OVERLOADED, "Retry-After: 1\r\n");
        return;
    }
    hw_buf_cleanup(&hb);
    hw_buf_init(&c->body, r->cfg.max_body);
    r->metrics.requests++;
    c->state = ST_WAIT;
    lws_set_timeout(c->wsi, 0, 0);
    lws_sul_schedule(r->context, 0, &c->timer, timeout_cb,
                     (lws_usec_t)r->cfg.response_timeout_ms * 1000);
}

static void respond_health(struct ingress_conn *c)
{
    hw_buf_puts(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n");
    hw_buf_puts(&c->out, c->keep_alive ? "\r\nok\n" : "Connection: close\r\n\r\nok\n");
    c->close_after = !c->keep_alive;
    c->status = 200;
    c->state = ST_RESPONSE;
    c->resp_started = c->resp_done = 1;
    want_write(c);
}

/* Decides what a complete head asks for. Returns 1 if the body should be read. */
static int route(struct ingress_conn *c)
{
    struct relay *r = c->relay;
    const char *t = c->req.target, *end = t + c->req.target_len, *p;

    c->keep_alive = c->req.keep_alive;
    if (c->req.target_len == 8 && memcmp(t, "/healthz", 8) == 0 && c->req.body == HW_BODY_NONE) {
        respond_health(c);
        return 0;
    }
    if (c->req.target_len < 3 || memcmp(t, "/t/", 3) != 0) {
        respond_error(c, HW_ERRC_NOT_FOUND, NULL);
        return 0;
    }
    for (p = t + 3; p < end && *p != '/' && *p != '?'; p++)
        ;
    c->channel = t + 3;
    c->channel_len = (size_t)(p - c->channel);
    if (!relay_channel_name_valid_n(c->channel, c->channel_len)) {
        respond_error(c, HW_ERRC_UNKNOWN_CHANNEL, NULL);
        return 0;
    }
    if (c->req.body == HW_BODY_LENGTH && c->req.content_length > r->cfg.max_body) {
        respond_error(c, HW_ERRC_BODY_TOO_LARGE, NULL);
        return 0;
    }
    c->body_left = c->req.body == HW_BODY_LENGTH ? c->req.content_length : 0;
    hw_chunked_init(&c->chunked);
    if (c->req.expect_continue)
        hw_buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
    want_write(c);
    return 1;
}

static int read_head(struct ingress_conn *c)
{
    struct hw_http_head probe;
    int rc = hw_http_parse_request(hw_buf_head(&c->in), hw_buf_size(&c->in), &probe);

    if (rc == HW_EAGAIN) {
        if (hw_buf_size(&c->in) > HEAD_MAX)
            respond_error(c, HW_ERRC_HEADERS_TOO_LARGE, NULL);
        return 0;
    }
    if (rc < 0 || (size_t)rc > HEAD_MAX) {
        respond_error(c, rc == HW_E2BIG || rc > 0 ? HW_ERRC_HEADERS_TOO_LARGE : HW_ERRC_BAD_REQUEST,
                      NULL);
        return 0;
    }
    /* Keep the head in its own buffer so the parsed pointers stay valid. */
    hw_buf_reset(&c->head);
    if (hw_buf_append(&c->head, hw_buf_head(&c->in), (size_t)rc) ||
        hw_http_parse_request(hw_buf_head(&c->head), (size_t)rc, &c->req) != rc) {
        respond_error(c, HW_ERRC_BAD_REQUEST, NULL);
        return 0;
    }
    hw_buf_consume(&c->in, (size_t)rc);
    c->started = lws_now_usecs();
    if (!route(c))
        return 0;
    c->state = ST_BODY;
    return 1;
}

/* Moves body bytes from in to body. Returns 1 when the body is complete. */
static int read_body(struct ingress_conn *c)
{
    size_t n = hw_buf_size(&c->in);
    int rc;

    if (c->req.body == HW_BODY_NONE)
        return 1;
    if (c->req.body == HW_BODY_LENGTH) {
        if (n > c->body_left)
            n = (size_t)c->body_left;
        if (hw_buf_append(&c->body, hw_buf_head(&c->in), n)) {
            respond_error(c, HW_ERRC_BODY_TOO_LARGE, NULL);
            return 0;
        }
        hw_buf_consume(&c->in, n);
        c->body_left -= n;
        return c->body_left == 0;
    }
    if (!n)
        return 0;
    rc = hw_chunked_decode(&c->chunked, hw_buf_head(&c->in), &n);
    if (rc == HW_EPARSE) {
        respond_error(c, HW_ERRC_BAD_REQUEST, NULL);
        return 0;
    }
    if (hw_buf_append(&c->body, hw_buf_head(&c->in), n)) {
        respond_error(c, HW_ERRC_BODY_TOO_LARGE, NULL);
        return 0;
    }
    if (rc == HW_EAGAIN) {
        hw_buf_reset(&c->in);
        return 0;
    }
    /* The bytes after the body were moved right behind the decoded ones. */
    hw_buf_truncate(&c->in, n + (size_t)rc);
    hw_buf_consume(&c->in, n);
    return 1;
}

/* Runs the request state machine over the bytes buffered so far. */
static void process(struct ingress_conn *c)
{
    for (;;) {
        switch (c->state) {
        case ST_HEAD:
            if (!hw_buf_size(&c->in) || !read_head(c))
                return;
            break;
        case ST_BODY:
            if (!read_body(c))
                return;
            dispatch(c);
            break;
        default:
            return;
        }
    }
}

/*
 * The agent's answer goes to the sender verbatim, so the relay checks that it
 * can vouch for its framing: a final status, a reason without control bytes,
 * header lines that parse, no hop-by-hop headers (the agent drops them), and
 * a Content-Length that agrees with the announced body length. Returns 1 if
 * the head may be passed on.
 */
static int response_ok(const struct ingress_conn *c, const struct hw_msg_response *m, int no_body)
{
    struct hw_http_head h;
    struct hw_buf b;
    char method[16];
    int ok;

    if (m->status < 200 || m->status > 599)
        return 0;
    for (size_t i = 0; i < m->reason.len; i++) {
        unsigned char ch = (unsigned char)m->reason.p[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return 0;
    }
    snprintf(method, sizeof(method), "%.*s", (int)c->req.method_len, c->req.method);
    hw_buf_init(&b, m->headers.len + 64);
    ok = hw_buf_printf(&b, "HTTP/1.1 %u OK\r\n", m->status) == 0 &&
         hw_buf_append(&b, m->headers.p, m->headers.len) == 0 &&
         hw_buf_append(&b, "\r\n", 2) == 0 &&
         hw_http_parse_response(hw_buf_head(&b), hw_buf_size(&b), method, &h) ==
             (int)hw_buf_size(&b);
    for (size_t i = 0; ok && i < h.nheaders; i++)
        ok = !hw_http_is_hop_by_hop(&h, &h.headers[i]);
    if (ok && !no_body) {
        if (m->body_len == HW_BODY_LEN_UNKNOWN)
            ok = h.body == HW_BODY_CLOSE;
        else
            ok = h.body == HW_BODY_LENGTH && h.content_length == m->body_len;
    }
    hw_buf_cleanup(&b);
    return ok;
}

/*
 * Ends a broken answer whose head is already queued: what was valid goes
 * out, then the connection closes, so the sender sees the answer cut short
 * against its Content-Length and never reads bytes beyond it.
 */
static void cut_response(struct ingress_conn *c, const char *why)
{
    HW_WARN("conn=%s evt=%s %s: closing", c->peer, c->event_id, why);
    if (c->stream) {
        hw_mux_stream_close(c->stream);
        c->stream = NULL;
    }
    c->resp_done = 1;
    c->close_after = 1;
    want_write(c);
}

void relay_ingress_on_response(struct ingress_conn *c, const struct hw_frame *f)
{
    struct hw_msg_response m;
    int no_body, err;

    if (c->state != ST_WAIT || hw_frame_decode_response(f, &m)) {
        respond_error(c, HW_ERRC_LOCAL_ERROR, NULL);
        return;
    }
    no_body = (c->req.method_len == 4 && memcmp(c->req.method, "HEAD", 4) == 0) ||
              m.status == 204 || m.status == 304;
    if (!response_ok(c, &m, no_body)) {
        HW_WARN("conn=%s evt=%s the agent sent an answer head the relay cannot pass on", c->peer,
                c->event_id);
        respond_error(c, HW_ERRC_LOCAL_ERROR, NULL);
        return;
    }
    lws_sul_cancel(&c->timer);
    c->status = m.status;
    c->resp_mark = hw_buf_size(&c->out);
    c->resp_left = no_body ? 0 : m.body_len;
    err = hw_buf_printf(&c->out, "HTTP/1.1 %u %.*s\r\n", m.status,
                        m.reason.len ? (int)m.reason.len : (int)strlen(hw_http_reason(m.status)),
                        m.reason.len ? m.reason.p : hw_http_reason(m.status));
    err = err ? err : hw_buf_append(&c->out, m.headers.p, m.headers.len);
    if (!no_body && !err && m.body_len == HW_BODY_LEN_UNKNOWN) {
        /* Known lengths travel in the target's own Content-Length line. */
        if (c->req.minor_version >= 1) {
            c->resp_chunked = 1;
            err = hw_buf_puts(&c->out, "Transfer-Encoding: chunked\r\n");
        } else {
            c->close_after = 1;
        }
    }
    if (!c->keep_alive)
        c->close_after = 1;
    if (!err && c->close_after)
        err = hw_buf_puts(&c->out, "Connection: close\r\n");
    err = err ? err : hw_buf_append(&c->out, "\r\n", 2);
    if (err) {
        hw_buf_reset(&c->out);
        respond_error(c, HW_ERRC_LOCAL_ERROR, NULL);
        return;
    }
    c->state = ST_RESPONSE;
    c->resp_started = 1;
    want_write(c);
}

void relay_ingress_on_data(struct ingress_conn *c, const uint8_t *p, size_t n)
{
    int err = 0;

    if (c->state != ST_RESPONSE || c->resp_done)
        return;
    if (c->resp_left != HW_BODY_LEN_UNKNOWN) {
        if (n > c->resp_left) {
            hw_buf_append(&c->out, p, (size_t)c->resp_left);
            cut_response(c, "the agent sent more body than announced");
            return;
        }
        c->resp_left -= n;
    }
    if (c->resp_chunked)
        err = hw_buf_printf(&c->out, "%zx\r\n", n);
    err = err ? err : hw_buf_append(&c->out, p, n);
    if (!err && c->resp_chunked)
        err = hw_buf_append(&c->out, "\r\n", 2);
    if (err) {
        HW_ERR("conn=%s evt=%s response buffer overflow: closing", c->peer, c->event_id);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    if (hw_buf_size(&c->out) < OUT_LOW)
        hw_mux_consumed(c->stream, n);
    else
        c->credit_owed += n;
    want_write(c);
}

void relay_ingress_on_end(struct ingress_conn *c)
{
    struct relay *r = c->relay;

    if (c->state != ST_RESPONSE || c->resp_done)
        return;
    if (c->resp_left != HW_BODY_LEN_UNKNOWN && c->resp_left > 0) {
        cut_response(c, "the agent's answer ended before its Content-Length");
        return;
    }
    if (c->resp_chunked)
        hw_buf_puts(&c->out, "0\r\n\r\n");
    c->resp_done = 1;
    hw_mux_stream_close(c->stream);
    c->stream = NULL;
    r->metrics.responses++;
    HW_DEBUG("conn=%s %.*s %.*s -> %d evt=%s %.1fms", c->peer, (int)c->req.method_len,
             c->req.method, (int)c->req.target_len, c->req.target, c->status, c->event_id,
             (double)(lws_now_usecs() - c->started) / 1000.0);
    want_write(c);
}

void relay_ingress_on_reset(struct ingress_conn *c, uint16_t code, const char *text, size_t len)
{
    static const enum hw_errc by_code[] = {
        [HW_RST_TUNNEL_LOST] = HW_ERRC_AGENT_DISCONNECTED,
        [HW_RST_CANCEL] = HW_ERRC_LOCAL_ERROR,
        [HW_RST_REFUSED] = HW_ERRC_LOCAL_REFUSED,
        [HW_RST_TARGET_ERROR] = HW_ERRC_LOCAL_ERROR,
        [HW_RST_TIMEOUT] = HW_ERRC_LOCAL_TIMEOUT,
        [HW_RST_TOO_LARGE] = HW_ERRC_LOCAL_ERROR,
        [HW_RST_PROTOCOL] = HW_ERRC_LOCAL_ERROR,
    };

    c->stream = NULL; /* the mux frees it */
    HW_DEBUG("conn=%s evt=%s stream reset by agent: code %u %.*s", c->peer, c->event_id, code,
             (int)len, text);
    if (c->resp_started && !c->resp_written && !c->resp_done) {
        /* Nothing of the answer has left yet: replace it with our error. */
        hw_buf_truncate(&c->out, c->resp_mark);
        c->resp_started = c->resp_chunked = 0;
        c->close_after = 1; /* the exchange broke: start the next one afresh */
    }
    if (c->resp_started) {
        /* Part of the answer is out already: all we can do is cut it short. */
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    respond_error(
        c, code < sizeof(by_code) / sizeof(by_code[0]) ? by_code[code] : HW_ERRC_LOCAL_ERROR, NULL);
}

static int on_adopt(struct lws *wsi, struct relay *r)
{
    struct ingress_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return -1;
    c->wsi = wsi;
    c->relay = r;
    hw_buf_init(&c->in, IN_MAX);
    hw_buf_init(&c->head, HEAD_MAX);
    hw_buf_init(&c->body, r->cfg.max_body);
    hw_buf_init(&c->out, (size_t)-1);
    lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
    lws_set_opaque_user_data(wsi, c);
    r->metrics.public_connections++;
    reset_request(c);
    if (r->metrics.public_connections > r->cfg.max_connections) {
        c->keep_alive = 0;
        respond_error(c, HW_ERRC_OVERLOADED, "Retry-After: 1\r\n");
    }
    return 0;
}

static int on_rx(struct ingress_conn *c, const void *in, size_t len)
{
    if (c->state == ST_RESPONSE && c->close_after)
        return 0; /* answering and closing: the rest is ignored */
    if (c->state == ST_HEAD || c->state == ST_BODY)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, IDLE_TIMEOUT);
    if (c->state == ST_BODY && c->req.body == HW_BODY_LENGTH && !hw_buf_size(&c->in)) {
        /* Fast path: body bytes go straight to the body buffer. */
        size_t n = len < c->body_left ? len : (size_t)c->body_left;
        if (hw_buf_append(&c->body, in, n)) {
            respond_error(c, HW_ERRC_BODY_TOO_LARGE, NULL);
            return 0;
        }
        c->body_left -= n;
        in = (const char *)in + n;
        len -= n;
        if (!c->body_left)
            dispatch(c);
    }
    if (len && hw_buf_append(&c->in, in, len)) {
        if (c->state == ST_HEAD)
            respond_error(c, HW_ERRC_HEADERS_TOO_LARGE, NULL);
        else
            return -1; /* cannot happen while reading pauses at IN_PAUSE */
        return 0;
    }
    if ((c->state == ST_WAIT || c->state == ST_RESPONSE) && !c->rx_paused &&
        hw_buf_size(&c->in) >= IN_PAUSE) {
        /* A pipelined request waits in the socket until this answer is out. */
        c->rx_paused = 1;
        lws_rx_flow_control(c->wsi, 0);
    }
    process(c);
    return 0;
}

static int on_writeable(struct ingress_conn *c)
{
    size_t before = hw_buf_size(&c->out), n;

    if (hw_lwsio_write_raw(c->wsi, &c->out))
        return -1;
    n = before - hw_buf_size(&c->out);
    if (c->resp_started && !c->resp_written) {
        if (n > c->resp_mark)
            c->resp_written = 1;
        else
            c->resp_mark -= n;
    }
    if (c->credit_owed && c->stream && hw_buf_size(&c->out) < OUT_LOW) {
        hw_mux_consumed(c->stream, c->credit_owed);
        c->credit_owed = 0;
    }
    if (hw_buf_size(&c->out) || c->state != ST_RESPONSE || !c->resp_done)
        return 0;
    if (c->close_after)
        return lws_raw_transaction_completed(c->wsi); /* after lws's own backlog is out */
    reset_request(c);
    process(c);
    return 0;
}

static void on_close(struct ingress_conn *c)
{
    struct relay *r = c->relay;

    lws_sul_cancel(&c->timer);
    if (c->stream)
        hw_mux_stream_close(c->stream);
    hw_buf_cleanup(&c->in);
    hw_buf_cleanup(&c->head);
    hw_buf_cleanup(&c->body);
    hw_buf_cleanup(&c->out);
    r->metrics.public_connections--;
    free(c);
}

static int ingress_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    struct ingress_conn *c = lws_get_opaque_user_data(wsi);
    struct relay *r = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT:
        return on_adopt(wsi, r);
    case LWS_CALLBACK_RAW_RX:
        return c ? on_rx(c, in, len) : -1;
    case LWS_CALLBACK_RAW_WRITEABLE:
        return c ? on_writeable(c) : 0;
    case LWS_CALLBACK_RAW_CLOSE:
        if (c) {
            lws_set_opaque_user_data(wsi, NULL);
            on_close(c);
        }
        return 0;
    default:
        return 0;
    }
}

const struct lws_protocols relay_ingress_protocol = {
    .name = "hw-ingress",
    .callback = ingress_cb,
    .rx_buffer_size = 65536,
};
