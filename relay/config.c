/*
 * The relay's option table, defaults and checks. Main thread, at startup.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/listen.h"
#include "core/log.h"
#include "core/url.h"
#include <mysql.h>
#include <sqlite3.h>

#include "net/version.h"
#include "tls.h"

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
    OPT("tunnel-url", "URL", NULL,
        "the --relay URL agents use, shown by token add (default: from --public-url, "
        "wss://HOST/tunnel as behind examples/Caddyfile)",
        HW_OPT_STR, tunnel_url),
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
    OPT("max-tunnel-connections", "N", "1024",
        "tunnel-port connections open at once (agents, API calls); more are closed at accept",
        HW_OPT_UINT, max_tunnel_connections),
    OPT("max-held", "SIZE", "1G",
        "request bytes held at once (being read or queued) before 429; also the history API's "
        "answers in memory, a budget of their own",
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

    char why[512];

    if (hw_listen_parse("--listen", cfg->listen, a, sizeof(a), &pa, why, sizeof(why)) ||
        hw_listen_parse("--tunnel-listen", cfg->tunnel_listen, b, sizeof(b), &pb, why,
                        sizeof(why))) {
        fprintf(stderr, "%s\n", why);
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

/*
 * The public URL goes into every webhook URL the relay shows: it must be an
 * http(s) URL with a host. Without one the relay makes it from --listen, but
 * a relay on all interfaces would show "localhost", which no sender can reach.
 */
static int check_public_url(const struct relay_config *cfg)
{
    struct hw_url u;
    char host[256];
    int port;

    /* hw_url_parse() knows http(s) and ws(s) only; agents read http(s) as ws(s). */
    if (cfg->tunnel_url && hw_url_parse(cfg->tunnel_url, &u)) {
        fprintf(stderr, "--tunnel-url %s: expected the URL agents use, wss://HOST[:PORT][/PATH]\n",
                cfg->tunnel_url);
        return -1;
    }
    if (cfg->public_url) {
        if (hw_url_parse(cfg->public_url, &u) ||
            (strcmp(u.scheme, "http") != 0 && strcmp(u.scheme, "https") != 0)) {
            fprintf(stderr,
                    "--public-url %s: expected the URL senders reach, http(s)://HOST[:PORT], "
                    "e.g. https://hooks.example.com\n",
                    cfg->public_url);
            return -1;
        }
        if (hw_url_parse(cfg->public_url, &u) == 0 &&
            strpbrk(cfg->public_url + strlen(u.scheme) + 3, "?#")) {
            fprintf(stderr,
                    "--public-url %s: no query or fragment: the relay appends /t/CHANNEL/\n",
                    cfg->public_url);
            return -1;
        }
        return 0;
    }
    if (hw_hostport_parse(cfg->listen, host, sizeof(host), &port) == 0 &&
        (!host[0] || strcmp(host, "0.0.0.0") == 0)) {
        fprintf(stderr,
                "--listen %s takes webhooks on every interface, but without --public-url their "
                "URLs would say localhost: set --public-url to the address senders use (e.g. "
                "--public-url https://hooks.example.com), or --listen 127.0.0.1:%d for local use\n",
                cfg->listen, port);
        return -1;
    }
    return 0;
}

static int check_log(const struct relay_config *cfg)
{
    if (hw_log_set_level(cfg->log_level)) {
        fprintf(stderr, "--log-level %s: expected error, warn, info or debug\n", cfg->log_level);
        return -1;
    }
    if (hw_log_set_format(cfg->log_format)) {
        fprintf(stderr, "--log-format %s: expected text or json\n", cfg->log_format);
        return -1;
    }
    return 0;
}

/* Each value on its own first, then how they go together (ports, --listen with --public-url). */
static int check(struct relay_config *cfg)
{
    char why[512];

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
    if (cfg->tls_cert && relay_tls_check(cfg->tls_cert, cfg->tls_key, why, sizeof(why))) {
        fprintf(stderr, "%s\n", why);
        return -1;
    }
    if (cfg->heartbeat_ms < 100 || cfg->response_timeout_ms < 1 || cfg->head_timeout_ms < 1 ||
        cfg->max_streams < 1) {
        fprintf(stderr, "--heartbeat, --response-timeout, --head-timeout and --max-streams must "
                        "be positive\n");
        return -1;
    }
    if (cfg->max_connections < 1 || cfg->max_tunnel_connections < 1) {
        fprintf(stderr, "--max-connections and --max-tunnel-connections must be positive\n");
        return -1;
    }
    if (cfg->max_held < 1) {
        fprintf(stderr, "--max-held must be positive\n");
        return -1;
    }
    if (check_log(cfg))
        return -1;
    return check_ports(cfg) || check_public_url(cfg) ? -1 : 0;
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
    if (rc == HW_EVERSION) {
        char line[512], more[128];

        /* The store's libraries, as loaded: SQLite and the MariaDB/MySQL client. */
        snprintf(more, sizeof(more), "SQLite %s, MariaDB client %s", sqlite3_libversion(),
                 mysql_get_client_info());
        printf("%s\n", hw_version_line(line, sizeof(line), "hookwire-relay", more));
        exit(0);
    }
    /* The token subcommands need only --store: a webhook server's checks do not apply. */
    if (rc < 0 || (rc == argc && check(cfg)) || (rc < argc && check_log(cfg))) {
        exit(2);
    }
    return rc;
}

char *relay_config_public_base(const struct relay_config *cfg)
{
    char host[256], *s;
    int port = 0;
    size_t n;

    if (cfg->public_url) {
        s = strdup(cfg->public_url);
    } else {
        s = malloc(300);
        if (!s || hw_hostport_parse(cfg->listen, host, sizeof(host), &port)) {
            free(s);
            return NULL;
        }
        snprintf(s, 300, "%s://%s:%d", cfg->tls_cert ? "https" : "http",
                 !host[0] || strcmp(host, "0.0.0.0") == 0 ? "localhost" : host, port);
    }
    n = s ? strlen(s) : 0;
    while (n && s[n - 1] == '/')
        s[--n] = '\0';
    return s;
}

const char *relay_config_tunnel_url(const struct relay_config *cfg, char *out, size_t cap)
{
    struct hw_url u;
    char host[256];
    int port = 0, listen_port = 0;

    if (cfg->tunnel_url) {
        snprintf(out, cap, "%s", cfg->tunnel_url);
        return out;
    }
    if (hw_hostport_parse(cfg->tunnel_listen, host, sizeof(host), &port))
        port = 8081;
    if (hw_hostport_parse(cfg->listen, u.host, sizeof(u.host), &listen_port))
        listen_port = 0;
    if (cfg->public_url && hw_url_parse(cfg->public_url, &u) == 0) {
        snprintf(u.scheme, sizeof(u.scheme), "%s", u.tls ? "wss" : "ws");
        if (u.port == listen_port) {
            u.port = port; /* no proxy: the tunnel port itself */
            snprintf(u.path, sizeof(u.path), "/");
        } else {
            snprintf(u.path, sizeof(u.path), "/tunnel");
        }
        return hw_url_format(&u, 1, out, cap);
    }
    memset(&u, 0, sizeof(u));
    snprintf(u.scheme, sizeof(u.scheme), "%s", cfg->tls_cert ? "wss" : "ws");
    snprintf(u.host, sizeof(u.host), "%s",
             !host[0] || strcmp(host, "0.0.0.0") == 0 ? "localhost" : host);
    u.port = port;
    snprintf(u.path, sizeof(u.path), "/");
    return hw_url_format(&u, 0, out, cap);
}

void relay_config_cleanup(struct relay_config *cfg)
{
    hw_opt_cleanup(relay_options, cfg);
}
