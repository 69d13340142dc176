#ifndef HW_HTTP_CLIENT_INT_H
#define HW_HTTP_CLIENT_INT_H

/*
 * Internal to the HTTP client (http_client.c, http_client_conn.c,
 * http_client_addr.c and http_client_rx.c): the structures of a client, its
 * targets, connections and requests, and the steps the files call in each
 * other. Service thread only.
 */
#include "core/resolve.h"
#include "http_client.h"

struct hw_http_client {
    struct lws_context *cx;
    unsigned connect_timeout_ms, timeout_ms;
    struct hw_http_target *targets;
    char why[224]; /* a failure's text built here, valid during its on_error */
};

struct hwc_conn;

struct hw_http_target {
    struct hw_http_client *client;
    struct hw_http_target *next;
    char address[256];
    char host[256];
    int port;
    struct hw_tls_ctx *tls; /* https; a reference of its own */
    size_t max_conns, max_idle, max_pending;
    size_t nconns;          /* sockets open or opening */
    size_t nidle;           /* of which idle */
    size_t npending;        /* requests queued or in flight */
    struct hwc_conn *conns; /* every connection struct, sockets gone or not */
    struct hwc_conn *idle;
    struct hw_http_req *qhead, *qtail; /* waiting for a connection */
    int pumping;                       /* inside hwc_pump() */
    /* Where connections go (http_client_addr.c): address itself, or what its lookup found. */
    int numeric;                   /* address is in numbers: no lookup */
    struct hw_addrs addrs;         /* the last good lookup's, kept while the next runs */
    size_t addr_next;              /* the one new connections use */
    lws_usec_t addrs_until;        /* looked up again from then on */
    struct hw_resolve *lookup;     /* running */
    int lookup_failed, lookup_gai; /* no lookup started, or a failure repeated (gai: why) */
    lws_usec_t failed_until;       /* a name that failed with no addresses fails until then */
    int failed_gai;                /* and why */
    unsigned lookups;              /* lookups started or repeated: a request's generation */
    lws_usec_t lookup_started;
    lws_sorted_usec_list_t lookup_timer; /* polls the running lookup */
    lws_usec_t lookup_step;
};

enum hwc_state { HWC_HEAD, HWC_BODY };

struct hwc_conn {
    struct hw_http_target *t;
    struct lws *wsi; /* NULL once the socket is gone */
    struct hw_http_req *req;
    struct hwc_conn *next, *prev, *next_idle;
    struct hw_buf in; /* answer bytes: first `ready` of them decoded body, then raw */
    size_t ready;
    lws_sorted_usec_list_t connect_timer;
    lws_sorted_usec_list_t flush; /* the end-of-round write (hwc_want_write()) */
    enum hwc_state state;
    enum hw_http_body body_kind;
    uint64_t body_left; /* HW_BODY_LENGTH: bytes not yet counted into ready */
    struct hw_chunked chunked;
    char addr[HW_ADDR_STRLEN]; /* the address in numbers it connects to */
    struct hw_tls *tls;        /* https: the session */
    struct hw_buf tls_out;     /* https: records waiting for the socket, written first */
    unsigned connected : 1, reused : 1, idle : 1, keep_alive : 1, paused : 1;
    unsigned framed : 1;      /* the answer's last byte is in `in` */
    unsigned eof : 1;         /* the socket is gone */
    unsigned got_bytes : 1;   /* the target sent something for the current request */
    unsigned in_connect : 1;  /* inside lws_client_connect_via_info() */
    unsigned failed : 1;      /* the connection failed during that call */
    unsigned in_gone : 1;     /* inside its close handling: it frees c */
    unsigned flush_armed : 1; /* flush is scheduled */
    unsigned blocked : 1;     /* the socket was full: writes wait for WRITEABLE */
};

struct hw_http_req {
    struct hw_http_target *t;
    struct hwc_conn *c;
    struct hw_http_req *next; /* in the target's queue */
    const struct hw_http_req_cb *cb;
    void *user;
    struct hw_buf msg; /* bytes to send; the first `sent` kept while replayable */
    size_t sent;
    size_t owed; /* body bytes queued and not yet reported by on_sent */
    lws_sorted_usec_list_t timer;
    unsigned connect_timeout_ms;
    lws_usec_t queued_at; /* in the target's queue since */
    unsigned gen;         /* queued during the target's lookup number gen */
    unsigned addr_tries;  /* connections refused on the way to an answer */
    unsigned is_head : 1, body_done : 1, chunked : 1, replayable : 1, retried : 1;
    unsigned queued : 1, in_cb : 1, cancelled : 1, resume : 1;
};

/* http_client.c */
/* Starts queued requests while connections can be had. */
void hwc_pump(struct hw_http_target *t);
/* Fails the queued requests of lookups up to gen (the one that failed). */
void hwc_fail_waiting(struct hw_http_target *t, unsigned gen, enum hw_http_fail why,
                      const char *text);
/* Fails the queued requests that have waited past their connect timeout. */
void hwc_fail_overdue(struct hw_http_target *t, enum hw_http_fail why, const char *text);
void hwc_idle_remove(struct hwc_conn *c);
/* Gives r an idle connection, a new one or a place in the queue: 0, or HW_EUNAVAIL. */
int hwc_dispatch(struct hw_http_req *r);
void hwc_detach(struct hw_http_req *r, int keep);
/* Ends a callback on r; 1 if r was cancelled inside it (and is freed). */
int hwc_after_cb(struct hw_http_req *r);
/* End r with on_error / on_end (keep: the connection may be reused); r is freed. */
void hwc_fail(struct hw_http_req *r, enum hw_http_fail why, const char *text);
void hwc_finish_ok(struct hw_http_req *r, int keep);
/* Run a callback; 1 if r was cancelled inside it (and is freed). */
int hwc_call_head(struct hw_http_req *r, const struct hw_http_head *h, const char *raw,
                  size_t raw_len);
int hwc_call_body(struct hw_http_req *r, const char *p, size_t n, size_t *taken);

/* http_client_conn.c */
/* A new connection to addr (in numbers) for r, under its connect timeout; NULL on failure. */
struct hwc_conn *hwc_conn_new(struct hw_http_target *t, struct hw_http_req *r, const char *addr);
/* Unlinks and frees c; its socket must be gone or detached from it. */
void hwc_conn_free(struct hwc_conn *c);
void hwc_conn_drop(struct hwc_conn *c);
/* c's request has bytes to send: they go at the end of the round, or at WRITEABLE. */
void hwc_want_write(struct hwc_conn *c);

/* http_client_addr.c */
/*
 * The address (in numbers) a new connection to t goes to, or NULL while the
 * name's first lookup runs (started here when due: requests wait for it).
 */
const char *hwc_addr(struct hw_http_target *t);
/*
 * A connection to addr failed before it was up (refused, no route, timed
 * out, or lws could not start it): new connections go to the name's next
 * address. 1 if t is a name with addresses to turn through.
 */
int hwc_addr_failed(struct hw_http_target *t, const char *addr);
void hwc_addr_cleanup(struct hw_http_target *t);

/* http_client_rx.c */
/* Bytes from the socket; returns -1 to close it. */
int hwc_on_rx(struct hwc_conn *c, const void *in, size_t len);
/* Parses and delivers what `in` holds, as far as the caller's room allows. */
void hwc_process(struct hwc_conn *c);

#endif
