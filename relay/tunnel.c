/*
 * Tunnel endpoint: one struct relay_agent per connected agent (the lws
 * per-session data). Reassembles WebSocket messages, feeds them to the
 * agent's mux, writes one pulled message at the end of the service round
 * (plain sockets) or per WRITEABLE, pings every heartbeat interval and
 * drops an agent silent for two. Service thread only.
 */
#include "tunnel.h"

#include <sodium.h>
#include <string.h>

#include "answer.h"
#include "channels.h"
#include "claim.h"
#include "core/err.h"
#include "core/log.h"
#include "net/lwsio.h"
#include "queue.h"
#include "relay.h"
#include "tokens.h"
#include "tunnel/mux.h"

struct relay_agent {
    struct lws *wsi;
    struct relay *relay;
    struct hw_mux *mux;
    struct hw_buf rx; /* fragments of the message being received */
    lws_sorted_usec_list_t heartbeat;
    lws_sorted_usec_list_t flush; /* the end-of-round write (mux_want_write()) */
    lws_usec_t last_rx;           /* bytes last arrived: the in-flight probe and the claim's ping */
    lws_usec_t last_msg;          /* a whole message last arrived: the heartbeat */
    lws_usec_t last_ping;
    lws_usec_t probe_at; /* when the probe PING went out, 0 when none is pending */
    lws_usec_t away_at;  /* when the agent said GOAWAY */
    lws_usec_t quiet_at; /* since when an agent that said GOAWAY has had no stream, 0: it has */
    char channel[64];
    char peer[64];
    struct relay_claim_info claim; /* address, connect time, pending liveness probe */
    int closing;                   /* GOAWAY queued: close once it is written */
    unsigned away : 1;             /* the agent sent GOAWAY: no new webhook goes to it */
    unsigned flush_armed : 1;      /* the end-of-round write is scheduled */
    unsigned ending : 1;           /* a close is under way: every write waits for WRITEABLE */
    size_t in_flight;              /* streams open when the tunnel was given up, for the log */
};

struct hw_mux *relay_agent_mux(struct relay_agent *a)
{
    return a->mux;
}

int relay_tunnel_authenticate(struct relay *r, struct lws *wsi, char channel[64])
{
    char auth[512];
    int n = lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
    const char *tok;
    int rc;

    if (n <= 7 || strncasecmp(auth, "Bearer ", 7) != 0)
        return HW_EAUTH;
    tok = auth + 7;
    while (*tok == ' ')
        tok++;
    rc = relay_tokens_lookup(r->tokens, tok, strlen(tok), channel, 64);
    sodium_memzero(auth, sizeof(auth));
    if (rc == HW_ENOTFOUND || rc == HW_EINVAL)
        return HW_EAUTH;
    return rc;
}

struct relay_claim_info *relay_agent_claim(struct relay_agent *a)
{
    return &a->claim;
}

lws_usec_t relay_agent_last_rx(const struct relay_agent *a)
{
    return a->last_rx;
}

const char *relay_agent_channel(const struct relay_agent *a)
{
    return a->channel;
}

/* A peer that does not take the GOAWAY within this (a frozen laptop) is cut off anyway. */
#define GOAWAY_GRACE_S 2

void relay_agent_goaway(struct relay_agent *a, const char *reason)
{
    /* The close waits for the GOAWAY to be written, so the agent learns why (tunnel_cb). */
    a->closing = 1;
    a->ending = 1;
    /* From now on the channel is free: no new webhook goes to a, a newcomer may connect. */
    relay_channels_remove(a->relay->channels, a->channel, a);
    if (hw_mux_send_control(a->mux, HW_FT_GOAWAY, reason, strlen(reason)))
        lws_set_timeout(a->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    else
        lws_set_timeout(a->wsi, PENDING_TIMEOUT_USER_OK, GOAWAY_GRACE_S);
}

static int on_writeable(struct relay_agent *a, struct lws *wsi)
{
    if (!a->mux)
        return 0; /* detached: only the close remains, and lws writes it */
    if (hw_lwsio_tunnel_write(wsi, a->mux))
        return -1;
    if (a->closing && !hw_mux_pending(a->mux)) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, NULL, 0);
        return -1;
    }
    return 0;
}

void relay_agent_revoked(struct relay_agent *a)
{
    HW_INFO("conn=%s channel=%s token revoked: closing tunnel", a->peer, a->channel);
    relay_agent_goaway(a, "revoked");
}

/*
 * The end-of-round write (docs/decisions.md): lws runs due timers before it
 * polls again, so this runs after every callback of the round, outside all
 * of them, and the round's frames go out in one batch without waiting a
 * poll round trip for WRITEABLE.
 */
static void flush_cb(lws_sorted_usec_list_t *sul)
{
    struct relay_agent *a = lws_container_of(sul, struct relay_agent, flush);

    a->flush_armed = 0;
    if (a->ending) {
        lws_callback_on_writable(a->wsi);
        return;
    }
    if (hw_lwsio_tunnel_flush(a->wsi, a->mux)) {
        HW_WARN("conn=%s channel=%s tunnel write failed: closing", a->peer, a->channel);
        a->ending = 1;
        lws_set_timeout(a->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
}

/*
 * The mux has frames. A TLS tunnel, or one that is closing (a close frame
 * may be queued: no data may follow it), waits for WRITEABLE; a plain one
 * writes at the end of this round.
 */
static void mux_want_write(struct hw_mux *m)
{
    struct relay_agent *a = hw_mux_user(m);

    if (a->flush_armed)
        return;
    if (a->ending || lws_is_ssl(a->wsi)) {
        lws_callback_on_writable(a->wsi);
        return;
    }
    a->flush_armed = 1;
    lws_sul_schedule(a->relay->context, 0, &a->flush, flush_cb, 0);
}

/* Streams belong to ingress (an HTTP exchange) or to the queue's drain. */
static struct relay_queue *queue_of(struct hw_mux *m)
{
    return ((struct relay_agent *)hw_mux_user(m))->relay->queue;
}

static void mux_on_head(struct hw_mux *m, struct hw_mux_stream *s, const struct hw_frame *f)
{
    if (relay_queue_on_head(queue_of(m), s, f))
        return;
    relay_answer_on_response(hw_mux_stream_user(s), f);
}

static void mux_on_data(struct hw_mux *m, struct hw_mux_stream *s, const uint8_t *p, size_t n)
{
    if (relay_queue_on_data(queue_of(m), s, p, n))
        return;
    relay_answer_on_data(hw_mux_stream_user(s), p, n);
}

static void mux_on_end(struct hw_mux *m, struct hw_mux_stream *s)
{
    if (relay_queue_on_end(queue_of(m), s))
        return;
    relay_answer_on_end(hw_mux_stream_user(s));
}

static void mux_on_reset(struct hw_mux *m, struct hw_mux_stream *s, uint16_t code, const char *text,
                         size_t len)
{
    if (relay_queue_on_reset(queue_of(m), s, code, text, len))
        return;
    relay_answer_on_reset(hw_mux_stream_user(s), code, text, len);
}

static void mux_on_control(struct hw_mux *m, const struct hw_frame *f)
{
    struct relay_agent *a = hw_mux_user(m);

    if (f->type != HW_FT_GOAWAY || a->away)
        return;
    /*
     * The agent is stopping: it finishes the streams it has and closes. From now on the
     * channel has no agent for new webhooks (queued, or per --offline) and a newcomer may
     * take it; the streams in flight here still get their answers to their senders, and
     * those the tunnel loses are queued as with any lost tunnel (on_closed()).
     */
    a->away = 1;
    a->away_at = lws_now_usecs();
    relay_channels_remove(a->relay->channels, a->channel, a);
    HW_INFO("conn=%s channel=%s agent is going away: routing nothing new to it (%zu requests in "
            "flight)",
            a->peer, a->channel, hw_mux_stream_count(m));
}

int relay_agent_leaving(const struct relay_agent *a)
{
    return a->away || a->closing;
}

static const struct hw_mux_callbacks mux_callbacks = {
    .on_head = mux_on_head,
    .on_data = mux_on_data,
    .on_end = mux_on_end,
    .on_reset = mux_on_reset,
    .on_control = mux_on_control,
    .want_write = mux_want_write,
};

/*
 * A sleeping laptop never closes its socket. While webhooks wait on the
 * tunnel, silence for SUSPECT_US gets a PING, and no answer to it within
 * PROBE_US closes the tunnel: its webhooks join the queue after about 3 s
 * instead of two heartbeat intervals. An idle tunnel keeps the plain heartbeat.
 */
#define SUSPECT_US (1000 * 1000)
#define PROBE_US   (2000 * 1000)
#define CHECK_US   (250 * 1000)

/* 1 when the probe says the agent is dead. */
static int probe(struct relay_agent *a)
{
    lws_usec_t now = lws_now_usecs();
    uint64_t stamp = (uint64_t)now;

    if (!hw_mux_stream_count(a->mux) || now - a->last_rx < SUSPECT_US ||
        (a->probe_at && a->last_rx > a->probe_at)) {
        a->probe_at = 0;
        return 0;
    }
    if (!a->probe_at) {
        hw_mux_send_control(a->mux, HW_FT_PING, &stamp, sizeof(stamp));
        a->probe_at = now;
        return 0;
    }
    return now - a->probe_at > PROBE_US;
}

/*
 * An agent that said GOAWAY finishes the streams it has and closes its
 * tunnel. One that keeps it open is closed by the relay: GOAWAY_GRACE_S
 * after its last stream ended, or twice --response-timeout after its
 * GOAWAY whatever it still has (those webhooks are queued, as for any lost
 * tunnel), or at once when its token is revoked. So a token holder cannot
 * pile up tunnels by saying GOAWAY and connecting again. 1 when a is being
 * closed.
 */
static int away_done(struct relay_agent *a)
{
    struct relay *r = a->relay;
    lws_usec_t now = lws_now_usecs();
    size_t n = hw_mux_stream_count(a->mux);

    if (!a->away || a->closing)
        return 0;
    if (relay_tokens_channel_exists(r->tokens, a->channel) == 0) {
        relay_agent_revoked(a);
        return 1;
    }
    if (n)
        a->quiet_at = 0;
    else if (!a->quiet_at)
        a->quiet_at = now;
    if (a->quiet_at && now - a->quiet_at >= (lws_usec_t)GOAWAY_GRACE_S * LWS_US_PER_SEC) {
        HW_INFO("conn=%s channel=%s agent said GOAWAY and has nothing in flight, but keeps its "
                "tunnel: closing it",
                a->peer, a->channel);
    } else if (now - a->away_at >= (lws_usec_t)r->cfg.response_timeout_ms * 2000) {
        HW_WARN("conn=%s channel=%s agent said GOAWAY %us ago and still has %zu requests in "
                "flight: closing its tunnel (they are queued)",
                a->peer, a->channel, (unsigned)((now - a->away_at) / LWS_US_PER_SEC), n);
    } else {
        return 0;
    }
    relay_agent_goaway(a, "agent stopping: tunnel closed");
    return 1;
}

/* How often a tunnel's liveness is checked: every quarter heartbeat, CHECK_US at most. */
static lws_usec_t check_every(const struct relay *r)
{
    lws_usec_t every = (lws_usec_t)r->cfg.heartbeat_ms * 250;

    return every < CHECK_US ? every : CHECK_US;
}

static void heartbeat_cb(lws_sorted_usec_list_t *sul)
{
    struct relay_agent *a = lws_container_of(sul, struct relay_agent, heartbeat);
    struct relay *r = a->relay;

    if (away_done(a))
        return;
    if (probe(a) || hw_lwsio_heartbeat(a->mux, a->last_msg, &a->last_ping, r->cfg.heartbeat_ms)) {
        char d[32];

        HW_WARN("conn=%s channel=%s agent silent for %s: closing tunnel", a->peer, a->channel,
                hw_log_duration(d, sizeof(d), (double)(lws_now_usecs() - a->last_msg) / 1000.0));
        r->metrics.heartbeat_timeouts++;
        a->ending = 1;
        lws_set_timeout(a->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    lws_sul_schedule(r->context, 0, &a->heartbeat, heartbeat_cb, check_every(r));
}

static int send_hello(struct relay_agent *a)
{
    struct relay *r = a->relay;
    char url[1024];
    struct hw_msg_hello h;
    int n = snprintf(url, sizeof(url), "%s/t/%s/", r->public_base, a->channel);

    h.version = HW_PROTO_VERSION;
    h.heartbeat_s = (uint16_t)((r->cfg.heartbeat_ms + 999) / 1000);
    h.channel.p = a->channel;
    h.channel.len = strlen(a->channel);
    h.public_url.p = url;
    h.public_url.len = (size_t)n < sizeof(url) ? (size_t)n : sizeof(url) - 1;
    return hw_mux_send_hello(a->mux, &h);
}

static int on_established(struct relay_agent *a, struct lws *wsi, struct relay *r)
{
    struct relay_agent *old;
    int err;

    memset(a, 0, sizeof(*a));
    a->wsi = wsi;
    a->relay = r;
    /* Until it is established, lws may drop a without CLOSED: nothing scheduled may outlive it. */
    a->ending = 1;
    lws_get_peer_simple(wsi, a->peer, sizeof(a->peer));
    relay_claim_init(&a->claim, wsi);
    if (relay_tunnel_authenticate(r, wsi, a->channel)) {
        /* The token was revoked between the upgrade check and now. */
        return -1;
    }
    hw_buf_init(&a->rx, HW_TUNNEL_MSG_MAX);
    a->mux = hw_mux_new(HW_MUX_RELAY, &mux_callbacks, LWS_PRE, 1024 * 1024, a);
    if (!a->mux)
        return -1;
    old = relay_channels_set(r->channels, a->channel, a, &err);
    if (err)
        return -1;
    if (old)
        relay_claim_replaced(old, &a->claim);
    r->metrics.agent_connects++;
    a->last_rx = a->last_msg = a->last_ping = lws_now_usecs();
    if (send_hello(a))
        return -1;
    /* The first check comes as soon as later ones: a tunnel frozen in its first seconds too. */
    lws_sul_schedule(r->context, 0, &a->heartbeat, heartbeat_cb, check_every(r));
    HW_INFO("conn=%s channel=%s agent connected", a->peer, a->channel);
    a->ending = 0;
    relay_queue_agent_up(r->queue, a->channel, a);
    return 0;
}

/*
 * Gives up the channel and the tunnel's streams now: the webhooks in flight
 * are reset (and queued, as for a lost tunnel) and the channel has no agent,
 * without waiting for the close handshake, which a broken or rogue peer may
 * never finish. The close then only ends the connection (on_closed).
 */
static void agent_detach(struct relay_agent *a)
{
    struct relay *r = a->relay;

    a->ending = 1; /* whatever the mux's last callbacks queue is not written */
    lws_sul_cancel(&a->heartbeat);
    lws_sul_cancel(&a->flush);
    a->flush_armed = 0;
    relay_channels_remove(r->channels, a->channel, a);
    a->in_flight = a->mux ? hw_mux_stream_count(a->mux) : 0;
    hw_mux_free(a->mux);
    a->mux = NULL;
    relay_queue_agent_down(r->queue, a->channel, a);
}

static int on_receive(struct relay_agent *a, struct lws *wsi, const void *in, size_t len)
{
    const char *why;
    int err;

    if (!a->mux)
        return -1; /* already detached: nothing more is read */
    a->last_rx = lws_now_usecs();
    err = hw_lwsio_tunnel_rx(wsi, &a->rx, a->mux, in, len);
    if (!err) {
        /*
         * For the heartbeat a whole message is a sign of life, a piece of one
         * is not: a peer that trickles one endless message is as dead as a
         * silent one. The quick checks (the probe while webhooks are in
         * flight, a newcomer's ping to the holder) take any bytes, so that a
         * large message on a slow link is not taken for silence.
         */
        if (lws_is_final_fragment(wsi))
            a->last_msg = a->last_rx;
        return 0;
    }
    why = hw_mux_error(a->mux);
    a->relay->metrics.protocol_errors++;
    agent_detach(a);
    if (err == HW_E2BIG) {
        HW_WARN("conn=%s channel=%s tunnel protocol error: message too big (over %d bytes): "
                "closing",
                a->peer, a->channel, HW_TUNNEL_MSG_MAX);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)"too big", 7);
        return -1;
    }
    HW_WARN("conn=%s channel=%s tunnel protocol error: %s: closing", a->peer, a->channel,
            why ? why : hw_strerror(err));
    lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, (unsigned char *)"protocol error", 14);
    return -1;
}

static void on_closed(struct relay_agent *a)
{
    struct relay *r = a->relay;

    if (!r)
        return; /* never established */
    if (a->mux)
        agent_detach(a);
    HW_INFO("conn=%s channel=%s agent disconnected (%zu request%s in flight)", a->peer, a->channel,
            a->in_flight, a->in_flight == 1 ? "" : "s");
    hw_buf_cleanup(&a->rx);
}

static int tunnel_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    struct relay_agent *a = user;
    struct relay *r = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(a, wsi, r);
    case LWS_CALLBACK_RECEIVE:
        return on_receive(a, wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(a, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        a->ending = 1; /* lws echoes the close: nothing may be written after it */
        return 0;
    case LWS_CALLBACK_CLOSED:
        on_closed(a);
        return 0;
    default:
        return 0;
    }
}

const struct lws_protocols relay_tunnel_protocol = {
    .name = "hookwire.v1",
    .callback = tunnel_cb,
    .per_session_data_size = sizeof(struct relay_agent),
    .rx_buffer_size = 65536 + 64,
};
