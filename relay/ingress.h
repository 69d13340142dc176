#ifndef RELAY_INGRESS_H
#define RELAY_INGRESS_H

/*
 * Public ingress: webhooks arrive on an lws raw listener and are parsed by
 * our own HTTP/1.1 code so header case, order and duplicates survive; each
 * request to /t/CHANNEL/PATH becomes a stream on that channel's tunnel, and
 * the agent's answer is written back. Service thread only.
 */
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct ingress_conn;

extern const struct lws_protocols relay_ingress_protocol;

/* Stream events from the agent's mux, for the connection that owns the stream. */
void relay_ingress_on_response(struct ingress_conn *c, const struct hw_frame *f);
void relay_ingress_on_data(struct ingress_conn *c, const uint8_t *p, size_t n);
void relay_ingress_on_end(struct ingress_conn *c);
void relay_ingress_on_reset(struct ingress_conn *c, uint16_t code, const char *text, size_t len);

#endif
