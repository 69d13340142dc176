#ifndef RELAY_CLAIM_H
#define RELAY_CLAIM_H

/*
 * One channel, one agent: who may take a channel's tunnel. A second agent
 * for a channel whose agent is alive is refused with 409 HW_CHANNEL_BUSY,
 * naming the holder; "Hookwire-Takeover: 1" replaces the holder; a holder
 * that does not answer a ping within PROBE_MS loses the channel to the
 * newcomer's retry. Service thread only.
 */
#include <libwebsockets.h>
#include <stdint.h>

struct relay;
struct relay_agent;

/* What the registry knows of an agent for the busy answer, kept in its session. */
struct relay_claim_info {
    char addr[64];       /* "IP:PORT" of the agent's tunnel connection */
    int64_t since_ms;    /* wall-clock time of its connect, ms since the epoch */
    lws_usec_t probe_at; /* when a newcomer's liveness ping went out; 0: none pending */
};

/*
 * The upgrade gate's channel check, after the token named channel. Returns
 * 0 to let the upgrade through (no live holder, a takeover, or a holder
 * that stayed silent through its probe, which is dropped here); 1 when a
 * 409 was written on wsi (the caller returns 1 to lws); -1 when writing
 * the answer failed.
 */
int relay_claim_gate(struct relay *r, struct lws *wsi, const char *channel);

/* Fills info for an agent whose tunnel was just established on wsi. */
void relay_claim_init(struct relay_claim_info *info, struct lws *wsi);

/*
 * Tells the agent old that newcomer (established on wsi) replaced it: logs
 * one line and closes old's tunnel with GOAWAY "taken over by ADDR", which
 * the agent reads as "stop, do not reconnect".
 */
void relay_claim_replaced(struct relay_agent *old, const struct relay_claim_info *newcomer);

#endif
