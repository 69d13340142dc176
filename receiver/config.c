/*
 * The receiver's option table, its command line and config file, and the
 * checks on [receiver] values; [source NAME] keys go to sources.c. Main
 * thread, at startup.
 */
#include "config.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/listen.h"
#include "core/log.h"
#include "core/url.h"
#include "net/tls_client.h"
#include "store/store.h"
#include "store/store_url.h"

#define OPT(name, arg, def, help, type, field)                          \
    {                                                                   \
        name, arg, def, help, type, offsetof(struct recv_config, field) \
    }

const struct hw_opt recv_options[] = {
    OPT("listen", "HOST:PORT", "127.0.0.1:8090", "address for webhooks (behind the proxy)",
        HW_OPT_STR, listen),
    OPT("store", "URL", "sqlite:./hookwire-receiver.db", "event store: sqlite:PATH or mysql://...",
        HW_OPT_STR, store),
    OPT("store-writers", "N", "2",
        "MySQL: group commits written at once, each on its own connection (SQLite: 1)", HW_OPT_UINT,
        store_writers),
    OPT("path-prefix", "PATH", "/api/webhooks", "webhooks arrive at PATH/SOURCE[/rest]", HW_OPT_STR,
        path_prefix),
    OPT("public-url", "URL", NULL, "public base URL providers post to (URL-signed providers)",
        HW_OPT_STR, public_url),
    OPT("max-body", "SIZE", "25M", "largest webhook body accepted (413 past it)", HW_OPT_SIZE,
        max_body),
    OPT("max-held", "SIZE", "256M",
        "request body bytes held at once, all connections (stalled ones shed, then 429)",
        HW_OPT_SIZE, max_held),
    OPT("deliver-timeout", "DURATION", "15s", "longest wait for the backend's answer",
        HW_OPT_DURATION, deliver_timeout_ms),
    OPT("deliver-ca-file", "FILE", NULL,
        "CA bundle to verify https:// deliver-to backends (default: the system store)", HW_OPT_STR,
        deliver_ca_file),
    OPT("lease", "DURATION", "60s",
        "how long a claimed event is this instance's; if it dies, another delivers after this",
        HW_OPT_DURATION, lease_ms),
    OPT("retry-schedule", "STEPS", "5s 5m 30m 2h 5h 10h 10h",
        "delays between delivery attempts, each +-20%; then failed", HW_OPT_STR, retry_schedule),
    OPT("signing-secret", "SECRET", NULL,
        "key for Hookwire-Signature on deliveries (whsec_BASE64; use env: or file:)", HW_OPT_STR,
        signing_secret),
    OPT("log-level", "LEVEL", "info", "error, warn, info or debug", HW_OPT_STR, log_level),
    OPT("log-format", "FORMAT", "text", "text or json", HW_OPT_STR, log_format),
    { NULL, NULL, NULL, NULL, 0, 0 },
};

/* Longest deliver timeout: past it a provider-like backend is hung, not slow. */
#define DELIVER_TIMEOUT_MAX_MS (10u * 60 * 1000)

static void usage(FILE *f)
{
    fprintf(f, "usage: hookwire-receiver --config FILE [OPTIONS]\n"
               "       hookwire-receiver --example-config\n\n"
               "Production webhook receiver: verifies each webhook posted to PATH_PREFIX/SOURCE,\n"
               "stores it, answers 200 after the commit, and delivers it to the source's\n"
               "backend with retries. Sources are [source NAME] sections of the config file\n"
               "(docs/receiver.md). Options given here win over the file.\n\n"
               "options:\n"
               "  --check-config\n        validate the configuration, print a summary, exit\n");
    hw_opt_usage(f, recv_options);
}

static int path_prefix_ok(const char *p)
{
    /* One or more "/segment" of URL-safe characters: no '?', '#', '%',
     * spaces, empty or dot segments ("." "..": Caddy would route them
     * elsewhere) or trailing slash. */
    if (p[0] != '/')
        return 0;
    while (*p == '/') {
        size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789-._~");
        if (n == 0 || (strspn(p + 1, ".") == n && n <= 2))
            return 0;
        p += 1 + n;
    }
    return *p == '\0';
}

/*
 * Checks the value of one [receiver] option after it was set; returns NULL
 * or a reason (in err). Secrets are never quoted.
 */
static const char *check_option(struct recv_config *cfg, const char *name, char *err, size_t errlen)
{
    if (!strcmp(name, "listen")) {
        char host[256];
        int port;

        /* The relay's words: a bare port, a missing port or one out of range, each named. */
        if (hw_listen_parse("--listen", cfg->listen, host, sizeof(host), &port, err, errlen))
            return err + 2; /* the caller names the option ("--" on the command line) */
    } else if (!strcmp(name, "store")) {
        struct hw_store_url u;
        char why[256];
        int bad;

        if (strncmp(cfg->store, "sqlite:", 7) && strncmp(cfg->store, "mysql://", 8))
            return "store: expected sqlite:PATH or mysql://USER@HOST/DB";
        /* The whole URL, as the open reads it (its password never goes in the reason). */
        bad = hw_store_url_read(cfg->store, &u, why, sizeof(why));
        hw_store_url_cleanup(&u);
        if (bad == HW_ECONFIG) {
            snprintf(err, errlen, "store: %s", why);
            return err;
        }
    } else if (!strcmp(name, "store-writers")) {
        if (cfg->store_writers < 1 || cfg->store_writers > HW_STORE_WRITERS_MAX)
            return "store-writers: must be from 1 to 16";
    } else if (!strcmp(name, "path-prefix")) {
        if (!path_prefix_ok(cfg->path_prefix))
            return "path-prefix: expected /segment[/segment...] without a trailing slash or a "
                   "'.' or '..' segment";
    } else if (!strcmp(name, "public-url")) {
        struct hw_url u;
        size_t n;

        if (cfg->public_url && (hw_url_parse(cfg->public_url, &u) < 0 ||
                                (strcmp(u.scheme, "http") && strcmp(u.scheme, "https")) ||
                                strpbrk(cfg->public_url, "?#")))
            return "public-url: expected an http:// or https:// base URL without query";
        /* The request-target starts with '/': a trailing one would double it in the URL
         * that Twilio signed, as a source's own public-url and the relay's already avoid. */
        n = cfg->public_url ? strlen(cfg->public_url) : 0;
        while (n && cfg->public_url[n - 1] == '/')
            cfg->public_url[--n] = '\0';
    } else if (!strcmp(name, "max-body")) {
        if (cfg->max_body == 0)
            return "max-body: must be above 0";
    } else if (!strcmp(name, "deliver-timeout")) {
        if (cfg->deliver_timeout_ms < 100 || cfg->deliver_timeout_ms > DELIVER_TIMEOUT_MAX_MS)
            return "deliver-timeout: must be from 100ms to 10m";
    } else if (!strcmp(name, "deliver-ca-file")) {
        /* Loaded now: a bad bundle is a startup error rather than every delivery failing. */
        char why[320];
        struct hw_tls_ctx *x =
            cfg->deliver_ca_file ? hw_tls_ctx_new(cfg->deliver_ca_file, 0, why, sizeof(why)) : NULL;

        if (cfg->deliver_ca_file && !x) {
            snprintf(err, errlen, "deliver-ca-file: %s", why);
            return err;
        }
        hw_tls_ctx_free(x);
    } else if (!strcmp(name, "lease")) {
        if (cfg->lease_ms < 1000 || cfg->lease_ms > DELIVER_TIMEOUT_MAX_MS * 3)
            return "lease: must be from 1s to 30m";
    } else if (!strcmp(name, "retry-schedule")) {
        if (recv_schedule_parse(cfg->retry_schedule, &cfg->schedule, err, errlen) < 0)
            return err;
    } else if (!strcmp(name, "signing-secret")) {
        struct hw_signer *s = NULL;
        const char *why = "signing-secret: invalid";

        if (cfg->signing_secret && hw_signer_new(cfg->signing_secret, &s, &why) < 0) {
            snprintf(err, errlen, "signing-secret: %s",
                     !strncmp(why, "secret: ", 8)            ? why + 8
                     : !strncmp(why, "signing-secret: ", 16) ? why + 16
                                                             : why);
            return err;
        }
        hw_signer_free(s);
    } else if (!strcmp(name, "log-level")) {
        if (hw_log_set_level(cfg->log_level) < 0)
            return "log-level: expected error, warn, info or debug";
    } else if (!strcmp(name, "log-format")) {
        if (hw_log_set_format(cfg->log_format) < 0)
            return "log-format: expected text or json";
    }
    return NULL;
}

static void wipe_signing_secret(struct recv_config *cfg)
{
    if (cfg->signing_secret) {
        sodium_memzero(cfg->signing_secret, strlen(cfg->signing_secret));
        free(cfg->signing_secret);
        cfg->signing_secret = NULL;
    }
}

/* Every section of the file comes here (see recv_config_load). */
static int on_section_key(void *ctx, const char *where, const char *section, const char *key,
                          const char *value, char *err, size_t errlen)
{
    (void)where; /* recv_sources_scan() noted each [source]'s line */
    struct recv_config *cfg = ctx;
    const char *why;
    char k[64];
    size_t i;
    int rc;

    if (!strncmp(section, "source ", 7))
        return recv_sources_key(&cfg->sources, section + 7, key, value, err, errlen);
    if (strcmp(section, "receiver") != 0) {
        snprintf(err, errlen, "unknown section [%s] (expected [receiver] or [source NAME])",
                 section);
        return HW_EINVAL;
    }
    /* The keys are the long options; "path_prefix" is taken for "path-prefix". */
    for (i = 0; key[i] && i < sizeof(k) - 1; i++)
        k[i] = key[i] == '_' ? '-' : key[i];
    k[i] = '\0';
    /* hw_opt frees a replaced string without wiping it; a secret is wiped first. */
    if (!strcmp(k, "signing-secret"))
        wipe_signing_secret(cfg);
    rc = hw_opt_set(recv_options, cfg, k, value, err, errlen);
    if (rc < 0)
        return rc;
    why = check_option(cfg, k, err, errlen);
    if (why) {
        if (why != err)
            snprintf(err, errlen, "%s", why);
        return HW_EINVAL;
    }
    return 0;
}

/*
 * Removes "--config FILE" / "--config=FILE" and "--check-config" from argv
 * into *rest (a new array, argv[0] kept). Returns the number of arguments
 * left; exits on a repeated or valueless --config.
 */
static int split_args(struct recv_config *cfg, int argc, char **argv, char ***rest)
{
    char **r = calloc((size_t)argc + 1, sizeof(*r));
    int n = 0;

    if (!r)
        hw_opt_die("out of memory");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *file = NULL;

        if (i > 0 && !strcmp(a, "--check-config")) {
            cfg->check_only = 1;
            continue;
        }
        if (i > 0 && !strcmp(a, "--config")) {
            if (i + 1 >= argc)
                hw_opt_die("--config needs a file");
            file = argv[++i];
        } else if (i > 0 && !strncmp(a, "--config=", 9)) {
            file = a + 9;
        }
        if (file) {
            if (cfg->config_path)
                hw_opt_die("--config: given twice: the receiver reads one file (its [source] "
                           "sections are the whole list of sources)");
            cfg->config_path = strdup(file);
            if (!cfg->config_path)
                hw_opt_die("out of memory");
            continue;
        }
        r[n++] = argv[i];
    }
    *rest = r;
    return n;
}

void recv_config_load(struct recv_config *cfg, int argc, char **argv)
{
    char **rest, err[512];
    int n, rc;

    if (argc == 2 && strcmp(argv[1], "--example-config") == 0) {
        hw_opt_print_ini(stdout, "receiver", recv_options);
        exit(0);
    }
    memset(cfg, 0, sizeof(*cfg));
    if (hw_opt_defaults(recv_options, cfg) ||
        recv_schedule_parse(cfg->retry_schedule, &cfg->schedule, err, sizeof(err)))
        abort();
    n = split_args(cfg, argc, argv, &rest);
    for (int i = 1; i < n; i++) {
        if (!strcmp(rest[i], "--help") || !strcmp(rest[i], "-h")) {
            usage(stdout);
            exit(0);
        }
    }
    if (cfg->config_path) {
        /* Headers first, so sources exist (and bad ones are reported at their
         * line) before inih hands over their keys. The main section name "]"
         * can never match a header, so every section, [receiver] included,
         * reaches on_section_key, which checks each value where it stands. */
        if (recv_sources_scan(&cfg->sources, cfg->config_path) < 0 ||
            hw_opt_load_ini(recv_options, cfg, cfg->config_path, "]", on_section_key, cfg) < 0)
            exit(2);
    }
    for (int i = 1; i < n; i++)
        if (!strncmp(rest[i], "--signing-secret", 16))
            wipe_signing_secret(cfg);
    rc = hw_opt_parse_args(recv_options, cfg, n, rest, 1, "receiver", NULL, NULL);
    if (rc < 0)
        exit(2);
    if (rc < n)
        hw_opt_die("unexpected argument \"%s\" (see --help)", rest[rc]);
    free(rest);
    /* Values from the command line are checked here; the file's already were. */
    for (const struct hw_opt *o = recv_options; o->name; o++) {
        const char *why = check_option(cfg, o->name, err, sizeof(err));

        if (why)
            hw_opt_die("--%s", why);
    }
    /* Past max-held a body waits for room: one of max-body must fit. */
    if (cfg->max_held < cfg->max_body)
        hw_opt_die("max-held: must be at least max-body (%zu bytes)", cfg->max_body);
    /* A lease shorter than one attempt would hand the event to another instance mid-attempt. */
    if (cfg->lease_ms <= cfg->deliver_timeout_ms)
        hw_opt_die("lease: must be longer than deliver-timeout (%u ms)", cfg->deliver_timeout_ms);
    if (recv_sources_finalize(&cfg->sources) < 0)
        exit(2);
    /* Twilio signs the URL it posts to; without it no request could verify. */
    for (const struct recv_source *s = cfg->sources.head; s; s = s->next)
        if (!strcmp(s->provider, "twilio") && !s->has_public_url && !cfg->public_url)
            hw_opt_die(
                "%s:%d: [source %s] provider = twilio signs the public URL: set public-url in "
                "[receiver] (the URL Twilio posts to, e.g. https://www.example.com)",
                cfg->config_path, s->line, s->name);
    if (!cfg->sources.n)
        hw_opt_die(
            "no sources: add a [source NAME] section to the --config file (docs/receiver.md)");
    if (!cfg->signing_secret)
        hw_opt_die("signing-secret: missing (the key that signs deliveries; docs/receiver.md)");
    {
        const char *why = NULL;

        if (hw_signer_new(cfg->signing_secret, &cfg->signer, &why) < 0)
            hw_opt_die("signing-secret: %s", why);
        wipe_signing_secret(cfg);
    }
}

void recv_config_cleanup(struct recv_config *cfg)
{
    wipe_signing_secret(cfg);
    hw_opt_cleanup(recv_options, cfg);
    hw_signer_free(cfg->signer);
    recv_sources_cleanup(&cfg->sources);
    free(cfg->config_path);
    memset(cfg, 0, sizeof(*cfg));
}
