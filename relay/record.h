#ifndef RELAY_RECORD_H
#define RELAY_RECORD_H

/*
 * History of live passthrough webhooks: each is appended to the store off
 * the response path (the sender never waits for it), and its outcome (the
 * app's status) is recorded after the answer. A webhook whose tunnel dies
 * before any answer is already stored, so it joins the channel's queue and
 * its sender gets 202 instead of an error. Service thread only.
 */
#include <stddef.h>

struct relay;
struct relay_live;
struct hw_http_conn;
struct hw_http_request;

/*
 * Starts recording the live webhook of c: id is its Hookwire-Event-Id,
 * target the forwarded target, headers the forwarded header block without
 * the Hookwire-Event-Id and Hookwire-Attempt lines, verify an enum
 * hw_store_verify. Returns the record (owned by the caller until one of the
 * calls below hands it back), or NULL when it cannot be recorded (logged;
 * the webhook still goes through).
 */
struct relay_live *relay_record_live(struct relay *r, struct hw_http_conn *c, const char *channel,
                                     size_t channel_len, const struct hw_http_request *rq,
                                     const char *target, size_t target_len, const char *headers,
                                     size_t headers_len, const char *id, int verify);

/*
 * The exchange ended: http_status is the app's status (0 when there was
 * none; error then says why). Records the attempt and hands l back.
 */
void relay_record_outcome(struct relay_live *l, int http_status, const char *error);

/*
 * The tunnel died before any answer: the webhook joins its channel's queue
 * and c is answered 202 once its append has committed (which clears the
 * exchange's live pointer). Until then the exchange keeps l only to call
 * relay_record_conn_gone(). Returns 0, or an error (l is still the
 * caller's) when the relay does not queue (--offline reject) or the append
 * failed.
 */
int relay_record_requeue(struct relay_live *l, struct hw_http_conn *c);

/*
 * c is closing or its exchange was ended by the server: an exchange still
 * in flight is recorded as failed; a requeued one stays queued without its
 * 202. Hands l back. NULL is ignored.
 */
void relay_record_conn_gone(struct relay_live *l);

#endif
