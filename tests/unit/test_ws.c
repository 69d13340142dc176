/*
 * Unit tests for common/tunnel/ws.c: the exact upgrade request, the 101
 * check with RFC 6455's own key/accept example and every refusal, masked
 * frame headers at each length size, masking against a byte-wise reference,
 * and the frame decoder: the same events whatever way the bytes are split,
 * and every frame a server must not send refused. Single-threaded.
 */
#include "tunnel/ws.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"

#define KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* RFC 6455 section 1.3 */

static void test_request(void)
{
    struct hw_buf b;
    const char *want = "GET /tunnel HTTP/1.1\r\nHost: relay.test:8443\r\n"
                       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Protocol: hookwire.v1\r\n"
                       "Authorization: Bearer tok\r\n\r\n";

    hw_buf_init(&b, 4096);
    CHECK_EQ(
        hw_ws_client_request(&b, "relay.test:8443", "/tunnel", KEY, "hookwire.v1", "tok", NULL), 0);
    CHECK_EQ(hw_buf_size(&b), strlen(want));
    CHECK_MEM(hw_buf_head(&b), want, strlen(want));
    hw_buf_cleanup(&b);
    hw_buf_init(&b, 40);
    CHECK_EQ(
        hw_ws_client_request(&b, "relay.test:8443", "/tunnel", KEY, "hookwire.v1", "tok", NULL),
        HW_E2BIG);
    hw_buf_cleanup(&b);
}

static int check(const char *head, unsigned *status)
{
    size_t end = hw_ws_answer_end(head, strlen(head));

    CHECK_EQ(end, strlen(head));
    return hw_ws_client_check_answer(head, end, ACCEPT, "hookwire.v1", status);
}

static void test_answer(void)
{
    unsigned status;
    const char *good = "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n"
                       "CONNECTION: keep-alive, Upgrade\r\n"
                       "Sec-WebSocket-Accept: " ACCEPT "\r\n"
                       "Sec-WebSocket-Protocol:  hookwire.v1 \r\n\r\n";
    static const char *bad[] = {
        /* another status */
        "HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Protocol: hookwire.v1\r\n\r\n",
        /* wrong accept */
        "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOp=\r\n"
        "Sec-WebSocket-Protocol: hookwire.v1\r\n\r\n",
        /* no subprotocol, then another one */
        "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
        "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Protocol: hookwire.v2\r\n\r\n",
        /* no Upgrade, no Connection upgrade */
        "HTTP/1.1 101 x\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Protocol: hookwire.v1\r\n\r\n",
        "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: upgraded\r\n"
        "Sec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Protocol: hookwire.v1\r\n\r\n",
        /* a line without a colon; a broken status line */
        "HTTP/1.1 101 x\r\nUpgrade websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Protocol: hookwire.v1\r\n\r\n",
        "HTTP/1.1 1x1 x\r\n\r\n",
        "ICY 101\r\n\r\n",
    };

    CHECK_EQ(check(good, &status), 0);
    CHECK_EQ(status, 101);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fprintf(stderr, "    bad answer %zu\n", i);
        CHECK_EQ(check(bad[i], &status), HW_EPROTO);
    }
    CHECK_EQ(check("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", &status), HW_EPROTO);
    CHECK_EQ(status, 401);
    CHECK_EQ(hw_ws_answer_end("HTTP/1.1 101 x\r\nA: b\r\n", 22), 0);
    CHECK_EQ(hw_ws_answer_end("HTTP/1.1 101 x\r\n\r\nxyz", 21), 18);
}

static void test_frame_header(void)
{
    static const struct {
        uint64_t len;
        size_t hlen;
    } cases[] = { { 0, 6 }, { 125, 6 }, { 126, 8 }, { 65535, 8 }, { 65536, 14 }, { 1u << 30, 14 } };
    const uint8_t mask[4] = { 1, 2, 3, 4 };
    uint8_t h[HW_WS_HDR_MAX];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t got = 0;
        size_t n = hw_ws_frame_header(h, HW_WS_OP_BINARY, cases[i].len, mask);

        CHECK_EQ(n, cases[i].hlen);
        CHECK_EQ(h[0], 0x82);
        CHECK(h[1] & 0x80);
        if (n == 6)
            got = h[1] & 0x7f;
        else if (n == 8)
            got = (uint64_t)h[2] << 8 | h[3];
        else
            for (int k = 0; k < 8; k++)
                got = got << 8 | h[2 + k];
        CHECK_EQ(got, cases[i].len);
        CHECK_MEM(h + n - 4, mask, 4);
    }
    CHECK_EQ(hw_ws_frame_header(h, HW_WS_OP_PONG, 3, mask), 6);
    CHECK_EQ(h[0], 0x8a);
    /* Unmasked, as the relay writes its frames: no mask bit, no mask bytes. */
    CHECK_EQ(hw_ws_frame_header(h, HW_WS_OP_BINARY, 125, NULL), 2);
    CHECK_MEM(h, "\x82\x7d", 2);
    CHECK_EQ(hw_ws_frame_header(h, HW_WS_OP_BINARY, 300, NULL), 4);
    CHECK_MEM(h, "\x82\x7e\x01\x2c", 4);
    CHECK_EQ(hw_ws_frame_header(h, HW_WS_OP_BINARY, 65536, NULL), 10);
    CHECK_MEM(h, "\x82\x7f\0\0\0\0\0\x01\0\0", 10);
}

static void test_mask(void)
{
    const uint8_t mask[4] = { 0xde, 0xad, 0xbe, 0xef };
    uint8_t a[67], b[67];

    for (size_t n = 0; n <= sizeof(a); n++) {
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] = (uint8_t)(i * 7 + n);
        hw_ws_mask(a, n, mask);
        for (size_t i = 0; i < n; i++)
            b[i] ^= mask[i % 4];
        CHECK_MEM(a, b, n);
    }
}

/* ---- decoder ---- */

struct log {
    char text[4096]; /* one letter per event, then the payload of control frames */
    size_t len;
    uint8_t data[70000]; /* message payloads, back to back */
    size_t data_len;
    unsigned messages;
    int fail_at; /* event number whose sink call fails, or -1 */
    int events;
};

static void note(struct log *l, const char *s, size_t n)
{
    CHECK(l->len + n < sizeof(l->text));
    memcpy(l->text + l->len, s, n);
    l->len += n;
}

static int sink(void *user, enum hw_ws_event ev, const uint8_t *p, size_t n)
{
    struct log *l = user;

    if (l->events++ == l->fail_at)
        return -77;
    switch (ev) {
    case HW_WS_MESSAGE:
    case HW_WS_DATA:
        CHECK(l->data_len + n <= sizeof(l->data));
        memcpy(l->data + l->data_len, p, n);
        l->data_len += n;
        if (ev == HW_WS_MESSAGE)
            l->messages++;
        return 0;
    case HW_WS_END:
        l->messages++;
        return 0;
    case HW_WS_PING:
        note(l, "P", 1);
        break;
    case HW_WS_PONG:
        note(l, "O", 1);
        break;
    case HW_WS_CLOSE:
        note(l, "C", 1);
        break;
    }
    note(l, (const char *)p, n);
    note(l, "|", 1);
    return 0;
}

/* Appends a server (unmasked) frame. */
static size_t frame(uint8_t *out, int fin, unsigned op, const uint8_t *p, size_t n)
{
    size_t h = 2;

    out[0] = (uint8_t)((fin ? 0x80 : 0) | op);
    if (n < 126) {
        out[1] = (uint8_t)n;
    } else if (n <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(n >> 8);
        out[3] = (uint8_t)n;
        h = 4;
    } else {
        out[1] = 127;
        for (int k = 0; k < 8; k++)
            out[2 + k] = (uint8_t)((uint64_t)n >> (56 - 8 * k));
        h = 10;
    }
    if (n)
        memcpy(out + h, p, n);
    return h + n;
}

static void test_decode_any_split(void)
{
    static uint8_t big[66000], stream[140000];
    size_t n = 0;
    struct log *l = malloc(sizeof(*l));
    uint8_t want[70000];
    size_t want_len = 0;

    CHECK(l != NULL);
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 31);
    /* A small message, a 16-bit-length one, a fragmented one with a ping inside, an empty
     * one, a 64-bit-length one, a pong and a close. */
    n += frame(stream + n, 1, HW_WS_OP_BINARY, (const uint8_t *)"hello", 5);
    n += frame(stream + n, 1, HW_WS_OP_BINARY, big, 300);
    n += frame(stream + n, 0, HW_WS_OP_BINARY, (const uint8_t *)"ab", 2);
    n += frame(stream + n, 1, HW_WS_OP_PING, (const uint8_t *)"hb", 2);
    n += frame(stream + n, 0, HW_WS_OP_CONT, NULL, 0);
    n += frame(stream + n, 1, HW_WS_OP_CONT, (const uint8_t *)"cd", 2);
    n += frame(stream + n, 1, HW_WS_OP_BINARY, NULL, 0);
    n += frame(stream + n, 1, HW_WS_OP_BINARY, big, sizeof(big));
    n += frame(stream + n, 1, HW_WS_OP_PONG, NULL, 0);
    n += frame(stream + n, 1, HW_WS_OP_CLOSE,
               (const uint8_t *)"\x03\xe8"
                                "bye",
               5);
    memcpy(want, "hello", 5);
    want_len = 5;
    memcpy(want + want_len, big, 300);
    want_len += 300;
    memcpy(want + want_len, "abcd", 4);
    want_len += 4;
    memcpy(want + want_len, big, sizeof(big));
    want_len += sizeof(big);

    /* Whole, then cut in two at every point of the first 400 bytes and near the end, then
     * byte by byte. */
    for (size_t cut = 0; cut <= n; cut++) {
        struct hw_ws_rx rx;

        if (cut > 400 && cut < n - 40)
            continue;
        memset(l, 0, sizeof(*l));
        l->fail_at = -1;
        hw_ws_rx_init(&rx, 70000);
        CHECK_EQ(hw_ws_rx_feed(&rx, stream, cut, sink, l), 0);
        CHECK_EQ(hw_ws_rx_feed(&rx, stream + cut, n - cut, sink, l), 0);
        CHECK_EQ(l->messages, 5);
        CHECK_EQ(l->data_len, want_len);
        CHECK_MEM(l->data, want, want_len);
        CHECK_EQ(l->len, strlen("Phb|O|C\x03\xe8"
                                "bye|"));
        CHECK_MEM(l->text,
                  "Phb|O|C\x03\xe8"
                  "bye|",
                  l->len);
    }
    {
        struct hw_ws_rx rx;

        memset(l, 0, sizeof(*l));
        l->fail_at = -1;
        hw_ws_rx_init(&rx, 70000);
        for (size_t i = 0; i < n; i++)
            CHECK_EQ(hw_ws_rx_feed(&rx, stream + i, 1, sink, l), 0);
        CHECK_EQ(l->messages, 5);
        CHECK_EQ(l->data_len, want_len);
        CHECK_MEM(l->data, want, want_len);
    }
    /* A failing sink stops the feed with its value. */
    {
        struct hw_ws_rx rx;

        memset(l, 0, sizeof(*l));
        l->fail_at = 1;
        hw_ws_rx_init(&rx, 70000);
        CHECK_EQ(hw_ws_rx_feed(&rx, stream, n, sink, l), -77);
    }
    free(l);
}

static int feed_bytes(const uint8_t *p, size_t n, size_t max)
{
    struct hw_ws_rx rx;
    struct log *l = calloc(1, sizeof(*l));
    int err;

    CHECK(l != NULL);
    l->fail_at = -1;
    hw_ws_rx_init(&rx, max);
    err = hw_ws_rx_feed(&rx, p, n, sink, l);
    free(l);
    return err;
}

static void test_decode_refusals(void)
{
    static const struct {
        const char *why;
        uint8_t bytes[12];
        size_t n;
    } bad[] = {
        { "masked", { 0x82, 0x81, 1, 2, 3, 4, 'x' }, 7 },
        { "RSV1", { 0xc2, 0x00 }, 2 },
        { "RSV3", { 0x92, 0x00 }, 2 },
        { "text", { 0x81, 0x01, 'x' }, 3 },
        { "reserved data opcode", { 0x83, 0x00 }, 2 },
        { "reserved control opcode", { 0x8b, 0x00 }, 2 },
        { "continuation first", { 0x80, 0x00 }, 2 },
        { "binary inside a message", { 0x02, 0x00, 0x82, 0x00 }, 4 },
        { "fragmented ping", { 0x09, 0x00 }, 2 },
        { "long ping", { 0x89, 126, 0, 126 }, 4 },
        { "close of one byte", { 0x88, 0x01, 3 }, 3 },
        { "16-bit length under 126", { 0x82, 126, 0, 125 }, 4 },
        { "64-bit length under 65536", { 0x82, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff }, 10 },
        { "64-bit length with the top bit", { 0x82, 127, 0x80, 0, 0, 0, 0, 1, 0, 0 }, 10 },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fprintf(stderr, "    %s\n", bad[i].why);
        CHECK_EQ(feed_bytes(bad[i].bytes, bad[i].n, 1000), HW_EPROTO);
    }
    /* The cap holds for one frame and for the fragments of one message together. */
    {
        const uint8_t one[] = { 0x82, 126, 0x03, 0xe9 };
        const uint8_t two[] = { 0x02, 100, [102] = 0x80, [103] = 126, 0x03, 0x85 };

        CHECK_EQ(feed_bytes(one, sizeof(one), 1000), HW_E2BIG);
        CHECK_EQ(feed_bytes(two, sizeof(two), 1000), HW_E2BIG);
        CHECK_EQ(feed_bytes(one, sizeof(one), 1001), 0);
    }
}

int main(void)
{
    fprintf(stderr, "test_ws\n");
    RUN(test_request);
    RUN(test_answer);
    RUN(test_frame_header);
    RUN(test_mask);
    RUN(test_decode_any_split);
    RUN(test_decode_refusals);
    return 0;
}
