/*
 * The request side of a server connection: received bytes, the head (found
 * by scanning only new bytes for the blank line, then parsed once) and the
 * body (Content-Length or chunked). Owns struct hw_http_reader. Service
 * thread only.
 */
#include "http_reader.h"

#include <string.h>

#include "core/err.h"

/* An incomplete head is parsed again only when it has doubled, so early errors cost O(n). */
#define PARSE_FIRST 256

void hw_http_reader_init(struct hw_http_reader *r, size_t head_max, size_t max_headers)
{
    memset(r, 0, sizeof(*r));
    r->head_max = head_max;
    r->max_headers = max_headers;
    hw_buf_init(&r->in, head_max * 4);
    hw_buf_init(&r->head, head_max);
    hw_buf_init(&r->body, 0);
    r->parse_next = PARSE_FIRST;
}

void hw_http_reader_cleanup(struct hw_http_reader *r)
{
    hw_buf_cleanup(&r->in);
    hw_buf_cleanup(&r->head);
    hw_buf_cleanup(&r->body);
}

void hw_http_reader_next(struct hw_http_reader *r)
{
    hw_buf_reset(&r->head);
    hw_buf_reset(&r->body);
    memset(&r->req, 0, offsetof(struct hw_http_head, headers));
    r->req.nheaders = 0;
    r->have_head = 0;
    r->scanned = 0;
    r->parse_next = PARSE_FIRST;
}

int hw_http_reader_add(struct hw_http_reader *r, const void *p, size_t n)
{
    return hw_buf_append(&r->in, p, n);
}

/*
 * Finds the first "\r\n\r\n" ending at or after the bytes not yet scanned
 * and past `after` (a blank line already found to be only empty lines before
 * the request line: found again, the search would never end). Returns the
 * head length through it, or 0. Sets *bare_lf for an LF without its CR before
 * that: every line of a head ends in CRLF, so the head is malformed now, and
 * a head ended only by bare LFs would otherwise wait for the head timeout.
 */
static size_t scan_blank_line(struct hw_http_reader *r, size_t after, int *bare_lf)
{
    const char *buf = hw_buf_head(&r->in);
    size_t len = hw_buf_size(&r->in);
    size_t from = r->scanned > 3 ? r->scanned - 3 : 0;

    while (from < len) {
        const char *nl = memchr(buf + from, '\n', len - from);
        size_t at;

        if (!nl)
            break;
        at = (size_t)(nl - buf);
        if (at == 0 || buf[at - 1] != '\r') {
            *bare_lf = 1;
            return 0;
        }
        if (at >= 3 && at + 1 > after && buf[at - 1] == '\r' && buf[at - 2] == '\n' &&
            buf[at - 3] == '\r') {
            r->scanned = at + 1;
            return at + 1;
        }
        from = at + 1;
    }
    r->scanned = len;
    return 0;
}

/* Refuses the head with e, for the rule why (a short phrase, static). Returns -1. */
static int refuse(struct hw_http_reader *r, enum hw_errc *e, enum hw_errc code, const char *why)
{
    *e = code;
    r->why = why;
    return -1;
}

static int head_error(struct hw_http_reader *r, int rc, const char *why, enum hw_errc *e)
{
    if (rc == HW_E2BIG)
        return refuse(r, e, HW_ERRC_HEADERS_TOO_LARGE, "more headers than allowed");
    return refuse(r, e, HW_ERRC_BAD_REQUEST, why ? why : "a malformed head");
}

int hw_http_reader_head(struct hw_http_reader *r, enum hw_errc *e)
{
    size_t len = hw_buf_size(&r->in), end = 0;
    int rc, bare_lf = 0;

    for (;;) {
        end = scan_blank_line(r, end, &bare_lf);
        if (bare_lf)
            return refuse(r, e, HW_ERRC_BAD_REQUEST, "a line ending in LF without CR");
        if (!end)
            break;
        if (end > r->head_max)
            return refuse(r, e, HW_ERRC_HEADERS_TOO_LARGE, "a head longer than allowed");
        /* Parse in the head's own buffer so the parsed pointers stay valid. */
        hw_buf_reset(&r->head);
        if (hw_buf_append(&r->head, hw_buf_head(&r->in), end))
            return refuse(r, e, HW_ERRC_HEADERS_TOO_LARGE, "a head longer than allowed");
        rc = hw_http_parse_request(hw_buf_head(&r->head), end, &r->req);
        if (rc == HW_EAGAIN)
            continue; /* empty lines before the request line: keep looking */
        if (rc < 0)
            return head_error(r, rc, r->req.error, e);
        if (r->req.nheaders > r->max_headers)
            return refuse(r, e, HW_ERRC_HEADERS_TOO_LARGE, "more headers than allowed");
        /* rc < end only for a blank line the parser saw before the scan did. */
        hw_buf_truncate(&r->head, (size_t)rc);
        hw_buf_consume(&r->in, (size_t)rc);
        r->scanned = 0;
        r->have_head = 1;
        return 1;
    }
    if (len > r->head_max)
        return refuse(r, e, HW_ERRC_HEADERS_TOO_LARGE, "a head longer than allowed");
    if (len >= r->parse_next) {
        /* Report a malformed head as soon as it is proved, without re-parsing per byte. */
        struct hw_http_head probe;

        r->parse_next = len * 2;
        rc = hw_http_parse_request(hw_buf_head(&r->in), len, &probe);
        if (rc < 0 && rc != HW_EAGAIN)
            return head_error(r, rc, probe.error, e);
    }
    return 0;
}

int hw_http_reader_body_start(struct hw_http_reader *r, uint64_t max, enum hw_errc *e)
{
    if (r->req.body == HW_BODY_LENGTH && r->req.content_length > max)
        return refuse(r, e, HW_ERRC_BODY_TOO_LARGE, "a Content-Length over the body limit");
    r->body.max = (size_t)max;
    r->body_left = r->req.body == HW_BODY_LENGTH ? r->req.content_length : 0;
    hw_chunked_init(&r->chunked);
    return 0;
}

size_t hw_http_reader_body_want(const struct hw_http_reader *r)
{
    size_t n = hw_buf_size(&r->in);

    if (r->req.body == HW_BODY_NONE)
        return 0;
    if (r->req.body == HW_BODY_LENGTH && n > r->body_left)
        n = (size_t)r->body_left;
    return n;
}

static int append_body(struct hw_http_reader *r, const void *p, size_t n, size_t *added,
                       enum hw_errc *e)
{
    if (hw_buf_append(&r->body, p, n))
        return refuse(r, e, HW_ERRC_BODY_TOO_LARGE, "a body over the body limit");
    *added += n;
    return 0;
}

int hw_http_reader_body(struct hw_http_reader *r, size_t *added, enum hw_errc *e)
{
    size_t n = hw_buf_size(&r->in);
    int rc;

    if (r->req.body == HW_BODY_NONE)
        return 1;
    if (r->req.body == HW_BODY_LENGTH) {
        if (n > r->body_left)
            n = (size_t)r->body_left;
        if (append_body(r, hw_buf_head(&r->in), n, added, e))
            return -1;
        hw_buf_consume(&r->in, n);
        r->body_left -= n;
        return r->body_left == 0;
    }
    if (!n)
        return 0;
    rc = hw_chunked_decode(&r->chunked, hw_buf_head(&r->in), &n);
    if (rc == HW_EPARSE)
        return refuse(r, e, HW_ERRC_BAD_REQUEST, "a malformed chunked body");
    if (append_body(r, hw_buf_head(&r->in), n, added, e))
        return -1;
    /* A chunk announced past the limit is refused at its size line, not once its bytes came. */
    if (rc == HW_EAGAIN && r->chunked.remaining > r->body.max - hw_buf_size(&r->body))
        return refuse(r, e, HW_ERRC_BODY_TOO_LARGE, "a chunk over the body limit");
    if (rc == HW_EAGAIN) {
        hw_buf_reset(&r->in);
        return 0;
    }
    /* The bytes after the body were moved right behind the decoded ones. */
    hw_buf_truncate(&r->in, n + (size_t)rc);
    hw_buf_consume(&r->in, n);
    return 1;
}

long hw_http_reader_body_direct(struct hw_http_reader *r, const void *p, size_t n, enum hw_errc *e)
{
    size_t added = 0;

    if (n > r->body_left)
        n = (size_t)r->body_left;
    if (append_body(r, p, n, &added, e))
        return -1;
    r->body_left -= n;
    return (long)n;
}
