#ifndef AGENT_TUNNEL_WS_H
#define AGENT_TUNNEL_WS_H

/*
 * The tunnel's transport to the relay: a raw lws client socket with the
 * agent's own RFC 6455 client framing, over TLS (net/tls_client.h) for wss://.
 * Its lws protocol is agent_tunnel_protocol (tunnel.h). It reports to the
 * session in tunnel.c (agent_tunnel_opened / _message / _ended) and, once
 * open, sends the mux's frames in WRITEABLE. Service thread only.
 */
#include <libwebsockets.h>

struct agent;

/*
 * Starts a connection attempt to a->relay_url for path, with host as the
 * Host header ("name:port"), verifying a wss:// relay per a->cfg (--ca-file,
 * --insecure). Returns the connection, or NULL when it could not start (lws
 * may have reported the failure through agent_tunnel_ended() already). The
 * caller has set a->attempt_live and a->in_connect.
 */
struct lws *agent_ws_connect(struct agent *a, const char *host, const char *path);

/* Frees the transport's state at exit, after lws_context_destroy(). */
void agent_ws_free(struct agent *a);

#endif
