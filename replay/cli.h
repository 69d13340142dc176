#ifndef REPLAY_CLI_H
#define REPLAY_CLI_H

/*
 * The replay command line: the options every command may take, each
 * command's own options and positional arguments, the usage texts, and
 * where the store URL (and the signing secret) come from: --store, the
 * [receiver] or [relay] section of --config FILE, or HOOKWIRE_STORE.
 * Main thread.
 */
#include <stdint.h>
#include <stdio.h>

/* Exit codes of every command. */
#define REPLAY_EXIT_OK    0
#define REPLAY_EXIT_ERR   1
#define REPLAY_EXIT_USAGE 2

/* Options a command accepts (bits of struct replay_cmd.accepts). */
enum {
    REPLAY_OPT_FILTERS = 1 << 0, /* --source --since --until --path */
    REPLAY_OPT_LIMIT = 1 << 1,
    REPLAY_OPT_JSON = 1 << 2,
    REPLAY_OPT_BODY = 1 << 3,
    REPLAY_OPT_FAILED = 1 << 4,
    REPLAY_OPT_DRY_RUN = 1 << 5,
    REPLAY_OPT_FORCE = 1 << 6,
    REPLAY_OPT_DELIVER = 1 << 7, /* --to --signing-secret --timeout --ca-file */
    REPLAY_OPT_BEFORE = 1 << 8,
    REPLAY_OPT_STATUS = 1 << 9,
};

struct hw_store;

struct replay_opts {
    const char *store;  /* --store, else from --config, else HOOKWIRE_STORE */
    const char *config; /* --config FILE */
    int verbose;        /* --verbose: the store's own log lines on stderr */

    int status; /* enum hw_store_status, 0 for any; -1 when not given */
    const char *source;
    const char *path;
    int64_t since_ms, until_ms; /* 0: no bound */
    long limit;                 /* -1 when not given; 0 means no limit */
    int json, body, failed, dry_run, force;
    const char *to;
    const char *signing_secret; /* as given: a value, env:NAME or file:PATH */
    unsigned timeout_ms;
    const char *ca_file; /* --ca-file: CAs for an https:// --to */
    int64_t before_ms;   /* --before; 0 when not given */

    struct hw_store *st; /* opened by main before the command runs */
    char **args;         /* positional arguments (strings borrowed from argv) */
    int nargs;
};

struct replay_cmd {
    const char *name;
    const char *synopsis; /* "ID [--body]" */
    const char *summary;  /* one line */
    const char *help;     /* the command's --help body */
    unsigned accepts;
    int (*run)(const struct replay_cmd *cmd, struct replay_opts *o);
};

/*
 * Prints "hookwire-replay: " + the message + "\n" to stderr: every error
 * the program reports is this one line.
 */
void replay_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Parses argv[start..argc) for cmd into *o (argv borrowed), with now_ms
 * for ages. "--help" prints the command's help to stdout and returns
 * REPLAY_EXIT_OK with *done = 1. A usage error prints one line and returns
 * REPLAY_EXIT_USAGE with *done = 1. Otherwise returns 0 and *done = 0.
 */
int replay_cli_parse(const struct replay_cmd *cmd, int argc, char **argv, int start, int64_t now_ms,
                     struct replay_opts *o, int *done);

/* Prints the program's usage (commands and common options) to f. */
void replay_cli_usage(FILE *f, const struct replay_cmd *cmds);

/* Prints one command's help to f. */
void replay_cli_cmd_help(FILE *f, const struct replay_cmd *cmd);

/*
 * Reads one key of the [receiver] section, or else the [relay] section, of
 * the config file at path (keys may be written with '-' or '_') and
 * resolves env:/file: values. Returns an owned string (the caller frees
 * it, and wipes a secret), or NULL with a one-line reason in err (the file
 * cannot be read, or it has no such key).
 */
char *replay_config_key(const char *path, const char *key, char *err, size_t errlen);

/*
 * The store URL for *o: --store, else the config file's store, else
 * HOOKWIRE_STORE. Returns an owned string, or NULL after printing one line
 * (exit status REPLAY_EXIT_USAGE). *hidden is set when the config file's
 * value was read through env: or file: (a secret's place): such a value is
 * never echoed in a message.
 */
char *replay_store_url(const struct replay_opts *o, int *hidden);

#endif
