/*
 * Tunnel session for "hookwire.v1": owns the mux for the current connection,
 * the reconnect, handshake and heartbeat timers, and the attempt bookkeeping,
 * including where an attempt connects: the relay's name is looked up off the
 * loop (core/resolve.h) and its addresses are dialled in turn. The transport
 * (socket, TLS, WebSocket framing) is tunnel_ws.c. Streams are handed to
 * forward.c. Service thread only.
 */
#include "tunnel.h"

#include <errno.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "claim.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/text.h"
#include "forward.h"
#include "inspect_capture.h"
#include "net/lwsio.h"
#include "tunnel/mux.h"
#include "tunnel_ws.h"

#define BACKOFF_MIN_MS   500
#define BACKOFF_MAX_MS   30000
#define REFUSED_RETRY_MS 1500 /* the relay re-reads tokens every 200 ms, trusts a read 1 s */
/* The WebSocket upgrade must complete within this, or the attempt is given up. */
#define HANDSHAKE_MS 10000
/* After killing a hung attempt, how long its close callbacks may take before we stop waiting. */
#define HANDSHAKE_GRACE_MS 1000

static void mux_want_write(struct hw_mux *m)
{
    agent_ws_want_write(hw_mux_user(m));
}

static void mux_on_control(struct hw_mux *m, const struct hw_frame *f)
{
    struct agent *a = hw_mux_user(m);
    struct hw_msg_hello h;

    if (f->type == HW_FT_GOAWAY) {
        HW_WARN("relay is closing the tunnel: %.*s", (int)f->len, (const char *)f->payload);
        agent_claim_on_goaway(a, (const char *)f->payload, f->len);
        return;
    }
    /* The mux took a HELLO of this version only if it decodes (hw_mux_receive()). */
    if (f->payload[0] != HW_PROTO_VERSION || hw_frame_decode_hello(f, &h)) {
        HW_ERR("the relay speaks tunnel protocol version %u; this agent speaks %u: stopping",
               f->payload[0], HW_PROTO_VERSION);
        a->fatal = 1;
        lws_cancel_service(a->context);
        return;
    }
    if (h.heartbeat_s && h.heartbeat_s * 1000u < a->heartbeat_ms)
        a->heartbeat_ms = h.heartbeat_s * 1000u;
    a->online = 1;
    a->was_online = 1;
    a->busy_retried = 0;
    a->attempts = 0;
    HW_INFO("tunnel up: channel %.*s", (int)h.channel.len, h.channel.p);
    agent_capture_tunnel_up(a->capture, h.public_url.p, h.public_url.len);
    {
        char target[1400];

        /* The relay's words: a control byte in them must not reach the terminal as one. */
        fputs("Forwarding ", stdout);
        hw_text_put_clean(stdout, h.public_url.p, h.public_url.len);
        printf(" -> %s\n", hw_url_format(&a->target, 1, target, sizeof(target)));
    }
    fflush(stdout);
}

static void mux_on_head(struct hw_mux *m, struct hw_mux_stream *s, const struct hw_frame *f)
{
    agent_forward_on_request(hw_mux_user(m), s, f);
}

static void mux_on_data(struct hw_mux *m, struct hw_mux_stream *s, const uint8_t *p, size_t n)
{
    agent_forward_on_data(hw_mux_stream_user(s), p, n);
}

static void mux_on_end(struct hw_mux *m, struct hw_mux_stream *s)
{
    agent_forward_on_end(hw_mux_stream_user(s));
}

static void mux_on_reset(struct hw_mux *m, struct hw_mux_stream *s, uint16_t code, const char *text,
                         size_t len)
{
    agent_forward_on_reset(hw_mux_stream_user(s), code, text, len);
}

static void mux_on_drain(struct hw_mux *m, struct hw_mux_stream *s)
{
    agent_forward_on_drain(hw_mux_stream_user(s));
}

static const struct hw_mux_callbacks mux_callbacks = {
    .on_head = mux_on_head,
    .on_data = mux_on_data,
    .on_end = mux_on_end,
    .on_reset = mux_on_reset,
    .on_drain = mux_on_drain,
    .on_control = mux_on_control,
    .want_write = mux_want_write,
};

static void connect_now(lws_sorted_usec_list_t *sul);

/* Schedules the next attempt; returns its delay in ms (0: none, the agent is stopping). */
static unsigned schedule_reconnect(struct agent *a)
{
    unsigned cap = BACKOFF_MIN_MS, delay;

    if (a->fatal || a->stopping)
        return 0;
    if (a->retry_after_ms) {
        /* The relay said when to come back (409 HW_CHANNEL_BUSY with Retry-After). */
        delay = a->retry_after_ms;
        a->retry_after_ms = 0;
        lws_sul_schedule(a->context, 0, &a->reconnect_timer, connect_now, (lws_usec_t)delay * 1000);
        return delay;
    }
    for (unsigned i = 0; i < a->attempts && cap < BACKOFF_MAX_MS; i++)
        cap *= 2;
    if (cap > BACKOFF_MAX_MS)
        cap = BACKOFF_MAX_MS;
    /* Full jitter above the floor, so agents that lost the relay together spread out. */
    delay = BACKOFF_MIN_MS + randombytes_uniform(cap - BACKOFF_MIN_MS + 1);
    /* After a refused token, wait until the relay's table is surely newer than the token. */
    if (a->refused && delay < REFUSED_RETRY_MS)
        delay = REFUSED_RETRY_MS;
    a->attempts++;
    lws_sul_schedule(a->context, 0, &a->reconnect_timer, connect_now, (lws_usec_t)delay * 1000);
    return delay;
}

static void attempt_over(struct agent *a, const char *why);

/* Drops the attempt's lookup, if one runs, and cancels what addr_timer would do next. */
static void addr_stop(struct agent *a)
{
    lws_sul_cancel(&a->addr_timer);
    hw_resolve_drop(a->lookup);
    a->lookup = NULL;
    a->redial = 0;
}

/*
 * The upgrade took too long (a relay that accepts and never answers), or the relay's name
 * did not even resolve in that time (a name server that does not answer): give up on it.
 */
static void handshake_timeout_cb(lws_sorted_usec_list_t *sul)
{
    struct agent *a = lws_container_of(sul, struct agent, handshake_timer);
    char why[320];

    if (!a->attempt_live || a->mux)
        return;
    if (a->lookup) {
        snprintf(why, sizeof(why),
                 "timeout: %.200s did not resolve within %.1fs (is the name server answering?)",
                 a->relay_url.host, HANDSHAKE_MS / 1000.0);
        attempt_over(a, why); /* which drops the lookup: its thread finishes on its own */
        return;
    }
    if (a->attempt_wsi && !a->attempt_killed) {
        /* Its close callbacks end the attempt (attempt_over()); we wait for them. */
        HW_DEBUG("no answer from %s to the upgrade within %u ms: giving up on it", a->cfg.relay,
                 (unsigned)HANDSHAKE_MS);
        /*
         * An address that takes the connection and never answers (or drops every packet)
         * would be the first again in every attempt: the next one starts after it.
         */
        if (a->addrs.n > 1) {
            const char *next = a->addrs.a[(a->addr_next + 1) % a->addrs.n];

            HW_INFO("no answer from %s by the attempt's %.1fs deadline: the next attempt tries "
                    "%s first",
                    a->addrs.a[a->addr_next], HANDSHAKE_MS / 1000.0, next);
            snprintf(a->addr_first, sizeof(a->addr_first), "%s", next);
        }
        a->attempt_killed = 1;
        lws_set_timeout(a->attempt_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        /* Should lws report none of them, the attempt still ends, a little later. */
        lws_sul_schedule(a->context, 0, &a->handshake_timer, handshake_timeout_cb,
                         (lws_usec_t)HANDSHAKE_GRACE_MS * 1000);
        return;
    }
    snprintf(why, sizeof(why), "timeout: no answer to the upgrade within %.1fs",
             HANDSHAKE_MS / 1000.0);
    attempt_over(a, why);
}

/*
 * Connects to the attempt's current address, in numbers: lws is never given the name, which
 * it would look up on this thread. The Host header and TLS (SNI, the certificate check) keep
 * the name.
 */
static void dial(struct agent *a)
{
    struct lws *wsi;
    const char *path;
    char host[300];

    /* An IPv6 address goes in brackets (RFC 9110 7.2), as the URL had it. */
    snprintf(host, sizeof(host), strchr(a->relay_url.host, ':') ? "[%s]:%d" : "%s:%d",
             a->relay_url.host, a->relay_url.port);
    path = strcmp(a->relay_url.path, "/") == 0 ? "/tunnel" : a->relay_url.path;
    a->attempt_wsi = NULL;
    a->redial = 0;
    a->in_connect = 1;
    wsi = agent_ws_connect(a, a->addrs.a[a->addr_next], host, path);
    a->in_connect = 0;
    if (a->redial)
        return; /* refused inside the call: the next address follows from addr_timer */
    if (!wsi) {
        a->ws = NULL;
        /* A no-op if lws reported it already. */
        attempt_over(a, "cannot start a connection");
        return;
    }
    if (a->attempt_live)
        a->attempt_wsi = wsi;
}

static void redial_cb(lws_sorted_usec_list_t *sul)
{
    dial(lws_container_of(sul, struct agent, addr_timer));
}

/*
 * Is the relay's name looked up yet? Its addresses are dialled in the resolver's order, from
 * addr_first (set by an earlier attempt) when the name still has it, round the list.
 */
static void lookup_cb(lws_sorted_usec_list_t *sul)
{
    struct agent *a = lws_container_of(sul, struct agent, addr_timer);
    struct hw_addrs found;
    char why[320];
    int gai;

    if (!hw_resolve_poll(a->lookup, &found, &gai)) {
        if (a->lookup_step < HW_RESOLVE_POLL_MAX_US)
            a->lookup_step *= 2;
        lws_sul_schedule(a->context, 0, &a->addr_timer, lookup_cb, a->lookup_step);
        return;
    }
    hw_resolve_drop(a->lookup);
    a->lookup = NULL;
    if (gai) {
        snprintf(why, sizeof(why), "cannot resolve %.200s: %.80s", a->relay_url.host,
                 gai_strerror(gai));
        attempt_over(a, why);
        return;
    }
    a->addrs = found;
    /* The resolver's order, from the address the last attempts chose (addr_first) if listed. */
    for (size_t i = 0; i < found.n; i++)
        if (strcmp(found.a[i], a->addr_first) == 0)
            a->addr_next = i;
    dial(a);
}

static void connect_now(lws_sorted_usec_list_t *sul)
{
    struct agent *a = lws_container_of(sul, struct agent, reconnect_timer);
    char why[320];

    /* From here on, whichever way this attempt ends, attempt_over() schedules the next. */
    a->attempt_live = 1;
    a->attempt_killed = 0;
    a->attempt_wsi = NULL;
    /* The deadline covers the name's lookup too. */
    lws_sul_schedule(a->context, 0, &a->handshake_timer, handshake_timeout_cb,
                     (lws_usec_t)HANDSHAKE_MS * 1000);
    a->addr_next = 0;
    a->addr_tried = 0;
    if (hw_addr_is_numeric(a->relay_url.host)) {
        a->addrs.n = 1;
        /* An address in numbers fits, IPv6 included. */
        snprintf(a->addrs.a[0], sizeof(a->addrs.a[0]), "%.*s", HW_ADDR_STRLEN - 1,
                 a->relay_url.host);
        dial(a);
        return;
    }
    a->lookup = hw_resolve_start(a->relay_url.host);
    if (!a->lookup) {
        snprintf(why, sizeof(why), "cannot resolve %.200s: %.80s", a->relay_url.host,
                 gai_strerror(errno == EAGAIN ? EAI_AGAIN : EAI_MEMORY));
        attempt_over(a, why);
        return;
    }
    a->lookup_step = HW_RESOLVE_POLL_FIRST_US;
    lws_sul_schedule(a->context, 0, &a->addr_timer, lookup_cb, a->lookup_step);
}

static void heartbeat_cb(lws_sorted_usec_list_t *sul)
{
    struct agent *a = lws_container_of(sul, struct agent, heartbeat_timer);

    if (!a->ws || !a->mux)
        return;
    if (hw_lwsio_heartbeat(a->mux, a->last_rx, &a->last_ping, a->heartbeat_ms)) {
        char d[32];

        HW_WARN("relay silent for %s: reconnecting",
                hw_log_duration(d, sizeof(d), (double)(lws_now_usecs() - a->last_rx) / 1000.0));
        lws_set_timeout(a->ws, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    lws_sul_schedule(a->context, 0, &a->heartbeat_timer, heartbeat_cb,
                     (lws_usec_t)a->heartbeat_ms * 250);
}

int agent_tunnel_opened(struct agent *a, struct lws *wsi)
{
    lws_sul_cancel(&a->handshake_timer);
    /* A tunnel that drops comes back through the address that served it. */
    snprintf(a->addr_first, sizeof(a->addr_first), "%s", a->addrs.a[a->addr_next]);
    a->ws = wsi;
    a->refused = 0;
    a->mux = hw_mux_new(HW_MUX_AGENT, &mux_callbacks, LWS_PRE, 1024 * 1024, a);
    if (!a->mux)
        return -1;
    a->last_rx = a->last_ping = lws_now_usecs();
    a->heartbeat_ms = a->cfg.heartbeat_ms;
    lws_sul_schedule(a->context, 0, &a->heartbeat_timer, heartbeat_cb,
                     (lws_usec_t)a->heartbeat_ms * 250);
    return 0;
}

int agent_tunnel_message(struct agent *a, const uint8_t *p, size_t len)
{
    return a->mux ? hw_lwsio_tunnel_msg(a->mux, p, len) : HW_EPROTO;
}

/*
 * The attempt or the tunnel is over, however it ended (connection error,
 * close, an HTTP-level close of the upgrade, the wsi's destruction, the
 * handshake deadline): fail its streams and schedule the next attempt, once.
 */
static void attempt_over(struct agent *a, const char *why)
{
    char wait[32];
    int online = a->online, quiet;
    unsigned delay;

    if (!a->attempt_live)
        return;
    a->attempt_live = 0;
    a->attempt_wsi = NULL;
    addr_stop(a);
    lws_sul_cancel(&a->handshake_timer);
    lws_sul_cancel(&a->heartbeat_timer);
    /* Stopping (Ctrl-C, SIGTERM) is not a failure; claim.c and a refused token said why already. */
    quiet = a->stopping || a->fatal || a->retry_after_ms || a->quiet_end;
    a->quiet_end = 0;
    a->online = 0;
    a->ws = NULL;
    hw_mux_free(a->mux);
    a->mux = NULL;
    delay = schedule_reconnect(a);
    if (quiet)
        return;
    /* One line per failure: what happened, and when the next attempt is. */
    hw_log_duration(wait, sizeof(wait), delay);
    if (online)
        HW_WARN("tunnel down: %s; reconnecting in %s", why, wait);
    else
        HW_WARN("cannot connect to %s: %s; retrying in %s", a->cfg.relay, why, wait);
}

/* Is wsi the current attempt's connection (callbacks of an older one are ignored)? */
static int is_current(struct agent *a, struct lws *wsi)
{
    return a->attempt_live && (a->in_connect || wsi == a->attempt_wsi || wsi == a->ws);
}

static void refused_token(struct agent *a)
{
    /*
     * The relay checks tokens against a copy of its table read a moment ago,
     * so a token made by `token add` just now can be refused once; a second
     * refusal in a row is final.
     */
    if (a->refused++ == 0) {
        HW_DEBUG("the relay does not know this token (yet): trying once more");
        a->quiet_end = 1;
        return;
    }
    HW_ERR("the relay refused the token (401): check HOOKWIRE_TOKEN or --token-file (the "
           "token `hookwire-relay token add CHANNEL` printed)");
    a->fatal = 1;
    lws_cancel_service(a->context);
}

void agent_tunnel_ended(struct agent *a, struct lws *wsi, const char *why, unsigned status,
                        const char *answer, size_t answer_len)
{
    if (!is_current(a, wsi))
        return;
    if (status == 401) {
        refused_token(a);
    } else if (status == 409) {
        agent_claim_on_busy(a, answer, answer_len);
        why = "the channel is busy (409)";
    }
    attempt_over(a, why);
}

void agent_tunnel_unreachable(struct agent *a, struct lws *wsi, const char *why)
{
    if (!is_current(a, wsi))
        return;
    /* The name's next address, as lws would have tried it, within the attempt's deadline. */
    if (!a->attempt_killed && a->addr_tried + 1 < a->addrs.n) {
        size_t next = (a->addr_next + 1) % a->addrs.n;

        HW_DEBUG("nothing answers at %s port %d: trying %s", a->addrs.a[a->addr_next],
                 a->relay_url.port, a->addrs.a[next]);
        a->addr_next = next;
        a->addr_tried++;
        a->attempt_wsi = NULL;
        a->redial = 1;
        /* Not from inside lws's callback for the connection that failed. */
        lws_sul_schedule(a->context, 0, &a->addr_timer, redial_cb, 1);
        return;
    }
    attempt_over(a, why);
}

void agent_tunnel_misdirected(struct agent *a, struct lws *wsi, const char *why)
{
    if (!is_current(a, wsi))
        return;
    /* Once the tunnel has worked, the relay may be mid-change: keep trying. */
    if (!a->was_online) {
        HW_ERR("cannot connect to %s: %s", a->cfg.relay, why);
        a->fatal = 1;
        lws_cancel_service(a->context);
    }
    attempt_over(a, why);
}

void agent_tunnel_start(struct agent *a)
{
    HW_INFO("connecting to %s", a->cfg.relay);
    lws_sul_schedule(a->context, 0, &a->reconnect_timer, connect_now, 1);
}

/* Wakes the loop at the stop's deadline (or the close's), so the loop's check runs then. */
static void stop_timer_cb(lws_sorted_usec_list_t *sul)
{
    struct agent *a = lws_container_of(sul, struct agent, stop_timer);

    lws_cancel_service(a->context);
}

/* The first call: GOAWAY to the relay, one line, and the deadline. */
static void stop_begin(struct agent *a)
{
    static const char reason[] = "agent stopping";
    size_t n = a->mux ? hw_mux_stream_count(a->mux) : 0;
    char d[32];

    a->stopping = 1;
    a->stop_deadline = lws_now_usecs() + (lws_usec_t)a->cfg.stop_timeout_ms * 1000;
    lws_sul_cancel(&a->reconnect_timer);
    if (!a->online)
        return;
    HW_INFO("stopping: finishing %zu forwards in flight (at most %s)", n,
            hw_log_duration(d, sizeof(d), (double)a->cfg.stop_timeout_ms));
    /* The relay routes no new webhook here once it reads this; what it sent before still comes. */
    if (hw_mux_send_control(a->mux, HW_FT_GOAWAY, reason, sizeof(reason) - 1))
        a->stop_deadline = 0; /* cannot say so: stop at once, the relay queues what was open */
    lws_sul_schedule(a->context, 0, &a->stop_timer, stop_timer_cb,
                     (lws_usec_t)a->cfg.stop_timeout_ms * 1000 + 1);
}

int agent_tunnel_stopping(struct agent *a)
{
    size_t n;

    if (!a->stopping)
        stop_begin(a);
    /* No tunnel (never up, or lost meanwhile): nothing is left to finish. */
    if (!a->attempt_live || !a->online || !a->mux)
        return 1;
    n = hw_mux_stream_count(a->mux);
    /* The deadline bounds every wait of the stop: forwards, unread answers, the close. */
    if (lws_now_usecs() >= a->stop_deadline) {
        if (n)
            HW_WARN("stop deadline passed: %zu forwards unfinished (the relay queues those not "
                    "answered yet; an answer under way is cut)",
                    n);
        else if (!a->stop_closing && hw_mux_pending(a->mux))
            HW_WARN("stop deadline passed: the relay has not read the last answers");
        return 1;
    }
    if (a->stop_closing)
        return 0; /* the close ends the attempt, within a second */
    if (n || hw_mux_pending(a->mux))
        return 0;
    /* Every answer is queued for the socket: the close frame goes out after them. */
    if (agent_ws_close(a))
        return 1;
    a->stop_closing = 1;
    return 0;
}

void agent_tunnel_stop(struct agent *a)
{
    a->stopping = 1;
    a->fatal = 1;
    lws_sul_cancel(&a->reconnect_timer);
    lws_sul_cancel(&a->heartbeat_timer);
    lws_sul_cancel(&a->handshake_timer);
    lws_sul_cancel(&a->stop_timer);
    addr_stop(a);
    /* Forwards still open are dropped here, each logged as left to the relay (forward.c). */
    hw_mux_free(a->mux);
    a->mux = NULL;
}
