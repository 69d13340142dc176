#ifndef HW_HTTP1_H
#define HW_HTTP1_H

/*
 * A small strict HTTP/1.1 message-head parser and chunked-body decoder.
 * Headers are kept exactly as received: name bytes with their case, the raw
 * value bytes after the colon (leading/trailing whitespace included), in
 * order, duplicates kept, so a proxy can re-emit them byte for byte. All
 * pointers point into the caller's buffer. No allocation; any thread.
 */
#include <stddef.h>
#include <stdint.h>

#include "chunked.h"
#include "core/buf.h"
#include "httphdr.h"

#define HW_HTTP_MAX_HEADERS 128

enum hw_http_body {
    HW_BODY_NONE = 0, /* no body follows the head */
    HW_BODY_LENGTH,   /* content_length bytes follow */
    HW_BODY_CHUNKED,  /* Transfer-Encoding: chunked */
    HW_BODY_CLOSE,    /* responses only: body runs until the peer closes */
};

struct hw_http_head {
    /* Requests: method and request-target exactly as sent. */
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    /* Responses: status code and reason phrase (may be empty). */
    int status;
    const char *reason;
    size_t reason_len;

    int minor_version; /* HTTP/1.<minor>: 0 or 1 */
    struct hw_http_header headers[HW_HTTP_MAX_HEADERS];
    size_t nheaders;
    size_t head_len; /* bytes of the head, through the blank line */

    /* Framing, derived from the headers. */
    enum hw_http_body body;
    uint64_t content_length; /* valid when body == HW_BODY_LENGTH */
    int keep_alive;          /* connection may carry another message */
    int expect_continue;     /* request has "Expect: 100-continue" */
    int hosts;               /* requests: how many Host headers */
    int host_bad;            /* requests: a Host value is not a uri-host[:port] */
    /* Set by the parsers when the head has no Connection header, so no header is named
     * hop-by-hop by one; 0 (look) in a head built by hand. */
    int no_connection;
    /* Set by the parsers when every Connection header lists only "close" and "keep-alive",
     * so only headers of those names are hop-by-hop by one; 0 (look) in a head built by
     * hand. */
    int connection_plain;
    /* Set by the parsers when they return HW_EPARSE: the rule the head broke, a short phrase
     * for a log line ("Content-Length with Transfer-Encoding"); static, never freed. */
    const char *error;
};

/*
 * Parses a request head from the start of buf[0..len).
 * Returns head->head_len (> 0) when the head is complete, HW_EAGAIN when
 * more bytes are needed, HW_E2BIG for more than HW_HTTP_MAX_HEADERS headers,
 * or HW_EPARSE for a malformed head (bad request line, obs-fold, a header
 * without a colon or with whitespace before it, control characters, both
 * Content-Length and Transfer-Encoding, conflicting Content-Length values,
 * a Transfer-Encoding other than "chunked", an HTTP version other than 1.x).
 * Host headers are counted in head->hosts, and head->host_bad marks a value
 * that is not a uri-host[:port]; whether a count other than one, or such a
 * value, is acceptable (RFC 9112 3.2) is the server's decision.
 * The caller enforces its own cap on how long a head may grow.
 *
 * Details: lines must end in CRLF; only HTTP/1.0 and HTTP/1.1 are accepted;
 * header values may hold HTAB, SP, visible ASCII and bytes >= 0x80; a
 * Content-Length is digits only, at most 2^60, and repeats must be
 * byte-identical; Transfer-Encoding in an HTTP/1.0 message is an error.
 * Empty lines before the request line are skipped (RFC 9112 2.2) and
 * counted in head_len. Errors are reported as soon as the bytes seen prove
 * them, so an incomplete head may already give HW_EPARSE. A head longer than
 * INT_MAX gives HW_E2BIG.
 */
int hw_http_parse_request(const char *buf, size_t len, struct hw_http_head *head);

/*
 * Parses a response head; the same returns as hw_http_parse_request().
 * request_method is the method of the request this answers (NULL if
 * unknown): responses to HEAD, and 1xx, 204 and 304 responses, have no body.
 * The status code is three digits, 100 to 999; the reason phrase may be
 * empty and its leading space may be missing ("HTTP/1.1 200\r\n").
 * expect_continue is always 0 for responses.
 */
int hw_http_parse_response(const char *buf, size_t len, const char *request_method,
                           struct hw_http_head *head);

/*
 * Finds the first header named name (case-insensitive) and returns it, or
 * NULL. hw_http_value_trim() returns the value with surrounding spaces and
 * tabs removed, through *len.
 */
const struct hw_http_header *hw_http_find(const struct hw_http_head *head, const char *name);
const char *hw_http_value_trim(const struct hw_http_header *h, size_t *len);

/*
 * Says whether a header is hop-by-hop and must not be forwarded: Connection,
 * Keep-Alive, Proxy-Connection, Proxy-Authenticate, Proxy-Authorization, TE,
 * Trailer, Transfer-Encoding, Upgrade, and any header named in a Connection
 * header of this head except Host and Content-Length, which describe the
 * message itself. Returns 1 or 0.
 */
int hw_http_is_hop_by_hop(const struct hw_http_head *head, const struct hw_http_header *h);

/* What hw_http_block_next() has seen of a header block so far; zero it before the first line. */
struct hw_http_block {
    size_t nheaders;         /* lines read */
    int has_length;          /* a Content-Length line was read */
    uint64_t content_length; /* its value, when has_length */
    const char *cl;          /* the first Content-Length value, trimmed: repeats must equal it */
    size_t cl_len;
    const char *error; /* once hw_http_block_next() failed: the rule the line broke (static) */
};

/*
 * Reads the next line of a header block as a proxy forwards one ("Name:value\r\n"
 * lines, no blank line after them) from *p up to end, and steps *p past it: one pass that
 * both checks a line and hands it to the caller, instead of parsing a head built from
 * the block again. A line must be what hw_http_parse_request() accepts (a token, a colon,
 * field bytes, CRLF) and must not be hop-by-hop by name (Connection, Transfer-Encoding,
 * TE, ...), so no line can be named hop-by-hop by a Connection header either; a
 * Content-Length must be valid and its repeats byte-identical, as in a head.
 * Returns 1 with *h pointing into the block, 0 at the end of the block, HW_EPARSE for a
 * line that would not parse or is hop-by-hop, HW_E2BIG past HW_HTTP_MAX_HEADERS lines;
 * on an error b->error names the rule. Any thread.
 */
int hw_http_block_next(struct hw_http_block *b, const char **p, const char *end,
                       struct hw_http_header *h);

/*
 * Copies header lines of a parsed head on, each line whole ("Name:value\r\n" as received):
 * lines that follow each other in the head are gathered into one run and appended at once.
 * Start with a zeroed run, add the lines to keep in order, then flush. Only for heads the
 * parsers made (each line there ends in CRLF). Returns 0 or hw_buf_append()'s error.
 * Any thread.
 */
struct hw_http_run {
    const char *p;
    size_t n;
};
HW_MUST_CHECK int hw_http_run_add(struct hw_http_run *r, struct hw_buf *b,
                                  const struct hw_http_header *h);
HW_MUST_CHECK int hw_http_run_flush(struct hw_http_run *r, struct hw_buf *b);

/* Says whether bytes are a non-empty RFC 9110 token (a method, a header name): 1 or 0. */
int hw_http_is_token(const char *p, size_t len);

/* Says whether bytes are a non-empty request-target (visible bytes, no space): 1 or 0. */
int hw_http_is_target(const char *p, size_t len);

/*
 * Whether a Host value is a host name or address with an optional port
 * (RFC 9112 3.2: a server answers 400 to an invalid one): a name of
 * letters, digits, '-', '.' and '_', or an IPv6
 * literal in brackets, then ":PORT" (1..65535) or nothing. Empty is
 * allowed (an authority-less target). No list (','), no percent-encoding,
 * no '*': what an app reads from X-Forwarded-Host is one plain host.
 */
int hw_http_host_valid(const char *v, size_t n);

#endif
