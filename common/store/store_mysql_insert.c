/*
 * The MySQL backend's INSERT of a group commit's pending events as one text
 * statement of the batch's exact size, its values escaped into a buffer the
 * backend keeps (struct hw_my: sql, sql_cap). Called by hw_my_insert
 * (store_mysql_events.c) on the store thread, under the handle's lock.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store_mysql.h"

/*
 * Bytes a row adds to the statement at most: every string byte escaped to
 * two, the SHA-256 in hex, four numbers and the punctuation.
 */
size_t hw_my_text_row_bytes(const struct hw_store_event *ev)
{
    size_t s = strlen(ev->id) + strlen(ev->source) + strlen(ev->method) + strlen(ev->path) +
               strlen(ev->query) + ev->headers_len + ev->body_len +
               (ev->dedup_key ? strlen(ev->dedup_key) : 0);

    return 2 * s + 2 * HW_STORE_SHA256_LEN + 4 * 21 + 256;
}

/* Byte classes of the escape: 0 copied, else the letter after the backslash. */
static const unsigned char esc_letter[256] = {
    [0] = '0', ['\n'] = 'n', ['\r'] = 'r', ['\\'] = '\\', ['\''] = '\'', ['"'] = '"', [26] = 'Z',
};

/*
 * Writes s[0..n) into to as the inside of a quoted literal; returns the
 * bytes written (at most 2n). The connection's character set is utf8mb4
 * (store_mysql.c), where no byte of a multi-byte character is below 0x80,
 * so escaping byte by byte is exact: the server's lexer reads a quote or a
 * backslash only where one is. With NO_BACKSLASH_ESCAPES in the session's
 * sql_mode a backslash is an ordinary byte and a quote is doubled instead.
 */
static size_t escape(char *to, const char *s, size_t n, int no_backslash)
{
    char *o = to;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (no_backslash) {
            if (c == '\'')
                *o++ = '\'';
            *o++ = (char)c;
        } else if (esc_letter[c]) {
            *o++ = '\\';
            *o++ = (char)esc_letter[c];
        } else {
            *o++ = (char)c;
        }
    }
    return (size_t)(o - to);
}

struct text {
    char *p;
    int no_backslash;
};

static void put(struct text *t, const char *s, size_t n)
{
    memcpy(t->p, s, n);
    t->p += n;
}

#define PUT(t, lit) put(t, lit, sizeof(lit) - 1)

/* A string value: _binary'...' for the binary columns, '...' for the ASCII id. */
static void put_str(struct text *t, const char *s, size_t n, int binary)
{
    if (binary)
        PUT(t, "_binary");
    *t->p++ = '\'';
    t->p += escape(t->p, s, n, t->no_backslash);
    *t->p++ = '\'';
}

static void put_i64(struct text *t, int64_t v)
{
    char d[24];
    size_t n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        d[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *t->p++ = '-';
    while (n)
        *t->p++ = d[--n];
}

static void put_hex(struct text *t, const unsigned char *b, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    PUT(t, "X'");
    for (size_t i = 0; i < n; i++) {
        *t->p++ = hex[b[i] >> 4];
        *t->p++ = hex[b[i] & 15];
    }
    *t->p++ = '\'';
}

/* One row, in the columns and constants of HW_SQL_INSERT_HEAD and HW_SQL_INSERT_ROW. */
static void put_row(struct text *t, const struct hw_store_event *ev)
{
    const char *dedup = ev->dedup_key && ev->dedup_key[0] ? ev->dedup_key : NULL;

    *t->p++ = '(';
    put_str(t, ev->id, strlen(ev->id), 0);
    PUT(t, ", ");
    put_str(t, ev->source, strlen(ev->source), 1);
    PUT(t, ", ");
    put_i64(t, ev->received_ms);
    PUT(t, ", ");
    put_str(t, ev->method, strlen(ev->method), 1);
    PUT(t, ", ");
    put_str(t, ev->path, strlen(ev->path), 1);
    PUT(t, ", ");
    put_str(t, ev->query, strlen(ev->query), 1);
    PUT(t, ", ");
    put_str(t, ev->headers, ev->headers_len, 1);
    PUT(t, ", ");
    put_str(t, ev->body, ev->body_len, 1);
    PUT(t, ", ");
    put_i64(t, (int64_t)ev->body_len);
    PUT(t, ", ");
    put_hex(t, ev->body_sha256, HW_STORE_SHA256_LEN);
    PUT(t, ", ");
    put_i64(t, ev->verify);
    PUT(t, ", ");
    if (dedup)
        put_str(t, dedup, strlen(dedup), 1);
    else
        PUT(t, "NULL");
    PUT(t, ", 1, 0, ");
    put_i64(t, ev->next_attempt_ms);
    PUT(t, ", 0)");
}

int hw_my_insert_text(struct hw_my *b, const struct hw_store_row *rows, size_t k)
{
    size_t need = sizeof(HW_SQL_INSERT_HEAD);
    struct text t;
    int err = 0;

    for (size_t j = 0; j < k; j++)
        need += hw_my_text_row_bytes(rows[j].ev) + 2;
    if (need > b->sql_cap) {
        char *p = realloc(b->sql, need);

        if (!p)
            return HW_ENOMEM;
        b->sql = p;
        b->sql_cap = need;
    }
    t.p = b->sql;
    t.no_backslash = (b->conn->server_status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0;
    PUT(&t, HW_SQL_INSERT_HEAD);
    for (size_t j = 0; j < k; j++) {
        if (j)
            PUT(&t, ", ");
        put_row(&t, rows[j].ev);
    }
    if (mysql_real_query(b->conn, b->sql, (unsigned long)(t.p - b->sql)))
        err = hw_my_conn_fail(b, "insert events");
    if (b->sql_cap > HW_MY_SQL_KEEP) {
        free(b->sql);
        b->sql = NULL;
        b->sql_cap = 0;
    }
    return err;
}
