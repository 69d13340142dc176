/*
 * Published examples as fixtures: each provider's own documented signature
 * where it publishes one (source URL above each test), RFC 8032 for
 * Ed25519, and for providers without a worked example a vector computed
 * independently with Python's hmac / cryptography modules when the test was
 * written. A failure here means we disagree with the provider.
 */
#include <sodium.h>

#include "sig/sig_crypto.h"
#include "sig_test.h"

/*
 * GitHub, "Validating webhook deliveries", section "Testing the webhook
 * payload validation":
 * https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
 */
static void test_github_documented(void)
{
    static const char *const kv[] = { "provider", "github", "secret", "It's a Secret to Everybody",
                                      NULL };
    struct hw_sig_source *src = source_make(kv);
    struct hw_sig_result res;
    struct hreq r;

    hreq_init(&r, "Hello, World!", 13, 1700000000);
    hreq_set(&r, "X-Hub-Signature-256",
             "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
    hreq_set(&r, "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK);
    CHECK_EQ(res.secret_index, 0);
    CHECK_STR(res.dedup_key, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    hw_sig_source_free(src);
}

/*
 * GitHub's legacy X-Hub-Signature (SHA-1) for the same documented secret and
 * payload; the SHA-1 value was computed with Python's hmac module, as GitHub
 * publishes only the SHA-256 one. Accepted only with legacy-sha1 = true.
 */
static void test_github_legacy_sha1(void)
{
    static const char *const kv_on[] = { "provider", "github", "legacy-sha1",
                                         "true",     "secret", "It's a Secret to Everybody",
                                         NULL };
    static const char *const kv_off[] = { "provider", "github", "secret",
                                          "It's a Secret to Everybody", NULL };
    struct hw_sig_source *on = source_make(kv_on), *off = source_make(kv_off);
    struct hreq r;

    hreq_init(&r, "Hello, World!", 13, 1700000000);
    hreq_set(&r, "X-Hub-Signature", "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59");
    CHECK_REASON(on, &r, HW_SIG_OK);
    CHECK_REASON(off, &r, HW_SIG_MISSING_HEADER);
    hw_sig_source_free(on);
    hw_sig_source_free(off);
}

/*
 * Slack, "Verifying requests from Slack", the worked example:
 * https://api.slack.com/authentication/verifying-requests-from-slack
 */
static void test_slack_documented(void)
{
    static const char body[] =
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
        "G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"
        "collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%"
        "2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."
        "803a0bc887a14d10d2c447fce8b6703c";
    static const char *const kv[] = { "provider", "slack", "secret",
                                      "8f742231b10e8888abcd99yyyzzz85a5", NULL };
    struct hw_sig_source *src = source_make(kv);
    struct hreq r;

    hreq_init(&r, body, sizeof(body) - 1, 1531420618 + 10);
    hreq_set(&r, "X-Slack-Request-Timestamp", "1531420618");
    hreq_set(&r, "X-Slack-Signature",
             "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503");
    CHECK_REASON(src, &r, HW_SIG_OK);
    hw_sig_source_free(src);
}

/*
 * Standard Webhooks reference library's signing test (key, id, timestamp,
 * payload, expected "v1," signature):
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/python/tests/test_webhooks.py
 * The header names and the "v1,BASE64" list format are from the spec:
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
static void test_standard_webhooks_documented(void)
{
    static const char body[] = "{\"test\": 2432232314}";
    static const char *const kv[] = { "provider", "standard-webhooks", "secret",
                                      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", NULL };
    static const char *const kv_svix[] = { "provider", "svix", "secret",
                                           "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", NULL };
    struct hw_sig_source *src = source_make(kv), *svix = source_make(kv_svix);
    struct hw_sig_result res;
    struct hreq r;

    hreq_init(&r, body, sizeof(body) - 1, 1614265330);
    hreq_set(&r, "webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek");
    hreq_set(&r, "webhook-timestamp", "1614265330");
    hreq_set(&r, "webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK);
    CHECK_STR(res.dedup_key, "msg_p5jXN8AQM9LWM0D4loKWxJek");
    CHECK_EQ(res.timestamp, 1614265330);

    /* The library's "invalid signature" case: one bit off in the last byte. */
    hreq_set(&r, "webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=");
    CHECK_REASON(src, &r, HW_SIG_NO_MATCH);

    /* Svix sends the same scheme under svix-* names. */
    hreq_init(&r, body, sizeof(body) - 1, 1614265330);
    hreq_set(&r, "svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek");
    hreq_set(&r, "svix-timestamp", "1614265330");
    hreq_set(&r, "svix-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    CHECK_REASON(svix, &r, HW_SIG_OK);
    CHECK_REASON(src, &r, HW_SIG_MISSING_HEADER);
    /* The webhook-* names stand in for a missing svix-* header, never for a repeated one. */
    hreq_set(&r, "webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek");
    hreq_set(&r, "webhook-timestamp", "1614265330");
    hreq_set(&r, "webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    hreq_del(&r, "svix-signature");
    CHECK_REASON(svix, &r, HW_SIG_OK);
    hreq_set(&r, "svix-signature", "v1,AAAA");
    hreq_repeat(&r, "svix-signature");
    CHECK_REASON(svix, &r, HW_SIG_REPEATED_HEADER);
    hw_sig_source_free(src);
    hw_sig_source_free(svix);
}

/*
 * Standard Webhooks "v1a" (Ed25519) with a whpk_ public key. The spec has
 * no worked v1a vector, so the key pair is RFC 8032's TEST 2 and the
 * signature over the reference library's message was made with Python's
 * cryptography module.
 */
static void test_standard_webhooks_ed25519(void)
{
    static const char body[] = "{\"test\": 2432232314}";
    static const char *const kv[] = { "provider", "standard-webhooks", "secret",
                                      "whpk_PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=", NULL };
    struct hw_sig_source *src = source_make(kv);
    struct hreq r;

    hreq_init(&r, body, sizeof(body) - 1, 1614265330);
    hreq_set(&r, "webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek");
    hreq_set(&r, "webhook-timestamp", "1614265330");
    hreq_set(&r, "webhook-signature",
             "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= "
             "v1a,7anDmyOh9LNskt5GJUTacHmbvyUkT0/"
             "S1jnxFAp+h2hcVXnQLWhtWA2+wP6vO0AUwEYP23IIZVuneGRhNj7hDQ==");
    CHECK_REASON(src, &r, HW_SIG_OK);
    /* An HMAC signature alone is no use to a source that holds only a public key. */
    hreq_set(&r, "webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    CHECK_REASON(src, &r, HW_SIG_UNSUPPORTED);
    hw_sig_source_free(src);
}

/*
 * Twilio, "Webhooks security", validating requests: auth token 12345, URL
 * https://mycompany.com/myapp.php?foo=1&bar=2 and the POST parameters below;
 * the same values are in Twilio's own library tests
 * (https://www.twilio.com/docs/usage/security,
 * https://github.com/twilio/twilio-python/blob/main/tests/unit/test_request_validator.py).
 * The form body is percent-encoded as Twilio sends it ('+' as %2B).
 */
static void test_twilio_documented(void)
{
    static const char body[] = "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&"
                               "From=%2B14158675309&To=%2B18005551212";
    static const char *const kv[] = { "provider", "twilio", "secret", "12345", NULL };
    struct hw_sig_source *src = source_make(kv);
    struct hw_sig_result res;
    struct hreq r;

    hreq_init(&r, body, sizeof(body) - 1, 1700000000);
    r.req.base_url = "https://mycompany.com";
    r.req.base_url_len = strlen(r.req.base_url);
    r.req.target = "/myapp.php?foo=1&bar=2";
    r.req.target_len = strlen(r.req.target);
    hreq_set(&r, "Content-Type", "application/x-www-form-urlencoded");
    hreq_set(&r, "X-Twilio-Signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    hreq_set(&r, "I-Twilio-Idempotency-Token", "b9a0d5c2-7d3e-4f1a-9c8b-2e6f4a1d0c3b");
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK);
    CHECK_STR(res.dedup_key, "b9a0d5c2-7d3e-4f1a-9c8b-2e6f4a1d0c3b");

    /* The parameters in another order sign the same (Twilio sorts them). */
    {
        static const char shuffled[] = "To=%2B18005551212&Digits=1234&CallSid=CA1234567890ABCDE&"
                                       "From=%2B14158675309&Caller=%2B14158675309";
        r.req.body = shuffled;
        r.req.body_len = sizeof(shuffled) - 1;
        CHECK_REASON(src, &r, HW_SIG_OK);
    }
    /* Repeated names sort by value, and a name sorts before its extensions:
     * the duplicate-parameter case of Twilio's library tests. */
    {
        static const char dup[] = "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234";
        struct hreq d;

        hreq_init(&d, dup, sizeof(dup) - 1, 1700000000);
        d.req.base_url = "https://mycompany.com";
        d.req.base_url_len = strlen(d.req.base_url);
        d.req.target = "/myapp.php?foo=1&bar=2";
        d.req.target_len = strlen(d.req.target);
        hreq_set(&d, "X-Twilio-Signature", "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
        CHECK_REASON(src, &d, HW_SIG_OK);
    }
    /* Twilio's validators accept the URL with the scheme's port spelt out. */
    r.req.body = body;
    r.req.body_len = sizeof(body) - 1;
    r.req.base_url = "https://mycompany.com:443";
    r.req.base_url_len = strlen(r.req.base_url);
    CHECK_REASON(src, &r, HW_SIG_OK);
    /* Another host: the signature covers the URL. */
    r.req.base_url = "https://evil.example";
    r.req.base_url_len = strlen(r.req.base_url);
    CHECK_REASON(src, &r, HW_SIG_NO_MATCH);
    /* No base URL at all cannot be checked. */
    r.req.base_url = NULL;
    r.req.base_url_len = 0;
    CHECK_REASON(src, &r, HW_SIG_NO_PUBLIC_URL);
    hw_sig_source_free(src);
}

/*
 * Twilio's JSON-body variant from the same library tests: the URL carries
 * bodySHA256 (the hex SHA-256 of the body) and the signature covers the URL.
 */
static void test_twilio_body_sha256(void)
{
    static const char body[] = "{\"property\": \"value\", \"boolean\": true}";
    static const char *const kv[] = { "provider", "twilio",     "secret",
                                      "12345",    "public-url", "https://mycompany.com/",
                                      NULL };
    static const char target[] = "/myapp.php?foo=1&bar=2&bodySHA256="
                                 "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    struct hw_sig_source *src = source_make(kv);
    char tampered[sizeof(body)];
    struct hreq r;

    hreq_init(&r, body, sizeof(body) - 1, 1700000000);
    /* The source's public-url wins over the request's base URL. */
    r.req.base_url = "https://ignored.example";
    r.req.base_url_len = strlen(r.req.base_url);
    r.req.target = target;
    r.req.target_len = sizeof(target) - 1;
    hreq_set(&r, "Content-Type", "application/json");
    hreq_set(&r, "X-Twilio-Signature", "a9nBmqA0ju/hNViExpshrM61xv4=");
    CHECK_REASON(src, &r, HW_SIG_OK);
    memcpy(tampered, body, sizeof(body));
    tampered[3] ^= 1;
    r.req.body = tampered;
    CHECK_REASON(src, &r, HW_SIG_BODY_HASH_MISMATCH);
    hw_sig_source_free(src);
}

/*
 * SendGrid's signed Event Webhook, from its Python library's test (public
 * key, signature, timestamp, and the JSON payload with its trailing CRLF):
 * https://github.com/sendgrid/sendgrid-python/blob/main/test/unit/test_eventwebhook.py
 * https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
 */
static void test_sendgrid_documented(void)
{
    static const char body[] =
        "[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":\"Bounced "
        "Address\",\"sg_event_id\":\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA\","
        "\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-"
        "5F5FC76C-9.0\",\"smtp-id\":\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\","
        "\"timestamp\":1600112492}]\r\n";
    static const char *const kv[] = {
        "provider", "sendgrid", "secret",
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/"
        "7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==",
        NULL
    };
    static const char *const kv_bad[] = {
        "provider", "sendgrid", "secret",
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REnt"
        "lo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA==",
        NULL
    };
    struct hw_sig_source *src = source_make(kv), *bad = source_make(kv_bad);
    struct hreq r;

    hreq_init(&r, body, sizeof(body) - 1, 1600112502);
    hreq_set(
        &r, "X-Twilio-Email-Event-Webhook-Signature",
        "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15Tl"
        "uLtEZtM=");
    hreq_set(&r, "X-Twilio-Email-Event-Webhook-Timestamp", "1600112502");
    CHECK_REASON(src, &r, HW_SIG_OK);
    /* The library's "bad key" case. */
    CHECK_REASON(bad, &r, HW_SIG_NO_MATCH);
    hw_sig_source_free(src);
    hw_sig_source_free(bad);
}

/*
 * HMAC itself (RFC 2104 over OpenSSL digests, sig_crypto.c): RFC 4231 test
 * cases 1, 2 and 6 for SHA-256 and SHA-512 (case 6 has a key longer than
 * the block, which must be hashed first) and RFC 2202 cases 1 and 6 for
 * SHA-1, each fed in two parts.
 */
static void test_hmac_rfc4231_rfc2202(void)
{
    static const struct {
        enum hw_sig_alg alg;
        unsigned char key_byte; /* 0: the key is "Jefe" */
        size_t key_len;
        const char *data, *mac;
    } v[] = {
        { HW_SIG_SHA256, 0x0b, 20, "Hi There",
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
        { HW_SIG_SHA512, 0x0b, 20, "Hi There",
          "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274e"
          "ae"
          "a3f4e4be9d914eeb61f1702e696c203a126854" },
        { HW_SIG_SHA256, 0, 4, "what do ya want for nothing?",
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
        { HW_SIG_SHA512, 0, 4, "what do ya want for nothing?",
          "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65"
          "f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737" },
        { HW_SIG_SHA256, 0xaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First",
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
        { HW_SIG_SHA512, 0xaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First",
          "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd221"
          "5d6a1e5295e64f73f63f0aec8b915a985d786598" },
        { HW_SIG_SHA1, 0x0b, 20, "Hi There", "b617318655057264e28bc0b6fb378c8ef146be00" },
        { HW_SIG_SHA1, 0xaa, 80, "Test Using Larger Than Block-Size Key - Hash Key First",
          "aa4ae5e15272d00e95705637ce8a3b55ed402112" },
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char keyhex[2 * 131 + 1], got[129];
        unsigned char mac[HW_SIG_MAC_MAX];
        struct hw_sig_key k;
        const char *why;
        size_t dn = strlen(v[i].data);
        struct hw_sig_part parts[] = { { v[i].data, 3 }, { v[i].data + 3, dn - 3 } };

        for (size_t b = 0; b < v[i].key_len; b++)
            snprintf(keyhex + 2 * b, 3, "%02x", v[i].key_byte ? v[i].key_byte : "Jefe"[b]);
        memset(&k, 0, sizeof(k));
        CHECK_EQ(hw_sig_key_decode(HW_SIG_FORM_HEX, keyhex, &k, &why), 0);
        CHECK_EQ(hw_sig_key_prepare(&k, 7), 0);
        CHECK_EQ(hw_sig_mac(&k, v[i].alg, parts, 2, mac), 0);
        sodium_bin2hex(got, sizeof(got), mac, hw_sig_mac_len(v[i].alg));
        CHECK_STR(got, v[i].mac);
        hw_sig_key_wipe(&k);
    }
}

/* RFC 8032, section 7.1, TEST 1 to TEST 3, against our Ed25519 wrapper. */
static void test_rfc8032(void)
{
    static const struct {
        const char *pk, *msg, *sig;
    } v[] = {
        { "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
          "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e397"
          "01cf9b46bd25bf5f0595bbe24655141438e7a100b" },
        { "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
          "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f361"
          "3d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
        { "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
          "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f76"
          "0984dc6594a7c15e9716ed28dc027beceea1ec40a" },
    };

    CHECK(sodium_init() >= 0);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        unsigned char pk[32], sig[64], msg[8];
        size_t len;

        CHECK_EQ(sodium_hex2bin(pk, 32, v[i].pk, 64, NULL, &len, NULL), 0);
        CHECK_EQ(sodium_hex2bin(sig, 64, v[i].sig, 128, NULL, &len, NULL), 0);
        CHECK_EQ(sodium_hex2bin(msg, sizeof(msg), v[i].msg, strlen(v[i].msg), NULL, &len, NULL), 0);
        CHECK(hw_sig_ed25519_verify(pk, sig, msg, len));
        sig[63] ^= 0x01;
        CHECK(!hw_sig_ed25519_verify(pk, sig, msg, len));
    }
}

/*
 * Discord publishes no worked example. Key pair: RFC 8032 TEST 1 (its public
 * key as the application's hex key); signature over timestamp + body made
 * with Python's cryptography module.
 */
static void test_discord(void)
{
    static const char body[] = "{\"id\":\"1234567890\",\"type\":1}";
    static const char *const kv[] = {
        "provider", "discord", "secret",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", NULL
    };
    struct hw_sig_source *src = source_make(kv);
    struct hw_sig_result res;
    struct hreq r;

    hreq_init(&r, body, sizeof(body) - 1, 1700000000);
    hreq_set(&r, "X-Signature-Timestamp", "1700000000");
    hreq_set(
        &r, "X-Signature-Ed25519",
        "37da46e9ac4eba8cac8df0cb48529bd0435ebff437018cc7d29470b32aa7077a2307917f529c1d2070ed73"
        "9583841b4cfaefbffe302474b9a81322c03f7e3801");
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK);
    CHECK_STR(res.dedup_key, "1234567890");
    hw_sig_source_free(src);
}

/*
 * Stripe documents the scheme (t=..,v1=.. over "t.body", the secret used as
 * written) but no secret with its signature; this one was computed with
 * Python's hmac module. https://docs.stripe.com/webhooks#verify-manually
 */
static void test_stripe(void)
{
    static const char body[] = "{\"id\":\"evt_1NxNpP2eZvKYlo2C\",\"object\":\"event\",\"type\":"
                               "\"payment_intent.succeeded\"}";
    static const char *const kv[] = { "provider", "stripe", "secret",
                                      "whsec_7e0b1b0a5c1f4a2e9d3c8b6a4f2e1d0c", NULL };
    struct hw_sig_source *src = source_make(kv);
    struct hw_sig_result res;
    struct hreq r;

    hreq_init(&r, body, sizeof(body) - 1, 1700000100);
    hreq_set(&r, "Stripe-Signature",
             "t=1700000000,v1=0bc8c5b50a2b5b73f81e3258570e71fc13a864654a7886db29eea556123c127b,"
             "v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39");
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK);
    CHECK_STR(res.dedup_key, "evt_1NxNpP2eZvKYlo2C");
    CHECK_EQ(res.timestamp, 1700000000);
    hw_sig_source_free(src);
}

/*
 * Shopify documents base64 HMAC-SHA256 of the body in X-Shopify-Hmac-Sha256
 * (https://shopify.dev/docs/apps/build/webhooks/subscribe/https)
 * without a worked value; computed with Python's hmac module.
 */
static void test_shopify(void)
{
    static const char body[] =
        "{\"id\":820982911946154508,\"email\":\"jon@example.com\",\"note\":\"order paid\"}";
    static const char *const kv[] = { "provider", "shopify", "secret",
                                      "shpss_5b1c0d6e9f2a4b7c8d3e1f0a", NULL };
    struct hw_sig_source *src = source_make(kv);
    struct hw_sig_result res;
    struct hreq r;

    hreq_init(&r, body, sizeof(body) - 1, 1700000000);
    hreq_set(&r, "X-Shopify-Hmac-Sha256", "R2o1/hZ6SWt6Hl1gCpsaGda0ykjjJ2xSmngE23vtcFs=");
    hreq_set(&r, "X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK);
    CHECK_STR(res.dedup_key, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
    hw_sig_source_free(src);
}

/*
 * Paddle Billing documents "ts=..;h1=.." over "ts:body"
 * (https://developer.paddle.com/webhooks/signature-verification) without a
 * secret to check against; computed with Python's hmac module.
 */
static void test_paddle(void)
{
    static const char body[] =
        "{\"event_id\":\"evt_01gks14ge726w50ch2tmaw2a1x\",\"event_type\":\"subscription.created\"}";
    static const char *const kv[] = {
        "provider", "paddle", "secret",
        "pdl_ntfset_01gkpjp8bkm3tm53kdgkx6sms7_6h3qd3uFSi9YCD3OLYAShQI90XTI5vEI", NULL
    };
    struct hw_sig_source *src = source_make(kv);
    struct hw_sig_result res;
    struct hreq r;

    hreq_init(&r, body, sizeof(body) - 1, 1671552777);
    hreq_set(&r, "Paddle-Signature",
             "ts=1671552777;h1=c3c5bc3f2c6af4416c3d95d48580aef5554e8561ed235366570cbf58330d6a40");
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK);
    CHECK_STR(res.dedup_key, "evt_01gks14ge726w50ch2tmaw2a1x");
    hw_sig_source_free(src);
}

/* GitLab sends the configured secret token as is in X-Gitlab-Token
 * (https://docs.gitlab.com/user/project/integrations/webhooks/). */
static void test_gitlab(void)
{
    static const char *const kv[] = { "provider", "gitlab",       "secret", "old-token",
                                      "secret",   "s3cr3t-t0ken", NULL };
    struct hw_sig_source *src = source_make(kv);
    struct hw_sig_result res;
    struct hreq r;

    hreq_init(&r, "{}", 2, 1700000000);
    hreq_set(&r, "X-Gitlab-Token", "s3cr3t-t0ken");
    hreq_set(&r, "X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e");
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK);
    CHECK_EQ(res.secret_index, 1);
    CHECK_STR(res.dedup_key, "13792a34-cac6-4fda-95a8-c58e00a3954e");
    hreq_set(&r, "X-Gitlab-Token", "s3cr3t-t0ke");
    CHECK_REASON(src, &r, HW_SIG_NO_MATCH);
    hw_sig_source_free(src);
}

/*
 * The generic provider with every field used: SHA-512, base64, a prefix, a
 * timestamp header, an id header and a template. Computed with Python's
 * hmac module: base64(HMAC-SHA512("generic-secret", "1700000000:evt_42:" + body)).
 */
static void test_generic(void)
{
    static const char body[] = "{\"event\":\"ping\"}";
    static const char *const kv[] = { "provider",
                                      "hmac",
                                      "secret",
                                      "generic-secret",
                                      "header",
                                      "X-Signature",
                                      "algorithm",
                                      "sha512",
                                      "encoding",
                                      "base64",
                                      "prefix",
                                      "sha512=",
                                      "timestamp-header",
                                      "X-Timestamp",
                                      "id-header",
                                      "X-Event-Id",
                                      "signed-content",
                                      "{timestamp}:{id}:{body}",
                                      NULL };
    struct hw_sig_source *src = source_make(kv);
    struct hw_sig_result res;
    struct hreq r;

    hreq_init(&r, body, sizeof(body) - 1, 1700000000);
    hreq_set(
        &r, "X-Signature",
        "sha512=UYgMeaYhKPq20Q409RyJz9X+lmx4K9EhOv85b7RjIrYM39nmVCzy6e6rwUiNcw+MFMOUrZYHjQTXLGr"
        "n7wL4Wg==");
    hreq_set(&r, "X-Timestamp", "1700000000");
    hreq_set(&r, "X-Event-Id", "evt_42");
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK);
    CHECK_STR(res.dedup_key, "evt_42");
    /* The id is signed: another id does not verify. */
    hreq_set(&r, "X-Event-Id", "evt_43");
    CHECK_REASON(src, &r, HW_SIG_NO_MATCH);
    hw_sig_source_free(src);
}

int main(void)
{
    RUN(test_github_documented);
    RUN(test_github_legacy_sha1);
    RUN(test_slack_documented);
    RUN(test_standard_webhooks_documented);
    RUN(test_standard_webhooks_ed25519);
    RUN(test_twilio_documented);
    RUN(test_twilio_body_sha256);
    RUN(test_sendgrid_documented);
    RUN(test_hmac_rfc4231_rfc2202);
    RUN(test_rfc8032);
    RUN(test_discord);
    RUN(test_stripe);
    RUN(test_shopify);
    RUN(test_paddle);
    RUN(test_gitlab);
    RUN(test_generic);
    return 0;
}
