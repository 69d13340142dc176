/*
 * A server connection's answers: the calls a program answers with (whole,
 * error, streamed), and the writes that carry them out, at the end of the
 * service round or at WRITEABLE, handing streamed credit back and ending
 * the exchange once every byte left. State in struct hw_http_conn
 * (http_conn_int.h). Service thread only.
 */
#include "core/err.h"
#include "core/log.h"
#include "http/limits.h"
#include "http_conn_int.h"

static void flush_cb(lws_sorted_usec_list_t *sul);

/*
 * Output is queued. A plain socket gets it at the end of this service round
 * (flush_cb(): lws runs timers that are due before it polls again), which
 * saves the poll round trip that WRITEABLE costs; a TLS connection, or one
 * whose socket was full, waits for WRITEABLE (docs/decisions.md).
 */
void hw_http_conn_want_write(struct hw_http_conn *c)
{
    if (c->flush_armed)
        return;
    if (c->blocked || lws_is_ssl(c->wsi)) {
        lws_callback_on_writable(c->wsi);
        return;
    }
    c->flush_armed = 1;
    lws_sul_schedule(lws_get_context(c->wsi), 0, &c->flush, flush_cb, 0);
}

int hw_http_conn_respond(struct hw_http_conn *c, int status, const char *reason,
                         const char *headers, size_t headers_len, const void *body, size_t body_len)
{
    if (c->killed || c->state == ST_RESPONSE)
        return HW_EINVAL;
    c->program_holds = 0;
    if (hw_http_answer_whole(&c->ans, hw_http_conn_head(c), hw_http_conn_keeps_alive(c), status,
                             reason, headers, headers_len, body, body_len)) {
        hw_http_conn_kill(c, "out of memory for the answer");
        return HW_ENOMEM;
    }
    hw_http_conn_answering(c);
    return 0;
}

int hw_http_conn_error(struct hw_http_conn *c, enum hw_errc e, const char *extra)
{
    if (c->killed || c->state == ST_RESPONSE)
        return HW_EINVAL;
    c->program_holds = 0;
    hw_http_conn_answer_error(c, e, extra);
    return 0;
}

int hw_http_conn_stream_begin(struct hw_http_conn *c, const struct hw_http_answer_head *h,
                              const char **why)
{
    int err;

    if (c->killed || c->state != ST_WAIT || !c->program_holds)
        return HW_EINVAL;
    err = hw_http_answer_begin(&c->ans, &c->rd.req, hw_http_conn_keeps_alive(c), h, why);
    if (err)
        return err == HW_EPROTO ? HW_EPROTO : HW_ENOMEM;
    hw_http_conn_answering(c);
    return 0;
}

/* A streamed answer broke its framing: the valid part goes out, then the close. */
static int cut(struct hw_http_conn *c, const char *why)
{
    HW_WARN("conn=%s%s%s %s: closing", c->peer, c->log_id ? " evt=" : "",
            c->log_id ? c->log_id : "", why);
    hw_http_conn_take_back(c, why);
    hw_http_conn_want_write(c);
    return HW_EPROTO;
}

int hw_http_conn_stream_data(struct hw_http_conn *c, const void *p, size_t n)
{
    int err;

    if (c->killed || c->state != ST_RESPONSE || !c->program_holds)
        return HW_EINVAL;
    err = hw_http_answer_data(&c->ans, p, n);
    if (err == HW_EPROTO)
        return cut(c, "the answer had more body than announced");
    if (err) {
        hw_http_conn_kill(c, "out of memory for the answer");
        return HW_ENOMEM;
    }
    if (hw_http_answer_backlog(&c->ans) < HW_OUT_LOW) {
        if (c->cb->on_drain)
            c->cb->on_drain(c, n);
    } else {
        c->credit_owed += n;
    }
    hw_http_conn_want_write(c);
    return 0;
}

int hw_http_conn_stream_end(struct hw_http_conn *c)
{
    int err;

    if (c->killed || c->state != ST_RESPONSE || !c->program_holds)
        return HW_EINVAL;
    err = hw_http_answer_end(&c->ans);
    if (err == HW_EPROTO)
        return cut(c, "the answer ended before its Content-Length");
    if (err) {
        hw_http_conn_kill(c, "out of memory for the answer");
        return HW_ENOMEM;
    }
    c->program_holds = 0;
    c->credit_owed = 0;
    hw_http_conn_want_write(c);
    return 0;
}

void hw_http_conn_stream_abort(struct hw_http_conn *c, enum hw_errc e, const char *why)
{
    if (c->killed || !c->program_holds)
        return; /* the server ended the exchange already */
    c->program_holds = 0;
    c->credit_owed = 0;
    if (c->state != ST_RESPONSE) {
        hw_http_conn_answer_error(c, e, NULL);
        return;
    }
    if (!hw_http_answer_retract(&c->ans)) {
        /* Part of the answer is out already: all that is left is to cut it short. */
        HW_WARN("conn=%s%s%s %s midway: closing", c->peer, c->log_id ? " evt=" : "",
                c->log_id ? c->log_id : "", why);
        hw_http_conn_kill(c, why);
        return;
    }
    c->keep_alive = 0;
    c->state = ST_WAIT; /* nothing of the answer went out: replace it */
    hw_http_conn_answer_error(c, e, NULL);
}

/*
 * After a write: hands the producer back its credit, and ends the exchange
 * once every byte of the answer has left. in_callback: called from
 * WRITEABLE, which may close the connection by its return value; from the
 * end of a round a close is left to WRITEABLE. Returns as a WRITEABLE
 * callback does.
 */
static int written(struct hw_http_conn *c, int in_callback)
{
    if (c->credit_owed && hw_http_answer_backlog(&c->ans) < HW_OUT_LOW) {
        size_t n = c->credit_owed;

        c->credit_owed = 0;
        if (c->cb->on_drain)
            c->cb->on_drain(c, n);
    }
    /* Done once lws has passed on every byte: until then the stall timer runs. */
    if (c->killed || c->state != ST_RESPONSE || !hw_http_answer_finished(&c->ans) ||
        c->ans.inflight)
        return 0;
    if (c->ans.close_after || !c->keep_alive) {
        if (in_callback)
            return lws_raw_transaction_completed(c->wsi);
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    /* The kernel may still hold the answer for a peer that does not read: keep watching. */
    hw_http_answer_unacked_start(&c->ans, c->wsi);
    hw_http_conn_next_exchange(c);
    return 0;
}

int hw_http_conn_writeable(struct hw_http_conn *c)
{
    if (c->killed)
        return -1;
    if (hw_http_answer_write(&c->ans, c->wsi))
        return -1;
    c->blocked = hw_http_answer_backlog(&c->ans) || c->ans.inflight;
    return written(c, 1);
}

/*
 * The end-of-round write: outside every lws callback, so never inside this
 * connection's callback chain. Sends what the socket takes now (nothing when
 * lws holds bytes written earlier); the rest waits for WRITEABLE.
 */
static void flush_cb(lws_sorted_usec_list_t *sul)
{
    struct hw_http_conn *c = lws_container_of(sul, struct hw_http_conn, flush);

    c->flush_armed = 0;
    if (c->killed)
        return;
    (void)hw_http_answer_send(&c->ans, c->wsi);
    if (hw_http_answer_backlog(&c->ans) || c->ans.inflight || lws_partial_buffered(c->wsi)) {
        c->blocked = 1;
        lws_callback_on_writable(c->wsi);
    }
    (void)written(c, 0);
}
