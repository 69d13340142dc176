#ifndef RELAY_ANSWER_H
#define RELAY_ANSWER_H

/*
 * The agent's answer, fed from its tunnel stream into the HTTP server's
 * streaming answer (which checks and re-frames it for this hop; tunnel
 * credit flows back through ingress.c's on_drain). Service thread only.
 */
#include <stddef.h>
#include <stdint.h>

#include "tunnel/frame.h"

struct hw_http_conn;

/*
 * Stream events from the agent's mux for the connection that owns the
 * stream (tunnel.c calls these). After relay_answer_on_reset() the stream is
 * gone; the others may close it.
 */
void relay_answer_on_response(struct hw_http_conn *c, const struct hw_frame *f);
void relay_answer_on_data(struct hw_http_conn *c, const uint8_t *p, size_t n);
void relay_answer_on_end(struct hw_http_conn *c);
void relay_answer_on_reset(struct hw_http_conn *c, uint16_t code, const char *text, size_t len);

/*
 * Why an attempt failed, for the history, when the agent reset its stream:
 * "the agent reset the stream: TEXT" (the agent's own words, cut at 96
 * bytes; "no reason given" when it gave none), into why (cap bytes).
 */
const char *relay_answer_reset_reason(char *why, size_t cap, const char *text, size_t len);

#endif
