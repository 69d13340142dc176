#ifndef HW_HWERROR_H
#define HW_HWERROR_H

/*
 * The Hookwire-Error codes that the relay and the receiver put on their own
 * error responses (docs/errors.md explains each), and the writer of such a
 * response. Any thread.
 */
#include "core/buf.h"

enum hw_errc {
    HW_ERRC_BAD_REQUEST,        /* 400 malformed HTTP */
    HW_ERRC_UNAUTHORIZED,       /* 401 missing or wrong tunnel token */
    HW_ERRC_SIGNATURE,          /* 401 webhook signature failed at the edge */
    HW_ERRC_NOT_FOUND,          /* 404 no such endpoint */
    HW_ERRC_UNKNOWN_CHANNEL,    /* 404 no such channel */
    HW_ERRC_UNKNOWN_SOURCE,     /* 404 no such receiver source */
    HW_ERRC_BODY_TOO_LARGE,     /* 413 body over --max-body */
    HW_ERRC_HEADERS_TOO_LARGE,  /* 431 request head over its cap */
    HW_ERRC_OVERLOADED,         /* 429 too many requests in flight */
    HW_ERRC_LOCAL_REFUSED,      /* 502 the local app refused the connection */
    HW_ERRC_LOCAL_ERROR,        /* 502 the local app failed or answered garbage */
    HW_ERRC_AGENT_DISCONNECTED, /* 502 the agent went away mid-request */
    HW_ERRC_AGENT_OFFLINE,      /* 503 no agent connected */
    HW_ERRC_STORE_UNAVAILABLE,  /* 503 the store (database) cannot be reached */
    HW_ERRC_LOCAL_TIMEOUT,      /* 504 the local app did not answer in time */
    HW_ERRC_REQUEST_TIMEOUT,    /* 408 the request did not arrive in time */
    HW_ERRC_CHANNEL_BUSY,       /* 409 another live agent holds the channel */
    HW_ERRC_QUEUE_FULL,         /* 429 the channel's offline queue is at --max-queued */
    HW_ERRC_SHUTTING_DOWN,      /* 503 the program is stopping: nothing new is taken */
    HW_ERRC_EVENT_IN_FLIGHT,    /* 409 the event's delivery attempt has not ended */
    HW_ERRC_COUNT
};

/* The code's name ("HW_AGENT_OFFLINE"), its HTTP status and short text. */
const char *hw_errc_name(enum hw_errc e);
int hw_errc_status(enum hw_errc e);

/* Standard reason phrase for a status code ("Not Found"); "" if unknown. */
const char *hw_http_reason(int status);

/*
 * Appends a complete HTTP/1.1 error response: status line, Hookwire-Error,
 * Content-Type text/plain, Content-Length, "Connection: close" unless
 * keep_alive, extra (pre-formatted "Name: value\r\n" lines, or NULL), and a
 * one-line text body, left out when head_only (the answer to a HEAD request
 * keeps its Content-Length but has no body). Returns 0 or an hw_buf error.
 */
int hw_error_response(struct hw_buf *out, enum hw_errc e, int keep_alive, const char *extra,
                      int head_only);

#endif
