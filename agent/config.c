/*
 * The agent's option table, the token and URL set-up, and checks. Main
 * thread, at startup.
 */
#include "config.h"

#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/resolve.h"
#include "net/version.h"

/*
 * How long the start waits for the relay's name: a name that does not exist stops the agent
 * here, one that a name server does not answer for in time is looked up again by each of the
 * tunnel's attempts.
 */
#define CHECK_RESOLVE_MS 3000

#define OPT(name, arg, def, help, type, field)                           \
    {                                                                    \
        name, arg, def, help, type, offsetof(struct agent_config, field) \
    }

const struct hw_opt agent_options[] = {
    OPT("relay", "URL", NULL,
        "relay tunnel URL, ws:// or wss:// (http:// and https:// are read as those; or "
        "HOOKWIRE_RELAY)",
        HW_OPT_STR, relay),
    OPT("token-file", "FILE", NULL, "file holding the channel token (or HOOKWIRE_TOKEN)",
        HW_OPT_STR, token_file),
    /* Not an option: people try it, and learn where the token goes. */
    { "token", NULL, NULL,
      "the token does not go on the command line or in a config file: put it in a file of its "
      "own and set token-file = PATH (or set HOOKWIRE_TOKEN)",
      HW_OPT_REFUSED, 0 },
    OPT("forward", "TARGET", "http://localhost:3000",
        "where webhooks go: 3000, :3000, localhost:3000, [::1]:3000 or http(s)://HOST:PORT/PREFIX "
        "(also the last argument: hookwire-agent 3000)",
        HW_OPT_STR, forward),
    OPT("forward-insecure", NULL, "false",
        "accept a self-signed certificate from an https:// target (a local app)", HW_OPT_BOOL,
        forward_insecure),
    OPT("ca-file", "FILE", NULL, "CA bundle to verify a wss:// relay", HW_OPT_STR, ca_file),
    OPT("insecure", NULL, "false", "accept a self-signed relay certificate (tests only)",
        HW_OPT_BOOL, insecure),
    OPT("takeover", NULL, "false", "replace another agent holding the channel (it then exits)",
        HW_OPT_BOOL, takeover),
    OPT("host-header", "MODE", "keep", "keep the public Host, or rewrite it to the target's",
        HW_OPT_STR, host_header),
    OPT("heartbeat", "DURATION", "10s", "tunnel ping interval; dead after two without traffic",
        HW_OPT_DURATION, heartbeat_ms),
    OPT("stop-timeout", "DURATION", "10s",
        "on SIGTERM/SIGINT, how long the forwards in flight may take before the agent exits",
        HW_OPT_DURATION, stop_timeout_ms),
    OPT("max-idle-conns", "N", "64", "idle keep-alive connections kept to the target", HW_OPT_UINT,
        max_idle_conns),
    OPT("log-level", "LEVEL", "info", "error, warn, info or debug", HW_OPT_STR, log_level),
    OPT("log-format", "FORMAT", "text", "text or json", HW_OPT_STR, log_format),
    OPT("inspect", "HOST:PORT", "127.0.0.1:4040", "web inspector address, or off", HW_OPT_STR,
        inspect),
    OPT("inspect-allow-remote", NULL, "false",
        "let --inspect use a non-loopback address (it shows and replays every webhook)",
        HW_OPT_BOOL, inspect_allow_remote),
    { NULL, NULL, NULL, NULL, 0, 0 },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: hookwire-agent [OPTIONS] [TARGET]\n"
               "       hookwire-agent [OPTIONS] events|show|replay ...\n\n"
               "Holds a tunnel to a hookwire relay and forwards each webhook sent to the\n"
               "channel's public URL to a local app, returning the app's answer.\n"
               "The token comes from HOOKWIRE_TOKEN or --token-file.\n\n"
               "commands (the channel's history on the relay, with the same --relay and token):\n"
               "  events [--limit N] [--status pending|delivered|failed|all] [--cursor C]\n"
               "        the channel's recent events, newest first, as JSON (limit 1-1000, 50)\n"
               "  show ID [--body]\n"
               "        one event and its attempts, as JSON; --body: its body, byte for byte\n"
               "  replay ID\n"
               "        send the event through the tunnel to the app again, now\n\n"
               "options:\n");
    hw_opt_usage(f, agent_options);
}

static void parse_forward(struct agent *a)
{
    const char *f = a->cfg.forward;

    if (hw_url_parse_target(f, &a->target))
        hw_opt_die("--forward %s: expected a port (3000), HOST:PORT (localhost:3000) or "
                   "http(s)://HOST:PORT/PREFIX",
                   f);
    snprintf(a->target_addr, sizeof(a->target_addr), "%s",
             strcmp(a->target.host, "localhost") == 0 ? "127.0.0.1" : a->target.host);
    /* The prefix goes in front of every request's path: "/api/" and "/api" are the same. */
    {
        size_t n = strlen(a->target.path);
        char *q = strpbrk(a->target.path, "?");

        if (q)
            hw_opt_die("--forward %s: a query cannot be a prefix: give the path only", f);
        while (n > 1 && a->target.path[n - 1] == '/')
            a->target.path[--n] = '\0';
    }
}

/*
 * --relay as people write it: ws:// and wss:// as they are, http:// and
 * https:// as the same host and port over ws:// and wss://; anything else is
 * answered with the form to use.
 */
static void parse_relay(struct agent *a)
{
    const char *r = a->cfg.relay;

    if (!strstr(r, "://"))
        hw_opt_die("--relay %s: give the scheme: ws://%s (or wss://%s when the relay has TLS)", r,
                   r, r);
    if (hw_url_parse(r, &a->relay_url))
        hw_opt_die("--relay %s: expected ws://HOST:PORT or wss://HOST:PORT", r);
    if (strcmp(a->relay_url.scheme, "http") == 0 || strcmp(a->relay_url.scheme, "https") == 0) {
        char url[1400];

        snprintf(a->relay_url.scheme, sizeof(a->relay_url.scheme), "%s",
                 a->relay_url.tls ? "wss" : "ws");
        /* Every later line names the relay as it is reached. */
        free(a->cfg.relay);
        a->cfg.relay = strdup(hw_url_format(&a->relay_url, 1, url, sizeof(url)));
        if (!a->cfg.relay)
            hw_opt_die("out of memory");
    }
}

static void load_token(struct agent *a)
{
    char err[256];
    const char *env = getenv("HOOKWIRE_TOKEN");

    if (a->cfg.token_file) {
        char spec[4096];
        snprintf(spec, sizeof(spec), "file:%s", a->cfg.token_file);
        a->token = hw_opt_resolve(spec, err, sizeof(err));
        if (!a->token)
            hw_opt_die("--token-file: %s", err);
    } else if (env && env[0]) {
        a->token = strdup(env);
    } else {
        hw_opt_die("no token: set HOOKWIRE_TOKEN or --token-file");
    }
    a->token[strcspn(a->token, "\r\n \t")] = '\0';
    if (!a->token[0])
        hw_opt_die("the token is empty");
}

/* A history command's name (what follows the options), not a forwarding target. */
static int is_command(const char *arg)
{
    return strcmp(arg, "events") == 0 || strcmp(arg, "show") == 0 || strcmp(arg, "replay") == 0;
}

int agent_config_load(struct agent *a, int argc, char **argv)
{
    const char *env = getenv("HOOKWIRE_RELAY");
    int rc;

    if (argc == 2 && strcmp(argv[1], "--example-config") == 0) {
        hw_opt_print_ini(stdout, "agent", agent_options);
        exit(0);
    }
    memset(&a->cfg, 0, sizeof(a->cfg));
    if (hw_opt_defaults(agent_options, &a->cfg))
        abort();
    if (env && env[0])
        a->cfg.relay = strdup(env);
    rc = hw_opt_parse_args(agent_options, &a->cfg, argc, argv, 1, "agent", NULL, NULL);
    if (rc == HW_EEXIST) {
        usage(stdout);
        exit(0);
    }
    if (rc == HW_EVERSION) {
        char line[512];

        /* The agent keeps no store: it links neither SQLite nor the MariaDB client. */
        printf("%s\n", hw_version_line(line, sizeof(line), "hookwire-agent",
                                       "no SQLite: the agent keeps no store"));
        exit(0);
    }
    if (rc < 0)
        exit(2);
    /* "events --help": the commands' help is the program's, whatever the relay and token. */
    for (int i = rc + 1; i < argc && is_command(argv[rc]); i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        }
    }
    if (rc < argc && !is_command(argv[rc])) {
        /* "hookwire-agent 3000": the one argument after the options is the target. */
        if (rc + 1 < argc)
            hw_opt_die("unexpected argument \"%s\": give the target once, after the options (see "
                       "--help)",
                       argv[rc + 1]);
        free(a->cfg.forward);
        a->cfg.forward = strdup(argv[rc]);
        if (!a->cfg.forward)
            hw_opt_die("out of memory");
        rc = argc;
    }
    if (hw_log_set_level(a->cfg.log_level))
        hw_opt_die("--log-level %s: expected error, warn, info or debug", a->cfg.log_level);
    if (hw_log_set_format(a->cfg.log_format))
        hw_opt_die("--log-format %s: expected text or json", a->cfg.log_format);
    if (!a->cfg.relay)
        hw_opt_die("no relay: use --relay wss://HOST:PORT (or set HOOKWIRE_RELAY)");
    parse_relay(a);
    if (strcmp(a->cfg.host_header, "keep") != 0 && strcmp(a->cfg.host_header, "rewrite") != 0)
        hw_opt_die("--host-header %s: expected keep or rewrite", a->cfg.host_header);
    if (a->cfg.heartbeat_ms < 100)
        hw_opt_die("--heartbeat must be at least 100ms");
    parse_forward(a);
    load_token(a);
    return rc;
}

int agent_config_check_relay(struct agent *a)
{
    const char *h = a->relay_url.host;
    struct hw_resolve *q;
    struct hw_addrs found;
    int gai = 0, done;

    if (hw_addr_is_numeric(h))
        return 0;
    q = hw_resolve_start(h);
    if (!q)
        return 0; /* no thread for it now: the tunnel's attempts look the name up */
    done = hw_resolve_wait(q, hw_mono_ms() + CHECK_RESOLVE_MS, &found, &gai);
    hw_resolve_drop(q);
    if (!done) {
        HW_WARN("%s did not resolve within %d s (is the name server answering?): starting; "
                "each connection attempt looks it up again",
                h, CHECK_RESOLVE_MS / 1000);
        return 0;
    }
    /* Only a definite "no such name" stops here: a resolver that is down may come back. */
    if (gai == EAI_NONAME || gai == EAI_FAIL
#ifdef EAI_NODATA
        || gai == EAI_NODATA
#endif
    ) {
        fprintf(stderr, "--relay %s: cannot resolve %s: %s: check the host name\n", a->cfg.relay, h,
                gai_strerror(gai));
        return HW_ENOTFOUND;
    }
    return 0;
}

void agent_config_cleanup(struct agent *a)
{
    if (a->token) {
        sodium_memzero(a->token, strlen(a->token));
        free(a->token);
        a->token = NULL;
    }
    hw_opt_cleanup(agent_options, &a->cfg);
}
