/*
 * Human output (table.h): the list table or its plain tab-separated form,
 * and show's page of one event with its headers and attempts. Escapes
 * stored bytes so a webhook never reaches the terminal raw. Main thread.
 */
#include "table.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/text.h"
#include "when.h"

/* Fixed column widths of the terminal table; the path takes what is left. */
#define W_ID       30
#define W_RECEIVED 19
#define W_SOURCE   12
#define W_METHOD   6
#define W_STATUS   9
#define W_ATTEMPTS 3
#define W_LAST     30
#define W_PATH_MIN 12
#define W_DEFAULT  120

const char *replay_clean(const char *s, char *buf, size_t cap)
{
    size_t n = 0, len = strlen(s);

    for (size_t i = 0; i < len && n + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];

        if (hw_text_byte_clean(c))
            buf[n++] = (char)c;
        else
            n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", c);
        if (i + 1 < len && n + 8 >= cap)
            n += (size_t)snprintf(buf + n, cap - n, "...");
    }
    buf[n] = '\0';
    return buf;
}

/* Writes s cleaned into a cell of width w (cut with '~' when longer), padded when pad is set. */
static void cell(FILE *f, const char *s, int w, int pad)
{
    char out[1024];
    size_t n = 0, len = strlen(s);
    int cut = 0;

    for (size_t i = 0; i < len && n + 4 < sizeof(out); i++) {
        unsigned char c = (unsigned char)s[i];

        if (hw_text_byte_clean(c))
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, sizeof(out) - n, "\\x%02x", c);
    }
    if (n > (size_t)w) {
        n = (size_t)w - 1;
        cut = 1;
    }
    fprintf(f, "%.*s%s", (int)n, out, cut ? "~" : "");
    if (pad)
        fprintf(f, "%*s", w - (int)n - cut, "");
}

static int terminal_width(FILE *f)
{
    struct winsize ws;

    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return W_DEFAULT;
}

void replay_table_init(struct replay_table *t, FILE *f)
{
    const char *nc = getenv("NO_COLOR");
    int fixed = W_ID + W_RECEIVED + W_SOURCE + W_METHOD + W_STATUS + W_ATTEMPTS + W_LAST + 7 * 2;

    memset(t, 0, sizeof(*t));
    t->f = f;
    t->tty = isatty(fileno(f));
    t->colour = t->tty && !(nc && *nc);
    t->path_w = t->tty ? terminal_width(f) - fixed - 1 : 0;
    if (t->path_w < W_PATH_MIN)
        t->path_w = W_PATH_MIN;
}

static const char *status_colour(int status)
{
    return status == HW_STORE_FAILED      ? "\033[31m"
           : status == HW_STORE_DELIVERED ? "\033[32m"
                                          : "\033[33m";
}

static void last_result(const struct hw_store_event *ev, char *out, size_t cap)
{
    const char *e = ev->last_error ? ev->last_error : "";

    if (ev->attempts == 0)
        snprintf(out, cap, "-");
    else if (ev->last_status && *e)
        snprintf(out, cap, "%d %s", ev->last_status, e);
    else if (ev->last_status)
        snprintf(out, cap, "%d", ev->last_status);
    else
        snprintf(out, cap, "%s", *e ? e : "no answer");
}

static void header(struct replay_table *t)
{
    fprintf(t->f, "%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %*s  %s\n", W_ID, "ID", W_RECEIVED,
            "RECEIVED (UTC)", W_SOURCE, "SOURCE", W_METHOD, "METHOD", t->path_w, "PATH", W_STATUS,
            "STATUS", W_ATTEMPTS, "ATT", "LAST RESULT");
    t->headed = 1;
}

void replay_table_row(struct replay_table *t, const struct hw_store_event *ev)
{
    char when[32], last[600], path[1024], attempts[16];
    const char *status = hw_store_status_name(ev->status);

    last_result(ev, last, sizeof(last));
    snprintf(path, sizeof(path), "%s%s%s", ev->path, ev->query && *ev->query ? "?" : "",
             ev->query ? ev->query : "");
    t->rows++;
    if (!t->tty) {
        replay_when_iso(ev->received_ms, when, sizeof(when));
        /* The id too: a store written by something else may hold anything. */
        hw_text_put_clean(t->f, ev->id, strlen(ev->id));
        fprintf(t->f, "\t%s\t", when);
        hw_text_put_clean(t->f, ev->source, strlen(ev->source));
        fputc('\t', t->f);
        hw_text_put_clean(t->f, ev->method, strlen(ev->method));
        fputc('\t', t->f);
        hw_text_put_clean(t->f, path, strlen(path));
        fprintf(t->f, "\t%s\t%d\t", status, ev->attempts);
        hw_text_put_clean(t->f, last, strlen(last));
        fputc('\n', t->f);
        return;
    }
    if (!t->headed)
        header(t);
    replay_when_format(ev->received_ms, when, sizeof(when));
    snprintf(attempts, sizeof(attempts), "%3d", ev->attempts);
    cell(t->f, ev->id, W_ID, 1);
    fprintf(t->f, "  %-*s  ", W_RECEIVED, when);
    cell(t->f, ev->source, W_SOURCE, 1);
    fputs("  ", t->f);
    cell(t->f, ev->method, W_METHOD, 1);
    fputs("  ", t->f);
    cell(t->f, path, t->path_w, 1);
    fputs("  ", t->f);
    if (t->colour)
        fprintf(t->f, "%s%-*s\033[0m", status_colour(ev->status), W_STATUS, status);
    else
        fprintf(t->f, "%-*s", W_STATUS, status);
    fprintf(t->f, "  %s  ", attempts);
    cell(t->f, last, W_LAST, 0);
    fputc('\n', t->f);
}

void replay_table_end(struct replay_table *t, int more)
{
    if (!t->tty)
        return;
    if (!t->rows) {
        fprintf(t->f, "no events match\n");
        return;
    }
    fprintf(t->f, "%zu event%s%s\n", t->rows, t->rows == 1 ? "" : "s",
            more ? " shown, newest first; more match (--limit N, or --limit 0 for all)" : "");
}

static const char *verify_name(int v)
{
    return v == HW_STORE_VERIFIED        ? "verified"
           : v == HW_STORE_VERIFY_FAILED ? "failed"
                                         : "not checked";
}

void replay_show_page(FILE *f, const struct hw_store_event *ev, const struct hw_store_attempts *at)
{
    char when[32], span[32];
    const char *p = ev->headers, *end = p ? p + ev->headers_len : p;
    size_t nlines = 0;

    for (const char *q = p; q && q < end; q++)
        nlines += *q == '\n';
    replay_when_format(ev->received_ms, when, sizeof(when));
    fputs("id           ", f);
    hw_text_put_clean(f, ev->id, strlen(ev->id));
    fputs("\nsource       ", f);
    hw_text_put_clean(f, ev->source, strlen(ev->source));
    fprintf(f, "\nreceived     %s.%03d UTC\nrequest      ", when,
            (int)((ev->received_ms % 1000 + 1000) % 1000));
    hw_text_put_clean(f, ev->method, strlen(ev->method));
    fputc(' ', f);
    hw_text_put_clean(f, ev->path, strlen(ev->path));
    if (ev->query && *ev->query) {
        fputc('?', f);
        hw_text_put_clean(f, ev->query, strlen(ev->query));
    }
    fprintf(f, "\nverification %s\nstatus       %s, %d attempt%s", verify_name(ev->verify),
            hw_store_status_name(ev->status), ev->attempts, ev->attempts == 1 ? "" : "s");
    if (ev->status == HW_STORE_PENDING) {
        int64_t in = ev->next_attempt_ms - hw_wall_ms();

        replay_when_span(in, span, sizeof(span));
        replay_when_format(ev->next_attempt_ms, when, sizeof(when));
        fprintf(f, ", next attempt %s UTC (%s%s)", when, in > 0 ? "in " : "due, ",
                in > 0 ? span : "now");
    }
    fprintf(f, "\ndedup key    ");
    if (ev->dedup_key && *ev->dedup_key)
        hw_text_put_clean(f, ev->dedup_key, strlen(ev->dedup_key));
    else
        fputs("-", f);
    fprintf(f, "\nbody         %zu bytes, sha256 ", ev->body_len);
    for (int i = 0; i < HW_STORE_SHA256_LEN; i++)
        fprintf(f, "%02x", ev->body_sha256[i]);
    fprintf(f, " (show %s --body writes it)\nheaders      %zu line%s, in order:\n", ev->id, nlines,
            nlines == 1 ? "" : "s");
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);

        if (n && p[n - 1] == '\r')
            n--;
        fputs("  ", f);
        hw_text_put_clean(f, p, n);
        fputc('\n', f);
        p = eol ? eol + 1 : end;
    }
    fprintf(f, "attempts     %zu\n", at->n);
    for (size_t i = 0; i < at->n; i++) {
        const struct hw_store_attempt *a = at->v[i];

        replay_when_format(a->at_ms, when, sizeof(when));
        fprintf(f, "  #%zu  %s UTC  ", i + 1, when);
        if (a->http_status)
            fprintf(f, "status %d", a->http_status);
        else
            fputs("no answer", f);
        fprintf(f, "  %d ms", a->duration_ms);
        if (a->error && *a->error) {
            fputs("  error: ", f);
            hw_text_put_clean(f, a->error, strlen(a->error));
        }
        fputc('\n', f);
        if (a->excerpt_len) {
            fputs("      answer: ", f);
            hw_text_put_clean(f, a->excerpt, a->excerpt_len > 200 ? 200 : a->excerpt_len);
            fputs(a->excerpt_len > 200 ? "...\n" : "\n", f);
        }
    }
}
