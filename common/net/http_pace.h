#ifndef HW_HTTP_PACE_H
#define HW_HTTP_PACE_H

/*
 * Inside net/: how fast each server connection's request arrives, and the
 * server-wide view the limits need: the connections reading a head or body
 * in the order their reading began, and the body bytes they hold. It picks
 * which stalled reader to shed; the server closes it. Service thread only.
 */
#include <stddef.h>
#include <stdint.h>

/* One connection's reading phase (idle, head or body). */
struct hw_http_pace {
    struct hw_http_pace *prev, *next; /* in the readers list while reading */
    int64_t start;                    /* when the phase began, in microseconds */
    int64_t last_rx;                  /* when bytes last arrived */
    uint64_t bytes;                   /* body bytes received in this phase */
    size_t held;                      /* body bytes counted against the budget */
    unsigned listed : 1, in_head : 1;
};

/* A list of phases, oldest first. */
struct hw_http_pace_list {
    struct hw_http_pace *oldest, *newest;
};

/*
 * Every reading connection: those in a head (or idle before one) and those
 * in a body apart, each oldest first, so the body readers that hold bytes
 * are found however many heads are open; and the held bytes in all.
 */
struct hw_http_readers {
    struct hw_http_pace_list heads, bodies;
    uint64_t held;
};

/* Starts a reading phase at now (in_head: a head or the idle time before one). */
void hw_http_pace_begin(struct hw_http_readers *rs, struct hw_http_pace *p, int64_t now,
                        int in_head);

/* Ends the reading phase (the request is complete, answered, or the connection closes). */
void hw_http_pace_end(struct hw_http_readers *rs, struct hw_http_pace *p);

/* Bytes arrived at now. */
static inline void hw_http_pace_rx(struct hw_http_pace *p, int64_t now)
{
    p->last_rx = now;
}

/* Body bytes were added to the request: they count against the budget. */
void hw_http_pace_hold(struct hw_http_readers *rs, struct hw_http_pace *p, size_t n);

/* The request's body bytes are no longer held. */
void hw_http_pace_release(struct hw_http_readers *rs, struct hw_http_pace *p);

/* When the phase last moved: its start, or the last bytes since. */
static inline int64_t hw_http_pace_moved(const struct hw_http_pace *p)
{
    return p->last_rx > p->start ? p->last_rx : p->start;
}

/*
 * Whether a body is too slow at now: silent for stall_us, or, once stall_us
 * have passed since it began, averaging under min_rate bytes per second.
 */
int hw_http_pace_body_too_slow(const struct hw_http_pace *p, int64_t now, int64_t stall_us,
                               unsigned min_rate);

/*
 * The reader to shed to make room, among the oldest few of each list: one
 * silent for quiet_us, or whose head has taken four times that (a head is
 * small: one still trickling in is slow); of a head and a body that both
 * qualify, the one quiet longer. holding: only body readers that hold
 * bytes. Never self. Returns NULL when none qualifies.
 */
struct hw_http_pace *hw_http_pace_pick(const struct hw_http_readers *rs,
                                       const struct hw_http_pace *self, int holding, int64_t now,
                                       int64_t quiet_us);

#endif
