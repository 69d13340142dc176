/*
 * libFuzzer target for signature verification. Every input goes through the
 * bare parsers (Stripe/Paddle lists, Standard Webhooks lists, base64, hex,
 * timestamps, the JSON id lookup, form and query decoding) and then through
 * hw_sig_verify() on one of a fixed set of sources, one per provider.
 * Input: a selector byte, then "SIGNATURE\nTIMESTAMP\nID-OR-TARGET\nBODY".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "sig/sig.h"
#include "sig/sig_parse.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
struct fsrc {
    const char *kv[24];
    const char *sig, *ts, *id; /* header names the input's fields go to */
    struct hw_sig_source *src;
};

static struct fsrc srcs[] = {
    { { "provider", "github", "legacy-sha1", "true", "secret", "s0", "secret", "s1", NULL },
      "X-Hub-Signature-256",
      "X-Hub-Signature",
      "X-GitHub-Delivery",
      NULL },
    { { "provider", "stripe", "secret", "whsec_s0", NULL },
      "Stripe-Signature",
      "X-Unused",
      "X-Unused2",
      NULL },
    { { "provider", "standard-webhooks", "secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "secret", "whpk_PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=", NULL },
      "webhook-signature",
      "webhook-timestamp",
      "webhook-id",
      NULL },
    { { "provider", "svix", "secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", NULL },
      "svix-signature",
      "webhook-timestamp",
      "svix-id",
      NULL },
    { { "provider", "slack", "secret", "s0", NULL },
      "X-Slack-Signature",
      "X-Slack-Request-Timestamp",
      "X-Unused",
      NULL },
    { { "provider", "shopify", "secret", "s0", NULL },
      "X-Shopify-Hmac-Sha256",
      "X-Unused",
      "X-Shopify-Webhook-Id",
      NULL },
    { { "provider", "twilio", "secret", "12345", NULL },
      "X-Twilio-Signature",
      "X-Unused",
      "I-Twilio-Idempotency-Token",
      NULL },
    { { "provider", "discord", "secret",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", NULL },
      "X-Signature-Ed25519",
      "X-Signature-Timestamp",
      "X-Unused",
      NULL },
    { { "provider", "sendgrid", "secret",
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/"
        "7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==",
        NULL },
      "X-Twilio-Email-Event-Webhook-Signature",
      "X-Twilio-Email-Event-Webhook-Timestamp",
      "X-Unused",
      NULL },
    { { "provider", "paddle", "secret", "s0", NULL },
      "Paddle-Signature",
      "X-Unused",
      "X-Unused2",
      NULL },
    { { "provider", "gitlab", "secret", "s0", NULL },
      "X-Gitlab-Token",
      "X-Unused",
      "X-Gitlab-Event-UUID",
      NULL },
    { { "provider", "hmac", "header", "X-Sig", "encoding", "base64", "prefix",
        "sha512=", "algorithm", "sha512", "timestamp-header", "X-Ts", "id-header", "X-Id",
        "signed-content", "{timestamp}.{id}.{body}", "secret", "s0", NULL },
      "X-Sig",
      "X-Ts",
      "X-Id",
      NULL },
};

#define NSRC (sizeof(srcs) / sizeof(srcs[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (size_t i = 0; i < NSRC; i++) {
        const char *const *kv = srcs[i].kv;

        srcs[i].src = hw_sig_source_new("fuzz");
        if (!srcs[i].src)
            abort();
        for (; kv[0]; kv += 2)
            if (hw_sig_source_set(srcs[i].src, kv[0], kv[1], NULL))
                abort();
        if (hw_sig_source_finalize(srcs[i].src, NULL))
            abort();
    }
    return 0;
}

static void parsers(const char *s, size_t n)
{
    struct hw_sig_list l;
    unsigned char out[HW_SIG_MAX_SIG];
    const char *v;
    size_t vn;
    int64_t ts;
    char *buf = malloc(n ? n : 1);

    hw_sig_parse_kv_list(s, n, ',', "t", &l);
    hw_sig_parse_kv_list(s, n, ';', "ts", &l);
    hw_sig_parse_sw_list(s, n, &l);
    for (size_t i = 0; i < l.n; i++)
        hw_sig_b64_decode(l.c[i].val, l.c[i].val_len, out, sizeof(out), &vn);
    hw_sig_b64_decode(s, n, out, sizeof(out), &vn);
    hw_sig_hex_decode(s, n, out, sizeof(out), &vn);
    hw_sig_parse_ts(s, n, &ts);
    if (!hw_sig_json_string(s, n, "id", &v, &vn) && (v < s || v + vn > s + n))
        abort();
    if (!hw_sig_json_member(s, n, "payload", &v, &vn)) {
        if (v < s || vn == 0 || v + vn > s + n)
            abort();
        /* A nested object is searched in turn, as the Zoom handshake does. */
        if (!hw_sig_json_string(v, vn, "plainToken", &v, &vn) && (v < s || v + vn > s + n))
            abort();
    }
    hw_sig_query_param(s, n, "bodySHA256", &v, &vn);
    if (buf && hw_sig_form_decode(s, n, buf) > n)
        abort();
    free(buf);
}

/* Splits off the next '\n'-terminated field. */
static const char *field(const char **p, const char *end, size_t *len)
{
    const char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));

    *len = (size_t)((nl ? nl : end) - s);
    *p = nl ? nl + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p, *end, *f[3];
    size_t fl[3];
    struct fsrc *fs;
    struct hw_http_header h[4];
    struct hw_sig_request req;
    struct hw_sig_result res;

    if (size < 1)
        return 0;
    fs = &srcs[data[0] % NSRC];
    p = (const char *)data + 1;
    end = (const char *)data + size;
    parsers(p, (size_t)(end - p));
    for (int i = 0; i < 3; i++)
        f[i] = field(&p, end, &fl[i]);
    h[0] = (struct hw_http_header){ fs->sig, strlen(fs->sig), f[0], fl[0] };
    h[1] = (struct hw_http_header){ fs->ts, strlen(fs->ts), f[1], fl[1] };
    h[2] = (struct hw_http_header){ fs->id, strlen(fs->id), f[2], fl[2] };
    h[3] = (struct hw_http_header){ "X-Slack-Request-Timestamp", 25, f[1], fl[1] };
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.method_len = 4;
    req.base_url = "https://hooks.example.com:8443";
    req.base_url_len = strlen(req.base_url);
    req.target = f[2]; /* Twilio reads its query (bodySHA256) from here */
    req.target_len = fl[2];
    req.headers = h;
    req.nheaders = 4;
    req.body = p;
    req.body_len = (size_t)(end - p);
    req.now = 1700000000;
    hw_sig_verify(fs->src, &req, &res);
    if (res.ok != (res.reason == HW_SIG_OK) || res.dedup_len > HW_SIG_DEDUP_MAX ||
        strlen(res.dedup_key) != res.dedup_len)
        abort();
    return 0;
}
