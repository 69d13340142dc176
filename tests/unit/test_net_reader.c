/*
 * The server connection's request side, white-box (net/http_reader.c): the
 * end of a head is found across any split of the bytes, the header-line
 * limit gives 431, a head fed one byte at a time costs time linear in its
 * size (it is not re-parsed from the start on each read), and a chunk
 * announced past the body limit is refused at its size line.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/buf.h"
#include "http/limits.h"
#include "net/http_reader.h"

static double cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A request head of exactly size bytes (a padding header fills it). */
static size_t make_head(char *buf, size_t size)
{
    const char *start = "POST /t/a/x HTTP/1.1\r\nHost: h\r\nX-Pad: ";
    size_t n = strlen(start);

    memcpy(buf, start, n);
    memset(buf + n, 'p', size - n - 4);
    memcpy(buf + size - 4, "\r\n\r\n", 4);
    return size;
}

/* Feeds buf one byte at a time; returns how many heads completed. */
static int feed_bytewise(struct hw_http_reader *r, const char *buf, size_t len)
{
    enum hw_errc e;
    int heads = 0;

    for (size_t i = 0; i < len; i++) {
        CHECK_EQ(hw_http_reader_add(r, buf + i, 1), 0);
        int rc = hw_http_reader_head(r, &e);
        CHECK(rc >= 0);
        if (rc == 1) {
            heads++;
            hw_http_reader_next(r);
        }
    }
    return heads;
}

static void test_split_anywhere(void)
{
    static const char two[] = "\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                              "GET /b HTTP/1.1\r\nHost: h\r\nX: y\r\n\r\n";
    size_t len = sizeof(two) - 1;

    /* Every split point of the two pipelined heads. */
    for (size_t cut = 0; cut <= len; cut++) {
        struct hw_http_reader r;
        enum hw_errc e;
        int got = 0, rc;

        hw_http_reader_init(&r, HW_HEAD_MAX, HW_HEADERS_ACCEPTED);
        CHECK_EQ(hw_http_reader_add(&r, two, cut), 0);
        while ((rc = hw_http_reader_head(&r, &e)) == 1) {
            CHECK(r.req.target[1] == (got ? 'b' : 'a'));
            got++;
            hw_http_reader_next(&r);
        }
        CHECK_EQ(rc, 0);
        CHECK_EQ(hw_http_reader_add(&r, two + cut, len - cut), 0);
        while ((rc = hw_http_reader_head(&r, &e)) == 1) {
            CHECK(r.req.target[1] == (got ? 'b' : 'a'));
            got++;
            hw_http_reader_next(&r);
        }
        CHECK_EQ(rc, 0);
        CHECK_EQ(got, 2);
        CHECK_EQ(hw_http_reader_pending(&r), 0);
        hw_http_reader_cleanup(&r);
    }
}

static void test_header_count(void)
{
    char buf[8192];

    for (int n = HW_HEADERS_ACCEPTED - 1; n <= HW_HTTP_MAX_HEADERS + 1; n++) {
        struct hw_http_reader r;
        enum hw_errc e = HW_ERRC_COUNT;
        size_t len = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\n");
        int rc;

        for (int i = 1; i < n; i++)
            len += (size_t)snprintf(buf + len, sizeof(buf) - len, "X-%d: v\r\n", i);
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "\r\n");
        hw_http_reader_init(&r, HW_HEAD_MAX, HW_HEADERS_ACCEPTED);
        CHECK_EQ(hw_http_reader_add(&r, buf, len), 0);
        rc = hw_http_reader_head(&r, &e);
        if (n <= HW_HEADERS_ACCEPTED) {
            CHECK_EQ(rc, 1);
            CHECK_EQ(r.req.nheaders, n);
        } else {
            CHECK_EQ(rc, -1);
            CHECK_EQ(e, HW_ERRC_HEADERS_TOO_LARGE);
        }
        hw_http_reader_cleanup(&r);
    }
}

static void test_malformed_early(void)
{
    struct hw_http_reader r;
    enum hw_errc e = HW_ERRC_COUNT;
    char junk[1024];
    int rc = 0;

    /* A bad request line is reported long before the head cap, with no blank line. */
    memset(junk, 'x', sizeof(junk));
    memcpy(junk, "GET / HTTP/9.9\r\nHost: h\r\nX: ", 28);
    hw_http_reader_init(&r, HW_HEAD_MAX, HW_HEADERS_ACCEPTED);
    for (size_t i = 0; i < sizeof(junk) && rc == 0; i++) {
        CHECK_EQ(hw_http_reader_add(&r, junk + i, 1), 0);
        rc = hw_http_reader_head(&r, &e);
    }
    CHECK_EQ(rc, -1);
    CHECK_EQ(e, HW_ERRC_BAD_REQUEST);
    hw_http_reader_cleanup(&r);
    /* Past the cap without a blank line: 431. */
    hw_http_reader_init(&r, 4096, HW_HEADERS_ACCEPTED);
    memcpy(junk, "GET / HTTP/1.1\r\nHost: h\r\nX: ", 28);
    rc = 0;
    for (int i = 0; i < 8 && rc == 0; i++) {
        CHECK_EQ(hw_http_reader_add(&r, i ? junk + 28 : junk, i ? sizeof(junk) - 28 : 1024), 0);
        rc = hw_http_reader_head(&r, &e);
    }
    CHECK_EQ(rc, -1);
    CHECK_EQ(e, HW_ERRC_HEADERS_TOO_LARGE);
    hw_http_reader_cleanup(&r);
}

/*
 * A line ended by LF alone is reported when that LF arrives, whatever the
 * head's size: a short head ended only by bare LFs never holds "\r\n\r\n",
 * so waiting for the blank line would leave it to the head timeout.
 */
static void test_bare_lf(void)
{
    static const char *const heads[] = {
        "GET / HTTP/1.1\nHost: h\n\n",
        "GET / HTTP/1.1\r\nHost: h\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\n\n",
        "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
    };

    for (size_t k = 0; k < sizeof(heads) / sizeof(heads[0]); k++) {
        struct hw_http_reader r;
        enum hw_errc e = HW_ERRC_COUNT;
        const char *h = heads[k];
        size_t lf = 0, i;
        int rc = 0;

        while (h[lf] != '\n' || (lf > 0 && h[lf - 1] == '\r'))
            lf++;
        hw_http_reader_init(&r, HW_HEAD_MAX, HW_HEADERS_ACCEPTED);
        for (i = 0; h[i] != '\0' && rc == 0; i++) {
            CHECK_EQ(hw_http_reader_add(&r, h + i, 1), 0);
            rc = hw_http_reader_head(&r, &e);
        }
        CHECK_EQ(rc, -1);
        CHECK_EQ(e, HW_ERRC_BAD_REQUEST);
        CHECK_EQ(i, lf + 1); /* at the first bare LF, not later */
        hw_http_reader_cleanup(&r);
    }
}

/*
 * Four quarter-size heads and one full-size head, fed a byte at a time,
 * are the same bytes and the same calls: linear work costs about the same
 * for both; re-parsing from the start on each byte costs the big one ~4x.
 */
static void test_bytewise_is_linear(void)
{
    static char big[HW_HEAD_MAX - 2048], quarter[sizeof(big) / 4];
    double best[2] = { 1e9, 1e9 };

    make_head(big, sizeof(big));
    make_head(quarter, sizeof(quarter));
    for (int round = 0; round < 5; round++) {
        for (int which = 0; which < 2; which++) {
            struct hw_http_reader r;
            double t0;
            int heads = 0;

            hw_http_reader_init(&r, HW_HEAD_MAX, HW_HEADERS_ACCEPTED);
            t0 = cpu_seconds();
            if (which == 0) {
                for (int i = 0; i < 4; i++)
                    heads += feed_bytewise(&r, quarter, sizeof(quarter));
                CHECK_EQ(heads, 4);
            } else {
                CHECK_EQ(feed_bytewise(&r, big, sizeof(big)), 1);
            }
            t0 = cpu_seconds() - t0;
            if (t0 < best[which])
                best[which] = t0;
            hw_http_reader_cleanup(&r);
        }
    }
    fprintf(stderr, "    %zu bytes one at a time: %.2f ms as four heads, %.2f ms as one\n",
            sizeof(big), best[0] * 1e3, best[1] * 1e3);
    CHECK(best[1] < 2 * best[0] + 0.002);
}

/*
 * Empty lines before a request line (RFC 9112 2.2) are skipped, however
 * many and however split: two of them make a blank line of their own,
 * which the scan must not find again and again (alarm() turns a loop that
 * never ends into a failure).
 */
static void test_empty_lines_first(void)
{
    static const char req[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    char buf[256];

    alarm(10);
    for (size_t k = 1; k <= 5; k++) {
        size_t len = 0;

        for (size_t i = 0; i < k; i++) {
            memcpy(buf + len, "\r\n", 2);
            len += 2;
        }
        memcpy(buf + len, req, sizeof(req) - 1);
        len += sizeof(req) - 1;
        for (size_t cut = 0; cut <= len; cut++) {
            struct hw_http_reader r;
            enum hw_errc e;
            int rc;

            hw_http_reader_init(&r, HW_HEAD_MAX, HW_HEADERS_ACCEPTED);
            CHECK_EQ(hw_http_reader_add(&r, buf, cut), 0);
            rc = hw_http_reader_head(&r, &e);
            CHECK_EQ(rc, cut == len ? 1 : 0);
            if (rc == 0) {
                CHECK_EQ(hw_http_reader_add(&r, buf + cut, len - cut), 0);
                CHECK_EQ(hw_http_reader_head(&r, &e), 1);
            }
            CHECK_EQ(r.req.target_len, 2);
            CHECK(memcmp(r.req.target, "/a", 2) == 0);
            CHECK_EQ(hw_http_reader_pending(&r), 0);
            hw_http_reader_cleanup(&r);
        }
    }
    alarm(0);
}

/* Feeds a chunked body in pieces to a reader with a 1,000-byte limit; returns the last result. */
static int chunked_body(const char *const *pieces, enum hw_errc *e)
{
    static const char head[] =
        "POST /t/a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    struct hw_http_reader r;
    size_t added = 0;
    int rc = 0;

    hw_http_reader_init(&r, HW_HEAD_MAX, HW_HEADERS_ACCEPTED);
    CHECK_EQ(hw_http_reader_add(&r, head, sizeof(head) - 1), 0);
    CHECK_EQ(hw_http_reader_head(&r, e), 1);
    CHECK_EQ(hw_http_reader_body_start(&r, 1000, e), 0);
    for (; *pieces && rc == 0; pieces++) {
        CHECK_EQ(hw_http_reader_add(&r, *pieces, strlen(*pieces)), 0);
        rc = hw_http_reader_body(&r, &added, e);
    }
    hw_http_reader_cleanup(&r);
    return rc;
}

static void test_chunk_over_limit(void)
{
    enum hw_errc e = HW_ERRC_COUNT;

    /* Exactly the limit, announced: the reader waits for the bytes. */
    CHECK_EQ(chunked_body((const char *const[]){ "3e8\r\n", NULL }, &e), 0);
    /* One byte more, announced before any of it came: refused at once. */
    CHECK_EQ(chunked_body((const char *const[]){ "3e9\r\n", NULL }, &e), -1);
    CHECK_EQ(e, HW_ERRC_BODY_TOO_LARGE);
    /* A second chunk that would pass the limit with the first one's bytes. */
    e = HW_ERRC_COUNT;
    CHECK_EQ(chunked_body((const char *const[]){ "a\r\n0123456789\r\n", "3df\r\n", NULL }, &e), -1);
    CHECK_EQ(e, HW_ERRC_BODY_TOO_LARGE);
    /* A huge size in its first digits, split from the rest of its line: refused too. */
    e = HW_ERRC_COUNT;
    CHECK_EQ(chunked_body((const char *const[]){ "ffff", "ffff\r\n", NULL }, &e), -1);
    CHECK_EQ(e, HW_ERRC_BODY_TOO_LARGE);
    /* Within the limit, whole: done. */
    CHECK_EQ(chunked_body((const char *const[]){ "3\r\nabc\r\n0\r\n\r\n", NULL }, &e), 1);
}

int main(void)
{
    RUN(test_split_anywhere);
    RUN(test_empty_lines_first);
    RUN(test_header_count);
    RUN(test_malformed_early);
    RUN(test_bare_lf);
    RUN(test_bytewise_is_linear);
    RUN(test_chunk_over_limit);
    return 0;
}
