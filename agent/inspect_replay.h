#ifndef AGENT_INSPECT_REPLAY_H
#define AGENT_INSPECT_REPLAY_H

/*
 * Edited replays: a webhook's request line with header lines and a body
 * the developer edited, checked as one HTTP/1.1 request and sent to the
 * app on the forwarder's own target (its connections, deadlines and
 * pool), recorded in the capture ring as an "edited" exchange. Service
 * thread only.
 */
#include <stddef.h>
#include <stdint.h>

struct agent;
struct agent_edit;

/* The app answered (status) or the request failed (status 0, error says why). */
typedef void (*agent_edit_done_fn)(void *user, uint64_t seq, int status, const char *error);

/* The most a replay's answer wait lasts. */
#define AGENT_EDIT_TIMEOUT_MS 30000

/*
 * Sends event id's request again with method and target (the original's),
 * headers ("Name: value" lines ending in \n or \r\n; framing and
 * hop-by-hop lines are replaced by the agent's own Content-Length) and
 * body. done(user, ...) is called once, later, unless
 * agent_replay_edited_forget() ran first; *handle names the replay for
 * that. Returns 0, HW_EINVAL when the edited head is not one valid request
 * (*why says why; done is not called), HW_EFULL or HW_ENOMEM.
 */
int agent_replay_edited(struct agent *a, const char *id, const char *method, size_t method_len,
                        const char *target, size_t target_len, const char *headers,
                        size_t headers_len, const char *body, size_t body_len,
                        agent_edit_done_fn done, void *user, struct agent_edit **handle,
                        const char **why);

/* The caller no longer wants done(): the replay itself goes on and is recorded. */
void agent_replay_edited_forget(struct agent_edit *e);

#endif
