#ifndef HW_LWSIO_H
#define HW_LWSIO_H

/*
 * The lws I/O steps that the relay and the agent share: writing a bounded
 * piece of an output buffer on a raw connection, and the tunnel's message
 * reassembly and one-message-per-WRITEABLE sending. Service thread only.
 */
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct hw_mux;

/*
 * Writes up to 256 KiB from the front of out to a raw connection (one
 * lws_write; lws keeps any part the kernel did not take) and asks for
 * another WRITEABLE if bytes remain. Returns 0, or -1 when the connection
 * failed (the callback then returns -1 to close it).
 */
int hw_lwsio_write_raw(struct lws *wsi, struct hw_buf *out);

/*
 * Feeds one whole tunnel message (a batch of frames) to the mux. Returns 0,
 * or HW_EPROTO for an empty message, a frame that overruns the message, or
 * a protocol violation the mux found.
 */
int hw_lwsio_tunnel_msg(struct hw_mux *m, const uint8_t *p, size_t len);

/*
 * Adds one received WebSocket fragment to rx and, when the message is
 * complete, feeds each frame it carries to the mux. Returns 0, HW_E2BIG for
 * a message longer than rx's cap, known as soon as a fragment's frame
 * declares a length that cannot fit (the caller closes with 1009), or
 * HW_EPROTO for a text message, a frame that overruns the message, or a
 * protocol violation (the caller closes with 1002). rx's cap must be
 * HW_TUNNEL_MSG_MAX.
 */
int hw_lwsio_tunnel_rx(struct lws *wsi, struct hw_buf *rx, struct hw_mux *m, const void *in,
                       size_t len);

/*
 * Sends the mux's pending frames, batched into one binary WebSocket message
 * of up to about 256 KiB (fewer writes and wake-ups under load), and re-arms
 * WRITEABLE while more is pending. Returns 0, or -1 when the write failed.
 */
int hw_lwsio_tunnel_write(struct lws *wsi, struct hw_mux *m);

/*
 * The relay's end-of-round write on a plain (not TLS) tunnel without an
 * extension, outside every lws callback: one batch of the mux's frames as
 * one final binary WebSocket frame, sent with a non-blocking send(); the
 * part the socket does not take is handed to lws (lws_write, raw), which
 * sends it before any other byte. Does nothing but ask for WRITEABLE while
 * lws holds bytes written earlier; asks for it too while the mux has more.
 * Returns 0, or -1 when the connection failed (the caller has lws close it).
 */
int hw_lwsio_tunnel_flush(struct lws *wsi, struct hw_mux *m);

/*
 * One heartbeat tick, run every interval/4: returns 1 when nothing has been
 * received for two intervals (the caller closes the tunnel), else queues a
 * PING if the last one is an interval old and returns 0. Times are
 * lws_now_usecs() values.
 */
int hw_lwsio_heartbeat(struct hw_mux *m, lws_usec_t last_rx, lws_usec_t *last_ping,
                       unsigned interval_ms);

#endif
