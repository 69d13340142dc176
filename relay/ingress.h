#ifndef RELAY_INGRESS_H
#define RELAY_INGRESS_H

/*
 * Public ingress: webhooks arrive on an lws raw listener and are parsed by
 * our own HTTP/1.1 code so header case, order and duplicates survive; each
 * request to /t/CHANNEL/PATH becomes a stream on that channel's tunnel, and
 * the agent's answer is written back. Service thread only.
 */
#include <libwebsockets.h>

extern const struct lws_protocols relay_ingress_protocol;

#endif
