#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

/*
 * The agent's shared state: configuration, the lws context, the tunnel to
 * the relay and the forwarding target. One instance, owned by main.c; every
 * part of the agent runs on the lws service thread.
 */
#include <libwebsockets.h>

#include "config.h"
#include "core/buf.h"
#include "core/resolve.h"
#include "core/url.h"

struct hw_mux;
struct hw_http_client;
struct hw_http_target;
struct agent_ws;
struct agent_inspect;
struct agent_capture;

struct agent {
    struct agent_config cfg;
    struct lws_context *context;
    struct hw_url relay_url;
    struct hw_url target;  /* --forward */
    char target_addr[256]; /* what we connect to ("localhost" becomes 127.0.0.1) */
    char *token;           /* owned; wiped on exit */
    /* Tunnel state (tunnel.c). */
    struct lws *ws;
    struct hw_mux *mux;
    struct agent_ws *ws_raw; /* the transport's state (tunnel_ws.c) */
    lws_sorted_usec_list_t reconnect_timer;
    lws_sorted_usec_list_t heartbeat_timer;
    lws_usec_t last_rx;
    lws_usec_t last_ping;
    unsigned attempts; /* failed connects since the last HELLO */
    unsigned heartbeat_ms;
    int online;
    lws_sorted_usec_list_t handshake_timer;
    struct lws *attempt_wsi; /* the current attempt's connection, once the call returned */
    int attempt_live;        /* an attempt is under way: exactly one end schedules the next */
    int attempt_killed;      /* its handshake deadline passed; its close is awaited */
    int in_connect;          /* inside lws_client_connect_via_info() */
    int fatal;               /* stop: the relay refused our token, or the channel is taken */
    int stopping;            /* a signal asked the agent to stop: closing is not a failure */
    int quiet_end;           /* this attempt's end needs no line (a first 401 is retried) */
    unsigned refused;        /* 401s in a row: the first may be a token added a moment ago */

    /* Where the attempt connects: the relay's name looked up off the loop (tunnel.c). */
    struct hw_resolve *lookup;         /* the attempt's lookup, while it runs */
    lws_sorted_usec_list_t addr_timer; /* polls the lookup, or dials the next address */
    lws_usec_t lookup_step;            /* the next poll's delay */
    struct hw_addrs addrs;             /* the attempt's addresses, in numbers */
    size_t addr_next;                  /* the one it dials now */
    size_t addr_tried;                 /* addresses dialled in this attempt, after the first */
    char addr_first[HW_ADDR_STRLEN];   /* dialled first by the next attempt; "": in order */
    int redial;                        /* that one refused: the next is dialled from addr_timer */

    /* The graceful stop (tunnel.c, agent_tunnel_stopping()). */
    lws_sorted_usec_list_t stop_timer;
    lws_usec_t stop_deadline; /* 0 until a signal started the stop */
    int stop_closing;         /* the forwards are done: the tunnel's close is under way */
    /* Channel claims (claim.c). */
    int was_online;          /* a HELLO arrived once: --takeover is spent */
    int busy_retried;        /* the one retry a 409 HW_CHANNEL_BUSY may ask for was made */
    unsigned retry_after_ms; /* the next attempt's delay as the relay asked; 0: backoff */
    /* Forwarding state (forward.c). */
    struct hw_http_client *http;
    struct hw_http_target *app;
    /* The web inspector (inspect.c) and what it saw (inspect_capture.c); NULL when off. */
    struct agent_inspect *inspect;
    struct agent_capture *capture;
};

#endif
