#ifndef AGENT_INSPECT_H
#define AGENT_INSPECT_H

/*
 * The web inspector: an HTTP server on the agent's own lws loop (a raw
 * vhost on net/http_server) that serves a single-page app compiled into
 * the binary, its JSON API (inspect_api.c) and a stream of server-sent
 * events, one per exchange the agent starts or ends with the app. Loopback
 * only unless --inspect-allow-remote. Service thread, except
 * agent_inspect_check() (main thread, at startup).
 */
#include <stddef.h>

#include "core/buf.h"

struct agent;
struct agent_inspect;
struct hw_http_conn;

/*
 * Checks --inspect and --inspect-allow-remote: "off", or HOST:PORT with a
 * loopback HOST unless remote is allowed. Exits 2 with one line otherwise.
 */
void agent_inspect_check(struct agent *a);

/*
 * Starts the inspector on a->context (a vhost of its own), its capture
 * ring (a->capture) and its relay threads, and prints where it listens.
 * A port already in use is not fatal: the tunnel is the agent's job, so
 * one warning line says so and the agent runs without an inspector.
 * Returns 0, or HW_ENOMEM / HW_EIO when it cannot start for another reason.
 */
int agent_inspect_start(struct agent *a);

/* Stops the relay threads; before lws_context_destroy(). Safe when not started. */
void agent_inspect_stop(struct agent *a);

/* Frees the inspector; after lws_context_destroy(). Safe when not started. */
void agent_inspect_free(struct agent *a);

/* The server's connection state (one per accepted connection); for inspect_api.c. */
struct agent_inspect_conn {
    struct agent_inspect *ins;
    struct agent *agent;
    struct agent_relay_job *job; /* a relay call this connection's answer waits for */
    struct agent_edit *edit;     /* an edited replay this connection's answer waits for */
    int sse;                     /* the connection carries the event stream */
    struct hw_buf doc;           /* an edited replay's document while its original is looked up */
};

/* Answers c with a JSON body (status, body borrowed). */
void agent_inspect_json(struct hw_http_conn *c, int status, const char *body, size_t len);

/* Answers c with {"error": text} and status. */
void agent_inspect_error(struct hw_http_conn *c, int status, const char *text);

#endif
