#ifndef HW_HTTP_FETCH_H
#define HW_HTTP_FETCH_H

/*
 * Collect mode of the HTTP client, for a caller that sends a whole request
 * and wants the outcome in one piece (a delivery attempt): status, the
 * answer's head, the first bytes of its body, its duration. Service thread
 * only.
 */
#include <stdint.h>
#include <time.h>

#include "net/http_client.h"

struct hw_http_result {
    int status;             /* final status; 0 when the request failed */
    int head_status;        /* the answer head's status, kept if its body then failed; 0: none */
    enum hw_http_fail fail; /* 0 when an answer came */
    const char *fail_text;  /* why it failed; NULL when an answer came */
    struct hw_buf head;     /* the answer head's bytes, through its blank line */
    struct hw_buf body;     /* the first body_max bytes of the body */
    uint64_t body_len;      /* body bytes received in all */
    int truncated;          /* body_len > body_max */
    int64_t duration_us;    /* from the start to the end or failure */
};

/* The outcome; res and everything in it is valid during the call only. */
typedef void (*hw_http_done_fn)(const struct hw_http_result *res, void *user);

/*
 * Sends msg (head and whole body; the client takes its storage) on target t
 * and calls done exactly once with the outcome, unless the request is
 * cancelled with hw_http_req_cancel(). With fail_past_max, a body longer than
 * body_max fails the request (HW_HTTP_TOO_LARGE); otherwise the rest is read
 * and dropped. o->body_done is implied. Returns the request, or NULL with
 * *err as hw_http_req_start() (done is not called then).
 */
struct hw_http_req *hw_http_fetch(struct hw_http_target *t, struct hw_buf *msg,
                                  const struct hw_http_req_opts *o, size_t body_max,
                                  int fail_past_max, hw_http_done_fn done, void *user, int *err);

/*
 * The first header of the answer named name (case-insensitive), its value
 * trimmed of spaces and tabs, length in *len; NULL when absent or when no
 * answer came. Points into res.
 */
const char *hw_http_result_header(const struct hw_http_result *res, const char *name, size_t *len);

/*
 * Retry-After of the answer as seconds from now (delta-seconds, or an
 * IMF-fixdate such as "Sun, 06 Nov 1994 08:49:37 GMT"; a past date gives 0).
 * Returns -1 when absent or malformed.
 */
long hw_http_result_retry_after(const struct hw_http_result *res, time_t now);

#endif
