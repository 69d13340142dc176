/*
 * The signature parsers on their own: header lookup, hex and base64 edge
 * cases, timestamps, the Stripe/Paddle and Standard Webhooks list formats,
 * the top-level JSON lookup used for dedup keys, and form/query decoding.
 * Inputs the fuzzer once found troublesome are kept at the end.
 */
#include "sig/sig_parse.h"

#include "check.h"
#include "core/err.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_trim_and_header(void)
{
    struct hw_http_header h[] = {
        { S("Content-Type"), S(" text/plain") },
        { S("X-Sig"), S(" \t first \t") },
        { S("x-sig"), S("second") },
        { S("X-Empty"), S("   ") },
    };
    const char *v;
    size_t vn;

    /* Given twice: neither counts. */
    CHECK(!hw_sig_header(h, 4, "x-SIG", &v, &vn));
    CHECK_EQ(hw_sig_header_count(h, 4, "x-SIG"), 2);
    CHECK(hw_sig_header(h, 2, "x-SIG", &v, &vn));
    CHECK_EQ(vn, 5);
    CHECK(!memcmp(v, "first", 5));
    CHECK_EQ(hw_sig_header_count(h, 4, "content-type"), 1);
    CHECK(hw_sig_header(h, 4, "X-Empty", &v, &vn));
    CHECK_EQ(vn, 0);
    CHECK(!hw_sig_header(h, 4, "X-Si", &v, &vn));
    CHECK(!hw_sig_header(h, 4, "X-Sigs", &v, &vn));
    CHECK(!hw_sig_header(h, 0, "X-Sig", &v, &vn));
}

static void test_hex(void)
{
    unsigned char out[4];
    size_t n;

    CHECK_EQ(hw_sig_hex_decode(S("00fFa9"), out, sizeof(out), &n), 0);
    CHECK_EQ(n, 3);
    CHECK(out[0] == 0x00 && out[1] == 0xff && out[2] == 0xa9);
    CHECK_EQ(hw_sig_hex_decode(S("abc"), out, sizeof(out), &n), HW_EPARSE);
    CHECK_EQ(hw_sig_hex_decode(S("zz"), out, sizeof(out), &n), HW_EPARSE);
    CHECK_EQ(hw_sig_hex_decode(S("0 "), out, sizeof(out), &n), HW_EPARSE);
    CHECK_EQ(hw_sig_hex_decode("", 0, out, sizeof(out), &n), HW_EPARSE);
    CHECK_EQ(hw_sig_hex_decode(S("0011223344"), out, sizeof(out), &n), HW_E2BIG);
}

static void test_base64(void)
{
    unsigned char out[8];
    size_t n;

    CHECK_EQ(hw_sig_b64_decode(S("QUJD"), out, sizeof(out), &n), 0);
    CHECK_EQ(n, 3);
    CHECK(!memcmp(out, "ABC", 3));
    CHECK_EQ(hw_sig_b64_decode(S("QQ=="), out, sizeof(out), &n), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(hw_sig_b64_decode(S("QQ"), out, sizeof(out), &n), 0); /* padding optional */
    CHECK_EQ(n, 1);
    CHECK_EQ(hw_sig_b64_decode(S("QUI="), out, sizeof(out), &n), 0);
    CHECK_EQ(n, 2);
    CHECK_EQ(hw_sig_b64_decode(S("+/+/"), out, sizeof(out), &n), 0);
    /* Wrong or partial padding, stray padding, bad characters. */
    CHECK_EQ(hw_sig_b64_decode(S("QQ="), out, sizeof(out), &n), HW_EPARSE);
    CHECK_EQ(hw_sig_b64_decode(S("QUJD="), out, sizeof(out), &n), HW_EPARSE);
    CHECK_EQ(hw_sig_b64_decode(S("Q==="), out, sizeof(out), &n), HW_EPARSE);
    CHECK_EQ(hw_sig_b64_decode(S("=="), out, sizeof(out), &n), HW_EPARSE);
    CHECK_EQ(hw_sig_b64_decode(S("Q"), out, sizeof(out), &n), HW_EPARSE);
    CHECK_EQ(hw_sig_b64_decode(S("QU JD"), out, sizeof(out), &n), HW_EPARSE);
    CHECK_EQ(hw_sig_b64_decode(S("QU-_"), out, sizeof(out), &n), HW_EPARSE);
    CHECK_EQ(hw_sig_b64_decode(S("Q=Q="), out, sizeof(out), &n), HW_EPARSE);
    /* Non-zero leftover bits: a second spelling of "A", refused. */
    CHECK_EQ(hw_sig_b64_decode(S("QR=="), out, sizeof(out), &n), HW_EPARSE);
    CHECK_EQ(hw_sig_b64_decode(S("QUJDREVGR0hJ"), out, sizeof(out), &n), HW_E2BIG);
}

static void test_timestamp(void)
{
    int64_t t;

    CHECK_EQ(hw_sig_parse_ts(S("1700000000"), &t), 0);
    CHECK_EQ(t, 1700000000);
    CHECK_EQ(hw_sig_parse_ts(S("0"), &t), 0);
    CHECK_EQ(hw_sig_parse_ts(S("999999999999999"), &t), 0);
    CHECK_EQ(hw_sig_parse_ts(S("1000000000000000"), &t), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_ts(S("-5"), &t), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_ts(S("+5"), &t), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_ts(S("17e8"), &t), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_ts(S("1 "), &t), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_ts("", 0, &t), HW_EPARSE);
}

static void test_kv_list(void)
{
    struct hw_sig_list l;

    CHECK_EQ(hw_sig_parse_kv_list(S("t=12,v1=ab,v0=cd, v1=ef "), ',', "t", &l), 0);
    CHECK_EQ(l.ts_len, 2);
    CHECK(!memcmp(l.ts, "12", 2));
    CHECK_EQ(l.n, 3);
    CHECK(l.c[2].tag_len == 2 && !memcmp(l.c[2].tag, "v1", 2));
    CHECK(l.c[2].val_len == 2 && !memcmp(l.c[2].val, "ef", 2));
    /* The value may itself contain '=' (only the first one splits). */
    CHECK_EQ(hw_sig_parse_kv_list(S("ts=1;h1=a=b"), ';', "ts", &l), 0);
    CHECK(l.c[0].val_len == 3);
    CHECK_EQ(hw_sig_parse_kv_list(S("v1=ab"), ',', "t", &l), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_kv_list(S("t=1,t=2,v1=ab"), ',', "t", &l), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_kv_list(S("t=1,,v1=ab"), ',', "t", &l), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_kv_list(S("t=1,v1=ab,"), ',', "t", &l), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_kv_list(S("t=1,v1"), ',', "t", &l), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_kv_list(S("t=1,=ab"), ',', "t", &l), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_kv_list(S("t=,v1=ab"), ',', "t", &l), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_kv_list("", 0, ',', "t", &l), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_kv_list(S("t=1,a=1,a=2,a=3,a=4,a=5,a=6,a=7,a=8"), ',', "t", &l), 0);
    CHECK_EQ(hw_sig_parse_kv_list(S("t=1,a=1,a=2,a=3,a=4,a=5,a=6,a=7,a=8,a=9"), ',', "t", &l),
             HW_E2BIG);
}

static void test_sw_list(void)
{
    struct hw_sig_list l;

    CHECK_EQ(hw_sig_parse_sw_list(S("v1,abc=   v1a,de v2,x"), &l), 0);
    CHECK_EQ(l.n, 3);
    CHECK(l.c[1].tag_len == 3 && !memcmp(l.c[1].val, "de", 2));
    CHECK(!l.ts);
    CHECK_EQ(hw_sig_parse_sw_list(S("v1"), &l), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_sw_list(S(",abc"), &l), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_sw_list(S("v1,"), &l), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_sw_list(S("   "), &l), HW_EPARSE);
    CHECK_EQ(hw_sig_parse_sw_list(S("a,1 a,2 a,3 a,4 a,5 a,6 a,7 a,8 a,9"), &l), HW_E2BIG);
}

static void test_json(void)
{
    const char *v;
    size_t vn;

    CHECK_EQ(hw_sig_json_string(S("{\"id\":\"evt_1\"}"), "id", &v, &vn), 0);
    CHECK(vn == 5 && !memcmp(v, "evt_1", 5));
    /* Nested ids are skipped; strings holding braces, brackets and escaped
     * quotes do not confuse the skipping. */
    CHECK_EQ(hw_sig_json_string(S(" { \"data\" : {\"id\":\"inner\",\"s\":\"}]\\\"{\"}, "
                                  "\"list\":[1,{\"id\":2},\"]\"], \"n\": -1.5e3, \"t\":true, "
                                  "\"id\" : \"outer\" } "),
                                "id", &v, &vn),
             0);
    CHECK(vn == 5 && !memcmp(v, "outer", 5));
    CHECK_EQ(hw_sig_json_string(S("{\"idx\":\"a\",\"xid\":\"b\"}"), "id", &v, &vn), HW_ENOTFOUND);
    CHECK_EQ(hw_sig_json_string(S("{\"id\":42}"), "id", &v, &vn), HW_ENOTFOUND);
    CHECK_EQ(hw_sig_json_string(S("{\"id\":\"a\\u0041\"}"), "id", &v, &vn), HW_ENOTFOUND);
    CHECK_EQ(hw_sig_json_string(S("{}"), "id", &v, &vn), HW_ENOTFOUND);
    CHECK_EQ(hw_sig_json_string(S("{\"a\":1}"), "id", &v, &vn), HW_ENOTFOUND);
    CHECK_EQ(hw_sig_json_string(S("[{\"id\":\"x\"}]"), "id", &v, &vn), HW_EPARSE);
    CHECK_EQ(hw_sig_json_string(S("token=1&id=2"), "id", &v, &vn), HW_EPARSE);
    CHECK_EQ(hw_sig_json_string(S("{\"a\":{\"b\":1"), "id", &v, &vn), HW_EPARSE);
    CHECK_EQ(hw_sig_json_string(S("{\"a\":\"open"), "id", &v, &vn), HW_EPARSE);
    CHECK_EQ(hw_sig_json_string(S("{\"a\" 1}"), "id", &v, &vn), HW_EPARSE);
    CHECK_EQ(hw_sig_json_string(S("{\"a\":1 \"id\":\"x\"}"), "id", &v, &vn), HW_EPARSE);
    CHECK_EQ(hw_sig_json_string(S("{\"a\":,\"id\":\"x\"}"), "id", &v, &vn), HW_EPARSE);
    CHECK_EQ(hw_sig_json_string("", 0, "id", &v, &vn), HW_EPARSE);
}

static void test_json_member(void)
{
    const char *v;
    size_t vn;

    /* Any type of value comes back raw: a number, a string with its quotes,
     * a nested object whole. */
    CHECK_EQ(hw_sig_json_member(S("{\"a\":\"x\",\"type\" : 1 ,\"z\":2}"), "type", &v, &vn), 0);
    CHECK(vn == 1 && v[0] == '1');
    CHECK_EQ(hw_sig_json_member(S("{\"type\":\"ab\"}"), "type", &v, &vn), 0);
    CHECK(vn == 4 && !memcmp(v, "\"ab\"", 4));
    CHECK_EQ(hw_sig_json_member(S("{\"p\":{\"t\":\"}\",\"q\":[1]},\"e\":0}"), "p", &v, &vn), 0);
    CHECK(vn == 17 && !memcmp(v, "{\"t\":\"}\",\"q\":[1]}", 17));
    CHECK_EQ(hw_sig_json_string(v, vn, "t", &v, &vn), 0);
    CHECK(vn == 1 && v[0] == '}');
    /* The first of two members wins; a malformed value is a parse error. */
    CHECK_EQ(hw_sig_json_member(S("{\"k\":1,\"k\":2}"), "k", &v, &vn), 0);
    CHECK(vn == 1 && v[0] == '1');
    CHECK_EQ(hw_sig_json_member(S("{\"k\":{\"a\":1"), "k", &v, &vn), HW_EPARSE);
    CHECK_EQ(hw_sig_json_member(S("{\"k\":}"), "k", &v, &vn), HW_EPARSE);
    CHECK_EQ(hw_sig_json_member(S("{\"j\":1}"), "k", &v, &vn), HW_ENOTFOUND);
}

static void test_form_and_query(void)
{
    char out[32];
    const char *v;
    size_t vn;

    CHECK_EQ(hw_sig_form_decode(S("a+b%2B%2fc%zz%4"), out), 11);
    CHECK(!memcmp(out, "a b+/c%zz%4", 11));
    CHECK_EQ(hw_sig_form_decode(S("%"), out), 1);
    CHECK_EQ(hw_sig_query_param(S("/p?a=1&bodySHA256=ff&b=2"), "bodySHA256", &v, &vn), 1);
    CHECK(vn == 2 && !memcmp(v, "ff", 2));
    CHECK_EQ(hw_sig_query_param(S("/p?bodySHA2560=1&xbodySHA256=2"), "bodySHA256", &v, &vn), 0);
    CHECK_EQ(hw_sig_query_param(S("/p?bodySHA256="), "bodySHA256", &v, &vn), 1);
    CHECK_EQ(vn, 0);
    CHECK_EQ(hw_sig_query_param(S("/p/bodySHA256=1"), "bodySHA256", &v, &vn), 0);
    CHECK_EQ(hw_sig_query_param(S("/p?&&"), "a", &v, &vn), 0);
}

int main(void)
{
    RUN(test_trim_and_header);
    RUN(test_hex);
    RUN(test_base64);
    RUN(test_timestamp);
    RUN(test_kv_list);
    RUN(test_sw_list);
    RUN(test_json);
    RUN(test_json_member);
    RUN(test_form_and_query);
    return 0;
}
