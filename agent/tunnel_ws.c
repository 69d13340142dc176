/*
 * The tunnel's transport: an lws raw client socket that speaks RFC 6455
 * itself (common/tunnel/ws.h), so incoming messages are read as blocks rather
 * than byte by byte, with TLS for wss:// from net/tls_client.h. Owns the
 * connection (connect, upgrade, close, failures in words) and the reading: the
 * frame decoder, reassembly and control replies. The writes are tunnel_ws_write.c;
 * the session (mux, timers, reconnects) is tunnel.c. Service thread only.
 */
#include "tunnel_ws.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent.h"
#include "claim.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/url.h"
#include "net/tls_client.h"
#include "tunnel.h"
#include "tunnel/frame.h"
#include "tunnel/mux.h"
#include "tunnel/ws.h"
#include "tunnel_ws_int.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* Bytes waiting for the socket: a whole batch, with room for TLS records' overhead. */
#define OUT_MAX (HW_TUNNEL_MSG_MAX + 256 * 1024)
/* Plaintext taken from TLS per step. */
#define TLS_READ 16384

static struct agent *agent_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* Sets w->accept to what the relay must answer to key (RFC 6455 section 4.2.2). */
static int expected_accept(struct agent_ws *w, const char *key)
{
    char in[64];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    size_t n = strlen(key);

    if (n + sizeof(WS_GUID) > sizeof(in))
        return HW_EINVAL;
    memcpy(in, key, n);
    memcpy(in + n, WS_GUID, sizeof(WS_GUID) - 1);
    if (!EVP_Digest(in, n + sizeof(WS_GUID) - 1, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        return HW_EIO;
    sodium_bin2base64(w->accept, sizeof(w->accept), md, mdlen, sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

static int sink(void *user, enum hw_ws_event ev, const uint8_t *p, size_t n)
{
    struct agent *a = user;
    struct agent_ws *w = a->ws_raw;
    int err;

    /* A whole message or control frame is a sign of life, a piece of a message is not. */
    if (ev != HW_WS_DATA)
        a->last_rx = lws_now_usecs();
    switch (ev) {
    case HW_WS_MESSAGE:
        return agent_tunnel_message(a, p, n);
    case HW_WS_DATA:
        return hw_buf_append(&w->msg, p, n);
    case HW_WS_END:
        err = agent_tunnel_message(a, (const uint8_t *)hw_buf_head(&w->msg), hw_buf_size(&w->msg));
        hw_buf_reset(&w->msg);
        return err;
    case HW_WS_PING:
        if (w->state == WS_OPEN && !w->ctl_len)
            agent_ws_queue_control(w, HW_WS_OP_PONG, p, n);
        return 0;
    case HW_WS_PONG:
        return 0;
    case HW_WS_CLOSE:
        /* Echo the status, then close once it is written. */
        if (w->state == WS_OPEN) {
            w->state = WS_CLOSING;
            agent_ws_queue_control(w, HW_WS_OP_CLOSE, p, n >= 2 ? 2 : 0);
        }
        return 0;
    }
    return 0;
}

/*
 * A protocol error: close with status 1002 (docs/protocol.md) once the close frame is
 * written, or within a second if it cannot be.
 */
static void protocol_error(struct agent *a, struct agent_ws *w, int err)
{
    const char *why = w->rx.why ? w->rx.why : a->mux ? hw_mux_error(a->mux) : NULL;

    HW_ERR("tunnel protocol error from the relay: %s: reconnecting", why ? why : hw_strerror(err));
    w->state = WS_CLOSING;
    agent_ws_queue_control(w, HW_WS_OP_CLOSE, (const uint8_t *)"\x03\xea", 2);
    lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, 1);
}

/* The relay's URL with the other scheme (ws <-> wss), for advice. */
static const char *other_scheme(struct agent *a, char *out, size_t cap)
{
    struct hw_url u = a->relay_url;

    snprintf(u.scheme, sizeof(u.scheme), "%s", u.tls ? "ws" : "wss");
    return hw_url_format(&u, 1, out, cap);
}

/* Does block (a refused upgrade's head) carry the header line "name: value"? */
static int answer_says(const char *block, size_t n, const char *line)
{
    size_t l = strlen(line);

    for (size_t i = 0; i + l <= n; i++)
        if ((i == 0 || block[i - 1] == '\n') && strncasecmp(block + i, line, l) == 0)
            return 1;
    return 0;
}

/* A refused upgrade in words: the relay's webhook port, or the status. */
static void refused_upgrade(struct agent *a, struct agent_ws *w, unsigned status, size_t end)
{
    char why[200];

    if (status == 404 && answer_says(hw_buf_head(&w->answer), end, "hookwire-port: webhooks")) {
        agent_tunnel_misdirected(a, w->wsi,
                                 "that is the relay's webhook port, not its tunnel port: point "
                                 "--relay at the relay's --tunnel-listen port (8081 by default)");
        return;
    }
    if (status && status != 101)
        snprintf(why, sizeof(why), "the relay refused the upgrade (HTTP %u)", status);
    else
        snprintf(why, sizeof(why),
                 "the answer to the upgrade is not a valid WebSocket handshake (HTTP %u)", status);
    agent_tunnel_ended(a, w->wsi, why, status, hw_buf_head(&w->answer), end);
}

static int on_answer(struct agent *a, struct agent_ws *w, const void *in, size_t len)
{
    size_t end;
    unsigned status;
    int err = 0;

    if (hw_buf_append(&w->answer, in, len)) {
        agent_tunnel_ended(a, w->wsi, "the relay's answer to the upgrade is too long", 0, NULL, 0);
        return -1;
    }
    end = hw_ws_answer_end(hw_buf_head(&w->answer), hw_buf_size(&w->answer));
    if (!end)
        return 0;
    if (hw_ws_client_check_answer(hw_buf_head(&w->answer), end, w->accept,
                                  agent_tunnel_protocol.name, &status)) {
        refused_upgrade(a, w, status, end);
        return -1;
    }
    w->state = WS_OPEN;
    w->silent = 0;
    if (agent_tunnel_opened(a, w->wsi))
        return -1;
    /* Frames that came in the same read as the answer. */
    if (hw_buf_size(&w->answer) > end)
        err = hw_ws_rx_feed(&w->rx, (const uint8_t *)hw_buf_head(&w->answer) + end,
                            hw_buf_size(&w->answer) - end, sink, a);
    if (err)
        protocol_error(a, w, err);
    hw_buf_cleanup(&w->answer);
    return 0;
}

static int on_plain(struct agent *a, struct agent_ws *w, const void *in, size_t len)
{
    int err;

    if (w->state == WS_UPGRADE)
        return on_answer(a, w, in, len);
    if (w->state == WS_CLOSING)
        return 0; /* nothing after a close or an error is read */
    err = hw_ws_rx_feed(&w->rx, in, len, sink, a);
    if (err)
        protocol_error(a, w, err);
    return 0;
}

/* Hands the upgrade request to the socket (through TLS for wss://). */
static int send_request(struct agent_ws *w)
{
    int err;

    if (w->tls)
        err = hw_tls_send(w->tls, hw_buf_head(&w->req), hw_buf_size(&w->req), &w->out);
    else
        err = hw_buf_append(&w->out, hw_buf_head(&w->req), hw_buf_size(&w->req));
    hw_buf_cleanup(&w->req);
    if (!err)
        lws_callback_on_writable(w->wsi);
    return err;
}

/* Plaintext of a wss:// connection (hw_tls_rx()). */
static int tunnel_plain(void *user, const uint8_t *p, size_t n)
{
    struct agent *a = user;

    return on_plain(a, a->ws_raw, p, n) ? -1 : 0;
}

/* Received bytes of a wss:// connection: the handshake, then records to decrypt. */
static int on_tls_rx(struct agent *a, struct agent_ws *w, const void *in, size_t len)
{
    uint8_t plain[TLS_READ];
    const char *why;
    int up, rc;

    /* A plain HTTP server answers a ClientHello with an HTTP error. */
    if (!hw_tls_ready(w->tls) && len >= 5 && memcmp(in, "HTTP/", 5) == 0) {
        char url[1400], what[1500];

        snprintf(what, sizeof(what), "this port answers without TLS: use %s",
                 other_scheme(a, url, sizeof(url)));
        agent_tunnel_misdirected(a, w->wsi, what);
        return -1;
    }
    rc = hw_tls_rx(w->tls, in, len, plain, sizeof(plain), tunnel_plain, a, &w->out, &up, &why);

    if (rc < 0) {
        if (why && !hw_tls_ready(w->tls)) {
            char msg[224];

            snprintf(msg, sizeof(msg), "TLS: %s", why);
            agent_tunnel_ended(a, w->wsi, msg, 0, NULL, 0);
        }
        return -1;
    }
    /* The upgrade request goes as soon as the handshake is done. */
    if (up && send_request(w))
        return -1;
    if (hw_buf_size(&w->out))
        lws_callback_on_writable(w->wsi);
    return hw_tls_closed(w->tls) ? -1 : 0;
}

int agent_ws_close(struct agent *a)
{
    struct agent_ws *w = a->ws_raw;

    if (!w || !w->wsi || w->wsi != a->ws || w->state != WS_OPEN)
        return -1;
    /* 1001 "going away"; agent_ws_on_writeable() closes the socket once the frame is written. */
    w->state = WS_CLOSING;
    agent_ws_queue_control(w, HW_WS_OP_CLOSE, (const uint8_t *)"\x03\xe9", 2);
    lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, 1);
    return 0;
}

static void reset(struct agent_ws *w)
{
    w->wsi = NULL;
    w->state = WS_UPGRADE;
    w->ctl_len = 0;
    if (w->flush)
        lws_sul_cancel(&w->flush_sul);
    w->flush = 0;
    hw_tls_free(w->tls);
    w->tls = NULL;
    hw_buf_cleanup(&w->req);
    hw_buf_cleanup(&w->out);
    hw_buf_cleanup(&w->answer);
    hw_buf_cleanup(&w->msg);
}

/*
 * The connection could not be made. lws's reason is worded for lws ("Unable
 * to connect"): the usual cause is that nothing listens there. The session
 * tries the name's next address, if it has one.
 */
static void connect_failed(struct agent *a, struct lws *wsi)
{
    char why[400];

    snprintf(why, sizeof(why),
             "nothing answers at %s:%d (connection refused or unreachable): is the relay running, "
             "and is %d its --tunnel-listen port?",
             a->relay_url.host, a->relay_url.port, a->relay_url.port);
    agent_tunnel_unreachable(a, wsi, why);
}

/*
 * The connection closed. During a plain upgrade, an answer that is a TLS
 * record is a TLS port spoken to without TLS. A TLS port may also close
 * without a word (lws does): twice in a row before the tunnel ever worked,
 * that is the likely reason, and the agent stops saying so.
 */
static void closed(struct agent *a, struct agent_ws *w, struct lws *wsi)
{
    const unsigned char *p = (const unsigned char *)hw_buf_head(&w->answer);
    size_t n = hw_buf_size(&w->answer);
    char url[1400], why[1500];

    /* A relay that kept silent until the handshake deadline killed the attempt is not this. */
    if (w->tls || w->state != WS_UPGRADE || w->wsi != wsi || a->attempt_killed ||
        (n && p[0] != 0x15 && p[0] != 0x16)) {
        agent_tunnel_ended(a, wsi, "connection closed", 0, NULL, 0);
        return;
    }
    other_scheme(a, url, sizeof(url));
    if (n || ++w->silent >= 2) {
        snprintf(why, sizeof(why), "%s: this port speaks TLS: use %s",
                 n ? "the relay answered with TLS"
                   : "the relay closed the connection unanswered twice",
                 url);
        agent_tunnel_misdirected(a, wsi, why);
        return;
    }
    snprintf(why, sizeof(why),
             "the relay closed the connection without answering (a TLS port? then use %s)", url);
    agent_tunnel_ended(a, wsi, why, 0, NULL, 0);
}

static int raw_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    struct agent *a = agent_of(wsi);
    struct agent_ws *w = a->ws_raw;
    const char *why;

    if (!w || (w->wsi != wsi && !(a->in_connect && !w->wsi && !w->ended)))
        return 0;
    switch (reason) {
    case LWS_CALLBACK_RAW_CONNECTED:
        w->wsi = wsi;
        if (!w->tls)
            return send_request(w) ? -1 : 0;
        /* The ClientHello. */
        if (hw_tls_start(w->tls, &w->out, &why) < 0)
            return -1;
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_RAW_RX:
        return w->tls ? on_tls_rx(a, w, in, len) : on_plain(a, w, in, len);
    case LWS_CALLBACK_RAW_WRITEABLE:
        return agent_ws_on_writeable(a, w);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        connect_failed(a, wsi);
        reset(w);
        /* lws destroys wsi next: inside its connect call, when the refusal came at once. */
        w->ended = 1;
        return 0;
    case LWS_CALLBACK_RAW_CLOSE:
    case LWS_CALLBACK_WSI_DESTROY:
        closed(a, w, wsi);
        reset(w);
        w->ended = 1;
        return 0;
    default:
        return 0;
    }
}

/* Named after the WebSocket subprotocol it asks for. */
const struct lws_protocols agent_tunnel_protocol = {
    .name = "hookwire.v1",
    .callback = raw_cb,
};

struct lws *agent_ws_connect(struct agent *a, const char *addr, const char *host, const char *path)
{
    struct agent_ws *w = a->ws_raw;
    struct lws_client_connect_info i;
    uint8_t nonce[16];
    char key[32];
    struct lws *wsi;

    if (!w) {
        w = calloc(1, sizeof(*w));
        if (!w)
            return NULL;
        a->ws_raw = w;
        w->agent = a;
    }
    reset(w);
    w->ended = 0;
    hw_buf_init(&w->req, 4096);
    hw_buf_init(&w->out, OUT_MAX);
    hw_buf_init(&w->answer, HW_WS_ANSWER_MAX);
    hw_buf_init(&w->msg, HW_TUNNEL_MSG_MAX);
    hw_ws_rx_init(&w->rx, HW_TUNNEL_MSG_MAX);
    randombytes_buf(nonce, sizeof(nonce));
    sodium_bin2base64(key, sizeof(key), nonce, sizeof(nonce), sodium_base64_VARIANT_ORIGINAL);
    if (expected_accept(w, key) ||
        hw_ws_client_request(&w->req, host, path, key, agent_tunnel_protocol.name, a->token,
                             agent_claim_header(a)))
        return NULL;
    if (a->relay_url.tls) {
        char err[128];
        struct hw_tls_ctx *x = hw_tls_ctx_new(a->cfg.ca_file, a->cfg.insecure, err, sizeof(err));

        w->tls = x ? hw_tls_new(x, a->relay_url.host) : NULL;
        hw_tls_ctx_free(x); /* the session holds its own reference */
        if (!w->tls) {
            HW_ERR("%s", x ? "cannot set up TLS" : err);
            return NULL;
        }
    }
    memset(&i, 0, sizeof(i));
    i.context = a->context;
    i.address = addr;
    i.port = a->relay_url.port;
    i.method = "RAW";
    i.local_protocol_name = agent_tunnel_protocol.name;
    wsi = lws_client_connect_via_info(&i);
    /* Connected already (RAW_CONNECTED set it), or still connecting: either way it is ours. */
    if (wsi && a->attempt_live && !w->ended)
        w->wsi = wsi;
    return wsi;
}

void agent_ws_free(struct agent *a)
{
    if (!a->ws_raw)
        return;
    reset(a->ws_raw);
    free(a->ws_raw);
    a->ws_raw = NULL;
}
