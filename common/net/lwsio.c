/*
 * Shared lws I/O steps for raw connections and the tunnel WebSocket. Every
 * call does at most one lws_write, as lws expects from a WRITEABLE callback.
 * Service thread only.
 */
#include "lwsio.h"

#include <string.h>
#include <sys/socket.h>

#include "core/err.h"
#include "tunnel/frame.h"
#include "tunnel/mux.h"
#include "tunnel/ws.h"

#define WRITE_CHUNK (256 * 1024)
/* A batch stops growing past this; any single frame still fits behind it. */
#define BATCH_TARGET (256 * 1024)

int hw_lwsio_write_raw(struct lws *wsi, struct hw_buf *out)
{
    size_t n = hw_buf_size(out);

    if (!n)
        return 0;
    if (n > WRITE_CHUNK)
        n = WRITE_CHUNK;
    if (lws_write(wsi, (unsigned char *)hw_buf_head(out), n, LWS_WRITE_RAW) < 0)
        return -1;
    hw_buf_consume(out, n);
    if (hw_buf_size(out))
        lws_callback_on_writable(wsi);
    return 0;
}

int hw_lwsio_tunnel_msg(struct hw_mux *m, const uint8_t *p, size_t left)
{
    int err = 0;

    if (!left)
        return hw_mux_fail(m, "an empty WebSocket message");
    while (!err && left) {
        size_t n;

        if (left < HW_FRAME_HDR_LEN)
            return hw_mux_fail(m, "a frame header cut by the end of its WebSocket message");
        n = HW_FRAME_HDR_LEN + hw_frame_payload_len(p);
        if (n > left)
            return hw_mux_fail(m, "a frame longer than what is left of its WebSocket message");
        err = hw_mux_receive(m, p, n);
        p += n;
        left -= n;
    }
    return err;
}

int hw_lwsio_tunnel_rx(struct lws *wsi, struct hw_buf *rx, struct hw_mux *m, const void *in,
                       size_t len)
{
    int err;

    if (!lws_frame_is_binary(wsi))
        return hw_mux_fail(m, "a text WebSocket message (the tunnel is binary)");
    /* A frame's declared length is known from its first bytes: refuse it then, not at the cap. */
    if (len > rx->max - hw_buf_size(rx) ||
        lws_remaining_packet_payload(wsi) > rx->max - hw_buf_size(rx) - len)
        return HW_E2BIG;
    /* A message that came whole (nothing of it buffered yet) is read where it lies. */
    if (!hw_buf_size(rx) && lws_is_final_fragment(wsi))
        return hw_lwsio_tunnel_msg(m, in, len);
    if (hw_buf_append(rx, in, len))
        return HW_E2BIG;
    if (!lws_is_final_fragment(wsi))
        return 0;
    err = hw_lwsio_tunnel_msg(m, (const uint8_t *)hw_buf_head(rx), hw_buf_size(rx));
    hw_buf_reset(rx);
    return err;
}

/* One batch at a time on the service thread, so one buffer serves every tunnel. */
static uint8_t batch[LWS_PRE + HW_TUNNEL_MSG_MAX];

/* Pulls the mux's frames (up to a batch) to batch + LWS_PRE. Returns their length. */
static size_t take_batch(struct hw_mux *m)
{
    size_t used = 0, len;
    uint8_t *msg;

    while (used < BATCH_TARGET && m && hw_mux_pull(m, &msg, &len)) {
        memcpy(batch + LWS_PRE + used, msg, len);
        used += len;
    }
    return used;
}

int hw_lwsio_tunnel_write(struct lws *wsi, struct hw_mux *m)
{
    size_t used = take_batch(m);

    if (!used)
        return 0;
    if (lws_write(wsi, batch + LWS_PRE, used, LWS_WRITE_BINARY) < (int)used)
        return -1;
    if (hw_mux_pending(m))
        lws_callback_on_writable(wsi);
    return 0;
}

int hw_lwsio_tunnel_flush(struct lws *wsi, struct hw_mux *m)
{
    uint8_t hdr[HW_WS_HDR_MAX], *msg;
    size_t used, h, len;
    ssize_t sent;

    /* What lws holds was written earlier and goes first: WRITEABLE sends these frames after it. */
    if (lws_partial_buffered(wsi)) {
        if (hw_mux_pending(m))
            lws_callback_on_writable(wsi);
        return 0;
    }
    used = take_batch(m);
    if (!used)
        return 0;
    /* The frame lws_write would have made: final, binary, unmasked (no extension is offered). */
    h = hw_ws_frame_header(hdr, HW_WS_OP_BINARY, used, NULL);
    msg = batch + LWS_PRE - h;
    memcpy(msg, hdr, h);
    len = h + used;
    sent = send(lws_get_socket_fd(wsi), msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0)
        sent = 0; /* a full socket; a broken one fails in lws_write below, or lws finds it */
    /*
     * The rest of the frame goes to lws's own out buffer, which lws drains before anything
     * else, its own PING, PONG and close frames included: a frame is never split by one.
     */
    if ((size_t)sent < len &&
        lws_write(wsi, msg + sent, len - (size_t)sent, LWS_WRITE_RAW) < (int)(len - (size_t)sent))
        return -1;
    if (hw_mux_pending(m))
        lws_callback_on_writable(wsi);
    return 0;
}

int hw_lwsio_heartbeat(struct hw_mux *m, lws_usec_t last_rx, lws_usec_t *last_ping,
                       unsigned interval_ms)
{
    lws_usec_t now = lws_now_usecs(), interval = (lws_usec_t)interval_ms * 1000;
    uint64_t stamp = (uint64_t)now;

    if (now - last_rx > 2 * interval)
        return 1;
    if (now - *last_ping >= interval) {
        hw_mux_send_control(m, HW_FT_PING, &stamp, sizeof(stamp));
        *last_ping = now;
    }
    return 0;
}
