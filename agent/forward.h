#ifndef AGENT_FORWARD_H
#define AGENT_FORWARD_H

/*
 * The forwarder: turns each tunnel stream into an HTTP/1.1 exchange with the
 * local target over an lws raw client connection (kept alive and reused),
 * and streams the answer back. Headers go out exactly as received from the
 * relay. Service thread only.
 */
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/mux.h"

struct agent;

extern const struct lws_protocols agent_forward_protocol;

/* Sets up the idle-connection pool. 0 or HW_ENOMEM. */
int agent_forward_init(struct agent *a);

/* Frees the pool (the lws context, already destroyed, closed its connections). */
void agent_forward_cleanup(struct agent *a);

/*
 * Mux callbacks for the tunnel's streams (tunnel.c installs them). on_request
 * attaches a request to the stream and starts the exchange with the app; the
 * stream stays the forwarder's until it sends END (then it is closed) or is
 * reset by either side; on_reset (also for a lost tunnel) drops the request
 * and its connection to the app. on_drain resumes reading the app's answer.
 */
void agent_forward_on_request(struct hw_mux *m, struct hw_mux_stream *s, const struct hw_frame *f);
void agent_forward_on_data(struct hw_mux *m, struct hw_mux_stream *s, const uint8_t *p, size_t n);
void agent_forward_on_end(struct hw_mux *m, struct hw_mux_stream *s);
void agent_forward_on_reset(struct hw_mux *m, struct hw_mux_stream *s, uint16_t code,
                            const char *text, size_t len);
void agent_forward_on_drain(struct hw_mux *m, struct hw_mux_stream *s);

#endif
