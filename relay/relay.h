#ifndef RELAY_RELAY_H
#define RELAY_RELAY_H

/*
 * The relay's shared state: configuration, the lws context, the token store
 * and the channel registry. One instance, owned by main.c; every part of the
 * relay runs on the lws service thread.
 */
#include <libwebsockets.h>
#include <stdint.h>

#include "config.h"
#include "metrics.h"

struct relay_tokens;
struct relay_queue;
struct relay_outcomes;
struct hw_store;
struct relay_channels;
struct relay_edge;
struct relay_live;
struct hw_http_server;
struct hw_loop;

struct relay {
    struct relay_config cfg; /* as given: what a SIGHUP's configuration is compared with */
    /* The connection caps in force: the options', fitted under the open files limit. */
    unsigned max_connections, max_tunnel_connections;
    struct lws_context *context;
    struct hw_loop *loop; /* the context's event loop (net/loop.h) */
    struct lws_vhost *public_vhost;
    struct lws_vhost *tunnel_vhost;
    struct hw_http_server *ingress; /* the public port's HTTP server */
    struct hw_store *store;         /* tokens (and, later, the offline queue) */
    struct relay_tokens *tokens;
    struct relay_queue *queue;       /* the offline queue and its drain */
    struct relay_outcomes *outcomes; /* delivery outcomes on their way to the store */
    struct relay_channels *channels;
    struct relay_edge *edge;       /* [channel NAME] signature checks */
    struct relay_refused *refused; /* recent refusals, for the history API */
    struct relay_metrics metrics;
    const char *public_base; /* public URL without a trailing slash */
    size_t history_held;     /* bytes of live webhooks held for their history record (record.c) */
    struct relay_live *history_retry;       /* records to write again, oldest first (record.c) */
    struct relay_live **history_retry_tail; /* where the next one goes */
    lws_sorted_usec_list_t history_resend;  /* their timer */
    long tunnel_conns;                      /* connections open on the tunnel port (api.c) */
    size_t api_held;        /* bytes of tunnel-port answers in memory (api.c, history.c) */
    int tunnel_full_logged; /* the cap's warning was logged since a connection was last let in */
    int stopping;           /* shutting down: new webhooks are turned away (ingress.c) */
};

#endif
