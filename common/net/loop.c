/*
 * The event loop of the relay, the agent and the receiver: a libuv loop that lws serves on
 * as a foreign loop, run one round at a time by the program's main loop.
 * Owns the uv loop and one timer that bounds a round's wait. Service thread.
 */
#include "loop.h"

#include <stdlib.h>
#include <uv.h>

/* How many non-blocking rounds a context's destruction may take to close its handles. */
#define CLOSE_ROUNDS_MAX 1000

struct hw_loop {
    uv_loop_t uv;
    uv_timer_t wait_max; /* ends a round's wait at its bound; firing is all it does */
    void *foreign[1];
};

struct hw_loop *hw_loop_new(struct lws_context_creation_info *info, struct lws_context **cx)
{
    struct hw_loop *l = calloc(1, sizeof(*l));

    *cx = NULL;
    if (!l)
        return NULL;
    if (uv_loop_init(&l->uv)) {
        free(l);
        return NULL;
    }
    uv_timer_init(&l->uv, &l->wait_max);
    /* An armed bound alone does not keep the loop alive. */
    uv_unref((uv_handle_t *)&l->wait_max);
    l->foreign[0] = &l->uv;
    info->options |= LWS_SERVER_OPTION_LIBUV;
    info->foreign_loops = l->foreign;
    *cx = lws_create_context(info);
    if (!*cx) {
        hw_loop_free(l, NULL);
        return NULL;
    }
    return l;
}

static void wait_max_fired(uv_timer_t *t)
{
    (void)t;
}

int hw_loop_run(struct hw_loop *l, lws_usec_t wait_max_us)
{
    int alive;

    if (wait_max_us > 0)
        uv_timer_start(&l->wait_max, wait_max_fired, (uint64_t)(wait_max_us + 999) / 1000, 0);
    alive = uv_run(&l->uv, UV_RUN_ONCE);
    if (wait_max_us > 0)
        uv_timer_stop(&l->wait_max);
    return alive ? 0 : -1;
}

void hw_loop_kick(struct lws_context *cx)
{
    /* The event pipe's wake-up runs lws's idle step, which arms its timer from the list. */
    lws_cancel_service(cx);
}

void hw_loop_free(struct hw_loop *l, struct lws_context *cx)
{
    int n;

    if (!l)
        return;
    if (cx) {
        /* lws closes each connection's handle through the loop, then finishes on a second call. */
        lws_context_destroy(cx);
        for (n = 0; n < CLOSE_ROUNDS_MAX && uv_run(&l->uv, UV_RUN_NOWAIT); n++)
            ;
        lws_context_destroy(cx);
    }
    uv_close((uv_handle_t *)&l->wait_max, NULL);
    for (n = 0; n < CLOSE_ROUNDS_MAX && uv_run(&l->uv, UV_RUN_NOWAIT); n++)
        ;
    if (uv_loop_close(&l->uv))
        lwsl_warn("event loop: handles still open at exit\n");
    free(l);
}
