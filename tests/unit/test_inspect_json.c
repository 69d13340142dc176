/*
 * Unit tests for agent/inspect_json.c, the inspector's JSON: strings written
 * byte for byte (\u00XX outside printable ASCII), base64, and the strict
 * reader of an edited replay's document: escapes, surrogate pairs, members
 * of other types skipped, and every malformed document refused whole.
 * Single-threaded.
 */
#include "inspect_json.h"

#include <string.h>

#include "check.h"
#include "core/err.h"

/* The string member key of doc, or the error: into out (a NUL-terminated copy). */
static int get(const char *doc, const char *key, char *out, size_t cap)
{
    struct hw_buf b;
    int rc;

    hw_buf_init(&b, 1 << 20);
    rc = agent_json_get_str(doc, strlen(doc), key, &b);
    CHECK(hw_buf_size(&b) < cap);
    memcpy(out, hw_buf_head(&b), hw_buf_size(&b));
    out[hw_buf_size(&b)] = '\0';
    hw_buf_cleanup(&b);
    return rc;
}

static void test_write(void)
{
    struct hw_buf b;
    static const char bytes[] = "a\"b\\c\r\n\x01\x7f\xff";

    hw_buf_init(&b, 4096);
    CHECK_EQ(hw_json_str(&b, bytes, sizeof(bytes) - 1, HW_JSON_BYTES), 0);
    CHECK_EQ(hw_buf_size(&b), strlen("\"a\\\"b\\\\c\\u000d\\u000a\\u0001\\u007f\\u00ff\""));
    CHECK_MEM(hw_buf_head(&b), "\"a\\\"b\\\\c\\u000d\\u000a\\u0001\\u007f\\u00ff\"",
              hw_buf_size(&b));
    hw_buf_reset(&b);
    CHECK_EQ(agent_json_b64(&b, "hello!?", 7), 0);
    CHECK_EQ(hw_buf_size(&b), 14);
    CHECK_MEM(hw_buf_head(&b), "\"aGVsbG8hPw==\"", 14);
    hw_buf_reset(&b);
    CHECK_EQ(agent_json_b64(&b, "", 0), 0);
    CHECK_EQ(hw_buf_size(&b), 2);
    hw_buf_cleanup(&b);
    /* A buffer too small says so instead of growing. */
    hw_buf_init(&b, 4);
    CHECK_EQ(hw_json_str(&b, "abcdef", 6, HW_JSON_BYTES), HW_E2BIG);
    hw_buf_cleanup(&b);
}

static void test_read(void)
{
    char v[256];

    CHECK_EQ(get("{\"headers\":\"A: b\\r\\nC: d\",\"body\":\"x\"}", "headers", v, sizeof(v)), 1);
    CHECK_STR(v, "A: b\r\nC: d");
    CHECK_EQ(get("{\"headers\":\"A: b\",\"body\":\"x\"}", "body", v, sizeof(v)), 1);
    CHECK_STR(v, "x");
    CHECK_EQ(get(" { \"n\" : 1.5e3 , \"o\":{\"a\":[1,true,null,\"]\"]} , \"k\" : \"v\" } ", "k", v,
                 sizeof(v)),
             1);
    CHECK_STR(v, "v");
    CHECK_EQ(get("{\"a\":\"b\"}", "missing", v, sizeof(v)), 0);
    CHECK_EQ(get("{}", "a", v, sizeof(v)), 0);
    /* Escapes: \u00XX is that byte (what hw_json_str wrote), others UTF-8. */
    CHECK_EQ(get("{\"k\":\"\\u00e9\\u0041\\/\\t\"}", "k", v, sizeof(v)), 1);
    CHECK_STR(v, "\xe9"
                 "A/\t");
    CHECK_EQ(get("{\"k\":\"\\u20ac \\ud83d\\ude00\"}", "k", v, sizeof(v)), 1);
    CHECK_STR(v, "\xe2\x82\xac \xf0\x9f\x98\x80");
    CHECK_EQ(get("{\"k\":\"h\xc3\xa9llo\"}", "k", v, sizeof(v)), 1);
    CHECK_STR(v, "h\xc3\xa9llo");
    /* A key spelled with an escape is the same key. */
    CHECK_EQ(get("{\"\\u0062ody\":\"yes\"}", "body", v, sizeof(v)), 1);
    CHECK_STR(v, "yes");
}

static void test_refuse(void)
{
    static const char *const bad[] = {
        "",
        "[]",
        "\"s\"",
        "{",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":\"b\",}",
        "{\"a\":\"b\"} x",
        "{\"a\":\"b\"}{}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":\"line\nbreak\"}",
        "{\"a\":tru}",
        "{\"a\":-}",
        "{\"a\":[1,]}",
        "{a:\"b\"}",
        "{\"a\":\"b\"",
    };
    char v[64];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (get(bad[i], "a", v, sizeof(v)) != HW_EINVAL) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            CHECK(0);
        }
    }
    /* The member asked for must be a string. */
    CHECK_EQ(get("{\"headers\":3}", "headers", v, sizeof(v)), HW_EINVAL);
    CHECK_EQ(get("{\"headers\":null}", "headers", v, sizeof(v)), HW_EINVAL);
    /* A broken document is refused even when the key comes before the break. */
    CHECK_EQ(get("{\"headers\":\"a\", \"x\": [}", "headers", v, sizeof(v)), HW_EINVAL);
}

static void test_depth(void)
{
    char doc[200], v[16];
    size_t n = 0;

    /* 16 levels inside the document are read; 40 are refused, not recursed into. */
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "{\"k\":\"v\",\"d\":");
    for (int i = 0; i < 16; i++)
        doc[n++] = '[';
    for (int i = 0; i < 16; i++)
        doc[n++] = ']';
    memcpy(doc + n, "}", 2);
    CHECK_EQ(get(doc, "k", v, sizeof(v)), 1);
    n = 0;
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "{\"d\":");
    for (int i = 0; i < 40; i++)
        doc[n++] = '[';
    for (int i = 0; i < 40; i++)
        doc[n++] = ']';
    memcpy(doc + n, "}", 2);
    CHECK_EQ(get(doc, "k", v, sizeof(v)), HW_EINVAL);
}

int main(void)
{
    RUN(test_write);
    RUN(test_read);
    RUN(test_refuse);
    RUN(test_depth);
    return 0;
}
