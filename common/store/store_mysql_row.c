/*
 * MYSQL_BIND helpers for the MySQL store backend (see store_mysql_row.h).
 * Variable-length columns are bound with no buffer, so a fetch reports only
 * their lengths; each is then read whole with mysql_stmt_fetch_column() into
 * a buffer of exactly that size. Same thread rules as store_mysql.c.
 */
#include "store_mysql_row.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store_backend.h"

/* Fills one input parameter; v is borrowed until the statement has executed. */
static void param(MYSQL_BIND *p, enum enum_field_types type, const void *v, size_t n)
{
    memset(p, 0, sizeof(*p));
    p->buffer_type = type;
    p->buffer = (void *)v;
    /* With length left NULL the library sends buffer_length bytes. */
    p->buffer_length = n;
}

void hw_my_param_i64(MYSQL_BIND *p, const int64_t *v)
{
    param(p, MYSQL_TYPE_LONGLONG, v, 0);
}

void hw_my_param_int(MYSQL_BIND *p, const int *v)
{
    param(p, MYSQL_TYPE_LONG, v, 0);
}

void hw_my_param_bytes(MYSQL_BIND *p, const void *data, size_t n)
{
    param(p, MYSQL_TYPE_BLOB, data ? data : "", n);
}

void hw_my_param_str(MYSQL_BIND *p, const char *s)
{
    if (s)
        hw_my_param_bytes(p, s, strlen(s));
    else
        param(p, MYSQL_TYPE_NULL, NULL, 0);
}

void hw_my_param_event(MYSQL_BIND *p, const struct hw_store_event *ev, int64_t *body_len)
{
    *body_len = (int64_t)ev->body_len;
    hw_my_param_str(&p[0], ev->id);
    hw_my_param_str(&p[1], ev->source);
    hw_my_param_i64(&p[2], &ev->received_ms);
    hw_my_param_str(&p[3], ev->method);
    hw_my_param_str(&p[4], ev->path);
    hw_my_param_str(&p[5], ev->query);
    hw_my_param_bytes(&p[6], ev->headers, ev->headers_len);
    hw_my_param_bytes(&p[7], ev->body, ev->body_len);
    hw_my_param_i64(&p[8], body_len);
    hw_my_param_bytes(&p[9], ev->body_sha256, HW_STORE_SHA256_LEN);
    hw_my_param_int(&p[10], &ev->verify);
    hw_my_param_str(&p[11], ev->dedup_key && ev->dedup_key[0] ? ev->dedup_key : NULL);
}

size_t hw_my_event_bytes(const struct hw_store_event *ev)
{
    return ev->headers_len + ev->body_len + strlen(ev->path) + strlen(ev->query) + 1024;
}

/*
 * Fills one result column: buf of cap bytes (NULL for a column read later
 * with fetch_var()), *len gets the column's length and *nul its NULL flag
 * (either may be NULL when not wanted).
 */
static void result_col(MYSQL_BIND *r, enum enum_field_types type, void *buf, size_t cap,
                       unsigned long *len, hw_my_flag *nul)
{
    memset(r, 0, sizeof(*r));
    r->buffer_type = type;
    r->buffer = buf;
    r->buffer_length = cap;
    r->length = len;
    r->is_null = nul;
}

void hw_my_result_i64(MYSQL_BIND *r, int64_t *v, hw_my_flag *nul)
{
    result_col(r, MYSQL_TYPE_LONGLONG, v, 0, NULL, nul);
}

static void result_int(MYSQL_BIND *r, int *v, hw_my_flag *nul)
{
    result_col(r, MYSQL_TYPE_LONG, v, 0, NULL, nul);
}

/* A column read later with fetch_var(): only its length and NULL flag come with the row. */
static void result_var(MYSQL_BIND *r, unsigned long *len, hw_my_flag *nul)
{
    result_col(r, MYSQL_TYPE_BLOB, NULL, 0, len, nul);
}

/* Reads variable column col of the current row (len bytes) into a new NUL-terminated buffer. */
static int fetch_var(MYSQL_STMT *st, unsigned col, unsigned long len, char **out)
{
    MYSQL_BIND b;
    unsigned long got = 0;
    char *buf = malloc(len + 1);

    if (!buf)
        return HW_ENOMEM;
    if (len) {
        result_col(&b, MYSQL_TYPE_BLOB, buf, len, &got, NULL);
        if (mysql_stmt_fetch_column(st, &b, col, 0)) {
            free(buf);
            return HW_EIO;
        }
    }
    buf[len] = '\0';
    *out = buf;
    return 0;
}

/* Drops the rest of a result after an early stop, so the statement can run again. */
static int finish(MYSQL_STMT *st, int err)
{
    if (err != HW_EIO)
        mysql_stmt_free_result(st);
    return err;
}

int hw_my_fetch_str(MYSQL_STMT *st, char *out, size_t cap, int *found)
{
    MYSQL_BIND r[1];
    unsigned long len = 0;
    hw_my_flag nul = 0;
    int rc;

    *found = 0;
    out[0] = '\0';
    result_col(&r[0], MYSQL_TYPE_STRING, out, cap, &len, &nul);
    if (mysql_stmt_bind_result(st, r))
        return HW_EIO;
    rc = mysql_stmt_fetch(st);
    if (rc == 1)
        return HW_EIO;
    if (rc != MYSQL_NO_DATA) {
        *found = 1;
        out[len < cap ? len : cap - 1] = '\0';
    }
    return finish(st, 0);
}

int hw_my_fetch_i64s(MYSQL_STMT *st, int64_t *v, int64_t *w, size_t max, size_t *n)
{
    MYSQL_BIND r[2];
    int64_t x = 0, y = 0;
    hw_my_flag nul[2] = { 0, 0 };
    int rc;

    *n = 0;
    hw_my_result_i64(&r[0], &x, &nul[0]);
    hw_my_result_i64(&r[1], &y, &nul[1]);
    if (mysql_stmt_bind_result(st, r))
        return HW_EIO;
    while ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
        if (*n < max) {
            if (w)
                w[*n] = y;
            v[(*n)++] = x;
        }
    }
    return rc == 1 ? HW_EIO : finish(st, 0);
}

/* Result buffers for one event row. */
struct event_row {
    MYSQL_BIND r[HW_COL_FULL_COUNT];
    unsigned long len[HW_COL_FULL_COUNT];
    hw_my_flag nul[HW_COL_FULL_COUNT];
    int64_t i64[HW_COL_FULL_COUNT];
    int i32[HW_COL_FULL_COUNT];
    char id[HW_ID_LEN + 2];
    unsigned char sha[HW_STORE_SHA256_LEN];
    char *var[HW_COL_FULL_COUNT];
};

/* Column kinds: L = BIGINT, I = INT, V = variable bytes, S = the id, H = the hash. */
static const char event_kind[HW_COL_FULL_COUNT + 1] = "LSVLVVVLLHIVIILIVLLVV";

static void event_bind(struct event_row *w, int ncols)
{
    for (int i = 0; i < ncols; i++) {
        switch (event_kind[i]) {
        case 'L':
            hw_my_result_i64(&w->r[i], &w->i64[i], &w->nul[i]);
            break;
        case 'I':
            result_int(&w->r[i], &w->i32[i], &w->nul[i]);
            break;
        case 'S':
            result_col(&w->r[i], MYSQL_TYPE_STRING, w->id, sizeof(w->id), &w->len[i], &w->nul[i]);
            break;
        case 'H':
            result_col(&w->r[i], MYSQL_TYPE_BLOB, w->sha, sizeof(w->sha), &w->len[i], &w->nul[i]);
            break;
        default:
            result_var(&w->r[i], &w->len[i], &w->nul[i]);
            break;
        }
    }
}

/* Builds an owned event from the current row (its variable columns read into w->var). */
static int event_build(MYSQL_STMT *st, struct event_row *w, int ncols, struct hw_store_event **out)
{
    struct hw_store_event ev = { 0 };
    int err = 0;

    for (int i = 0; i < ncols && !err; i++)
        if (event_kind[i] == 'V' && !w->nul[i])
            err = fetch_var(st, (unsigned)i, w->len[i], &w->var[i]);
    if (!err) {
        size_t idn = w->len[HW_COL_ID] < HW_ID_LEN ? w->len[HW_COL_ID] : HW_ID_LEN;
        memcpy(ev.id, w->id, idn);
        ev.id[idn] = '\0';
        ev.seq = w->i64[HW_COL_SEQ];
        ev.source = w->var[HW_COL_SOURCE];
        ev.received_ms = w->i64[HW_COL_RECEIVED];
        ev.method = w->var[HW_COL_METHOD];
        ev.path = w->var[HW_COL_PATH];
        ev.query = w->var[HW_COL_QUERY];
        ev.headers_len = (size_t)w->i64[HW_COL_HEADERS_LEN];
        ev.body_len = (size_t)w->i64[HW_COL_BODY_LEN];
        if (w->len[HW_COL_SHA256] == HW_STORE_SHA256_LEN)
            memcpy(ev.body_sha256, w->sha, HW_STORE_SHA256_LEN);
        ev.verify = w->i32[HW_COL_VERIFY];
        ev.dedup_key = w->var[HW_COL_DEDUP];
        ev.status = w->i32[HW_COL_STATUS];
        ev.attempts = w->i32[HW_COL_ATTEMPTS];
        ev.next_attempt_ms = w->i64[HW_COL_NEXT_ATTEMPT];
        ev.last_status = w->i32[HW_COL_LAST_STATUS];
        ev.last_error = w->var[HW_COL_LAST_ERROR];
        ev.lease_until_ms = w->nul[HW_COL_LEASE_UNTIL] ? 0 : w->i64[HW_COL_LEASE_UNTIL];
        ev.lease = w->i64[HW_COL_LEASE_TOKEN];
        if (ncols == HW_COL_FULL_COUNT) {
            ev.headers = w->var[HW_COL_HEADERS] ? w->var[HW_COL_HEADERS] : "";
            ev.headers_len = w->len[HW_COL_HEADERS];
            ev.body = w->var[HW_COL_BODY] ? w->var[HW_COL_BODY] : "";
            ev.body_len = w->len[HW_COL_BODY];
        }
        *out = hw_store_event_build(&ev);
        if (!*out)
            err = HW_ENOMEM;
    }
    for (int i = 0; i < ncols; i++) {
        free(w->var[i]);
        w->var[i] = NULL;
    }
    return err;
}

int hw_my_fetch_events(MYSQL_STMT *st, int full, struct hw_store_events *out)
{
    int ncols = full ? HW_COL_FULL_COUNT : HW_COL_SUMMARY_COUNT;
    struct event_row *w = calloc(1, sizeof(*w));
    struct hw_store_event *ev = NULL;
    int rc, err = 0;

    if (!w)
        return finish(st, HW_ENOMEM);
    event_bind(w, ncols);
    if (mysql_stmt_bind_result(st, w->r)) {
        free(w);
        return HW_EIO;
    }
    while (!err && ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED)) {
        err = event_build(st, w, ncols, &ev);
        if (!err)
            err = hw_store_events_push(out, ev);
    }
    free(w);
    if (!err && rc == 1)
        return HW_EIO;
    return finish(st, err);
}

int hw_my_fetch_attempts(MYSQL_STMT *st, struct hw_store_attempts *out)
{
    MYSQL_BIND r[5];
    unsigned long len[5] = { 0 };
    hw_my_flag nul[5] = { 0 };
    int64_t at = 0;
    int duration = 0, status = 0, rc, err = 0;

    hw_my_result_i64(&r[0], &at, &nul[0]);
    result_int(&r[1], &duration, &nul[1]);
    result_int(&r[2], &status, &nul[2]);
    result_var(&r[3], &len[3], &nul[3]);
    result_var(&r[4], &len[4], &nul[4]);
    if (mysql_stmt_bind_result(st, r))
        return HW_EIO;
    while (!err && ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED)) {
        char *error = NULL, *excerpt = NULL;
        struct hw_store_attempt a = { .at_ms = at, .duration_ms = duration, .http_status = status };
        struct hw_store_attempt *copy;

        err = fetch_var(st, 3, len[3], &error);
        if (!err)
            err = fetch_var(st, 4, len[4], &excerpt);
        if (!err) {
            a.error = error;
            a.excerpt = excerpt;
            a.excerpt_len = len[4];
            copy = hw_store_attempt_build(&a);
            err = copy ? hw_store_attempts_push(out, copy) : HW_ENOMEM;
        }
        free(error);
        free(excerpt);
    }
    if (!err && rc == 1)
        return HW_EIO;
    return finish(st, err);
}

int hw_my_fetch_tokens(MYSQL_STMT *st, struct hw_store_token **out, size_t *n)
{
    MYSQL_BIND r[3];
    unsigned long len[3] = { 0 };
    hw_my_flag nul[3] = { 0 };
    struct hw_store_token t;
    int rc, err = 0;

    memset(&t, 0, sizeof(t));
    result_col(&r[0], MYSQL_TYPE_STRING, t.channel, sizeof(t.channel), &len[0], &nul[0]);
    result_col(&r[1], MYSQL_TYPE_BLOB, t.hash, sizeof(t.hash), &len[1], &nul[1]);
    hw_my_result_i64(&r[2], &t.created_ms, &nul[2]);
    if (mysql_stmt_bind_result(st, r))
        return HW_EIO;
    while (!err && ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED)) {
        struct hw_store_token *v = realloc(*out, (*n + 1) * sizeof(**out));
        if (!v) {
            err = HW_ENOMEM;
            break;
        }
        *out = v;
        t.channel[len[0] < sizeof(t.channel) ? len[0] : sizeof(t.channel) - 1] = '\0';
        v[(*n)++] = t;
    }
    if (!err && rc == 1)
        return HW_EIO;
    return finish(st, err);
}
