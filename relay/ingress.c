/*
 * Public ingress glue on the HTTP server (common/net/http_server.c): routes
 * /healthz and /t/CHANNEL/PATH, checks the edge signature, opens one tunnel
 * stream per complete request and forwards it; the server reads, limits and
 * answers. Owns struct relay_exchange. Service thread only.
 */
#include "ingress.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "channels.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "core/text.h"
#include "core/url.h"
#include "edge.h"
#include "http/http1.h"
#include "http/hwerror.h"
#include "http/limits.h"
#include "queue.h"
#include "record.h"
#include "refused.h"
#include "relay.h"
#include "store/store.h"
#include "tokens.h"
#include "tunnel.h"
#include "tunnel/mux.h"

/* Room for the headers the relay adds (X-Forwarded-*, Hookwire-*) beyond the received ones. */
#define HEADERS_ADDED 256

void relay_ingress_drop_stream(struct hw_http_conn *c, int close_it)
{
    struct relay_exchange *x = hw_http_conn_user(c);

    if (x->stream && close_it)
        hw_mux_stream_close(x->stream);
    x->stream = NULL;
}

/* Appends the first attempt's Hookwire-Event-Id and Hookwire-Attempt lines. */
static int put_ids(struct hw_buf *hb, const char *event_id)
{
    int err = hw_buf_puts(hb, "Hookwire-Event-Id: ");

    err = err ? err : hw_buf_puts(hb, event_id);
    return err ? err : hw_buf_puts(hb, "\r\nHookwire-Attempt: 1\r\n");
}

/* Appends the forwarded header block: originals minus hop-by-hop, then ours. */
static int build_headers(struct hw_http_conn *c, const struct hw_http_head *req, struct hw_buf *hb,
                         int ids)
{
    struct relay_exchange *x = hw_http_conn_user(c);
    const struct hw_http_header *host = hw_http_find(req, "host");
    size_t room = hb->max - hw_buf_size(hb), want = req->head_len + HEADERS_ADDED;
    struct hw_http_run run = { 0 };
    int err = 0;

    /* The block is about as long as the head it comes from: grow the buffer once, not twice. */
    if (!hw_buf_reserve(hb, want < room ? want : room))
        return HW_ENOMEM;

    for (size_t i = 0; i < req->nheaders && !err; i++) {
        const struct hw_http_header *h = &req->headers[i];
        /* Hookwire-* headers are ours to set: a sender must not forge an id or a verdict. */
        if (hw_http_is_hop_by_hop(req, h) ||
            (h->name_len >= 9 && strncasecmp(h->name, "hookwire-", 9) == 0))
            continue;
        err = hw_http_run_add(&run, hb, h);
    }
    err = err ? err : hw_http_run_flush(&run, hb);
    /* Appends, not printf: this runs for every webhook. */
    err = err ? err : hw_buf_puts(hb, "X-Forwarded-For: ");
    err = err ? err : hw_buf_puts(hb, hw_http_conn_peer(c));
    err = err ? err
              : hw_buf_puts(hb, x->relay->cfg.tls_cert ? "\r\nX-Forwarded-Proto: https\r\n"
                                                       : "\r\nX-Forwarded-Proto: http\r\n");
    if (!err && host) {
        size_t n;
        const char *v = hw_http_value_trim(host, &n);

        /* An empty Host (allowed for an authority-less target) names no host to forward. */
        if (n) {
            err = hw_buf_puts(hb, "X-Forwarded-Host: ");
            err = err ? err : hw_buf_append(hb, v, n);
            err = err ? err : hw_buf_append(hb, "\r\n", 2);
        }
    }
    if (!err && x->verdict != RELAY_EDGE_NONE)
        err = hw_buf_puts(hb, x->verdict == RELAY_EDGE_PASS ? "Hookwire-Verified: true\r\n"
                                                            : "Hookwire-Verified: false\r\n");
    /* A queued event gets its id and attempt number when it is sent. */
    return err || !ids ? err : put_ids(hb, x->event_id);
}

/* Whether x's channel has a token: 1, 0, or HW_EUNAVAIL (relay_tokens_channel_exists()). */
static int channel_exists(const struct relay_exchange *x)
{
    char name[HW_CHANNEL_MAX + 1];

    memcpy(name, x->channel, x->channel_len);
    name[x->channel_len] = '\0';
    return relay_tokens_channel_exists(x->relay->tokens, name);
}

/* No agent serves the channel: say whether it exists (503) or not (404). */
static void answer_no_agent(struct hw_http_conn *c, struct relay_exchange *x,
                            const struct hw_http_request *rq)
{
    switch (channel_exists(x)) {
    case 0:
        hw_http_conn_error(c, HW_ERRC_UNKNOWN_CHANNEL, NULL);
        break;
    case 1:
        relay_refused_add(x->relay->refused, x->channel, x->channel_len, x->event_id, 503,
                          "no agent connected (--offline reject)", rq->raw_head, rq->raw_head_len,
                          hw_buf_head(rq->body), hw_buf_size(rq->body));
        hw_http_conn_error(c, HW_ERRC_AGENT_OFFLINE, "Retry-After: 30\r\n");
        break;
    default:
        hw_http_conn_error(c, HW_ERRC_STORE_UNAVAILABLE, "Retry-After: 10\r\n");
        break;
    }
}

int relay_verify_of(enum relay_edge_verdict v)
{
    return v == RELAY_EDGE_PASS   ? HW_STORE_VERIFIED
           : v == RELAY_EDGE_MARK ? HW_STORE_VERIFY_FAILED
                                  : HW_STORE_UNVERIFIED;
}

/* No live agent (or the channel's queue is draining): keep the webhook for later. */
static void queue_request(struct hw_http_conn *c, struct relay_exchange *x,
                          const struct hw_http_request *rq, const char *fwd, size_t fwd_len)
{
    char name[HW_CHANNEL_MAX + 1];
    struct hw_buf hb;

    memcpy(name, x->channel, x->channel_len);
    name[x->channel_len] = '\0';
    switch (relay_tokens_channel_exists(x->relay->tokens, name)) {
    case 1:
        break;
    case 0:
        hw_http_conn_error(c, HW_ERRC_UNKNOWN_CHANNEL, NULL);
        return;
    default:
        hw_http_conn_error(c, HW_ERRC_STORE_UNAVAILABLE, "Retry-After: 10\r\n");
        return;
    }
    hw_buf_init(&hb, HW_FRAME_MAX_PAYLOAD / 2);
    if (build_headers(c, rq->head, &hb, 0)) {
        hw_buf_cleanup(&hb);
        hw_http_conn_error(c, HW_ERRC_OVERLOADED, "Retry-After: 1\r\n");
        return;
    }
    relay_queue_accept(x->relay->queue, c, x->channel, x->channel_len, rq, fwd, fwd_len,
                       hw_buf_head(&hb), hw_buf_size(&hb));
    hw_buf_cleanup(&hb);
}

/* The request is complete: hand it to the channel's agent. */
static void on_request(struct hw_http_conn *c, const struct hw_http_request *rq)
{
    struct relay_exchange *x = hw_http_conn_user(c);
    struct relay *r = x->relay;
    const struct hw_http_head *req = rq->head;
    struct relay_agent *agent = relay_channels_get(r->channels, x->channel, x->channel_len);
    struct hw_msg_request m;
    struct hw_mux *mux;
    struct hw_buf hb;
    const char *rest = x->channel + x->channel_len;
    size_t rest_len = (size_t)(req->target + req->target_len - rest);
    char fwd[HW_HEAD_MAX];
    int err;

    hw_id_new(x->event_id);
    hw_http_conn_set_log_id(c, x->event_id);
    x->started = lws_now_usecs();
    if (r->stopping) {
        /* The relay finishes what it holds before it exits: new work goes to its next run. */
        hw_http_conn_error(c, HW_ERRC_SHUTTING_DOWN, "Retry-After: 5\r\n");
        return;
    }
    x->verdict = relay_edge_check(r->edge, x->channel, x->channel_len, r->public_base, req,
                                  hw_buf_head(rq->body), hw_buf_size(rq->body), rq->peer);
    if (x->verdict == RELAY_EDGE_REJECT) {
        relay_refused_add(r->refused, x->channel, x->channel_len, x->event_id, 401, "bad signature",
                          rq->raw_head, rq->raw_head_len, hw_buf_head(rq->body),
                          hw_buf_size(rq->body));
        hw_http_conn_error(c, HW_ERRC_SIGNATURE, NULL);
        return;
    }
    /* "/t/alice/x?y" forwards "/x?y"; "/t/alice" and "/t/alice?y" forward "/" and "/?y". */
    if (rest_len && rest[0] == '/') {
        memcpy(fwd, rest, rest_len);
    } else {
        fwd[0] = '/';
        memcpy(fwd + 1, rest, rest_len++);
    }
    if (!agent || relay_queue_busy(r->queue, x->channel, x->channel_len)) {
        if (!agent &&
            strcmp(relay_edge_offline(r->edge, x->channel, x->channel_len, r->cfg.offline),
                   "reject") == 0)
            answer_no_agent(c, x, rq);
        else
            queue_request(c, x, rq, fwd, rest_len);
        return;
    }
    mux = relay_agent_mux(agent);
    if (hw_mux_stream_count(mux) >= r->cfg.max_streams) {
        hw_http_conn_error(c, HW_ERRC_OVERLOADED, "Retry-After: 1\r\n");
        return;
    }
    /*
     * Every webhook forwarded live is recorded: while the records not yet
     * committed fill --history-buffer, new ones are refused, not sent unrecorded.
     */
    if (strcmp(r->cfg.history, "on") == 0 && relay_record_full(r)) {
        r->metrics.history_full++;
        hw_http_conn_error(c, HW_ERRC_OVERLOADED, "Retry-After: 1\r\n");
        return;
    }
    hw_buf_init(&hb, HW_FRAME_MAX_PAYLOAD / 2);
    x->status = 0;
    if (strcmp(r->cfg.history, "on") == 0) {
        /* Recorded before the body moves to the stream; the append copies what it needs. */
        err = build_headers(c, req, &hb, 0);
        if (!err)
            x->live = relay_record_live(r, c, x->channel, x->channel_len, rq, fwd, rest_len,
                                        hw_buf_head(&hb), hw_buf_size(&hb), x->event_id,
                                        relay_verify_of(x->verdict));
        err = err ? err : put_ids(&hb, x->event_id);
    } else {
        err = build_headers(c, req, &hb, 1);
    }
    m.body_len = hw_buf_size(rq->body);
    m.event_id = (struct hw_str){ x->event_id, strlen(x->event_id) };
    m.method = (struct hw_str){ req->method, req->method_len };
    m.target = (struct hw_str){ fwd, rest_len };
    m.headers = (struct hw_str){ hw_buf_head(&hb), hw_buf_size(&hb) };
    x->stream = err ? NULL : hw_mux_stream_open(mux, c);
    /* The body's storage moves to the stream: no copy. */
    if (!x->stream || hw_mux_send_request(x->stream, &m) ||
        hw_mux_send_body_buf(x->stream, rq->body) || hw_mux_send_end(x->stream)) {
        hw_buf_cleanup(&hb);
        HW_ERR("conn=%s cannot queue request on the tunnel", rq->peer);
        relay_ingress_drop_stream(c, 1);
        relay_record_outcome(x->live, 0, "cannot queue the request on the tunnel");
        x->live = NULL;
        hw_http_conn_error(c, HW_ERRC_OVERLOADED, "Retry-After: 1\r\n");
        return;
    }
    hw_buf_cleanup(&hb);
    r->metrics.requests++;
}

/* Decides what a complete head asks for, answering at once when the body is not wanted. */
static void on_head(struct hw_http_conn *c, const struct hw_http_head *req)
{
    struct relay_exchange *x = hw_http_conn_user(c);
    const char *t = req->target, *end = t + req->target_len, *p, *q;

    x->channel = NULL;
    x->channel_len = 0;
    x->verdict = RELAY_EDGE_NONE;
    if (req->target_len == 8 && memcmp(t, "/healthz", 8) == 0 &&
        (req->body == HW_BODY_NONE || (req->body == HW_BODY_LENGTH && req->content_length == 0))) {
        static const char type[] = "Content-Type: text/plain\r\n";
        static const char busy[] = "Retry-After: 5\r\nContent-Type: text/plain\r\n";

        /* A stop has begun: a load balancer takes the relay out before it exits. */
        if (x->relay->stopping)
            hw_http_conn_respond(c, 503, NULL, busy, sizeof(busy) - 1, "shutting down\n", 14);
        else
            hw_http_conn_respond(c, 200, NULL, type, sizeof(type) - 1, "ok\n", 3);
        return;
    }
    if (req->target_len < 3 || memcmp(t, "/t/", 3) != 0) {
        /* An agent pointed at this port by mistake learns which port it reached. */
        hw_http_conn_error(c, HW_ERRC_NOT_FOUND, "Hookwire-Port: webhooks\r\n");
        return;
    }
    for (p = t + 3; p < end && *p != '/' && *p != '?'; p++)
        ;
    x->channel = t + 3;
    x->channel_len = (size_t)(p - x->channel);
    if (!hw_text_channel_valid(x->channel, x->channel_len)) {
        hw_http_conn_error(c, HW_ERRC_UNKNOWN_CHANNEL, NULL);
        return;
    }
    /* The rest goes under the agent's --forward path: no segment may lead out of it. */
    q = memchr(p, '?', (size_t)(end - p));
    if (hw_url_path_escapes(p, (size_t)((q ? q : end) - p))) {
        HW_WARN("conn=%s path refused (a dot or empty segment, an encoded slash, a '#' or an "
                "escape a decoder could misread): %.*s",
                hw_http_conn_peer(c), (int)(req->target_len < 200 ? req->target_len : 200), t);
        hw_http_conn_error(c, HW_ERRC_BAD_REQUEST, NULL);
        return;
    }
    /* A sender that waits for 100 Continue learns of a channel that does not exist instead. */
    if (req->expect_continue && channel_exists(x) == 0)
        hw_http_conn_error(c, HW_ERRC_UNKNOWN_CHANNEL, NULL);
}

/*
 * How an exchange the server took back ended, by the server's reason
 * (the words of net/http_conn*.c): the cause the history records (with what the
 * sender got), and the RESET the agent gets so that its log says why
 * (none: the stream is closed as cancelled).
 */
struct abort_kind {
    const char *why, *cause;
    uint16_t rst;
    const char *rst_text; /* NULL: no RESET of its own */
};

static const struct abort_kind aborts[] = {
    { "no answer in time",
      "timeout: the app did not answer within --response-timeout (the sender got 504)",
      HW_RST_TIMEOUT, "the relay's --response-timeout passed" },
    { "the answer stalled",
      "timeout: the app's answer stalled for --response-timeout (the sender's connection "
      "was closed)",
      HW_RST_TIMEOUT, "the relay's --response-timeout passed" },
    { "the peer went away", "the sender closed the connection before the answer", 0, NULL },
    { "the peer stopped reading", "the sender stopped reading the answer", HW_RST_CANCEL,
      "the webhook's sender stopped reading the answer" },
    { "stalled while others wait: shed",
      "the sender stalled while others waited: its connection was closed", 0, NULL },
    { "the answer had more body than announced",
      "malformed answer from the app: more body than its Content-Length (the sender's "
      "connection was closed after the announced length)",
      0, NULL },
    { "the answer ended before its Content-Length",
      "malformed answer from the app: it ended before its Content-Length (the sender's "
      "connection was closed)",
      0, NULL },
    { "out of memory for the answer",
      "the relay ran out of memory for the answer (the sender's connection was closed)", 0, NULL },
};

/* The server ended the exchange (timeout, stall, broken answer, sender gone): drop the stream. */
static void on_abort(struct hw_http_conn *c, const char *why)
{
    struct relay_exchange *x = hw_http_conn_user(c);
    const struct hw_http_head *h = hw_http_conn_head(c);
    const struct abort_kind *k = NULL;
    char cause[HW_STORE_ERROR_MAX + 1];

    if (x->pend) {
        /* A queued webhook: no stream, no live record; the server answers 503. */
        if (strcmp(why, "no answer in time") == 0)
            relay_queue_overdue(x->pend);
        else
            relay_queue_conn_gone(x->pend);
        x->pend = NULL;
        return;
    }
    for (size_t i = 0; i < sizeof(aborts) / sizeof(aborts[0]) && !k; i++)
        if (strcmp(why, aborts[i].why) == 0)
            k = &aborts[i];
    /* The answer timeout's own words (net/http_conn_timer.c); the body is the stream's by now. */
    if (h && x->channel && strcmp(why, "no answer in time") == 0 && !relay_record_requeued(x->live))
        relay_refused_add(x->relay->refused, x->channel, x->channel_len, x->event_id, 504,
                          "timeout: the app did not answer in time", h->method,
                          (size_t)(h->target + h->target_len - h->method), NULL, 0);
    if (!k)
        snprintf(cause, sizeof(cause), "the exchange was ended: %s", why);
    if (strcmp(why, "no answer in time") == 0)
        relay_record_overdue(x->live, x->status, k ? k->cause : cause);
    else
        relay_record_conn_gone(x->live, x->status, k ? k->cause : cause);
    x->live = NULL;
    if (x->stream && k && k->rst_text) {
        hw_mux_stream_reset(x->stream, k->rst, k->rst_text);
        x->stream = NULL;
        return;
    }
    relay_ingress_drop_stream(c, 1);
}

/* Answer bytes left the connection's backlog: the agent may send that many more. */
static void on_drain(struct hw_http_conn *c, size_t n)
{
    struct relay_exchange *x = hw_http_conn_user(c);

    if (x->stream)
        hw_mux_consumed(x->stream, n);
}

static void on_open(struct hw_http_conn *c)
{
    struct relay_exchange *x = hw_http_conn_user(c);

    x->relay = hw_http_server_user(hw_http_conn_server(c));
}

static void on_close(struct hw_http_conn *c)
{
    struct relay_exchange *x = hw_http_conn_user(c);

    relay_queue_conn_gone(x->pend);
    x->pend = NULL;
    relay_record_conn_gone(x->live, x->status, NULL);
    x->live = NULL;
    relay_ingress_drop_stream(c, 1);
}

static const struct hw_http_server_callbacks callbacks = {
    .on_open = on_open,
    .on_head = on_head,
    .on_request = on_request,
    .on_drain = on_drain,
    .on_abort = on_abort,
    .on_close = on_close,
};

struct hw_http_server *relay_ingress_new(struct relay *r)
{
    struct hw_http_server_config cfg;

    hw_http_server_config_defaults(&cfg);
    cfg.max_body = r->cfg.max_body;
    cfg.max_held = r->cfg.max_held;
    cfg.max_connections = r->max_connections;
    cfg.head_timeout_ms = r->cfg.head_timeout_ms;
    cfg.answer_timeout_ms = r->cfg.response_timeout_ms;
    cfg.answer_stall_ms = r->cfg.response_timeout_ms;
    cfg.timeout_errc = HW_ERRC_LOCAL_TIMEOUT;
    cfg.conn_user_size = sizeof(struct relay_exchange);
    return hw_http_server_new(&cfg, &callbacks, r);
}
