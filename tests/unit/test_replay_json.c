/*
 * Unit tests for replay/json.c's string escaping: any stored bytes become
 * a valid JSON string (valid UTF-8 kept, anything else as \u00XX).
 */
#include "json.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

static void expect(const char *in, size_t n, const char *want)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    CHECK(f);
    replay_json_string(f, in, n);
    CHECK_EQ(fclose(f), 0);
    CHECK_STR(out, want);
    free(out);
}

static void test_escapes(void)
{
    expect("plain", 5, "\"plain\"");
    expect("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    expect("\r\n\t", 3, "\"\\r\\n\\t\"");
    expect("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
    expect("nul\0in", 6, "\"nul\\u0000in\"");
    expect("", 0, "\"\"");
}

static void test_utf8(void)
{
    expect("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");                                   /* kept */
    expect("\xe2\x82\xac\xf0\x9f\x98\x80", 7, "\"\xe2\x82\xac\xf0\x9f\x98\x80\""); /* kept */
    expect("\xff", 1, "\"\\u00ff\"");                                              /* not UTF-8 */
    expect("\xc3", 1, "\"\\u00c3\"");                                              /* cut short */
    expect("\xc0\xaf", 2, "\"\\u00c0\\u00af\"");                                   /* overlong */
    expect("\xed\xa0\x80", 3, "\"\\u00ed\\u00a0\\u0080\"");                        /* a surrogate */
    expect("\xf4\x90\x80\x80", 4, "\"\\u00f4\\u0090\\u0080\\u0080\""); /* past U+10FFFF */
}

int main(void)
{
    fprintf(stderr, "test_replay_json\n");
    RUN(test_escapes);
    RUN(test_utf8);
    return 0;
}
