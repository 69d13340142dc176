#ifndef HW_LOOP_H
#define HW_LOOP_H

/*
 * The event loop of the relay and the agent: lws served on a libuv loop
 * (lws's own libuv event library, a foreign loop this module owns), so the
 * kernel keeps the set of watched sockets (epoll) instead of poll() walking
 * every descriptor on each wake-up. The program still runs one service
 * round at a time and does its end-of-round work between rounds.
 * Service thread only.
 */
#include <libwebsockets.h>

struct hw_loop;

/*
 * Creates the loop and points info at it (LWS_SERVER_OPTION_LIBUV and
 * foreign_loops): call lws_create_context(info) before anything else uses
 * info. Returns the loop (owned; hw_loop_free), or NULL when out of memory
 * or libuv failed.
 */
struct hw_loop *hw_loop_new(struct lws_context_creation_info *info);

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
 * Destroys cx (may be NULL) on the loop, letting the loop run until every
 * connection lws had is closed, then frees the loop. l may be NULL.
 */
void hw_loop_free(struct hw_loop *l, struct lws_context *cx);

#endif
