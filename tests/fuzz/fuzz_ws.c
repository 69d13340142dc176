/*
 * libFuzzer target for common/tunnel/ws.c. The input is read as the server's
 * answer head by hw_ws_client_check_answer() and as a stream of server frames
 * by the decoder, fed in pieces whose sizes the input's first bytes choose:
 * no event may carry more than the message cap, a message's pieces must add
 * up to at most the cap, control payloads stay within 125 bytes, and the same
 * bytes fed whole must give the same result and the same payload. The masker
 * must agree with a byte-wise reference. Nothing may crash. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "fuzz_check.h"
#include "tunnel/ws.h"

#define MAX_MSG 4096

struct seen {
    size_t in_msg;     /* bytes of the current fragmented message */
    uint64_t digest;   /* of every payload byte, in order */
    size_t total;      /* payload bytes of all messages */
    unsigned messages; /* completed messages */
};

static int sink(void *user, enum hw_ws_event ev, const uint8_t *p, size_t n)
{
    struct seen *s = user;

    switch (ev) {
    case HW_WS_MESSAGE:
        FUZZ_CHECK(s->in_msg == 0 && n <= MAX_MSG);
        s->messages++;
        break;
    case HW_WS_DATA:
        s->in_msg += n;
        FUZZ_CHECK(s->in_msg <= MAX_MSG);
        break;
    case HW_WS_END:
        FUZZ_CHECK(n == 0);
        s->in_msg = 0;
        s->messages++;
        return 0;
    default:
        FUZZ_CHECK(n <= HW_WS_CTL_MAX);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        s->digest = s->digest * 31 + p[i];
    s->total += n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hw_ws_rx rx;
    struct seen a = { 0 }, b = { 0 };
    unsigned status;
    size_t end, off = 0, step;
    int ea = 0, eb;
    uint8_t m1[64], m2[64];
    const uint8_t mask[4] = { 0x11, 0x22, 0x33, 0x44 };

    end = hw_ws_answer_end((const char *)data, size);
    FUZZ_CHECK(end <= size);
    if (end) {
        int r = hw_ws_client_check_answer((const char *)data, end,
                                          "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "hookwire.v1", &status);
        FUZZ_CHECK(r == 0 || r == HW_EPROTO);
        FUZZ_CHECK(r != 0 || status == 101);
    }
    if (size < 1)
        return 0;
    step = (size_t)data[0] % 17 + 1;
    data++;
    size--;

    hw_ws_rx_init(&rx, MAX_MSG);
    while (off < size && !ea) {
        size_t n = size - off < step ? size - off : step;

        ea = hw_ws_rx_feed(&rx, data + off, n, sink, &a);
        off += n;
    }
    hw_ws_rx_init(&rx, MAX_MSG);
    eb = hw_ws_rx_feed(&rx, data, size, sink, &b);
    FUZZ_CHECK(ea == 0 || ea == HW_EPROTO || ea == HW_E2BIG);
    FUZZ_CHECK(ea == eb);
    if (!ea) {
        FUZZ_CHECK(a.messages == b.messages && a.total == b.total && a.digest == b.digest);
        FUZZ_CHECK(a.in_msg == b.in_msg);
    }

    /* The word-wise masker against the byte-wise definition. */
    {
        size_t n = size < sizeof(m1) ? size : sizeof(m1);

        memcpy(m1, data, n);
        memcpy(m2, data, n);
        hw_ws_mask(m1, n, mask);
        for (size_t i = 0; i < n; i++)
            m2[i] ^= mask[i % 4];
        FUZZ_CHECK(memcmp(m1, m2, n) == 0);
    }
    return 0;
}
