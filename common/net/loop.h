#ifndef HW_LOOP_H
#define HW_LOOP_H

/*
 * The event loop of the relay, the agent and the receiver: lws served on a libuv loop
 * (lws's own libuv event library, a foreign loop this module owns), so the
 * kernel keeps the set of watched sockets (epoll) instead of poll() walking
 * every descriptor on each wake-up. The program still runs one service
 * round at a time and does its end-of-round work between rounds.
 * Service thread only.
 */
#include <libwebsockets.h>

struct hw_loop;

/*
 * Creates the loop and the lws context of info on it (info gains
 * LWS_SERVER_OPTION_LIBUV and its foreign_loops) and sets *cx to that
 * context. Returns the loop (owned, with *cx: hw_loop_free), or NULL with
 * *cx NULL when out of memory, libuv failed or lws refused info.
 */
struct hw_loop *hw_loop_new(struct lws_context_creation_info *info, struct lws_context **cx);

/*
 * One service round: waits until a socket, an lws timer or
 * lws_cancel_service() has work, or at most wait_max_us when that is
 * positive, then serves what is ready. Returns 0, or -1 when the loop has
 * nothing left to wait for (its context was destroyed).
 */
int hw_loop_run(struct hw_loop *l, lws_usec_t wait_max_us);

/*
 * Makes the next hw_loop_run() take up lws timers scheduled outside lws's
 * callbacks (lws arms its wake-up only from its own callbacks): call it after
 * lws_sul_schedule() from the main loop's own code. Safe from any thread.
 */
void hw_loop_kick(struct lws_context *cx);

/*
 * Destroys cx, the context hw_loop_new() made, letting the loop run until
 * every connection lws had is closed, then frees the loop. l may be NULL.
 */
void hw_loop_free(struct hw_loop *l, struct lws_context *cx);

#endif
