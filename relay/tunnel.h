#ifndef RELAY_TUNNEL_H
#define RELAY_TUNNEL_H

/*
 * The agents' side of the relay: the "hookwire.v1" WebSocket protocol on the
 * tunnel port. Authenticates each agent by its bearer token, registers it
 * for its channel, runs the stream multiplexer and the heartbeat. Service
 * thread only.
 */
#include <libwebsockets.h>

struct relay;
struct relay_agent;
struct hw_mux;

extern const struct lws_protocols relay_tunnel_protocol;

/*
 * Checks an upgrade request's "Authorization: Bearer TOKEN" and copies the
 * channel the token belongs to (64 bytes). Returns 0, HW_EAUTH, or HW_EIO.
 */
int relay_tunnel_authenticate(struct relay *r, struct lws *wsi, char channel[64]);

/* The agent's multiplexer, where ingress opens its streams. */
struct hw_mux *relay_agent_mux(struct relay_agent *a);

/* Closes a's tunnel because its channel's tokens were revoked (GOAWAY, then the close). */
void relay_agent_revoked(struct relay_agent *a);

/* Sends GOAWAY with reason (text, borrowed) and closes a's tunnel once that is out. */
void relay_agent_goaway(struct relay_agent *a, const char *reason);

/*
 * 1 once a's tunnel is ending by GOAWAY, sent by the agent (it is stopping) or by the
 * relay (replaced, revoked): no new stream may be opened on it, queued events included.
 */
int relay_agent_leaving(const struct relay_agent *a);

/* The agent's claim facts (claim.c reads and updates them), last receive time, channel. */
struct relay_claim_info *relay_agent_claim(struct relay_agent *a);
lws_usec_t relay_agent_last_rx(const struct relay_agent *a);
const char *relay_agent_channel(const struct relay_agent *a);

#endif
