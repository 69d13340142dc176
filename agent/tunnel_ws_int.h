#ifndef AGENT_TUNNEL_WS_INT_H
#define AGENT_TUNNEL_WS_INT_H

/*
 * Internal to the tunnel's transport (tunnel_ws.c, the connection and its
 * reading; tunnel_ws_write.c, its writes): the transport's state and the
 * steps the two files call in each other. Service thread only.
 */
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "tunnel/ws.h"
#include "tunnel_ws.h"

/* WebSocket masks drawn from the random pool at a time. */
#define MASKS 64

enum ws_state { WS_UPGRADE, WS_OPEN, WS_CLOSING };

struct hw_tls;

struct agent_ws {
    struct lws *wsi; /* the current connection; callbacks of others are ignored */
    enum ws_state state;
    struct hw_tls *tls;   /* wss:// only */
    struct hw_buf req;    /* the upgrade request, until it is handed to out */
    struct hw_buf out;    /* bytes for the socket (TLS records for wss://), written in order */
    struct hw_buf answer; /* the relay's answer head so far */
    struct hw_buf msg;    /* a fragmented message being reassembled */
    struct hw_ws_rx rx;
    char accept[32];
    /* One control frame (PONG or CLOSE) waiting for WRITEABLE: it goes before tunnel data. */
    uint8_t ctl[HW_WS_HDR_MAX + HW_WS_CTL_MAX];
    size_t ctl_len;
    uint8_t masks[MASKS * 4];
    unsigned masks_left;
    unsigned silent; /* plain upgrades closed unanswered in a row (kept across attempts) */
    int flush;       /* the mux has frames for agent_ws_flush() at the end of this round */
    int ended;       /* the connection's end was reported: lws's next words on it are not ours */
    /*
     * The same flush from lws's timer phase, which runs before it polls: frames queued by a
     * timer (an HTTP client's end-of-round write reporting bytes sent) would otherwise wait
     * for the next wake-up, which nothing may bring.
     */
    lws_sorted_usec_list_t flush_sul;
    struct agent *agent;
};

/*
 * Queues the control frame op with payload p (n bytes, at most HW_WS_CTL_MAX), masked, for
 * w's next WRITEABLE, where it goes before tunnel data; it takes the place of one still
 * waiting. Borrows p. Service thread only.
 */
void agent_ws_queue_control(struct agent_ws *w, unsigned op, const uint8_t *p, size_t n);

/*
 * w's WRITEABLE callback: one write of queued bytes, else the control frame, else one batch
 * of the mux's frames, re-armed while more waits. Returns 0, or -1 to close the connection
 * (a write failed, or the close frame of a closing tunnel is out). Service thread only.
 */
int agent_ws_on_writeable(struct agent *a, struct agent_ws *w);

#endif
