/*
 * Public ingress connections (lws raw sockets): read a request head and body
 * within their caps, route /t/CHANNEL/PATH to the channel's agent as one
 * tunnel stream (answer.c writes the answer back), and run the connection's
 * lws callbacks. Keep-alive and pipelined requests are served in order.
 * Service thread only.
 */
#include "ingress.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "answer.h"
#include "channels.h"
#include "conn.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "core/text.h"
#include "edge.h"
#include "http/http1.h"
#include "http/hwerror.h"
#include "net/lwsio.h"
#include "relay.h"
#include "tokens.h"
#include "tunnel.h"
#include "tunnel/mux.h"

static void release_body(struct ingress_conn *c);

static void reset_request(struct ingress_conn *c)
{
    lws_sul_cancel(&c->timer);
    release_body(c);
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

/* Appends the forwarded header block: originals minus hop-by-hop, then ours. */
static int build_headers(struct ingress_conn *c, struct hw_buf *hb)
{
    const struct hw_http_header *host = hw_http_find(&c->req, "host");
    int err = 0;

    for (size_t i = 0; i < c->req.nheaders && !err; i++) {
        const struct hw_http_header *h = &c->req.headers[i];
        /* Hookwire-* headers are ours to set: a sender must not forge an id or a verdict. */
        if (hw_http_is_hop_by_hop(&c->req, h) ||
            (h->name_len >= 9 && strncasecmp(h->name, "hookwire-", 9) == 0))
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
        relay_answer_error(c, HW_ERRC_SIGNATURE, NULL);
        return;
    }
    if (!agent) {
        char name[HW_CHANNEL_MAX + 1];

        memcpy(name, c->channel, c->channel_len);
        name[c->channel_len] = '\0';
        switch (relay_tokens_channel_exists(r->tokens, name)) {
        case 0:
            relay_answer_error(c, HW_ERRC_UNKNOWN_CHANNEL, NULL);
            break;
        case 1:
            relay_answer_error(c, HW_ERRC_AGENT_OFFLINE, "Retry-After: 30\r\n");
            break;
        default:
            relay_answer_error(c, HW_ERRC_STORE_UNAVAILABLE, "Retry-After: 10\r\n");
            break;
        }
        return;
    }
    mux = relay_agent_mux(agent);
    if (hw_mux_stream_count(mux) >= r->cfg.max_streams) {
        relay_answer_error(c, HW_ERRC_OVERLOADED, "Retry-After: 1\r\n");
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
        relay_answer_error(c, HW_ERRC_OVERLOADED, "Retry-After: 1\r\n");
        return;
    }
    hw_buf_cleanup(&hb);
    hw_buf_init(&c->body, r->cfg.max_body);
    r->metrics.requests++;
    c->state = ST_WAIT;
    lws_set_timeout(c->wsi, 0, 0);
    relay_answer_arm_timer(c);
}

/* Decides what a complete head asks for. Returns 1 if the body should be read. */
static int route(struct ingress_conn *c)
{
    struct relay *r = c->relay;
    const char *t = c->req.target, *end = t + c->req.target_len, *p;

    c->keep_alive = c->req.keep_alive;
    /* RFC 9112 3.2: one Host, required in HTTP/1.1; two leave the target ambiguous. */
    if (c->req.hosts > 1 || (c->req.minor_version == 1 && c->req.hosts == 0)) {
        relay_answer_error(c, HW_ERRC_BAD_REQUEST, NULL);
        return 0;
    }
    if (c->req.target_len == 8 && memcmp(t, "/healthz", 8) == 0 &&
        (c->req.body == HW_BODY_NONE ||
         (c->req.body == HW_BODY_LENGTH && c->req.content_length == 0))) {
        relay_answer_health(c);
        return 0;
    }
    if (c->req.target_len < 3 || memcmp(t, "/t/", 3) != 0) {
        relay_answer_error(c, HW_ERRC_NOT_FOUND, NULL);
        return 0;
    }
    for (p = t + 3; p < end && *p != '/' && *p != '?'; p++)
        ;
    c->channel = t + 3;
    c->channel_len = (size_t)(p - c->channel);
    if (!hw_text_channel_valid(c->channel, c->channel_len)) {
        relay_answer_error(c, HW_ERRC_UNKNOWN_CHANNEL, NULL);
        return 0;
    }
    if (c->req.body == HW_BODY_LENGTH && c->req.content_length > r->cfg.max_body) {
        relay_answer_error(c, HW_ERRC_BODY_TOO_LARGE, NULL);
        return 0;
    }
    c->body_left = c->req.body == HW_BODY_LENGTH ? c->req.content_length : 0;
    hw_chunked_init(&c->chunked);
    if (c->req.expect_continue && hw_buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n")) {
        relay_answer_kill(c, "out of memory for the answer");
        return 0;
    }
    relay_answer_want_write(c);
    return 1;
}

static int read_head(struct ingress_conn *c)
{
    struct hw_http_head probe;
    int rc = hw_http_parse_request(hw_buf_head(&c->in), hw_buf_size(&c->in), &probe);

    if (rc == HW_EAGAIN) {
        if (hw_buf_size(&c->in) > HEAD_MAX)
            relay_answer_error(c, HW_ERRC_HEADERS_TOO_LARGE, NULL);
        return 0;
    }
    if (rc < 0 || (size_t)rc > HEAD_MAX) {
        relay_answer_error(
            c, rc == HW_E2BIG || rc > 0 ? HW_ERRC_HEADERS_TOO_LARGE : HW_ERRC_BAD_REQUEST, NULL);
        return 0;
    }
    /* Keep the head in its own buffer so the parsed pointers stay valid. */
    hw_buf_reset(&c->head);
    if (hw_buf_append(&c->head, hw_buf_head(&c->in), (size_t)rc) ||
        hw_http_parse_request(hw_buf_head(&c->head), (size_t)rc, &c->req) != rc) {
        relay_answer_error(c, HW_ERRC_BAD_REQUEST, NULL);
        return 0;
    }
    hw_buf_consume(&c->in, (size_t)rc);
    c->started = lws_now_usecs();
    if (!route(c))
        return 0;
    c->state = ST_BODY;
    return 1;
}

/*
 * Appends body bytes within the request's cap (413) and the relay's budget
 * for request bytes held at once, being read or waiting for an agent (429):
 * many large bodies for a stalled agent must not exhaust memory. Returns 0,
 * or -1 after answering.
 */
static int add_body(struct ingress_conn *c, const void *p, size_t n)
{
    struct relay *r = c->relay;

    if (r->metrics.held_bytes + n > r->cfg.max_held) {
        relay_answer_error(c, HW_ERRC_OVERLOADED, "Retry-After: 5\r\n");
        return -1;
    }
    if (hw_buf_append(&c->body, p, n)) {
        relay_answer_error(c, HW_ERRC_BODY_TOO_LARGE, NULL);
        return -1;
    }
    c->held += n;
    r->metrics.held_bytes += n;
    return 0;
}

/* The exchange is over: its body no longer counts against the budget. */
static void release_body(struct ingress_conn *c)
{
    c->relay->metrics.held_bytes -= c->held;
    c->held = 0;
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
        if (add_body(c, hw_buf_head(&c->in), n))
            return 0;
        hw_buf_consume(&c->in, n);
        c->body_left -= n;
        return c->body_left == 0;
    }
    if (!n)
        return 0;
    rc = hw_chunked_decode(&c->chunked, hw_buf_head(&c->in), &n);
    if (rc == HW_EPARSE) {
        relay_answer_error(c, HW_ERRC_BAD_REQUEST, NULL);
        return 0;
    }
    if (add_body(c, hw_buf_head(&c->in), n))
        return 0;
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
        relay_answer_error(c, HW_ERRC_OVERLOADED, "Retry-After: 1\r\n");
    }
    return 0;
}

static int on_rx(struct ingress_conn *c, const void *in, size_t len)
{
    if (c->killed || (c->state == ST_RESPONSE && c->close_after))
        return 0; /* answering and closing: the rest is ignored */
    if (c->state == ST_HEAD || c->state == ST_BODY)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, IDLE_TIMEOUT);
    if (c->state == ST_BODY && c->req.body == HW_BODY_LENGTH && !hw_buf_size(&c->in)) {
        /* Fast path: body bytes go straight to the body buffer. */
        size_t n = len < c->body_left ? len : (size_t)c->body_left;
        if (add_body(c, in, n))
            return 0;
        c->body_left -= n;
        in = (const char *)in + n;
        len -= n;
        if (!c->body_left)
            dispatch(c);
    }
    if (len && hw_buf_append(&c->in, in, len)) {
        if (c->state == ST_HEAD)
            relay_answer_error(c, HW_ERRC_HEADERS_TOO_LARGE, NULL);
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

    if (c->killed)
        return -1;
    if (hw_lwsio_write_raw(c->wsi, &c->out))
        return -1;
    n = before - hw_buf_size(&c->out);
    if (n && c->state == ST_RESPONSE)
        relay_answer_arm_timer(c); /* the sender is reading: the answer is not stalled */
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
    release_body(c);
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
