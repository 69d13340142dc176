/*
 * Signature verification throughput: verifications per second per provider
 * for 1 KiB and 1 MiB bodies, printed next to raw OpenSSL HMAC-SHA256 over
 * the same bytes in the same run (one-shot HMAC(), and a pre-keyed EVP_MAC
 * context duplicated per message, which is the fastest raw way). Requests
 * are signed here with OpenSSL/libsodium. Single-threaded; run by hand:
 * build/bin/bench_sig [seconds-per-measurement] prints a Markdown table;
 * build/bin/bench_sig --count WHAT BYTES N runs N verifications of one
 * provider (or raw-sha256 / raw-sha1) untimed, for counting instructions
 * under callgrind (bench/bench_sig_callgrind.sh).
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sig/sig.h"

#define NOW  1700000000
#define NHDR 4

static double min_seconds = 0.4;
static const char secret[] = "bench-secret-0123456789";

struct bench_req {
    const char *name[NHDR];
    char val[NHDR][256];
    struct hw_http_header h[NHDR];
    size_t nh;
    struct hw_sig_request req;
};

__attribute__((noreturn)) static void die(const char *what)
{
    fprintf(stderr, "bench_sig: %s\n", what);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add(struct bench_req *r, const char *name, const char *value)
{
    r->name[r->nh] = name;
    snprintf(r->val[r->nh], sizeof(r->val[0]), "%s", value);
    r->h[r->nh] = (struct hw_http_header){ name, strlen(name), r->val[r->nh], strlen(value) };
    r->nh++;
    r->req.headers = r->h;
    r->req.nheaders = r->nh;
}

/* HMAC of pre + body, one-shot over a joined copy; returns the MAC length. */
static unsigned int hmac_raw(const EVP_MD *md, const void *key, size_t klen, const char *pre,
                             const char *body, size_t n, unsigned char *mac)
{
    size_t pl = strlen(pre);
    unsigned char *m = malloc(pl + n);
    unsigned int len = 0;

    if (!m)
        die("malloc");
    memcpy(m, pre, pl);
    memcpy(m + pl, body, n);
    if (!HMAC(md, key, (int)klen, m, pl + n, mac, &len))
        die("hmac");
    free(m);
    return len;
}

static void hmac_hex(const EVP_MD *md, const void *key, size_t klen, const char *pre,
                     const char *body, size_t n, char *out)
{
    unsigned char mac[64];
    unsigned int len = hmac_raw(md, key, klen, pre, body, n, mac);

    sodium_bin2hex(out, len * 2 + 1, mac, len);
}

static void hmac_b64(const EVP_MD *md, const void *key, size_t klen, const char *pre,
                     const char *body, size_t n, char *out, size_t max)
{
    unsigned char mac[64];
    unsigned int len = hmac_raw(md, key, klen, pre, body, n, mac);

    sodium_bin2base64(out, max, mac, len, sodium_base64_VARIANT_ORIGINAL);
}

/* Key material for the asymmetric providers, made once. */
static unsigned char ed_pk[32], ed_sk[64], sw_key[24];
static EVP_PKEY *ec;
static char cfg_sw[64], cfg_swed[80], cfg_discord[80], cfg_ec[160];

static void keys_init(void)
{
    unsigned char seed[32], *der = NULL;
    int len;

    memset(seed, 7, sizeof(seed));
    crypto_sign_seed_keypair(ed_pk, ed_sk, seed);
    memset(sw_key, 9, sizeof(sw_key));
    memcpy(cfg_sw, "whsec_", 6);
    sodium_bin2base64(cfg_sw + 6, sizeof(cfg_sw) - 6, sw_key, sizeof(sw_key),
                      sodium_base64_VARIANT_ORIGINAL);
    memcpy(cfg_swed, "whpk_", 5);
    sodium_bin2base64(cfg_swed + 5, sizeof(cfg_swed) - 5, ed_pk, 32,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2hex(cfg_discord, sizeof(cfg_discord), ed_pk, 32);
    ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!ec || (len = i2d_PUBKEY(ec, &der)) <= 0)
        die("ec key");
    sodium_bin2base64(cfg_ec, sizeof(cfg_ec), der, (size_t)len, sodium_base64_VARIANT_ORIGINAL);
    OPENSSL_free(der);
}

/* Fills a signed request for provider p over body; returns the source's secret. */
static const char *sign(const char *p, struct bench_req *r, const char *body, size_t n)
{
    char sig[256], buf[256 + 32]; /* buf: a short prefix, then sig */
    unsigned char raw[80], *m;
    size_t len;

    memset(r, 0, sizeof(*r));
    r->req.body = body;
    r->req.body_len = n;
    r->req.now = NOW;
    r->req.method = "POST";
    r->req.method_len = 4;
    if (!strcmp(p, "github")) {
        hmac_hex(EVP_sha256(), secret, strlen(secret), "", body, n, sig);
        snprintf(buf, sizeof(buf), "sha256=%s", sig);
        add(r, "X-Hub-Signature-256", buf);
        add(r, "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    } else if (!strcmp(p, "stripe")) {
        hmac_hex(EVP_sha256(), secret, strlen(secret), "1700000000.", body, n, sig);
        snprintf(buf, sizeof(buf), "t=1700000000,v1=%s", sig);
        add(r, "Stripe-Signature", buf);
    } else if (!strcmp(p, "paddle")) {
        hmac_hex(EVP_sha256(), secret, strlen(secret), "1700000000:", body, n, sig);
        snprintf(buf, sizeof(buf), "ts=1700000000;h1=%s", sig);
        add(r, "Paddle-Signature", buf);
    } else if (!strcmp(p, "slack")) {
        hmac_hex(EVP_sha256(), secret, strlen(secret), "v0:1700000000:", body, n, sig);
        snprintf(buf, sizeof(buf), "v0=%s", sig);
        add(r, "X-Slack-Signature", buf);
        add(r, "X-Slack-Request-Timestamp", "1700000000");
    } else if (!strcmp(p, "shopify")) {
        hmac_b64(EVP_sha256(), secret, strlen(secret), "", body, n, sig, sizeof(sig));
        add(r, "X-Shopify-Hmac-Sha256", sig);
    } else if (!strcmp(p, "hmac")) {
        hmac_hex(EVP_sha256(), secret, strlen(secret), "", body, n, sig);
        add(r, "X-Signature", sig);
    } else if (!strcmp(p, "standard-webhooks")) {
        hmac_b64(EVP_sha256(), sw_key, sizeof(sw_key), "msg_1.1700000000.", body, n, sig,
                 sizeof(sig));
        snprintf(buf, sizeof(buf), "v1,%s", sig);
        add(r, "webhook-id", "msg_1");
        add(r, "webhook-timestamp", "1700000000");
        add(r, "webhook-signature", buf);
        return cfg_sw;
    } else if (!strcmp(p, "twilio")) {
        /* A form body of one parameter (the bench body has no '&', '=', '+' or '%'). */
        static const char url[] = "https://hooks.example.com/t/alice/sms";

        hmac_b64(EVP_sha1(), secret, strlen(secret), url, body, n, sig, sizeof(sig));
        add(r, "X-Twilio-Signature", sig);
        r->req.base_url = "https://hooks.example.com";
        r->req.base_url_len = strlen(r->req.base_url);
        r->req.target = "/t/alice/sms";
        r->req.target_len = strlen(r->req.target);
    } else if (!strcmp(p, "gitlab")) {
        add(r, "X-Gitlab-Token", secret);
    } else if (!strcmp(p, "standard-webhooks-ed25519") || !strcmp(p, "discord")) {
        int sw = p[0] == 's';
        const char *pre = sw ? "msg_1.1700000000." : "1700000000";

        len = strlen(pre);
        if (!(m = malloc(len + n)))
            die("malloc");
        memcpy(m, pre, len);
        memcpy(m + len, body, n);
        crypto_sign_detached(raw, NULL, m, len + n, ed_sk);
        free(m);
        if (sw) {
            memcpy(sig, "v1a,", 4);
            sodium_bin2base64(sig + 4, sizeof(sig) - 4, raw, 64, sodium_base64_VARIANT_ORIGINAL);
            add(r, "webhook-id", "msg_1");
            add(r, "webhook-timestamp", "1700000000");
            add(r, "webhook-signature", sig);
            return cfg_swed;
        }
        sodium_bin2hex(sig, sizeof(sig), raw, 64);
        add(r, "X-Signature-Ed25519", sig);
        add(r, "X-Signature-Timestamp", "1700000000");
        return cfg_discord;
    } else if (!strcmp(p, "sendgrid")) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();

        len = sizeof(raw);
        if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ec) != 1 ||
            EVP_DigestSignUpdate(md, "1700000000", 10) != 1 ||
            EVP_DigestSignUpdate(md, body, n) != 1 || EVP_DigestSignFinal(md, raw, &len) != 1)
            die("ecdsa");
        EVP_MD_CTX_free(md);
        sodium_bin2base64(sig, sizeof(sig), raw, len, sodium_base64_VARIANT_ORIGINAL);
        add(r, "X-Twilio-Email-Event-Webhook-Signature", sig);
        add(r, "X-Twilio-Email-Event-Webhook-Timestamp", "1700000000");
        return cfg_ec;
    }
    return secret;
}

static struct hw_sig_source *make_source(const char *p, const char *sec)
{
    struct hw_sig_source *src = hw_sig_source_new(p);
    const char *prov = strncmp(p, "standard-webhooks", 17) ? p : "standard-webhooks";
    const char *why = "";

    if (!src || hw_sig_source_set(src, "provider", prov, &why) ||
        hw_sig_source_set(src, "secret", sec, &why) ||
        (!strcmp(p, "hmac") && hw_sig_source_set(src, "header", "X-Signature", &why)) ||
        hw_sig_source_finalize(src, &why)) {
        fprintf(stderr, "%s: %s\n", p, why);
        die("source");
    }
    return src;
}

typedef void (*bench_fn)(void *arg);

/* Calls fn in doubling batches until seconds have passed; calls per second. */
static double rate_once(bench_fn fn, void *arg, double seconds)
{
    long calls = 0, batch = 1;
    double t0 = now_s(), t;

    do {
        for (long i = 0; i < batch; i++)
            fn(arg);
        calls += batch;
        batch *= 2;
        t = now_s() - t0;
    } while (t < seconds);
    return calls / t;
}

/*
 * Measures a and b in alternation over five rounds and keeps each one's best
 * rate, so that both see the same load on a shared machine.
 */
static void rate_pair(bench_fn fa, void *a, double *ra, bench_fn fb, void *b, double *rb)
{
    *ra = *rb = 0;
    for (int round = 0; round < 5; round++) {
        double x = rate_once(fa, a, min_seconds / 10), y = rate_once(fb, b, min_seconds / 10);

        if (x > *ra)
            *ra = x;
        if (y > *rb)
            *rb = y;
    }
}

struct raw_arg {
    const char *body;
    size_t n;
    EVP_MAC_CTX *keyed; /* HMAC keyed with secret, for one digest */
    size_t mac_len;
};

static void raw_oneshot(void *a)
{
    struct raw_arg *r = a;
    unsigned char mac[32];
    unsigned int len;

    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)r->body, r->n, mac,
              &len))
        die("HMAC");
}

static void raw_keyed(void *a)
{
    struct raw_arg *r = a;
    unsigned char mac[64];
    size_t len;
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(r->keyed);

    if (!c || !EVP_MAC_update(c, (const unsigned char *)r->body, r->n) ||
        !EVP_MAC_final(c, mac, &len, sizeof(mac)) || len != r->mac_len)
        die("EVP_MAC");
    EVP_MAC_CTX_free(c);
}

struct verify_arg {
    struct hw_sig_source *src;
    struct bench_req *r;
};

static void verify_one(void *a)
{
    struct verify_arg *v = a;
    struct hw_sig_result res;

    if (hw_sig_verify(v->src, &v->r->req, &res))
        die(hw_sig_reason_str(res.reason));
}

static const char *const providers[] = {
    "github", "stripe", "standard-webhooks",         "slack",   "shopify",  "paddle", "hmac",
    "twilio", "gitlab", "standard-webhooks-ed25519", "discord", "sendgrid", NULL,
};

static char *make_body(size_t n)
{
    static const char head[] = "{\"id\":\"evt_bench_1\",\"event_id\":\"evt_bench_1\",\"pad\":\"";
    char *b = malloc(n);

    if (!b)
        die("malloc");
    memcpy(b, head, sizeof(head) - 1);
    memset(b + sizeof(head) - 1, 'x', n - (sizeof(head) - 1) - 2);
    memcpy(b + n - 2, "\"}", 2);
    return b;
}

/* A pre-keyed HMAC context for digest over body, the fastest raw OpenSSL way. */
static struct raw_arg raw_for(const char *digest, const char *body, size_t n)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest,
                                                             0),
                            OSSL_PARAM_construct_end() };
    struct raw_arg ra = { body, n, NULL, 0 };

    ra.keyed = mac ? EVP_MAC_CTX_new(mac) : NULL;
    if (!ra.keyed || !EVP_MAC_init(ra.keyed, (const unsigned char *)secret, strlen(secret), params))
        die("keyed ctx");
    ra.mac_len = EVP_MAC_CTX_get_mac_size(ra.keyed);
    EVP_MAC_free(mac);
    return ra;
}

static void run_size(size_t n)
{
    char *body = make_body(n);
    struct raw_arg sha256 = raw_for("SHA256", body, n), sha1 = raw_for("SHA1", body, n);
    double r1, r2;

    printf("\n### %zu-byte body\n\n", n);
    printf("| what | verifications/s | MB/s | raw HMAC, same run (verifications/s) | vs raw |\n");
    printf("|---|---:|---:|---:|---:|\n");
    rate_pair(raw_oneshot, &sha256, &r1, raw_keyed, &sha256, &r2);
    printf("| raw OpenSSL `HMAC()` one-shot, SHA-256 | %.0f | %.1f | %.0f | %.0f%% |\n", r1,
           r1 * n / 1e6, r2, 100 * r1 / r2);
    for (int i = 0; providers[i]; i++) {
        struct bench_req r;
        const char *sec = sign(providers[i], &r, body, n);
        struct verify_arg va = { make_source(providers[i], sec), &r };
        int is_sha1 = !strcmp(providers[i], "twilio");
        double v, raw;

        rate_pair(verify_one, &va, &v, raw_keyed, is_sha1 ? &sha1 : &sha256, &raw);
        printf("| %s | %.0f | %.1f | %.0f (%s) | %.0f%% |\n", providers[i], v, v * n / 1e6, raw,
               is_sha1 ? "SHA-1" : "SHA-256", 100 * v / raw);
        hw_sig_source_free(va.src);
    }
    EVP_MAC_CTX_free(sha256.keyed);
    EVP_MAC_CTX_free(sha1.keyed);
    free(body);
}

/* N untimed verifications of one provider (or raw HMAC) over an n-byte body. */
static void count(const char *what, size_t n, long iterations)
{
    char *body = make_body(n);

    if (!strncmp(what, "raw-", 4)) {
        struct raw_arg ra = raw_for(!strcmp(what, "raw-sha1") ? "SHA1" : "SHA256", body, n);

        for (long i = 0; i < iterations; i++)
            raw_keyed(&ra);
        EVP_MAC_CTX_free(ra.keyed);
    } else {
        struct bench_req r;
        const char *sec = sign(what, &r, body, n);
        struct verify_arg va = { make_source(what, sec), &r };

        for (long i = 0; i < iterations; i++)
            verify_one(&va);
        hw_sig_source_free(va.src);
    }
    free(body);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        die("sodium_init");
    keys_init();
    if (argc == 5 && !strcmp(argv[1], "--count")) {
        count(argv[2], strtoul(argv[3], NULL, 10), strtol(argv[4], NULL, 10));
        EVP_PKEY_free(ec);
        return 0;
    }
    if (argc > 1)
        min_seconds = strtod(argv[1], NULL);
    if (min_seconds <= 0 || argc > 2)
        die("usage: bench_sig [seconds-per-measurement] | --count WHAT BYTES N");
    printf("Each row is measured in alternation with raw OpenSSL HMAC over the same body (a "
           "pre-keyed EVP_MAC context duplicated per message, the fastest raw way), best of five "
           "rounds each. twilio is HMAC-SHA1 and compared with raw HMAC-SHA1; "
           "standard-webhooks-ed25519, discord (Ed25519) and sendgrid (ECDSA P-256) are "
           "public-key schemes, shown against HMAC-SHA256 for scale; gitlab compares a token and "
           "does not read the body.\n");
    run_size(1024);
    run_size(1024 * 1024);
    EVP_PKEY_free(ec);
    return 0;
}
