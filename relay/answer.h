#ifndef RELAY_ANSWER_H
#define RELAY_ANSWER_H

/*
 * Answers to webhook senders: the agent's answer, checked and re-framed for
 * this hop and paced by the tunnel's flow control, or the relay's own error
 * with its Hookwire-Error code. Also the timer that bounds each exchange.
 * Service thread only.
 */
#include <stddef.h>
#include <stdint.h>

#include "http/hwerror.h"
#include "tunnel/frame.h"

struct ingress_conn;

/*
 * Stream events from the agent's mux for the connection that owns the
 * stream (tunnel.c calls these). After relay_answer_on_reset() the stream is
 * gone; the others may close it, and always clear c->stream when they do.
 */
void relay_answer_on_response(struct ingress_conn *c, const struct hw_frame *f);
void relay_answer_on_data(struct ingress_conn *c, const uint8_t *p, size_t n);
void relay_answer_on_end(struct ingress_conn *c);
void relay_answer_on_reset(struct ingress_conn *c, uint16_t code, const char *text, size_t len);

/*
 * Ends the exchange with the relay's own answer for e (extra: more header
 * lines, or NULL); drops the stream if there is one. Closes the connection
 * afterwards when unread request bytes remain or keep-alive is off.
 */
void relay_answer_error(struct ingress_conn *c, enum hw_errc e, const char *extra);

/* Answers /healthz. */
void relay_answer_health(struct ingress_conn *c);

/*
 * (Re)starts the exchange's timer: while waiting for the answer's head it
 * gives 504 on expiry; while the answer flows it cuts an answer that has
 * not moved for --response-timeout (a stalled app or a sender that stopped
 * reading), freeing the agent's stream.
 */
void relay_answer_arm_timer(struct ingress_conn *c);

/* Asks for a WRITEABLE callback on the connection. */
void relay_answer_want_write(struct ingress_conn *c);

/* Closes the connection now, dropping what is queued; nothing else runs on it. */
void relay_answer_kill(struct ingress_conn *c, const char *why);

#endif
