#ifndef RELAY_API_H
#define RELAY_API_H

/*
 * The tunnel port's plain HTTP side, on lws's HTTP role: /healthz, /metrics,
 * and the gate in front of the WebSocket upgrade at /tunnel (token check,
 * 401 with HW_UNAUTHORIZED). Service thread only.
 */
#include <libwebsockets.h>

extern const struct lws_protocols relay_api_protocol;

#endif
