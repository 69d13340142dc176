#ifndef RELAY_INGRESS_H
#define RELAY_INGRESS_H

/*
 * Public ingress: the relay's use of the HTTP server (common/net). Each
 * request to /t/CHANNEL/PATH becomes a stream on that channel's tunnel;
 * answer.c feeds the agent's answer back through the server's streaming
 * calls. Service thread only.
 */
#include <libwebsockets.h>

#include "core/id.h"
#include "edge.h"
#include "net/http_server.h"

struct relay;
struct hw_mux_stream;
struct relay_queued;
struct relay_live;

/*
 * The relay's part of one public connection: the server's per-connection
 * user area. Written by ingress.c only; answer.c reads it.
 */
struct relay_exchange {
    struct relay *relay;
    struct hw_mux_stream *stream; /* the tunnel stream of the exchange in flight, or NULL */
    const char *channel;          /* into the request head */
    size_t channel_len;
    enum relay_edge_verdict verdict;
    lws_usec_t started;
    struct relay_queued *pend; /* a queued accept waiting for its commit, or NULL */
    struct relay_live *live;   /* the history record of the live exchange, or NULL */
    int status;                /* the app's answer status once its head came, else 0 */
    char event_id[HW_ID_LEN + 1];
};

/* The store's verification value (enum hw_store_verify) for an edge verdict. */
int relay_verify_of(enum relay_edge_verdict v);

/* Creates the relay's HTTP server with its limits from r->cfg. NULL when out of memory. */
struct hw_http_server *relay_ingress_new(struct relay *r);

/*
 * The exchange's stream is finished with: closed here when close_it, or
 * already freed by the mux (a reset) when not. No-op without a stream.
 */
void relay_ingress_drop_stream(struct hw_http_conn *c, int close_it);

#endif
