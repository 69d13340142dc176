/*
 * Unit tests for common/core/opt.c and opt_ini.c: defaults, the command line
 * ("--name value", "--name=value", boolean flags, --help, --config where it
 * appears), INI files with a main section and other sections, the one-line
 * error messages ("file:line: reason" for configs), env: and file: values, and
 * the size, duration and boolean parsers. Error output is captured by pointing
 * stderr at a temporary file. Single-threaded.
 */
#include "core/opt.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/err.h"

struct cfg {
    char *listen;
    unsigned workers;
    size_t max_body;
    unsigned timeout_ms;
    int verbose;
    char *token;
};

static const struct hw_opt opts[] = {
    { "listen", "HOST:PORT", ":8080", "address to listen on", HW_OPT_STR,
      offsetof(struct cfg, listen) },
    { "workers", "N", "4", "worker count", HW_OPT_UINT, offsetof(struct cfg, workers) },
    { "max-body", "SIZE", "25M", "largest body", HW_OPT_SIZE, offsetof(struct cfg, max_body) },
    { "timeout", "DURATION", "10s", "request timeout", HW_OPT_DURATION,
      offsetof(struct cfg, timeout_ms) },
    { "verbose", NULL, "false", "log more", HW_OPT_BOOL, offsetof(struct cfg, verbose) },
    { "token", "SECRET", NULL, "tunnel token", HW_OPT_STR, offsetof(struct cfg, token) },
    { NULL, NULL, NULL, NULL, HW_OPT_STR, 0 },
};

/* ---- stderr capture and temporary files ---- */

static char captured[8192];
static FILE *capture_file;
static int saved_stderr = -1;

static void capture_begin(void)
{
    fflush(stderr);
    capture_file = tmpfile();
    CHECK(capture_file != NULL);
    saved_stderr = dup(2);
    CHECK(saved_stderr >= 0);
    CHECK(dup2(fileno(capture_file), 2) == 2);
}

/* Restores stderr and returns everything written to it since capture_begin(). */
static const char *capture_end(void)
{
    size_t n;

    fflush(stderr);
    CHECK(dup2(saved_stderr, 2) == 2);
    close(saved_stderr);
    saved_stderr = -1;
    rewind(capture_file);
    n = fread(captured, 1, sizeof(captured) - 1, capture_file);
    captured[n] = '\0';
    fclose(capture_file);
    capture_file = NULL;
    return captured;
}

#define MAX_TEMPS 64

static char temp_paths[MAX_TEMPS][64];
static size_t ntemps;

/* Writes text to a new temporary file and returns its path (removed at exit). */
/* A temporary file of len bytes (NULs included); removed at the end. */
static const char *temp_bytes(const char *text, size_t len)
{
    char *path;
    int fd;

    CHECK(ntemps < MAX_TEMPS);
    path = temp_paths[ntemps++];
    snprintf(path, sizeof(temp_paths[0]), "/tmp/hw-test-opt-XXXXXX");
    fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, text, len), (long long)len);
    close(fd);
    return path;
}

static const char *temp_file(const char *text)
{
    return temp_bytes(text, strlen(text));
}

static void remove_temps(void)
{
    for (size_t i = 0; i < ntemps; i++)
        unlink(temp_paths[i]);
}

/* A failed CHECK aborts: remove the temporary files first (unlink is signal-safe). */
static void on_abort(int sig)
{
    remove_temps();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- helpers ---- */

static void defaults(struct cfg *c)
{
    memset(c, 0, sizeof(*c));
    CHECK_EQ(hw_opt_defaults(opts, c), 0);
}

struct section_log {
    char lines[16][128];
    char where[16][256]; /* the section header's FILE:LINE, per key */
    size_t n;
    int fail_key; /* reject the key "bad" with a reason */
};

static int on_section(void *ctx, const char *where, const char *section, const char *key,
                      const char *value, char *err, size_t errlen)
{
    struct section_log *log = ctx;

    if (log->fail_key && strcmp(key, "bad") == 0) {
        snprintf(err, errlen, "%s: bad key", section);
        return HW_EINVAL;
    }
    CHECK(log->n < 16);
    snprintf(log->where[log->n], sizeof(log->where[0]), "%s", where);
    snprintf(log->lines[log->n++], sizeof(log->lines[0]), "%s|%s|%s", section, key, value);
    return 0;
}

/* Runs hw_opt_parse_args on a NULL-terminated list (argv[0] is the program). */
static int parse(struct cfg *c, const char *const *args, const char **err_out,
                 struct section_log *log)
{
    char *argv[32];
    int argc = 0, rc;

    while (args[argc]) {
        CHECK(argc < 31);
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    capture_begin();
    rc = hw_opt_parse_args(opts, c, argc, argv, 1, "relay", log ? on_section : NULL, log);
    *err_out = capture_end();
    return rc;
}

static int load(struct cfg *c, const char *path, struct section_log *log, const char **err_out)
{
    int rc;

    capture_begin();
    rc = hw_opt_load_ini(opts, c, path, "relay", log ? on_section : NULL, log);
    *err_out = capture_end();
    return rc;
}

/* ---- tests ---- */

static void test_defaults(void)
{
    static const struct hw_opt bad[] = {
        { "workers", "N", "many", "worker count", HW_OPT_UINT, offsetof(struct cfg, workers) },
        { NULL, NULL, NULL, NULL, HW_OPT_STR, 0 },
    };
    struct cfg c;

    defaults(&c);
    CHECK_STR(c.listen, ":8080");
    CHECK_EQ(c.workers, 4);
    CHECK_EQ(c.max_body, 25u * 1024 * 1024);
    CHECK_EQ(c.timeout_ms, 10000);
    CHECK_EQ(c.verbose, 0);
    CHECK(c.token == NULL);
    hw_opt_cleanup(opts, &c);
    CHECK(c.listen == NULL);
    CHECK(c.token == NULL);

    memset(&c, 0, sizeof(c));
    CHECK_EQ(hw_opt_defaults(bad, &c), HW_EINVAL);
}

static void test_command_line(void)
{
    static const char *const args[] = {
        "prog", "--listen",        "127.0.0.1:9000", "--workers=8", "--verbose", "--max-body",
        "1K",   "--timeout=500ms", "serve",          "--workers",   "99",        NULL
    };
    static const char *const all[] = { "prog", "--token", "t0k3n", "--verbose=false", NULL };
    static const char *const flag_then_opt[] = { "prog", "--verbose", "--workers", "2", NULL };
    const char *err;
    struct cfg c;

    defaults(&c);
    /* Stops at the first argument that is not an option and returns its index. */
    CHECK_EQ(parse(&c, args, &err, NULL), 8);
    CHECK_STR(err, "");
    CHECK_STR(c.listen, "127.0.0.1:9000");
    CHECK_EQ(c.workers, 8);
    CHECK_EQ(c.verbose, 1);
    CHECK_EQ(c.max_body, 1024);
    CHECK_EQ(c.timeout_ms, 500);
    hw_opt_cleanup(opts, &c);

    defaults(&c);
    c.verbose = 1;
    CHECK_EQ(parse(&c, all, &err, NULL), 4); /* argc when every argument was an option */
    CHECK_STR(c.token, "t0k3n");
    CHECK_EQ(c.verbose, 0);
    CHECK_STR(c.listen, ":8080"); /* untouched options keep their defaults */
    hw_opt_cleanup(opts, &c);

    /* A boolean flag does not swallow the next argument. */
    defaults(&c);
    CHECK_EQ(parse(&c, flag_then_opt, &err, NULL), 4);
    CHECK_EQ(c.verbose, 1);
    CHECK_EQ(c.workers, 2);
    hw_opt_cleanup(opts, &c);

    /* Setting a string twice frees the first value (the sanitizer build checks). */
    defaults(&c);
    {
        static const char *const twice[] = { "prog", "--listen", "a:1", "--listen=b:2", NULL };
        CHECK_EQ(parse(&c, twice, &err, NULL), 4);
        CHECK_STR(c.listen, "b:2");
    }
    hw_opt_cleanup(opts, &c);
}

static void test_command_line_errors(void)
{
    static const char *const unknown[] = { "prog", "--workers", "2", "--nope", "x", NULL };
    static const char *const unknown_eq[] = { "prog", "--nope=1", NULL };
    static const char *const missing[] = { "prog", "--workers", NULL };
    static const char *const bad[] = { "prog", "--workers", "lots", NULL };
    static const char *const bad_size[] = { "prog", "--max-body=1T", NULL };
    static const char *const help[] = { "prog", "--workers", "2", "--help", "--nope", NULL };
    static const char *const config_missing[] = { "prog", "--config", NULL };
    const char *err;
    struct cfg c;

    defaults(&c);
    CHECK_EQ(parse(&c, unknown, &err, NULL), HW_ECONFIG);
    CHECK_STR(err, "unknown option --nope (see --help)\n");
    CHECK_EQ(parse(&c, unknown_eq, &err, NULL), HW_ECONFIG);
    CHECK_STR(err, "unknown option --nope (see --help)\n");
    CHECK_EQ(parse(&c, missing, &err, NULL), HW_ECONFIG);
    CHECK_STR(err, "--workers needs a value (N)\n");
    CHECK_EQ(parse(&c, bad, &err, NULL), HW_ECONFIG);
    CHECK_STR(err, "--workers: invalid value for workers: \"lots\"\n");
    CHECK_EQ(parse(&c, bad_size, &err, NULL), HW_ECONFIG);
    CHECK_STR(err, "--max-body: invalid value for max-body: \"1T\"\n");
    CHECK_EQ(c.max_body, 25u * 1024 * 1024);
    /* --help wins wherever it is, before later errors are seen. */
    CHECK_EQ(parse(&c, help, &err, NULL), HW_EEXIST);
    CHECK_STR(err, "");
    CHECK_EQ(parse(&c, config_missing, &err, NULL), HW_ECONFIG);
    CHECK_STR(err, "--config needs a file\n");
    hw_opt_cleanup(opts, &c);
}

static void test_set(void)
{
    char err[128];
    struct cfg c;

    defaults(&c);
    CHECK_EQ(hw_opt_set(opts, &c, "workers", "16", err, sizeof(err)), 0);
    CHECK_EQ(c.workers, 16);
    CHECK_EQ(hw_opt_set(opts, &c, "workers", "4294967295", err, sizeof(err)), 0);
    CHECK_EQ(c.workers, 4294967295u);
    CHECK_EQ(hw_opt_set(opts, &c, "workers", "4294967296", err, sizeof(err)), HW_EINVAL);
    CHECK_EQ(hw_opt_set(opts, &c, "workers", "-1", err, sizeof(err)), HW_EINVAL);
    CHECK_EQ(hw_opt_set(opts, &c, "workers", "12x", err, sizeof(err)), HW_EINVAL);
    CHECK_EQ(hw_opt_set(opts, &c, "workers", "", err, sizeof(err)), HW_EINVAL);
    CHECK_STR(err, "invalid value for workers: \"\"");
    CHECK_EQ(c.workers, 4294967295u);
    CHECK_EQ(hw_opt_set(opts, &c, "worker", "1", err, sizeof(err)), HW_ENOTFOUND);
    CHECK_STR(err, "unknown option \"worker\"");
    /* Option names match whole, not by prefix. */
    CHECK_EQ(hw_opt_set(opts, &c, "workersx", "1", err, sizeof(err)), HW_ENOTFOUND);
    hw_opt_cleanup(opts, &c);
}

/* Two configs compared option by option, of every type, with names left out on request. */
static void test_diff(void)
{
    static const char *const skip[] = { "token", NULL };
    char err[128], out[128];
    struct cfg a, b;

    defaults(&a);
    defaults(&b);
    CHECK_EQ(hw_opt_diff(opts, &a, &b, NULL, out, sizeof(out)), 0);
    CHECK_STR(out, "");
    CHECK_EQ(hw_opt_set(opts, &b, "listen", ":9090", err, sizeof(err)), 0);
    CHECK_EQ(hw_opt_set(opts, &b, "max-body", "1M", err, sizeof(err)), 0);
    CHECK_EQ(hw_opt_set(opts, &b, "timeout", "3s", err, sizeof(err)), 0);
    CHECK_EQ(hw_opt_set(opts, &b, "verbose", "true", err, sizeof(err)), 0);
    CHECK_EQ(hw_opt_set(opts, &b, "token", "t", err, sizeof(err)), 0);
    CHECK_EQ(hw_opt_diff(opts, &a, &b, NULL, out, sizeof(out)), 5);
    CHECK_STR(out, "listen, max-body, timeout, verbose, token");
    CHECK_EQ(hw_opt_diff(opts, &a, &b, skip, out, sizeof(out)), 4);
    CHECK_STR(out, "listen, max-body, timeout, verbose");
    /* The same value set again is no change; a short buffer still counts them all. */
    CHECK_EQ(hw_opt_set(opts, &a, "listen", ":9090", err, sizeof(err)), 0);
    CHECK_EQ(hw_opt_set(opts, &a, "workers", "4", err, sizeof(err)), 0);
    CHECK_EQ(hw_opt_diff(opts, &a, &b, skip, out, 8), 3);
    CHECK_STR(out, "max-bod");
    hw_opt_cleanup(opts, &a);
    hw_opt_cleanup(opts, &b);
}

static void test_config_file(void)
{
    const char *path = temp_file("; a comment\n"
                                 "[relay]\n"
                                 "listen = 0.0.0.0:7000\n"
                                 "workers = 3\n"
                                 "timeout = 2m\n"
                                 "\n"
                                 "[channel alice]\n"
                                 "token = abc\n"
                                 "target = http://localhost:3000\n"
                                 "[channel bob]\n"
                                 "token = def\n");
    const char *args[8] = { "prog", "--config", path, "--workers", "9", NULL };
    const char *args_eq[8] = { "prog", "--workers", "9", NULL, NULL };
    char config_eq[96], where[256];
    struct section_log log;
    const char *err;
    struct cfg c;

    defaults(&c);
    memset(&log, 0, sizeof(log));
    CHECK_EQ(load(&c, path, &log, &err), 0);
    CHECK_STR(err, "");
    CHECK_STR(c.listen, "0.0.0.0:7000");
    CHECK_EQ(c.workers, 3);
    CHECK_EQ(c.timeout_ms, 120000);
    CHECK_EQ(c.max_body, 25u * 1024 * 1024);
    CHECK_EQ(log.n, 3);
    CHECK_STR(log.lines[0], "channel alice|token|abc");
    CHECK_STR(log.lines[1], "channel alice|target|http://localhost:3000");
    CHECK_STR(log.lines[2], "channel bob|token|def");
    /* Each key knows its section's header line (for errors found after the file is read). */
    snprintf(where, sizeof(where), "%s:7", path);
    CHECK_STR(log.where[0], where);
    CHECK_STR(log.where[1], where);
    snprintf(where, sizeof(where), "%s:10", path);
    CHECK_STR(log.where[2], where);
    hw_opt_cleanup(opts, &c);

    /* Flags after the file win over it ... */
    defaults(&c);
    memset(&log, 0, sizeof(log));
    CHECK_EQ(parse(&c, args, &err, &log), 5);
    CHECK_EQ(c.workers, 9);
    CHECK_STR(c.listen, "0.0.0.0:7000");
    CHECK_EQ(log.n, 3);
    hw_opt_cleanup(opts, &c);

    /* ... and earlier flags win over the file too (the command line wins whatever the order);
     * "--config=FILE" works too. */
    defaults(&c);
    memset(&log, 0, sizeof(log));
    snprintf(config_eq, sizeof(config_eq), "--config=%s", path);
    args_eq[3] = config_eq;
    CHECK_EQ(parse(&c, args_eq, &err, &log), 4);
    CHECK_EQ(c.workers, 9);
    hw_opt_cleanup(opts, &c);
}

/* What people write: quoted values, -h, --version, a refused key, a value that looks numeric. */
static void test_cli_forms(void)
{
    static const struct hw_opt with_refused[] = {
        { "listen", "HOST:PORT", ":8080", "address", HW_OPT_STR, offsetof(struct cfg, listen) },
        { "secret", NULL, NULL, "secrets go in a file: use secret-file", HW_OPT_REFUSED, 0 },
        { NULL, NULL, NULL, NULL, HW_OPT_STR, 0 },
    };
    const char *quoted = temp_file("[relay]\n"
                                   "listen = \"127.0.0.1:7000\"\n"
                                   "token = 'abc'\n"
                                   "workers = \"5\n");
    const char *h[] = { "prog", "-h", NULL };
    const char *version[] = { "prog", "--listen", "x:1", "--version", NULL };
    const char *positional[] = { "prog", "--listen", "1234", "3000", NULL };
    char err[256];
    const char *out;
    struct cfg c;

    defaults(&c);
    /* One pair of matching quotes goes; an unclosed double quote is refused: inih cut the
     * value at " ;" (a comment to it, even inside quotes). */
    CHECK_EQ(load(&c, quoted, NULL, &out), HW_ECONFIG);
    CHECK_STR(c.listen, "127.0.0.1:7000");
    CHECK_STR(c.token, "abc");
    CHECK(strstr(out, ":4: workers: " HW_OPT_UNCLOSED "\n") != NULL);
    hw_opt_cleanup(opts, &c);
    {
        char buf[16];

        CHECK(hw_opt_unquote("\"abc", buf, sizeof(buf)) == NULL);
        CHECK(hw_opt_unquote("\"", buf, sizeof(buf)) == NULL);
        CHECK_STR(hw_opt_unquote("\"a ;b\"", buf, sizeof(buf)), "a ;b");
        /* Single quotes alike: inih cuts 'a ; b' as it cuts "a ; b". */
        CHECK(hw_opt_unquote("'abc", buf, sizeof(buf)) == NULL);
        CHECK(hw_opt_unquote("'abc\"", buf, sizeof(buf)) == NULL);
        CHECK_STR(hw_opt_unquote("'a ;b'", buf, sizeof(buf)), "a ;b");
        /* A quote inside a value is the value's. */
        CHECK_STR(hw_opt_unquote("it's", buf, sizeof(buf)), "it's");
    }

    defaults(&c);
    CHECK_EQ(parse(&c, h, &out, NULL), HW_EEXIST);
    CHECK_EQ(parse(&c, version, &out, NULL), HW_EVERSION);
    /* "1234" is --listen's value; "3000" is the first argument that is not an option. */
    CHECK_EQ(parse(&c, positional, &out, NULL), 3);
    CHECK_STR(c.listen, "1234");
    hw_opt_cleanup(opts, &c);

    CHECK_EQ(hw_opt_set(with_refused, &c, "secret", "x", err, sizeof(err)), HW_EINVAL);
    CHECK_STR(err, "secrets go in a file: use secret-file");
}

static void expect_message(const char *err, const char *path, const char *rest)
{
    char want[512];

    snprintf(want, sizeof(want), "%s:%s\n", path, rest);
    CHECK_STR(err, want);
}

static void test_config_errors(void)
{
    const char *bad_value = temp_file("[relay]\n"
                                      "listen = :1\n"
                                      "workers = lots\n"
                                      "timeout = soon\n");
    const char *unknown_key = temp_file("[relay]\n"
                                        "\n"
                                        "nope = 1\n");
    const char *other_section = temp_file("[relay]\n"
                                          "workers = 2\n"
                                          "[channel alice]\n"
                                          "token = abc\n");
    const char *callback_error = temp_file("[relay]\n"
                                           "[channel carol]\n"
                                           "token = x\n"
                                           "bad = y\n");
    const char *syntax = temp_file("[relay]\n"
                                   "workers = 2\n"
                                   "this line has no equals sign\n");
    const char *syntax_first = temp_file("[relay]\n"
                                         "this line has no equals sign\n"
                                         "workers = lots\n");
    char long_text[1024];
    const char *args[] = { "prog", "--config", bad_value, "--workers", "7", NULL };
    struct section_log log;
    const char *err;
    struct cfg c;

    defaults(&c);
    /* The first error is reported with its line; the process must not start. */
    CHECK_EQ(load(&c, bad_value, NULL, &err), HW_ECONFIG);
    expect_message(err, bad_value, "3: invalid value for workers: \"lots\"");
    CHECK_EQ(load(&c, unknown_key, NULL, &err), HW_ECONFIG);
    expect_message(err, unknown_key, "3: unknown option \"nope\"");
    /* Without a section callback, other sections are errors. */
    CHECK_EQ(load(&c, other_section, NULL, &err), HW_ECONFIG);
    expect_message(err, other_section, "4: unknown section [channel alice]");
    /* A section callback's own reason is shown. */
    memset(&log, 0, sizeof(log));
    log.fail_key = 1;
    CHECK_EQ(load(&c, callback_error, &log, &err), HW_ECONFIG);
    expect_message(err, callback_error, "4: channel carol: bad key");
    CHECK_EQ(load(&c, syntax, NULL, &err), HW_ECONFIG);
    expect_message(err, syntax, "3: syntax error");
    /* The line and the reason belong to the same error. */
    CHECK_EQ(load(&c, syntax_first, NULL, &err), HW_ECONFIG);
    expect_message(err, syntax_first, "2: syntax error");
    /* A line longer than inih's buffer is named, not cut into a second "line". */
    snprintf(long_text, sizeof(long_text), "[relay]\nworkers = 2\ntoken = %0600d\n", 7);
    const char *long_line = temp_file(long_text);
    CHECK_EQ(load(&c, long_line, NULL, &err), HW_ECONFIG);
    CHECK(strstr(err, ":3: line longer than ") != NULL);
    /* A NUL byte is named at its line, not read as the end of the line's text. */
    static const char nul_text[] = "[relay]\nworkers = 2\nlisten = 127.0.0.1:1\0junk\n";
    const char *nul = temp_bytes(nul_text, sizeof(nul_text) - 1);
    CHECK_EQ(load(&c, nul, NULL, &err), HW_ECONFIG);
    expect_message(err, nul, "3: a NUL byte: a config file is text");
    /* CR line ends would make the file one line; text after a header's ']' would be dropped. */
    const char *cr_only = temp_file("[relay]\rworkers = 2\r");
    CHECK_EQ(load(&c, cr_only, NULL, &err), HW_ECONFIG);
    expect_message(err, cr_only, "1: a CR without LF: lines end in LF or CRLF");
    const char *after = temp_file("[relay]\nworkers = 2\n[channel a] token = x\n");
    CHECK_EQ(load(&c, after, &log, &err), HW_ECONFIG);
    expect_message(err, after,
                   "3: text after the section header's ']': put each key on a line of its own");
    /* CRLF line ends and a comment after a header are fine. */
    const char *crlf_ok = temp_file("[relay] ; the daemon\r\nworkers = 4\r\n");
    CHECK_EQ(load(&c, crlf_ok, NULL, &err), 0);
    CHECK_EQ(c.workers, 4);
    /* A directory opens and would read as an empty file. */
    CHECK_EQ(load(&c, "/", NULL, &err), HW_ECONFIG);
    CHECK_STR(err, "cannot read /: Is a directory\n");
    CHECK_EQ(load(&c, "/nonexistent/hookwire.ini", NULL, &err), HW_ECONFIG);
    CHECK_STR(err, "cannot read /nonexistent/hookwire.ini: No such file or directory\n");
    /* Through the command line the same message is printed, once. */
    CHECK_EQ(parse(&c, args, &err, NULL), HW_ECONFIG);
    expect_message(err, bad_value, "3: invalid value for workers: \"lots\"");
    hw_opt_cleanup(opts, &c);
}

/* A key given twice in one section of a file is refused, except a rotated secret. */
static void test_config_twice(void)
{
    const char *main_twice = temp_file("[relay]\n"
                                       "workers = 2\n"
                                       "listen = :1\n"
                                       "workers = 3\n");
    const char *spelled_twice = temp_file("[channel a]\n"
                                          "path-prefix = /x\n"
                                          "path_prefix = /y\n");
    const char *section_twice = temp_file("[relay]\n"
                                          "[channel a]\n"
                                          "token = x\n"
                                          "token = y\n");
    const char *continued = temp_file("[relay]\n"
                                      "listen = :1\n"
                                      "  :2\n");
    const char *secret_continued = temp_file("[channel a]\n"
                                             "secret = one\n"
                                             "\ttwo\n");
    const char *allowed = temp_file("[relay]\n"
                                    "workers = 2\n"
                                    "[channel a]\n"
                                    "secret = one\n"
                                    "secret = two\n"
                                    "token = x\n"
                                    "[channel b]\n"
                                    "token = y\n");
    const char *later = temp_file("[relay]\n"
                                  "workers = 5\n");
    const char *args[] = { "prog", "--config", allowed, "--config", later, NULL };
    struct section_log log;
    const char *err;
    struct cfg c;

    defaults(&c);
    CHECK_EQ(load(&c, main_twice, NULL, &err), HW_ECONFIG);
    expect_message(err, main_twice, "4: workers is set twice in [relay] (first on line 2)");
    memset(&log, 0, sizeof(log));
    CHECK_EQ(load(&c, spelled_twice, &log, &err), HW_ECONFIG);
    expect_message(err, spelled_twice,
                   "3: path_prefix is set twice in [channel a] (first on line 2)");
    memset(&log, 0, sizeof(log));
    CHECK_EQ(load(&c, section_twice, &log, &err), HW_ECONFIG);
    expect_message(err, section_twice, "4: token is set twice in [channel a] (first on line 3)");
    CHECK_EQ(log.n, 1);
    CHECK_STR(log.lines[0], "channel a|token|x");
    /* inih hands an indented line over as the key above again: named, not taken. */
    CHECK_EQ(load(&c, continued, NULL, &err), HW_ECONFIG);
    expect_message(err, continued,
                   "3: an indented line continues the value of listen: put it "
                   "on one line");
    memset(&log, 0, sizeof(log));
    CHECK_EQ(load(&c, secret_continued, &log, &err), HW_ECONFIG);
    expect_message(err, secret_continued,
                   "3: an indented line continues the value of secret: put it on one line");
    /* A secret may repeat (rotation); the same key in two sections is two keys. */
    memset(&log, 0, sizeof(log));
    CHECK_EQ(load(&c, allowed, &log, &err), 0);
    CHECK_STR(err, "");
    CHECK_EQ(log.n, 4);
    CHECK_STR(log.lines[1], "channel a|secret|two");
    CHECK_STR(log.lines[3], "channel b|token|y");
    /* Each file is read on its own: a later file may set what an earlier one did. */
    memset(&log, 0, sizeof(log));
    CHECK_EQ(parse(&c, args, &err, &log), 5);
    CHECK_STR(err, "");
    CHECK_EQ(c.workers, 5);
    hw_opt_cleanup(opts, &c);
}

static void test_env_and_file_values(void)
{
    const char *secret = temp_file("s3cret-from-file\n");
    const char *crlf = temp_file("line one\nline two\r\n\r\n");
    const char *workers = temp_file("12\n");
    char *big = malloc(70000);
    const char *big_path;
    char arg[96], err[256], *v;
    struct cfg c;

    CHECK(big != NULL);
    memset(big, 'k', 69999);
    big[69999] = '\0';
    big_path = temp_file(big);
    free(big);
    CHECK_EQ(setenv("HW_TEST_OPT_TOKEN", "s3cret-from-env", 1), 0);
    CHECK_EQ(setenv("HW_TEST_OPT_EMPTY", "", 1), 0);
    CHECK_EQ(unsetenv("HW_TEST_OPT_MISSING"), 0);

    v = hw_opt_resolve("env:HW_TEST_OPT_TOKEN", err, sizeof(err));
    CHECK(v != NULL);
    CHECK_STR(v, "s3cret-from-env");
    free(v);
    v = hw_opt_resolve("env:HW_TEST_OPT_EMPTY", err, sizeof(err));
    CHECK(v != NULL);
    CHECK_STR(v, "");
    free(v);
    CHECK(hw_opt_resolve("env:HW_TEST_OPT_MISSING", err, sizeof(err)) == NULL);
    CHECK_STR(err, "environment variable HW_TEST_OPT_MISSING is not set");

    snprintf(arg, sizeof(arg), "file:%s", secret);
    v = hw_opt_resolve(arg, err, sizeof(err));
    CHECK(v != NULL);
    CHECK_STR(v, "s3cret-from-file"); /* without the final newline */
    free(v);
    snprintf(arg, sizeof(arg), "file:%s", crlf);
    v = hw_opt_resolve(arg, err, sizeof(err));
    CHECK(v != NULL);
    CHECK_STR(v, "line one\nline two"); /* inner newlines stay */
    free(v);
    CHECK(hw_opt_resolve("file:/nonexistent/secret", err, sizeof(err)) == NULL);
    CHECK_STR(err, "cannot read /nonexistent/secret: No such file or directory");
    CHECK(hw_opt_resolve("file:/", err, sizeof(err)) == NULL);
    CHECK_STR(err, "cannot read /: Is a directory");
    CHECK(hw_opt_resolve("env:", err, sizeof(err)) == NULL);
    CHECK_STR(err, "env: needs the variable's name (env:NAME)");
    {
        char tmpl[] = "/tmp/hw-test-opt-nul-XXXXXX";
        int fd = mkstemp(tmpl);

        CHECK(fd >= 0 && write(fd, "ab\0cd\n", 6) == 6);
        close(fd);
        snprintf(arg, sizeof(arg), "file:%s", tmpl);
        CHECK(hw_opt_resolve(arg, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "holds a NUL byte") != NULL);
        unlink(tmpl);
    }
    snprintf(arg, sizeof(arg), "file:%s", big_path);
    CHECK(hw_opt_resolve(arg, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "larger than") != NULL);

    /* Anything else is returned as it is. */
    v = hw_opt_resolve("plain:value env:X", err, sizeof(err));
    CHECK(v != NULL);
    CHECK_STR(v, "plain:value env:X");
    free(v);

    /* Options take resolved values, whatever their type. */
    defaults(&c);
    CHECK_EQ(hw_opt_set(opts, &c, "token", "env:HW_TEST_OPT_TOKEN", err, sizeof(err)), 0);
    CHECK_STR(c.token, "s3cret-from-env");
    snprintf(arg, sizeof(arg), "file:%s", workers);
    CHECK_EQ(hw_opt_set(opts, &c, "workers", arg, err, sizeof(err)), 0);
    CHECK_EQ(c.workers, 12);
    CHECK_EQ(hw_opt_set(opts, &c, "token", "env:HW_TEST_OPT_MISSING", err, sizeof(err)), HW_EINVAL);
    CHECK_STR(err, "environment variable HW_TEST_OPT_MISSING is not set");
    CHECK_STR(c.token, "s3cret-from-env"); /* a failed set keeps the old value */
    {
        static const char *const args[] = { "prog", "--token", "file:/nonexistent/t", NULL };
        const char *out;

        CHECK_EQ(parse(&c, args, &out, NULL), HW_ECONFIG);
        CHECK_STR(out, "--token: cannot read /nonexistent/t: No such file or directory\n");
    }
    hw_opt_cleanup(opts, &c);

    /* In a config file too. */
    {
        char ini[256];
        const char *path, *out;

        snprintf(ini, sizeof(ini), "[relay]\ntoken = file:%s\nlisten = env:HW_TEST_OPT_TOKEN\n",
                 secret);
        path = temp_file(ini);
        defaults(&c);
        CHECK_EQ(load(&c, path, NULL, &out), 0);
        CHECK_STR(c.token, "s3cret-from-file");
        CHECK_STR(c.listen, "s3cret-from-env");
        hw_opt_cleanup(opts, &c);
        path = temp_file("[relay]\n\ntoken = env:HW_TEST_OPT_MISSING\n");
        defaults(&c);
        CHECK_EQ(load(&c, path, NULL, &out), HW_ECONFIG);
        expect_message(out, path, "3: environment variable HW_TEST_OPT_MISSING is not set");
        hw_opt_cleanup(opts, &c);
    }
}

static size_t size_of(const char *s)
{
    size_t v = 12345;

    if (hw_opt_parse_size(s, &v) != 0) {
        fprintf(stderr, "size rejected: %s\n", s);
        CHECK(0);
    }
    return v;
}

static void test_sizes(void)
{
    static const char *const bad[] = { "",
                                       "M",
                                       "-1",
                                       "1T",
                                       "1.5M",
                                       "12 K",
                                       "1KK",
                                       " 1",
                                       "1 ",
                                       "0x10",
                                       "1iB",
                                       "1Bi",
                                       "K1",
                                       "1e3",
                                       "1MM",
                                       "+1",
                                       "1BB",
                                       "1Mx",
                                       "99999999999999999999",
                                       "17179869184G" };
    size_t v;

    CHECK_EQ(size_of("0"), 0);
    CHECK_EQ(size_of("123"), 123);
    CHECK_EQ(size_of("1K"), 1024);
    CHECK_EQ(size_of("1k"), 1024);
    CHECK_EQ(size_of("25M"), 25u * 1024 * 1024);
    CHECK_EQ(size_of("25m"), 25u * 1024 * 1024);
    CHECK_EQ(size_of("1G"), 1024u * 1024 * 1024);
    CHECK_EQ(size_of("3g"), 3ull * 1024 * 1024 * 1024);
    CHECK_EQ(size_of("64KB"), 64 * 1024);
    CHECK_EQ(size_of("64KiB"), 64 * 1024);
    CHECK_EQ(size_of("2MiB"), 2u * 1024 * 1024);
    CHECK_EQ(size_of("100B"), 100);
    CHECK(size_of("17179869183G") == (size_t)17179869183ull * 1024 * 1024 * 1024);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 777;
        if (hw_opt_parse_size(bad[i], &v) != HW_EINVAL) {
            fprintf(stderr, "size accepted: \"%s\"\n", bad[i]);
            CHECK(0);
        }
        CHECK_EQ(v, 777); /* untouched on error */
    }
}

static unsigned ms_of(const char *s)
{
    unsigned v = 12345;

    if (hw_opt_parse_duration(s, &v) != 0) {
        fprintf(stderr, "duration rejected: %s\n", s);
        CHECK(0);
    }
    return v;
}

static void test_durations(void)
{
    static const char *const bad[] = {
        "",      "s",     "ms",    "10x",      "1.5s",         "-1",
        "10 s",  "10sec", "10S",   "10MS",     "s10",          " 10",
        "10ms ", "1d",    "10mss", "4294968s", "4294967296ms", "99999999999999999999",
        "1194h", "71583m"
    };
    unsigned v;

    CHECK_EQ(ms_of("10s"), 10000);
    CHECK_EQ(ms_of("500ms"), 500);
    CHECK_EQ(ms_of("2m"), 120000);
    CHECK_EQ(ms_of("1h"), 3600000);
    CHECK_EQ(ms_of("30"), 30000); /* bare numbers are seconds */
    CHECK_EQ(ms_of("0"), 0);
    CHECK_EQ(ms_of("0ms"), 0);
    CHECK_EQ(ms_of("4294967s"), 4294967000u);
    CHECK_EQ(ms_of("4294967295ms"), 4294967295u);
    CHECK_EQ(ms_of("1193h"), 1193u * 3600000u);
    CHECK_EQ(ms_of("71582m"), 71582u * 60000u);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 777;
        if (hw_opt_parse_duration(bad[i], &v) != HW_EINVAL) {
            fprintf(stderr, "duration accepted: \"%s\"\n", bad[i]);
            CHECK(0);
        }
        CHECK_EQ(v, 777);
    }
}

static void test_bools(void)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
    static const char *const bad[] = { "", "TRUE", "Yes", "y", "n", "2", "truex", " on", "of" };
    int v;

    for (size_t i = 0; i < 4; i++) {
        v = -1;
        CHECK_EQ(hw_opt_parse_bool(yes[i], &v), 0);
        CHECK_EQ(v, 1);
        v = -1;
        CHECK_EQ(hw_opt_parse_bool(no[i], &v), 0);
        CHECK_EQ(v, 0);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = -1;
        CHECK_EQ(hw_opt_parse_bool(bad[i], &v), HW_EINVAL);
        CHECK_EQ(v, -1);
    }
}

/* Reads everything a function printed to a temporary FILE. */
static const char *printed(FILE *f)
{
    static char out[4096];
    size_t n;

    rewind(f);
    n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    fclose(f);
    return out;
}

static void test_usage_and_example(void)
{
    FILE *f = tmpfile();
    const char *out;

    CHECK(f != NULL);
    hw_opt_usage(f, opts);
    out = printed(f);
    CHECK(strstr(out, "  --config FILE\n") == out);
    CHECK(strstr(out, "  --listen HOST:PORT\n        address to listen on (default: :8080)\n"));
    CHECK(strstr(out, "  --verbose\n        log more (default: false)\n"));
    CHECK(strstr(out, "  --token SECRET\n        tunnel token\n"));
    CHECK(strstr(out, "  --help, -h\n"));
    CHECK(strstr(out, "  --version\n"));

    f = tmpfile();
    CHECK(f != NULL);
    hw_opt_print_ini(f, "relay", opts);
    out = printed(f);
    CHECK(strncmp(out, "[relay]\n", 8) == 0);
    CHECK(strstr(out, "\n; address to listen on (HOST:PORT)\n;listen = :8080\n"));
    CHECK(strstr(out, "\n; log more\n;verbose = false\n"));
    CHECK(strstr(out, "\n; tunnel token (SECRET)\n;token = \n"));
}

/* The example config, uncommented, loads back to the defaults. */
static void test_example_round_trip(void)
{
    FILE *f = tmpfile();
    char text[4096], *p, *q;
    const char *path, *err;
    struct cfg c;

    CHECK(f != NULL);
    hw_opt_print_ini(f, "relay", opts);
    snprintf(text, sizeof(text), "%s", printed(f));
    /* Drop the commented token line (no default) and uncomment the rest. */
    p = strstr(text, ";token = \n");
    CHECK(p != NULL);
    memmove(p, p + strlen(";token = \n"), strlen(p + strlen(";token = \n")) + 1);
    for (p = text, q = text; *p; p++) {
        if (*p == ';' && (p == text || p[-1] == '\n') && p[1] != ' ')
            continue;
        *q++ = *p;
    }
    *q = '\0';
    path = temp_file(text);
    memset(&c, 0, sizeof(c));
    CHECK_EQ(load(&c, path, NULL, &err), 0);
    CHECK_STR(err, "");
    CHECK_STR(c.listen, ":8080");
    CHECK_EQ(c.workers, 4);
    CHECK_EQ(c.max_body, 25u * 1024 * 1024);
    CHECK_EQ(c.timeout_ms, 10000);
    CHECK_EQ(c.verbose, 0);
    hw_opt_cleanup(opts, &c);
}

int main(void)
{
    fprintf(stderr, "test_opt\n");
    signal(SIGABRT, on_abort);
    RUN(test_defaults);
    RUN(test_command_line);
    RUN(test_command_line_errors);
    RUN(test_set);
    RUN(test_diff);
    RUN(test_config_file);
    RUN(test_cli_forms);
    RUN(test_config_errors);
    RUN(test_config_twice);
    RUN(test_env_and_file_values);
    RUN(test_sizes);
    RUN(test_durations);
    RUN(test_bools);
    RUN(test_usage_and_example);
    RUN(test_example_round_trip);
    remove_temps();
    return 0;
}
