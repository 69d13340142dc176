/*
 * libFuzzer target for common/tunnel/frame.c, mux.c and mux_send.c. The whole
 * input is decoded as one tunnel message by the header decoder and every typed
 * decoder; valid heads, resets and windows must re-encode to the same bytes.
 * The input is then read as a script of length-prefixed messages fed to an
 * agent-role and a relay-role mux, with callbacks that consume, answer, close
 * and reset as the input decides, while all output is pulled and checked:
 * every message well-formed, no DATA beyond the credit given. Nothing may
 * crash or leak. Single-threaded, like libFuzzer's calls.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "fuzz_check.h"
#include "tunnel/frame.h"
#include "tunnel/mux.h"

#define HEADROOM    16
#define BODY_CAP    (128 * 1024)
#define MAX_SLOTS   16
#define MAX_TRACKED 64 /* stream ids whose credit is tracked */
#define MAX_OPENED  8  /* relay streams the script may open per input */

/* ---- codec ---- */

static int in_payload(struct hw_str s, const struct hw_frame *f)
{
    const uint8_t *p = (const uint8_t *)s.p;

    return s.len == 0 ||
           (p >= f->payload && s.len <= f->len && (size_t)(p - f->payload) <= f->len - s.len);
}

/*
 * Re-encoding a decoded message must give back the input: same type, stream
 * and payload, with flags and reserved bytes written as zero.
 */
static void check_same(const struct hw_buf *b, const uint8_t *msg, size_t len)
{
    const uint8_t *e = (const uint8_t *)hw_buf_head(b);

    FUZZ_CHECK(hw_buf_size(b) == len);
    FUZZ_CHECK(e[0] == msg[0]);
    FUZZ_CHECK(e[1] == 0 && e[2] == 0 && e[3] == 0);
    FUZZ_CHECK(memcmp(e + 4, msg + 4, len - 4) == 0);
}

static void fuzz_codec(const uint8_t *data, size_t size)
{
    uint8_t *msg = malloc(size ? size : 1);
    struct hw_msg_hello hello;
    struct hw_msg_request req;
    struct hw_msg_response resp;
    struct hw_msg_reset rst;
    struct hw_frame f;
    struct hw_buf b;
    uint32_t inc;
    int rc_hello, rc_req, rc_resp, rc_window, rc_rst;

    FUZZ_CHECK(msg != NULL);
    memcpy(msg, data, size);
    if (hw_frame_decode(msg, size, &f) != 0) {
        free(msg);
        return;
    }
    FUZZ_CHECK(size >= HW_FRAME_HDR_LEN && f.len == size - HW_FRAME_HDR_LEN);
    FUZZ_CHECK(f.payload == msg + HW_FRAME_HDR_LEN);
    FUZZ_CHECK(f.len <= HW_FRAME_MAX_PAYLOAD);
    FUZZ_CHECK(f.type == msg[0] && f.flags == msg[1]);
    (void)hw_frame_type_name(f.type);

    /* Every typed decoder runs on every message, whatever its type. */
    rc_hello = hw_frame_decode_hello(&f, &hello);
    rc_req = hw_frame_decode_request(&f, &req);
    rc_resp = hw_frame_decode_response(&f, &resp);
    rc_window = hw_frame_decode_window(&f, &inc);
    rc_rst = hw_frame_decode_reset(&f, &rst);
    FUZZ_CHECK(rc_hello == 0 || rc_hello == HW_EPROTO);
    FUZZ_CHECK(rc_req == 0 || rc_req == HW_EPROTO);
    FUZZ_CHECK(rc_resp == 0 || rc_resp == HW_EPROTO);
    FUZZ_CHECK(rc_window == 0 || rc_window == HW_EPROTO);
    FUZZ_CHECK(rc_rst == 0 || rc_rst == HW_EPROTO);
    if (rc_hello == 0)
        FUZZ_CHECK(in_payload(hello.channel, &f) && in_payload(hello.public_url, &f));
    if (rc_req == 0) {
        FUZZ_CHECK(req.method.len > 0 && req.target.len > 0);
        FUZZ_CHECK(in_payload(req.event_id, &f) && in_payload(req.method, &f) &&
                   in_payload(req.target, &f) && in_payload(req.headers, &f));
    }
    if (rc_resp == 0) {
        FUZZ_CHECK(resp.status >= 100 && resp.status <= 999);
        FUZZ_CHECK(in_payload(resp.reason, &f) && in_payload(resp.headers, &f));
    }
    if (rc_window == 0)
        FUZZ_CHECK(inc != 0 && f.len == 4);
    if (rc_rst == 0)
        FUZZ_CHECK(in_payload(rst.text, &f));

    /* Round trip: a valid message of a known type encodes back to the same bytes. */
    hw_buf_init(&b, HW_FRAME_HDR_LEN + HW_FRAME_MAX_PAYLOAD);
    switch (f.type) {
    case HW_FT_HELLO:
        if (rc_hello == 0) {
            FUZZ_CHECK(hw_frame_encode_hello(&b, &hello) == 0);
            check_same(&b, msg, size);
        }
        break;
    case HW_FT_REQUEST:
        if (rc_req == 0) {
            FUZZ_CHECK(hw_frame_encode_request(&b, f.stream, &req) == 0);
            check_same(&b, msg, size);
        }
        break;
    case HW_FT_RESPONSE:
        if (rc_resp == 0) {
            FUZZ_CHECK(hw_frame_encode_response(&b, f.stream, &resp) == 0);
            check_same(&b, msg, size);
        }
        break;
    case HW_FT_WINDOW:
        if (rc_window == 0) {
            FUZZ_CHECK(hw_frame_encode_window(&b, f.stream, inc) == 0);
            check_same(&b, msg, size);
        }
        break;
    case HW_FT_RESET:
        if (rc_rst == 0) {
            FUZZ_CHECK(hw_frame_encode_reset(&b, f.stream, &rst) == 0);
            check_same(&b, msg, size);
        }
        break;
    case HW_FT_DATA:
        FUZZ_CHECK(hw_frame_encode_data(&b, f.stream, f.payload, f.len) == 0);
        check_same(&b, msg, size);
        break;
    case HW_FT_END:
        FUZZ_CHECK(hw_frame_encode_end(&b, f.stream) == 0);
        check_same(&b, msg, size);
        break;
    case HW_FT_PING:
    case HW_FT_PONG:
    case HW_FT_GOAWAY:
        FUZZ_CHECK(hw_frame_encode_control(&b, f.type, f.payload, f.len) == 0);
        check_same(&b, msg, size);
        break;
    default:
        break;
    }
    hw_buf_cleanup(&b);
    free(msg);
}

/* ---- mux ---- */

/* A stream the harness may still act on; the mux's user pointer points at its slot. */
struct slot {
    struct hw_mux_stream *s;
    int ended; /* the program queued END: it sends no more body */
};

struct side {
    struct hw_mux *mux;
    int dead; /* hw_mux_receive() failed: the program would close the tunnel */
    struct slot slots[MAX_SLOTS];
    int64_t credit[MAX_TRACKED]; /* DATA bytes this side may still send, by stream id */
    uint8_t ended[MAX_TRACKED];  /* this side sent END on the stream */
    size_t opened;
};

static struct side agent, relay;

/* Decisions the callbacks make come from the input, cycling through it. */
static const uint8_t *knobs;
static size_t nknobs, knob_pos;

static uint8_t knob(void)
{
    if (!nknobs)
        return 0;
    return knobs[knob_pos++ % nknobs];
}

static struct side *side_of(struct hw_mux *m)
{
    return hw_mux_user(m);
}

static struct slot *slot_new(struct side *sd, struct hw_mux_stream *s)
{
    for (size_t i = 0; i < MAX_SLOTS; i++)
        if (!sd->slots[i].s) {
            sd->slots[i].s = s;
            sd->slots[i].ended = 0;
            hw_mux_stream_set_user(s, &sd->slots[i]);
            return &sd->slots[i];
        }
    return NULL;
}

/* Forgets a stream the harness is about to give up (close or reset). */
static void slot_drop(struct hw_mux_stream *s)
{
    struct slot *sl = hw_mux_stream_user(s);

    FUZZ_CHECK(sl != NULL && sl->s == s);
    sl->s = NULL;
}

static struct hw_str str(const char *s)
{
    struct hw_str v = { s, strlen(s) };

    return v;
}

static void send_some_body(struct hw_mux_stream *s, size_t n)
{
    static uint8_t bytes[BODY_CAP];
    size_t room = hw_mux_send_room(s);

    if (n > room)
        n = room;
    if (n)
        FUZZ_CHECK(hw_mux_send_body(s, bytes, n) == 0);
}

/*
 * One action of the program on a stream it still holds: consume, send body,
 * end, close or reset.
 */
static void act(struct hw_mux_stream *s, uint8_t k)
{
    struct slot *sl = hw_mux_stream_user(s);

    switch (k % 8) {
    case 0:
        hw_mux_consumed(s, (size_t)knob() << 10);
        break;
    case 1:
        if (!sl->ended)
            send_some_body(s, (size_t)knob() * 97);
        break;
    case 2:
        hw_mux_want_drain(s);
        if (!sl->ended)
            (void)hw_mux_send_body(s, "x", 1);
        break;
    case 3:
        FUZZ_CHECK(hw_mux_send_end(s) == 0);
        sl->ended = 1;
        break;
    case 4:
        slot_drop(s);
        hw_mux_stream_close(s);
        break;
    case 5:
        slot_drop(s);
        hw_mux_stream_reset(s, (uint16_t)(knob() % 8), "fuzz");
        break;
    case 6: {
        struct hw_buf b;
        size_t n = (size_t)knob() * 131;

        if (sl->ended)
            break;
        hw_buf_init(&b, BODY_CAP);
        if (n) {
            FUZZ_CHECK(hw_buf_reserve(&b, n) != NULL);
            memset(hw_buf_head(&b), 'b', n);
            hw_buf_commit(&b, n);
        }
        (void)hw_mux_send_body_buf(s, &b);
        hw_buf_cleanup(&b);
        break;
    }
    default:
        break;
    }
}

static void cb_head(struct hw_mux *m, struct hw_mux_stream *s, const struct hw_frame *f)
{
    struct side *sd = side_of(m);

    FUZZ_CHECK(f->stream == hw_mux_stream_id(s));
    if (sd == &agent) {
        struct hw_msg_response resp = { 200, HW_BODY_LEN_UNKNOWN, str("OK"), str("A:b\r\n") };
        struct hw_msg_request req;

        FUZZ_CHECK(hw_mux_stream_user(s) == NULL);
        if (hw_frame_decode_request(f, &req) != 0) {
            hw_mux_stream_reset(s, HW_RST_PROTOCOL, "malformed request head");
            return;
        }
        if (!slot_new(sd, s)) {
            hw_mux_stream_reset(s, HW_RST_TARGET_ERROR, "busy");
            return;
        }
        if (knob() & 1)
            FUZZ_CHECK(hw_mux_send_response(s, &resp) == 0);
    } else {
        FUZZ_CHECK(hw_mux_stream_user(s) != NULL);
    }
    act(s, knob());
}

static void cb_data(struct hw_mux *m, struct hw_mux_stream *s, const uint8_t *p, size_t n)
{
    FUZZ_CHECK(n > 0 && n <= HW_FRAME_MAX_DATA);
    FUZZ_CHECK(hw_mux_stream_user(s) != NULL);
    if (knob() & 1)
        hw_mux_consumed(s, n);
    else
        act(s, knob());
}

static void cb_end(struct hw_mux *m, struct hw_mux_stream *s)
{
    FUZZ_CHECK(hw_mux_stream_user(s) != NULL);
    act(s, knob());
}

static void cb_reset(struct hw_mux *m, struct hw_mux_stream *s, uint16_t code, const char *text,
                     size_t len)
{
    struct slot *sl = hw_mux_stream_user(s);

    FUZZ_CHECK(len == 0 || text != NULL);
    FUZZ_CHECK(sl != NULL && sl->s == s);
    sl->s = NULL; /* the mux frees the stream when this returns */
}

static void cb_drain(struct hw_mux *m, struct hw_mux_stream *s)
{
    struct slot *sl = hw_mux_stream_user(s);

    /* A stream the program closed with its END queued has no user any more. */
    if (sl && !sl->ended)
        send_some_body(s, (size_t)knob() * 257);
}

static void cb_control(struct hw_mux *m, const struct hw_frame *f)
{
    FUZZ_CHECK(f->stream == 0);
    FUZZ_CHECK(f->type == HW_FT_HELLO || f->type == HW_FT_GOAWAY);
}

static void cb_want_write(struct hw_mux *m)
{
}

static const struct hw_mux_callbacks callbacks = {
    .on_head = cb_head,
    .on_data = cb_data,
    .on_end = cb_end,
    .on_reset = cb_reset,
    .on_drain = cb_drain,
    .on_control = cb_control,
    .want_write = cb_want_write,
};

static void side_init(struct side *sd, enum hw_mux_role role)
{
    memset(sd, 0, sizeof(*sd));
    for (size_t i = 0; i < MAX_TRACKED; i++)
        sd->credit[i] = HW_WINDOW_INITIAL;
    sd->mux = hw_mux_new(role, &callbacks, HEADROOM, BODY_CAP, sd);
    FUZZ_CHECK(sd->mux != NULL);
}

/*
 * Everything a mux sends must decode, DATA never exceeds the credit it was
 * given, and nothing of a body follows its END.
 */
static void pull_all(struct side *sd)
{
    uint8_t *msg;
    size_t len;
    int n = 0;

    while (hw_mux_pull(sd->mux, &msg, &len)) {
        struct hw_frame f;

        FUZZ_CHECK(++n < 100000);
        memset(msg - HEADROOM, 0, HEADROOM);
        FUZZ_CHECK(hw_frame_decode(msg, len, &f) == 0);
        if ((f.type == HW_FT_DATA || f.type == HW_FT_END) && f.stream < MAX_TRACKED) {
            FUZZ_CHECK(!sd->ended[f.stream]);
            sd->ended[f.stream] = f.type == HW_FT_END;
        }
        if (f.type == HW_FT_DATA && f.stream < MAX_TRACKED) {
            sd->credit[f.stream] -= f.len;
            FUZZ_CHECK(sd->credit[f.stream] >= 0);
        }
        if (f.type == HW_FT_REQUEST) {
            struct hw_msg_request r;
            FUZZ_CHECK(sd == &relay && hw_frame_decode_request(&f, &r) == 0);
        }
        if (f.type == HW_FT_RESPONSE) {
            struct hw_msg_response r;
            FUZZ_CHECK(sd == &agent && hw_frame_decode_response(&f, &r) == 0);
        }
        if (f.type == HW_FT_WINDOW) {
            uint32_t inc;
            FUZZ_CHECK(hw_frame_decode_window(&f, &inc) == 0);
        }
    }
    FUZZ_CHECK(!hw_mux_pending(sd->mux));
}

static void feed(struct side *sd, const uint8_t *msg, size_t len)
{
    struct hw_frame f;
    uint8_t *copy;
    int rc;

    if (sd->dead)
        return;
    copy = malloc(len ? len : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, msg, len);
    rc = hw_mux_receive(sd->mux, copy, len);
    FUZZ_CHECK(rc == 0 || rc == HW_EPROTO);
    if (rc)
        sd->dead = 1;
    /* Credit granted by the peer, as far as this harness can tell. */
    else if (hw_frame_decode(copy, len, &f) == 0 && f.type == HW_FT_WINDOW &&
             f.stream < MAX_TRACKED) {
        uint32_t inc;
        if (hw_frame_decode_window(&f, &inc) == 0)
            sd->credit[f.stream] += inc;
    }
    free(copy);
}

static void relay_open(struct side *sd, uint8_t k)
{
    struct hw_msg_request req = { 0, str("evt_fuzz"), str("POST"), str("/hook"), str("") };
    struct hw_mux_stream *s;
    struct slot *sl;

    if (sd->opened >= MAX_OPENED)
        return;
    s = hw_mux_stream_open(sd->mux, NULL);
    FUZZ_CHECK(s != NULL);
    sd->opened++;
    sl = slot_new(sd, s);
    if (!sl) {
        hw_mux_stream_close(s);
        return;
    }
    FUZZ_CHECK(hw_mux_send_request(s, &req) == 0);
    send_some_body(s, (size_t)k * 1031);
    if (k & 1) {
        FUZZ_CHECK(hw_mux_send_end(s) == 0);
        sl->ended = 1;
    }
}

/* One step of the script: an action by the program on one side. */
static void program_step(struct side *sd, uint8_t op)
{
    struct slot *sl = &sd->slots[(op >> 4) % MAX_SLOTS];

    switch ((op >> 1) & 7) {
    case 1:
        pull_all(sd);
        break;
    case 2:
        if (sd == &relay)
            relay_open(sd, knob());
        break;
    case 3:
    case 4:
        if (sl->s)
            act(sl->s, knob());
        break;
    case 5:
        (void)hw_mux_send_control(sd->mux, HW_FT_PING, &op, 1);
        break;
    case 6:
        if (sd == &relay) {
            struct hw_msg_hello h = { HW_PROTO_VERSION, 30, str("alice"), str("https://r/") };
            FUZZ_CHECK(hw_mux_send_hello(sd->mux, &h) == 0);
        }
        break;
    default:
        break;
    }
}

/*
 * The script: records of [op][len16][len bytes of message]. Bit 0 of op picks
 * the side, bit 7 patches the header's length field to match, the other bits
 * pick a program action after the message.
 */
static void fuzz_mux(const uint8_t *data, size_t size)
{
    size_t pos = 0;

    knobs = data;
    nknobs = size;
    knob_pos = size / 2;
    side_init(&agent, HW_MUX_AGENT);
    side_init(&relay, HW_MUX_RELAY);
    while (pos + 3 <= size) {
        uint8_t op = data[pos];
        size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];
        struct side *sd = op & 1 ? &relay : &agent;
        uint8_t *msg;

        pos += 3;
        if (len > size - pos)
            len = size - pos;
        msg = malloc(len ? len : 1);
        FUZZ_CHECK(msg != NULL);
        memcpy(msg, data + pos, len);
        pos += len;
        if ((op & 0x80) && len >= HW_FRAME_HDR_LEN) {
            uint32_t plen = (uint32_t)(len - HW_FRAME_HDR_LEN);
            msg[8] = (uint8_t)(plen >> 24);
            msg[9] = (uint8_t)(plen >> 16);
            msg[10] = (uint8_t)(plen >> 8);
            msg[11] = (uint8_t)plen;
        }
        if (len)
            feed(sd, msg, len);
        free(msg);
        program_step(sd, op);
    }
    pull_all(&agent);
    pull_all(&relay);
    FUZZ_CHECK(hw_mux_stream_count(relay.mux) <= MAX_OPENED);
    hw_mux_free(agent.mux);
    hw_mux_free(relay.mux);
    /* Every stream the program still held was reported as lost. */
    for (size_t i = 0; i < MAX_SLOTS; i++) {
        FUZZ_CHECK(agent.slots[i].s == NULL);
        FUZZ_CHECK(relay.slots[i].s == NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_codec(data, size);
    fuzz_mux(data, size);
    return 0;
}
