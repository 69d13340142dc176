/*
 * Strict HTTP/1.1 message-head parser and in-place chunked-body decoder for
 * the raw connections that must keep webhooks byte-exact. Owns no memory:
 * heads point into the caller's buffer and the decoder rewrites the caller's
 * buffer. No globals; any thread.
 */
#include "http1.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "err.h"

/*
 * Content-Length values and chunk sizes above 2^60 are rejected: no real body
 * comes near it, and the cap keeps every accumulation far from overflowing.
 */
#define HTTP1_SIZE_MAX ((uint64_t)1 << 60)

/* Longest chunk-size line or trailer line, CRLF excluded. */
#define HTTP1_CHUNK_LINE_MAX 4096

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
    int expect_continue;
    int hosts; /* Host headers seen (requests) */
};

struct cursor {
    const char *p;
    const char *end;
};

/* RFC 9110 tchar: the bytes a method or a header name may contain. */
static int is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return 1;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/*
 * Bytes allowed in a header value, a reason phrase or a chunk extension:
 * HTAB, SP, visible ASCII and obs-text. Every other control byte, bare CR and
 * NUL included, is an error rather than something to pass on.
 */
static int is_field_byte(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

/* A request-target may hold anything visible, but no space or control. */
static int is_target_byte(unsigned char ch)
{
    return ch > 0x20 && ch != 0x7f;
}

static int is_ows(unsigned char ch)
{
    return ch == ' ' || ch == '\t';
}

static unsigned char ascii_lower(unsigned char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
}

/* Case-insensitive comparison in ASCII only, whatever the locale. */
static int mem_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++) {
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return 0;
    }
    return 1;
}

static int name_is(const struct hw_http_header *h, const char *name)
{
    return mem_ieq(h->name, h->name_len, name, strlen(name));
}

static const char *trim(const char *v, size_t vlen, size_t *len)
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
static int list_next(const char **p, const char *end, const char **elem, size_t *elen)
{
    while (*p < end) {
        const char *start = *p;
        while (*p < end && **p != ',')
            (*p)++;
        *elem = trim(start, (size_t)(*p - start), elen);
        if (*p < end)
            (*p)++;
        if (*elen > 0)
            return 1;
    }
    return 0;
}

/* Matches a literal; a prefix of it at the end of the input asks for more. */
static int expect_lit(struct cursor *c, const char *lit)
{
    for (; *lit != '\0'; lit++, c->p++) {
        if (c->p == c->end)
            return HW_EAGAIN;
        if (*c->p != *lit)
            return HW_EPARSE;
    }
    return 0;
}

/* Reads a non-empty token that must be ended by stop, and steps over stop. */
static int parse_token(struct cursor *c, char stop, const char **tok, size_t *len)
{
    const char *start = c->p;

    while (c->p < c->end && is_tchar((unsigned char)*c->p))
        c->p++;
    if (c->p == c->end)
        return HW_EAGAIN;
    if (c->p == start || *c->p != stop)
        return HW_EPARSE;
    *tok = start;
    *len = (size_t)(c->p - start);
    c->p++;
    return 0;
}

/* HTTP/1.0 and HTTP/1.1 only: the framing rules below are those of 1.x. */
static int parse_version(struct cursor *c, int *minor)
{
    int rc = expect_lit(c, "HTTP/1.");

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
 * Reads the field bytes of a header value or a reason phrase up to the first
 * byte that is not one; the caller expects CRLF there.
 */
static int parse_field(struct cursor *c, const char **field, size_t *len)
{
    *field = c->p;
    while (c->p < c->end && is_field_byte((unsigned char)*c->p))
        c->p++;
    if (c->p == c->end)
        return HW_EAGAIN;
    *len = (size_t)(c->p - *field);
    return 0;
}

/* Content-Length: digits only, no sign, no list, at most 2^60. */
static int parse_length(const char *v, size_t vlen, uint64_t *out)
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
    const char *v = trim(h->value, h->value_len, &vlen);

    if (name_is(h, "content-length")) {
        if (f->has_te)
            return HW_EPARSE;
        if (f->has_cl)
            return vlen == f->cl_len && memcmp(v, f->cl, vlen) == 0 ? 0 : HW_EPARSE;
        if (parse_length(v, vlen, &f->content_length) != 0)
            return HW_EPARSE;
        f->has_cl = 1;
        f->cl = v;
        f->cl_len = vlen;
    } else if (name_is(h, "transfer-encoding")) {
        /*
         * Only a lone "chunked" is accepted: any other coding would have to
         * be undone or kept with its header, and HTTP/1.0 has no chunking.
         */
        if (f->has_cl || f->has_te || f->minor_version == 0)
            return HW_EPARSE;
        if (!mem_ieq(v, vlen, "chunked", 7))
            return HW_EPARSE;
        f->has_te = 1;
    } else if (name_is(h, "connection")) {
        const char *p = v, *elem;
        size_t elen;
        while (list_next(&p, v + vlen, &elem, &elen)) {
            if (mem_ieq(elem, elen, "close", 5))
                f->conn_close = 1;
            else if (mem_ieq(elem, elen, "keep-alive", 10))
                f->conn_keep_alive = 1;
        }
    } else if (f->is_request && name_is(h, "host")) {
        f->hosts++;
    } else if (f->is_request && name_is(h, "expect")) {
        if (mem_ieq(v, vlen, "100-continue", 12))
            f->expect_continue = 1;
    }
    return 0;
}

/*
 * Reads header lines up to and including the blank line. A line starting
 * with whitespace (obs-fold), whitespace before the colon, a missing colon
 * and a bare LF all surface as a name token that does not end in ':'.
 */
static int parse_headers(struct cursor *c, struct hw_http_head *head, struct framing *f)
{
    for (;;) {
        struct hw_http_header *h;
        int rc;

        if (c->p == c->end)
            return HW_EAGAIN;
        if (*c->p == '\r')
            return expect_lit(c, "\r\n");
        if (head->nheaders == HW_HTTP_MAX_HEADERS)
            return HW_E2BIG;

        h = &head->headers[head->nheaders];
        rc = parse_token(c, ':', &h->name, &h->name_len);
        if (rc != 0)
            return rc;
        rc = parse_field(c, &h->value, &h->value_len);
        if (rc != 0)
            return rc;
        rc = expect_lit(c, "\r\n");
        if (rc != 0)
            return rc;
        head->nheaders++;
        rc = note_header(f, h);
        if (rc != 0)
            return rc;
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

static int head_finish(const char *buf, const struct cursor *c, struct hw_http_head *head,
                       const struct framing *f)
{
    size_t n = (size_t)(c->p - buf);

    if (n > INT_MAX)
        return HW_E2BIG;
    head->head_len = n;
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

static int parse_request_line(struct cursor *c, struct hw_http_head *head)
{
    int rc;

    /* RFC 9112 2.2: empty lines before a request line are ignored. */
    while (c->p < c->end && *c->p == '\r') {
        rc = expect_lit(c, "\r\n");
        if (rc != 0)
            return rc;
    }
    rc = parse_token(c, ' ', &head->method, &head->method_len);
    if (rc != 0)
        return rc;

    head->target = c->p;
    while (c->p < c->end && is_target_byte((unsigned char)*c->p))
        c->p++;
    if (c->p == c->end)
        return HW_EAGAIN;
    if (c->p == head->target || *c->p != ' ')
        return HW_EPARSE;
    head->target_len = (size_t)(c->p - head->target);
    c->p++;

    rc = parse_version(c, &head->minor_version);
    if (rc != 0)
        return rc;
    return expect_lit(c, "\r\n");
}

int hw_http_parse_request(const char *buf, size_t len, struct hw_http_head *head)
{
    struct cursor c = { buf, buf + len };
    struct framing f;
    int rc;

    head_reset(head, &f, 1);
    rc = parse_request_line(&c, head);
    if (rc != 0)
        return rc;
    f.minor_version = head->minor_version;
    rc = parse_headers(&c, head, &f);
    if (rc != 0)
        return rc;

    head->hosts = f.hosts;
    head->body = declared_body(&f, HW_BODY_NONE);
    head->expect_continue = f.expect_continue;
    return head_finish(buf, &c, head, &f);
}

static int parse_status_line(struct cursor *c, struct hw_http_head *head)
{
    int rc = parse_version(c, &head->minor_version);

    if (rc != 0)
        return rc;
    rc = expect_lit(c, " ");
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
    rc = parse_field(c, &head->reason, &head->reason_len);
    if (rc != 0)
        return rc;
    return expect_lit(c, "\r\n");
}

int hw_http_parse_response(const char *buf, size_t len, const char *request_method,
                           struct hw_http_head *head)
{
    struct cursor c = { buf, buf + len };
    struct framing f;
    int rc;

    head_reset(head, &f, 0);
    rc = parse_status_line(&c, head);
    if (rc != 0)
        return rc;
    f.minor_version = head->minor_version;
    rc = parse_headers(&c, head, &f);
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

const struct hw_http_header *hw_http_find(const struct hw_http_head *head, const char *name)
{
    size_t nlen = strlen(name);

    for (size_t i = 0; i < head->nheaders; i++) {
        const struct hw_http_header *h = &head->headers[i];
        if (mem_ieq(h->name, h->name_len, name, nlen))
            return h;
    }
    return NULL;
}

const char *hw_http_value_trim(const struct hw_http_header *h, size_t *len)
{
    return trim(h->value, h->value_len, len);
}

int hw_http_is_hop_by_hop(const struct hw_http_head *head, const struct hw_http_header *h)
{
    static const char *const fixed[] = {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    };

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (name_is(h, fixed[i]))
            return 1;
    }
    /* Host and Content-Length describe the message itself: Connection cannot remove them. */
    if (name_is(h, "host") || name_is(h, "content-length"))
        return 0;
    for (size_t i = 0; i < head->nheaders; i++) {
        const struct hw_http_header *conn = &head->headers[i];
        const char *p, *elem;
        size_t elen;
        if (!name_is(conn, "connection"))
            continue;
        p = conn->value;
        while (list_next(&p, conn->value + conn->value_len, &elem, &elen)) {
            if (mem_ieq(elem, elen, h->name, h->name_len))
                return 1;
        }
    }
    return 0;
}

enum {
    CH_SIZE = 0,      /* hex digits of a chunk size */
    CH_SIZE_WS,       /* whitespace after the size, allowed only before ';' */
    CH_EXT,           /* chunk extensions, skipped up to CR */
    CH_SIZE_LF,       /* LF that ends the size line */
    CH_DATA,          /* chunk data, c->remaining bytes left */
    CH_DATA_CR,       /* CR after the chunk data */
    CH_DATA_LF,       /* LF after the chunk data */
    CH_TRAILER,       /* start of a trailer line or of the final blank line */
    CH_TRAILER_NAME,  /* trailer field name, up to ':' */
    CH_TRAILER_VALUE, /* trailer field value, up to CR */
    CH_TRAILER_LF,    /* LF that ends a trailer line */
    CH_END_LF,        /* LF that ends the body */
    CH_DONE,
    CH_ERROR,
};

void hw_chunked_init(struct hw_chunked *c)
{
    c->state = CH_SIZE;
    c->remaining = 0;
    c->line_len = 0;
}

static int hex_value(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Counts one more byte of a size or trailer line; 0 while under the cap. */
static int line_byte(struct hw_chunked *c)
{
    return ++c->line_len > HTTP1_CHUNK_LINE_MAX ? HW_EPARSE : 0;
}

/* Moves the bytes after the body's end next to the decoded bytes. */
static int chunked_finish(char *buf, size_t *len, size_t out, size_t in, size_t n)
{
    size_t rest = n - in;

    if (rest > INT_MAX)
        return HW_E2BIG;
    memmove(buf + out, buf + in, rest);
    *len = out;
    return (int)rest;
}

/*
 * One byte of a chunk extension or a trailer value: field bytes count toward
 * the line cap, and the CR that ends the line moves on to state next.
 */
static int field_step(struct hw_chunked *c, unsigned char ch, int next)
{
    if (ch == '\r') {
        c->state = next;
        return 0;
    }
    if (!is_field_byte(ch))
        return HW_EPARSE;
    return line_byte(c);
}

/*
 * Consumes one byte of framing (anything but chunk data) and returns 0 or
 * HW_EPARSE. The states mirror RFC 9112 section 7.1 one token at a time, so
 * a split anywhere in the input only pauses the machine.
 */
static int chunked_step(struct hw_chunked *c, unsigned char ch)
{
    int d;

    switch (c->state) {
    case CH_SIZE:
        d = hex_value(ch);
        if (d >= 0) {
            if (c->remaining > (HTTP1_SIZE_MAX - (uint64_t)d) / 16)
                return HW_EPARSE;
            c->remaining = c->remaining * 16 + (uint64_t)d;
        } else if (c->line_len == 0) {
            return HW_EPARSE; /* a size needs at least one digit */
        } else if (ch == ';') {
            c->state = CH_EXT;
        } else if (is_ows(ch)) {
            c->state = CH_SIZE_WS;
        } else if (ch == '\r') {
            c->state = CH_SIZE_LF;
            return 0;
        } else {
            return HW_EPARSE;
        }
        return line_byte(c);
    case CH_SIZE_WS:
        if (ch == ';')
            c->state = CH_EXT;
        else if (!is_ows(ch))
            return HW_EPARSE;
        return line_byte(c);
    case CH_EXT:
        return field_step(c, ch, CH_SIZE_LF);
    case CH_SIZE_LF:
        if (ch != '\n')
            return HW_EPARSE;
        c->line_len = 0;
        c->state = c->remaining > 0 ? CH_DATA : CH_TRAILER;
        return 0;
    case CH_DATA_CR:
        if (ch != '\r')
            return HW_EPARSE;
        c->state = CH_DATA_LF;
        return 0;
    case CH_DATA_LF:
        if (ch != '\n')
            return HW_EPARSE;
        c->state = CH_SIZE;
        return 0;
    case CH_TRAILER:
        if (ch == '\r') {
            c->state = CH_END_LF;
            return 0;
        }
        if (!is_tchar(ch))
            return HW_EPARSE;
        c->state = CH_TRAILER_NAME;
        return line_byte(c);
    case CH_TRAILER_NAME:
        if (ch == ':')
            c->state = CH_TRAILER_VALUE;
        else if (!is_tchar(ch))
            return HW_EPARSE;
        return line_byte(c);
    case CH_TRAILER_VALUE:
        return field_step(c, ch, CH_TRAILER_LF);
    case CH_TRAILER_LF:
        if (ch != '\n')
            return HW_EPARSE;
        c->line_len = 0;
        c->state = CH_TRAILER;
        return 0;
    case CH_END_LF:
        if (ch != '\n')
            return HW_EPARSE;
        c->state = CH_DONE;
        return 0;
    default:
        return HW_EPARSE;
    }
}

int hw_chunked_decode(struct hw_chunked *c, char *buf, size_t *len)
{
    size_t n = *len, in = 0, out = 0;

    if (c->state == CH_DONE)
        return chunked_finish(buf, len, 0, 0, n);
    if (c->state == CH_ERROR) {
        *len = 0;
        return HW_EPARSE;
    }
    while (in < n) {
        if (c->state == CH_DATA) {
            size_t take = n - in;
            if (take > c->remaining)
                take = (size_t)c->remaining;
            memmove(buf + out, buf + in, take);
            out += take;
            in += take;
            c->remaining -= take;
            if (c->remaining == 0)
                c->state = CH_DATA_CR;
            continue;
        }
        if (chunked_step(c, (unsigned char)buf[in++]) != 0) {
            c->state = CH_ERROR;
            *len = out;
            return HW_EPARSE;
        }
        if (c->state == CH_DONE)
            return chunked_finish(buf, len, out, in, n);
    }
    *len = out;
    return HW_EAGAIN;
}
