/*
 * Tunnel protocol codec: byte layout of every message type (see
 * docs/protocol.md). Decoding walks the payload with a bounds-checked reader;
 * encoding appends big-endian fields to an hw_buf. Any thread.
 */
#include "frame.h"

#include <string.h>

#include "core/err.h"

struct reader {
    const uint8_t *p;
    size_t left;
    int bad;
};

static uint64_t rd_uint(struct reader *r, size_t n)
{
    uint64_t v = 0;

    if (r->bad || r->left < n) {
        r->bad = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | r->p[i];
    r->p += n;
    r->left -= n;
    return v;
}

static struct hw_str rd_bytes(struct reader *r, size_t lenbytes)
{
    struct hw_str s = { "", 0 };
    size_t n = (size_t)rd_uint(r, lenbytes);

    if (r->bad || r->left < n) {
        r->bad = 1;
        return s;
    }
    s.p = (const char *)r->p;
    s.len = n;
    r->p += n;
    r->left -= n;
    return s;
}

/* A payload decodes only if every byte was read and none was missing. */
static int rd_done(const struct reader *r)
{
    return r->bad || r->left ? HW_EPROTO : 0;
}

static void put_uint(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static int is_stream0_type(uint8_t type)
{
    return type == HW_FT_HELLO || type == HW_FT_PING || type == HW_FT_PONG || type == HW_FT_GOAWAY;
}

static int is_known_type(uint8_t type)
{
    return type >= HW_FT_HELLO && type <= HW_FT_GOAWAY;
}

/* Reads the header of msg (at least HW_FRAME_HDR_LEN bytes) into *f. */
static void read_header(const uint8_t *msg, struct hw_frame *f)
{
    f->type = msg[0];
    f->flags = msg[1];
    f->stream = (uint32_t)msg[4] << 24 | (uint32_t)msg[5] << 16 | (uint32_t)msg[6] << 8 | msg[7];
    f->payload = msg + HW_FRAME_HDR_LEN;
    f->len = hw_frame_payload_len(msg);
}

/* The rule a frame whose header is f, in a message of len bytes, breaks; NULL if none. */
static const char *rule_broken(const struct hw_frame *f, size_t len)
{
    if (f->len > HW_FRAME_MAX_PAYLOAD)
        return "a frame over the largest payload (1 MiB)";
    if ((size_t)f->len != len - HW_FRAME_HDR_LEN)
        return "a frame whose length field is not its payload's";
    if (!is_known_type(f->type))
        return NULL;
    if (is_stream0_type(f->type) && f->stream != 0)
        return "a connection message (HELLO, PING, PONG, GOAWAY) on a stream";
    if (!is_stream0_type(f->type) && f->stream == 0)
        return "a stream message on stream 0";
    if (f->type == HW_FT_DATA && f->len > HW_FRAME_MAX_DATA)
        return "DATA over 64 KiB";
    if (f->type == HW_FT_END && f->len != 0)
        return "END with a payload";
    return NULL;
}

const char *hw_frame_broken(const uint8_t *msg, size_t len)
{
    struct hw_frame f;

    if (len < HW_FRAME_HDR_LEN)
        return "a frame shorter than its header";
    read_header(msg, &f);
    return rule_broken(&f, len);
}

int hw_frame_decode(const uint8_t *msg, size_t len, struct hw_frame *f)
{
    if (len < HW_FRAME_HDR_LEN)
        return HW_EPROTO;
    read_header(msg, f);
    return rule_broken(f, len) ? HW_EPROTO : 0;
}

static void reader_init(struct reader *r, const struct hw_frame *f)
{
    r->p = f->payload;
    r->left = f->len;
    r->bad = 0;
}

int hw_frame_decode_hello(const struct hw_frame *f, struct hw_msg_hello *m)
{
    struct reader r;

    reader_init(&r, f);
    m->version = (uint8_t)rd_uint(&r, 1);
    m->heartbeat_s = (uint16_t)rd_uint(&r, 2);
    m->channel = rd_bytes(&r, 2);
    m->public_url = rd_bytes(&r, 2);
    return rd_done(&r);
}

int hw_frame_decode_request(const struct hw_frame *f, struct hw_msg_request *m)
{
    struct reader r;

    reader_init(&r, f);
    m->body_len = rd_uint(&r, 8);
    m->event_id = rd_bytes(&r, 2);
    m->method = rd_bytes(&r, 2);
    m->target = rd_bytes(&r, 2);
    m->headers = rd_bytes(&r, 4);
    if (!r.bad && (m->method.len == 0 || m->target.len == 0))
        return HW_EPROTO;
    return rd_done(&r);
}

/* Decodes a RESPONSE into *m; NULL, or the rule its payload breaks. */
static const char *response_rule(const struct hw_frame *f, struct hw_msg_response *m)
{
    struct reader r;

    reader_init(&r, f);
    m->status = (uint16_t)rd_uint(&r, 2);
    m->body_len = rd_uint(&r, 8);
    m->reason = rd_bytes(&r, 2);
    m->headers = rd_bytes(&r, 4);
    if (r.bad)
        return "a RESPONSE shorter than its fields";
    if (r.left)
        return "a RESPONSE with bytes after its header block";
    if (m->status < 100 || m->status > 999)
        return "a RESPONSE whose status is not three digits";
    return NULL;
}

int hw_frame_decode_response(const struct hw_frame *f, struct hw_msg_response *m)
{
    return response_rule(f, m) ? HW_EPROTO : 0;
}

const char *hw_frame_response_broken(const struct hw_frame *f)
{
    struct hw_msg_response m;

    return response_rule(f, &m);
}

int hw_frame_decode_window(const struct hw_frame *f, uint32_t *increment)
{
    struct reader r;

    reader_init(&r, f);
    *increment = (uint32_t)rd_uint(&r, 4);
    if (!r.bad && *increment == 0)
        return HW_EPROTO;
    return rd_done(&r);
}

int hw_frame_decode_reset(const struct hw_frame *f, struct hw_msg_reset *m)
{
    struct reader r;

    reader_init(&r, f);
    m->code = (uint16_t)rd_uint(&r, 2);
    m->text = rd_bytes(&r, 2);
    return rd_done(&r);
}

/* Appends the 12-byte header and returns where the payload starts, or NULL. */
static uint8_t *begin(struct hw_buf *out, uint8_t type, uint32_t stream, size_t plen, int *err)
{
    uint8_t *p;

    if (plen > HW_FRAME_MAX_PAYLOAD) {
        *err = HW_EINVAL;
        return NULL;
    }
    if (plen + HW_FRAME_HDR_LEN > out->max - hw_buf_size(out)) {
        *err = HW_E2BIG;
        return NULL;
    }
    p = (uint8_t *)hw_buf_reserve(out, HW_FRAME_HDR_LEN + plen);
    if (!p) {
        *err = HW_ENOMEM;
        return NULL;
    }
    p[0] = type;
    p[1] = 0;
    p[2] = p[3] = 0;
    put_uint(p + 4, stream, 4);
    put_uint(p + 8, plen, 4);
    hw_buf_commit(out, HW_FRAME_HDR_LEN + plen);
    return p + HW_FRAME_HDR_LEN;
}

static uint8_t *put_str(uint8_t *p, struct hw_str s, size_t lenbytes)
{
    put_uint(p, s.len, lenbytes);
    if (s.len)
        memcpy(p + lenbytes, s.p, s.len);
    return p + lenbytes + s.len;
}

int hw_frame_encode_hello(struct hw_buf *out, const struct hw_msg_hello *m)
{
    int err = 0;
    uint8_t *p;

    if (m->channel.len > 0xffff || m->public_url.len > 0xffff)
        return HW_EINVAL;
    p = begin(out, HW_FT_HELLO, 0, 1 + 2 + 2 + m->channel.len + 2 + m->public_url.len, &err);
    if (!p)
        return err;
    p[0] = m->version;
    put_uint(p + 1, m->heartbeat_s, 2);
    p = put_str(p + 3, m->channel, 2);
    put_str(p, m->public_url, 2);
    return 0;
}

int hw_frame_encode_request(struct hw_buf *out, uint32_t stream, const struct hw_msg_request *m)
{
    int err = 0;
    uint8_t *p;

    if (m->event_id.len > 0xffff || m->method.len > 0xffff || m->target.len > 0xffff ||
        m->headers.len > HW_FRAME_MAX_PAYLOAD || stream == 0)
        return HW_EINVAL;
    p = begin(out, HW_FT_REQUEST, stream,
              8 + 2 + m->event_id.len + 2 + m->method.len + 2 + m->target.len + 4 + m->headers.len,
              &err);
    if (!p)
        return err;
    put_uint(p, m->body_len, 8);
    p = put_str(p + 8, m->event_id, 2);
    p = put_str(p, m->method, 2);
    p = put_str(p, m->target, 2);
    put_str(p, m->headers, 4);
    return 0;
}

int hw_frame_encode_response(struct hw_buf *out, uint32_t stream, const struct hw_msg_response *m)
{
    int err = 0;
    uint8_t *p;

    if (m->reason.len > 0xffff || m->headers.len > HW_FRAME_MAX_PAYLOAD || stream == 0)
        return HW_EINVAL;
    p = begin(out, HW_FT_RESPONSE, stream, 2 + 8 + 2 + m->reason.len + 4 + m->headers.len, &err);
    if (!p)
        return err;
    put_uint(p, m->status, 2);
    put_uint(p + 2, m->body_len, 8);
    p = put_str(p + 10, m->reason, 2);
    put_str(p, m->headers, 4);
    return 0;
}

int hw_frame_encode_data(struct hw_buf *out, uint32_t stream, const void *data, size_t len)
{
    int err = 0;
    uint8_t *p;

    if (len > HW_FRAME_MAX_DATA || stream == 0)
        return HW_EINVAL;
    p = begin(out, HW_FT_DATA, stream, len, &err);
    if (!p)
        return err;
    if (len)
        memcpy(p, data, len);
    return 0;
}

int hw_frame_encode_end(struct hw_buf *out, uint32_t stream)
{
    int err = 0;

    if (stream == 0)
        return HW_EINVAL;
    return begin(out, HW_FT_END, stream, 0, &err) ? 0 : err;
}

int hw_frame_encode_window(struct hw_buf *out, uint32_t stream, uint32_t increment)
{
    int err = 0;
    uint8_t *p;

    if (stream == 0 || increment == 0)
        return HW_EINVAL;
    p = begin(out, HW_FT_WINDOW, stream, 4, &err);
    if (!p)
        return err;
    put_uint(p, increment, 4);
    return 0;
}

int hw_frame_encode_reset(struct hw_buf *out, uint32_t stream, const struct hw_msg_reset *m)
{
    int err = 0;
    uint8_t *p;

    if (stream == 0 || m->text.len > 0xffff)
        return HW_EINVAL;
    p = begin(out, HW_FT_RESET, stream, 2 + 2 + m->text.len, &err);
    if (!p)
        return err;
    put_uint(p, m->code, 2);
    put_str(p + 2, m->text, 2);
    return 0;
}

int hw_frame_encode_control(struct hw_buf *out, uint8_t type, const void *data, size_t len)
{
    int err = 0;
    uint8_t *p;

    if (type != HW_FT_PING && type != HW_FT_PONG && type != HW_FT_GOAWAY)
        return HW_EINVAL;
    p = begin(out, type, 0, len, &err);
    if (!p)
        return err;
    if (len)
        memcpy(p, data, len);
    return 0;
}

const char *hw_frame_type_name(uint8_t type)
{
    static const char *const names[] = { "UNKNOWN", "HELLO", "REQUEST", "RESPONSE", "DATA",  "END",
                                         "WINDOW",  "RESET", "PING",    "PONG",     "GOAWAY" };

    return is_known_type(type) ? names[type] : names[0];
}
