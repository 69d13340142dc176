#ifndef HW_HTTP_SERVER_H
#define HW_HTTP_SERVER_H

/*
 * A raw-socket HTTP/1.1 server that keeps requests byte-exact: it accepts on
 * an lws raw vhost, reads each request within its limits (head deadline,
 * body stall and rate floor, idle time, a server-wide budget of held body
 * bytes), hands the complete request to the program, and writes the
 * program's answer, whole or streamed, vouching for its framing. Keep-alive,
 * pipelining, HEAD and Expect: 100-continue are handled here. Service thread
 * only.
 */
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "http/http1.h"
#include "http/hwerror.h"

/* The default cap on connections open at once (hw_http_server_config_defaults()). */
#define HW_HTTP_SERVER_CONNECTIONS 10000

struct hw_http_server;
struct hw_http_conn; /* one accepted connection; opaque */

/* Limits; hw_http_server_config_defaults() fills every field. */
struct hw_http_server_config {
    size_t head_max;            /* largest request head (HW_HEAD_MAX) */
    size_t max_headers;         /* header lines accepted, 431 past it (HW_HEADERS_ACCEPTED) */
    uint64_t max_body;          /* default per-request body cap (413 past it) */
    uint64_t max_held;          /* body bytes held at once, server-wide (429 past it) */
    unsigned max_connections;   /* open at once; stalled readers are shed first */
    unsigned head_timeout_ms;   /* a head must arrive whole within this */
    unsigned idle_timeout_ms;   /* silence allowed between requests on a kept-alive connection */
    unsigned body_stall_ms;     /* a body that sends nothing for this long gets 408 */
    unsigned body_min_rate;     /* bytes/s a body must average once body_stall_ms has passed */
    unsigned answer_timeout_ms; /* wait for the program's answer head (then timeout_errc) */
    unsigned answer_stall_ms;   /* an answer whose bytes do not leave for this long is cut */
    unsigned shed_after_ms;     /* a reader silent this long may be shed for a newcomer */
    enum hw_errc timeout_errc; /* answered when answer_timeout_ms expires (or the exchange's own) */
    size_t conn_user_size;     /* bytes of zeroed program state per connection */
};

/* A complete request, valid for the duration of on_request(). */
struct hw_http_request {
    const char *raw_head; /* the head exactly as received, request line to blank line */
    size_t raw_head_len;
    const struct hw_http_head *head; /* parsed; its pointers point into raw_head */
    struct hw_buf *body;             /* the decoded body; the program may take its storage */
    const char *peer;                /* the peer's address, for logs */
};

/*
 * The program's side. All optional except on_request. A connection handle is
 * valid from on_open() to on_close(); an exchange the program holds (from
 * on_request() until it answers whole or ends a streamed answer) is ended
 * by the server only through on_abort().
 */
struct hw_http_server_callbacks {
    /* A connection was accepted. */
    void (*on_open)(struct hw_http_conn *c);
    /*
     * A head is complete and passed the server's checks; the body is not
     * read yet. The program may answer now (hw_http_conn_error() and
     * friends: the body is then not read) or set the body cap with
     * hw_http_conn_set_max_body().
     */
    void (*on_head)(struct hw_http_conn *c, const struct hw_http_head *head);
    /* The request is complete: answer it now or later. */
    void (*on_request)(struct hw_http_conn *c, const struct hw_http_request *req);
    /*
     * Body bytes of a streamed answer have left the connection's backlog
     * (it is below HW_OUT_LOW): n is how many the program may now produce
     * beyond what it already has. Pacing for a producer such as a tunnel.
     */
    void (*on_drain)(struct hw_http_conn *c, size_t n);
    /*
     * The server ended the exchange the program holds (answer timeout, the
     * answer stalled or broke its framing, the peer went away). The program
     * drops what it holds for it and must not answer it any more.
     */
    void (*on_abort)(struct hw_http_conn *c, const char *why);
    /* The connection is about to be freed; the handle is invalid afterwards. */
    void (*on_close)(struct hw_http_conn *c);
};

/* What a server has done, for metrics. */
struct hw_http_server_stats {
    uint64_t connections; /* open now */
    uint64_t exchanges;   /* requests whose body is coming, with the program, or being answered
                             (a clean stop waits for them) */
    uint64_t held_bytes;  /* request body bytes held now */
    uint64_t shed;        /* stalled connections closed to make room */
    uint64_t errors[HW_ERRC_COUNT];
};

/* Fills cfg with the defaults (limits from http/limits.h). */
void hw_http_server_config_defaults(struct hw_http_server_config *cfg);

/*
 * Creates a server; cfg and cb are copied, user is kept for
 * hw_http_server_user(). Returns NULL when out of memory. Register its
 * protocol (hw_http_server_protocol()) on a raw vhost before connections
 * arrive.
 */
struct hw_http_server *hw_http_server_new(const struct hw_http_server_config *cfg,
                                          const struct hw_http_server_callbacks *cb, void *user);

/* Frees the server; call after the lws context (and so every connection) is gone. */
void hw_http_server_free(struct hw_http_server *s);

/*
 * Fills *p with the lws protocol that serves s (name "hw-http", raw
 * callbacks), for the vhost's protocol list with listen_accept_role
 * "raw-skt" and listen_accept_protocol set to its name.
 */
void hw_http_server_protocol(struct hw_http_server *s, struct lws_protocols *p);

/*
 * From now on every answer ends its connection (Connection: close): a
 * program whose stop begins calls it, so that no client sends another
 * request on a connection the stop is about to close (it would get no
 * answer). Service thread.
 */
void hw_http_server_closing(struct hw_http_server *s);

void *hw_http_server_user(const struct hw_http_server *s);
const struct hw_http_server_stats *hw_http_server_stats(struct hw_http_server *s);

/* Accessors on a connection. */
struct hw_http_server *hw_http_conn_server(const struct hw_http_conn *c);
void *hw_http_conn_user(struct hw_http_conn *c); /* cfg.conn_user_size zeroed bytes */
const char *hw_http_conn_peer(const struct hw_http_conn *c);
/* The request being answered (NULL between requests); valid until the answer ends. */
const struct hw_http_head *hw_http_conn_head(const struct hw_http_conn *c);

/*
 * Bytes written for the peer that it has not taken yet: queued in the
 * server, held by lws, or waiting in the kernel's send queue. A peer that
 * stops reading makes it grow once its own receive window is full; for a
 * long-lived streamed answer, the producer's measure of a stuck reader.
 */
size_t hw_http_conn_untaken(const struct hw_http_conn *c);

/* From on_head(): the cap on this request's body (413 past it). */
void hw_http_conn_set_max_body(struct hw_http_conn *c, uint64_t max);

/* An id shown as evt= in the server's log lines for this exchange (borrowed), or NULL. */
void hw_http_conn_set_log_id(struct hw_http_conn *c, const char *id);

/*
 * This exchange's answer if the program's answer is overdue
 * (cfg.answer_timeout_ms), instead of cfg.timeout_errc: e with extra
 * (header lines kept by pointer, so static, or NULL). on_abort() still runs
 * first. For an exchange that waits on something other than the program's
 * usual source, such as a store's commit. Reset for each request.
 */
void hw_http_conn_set_timeout_error(struct hw_http_conn *c, enum hw_errc e, const char *extra);

/*
 * Moves the program's answer deadline (cfg.answer_timeout_ms from the
 * request) to at least ms from now, for an exchange that begins a wait of
 * its own late (a commit): it is not answered overdue before that wait had
 * a fair chance. Never shortens it.
 */
void hw_http_conn_wait_at_least(struct hw_http_conn *c, unsigned ms);

/*
 * Answers whole: the status line (reason NULL: the standard one), header
 * lines (pre-formatted "Name: value\r\n", no framing headers: the server
 * adds Content-Length and Connection: close as needed) and the body (left
 * out for HEAD). Returns 0, HW_EINVAL when no exchange awaits an answer, or
 * HW_ENOMEM (the connection is then closed).
 */
int hw_http_conn_respond(struct hw_http_conn *c, int status, const char *reason,
                         const char *headers, size_t headers_len, const void *body,
                         size_t body_len);

/*
 * Answers with hookwire's own error e (extra: header lines, or NULL),
 * counted in the stats; the connection closes afterwards when request bytes
 * remain unread or keep-alive is off. Returns 0 or HW_EINVAL as above.
 */
int hw_http_conn_error(struct hw_http_conn *c, enum hw_errc e, const char *extra);

/* A streamed answer's head, as another hop sent it. */
struct hw_http_answer_head {
    int status;
    const char *reason; /* may be empty: the standard one is used */
    size_t reason_len;
    const char *headers; /* header lines, each ending in CRLF */
    size_t headers_len;
    uint64_t body_len; /* or HW_HTTP_LEN_UNKNOWN: until the end */
};
#define HW_HTTP_LEN_UNKNOWN UINT64_MAX

/*
 * Starts a streamed answer. The server vouches for its framing: a final
 * status (101 and 1xx are refused), a reason without control bytes, header
 * lines that parse, no hop-by-hop header, a Content-Length that agrees with
 * body_len. An unknown length is chunked for HTTP/1.1 and ends with the
 * close for HTTP/1.0. Returns 0, HW_EPROTO for a head it cannot vouch for
 * (nothing is queued: answer with an error instead; *why, unless why is NULL,
 * gets the rule it broke, static text for a log line), HW_EINVAL when no
 * exchange awaits an answer, or HW_ENOMEM.
 */
int hw_http_conn_stream_begin(struct hw_http_conn *c, const struct hw_http_answer_head *h,
                              const char **why);

/*
 * Queues body bytes (copied). Never more than the announced length goes
 * out: past it the valid part is queued, the connection closes after it
 * and on_abort() runs before this returns. Returns 0, or HW_EPROTO when the
 * answer was cut that way, or HW_EINVAL when no streamed answer is open.
 */
int hw_http_conn_stream_data(struct hw_http_conn *c, const void *p, size_t n);

/*
 * Ends the streamed answer. An answer shorter than its Content-Length is
 * cut (closed after what was queued; on_abort() runs). Returns 0, HW_EPROTO
 * when cut, or HW_EINVAL.
 */
int hw_http_conn_stream_end(struct hw_http_conn *c);

/*
 * The producer of a streamed answer failed with e: if no byte of the answer
 * has left yet it is replaced by the error answer (the connection closes
 * after it); otherwise the connection is closed, cutting the answer short.
 * Also valid before stream_begin (then the same as hw_http_conn_error()),
 * and a no-op once the exchange is no longer the program's.
 */
void hw_http_conn_stream_abort(struct hw_http_conn *c, enum hw_errc e, const char *why);

#endif
