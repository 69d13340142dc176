/*
 * A server connection's one timer: when each state's limit falls due (head
 * deadline, idle, body stall and rate floor, answer wait and stall), what
 * passing it does, the watch on a finished answer's bytes the peer has not
 * taken, and the program's answer deadline moved later. Armed at each state
 * change in http_conn.c, which cancels it at the close. Service thread only.
 */
#include "core/log.h"
#include "http_conn_int.h"

void hw_http_conn_wait_at_least(struct hw_http_conn *c, unsigned ms)
{
    lws_usec_t due = lws_now_usecs() + (lws_usec_t)ms * 1000;

    if (c->state != ST_WAIT || c->wait_due >= due)
        return;
    c->wait_due = due;
    hw_http_conn_arm_timer(c);
}

/* When the current state's limit falls due. */
static lws_usec_t state_due(const struct hw_http_conn *c)
{
    const struct hw_http_server_config *cfg = c->cfg;

    switch (c->state) {
    case ST_HEAD:
        return c->pace.start +
               (lws_usec_t)(c->idle ? cfg->idle_timeout_ms : cfg->head_timeout_ms) * 1000;
    case ST_BODY:
        return hw_http_pace_moved(&c->pace) + (lws_usec_t)cfg->body_stall_ms * 1000;
    case ST_WAIT:
        return c->wait_due;
    default:
        return c->ans.progress_at + (lws_usec_t)cfg->answer_stall_ms * 1000;
    }
}

/*
 * The one timer. Due at the state's limit, and sooner while a finished
 * answer's bytes wait in the kernel for a peer that may never read them.
 */
static void timer_cb(lws_sorted_usec_list_t *sul)
{
    struct hw_http_conn *c = lws_container_of(sul, struct hw_http_conn, timer);
    const struct hw_http_server_config *cfg = c->cfg;
    lws_usec_t now = lws_now_usecs();

    c->timer_at = 0;

    if (hw_http_answer_unacked_check(&c->ans, c->wsi, (lws_usec_t)cfg->answer_stall_ms * 1000)) {
        HW_WARN("conn=%s the peer stopped reading the answer: closing", c->peer);
        hw_http_conn_kill(c, "the peer stopped reading");
        return;
    }
    if (c->state == ST_BODY) {
        if (hw_http_pace_body_too_slow(&c->pace, now, (lws_usec_t)cfg->body_stall_ms * 1000,
                                       cfg->body_min_rate))
            hw_http_conn_answer_error(c, HW_ERRC_REQUEST_TIMEOUT, NULL);
        else
            hw_http_conn_arm_timer(c);
        return;
    }
    if (now < state_due(c) ||
        (c->state == ST_RESPONSE && hw_http_answer_finished(&c->ans) && !c->ans.inflight)) {
        hw_http_conn_arm_timer(c);
        return;
    }
    switch (c->state) {
    case ST_HEAD:
        if (c->idle || !hw_http_reader_pending(&c->rd))
            hw_http_conn_kill(c, c->idle ? "idle" : "no request in time");
        else
            hw_http_conn_answer_error(c, HW_ERRC_REQUEST_TIMEOUT, NULL);
        return;
    case ST_WAIT:
        hw_http_conn_take_back(c, "no answer in time");
        hw_http_conn_answer_error(c, c->timeout_errc, c->timeout_extra);
        return;
    default:
        /* Bytes waiting for the socket: the peer stopped reading; none: nothing came to send. */
        if (hw_buf_size(&c->ans.out) || c->ans.inflight) {
            HW_WARN("conn=%s%s%s the peer stopped reading the answer: closing", c->peer,
                    c->log_id ? " evt=" : "", c->log_id ? c->log_id : "");
            hw_http_conn_kill(c, "the peer stopped reading");
        } else {
            HW_WARN("conn=%s%s%s the answer stalled (nothing more came to send): closing", c->peer,
                    c->log_id ? " evt=" : "", c->log_id ? c->log_id : "");
            hw_http_conn_kill(c, "the answer stalled");
        }
        return;
    }
}

void hw_http_conn_arm_timer(struct hw_http_conn *c)
{
    const struct hw_http_server_config *cfg = c->cfg;
    lws_usec_t now = lws_now_usecs(), stall = (lws_usec_t)cfg->answer_stall_ms * 1000;
    lws_usec_t at = state_due(c);

    /* A body is looked at once a stall period at least: the rate floor is checked each time. */
    if (c->state == ST_BODY && at <= now)
        at = now + (lws_usec_t)cfg->body_stall_ms * 1000;
    if (c->state == ST_RESPONSE && hw_http_answer_finished(&c->ans) && !c->ans.inflight)
        at = now + stall; /* closing after the answer: lws does it; the watch below may not */
    /* Sampled four times a period, so a queue that stopped shrinking is seen in time. */
    if (c->ans.unacked && now + stall / 4 < at)
        at = now + stall / 4;
    if (at <= now)
        at = now + 1000;
    /*
     * Already armed to fire no later: leave it. Every check in timer_cb() compares times, so
     * an early firing finds nothing due and re-arms; this saves a sorted insert into lws's
     * timer list (which grows with the connections) on every step of every exchange.
     */
    if (c->timer_at && c->timer_at <= at)
        return;
    c->timer_at = at;
    lws_sul_schedule(lws_get_context(c->wsi), 0, &c->timer, timer_cb, at - now);
}
