/*
 * The replay command line (cli.h): one parser for every command's options,
 * the usage texts, and the store URL from --store, a daemon's config file
 * (read with inih, the same file the receiver or relay reads) or
 * HOOKWIRE_STORE. Main thread.
 */
#include "cli.h"

#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/opt.h"
#include "store/store.h"
#include "when.h"

/* Largest --limit: a bigger listing is better had with --json and paging by --until. */
#define LIMIT_MAX 10000000L

void replay_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("hookwire-replay: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

struct flag {
    const char *name;
    unsigned bit; /* 0: accepted by every command */
    int takes_value;
};

static const struct flag flags[] = {
    { "store", 0, 1 },
    { "config", 0, 1 },
    { "verbose", 0, 0 },
    { "status", REPLAY_OPT_STATUS, 1 },
    { "source", REPLAY_OPT_FILTERS, 1 },
    { "since", REPLAY_OPT_FILTERS, 1 },
    { "until", REPLAY_OPT_FILTERS, 1 },
    { "path", REPLAY_OPT_FILTERS, 1 },
    { "limit", REPLAY_OPT_LIMIT, 1 },
    { "json", REPLAY_OPT_JSON, 0 },
    { "body", REPLAY_OPT_BODY, 0 },
    { "failed", REPLAY_OPT_FAILED, 0 },
    { "dry-run", REPLAY_OPT_DRY_RUN, 0 },
    { "force", REPLAY_OPT_FORCE, 0 },
    { "to", REPLAY_OPT_DELIVER, 1 },
    { "signing-secret", REPLAY_OPT_DELIVER, 1 },
    { "timeout", REPLAY_OPT_DELIVER, 1 },
    { "ca-file", REPLAY_OPT_DELIVER, 1 },
    { "before", REPLAY_OPT_BEFORE, 1 },
    { NULL, 0, 0 },
};

static int usage_error(const struct replay_cmd *cmd, int *done, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int usage_error(const struct replay_cmd *cmd, int *done, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    replay_fail("%s: %s (see hookwire-replay %s --help)", cmd->name, msg, cmd->name);
    *done = 1;
    return REPLAY_EXIT_USAGE;
}

/* Applies one option; returns NULL or a reason. */
static const char *apply(const struct replay_cmd *cmd, struct replay_opts *o, const char *name,
                         const char *v, int64_t now_ms)
{
    char *end;

    if (!strcmp(name, "store"))
        o->store = v;
    else if (!strcmp(name, "config"))
        o->config = v;
    else if (!strcmp(name, "verbose"))
        o->verbose = 1;
    else if (!strcmp(name, "status")) {
        if (!strcmp(v, "all"))
            o->status = 0;
        else if ((o->status = hw_store_status_parse(v)) < 0)
            return "--status: expected pending, delivered, failed or all";
    } else if (!strcmp(name, "source")) {
        if (!*v || strlen(v) > HW_STORE_NAME_MAX)
            return "--source: expected a source name";
        o->source = v;
    } else if (!strcmp(name, "since")) {
        if (replay_when_parse(v, now_ms, &o->since_ms) < 0 || o->since_ms <= 0)
            return "--since: expected an age (2h, 3d) or an ISO 8601 time";
    } else if (!strcmp(name, "until")) {
        if (replay_when_parse(v, now_ms, &o->until_ms) < 0 || o->until_ms <= 0)
            return "--until: expected an age (2h, 3d) or an ISO 8601 time";
    } else if (!strcmp(name, "before")) {
        if (replay_when_parse(v, now_ms, &o->before_ms) < 0 || o->before_ms <= 0)
            return "--before: expected an age (30d) or an ISO 8601 time";
    } else if (!strcmp(name, "path")) {
        o->path = v;
    } else if (!strcmp(name, "limit")) {
        o->limit = strtol(v, &end, 10);
        if (end == v || *end || o->limit < 0 || o->limit > LIMIT_MAX)
            return "--limit: expected a number from 0 (no limit) to 10000000";
    } else if (!strcmp(name, "json"))
        o->json = 1;
    else if (!strcmp(name, "body"))
        o->body = 1;
    else if (!strcmp(name, "failed"))
        o->failed = 1;
    else if (!strcmp(name, "dry-run"))
        o->dry_run = 1;
    else if (!strcmp(name, "force"))
        o->force = 1;
    else if (!strcmp(name, "to"))
        o->to = v;
    else if (!strcmp(name, "signing-secret"))
        o->signing_secret = v;
    else if (!strcmp(name, "ca-file"))
        o->ca_file = v;
    else if (!strcmp(name, "timeout")) {
        if (hw_opt_parse_duration(v, &o->timeout_ms) < 0 || o->timeout_ms < 100 ||
            o->timeout_ms > 600000)
            return "--timeout: expected a duration from 100ms to 10m";
    }
    (void)cmd;
    return NULL;
}

int replay_cli_parse(const struct replay_cmd *cmd, int argc, char **argv, int start, int64_t now_ms,
                     struct replay_opts *o, int *done)
{
    int only_args = 0;

    *done = 0;
    o->nargs = 0;
    o->args = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*o->args));
    if (!o->args) {
        replay_fail("out of memory");
        *done = 1;
        return REPLAY_EXIT_ERR;
    }
    for (int i = start; i < argc; i++) {
        const char *a = argv[i], *eq, *v = NULL, *why;
        const struct flag *f;
        size_t n;

        if (only_args || a[0] != '-' || !a[1]) {
            o->args[o->nargs++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            replay_cli_cmd_help(stdout, cmd);
            *done = 1;
            return REPLAY_EXIT_OK;
        }
        if (strncmp(a, "--", 2))
            return usage_error(cmd, done, "unknown option %s", a);
        eq = strchr(a + 2, '=');
        n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        for (f = flags; f->name; f++)
            if (strlen(f->name) == n && !strncmp(f->name, a + 2, n))
                break;
        if (!f->name || (f->bit && !(cmd->accepts & f->bit)))
            return usage_error(cmd, done, "unknown option %.*s", (int)(n + 2), a);
        if (f->takes_value) {
            if (eq)
                v = eq + 1;
            else if (i + 1 < argc)
                v = argv[++i];
            else
                return usage_error(cmd, done, "--%s needs a value", f->name);
        } else if (eq) {
            return usage_error(cmd, done, "--%s takes no value", f->name);
        }
        if ((why = apply(cmd, o, f->name, v, now_ms)))
            return usage_error(cmd, done, "%s", why);
    }
    if (o->since_ms && o->until_ms && o->since_ms >= o->until_ms)
        return usage_error(cmd, done, "--since must be before --until");
    return 0;
}

void replay_cli_usage(FILE *f, const struct replay_cmd *cmds)
{
    fprintf(f, "usage: hookwire-replay COMMAND [OPTIONS]\n\n"
               "Find, inspect and re-deliver the webhooks in a hookwire event store.\n\n"
               "commands:\n");
    for (const struct replay_cmd *c = cmds; c->name; c++)
        fprintf(f, "  %s %s\n      %s\n", c->name, c->synopsis, c->summary);
    fprintf(f, "\nthe store (every command):\n"
               "  --store URL     sqlite:PATH or mysql://USER[:PASS]@HOST[:PORT]/DB\n"
               "  --config FILE   a receiver's or relay's config file: its store key\n"
               "                  (otherwise HOOKWIRE_STORE; a MySQL password may come from\n"
               "                  HOOKWIRE_MYSQL_PASSWORD)\n"
               "  --verbose       the store's own log lines on stderr\n\n"
               "exit status: 0 done, 1 error, 2 usage. hookwire-replay COMMAND --help for more.\n");
}

void replay_cli_cmd_help(FILE *f, const struct replay_cmd *cmd)
{
    fprintf(f, "usage: hookwire-replay %s %s\n\n%s\n\n%s", cmd->name, cmd->synopsis, cmd->summary,
            cmd->help);
    fprintf(f, "\nthe store: --store URL, --config FILE or HOOKWIRE_STORE; --verbose for the\n"
               "store's log lines. Exit status: 0 done, 1 error, 2 usage.\n");
}

struct key_search {
    const char *key;
    char *receiver; /* the value in [receiver] */
    char *relay;    /* the value in [relay] */
    int unclosed;   /* the key's value opens a quote it does not close */
};

/* "signing-secret" matches "signing_secret" too, as in the daemons' files. */
static int key_is(const char *name, const char *key)
{
    for (; *name && *key; name++, key++)
        if (*name != *key && !((*name == '_' || *name == '-') && (*key == '_' || *key == '-')))
            return 0;
    return *name == *key;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct key_search *k = user;
    char **slot = !strcmp(section, "receiver") ? &k->receiver
                  : !strcmp(section, "relay")  ? &k->relay
                                               : NULL;

    if (slot && key_is(name, k->key)) {
        char plain[4096];
        const char *inside = hw_opt_unquote(value, plain, sizeof(plain));

        /* The daemon refuses such a value: inih cut it, so it is not what was written. */
        if (!inside) {
            k->unclosed = 1;
            return 0;
        }
        free(*slot);
        /* Read as the daemon reads it: one pair of quotes around the value is not part of it. */
        *slot = strdup(inside);
    }
    return 1; /* the daemon checks the rest of its file; this reads one key */
}

/* replay_config_key(), and whether the value was read through env: or file: (*indirect). */
static char *config_key(const char *path, const char *key, char *err, size_t errlen, int *indirect)
{
    struct key_search k = { key, NULL, NULL, 0 };
    char *v, *out = NULL;
    int rc = ini_parse(path, on_key, &k);

    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot read the config file", path);
        goto done;
    }
    if (rc > 0 && k.unclosed) {
        snprintf(err, errlen, "%s:%d: %s: " HW_OPT_UNCLOSED, path, rc, key);
        goto done;
    }
    if (rc > 0) {
        snprintf(err, errlen, "%s:%d: not a valid config line", path, rc);
        goto done;
    }
    v = k.receiver ? k.receiver : k.relay;
    if (!v) {
        snprintf(err, errlen, "%s: no %s key in [receiver] or [relay]", path, key);
        goto done;
    }
    *indirect = !strncmp(v, "env:", 4) || !strncmp(v, "file:", 5);
    out = hw_opt_resolve(v, err, errlen);
done:
    free(k.receiver);
    free(k.relay);
    return out;
}

char *replay_config_key(const char *path, const char *key, char *err, size_t errlen)
{
    int indirect;

    return config_key(path, key, err, errlen, &indirect);
}

char *replay_store_url(const struct replay_opts *o, int *hidden)
{
    char err[512];
    const char *env = getenv("HOOKWIRE_STORE");
    char *url;

    *hidden = 0;
    if (o->store)
        url = strdup(o->store);
    else if (o->config) {
        url = config_key(o->config, "store", err, sizeof(err), hidden);
        if (!url) {
            replay_fail("%s", err);
            return NULL;
        }
    } else if (env && *env)
        url = strdup(env);
    else {
        replay_fail("no store: give --store URL, --config FILE or HOOKWIRE_STORE");
        return NULL;
    }
    if (!url)
        replay_fail("out of memory");
    return url;
}
