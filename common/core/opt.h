#ifndef HW_OPT_H
#define HW_OPT_H

/*
 * One option table per program drives the command line, the INI config's
 * main section (same keys as the long options), --help and the example
 * configs. Values "env:NAME" and "file:PATH" are read from there, so secrets
 * never need to be on a command line. Main thread, at startup.
 */
#include <stddef.h>
#include <stdio.h>

enum hw_opt_type {
    HW_OPT_STR,      /* char *, owned copy */
    HW_OPT_UINT,     /* unsigned */
    HW_OPT_SIZE,     /* size_t, with optional K, M or G suffix (powers of 1024) */
    HW_OPT_DURATION, /* unsigned milliseconds, "250ms", "10s", "2m"; bare numbers are seconds */
    HW_OPT_BOOL,     /* int 0/1: true|false|yes|no|on|off|1|0; on the command line a flag */
    HW_OPT_REFUSED,  /* a name people try that is not an option: setting it fails with help as
                        the reason; hidden from --help and example configs */
};

struct hw_opt {
    const char *name; /* long option and INI key */
    const char *arg;  /* placeholder for --help ("HOST:PORT"); NULL for booleans */
    const char *def;  /* default value as text, or NULL */
    const char *help;
    enum hw_opt_type type;
    size_t offset; /* where the value lives in the program's config struct */
};

/*
 * Called for keys of INI sections other than the main one, e.g. [channel
 * alice]; where is "FILE:LINE" of the section's header, for an error found
 * after the file is read.
 */
typedef int (*hw_opt_section_fn)(void *ctx, const char *where, const char *section, const char *key,
                                 const char *value, char *err, size_t errlen);

/* Applies every default. Returns 0 or HW_EINVAL (a bad default: a bug). */
int hw_opt_defaults(const struct hw_opt *opts, void *cfg);

/*
 * Sets option name from text. Returns 0, HW_ENOTFOUND for an unknown name,
 * or HW_EINVAL with a reason in err.
 */
int hw_opt_set(const struct hw_opt *opts, void *cfg, const char *name, const char *value, char *err,
               size_t errlen);

/*
 * Loads an INI file: keys of [main_section] go to the table, keys of other
 * sections to section_fn (NULL: other sections are errors). A value wrapped
 * in one pair of double or single quotes is taken without them. On failure
 * prints "file:line: reason" (or "cannot read FILE: reason") to stderr and
 * returns HW_ECONFIG.
 */
int hw_opt_load_ini(const struct hw_opt *opts, void *cfg, const char *path,
                    const char *main_section, hw_opt_section_fn section_fn, void *ctx);

/*
 * Parses the command line from argv[start]: "--name VALUE", "--name=VALUE",
 * "--flag" for booleans, "--config FILE" (main_section/section_fn as for
 * hw_opt_load_ini). Config files are loaded first, in order, then the other
 * options are applied: an option on the command line wins over a config
 * file wherever either appears. Stops at the first argument not starting
 * with "--" and returns its index (argc if none). "--help" or "-h" returns
 * HW_EEXIST so the caller prints usage; "--version" returns HW_EVERSION so
 * the caller prints its version. Errors print one line to stderr and return
 * HW_ECONFIG.
 */
int hw_opt_parse_args(const struct hw_opt *opts, void *cfg, int argc, char **argv, int start,
                      const char *main_section, hw_opt_section_fn section_fn, void *ctx);

/*
 * While buf is set (n > 0), the error lines of hw_opt_parse_args() and
 * hw_opt_load_ini() on this thread go to buf instead of stderr: the first
 * one, without its newline ("" if none). hw_opt_capture_errors(NULL, 0)
 * sends them to stderr again. For a running program that reloads its
 * configuration and logs what is wrong with it.
 */
void hw_opt_capture_errors(char *buf, size_t n);

/* Prints the options, their arguments, defaults and help to f. */
void hw_opt_usage(FILE *f, const struct hw_opt *opts);

/*
 * Prints an example config file for the table: "[section]", then each option
 * as a commented "key = default" line under its help text.
 */
void hw_opt_print_ini(FILE *f, const char *section, const struct hw_opt *opts);

/* Frees the strings the table owns in cfg. */
void hw_opt_cleanup(const struct hw_opt *opts, void *cfg);

/*
 * Writes into out (cap bytes) the names of the options whose values differ
 * between configs a and b, ", " between them, leaving out those named in
 * skip (a NULL-terminated list, or NULL). Returns how many differ.
 */
size_t hw_opt_diff(const struct hw_opt *opts, const void *a, const void *b, const char *const *skip,
                   char *out, size_t cap);

/*
 * A value as a config file gives it, without one matching pair of quotes
 * around the whole of it (people write listen = "127.0.0.1:8080"; inih
 * keeps the quotes). Returns value, or buf (cap bytes) holding the inside,
 * or NULL when value opens a quote (double or single) it does not close: inih has cut
 * it at " ;", which it reads as a comment, so what is left is not what was
 * written (report it with HW_OPT_UNCLOSED).
 */
const char *hw_opt_unquote(const char *value, char *buf, size_t cap);

/* The reason for a value hw_opt_unquote() returned NULL for, after "FILE:LINE: KEY: ". */
#define HW_OPT_UNCLOSED                                                                   \
    "a quoted value is not closed (a \" ;\" inside a value starts a comment: put such a " \
    "secret in a file, file:PATH)"

/*
 * Resolves "env:NAME" (the variable's value) and "file:PATH" (the file's
 * contents without the final newline); anything else is returned as is.
 * Returns a malloc'd string, or NULL with a reason in err.
 */
char *hw_opt_resolve(const char *value, char *err, size_t errlen);

/*
 * A configuration or usage error at start-up: prints the formatted message and
 * a newline to stderr and exits with status 2. Main thread, before any other.
 */
void hw_opt_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Parses a size ("25M") or duration ("10s") as above. 0 or HW_EINVAL. */
int hw_opt_parse_size(const char *s, size_t *out);
int hw_opt_parse_duration(const char *s, unsigned *ms_out);
int hw_opt_parse_bool(const char *s, int *out);

#endif
