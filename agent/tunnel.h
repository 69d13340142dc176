#ifndef AGENT_TUNNEL_H
#define AGENT_TUNNEL_H

/*
 * The agent's WebSocket tunnel to the relay: connects with the bearer token,
 * reconnects with jittered exponential backoff (0.5 s to 30 s), pings every
 * heartbeat and declares the tunnel dead after two silent intervals, and
 * hands streams to the forwarder. Service thread only.
 */
#include <libwebsockets.h>

struct agent;

extern const struct lws_protocols agent_tunnel_protocol;

/* Starts the first connection attempt. */
void agent_tunnel_start(struct agent *a);

/* Stops reconnecting and closes the tunnel (at shutdown). */
void agent_tunnel_stop(struct agent *a);

#endif
