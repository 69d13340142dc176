/*
 * The agent's option table, the token and URL set-up, and checks. Main
 * thread, at startup.
 */
#include "config.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "core/err.h"
#include "core/log.h"

#define OPT(name, arg, def, help, type, field)                           \
    {                                                                    \
        name, arg, def, help, type, offsetof(struct agent_config, field) \
    }

const struct hw_opt agent_options[] = {
    OPT("relay", "URL", NULL, "relay tunnel URL, ws:// or wss:// (or HOOKWIRE_RELAY)", HW_OPT_STR,
        relay),
    OPT("token-file", "FILE", NULL, "file holding the channel token (or HOOKWIRE_TOKEN)",
        HW_OPT_STR, token_file),
    OPT("forward", "URL", "http://localhost:3000", "where webhooks go; a bare port means localhost",
        HW_OPT_STR, forward),
    OPT("ca-file", "FILE", NULL, "CA bundle to verify a wss:// relay", HW_OPT_STR, ca_file),
    OPT("insecure", NULL, "false", "accept a self-signed relay certificate (tests only)",
        HW_OPT_BOOL, insecure),
    OPT("forward-insecure", NULL, "false",
        "accept any certificate from an https:// --forward target (a self-signed local app)",
        HW_OPT_BOOL, forward_insecure),
    OPT("takeover", NULL, "false", "replace another agent holding the channel (it then exits)",
        HW_OPT_BOOL, takeover),
    OPT("host-header", "MODE", "keep", "keep the public Host, or rewrite it to the target's",
        HW_OPT_STR, host_header),
    OPT("heartbeat", "DURATION", "10s", "tunnel ping interval; dead after two without traffic",
        HW_OPT_DURATION, heartbeat_ms),
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
    fprintf(f, "usage: hookwire-agent [OPTIONS]\n\n"
               "Holds a tunnel to a hookwire relay and forwards each webhook sent to the\n"
               "channel's public URL to a local app, returning the app's answer.\n"
               "The token comes from HOOKWIRE_TOKEN or --token-file.\n\n"
               "options:\n");
    hw_opt_usage(f, agent_options);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* "3000" means http://localhost:3000. */
static void parse_forward(struct agent *a)
{
    const char *f = a->cfg.forward;
    char url[300];

    if (f[0] && strspn(f, "0123456789") == strlen(f)) {
        snprintf(url, sizeof(url), "http://localhost:%s", f);
        f = url;
    }
    if (hw_url_parse(f, &a->target) ||
        (strcmp(a->target.scheme, "http") != 0 && strcmp(a->target.scheme, "https") != 0))
        die("--forward %s: expected http(s)://HOST:PORT or a port number", a->cfg.forward);
    snprintf(a->target_addr, sizeof(a->target_addr), "%s",
             strcmp(a->target.host, "localhost") == 0 ? "127.0.0.1" : a->target.host);
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
            die("--token-file: %s", err);
    } else if (env && env[0]) {
        a->token = strdup(env);
    } else {
        die("no token: set HOOKWIRE_TOKEN or --token-file");
    }
    a->token[strcspn(a->token, "\r\n \t")] = '\0';
    if (!a->token[0])
        die("the token is empty");
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
    if (rc < 0)
        exit(2);
    if (rc < argc && strcmp(argv[rc], "events") != 0 && strcmp(argv[rc], "show") != 0 &&
        strcmp(argv[rc], "replay") != 0)
        die("unexpected argument \"%s\" (see --help)", argv[rc]);
    if (hw_log_set_level(a->cfg.log_level) || hw_log_set_format(a->cfg.log_format))
        die("bad --log-level or --log-format");
    if (!a->cfg.relay)
        die("no relay: use --relay URL or HOOKWIRE_RELAY");
    if (hw_url_parse(a->cfg.relay, &a->relay_url) ||
        (strcmp(a->relay_url.scheme, "ws") != 0 && strcmp(a->relay_url.scheme, "wss") != 0))
        die("--relay %s: expected ws://HOST:PORT or wss://HOST:PORT", a->cfg.relay);
    if (strcmp(a->cfg.host_header, "keep") != 0 && strcmp(a->cfg.host_header, "rewrite") != 0)
        die("--host-header %s: expected keep or rewrite", a->cfg.host_header);
    if (a->cfg.heartbeat_ms < 100)
        die("--heartbeat must be at least 100ms");
    parse_forward(a);
    load_token(a);
    return rc;
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
