#ifndef RECV_OUTGOING_H
#define RECV_OUTGOING_H

/*
 * One delivery to the backend: the HTTP/1.1 request head that carries a
 * stored event to its source's deliver-to (original method, path rest,
 * query and header lines, plus the Hookwire-* headers and the signature),
 * and what the backend's answer means for the event (delivered, retry
 * later, failed). No I/O: the HTTP client sends the head and the body and
 * reports the answer. Any thread.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "schedule.h"
#include "sig/sign.h"
#include "sources.h"

/* A stored event as the delivery worker has it; everything borrowed. */
struct recv_outgoing {
    const char *event_id; /* "evt_..." */
    const char *method;   /* as received */
    const char *path;     /* the path after PREFIX/SOURCE: "" or "/..." */
    const char *query;    /* without '?'; NULL or "" when none */
    const char *headers;  /* raw "Name: value\r\n" lines as received, in order */
    size_t headers_len;
    const void *body;
    size_t body_len;
};

/*
 * Appends the request head for attempt number attempt (1 for the first) at
 * Unix time now to out: "METHOD TARGET HTTP/1.1", where TARGET is
 * deliver-to's path, then the event's path, then the query (deliver-to's own
 * query first, joined with '&'); the original header lines byte for byte,
 * except hop-by-hop ones (RFC 9110 7.6.1, and those named in Connection),
 * Expect (the body is already here) and any Hookwire-* a sender put there;
 * Content-Length always written as "Content-Length: N" from body_len (in
 * the first original one's place, or after the others when there was none),
 * so that whitespace or a repeat the sender's parser took never reaches the
 * backend's; Host from deliver-to when the original had none; then Hookwire-Event-Id,
 * Hookwire-Attempt, Hookwire-Timestamp and Hookwire-Signature (sign.h), and the blank line. Returns
 * 0; HW_EPARSE when the stored block is not header lines; HW_E2BIG for more than
 * HW_HTTP_MAX_HEADERS lines or past out's cap; HW_EINVAL for an id the signer refuses; HW_ENOMEM.
 * On error out may hold a partial head.
 */
/*
 * Why a delivery cannot go to u's host, or NULL: the client connects over
 * IPv4 and sends no credentials of its own (the backend checks
 * Hookwire-Signature). The receiver's deliver-to and hookwire-replay
 * deliver --to both ask.
 */
const char *recv_outgoing_host_problem(const struct hw_url *u);

int recv_outgoing_head(const struct recv_source *src, const struct hw_signer *signer,
                       const struct recv_outgoing *ev, unsigned attempt, int64_t now,
                       struct hw_buf *out) __attribute__((warn_unused_result));

enum recv_outcome {
    RECV_DELIVERED, /* 2xx: done */
    RECV_RETRY,     /* record the attempt; try again after *delay_ms */
    RECV_FAILED,    /* record the attempt; the attempts are exhausted */
};

/*
 * What attempt number attempt means: status is the backend's HTTP status,
 * or 0 when there was none (refused, timed out, a broken answer);
 * retry_after[0..ra_len) its Retry-After value or NULL. Any non-2xx answer
 * is retried on the schedule (schedule.h), honouring Retry-After.
 */
enum recv_outcome recv_outcome(const struct recv_schedule *s, unsigned attempt, int status,
                               const char *retry_after, size_t ra_len, int64_t now,
                               uint64_t *delay_ms);

#endif
