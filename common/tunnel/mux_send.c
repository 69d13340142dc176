/*
 * The mux's outgoing side: the control queue (encoded messages sent before any stream data),
 * the ring of streams with something sendable, the staging buffer each pulled message is built
 * in, and flow control: a sender may have at most its credit of DATA bytes unacknowledged; the
 * receiver returns credit with WINDOW once the bytes are consumed. Event-loop thread only.
 */
#include "mux.h"

#include <string.h>

#include "core/err.h"
#include "mux_int.h"

#define WINDOW_BATCH (HW_WINDOW_INITIAL / 4)

static int sendable(const struct hw_mux_stream *s)
{
    if (hw_buf_size(&s->head))
        return 1;
    if (hw_buf_size(&s->body))
        return s->credit > 0;
    return s->end_queued && !s->end_sent;
}

/* Puts a stream with something to send at the back of the ring, or takes it out. */
void hw_mux_update_ready(struct hw_mux_stream *s)
{
    struct hw_mux *m = s->mux;

    if (!sendable(s)) {
        hw_mux_ready_remove(s);
        return;
    }
    if (s->ready)
        return;
    s->rprev = m->rtail;
    s->rnext = NULL;
    if (m->rtail)
        m->rtail->rnext = s;
    else
        m->rhead = s;
    m->rtail = s;
    s->ready = 1;
    /* A stream re-queued by hw_mux_pull() needs no new WRITEABLE: the writer is already
     * running and asks for one itself when hw_mux_pending() says so. */
    if (!m->pulling)
        m->cb.want_write(m);
}

static void ctrl_queued(struct hw_mux *m, int err)
{
    if (!err)
        m->cb.want_write(m);
}

int hw_mux_send_control(struct hw_mux *m, uint8_t type, const void *p, size_t len)
{
    int err = hw_frame_encode_control(&m->ctrl, type, p, len);

    ctrl_queued(m, err);
    return err;
}

int hw_mux_send_hello(struct hw_mux *m, const struct hw_msg_hello *h)
{
    int err = hw_frame_encode_hello(&m->ctrl, h);

    ctrl_queued(m, err);
    return err;
}

int hw_mux_pending(const struct hw_mux *m)
{
    return hw_buf_size(&m->ctrl) || m->rhead;
}

/* Resets the staging buffer to just its headroom. 0, or -1 when out of memory. */
static int stage_begin(struct hw_mux *m)
{
    hw_buf_reset(&m->stage);
    if (!hw_buf_reserve(&m->stage, m->headroom + HW_FRAME_HDR_LEN + HW_FRAME_MAX_DATA))
        return -1;
    hw_buf_commit(&m->stage, m->headroom);
    return 0;
}

int hw_mux_pull(struct hw_mux *m, uint8_t **msg, size_t *len)
{
    struct hw_mux_stream *s;
    int drained = 0;

    /* Out of memory: nothing is pulled now; the frames stay queued for the next try. */
    if (stage_begin(m))
        return 0;
    if (hw_buf_size(&m->ctrl)) {
        const uint8_t *h = (const uint8_t *)hw_buf_head(&m->ctrl);
        size_t n = HW_FRAME_HDR_LEN + hw_frame_payload_len(h);

        if (hw_buf_append(&m->stage, h, n))
            return 0;
        hw_buf_consume(&m->ctrl, n);
        goto out;
    }
    s = m->rhead;
    if (!s)
        return 0;
    hw_mux_ready_remove(s);
    if (hw_buf_size(&s->head)) {
        if (hw_buf_append(&m->stage, hw_buf_head(&s->head), hw_buf_size(&s->head)))
            return 0;
        hw_buf_cleanup(&s->head);
    } else if (hw_buf_size(&s->body)) {
        size_t n = hw_buf_size(&s->body);
        size_t before = n;

        if (n > HW_FRAME_MAX_DATA)
            n = HW_FRAME_MAX_DATA;
        if ((int64_t)n > s->credit)
            n = (size_t)s->credit;
        if (hw_frame_encode_data(&m->stage, s->id, hw_buf_head(&s->body), n))
            return 0;
        hw_buf_consume(&s->body, n);
        s->credit -= (int64_t)n;
        drained = s->drain_wanted && before - n <= m->body_cap / 2;
        if (drained)
            s->drain_wanted = 0;
    } else {
        if (hw_frame_encode_end(&m->stage, s->id))
            return 0;
        s->end_sent = 1;
        if (s->closing) {
            hw_mux_stream_free(s);
            goto out;
        }
    }
    m->pulling = 1;
    hw_mux_update_ready(s);
    m->pulling = 0;
    if (drained && m->cb.on_drain)
        m->cb.on_drain(m, s);
out:
    *msg = (uint8_t *)hw_buf_head(&m->stage) + m->headroom;
    *len = hw_buf_size(&m->stage) - m->headroom;
    return 1;
}

int hw_mux_send_request(struct hw_mux_stream *s, const struct hw_msg_request *req)
{
    int err = hw_frame_encode_request(&s->head, s->id, req);

    if (!err)
        hw_mux_update_ready(s);
    return err;
}

int hw_mux_send_response(struct hw_mux_stream *s, const struct hw_msg_response *resp)
{
    int err = hw_frame_encode_response(&s->head, s->id, resp);

    if (!err)
        hw_mux_update_ready(s);
    return err;
}

size_t hw_mux_send_room(const struct hw_mux_stream *s)
{
    return s->body.max - hw_buf_size(&s->body);
}

int hw_mux_send_body(struct hw_mux_stream *s, const void *p, size_t n)
{
    int err;

    if (s->end_queued)
        return HW_EINVAL;
    err = hw_buf_append(&s->body, p, n);

    if (err == HW_E2BIG)
        s->drain_wanted = 1;
    if (!err)
        hw_mux_update_ready(s);
    return err;
}

int hw_mux_send_body_buf(struct hw_mux_stream *s, struct hw_buf *b)
{
    struct hw_buf empty;

    if (s->end_queued)
        return HW_EINVAL;
    if (hw_buf_size(&s->body))
        return hw_mux_send_body(s, hw_buf_head(b), hw_buf_size(b));
    hw_buf_cleanup(&s->body);
    s->body = *b;
    hw_buf_init(&empty, b->max);
    *b = empty;
    hw_mux_update_ready(s);
    return 0;
}

void hw_mux_want_drain(struct hw_mux_stream *s)
{
    s->drain_wanted = 1;
}

int hw_mux_send_end(struct hw_mux_stream *s)
{
    s->end_queued = 1;
    hw_mux_update_ready(s);
    return 0;
}

void hw_mux_consumed(struct hw_mux_stream *s, size_t n)
{
    struct hw_mux *m = s->mux;

    s->consumed += (uint32_t)n;
    if (s->in_end || s->consumed < WINDOW_BATCH)
        return;
    if (hw_frame_encode_window(&m->ctrl, s->id, s->consumed) == 0) {
        s->recv_window += s->consumed;
        s->consumed = 0;
        m->cb.want_write(m);
    }
}

void hw_mux_stream_reset(struct hw_mux_stream *s, uint16_t code, const char *text)
{
    struct hw_mux *m = s->mux;
    struct hw_msg_reset rst = { code, { text, strlen(text) } };

    ctrl_queued(m, hw_frame_encode_reset(&m->ctrl, s->id, &rst));
    hw_mux_stream_free(s);
}
