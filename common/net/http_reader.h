#ifndef HW_HTTP_READER_H
#define HW_HTTP_READER_H

/*
 * Inside net/: the request side of one server connection. Buffers received
 * bytes, finds the end of a head scanning each byte once (then parses it
 * once), and decodes the body into its own buffer within a cap. Knows
 * nothing of sockets or time. Service thread only.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "http/chunked.h"
#include "http/http1.h"
#include "http/hwerror.h"

struct hw_http_reader {
    struct hw_buf in;   /* received bytes not yet consumed */
    struct hw_buf head; /* the current request's head; req points into it */
    struct hw_http_head req;
    struct hw_buf body;
    struct hw_chunked chunked;
    uint64_t body_left; /* Content-Length bytes still to come */
    size_t scanned;     /* bytes at the front of in already searched for the blank line */
    size_t parse_next;  /* size of in at which an incomplete head is checked again */
    size_t head_max;
    size_t max_headers;
    const char *why;        /* the rule the last refused request broke (static text) */
    unsigned have_head : 1; /* req holds a parsed head */
};

/* Prepares r with its caps (in holds up to four heads, for pipelining). */
void hw_http_reader_init(struct hw_http_reader *r, size_t head_max, size_t max_headers);
void hw_http_reader_cleanup(struct hw_http_reader *r);

/* Forgets the current request (its head and body); unread bytes stay. */
void hw_http_reader_next(struct hw_http_reader *r);

/* Bytes received and not yet consumed. */
static inline size_t hw_http_reader_pending(const struct hw_http_reader *r)
{
    return hw_buf_size(&r->in);
}

/* Buffers received bytes. Returns 0, or HW_E2BIG when in is full. */
int hw_http_reader_add(struct hw_http_reader *r, const void *p, size_t n);

/*
 * Looks for a complete head in the buffered bytes. Returns 1 when r->req
 * and r->head hold it (its bytes consumed), 0 when more bytes are needed,
 * or -1 with *e set (400 malformed, 431 too long or too many header lines).
 * Cost is linear in the bytes received however they are split.
 */
int hw_http_reader_head(struct hw_http_reader *r, enum hw_errc *e);

/*
 * After a head: prepares to read its body within max bytes. Returns 0, or
 * -1 with *e = HW_ERRC_BODY_TOO_LARGE when a Content-Length exceeds max.
 */
int hw_http_reader_body_start(struct hw_http_reader *r, uint64_t max, enum hw_errc *e);

/*
 * Body bytes the buffered input can add at most (what the held-bytes
 * budget must allow before hw_http_reader_body() runs).
 */
size_t hw_http_reader_body_want(const struct hw_http_reader *r);

/*
 * Moves buffered body bytes into r->body, adding how many to *added.
 * Returns 1 when the body is complete, 0 when more is needed, -1 with *e
 * set (400 bad chunked framing, 413 past the cap).
 */
int hw_http_reader_body(struct hw_http_reader *r, size_t *added, enum hw_errc *e);

/*
 * Fast path while a Content-Length body is read and nothing is buffered:
 * takes up to n bytes from p straight into the body (at most what the body
 * still owes). Returns how many it took, or -1 with *e set (413).
 */
long hw_http_reader_body_direct(struct hw_http_reader *r, const void *p, size_t n, enum hw_errc *e);

#endif
