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

#include "mux.h"

struct agent;

extern const struct lws_protocols agent_forward_protocol;

int agent_forward_init(struct agent *a);
void agent_forward_cleanup(struct agent *a);

/* Mux callbacks for the tunnel's streams. */
void agent_forward_on_request(struct hw_mux *m, struct hw_mux_stream *s, const struct hw_frame *f);
void agent_forward_on_data(struct hw_mux *m, struct hw_mux_stream *s, const uint8_t *p, size_t n);
void agent_forward_on_end(struct hw_mux *m, struct hw_mux_stream *s);
void agent_forward_on_reset(struct hw_mux *m, struct hw_mux_stream *s, uint16_t code,
                            const char *text, size_t len);
void agent_forward_on_drain(struct hw_mux *m, struct hw_mux_stream *s);

#endif
