#ifndef RELAY_SERVER_H
#define RELAY_SERVER_H

/*
 * Creates the relay's lws context with its two vhosts: the public raw
 * listener (ingress) and the tunnel listener (HTTP API + WebSocket), with
 * TLS on both when configured. Main thread, before the loop starts.
 */
struct relay;

/* r->ingress must exist. Returns 0, or an error already printed to stderr. */
int relay_server_start(struct relay *r);

/* Destroys the context (closing every connection). */
void relay_server_stop(struct relay *r);

#endif
