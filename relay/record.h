#ifndef RELAY_RECORD_H
#define RELAY_RECORD_H

/*
 * History of live passthrough webhooks: a copy of each is held while it is
 * in flight, and after the answer it is written to the store once, finished
 * with the app's status, off the response path (the sender never waits for
 * it). A webhook whose tunnel dies before any answer is appended pending
 * instead, joins the channel's queue, and its sender gets 202 once that is
 * committed. The bytes held (copies in flight and records not yet
 * committed) are bounded by --history-buffer: past it, relay_record_full()
 * tells the ingress to refuse new live webhooks. Service thread only.
 */
#include <stddef.h>

struct relay;
struct relay_live;
struct hw_http_conn;
struct hw_http_request;

/*
 * 1 when the history held has reached --history-buffer: a new live webhook
 * is then refused (429 HW_OVERLOADED, Retry-After) rather than forwarded
 * without a record.
 */
int relay_record_full(const struct relay *r);

/*
 * Starts recording the live webhook of c: id is its Hookwire-Event-Id,
 * target the forwarded target, headers the forwarded header block without
 * the Hookwire-Event-Id and Hookwire-Attempt lines, verify an enum
 * hw_store_verify. Copies what the record needs. Returns the record (owned
 * by the caller until one of the calls below hands it back), or NULL when
 * it cannot be recorded (too large a field, out of memory; the webhook
 * still goes through).
 */
struct relay_live *relay_record_live(struct relay *r, struct hw_http_conn *c, const char *channel,
                                     size_t channel_len, const struct hw_http_request *rq,
                                     const char *target, size_t target_len, const char *headers,
                                     size_t headers_len, const char *id, int verify);

/*
 * The exchange ended: http_status is the app's status (0 when there was
 * none; error then says why). Queues the finished record (delivered for a
 * 2xx without error, else failed and replayable) and hands l back.
 */
void relay_record_outcome(struct relay_live *l, int http_status, const char *error);

/*
 * The tunnel died before any answer: the webhook is appended pending, joins
 * its channel's queue, and c is answered 202 once the append has committed
 * (which clears the exchange's live pointer). Until then the exchange keeps
 * l only to call relay_record_conn_gone(). Returns 0, or an error (l is
 * still the caller's) when the relay does not queue (--offline reject) or
 * the append could not be queued.
 */
int relay_record_requeue(struct relay_live *l, struct hw_http_conn *c);

/*
 * c is closing or its exchange was ended by the server: an exchange still
 * in flight is recorded as failed with error (what ended it, copied; NULL:
 * the sender went away) and the app's status (0 before its answer head);
 * a requeued one stays queued without its 202. Hands l back. NULL is
 * ignored.
 */
void relay_record_conn_gone(struct relay_live *l, int http_status, const char *error);

/* Whether l was requeued (relay_record_requeue()); 0 for NULL. */
int relay_record_requeued(const struct relay_live *l);

/*
 * c's answer is overdue (--response-timeout): as relay_record_conn_gone(),
 * except that a requeued webhook whose 202 was still owed (its sender now
 * gets 503) is withdrawn from the store if no commit has taken it yet, and
 * logged either way. Hands l back. NULL is ignored.
 */
void relay_record_overdue(struct relay_live *l, int http_status, const char *error);

/*
 * The relay stops: history records still waiting to be written again (the
 * store was unavailable) are counted lost, logged in one line, and freed.
 * Call once r->stopping is set (no record is kept for later from then on),
 * before the store closes.
 */
void relay_record_stop(struct relay *r);

#endif
