#ifndef HW_HTTP_CONN_H
#define HW_HTTP_CONN_H

/*
 * Inside net/: what the server (http_server.c) and its connections
 * (http_conn.c) ask of each other. The server hands each lws event to its
 * connection; a connection reads the server's configuration and reports
 * what the server counts. Service thread only.
 */
#include <libwebsockets.h>
#include <stddef.h>

#include "http/hwerror.h"
#include "http_server.h"

struct hw_http_readers;

/* The connection's entry points, one per raw-socket event. Returns as lws callbacks do. */
int hw_http_conn_adopt(struct hw_http_server *s, struct lws *wsi);
int hw_http_conn_rx(struct hw_http_conn *c, const char *in, size_t len);
int hw_http_conn_writeable(struct hw_http_conn *c);
void hw_http_conn_closed(struct hw_http_conn *c); /* frees c */

/* The server's configuration, callbacks and readers list, for the life of the server. */
const struct hw_http_server_config *hw_http_server_cfg(const struct hw_http_server *s);
const struct hw_http_server_callbacks *hw_http_server_cb(const struct hw_http_server *s);
struct hw_http_readers *hw_http_server_readers(struct hw_http_server *s);
/* Whether answers end their connections now (hw_http_server_closing()). */
int hw_http_server_is_closing(const struct hw_http_server *s);

/* A connection opened. Returns 1 when that puts the server over max_connections. */
int hw_http_server_opened(struct hw_http_server *s);
/* A connection is being closed: its slot is free again (its memory goes at _closed). */
void hw_http_server_leaving(struct hw_http_server *s);
void hw_http_server_closed(struct hw_http_server *s);
/* A connection's exchange began (on = 1: request dispatched or answer queued) or ended. */
void hw_http_server_exchange(struct hw_http_server *s, int on);
/* An error answer e was given; a stalled connection was shed. */
void hw_http_server_count_error(struct hw_http_server *s, enum hw_errc e);
void hw_http_server_count_shed(struct hw_http_server *s);

#endif
