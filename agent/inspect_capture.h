#ifndef AGENT_INSPECT_CAPTURE_H
#define AGENT_INSPECT_CAPTURE_H

/*
 * What the inspector saw: each exchange the agent had with the app (a
 * webhook from the tunnel, or an edited replay), kept in memory in a
 * bounded ring with its request head and body as the app got them and the
 * app's answer, each cut to its cap. Exchanges are named by a sequence
 * number, so a finished or evicted one is simply not found. Service thread
 * only.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct agent_capture;

#define AGENT_CAPTURE_MAX      200                 /* exchanges kept */
#define AGENT_CAPTURE_BODY_MAX (1024u * 1024)      /* request body bytes kept per exchange */
#define AGENT_CAPTURE_ANSWER   (256u * 1024)       /* answer body bytes kept per exchange */
#define AGENT_CAPTURE_BUDGET   (16u * 1024 * 1024) /* body bytes kept in all */

/* Called when an exchange starts or ends; row is its summary as JSON (borrowed). */
typedef void (*agent_capture_fn)(void *user, const char *row, size_t len);

/* Returns an empty ring, or NULL when out of memory. */
struct agent_capture *agent_capture_new(agent_capture_fn changed, void *user);
void agent_capture_free(struct agent_capture *cp);

/*
 * Whether anyone listens (an open event stream): changed is called only then, so a
 * busy agent with no inspector page open formats no rows. Starts unwatched.
 */
void agent_capture_watch(struct agent_capture *cp, int watched);

/*
 * The tunnel is up (again), serving public_url (borrowed, len bytes): a
 * webhook whose id is older than this moment waited in the relay's queue.
 * NULL cp is ignored.
 */
void agent_capture_tunnel_up(struct agent_capture *cp, const char *public_url, size_t len);

/* The channel's public URL from the last tunnel-up, or "" (borrowed). */
const char *agent_capture_public_url(const struct agent_capture *cp);

/*
 * Starts an exchange with event id (borrowed; may be empty), kind NULL for
 * a webhook from the tunnel (then "replayed" past attempt 1, "queued" when
 * its id is older than the tunnel or than QUEUED_AGE_MS, else "live") or
 * "edited", and head, the request head exactly
 * as the app gets it. Returns its sequence number, or 0 when cp is NULL or
 * memory is short (then nothing is kept; the calls below ignore 0).
 */
uint64_t agent_capture_begin(struct agent_capture *cp, const char *id, size_t id_len,
                             const char *kind, const char *head, size_t head_len);

/* Request body bytes as they go to the app (kept up to the cap, all counted). */
void agent_capture_body(struct agent_capture *cp, uint64_t seq, const void *p, size_t n);

/* The app's answer head (raw bytes through the blank line) and status. */
void agent_capture_answer(struct agent_capture *cp, uint64_t seq, int status, const char *raw,
                          size_t raw_len);

/* Answer body bytes (kept up to the cap, all counted). */
void agent_capture_answer_body(struct agent_capture *cp, uint64_t seq, const void *p, size_t n);

/* The exchange ended: error NULL when the answer came whole, else why it failed. */
void agent_capture_end(struct agent_capture *cp, uint64_t seq, const char *error);

/* Appends {"captures":[row...]} (newest first) to out. Returns 0 or the buffer's error. */
HW_MUST_CHECK int agent_capture_json_list(const struct agent_capture *cp, struct hw_buf *out);

/*
 * Appends the exchanges of event id as a JSON array of full records (head,
 * body, answer), newest first, to out; *found is how many. Returns 0 or the
 * buffer's error.
 */
HW_MUST_CHECK int agent_capture_json_event(const struct agent_capture *cp, const char *id,
                                           struct hw_buf *out, int *found);

/*
 * The newest exchange of event id: its request head and body (borrowed,
 * valid until the ring changes). Returns 0, or HW_ENOTFOUND (also when its
 * body was cut or evicted: it cannot be replayed from here).
 */
int agent_capture_request(const struct agent_capture *cp, const char *id, const char **head,
                          size_t *head_len, const char **body, size_t *body_len);

#endif
