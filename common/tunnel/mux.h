#ifndef HW_MUX_H
#define HW_MUX_H

/*
 * Stream multiplexer for one tunnel connection: keeps the streams of the
 * requests in flight, schedules outgoing messages (control first, then the
 * streams round-robin, one message at a time), enforces the per-stream
 * flow-control windows in both directions and answers PINGs. It does no I/O:
 * the program feeds whole received messages to hw_mux_receive() and takes
 * outgoing ones from hw_mux_pull() in its WRITEABLE callback. One thread (the
 * event loop).
 */
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct hw_mux;
struct hw_mux_stream;

/* Which end of the tunnel: the relay opens streams, the agent answers them. */
enum hw_mux_role { HW_MUX_RELAY, HW_MUX_AGENT };

/* Local-only reset code handed to on_reset when the tunnel itself goes away. */
#define HW_RST_TUNNEL_LOST 0

/*
 * Callbacks into the program. After any stream callback returns, the mux
 * does not touch that stream again, so the callback may close or reset it.
 */
struct hw_mux_callbacks {
    /* A REQUEST (agent) or RESPONSE (relay) head arrived; f holds the payload. */
    void (*on_head)(struct hw_mux *m, struct hw_mux_stream *s, const struct hw_frame *f);
    /* Body bytes arrived; the program calls hw_mux_consumed() once they are written on. */
    void (*on_data)(struct hw_mux *m, struct hw_mux_stream *s, const uint8_t *p, size_t n);
    /* The peer finished its body. */
    void (*on_end)(struct hw_mux *m, struct hw_mux_stream *s);
    /* The peer reset the stream, or the tunnel was lost (code HW_RST_TUNNEL_LOST).
     * The mux frees the stream when this returns. */
    void (*on_reset)(struct hw_mux *m, struct hw_mux_stream *s, uint16_t code, const char *text,
                     size_t text_len);
    /* The stream's outgoing body buffer drained below half its cap: produce more. */
    void (*on_drain)(struct hw_mux *m, struct hw_mux_stream *s);
    /* A stream-0 message other than PING/PONG arrived (HELLO, GOAWAY). */
    void (*on_control)(struct hw_mux *m, const struct hw_frame *f);
    /* Something became sendable: the program asks for a WRITEABLE callback. */
    void (*want_write)(struct hw_mux *m);
};

/*
 * Creates a mux. headroom: bytes kept free before each pulled message
 * (LWS_PRE for lws_write). body_cap: most body bytes buffered per stream
 * for sending. user: the program's per-connection object. Returns NULL when
 * out of memory.
 */
struct hw_mux *hw_mux_new(enum hw_mux_role role, const struct hw_mux_callbacks *cb, size_t headroom,
                          size_t body_cap, void *user);

/* Calls on_reset(HW_RST_TUNNEL_LOST) for every open stream, then frees all. */
void hw_mux_free(struct hw_mux *m);

/* The user pointer given to hw_mux_new() (borrowed). */
void *hw_mux_user(const struct hw_mux *m);

/* Streams open now, closing ones included (the relay's --max-streams count). */
size_t hw_mux_stream_count(const struct hw_mux *m);

/*
 * Feeds one whole received WebSocket message. Returns 0, or HW_EPROTO when
 * the peer broke the protocol (the program then closes the tunnel).
 */
int hw_mux_receive(struct hw_mux *m, const uint8_t *msg, size_t len);

/*
 * The rule the peer broke, for the log line of the tunnel's close: set
 * when hw_mux_receive() returned HW_EPROTO (or by hw_mux_fail()), else NULL.
 * Static text.
 */
const char *hw_mux_error(const struct hw_mux *m);

/* Records why (static text) as the peer's broken rule; returns HW_EPROTO. */
int hw_mux_fail(struct hw_mux *m, const char *why);

/*
 * Takes the next message to send. Returns 1 and sets *msg and *len (valid until
 * the next call; headroom bytes before *msg are writable), or 0 when nothing
 * is sendable now. A pull does not call want_write for what it leaves queued:
 * after its last pull, the writer asks for another WRITEABLE itself when
 * hw_mux_pending() says so.
 */
int hw_mux_pull(struct hw_mux *m, uint8_t **msg, size_t *len);

/* Says whether hw_mux_pull() would return a message. */
int hw_mux_pending(const struct hw_mux *m);

/* Queues a stream-0 message (PING, GOAWAY). Returns 0 or an encoder error. */
int hw_mux_send_control(struct hw_mux *m, uint8_t type, const void *p, size_t len);

/* Relay only: queues the HELLO that opens the tunnel. */
int hw_mux_send_hello(struct hw_mux *m, const struct hw_msg_hello *h);

/*
 * Relay only: opens a new stream with the next id. NULL when out of memory.
 * Ids must reach the agent in increasing order, so queue each stream's
 * REQUEST before opening the next stream.
 */
struct hw_mux_stream *hw_mux_stream_open(struct hw_mux *m, void *user);

/* The stream's id, and the program's pointer for it (NULL until set; borrowed). */
uint32_t hw_mux_stream_id(const struct hw_mux_stream *s);
void *hw_mux_stream_user(const struct hw_mux_stream *s);
void hw_mux_stream_set_user(struct hw_mux_stream *s, void *user);

/*
 * Queues the stream's head (REQUEST on the relay, RESPONSE on the agent),
 * copied. Returns 0 or an encoder error (HW_EINVAL for oversized fields).
 */
int hw_mux_send_request(struct hw_mux_stream *s, const struct hw_msg_request *req);
int hw_mux_send_response(struct hw_mux_stream *s, const struct hw_msg_response *resp);

/*
 * Queues body bytes (copied). Returns 0, HW_EINVAL after END was queued, or
 * HW_E2BIG when more than the body_cap would be buffered: wait for on_drain.
 * hw_mux_send_room() says how many bytes fit now.
 */
int hw_mux_send_body(struct hw_mux_stream *s, const void *p, size_t n);
size_t hw_mux_send_room(const struct hw_mux_stream *s);

/*
 * Queues a whole body by taking over b's storage (b is left empty), when the
 * stream has no body buffered yet; otherwise copies like hw_mux_send_body().
 */
int hw_mux_send_body_buf(struct hw_mux_stream *s, struct hw_buf *b);

/* Asks for on_drain once the buffered body falls below half its cap. */
void hw_mux_want_drain(struct hw_mux_stream *s);

/* Queues END after the buffered body. */
int hw_mux_send_end(struct hw_mux_stream *s);

/* Grants the peer n more bytes of credit once received body bytes are used. */
void hw_mux_consumed(struct hw_mux_stream *s, size_t n);

/* Sends RESET with code and text, and frees the stream. */
void hw_mux_stream_reset(struct hw_mux_stream *s, uint16_t code, const char *text);

/*
 * The program is done with the stream and must not use it again. On the
 * relay: unless both bodies are complete, the agent is told with
 * RESET(CANCEL). On the agent: a stream whose END is queued stays until its
 * queued messages are sent (the rest of the request body is ignored); one
 * without is reset.
 */
void hw_mux_stream_close(struct hw_mux_stream *s);

#endif
