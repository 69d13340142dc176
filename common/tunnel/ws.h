#ifndef HW_TUNNEL_WS_H
#define HW_TUNNEL_WS_H

/*
 * The client side of RFC 6455 framing, as the agent's tunnel needs it: the
 * upgrade request, the check of the server's 101 answer, masked frame
 * headers out, and a block-at-a-time decoder for the server's unmasked
 * frames. Pure code (no I/O, no lws); one struct hw_ws_rx per connection, used
 * by one thread.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define HW_WS_OP_CONT   0x0
#define HW_WS_OP_TEXT   0x1
#define HW_WS_OP_BINARY 0x2
#define HW_WS_OP_CLOSE  0x8
#define HW_WS_OP_PING   0x9
#define HW_WS_OP_PONG   0xa

/* Largest frame header: 2 bytes, 8 of extended length, 4 of mask. */
#define HW_WS_HDR_MAX 14
/* Largest control payload (RFC 6455 section 5.5). */
#define HW_WS_CTL_MAX 125
/* Cap on the server's answer head to the upgrade. */
#define HW_WS_ANSWER_MAX 8192

/*
 * Appends the upgrade request for path on host (the Host header, "name:port")
 * with the given Sec-WebSocket-Key, subprotocol and bearer token to out,
 * and extra (header lines, each ending in CRLF; NULL for none) before the
 * blank line. Returns 0, or HW_E2BIG / HW_ENOMEM when out's cap is too small.
 */
int hw_ws_client_request(struct hw_buf *out, const char *host, const char *path, const char *key,
                         const char *protocol, const char *token, const char *extra);

/*
 * Returns the length of the answer head at p (through its blank line), 0 when
 * the blank line has not arrived yet.
 */
size_t hw_ws_answer_end(const char *p, size_t n);

/*
 * Checks the server's answer head (p, len as found by hw_ws_answer_end):
 * status 101, "Upgrade: websocket", a Connection header listing "upgrade",
 * Sec-WebSocket-Accept equal to accept and Sec-WebSocket-Protocol equal to
 * protocol. Sets *status to the status code (0 when the status line is
 * unreadable). Returns 0 when the upgrade is good, HW_EPROTO otherwise.
 */
int hw_ws_client_check_answer(const char *p, size_t len, const char *accept, const char *protocol,
                              unsigned *status);

/*
 * Writes the header of a final, masked client frame of the given opcode and
 * payload length into hdr. Returns its length (6, 8 or 14). With mask NULL,
 * the header of an unmasked frame, as a server sends it (2, 4 or 10).
 */
size_t hw_ws_frame_header(uint8_t hdr[HW_WS_HDR_MAX], unsigned opcode, uint64_t len,
                          const uint8_t mask[4]);

/* XORs n bytes at p with mask, the first byte with mask[0]. */
void hw_ws_mask(uint8_t *p, size_t n, const uint8_t mask[4]);

enum hw_ws_event {
    HW_WS_MESSAGE, /* a whole binary message in one piece */
    HW_WS_DATA,    /* a piece of a binary message; more follow */
    HW_WS_END,     /* the message whose pieces came as HW_WS_DATA is complete */
    HW_WS_PING,    /* payload: the ping's */
    HW_WS_PONG,
    HW_WS_CLOSE, /* payload: status code and reason, as sent */
};

/*
 * Receives one event. p and n are valid only during the call. Returns 0 to go
 * on; any other value stops hw_ws_rx_feed(), which returns it.
 */
typedef int (*hw_ws_sink)(void *user, enum hw_ws_event ev, const uint8_t *p, size_t n);

struct hw_ws_rx {
    size_t max_msg; /* cap on a message's payload */
    size_t msg_len; /* payload of the message in progress so far */
    uint64_t left;  /* payload bytes of the current frame still to come */
    uint8_t hdr[HW_WS_HDR_MAX];
    uint8_t hdr_have;
    uint8_t in_frame; /* the header is read; payload is being read */
    uint8_t opcode;
    uint8_t fin;
    uint8_t in_msg; /* a fragmented binary message is in progress */
    uint8_t ctl_len;
    uint8_t ctl[HW_WS_CTL_MAX];
    const char *why; /* the rule the last failed feed found broken (static), or NULL */
};

/* Readies rx for a new connection whose messages carry at most max_msg bytes. */
void hw_ws_rx_init(struct hw_ws_rx *rx, size_t max_msg);

/*
 * Decodes n received bytes, calling sink for each event in order; a frame may
 * be split anywhere across calls. Returns 0; HW_EPROTO for a frame the server
 * must not send (masked, RSV bits, text, reserved or bad continuation
 * opcodes, fragmented or oversized control frames, non-minimal or 64-bit
 * lengths with the top bit set, a close payload of 1 byte); HW_E2BIG for a
 * message over max_msg; or the sink's non-zero return. After an error rx is
 * unusable.
 */
int hw_ws_rx_feed(struct hw_ws_rx *rx, const uint8_t *p, size_t n, hw_ws_sink sink, void *user);

#endif
