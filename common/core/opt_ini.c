/*
 * The option tables' INI reader: a config file's main section set through
 * the table, other sections handed to the program's callback, each error
 * named FILE:LINE; its line reader stops at what inih would misread unseen.
 * Main thread at startup, or a reload's thread (its errors captured).
 */
#include "opt.h"

#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "opt_int.h"

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
        hw_opt_say("cannot read %s: %s\n", path, strerror(errno));
        return HW_ECONFIG;
    }
    /* A directory opens, then reads as an empty file: the defaults would run unnoticed. */
    if (fstat(fileno(c.file), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(c.file);
        hw_opt_say("cannot read %s: %s\n", path, strerror(EISDIR));
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
        hw_opt_say("%s:%d: %s\n", path, c.bad_line, c.bad_why);
        return HW_ECONFIG;
    }
    if (rc == 0 && c.long_line) {
        hw_opt_say("%s:%d: line longer than %d bytes, the most a line may hold\n", path,
                   c.long_line, c.line_max - 2);
        return HW_ECONFIG;
    }
    if (rc == 0)
        return 0;
    /* inih returns the first bad line, be it ours or a syntax error. */
    if (c.err_line && c.err_line == rc)
        hw_opt_say("%s:%d: %s\n", path, rc, c.first_err);
    else
        hw_opt_say("%s:%d: syntax error\n", path, rc);
    return HW_ECONFIG;
}
