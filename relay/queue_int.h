#ifndef RELAY_QUEUE_INT_H
#define RELAY_QUEUE_INT_H

/*
 * Internal to the offline queue (queue.c and queue_drain.c): the queue and
 * its per-channel state, and the drain's steps that queue.c calls. Service
 * thread only.
 */
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "queue.h"
#include "store/store.h"

struct qchan {
    char name[HW_STORE_NAME_MAX + 1];
    struct relay_queue *q;
    uint64_t appending; /* accepts whose commit is in flight */
    uint64_t stored;    /* committed and not finished, as far as known */
    uint64_t live;      /* live webhooks in flight: pending in the store, not the drain's */
    struct relay_agent *agent;
    int reading;    /* a read job is in flight */
    int probing;    /* a rescan job is in flight (rescan_cb()) */
    int unsure;     /* a rescan found pending events stored does not count: read until none */
    uint64_t sent;  /* events sent so far: a rescan that saw the queue move is dropped */
    unsigned gen;   /* raised when the agent goes: late reads are dropped */
    int64_t cursor; /* seq of the last event finished (or given up for now) */
    struct hw_store_events batch;
    size_t next; /* batch index of the event in flight or next */
    struct hw_mux_stream *stream;
    int status;         /* the app's status for the event in flight, 0 before */
    uint64_t announced; /* its answer's body length (HW_BODY_LEN_UNKNOWN when not said) */
    uint64_t got;       /* body bytes of that answer so far */
    int64_t sent_ms;
    struct hw_buf excerpt;
    lws_sorted_usec_list_t retry;
    int waiting;                     /* the retry timer runs */
    lws_sorted_usec_list_t deadline; /* the app's answer to the event in flight is due */
    struct qchan *nextc;
};

struct relay_queue {
    struct relay *r;
    struct qchan *chans;
    int stopping; /* shutting down: nothing new is sent, read or scheduled */
    lws_sorted_usec_list_t rescan;
    int rescan_armed; /* the rescan timer runs */
};

/* queue_drain.c */
/* Moves the drain of qc on: send the next event, read more, or rest. */
void relay_queue_drain(struct qchan *qc);
/* Starts the timer of the rescan for pending events requeued outside the relay. */
void relay_queue_rescan_arm(struct relay_queue *q);

#endif
