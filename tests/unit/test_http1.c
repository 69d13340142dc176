/*
 * Unit tests for common/http/http1.c and http1_headers.c: request and response
 * heads of every framing, byte-exact header capture, each rejection the parser
 * promises, incremental input at every split, keep-alive and hop-by-hop rules,
 * and the chunked decoder fed whole, split and byte by byte. Single-threaded.
 */
#include "http/http1.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "http/limits.h"

#define BIG 16384

/*
 * Parses from an exact-size heap copy, so that a sanitizer build reports any
 * read past the end of the input.
 */
static int parse(int response, const char *method, const char *msg, size_t len,
                 struct hw_http_head *head)
{
    char *copy = malloc(len ? len : 1);
    int rc;

    CHECK(copy != NULL);
    memcpy(copy, msg, len);
    if (response)
        rc = hw_http_parse_response(copy, len, method, head);
    else
        rc = hw_http_parse_request(copy, len, head);
    free(copy);
    return rc;
}

static int req(const char *msg, struct hw_http_head *head)
{
    return hw_http_parse_request(msg, strlen(msg), head);
}

static int resp(const char *msg, const char *method, struct hw_http_head *head)
{
    return hw_http_parse_response(msg, strlen(msg), method, head);
}

static void check_header(const struct hw_http_head *head, size_t i, const char *name,
                         const char *value)
{
    const struct hw_http_header *h;

    CHECK(i < head->nheaders);
    h = &head->headers[i];
    CHECK_EQ(h->name_len, strlen(name));
    CHECK_MEM(h->name, name, h->name_len);
    CHECK_EQ(h->value_len, strlen(value));
    CHECK_MEM(h->value, value, h->value_len);
}

/* Every proper prefix of a valid head asks for more; the whole parses. */
static void check_all_prefixes(int response, const char *method, const char *msg)
{
    struct hw_http_head head;
    size_t len = strlen(msg);

    for (size_t k = 0; k < len; k++)
        CHECK_EQ(parse(response, method, msg, k, &head), HW_EAGAIN);
    CHECK_EQ(parse(response, method, msg, len, &head), (int)len);
}

static void append(char *buf, size_t *len, const char *s)
{
    size_t n = strlen(s);

    CHECK(*len + n < BIG);
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
}

static void test_request_basic(void)
{
    static const char msg[] = "GET /t/alice/hook?a=1&b=%20 HTTP/1.1\r\n"
                              "Host: relay.example\r\n"
                              "User-Agent: test\r\n"
                              "\r\n";
    struct hw_http_head head;

    CHECK_EQ(req(msg, &head), (int)strlen(msg));
    CHECK_EQ(head.head_len, strlen(msg));
    CHECK_EQ(head.method_len, 3);
    CHECK_MEM(head.method, "GET", 3);
    CHECK_EQ(head.target_len, strlen("/t/alice/hook?a=1&b=%20"));
    CHECK_MEM(head.target, "/t/alice/hook?a=1&b=%20", head.target_len);
    CHECK_EQ(head.minor_version, 1);
    CHECK_EQ(head.nheaders, 2);
    check_header(&head, 0, "Host", " relay.example");
    check_header(&head, 1, "User-Agent", " test");
    CHECK_EQ(head.body, HW_BODY_NONE);
    CHECK_EQ(head.keep_alive, 1);
    CHECK_EQ(head.expect_continue, 0);
}

static void test_request_header_bytes_kept(void)
{
    static const char msg[] = "POST /hook HTTP/1.1\r\n"
                              "Host: example.com\r\n"
                              "X-Hub-Signature-256:  sha256=abc \t\r\n"
                              "cOnTeNt-TyPe:application/json\r\n"
                              "X-Dup: one\r\n"
                              "X-Dup: two\r\n"
                              "x-dup:three\r\n"
                              "X-Empty:\r\n"
                              "X-Tabs:\ta\tb\t\r\n"
                              "X-Utf8: caf\xc3\xa9\r\n"
                              "Content-Length: 2\r\n"
                              "\r\n"
                              "{}";
    struct hw_http_head head;
    size_t head_len = strlen(msg) - 2;

    CHECK_EQ(req(msg, &head), (int)head_len);
    CHECK_EQ(head.nheaders, 10);
    check_header(&head, 0, "Host", " example.com");
    check_header(&head, 1, "X-Hub-Signature-256", "  sha256=abc \t");
    check_header(&head, 2, "cOnTeNt-TyPe", "application/json");
    check_header(&head, 3, "X-Dup", " one");
    check_header(&head, 4, "X-Dup", " two");
    check_header(&head, 5, "x-dup", "three");
    check_header(&head, 6, "X-Empty", "");
    check_header(&head, 7, "X-Tabs", "\ta\tb\t");
    check_header(&head, 8, "X-Utf8", " caf\xc3\xa9");
    check_header(&head, 9, "Content-Length", " 2");
    CHECK_EQ(head.body, HW_BODY_LENGTH);
    CHECK_EQ(head.content_length, 2);
    CHECK_MEM(msg + head.head_len, "{}", 2);

    /* The pointers point into the caller's buffer, not into copies. */
    CHECK(head.method == msg);
    CHECK(head.headers[0].name == msg + strlen("POST /hook HTTP/1.1\r\n"));
}

static void test_request_content_length(void)
{
    struct hw_http_head head;

    CHECK(req("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &head) > 0);
    CHECK_EQ(head.body, HW_BODY_LENGTH);
    CHECK_EQ(head.content_length, 0);

    CHECK(req("POST / HTTP/1.1\r\nContent-Length: \t 12 \t\r\n\r\n", &head) > 0);
    CHECK_EQ(head.body, HW_BODY_LENGTH);
    CHECK_EQ(head.content_length, 12);

    CHECK(req("POST / HTTP/1.1\r\ncontent-length: 7\r\nX: y\r\nCONTENT-LENGTH:7 \r\n\r\n", &head) >
          0);
    CHECK_EQ(head.body, HW_BODY_LENGTH);
    CHECK_EQ(head.content_length, 7);

    /* 2^60 is the largest length accepted. */
    CHECK(req("POST / HTTP/1.1\r\nContent-Length: 1152921504606846976\r\n\r\n", &head) > 0);
    CHECK(head.content_length == (uint64_t)1 << 60);
    CHECK(req("POST / HTTP/1.1\r\nContent-Length: 0001152921504606846976\r\n\r\n", &head) > 0);
    CHECK(head.content_length == (uint64_t)1 << 60);
    CHECK_EQ(req("POST / HTTP/1.1\r\nContent-Length: 1152921504606846977\r\n\r\n", &head),
             HW_EPARSE);
    CHECK_EQ(req("POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n", &head),
             HW_EPARSE);
    CHECK_EQ(req("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n", &head),
             HW_EPARSE);

    static const char *const bad[] = {
        "",    " ",   "-1",   "+5",       "5, 5", "5,", "0x10", "5 5",
        "1e3", "abc", "5\t5", "\xd9\xa1", "5a",   ",5", "5;",   "five",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char msg[256];
        int n = snprintf(msg, sizeof(msg), "POST / HTTP/1.1\r\nContent-Length: %s\r\n\r\n", bad[i]);
        CHECK(n > 0 && (size_t)n < sizeof(msg));
        CHECK_EQ(req(msg, &head), HW_EPARSE);
    }

    /* Repeats must be byte-identical, not just equal in value. */
    CHECK_EQ(req("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", &head),
             HW_EPARSE);
    CHECK_EQ(req("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n", &head),
             HW_EPARSE);
}

static void test_request_chunked(void)
{
    struct hw_http_head head;

    CHECK(req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &head) > 0);
    CHECK_EQ(head.body, HW_BODY_CHUNKED);
    CHECK_EQ(head.keep_alive, 1);
    CHECK(req("POST / HTTP/1.1\r\ntransfer-encoding:  ChUnKeD \t\r\n\r\n", &head) > 0);
    CHECK_EQ(head.body, HW_BODY_CHUNKED);

    CHECK_EQ(req("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &head), HW_EPARSE);
    CHECK_EQ(req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", &head),
             HW_EPARSE);
    CHECK_EQ(req("POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", &head), HW_EPARSE);
    CHECK_EQ(req("POST / HTTP/1.1\r\nTransfer-Encoding: chunkedx\r\n\r\n", &head), HW_EPARSE);
    CHECK_EQ(req("POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", &head), HW_EPARSE);
    CHECK_EQ(req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n",
                 &head),
             HW_EPARSE);

    /* Both framings at once, in either order, is the classic smuggling vector. */
    CHECK_EQ(
        req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", &head),
        HW_EPARSE);
    CHECK_EQ(
        req("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", &head),
        HW_EPARSE);

    /* HTTP/1.0 has no chunked coding. */
    CHECK_EQ(req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &head), HW_EPARSE);
}

static void test_request_rejects(void)
{
    static const char *const bad[] = {
        /* request line */
        "GET  / HTTP/1.1\r\n\r\n",
        " GET / HTTP/1.1\r\n\r\n",
        "GET /a b HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n",
        "GET /\x01 HTTP/1.1\r\n\r\n",
        "GET /\x7f HTTP/1.1\r\n\r\n",
        "GET /\t HTTP/1.1\r\n\r\n",
        "GET \r\n\r\n",
        "GET  HTTP/1.1\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        "G\x80T / HTTP/1.1\r\n\r\n",
        "GET\t/ HTTP/1.1\r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
        "GET / HTTP/1.2\r\n\r\n",
        "GET / HTTP/1.10\r\n\r\n",
        "GET / http/1.1\r\n\r\n",
        "GET / HTTP/1.\r\n\r\n",
        "GET /\r\n\r\n",
        /* LF-only line endings */
        "GET / HTTP/1.1\n\n",
        "GET / HTTP/1.1\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\n",
        "\nGET / HTTP/1.1\r\n\r\n",
        /* header lines */
        "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n",
        "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost a\r\n\r\n",
        "GET / HTTP/1.1\r\n: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",
        "GET / HTTP/1.1\r\nH\xc3\xb6st: a\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\r\r\n\r\n",
        "GET / HTTP/1.1\r\nX: \x01\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\x1b[0m\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\rX",
    };
    struct hw_http_head head;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = req(bad[i], &head);
        if (rc != HW_EPARSE)
            fprintf(stderr, "case %zu: rc %d\n", i, rc);
        CHECK_EQ(rc, HW_EPARSE);
    }

    /* NUL cannot sit in a C literal's middle for strlen(), so pass lengths. */
    static const char nul_value[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
    static const char nul_target[] = "GET /\0 HTTP/1.1\r\n\r\n";
    static const char nul_name[] = "GET / HTTP/1.1\r\nX\0: a\r\n\r\n";
    CHECK_EQ(parse(0, NULL, nul_value, sizeof(nul_value) - 1, &head), HW_EPARSE);
    CHECK_EQ(parse(0, NULL, nul_target, sizeof(nul_target) - 1, &head), HW_EPARSE);
    CHECK_EQ(parse(0, NULL, nul_name, sizeof(nul_name) - 1, &head), HW_EPARSE);
}

/* Enough method bytes for every length the test builds. */
#define METHODS "MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM"
_Static_assert(sizeof(METHODS) > HW_METHOD_MAX + 1, "METHODS covers HW_METHOD_MAX + 1");

/* A method is at most HW_METHOD_MAX bytes, refused as soon as it is longer, space or not. */
static void test_method_length(void)
{
    char buf[128];
    struct hw_http_head head;

    snprintf(buf, sizeof(buf), "%.*s / HTTP/1.1\r\n\r\n", HW_METHOD_MAX, METHODS);
    CHECK_EQ(req(buf, &head), (int)strlen(buf));
    CHECK_EQ(head.method_len, (size_t)HW_METHOD_MAX);
    snprintf(buf, sizeof(buf), "%.*s / HTTP/1.1\r\n\r\n", HW_METHOD_MAX + 1, METHODS);
    CHECK_EQ(req(buf, &head), HW_EPARSE);
    CHECK_EQ(parse(0, NULL, buf, HW_METHOD_MAX, &head), HW_EAGAIN);
    CHECK_EQ(parse(0, NULL, buf, HW_METHOD_MAX + 1, &head), HW_EPARSE);
}

static void test_request_allowed_oddities(void)
{
    struct hw_http_head head;

    /* RFC 9112 2.2: a server should skip empty lines before the request line. */
    static const char lead[] = "\r\n\r\nPOST /x HTTP/1.1\r\nContent-Length: 1\r\n\r\n";
    CHECK_EQ(req(lead, &head), (int)strlen(lead));
    CHECK_EQ(head.method_len, 4);
    CHECK_MEM(head.method, "POST", 4);
    CHECK_EQ(head.body, HW_BODY_LENGTH);

    /* obs-text in the target and any token characters in the method. */
    CHECK(req("M-SEARCH! /caf\xc3\xa9 HTTP/1.1\r\n\r\n", &head) > 0);
    CHECK_EQ(head.method_len, 9);
    CHECK_EQ(head.target_len, 6);
    CHECK(req("OPTIONS * HTTP/1.1\r\n\r\n", &head) > 0);
    CHECK_EQ(head.target_len, 1);
    CHECK(req("CONNECT example.com:443 HTTP/1.1\r\n\r\n", &head) > 0);

    /* A header name may use every tchar. */
    CHECK(req("GET / HTTP/1.1\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n", &head) > 0);
    check_header(&head, 0, "!#$%&'*+-.^_`|~09azAZ", " v");

    /* Host: names, addresses, ports, IPv6 literals, empty; anything else is marked. */
    static const struct {
        const char *host;
        int bad;
    } hosts[] = {
        { "hooks.example.com:8443", 0 },
        { "[::1]:80", 0 },
        { "xn--caf-dma.test", 0 },
        { "", 0 },
        { "a b", 1 },
        { "a/b", 1 },
        { "a?b", 1 },
        { "a#b", 1 },
        { "u@h", 1 },
        { "a\\b", 1 },
        { "\"h\"", 1 },
        { "h\xc3\xa9", 1 },
        { "<h>", 1 },
        { "h:abc", 1 },
        { "h:", 1 },
        { "h:99999", 1 },
        { "h:0", 1 },
        { "h:-1", 1 },
        { "h:80:80", 1 },
        { "[::1", 1 },
        { "[::1]:x", 1 },
        { "[::1]x", 1 },
        { "[zz::1]", 1 },
        { "h,g", 1 },
        { "h;g", 1 },
        { "*", 1 },
        { "h%20x", 1 },
        { ":80", 1 },
        { "h:65535", 0 },
        { "..", 1 },
        { "-", 1 },
        { ".h", 1 },
        { "a..b", 1 },
        { "h.example.", 0 },
        { "127.0.0.1:8080", 0 },
        { "my_host.internal", 0 },
        { "[2001:db8::1]", 0 },
    };
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        char buf[128];

        snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost:%s%s\r\n\r\n",
                 hosts[i].host[0] ? " " : "", hosts[i].host);
        CHECK(req(buf, &head) > 0);
        CHECK_EQ(head.host_bad, hosts[i].bad);
    }

    /* HTTP/1.0 requests parse, without keep-alive by default. */
    CHECK(req("GET / HTTP/1.0\r\n\r\n", &head) > 0);
    CHECK_EQ(head.minor_version, 0);
    CHECK_EQ(head.keep_alive, 0);
}

static void test_too_many_headers(void)
{
    static char msg[BIG];
    struct hw_http_head head;
    size_t len = 0;

    append(msg, &len, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HW_HTTP_MAX_HEADERS; i++)
        append(msg, &len, "X-N: v\r\n");
    append(msg, &len, "\r\n");
    CHECK_EQ(req(msg, &head), (int)len);
    CHECK_EQ(head.nheaders, HW_HTTP_MAX_HEADERS);

    len -= 2;
    msg[len] = '\0';
    append(msg, &len, "X-Last: v\r\n\r\n");
    CHECK_EQ(req(msg, &head), HW_E2BIG);

    /* Reported as soon as the extra line starts, before the head is complete. */
    len -= strlen("X-Last: v\r\n\r\n") - 1;
    CHECK_EQ(hw_http_parse_request(msg, len, &head), HW_E2BIG);
}

static void test_incremental(void)
{
    check_all_prefixes(0, NULL, "GET / HTTP/1.1\r\n\r\n");
    check_all_prefixes(0, NULL,
                       "POST /t/alice/github?x=1 HTTP/1.1\r\n"
                       "Host: relay.example\r\n"
                       "X-GitHub-Event: push\r\n"
                       "X-Hub-Signature-256: sha256=0123\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: 18\r\n"
                       "Connection: keep-alive, X-Trace\r\n"
                       "Expect: 100-continue\r\n"
                       "X-Empty:\r\n"
                       "\r\n");
    check_all_prefixes(0, NULL, "\r\n\r\nPUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    check_all_prefixes(1, "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
    check_all_prefixes(1, "GET", "HTTP/1.1 204\r\n\r\n");
    check_all_prefixes(1, "GET", "HTTP/1.0 404 Not\tFound\r\nServer: x\r\n\r\n");
    check_all_prefixes(1, "HEAD", "HTTP/1.1 200 \r\nTransfer-Encoding: chunked\r\n\r\n");

    /* Bytes past the head (the body, a pipelined request) are not part of it. */
    struct hw_http_head head;
    static const char two[] = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    CHECK_EQ(req(two, &head), 19);
    CHECK_EQ(req(two + 19, &head), 19);
    CHECK_MEM(head.target, "/b", 2);
}

static void test_early_errors(void)
{
    struct hw_http_head head;

    /* Invalid bytes are reported before the blank line arrives. */
    CHECK_EQ(req("\x01", &head), HW_EPARSE);
    CHECK_EQ(req("GET / HTTP/2", &head), HW_EPARSE);
    CHECK_EQ(req("GET / HTTP/1.1\n", &head), HW_EPARSE);
    CHECK_EQ(req("GET / HTTP/1.1\r\nBad Header", &head), HW_EPARSE);
    CHECK_EQ(req("GET / HTTP/1.1\r\nX: a\r\n b", &head), HW_EPARSE);
    CHECK_EQ(req("POST / HTTP/1.1\r\nContent-Length: x\r\n", &head), HW_EPARSE);
    CHECK_EQ(req("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n", &head),
             HW_EPARSE);
    CHECK_EQ(resp("HTTP/1.1 2x", "GET", &head), HW_EPARSE);

    /* ... while incomplete but valid-so-far input only asks for more. */
    CHECK_EQ(req("", &head), HW_EAGAIN);
    CHECK_EQ(req("POST / HTTP/1.1\r\nContent-Length: 12", &head), HW_EAGAIN);
    CHECK_EQ(req("GET / HTTP/1.1\r\nX: a\r", &head), HW_EAGAIN);
    CHECK_EQ(resp("", "GET", &head), HW_EAGAIN);
}

/* A refused head names the rule it broke, for the log line of its 400. */
static void test_error_names_rule(void)
{
    static const struct {
        const char *msg, *rule;
    } cases[] = {
        { "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
          "Content-Length with Transfer-Encoding" },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
          "Content-Length with Transfer-Encoding" },
        { "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
          "two different Content-Length values" },
        { "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
          "a Content-Length that is not a number of bytes" },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
          "two Transfer-Encoding headers" },
        { "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
          "Transfer-Encoding in HTTP/1.0" },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
          "a Transfer-Encoding other than chunked" },
        { "GET / HTTP/1.1\r\nX-Bad : v\r\n\r\n",
          "a header line without a name and colon (obs-fold, a space before the colon, no colon)" },
        { "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
          "a control character or a bare CR in a header value" },
        { "GET / HTTP/2.0\r\n\r\n", "a version other than HTTP/1.0 or HTTP/1.1" },
        { "GET /a\x01b HTTP/1.1\r\n\r\n",
          "a request target that is empty or holds a control character" },
        { "G(T / HTTP/1.1\r\n\r\n",
          "a request line that does not start with a method and a space" },
        { "GET / HTTP/1.1 x\r\n\r\n", "bytes after the version on the request line" },
    };
    struct hw_http_head head;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_EQ(req(cases[i].msg, &head), HW_EPARSE);
        CHECK(head.error != NULL);
        CHECK_STR(head.error, cases[i].rule);
    }
    /* A head that parses leaves no rule behind from an earlier refusal. */
    CHECK_EQ(req("GET / HTTP/1.1\r\nHost: h\r\n\r\n", &head) > 0, 1);
    CHECK(head.error == NULL);
    CHECK_EQ(resp("HTTP/1.1 2x", "GET", &head), HW_EPARSE);
    CHECK(head.error != NULL);
}

static void test_keep_alive(void)
{
    static const struct {
        const char *msg;
        int keep_alive;
    } cases[] = {
        { "GET / HTTP/1.1\r\n\r\n", 1 },
        { "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 0 },
        { "GET / HTTP/1.1\r\nConnection: CLOSE\r\n\r\n", 0 },
        { "GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n", 0 },
        { "GET / HTTP/1.1\r\nConnection: ,, close ,\r\n\r\n", 0 },
        { "GET / HTTP/1.1\r\nConnection: upgrade\r\nconnection: close\r\n\r\n", 0 },
        { "GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", 1 },
        { "GET / HTTP/1.1\r\nConnection: x-close\r\n\r\n", 1 },
        { "GET / HTTP/1.1\r\nX-Connection: close\r\n\r\n", 1 },
        { "GET / HTTP/1.0\r\n\r\n", 0 },
        { "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1 },
        { "GET / HTTP/1.0\r\nConnection: foo,\t Keep-Alive \r\n\r\n", 1 },
        { "GET / HTTP/1.0\r\nConnection: foo\r\nConnection: keep-alive\r\n\r\n", 1 },
        { "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", 0 },
        { "GET / HTTP/1.0\r\nKeep-Alive: timeout=5\r\n\r\n", 0 },
    };
    struct hw_http_head head;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK(req(cases[i].msg, &head) > 0);
        if (head.keep_alive != cases[i].keep_alive)
            fprintf(stderr, "case %zu\n", i);
        CHECK_EQ(head.keep_alive, cases[i].keep_alive);
    }
}

static void test_expect_continue(void)
{
    struct hw_http_head head;

    CHECK(req("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", &head) > 0);
    CHECK_EQ(head.expect_continue, 1);
    CHECK(req("POST / HTTP/1.1\r\nexpect:  100-Continue \r\n\r\n", &head) > 0);
    CHECK_EQ(head.expect_continue, 1);
    CHECK(req("POST / HTTP/1.1\r\nExpect: 100-continue-x\r\n\r\n", &head) > 0);
    CHECK_EQ(head.expect_continue, 0);
    CHECK(req("POST / HTTP/1.1\r\nX-Expect: 100-continue\r\n\r\n", &head) > 0);
    CHECK_EQ(head.expect_continue, 0);
    CHECK(req("POST / HTTP/1.1\r\n\r\n", &head) > 0);
    CHECK_EQ(head.expect_continue, 0);
    CHECK(resp("HTTP/1.1 200 OK\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n", "POST",
               &head) > 0);
    CHECK_EQ(head.expect_continue, 0);
}

static void test_response_framing(void)
{
    static const struct {
        const char *msg;
        const char *method;
        enum hw_http_body body;
        int keep_alive;
        uint64_t length;
    } cases[] = {
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", HW_BODY_LENGTH, 1, 5 },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", NULL, HW_BODY_LENGTH, 1, 5 },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "POST", HW_BODY_CHUNKED, 1, 0 },
        { "HTTP/1.1 200 OK\r\n\r\n", "GET", HW_BODY_CLOSE, 0, 0 },
        { "HTTP/1.1 500 Oops\r\nConnection: keep-alive\r\n\r\n", "GET", HW_BODY_CLOSE, 0, 0 },
        { "HTTP/1.1 204 No Content\r\n\r\n", "GET", HW_BODY_NONE, 1, 0 },
        { "HTTP/1.1 304 Not Modified\r\n\r\n", "GET", HW_BODY_NONE, 1, 0 },
        { "HTTP/1.1 100 Continue\r\n\r\n", "POST", HW_BODY_NONE, 1, 0 },
        { "HTTP/1.1 101 Switching Protocols\r\n\r\n", "GET", HW_BODY_NONE, 1, 0 },
        { "HTTP/1.1 199 Odd\r\n\r\n", "GET", HW_BODY_NONE, 1, 0 },
        { "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "HEAD", HW_BODY_NONE, 1, 10 },
        { "HTTP/1.1 200 OK\r\n\r\n", "HEAD", HW_BODY_NONE, 1, 0 },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD", HW_BODY_NONE, 1, 0 },
        /* Methods are case-sensitive: "head" is not HEAD. */
        { "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", "head", HW_BODY_LENGTH, 1, 3 },
        { "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n", "GET",
          HW_BODY_LENGTH, 0, 3 },
        { "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", "GET", HW_BODY_LENGTH, 0, 3 },
        { "HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: Keep-Alive\r\n\r\n", "GET",
          HW_BODY_LENGTH, 1, 3 },
        { "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", "GET", HW_BODY_CLOSE, 0, 0 },
        { "HTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n", "GET", HW_BODY_NONE, 1, 0 },
    };
    struct hw_http_head head;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = resp(cases[i].msg, cases[i].method, &head);
        if (rc != (int)strlen(cases[i].msg) || head.body != cases[i].body ||
            head.keep_alive != cases[i].keep_alive)
            fprintf(stderr, "case %zu: rc %d body %d keep_alive %d\n", i, rc, head.body,
                    head.keep_alive);
        CHECK_EQ(rc, (int)strlen(cases[i].msg));
        CHECK_EQ(head.body, cases[i].body);
        CHECK_EQ(head.keep_alive, cases[i].keep_alive);
        if (head.body == HW_BODY_LENGTH)
            CHECK(head.content_length == cases[i].length);
        CHECK(head.method == NULL && head.target == NULL);
    }
}

static void test_response_status_line(void)
{
    struct hw_http_head head;

    CHECK(resp("HTTP/1.1 404 Not Found\r\nX-A: b\r\n\r\n", "GET", &head) > 0);
    CHECK_EQ(head.status, 404);
    CHECK_EQ(head.minor_version, 1);
    CHECK_EQ(head.reason_len, 9);
    CHECK_MEM(head.reason, "Not Found", 9);
    check_header(&head, 0, "X-A", " b");

    CHECK(resp("HTTP/1.0 200 \r\n\r\n", "GET", &head) > 0);
    CHECK_EQ(head.status, 200);
    CHECK_EQ(head.minor_version, 0);
    CHECK_EQ(head.reason_len, 0);

    CHECK(resp("HTTP/1.1 200\r\n\r\n", "GET", &head) > 0);
    CHECK_EQ(head.status, 200);
    CHECK_EQ(head.reason_len, 0);

    CHECK(resp("HTTP/1.1 999 x\ty \xc3\xa9\r\n\r\n", "GET", &head) > 0);
    CHECK_EQ(head.status, 999);
    CHECK_EQ(head.reason_len, 6);

    static const char *const bad[] = {
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 abc OK\r\n\r\n",
        "HTTP/1.1 099 OK\r\n\r\n",
        "HTTP/1.1 000 OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1 -20 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1 200 O\x01K\r\n\r\n",
        "HTTP/1.1 200 OK\rX\r\n\r\n",
        "HTTP/1.1 200 OK\n\r\n",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.2 200 OK\r\n\r\n",
        "HTTP/1.1\r\n\r\n",
        "\r\nHTTP/1.1 200 OK\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = resp(bad[i], "GET", &head);
        if (rc != HW_EPARSE)
            fprintf(stderr, "case %zu: rc %d\n", i, rc);
        CHECK_EQ(rc, HW_EPARSE);
    }
}

static void test_find_and_trim(void)
{
    static const char msg[] = "GET / HTTP/1.1\r\n"
                              "X-Dup:  first \t\r\n"
                              "x-dup: second\r\n"
                              "X-Blank: \t \r\n"
                              "\r\n";
    struct hw_http_head head;
    const struct hw_http_header *h;
    const char *v;
    size_t vlen;

    CHECK(req(msg, &head) > 0);
    h = hw_http_find(&head, "X-DUP");
    CHECK(h == &head.headers[0]);
    v = hw_http_value_trim(h, &vlen);
    CHECK_EQ(vlen, 5);
    CHECK_MEM(v, "first", 5);
    CHECK(v == h->value + 2);

    h = hw_http_find(&head, "x-blank");
    CHECK(h == &head.headers[2]);
    hw_http_value_trim(h, &vlen);
    CHECK_EQ(vlen, 0);

    CHECK(hw_http_find(&head, "X-Du") == NULL);
    CHECK(hw_http_find(&head, "X-Dupe") == NULL);
    CHECK(hw_http_find(&head, "Host") == NULL);
}

static void test_hop_by_hop(void)
{
    static const char msg[] = "POST / HTTP/1.1\r\n"
                              "Host: a\r\n"
                              "CONNECTION: keep-alive, X-Debug\r\n"
                              "Keep-Alive: timeout=5\r\n"
                              "proxy-connection: x\r\n"
                              "Proxy-Authenticate: x\r\n"
                              "Proxy-Authorization: x\r\n"
                              "TE: trailers\r\n"
                              "Trailer: X-Sum\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "Upgrade: websocket\r\n"
                              "x-debug: 1\r\n"
                              "X-Trace: 2\r\n"
                              "X-Keep: 3\r\n"
                              "Connection: ,  x-trace\t,\r\n"
                              "Authorization: Bearer t\r\n"
                              "X-Hub-Signature-256: sha256=00\r\n"
                              "Trailers: not-the-header\r\n"
                              "X-Debug-Extra: 4\r\n"
                              "\r\n";
    static const int hop[] = { 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0 };
    struct hw_http_head head;

    CHECK(req(msg, &head) > 0);
    CHECK_EQ(head.nheaders, sizeof(hop) / sizeof(hop[0]));
    for (size_t i = 0; i < head.nheaders; i++) {
        int got = hw_http_is_hop_by_hop(&head, &head.headers[i]);
        if (got != hop[i])
            fprintf(stderr, "header %zu (%.*s): %d\n", i, (int)head.headers[i].name_len,
                    head.headers[i].name, got);
        CHECK_EQ(got, hop[i]);
    }

    /* Without a Connection header, only the fixed list is hop-by-hop. */
    CHECK(req("GET / HTTP/1.1\r\nX-Debug: 1\r\nte: x\r\n\r\n", &head) > 0);
    CHECK_EQ(hw_http_is_hop_by_hop(&head, &head.headers[0]), 0);
    CHECK_EQ(hw_http_is_hop_by_hop(&head, &head.headers[1]), 1);
    CHECK_EQ(head.no_connection, 1);

    /* "close" and "keep-alive" are tokens too: a header of that name goes. */
    CHECK(req("GET / HTTP/1.1\r\nClose: 1\r\nConnection: close\r\n\r\n", &head) > 0);
    CHECK_EQ(head.no_connection, 0);
    CHECK_EQ(hw_http_is_hop_by_hop(&head, &head.headers[0]), 1);

    /* A head built by hand (no parser to set no_connection) is still scanned. */
    {
        struct hw_http_head hand;

        memset(&hand, 0, sizeof(hand));
        hand.headers[0] = (struct hw_http_header){ "X-A", 3, "1", 1 };
        hand.headers[1] = (struct hw_http_header){ "Connection", 10, "x-a", 3 };
        hand.nheaders = 2;
        CHECK_EQ(hw_http_is_hop_by_hop(&hand, &hand.headers[0]), 1);
    }
}

/* Reads a whole header block with hw_http_block_next(): its last return, lines in *lines. */
static int block(const char *b, struct hw_http_block *blk, size_t *lines)
{
    const char *p = b, *end = b + strlen(b);
    struct hw_http_header h;
    int rc;

    memset(blk, 0, sizeof(*blk));
    *lines = 0;
    while ((rc = hw_http_block_next(blk, &p, end, &h)) == 1) {
        /* Each line is handed over whole, from its name through its CRLF. */
        CHECK(p - h.name >= 3 && memcmp(p - 2, "\r\n", 2) == 0);
        CHECK(h.value == h.name + h.name_len + 1);
        (*lines)++;
    }
    if (rc == 0)
        CHECK(p == end);
    return rc;
}

static void test_header_block(void)
{
    /* Blocks refused, each with (part of) the rule hw_http_block_next() names. */
    static const struct {
        const char *block, *rule;
    } bad[] = {
        { "Connection: close\r\n", "hop-by-hop" },
        { "X-A: 1\r\nTransfer-Encoding: chunked\r\n", "hop-by-hop" },
        { "TE: trailers\r\n", "hop-by-hop" },
        { "keep-alive: 5\r\n", "hop-by-hop" },
        { "Upgrade: websocket\r\n", "hop-by-hop" },
        { "Proxy-Authorization: x\r\n", "hop-by-hop" },
        { "X-A: 1\nX-B: 2\r\n", "control character" },
        { "X-A: 1", "control character" },
        { "X-A: 1\r", "control character" },
        { "X-A : 1\r\n", "name and colon" },
        { " X-A: 1\r\n", "name and colon" },
        { "X-A: 1\rX\r\n", "control character" },
        { "X-A: \x01\r\n", "control character" },
        { "\r\n", "name and colon" },
        { "X-A: 1\r\n\r\nGET / HTTP/1.1\r\n", "name and colon" },
        { "Content-Length: 1\r\nContent-Length: 2\r\n", "two different Content-Length" },
        { "Content-Length: -1\r\n", "not a number of bytes" },
        { "Content-Length: 1, 1\r\n", "not a number of bytes" },
        { "Content-Length:\r\n", "not a number of bytes" },
    };
    struct hw_http_block blk;
    struct hw_http_head head;
    char many[130 * 8 + 1];
    size_t lines, n = 0;

    CHECK_EQ(block("", &blk, &lines), 0);
    CHECK_EQ(lines, 0);
    CHECK_EQ(block("Host: a\r\nX-Sig: sha256=00\r\nContent-Length: 12\r\n"
                   "content-length:12 \r\nExpect: 100-continue\r\nHost: b\r\n",
                   &blk, &lines),
             0);
    CHECK_EQ(lines, 6);
    CHECK_EQ(blk.nheaders, 6);
    CHECK_EQ(blk.has_length, 1);
    CHECK_EQ(blk.content_length, 12);
    CHECK_EQ(block("X-A:\r\nX-B: caf\xc3\xa9\t\r\n", &blk, &lines), 0);
    CHECK_EQ(blk.has_length, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = block(bad[i].block, &blk, &lines);
        if (rc != HW_EPARSE || !blk.error || !strstr(blk.error, bad[i].rule))
            fprintf(stderr, "block %zu: rc %d, rule %s\n", i, rc, blk.error ? blk.error : "-");
        CHECK_EQ(rc, HW_EPARSE);
        CHECK(blk.error && strstr(blk.error, bad[i].rule));
    }

    /* As many lines as a head may hold, and not one more. */
    for (int i = 0; i < HW_HTTP_MAX_HEADERS; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "X%03d:\r\n", i);
    CHECK_EQ(block(many, &blk, &lines), 0);
    CHECK_EQ(lines, HW_HTTP_MAX_HEADERS);
    snprintf(many + n, sizeof(many) - n, "X-B:\r\n");
    CHECK_EQ(block(many, &blk, &lines), HW_E2BIG);
    CHECK(blk.error && strstr(blk.error, "more header lines"));

    /* A Connection header of close and keep-alive only: a header named Close is the one left. */
    CHECK(resp("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nClose: 1\r\nX-A: 2\r\n\r\n", "GET",
               &head) > 0);
    CHECK_EQ(head.connection_plain, 1);
    CHECK_EQ(hw_http_is_hop_by_hop(&head, &head.headers[1]), 1);
    CHECK_EQ(hw_http_is_hop_by_hop(&head, &head.headers[2]), 0);
    CHECK(resp("HTTP/1.1 200 OK\r\nConnection: keep-alive, x-a\r\nClose: 1\r\nX-A: 2\r\n\r\n",
               "GET", &head) > 0);
    CHECK_EQ(head.connection_plain, 0);
    CHECK_EQ(hw_http_is_hop_by_hop(&head, &head.headers[1]), 0);
    CHECK_EQ(hw_http_is_hop_by_hop(&head, &head.headers[2]), 1);

    CHECK_EQ(hw_http_is_token("POST", 4), 1);
    CHECK_EQ(hw_http_is_token("PO ST", 5), 0);
    CHECK_EQ(hw_http_is_token("", 0), 0);
    CHECK_EQ(hw_http_is_target("/a?b=c", 6), 1);
    CHECK_EQ(hw_http_is_target("/a b", 4), 0);
    CHECK_EQ(hw_http_is_target("/a\r\n", 4), 0);
    CHECK_EQ(hw_http_is_target("", 0), 0);
}

static void test_header_runs(void)
{
    static const char msg[] = "GET / HTTP/1.1\r\nA: 1\r\nB:  two \r\nC: 3\r\nD:\r\nE: 5\r\n\r\n";
    static const char want[] = "A: 1\r\nB:  two \r\nD:\r\nE: 5\r\n";
    struct hw_http_head head;
    struct hw_http_run run = { 0 };
    struct hw_buf b;

    CHECK(req(msg, &head) > 0);
    hw_buf_init(&b, 1024);
    /* Every line but C's: two runs (A-B, D-E), copied byte for byte. */
    for (size_t i = 0; i < head.nheaders; i++)
        if (i != 2)
            CHECK_EQ(hw_http_run_add(&run, &b, &head.headers[i]), 0);
    CHECK_EQ(hw_buf_size(&b), 16); /* A-B went when D started a run of its own */
    CHECK_EQ(hw_http_run_flush(&run, &b), 0);
    CHECK_EQ(hw_buf_size(&b), sizeof(want) - 1);
    CHECK(memcmp(hw_buf_head(&b), want, sizeof(want) - 1) == 0);
    CHECK_EQ(hw_http_run_flush(&run, &b), 0);
    CHECK_EQ(hw_buf_size(&b), sizeof(want) - 1);
    hw_buf_cleanup(&b);

    /* The buffer's cap still holds: a run that does not fit fails. */
    hw_buf_init(&b, 8);
    memset(&run, 0, sizeof(run));
    CHECK_EQ(hw_http_run_add(&run, &b, &head.headers[0]), 0);
    CHECK_EQ(hw_http_run_add(&run, &b, &head.headers[1]), 0);
    CHECK_EQ(hw_http_run_flush(&run, &b), HW_E2BIG);
    hw_buf_cleanup(&b);
}

/* Result of feeding a chunked body to a fresh decoder in pieces. */
struct feed {
    int rc; /* HW_EPARSE, HW_EAGAIN when the input ran out, else >= 0 */
    char out[BIG];
    size_t out_len;
    char rest[BIG]; /* input after the body's end */
    size_t rest_len;
};

/*
 * Feeds in[0..n) as a first piece of first bytes, then pieces of step bytes,
 * each in an exact-size heap buffer, as a connection would deliver them.
 */
static void feed_pieces(const char *in, size_t n, size_t first, size_t step, struct feed *f)
{
    struct hw_chunked c;
    size_t pos = 0, piece = first;

    CHECK(step > 0);
    hw_chunked_init(&c);
    f->out_len = 0;
    f->rest_len = 0;
    for (;;) {
        if (piece > n - pos)
            piece = n - pos;
        char *buf = malloc(piece ? piece : 1);
        size_t len = piece;
        CHECK(buf != NULL);
        memcpy(buf, in + pos, piece);
        pos += piece;
        f->rc = hw_chunked_decode(&c, buf, &len);
        CHECK(len <= piece);
        CHECK(f->out_len + len < BIG);
        memcpy(f->out + f->out_len, buf, len);
        f->out_len += len;
        if (f->rc >= 0) {
            CHECK((size_t)f->rc <= piece - len);
            memcpy(f->rest, buf + len, (size_t)f->rc);
            f->rest_len = (size_t)f->rc;
            memcpy(f->rest + f->rest_len, in + pos, n - pos);
            f->rest_len += n - pos;
        }
        free(buf);
        if (f->rc != HW_EAGAIN || pos == n)
            break;
        piece = step;
    }
}

static void check_chunked(const char *in, const char *body, const char *rest)
{
    static struct feed whole, part;
    size_t n = strlen(in);

    feed_pieces(in, n, n, n, &whole);
    CHECK_EQ(whole.rc, (int)strlen(rest));
    CHECK_EQ(whole.out_len, strlen(body));
    CHECK_MEM(whole.out, body, whole.out_len);
    CHECK_EQ(whole.rest_len, strlen(rest));
    CHECK_MEM(whole.rest, rest, whole.rest_len);

    /* Split at every offset, and byte by byte: the same body, the same rest. */
    for (size_t k = 0; k <= n + 1; k++) {
        if (k == n + 1)
            feed_pieces(in, n, 1, 1, &part);
        else
            feed_pieces(in, n, k, n, &part);
        CHECK_EQ(part.rc >= 0, 1);
        CHECK_EQ(part.out_len, whole.out_len);
        CHECK_MEM(part.out, whole.out, whole.out_len);
        CHECK_EQ(part.rest_len, whole.rest_len);
        CHECK_MEM(part.rest, whole.rest, whole.rest_len);
    }
}

/* Malformed input fails however it is split; label names the case on failure. */
static void check_chunked_bad(const char *in, size_t n, size_t label)
{
    static struct feed f;

    for (size_t k = 0; k <= n + 1; k++) {
        if (k == n + 1)
            feed_pieces(in, n, 1, 1, &f);
        else
            feed_pieces(in, n, k, n, &f);
        if (f.rc != HW_EPARSE)
            fprintf(stderr, "case %zu, split %zu: rc %d\n", label, k, f.rc);
        CHECK_EQ(f.rc, HW_EPARSE);
    }
}

static void test_chunked_decode(void)
{
    check_chunked("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", "");
    check_chunked("0\r\n\r\n", "", "");
    check_chunked("A\r\n0123456789\r\na\r\nabcdefghij\r\n000\r\n\r\n", "0123456789abcdefghij", "");
    check_chunked("0005\r\nhe\r\nl\r\n1\r\n\n\r\n0\r\n\r\n", "he\r\nl\n", "");
    check_chunked("5;name=value;q=\"a b;c\"\r\nhello\r\n3 \t;x\r\nabc\r\n0;last\r\n\r\n",
                  "helloabc", "");
    check_chunked("4\r\nwiki\r\n0\r\nX-Sum: abc\r\nExpires:\r\nY:\tz \r\n\r\n", "wiki", "");
    check_chunked("3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", "abc", "HTTP/1.1 200 OK\r\n\r\n");
    check_chunked("3\r\nabc\r\n0\r\nT: 1\r\n\r\nX", "abc", "X");
}

static void test_chunked_rejects(void)
{
    static const char *const bad[] = {
        "\r\n",
        "g\r\n",
        ";ext\r\n",
        " 5\r\nhello\r\n",
        "-5\r\n",
        "0x5\r\nhello\r\n",
        "5\nhello\r\n",
        "5 \r\nhello\r\n",
        "5\t\r\nhello\r\n",
        "5 x\r\nhello\r\n",
        "5\rhello\r\n",
        "5\r\nhelloX\r\n",
        "5\r\nhello\n",
        "5\r\nhello\rX",
        "5;\x01\r\nhello\r\n",
        "5;a\rb\r\nhello\r\n",
        "0\r\nBad\r\n\r\n",
        "0\r\nBad Name: x\r\n\r\n",
        "0\r\n: x\r\n\r\n",
        "0\r\n x: folded\r\n\r\n",
        "0\r\nX: a\rb\r\n\r\n",
        "0\r\nX: a\x7f\r\n\r\n",
        "0\r\nX: a\n\r\n",
        "0\r\n\n",
        "0\r\n\rX",
        /* 2^60 + 1, and far beyond. */
        "1000000000000001\r\n",
        "FFFFFFFFFFFFFFFFF\r\n",
        "10000000000000000000000\r\n",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        check_chunked_bad(bad[i], strlen(bad[i]), i);
    }

    static const char nul[] = "0\r\nX: a\0\r\n\r\n";
    check_chunked_bad(nul, sizeof(nul) - 1, 100);
}

static void test_chunked_limits(void)
{
    static char in[BIG];
    static struct feed f;
    size_t n;

    /* A 2^60 chunk size is accepted; the decoder then waits for its data. */
    feed_pieces("1000000000000000\r\nab", 20, 20, 20, &f);
    CHECK_EQ(f.rc, HW_EAGAIN);
    CHECK_EQ(f.out_len, 2);

    /* Size line of exactly 4096 bytes passes, 4097 fails, split or not. */
    n = 0;
    append(in, &n, "1;");
    while (n < 4096)
        append(in, &n, "a");
    append(in, &n, "\r\nx\r\n0\r\n\r\n");
    feed_pieces(in, n, n, n, &f);
    CHECK_EQ(f.rc, 0);
    CHECK_EQ(f.out_len, 1);
    feed_pieces(in, n, 1, 1, &f);
    CHECK_EQ(f.rc, 0);

    n = 0;
    append(in, &n, "1;");
    while (n < 4097)
        append(in, &n, "a");
    append(in, &n, "\r\nx\r\n0\r\n\r\n");
    check_chunked_bad(in, n, 200);

    /* Leading zeros count toward the same cap. */
    n = 0;
    while (n < 4095)
        append(in, &n, "0");
    append(in, &n, "1\r\nx\r\n0\r\n\r\n");
    feed_pieces(in, n, n, n, &f);
    CHECK_EQ(f.rc, 0);
    n = 0;
    while (n < 4096)
        append(in, &n, "0");
    append(in, &n, "1\r\nx\r\n0\r\n\r\n");
    feed_pieces(in, n, n, n, &f);
    CHECK_EQ(f.rc, HW_EPARSE);

    /* Trailer lines: 4096 bytes pass, 4097 fail, and the cap is per line. */
    n = 0;
    append(in, &n, "0\r\nX:");
    while (n < 3 + 4096)
        append(in, &n, "v");
    append(in, &n, "\r\nY:");
    while (n < 3 + 4096 + 2 + 4096)
        append(in, &n, "w");
    append(in, &n, "\r\n\r\n");
    feed_pieces(in, n, n, n, &f);
    CHECK_EQ(f.rc, 0);
    feed_pieces(in, n, 7, 13, &f);
    CHECK_EQ(f.rc, 0);

    n = 0;
    append(in, &n, "0\r\nX:");
    while (n < 3 + 4097)
        append(in, &n, "v");
    append(in, &n, "\r\n\r\n");
    check_chunked_bad(in, n, 200);
}

/* Decodes the body made of head, then `reps` copies of unit, then tail, in one piece. */
static int decode_repeated(const char *head, const char *unit, size_t reps, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail), n = hl + ul * reps + tl;
    char *buf = malloc(n);
    struct hw_chunked c;
    int rc;

    CHECK(buf != NULL);
    memcpy(buf, head, hl);
    for (size_t i = 0; i < reps; i++)
        memcpy(buf + hl + i * ul, unit, ul);
    memcpy(buf + hl + ul * reps, tail, tl);
    hw_chunked_init(&c);
    rc = hw_chunked_decode(&c, buf, &n);
    free(buf);
    return rc;
}

/*
 * The trailer section as a whole is capped at 64 KiB, and so are the chunk
 * extensions of one body: neither is data, and without a cap a sender could
 * stream either for ever at the body's rate floor.
 */
static void test_chunked_framing_caps(void)
{
    /* "X-T: 12" is 7 bytes a line: 9362 lines are 65534 bytes, 9363 are over. */
    CHECK_EQ(decode_repeated("0\r\n", "X-T: 12\r\n", 9362, "\r\n"), 0);
    CHECK_EQ(decode_repeated("0\r\n", "X-T: 12\r\n", 9363, "\r\n"), HW_EPARSE);
    CHECK_EQ(decode_repeated("0\r\n", "X-T: 12\r\n", 100000, "\r\n"), HW_EPARSE);
    /* ";e=12345" is 8 bytes of extension a chunk: 8192 chunks are 65536 bytes. */
    CHECK_EQ(decode_repeated("", "1;e=12345\r\nx\r\n", 8192, "0\r\n\r\n"), 0);
    CHECK_EQ(decode_repeated("", "1;e=12345\r\nx\r\n", 8193, "0\r\n\r\n"), HW_EPARSE);
    CHECK_EQ(decode_repeated("", "1;e=12345\r\nx\r\n", 100000, "0\r\n\r\n"), HW_EPARSE);
}

static void test_chunked_api_states(void)
{
    struct hw_chunked c;
    char buf[64];
    size_t len;

    /* An incomplete body hands back what it decoded so far. */
    hw_chunked_init(&c);
    memcpy(buf, "5\r\nhel", 6);
    len = 6;
    CHECK_EQ(hw_chunked_decode(&c, buf, &len), HW_EAGAIN);
    CHECK_EQ(len, 3);
    CHECK_MEM(buf, "hel", 3);
    memcpy(buf, "lo\r\n0\r\n\r\nNEXT", 13);
    len = 13;
    CHECK_EQ(hw_chunked_decode(&c, buf, &len), 4);
    CHECK_EQ(len, 2);
    CHECK_MEM(buf, "loNEXT", 6);

    /* Once complete, further input is all leftover and left in place. */
    memcpy(buf, "abc", 3);
    len = 3;
    CHECK_EQ(hw_chunked_decode(&c, buf, &len), 3);
    CHECK_EQ(len, 0);
    CHECK_MEM(buf, "abc", 3);

    /* An empty call changes nothing. */
    hw_chunked_init(&c);
    len = 0;
    CHECK_EQ(hw_chunked_decode(&c, buf, &len), HW_EAGAIN);
    CHECK_EQ(len, 0);

    /* Errors report the bytes decoded before them, then stay errors. */
    hw_chunked_init(&c);
    memcpy(buf, "3\r\nabcX", 7);
    len = 7;
    CHECK_EQ(hw_chunked_decode(&c, buf, &len), HW_EPARSE);
    CHECK_EQ(len, 3);
    CHECK_MEM(buf, "abc", 3);
    memcpy(buf, "0\r\n\r\n", 5);
    len = 5;
    CHECK_EQ(hw_chunked_decode(&c, buf, &len), HW_EPARSE);
}

/* A request head followed by its chunked body, as the relay reads it. */
static void test_request_then_chunked_body(void)
{
    static const char msg[] = "POST /hook HTTP/1.1\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "\r\n"
                              "7\r\n{\"a\":1}\r\n0\r\n\r\n"
                              "GET /next HTTP/1.1\r\n\r\n";
    struct hw_http_head head;
    struct hw_chunked c;
    char buf[sizeof(msg)];
    size_t len;
    int rc;

    rc = req(msg, &head);
    CHECK(rc > 0);
    CHECK_EQ(head.body, HW_BODY_CHUNKED);
    len = sizeof(msg) - 1 - (size_t)rc;
    memcpy(buf, msg + rc, len);
    hw_chunked_init(&c);
    rc = hw_chunked_decode(&c, buf, &len);
    CHECK_EQ(rc, (int)strlen("GET /next HTTP/1.1\r\n\r\n"));
    CHECK_EQ(len, 7);
    CHECK_MEM(buf, "{\"a\":1}GET /next HTTP/1.1\r\n\r\n", 7 + (size_t)rc);
    CHECK_EQ(hw_http_parse_request(buf + len, (size_t)rc, &head), rc);
    CHECK_MEM(head.target, "/next", 5);
}

int main(void)
{
    fprintf(stderr, "test_http1\n");
    RUN(test_request_basic);
    RUN(test_request_header_bytes_kept);
    RUN(test_request_content_length);
    RUN(test_request_chunked);
    RUN(test_request_rejects);
    RUN(test_method_length);
    RUN(test_request_allowed_oddities);
    RUN(test_too_many_headers);
    RUN(test_incremental);
    RUN(test_early_errors);
    RUN(test_error_names_rule);
    RUN(test_keep_alive);
    RUN(test_expect_continue);
    RUN(test_response_framing);
    RUN(test_response_status_line);
    RUN(test_find_and_trim);
    RUN(test_hop_by_hop);
    RUN(test_header_block);
    RUN(test_header_runs);
    RUN(test_chunked_decode);
    RUN(test_chunked_rejects);
    RUN(test_chunked_limits);
    RUN(test_chunked_framing_caps);
    RUN(test_chunked_api_states);
    RUN(test_request_then_chunked_body);
    return 0;
}
