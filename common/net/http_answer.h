#ifndef HW_HTTP_ANSWER_H
#define HW_HTTP_ANSWER_H

/*
 * Inside net/: the answer side of one server connection. Queues an answer
 * (whole, an error, or streamed with its framing vouched for), writes it
 * one lws_write per WRITEABLE or with a send() at the end of a service
 * round (hw_http_answer_send()), and notes when bytes really leave: only
 * then has the answer made progress. Service thread only.
 */
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "http/http1.h"
#include "http/hwerror.h"
#include "http_server.h"

struct hw_http_answer {
    struct hw_buf out;
    uint64_t left;          /* body bytes the answer still owes, or HW_HTTP_LEN_UNKNOWN */
    size_t mark;            /* bytes queued before the answer's head and not yet written */
    size_t written_bytes;   /* of this exchange, handed to lws */
    size_t inflight;        /* bytes handed to lws that it had not sent on yet */
    lws_usec_t progress_at; /* when bytes last left for the socket */
    int unacked;            /* bytes of a finished answer the peer has not acknowledged */
    lws_usec_t unacked_at;  /* when unacked last shrank */
    int status;
    unsigned started : 1;     /* the answer's head is queued */
    unsigned written : 1;     /* some byte of the answer has been written */
    unsigned done : 1;        /* nothing more will be queued */
    unsigned chunked : 1;     /* the body is re-framed as chunks */
    unsigned close_after : 1; /* close once the answer is out */
};

void hw_http_answer_init(struct hw_http_answer *a);
void hw_http_answer_cleanup(struct hw_http_answer *a);

/* Prepares for the next exchange (the output must have been written). */
void hw_http_answer_next(struct hw_http_answer *a);

/* Queues "100 Continue". Returns 0 or an hw_buf error. */
int hw_http_answer_continue(struct hw_http_answer *a);

/*
 * Queues a whole answer to req (NULL when the head did not parse). The
 * connection closes after it unless keep_alive. Returns 0 or an hw_buf
 * error.
 */
int hw_http_answer_whole(struct hw_http_answer *a, const struct hw_http_head *req, int keep_alive,
                         int status, const char *reason, const char *headers, size_t headers_len,
                         const void *body, size_t body_len);
int hw_http_answer_error(struct hw_http_answer *a, const struct hw_http_head *req, int keep_alive,
                         enum hw_errc e, const char *extra);

/*
 * Queues a streamed answer's head after checking its framing (see
 * hw_http_conn_stream_begin()). Returns 0, HW_EPROTO (nothing queued; *why,
 * unless why is NULL, gets the rule the head broke) or an hw_buf error.
 */
int hw_http_answer_begin(struct hw_http_answer *a, const struct hw_http_head *req, int keep_alive,
                         const struct hw_http_answer_head *h, const char **why);

/*
 * Queues body bytes. Returns 0, or HW_EPROTO when they pass the announced
 * length (the part that fits is queued; the answer is done and closes), or
 * an hw_buf error.
 */
int hw_http_answer_data(struct hw_http_answer *a, const void *p, size_t n);

/* Ends the body. Returns 0, or HW_EPROTO when it fell short (done, closes). */
int hw_http_answer_end(struct hw_http_answer *a);

/*
 * Takes back a started answer of which nothing was written. Returns 1 when
 * it did (the connection will close after what replaces it), 0 otherwise.
 */
int hw_http_answer_retract(struct hw_http_answer *a);

/*
 * One WRITEABLE's worth: writes the front of the queue (one lws_write) and
 * asks for another WRITEABLE while bytes remain. Returns 0, or -1 when the
 * connection failed.
 */
int hw_http_answer_write(struct hw_http_answer *a, struct lws *wsi);

/*
 * Outside any lws callback, at the end of a service round, on a plain (not
 * TLS) socket: writes what the queue holds straight to the socket with one
 * non-blocking send(), when lws holds nothing written earlier (its partial
 * buffer, or bytes in flight). What the socket does not take stays queued
 * for WRITEABLE. Sent bytes count as progress: they are in the kernel.
 * Returns 1 when some bytes went, 0 when none did (nothing queued, lws holds
 * earlier bytes, the socket is full or broken: WRITEABLE finds out).
 */
int hw_http_answer_send(struct hw_http_answer *a, struct lws *wsi);

/*
 * After an answer has been handed over whole: starts watching the bytes the
 * kernel still holds for the peer (a peer that never reads leaves them
 * there). Only answers of HW_OUT_LOW bytes or more are watched: a smaller
 * one is bounded by the idle time, and the check costs a system call.
 * hw_http_answer_unacked_check() returns 1 when they have not shrunk for stall_us, 0 while they
 * move or once they are gone.
 */
void hw_http_answer_unacked_start(struct hw_http_answer *a, struct lws *wsi);
int hw_http_answer_unacked_check(struct hw_http_answer *a, struct lws *wsi, lws_usec_t stall_us);

/*
 * Bytes of the answer the peer has not taken: queued here, held by lws, and
 * in the kernel's send queue (sent or not, unacknowledged). One system call.
 */
size_t hw_http_answer_untaken(const struct hw_http_answer *a, struct lws *wsi);

/* Bytes queued and not yet handed to lws. */
static inline size_t hw_http_answer_backlog(const struct hw_http_answer *a)
{
    return hw_buf_size(&a->out);
}

/* Whether the whole answer has been handed to lws. */
static inline int hw_http_answer_finished(const struct hw_http_answer *a)
{
    return a->done && !hw_buf_size(&a->out);
}

#endif
