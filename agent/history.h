#ifndef AGENT_HISTORY_H
#define AGENT_HISTORY_H

/*
 * The developer's history commands: `events [--limit N] [--status S]`,
 * `show ID [--body]` and `replay ID`, each one HTTP call to the relay's
 * history API on its tunnel port (http for ws://, TLS for wss://),
 * authorised by the agent's token. Main thread; runs before (instead of)
 * the event loop, so it waits in poll() within each call's deadline.
 */
#include <stdint.h>

#include "core/err.h"

struct agent;
struct hw_buf;

/* How long one call may take, connect to the answer's last byte. */
#define AGENT_HISTORY_TIMEOUT_S 30
/* agent_history_call(): the relay's host name did not resolve: no answer by the deadline, or a
 * failure of the name service (not a name that does not exist: HW_ENOTFOUND). */
#define AGENT_HISTORY_UNRESOLVED HW_EUNAVAIL

/*
 * Runs the command argv[0..argc) for a's relay and token. Returns the exit
 * status: 0, 1 (the relay refused or failed: one line on stderr), 2 (usage).
 */
int agent_history_command(struct agent *a, int argc, char **argv);

/*
 * One call to the relay's API: method and path (borrowed), with a's relay
 * URL, token and TLS settings (read only, so any thread may call it). It
 * blocks until deadline_ms (hw_mono_ms(): connect, TLS, request and answer
 * in all), or until cancel_fd (-1: none) is readable. The answer's status
 * goes in *status and its body is appended to body (capped by body's own
 * limit). Returns 0, HW_ENOTFOUND (no such host name), AGENT_HISTORY_UNRESOLVED
 * (its lookup took past the deadline, or failed), -errno of the connect,
 * -ETIMEDOUT (out of time), -ECANCELED, HW_EAUTH (TLS failed), HW_EIO (cut
 * short), HW_EPROTO (not an HTTP answer) or the buffer's error.
 */
int agent_history_call(struct agent *a, const char *method, const char *path, int64_t deadline_ms,
                       int cancel_fd, int *status, struct hw_buf *body);

#endif
