/*
 * Strict HTTP/1.1 message-head parser for the raw connections that must keep
 * webhooks byte-exact (chunked.c decodes chunked bodies; http1_headers.c
 * reads the header lines of a parsed head). Owns no memory: heads point into
 * the caller's buffer. No globals; any thread.
 */
#include "http1.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "core/err.h"
#include "http/limits.h"
#include "http1_int.h"
#include "httpchar.h"

/*
 * Content-Length values above 2^60 are rejected: no real body comes near it,
 * and the cap keeps every accumulation far from overflowing.
 */
#define HTTP1_SIZE_MAX ((uint64_t)1 << 60)

/* Framing facts gathered from the header lines as they complete. */
struct framing {
    int minor_version;
    int is_request;
    int has_cl;
    int has_te;
    const char *cl; /* trimmed value of the first Content-Length */
    size_t cl_len;
    uint64_t content_length;
    int conn_close;
    int conn_keep_alive;
    int has_connection;
    int conn_other; /* a Connection header lists more than close and keep-alive */
    int expect_continue;
    int hosts;       /* Host headers seen (requests) */
    int host_bad;    /* one of them is not a uri-host[:port] */
    const char *why; /* the framing rule a header broke (HW_EPARSE) */
};

/* rc, and for HW_EPARSE the rule broken, unless a step inside already named a closer one. */
static int broke(struct hw_http1_cursor *c, int rc, const char *why)
{
    if (rc == HW_EPARSE && !c->why)
        c->why = why;
    return rc;
}

/* HW_EPARSE for a framing rule a header broke. */
static int framing_error(struct framing *f, const char *why)
{
    f->why = why;
    return HW_EPARSE;
}

/* A request-target may hold anything visible, but no space or control. */
static int is_target_byte(unsigned char ch)
{
    return ch > 0x20 && ch != 0x7f;
}

const char *hw_http1_trim(const char *v, size_t vlen, size_t *len)
{
    while (vlen > 0 && is_ows((unsigned char)v[0])) {
        v++;
        vlen--;
    }
    while (vlen > 0 && is_ows((unsigned char)v[vlen - 1]))
        vlen--;
    *len = vlen;
    return v;
}

/*
 * Steps through a comma-separated list such as a Connection value: stores the
 * next non-empty element, trimmed, and returns 1, or returns 0 at the end.
 */
int hw_http1_list_next(const char **p, const char *end, const char **elem, size_t *elen)
{
    while (*p < end) {
        const char *start = *p;
        while (*p < end && **p != ',')
            (*p)++;
        *elem = hw_http1_trim(start, (size_t)(*p - start), elen);
        if (*p < end)
            (*p)++;
        if (*elen > 0)
            return 1;
    }
    return 0;
}

/* Reads a non-empty token that must be ended by stop, and steps over stop. */
int hw_http1_parse_token(struct hw_http1_cursor *c, char stop, const char **tok, size_t *len)
{
    /* A local cursor: the loop then keeps it in a register instead of storing every step. */
    const char *start = c->p, *p = start, *end = c->end;

    while (p < end && is_tchar((unsigned char)*p))
        p++;
    c->p = p;
    if (p == end)
        return HW_EAGAIN;
    if (p == start || *p != stop)
        return HW_EPARSE;
    *tok = start;
    *len = (size_t)(p - start);
    c->p++;
    return 0;
}

/* HTTP/1.0 and HTTP/1.1 only: the framing rules below are those of 1.x. */
static int parse_version(struct hw_http1_cursor *c, int *minor)
{
    int rc = hw_http1_expect_lit(c, "HTTP/1.");

    if (rc != 0)
        return rc;
    if (c->p == c->end)
        return HW_EAGAIN;
    if (*c->p != '0' && *c->p != '1')
        return HW_EPARSE;
    *minor = *c->p - '0';
    c->p++;
    return 0;
}

/*
 * Says whether any of the eight bytes at p is below 0x20 or is 0x7f: the bytes that
 * end a field or are not allowed in one (HTAB is allowed but rare, and is left to the
 * byte-wise loop). Bytes from 0x80 (obs-text) never count. The classic "has a byte
 * less than n" and "has a zero byte" word tests; the answer is exact.
 */
static int word_has_ctl(const char *p)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t w, del;

    memcpy(&w, p, sizeof(w));
    del = w ^ (0x7f * ones);
    return (((w - 0x20 * ones) & ~w) | ((del - ones) & ~del)) & highs ? 1 : 0;
}

/*
 * Reads the field bytes of a header value or a reason phrase up to the first
 * byte that is not one; the caller expects CRLF there.
 */
int hw_http1_parse_field(struct hw_http1_cursor *c, const char **field, size_t *len)
{
    const char *p = c->p, *end = c->end;

    *field = p;
    /* Values are most of a head's bytes: eight at a time while none can end or spoil one. */
    while (end - p >= 8 && !word_has_ctl(p))
        p += 8;
    while (p < end && is_field_byte((unsigned char)*p))
        p++;
    c->p = p;
    if (p == end)
        return HW_EAGAIN;
    *len = (size_t)(p - *field);
    return 0;
}

/* Content-Length: digits only, no sign, no list, at most 2^60. */
int hw_http1_parse_length(const char *v, size_t vlen, uint64_t *out)
{
    uint64_t n = 0;

    if (vlen == 0)
        return HW_EPARSE;
    for (size_t i = 0; i < vlen; i++) {
        unsigned d = (unsigned char)v[i] - '0';
        if (d > 9 || n > (HTTP1_SIZE_MAX - d) / 10)
            return HW_EPARSE;
        n = n * 10 + d;
    }
    *out = n;
    return 0;
}

/*
 * Records what one complete header line means for framing. Conflicts are
 * refused here, as soon as the second header arrives, because a message that
 * two parsers could frame differently is how requests get smuggled.
 */
static int note_header(struct framing *f, const struct hw_http_header *h)
{
    size_t vlen;
    const char *v = hw_http1_trim(h->value, h->value_len, &vlen);

    if (NAME_IS(h, "content-length")) {
        if (f->has_te)
            return framing_error(f, "Content-Length with Transfer-Encoding");
        if (f->has_cl)
            return vlen == f->cl_len && memcmp(v, f->cl, vlen) == 0
                       ? 0
                       : framing_error(f, "two different Content-Length values");
        if (hw_http1_parse_length(v, vlen, &f->content_length) != 0)
            return framing_error(f, "a Content-Length that is not a number of bytes");
        f->has_cl = 1;
        f->cl = v;
        f->cl_len = vlen;
    } else if (NAME_IS(h, "transfer-encoding")) {
        /*
         * Only a lone "chunked" is accepted: any other coding would have to
         * be undone or kept with its header, and HTTP/1.0 has no chunking.
         */
        if (f->has_cl)
            return framing_error(f, "Content-Length with Transfer-Encoding");
        if (f->has_te)
            return framing_error(f, "two Transfer-Encoding headers");
        if (f->minor_version == 0)
            return framing_error(f, "Transfer-Encoding in HTTP/1.0");
        if (!hw_http1_mem_ieq(v, vlen, "chunked", 7))
            return framing_error(f, "a Transfer-Encoding other than chunked");
        f->has_te = 1;
    } else if (NAME_IS(h, "connection")) {
        const char *p = v, *elem;
        size_t elen;
        f->has_connection = 1;
        while (hw_http1_list_next(&p, v + vlen, &elem, &elen)) {
            if (hw_http1_mem_ieq(elem, elen, "close", 5))
                f->conn_close = 1;
            else if (hw_http1_mem_ieq(elem, elen, "keep-alive", 10))
                f->conn_keep_alive = 1;
            else
                f->conn_other = 1;
        }
    } else if (f->is_request && NAME_IS(h, "host")) {
        f->host_bad |= !hw_http_host_valid(v, vlen);
        f->hosts++;
    } else if (f->is_request && NAME_IS(h, "expect")) {
        if (hw_http1_mem_ieq(v, vlen, "100-continue", 12))
            f->expect_continue = 1;
    }
    return 0;
}

/*
 * Reads header lines up to and including the blank line. A line starting
 * with whitespace (obs-fold), whitespace before the colon, a missing colon
 * and a bare LF all surface as a name token that does not end in ':'.
 */
static int parse_headers(struct hw_http1_cursor *c, struct hw_http_head *head, struct framing *f)
{
    for (;;) {
        struct hw_http_header *h;
        int rc;

        if (c->p == c->end)
            return HW_EAGAIN;
        if (*c->p == '\r')
            return broke(c, hw_http1_expect_lit(c, "\r\n"), "a CR without LF after the headers");
        if (head->nheaders == HW_HTTP_MAX_HEADERS)
            return HW_E2BIG;

        h = &head->headers[head->nheaders];
        rc = hw_http1_parse_token(c, ':', &h->name, &h->name_len);
        if (rc != 0)
            return broke(c, rc,
                         "a header line without a name and colon (obs-fold, a space before "
                         "the colon, no colon)");
        rc = hw_http1_parse_field(c, &h->value, &h->value_len);
        if (rc != 0)
            return rc;
        rc = hw_http1_expect_lit(c, "\r\n");
        if (rc != 0)
            return broke(c, rc, "a control character or a bare CR in a header value");
        head->nheaders++;
        rc = note_header(f, h);
        if (rc != 0)
            return broke(c, rc, f->why);
    }
}

/* Clears everything but the header array, which is large and filled as parsed. */
static void head_reset(struct hw_http_head *head, struct framing *f, int is_request)
{
    memset(head, 0, offsetof(struct hw_http_head, headers));
    memset(&head->nheaders, 0, sizeof(*head) - offsetof(struct hw_http_head, nheaders));
    memset(f, 0, sizeof(*f));
    f->is_request = is_request;
}

static int head_finish(const char *buf, const struct hw_http1_cursor *c, struct hw_http_head *head,
                       const struct framing *f)
{
    size_t n = (size_t)(c->p - buf);

    if (n > INT_MAX)
        return HW_E2BIG;
    head->head_len = n;
    head->no_connection = !f->has_connection;
    head->connection_plain = !f->conn_other;
    head->content_length = f->has_cl ? f->content_length : 0;
    if (head->minor_version == 1)
        head->keep_alive = !f->conn_close;
    else
        head->keep_alive = f->conn_keep_alive && !f->conn_close;
    return (int)n;
}

/*
 * The body framing the headers declare, or otherwise when they declare none
 * (no body for a request, read-until-close for a response).
 */
static enum hw_http_body declared_body(const struct framing *f, enum hw_http_body otherwise)
{
    if (f->has_te)
        return HW_BODY_CHUNKED;
    return f->has_cl ? HW_BODY_LENGTH : otherwise;
}

static int parse_request_line(struct hw_http1_cursor *c, struct hw_http_head *head)
{
    const char *start;
    int rc;

    /* RFC 9112 2.2: empty lines before a request line are ignored. */
    while (c->p < c->end && *c->p == '\r') {
        rc = hw_http1_expect_lit(c, "\r\n");
        if (rc != 0)
            return broke(c, rc, "a CR without LF before the request line");
    }
    start = c->p;
    rc = hw_http1_parse_token(c, ' ', &head->method, &head->method_len);
    /* Too long, or too long already: no need to wait for the rest. */
    if ((rc == 0 && head->method_len > HW_METHOD_MAX) ||
        (rc == HW_EAGAIN && (size_t)(c->p - start) > HW_METHOD_MAX))
        return broke(c, HW_EPARSE, "a method longer than 32 bytes");
    if (rc != 0)
        return broke(c, rc, "a request line that does not start with a method and a space");

    head->target = c->p;
    while (c->p < c->end && is_target_byte((unsigned char)*c->p))
        c->p++;
    if (c->p == c->end)
        return HW_EAGAIN;
    if (c->p == head->target || *c->p != ' ')
        return broke(c, HW_EPARSE, "a request target that is empty or holds a control character");
    head->target_len = (size_t)(c->p - head->target);
    c->p++;

    rc = parse_version(c, &head->minor_version);
    if (rc != 0)
        return broke(c, rc, "a version other than HTTP/1.0 or HTTP/1.1");
    return broke(c, hw_http1_expect_lit(c, "\r\n"), "bytes after the version on the request line");
}

static int parse_status_line(struct hw_http1_cursor *c, struct hw_http_head *head)
{
    int rc = parse_version(c, &head->minor_version);

    if (rc != 0)
        return rc;
    rc = hw_http1_expect_lit(c, " ");
    if (rc != 0)
        return rc;
    for (int i = 0; i < 3; i++, c->p++) {
        if (c->p == c->end)
            return HW_EAGAIN;
        if (*c->p < '0' || *c->p > '9')
            return HW_EPARSE;
        head->status = head->status * 10 + (*c->p - '0');
    }
    if (head->status < 100)
        return HW_EPARSE;

    /*
     * The reason phrase may be empty, and "HTTP/1.1 200\r\n" without the
     * space is common enough from small servers to accept: it is unambiguous.
     */
    if (c->p == c->end)
        return HW_EAGAIN;
    if (*c->p == ' ')
        c->p++;
    else if (*c->p != '\r')
        return HW_EPARSE;
    rc = hw_http1_parse_field(c, &head->reason, &head->reason_len);
    if (rc != 0)
        return rc;
    return hw_http1_expect_lit(c, "\r\n");
}

/* The start line (a request's when request is set, else a status line) and the headers. */
static int parse_head(struct hw_http1_cursor *c, struct hw_http_head *head, struct framing *f,
                      int request)
{
    int rc;

    head_reset(head, f, request);
    rc = request ? parse_request_line(c, head) : parse_status_line(c, head);
    if (rc != 0)
        return rc;
    f->minor_version = head->minor_version;
    return parse_headers(c, head, f);
}

int hw_http_parse_request(const char *buf, size_t len, struct hw_http_head *head)
{
    struct hw_http1_cursor c = { buf, buf + len, NULL };
    struct framing f;
    int rc = parse_head(&c, head, &f, 1);

    if (rc == HW_EPARSE)
        head->error = c.why ? c.why : "a malformed head";
    if (rc != 0)
        return rc;
    head->hosts = f.hosts;
    head->host_bad = f.host_bad;
    head->body = declared_body(&f, HW_BODY_NONE);
    head->expect_continue = f.expect_continue;
    return head_finish(buf, &c, head, &f);
}

int hw_http_parse_response(const char *buf, size_t len, const char *request_method,
                           struct hw_http_head *head)
{
    struct hw_http1_cursor c = { buf, buf + len, NULL };
    struct framing f;
    int rc = parse_head(&c, head, &f, 0);

    if (rc == HW_EPARSE)
        head->error = c.why ? c.why : "a malformed status line";
    if (rc != 0)
        return rc;
    if (head->status < 200 || head->status == 204 || head->status == 304 ||
        (request_method != NULL && strcmp(request_method, "HEAD") == 0))
        head->body = HW_BODY_NONE;
    else
        head->body = declared_body(&f, HW_BODY_CLOSE);
    rc = head_finish(buf, &c, head, &f);
    if (head->body == HW_BODY_CLOSE)
        head->keep_alive = 0;
    return rc;
}

int hw_http_is_token(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)p[i]))
            return 0;
    return len > 0;
}

int hw_http_is_target(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_target_byte((unsigned char)p[i]))
            return 0;
    return len > 0;
}
