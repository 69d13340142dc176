/*
 * Unit tests for replay/when.c: ages and ISO 8601 times on the replay
 * command line, and the UTC forms it prints.
 */
#include "when.h"

#include "check.h"
#include "core/err.h"

#define NOW 1796207984436LL /* 2026-12-02T10:39:44.436Z */

static int64_t parsed(const char *s)
{
    int64_t ms = -1;

    CHECK_EQ(replay_when_parse(s, NOW, &ms), 0);
    return ms;
}

static void test_ages(void)
{
    CHECK_EQ(parsed("90s"), NOW - 90000);
    CHECK_EQ(parsed("30m"), NOW - 30 * 60000);
    CHECK_EQ(parsed("2h"), NOW - 2 * 3600000LL);
    CHECK_EQ(parsed("3d"), NOW - 3 * 86400000LL);
    CHECK_EQ(parsed("1w"), NOW - 7 * 86400000LL);
    CHECK_EQ(parsed("1h30m"), NOW - 90 * 60000);
    CHECK_EQ(parsed("1w2d3h4m5s"), NOW - (9 * 86400 + 3 * 3600 + 4 * 60 + 5) * 1000LL);
    CHECK_EQ(parsed("0s"), NOW);
}

static void test_iso(void)
{
    CHECK_EQ(parsed("2026-12-02"), 1796169600000LL);
    CHECK_EQ(parsed("2026-12-02T10:39"), 1796207940000LL);
    CHECK_EQ(parsed("2026-12-02T10:39:44Z"), 1796207984000LL);
    CHECK_EQ(parsed("2026-12-02T10:39:44.436Z"), NOW);
    CHECK_EQ(parsed("2026-12-02 10:39:44.4"), 1796207984400LL);
    CHECK_EQ(parsed("2026-12-02T11:39:44+01:00"), 1796207984000LL);
    CHECK_EQ(parsed("2026-12-02T05:09:44-0530"), 1796207984000LL);
    CHECK_EQ(parsed("2024-02-29"), 1709164800000LL); /* a leap day */
}

static void test_rejects(void)
{
    const char *bad[] = { "",
                          "2h ",
                          "h",
                          "5",
                          "5y",
                          "-2h",
                          "1h1h",
                          "30m2h",
                          "2026-13-01",
                          "2026-02-30",
                          "2025-02-29",
                          "2026-12-02T25:00",
                          "2026-12-02T10",
                          "2026-12-02T10:39:44.",
                          "2026-12-02T10:39:44+1",
                          "2026-12-02X",
                          "yesterday",
                          "99999999999999999999d" };
    int64_t ms;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (replay_when_parse(bad[i], NOW, &ms) != HW_EINVAL) {
            fprintf(stderr, "accepted \"%s\"\n", bad[i]);
            abort();
        }
    }
    CHECK_EQ(replay_when_parse(NULL, NOW, &ms), HW_EINVAL);
}

static void test_formats(void)
{
    char s[40];

    replay_when_format(NOW, s, sizeof(s));
    CHECK_STR(s, "2026-12-02 10:39:44");
    replay_when_iso(NOW, s, sizeof(s));
    CHECK_STR(s, "2026-12-02T10:39:44.436Z");
    replay_when_iso(1796207984005LL, s, sizeof(s));
    CHECK_STR(s, "2026-12-02T10:39:44.005Z");
    /* Times a store written by something else may hold: before 1970, and past any year. */
    replay_when_iso(-1, s, sizeof(s));
    CHECK_STR(s, "1969-12-31T23:59:59.999Z");
    replay_when_format(-1, s, sizeof(s));
    CHECK_STR(s, "1969-12-31 23:59:59");
    replay_when_iso(INT64_C(1) << 62, s, sizeof(s));
    CHECK_STR(s, "?");
    replay_when_format(INT64_MIN, s, sizeof(s));
    CHECK_STR(s, "?");
    replay_when_span(850, s, sizeof(s));
    CHECK_STR(s, "850ms");
    replay_when_span(12500, s, sizeof(s));
    CHECK_STR(s, "12s");
    replay_when_span(5 * 60000, s, sizeof(s));
    CHECK_STR(s, "5m");
    replay_when_span(3 * 3600000LL, s, sizeof(s));
    CHECK_STR(s, "3h");
    replay_when_span(2 * 86400000LL + 5, s, sizeof(s));
    CHECK_STR(s, "2d");
    replay_when_span(-5, s, sizeof(s));
    CHECK_STR(s, "0ms");
}

int main(void)
{
    fprintf(stderr, "test_replay_when\n");
    RUN(test_ages);
    RUN(test_iso);
    RUN(test_rejects);
    RUN(test_formats);
    return 0;
}
