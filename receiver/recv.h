#ifndef RECV_RECV_H
#define RECV_RECV_H

/*
 * The running receiver: what main.c wires together and the service-thread
 * parts (server.c, ingest.c, deliver.c, metrics.c) share. One instance per
 * process, built by main.c and passed by pointer (no globals), so the
 * library parts other programs link (outgoing.c, admit.c) never see it.
 */
#include <libwebsockets.h>
#include <stdint.h>

#include "config.h"
#include "metrics.h"

struct hw_http_server;
struct hw_http_client;
struct hw_store;
struct hw_loop;
struct recv_db;
struct recv_deliver;
struct recv_ack;

struct recv {
    struct recv_config cfg;
    struct lws_context *context;   /* service thread only */
    struct hw_loop *loop;          /* the context's event loop (net/loop.h) */
    struct hw_http_server *http;   /* ingest and our endpoints */
    struct hw_http_client *client; /* deliveries */
    struct hw_store *store;        /* async appends (group commit), service thread */
    struct recv_db *db;            /* claims, attempts, readiness: its own thread and handle */
    struct recv_deliver *deliver;  /* deliveries in flight, service thread */
    struct recv_metrics metrics;   /* service thread */
    struct recv_ack *acks;         /* appends whose callback has not run yet (ingest.c) */
    int draining;                  /* SIGTERM: webhooks get 503, nothing new is claimed */
    unsigned max_connections;      /* senders' connections, fitted under the open files limit */
};

/* Monotonic microseconds, for latencies. */
static inline int64_t recv_now_us(void)
{
    return (int64_t)lws_now_usecs();
}

#endif
