/*
 * Header lines after the parse (http1.c parses heads): look-up in a parsed
 * head, hop-by-hop rules, the one-pass check of a forwarded header block,
 * runs of lines copied on, and the one Host rule (the parser's and the
 * relay's). Owns no memory: headers point into the caller's buffer. No
 * globals; any thread.
 */
#include "http1.h"

#include <stddef.h>
#include <string.h>

#include "core/err.h"
#include "http1_int.h"

const struct hw_http_header *hw_http_find(const struct hw_http_head *head, const char *name)
{
    size_t nlen = strlen(name);

    for (size_t i = 0; i < head->nheaders; i++) {
        const struct hw_http_header *h = &head->headers[i];
        if (hw_http1_mem_ieq(h->name, h->name_len, name, nlen))
            return h;
    }
    return NULL;
}

const char *hw_http_value_trim(const struct hw_http_header *h, size_t *len)
{
    return hw_http1_trim(h->value, h->value_len, len);
}

/* Is h one of the headers that are hop-by-hop by name (RFC 9110 section 7.6.1 and the like)? */
static int fixed_hop_by_hop(const struct hw_http_header *h)
{
    /* By length first: most names are settled without comparing a byte. */
    switch (h->name_len) {
    case 2:
        return NAME_IS(h, "te");
    case 7:
        return NAME_IS(h, "trailer") || NAME_IS(h, "upgrade");
    case 10:
        return NAME_IS(h, "connection") || NAME_IS(h, "keep-alive");
    case 16:
        return NAME_IS(h, "proxy-connection");
    case 17:
        return NAME_IS(h, "transfer-encoding");
    case 18:
        return NAME_IS(h, "proxy-authenticate");
    case 19:
        return NAME_IS(h, "proxy-authorization");
    default:
        return 0;
    }
}

int hw_http_is_hop_by_hop(const struct hw_http_head *head, const struct hw_http_header *h)
{
    if (fixed_hop_by_hop(h))
        return 1;
    /* Host and Content-Length describe the message itself: Connection cannot remove them. */
    if (head->no_connection || NAME_IS(h, "host") || NAME_IS(h, "content-length"))
        return 0;
    /* Keep-Alive is hop-by-hop already; a header named Close is the one left to look for. */
    if (head->connection_plain)
        return NAME_IS(h, "close");
    for (size_t i = 0; i < head->nheaders; i++) {
        const struct hw_http_header *conn = &head->headers[i];
        const char *p, *elem;
        size_t elen;
        if (!NAME_IS(conn, "connection"))
            continue;
        p = conn->value;
        while (hw_http1_list_next(&p, conn->value + conn->value_len, &elem, &elen)) {
            if (hw_http1_mem_ieq(elem, elen, h->name, h->name_len))
                return 1;
        }
    }
    return 0;
}

/* rc, with the rule the line broke noted in b. */
static int block_broke(struct hw_http_block *b, int rc, const char *why)
{
    b->error = why;
    return rc;
}

int hw_http_block_next(struct hw_http_block *b, const char **p, const char *end,
                       struct hw_http_header *h)
{
    struct hw_http1_cursor c = { *p, end, NULL };
    const char *v;
    size_t vlen;

    if (c.p == end)
        return 0;
    if (b->nheaders == HW_HTTP_MAX_HEADERS)
        return block_broke(b, HW_E2BIG, "more header lines than a head holds");
    /* The block is whole: a line cut short is as malformed as a bad one. */
    if (hw_http1_parse_token(&c, ':', &h->name, &h->name_len) != 0)
        return block_broke(b, HW_EPARSE, "a header line without a name and colon");
    if (hw_http1_parse_field(&c, &h->value, &h->value_len) != 0 ||
        hw_http1_expect_lit(&c, "\r\n") != 0)
        return block_broke(b, HW_EPARSE,
                           "a header line with a control character, or not ended by CRLF");
    if (fixed_hop_by_hop(h))
        return block_broke(b, HW_EPARSE,
                           "a hop-by-hop header (Connection, Transfer-Encoding, Upgrade, ...)");
    if (NAME_IS(h, "content-length")) {
        v = hw_http1_trim(h->value, h->value_len, &vlen);
        if (b->has_length) {
            if (vlen != b->cl_len || memcmp(v, b->cl, vlen) != 0)
                return block_broke(b, HW_EPARSE, "two different Content-Length values");
        } else {
            if (hw_http1_parse_length(v, vlen, &b->content_length) != 0)
                return block_broke(b, HW_EPARSE, "a Content-Length that is not a number of bytes");
            b->has_length = 1;
            b->cl = v;
            b->cl_len = vlen;
        }
    }
    b->nheaders++;
    *p = c.p;
    return 1;
}

int hw_http_run_add(struct hw_http_run *r, struct hw_buf *b, const struct hw_http_header *h)
{
    size_t len = (size_t)(h->value + h->value_len - h->name) + 2;
    int err;

    if (r->n && r->p + r->n == h->name) {
        r->n += len;
        return 0;
    }
    err = hw_http_run_flush(r, b);
    r->p = h->name;
    r->n = len;
    return err;
}

int hw_http_run_flush(struct hw_http_run *r, struct hw_buf *b)
{
    int err = r->n ? hw_buf_append(b, r->p, r->n) : 0;

    r->n = 0;
    return err;
}

/* Whether v[0..n) is a port: 1 to 5 digits, 1..65535. */
static int port_ok(const char *v, size_t n)
{
    unsigned long p = 0;

    if (n == 0 || n > 5)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        p = p * 10 + (unsigned long)(v[i] - '0');
    }
    return p >= 1 && p <= 65535;
}

int hw_http_host_valid(const char *v, size_t n)
{
    size_t i = 0;

    if (n == 0)
        return 1;
    if (v[0] == '[') {
        int colons = 0;

        for (i = 1; i < n && v[i] != ']'; i++) {
            if (!((v[i] >= '0' && v[i] <= '9') || ((v[i] | 0x20) >= 'a' && (v[i] | 0x20) <= 'f') ||
                  v[i] == ':' || v[i] == '.'))
                return 0;
            colons += v[i] == ':';
        }
        if (i == n || colons < 2)
            return 0;
        i++; /* the ']' */
    } else {
        for (; i < n && v[i] != ':'; i++) {
            if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
                  (v[i] >= '0' && v[i] <= '9') || v[i] == '-' || v[i] == '.' || v[i] == '_'))
                return 0;
        }
        /* Labels are not empty, and a name begins with neither '.' nor '-' (no "..", "-"). */
        if (i == 0 || v[0] == '.' || v[0] == '-' || memmem(v, i, "..", 2))
            return 0;
    }
    return i == n || (v[i] == ':' && port_ok(v + i + 1, n - i - 1));
}
