/*
 * Option tables: defaults, values converted from text (sizes, durations,
 * booleans, env: and file:), the command line, --help, example configs and
 * hw_opt_diff(); the error lines both readers print (opt_int.h). The INI
 * reader is opt_ini.c. Main thread at startup, or a reload's thread (its
 * errors captured).
 */
#include "opt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "opt_int.h"

#define FILE_VALUE_MAX (64 * 1024)

/* Where hw_opt_say() writes while a caller captures errors (hw_opt_capture_errors()), else NULL. */
static _Thread_local char *capture;
static _Thread_local size_t capture_size;

void hw_opt_capture_errors(char *buf, size_t n)
{
    capture = n ? buf : NULL;
    capture_size = n;
    if (capture)
        capture[0] = '\0';
}

/* An error line: to stderr, or the first one into the capture buffer (without its newline). */
__attribute__((format(printf, 1, 2))) void hw_opt_say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (!capture) {
        vfprintf(stderr, fmt, ap);
    } else if (!capture[0]) {
        vsnprintf(capture, capture_size, fmt, ap);
        capture[strcspn(capture, "\n")] = '\0';
    }
    va_end(ap);
}

static const struct hw_opt *find_opt(const struct hw_opt *opts, const char *name, size_t len)
{
    for (; opts->name; opts++)
        if (strlen(opts->name) == len && memcmp(opts->name, name, len) == 0)
            return opts;
    return NULL;
}

static int parse_uint(const char *s, unsigned long long *out, char **end)
{
    if (*s < '0' || *s > '9')
        return HW_EINVAL;
    errno = 0;
    *out = strtoull(s, end, 10);
    return errno ? HW_EINVAL : 0;
}

int hw_opt_parse_size(const char *s, size_t *out)
{
    unsigned long long v, mul = 1;
    char *end;

    if (parse_uint(s, &v, &end))
        return HW_EINVAL;
    if (*end == 'K' || *end == 'k')
        mul = 1024ull, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1024ull * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mul = 1024ull * 1024 * 1024, end++;
    if (*end == 'i' && mul > 1)
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || v > SIZE_MAX / mul)
        return HW_EINVAL;
    *out = (size_t)(v * mul);
    return 0;
}

int hw_opt_parse_duration(const char *s, unsigned *ms_out)
{
    unsigned long long v, mul = 1000;
    char *end;

    if (parse_uint(s, &v, &end))
        return HW_EINVAL;
    if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        mul = 1000;
    else if (strcmp(end, "m") == 0)
        mul = 60000;
    else if (strcmp(end, "h") == 0)
        mul = 3600000;
    else
        return HW_EINVAL;
    if (v > UINT32_MAX / mul)
        return HW_EINVAL;
    *ms_out = (unsigned)(v * mul);
    return 0;
}

int hw_opt_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };

    for (int i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return HW_EINVAL;
}

char *hw_opt_resolve(const char *value, char *err, size_t errlen)
{
    if (strncmp(value, "env:", 4) == 0) {
        const char *v;

        if (!value[4]) {
            snprintf(err, errlen, "env: needs the variable's name (env:NAME)");
            return NULL;
        }
        v = getenv(value + 4);
        if (!v) {
            snprintf(err, errlen, "environment variable %s is not set", value + 4);
            return NULL;
        }
        return strdup(v);
    }
    if (strncmp(value, "file:", 5) == 0) {
        FILE *f = fopen(value + 5, "rb");
        char *buf;
        size_t n;

        if (!f) {
            snprintf(err, errlen, "cannot read %s: %s", value + 5, strerror(errno));
            return NULL;
        }
        buf = malloc(FILE_VALUE_MAX + 1);
        n = buf ? fread(buf, 1, FILE_VALUE_MAX + 1, f) : 0;
        /* A directory opens, then fails its read (EISDIR): say so, not "empty". */
        if (buf && ferror(f)) {
            snprintf(err, errlen, "cannot read %s: %s", value + 5, strerror(errno));
            fclose(f);
            free(buf);
            return NULL;
        }
        fclose(f);
        /* A value is a C string: a NUL inside would cut it where nobody sees. */
        if (buf && n <= FILE_VALUE_MAX && memchr(buf, '\0', n)) {
            snprintf(err, errlen, "%s holds a NUL byte: a value cannot", value + 5);
            free(buf);
            return NULL;
        }
        if (!buf || n > FILE_VALUE_MAX) {
            free(buf);
            snprintf(err, errlen, "%s is larger than %d bytes", value + 5, FILE_VALUE_MAX);
            return NULL;
        }
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        buf[n] = '\0';
        return buf;
    }
    return strdup(value);
}

static int set_value(const struct hw_opt *o, void *cfg, const char *value, char *err, size_t errlen)
{
    char *field = (char *)cfg + o->offset;
    char *v = hw_opt_resolve(value, err, errlen);
    int rc = 0;

    if (!v)
        return HW_EINVAL;
    switch (o->type) {
    case HW_OPT_STR:
        free(*(char **)field);
        *(char **)field = v;
        return 0;
    case HW_OPT_UINT: {
        unsigned long long n;
        char *end;
        rc = parse_uint(v, &n, &end);
        if (!rc && (*end || n > UINT32_MAX))
            rc = HW_EINVAL;
        if (!rc)
            *(unsigned *)field = (unsigned)n;
        break;
    }
    case HW_OPT_SIZE:
        rc = hw_opt_parse_size(v, (size_t *)field);
        break;
    case HW_OPT_DURATION:
        rc = hw_opt_parse_duration(v, (unsigned *)field);
        break;
    case HW_OPT_BOOL:
        rc = hw_opt_parse_bool(v, (int *)field);
        break;
    case HW_OPT_REFUSED:
        free(v);
        snprintf(err, errlen, "%s", o->help);
        return HW_EINVAL;
    }
    if (rc)
        snprintf(err, errlen, "invalid value for %s: \"%s\"", o->name, v);
    free(v);
    return rc;
}

int hw_opt_set(const struct hw_opt *opts, void *cfg, const char *name, const char *value, char *err,
               size_t errlen)
{
    const struct hw_opt *o = find_opt(opts, name, strlen(name));

    if (!o) {
        snprintf(err, errlen, "unknown option \"%s\"", name);
        return HW_ENOTFOUND;
    }
    return set_value(o, cfg, value, err, errlen);
}

int hw_opt_defaults(const struct hw_opt *opts, void *cfg)
{
    char err[256];

    for (; opts->name; opts++)
        if (opts->def && set_value(opts, cfg, opts->def, err, sizeof(err)))
            return HW_EINVAL;
    return 0;
}

/* Is argv[i] "--config" or "--config=FILE"? Sets *file (NULL: the next argument). */
static int is_config(const char *a, const char **file)
{
    if (strcmp(a, "--config") == 0) {
        *file = NULL;
        return 1;
    }
    if (strncmp(a, "--config=", 9) == 0) {
        *file = a + 9;
        return 1;
    }
    return 0;
}

/* The index of the first argument that is neither an option nor an option's value, or argc. */
static int options_end(const struct hw_opt *opts, int argc, char **argv, int start)
{
    int i;

    for (i = start; i < argc; i++) {
        const char *a = argv[i], *file;
        const struct hw_opt *o;

        if (strncmp(a, "--", 2) != 0 && strcmp(a, "-h") != 0)
            break;
        if (is_config(a, &file)) {
            i += !file;
            continue;
        }
        o = strchr(a, '=') ? NULL : find_opt(opts, a + 2, strlen(a + 2));
        if (o && o->type != HW_OPT_BOOL && o->type != HW_OPT_REFUSED)
            i++;
    }
    return i < argc ? i : argc;
}

int hw_opt_parse_args(const struct hw_opt *opts, void *cfg, int argc, char **argv, int start,
                      const char *main_section, hw_opt_section_fn section_fn, void *ctx)
{
    char err[512];
    int i, end = options_end(opts, argc, argv, start);

    for (i = start; i < end; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return HW_EEXIST;
    for (i = start; i < end; i++)
        if (strcmp(argv[i], "--version") == 0)
            return HW_EVERSION;
    /* Config files first, so the command line's own options override them. */
    for (i = start; i < end; i++) {
        const char *file;

        if (!is_config(argv[i], &file))
            continue;
        if (!file && ++i >= end) {
            hw_opt_say("--config needs a file\n");
            return HW_ECONFIG;
        }
        if (hw_opt_load_ini(opts, cfg, file ? file : argv[i], main_section, section_fn, ctx))
            return HW_ECONFIG;
    }
    for (i = start; i < end; i++) {
        const char *a = argv[i], *eq, *value, *file;
        const struct hw_opt *o;
        size_t nlen;

        if (is_config(a, &file)) {
            i += !file;
            continue;
        }
        a += 2;
        eq = strchr(a, '=');
        nlen = eq ? (size_t)(eq - a) : strlen(a);
        o = find_opt(opts, a, nlen);
        if (!o) {
            hw_opt_say("unknown option --%.*s (see --help)\n", (int)nlen, a);
            return HW_ECONFIG;
        }
        if (eq)
            value = eq + 1;
        else if (o->type == HW_OPT_BOOL || o->type == HW_OPT_REFUSED)
            value = "true";
        else if (i + 1 < end)
            value = argv[++i];
        else {
            hw_opt_say("--%s needs a value (%s)\n", o->name, o->arg);
            return HW_ECONFIG;
        }
        if (set_value(o, cfg, value, err, sizeof(err))) {
            hw_opt_say("--%s: %s\n", o->name, err);
            return HW_ECONFIG;
        }
    }
    return end;
}

void hw_opt_usage(FILE *f, const struct hw_opt *opts)
{
    fprintf(f, "  --config FILE\n        INI file; its main section takes the options below\n");
    for (; opts->name; opts++) {
        if (opts->type == HW_OPT_REFUSED)
            continue;
        fprintf(f, "  --%s%s%s\n        %s", opts->name, opts->arg ? " " : "",
                opts->arg ? opts->arg : "", opts->help);
        if (opts->def)
            fprintf(f, " (default: %s)", opts->def);
        fputc('\n', f);
    }
    fprintf(f, "  --help, -h\n        show this help\n  --version\n        show the version "
               "and the libraries' versions\n");
}

void hw_opt_print_ini(FILE *f, const char *section, const struct hw_opt *opts)
{
    fprintf(f, "[%s]\n", section);
    for (; opts->name; opts++) {
        if (opts->type == HW_OPT_REFUSED)
            continue;
        fprintf(f, "\n; %s", opts->help);
        if (opts->arg)
            fprintf(f, " (%s)", opts->arg);
        fprintf(f, "\n;%s = %s\n", opts->name, opts->def ? opts->def : "");
    }
}

void hw_opt_cleanup(const struct hw_opt *opts, void *cfg)
{
    for (; opts->name; opts++) {
        if (opts->type == HW_OPT_STR) {
            char **field = (char **)((char *)cfg + opts->offset);
            free(*field);
            *field = NULL;
        }
    }
}

/* Whether option o holds the same value in configs a and b. */
static int same_value(const struct hw_opt *o, const void *a, const void *b)
{
    const char *x = (const char *)a + o->offset, *y = (const char *)b + o->offset;

    switch (o->type) {
    case HW_OPT_STR: {
        const char *s = *(char *const *)x, *t = *(char *const *)y;

        return (!s && !t) || (s && t && strcmp(s, t) == 0);
    }
    case HW_OPT_UINT:
    case HW_OPT_DURATION:
        return *(const unsigned *)x == *(const unsigned *)y;
    case HW_OPT_SIZE:
        return *(const size_t *)x == *(const size_t *)y;
    case HW_OPT_BOOL:
        return *(const int *)x == *(const int *)y;
    case HW_OPT_REFUSED:
        return 1;
    }
    return 1;
}

size_t hw_opt_diff(const struct hw_opt *opts, const void *a, const void *b, const char *const *skip,
                   char *out, size_t cap)
{
    size_t n = 0, len = 0;

    if (cap)
        out[0] = '\0';
    for (; opts->name; opts++) {
        int skipped = 0;

        for (const char *const *k = skip; k && *k && !skipped; k++)
            skipped = strcmp(*k, opts->name) == 0;
        if (skipped || same_value(opts, a, b))
            continue;
        if (len < cap)
            len += (size_t)snprintf(out + len, cap - len, "%s%s", n ? ", " : "", opts->name);
        n++;
    }
    return n;
}

void hw_opt_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}
