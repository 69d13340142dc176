/*
 * Events, attempts and lists as owned memory: each event or attempt the store
 * returns is one heap block holding all its bytes, so one free() releases
 * it. Also status names, the list query builder shared by both backends and
 * the body hash. Pure functions; any thread. (Declared in store.h and store_backend.h.)
 */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store.h"
#include "store_backend.h"

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md; /* kept for the process's life; NULL: SHA256() instead */

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void hw_store_body_hash(const void *body, size_t len, unsigned char *out)
{
    pthread_once(&sha256_once, sha256_fetch);
    if (!sha256_md || !EVP_Digest(body, len, out, NULL, sha256_md, NULL))
        SHA256(body, len, out);
}

static size_t opt_len(const char *s)
{
    return s ? strlen(s) + 1 : 1;
}

/* Copies s (NULL as "") to *p and advances it. */
static const char *put_str(char **p, const char *s)
{
    const char *start = *p;
    size_t n = s ? strlen(s) : 0;

    memcpy(*p, s ? s : "", n);
    (*p)[n] = '\0';
    *p += n + 1;
    return start;
}

static const char *put_bytes(char **p, const char *b, size_t n)
{
    const char *start = *p;

    if (n)
        memcpy(*p, b, n);
    (*p)[n] = '\0';
    *p += n + 1;
    return start;
}

struct hw_store_event *hw_store_event_build(const struct hw_store_event *src)
{
    size_t size = sizeof(*src) + opt_len(src->source) + opt_len(src->method) + opt_len(src->path) +
                  opt_len(src->query) + opt_len(src->dedup_key) + opt_len(src->last_error) +
                  (src->headers ? src->headers_len + 1 : 0) + (src->body ? src->body_len + 1 : 0);
    struct hw_store_event *ev = malloc(size);
    char *p;

    if (!ev)
        return NULL;
    *ev = *src;
    p = (char *)(ev + 1);
    ev->source = put_str(&p, src->source);
    ev->method = put_str(&p, src->method);
    ev->path = put_str(&p, src->path);
    ev->query = put_str(&p, src->query);
    ev->dedup_key = put_str(&p, src->dedup_key);
    ev->last_error = put_str(&p, src->last_error);
    if (src->headers)
        ev->headers = put_bytes(&p, src->headers, src->headers_len);
    if (src->body)
        ev->body = put_bytes(&p, src->body, src->body_len);
    return ev;
}

struct hw_store_attempt *hw_store_attempt_build(const struct hw_store_attempt *src)
{
    size_t size = sizeof(*src) + opt_len(src->error) + src->excerpt_len + 1;
    struct hw_store_attempt *a = malloc(size);
    char *p;

    if (!a)
        return NULL;
    *a = *src;
    p = (char *)(a + 1);
    a->error = put_str(&p, src->error);
    a->excerpt = put_bytes(&p, src->excerpt, src->excerpt_len);
    return a;
}

/* Returns v with room for element n (capacity 8, then doubling), or NULL when out of memory. */
static void *grow(void *v, size_t n, size_t size)
{
    if (n < 8 ? n != 0 : (n & (n - 1)) != 0)
        return v;
    return realloc(v, (n ? n * 2 : 8) * size);
}

int hw_store_events_push(struct hw_store_events *l, struct hw_store_event *ev)
{
    struct hw_store_event **v = grow(l->v, l->n, sizeof(*v));

    if (!v) {
        free(ev);
        return HW_ENOMEM;
    }
    l->v = v;
    l->v[l->n++] = ev;
    return 0;
}

int hw_store_attempts_push(struct hw_store_attempts *l, struct hw_store_attempt *a)
{
    struct hw_store_attempt **v = grow(l->v, l->n, sizeof(*v));

    if (!v) {
        free(a);
        return HW_ENOMEM;
    }
    l->v = v;
    l->v[l->n++] = a;
    return 0;
}

int hw_store_events_take_first(struct hw_store_events *l, int err, struct hw_store_event **out)
{
    if (!err && l->n == 0)
        err = HW_ENOTFOUND;
    if (!err) {
        *out = l->v[0];
        l->v[0] = NULL;
    }
    hw_store_events_cleanup(l);
    return err;
}

void hw_store_event_free(struct hw_store_event *ev)
{
    free(ev);
}

void hw_store_events_cleanup(struct hw_store_events *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

void hw_store_attempts_cleanup(struct hw_store_attempts *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

char *hw_store_in_sql(const char *head, size_t n)
{
    size_t len = strlen(head), cap = len + 2 * n + 2;
    char *sql = malloc(cap), *p;

    if (!sql)
        return NULL;
    memcpy(sql, head, len);
    p = sql + len;
    *p++ = '(';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        *p++ = '?';
    }
    *p++ = ')';
    *p = '\0';
    return sql;
}

void hw_store_events_order(struct hw_store_events *l, const int64_t *seqs, size_t n)
{
    size_t next = 0;

    for (size_t i = 0; i < n && next < l->n; i++) {
        for (size_t j = next; j < l->n; j++) {
            if (l->v[j]->seq == seqs[i]) {
                struct hw_store_event *t = l->v[next];
                l->v[next++] = l->v[j];
                l->v[j] = t;
                break;
            }
        }
    }
}

const char *hw_store_status_name(int status)
{
    switch (status) {
    case HW_STORE_PENDING:
        return "pending";
    case HW_STORE_DELIVERED:
        return "delivered";
    case HW_STORE_FAILED:
        return "failed";
    default:
        return "?";
    }
}

int hw_store_status_parse(const char *name)
{
    for (int s = HW_STORE_PENDING; s <= HW_STORE_FAILED; s++)
        if (strcmp(name, hw_store_status_name(s)) == 0)
            return s;
    return HW_EINVAL;
}

/* The index a listing should walk, or NULL to leave it to the planner. */
static const char *list_index(const struct hw_store_filter *f, int kind)
{
    int timed = f->since_ms || f->until_ms;

    /*
     * SQLite's status indexes hold finished events only (schema 5): pending
     * events are listed from the claim indexes, which hold pending events
     * only, and sorted; the work follows the backlog, not the table.
     */
    if (f->status == HW_STORE_PENDING && kind == HW_STORE_KIND_SQLITE)
        return f->source ? "hookwire_events_source_next" : "hookwire_events_next";
    /*
     * Failed (and, on MySQL, pending) with or without times: the status
     * newest first, times and source filtered; see below. A window is then
     * never worth more than the status's events, which are few, and a page
     * needs no sort.
     */
    if (f->status == HW_STORE_FAILED || f->status == HW_STORE_PENDING)
        return "hookwire_events_due";
    /*
     * Other listings with times: the window's range of the received_ms
     * index, the status and source filtered, sorted by seq (schema 8 keeps
     * no time index by source or status: each cost every append a b-tree).
     * The window bounds the work, never the table.
     */
    if (timed)
        return "hookwire_events_received";
    /*
     * Status and source: walk the status newest first and filter the
     * source. Failed and pending are the rare statuses that replays ask
     * for, so few rows are stepped over; left to itself, MySQL took the
     * (source, status, next_attempt_ms, seq) index and sorted a source's
     * whole history for 50 rows (over a second at 1,000,000).
     *
     * SQLite's status indexes hold failed events only (schema 7). Delivered
     * events are most of a store: walked newest first (the source index, or
     * the table by its rowid, seq), a listing finds its page of them at
     * once.
     */
    if (f->status == HW_STORE_DELIVERED && kind == HW_STORE_KIND_SQLITE)
        return f->source ? "hookwire_events_source" : NULL;
    if (f->status)
        return "hookwire_events_due";
    return f->source ? "hookwire_events_source" : NULL;
}

void hw_store_list_sql(const struct hw_store_filter *f, int kind, char *sql, size_t cap)
{
    const char *index = list_index(f, kind);
    char hint[96] = "", status[32] = "";

    if (index)
        snprintf(hint, sizeof(hint),
                 kind == HW_STORE_KIND_MYSQL ? " FORCE INDEX (%s)" : " INDEXED BY %s", index);
    /*
     * The status is written into the SQL, not bound: SQLite uses an index
     * with a WHERE clause only when the query implies that clause (schema 7:
     * "status = 3" on the failed events' indexes, "status = 1" on the
     * pending ones).
     */
    if (f->status >= HW_STORE_PENDING && f->status <= HW_STORE_FAILED)
        snprintf(status, sizeof(status), " AND status = %d", f->status);
    snprintf(sql, cap,
             "SELECT " HW_SQL_EVENT_COLS " FROM hookwire_events%s WHERE 1 = 1%s%s%s%s%s%s"
             " ORDER BY seq DESC LIMIT ?",
             hint, status, f->source ? " AND source = ?" : "",
             f->since_ms ? " AND received_ms >= ?" : "", f->until_ms ? " AND received_ms < ?" : "",
             f->cursor ? " AND seq < ?" : "",
             !f->path                      ? ""
             : kind == HW_STORE_KIND_MYSQL ? " AND path LIKE ? ESCAPE '!'"
                                           : " AND CAST(path AS TEXT) GLOB ?");
}

int hw_store_glob_pattern(const char *glob, int kind, char *out, size_t cap)
{
    size_t n = 0;

    for (const char *g = glob; *g; g++) {
        const char *put;
        char one[2] = { *g, '\0' };

        if (kind == HW_STORE_KIND_MYSQL)
            put = *g == '*'                               ? "%"
                  : *g == '?'                             ? "_"
                  : (*g == '%' || *g == '_' || *g == '!') ? NULL
                                                          : one;
        else
            put = *g == '[' ? "[[]" : one;
        if (!put) { /* a LIKE wildcard or the escape character, taken literally */
            if (n + 2 >= cap)
                return HW_E2BIG;
            out[n++] = '!';
            out[n++] = *g;
            continue;
        }
        if (n + strlen(put) >= cap)
            return HW_E2BIG;
        memcpy(out + n, put, strlen(put));
        n += strlen(put);
    }
    if (n >= cap)
        return HW_E2BIG;
    out[n] = '\0';
    return 0;
}
