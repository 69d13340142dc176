#ifndef RELAY_CONN_H
#define RELAY_CONN_H

/*
 * One public connection of the relay, shared by its two halves: ingress.c
 * reads requests and forwards them, answer.c writes the answers back. Not a
 * module of its own: the struct and the limits both halves keep to. Service
 * thread only.
 */
#include <libwebsockets.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/id.h"
#include "edge.h"
#include "http/http1.h"

struct relay;
struct hw_mux_stream;

#define HEAD_MAX     (64 * 1024)    /* largest request head */
#define IN_MAX       (HEAD_MAX * 4) /* unparsed bytes held, pipelining included */
#define IN_PAUSE     HEAD_MAX       /* stop reading past this while an answer is pending */
#define OUT_LOW      (256 * 1024)   /* output backlog below which credit flows */
#define IDLE_TIMEOUT 60             /* seconds a connection may sit between requests */

enum conn_state {
    ST_HEAD,     /* reading a request head */
    ST_BODY,     /* reading its body */
    ST_WAIT,     /* forwarded, waiting for the answer's head */
    ST_RESPONSE, /* writing the answer */
};

struct ingress_conn {
    struct lws *wsi;
    struct relay *relay;
    enum conn_state state;
    struct hw_buf in;   /* received bytes not yet parsed */
    struct hw_buf head; /* the current request's head; req points into it */
    struct hw_http_head req;
    struct hw_buf body;
    struct hw_chunked chunked;
    uint64_t body_left;
    size_t held; /* body bytes counted against the relay's --max-held budget */
    struct hw_buf out;
    struct hw_mux_stream *stream;
    lws_sorted_usec_list_t timer;
    lws_usec_t started;
    size_t credit_owed;
    const char *channel; /* into head */
    size_t channel_len;
    unsigned keep_alive : 1, close_after : 1, resp_chunked : 1, resp_started : 1, resp_done : 1;
    unsigned resp_written : 1, rx_paused : 1;
    unsigned killed : 1; /* being closed: no further work on it */
    size_t resp_mark;    /* bytes queued before the answer's head and not yet written */
    uint64_t resp_left;  /* body bytes the answer still owes, or HW_BODY_LEN_UNKNOWN */
    int status;
    enum relay_edge_verdict verdict;
    char event_id[HW_ID_LEN + 1];
    char peer[64];
};

#endif
