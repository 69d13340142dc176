#ifndef RELAY_QUEUE_H
#define RELAY_QUEUE_H

/*
 * The offline queue: webhooks for a channel whose agent is away (or whose
 * queue is still draining) are committed to the store and answered 202;
 * when the agent is back they go to it one at a time, in arrival order
 * (store seq), with retries, and each outcome is recorded. Service thread
 * only; the store work runs on the store thread (hw_store_job_async).
 */
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "tunnel/frame.h"

struct relay;
struct relay_agent;
struct relay_queue;
struct hw_http_conn;
struct hw_http_request;
struct hw_mux_stream;
struct relay_queued;

struct relay_queue *relay_queue_new(struct relay *r);

/*
 * Stops the drain before shutdown: timers cancelled, nothing new sent or
 * read; later stream and store callbacks are still accepted. NULL is ignored.
 */
void relay_queue_stop(struct relay_queue *q);

/* Frees q; call after the store is closed and the lws context destroyed. NULL is ignored. */
void relay_queue_free(struct relay_queue *q);

/*
 * Learns which channels hold pending events (synchronously: before the loop
 * runs), so that they queue and drain after a restart. Returns 0 or an
 * HW_E* code from the store.
 */
int relay_queue_start(struct relay_queue *q);

/* 1 when webhooks for channel[0..len) must join its queue (events waiting or draining). */
int relay_queue_busy(struct relay_queue *q, const char *channel, size_t len);

/*
 * Queues the complete request of c for channel[0..len): target is the
 * forwarded target ("/x?y"), headers the forwarded header block without
 * the Hookwire-Event-Id and Hookwire-Attempt lines. Answers 202 with the
 * event id after the commit, 429 HW_QUEUE_FULL past --max-queued, 503 when
 * the store cannot take it.
 */
/* Events waiting in all channels' queues now (committed or being committed). */
uint64_t relay_queue_depth(const struct relay_queue *q);

void relay_queue_accept(struct relay_queue *q, struct hw_http_conn *c, const char *channel,
                        size_t len, const struct hw_http_request *rq, const char *target,
                        size_t target_len, const char *headers, size_t headers_len);

/* c is closing: an accept still committing must not answer it. */
void relay_queue_conn_gone(struct relay_queued *pend);

/*
 * The accept's sender is answered 503 (its commit outlasted
 * --response-timeout): withdrawn from the store if not yet taken, else left
 * to finish unanswered; logged either way. pend is gone afterwards.
 */
void relay_queue_overdue(struct relay_queued *pend);

/*
 * For a webhook queued with cb and arg whose sender is answered 503: withdraws
 * it from store s if no commit has taken it (returns 1: cb never runs), else
 * returns 0 (cb runs when the commit ends). Logs which, with channel and id.
 */
int relay_queue_withdraw_overdue(struct hw_store *s, hw_store_append_cb cb, void *arg,
                                 const char *channel, const char *id);

/*
 * A live webhook of channel starts (delta 1) or ends (-1). The drain reads
 * the store's pending events only while none is live: a live webhook is
 * pending in the store until its outcome is recorded.
 */
void relay_queue_live(struct relay_queue *q, const char *channel, int delta);

/* Event seq of channel was made pending again (replay): deliver it through the queue. */
void relay_queue_replay(struct relay_queue *q, const char *channel, int64_t seq);

/* A webhook already stored for channel (a live one whose tunnel died) joins its queue. */
void relay_queue_adopt(struct relay_queue *q, const char *channel);

/* The agent for channel connected (start draining) or went away (stop). */
void relay_queue_agent_up(struct relay_queue *q, const char *channel, struct relay_agent *a);
void relay_queue_agent_down(struct relay_queue *q, const char *channel, struct relay_agent *a);

/*
 * Stream events for the drain's streams: each returns 1 when s is one of
 * the queue's streams (the event was handled), 0 when it belongs to ingress.
 */
int relay_queue_on_head(struct relay_queue *q, struct hw_mux_stream *s, const struct hw_frame *f);
int relay_queue_on_data(struct relay_queue *q, struct hw_mux_stream *s, const uint8_t *p, size_t n);
int relay_queue_on_end(struct relay_queue *q, struct hw_mux_stream *s);
int relay_queue_on_reset(struct relay_queue *q, struct hw_mux_stream *s, uint16_t code,
                         const char *text, size_t len);

/*
 * Whether the queue's delivery of event id of channel is under way (sent,
 * its answer not yet ended): 1 or 0.
 */
int relay_queue_in_flight(struct relay_queue *q, const char *channel, const char *id);

#endif
