#ifndef RECV_SERVER_H
#define RECV_SERVER_H

/*
 * The receiver's lws context (server.c): one raw vhost on the listen
 * address carrying the HTTP server, the HTTP client's connections and the
 * loop's own protocol (store completions, claimed events, timers), and the
 * operations endpoints /healthz, /readyz and /metrics.
 */
#include "http/http1.h"

struct recv;
struct hw_http_conn;

/* Creates the context and the vhost (r->http must exist). 0, or HW_EIO with a message printed. */
int recv_server_start(struct recv *r);

/* Destroys the context (and with it every connection). Main thread, after the loop. */
void recv_server_stop(struct recv *r);

/* Answers /healthz, /readyz or /metrics and returns 1; 0 for any other target. Service thread. */
int recv_server_endpoint(struct recv *r, struct hw_http_conn *c, const struct hw_http_head *h);

#endif
