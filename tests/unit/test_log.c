/*
 * Unit tests for common/core/log.c: durations as people read them ("3.5ms",
 * "10.0s"), and a webhook's line in text and in JSON, where method, path,
 * status, duration and event id are fields of their own. stderr is pointed
 * at a temporary file to read the lines back. Single-threaded.
 */
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    hw_log_set_color(1);
    s = logged(&ok);
    CHECK(strstr(s, " \033[32mINFO \033[0m test: POST") != NULL);
    hw_log_set_color(0);
}

int main(void)
{
    fprintf(stderr, "test_log\n");
    RUN(test_durations);
    RUN(test_request_lines);
    return 0;
}
