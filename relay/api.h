#ifndef RELAY_API_H
#define RELAY_API_H

/*
 * The tunnel port's plain HTTP side, on lws's HTTP role: /healthz, /metrics,
 * and the gate in front of the WebSocket upgrade at /tunnel (token check,
 * 401 with HW_UNAUTHORIZED, 409 from claim.c). Service thread only.
 */
#include <libwebsockets.h>

#include "http/hwerror.h"

extern const struct lws_protocols relay_api_protocol;

/*
 * Answers an upgrade request on wsi with error e at once (lws's contract
 * for CONFIRM_UPGRADE: one write, no WRITEABLE round), extra being
 * pre-formatted header lines or NULL. Returns 0, or -1 when the write failed.
 */
int relay_api_respond_error(struct lws *wsi, enum hw_errc e, const char *extra);

#endif
