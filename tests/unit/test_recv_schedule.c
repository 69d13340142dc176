/*
 * The receiver's retry schedule (receiver/schedule.h): parsing and its
 * refusals, jitter bounds over many draws, Retry-After in both forms with
 * its cap and floor, and exhaustion after the last step.
 */
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "schedule.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_parse(void)
{
    struct recv_schedule s;
    char err[200];

    CHECK_EQ(recv_schedule_parse("5s 5m 30m 2h 5h 10h 10h", &s, err, sizeof(err)), 0);
    CHECK_EQ(s.n, 7);
    CHECK_EQ(s.step_ms[0], 5000);
    CHECK_EQ(s.step_ms[1], 300000);
    CHECK_EQ(s.step_ms[2], 1800000);
    CHECK_EQ(s.step_ms[3], 7200000);
    CHECK_EQ(s.step_ms[6], 36000000);
    CHECK_EQ(recv_schedule_attempts(&s), 8);
    CHECK_EQ(recv_schedule_parse("  250ms\t1d  30d ", &s, err, sizeof(err)), 0);
    CHECK_EQ(s.n, 3);
    CHECK_EQ(s.step_ms[0], 250);
    CHECK_EQ(s.step_ms[1], 86400000);
    CHECK_EQ(s.step_ms[2], 30ull * 86400000);
}

static void test_parse_refusals(void)
{
    static const char *const bad[] = {
        "",       "   ",  "5",     "5x",    "s",    "0s",   "-5s",  "+5s", "5.5s",
        "5s,5m",  "5 s",  "5S",    "31d",   "721h", "5sec", "1e3s", "5s;", "99999999999999s",
        "5s\n5m", "5mss", "0x10s", "5s 0m", "d",    "ms",
    };
    struct recv_schedule s;
    char err[200];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (recv_schedule_parse(bad[i], &s, err, sizeof(err)) != HW_EINVAL) {
            fprintf(stderr, "accepted \"%s\"\n", bad[i]);
            CHECK(0);
        }
        CHECK(strncmp(err, "retry-schedule: ", 16) == 0);
    }
    /* 32 steps are fine, 33 are not. */
    {
        char text[33 * 3 + 1] = "";
        size_t n = 0;

        for (int i = 0; i < 33; i++)
            n += (size_t)snprintf(text + n, sizeof(text) - n, "1s ");
        CHECK_EQ(recv_schedule_parse(text, &s, err, sizeof(err)), HW_EINVAL);
        text[32 * 3] = '\0';
        CHECK_EQ(recv_schedule_parse(text, &s, err, sizeof(err)), 0);
        CHECK_EQ(s.n, 32);
    }
}

static void test_jitter_bounds(void)
{
    uint64_t lo = UINT64_MAX, hi = 0, sum = 0;
    const int draws = 20000;

    for (int i = 0; i < draws; i++) {
        uint64_t d = recv_jitter(100000);

        CHECK(d >= 80000 && d <= 120000);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        sum += d;
    }
    /* Uniform over the whole band: both edges are reached closely and the
     * mean sits in the middle. */
    CHECK(lo < 81000);
    CHECK(hi > 119000);
    CHECK(sum / draws > 99000 && sum / draws < 101000);
    /* Small steps keep their bounds too. */
    for (int i = 0; i < 1000; i++) {
        uint64_t d = recv_jitter(10);
        CHECK(d >= 8 && d <= 12);
    }
}

static void test_next_and_exhaustion(void)
{
    struct recv_schedule s;
    char err[200];
    uint64_t d;

    CHECK_EQ(recv_schedule_parse("5s 5m 2h", &s, err, sizeof(err)), 0);
    CHECK_EQ(recv_schedule_next(&s, 0, NULL, 0, 0, &d), HW_EINVAL);
    CHECK_EQ(recv_schedule_next(&s, 1, NULL, 0, 0, &d), 1);
    CHECK(d >= 4000 && d <= 6000);
    CHECK_EQ(recv_schedule_next(&s, 2, NULL, 0, 0, &d), 1);
    CHECK(d >= 240000 && d <= 360000);
    CHECK_EQ(recv_schedule_next(&s, 3, NULL, 0, 0, &d), 1);
    CHECK(d >= 5760000 && d <= 8640000);
    /* Four attempts made: the first and three retries. The event fails. */
    CHECK_EQ(recv_schedule_next(&s, 4, NULL, 0, 0, &d), 0);
    CHECK_EQ(recv_schedule_next(&s, 100, S("10"), 0, &d), 0);
}

static void test_retry_after(void)
{
    /* Sun, 06 Nov 1994 08:49:37 GMT is 784111777. */
    const int64_t date = 784111777;
    struct recv_schedule s;
    char err[200];
    uint64_t secs, d;

    CHECK_EQ(recv_retry_after_parse(S("120"), 0, &secs), 0);
    CHECK_EQ(secs, 120);
    CHECK_EQ(recv_retry_after_parse(S(" 0 "), 0, &secs), 0);
    CHECK_EQ(secs, 0);
    CHECK_EQ(recv_retry_after_parse(S("Sun, 06 Nov 1994 08:49:37 GMT"), date - 90, &secs), 0);
    CHECK_EQ(secs, 90);
    CHECK_EQ(recv_retry_after_parse(S("Sun, 06 Nov 1994 08:49:37 GMT"), date + 5, &secs), 0);
    CHECK_EQ(secs, 0);
    /* A number of any length: past 2^64 - 1, the longest wait there is. */
    CHECK_EQ(recv_retry_after_parse(S("12345678901"), 0, &secs), 0);
    CHECK_EQ(secs, 12345678901ull);
    CHECK_EQ(recv_retry_after_parse(S("99999999999999999999999999"), 0, &secs), 0);
    CHECK_EQ(secs, UINT64_MAX);
    /* Refused: signs, fractions, the obsolete date forms, a broken date. */
    CHECK_EQ(recv_retry_after_parse(S("-1"), 0, &secs), HW_EPARSE);
    CHECK_EQ(recv_retry_after_parse(S("1.5"), 0, &secs), HW_EPARSE);
    CHECK_EQ(recv_retry_after_parse(S(""), 0, &secs), HW_EPARSE);
    CHECK_EQ(recv_retry_after_parse(S("Sunday, 06-Nov-94 08:49:37 GMT"), 0, &secs), HW_EPARSE);
    CHECK_EQ(recv_retry_after_parse(S("Sun Nov  6 08:49:37 1994"), 0, &secs), HW_EPARSE);
    CHECK_EQ(recv_retry_after_parse(S("Sun, 06 Now 1994 08:49:37 GMT"), 0, &secs), HW_EPARSE);
    CHECK_EQ(recv_retry_after_parse(S("Sun, 06 Nov 1994 25:49:37 GMT"), 0, &secs), HW_EPARSE);
    CHECK_EQ(recv_retry_after_parse(S("Sun, 06 Nov 1994 08:49:37 UTC"), 0, &secs), HW_EPARSE);

    CHECK_EQ(recv_schedule_parse("1m 1h", &s, err, sizeof(err)), 0);
    /* Honoured exactly when under the cap (no jitter on it)... */
    CHECK_EQ(recv_schedule_next(&s, 1, S("90"), 0, &d), 1);
    CHECK_EQ(d, 90000);
    CHECK_EQ(recv_schedule_next(&s, 1, S("Sun, 06 Nov 1994 08:49:37 GMT"), date - 100, &d), 1);
    CHECK_EQ(d, 100000);
    /* ... capped at twice the step ... */
    CHECK_EQ(recv_schedule_next(&s, 1, S("86400"), 0, &d), 1);
    CHECK_EQ(d, 120000);
    CHECK_EQ(recv_schedule_next(&s, 2, S("86400"), 0, &d), 1);
    CHECK_EQ(d, 7200000);
    CHECK_EQ(recv_schedule_next(&s, 1, S("99999999999999999999999999"), 0, &d), 1);
    CHECK_EQ(d, 120000);
    /* ... floored at a second, and ignored when unparsable. */
    CHECK_EQ(recv_schedule_next(&s, 1, S("0"), 0, &d), 1);
    CHECK_EQ(d, 1000);
    CHECK_EQ(recv_schedule_next(&s, 1, S("soon"), 0, &d), 1);
    CHECK(d >= 48000 && d <= 72000);
    /* With steps under a second the floor is the step. */
    CHECK_EQ(recv_schedule_parse("200ms", &s, err, sizeof(err)), 0);
    CHECK_EQ(recv_schedule_next(&s, 1, S("0"), 0, &d), 1);
    CHECK_EQ(d, 200);
}

int main(void)
{
    RUN(test_parse);
    RUN(test_parse_refusals);
    RUN(test_jitter_bounds);
    RUN(test_next_and_exhaustion);
    RUN(test_retry_after);
    return 0;
}
