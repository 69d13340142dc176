#ifndef HW_MUX_INT_H
#define HW_MUX_INT_H

/*
 * Internal to the stream multiplexer (mux.c, the stream table, the streams' life and the
 * incoming side; mux_send.c, the outgoing side): the mux's and a stream's structures and the
 * steps the two files call in each other. Event-loop thread only.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "mux.h"

#define MUX_BUCKETS 256

struct hw_mux_stream {
    struct hw_mux *mux;
    uint32_t id;
    void *user;
    struct hw_buf head;  /* encoded head message, not yet pulled */
    struct hw_buf body;  /* body bytes not yet sent */
    int64_t credit;      /* DATA bytes the peer still accepts */
    int64_t recv_window; /* DATA bytes the peer may still send us */
    uint32_t consumed;   /* bytes consumed since the last WINDOW we sent */
    unsigned end_queued : 1, end_sent : 1, in_end : 1, ready : 1, drain_wanted : 1;
    unsigned closing : 1; /* closed by the program; freed once END is sent */
    unsigned head_in : 1; /* the peer's head (REQUEST or RESPONSE) has arrived */
    struct hw_mux_stream *hnext;
    struct hw_mux_stream *rnext, *rprev;
};

struct hw_mux {
    enum hw_mux_role role;
    struct hw_mux_callbacks cb;
    size_t headroom;
    size_t body_cap;
    void *user;
    struct hw_mux_stream *buckets[MUX_BUCKETS];
    size_t nstreams;
    uint32_t last_id; /* highest stream id opened (relay) or seen (agent) */
    struct hw_buf ctrl;
    struct hw_buf stage;
    struct hw_mux_stream *rhead, *rtail;
    int pulling;                 /* inside hw_mux_pull(): its caller re-checks hw_mux_pending() */
    int hello_seen;              /* the agent's: a HELLO of this version arrived */
    const char *why;             /* the rule the peer broke (static), or NULL */
    struct hw_mux_stream *spare; /* freed streams, linked by hnext, with their small buffers */
    size_t nspare;
};

/* Takes a stream out of the ring of streams with something to send, if it is there. */
static inline void hw_mux_ready_remove(struct hw_mux_stream *s)
{
    struct hw_mux *m = s->mux;

    if (!s->ready)
        return;
    if (s->rprev)
        s->rprev->rnext = s->rnext;
    else
        m->rhead = s->rnext;
    if (s->rnext)
        s->rnext->rprev = s->rprev;
    else
        m->rtail = s->rprev;
    s->rnext = s->rprev = NULL;
    s->ready = 0;
}

/*
 * Puts a stream with something to send at the back of the ring, or takes it out (mux_send.c).
 * Asks for a WRITEABLE (want_write) unless inside hw_mux_pull().
 */
void hw_mux_update_ready(struct hw_mux_stream *s);

/*
 * Takes a stream out of the table and the ring and frees it, or keeps it for reuse while fewer
 * than SPARE_MAX are kept (mux.c). No callback: the program is not told.
 */
void hw_mux_stream_free(struct hw_mux_stream *s);

#endif
