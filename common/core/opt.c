/*
 * Option tables: defaults, command-line and INI parsing (inih), value
 * resolution from env: and file:, and --help output. Main thread, startup.
 */
#include "opt.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"

#define FILE_VALUE_MAX (64 * 1024)

/* Where say() writes while a caller captures errors (hw_opt_capture_errors()), else NULL. */
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
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
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

struct ini_ctx {
    const struct hw_opt *opts;
    void *cfg;
    const char *path;
    const char *main_section;
    hw_opt_section_fn section_fn;
    void *ctx;
    FILE *file;
    int line;              /* line the reader handed to inih last */
    int section_line;      /* line of the last section header read */
    int err_line;          /* line of the first error our handler found, 0 if none */
    int long_line;         /* a line longer than inih's buffer, where reading stopped; 0 if none */
    int bad_line;          /* a line the reader refused, where reading stopped; 0 if none */
    const char *bad_why;   /* ...and why */
    int line_max;          /* inih's buffer, in bytes with the NUL */
    int indented;          /* that line starts with a space or tab */
    char first_err[512];   /* its reason */
    struct ini_seen *seen; /* the keys read so far, to refuse one given twice */
};

/* A key of a section, as read: "path_prefix" and "path-prefix" are one key. */
struct ini_seen {
    struct ini_seen *next;
    int line;
    char name[]; /* "SECTION\nKEY", '_' in KEY read as '-' */
};

/*
 * The keys that may repeat in a section: a source's or a channel's secret,
 * given twice while it is rotated (docs/signatures.md).
 */
static int repeatable(const char *key)
{
    return strcmp(key, "secret") == 0;
}

/*
 * Has key been set before in this section of the file? A value given twice
 * would silently take the last one, which is rarely what was meant (a secret
 * pasted under the old one, a listen address edited in one copy only).
 * Returns the earlier line, 0 if none (it records this one), -1 when out of
 * memory.
 */
static int seen_before(struct ini_ctx *c, const char *section, const char *key)
{
    size_t ns = strlen(section), nk = strlen(key);
    struct ini_seen *s = malloc(sizeof(*s) + ns + nk + 2);

    if (!s)
        return -1;
    memcpy(s->name, section, ns);
    s->name[ns] = '\n';
    for (size_t i = 0; i <= nk; i++)
        s->name[ns + 1 + i] = key[i] == '_' ? '-' : key[i];
    for (struct ini_seen *o = c->seen; o; o = o->next)
        if (strcmp(o->name, s->name) == 0) {
            free(s);
            return o->line;
        }
    s->line = c->line;
    s->next = c->seen;
    c->seen = s;
    return 0;
}

/*
 * Whether a section header line has more than its "[name]": inih ignores
 * what follows the ']', so "[channel a] enforce = false" would lose a key
 * unseen. A comment or spaces may follow.
 */
static int header_has_more(const char *str)
{
    const char *p = strchr(str, ']');

    if (!p)
        return 0; /* no ']': inih says it is a syntax error */
    p += 1 + strspn(p + 1, " \t");
    return *p && *p != ';' && *p != '#' && *p != '\r' && *p != '\n';
}

/*
 * fgets for inih that counts lines, so a handler error knows where it is.
 * inih's line buffer has a fixed size (num): a longer line would be cut in
 * two, its rest read as a line of its own. Reading stops there instead, and
 * hw_opt_load_ini() names the line. So it does at what inih would read
 * wrong unseen: a NUL byte (the line's text would end there), a CR without
 * LF (a file with CR line ends reads as one line), text after a section
 * header.
 */
static char *read_line(char *str, int num, void *stream)
{
    struct ini_ctx *c = stream;
    int ch = EOF, n = 0;

    if (c->long_line || c->bad_line)
        return NULL;
    while (n < num - 1 && (ch = getc(c->file)) != EOF) {
        /* CRLF reads as LF (so a line's room does not depend on its ending). */
        if (ch == '\r' && (ch = getc(c->file)) != '\n') {
            c->bad_line = c->line + 1;
            c->bad_why = "a CR without LF: lines end in LF or CRLF";
            return NULL;
        }
        if (ch == '\0') {
            c->bad_line = c->line + 1;
            c->bad_why = "a NUL byte: a config file is text";
            return NULL;
        }
        str[n++] = (char)ch;
        if (ch == '\n')
            break;
    }
    if (n == 0)
        return NULL;
    str[n] = '\0';
    c->line++;
    c->indented = str[0] == ' ' || str[0] == '\t';
    if (str[strspn(str, " \t")] == '[') {
        c->section_line = c->line;
        if (header_has_more(str)) {
            c->bad_line = c->line;
            c->bad_why = "text after the section header's ']': put each key on a line of its own";
            return NULL;
        }
    }
    if (str[n - 1] != '\n' && ch != EOF && (ch = getc(c->file)) != EOF && ch != '\n') {
        c->long_line = c->line;
        c->line_max = num;
        return NULL;
    }
    return str;
}

const char *hw_opt_unquote(const char *value, char *buf, size_t cap)
{
    size_t n = strlen(value);

    if ((value[0] == '"' || value[0] == '\'') && (n < 2 || value[n - 1] != value[0]))
        return NULL;
    if (n < 2 || (value[0] != '"' && value[0] != '\'') || value[n - 1] != value[0] || n - 2 >= cap)
        return value;
    memcpy(buf, value + 1, n - 2);
    buf[n - 2] = '\0';
    return buf;
}

static int on_ini_value(void *user, const char *section, const char *key, const char *value)
{
    struct ini_ctx *c = user;
    char err[512] = "", plain[4096];
    const char *inside = hw_opt_unquote(value, plain, sizeof(plain));
    int rc;

    rc = seen_before(c, section, key);
    if (rc > 0 && !c->indented && repeatable(key))
        rc = 0;
    if (rc > 0 && c->indented)
        /* inih reads an indented line as more of the value above, handed over again. */
        snprintf(err, sizeof(err), "an indented line continues the value of %s: put it on one line",
                 key);
    else if (rc > 0)
        snprintf(err, sizeof(err), "%s is set twice in [%s] (first on line %d)", key, section, rc);
    else if (rc < 0)
        snprintf(err, sizeof(err), "out of memory");
    else if (!inside) {
        snprintf(err, sizeof(err), "%s: " HW_OPT_UNCLOSED, key);
        rc = HW_EINVAL;
    } else if (strcmp(section, c->main_section) == 0)
        rc = hw_opt_set(c->opts, c->cfg, key, inside, err, sizeof(err));
    else if (c->section_fn) {
        char where[4200];

        snprintf(where, sizeof(where), "%s:%d", c->path, c->section_line);
        rc = c->section_fn(c->ctx, where, section, key, inside, err, sizeof(err));
    } else {
        snprintf(err, sizeof(err), "unknown section [%s]", section);
        rc = HW_EINVAL;
    }
    if (rc) {
        if (!c->err_line) {
            c->err_line = c->line;
            snprintf(c->first_err, sizeof(c->first_err), "%s", err);
        }
        return 0;
    }
    return 1;
}

int hw_opt_load_ini(const struct hw_opt *opts, void *cfg, const char *path,
                    const char *main_section, hw_opt_section_fn section_fn, void *ctx)
{
    struct ini_ctx c = { .opts = opts,
                         .cfg = cfg,
                         .path = path,
                         .main_section = main_section,
                         .section_fn = section_fn,
                         .ctx = ctx };
    struct stat st;
    int rc;

    c.file = fopen(path, "r");
    if (!c.file) {
        say("cannot read %s: %s\n", path, strerror(errno));
        return HW_ECONFIG;
    }
    /* A directory opens, then reads as an empty file: the defaults would run unnoticed. */
    if (fstat(fileno(c.file), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(c.file);
        say("cannot read %s: %s\n", path, strerror(EISDIR));
        return HW_ECONFIG;
    }
    rc = ini_parse_stream(read_line, &c, on_ini_value, &c);
    fclose(c.file);
    while (c.seen) {
        struct ini_seen *next = c.seen->next;

        free(c.seen);
        c.seen = next;
    }
    if (rc == 0 && c.bad_line) {
        say("%s:%d: %s\n", path, c.bad_line, c.bad_why);
        return HW_ECONFIG;
    }
    if (rc == 0 && c.long_line) {
        say("%s:%d: line longer than %d bytes, the most a line may hold\n", path, c.long_line,
            c.line_max - 2);
        return HW_ECONFIG;
    }
    if (rc == 0)
        return 0;
    /* inih returns the first bad line, be it ours or a syntax error. */
    if (c.err_line && c.err_line == rc)
        say("%s:%d: %s\n", path, rc, c.first_err);
    else
        say("%s:%d: syntax error\n", path, rc);
    return HW_ECONFIG;
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
            say("--config needs a file\n");
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
            say("unknown option --%.*s (see --help)\n", (int)nlen, a);
            return HW_ECONFIG;
        }
        if (eq)
            value = eq + 1;
        else if (o->type == HW_OPT_BOOL || o->type == HW_OPT_REFUSED)
            value = "true";
        else if (i + 1 < end)
            value = argv[++i];
        else {
            say("--%s needs a value (%s)\n", o->name, o->arg);
            return HW_ECONFIG;
        }
        if (set_value(o, cfg, value, err, sizeof(err))) {
            say("--%s: %s\n", o->name, err);
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
