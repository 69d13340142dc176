/*
 * Unit tests for common/core/url.c: http, https, ws and wss URLs with default and
 * explicit ports, bracketed IPv6 hosts, paths and queries, the rejections
 * promised for each part, HOST:PORT listen addresses, and the decimal
 * numbers ports are read with (core/text.c). Single-threaded.
 */
#include "core/url.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "core/text.h"

static void check_url(const char *s, const char *scheme, const char *host, int port,
                      const char *path, int tls)
{
    struct hw_url u;

    memset(&u, 0x5a, sizeof(u));
    if (hw_url_parse(s, &u) != 0) {
        fprintf(stderr, "rejected: %s\n", s);
        CHECK(0);
    }
    CHECK_STR(u.scheme, scheme);
    CHECK_STR(u.host, host);
    CHECK_EQ(u.port, port);
    CHECK_STR(u.path, path);
    CHECK_EQ(u.tls, tls);
}

static void check_bad_url(const char *s)
{
    struct hw_url u;

    if (hw_url_parse(s, &u) != HW_EINVAL) {
        fprintf(stderr, "accepted: %s\n", s);
        CHECK(0);
    }
}

static void test_schemes_and_ports(void)
{
    check_url("http://example.com", "http", "example.com", 80, "/", 0);
    check_url("https://example.com", "https", "example.com", 443, "/", 1);
    check_url("ws://example.com", "ws", "example.com", 80, "/", 0);
    check_url("wss://example.com", "wss", "example.com", 443, "/", 1);
    check_url("http://localhost:3000", "http", "localhost", 3000, "/", 0);
    check_url("https://relay.example.com:8443/", "https", "relay.example.com", 8443, "/", 1);
    check_url("ws://127.0.0.1:8080/tunnel", "ws", "127.0.0.1", 8080, "/tunnel", 0);
    check_url("wss://relay.example.com:443/tunnel", "wss", "relay.example.com", 443, "/tunnel", 1);
    /* An explicit port that differs from the default keeps TLS from the scheme. */
    check_url("https://h:80/", "https", "h", 80, "/", 1);
    check_url("http://h:443/", "http", "h", 443, "/", 0);
    check_url("http://h:1/", "http", "h", 1, "/", 0);
    check_url("http://h:65535/", "http", "h", 65535, "/", 0);
}

static void test_ipv6_hosts(void)
{
    check_url("http://[::1]/", "http", "::1", 80, "/", 0);
    check_url("http://[::1]:3000/hook", "http", "::1", 3000, "/hook", 0);
    check_url("wss://[2001:db8::1]:9443/t?x=1", "wss", "2001:db8::1", 9443, "/t?x=1", 1);
    check_url("https://[fe80::1]", "https", "fe80::1", 443, "/", 1);
}

static void test_paths_and_queries(void)
{
    check_url("http://h/a/b/c.json", "http", "h", 80, "/a/b/c.json", 0);
    check_url("http://h/hooks/stripe?x=1&y=%20", "http", "h", 80, "/hooks/stripe?x=1&y=%20", 0);
    check_url("http://h?q=1", "http", "h", 80, "/?q=1", 0);
    check_url("http://h:81?q=1", "http", "h", 81, "/?q=1", 0);
    check_url("http://h/", "http", "h", 80, "/", 0);
    check_url("http://h//double", "http", "h", 80, "//double", 0);
    /* A fragment is never part of a request target. */
    check_url("http://h#frag", "http", "h", 80, "/", 0);
    check_url("http://h:8080#frag", "http", "h", 8080, "/", 0);
    check_url("http://h/p?q=1#frag", "http", "h", 80, "/p?q=1", 0);
    check_url("http://h/p#frag", "http", "h", 80, "/p", 0);
}

static void test_url_rejects(void)
{
    check_bad_url("");
    check_bad_url("example.com");
    check_bad_url("example.com:80/path");
    check_bad_url("ftp://example.com/");
    check_bad_url("htt://example.com/");
    check_bad_url("httpss://example.com/");
    check_bad_url("http:/example.com/");
    check_bad_url("http:example.com");
    check_bad_url("://example.com/");
    /* Empty host. */
    check_bad_url("http://");
    check_bad_url("http:///path");
    check_bad_url("http://:80/");
    check_bad_url("http://?q");
    check_bad_url("http://[]/");
    check_bad_url("http://[]:80/");
    /* Bad ports. */
    check_bad_url("http://h:/");
    check_bad_url("http://h:abc/");
    check_bad_url("http://h:80a/");
    check_bad_url("http://h:-1/");
    check_bad_url("http://h:+80/");
    check_bad_url("http://h: 80/");
    check_bad_url("http://h:65536/");
    check_bad_url("http://h:99999/");
    check_bad_url("http://h:123456/");
    check_bad_url("http://h:000080/");
    check_bad_url("http://h:99999999999999999999/");
    /* Port 0 is nowhere to connect to. */
    check_bad_url("http://127.0.0.1:0/x");
    check_bad_url("https://h:0");
    check_bad_url("ws://[::1]:0/tunnel");
    /* Broken brackets. */
    check_bad_url("http://[::1/");
    check_bad_url("http://[::1]x/");
    check_bad_url("http://[::1]:/");
    check_bad_url("http://[::1]80/");
    /* A space or control byte would go into a request line or header as it is. */
    check_bad_url("http://h/a b");
    check_bad_url("http://h/a\r\nX-Evil: 1");
    check_bad_url("http://h/a\nb");
    check_bad_url("http://h\t/");
    check_bad_url("http://h/\x7f");
    check_bad_url(" http://h/");
}

static void test_url_lengths(void)
{
    char s[2200], want[1100];
    struct hw_url u;
    size_t n;

    /* A host of 255 bytes fits; 256 does not. */
    memcpy(s, "http://", 7);
    memset(s + 7, 'a', 255);
    memcpy(s + 7 + 255, "/x", 3);
    CHECK_EQ(hw_url_parse(s, &u), 0);
    CHECK_EQ(strlen(u.host), 255);
    memset(s + 7, 'a', 256);
    memcpy(s + 7 + 256, "/x", 3);
    CHECK_EQ(hw_url_parse(s, &u), HW_EINVAL);

    /* A path of 1023 bytes fits; 1024 does not. */
    memcpy(s, "http://h/", 9);
    memset(s + 9, 'p', 1022);
    s[9 + 1022] = '\0';
    CHECK_EQ(hw_url_parse(s, &u), 0);
    n = strlen(u.path);
    CHECK_EQ(n, 1023);
    want[0] = '/';
    memset(want + 1, 'p', 1022);
    CHECK_MEM(u.path, want, 1023);
    memset(s + 9, 'p', 1023);
    s[9 + 1023] = '\0';
    CHECK_EQ(hw_url_parse(s, &u), HW_EINVAL);
    memset(s + 9, 'p', 2000);
    s[9 + 2000] = '\0';
    CHECK_EQ(hw_url_parse(s, &u), HW_EINVAL);
}

static void check_hostport(const char *s, const char *host, int port)
{
    char h[256];
    int p = -1;

    memset(h, 'z', sizeof(h));
    if (hw_hostport_parse(s, h, sizeof(h), &p) != 0) {
        fprintf(stderr, "rejected: %s\n", s);
        CHECK(0);
    }
    CHECK_STR(h, host);
    CHECK_EQ(p, port);
}

static void check_bad_hostport(const char *s)
{
    char h[256];
    int p;

    if (hw_hostport_parse(s, h, sizeof(h), &p) != HW_EINVAL) {
        fprintf(stderr, "accepted: %s\n", s);
        CHECK(0);
    }
}

static void test_hostport(void)
{
    char small[6];
    int p;

    check_hostport("127.0.0.1:8080", "127.0.0.1", 8080);
    check_hostport("localhost:443", "localhost", 443);
    check_hostport("relay.example.com:65535", "relay.example.com", 65535);
    check_hostport(":8080", "", 8080); /* all interfaces */
    check_hostport("[::1]:80", "::1", 80);
    check_hostport("[::]:9000", "::", 9000);
    check_hostport("[2001:db8::7]:1", "2001:db8::7", 1);
    check_hostport("0.0.0.0:1", "0.0.0.0", 1);

    check_bad_hostport("");
    check_bad_hostport("8080");
    check_bad_hostport("localhost");
    check_bad_hostport("localhost:");
    check_bad_hostport(":");
    check_bad_hostport("host:http");
    check_bad_hostport("host:80x");
    check_bad_hostport("host:-80");
    check_bad_hostport("host:65536");
    check_bad_hostport("host:100000");
    check_bad_hostport("host:0080800");
    check_bad_hostport("host:000080");
    check_bad_hostport("host:99999999999999999999");
    check_bad_hostport("[::1]");
    check_bad_hostport("[::1]:");
    check_bad_hostport("[::1]80");
    check_bad_hostport("[::1:80");
    check_bad_hostport("[::1]:abc");

    /* The host must fit the caller's buffer with its NUL. */
    CHECK_EQ(hw_hostport_parse("abcde:1", small, sizeof(small), &p), 0);
    CHECK_STR(small, "abcde");
    CHECK_EQ(hw_hostport_parse("abcdef:1", small, sizeof(small), &p), HW_EINVAL);
    CHECK_EQ(hw_hostport_parse("[abcdef]:1", small, sizeof(small), &p), HW_EINVAL);
}

static void check_target(const char *s, const char *shown, const char *host, int tls)
{
    struct hw_url u;
    char out[1400];

    if (hw_url_parse_target(s, &u) != 0) {
        fprintf(stderr, "rejected target: %s\n", s);
        CHECK(0);
    }
    CHECK_STR(hw_url_format(&u, 1, out, sizeof(out)), shown);
    CHECK_STR(u.host, host);
    CHECK_EQ(u.tls, tls);
}

/* Forward targets as people write them, and how they are shown back. */
static void test_targets(void)
{
    struct hw_url u;

    check_target("3000", "http://localhost:3000", "localhost", 0);
    check_target(":3000", "http://localhost:3000", "localhost", 0);
    check_target("localhost:3000", "http://localhost:3000", "localhost", 0);
    check_target("127.0.0.1:8000/api", "http://127.0.0.1:8000/api", "127.0.0.1", 0);
    check_target("[::1]:3000", "http://[::1]:3000", "::1", 0);
    check_target("http://localhost:3000/api/", "http://localhost:3000/api/", "localhost", 0);
    check_target("http://app.internal", "http://app.internal", "app.internal", 0);
    check_target("https://localhost:8443", "https://localhost:8443", "localhost", 1);
    CHECK_EQ(hw_url_parse_target("localhost", &u), HW_EINVAL);
    CHECK_EQ(hw_url_parse_target("", &u), HW_EINVAL);
    CHECK_EQ(hw_url_parse_target("0", &u), HW_EINVAL);
    CHECK_EQ(hw_url_parse_target("70000", &u), HW_EINVAL);
    CHECK_EQ(hw_url_parse_target(":abc", &u), HW_EINVAL);
    CHECK_EQ(hw_url_parse_target("ws://localhost:3000", &u), HW_EINVAL);
    /* The scheme's own port goes unsaid; others are shown. */
    CHECK_EQ(hw_url_parse("wss://h:443/tunnel", &u), 0);
    {
        char out[1400];

        CHECK_STR(hw_url_format(&u, 1, out, sizeof(out)), "wss://h/tunnel");
        CHECK_STR(hw_url_format(&u, 0, out, sizeof(out)), "wss://h");
    }
}

/* hw_text_uint(), which ports are read with: digits only, up to max and no further. */
static void test_text_uint(void)
{
    static const char *const bad[] = { "", "+5", "-5", "5x", " 5", "18446744073709551616" };
    uint64_t v = 0;

    CHECK_EQ(hw_text_uint("0", 1, 0, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(hw_text_uint("1", 1, 0, &v), HW_EINVAL);
    CHECK_EQ(hw_text_uint("1000", 4, 1000, &v), 0);
    CHECK_EQ(v, 1000);
    CHECK_EQ(hw_text_uint("1001", 4, 1000, &v), HW_EINVAL);
    CHECK_EQ(hw_text_uint("9223372036854775807", 19, INT64_MAX, &v), 0);
    CHECK_EQ(v, (uint64_t)INT64_MAX);
    CHECK_EQ(hw_text_uint("9223372036854775808", 19, INT64_MAX, &v), HW_EINVAL);
    CHECK_EQ(hw_text_uint("18446744073709551615", 20, UINT64_MAX, &v), 0);
    CHECK_EQ(v, UINT64_MAX);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ(hw_text_uint(bad[i], strlen(bad[i]), UINT64_MAX, &v), HW_EINVAL);
}

/* Paths a normalising app would read as others, and the ones it would not. */
static void test_path_escapes(void)
{
    static const char *const out[] = { "/..",
                                       "/../x",
                                       "/a/./b",
                                       "/%2e%2E/x",
                                       "/.%2e",
                                       "//x",
                                       "/a//b",
                                       "/..;x/y",
                                       "/..%3b/x",
                                       "/%2e;/x",
                                       "/a%2Fb",
                                       "/a%5cb",
                                       "/a\\b",
                                       "/x/..#",
                                       "/a#b",
                                       "/..%00",
                                       "/a%00b",
                                       "/%252e%252e/x",
                                       "/%%32%65%%32%65/x",
                                       "/a%",
                                       "/a%4",
                                       "/a%zz",
                                       "/%c0%ae%c0%ae/x",
                                       "/%C1%9C",
                                       "/%e0%80%ae/x",
                                       "/%f8%80%80%80%ae/x",
                                       "/%fc%80%80%80%80%ae/x",
                                       "/%ff",
                                       "/%f0%80%80%ae",
                                       "/\xc0\xae\xc0\xae/x",
                                       "/%ef%bc%8e%ef%bc%8e/x",
                                       "/%EF%BC%8E",
                                       "/\xef\xbc\x8e\xef\xbc\x8e/x",
                                       "/a%ef%bc%8fb",
                                       "/a%ef%bc%bcb",
                                       "/%e2%80%a4%e2%80%a4/x",
                                       "/%ef%b9%92",
                                       "/%e2%80%a5",
                                       "/%E2%80%A5/%E2%80%A5/admin",
                                       "/%ef%b8%b0/admin",
                                       "/a\xef\xb9\250b", /* octal: a hex escape would eat the b */
                                       "/%ef\xbc%8e" };
    static const char *const in[] = { "",
                                      "/",
                                      "/a/b/",
                                      "/v1.2/...",
                                      "/a..b",
                                      "/...",
                                      "/.well-known/x",
                                      "/%2e%2e%2e",
                                      "/a%2e",
                                      "/a;b/c",
                                      "/caf%c3%a9",
                                      "/%e0%a4%85",
                                      "/%f0%9f%98%80",
                                      "/a%23b",
                                      "/%41%42",
                                      "/%ef%bc%a1",
                                      "/%e2%80%a6",
                                      "/%ef%bc",
                                      "/%e2%80" };

    for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
        if (!hw_url_path_escapes(out[i], strlen(out[i])))
            fprintf(stderr, "    not refused: %s\n", out[i]);
        CHECK_EQ(hw_url_path_escapes(out[i], strlen(out[i])), 1);
    }
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        if (hw_url_path_escapes(in[i], strlen(in[i])))
            fprintf(stderr, "    refused: %s\n", in[i]);
        CHECK_EQ(hw_url_path_escapes(in[i], strlen(in[i])), 0);
    }
    /* Only the n bytes given count: a dot segment past them is not read. */
    CHECK_EQ(hw_url_path_escapes("/a/..", 3), 0);
}

int main(void)
{
    fprintf(stderr, "test_url\n");
    RUN(test_schemes_and_ports);
    RUN(test_ipv6_hosts);
    RUN(test_paths_and_queries);
    RUN(test_url_rejects);
    RUN(test_url_lengths);
    RUN(test_hostport);
    RUN(test_targets);
    RUN(test_text_uint);
    RUN(test_path_escapes);
    return 0;
}
