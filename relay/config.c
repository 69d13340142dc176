/*
 * The relay's option table, defaults and checks. Main thread, at startup.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/url.h"

#define OPT(name, arg, def, help, type, field)                           \
    {                                                                    \
        name, arg, def, help, type, offsetof(struct relay_config, field) \
    }

const struct hw_opt relay_options[] = {
    OPT("listen", "HOST:PORT", "0.0.0.0:8080", "public webhook address", HW_OPT_STR, listen),
    OPT("tunnel-listen", "HOST:PORT", "0.0.0.0:8081", "agents' tunnel address", HW_OPT_STR,
        tunnel_listen),
    OPT("store", "URL", "sqlite:./hookwire-relay.db", "state store (tokens)", HW_OPT_STR, store),
    OPT("public-url", "URL", NULL, "public base URL shown to agents (default http://LISTEN)",
        HW_OPT_STR, public_url),
    OPT("tls-cert", "FILE", NULL, "TLS certificate (PEM) for both ports", HW_OPT_STR, tls_cert),
    OPT("tls-key", "FILE", NULL, "TLS private key (PEM)", HW_OPT_STR, tls_key),
    OPT("max-body", "SIZE", "25M", "largest webhook body accepted", HW_OPT_SIZE, max_body),
    OPT("response-timeout", "DURATION", "10s", "longest wait for the local app's answer",
        HW_OPT_DURATION, response_timeout_ms),
    OPT("head-timeout", "DURATION", "10s", "longest time a request head may take to arrive",
        HW_OPT_DURATION, head_timeout_ms),
    OPT("offline", "MODE", "queue",
        "with no agent connected: queue (store, 202, deliver on reconnect) or reject (503)",
        HW_OPT_STR, offline),
    OPT("history", "on|off", "on",
        "record live webhooks and their outcome in the store (off: only queued ones)", HW_OPT_STR,
        history),
    OPT("retention", "DURATION", "168h", "delivered and failed events are kept this long (7 days)",
        HW_OPT_DURATION, retention_ms),
    OPT("max-events", "N", "0",
        "newest events kept per channel; older delivered and failed ones are purged (0: no limit)",
        HW_OPT_UINT, max_events),
    OPT("history-buffer", "SIZE", "64M",
        "live webhook bytes held for their history record before new ones get 429", HW_OPT_SIZE,
        history_buffer),
    OPT("max-queued", "N", "10000", "queued events per channel before 429 HW_QUEUE_FULL",
        HW_OPT_UINT, max_queued),
    OPT("queue-retries", "N", "3", "attempts of a queued event before it is marked failed",
        HW_OPT_UINT, queue_retries),
    OPT("queue-backoff", "DURATION", "1s", "pause before a queued event's second attempt (doubles)",
        HW_OPT_DURATION, queue_backoff_ms),
    OPT("heartbeat", "DURATION", "10s", "tunnel ping interval; dead after two without traffic",
        HW_OPT_DURATION, heartbeat_ms),
    OPT("max-streams", "N", "1024", "requests in flight per agent before 429", HW_OPT_UINT,
        max_streams),
    OPT("max-connections", "N", "10000", "public connections open at once", HW_OPT_UINT,
        max_connections),
    OPT("max-held", "SIZE", "1G", "request bytes held at once (being read or queued) before 429",
        HW_OPT_SIZE, max_held),
    OPT("metrics-channels", NULL, "false",
        "list channel names in /metrics (they are webhook URLs: keep /metrics private)",
        HW_OPT_BOOL, metrics_channels),
    OPT("log-level", "LEVEL", "info", "error, warn, info or debug", HW_OPT_STR, log_level),
    OPT("log-format", "FORMAT", "text", "text or json", HW_OPT_STR, log_format),
    { NULL, NULL, NULL, NULL, 0, 0 },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: hookwire-relay [OPTIONS]\n"
               "       hookwire-relay [--store URL] token add CHANNEL | token list |"
               " token revoke CHANNEL\n\n"
               "Public side of the hookwire tunnel: webhooks posted to /t/CHANNEL/PATH go to\n"
               "the agent connected for CHANNEL, and its app's answer comes back.\n\n"
               "options:\n");
    hw_opt_usage(f, relay_options);
}

/*
 * Two listeners on one port would share one socket in lws, and one of the
 * two endpoints would silently go missing: refuse it.
 */
static int check_ports(const struct relay_config *cfg)
{
    char a[256], b[256];
    int pa, pb;

    if (hw_hostport_parse(cfg->listen, a, sizeof(a), &pa)) {
        fprintf(stderr, "--listen %s: expected HOST:PORT, e.g. 0.0.0.0:8080\n", cfg->listen);
        return -1;
    }
    if (hw_hostport_parse(cfg->tunnel_listen, b, sizeof(b), &pb)) {
        fprintf(stderr, "--tunnel-listen %s: expected HOST:PORT, e.g. 0.0.0.0:8081\n",
                cfg->tunnel_listen);
        return -1;
    }
    if (pa == pb && pa != 0) {
        fprintf(stderr,
                "--listen %s and --tunnel-listen %s use the same port: give the agents' "
                "tunnel a port of its own\n",
                cfg->listen, cfg->tunnel_listen);
        return -1;
    }
    return 0;
}

static int check(struct relay_config *cfg)
{
    if (check_ports(cfg))
        return -1;
    if (strcmp(cfg->offline, "reject") != 0 && strcmp(cfg->offline, "queue") != 0) {
        fprintf(stderr, "--offline: \"queue\" or \"reject\"\n");
        return -1;
    }
    if (strcmp(cfg->history, "on") != 0 && strcmp(cfg->history, "off") != 0) {
        fprintf(stderr, "--history: \"on\" or \"off\"\n");
        return -1;
    }
    if (cfg->history_buffer < 64 * 1024) {
        fprintf(stderr, "--history-buffer: at least 64K\n");
        return -1;
    }
    if (cfg->queue_retries < 1 || cfg->max_queued < 1) {
        fprintf(stderr, "--queue-retries and --max-queued must be positive\n");
        return -1;
    }
    if (!!cfg->tls_cert != !!cfg->tls_key) {
        fprintf(stderr, "--tls-cert and --tls-key go together\n");
        return -1;
    }
    if (cfg->heartbeat_ms < 100 || cfg->response_timeout_ms < 1 || cfg->head_timeout_ms < 1 ||
        cfg->max_streams < 1) {
        fprintf(stderr, "--heartbeat, --response-timeout, --head-timeout and --max-streams must "
                        "be positive\n");
        return -1;
    }
    if (hw_log_set_level(cfg->log_level) || hw_log_set_format(cfg->log_format)) {
        fprintf(stderr, "bad --log-level or --log-format\n");
        return -1;
    }
    return 0;
}

int relay_config_parse(struct relay_config *cfg, int argc, char **argv,
                       hw_opt_section_fn section_fn, void *ctx)
{
    int rc;

    if (argc == 2 && strcmp(argv[1], "--example-config") == 0) {
        hw_opt_print_ini(stdout, "relay", relay_options);
        exit(0);
    }
    memset(cfg, 0, sizeof(*cfg));
    if (hw_opt_defaults(relay_options, cfg))
        abort();
    rc = hw_opt_parse_args(relay_options, cfg, argc, argv, 1, "relay", section_fn, ctx);
    if (rc == HW_EEXIST) {
        usage(stdout);
        exit(0);
    }
    if (rc < 0 || check(cfg)) {
        exit(2);
    }
    return rc;
}

void relay_config_cleanup(struct relay_config *cfg)
{
    hw_opt_cleanup(relay_options, cfg);
}
