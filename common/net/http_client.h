#ifndef HW_HTTP_CLIENT_H
#define HW_HTTP_CLIENT_H

/*
 * The HTTP/1.1 client: keep-alive lws raw client connections pooled per
 * target, one request at a time on each (no pipelining). A request is sent
 * as the caller built it (head bytes, then a body given whole or in pieces);
 * the answer's framing is checked with the strict parser before a byte of it
 * is passed on, interim 1xx answers are skipped, 101 is refused, and nothing
 * past the answer's end is ever delivered or kept for the next request.
 * Service thread only: every function here and every callback runs on the
 * lws service thread of the context the client was made for. An https
 * target runs the same exchange over TLS (net/tls_client.h), with lws still
 * moving the bytes of a raw socket.
 */
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "http/http1.h"

struct hw_http_client;
struct hw_http_target;
struct hw_http_req;
struct hw_tls_ctx;

/* The lws protocol every client connection uses: list it in the context's protocols. */
extern const struct lws_protocols hw_http_client_protocol;

/* Why a request failed (on_error). */
enum hw_http_fail {
    HW_HTTP_REFUSED = 1, /* no connection to the target could be made */
    HW_HTTP_TIMEOUT,     /* connect or total deadline passed */
    HW_HTTP_BAD_ANSWER,  /* malformed, cut short or protocol-switching answer */
    HW_HTTP_TOO_LARGE,   /* the answer's head, or a collected body, past its cap */
    HW_HTTP_CANCELLED,   /* the client was freed with the request in flight */
    HW_HTTP_TLS,         /* https: the TLS handshake failed or the certificate was refused */
};

struct hw_http_client_opts {
    unsigned connect_timeout_ms; /* default for requests that give 0; 0 means 5000 */
    unsigned timeout_ms;         /* whole exchange, queueing included; 0 means 30000 */
};

/*
 * Creates a client for an lws context whose protocols include
 * hw_http_client_protocol. Returns an owned client, or NULL when out of memory.
 */
struct hw_http_client *hw_http_client_new(struct lws_context *cx,
                                          const struct hw_http_client_opts *o);

/*
 * Fails every request still pending with on_error(HW_HTTP_CANCELLED), drops
 * every connection and frees the client and its targets. Call it before
 * lws_context_destroy(), outside the client's callbacks. NULL is a no-op.
 */
void hw_http_client_free(struct hw_http_client *c);

struct hw_http_target_opts {
    const char *address; /* what to connect to (name or IP; a name is looked up off the
                            service thread, http_client_addr.c); copied */
    const char *host;    /* the name the target knows itself by; NULL means address; copied */
    int port;
    size_t max_conns;   /* open connections at most; 0 means 64 */
    size_t max_idle;    /* idle connections kept for reuse (0: none, no keep-alive) */
    size_t max_pending; /* requests queued or in flight at most; 0 means 1024 */
    /*
     * https: the TLS context (trusted CAs, verify or not) for every
     * connection, whose certificate must name host; the target keeps its own
     * reference. NULL: plain http.
     */
    struct hw_tls_ctx *tls;
};

/*
 * Adds a target (one pool of connections) to the client, which owns it.
 * TLS runs over OpenSSL memory BIOs on the raw connection, since lws 4.1.6
 * cannot start TLS on a raw client connection itself (the connect fails at
 * once with "tls start fail"); the connect deadline covers the handshake.
 * Returns it, or NULL for HW_EINVAL (no address, bad port) or out of memory.
 */
struct hw_http_target *hw_http_target_new(struct hw_http_client *c,
                                          const struct hw_http_target_opts *o);

/*
 * Results, called on the service thread. r stays valid until on_end or
 * on_error returns (then the client frees it) or the caller cancels it.
 * Any callback may call hw_http_req_cancel(r), start other requests or
 * cancel them.
 */
struct hw_http_req_cb {
    /* The final answer's head: h and raw (the head's bytes) are valid during the call. */
    void (*on_head)(struct hw_http_req *r, void *user, const struct hw_http_head *h,
                    const char *raw, size_t raw_len);
    /*
     * Body bytes (de-chunked). Returns how many it took; taking fewer than n
     * pauses reading from the target until hw_http_req_resume(), when the
     * rest is offered again.
     */
    size_t (*on_body)(struct hw_http_req *r, void *user, const char *p, size_t n);
    /* The answer is complete. */
    void (*on_end)(struct hw_http_req *r, void *user);
    /*
     * The request failed; text is a short reason, valid during the call
     * (for HW_HTTP_TLS it names the TLS or certificate error).
     */
    void (*on_error)(struct hw_http_req *r, void *user, enum hw_http_fail why, const char *text);
    /*
     * Optional: n more body bytes given to hw_http_req_write() have left the
     * client's backlog (it fell below HW_OUT_LOW): the caller may send more.
     */
    void (*on_sent)(struct hw_http_req *r, void *user, size_t n);
    /*
     * Optional, and the one callback that also follows hw_http_req_cancel():
     * the request is being freed, however it ended; for releasing what the
     * caller keeps in its data area. r may not be used for anything else.
     */
    void (*on_release)(struct hw_http_req *r, void *user);
};

/* A timeout_ms for an exchange that only the caller ends (a stream another deadline governs). */
#define HW_HTTP_NO_DEADLINE 0xffffffffu

struct hw_http_req_opts {
    const char *method;          /* the request's method ("HEAD" answers have no body) */
    unsigned connect_timeout_ms; /* 0: the client's */
    unsigned timeout_ms;         /* 0: the client's; or HW_HTTP_NO_DEADLINE */
    size_t data_size;            /* bytes of zeroed caller data kept with the request */
    int body_done;               /* msg already holds the whole request */
    int chunked;                 /* hw_http_req_write() frames each piece as a chunk */
};

/*
 * Starts a request on target t. msg holds the head (through its blank line)
 * and possibly body bytes; the client takes its storage and leaves msg
 * empty. Requests whose bytes so far fit HW_HEAD_MAX + HW_REPLAY_MAX are
 * resent once on a fresh connection if a reused one turns out to be closed
 * before any byte of the answer. Returns the request (owned by the client
 * until on_end/on_error or cancel), or NULL with *err set: HW_EFULL past the
 * target's max_pending, HW_EUNAVAIL when no connection can be started,
 * HW_ENOMEM. Callbacks never run inside this call.
 */
struct hw_http_req *hw_http_req_start(struct hw_http_target *t, struct hw_buf *msg,
                                      const struct hw_http_req_opts *o,
                                      const struct hw_http_req_cb *cb, void *user, int *err);

/*
 * Queues n more body bytes (copied; framed as one chunk when the request is
 * chunked). The caller bounds what it queues (on_sent tells when the
 * backlog drained). Returns 0, HW_EINVAL after hw_http_req_finish(), or
 * HW_ENOMEM.
 */
HW_MUST_CHECK int hw_http_req_write(struct hw_http_req *r, const void *p, size_t n);

/* The request body is complete (queues the last chunk if chunked). 0, HW_EINVAL or HW_ENOMEM. */
HW_MUST_CHECK int hw_http_req_finish(struct hw_http_req *r);

/* The caller has room again after on_body took less than offered. */
void hw_http_req_resume(struct hw_http_req *r);

/*
 * Drops the request at any time, inside its callbacks too; no callback
 * follows but on_release. Its connection is closed (it may hold part of an
 * exchange).
 */
void hw_http_req_cancel(struct hw_http_req *r);

/*
 * The opts.data_size bytes of caller data allocated with the request (suitably
 * aligned); they live until the request ends, saving the caller an allocation.
 */
void *hw_http_req_data(struct hw_http_req *r);

/* 1 if the request was resent on a fresh connection. */
int hw_http_req_resent(const struct hw_http_req *r);

#endif
