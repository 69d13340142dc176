/*
 * Unit tests for common/tunnel/frame.c: every message type encoded and decoded back
 * field by field, the exact big-endian byte layout of each kind, every
 * rejection the header and payload decoders promise (short, mismatched,
 * oversized, misplaced, truncated at each byte, trailing bytes, bad values),
 * unknown types passing through, and encoders refusing fields that do not fit
 * their wire size. Single-threaded.
 */
#include "tunnel/frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"

#define OUT_MAX (4u * 1024 * 1024)

static struct hw_str str(const char *s)
{
    struct hw_str v = { s, strlen(s) };

    return v;
}

static void check_hstr(struct hw_str v, const char *want)
{
    CHECK_EQ(v.len, strlen(want));
    CHECK_MEM(v.p, want, v.len);
}

/* A heap copy of exactly n bytes, so that a sanitizer build reports any over-read. */
static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);

    CHECK(copy != NULL);
    if (n)
        memcpy(copy, p, n);
    return copy;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes a 12-byte header by hand, independently of the encoder. */
static void put_hdr(uint8_t *p, uint8_t type, uint32_t stream, uint32_t len)
{
    p[0] = type;
    p[1] = p[2] = p[3] = 0;
    put32(p + 4, stream);
    put32(p + 8, len);
}

/* Builds a message of any type and payload size in an exact-size heap buffer. */
static uint8_t *make_msg(uint8_t type, uint32_t stream, const void *payload, size_t plen)
{
    uint8_t *m = malloc(HW_FRAME_HDR_LEN + plen);

    CHECK(m != NULL);
    put_hdr(m, type, stream, (uint32_t)plen);
    if (plen)
        memcpy(m + HW_FRAME_HDR_LEN, payload, plen);
    return m;
}

static int decode_raw(uint8_t type, uint32_t stream, const void *payload, size_t plen)
{
    uint8_t *m = make_msg(type, stream, payload, plen);
    struct hw_frame f;
    int rc = hw_frame_decode(m, HW_FRAME_HDR_LEN + plen, &f);

    free(m);
    return rc;
}

/* Decodes the only message in b and checks its header fields. */
static void decode_one(const struct hw_buf *b, uint8_t type, uint32_t stream, size_t plen,
                       struct hw_frame *f)
{
    CHECK_EQ(hw_buf_size(b), HW_FRAME_HDR_LEN + plen);
    CHECK_EQ(hw_frame_decode((const uint8_t *)hw_buf_head(b), hw_buf_size(b), f), 0);
    CHECK_EQ(f->type, type);
    CHECK_EQ(f->flags, 0);
    CHECK_EQ(f->stream, stream);
    CHECK_EQ(f->len, plen);
    CHECK(f->payload == (const uint8_t *)hw_buf_head(b) + HW_FRAME_HDR_LEN);
}

static void check_bytes(const struct hw_buf *b, const uint8_t *want, size_t n)
{
    CHECK_EQ(hw_buf_size(b), n);
    CHECK_MEM(hw_buf_head(b), want, n);
}

static void test_hello_round_trip(void)
{
    struct hw_msg_hello h = { HW_PROTO_VERSION, 25, str("alice"),
                              str("https://relay.example.com/c/alice") };
    struct hw_msg_hello d;
    struct hw_frame f;
    struct hw_buf b;

    hw_buf_init(&b, OUT_MAX);
    CHECK_EQ(hw_frame_encode_hello(&b, &h), 0);
    decode_one(&b, HW_FT_HELLO, 0, 1 + 2 + 2 + 5 + 2 + 33, &f);
    memset(&d, 0xa5, sizeof(d));
    CHECK_EQ(hw_frame_decode_hello(&f, &d), 0);
    CHECK_EQ(d.version, HW_PROTO_VERSION);
    CHECK_EQ(d.heartbeat_s, 25);
    check_hstr(d.channel, "alice");
    check_hstr(d.public_url, "https://relay.example.com/c/alice");
    hw_buf_cleanup(&b);

    /* Empty strings and the largest values survive too. */
    h = (struct hw_msg_hello){ 255, 65535, str(""), str("") };
    CHECK_EQ(hw_frame_encode_hello(&b, &h), 0);
    decode_one(&b, HW_FT_HELLO, 0, 7, &f);
    CHECK_EQ(hw_frame_decode_hello(&f, &d), 0);
    CHECK_EQ(d.version, 255);
    CHECK_EQ(d.heartbeat_s, 65535);
    CHECK_EQ(d.channel.len, 0);
    CHECK_EQ(d.public_url.len, 0);
    hw_buf_cleanup(&b);
}

static void test_request_round_trip(void)
{
    const char *headers = "Host:example.com\r\nContent-Type:application/json\r\n"
                          "Stripe-Signature:t=1,v1=abc\r\n";
    struct hw_msg_request r = { 1234567890123ull, str("evt_01HZX3Y9T2ABCDEFGHJKMNPQRS"),
                                str("POST"), str("/hooks/stripe?x=1"), str(headers) };
    struct hw_msg_request d;
    struct hw_frame f;
    struct hw_buf b;

    hw_buf_init(&b, OUT_MAX);
    CHECK_EQ(hw_frame_encode_request(&b, 0xfedcba98u, &r), 0);
    decode_one(&b, HW_FT_REQUEST, 0xfedcba98u, 8 + 2 + 30 + 2 + 4 + 2 + 17 + 4 + strlen(headers),
               &f);
    memset(&d, 0xa5, sizeof(d));
    CHECK_EQ(hw_frame_decode_request(&f, &d), 0);
    CHECK_EQ(d.body_len, 1234567890123ull);
    check_hstr(d.event_id, "evt_01HZX3Y9T2ABCDEFGHJKMNPQRS");
    check_hstr(d.method, "POST");
    check_hstr(d.target, "/hooks/stripe?x=1");
    check_hstr(d.headers, headers);
    hw_buf_cleanup(&b);

    /* No event id, no headers, a body of unknown length. */
    r = (struct hw_msg_request){ HW_BODY_LEN_UNKNOWN, str(""), str("GET"), str("/"), str("") };
    CHECK_EQ(hw_frame_encode_request(&b, 1, &r), 0);
    decode_one(&b, HW_FT_REQUEST, 1, 8 + 2 + 2 + 3 + 2 + 1 + 4, &f);
    CHECK_EQ(hw_frame_decode_request(&f, &d), 0);
    CHECK(d.body_len == HW_BODY_LEN_UNKNOWN);
    CHECK_EQ(d.event_id.len, 0);
    check_hstr(d.method, "GET");
    check_hstr(d.target, "/");
    CHECK_EQ(d.headers.len, 0);
    hw_buf_cleanup(&b);
}

static void test_response_round_trip(void)
{
    struct hw_msg_response r = { 201, 17, str("Created"), str("Content-Type:text/plain\r\n") };
    struct hw_msg_response d;
    struct hw_frame f;
    struct hw_buf b;

    hw_buf_init(&b, OUT_MAX);
    CHECK_EQ(hw_frame_encode_response(&b, 42, &r), 0);
    decode_one(&b, HW_FT_RESPONSE, 42, 2 + 8 + 2 + 7 + 4 + 25, &f);
    memset(&d, 0xa5, sizeof(d));
    CHECK_EQ(hw_frame_decode_response(&f, &d), 0);
    CHECK_EQ(d.status, 201);
    CHECK_EQ(d.body_len, 17);
    check_hstr(d.reason, "Created");
    check_hstr(d.headers, "Content-Type:text/plain\r\n");
    hw_buf_cleanup(&b);

    r = (struct hw_msg_response){ 999, HW_BODY_LEN_UNKNOWN, str(""), str("") };
    CHECK_EQ(hw_frame_encode_response(&b, 0xffffffffu, &r), 0);
    decode_one(&b, HW_FT_RESPONSE, 0xffffffffu, 16, &f);
    CHECK_EQ(hw_frame_decode_response(&f, &d), 0);
    CHECK_EQ(d.status, 999);
    CHECK(d.body_len == HW_BODY_LEN_UNKNOWN);
    CHECK_EQ(d.reason.len, 0);
    CHECK_EQ(d.headers.len, 0);
    hw_buf_cleanup(&b);
}

static void test_data_round_trip(void)
{
    uint8_t *big = malloc(HW_FRAME_MAX_DATA);
    struct hw_frame f;
    struct hw_buf b;

    CHECK(big != NULL);
    for (size_t i = 0; i < HW_FRAME_MAX_DATA; i++)
        big[i] = (uint8_t)(i * 7 + i / 256);
    hw_buf_init(&b, OUT_MAX);

    CHECK_EQ(hw_frame_encode_data(&b, 3, "", 0), 0);
    decode_one(&b, HW_FT_DATA, 3, 0, &f);
    hw_buf_cleanup(&b);

    CHECK_EQ(hw_frame_encode_data(&b, 3, "x", 1), 0);
    decode_one(&b, HW_FT_DATA, 3, 1, &f);
    CHECK_EQ(f.payload[0], 'x');
    hw_buf_cleanup(&b);

    CHECK_EQ(hw_frame_encode_data(&b, 0x80000001u, big, HW_FRAME_MAX_DATA), 0);
    decode_one(&b, HW_FT_DATA, 0x80000001u, HW_FRAME_MAX_DATA, &f);
    CHECK_MEM(f.payload, big, HW_FRAME_MAX_DATA);
    /* 65536 is 00 01 00 00 in the length field. */
    CHECK_MEM(hw_buf_head(&b) + 8, "\x00\x01\x00\x00", 4);
    hw_buf_cleanup(&b);
    free(big);
}

static void test_end_window_reset_round_trip(void)
{
    struct hw_msg_reset r = { HW_RST_TARGET_ERROR, str("connection reset by peer") }, d;
    struct hw_frame f;
    struct hw_buf b;
    uint32_t inc;

    hw_buf_init(&b, OUT_MAX);
    CHECK_EQ(hw_frame_encode_end(&b, 77), 0);
    decode_one(&b, HW_FT_END, 77, 0, &f);
    hw_buf_cleanup(&b);

    CHECK_EQ(hw_frame_encode_window(&b, 78, 0xdeadbeefu), 0);
    decode_one(&b, HW_FT_WINDOW, 78, 4, &f);
    inc = 0;
    CHECK_EQ(hw_frame_decode_window(&f, &inc), 0);
    CHECK_EQ(inc, 0xdeadbeefu);
    hw_buf_cleanup(&b);

    CHECK_EQ(hw_frame_encode_window(&b, 78, 1), 0);
    decode_one(&b, HW_FT_WINDOW, 78, 4, &f);
    CHECK_EQ(hw_frame_decode_window(&f, &inc), 0);
    CHECK_EQ(inc, 1);
    hw_buf_cleanup(&b);

    CHECK_EQ(hw_frame_encode_reset(&b, 79, &r), 0);
    decode_one(&b, HW_FT_RESET, 79, 2 + 2 + 24, &f);
    memset(&d, 0xa5, sizeof(d));
    CHECK_EQ(hw_frame_decode_reset(&f, &d), 0);
    CHECK_EQ(d.code, HW_RST_TARGET_ERROR);
    check_hstr(d.text, "connection reset by peer");
    hw_buf_cleanup(&b);

    r = (struct hw_msg_reset){ 0xfffe, str("") };
    CHECK_EQ(hw_frame_encode_reset(&b, 80, &r), 0);
    decode_one(&b, HW_FT_RESET, 80, 4, &f);
    CHECK_EQ(hw_frame_decode_reset(&f, &d), 0);
    CHECK_EQ(d.code, 0xfffe);
    CHECK_EQ(d.text.len, 0);
    hw_buf_cleanup(&b);
}

static void test_control_round_trip(void)
{
    static const uint8_t types[] = { HW_FT_PING, HW_FT_PONG, HW_FT_GOAWAY };
    const uint8_t stamp[8] = { 0, 0, 1, 0x8f, 0x12, 0x34, 0x56, 0x78 };
    struct hw_frame f;
    struct hw_buf b;

    hw_buf_init(&b, OUT_MAX);
    for (size_t i = 0; i < sizeof(types); i++) {
        CHECK_EQ(hw_frame_encode_control(&b, types[i], stamp, sizeof(stamp)), 0);
        decode_one(&b, types[i], 0, sizeof(stamp), &f);
        CHECK_MEM(f.payload, stamp, sizeof(stamp));
        hw_buf_cleanup(&b);

        CHECK_EQ(hw_frame_encode_control(&b, types[i], NULL, 0), 0);
        decode_one(&b, types[i], 0, 0, &f);
        hw_buf_cleanup(&b);
    }
}

/* Several messages appended to one buffer follow each other unchanged. */
static void test_messages_concatenate(void)
{
    struct hw_frame f;
    struct hw_buf b;
    const uint8_t *p;

    hw_buf_init(&b, OUT_MAX);
    CHECK_EQ(hw_frame_encode_data(&b, 1, "abc", 3), 0);
    CHECK_EQ(hw_frame_encode_end(&b, 1), 0);
    CHECK_EQ(hw_frame_encode_control(&b, HW_FT_PING, "p", 1), 0);
    CHECK_EQ(hw_buf_size(&b), 3 * HW_FRAME_HDR_LEN + 4);
    p = (const uint8_t *)hw_buf_head(&b);
    CHECK_EQ(hw_frame_decode(p, HW_FRAME_HDR_LEN + 3, &f), 0);
    CHECK_EQ(f.type, HW_FT_DATA);
    CHECK_MEM(f.payload, "abc", 3);
    p += HW_FRAME_HDR_LEN + 3;
    CHECK_EQ(hw_frame_decode(p, HW_FRAME_HDR_LEN, &f), 0);
    CHECK_EQ(f.type, HW_FT_END);
    CHECK_EQ(f.stream, 1);
    p += HW_FRAME_HDR_LEN;
    CHECK_EQ(hw_frame_decode(p, HW_FRAME_HDR_LEN + 1, &f), 0);
    CHECK_EQ(f.type, HW_FT_PING);
    CHECK_EQ(f.payload[0], 'p');
    hw_buf_cleanup(&b);
}

/* The wire layout written out by hand: header, then each field big-endian. */
static void test_byte_layout(void)
{
    static const uint8_t hello[] = { 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15,
                                     /* version, heartbeat 0x0a0b */
                                     0x01, 0x0a, 0x0b,
                                     /* channel */
                                     0x00, 0x02, 'a', 'b',
                                     /* public URL */
                                     0x00, 0x06, 'w', 's', ':', '/', '/', 'x' };
    static const uint8_t request[] = { 0x02, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0, 0, 0, 29,
                                       /* body length */
                                       0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                       /* event id */
                                       0x00, 0x02, 'e', '1',
                                       /* method */
                                       0x00, 0x03, 'G', 'E', 'T',
                                       /* target */
                                       0x00, 0x01, '/',
                                       /* headers, with a 32-bit length */
                                       0x00, 0x00, 0x00, 0x05, 'A', ':', 'b', '\r', '\n' };
    static const uint8_t response[] = { 0x03, 0, 0, 0, 0, 0, 0x01, 0x07, 0, 0, 0, 18,
                                        /* status 404 */
                                        0x01, 0x94,
                                        /* body length: unknown */
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        /* reason, headers */
                                        0x00, 0x02, 'N', 'o', 0x00, 0x00, 0x00, 0x00 };
    static const uint8_t data[] = { 0x04, 0, 0, 0, 0, 0, 0x01, 0x00, 0, 0, 0, 2, 'h', 'i' };
    static const uint8_t end[] = { 0x05, 0, 0, 0, 0x00, 0x00, 0x00, 0x05, 0, 0, 0, 0 };
    static const uint8_t window[] = { 0x06, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 4,
                                      /* increment */
                                      0x00, 0x01, 0x02, 0x03 };
    static const uint8_t reset[] = { 0x07, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 8,
                                     /* code, text */
                                     0x00, 0x04, 0x00, 0x04, 's', 'l', 'o', 'w' };
    static const uint8_t ping[] = { 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0x01, 0x02, 0x03 };
    static const uint8_t pong[] = { 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0x01, 0x02, 0x03 };
    static const uint8_t goaway[] = { 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 'b', 'y', 'e' };
    struct hw_msg_hello h = { 1, 0x0a0b, str("ab"), str("ws://x") };
    struct hw_msg_request rq = { 0x0102030405060708ull, str("e1"), str("GET"), str("/"),
                                 str("A:b\r\n") };
    struct hw_msg_response rs = { 404, HW_BODY_LEN_UNKNOWN, str("No"), str("") };
    struct hw_msg_reset rst = { HW_RST_TIMEOUT, str("slow") };
    struct hw_buf b;

    hw_buf_init(&b, OUT_MAX);
    CHECK_EQ(hw_frame_encode_hello(&b, &h), 0);
    check_bytes(&b, hello, sizeof(hello));
    hw_buf_reset(&b);
    CHECK_EQ(hw_frame_encode_request(&b, 0x01020304u, &rq), 0);
    check_bytes(&b, request, sizeof(request));
    hw_buf_reset(&b);
    CHECK_EQ(hw_frame_encode_response(&b, 0x0107, &rs), 0);
    check_bytes(&b, response, sizeof(response));
    hw_buf_reset(&b);
    CHECK_EQ(hw_frame_encode_data(&b, 0x100, "hi", 2), 0);
    check_bytes(&b, data, sizeof(data));
    hw_buf_reset(&b);
    CHECK_EQ(hw_frame_encode_end(&b, 5), 0);
    check_bytes(&b, end, sizeof(end));
    hw_buf_reset(&b);
    CHECK_EQ(hw_frame_encode_window(&b, 9, 0x00010203u), 0);
    check_bytes(&b, window, sizeof(window));
    hw_buf_reset(&b);
    CHECK_EQ(hw_frame_encode_reset(&b, 3, &rst), 0);
    check_bytes(&b, reset, sizeof(reset));
    hw_buf_reset(&b);
    CHECK_EQ(hw_frame_encode_control(&b, HW_FT_PING, "\x01\x02\x03", 3), 0);
    check_bytes(&b, ping, sizeof(ping));
    hw_buf_reset(&b);
    CHECK_EQ(hw_frame_encode_control(&b, HW_FT_PONG, "\x01\x02\x03", 3), 0);
    check_bytes(&b, pong, sizeof(pong));
    hw_buf_reset(&b);
    CHECK_EQ(hw_frame_encode_control(&b, HW_FT_GOAWAY, "bye", 3), 0);
    check_bytes(&b, goaway, sizeof(goaway));
    hw_buf_cleanup(&b);
}

static void test_decode_short_and_mismatched(void)
{
    uint8_t msg[HW_FRAME_HDR_LEN + 4];
    struct hw_frame f;

    put_hdr(msg, HW_FT_DATA, 1, 4);
    memcpy(msg + HW_FRAME_HDR_LEN, "abcd", 4);
    CHECK_EQ(hw_frame_decode(msg, sizeof(msg), &f), 0);

    /* Fewer bytes than a header, each from an exact-size copy. */
    for (size_t n = 0; n < HW_FRAME_HDR_LEN; n++) {
        uint8_t *m = dup_bytes(msg, n);
        CHECK_EQ(hw_frame_decode(m, n, &f), HW_EPROTO);
        free(m);
    }
    /* The length field must equal what follows the header, in both directions. */
    for (size_t n = HW_FRAME_HDR_LEN; n < sizeof(msg); n++)
        CHECK_EQ(hw_frame_decode(msg, n, &f), HW_EPROTO);
    CHECK_STR(hw_frame_broken(msg, HW_FRAME_HDR_LEN - 1), "a frame shorter than its header");
    put_hdr(msg, HW_FT_DATA, 1, 3);
    CHECK_EQ(hw_frame_decode(msg, sizeof(msg), &f), HW_EPROTO);
    CHECK_STR(hw_frame_broken(msg, sizeof(msg)), "a frame whose length field is not its payload's");
    put_hdr(msg, HW_FT_DATA, 1, 0x01000004u);
    CHECK_EQ(hw_frame_decode(msg, sizeof(msg), &f), HW_EPROTO);
    CHECK_STR(hw_frame_broken(msg, sizeof(msg)), "a frame over the largest payload (1 MiB)");
    put_hdr(msg, HW_FT_DATA, 0, 4);
    CHECK_STR(hw_frame_broken(msg, sizeof(msg)), "a stream message on stream 0");
    put_hdr(msg, HW_FT_DATA, 1, 4);
    CHECK(hw_frame_broken(msg, sizeof(msg)) == NULL);
    /* A header of an empty message is a whole message. */
    put_hdr(msg, HW_FT_END, 1, 0);
    CHECK_EQ(hw_frame_decode(msg, HW_FRAME_HDR_LEN, &f), 0);
    CHECK_EQ(f.len, 0);
}

static void test_decode_size_limits(void)
{
    uint8_t *payload = calloc(1, HW_FRAME_MAX_PAYLOAD + 1);

    CHECK(payload != NULL);
    CHECK_EQ(decode_raw(HW_FT_DATA, 1, payload, HW_FRAME_MAX_DATA), 0);
    CHECK_EQ(decode_raw(HW_FT_DATA, 1, payload, HW_FRAME_MAX_DATA + 1), HW_EPROTO);
    CHECK_EQ(decode_raw(HW_FT_DATA, 1, payload, HW_FRAME_MAX_PAYLOAD), HW_EPROTO);
    /* Other types may carry up to the payload limit, and no more. */
    CHECK_EQ(decode_raw(HW_FT_PING, 0, payload, HW_FRAME_MAX_PAYLOAD), 0);
    CHECK_EQ(decode_raw(HW_FT_PING, 0, payload, HW_FRAME_MAX_PAYLOAD + 1), HW_EPROTO);
    CHECK_EQ(decode_raw(HW_FT_REQUEST, 1, payload, HW_FRAME_MAX_PAYLOAD + 1), HW_EPROTO);
    CHECK_EQ(decode_raw(0x42, 1, payload, HW_FRAME_MAX_PAYLOAD + 1), HW_EPROTO);
    /* END has no payload at all. */
    CHECK_EQ(decode_raw(HW_FT_END, 1, payload, 0), 0);
    CHECK_EQ(decode_raw(HW_FT_END, 1, payload, 1), HW_EPROTO);
    free(payload);
}

static void test_decode_stream_placement(void)
{
    static const uint8_t stream0[] = { HW_FT_HELLO, HW_FT_PING, HW_FT_PONG, HW_FT_GOAWAY };
    static const uint8_t streamed[] = { HW_FT_REQUEST, HW_FT_RESPONSE, HW_FT_DATA,
                                        HW_FT_END,     HW_FT_WINDOW,   HW_FT_RESET };

    for (size_t i = 0; i < sizeof(stream0); i++) {
        CHECK_EQ(decode_raw(stream0[i], 0, NULL, 0), 0);
        CHECK_EQ(decode_raw(stream0[i], 1, NULL, 0), HW_EPROTO);
        CHECK_EQ(decode_raw(stream0[i], 0x80000000u, NULL, 0), HW_EPROTO);
    }
    for (size_t i = 0; i < sizeof(streamed); i++) {
        CHECK_EQ(decode_raw(streamed[i], 1, NULL, 0), 0);
        CHECK_EQ(decode_raw(streamed[i], 0, NULL, 0), HW_EPROTO);
    }
}

/* Types this version does not know decode, on any stream, for the caller to skip. */
static void test_decode_unknown_types(void)
{
    static const uint8_t types[] = { 0, 11, 0x42, 0xff };
    struct hw_frame f;

    for (size_t i = 0; i < sizeof(types); i++) {
        uint8_t *m = make_msg(types[i], 0, "future", 6);

        CHECK_EQ(hw_frame_decode(m, HW_FRAME_HDR_LEN + 6, &f), 0);
        CHECK_EQ(f.type, types[i]);
        CHECK_EQ(f.stream, 0);
        CHECK_EQ(f.len, 6);
        CHECK(f.payload == m + HW_FRAME_HDR_LEN);
        free(m);
        m = make_msg(types[i], 12345, NULL, 0);
        CHECK_EQ(hw_frame_decode(m, HW_FRAME_HDR_LEN, &f), 0);
        CHECK_EQ(f.type, types[i]);
        CHECK_EQ(f.stream, 12345);
        free(m);
        CHECK_STR(hw_frame_type_name(types[i]), "UNKNOWN");
    }
    /* Flags are carried through for newer peers, not rejected. */
    {
        uint8_t m[HW_FRAME_HDR_LEN];

        put_hdr(m, HW_FT_END, 2, 0);
        m[1] = 0x80;
        CHECK_EQ(hw_frame_decode(m, sizeof(m), &f), 0);
        CHECK_EQ(f.flags, 0x80);
    }
}

static void test_type_names(void)
{
    CHECK_STR(hw_frame_type_name(HW_FT_HELLO), "HELLO");
    CHECK_STR(hw_frame_type_name(HW_FT_REQUEST), "REQUEST");
    CHECK_STR(hw_frame_type_name(HW_FT_RESPONSE), "RESPONSE");
    CHECK_STR(hw_frame_type_name(HW_FT_DATA), "DATA");
    CHECK_STR(hw_frame_type_name(HW_FT_END), "END");
    CHECK_STR(hw_frame_type_name(HW_FT_WINDOW), "WINDOW");
    CHECK_STR(hw_frame_type_name(HW_FT_RESET), "RESET");
    CHECK_STR(hw_frame_type_name(HW_FT_PING), "PING");
    CHECK_STR(hw_frame_type_name(HW_FT_PONG), "PONG");
    CHECK_STR(hw_frame_type_name(HW_FT_GOAWAY), "GOAWAY");
}

enum kind { K_HELLO, K_REQUEST, K_RESPONSE, K_WINDOW, K_RESET };

static int decode_kind(enum kind k, const struct hw_frame *f)
{
    struct hw_msg_hello h;
    struct hw_msg_request rq;
    struct hw_msg_response rs;
    struct hw_msg_reset rst;
    uint32_t inc;

    switch (k) {
    case K_HELLO:
        return hw_frame_decode_hello(f, &h);
    case K_REQUEST:
        return hw_frame_decode_request(f, &rq);
    case K_RESPONSE: {
        int rc = hw_frame_decode_response(f, &rs);

        /* The rule for the log is named exactly when the decoder refuses. */
        CHECK_EQ(rc != 0, hw_frame_response_broken(f) != NULL);
        return rc;
    }
    case K_WINDOW:
        return hw_frame_decode_window(f, &inc);
    case K_RESET:
        return hw_frame_decode_reset(f, &rst);
    }
    return -1;
}

/*
 * Re-frames the first cut payload bytes of the valid message in b (header
 * length patched, exact-size heap copy, plus extra trailing bytes) and runs
 * the typed decoder on it.
 */
static int decode_cut(enum kind k, const struct hw_buf *b, size_t cut, size_t extra,
                      const char **rule)
{
    const uint8_t *src = (const uint8_t *)hw_buf_head(b);
    size_t n = HW_FRAME_HDR_LEN + cut + extra;
    uint8_t *m = malloc(n);
    struct hw_frame f;
    int rc;

    CHECK(m != NULL);
    memcpy(m, src, HW_FRAME_HDR_LEN + cut);
    memset(m + HW_FRAME_HDR_LEN + cut, 0, extra);
    put32(m + 8, (uint32_t)(cut + extra));
    CHECK_EQ(hw_frame_decode(m, n, &f), 0);
    rc = decode_kind(k, &f);
    if (rule)
        *rule = k == K_RESPONSE ? hw_frame_response_broken(&f) : NULL;
    free(m);
    return rc;
}

/* Every proper prefix of a valid payload and every payload with a byte more is rejected. */
static void check_cuts(enum kind k, const struct hw_buf *b)
{
    size_t plen = hw_buf_size(b) - HW_FRAME_HDR_LEN;

    CHECK_EQ(decode_cut(k, b, plen, 0, NULL), 0);
    for (size_t cut = 0; cut < plen; cut++)
        CHECK_EQ(decode_cut(k, b, cut, 0, NULL), HW_EPROTO);
    CHECK_EQ(decode_cut(k, b, plen, 1, NULL), HW_EPROTO);
    CHECK_EQ(decode_cut(k, b, plen, 7, NULL), HW_EPROTO);
}

static void test_truncated_and_trailing(void)
{
    struct hw_msg_hello h = { 1, 30, str("chan"), str("https://r.example/c/chan") };
    struct hw_msg_request rq = { 5, str("evt_1"), str("POST"), str("/p"), str("A:b\r\nC:d\r\n") };
    struct hw_msg_response rs = { 200, 2, str("OK"), str("X:y\r\n") };
    struct hw_msg_reset rst = { HW_RST_CANCEL, str("gone") };
    const char *rule;
    struct hw_buf b;

    hw_buf_init(&b, OUT_MAX);
    CHECK_EQ(hw_frame_encode_hello(&b, &h), 0);
    check_cuts(K_HELLO, &b);
    hw_buf_reset(&b);
    CHECK_EQ(hw_frame_encode_request(&b, 1, &rq), 0);
    check_cuts(K_REQUEST, &b);
    hw_buf_reset(&b);
    CHECK_EQ(hw_frame_encode_response(&b, 1, &rs), 0);
    check_cuts(K_RESPONSE, &b);
    CHECK_EQ(decode_cut(K_RESPONSE, &b, 11, 0, &rule), HW_EPROTO);
    CHECK(rule && strstr(rule, "shorter than its fields"));
    CHECK_EQ(decode_cut(K_RESPONSE, &b, hw_buf_size(&b) - HW_FRAME_HDR_LEN, 3, &rule), HW_EPROTO);
    CHECK(rule && strstr(rule, "bytes after"));
    hw_buf_reset(&b);
    CHECK_EQ(hw_frame_encode_window(&b, 1, 1000), 0);
    check_cuts(K_WINDOW, &b);
    hw_buf_reset(&b);
    CHECK_EQ(hw_frame_encode_reset(&b, 1, &rst), 0);
    check_cuts(K_RESET, &b);
    hw_buf_cleanup(&b);
}

/* A string length that points past the end of the payload is caught, not followed. */
static void test_lying_lengths(void)
{
    /* REQUEST whose headers length says 0xffffffff. */
    static const uint8_t req[] = { 0,    0,    0,   0,    0,    0,   0,    0,    0x00, 0x00,
                                   0x00, 0x01, 'G', 0x00, 0x01, '/', 0xff, 0xff, 0xff, 0xff };
    /* RESET whose text length says 0xffff. */
    static const uint8_t rst[] = { 0x00, 0x01, 0xff, 0xff, 'a' };
    struct hw_msg_request rq;
    struct hw_msg_reset rs;
    struct hw_frame f;
    uint8_t *m;

    m = make_msg(HW_FT_REQUEST, 1, req, sizeof(req));
    CHECK_EQ(hw_frame_decode(m, HW_FRAME_HDR_LEN + sizeof(req), &f), 0);
    CHECK_EQ(hw_frame_decode_request(&f, &rq), HW_EPROTO);
    free(m);
    m = make_msg(HW_FT_RESET, 1, rst, sizeof(rst));
    CHECK_EQ(hw_frame_decode(m, HW_FRAME_HDR_LEN + sizeof(rst), &f), 0);
    CHECK_EQ(hw_frame_decode_reset(&f, &rs), HW_EPROTO);
    free(m);
}

static int encode_decode_request(const char *method, const char *target)
{
    struct hw_msg_request r = { 0, str("e"), str(method), str(target), str("") }, d;
    struct hw_frame f;
    struct hw_buf b;
    int rc;

    hw_buf_init(&b, OUT_MAX);
    CHECK_EQ(hw_frame_encode_request(&b, 1, &r), 0);
    CHECK_EQ(hw_frame_decode((const uint8_t *)hw_buf_head(&b), hw_buf_size(&b), &f), 0);
    rc = hw_frame_decode_request(&f, &d);
    hw_buf_cleanup(&b);
    return rc;
}

static int encode_decode_status(uint16_t status)
{
    struct hw_msg_response r = { status, 0, str(""), str("") }, d;
    struct hw_frame f;
    struct hw_buf b;
    int rc;

    hw_buf_init(&b, OUT_MAX);
    CHECK_EQ(hw_frame_encode_response(&b, 1, &r), 0);
    CHECK_EQ(hw_frame_decode((const uint8_t *)hw_buf_head(&b), hw_buf_size(&b), &f), 0);
    rc = hw_frame_decode_response(&f, &d);
    CHECK(rc ? strstr(hw_frame_response_broken(&f), "three digits") != NULL
             : hw_frame_response_broken(&f) == NULL);
    hw_buf_cleanup(&b);
    return rc;
}

static void test_bad_values(void)
{
    uint8_t zero[4] = { 0, 0, 0, 0 };
    struct hw_frame f;
    uint32_t inc;
    uint8_t *m;

    CHECK_EQ(encode_decode_request("GET", "/"), 0);
    CHECK_EQ(encode_decode_request("", "/"), HW_EPROTO);
    CHECK_EQ(encode_decode_request("GET", ""), HW_EPROTO);
    CHECK_EQ(encode_decode_request("", ""), HW_EPROTO);

    CHECK_EQ(encode_decode_status(100), 0);
    CHECK_EQ(encode_decode_status(999), 0);
    CHECK_EQ(encode_decode_status(99), HW_EPROTO);
    CHECK_EQ(encode_decode_status(0), HW_EPROTO);
    CHECK_EQ(encode_decode_status(1000), HW_EPROTO);
    CHECK_EQ(encode_decode_status(65535), HW_EPROTO);

    m = make_msg(HW_FT_WINDOW, 1, zero, sizeof(zero));
    CHECK_EQ(hw_frame_decode(m, HW_FRAME_HDR_LEN + 4, &f), 0);
    CHECK_EQ(hw_frame_decode_window(&f, &inc), HW_EPROTO);
    free(m);
}

/* Asserts that a rejected encode left the output buffer as it was. */
#define CHECK_REJECTED(b, call, err)                        \
    do {                                                    \
        size_t before_ = hw_buf_size(b);                    \
        CHECK_EQ((call), (err));                            \
        CHECK_EQ(hw_buf_size(b), before_);                  \
        CHECK_MEM(hw_buf_head(b), "\x05\0\0\0\0\0\0\1", 8); \
    } while (0)

static void test_encoders_reject(void)
{
    char *big = malloc(HW_FRAME_MAX_PAYLOAD + 2);
    struct hw_str s64k, s64k_1, s1m, s1m_1, ok = str("x");
    struct hw_msg_hello h;
    struct hw_msg_request rq;
    struct hw_msg_response rs;
    struct hw_msg_reset rst;
    struct hw_buf b;

    CHECK(big != NULL);
    memset(big, 'a', HW_FRAME_MAX_PAYLOAD + 2);
    s64k = (struct hw_str){ big, 65535 };
    s64k_1 = (struct hw_str){ big, 65536 };
    s1m = (struct hw_str){ big, HW_FRAME_MAX_PAYLOAD - 64 };
    s1m_1 = (struct hw_str){ big, HW_FRAME_MAX_PAYLOAD + 1 };
    hw_buf_init(&b, 8u * 1024 * 1024);
    /* An END in front, so that every check also sees it left intact. */
    CHECK_EQ(hw_frame_encode_end(&b, 1), 0);

    h = (struct hw_msg_hello){ 1, 1, s64k_1, ok };
    CHECK_REJECTED(&b, hw_frame_encode_hello(&b, &h), HW_EINVAL);
    h = (struct hw_msg_hello){ 1, 1, ok, s64k_1 };
    CHECK_REJECTED(&b, hw_frame_encode_hello(&b, &h), HW_EINVAL);

    rq = (struct hw_msg_request){ 0, s64k_1, ok, ok, ok };
    CHECK_REJECTED(&b, hw_frame_encode_request(&b, 1, &rq), HW_EINVAL);
    rq = (struct hw_msg_request){ 0, ok, s64k_1, ok, ok };
    CHECK_REJECTED(&b, hw_frame_encode_request(&b, 1, &rq), HW_EINVAL);
    rq = (struct hw_msg_request){ 0, ok, ok, s64k_1, ok };
    CHECK_REJECTED(&b, hw_frame_encode_request(&b, 1, &rq), HW_EINVAL);
    rq = (struct hw_msg_request){ 0, ok, ok, ok, s1m_1 };
    CHECK_REJECTED(&b, hw_frame_encode_request(&b, 1, &rq), HW_EINVAL);
    /* Each field fits but the whole payload would exceed its limit. */
    rq = (struct hw_msg_request){ 0, ok, ok, s64k, s1m };
    CHECK_REJECTED(&b, hw_frame_encode_request(&b, 1, &rq), HW_EINVAL);
    rq = (struct hw_msg_request){ 0, ok, ok, ok, ok };
    CHECK_REJECTED(&b, hw_frame_encode_request(&b, 0, &rq), HW_EINVAL);

    rs = (struct hw_msg_response){ 200, 0, s64k_1, ok };
    CHECK_REJECTED(&b, hw_frame_encode_response(&b, 1, &rs), HW_EINVAL);
    rs = (struct hw_msg_response){ 200, 0, ok, s1m_1 };
    CHECK_REJECTED(&b, hw_frame_encode_response(&b, 1, &rs), HW_EINVAL);
    rs = (struct hw_msg_response){ 200, 0, s64k, s1m };
    CHECK_REJECTED(&b, hw_frame_encode_response(&b, 1, &rs), HW_EINVAL);
    rs = (struct hw_msg_response){ 200, 0, ok, ok };
    CHECK_REJECTED(&b, hw_frame_encode_response(&b, 0, &rs), HW_EINVAL);

    CHECK_REJECTED(&b, hw_frame_encode_data(&b, 1, big, HW_FRAME_MAX_DATA + 1), HW_EINVAL);
    CHECK_REJECTED(&b, hw_frame_encode_data(&b, 0, big, 1), HW_EINVAL);
    CHECK_REJECTED(&b, hw_frame_encode_end(&b, 0), HW_EINVAL);
    CHECK_REJECTED(&b, hw_frame_encode_window(&b, 1, 0), HW_EINVAL);
    CHECK_REJECTED(&b, hw_frame_encode_window(&b, 0, 1), HW_EINVAL);

    rst = (struct hw_msg_reset){ 1, s64k_1 };
    CHECK_REJECTED(&b, hw_frame_encode_reset(&b, 1, &rst), HW_EINVAL);
    rst = (struct hw_msg_reset){ 1, ok };
    CHECK_REJECTED(&b, hw_frame_encode_reset(&b, 0, &rst), HW_EINVAL);

    CHECK_REJECTED(&b, hw_frame_encode_control(&b, HW_FT_PING, big, HW_FRAME_MAX_PAYLOAD + 1),
                   HW_EINVAL);
    CHECK_REJECTED(&b, hw_frame_encode_control(&b, HW_FT_DATA, "x", 1), HW_EINVAL);
    CHECK_REJECTED(&b, hw_frame_encode_control(&b, HW_FT_HELLO, "x", 1), HW_EINVAL);
    CHECK_REJECTED(&b, hw_frame_encode_control(&b, 0x42, "x", 1), HW_EINVAL);

    /* The largest values that fit are accepted. */
    h = (struct hw_msg_hello){ 1, 1, s64k, s64k };
    CHECK_EQ(hw_frame_encode_hello(&b, &h), 0);
    rq = (struct hw_msg_request){ 0, s64k, s64k, s64k, ok };
    CHECK_EQ(hw_frame_encode_request(&b, 1, &rq), 0);
    rst = (struct hw_msg_reset){ 1, s64k };
    CHECK_EQ(hw_frame_encode_reset(&b, 1, &rst), 0);
    CHECK_EQ(hw_frame_encode_control(&b, HW_FT_GOAWAY, big, HW_FRAME_MAX_PAYLOAD), 0);
    hw_buf_cleanup(&b);
    free(big);
}

/* An output buffer without room for the whole message is left untouched. */
static void test_encoders_respect_buffer_cap(void)
{
    struct hw_buf b;

    hw_buf_init(&b, HW_FRAME_HDR_LEN + 10);
    CHECK_EQ(hw_frame_encode_end(&b, 1), 0);
    CHECK_REJECTED(&b, hw_frame_encode_data(&b, 1, "0123456789a", 11), HW_E2BIG);
    CHECK_REJECTED(&b, hw_frame_encode_end(&b, 1), HW_E2BIG);
    hw_buf_consume(&b, HW_FRAME_HDR_LEN);
    CHECK_EQ(hw_frame_encode_data(&b, 1, "0123456789", 10), 0);
    CHECK_EQ(hw_buf_size(&b), HW_FRAME_HDR_LEN + 10);
    CHECK_EQ(hw_frame_encode_data(&b, 1, "", 0), HW_E2BIG);
    hw_buf_cleanup(&b);
}

int main(void)
{
    fprintf(stderr, "test_frame\n");
    RUN(test_hello_round_trip);
    RUN(test_request_round_trip);
    RUN(test_response_round_trip);
    RUN(test_data_round_trip);
    RUN(test_end_window_reset_round_trip);
    RUN(test_control_round_trip);
    RUN(test_messages_concatenate);
    RUN(test_byte_layout);
    RUN(test_decode_short_and_mismatched);
    RUN(test_decode_size_limits);
    RUN(test_decode_stream_placement);
    RUN(test_decode_unknown_types);
    RUN(test_type_names);
    RUN(test_truncated_and_trailing);
    RUN(test_lying_lengths);
    RUN(test_bad_values);
    RUN(test_encoders_reject);
    RUN(test_encoders_respect_buffer_cap);
    return 0;
}
