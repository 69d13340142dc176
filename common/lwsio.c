/*
 * Shared lws I/O steps for raw connections and the tunnel WebSocket. Every
 * call does at most one lws_write, as lws expects from a WRITEABLE callback.
 * Service thread only.
 */
#include "lwsio.h"

#include "err.h"
#include "mux.h"

#define WRITE_CHUNK (256 * 1024)

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

int hw_lwsio_tunnel_rx(struct lws *wsi, struct hw_buf *rx, struct hw_mux *m, const void *in,
                       size_t len)
{
    int err;

    if (!lws_frame_is_binary(wsi) || hw_buf_append(rx, in, len))
        return HW_EPROTO;
    if (!lws_is_final_fragment(wsi))
        return 0;
    err = hw_mux_receive(m, (const uint8_t *)hw_buf_head(rx), hw_buf_size(rx));
    hw_buf_reset(rx);
    return err;
}

int hw_lwsio_tunnel_write(struct lws *wsi, struct hw_mux *m)
{
    uint8_t *msg;
    size_t len;

    if (!m || !hw_mux_pull(m, &msg, &len))
        return 0;
    if (lws_write(wsi, msg, len, LWS_WRITE_BINARY) < (int)len)
        return -1;
    if (hw_mux_pending(m))
        lws_callback_on_writable(wsi);
    return 0;
}
