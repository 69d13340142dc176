/*
 * Provider handshakes (handshake.h): a strict look at the top-level JSON
 * members that mark a handshake (sig_parse.c's JSON member lookup), and the
 * answer each provider documents. Owns nothing; any thread.
 */
#include "handshake.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "sig/sig_parse.h"

enum recv_handshake_kind recv_handshake_for(const char *provider)
{
    if (!strcmp(provider, "slack"))
        return RECV_HANDSHAKE_SLACK;
    if (!strcmp(provider, "discord"))
        return RECV_HANDSHAKE_DISCORD;
    if (!strcmp(provider, "zoom"))
        return RECV_HANDSHAKE_ZOOM;
    return RECV_HANDSHAKE_NONE;
}

/* Whether the member key of the object s[0..n) is the JSON string want. */
static int member_is(const char *s, size_t n, const char *key, const char *want)
{
    const char *v;
    size_t vn;

    return hw_sig_json_string(s, n, key, &v, &vn) == 0 && vn == strlen(want) &&
           memcmp(v, want, vn) == 0;
}

/*
 * A token we echo: printable ASCII without quotes or backslashes (a plain
 * JSON string has none), so it is safe verbatim in text and in JSON.
 */
static int token_ok(const char *v, size_t n)
{
    if (n == 0 || n > RECV_HANDSHAKE_TOKEN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] < 0x21 || v[i] > 0x7e || v[i] == '"' || v[i] == '\\')
            return 0;
    return 1;
}

/* What token_ok() asks, for the log. */
#define TOKEN_RULE "missing, longer than 256 bytes, or not plain printable text"

static int refuse(struct recv_handshake_answer *ans, const char *why)
{
    ans->status = 400;
    ans->why = why;
    return 1;
}

/* https://api.slack.com/events/url_verification: answer 200 with the
 * challenge in plain text. */
static int slack(const char *s, size_t n, struct recv_handshake_answer *ans)
{
    const char *v;
    size_t vn;

    if (!member_is(s, n, "type", "url_verification"))
        return 0;
    if (hw_sig_json_string(s, n, "challenge", &v, &vn) < 0 || !token_ok(v, vn))
        return refuse(ans, "Slack url_verification: challenge: " TOKEN_RULE);
    ans->status = 200;
    ans->content_type = "text/plain";
    memcpy(ans->body, v, vn);
    ans->body_len = vn;
    return 1;
}

/* Discord interactions: a PING has type 1 and is answered with a PONG,
 * {"type":1}, as JSON. */
static int discord(const char *s, size_t n, struct recv_handshake_answer *ans)
{
    static const char pong[] = "{\"type\":1}";
    const char *v;
    size_t vn;

    if (hw_sig_json_member(s, n, "type", &v, &vn) < 0 || vn != 1 || v[0] != '1')
        return 0;
    ans->status = 200;
    ans->content_type = "application/json";
    memcpy(ans->body, pong, sizeof(pong) - 1);
    ans->body_len = sizeof(pong) - 1;
    return 1;
}

/* Zoom: event "endpoint.url_validation" with payload.plainToken; answer
 * {"plainToken":T,"encryptedToken":hex(HMAC-SHA256(secret, T))} as JSON. */
static int zoom(const char *s, size_t n, const char *secret, struct recv_handshake_answer *ans)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char hex[2 * sizeof(mac) + 1];
    crypto_auth_hmacsha256_state st;
    const char *payload, *v;
    size_t pn, vn;
    int w;

    if (!member_is(s, n, "event", "endpoint.url_validation"))
        return 0;
    if (!secret || !secret[0])
        return refuse(ans, "Zoom endpoint.url_validation: the source has no secret to answer it");
    if (hw_sig_json_member(s, n, "payload", &payload, &pn) < 0 ||
        hw_sig_json_string(payload, pn, "plainToken", &v, &vn) < 0 || !token_ok(v, vn))
        return refuse(ans, "Zoom endpoint.url_validation: payload.plainToken: " TOKEN_RULE);
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)v, vn);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof(st));
    sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
    w = snprintf(ans->body, sizeof(ans->body),
                 "{\"plainToken\":\"%.*s\",\"encryptedToken\":\"%s\"}", (int)vn, v, hex);
    if (w < 0 || (size_t)w >= sizeof(ans->body))
        return refuse(ans, "Zoom endpoint.url_validation: the answer does not fit");
    ans->status = 200;
    ans->content_type = "application/json";
    ans->body_len = (size_t)w;
    return 1;
}

int recv_handshake_check(enum recv_handshake_kind kind, const char *zoom_secret, const void *body,
                         size_t len, struct recv_handshake_answer *ans)
{
    const char *s = body;

    memset(ans, 0, sizeof(*ans));
    if (!len)
        return 0;
    switch (kind) {
    case RECV_HANDSHAKE_SLACK:
        return slack(s, len, ans);
    case RECV_HANDSHAKE_DISCORD:
        return discord(s, len, ans);
    case RECV_HANDSHAKE_ZOOM:
        return zoom(s, len, zoom_secret, ans);
    case RECV_HANDSHAKE_NONE:
        break;
    }
    return 0;
}
