/*
 * The same battery for every provider: genuine, rotated secret, wrong
 * secret, tampered body, timestamps at and past both edges of the window,
 * missing headers, garbage, truncated and wrong-prefix signatures, extra
 * whitespace, several signatures of which one matches, empty and 1 MiB
 * bodies. Requests are signed here with OpenSSL and libsodium directly (not
 * through the code under test), from each provider's documented scheme.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdlib.h>

#include "sig_test.h"

#define NOW 1700000000
#define TOL 300
#define MIB (1024 * 1024)

struct prov;
typedef void (*sign_fn)(const struct prov *p, int key, struct hreq *r, int64_t ts, int multi);

struct prov {
    const char *name;
    const char *const *kv; /* config with two secrets: index 0 old, 1 new */
    sign_fn sign;
    const char *sig_header;
    const char *ts_header; /* separate timestamp header, or NULL */
    int has_ts;            /* a signed timestamp, checked against the window */
    char list_sep;         /* separator inside a signature list, or 0 */
    /* Wrong-prefix mutation: NULL where the format has no prefix or tag. */
    const char *prefix_from, *prefix_to;
    enum hw_sig_reason wrong_prefix, garbage, truncated, tampered;
    const char *dedup; /* expected dedup key for the standard body, "" if none */
};

/* ---- signing helpers (independent of common/sig*) ---- */

static const char *const hmac_keys[3] = { "matrix-secret-zero", "matrix-secret-one",
                                          "matrix-secret-wrong" };
static unsigned char sw_keys[3][24];
static unsigned char ed_pk[3][32], ed_sk[3][64];
static EVP_PKEY *ec_keys[3];

static void hex(const unsigned char *b, size_t n, char *out)
{
    sodium_bin2hex(out, n * 2 + 1, b, n);
}

static void b64(const unsigned char *b, size_t n, char *out, size_t outmax)
{
    sodium_bin2base64(out, outmax, b, n, sodium_base64_VARIANT_ORIGINAL);
}

/* Concatenates a, b, c and the body into one buffer for one-shot signing. */
static unsigned char *cat(const struct hreq *r, const char *a, const char *b, const char *c,
                          size_t *len)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    unsigned char *m = malloc(la + lb + lc + r->req.body_len + 1);

    CHECK(m);
    memcpy(m, a, la);
    memcpy(m + la, b, lb);
    memcpy(m + la + lb, c, lc);
    if (r->req.body_len)
        memcpy(m + la + lb + lc, r->req.body, r->req.body_len);
    *len = la + lb + lc + r->req.body_len;
    return m;
}

static size_t hmac(const EVP_MD *md, const void *key, size_t keylen, const unsigned char *m,
                   size_t n, unsigned char *out)
{
    unsigned int len = 0;

    CHECK(HMAC(md, key, (int)keylen, m, n, out, &len));
    return len;
}

static void hmac_hex(const EVP_MD *md, int key, const struct hreq *r, const char *a, const char *b,
                     const char *c, char *out)
{
    unsigned char mac[64], *m;
    size_t n, len;

    m = cat(r, a, b, c, &n);
    len = hmac(md, hmac_keys[key], strlen(hmac_keys[key]), m, n, mac);
    hex(mac, len, out);
    free(m);
}

static const char bogus_hex[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
static const char bogus_b64[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/* ---- one signer per provider ---- */

static void sign_github(const struct prov *p, int key, struct hreq *r, int64_t ts, int multi)
{
    char h[129];

    hmac_hex(EVP_sha256(), key, r, "", "", "", h);
    hreq_set(r, "X-Hub-Signature-256", "sha256=%s", h);
    hreq_set(r, "X-GitHub-Delivery", "gh-delivery-1");
}

static void sign_stripe(const struct prov *p, int key, struct hreq *r, int64_t ts, int multi)
{
    char h[129], t[24];

    snprintf(t, sizeof(t), "%lld", (long long)ts);
    hmac_hex(EVP_sha256(), key, r, t, ".", "", h);
    if (multi)
        hreq_set(r, "Stripe-Signature", "t=%s,v1=%s,v1=%s,v0=%s", t, bogus_hex, h, bogus_hex);
    else
        hreq_set(r, "Stripe-Signature", "t=%s,v1=%s", t, h);
}

static void sign_paddle(const struct prov *p, int key, struct hreq *r, int64_t ts, int multi)
{
    char h[129], t[24];

    snprintf(t, sizeof(t), "%lld", (long long)ts);
    hmac_hex(EVP_sha256(), key, r, t, ":", "", h);
    if (multi)
        hreq_set(r, "Paddle-Signature", "ts=%s;h1=%s;h1=%s", t, bogus_hex, h);
    else
        hreq_set(r, "Paddle-Signature", "ts=%s;h1=%s", t, h);
}

static void sign_slack(const struct prov *p, int key, struct hreq *r, int64_t ts, int multi)
{
    char h[129], t[24];

    snprintf(t, sizeof(t), "%lld", (long long)ts);
    hmac_hex(EVP_sha256(), key, r, "v0:", t, ":", h);
    hreq_set(r, "X-Slack-Request-Timestamp", "%s", t);
    hreq_set(r, "X-Slack-Signature", "v0=%s", h);
}

static void sign_shopify(const struct prov *p, int key, struct hreq *r, int64_t ts, int multi)
{
    unsigned char mac[32], *m;
    char s[64];
    size_t n;

    m = cat(r, "", "", "", &n);
    hmac(EVP_sha256(), hmac_keys[key], strlen(hmac_keys[key]), m, n, mac);
    free(m);
    b64(mac, 32, s, sizeof(s));
    hreq_set(r, "X-Shopify-Hmac-Sha256", "%s", s);
    hreq_set(r, "X-Shopify-Webhook-Id", "shop-1");
}

/* Standard Webhooks / Svix, HMAC (v1) or Ed25519 (v1a) per the provider's name. */
static void sign_sw(const struct prov *p, int key, struct hreq *r, int64_t ts, int multi)
{
    int svix = !strcmp(p->name, "svix"), ed = strstr(p->name, "ed25519") != NULL;
    const char *tag = ed ? "v1a" : "v1";
    unsigned char sig[64], *m;
    char t[24], s[128], prefix[64];
    size_t n;

    snprintf(t, sizeof(t), "%lld", (long long)ts);
    snprintf(prefix, sizeof(prefix), "msg_matrix_1.%s.", t);
    m = cat(r, prefix, "", "", &n);
    if (ed) {
        crypto_sign_detached(sig, NULL, m, n, ed_sk[key]);
        b64(sig, 64, s, sizeof(s));
    } else {
        hmac(EVP_sha256(), sw_keys[key], sizeof(sw_keys[key]), m, n, sig);
        b64(sig, 32, s, sizeof(s));
    }
    free(m);
    hreq_set(r, svix ? "svix-id" : "webhook-id", "msg_matrix_1");
    hreq_set(r, svix ? "svix-timestamp" : "webhook-timestamp", "%s", t);
    if (multi)
        hreq_set(r, p->sig_header, "%s,%s v2,%s %s,%s", tag, bogus_b64, bogus_b64, tag, s);
    else
        hreq_set(r, p->sig_header, "%s,%s", tag, s);
}

/* Twilio: the matrix bodies hold no '&', '=', '+' or '%', so as a form they
 * are one parameter named by the whole body with an empty value. */
static void sign_twilio(const struct prov *p, int key, struct hreq *r, int64_t ts, int multi)
{
    unsigned char mac[20], *m;
    char s[64];
    size_t n;

    r->req.base_url = "https://hooks.example.com";
    r->req.base_url_len = strlen(r->req.base_url);
    r->req.target = "/t/alice/sms?x=1";
    r->req.target_len = strlen(r->req.target);
    m = cat(r, "https://hooks.example.com", "/t/alice/sms?x=1", "", &n);
    hmac(EVP_sha1(), hmac_keys[key], strlen(hmac_keys[key]), m, n, mac);
    free(m);
    b64(mac, 20, s, sizeof(s));
    hreq_set(r, "X-Twilio-Signature", "%s", s);
    hreq_set(r, "I-Twilio-Idempotency-Token", "tw-1");
}

static void sign_discord(const struct prov *p, int key, struct hreq *r, int64_t ts, int multi)
{
    unsigned char sig[64], *m;
    char t[24], h[129];
    size_t n;

    snprintf(t, sizeof(t), "%lld", (long long)ts);
    m = cat(r, t, "", "", &n);
    crypto_sign_detached(sig, NULL, m, n, ed_sk[key]);
    free(m);
    hex(sig, 64, h);
    hreq_set(r, "X-Signature-Timestamp", "%s", t);
    hreq_set(r, "X-Signature-Ed25519", "%s", h);
}

static void sign_sendgrid(const struct prov *p, int key, struct hreq *r, int64_t ts, int multi)
{
    unsigned char sig[80], *m;
    char t[24], s[128];
    size_t n, len = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    snprintf(t, sizeof(t), "%lld", (long long)ts);
    m = cat(r, t, "", "", &n);
    CHECK(md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ec_keys[key]) == 1);
    CHECK(EVP_DigestSign(md, sig, &len, m, n) == 1);
    EVP_MD_CTX_free(md);
    free(m);
    b64(sig, len, s, sizeof(s));
    hreq_set(r, "X-Twilio-Email-Event-Webhook-Timestamp", "%s", t);
    hreq_set(r, "X-Twilio-Email-Event-Webhook-Signature", "%s", s);
}

static void sign_gitlab(const struct prov *p, int key, struct hreq *r, int64_t ts, int multi)
{
    hreq_set(r, "X-Gitlab-Token", "%s", hmac_keys[key]);
    hreq_set(r, "X-Gitlab-Event-UUID", "gl-1");
}

static void sign_hmac(const struct prov *p, int key, struct hreq *r, int64_t ts, int multi)
{
    char h[129], t[24];

    snprintf(t, sizeof(t), "%lld", (long long)ts);
    hmac_hex(EVP_sha256(), key, r, t, ".", "", h);
    hreq_set(r, "X-Ts", "%s", t);
    hreq_set(r, "X-Sig", "sha256=%s", h);
}

/* ---- configurations (secrets filled in by setup()) ---- */

static char sw_cfg[2][64], ed_cfg[2][80], discord_cfg[2][80], ec_cfg[2][160];

static const char *const kv_github[] = {
    "provider", "github", "secret", "matrix-secret-zero", "secret", "matrix-secret-one", NULL
};
static const char *const kv_stripe[] = {
    "provider", "stripe", "secret", "matrix-secret-zero", "secret", "matrix-secret-one", NULL
};
static const char *const kv_paddle[] = {
    "provider", "paddle", "secret", "matrix-secret-zero", "secret", "matrix-secret-one", NULL
};
static const char *const kv_slack[] = {
    "provider", "slack", "secret", "matrix-secret-zero", "secret", "matrix-secret-one", NULL
};
static const char *const kv_shopify[] = {
    "provider", "shopify", "secret", "matrix-secret-zero", "secret", "matrix-secret-one", NULL
};
static const char *const kv_twilio[] = {
    "provider", "twilio", "secret", "matrix-secret-zero", "secret", "matrix-secret-one", NULL
};
static const char *const kv_gitlab[] = {
    "provider", "gitlab", "secret", "matrix-secret-zero", "secret", "matrix-secret-one", NULL
};
static const char *const kv_hmac[] = { "provider",
                                       "hmac",
                                       "header",
                                       "X-Sig",
                                       "prefix",
                                       "sha256=",
                                       "timestamp-header",
                                       "X-Ts",
                                       "secret",
                                       "matrix-secret-zero",
                                       "secret",
                                       "matrix-secret-one",
                                       NULL };
static const char *kv_sw[] = { "provider", "standard-webhooks", "secret", sw_cfg[0],
                               "secret",   sw_cfg[1],           NULL };
static const char *kv_svix[] = {
    "provider", "svix", "secret", sw_cfg[0], "secret", sw_cfg[1], NULL
};
static const char *kv_sw_ed[] = { "provider", "standard-webhooks", "secret", ed_cfg[0],
                                  "secret",   ed_cfg[1],           NULL };
static const char *kv_discord[] = { "provider", "discord",      "secret", discord_cfg[0],
                                    "secret",   discord_cfg[1], NULL };
static const char *kv_sendgrid[] = { "provider", "sendgrid", "secret", ec_cfg[0],
                                     "secret",   ec_cfg[1],  NULL };

#define M HW_SIG_MALFORMED
#define U HW_SIG_UNSUPPORTED
#define N HW_SIG_NO_MATCH

static const struct prov provs[] = {
    { "github", kv_github, sign_github, "X-Hub-Signature-256", NULL, 0, 0, "sha256=", "sha1=", M, M,
      M, N, "gh-delivery-1" },
    { "stripe", kv_stripe, sign_stripe, "Stripe-Signature", NULL, 1, ',', "v1=", "v9=", U, M, M, N,
      "evt_matrix_1" },
    { "standard-webhooks", kv_sw, sign_sw, "webhook-signature", "webhook-timestamp", 1, ' ', "v1,",
      "v9,", U, M, M, N, "msg_matrix_1" },
    { "svix", kv_svix, sign_sw, "svix-signature", "svix-timestamp", 1, ' ', "v1,", "v9,", U, M, M,
      N, "msg_matrix_1" },
    { "standard-webhooks-ed25519", kv_sw_ed, sign_sw, "webhook-signature", "webhook-timestamp", 1,
      ' ', "v1a,", "v9a,", U, M, M, N, "msg_matrix_1" },
    { "slack", kv_slack, sign_slack, "X-Slack-Signature", "X-Slack-Request-Timestamp", 1, 0,
      "v0=", "v1=", M, M, M, N, "evt_matrix_1" },
    /* Shopify, Twilio, Discord and SendGrid signatures carry no prefix or tag. */
    { "shopify", kv_shopify, sign_shopify, "X-Shopify-Hmac-Sha256", NULL, 0, 0, NULL, NULL, M, M, M,
      N, "shop-1" },
    { "twilio", kv_twilio, sign_twilio, "X-Twilio-Signature", NULL, 0, 0, NULL, NULL, M, M, M, N,
      "tw-1" },
    { "discord", kv_discord, sign_discord, "X-Signature-Ed25519", "X-Signature-Timestamp", 1, 0,
      NULL, NULL, M, M, M, N, "evt_matrix_1" },
    /* A cut DER signature may still be valid base64: then it simply does not verify. */
    { "sendgrid", kv_sendgrid, sign_sendgrid, "X-Twilio-Email-Event-Webhook-Signature",
      "X-Twilio-Email-Event-Webhook-Timestamp", 1, 0, NULL, NULL, M, M, N, N, "" },
    { "paddle", kv_paddle, sign_paddle, "Paddle-Signature", NULL, 1, ';', "h1=", "h9=", U, M, M, N,
      "evt_matrix_1" },
    /* GitLab's token does not cover the body: a changed body still passes. */
    { "gitlab", kv_gitlab, sign_gitlab, "X-Gitlab-Token", NULL, 0, 0, NULL, NULL, M, N, N,
      HW_SIG_OK, "gl-1" },
    { "hmac", kv_hmac, sign_hmac, "X-Sig", "X-Ts", 1, 0, "sha256=", "sha512=", M, M, M, N, "" },
};

/* ---- the battery ---- */

static char *make_body(size_t n)
{
    static const char head[] = "{\"id\":\"evt_matrix_1\",\"event_id\":\"evt_matrix_1\",\"pad\":\"";
    char *b = malloc(n + 1);

    CHECK(b && (n == 0 || n >= sizeof(head) + 2));
    if (n) {
        memcpy(b, head, sizeof(head) - 1);
        memset(b + sizeof(head) - 1, 'x', n - (sizeof(head) - 1) - 2);
        memcpy(b + n - 2, "\"}", 2);
    }
    return b;
}

static void start(const struct prov *p, struct hreq *r, const char *body, size_t n, int key,
                  int64_t ts, int multi)
{
    hreq_init(r, body, n, NOW);
    hreq_set(r, "Content-Type", "application/json");
    p->sign(p, key, r, ts, multi);
}

/* Puts extra spaces after each separator of a signature list. */
static void space_out(char *v, char sep)
{
    char out[1024];
    size_t o = 0;

    for (size_t i = 0; v[i] && o + 3 < sizeof(out); i++) {
        out[o++] = v[i];
        if (v[i] == sep) {
            out[o++] = ' ';
            out[o++] = ' ';
        }
    }
    out[o] = '\0';
    memcpy(v, out, o + 1);
}

static void run_battery(const struct prov *p, struct hw_sig_source *src, size_t size)
{
    char *body = make_body(size);
    struct hw_sig_result res;
    struct hreq r;
    char *v;

    fprintf(stderr, "    %s, %zu-byte body\n", p->name, size);
    /* Genuine, with either of the two configured secrets. */
    start(p, &r, body, size, 0, NOW, 0);
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK);
    CHECK_EQ(res.secret_index, 0);
    if (size)
        CHECK_STR(res.dedup_key, p->dedup);
    start(p, &r, body, size, 1, NOW, 0);
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK);
    CHECK_EQ(res.secret_index, 1);
    /* A secret we do not have. */
    start(p, &r, body, size, 2, NOW, 0);
    CHECK_REASON(src, &r, HW_SIG_NO_MATCH);
    /* One byte of the body changed after signing. */
    if (size) {
        start(p, &r, body, size, 0, NOW, 0);
        body[size - 3] ^= 1;
        CHECK_REASON(src, &r, p->tampered);
        body[size - 3] ^= 1;
    }
    /* Extra whitespace around values (and inside lists) is tolerated. */
    start(p, &r, body, size, 0, NOW, p->list_sep != 0);
    v = r.val[hreq_find(&r, p->sig_header)];
    if (p->list_sep)
        space_out(v, p->list_sep);
    {
        char copy[1024];

        snprintf(copy, sizeof(copy), "%s", hreq_get(&r, p->sig_header));
        hreq_set(&r, p->sig_header, " \t %s \t", copy);
        if (p->ts_header) {
            snprintf(copy, sizeof(copy), "%s", hreq_get(&r, p->ts_header));
            hreq_set(&r, p->ts_header, "  %s ", copy);
        }
    }
    CHECK_REASON(src, &r, HW_SIG_OK);
    /* Several signatures of which one is good, for the formats that carry a
     * list; the others have exactly one signature per header. */
    if (p->list_sep) {
        start(p, &r, body, size, 1, NOW, 1);
        CHECK_REASON(src, &r, HW_SIG_OK);
    }
    /* Missing headers. */
    start(p, &r, body, size, 0, NOW, 0);
    hreq_del(&r, p->sig_header);
    CHECK_REASON(src, &r, HW_SIG_MISSING_HEADER);
    start(p, &r, body, size, 0, NOW, 0);
    hreq_set(&r, p->sig_header, "   ");
    CHECK_REASON(src, &r, HW_SIG_MISSING_HEADER);
    if (p->ts_header) {
        start(p, &r, body, size, 0, NOW, 0);
        hreq_del(&r, p->ts_header);
        CHECK_REASON(src, &r, HW_SIG_MISSING_HEADER);
    }
    /* A header it reads given twice, even with the same value: which counts is unclear. */
    start(p, &r, body, size, 0, NOW, 0);
    hreq_repeat(&r, p->sig_header);
    CHECK_REASON(src, &r, HW_SIG_REPEATED_HEADER);
    if (p->ts_header) {
        start(p, &r, body, size, 0, NOW, 0);
        hreq_repeat(&r, p->ts_header);
        CHECK_REASON(src, &r, HW_SIG_REPEATED_HEADER);
    }
    /* Garbage, truncated, wrong prefix. */
    start(p, &r, body, size, 0, NOW, 0);
    hreq_set(&r, p->sig_header, "%%%%garbage%%%%");
    CHECK_REASON(src, &r, p->garbage);
    start(p, &r, body, size, 0, NOW, 0);
    v = r.val[hreq_find(&r, p->sig_header)];
    /*
     * Cut at a multiple of four characters: a base64 signature stays base64,
     * so what is cut is the signature itself (an ECDSA DER signature varies
     * in length, and a cut inside a base64 quantum would be malformed only
     * for some of them).
     */
    v[(strlen(v) * 2 / 3) & ~(size_t)3] = '\0';
    CHECK_REASON(src, &r, p->truncated);
    if (p->prefix_from) {
        char fixed[1024], *at;

        start(p, &r, body, size, 0, NOW, 0);
        v = r.val[hreq_find(&r, p->sig_header)];
        at = strstr(v, p->prefix_from);
        CHECK(at);
        snprintf(fixed, sizeof(fixed), "%.*s%s%s", (int)(at - v), v, p->prefix_to,
                 at + strlen(p->prefix_from));
        hreq_set(&r, p->sig_header, "%s", fixed);
        CHECK_REASON(src, &r, p->wrong_prefix);
    }
    /* The timestamp window, inclusive at both ends. */
    if (p->has_ts) {
        start(p, &r, body, size, 0, NOW - TOL, 0);
        CHECK_REASON(src, &r, HW_SIG_OK);
        start(p, &r, body, size, 0, NOW + TOL, 0);
        CHECK_REASON(src, &r, HW_SIG_OK);
        start(p, &r, body, size, 0, NOW - TOL - 1, 0);
        CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_TIMESTAMP_OUT_OF_RANGE);
        CHECK_EQ(res.timestamp, NOW - TOL - 1);
        start(p, &r, body, size, 0, NOW + TOL + 1, 0);
        CHECK_REASON(src, &r, HW_SIG_TIMESTAMP_OUT_OF_RANGE);
    }
    free(body);
}

static void setup(void)
{
    CHECK(sodium_init() >= 0);
    for (int k = 0; k < 3; k++) {
        unsigned char seed[32];

        for (size_t i = 0; i < sizeof(sw_keys[k]); i++)
            sw_keys[k][i] = (unsigned char)(k * 40 + i + 1);
        memset(seed, 'A' + k, sizeof(seed));
        crypto_sign_seed_keypair(ed_pk[k], ed_sk[k], seed);
        ec_keys[k] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        CHECK(ec_keys[k]);
    }
    for (int k = 0; k < 2; k++) {
        unsigned char *der = NULL;
        int len;

        memcpy(sw_cfg[k], "whsec_", 6);
        b64(sw_keys[k], sizeof(sw_keys[k]), sw_cfg[k] + 6, sizeof(sw_cfg[k]) - 6);
        memcpy(ed_cfg[k], "whpk_", 5);
        b64(ed_pk[k], 32, ed_cfg[k] + 5, sizeof(ed_cfg[k]) - 5);
        hex(ed_pk[k], 32, discord_cfg[k]);
        len = i2d_PUBKEY(ec_keys[k], &der);
        CHECK(len > 0);
        b64(der, (size_t)len, ec_cfg[k], sizeof(ec_cfg[k]));
        OPENSSL_free(der);
    }
}

static void test_all_providers(void)
{
    for (size_t i = 0; i < sizeof(provs) / sizeof(provs[0]); i++) {
        struct hw_sig_source *src = source_make(provs[i].kv);

        run_battery(&provs[i], src, 0);
        run_battery(&provs[i], src, 1024);
        run_battery(&provs[i], src, MIB);
        hw_sig_source_free(src);
    }
}

int main(void)
{
    setup();
    RUN(test_all_providers);
    for (int k = 0; k < 3; k++)
        EVP_PKEY_free(ec_keys[k]);
    return 0;
}
