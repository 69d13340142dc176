/*
 * Unit tests for common/core/json.c, the one JSON string writer: control
 * characters, quotes, backslash, NUL, invalid UTF-8 in both modes, through
 * the hw_buf writer, the FILE writer and the chunked escaper (whose output
 * must not depend on the chunk size). Single-threaded.
 */
#include "core/json.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"

/* s[0..n) written in mode by every writer must be want (NUL-terminated). */
static void expect(enum hw_json_mode mode, const char *s, size_t n, const char *want)
{
    struct hw_buf b;
    char *out = NULL, small[16];
    size_t len = 0, used, at = 0, total = 0;
    FILE *f = open_memstream(&out, &len);

    hw_buf_init(&b, 1 << 16);
    CHECK_EQ(hw_json_str(&b, s, n, mode), 0);
    CHECK_EQ(hw_buf_size(&b), strlen(want));
    CHECK_MEM(hw_buf_head(&b), want, strlen(want));
    hw_buf_cleanup(&b);

    CHECK(f);
    hw_json_fput(f, s, n, mode);
    CHECK_EQ(fclose(f), 0);
    CHECK_STR(out, want);
    free(out);

    /* A 6-byte buffer, the smallest that always progresses: same bytes, quotes aside. */
    while (at < n) {
        size_t in = hw_json_escape(small, 6, &used, s + at, n - at, mode);

        CHECK(in > 0);
        CHECK(used <= 6);
        CHECK_MEM(small, want + 1 + total, used);
        at += in;
        total += used;
    }
    CHECK_EQ(total + 2, strlen(want));
}

static void test_both_modes(void)
{
    static const enum hw_json_mode modes[] = { HW_JSON_BYTES, HW_JSON_TEXT };

    for (size_t i = 0; i < 2; i++) {
        expect(modes[i], "plain text", 10, "\"plain text\"");
        expect(modes[i], "a\"b\\c/", 6, "\"a\\\"b\\\\c/\"");
        expect(modes[i], "", 0, "\"\"");
        expect(modes[i], "nul\0in", 6, "\"nul\\u0000in\"");
        expect(modes[i], "\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
    }
}

static void test_bytes(void)
{
    /* Every byte outside printable ASCII as \u00XX, UTF-8 included: bytes come back exact. */
    expect(HW_JSON_BYTES, "\r\n\t\b\f", 5, "\"\\u000d\\u000a\\u0009\\u0008\\u000c\"");
    expect(HW_JSON_BYTES, "caf\xc3\xa9", 5, "\"caf\\u00c3\\u00a9\"");
    expect(HW_JSON_BYTES, "\xff\x80", 2, "\"\\u00ff\\u0080\"");
}

static void test_text(void)
{
    expect(HW_JSON_TEXT, "\r\n\t", 3, "\"\\r\\n\\t\"");
    expect(HW_JSON_TEXT, "\b\f", 2, "\"\\u0008\\u000c\"");
    expect(HW_JSON_TEXT, "caf\xc3\xa9", 5, "\"caf\xc3\xa9\""); /* kept */
    expect(HW_JSON_TEXT, "\xe2\x82\xac\xf0\x9f\x98\x80", 7,
           "\"\xe2\x82\xac\xf0\x9f\x98\x80\"");                           /* kept */
    expect(HW_JSON_TEXT, "\xff", 1, "\"\\u00ff\"");                       /* never UTF-8 */
    expect(HW_JSON_TEXT, "\xc3", 1, "\"\\u00c3\"");                       /* cut short */
    expect(HW_JSON_TEXT, "\xc3x", 2, "\"\\u00c3x\"");                     /* bad continuation */
    expect(HW_JSON_TEXT, "\xc0\xaf", 2, "\"\\u00c0\\u00af\"");            /* overlong */
    expect(HW_JSON_TEXT, "\xe0\x80\xaf", 3, "\"\\u00e0\\u0080\\u00af\""); /* overlong, 3 bytes */
    expect(HW_JSON_TEXT, "\xed\xa0\x80", 3, "\"\\u00ed\\u00a0\\u0080\""); /* a surrogate */
    expect(HW_JSON_TEXT, "\xf4\x90\x80\x80", 4,
           "\"\\u00f4\\u0090\\u0080\\u0080\""); /* > U+10FFFF */
}

static void test_limits(void)
{
    struct hw_buf b;
    char big[2000], out[8];
    size_t used;

    /* A buffer too small says so instead of growing. */
    hw_buf_init(&b, 4);
    CHECK_EQ(hw_json_str(&b, "abcdef", 6, HW_JSON_BYTES), HW_E2BIG);
    hw_buf_cleanup(&b);
    /* An escape that does not fit is left whole for the next call. */
    CHECK_EQ(hw_json_escape(out, 8, &used, "abc\x01", 4, HW_JSON_BYTES), 3);
    CHECK_EQ(used, 3);
    CHECK_EQ(hw_json_escape(out, 5, &used, "\x01", 1, HW_JSON_BYTES), 0);
    CHECK_EQ(used, 0);
    CHECK_EQ(hw_json_escape(out, 2, &used, "\xe2\x82\xac", 3, HW_JSON_TEXT), 0);
    /* Output longer than one internal chunk: every escape arrives, in order. */
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = i % 3 ? 'x' : '\n';
    hw_buf_init(&b, 1 << 16);
    CHECK_EQ(hw_json_str(&b, big, sizeof(big), HW_JSON_BYTES), 0);
    CHECK_EQ(hw_buf_size(&b), 2 + 1333 + 667 * 6);
    CHECK_MEM(hw_buf_head(&b) + hw_buf_size(&b) - 8, "\\u000ax\"", 8);
    hw_buf_cleanup(&b);
}

int main(void)
{
    fprintf(stderr, "test_json\n");
    RUN(test_both_modes);
    RUN(test_bytes);
    RUN(test_text);
    RUN(test_limits);
    return 0;
}
