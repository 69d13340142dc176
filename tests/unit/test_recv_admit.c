/*
 * Admission (receiver/admit.h) on a configuration loaded from a real file by
 * recv_config_load(): routing under the path prefix, signature checks with
 * GitHub's documented example and with Slack, Discord (Ed25519) and Zoom
 * requests signed here, handshakes answered only after verification, the
 * unverified source, and refusals.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admit.h"
#include "check.h"
#include "core/err.h"

#define S(lit) lit, sizeof(lit) - 1

static struct recv_config cfg;
static unsigned char discord_sk[crypto_sign_SECRETKEYBYTES];
static char conf_path[64];

static void load_config(void)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    char pk_hex[2 * sizeof(pk) + 1];
    char *argv[] = { "hookwire-receiver", "--config", conf_path, NULL };
    FILE *f;
    int fd;

    CHECK(sodium_init() >= 0);
    crypto_sign_keypair(pk, discord_sk);
    sodium_bin2hex(pk_hex, sizeof(pk_hex), pk, sizeof(pk));
    CHECK_EQ(setenv("TEST_DISCORD_PK", pk_hex, 1), 0);
    snprintf(conf_path, sizeof(conf_path), "/tmp/test_recv_admit.XXXXXX");
    fd = mkstemp(conf_path);
    CHECK(fd >= 0);
    f = fdopen(fd, "w");
    CHECK(f != NULL);
    fputs("[receiver]\n"
          "public-url = https://hooks.example.com\n"
          "signing-secret = whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"
          "[source github]\n"
          "provider = github\n"
          "secret = It's a Secret to Everybody\n"
          "deliver-to = http://127.0.0.1:3000/gh\n"
          "[source slack]\n"
          "provider = slack\n"
          "secret = slack-signing-secret\n"
          "deliver-to = http://127.0.0.1:3000/slack\n"
          "[source discord]\n"
          "provider = discord\n"
          "secret = env:TEST_DISCORD_PK\n"
          "deliver-to = http://127.0.0.1:3000/discord\n"
          "[source zoom]\n"
          "provider = zoom\n"
          "secret = zoom-secret-token\n"
          "deliver-to = http://127.0.0.1:3000/zoom\n"
          "[source plain]\n"
          "provider = none\n"
          "allow-unverified = true\n"
          "deliver-to = http://127.0.0.1:3000/plain\n",
          f);
    CHECK_EQ(fclose(f), 0);
    recv_config_load(&cfg, 3, argv);
    unlink(conf_path);
    CHECK_EQ(cfg.sources.n, 5);
}

/* A parsed request: raw head bytes kept alive in the struct. */
struct req {
    char raw[2048];
    struct hw_http_head head;
};

static void req_make(struct req *r, const char *target, const char *headers, size_t body_len)
{
    int n = snprintf(r->raw, sizeof(r->raw),
                     "POST %s HTTP/1.1\r\nHost: hooks.example.com\r\n%sContent-Length: %zu\r\n\r\n",
                     target, headers, body_len);

    CHECK(n > 0 && (size_t)n < sizeof(r->raw));
    CHECK_EQ(hw_http_parse_request(r->raw, (size_t)n, &r->head), n);
}

static void hmac_hex(const char *key, const char *a, const void *b, size_t bn, char *hex)
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[32];

    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)a, strlen(a));
    crypto_auth_hmacsha256_update(&st, b, bn);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, 65, mac, sizeof(mac));
}

static void test_route(void)
{
    struct recv_route r;

    CHECK_EQ(recv_route_parse("/api/webhooks", S("/api/webhooks/github"), &r), 0);
    CHECK(r.source_len == 6 && !memcmp(r.source, "github", 6));
    CHECK(r.path_len == 0 && r.query == NULL);
    CHECK_EQ(recv_route_parse("/api/webhooks", S("/api/webhooks/github/a/b?x=1&y"), &r), 0);
    CHECK(r.source_len == 6 && r.path_len == 4 && !memcmp(r.path, "/a/b", 4));
    CHECK(r.query && r.query_len == 5 && !memcmp(r.query, "x=1&y", 5));
    CHECK_EQ(recv_route_parse("/api/webhooks", S("/api/webhooks/st?"), &r), 0);
    CHECK(r.query && r.query_len == 0 && r.path_len == 0);
    CHECK_EQ(recv_route_parse("/api/webhooks", S("/api/webhooks/st/"), &r), 0);
    CHECK(r.path_len == 1 && r.path[0] == '/');
    CHECK_EQ(recv_route_parse("/h", S("/h/x"), &r), 0);
    static const char *const bad[] = { "/api/webhooks",    "/api/webhooks/",
                                       "/api/webhooks//x", "/api/webhooksX/a",
                                       "/api/webhooks?a",  "/api/web",
                                       "/other/github",    "http://h/api/webhooks/github" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ(recv_route_parse("/api/webhooks", bad[i], strlen(bad[i]), &r), HW_ENOTFOUND);
    /* Paths a normalising backend would route elsewhere. */
    static const char *const escapes[] = {
        "/api/webhooks/gh/..",
        "/api/webhooks/gh/../admin",
        "/api/webhooks/gh/./x",
        "/api/webhooks/gh/a/%2e%2E/b",
        "/api/webhooks/gh/.%2e?x=1",
        "/api/webhooks/gh/a%2Fb",
        "/api/webhooks/gh/a%5cb",
        "/api/webhooks/gh/a\\b",
        "/api/webhooks/gh/%2e",
        /* Path parameters: servers that drop them read "..;x" as "..". */
        "/api/webhooks/gh/..;/admin",
        "/api/webhooks/gh/%2e%2e;/x",
        "/api/webhooks/gh/..%3B/x",
        "/api/webhooks/gh/.;/x",
        "/api/webhooks/gh/..%3bx",
        "/api/webhooks/gh/;x/y",
        /* An empty segment: "//evil.example/x" reads as another host. */
        "/api/webhooks/gh//evil.example/x",
        "/api/webhooks/gh/a//b",
        /* No fragment in a request target: a URL parser would read "/..#" as "/..". */
        "/api/webhooks/gh/..#",
        "/api/webhooks/gh/a/..#x",
        "/api/webhooks/gh?q=1#x",
        /* A '%' that starts no escape: a decoder may keep it and decode what follows. */
        "/api/webhooks/gh/%2",
    };
    for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++)
        CHECK_EQ(recv_route_parse("/api/webhooks", escapes[i], strlen(escapes[i]), &r), HW_EINVAL);
    static const char *const fine[] = { "/api/webhooks/gh/...",    "/api/webhooks/gh/a.b/.c",
                                        "/api/webhooks/gh/..x",    "/api/webhooks/gh/%2e%2e%2e",
                                        "/api/webhooks/gh?p=../x", "/api/webhooks/gh/a%2eb",
                                        "/api/webhooks/gh/a;..",   "/api/webhooks/gh/x;/y",
                                        "/api/webhooks/gh/...;x",  "/api/webhooks/gh/a/" };
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
        CHECK_EQ(recv_route_parse("/api/webhooks", fine[i], strlen(fine[i]), &r), 0);
}

/* https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries */
static void test_github_documented(void)
{
    struct recv_admission a;
    struct req r;

    req_make(&r, "/api/webhooks/github/push?x=1",
             "X-Hub-Signature-256: "
             "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\r\n"
             "X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958\r\n",
             13);
    CHECK_EQ(recv_admit(&cfg, &r.head, S("Hello, World!"), 1700000000, &a), 0);
    CHECK_EQ(a.verdict, RECV_ADMIT_STORE);
    CHECK_STR(a.source->name, "github");
    CHECK_EQ(a.verified, 1);
    CHECK_STR(a.dedup_key, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    CHECK(a.route.path_len == 5 && !memcmp(a.route.path, "/push", 5));
    CHECK(a.route.query_len == 3 && !memcmp(a.route.query, "x=1", 3));

    CHECK_EQ(recv_admit(&cfg, &r.head, S("Hello, World?"), 1700000000, &a), 0);
    CHECK_EQ(a.verdict, RECV_ADMIT_REFUSE);
    CHECK_EQ(a.errc, HW_ERRC_SIGNATURE);
    CHECK_EQ(a.reason, HW_SIG_NO_MATCH);
    CHECK_STR(a.source->name, "github");
    CHECK_STR(a.dedup_key, "");
}

static void test_unknown_source(void)
{
    struct recv_admission a;
    struct req r;

    req_make(&r, "/api/webhooks/gitlab", "", 2);
    CHECK_EQ(recv_admit(&cfg, &r.head, S("{}"), 1700000000, &a), 0);
    CHECK_EQ(a.verdict, RECV_ADMIT_REFUSE);
    CHECK_EQ(a.errc, HW_ERRC_UNKNOWN_SOURCE);
    CHECK(a.source == NULL);
    req_make(&r, "/api/other/github", "", 2);
    CHECK_EQ(recv_admit(&cfg, &r.head, S("{}"), 1700000000, &a), 0);
    CHECK_EQ(a.errc, HW_ERRC_UNKNOWN_SOURCE);
    CHECK_EQ(hw_errc_status(a.errc), 404);
    CHECK_STR(hw_errc_name(a.errc), "HW_UNKNOWN_SOURCE");
}

static void test_slack_handshake_after_verification(void)
{
    static const char body[] = "{\"token\":\"Jhj5dZrVaK7ZwHHjRyZWjbDl\",\"challenge\":"
                               "\"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P\","
                               "\"type\":\"url_verification\"}";
    char hex[65], headers[256];
    struct recv_admission a;
    struct req r;

    hmac_hex("slack-signing-secret", "v0:1700000000:", body, sizeof(body) - 1, hex);
    snprintf(headers, sizeof(headers),
             "X-Slack-Request-Timestamp: 1700000000\r\nX-Slack-Signature: v0=%s\r\n", hex);
    req_make(&r, "/api/webhooks/slack", headers, sizeof(body) - 1);
    CHECK_EQ(recv_admit(&cfg, &r.head, S(body), 1700000010, &a), 0);
    CHECK_EQ(a.verdict, RECV_ADMIT_HANDSHAKE);
    CHECK_EQ(a.handshake.status, 200);
    CHECK(a.handshake.body_len == 52 &&
          !memcmp(a.handshake.body, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", 52));
    /* Unsigned, or signed too long ago: refused like any forged webhook. */
    CHECK_EQ(recv_admit(&cfg, &r.head, S(body), 1700001000, &a), 0);
    CHECK_EQ(a.verdict, RECV_ADMIT_REFUSE);
    CHECK_EQ(a.reason, HW_SIG_TIMESTAMP_OUT_OF_RANGE);
    req_make(&r, "/api/webhooks/slack", "", sizeof(body) - 1);
    CHECK_EQ(recv_admit(&cfg, &r.head, S(body), 1700000010, &a), 0);
    CHECK_EQ(a.verdict, RECV_ADMIT_REFUSE);
    CHECK_EQ(a.errc, HW_ERRC_SIGNATURE);
    CHECK_EQ(a.reason, HW_SIG_MISSING_HEADER);
}

static void test_discord_ping(void)
{
    static const char body[] = "{\"id\":\"1\",\"type\":1,\"version\":1}";
    unsigned char msg[64], sig[crypto_sign_BYTES];
    char sig_hex[2 * sizeof(sig) + 1], headers[300];
    struct recv_admission a;
    struct req r;

    memcpy(msg, "1700000000", 10);
    memcpy(msg + 10, body, sizeof(body) - 1);
    crypto_sign_detached(sig, NULL, msg, 10 + sizeof(body) - 1, discord_sk);
    sodium_bin2hex(sig_hex, sizeof(sig_hex), sig, sizeof(sig));
    snprintf(headers, sizeof(headers),
             "X-Signature-Ed25519: %s\r\nX-Signature-Timestamp: 1700000000\r\n", sig_hex);
    req_make(&r, "/api/webhooks/discord", headers, sizeof(body) - 1);
    CHECK_EQ(recv_admit(&cfg, &r.head, S(body), 1700000000, &a), 0);
    CHECK_EQ(a.verdict, RECV_ADMIT_HANDSHAKE);
    CHECK_STR(a.handshake.content_type, "application/json");
    CHECK(a.handshake.body_len == 10 && !memcmp(a.handshake.body, "{\"type\":1}", 10));
    /* Discord checks that endpoints refuse bad signatures: one changed byte. */
    CHECK_EQ(
        recv_admit(&cfg, &r.head, S("{\"id\":\"2\",\"type\":1,\"version\":1}"), 1700000000, &a), 0);
    CHECK_EQ(a.verdict, RECV_ADMIT_REFUSE);
    CHECK_EQ(a.errc, HW_ERRC_SIGNATURE);
}

static void test_zoom_validation(void)
{
    static const char body[] = "{\"payload\":{\"plainToken\":\"qgg8vlvZRS6UYooatFL8Aw\"},"
                               "\"event_ts\":1654503849680,\"event\":\"endpoint.url_validation\"}";
    char hex[65], token_hex[65], headers[256], want[200];
    struct recv_admission a;
    struct req r;

    hmac_hex("zoom-secret-token", "v0:1700000000:", body, sizeof(body) - 1, hex);
    snprintf(headers, sizeof(headers),
             "x-zm-request-timestamp: 1700000000\r\nx-zm-signature: v0=%s\r\n", hex);
    req_make(&r, "/api/webhooks/zoom", headers, sizeof(body) - 1);
    CHECK_EQ(recv_admit(&cfg, &r.head, S(body), 1700000000, &a), 0);
    CHECK_EQ(a.verdict, RECV_ADMIT_HANDSHAKE);
    hmac_hex("zoom-secret-token", "", "qgg8vlvZRS6UYooatFL8Aw", 22, token_hex);
    snprintf(want, sizeof(want),
             "{\"plainToken\":\"qgg8vlvZRS6UYooatFL8Aw\",\"encryptedToken\":\"%s\"}", token_hex);
    CHECK_EQ(a.handshake.body_len, strlen(want));
    CHECK(!memcmp(a.handshake.body, want, a.handshake.body_len));
    /* An ordinary Zoom event with the same signature scheme is stored. */
    hmac_hex("zoom-secret-token", "v0:1700000000:", S("{\"event\":\"meeting.started\"}"), hex);
    snprintf(headers, sizeof(headers),
             "x-zm-request-timestamp: 1700000000\r\nx-zm-signature: v0=%s\r\n", hex);
    req_make(&r, "/api/webhooks/zoom", headers, 27);
    CHECK_EQ(recv_admit(&cfg, &r.head, S("{\"event\":\"meeting.started\"}"), 1700000000, &a), 0);
    CHECK_EQ(a.verdict, RECV_ADMIT_STORE);
    CHECK_EQ(a.verified, 1);
}

static void test_unverified_source(void)
{
    struct recv_admission a;
    struct req r;

    req_make(&r, "/api/webhooks/plain/x", "", 2);
    CHECK_EQ(recv_admit(&cfg, &r.head, S("{}"), 1700000000, &a), 0);
    CHECK_EQ(a.verdict, RECV_ADMIT_STORE);
    CHECK_EQ(a.verified, 0);
    CHECK_STR(a.source->name, "plain");
}

int main(void)
{
    load_config();
    RUN(test_route);
    RUN(test_github_documented);
    RUN(test_unknown_source);
    RUN(test_slack_handshake_after_verification);
    RUN(test_discord_ping);
    RUN(test_zoom_validation);
    RUN(test_unverified_source);
    recv_config_cleanup(&cfg);
    return 0;
}
