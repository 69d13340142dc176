/*
 * Tunnel-port HTTP endpoints and the upgrade gate. Each answer is built
 * when the request arrives (a history call's when its store call is done)
 * and written in pieces of at most API_PIECE bytes, one per WRITEABLE
 * callback, so that lws never holds more than one piece of it and a reader
 * that stops taking bytes is cut after the answer stall limit
 * (--response-timeout), with a log line. Service thread only.
 */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "channels.h"
#include "claim.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "history.h"
#include "http/http1.h"
#include "http/hwerror.h"
#include "relay.h"
#include "store/store.h"
#include "tunnel.h"

/* The most of an answer handed to lws at once. */
#define API_PIECE (64 * 1024)

/* Per-connection state: the answer being written (after LWS_PRE bytes of headroom). */
struct api_session {
    struct hw_buf out;
    size_t sent;                     /* bytes of out (after LWS_PRE) handed to lws */
    struct relay_history_call *call; /* a history call the answer waits for, or NULL */
    int close_after; /* a body, or a method but GET and HEAD: close after the answer */
    char peer[64];   /* the reader's address, noted while it is connected */
};

/*
 * Whether the request declares a body. The API reads none, and lws, handed
 * the bytes after an unread body on a kept-alive HTTP/1.0 connection, spins
 * on them without end: such a connection closes after its answer.
 */
static int has_body(struct lws *wsi)
{
    char v[32];

    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
        return 1;
    if (lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
        return 0;
    for (const char *p = v; *p; p++)
        if (*p != '0' && *p != ' ' && *p != '\t')
            return 1;
    return 0;
}

/*
 * Whether the head is one the public port refuses as ambiguous (docs/errors.md,
 * HW_BAD_REQUEST), which lws lets through: Content-Length with
 * Transfer-Encoding, either or Host twice, a Host that is not host[:port],
 * or a NUL byte in a header value (lws keeps the bytes after it, uncounted,
 * so a NUL inside a value shows).
 */
static int head_ambiguous(struct lws *wsi)
{
    static const enum lws_token_indexes once[] = { WSI_TOKEN_HTTP_CONTENT_LENGTH,
                                                   WSI_TOKEN_HTTP_TRANSFER_ENCODING,
                                                   WSI_TOKEN_HOST };
    char v[4096];
    int host_len;

    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
        lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
        return 1;
    /* lws chains a repeated header to the first as its next fragment. */
    for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++) {
        if (lws_hdr_fragment_length(wsi, once[i], 1) > 0 ||
            lws_hdr_copy_fragment(wsi, v, sizeof(v), once[i], 1) >= 0)
            return 1;
    }
    /* lws keeps the whitespace RFC 9110 allows around a value: the rule reads what is inside. */
    host_len = lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HOST);
    if (host_len > 0) {
        struct hw_http_header host = { .value = v, .value_len = (size_t)host_len };
        size_t n;
        const char *inside = hw_http_value_trim(&host, &n);

        if (!hw_http_host_valid(inside, n))
            return 1;
    }
    for (int h = 0; h < (int)WSI_TOKEN_COUNT; h++) {
        const unsigned char *name = lws_token_to_string((enum lws_token_indexes)h);
        size_t nlen = name ? strlen((const char *)name) : 0;

        /* Header names end in ':'; the others hold the method's URI, decoded (%00 is data). */
        if (!nlen || name[nlen - 1] != ':')
            continue;
        for (int f = 0;; f++) {
            int n = lws_hdr_copy_fragment(wsi, v, sizeof(v), (enum lws_token_indexes)h, f);

            if (n < 0)
                break;
            if (memchr(v, '\0', (size_t)n))
                return 1;
        }
    }
    return 0;
}

/*
 * Starts an answer buffer with LWS_PRE bytes of headroom, for an answer of
 * at most max bytes. 0, or HW_ENOMEM.
 */
static int begin_max(struct hw_buf *b, size_t max)
{
    hw_buf_init(b, max);
    if (!hw_buf_reserve(b, LWS_PRE))
        return HW_ENOMEM;
    hw_buf_commit(b, LWS_PRE);
    return 0;
}

/* A small answer: an error, a health check, the metrics. */
static int begin(struct hw_buf *b)
{
    return begin_max(b, 16 * 1024 * 1024);
}

/* The answer in s->out is complete: it counts in r->api_held until drop(), and goes out. */
static void ready(struct lws *wsi, struct relay *r, struct api_session *s)
{
    r->api_held += hw_buf_size(&s->out);
    lws_callback_on_writable(wsi);
}

/* The answer in s->out leaves memory: it no longer counts in r->api_held. */
static void drop(struct relay *r, struct api_session *s)
{
    if (!s->call)
        r->api_held -= hw_buf_size(&s->out);
    hw_buf_cleanup(&s->out);
    s->sent = 0;
}

/* Writes a whole answer held in b: one lws_write of its raw bytes. */
static int write_whole(struct lws *wsi, struct hw_buf *b)
{
    int n = lws_write(wsi, (unsigned char *)hw_buf_head(b) + LWS_PRE, hw_buf_size(b) - LWS_PRE,
                      LWS_WRITE_HTTP_HEADERS);

    hw_buf_cleanup(b);
    return n < 0 ? -1 : 0;
}

static int is_head(struct lws *wsi)
{
    return lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
}

/* GET or HEAD: all the tunnel port answers, but the API's replay (a POST). */
static int is_read(struct lws *wsi)
{
    return lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0 || is_head(wsi);
}

struct agents_ctx {
    struct hw_buf *body;
    int err;
};

static void list_agent(void *arg, const char *name, struct relay_agent *a)
{
    struct agents_ctx *c = arg;
    const struct relay_claim_info *info = relay_agent_claim(a);

    if (!c->err)
        c->err =
            hw_buf_printf(c->body, "%s\t%s\t%lld\n", name, info->addr, (long long)info->since_ms);
}

/*
 * /agents (for `token list`): the connected channels, their agents'
 * addresses and connect times. Agents' addresses are not for the world: only
 * a client on this machine that came through no proxy (a proxy on this
 * machine adds a Forwarded-style header) is answered.
 */
static int agents_allowed(struct lws *wsi)
{
    char peer[64];

    lws_get_peer_simple(wsi, peer, sizeof(peer));
    if (strcmp(peer, "127.0.0.1") != 0 && strcmp(peer, "::1") != 0 &&
        strcmp(peer, "::ffff:127.0.0.1") != 0)
        return 0;
    return lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR) <= 0 &&
           lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_VIA) <= 0 &&
           lws_hdr_custom_length(wsi, "forwarded:", 10) < 0;
}

/* Builds the answer for uri into b. Returns 0 or an hw_buf error. */
static int build_answer(struct lws *wsi, struct relay *r, const char *uri, struct hw_buf *b)
{
    struct hw_buf body;
    const char *type = "text/plain";
    int err;

    if (!is_read(wsi) || (strcmp(uri, "/healthz") != 0 && strcmp(uri, "/metrics") != 0 &&
                          (strcmp(uri, "/agents") != 0 || !agents_allowed(wsi))))
        return hw_error_response(b, HW_ERRC_NOT_FOUND, 1, NULL, is_head(wsi));
    if (strcmp(uri, "/healthz") == 0 && r->stopping) {
        /* A stop has begun: a load balancer takes the relay out before it exits. */
        static const char msg[] = "shutting down\n";

        err = hw_buf_printf(b,
                            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n"
                            "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                            sizeof(msg) - 1);
        return err || is_head(wsi) ? err : hw_buf_append(b, msg, sizeof(msg) - 1);
    }
    hw_buf_init(&body, 16 * 1024 * 1024);
    if (strcmp(uri, "/healthz") == 0) {
        err = hw_buf_puts(&body, "ok\n");
    } else if (strcmp(uri, "/agents") == 0) {
        struct agents_ctx c = { &body, 0 };

        type = "text/tab-separated-values";
        relay_channels_foreach(r->channels, list_agent, &c);
        err = c.err;
    } else {
        type = "text/plain; version=0.0.4";
        err = relay_metrics_render(r, &body);
    }
    err =
        err ? err
            : hw_buf_printf(b, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                            type, hw_buf_size(&body));
    if (!err && !is_head(wsi))
        err = hw_buf_append(b, hw_buf_head(&body), hw_buf_size(&body));
    hw_buf_cleanup(&body);
    return err;
}

/* Answers are built when the request arrives and written when lws says the socket is writable. */
static int on_http(struct lws *wsi, struct api_session *s, struct relay *r, const char *uri)
{
    drop(r, s);
    /* Noted now: once the reader has gone, getpeername() fails (the log would say so). */
    lws_get_peer_simple(wsi, s->peer, sizeof(s->peer));
    /*
     * lws waits for the body of a POST, PUT or PATCH that declares none, with
     * no deadline: a connection left open after such an answer would hold a
     * slot of --max-tunnel-connections for good. Only GET and HEAD stay open.
     */
    s->close_after = has_body(wsi) || (!lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) &&
                                       !lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI));
    if (head_ambiguous(wsi)) {
        r->metrics.errors[HW_ERRC_BAD_REQUEST]++;
        s->close_after = 1;
        if (begin(&s->out) || hw_error_response(&s->out, HW_ERRC_BAD_REQUEST, 0, NULL, 0)) {
            hw_buf_cleanup(&s->out);
            return -1;
        }
        ready(wsi, r, s);
        return 0;
    }
    /* PUT, DELETE, OPTIONS...: nothing here takes them (a DELETE must not read as done). */
    if (strncmp(uri, "/api/", 5) == 0 &&
        (is_read(wsi) || lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0)) {
        /* The history API answers when its store call is done (history.c counts it then). */
        if (begin_max(&s->out, relay_history_answer_max(r)) ||
            relay_history_start(wsi, r, uri, &s->out, &s->call)) {
            hw_buf_cleanup(&s->out);
            return -1;
        }
        if (!s->call)
            ready(wsi, r, s);
        return 0;
    }
    if (begin(&s->out) || build_answer(wsi, r, uri, &s->out)) {
        hw_buf_cleanup(&s->out);
        return -1;
    }
    ready(wsi, r, s);
    return 0;
}

/*
 * Hands lws the answer's next piece; once all of it is out (this callback
 * comes only after lws flushed what the socket did not take at once), ends
 * the exchange.
 */
static int on_writeable(struct lws *wsi, struct api_session *s, struct relay *r)
{
    size_t total = hw_buf_size(&s->out), n;

    if (s->call || total <= LWS_PRE)
        return 0;
    total -= LWS_PRE;
    if (s->sent < total) {
        n = total - s->sent < API_PIECE ? total - s->sent : API_PIECE;
        if (lws_write(wsi, (unsigned char *)hw_buf_head(&s->out) + LWS_PRE + s->sent, n,
                      LWS_WRITE_HTTP_HEADERS) < 0)
            return -1;
        s->sent += n;
        /* A reader that takes none of it for this long is cut (CLOSED_HTTP logs it). */
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
                        (int)((r->cfg.response_timeout_ms + 999) / 1000));
        lws_callback_on_writable(wsi);
        return 0;
    }
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    drop(r, s);
    if (s->close_after)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* The connection closes: an answer not all handed over was cut, which the log says. */
static void on_closed(struct lws *wsi, struct api_session *s, struct relay *r)
{
    size_t total = hw_buf_size(&s->out);

    /* Cut: not all handed to lws, or lws still holds part of it (the reader took none). */
    if (!s->call && total > LWS_PRE && (s->sent < total - LWS_PRE || lws_partial_buffered(wsi)))
        HW_WARN("conn=%s an API answer of %zu bytes was cut before its end: the reader took "
                "none of it for --response-timeout, or went away",
                s->peer[0] ? s->peer : "?", total - LWS_PRE);
    drop(r, s);
    relay_history_orphan(s->call);
    s->call = NULL;
}

int relay_api_respond_error(struct lws *wsi, enum hw_errc e, const char *extra)
{
    struct hw_buf b;

    if (begin(&b) || hw_error_response(&b, e, 0, extra, 0)) {
        hw_buf_cleanup(&b);
        return -1;
    }
    return write_whole(wsi, &b);
}

/*
 * Whether the upgrade asks for exactly the tunnel's subprotocol: without it
 * lws would bind the WebSocket to this vhost's first protocol, an orphan
 * that no agent code serves.
 */
static int offers_tunnel_protocol(struct lws *wsi)
{
    char v[64];
    int n = lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_PROTOCOL);
    const char *p = v, *end;

    if (n <= 0)
        return 0;
    end = v + n;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return (size_t)(end - p) == strlen(relay_tunnel_protocol.name) &&
           memcmp(p, relay_tunnel_protocol.name, (size_t)(end - p)) == 0;
}

/* Lets only /tunnel upgrades for the tunnel's subprotocol with a valid token through. */
static int confirm_upgrade(struct lws *wsi, struct relay *r, const char *kind)
{
    char uri[64], channel[64];
    int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
    int rc;

    if (strcmp(kind, "websocket") != 0 || n != 7 || strcmp(uri, "/tunnel") != 0) {
        relay_api_respond_error(wsi, HW_ERRC_NOT_FOUND, NULL);
        return 1;
    }
    if (!offers_tunnel_protocol(wsi) || head_ambiguous(wsi)) {
        r->metrics.errors[HW_ERRC_BAD_REQUEST]++;
        relay_api_respond_error(wsi, HW_ERRC_BAD_REQUEST, NULL);
        return 1;
    }
    rc = relay_tunnel_authenticate(r, wsi, channel);
    if (rc) {
        char peer[64];

        lws_get_peer_simple(wsi, peer, sizeof(peer));
        HW_WARN("conn=%s tunnel upgrade refused: %s", peer,
                rc == HW_EAUTH ? "missing or invalid token" : hw_strerror(rc));
        r->metrics.agent_rejected++;
        if (rc != HW_EAUTH) {
            /*
             * The token table could not be read lately (the store is slow or
             * down), not the agent's fault: a 503 makes it retry instead of
             * giving up. Tokens already known are let through meanwhile.
             */
            r->metrics.errors[HW_ERRC_STORE_UNAVAILABLE]++;
            relay_api_respond_error(wsi, HW_ERRC_STORE_UNAVAILABLE, "Retry-After: 1\r\n");
            return 1;
        }
        r->metrics.errors[HW_ERRC_UNAUTHORIZED]++;
        relay_api_respond_error(wsi, HW_ERRC_UNAUTHORIZED, NULL);
        return 1;
    }
    /* One channel, one agent: a live holder keeps it unless the newcomer takes over. */
    return relay_claim_gate(r, wsi, channel) ? 1 : 0;
}

/*
 * A new TCP connection on the tunnel port, before lws reads a byte: past
 * --max-tunnel-connections it is closed at once, so a flood of idle or
 * half-sent requests cannot take the descriptors the public port needs.
 * Logged once per stretch of refusals. Returns nonzero to refuse.
 */
static int tunnel_admit(struct relay *r)
{
    if (r->tunnel_conns < (long)r->max_tunnel_connections) {
        r->tunnel_full_logged = 0;
        return 0;
    }
    r->metrics.tunnel_full++;
    if (!r->tunnel_full_logged)
        HW_WARN("tunnel port: %ld connections open, new ones closed at accept "
                "(--max-tunnel-connections)",
                r->tunnel_conns);
    r->tunnel_full_logged = 1;
    return 1;
}

/*
 * lws turns a CONNECT request, a request line with a method it does not
 * know, and plain bytes on a TLS tunnel port into a raw socket bound to this
 * protocol, with no deadline. A CONNECT or an unknown method on a plain port
 * gets its 400 written straight to the socket (best effort, the answer is
 * small); every one is logged and closed. Plain bytes on a TLS port get no
 * answer, as a TLS server gives none: an agent that reached it with ws://
 * learns from that close that the port speaks TLS. Over TLS the 400 would
 * need lws's TLS writes: that connection is closed without it. Returns -1:
 * close.
 */
static int refuse_raw(struct relay *r, struct lws *wsi)
{
    struct hw_buf b;
    char peer[64];
    int tls = lws_is_ssl(wsi);

    r->metrics.errors[HW_ERRC_BAD_REQUEST]++;
    lws_get_peer_simple(wsi, peer, sizeof(peer));
    if (r->cfg.tls_cert && !tls) {
        HW_INFO("conn=%s refused on the tunnel port: not TLS, and the port speaks TLS (closed)",
                peer);
        return -1;
    }
    HW_INFO("conn=%s refused on the tunnel port: a CONNECT, or a method it does not serve%s", peer,
            tls ? " (closed)" : " (400)");
    if (tls)
        return -1;
    hw_buf_init(&b, 4096);
    if (hw_error_response(&b, HW_ERRC_BAD_REQUEST, 0, NULL, 0) == 0 &&
        send(lws_get_socket_fd(wsi), hw_buf_head(&b), hw_buf_size(&b),
             MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        HW_DEBUG("conn=%s the 400 was not sent: %s", peer, strerror(errno));
    hw_buf_cleanup(&b);
    return -1;
}

static int api_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    struct relay *r = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        return r ? tunnel_admit(r) : 0;
    case LWS_CALLBACK_WSI_CREATE:
    case LWS_CALLBACK_WSI_DESTROY:
        /* Both go to this vhost's first protocol for each of its connections. */
        if (r)
            r->tunnel_conns += reason == LWS_CALLBACK_WSI_CREATE ? 1 : -1;
        return 0;
    case LWS_CALLBACK_RAW_ADOPT:
        return refuse_raw(r, wsi);
    case LWS_CALLBACK_RAW_RX:
        return -1;
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, user, r, in);
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        /* The API takes no request body (replay is a bare POST): the answer is under way. */
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return user ? on_writeable(wsi, user, r) : 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (user && r)
            on_closed(wsi, user, r);
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(wsi, r, in);
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* The store thread finished something (a token table read): run its callbacks here. */
        if (r && r->store)
            hw_store_poll_completions(r->store);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

const struct lws_protocols relay_api_protocol = {
    .name = "http",
    .callback = api_cb,
    .per_session_data_size = sizeof(struct api_session),
};
