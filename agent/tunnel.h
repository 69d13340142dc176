#ifndef AGENT_TUNNEL_H
#define AGENT_TUNNEL_H

/*
 * The agent's WebSocket tunnel to the relay: connects with the bearer token,
 * reconnects with jittered exponential backoff (0.5 s to 30 s), pings every
 * heartbeat and declares the tunnel dead after two silent intervals, and
 * hands streams to the forwarder. Service thread only.
 */
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

struct agent;

/* The tunnel connection's lws protocol (tunnel_ws.c), named after the subprotocol. */
extern const struct lws_protocols agent_tunnel_protocol;

/*
 * The session side of the transport (tunnel_ws.c). agent_tunnel_opened: wsi completed the upgrade;
 * returns 0, or -1 to close it. agent_tunnel_message: one whole binary
 * message from the relay; returns 0, or HW_EPROTO (the caller closes the
 * tunnel). agent_tunnel_ended: wsi's attempt or tunnel is over (status: the
 * HTTP status of a refused upgrade, else 0; answer: that refusal's head, or
 * NULL); callbacks of an older connection are ignored.
 */
int agent_tunnel_opened(struct agent *a, struct lws *wsi);

/*
 * wsi reached something that is not the relay's tunnel endpoint as --relay
 * says it is (the webhook port, TLS on a plain port or the reverse): why
 * says what and what to do. Before the tunnel was ever up this stops the
 * agent (one ERROR line, exit status 1); after, it is one more failed attempt.
 */
void agent_tunnel_misdirected(struct agent *a, struct lws *wsi, const char *why);

/*
 * wsi's connection was refused or found no route before it was up: the attempt dials the
 * relay name's next address, if it has one left and its deadline has not passed, else it
 * ends with why.
 */
void agent_tunnel_unreachable(struct agent *a, struct lws *wsi, const char *why);
int agent_tunnel_message(struct agent *a, const uint8_t *p, size_t len);
void agent_tunnel_ended(struct agent *a, struct lws *wsi, const char *why, unsigned status,
                        const char *answer, size_t answer_len);

/* Starts the first connection attempt. */
void agent_tunnel_start(struct agent *a);

/*
 * The graceful stop, called after each service round once a signal asked for it. The
 * first call sends GOAWAY (the relay then routes nothing new here), logs the stop and
 * arms the deadline (--stop-timeout). Returns 0 while forwards are in flight or their
 * answers are being written, and 1 when the agent may exit: every stream finished and
 * the tunnel closed cleanly, the tunnel is gone, or the deadline passed (one WARN line
 * says how many forwards were left; the relay queues them when the tunnel closes).
 */
int agent_tunnel_stopping(struct agent *a);

/* Stops reconnecting, drops the streams still open and closes the tunnel (at shutdown). */
void agent_tunnel_stop(struct agent *a);

#endif
