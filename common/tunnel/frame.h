#ifndef HW_FRAME_H
#define HW_FRAME_H

/*
 * Tunnel protocol codec (docs/protocol.md is the reference): every WebSocket
 * binary message is a 12-byte header (type, flags, stream id, payload length,
 * big-endian) and a typed payload. Decoders validate every length against the
 * message and return views into it; encoders append whole messages to an
 * hw_buf. No allocation beyond the buffer; any thread.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define HW_PROTO_VERSION     1
#define HW_FRAME_HDR_LEN     12
#define HW_FRAME_MAX_DATA    65536             /* largest DATA payload */
#define HW_FRAME_MAX_PAYLOAD (1024 * 1024)     /* largest payload of any message */
#define HW_WINDOW_INITIAL    (256 * 1024)      /* per-stream credit in each direction */
#define HW_TUNNEL_MSG_MAX    (2 * 1024 * 1024) /* largest WebSocket message: a batch of frames */

/*
 * The payload length in a message header (hdr has HW_FRAME_HDR_LEN bytes):
 * the one place that reads it, for the decoder, the mux and the batcher.
 */
static inline uint32_t hw_frame_payload_len(const uint8_t *hdr)
{
    return (uint32_t)hdr[8] << 24 | (uint32_t)hdr[9] << 16 | (uint32_t)hdr[10] << 8 | hdr[11];
}

enum hw_frame_type {
    HW_FT_HELLO = 1,    /* relay -> agent, stream 0: version, channel, public URL */
    HW_FT_REQUEST = 2,  /* relay -> agent: request head, opens a stream */
    HW_FT_RESPONSE = 3, /* agent -> relay: response head */
    HW_FT_DATA = 4,     /* either way: body bytes */
    HW_FT_END = 5,      /* either way: end of this direction's body */
    HW_FT_WINDOW = 6,   /* either way: grant more body credit on a stream */
    HW_FT_RESET = 7,    /* either way: abort a stream with a code */
    HW_FT_PING = 8,     /* either way, stream 0 */
    HW_FT_PONG = 9,     /* either way, stream 0: echoes the ping's payload */
    HW_FT_GOAWAY = 10,  /* either way, stream 0: the sender is closing the tunnel */
};

/* RESET codes: why a stream was aborted. */
enum hw_reset_code {
    HW_RST_CANCEL = 1,       /* the sender no longer wants the stream */
    HW_RST_REFUSED = 2,      /* the local target refused the connection */
    HW_RST_TARGET_ERROR = 3, /* the local target failed mid-exchange or answered garbage */
    HW_RST_TIMEOUT = 4,      /* the local target did not answer in time */
    HW_RST_TOO_LARGE = 5,    /* a head or body exceeded a limit */
    HW_RST_PROTOCOL = 6,     /* the peer broke the protocol on this stream */
};

struct hw_str {
    const char *p;
    size_t len;
};

struct hw_frame {
    uint8_t type;
    uint8_t flags;
    uint32_t stream;
    const uint8_t *payload;
    uint32_t len;
};

struct hw_msg_hello {
    uint8_t version;
    uint16_t heartbeat_s;
    struct hw_str channel;
    struct hw_str public_url;
};

struct hw_msg_request {
    uint64_t body_len; /* exact length of the body that follows in DATA messages */
    struct hw_str event_id;
    struct hw_str method;
    struct hw_str target;
    struct hw_str headers; /* raw header lines, each "Name:value\r\n", in order */
};

#define HW_BODY_LEN_UNKNOWN UINT64_MAX

struct hw_msg_response {
    uint16_t status;
    uint64_t body_len; /* HW_BODY_LEN_UNKNOWN when the target did not say */
    struct hw_str reason;
    struct hw_str headers;
};

struct hw_msg_reset {
    uint16_t code;
    struct hw_str text;
};

/*
 * Decodes the header of one whole message msg[0..len) into *f (payload points
 * into msg). Returns 0, or HW_EPROTO when the message is shorter than a
 * header, the length field disagrees with len, the payload exceeds its limit,
 * or a stream-0 type names a stream (and the reverse). Unknown types decode
 * (so newer peers can add them) and are for the caller to ignore.
 */
int hw_frame_decode(const uint8_t *msg, size_t len, struct hw_frame *f);

/* The rule hw_frame_decode() finds msg[0..len) breaking (static text), or NULL. */
const char *hw_frame_broken(const uint8_t *msg, size_t len);

/* Payload decoders: 0 or HW_EPROTO (truncated, trailing bytes, bad value). */
int hw_frame_decode_hello(const struct hw_frame *f, struct hw_msg_hello *m);
int hw_frame_decode_request(const struct hw_frame *f, struct hw_msg_request *m);
int hw_frame_decode_response(const struct hw_frame *f, struct hw_msg_response *m);
int hw_frame_decode_window(const struct hw_frame *f, uint32_t *increment);
int hw_frame_decode_reset(const struct hw_frame *f, struct hw_msg_reset *m);

/* The rule hw_frame_decode_response() finds f's payload breaking (static text), or NULL. */
const char *hw_frame_response_broken(const struct hw_frame *f);

/*
 * Encoders append one whole message to out. Return 0, HW_EINVAL when a field
 * exceeds its wire size (strings over 65535 bytes, DATA over 64 KiB), or the
 * hw_buf_append() errors.
 */
int hw_frame_encode_hello(struct hw_buf *out, const struct hw_msg_hello *m);
int hw_frame_encode_request(struct hw_buf *out, uint32_t stream, const struct hw_msg_request *m);
int hw_frame_encode_response(struct hw_buf *out, uint32_t stream, const struct hw_msg_response *m);
int hw_frame_encode_data(struct hw_buf *out, uint32_t stream, const void *p, size_t len);
int hw_frame_encode_end(struct hw_buf *out, uint32_t stream);
int hw_frame_encode_window(struct hw_buf *out, uint32_t stream, uint32_t increment);
int hw_frame_encode_reset(struct hw_buf *out, uint32_t stream, const struct hw_msg_reset *m);
/* PING, PONG and GOAWAY: a stream-0 message with an opaque payload. */
int hw_frame_encode_control(struct hw_buf *out, uint8_t type, const void *p, size_t len);

/* Name of a message type for logs ("REQUEST"), or "UNKNOWN". */
const char *hw_frame_type_name(uint8_t type);

#endif
