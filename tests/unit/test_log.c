/*
 * Unit tests for common/core/log.c: durations as people read them ("3.5ms",
 * "10.0s"), and a webhook's line in text and in JSON, where method, path,
 * status, duration and event id are fields of their own, and a control byte
 * in a text line is written as \xHH. stderr is pointed
 * at a temporary file to read the lines back. A burst of one warning gives
 * a bounded number of lines, and every held-back one is counted in them.
 * Single-threaded.
 */
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static char out[8192];

/* Runs r through hw_log_request() and returns what it wrote to stderr. */
static const char *logged(const struct hw_log_req *r)
{
    FILE *f = tmpfile();
    int saved = dup(2);
    size_t n;

    CHECK(f != NULL && saved >= 0);
    CHECK(dup2(fileno(f), 2) == 2);
    hw_log_request(r);
    CHECK(dup2(saved, 2) == 2);
    close(saved);
    rewind(f);
    n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    fclose(f);
    return out;
}

static void test_durations(void)
{
    char b[32];

    CHECK_STR(hw_log_duration(b, sizeof(b), 3.5), "3.5ms");
    CHECK_STR(hw_log_duration(b, sizeof(b), 0.04), "0.0ms");
    CHECK_STR(hw_log_duration(b, sizeof(b), 999.9), "999.9ms");
    CHECK_STR(hw_log_duration(b, sizeof(b), 999.96), "1.0s");
    CHECK_STR(hw_log_duration(b, sizeof(b), 10000), "10.0s");
    CHECK_STR(hw_log_duration(b, sizeof(b), 90500), "90.5s");
    CHECK_STR(hw_log_duration(b, sizeof(b), -1), "0.0ms");
}

static void test_request_lines(void)
{
    struct hw_log_req ok = { "POST", "/hook?a=\"1\"", 200, 3.5, "evt_x", NULL };
    struct hw_log_req failed = { "GET", "/slow", 0, 10000, "evt_y", "timeout: no answer" };
    const char *s;

    hw_log_init("test");
    hw_log_set_color(0);
    CHECK_EQ(hw_log_set_format("text"), 0);
    s = logged(&ok);
    CHECK(strstr(s, " INFO  test: POST /hook?a=\"1\" 200 3.5ms evt=evt_x\n") != NULL);
    s = logged(&failed);
    CHECK(strstr(s, " INFO  test: GET /slow failed: timeout: no answer 10.0s evt=evt_y\n") != NULL);

    CHECK_EQ(hw_log_set_format("json"), 0);
    s = logged(&ok);
    CHECK(strstr(s, "\"msg\":\"POST /hook?a=\\\"1\\\" 200 3.5ms evt=evt_x\",\"method\":\"POST\","
                    "\"path\":\"/hook?a=\\\"1\\\"\",\"status\":200,\"duration_ms\":3.500,"
                    "\"event_id\":\"evt_x\"}\n") != NULL);
    s = logged(&failed);
    CHECK(strstr(s, "\"status\":null,\"duration_ms\":10000.000,\"event_id\":\"evt_y\","
                    "\"error\":\"timeout: no answer\"}\n") != NULL);

    /* Colour is the level word only, and only when asked for. */
    CHECK_EQ(hw_log_set_format("text"), 0);
    /* A peer's bytes cannot end the line or reach a terminal as escape sequences. */
    {
        struct hw_log_req forged = { "GET", "/a\r\n2026-01-01 INFO  x\033[2J\x7f", 200, 1, "evt_z",
                                     NULL };

        s = logged(&forged);
        CHECK_STR(strchr(s, ' ') + 1,
                  "INFO  test: GET /a\\x0d\\x0a2026-01-01 INFO  x\\x1b[2J\\x7f 200 1.0ms "
                  "evt=evt_z\n");
    }

    hw_log_set_color(1);
    s = logged(&ok);
    CHECK(strstr(s, " \033[32mINFO \033[0m test: POST") != NULL);
    hw_log_set_color(0);
}

static double seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * One failing call site at full speed for 2.5 s: at most HW_LOG_REPEAT_BURST
 * lines and a count per second come out, and the written lines plus the
 * counts reported add up to every call once the last window has passed (the
 * repeat window is time itself, so the test waits it out).
 */
static void test_repeats_held_back(void)
{
    static char big[1 << 20];
    FILE *f = tmpfile();
    int saved = dup(2);
    unsigned long calls = 0, written = 0, counted = 0, other = 0;
    double start = seconds();
    struct timespec window = { HW_LOG_REPEAT_MS / 1000 + 1, 0 };
    char *line, *nl;
    size_t n;

    CHECK(f != NULL && saved >= 0);
    CHECK(dup2(fileno(f), 2) == 2);
    while (seconds() - start < 2.5) {
        HW_WARN("append failed: store down evt=%lu", calls);
        calls++;
    }
    HW_ERR("another site is not held back by the first");
    nanosleep(&window, NULL);
    HW_INFO("after the burst"); /* reports the last window's count */
    CHECK(dup2(saved, 2) == 2);
    close(saved);
    rewind(f);
    n = fread(big, 1, sizeof(big) - 1, f);
    big[n] = '\0';
    fclose(f);
    for (line = big; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        const char *more;
        unsigned long k;

        *nl = '\0';
        more = strstr(line, "WARN  test: ");
        if (more && sscanf(more + 12, "%lu more like this", &k) == 1) {
            CHECK(strstr(line, ", the last: append failed: store down evt=") != NULL);
            counted += k;
        } else if (more) {
            CHECK(strstr(line, "append failed: store down evt=") != NULL);
            written++;
        } else {
            other++;
        }
    }
    CHECK(calls > 1000);
    /* Windows begin at 0, 1 and 2 s (or later): three at most in 2.5 s. */
    CHECK(written >= HW_LOG_REPEAT_BURST && written <= 3 * HW_LOG_REPEAT_BURST);
    CHECK_EQ(other, 2ul);
    CHECK_EQ(written + counted, calls);
}

/*
 * A burst cut short, as when a program exits during it: hw_log_flush()
 * reports the lines held back at once, so written plus counted is every call
 * without waiting for the window to end.
 */
static void test_flush_reports_held(void)
{
    char buf[8192];
    FILE *f = tmpfile();
    int saved = dup(2);
    unsigned long written = 0, counted = 0;
    char *line, *nl;
    size_t n;

    CHECK(f != NULL && saved >= 0);
    CHECK(dup2(fileno(f), 2) == 2);
    for (int i = 0; i < 3 * HW_LOG_REPEAT_BURST; i++)
        HW_WARN("flush test: upstream refused try=%d", i);
    hw_log_flush();
    hw_log_flush(); /* nothing left: writes nothing */
    CHECK(dup2(saved, 2) == 2);
    close(saved);
    rewind(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    for (line = buf; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        unsigned long k;
        const char *more;

        *nl = '\0';
        more = strstr(line, "WARN  test: ");
        CHECK(more != NULL);
        if (sscanf(more + 12, "%lu more like this", &k) == 1) {
            CHECK(strstr(line, "the last: flush test: upstream refused try=") != NULL);
            counted += k;
        } else {
            written++;
        }
    }
    /* The burst may straddle a window's end, but nothing is lost or counted twice. */
    CHECK(written >= HW_LOG_REPEAT_BURST);
    CHECK(counted > 0);
    CHECK_EQ(written + counted, (unsigned long)(3 * HW_LOG_REPEAT_BURST));
}

int main(void)
{
    fprintf(stderr, "test_log\n");
    RUN(test_durations);
    RUN(test_request_lines);
    hw_log_init("test");
    RUN(test_repeats_held_back);
    RUN(test_flush_reports_held);
    return 0;
}
