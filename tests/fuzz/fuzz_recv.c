/*
 * libFuzzer target for the receiver's parsers of network input: a backend's
 * Retry-After value, the request-target routing under the path prefix, the
 * provider handshakes on a request body, and (as configuration text) the
 * retry schedule. Results must stay inside the input and the answer buffer.
 * Single-threaded, like libFuzzer's calls.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "fuzz_check.h"
#include "handshake.h"
#include "schedule.h"

static int in_range(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct recv_handshake_answer ans;
    struct recv_schedule sched;
    struct recv_route r;
    uint64_t secs;
    char err[200], *text;

    if (recv_retry_after_parse(s, size, 1700000000, &secs) == 0) {
        size_t i = 0;

        while (i < size && (s[i] == ' ' || s[i] == '\t'))
            i++;

        /* A number of any size (past 2^64 - 1, UINT64_MAX), or a date before year 10000. */
        FUZZ_CHECK((i < size && s[i] >= '0' && s[i] <= '9') || secs < 253402300800ull);
    }
    if (recv_route_parse("/api/webhooks", s, size, &r) == 0) {
        FUZZ_CHECK(r.source_len > 0 && in_range(r.source, r.source_len, s, size));
        FUZZ_CHECK(in_range(r.path, r.path_len, s, size));
        FUZZ_CHECK(!r.query || in_range(r.query, r.query_len, s, size));
        FUZZ_CHECK(!memchr(r.source, '/', r.source_len) && !memchr(r.path, '?', r.path_len));
    }
    for (int k = RECV_HANDSHAKE_NONE; k <= RECV_HANDSHAKE_ZOOM; k++) {
        int rc = recv_handshake_check((enum recv_handshake_kind)k, "zoom-secret", s, size, &ans);

        FUZZ_CHECK(rc == 0 || rc == 1);
        if (rc == 1) {
            FUZZ_CHECK(ans.status == 200 || ans.status == 400);
            /* A refusal says why (the caller answers 400); an answer has its type. */
            FUZZ_CHECK(ans.status == 400 ? ans.why && !ans.body_len
                                         : ans.body_len <= sizeof(ans.body) && ans.content_type);
        }
    }
    text = malloc(size + 1);
    if (text) {
        memcpy(text, data, size);
        text[size] = '\0';
        if (recv_schedule_parse(text, &sched, err, sizeof(err)) == 0) {
            uint64_t d;

            FUZZ_CHECK(sched.n >= 1 && sched.n <= RECV_SCHEDULE_MAX);
            for (unsigned i = 0; i < sched.n; i++)
                FUZZ_CHECK(sched.step_ms[i] >= 1 && sched.step_ms[i] <= RECV_STEP_MAX_MS);
            FUZZ_CHECK(recv_schedule_next(&sched, 1, s, size, 1700000000, &d) == 1);
            /* Jitter stays within 120% of the step, Retry-After within 200%. */
            FUZZ_CHECK(d <= 2 * sched.step_ms[0]);
        }
        free(text);
    }
    return 0;
}
