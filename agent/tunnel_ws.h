#ifndef AGENT_TUNNEL_WS_H
#define AGENT_TUNNEL_WS_H

/*
 * The tunnel's transport to the relay: a raw lws client socket with the
 * agent's own RFC 6455 client framing, over TLS (net/tls_client.h) for wss://.
 * Its lws protocol is agent_tunnel_protocol (tunnel.h). It reports to the
 * session in tunnel.c (agent_tunnel_opened / _message / _ended) and, once
 * open, sends the mux's frames: straight to the socket at the end of a service
 * round when nothing waits before them, else in WRITEABLE. Service thread only.
 */
#include <libwebsockets.h>

struct agent;

/*
 * Starts a connection to addr (in numbers: lws would look a name up on the
 * service thread) at a->relay_url's port, for path, with host as the Host
 * header ("name:port"), verifying a wss:// relay as a->relay_url's host per
 * a->cfg (--ca-file, --insecure). Returns the connection, or NULL when it
 * could not start (lws may have reported the failure through
 * agent_tunnel_unreachable() already). The caller has set a->attempt_live
 * and a->in_connect.
 */
struct lws *agent_ws_connect(struct agent *a, const char *addr, const char *host, const char *path);

/*
 * The mux has frames to send. On an open connection they go out in agent_ws_flush(), at
 * the end of this service round, so the frames of every stream served in the round share
 * one message; before that, in WRITEABLE.
 */
void agent_ws_want_write(struct agent *a);

/*
 * Sends the frames agent_ws_want_write() announced: written to the socket directly when
 * no earlier bytes wait (neither ours nor lws's) and the socket takes them without
 * blocking; what it does not take is left for WRITEABLE. Call after each service round
 * (hw_loop_run()).
 */
void agent_ws_flush(struct agent *a);

/*
 * Starts a clean close of the open tunnel: a WebSocket close (1001) after the bytes already
 * waiting, then the socket closes (within a second if the frame cannot be written); the end
 * is reported through agent_tunnel_ended(). Returns 0, or -1 when no tunnel is open.
 */
int agent_ws_close(struct agent *a);

/* Frees the transport's state at exit, after lws_context_destroy(). */
void agent_ws_free(struct agent *a);

#endif
