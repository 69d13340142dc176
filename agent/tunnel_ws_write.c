/*
 * The tunnel transport's writes: masks, the one waiting control frame, and the
 * mux's frames batched into one masked binary message, sent in WRITEABLE or
 * straight to the socket at the end of a service round (docs/decisions.md).
 * State in struct agent_ws (tunnel_ws_int.h). Service thread only.
 */
#include "tunnel_ws_int.h"

#include <sodium.h>
#include <string.h>
#include <sys/socket.h>

#include "agent.h"
#include "core/buf.h"
#include "net/lwsio.h"
#include "net/tls_client.h"
#include "tunnel/frame.h"
#include "tunnel/mux.h"
#include "tunnel/ws.h"

/* A batch stops growing past this; any single tunnel frame still fits behind it. */
#define BATCH_TARGET (256 * 1024)

static void next_mask(struct agent_ws *w, uint8_t mask[4])
{
    if (!w->masks_left) {
        randombytes_buf(w->masks, sizeof(w->masks));
        w->masks_left = MASKS;
    }
    w->masks_left--;
    memcpy(mask, w->masks + 4 * w->masks_left, 4);
}

void agent_ws_queue_control(struct agent_ws *w, unsigned op, const uint8_t *p, size_t n)
{
    uint8_t mask[4];
    size_t h;

    next_mask(w, mask);
    h = hw_ws_frame_header(w->ctl, op, n, mask);
    memcpy(w->ctl + h, p, n);
    hw_ws_mask(w->ctl + h, n, mask);
    w->ctl_len = h + n;
    lws_callback_on_writable(w->wsi);
}

/* Sends bytes produced in this callback: directly, or through TLS and out for wss://. */
static int send_now(struct agent_ws *w, const uint8_t *p, size_t n)
{
    if (!w->tls)
        return lws_write(w->wsi, (unsigned char *)p, n, LWS_WRITE_RAW) < (int)n ? -1 : 0;
    if (hw_tls_send(w->tls, p, n, &w->out))
        return -1;
    return hw_lwsio_write_raw(w->wsi, &w->out);
}

/*
 * Pulls what the mux has (up to a batch) into one masked binary message. Returns its
 * length with *msg set, or 0 when nothing is sendable.
 */
static size_t take_batch(struct agent *a, struct agent_ws *w, uint8_t **msg)
{
    /* One batch at a time on the service thread, so one buffer serves every connection. */
    static uint8_t batch[HW_WS_HDR_MAX + HW_TUNNEL_MSG_MAX];
    uint8_t hdr[HW_WS_HDR_MAX], mask[4], *frame;
    size_t used = 0, len, h;

    while (used < BATCH_TARGET && a->mux && hw_mux_pull(a->mux, &frame, &len)) {
        memcpy(batch + HW_WS_HDR_MAX + used, frame, len);
        used += len;
    }
    if (!used)
        return 0;
    next_mask(w, mask);
    h = hw_ws_frame_header(hdr, HW_WS_OP_BINARY, used, mask);
    memcpy(batch + HW_WS_HDR_MAX - h, hdr, h);
    hw_ws_mask(batch + HW_WS_HDR_MAX, used, mask);
    *msg = batch + HW_WS_HDR_MAX - h;
    return h + used;
}

/* One lws_write: queued bytes, else a control frame, else one batch of tunnel frames. */
int agent_ws_on_writeable(struct agent *a, struct agent_ws *w)
{
    uint8_t *msg;
    size_t len;

    if (hw_buf_size(&w->out)) {
        if (hw_lwsio_write_raw(w->wsi, &w->out))
            return -1;
        if (hw_buf_size(&w->out))
            return 0; /* hw_lwsio_write_raw() asked for the next WRITEABLE */
        if (w->state == WS_CLOSING && !w->ctl_len)
            return -1; /* the close echo is out */
        if (w->ctl_len || (w->state == WS_OPEN && a->mux && hw_mux_pending(a->mux)))
            lws_callback_on_writable(w->wsi);
        return 0;
    }
    if (w->ctl_len) {
        size_t n = w->ctl_len;

        w->ctl_len = 0;
        if (send_now(w, w->ctl, n))
            return -1;
        if (w->state == WS_CLOSING && !hw_buf_size(&w->out))
            return -1;
        if (a->mux && hw_mux_pending(a->mux))
            lws_callback_on_writable(w->wsi);
        return 0;
    }
    if (w->state != WS_OPEN)
        return 0;
    len = take_batch(a, w, &msg);
    if (!len)
        return 0;
    if (send_now(w, msg, len))
        return -1;
    if (!hw_buf_size(&w->out) && hw_mux_pending(a->mux))
        lws_callback_on_writable(w->wsi);
    return 0;
}

/*
 * Writes to the socket itself what it takes without blocking; the rest goes to out for
 * WRITEABLE. Only when neither out nor lws holds earlier bytes, so the order stays.
 */
static int send_direct(struct agent_ws *w, const uint8_t *p, size_t n)
{
    ssize_t sent = send(lws_get_socket_fd(w->wsi), p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

    /* A broken connection is for lws to find and close; its bytes wait in out meanwhile. */
    if (sent < 0)
        sent = 0;
    if ((size_t)sent < n && hw_buf_append(&w->out, p + sent, n - (size_t)sent))
        return -1;
    return 0;
}

/* Writes to the socket itself what out holds, as far as it takes it without blocking. */
static void send_out(struct agent_ws *w)
{
    ssize_t sent = send(lws_get_socket_fd(w->wsi), hw_buf_head(&w->out), hw_buf_size(&w->out),
                        MSG_DONTWAIT | MSG_NOSIGNAL);

    if (sent > 0)
        hw_buf_consume(&w->out, (size_t)sent);
}

static void flush_sul_cb(lws_sorted_usec_list_t *sul)
{
    struct agent_ws *w = lws_container_of(sul, struct agent_ws, flush_sul);

    agent_ws_flush(w->agent);
}

void agent_ws_want_write(struct agent *a)
{
    struct agent_ws *w = a->ws_raw;

    if (w && w->wsi == a->ws && w->state == WS_OPEN) {
        if (!w->flush)
            lws_sul_schedule(a->context, 0, &w->flush_sul, flush_sul_cb, 0);
        w->flush = 1;
    } else if (a->ws) {
        lws_callback_on_writable(a->ws);
    }
}

void agent_ws_flush(struct agent *a)
{
    struct agent_ws *w = a->ws_raw;
    uint8_t *msg;
    size_t len;
    int err = 0;

    if (!w || !w->flush)
        return;
    w->flush = 0;
    lws_sul_cancel(&w->flush_sul);
    if (!w->wsi || w->state != WS_OPEN)
        return;
    /* Bytes or a control frame already wait for WRITEABLE, which sends the frames after them. */
    if (hw_buf_size(&w->out) || w->ctl_len || lws_partial_buffered(w->wsi)) {
        lws_callback_on_writable(w->wsi);
        return;
    }
    len = take_batch(a, w, &msg);
    if (len && w->tls) {
        err = hw_tls_send(w->tls, msg, len, &w->out);
        if (!err)
            send_out(w);
    } else if (len) {
        err = send_direct(w, msg, len);
    }
    /* Out of memory for the rest: the connection cannot keep its order; lws closes it. */
    if (err)
        lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    else if (hw_buf_size(&w->out) || (a->mux && hw_mux_pending(a->mux)))
        lws_callback_on_writable(w->wsi);
}
