/*
 * hookwire-relay: wires configuration, the token store, the channel registry
 * and the lws server together, runs the event loop until SIGINT/SIGTERM
 * (SIGHUP reloads the configuration), or runs a `token` subcommand. Main
 * thread.
 */
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels.h"
#include "core/listen.h"
#include "core/log.h"
#include "core/url.h"
#include "edge.h"
#include "history.h"
#include "ingress.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "net/lwslog.h"
#include "outcomes.h"
#include "queue.h"
#include "record.h"
#include "refused.h"
#include "relay.h"
#include "reload.h"
#include "retention.h"
#include "server.h"
#include "store/store.h"
#include "tokens.h"
#include "tunnel.h"
#include "tunnel/mux.h"

/* How long a clean stop waits for the store to take the last delivery outcomes. */
#define OUTCOMES_GRACE_US (10 * LWS_US_PER_SEC)
/* How long the stop lets the history API's last answers (503 for the calls it withdrew) go out. */
#define API_GRACE_US (1 * LWS_US_PER_SEC)
/*
 * The store thread's nice value above the service thread's. Its live
 * history work then yields the core to the loop's wake-ups, yet it keeps
 * about a tenth of a busy core, more than recording at full rate takes
 * (bench/RESULTS.md, "Tunnel: the store thread yields to the loop").
 */
#define RELAY_STORE_NICE 10

static volatile sig_atomic_t stopping, hurry, reloading;
static struct lws_context *loop_context;

/* Only sets a flag and wakes the loop: the loop does the work, on the service thread. */
static void on_signal(int sig)
{
    if (sig == SIGHUP) {
        reloading = 1;
    } else {
        if (stopping)
            hurry = 1; /* a second signal: stop without waiting for what is in flight */
        stopping = 1;
    }
    if (loop_context)
        lws_cancel_service(loop_context);
}

/* Descriptors kept aside from the ports' caps: listeners, the store's files, the loop's pipes. */
#define FD_RESERVE 64
/* The least number of public connections worth running with. */
#define FD_PUBLIC_MIN 16

/*
 * Raises the open files limit to its hard limit, then makes both ports'
 * caps fit under it: past the limit an accept fails (EMFILE) before either
 * cap is reached, and a flood of public connections would take the
 * descriptors agents need. The tunnel port keeps at most a quarter of the
 * room, the public port the rest, so that neither cap falls as the limit
 * rises. lws sizes its tables from the limit, so this runs before the
 * context is created (and before the store, so that a limit that cannot
 * hold a relay leaves nothing made). Returns 0, or -1 when it cannot.
 */
static int fit_fd_limit(struct relay *r)
{
    const struct relay_config *cfg = &r->cfg;
    unsigned pub = cfg->max_connections, tun = cfg->max_tunnel_connections;
    unsigned long long limit = hw_listen_fd_limit(), room;

    r->max_connections = pub;
    r->max_tunnel_connections = tun;
    if (!limit || limit >= (unsigned long long)pub + tun + FD_RESERVE)
        return 0;
    room = limit > FD_RESERVE ? limit - FD_RESERVE : 0;
    if (room < FD_PUBLIC_MIN + 8) {
        fprintf(stderr,
                "open files limit %llu is too low for a relay: raise it to at least %d "
                "(ulimit -n, LimitNOFILE=)\n",
                limit, FD_RESERVE + FD_PUBLIC_MIN + 8);
        return -1;
    }
    /* The tunnel port gets at most a quarter of the room: neither cap falls as the limit rises. */
    if (tun > room / 4)
        tun = (unsigned)(room / 4 > 8 ? room / 4 : 8);
    if (pub > room - tun)
        pub = (unsigned)(room - tun);
    HW_WARN("open files limit %llu cannot hold --max-connections %u and --max-tunnel-connections "
            "%u (and %d for the store and listeners): running with %u and %u; raise the limit "
            "(ulimit -n, LimitNOFILE=) to keep them",
            limit, cfg->max_connections, cfg->max_tunnel_connections, FD_RESERVE, pub, tun);
    r->max_connections = pub;
    r->max_tunnel_connections = tun;
    return 0;
}

static void count_streams(void *arg, const char *name, struct relay_agent *a)
{
    (void)name;
    *(size_t *)arg += hw_mux_stream_count(relay_agent_mux(a));
}

/* Exchanges in flight on the agents' tunnels: live webhooks and queued events sent. */
static size_t in_flight(struct relay *r)
{
    size_t n = 0;

    relay_channels_foreach(r->channels, count_streams, &n);
    return n;
}

/*
 * Serves the loop until done(r) or until the deadline (or a second
 * signal). Returns 1 when done(r) held.
 */
static int serve_until(struct relay *r, int (*done)(struct relay *r), lws_usec_t until)
{
    lws_usec_t now;

    while (!done(r)) {
        now = lws_now_usecs();
        if (hurry || now >= until || hw_loop_run(r->loop, until - now) < 0)
            break;
        relay_outcomes_flush(r->outcomes); /* a write that failed to queue is tried again */
    }
    return done(r);
}

static int nothing_in_flight(struct relay *r)
{
    return in_flight(r) == 0;
}

/*
 * Every webhook the public port took is answered and the answer has left
 * (or its connection closed): none waits for its queue commit, its agent
 * or its sender any more.
 */
static int answers_written(struct relay *r)
{
    return hw_http_server_stats(r->ingress)->exchanges == 0;
}

static int outcomes_written(struct relay *r)
{
    return relay_outcomes_idle(r->outcomes);
}

/* The history API's answers have left (the 503s of the calls withdrawn at the stop among them). */
static int api_answers_out(struct relay *r)
{
    return r->api_held == 0;
}

/*
 * A clean stop: no new webhook or queued event is taken; the exchanges in
 * flight get up to --response-timeout to finish (a live one times out by
 * then anyway), so the outcome of every event the app answered is known;
 * then the webhooks still waiting for their answer (a queue commit in
 * flight) and the answers still being written to their senders get up to
 * --response-timeout more (a sender that stops reading is cut by the
 * server's stall limit by then), so no committed webhook goes unanswered
 * and no answer loses its last bytes to the exit; then every gathered
 * outcome is written before the store closes, which takes no new work once
 * it begins closing. Whatever is cut short stays pending and is delivered
 * again after a restart (at least once).
 */
static void finish_work(struct relay *r)
{
    lws_usec_t until = lws_now_usecs() + (lws_usec_t)r->cfg.response_timeout_ms * 1000;
    size_t n;

    r->stopping = 1;
    hw_http_server_closing(r->ingress); /* a kept-alive sender must not send into the close */
    relay_history_stop(r);
    serve_until(r, api_answers_out, lws_now_usecs() + API_GRACE_US);
    relay_tokens_stop(r->tokens);
    relay_queue_stop(r->queue);
    n = in_flight(r);
    if (n)
        HW_INFO("waiting up to %ums for %zu exchanges in flight", r->cfg.response_timeout_ms, n);
    if (!serve_until(r, nothing_in_flight, until))
        HW_WARN("%zu exchanges still in flight: their events are delivered again after a restart",
                in_flight(r));
    until = lws_now_usecs() + (lws_usec_t)r->cfg.response_timeout_ms * 1000;
    if (!serve_until(r, answers_written, until))
        HW_WARN("%llu webhooks still arriving or being answered: cut at exit",
                (unsigned long long)hw_http_server_stats(r->ingress)->exchanges);
    relay_outcomes_flush(r->outcomes);
    if (!serve_until(r, outcomes_written, lws_now_usecs() + OUTCOMES_GRACE_US))
        HW_WARN("the store did not take the last delivery outcomes in time: those events are "
                "delivered again after a restart");
}

/*
 * Nothing is served from here on: a new connection to either port is
 * refused at once (a proxy tries another upstream, an agent its next
 * attempt), not accepted and left unanswered while the store closes.
 */
static void stop_listening(const struct relay_config *cfg)
{
    if (hw_listen_stop(cfg->listen) + hw_listen_stop(cfg->tunnel_listen) > 0)
        HW_INFO("stopped listening: new connections are refused while the store closes");
}

int main(int argc, char **argv)
{
    static struct relay r;
    struct sigaction sa;
    char *base, why[256];
    int idx, status = 1;

    hw_log_init("relay");
    if (sodium_init() < 0) {
        fprintf(stderr, "libsodium failed to initialise\n");
        return 1;
    }
    r.edge = relay_edge_new();
    if (!r.edge)
        return 1;
    idx = relay_config_parse(&r.cfg, argc, argv, relay_edge_config, r.edge);
    if (idx < argc) {
        if (strcmp(argv[idx], "token") == 0)
            status = relay_tokens_command(&r.cfg, argc - idx, argv + idx);
        else
            fprintf(stderr, "unknown command \"%s\" (see --help)\n", argv[idx]);
        relay_config_cleanup(&r.cfg);
        relay_edge_free(r.edge);
        return idx < argc && strcmp(argv[idx], "token") == 0 ? status : 2;
    }
    hw_lwslog_route();
    base = relay_config_public_base(&r.cfg);
    r.public_base = base;
    r.channels = relay_channels_new();
    r.refused = relay_refused_new();
    if (relay_edge_finalize(r.edge, why, sizeof(why))) {
        fprintf(stderr, "%s\n", why);
        status = 2;
        goto out;
    }
    if (!base || !r.channels || !r.refused || fit_fd_limit(&r))
        goto out;
    /* The store thread serves the loop: token reads never wait on the database there. */
    if (hw_store_open(
            r.cfg.store,
            &(struct hw_store_opts){
                .wake = relay_store_wake,
                .wake_arg = &r,
                /* Room for every history record --history-buffer lets in. */
                .queue_max = 16384 + r.cfg.history_buffer / 1024,
                .queue_bytes_max = 256u * 1024 * 1024 + r.cfg.history_buffer,
                /* Recording history is background work: the loop's wake-ups come first. */
                .thread_nice = RELAY_STORE_NICE,
                /* And only idle time, while nothing waits for it. */
                .thread_idle = 1,
            },
            &r.store)) {
        char name[1024];

        hw_store_url_masked(r.cfg.store, name, sizeof(name));
        fprintf(stderr, "--store %s: cannot open the store\n", name);
        goto out;
    }
    r.tokens = relay_tokens_new(r.store);
    r.queue = relay_queue_new(&r);
    r.outcomes = relay_outcomes_new(&r);
    if (!r.queue || !r.outcomes || relay_queue_start(r.queue)) {
        fprintf(stderr, "--store %s: cannot read the offline queue\n", r.cfg.store);
        goto out;
    }
    r.ingress = relay_ingress_new(&r);
    if (!r.tokens || !r.ingress || relay_server_start(&r) || relay_tokens_start(r.tokens, &r))
        goto out;

    relay_retention_start(&r);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    loop_context = r.context;
    HW_INFO("listening: webhooks on %s, agents on %s; public URL %s/t/CHANNEL/", r.cfg.listen,
            r.cfg.tunnel_listen, base);
    while (!stopping && hw_loop_run(r.loop, 0) == 0) {
        if (reloading) {
            reloading = 0;
            (void)relay_reload(&r, argc, argv); /* logs its outcome; the relay runs on */
            hw_loop_kick(r.context);            /* arms what the reload scheduled */
        }
    }
    HW_INFO("shutting down");
    finish_work(&r);
    stop_listening(&r.cfg);
    status = 0;
out:
    loop_context = NULL;
    /* The store's last callbacks run while the tokens and the lws context still exist. */
    relay_tokens_stop(r.tokens);
    relay_queue_stop(r.queue);
    if (r.outcomes)
        relay_outcomes_flush(r.outcomes); /* what is gathered goes out before the store closes */
    if (r.context) {
        relay_retention_stop(&r);
        relay_record_stop(&r);
    }
    hw_store_close(r.store);
    r.store = NULL; /* exchanges closed with the context below record nothing more */
    relay_tokens_free(r.tokens);
    relay_server_stop(&r);
    relay_queue_free(r.queue); /* the agents' tunnels close with the context */
    relay_outcomes_free(r.outcomes);
    hw_http_server_free(r.ingress);
    relay_channels_free(r.channels);
    relay_refused_free(r.refused);
    relay_edge_free(r.edge);
    free(base);
    relay_config_cleanup(&r.cfg);
    return status;
}
