/*
 * One verifier per provider (Twilio's lives in sig_twilio.c) and the table
 * that names them. Each reads the request's headers and body, never copies
 * the body except where Ed25519 needs the signed content in one piece, and
 * reports why it failed. Stateless; any thread.
 */
#include "sig_providers.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "sig_twilio.h"

/* Finds a header with a non-empty value. */
static int header(const struct hw_sig_request *req, const char *name, const char **v, size_t *vn)
{
    return hw_sig_header(req->headers, req->nheaders, name, v, vn) && *vn > 0;
}

static void dedup_header(const struct hw_sig_request *req, struct hw_sig_result *res,
                         const char *name)
{
    const char *v;
    size_t vn;

    if (header(req, name, &v, &vn))
        hw_sig_set_dedup(res, v, vn);
}

static void dedup_json(const struct hw_sig_request *req, struct hw_sig_result *res, const char *key)
{
    const char *v;
    size_t vn;

    if (req->body_len && !hw_sig_json_string(req->body, req->body_len, key, &v, &vn))
        hw_sig_set_dedup(res, v, vn);
}

enum hw_sig_reason hw_sig_check_ts(const struct hw_sig_source *src,
                                   const struct hw_sig_request *req, struct hw_sig_result *res,
                                   const char *ts, size_t n, const char *hdr)
{
    int64_t t, tol = src->tolerance, lo, hi;

    if (hw_sig_parse_ts(ts, n, &t) < 0)
        return hw_sig_fail(res, HW_SIG_MALFORMED, hdr);
    res->timestamp = t;
    lo = req->now > INT64_MIN + tol ? req->now - tol : INT64_MIN;
    hi = req->now < INT64_MAX - tol ? req->now + tol : INT64_MAX;
    if (t < lo || t > hi)
        return hw_sig_fail(res, HW_SIG_TIMESTAMP_OUT_OF_RANGE, hdr);
    return HW_SIG_OK;
}

enum hw_sig_reason hw_sig_match_hmac(const struct hw_sig_source *src, enum hw_sig_alg alg,
                                     const struct hw_sig_part *parts, size_t nparts,
                                     const struct hw_sig_decoded *d, struct hw_sig_result *res)
{
    unsigned char mac[HW_SIG_MAC_MAX];
    size_t len = hw_sig_mac_len(alg);
    enum hw_sig_reason r = HW_SIG_NO_MATCH;

    /* One MAC per key, however many signatures were sent: the work an
     * attacker can cause stays proportional to the body. */
    for (size_t k = 0; k < src->nsecrets && r == HW_SIG_NO_MATCH; k++) {
        if (src->keys[k].kind != HW_SIG_KEY_HMAC)
            continue;
        if (hw_sig_mac(&src->keys[k], alg, parts, nparts, mac) < 0) {
            r = HW_SIG_INTERNAL;
            break;
        }
        for (size_t i = 0; i < d->n; i++) {
            if (d->len[i] == len && hw_sig_equal(mac, d->b[i], len)) {
                res->secret_index = (int)k;
                r = HW_SIG_OK;
                break;
            }
        }
    }
    sodium_memzero(mac, sizeof(mac));
    return r;
}

/* Ed25519 needs the signed content in one piece: copy the parts together. */
static unsigned char *join(const struct hw_sig_part *parts, size_t nparts, size_t *len)
{
    size_t total = 0, off = 0;
    unsigned char *m;

    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].n > SIZE_MAX - 1 - total)
            return NULL;
        total += parts[i].n;
    }
    m = malloc(total + 1);
    if (!m)
        return NULL;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].n)
            memcpy(m + off, parts[i].p, parts[i].n);
        off += parts[i].n;
    }
    *len = total;
    return m;
}

/*
 * Each Ed25519 attempt hashes the whole message, so the attempts per request
 * are capped: rotation needs two keys times two signatures, and an attacker
 * must not make us hash a large body dozens of times.
 */
#define MAX_ED25519_TRIES 8

static enum hw_sig_reason match_ed25519(const struct hw_sig_source *src,
                                        const struct hw_sig_part *parts, size_t nparts,
                                        const struct hw_sig_decoded *d, struct hw_sig_result *res)
{
    size_t len, tries = 0;
    unsigned char *msg = join(parts, nparts, &len);
    enum hw_sig_reason r = HW_SIG_NO_MATCH;

    if (!msg)
        return HW_SIG_INTERNAL;
    for (size_t k = 0; k < src->nsecrets && r == HW_SIG_NO_MATCH; k++) {
        if (src->keys[k].kind != HW_SIG_KEY_ED25519)
            continue;
        for (size_t i = 0; i < d->n && tries < MAX_ED25519_TRIES; i++) {
            if (d->len[i] != crypto_sign_BYTES)
                continue;
            tries++;
            if (hw_sig_ed25519_verify(src->keys[k].bytes, d->b[i], msg, len)) {
                res->secret_index = (int)k;
                r = HW_SIG_OK;
                break;
            }
        }
    }
    free(msg);
    return r;
}

static int decode(const char *s, size_t n, int base64, unsigned char *out, size_t *len)
{
    if (base64)
        return hw_sig_b64_decode(s, n, out, HW_SIG_MAX_SIG, len);
    return hw_sig_hex_decode(s, n, out, HW_SIG_MAX_SIG, len);
}

/*
 * Decodes the list entries tagged tag that have exactly want bytes.
 * HW_SIG_UNSUPPORTED when no entry has the tag, HW_SIG_MALFORMED when none
 * of those decodes; otherwise HW_SIG_OK (badly encoded entries are dropped:
 * they could never match).
 */
static enum hw_sig_reason pick(const struct hw_sig_list *l, const char *tag, int base64,
                               size_t want, struct hw_sig_decoded *d)
{
    size_t tl = strlen(tag), seen = 0;

    d->n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct hw_sig_cand *c = &l->c[i];

        if (c->tag_len != tl || memcmp(c->tag, tag, tl))
            continue;
        seen++;
        if (!decode(c->val, c->val_len, base64, d->b[d->n], &d->len[d->n]) && d->len[d->n] == want)
            d->n++;
    }
    if (!seen)
        return HW_SIG_UNSUPPORTED;
    return d->n ? HW_SIG_OK : HW_SIG_MALFORMED;
}

/* One signature: an optional prefix (any case) and the encoded value, want bytes. */
static enum hw_sig_reason one(const char *v, size_t vn, const char *prefix, int base64, size_t want,
                              struct hw_sig_decoded *d)
{
    size_t pl = prefix ? strlen(prefix) : 0;

    d->n = 0;
    if (vn < pl || strncasecmp(v, prefix ? prefix : "", pl))
        return HW_SIG_MALFORMED;
    if (decode(v + pl, vn - pl, base64, d->b[0], &d->len[0]) < 0 || d->len[0] != want)
        return HW_SIG_MALFORMED;
    d->n = 1;
    return HW_SIG_OK;
}

static enum hw_sig_reason verify_github(const struct hw_sig_source *src,
                                        const struct hw_sig_request *req, struct hw_sig_result *res)
{
    const char *hdr = "X-Hub-Signature-256", *v;
    size_t vn;
    enum hw_sig_alg alg = HW_SIG_SHA256;
    struct hw_sig_part body = { req->body, req->body_len };
    struct hw_sig_decoded d;
    enum hw_sig_reason r;

    if (hw_sig_header_count(req->headers, req->nheaders, hdr)) {
        /* Present, even empty or repeated: never fall back to SHA-1 then (no downgrade). */
        if (!hw_sig_header(req->headers, req->nheaders, hdr, &v, &vn) || !vn)
            return hw_sig_fail(res, HW_SIG_MISSING_HEADER, hdr);
        r = one(v, vn, "sha256=", 0, 32, &d);
    } else if (src->legacy_sha1 && header(req, "X-Hub-Signature", &v, &vn)) {
        hdr = "X-Hub-Signature";
        alg = HW_SIG_SHA1;
        r = one(v, vn, "sha1=", 0, 20, &d);
    } else {
        return hw_sig_fail(res, HW_SIG_MISSING_HEADER, hdr);
    }
    if (r == HW_SIG_OK)
        r = hw_sig_match_hmac(src, alg, &body, 1, &d, res);
    if (r != HW_SIG_OK)
        return hw_sig_fail(res, r, hdr);
    dedup_header(req, res, "X-GitHub-Delivery");
    return r;
}

/* Stripe and Paddle: a timestamp and a list of hex HMAC-SHA256 signatures. */
static enum hw_sig_reason verify_ts_list(const struct hw_sig_source *src,
                                         const struct hw_sig_request *req,
                                         struct hw_sig_result *res, const char *hdr, char sep,
                                         const char *ts_key, const char *tag, const char *glue)
{
    const char *v;
    size_t vn;
    struct hw_sig_list l;
    struct hw_sig_decoded d;
    enum hw_sig_reason r;

    if (!header(req, hdr, &v, &vn))
        return hw_sig_fail(res, HW_SIG_MISSING_HEADER, hdr);
    if (hw_sig_parse_kv_list(v, vn, sep, ts_key, &l) < 0)
        return hw_sig_fail(res, HW_SIG_MALFORMED, hdr);
    if ((r = pick(&l, tag, 0, 32, &d)) != HW_SIG_OK)
        return hw_sig_fail(res, r, hdr);
    if ((r = hw_sig_check_ts(src, req, res, l.ts, l.ts_len, hdr)) != HW_SIG_OK)
        return r;
    {
        struct hw_sig_part parts[] = { { l.ts, l.ts_len },
                                       { glue, 1 },
                                       { req->body, req->body_len } };
        r = hw_sig_match_hmac(src, HW_SIG_SHA256, parts, 3, &d, res);
    }
    return r == HW_SIG_OK ? r : hw_sig_fail(res, r, hdr);
}

static enum hw_sig_reason verify_stripe(const struct hw_sig_source *src,
                                        const struct hw_sig_request *req, struct hw_sig_result *res)
{
    enum hw_sig_reason r = verify_ts_list(src, req, res, "Stripe-Signature", ',', "t", "v1", ".");

    if (r == HW_SIG_OK)
        dedup_json(req, res, "id");
    return r;
}

static enum hw_sig_reason verify_paddle(const struct hw_sig_source *src,
                                        const struct hw_sig_request *req, struct hw_sig_result *res)
{
    enum hw_sig_reason r = verify_ts_list(src, req, res, "Paddle-Signature", ';', "ts", "h1", ":");

    if (r == HW_SIG_OK)
        dedup_json(req, res, "event_id");
    return r;
}

/* Standard Webhooks and Svix: svix-* headers, falling back to webhook-* ones. */
static enum hw_sig_reason verify_sw(const struct hw_sig_source *src,
                                    const struct hw_sig_request *req, struct hw_sig_result *res,
                                    int svix)
{
    static const char *const names[2][3] = {
        { "webhook-id", "webhook-timestamp", "webhook-signature" },
        { "svix-id", "svix-timestamp", "svix-signature" },
    };
    const char *v[3];
    size_t vn[3];
    struct hw_sig_list l;
    struct hw_sig_decoded hm, ed;
    enum hw_sig_reason r, rh = HW_SIG_UNSUPPORTED, re = HW_SIG_UNSUPPORTED;
    int have_hmac = 0, have_ed = 0;

    /* Svix's webhook-* names stand in only for an svix-* header that is absent, not repeated. */
    for (int i = 0; i < 3; i++)
        if (!header(req, names[svix][i], &v[i], &vn[i]) &&
            !(svix && !hw_sig_header_count(req->headers, req->nheaders, names[1][i]) &&
              header(req, names[0][i], &v[i], &vn[i])))
            return hw_sig_fail(res, HW_SIG_MISSING_HEADER, names[svix][i]);
    if (hw_sig_parse_sw_list(v[2], vn[2], &l) < 0)
        return hw_sig_fail(res, HW_SIG_MALFORMED, names[svix][2]);
    for (size_t k = 0; k < src->nsecrets; k++) {
        have_hmac |= src->keys[k].kind == HW_SIG_KEY_HMAC;
        have_ed |= src->keys[k].kind == HW_SIG_KEY_ED25519;
    }
    if (have_hmac)
        rh = pick(&l, "v1", 1, 32, &hm);
    if (have_ed)
        re = pick(&l, "v1a", 1, crypto_sign_BYTES, &ed);
    if (rh != HW_SIG_OK && re != HW_SIG_OK) {
        r = rh == HW_SIG_MALFORMED || re == HW_SIG_MALFORMED ? HW_SIG_MALFORMED
                                                             : HW_SIG_UNSUPPORTED;
        return hw_sig_fail(res, r, names[svix][2]);
    }
    if ((r = hw_sig_check_ts(src, req, res, v[1], vn[1], names[svix][1])) != HW_SIG_OK)
        return r;
    {
        struct hw_sig_part parts[] = {
            { v[0], vn[0] }, { ".", 1 }, { v[1], vn[1] }, { ".", 1 }, { req->body, req->body_len }
        };
        r = HW_SIG_NO_MATCH;
        if (rh == HW_SIG_OK)
            r = hw_sig_match_hmac(src, HW_SIG_SHA256, parts, 5, &hm, res);
        if (r == HW_SIG_NO_MATCH && re == HW_SIG_OK)
            r = match_ed25519(src, parts, 5, &ed, res);
    }
    if (r != HW_SIG_OK)
        return hw_sig_fail(res, r, names[svix][2]);
    hw_sig_set_dedup(res, v[0], vn[0]);
    return r;
}

static enum hw_sig_reason verify_standard(const struct hw_sig_source *src,
                                          const struct hw_sig_request *req,
                                          struct hw_sig_result *res)
{
    return verify_sw(src, req, res, 0);
}

static enum hw_sig_reason verify_svix(const struct hw_sig_source *src,
                                      const struct hw_sig_request *req, struct hw_sig_result *res)
{
    return verify_sw(src, req, res, 1);
}

static enum hw_sig_reason verify_slack(const struct hw_sig_source *src,
                                       const struct hw_sig_request *req, struct hw_sig_result *res)
{
    const char *hdr = "X-Slack-Signature", *thdr = "X-Slack-Request-Timestamp", *v, *ts;
    size_t vn, tsn;
    struct hw_sig_decoded d;
    enum hw_sig_reason r;

    if (!header(req, hdr, &v, &vn))
        return hw_sig_fail(res, HW_SIG_MISSING_HEADER, hdr);
    if (!header(req, thdr, &ts, &tsn))
        return hw_sig_fail(res, HW_SIG_MISSING_HEADER, thdr);
    if ((r = one(v, vn, "v0=", 0, 32, &d)) != HW_SIG_OK)
        return hw_sig_fail(res, r, hdr);
    if ((r = hw_sig_check_ts(src, req, res, ts, tsn, thdr)) != HW_SIG_OK)
        return r;
    {
        struct hw_sig_part parts[] = {
            { "v0:", 3 }, { ts, tsn }, { ":", 1 }, { req->body, req->body_len }
        };
        r = hw_sig_match_hmac(src, HW_SIG_SHA256, parts, 4, &d, res);
    }
    if (r != HW_SIG_OK)
        return hw_sig_fail(res, r, hdr);
    dedup_json(req, res, "event_id");
    return r;
}

static enum hw_sig_reason verify_shopify(const struct hw_sig_source *src,
                                         const struct hw_sig_request *req,
                                         struct hw_sig_result *res)
{
    const char *hdr = "X-Shopify-Hmac-Sha256", *v;
    size_t vn;
    struct hw_sig_part body = { req->body, req->body_len };
    struct hw_sig_decoded d;
    enum hw_sig_reason r;

    if (!header(req, hdr, &v, &vn))
        return hw_sig_fail(res, HW_SIG_MISSING_HEADER, hdr);
    if ((r = one(v, vn, NULL, 1, 32, &d)) == HW_SIG_OK)
        r = hw_sig_match_hmac(src, HW_SIG_SHA256, &body, 1, &d, res);
    if (r != HW_SIG_OK)
        return hw_sig_fail(res, r, hdr);
    dedup_header(req, res, "X-Shopify-Webhook-Id");
    if (!res->dedup_len)
        dedup_header(req, res, "X-Shopify-Event-Id");
    return r;
}

static enum hw_sig_reason verify_gitlab(const struct hw_sig_source *src,
                                        const struct hw_sig_request *req, struct hw_sig_result *res)
{
    const char *hdr = "X-Gitlab-Token", *v;
    size_t vn;

    if (!header(req, hdr, &v, &vn))
        return hw_sig_fail(res, HW_SIG_MISSING_HEADER, hdr);
    for (size_t k = 0; k < src->nsecrets; k++) {
        if (hw_sig_token_equal(&src->keys[k], v, vn)) {
            res->secret_index = (int)k;
            dedup_header(req, res, "Idempotency-Key");
            if (!res->dedup_len)
                dedup_header(req, res, "X-Gitlab-Event-UUID");
            return HW_SIG_OK;
        }
    }
    return hw_sig_fail(res, HW_SIG_NO_MATCH, hdr);
}

static enum hw_sig_reason verify_discord(const struct hw_sig_source *src,
                                         const struct hw_sig_request *req,
                                         struct hw_sig_result *res)
{
    const char *hdr = "X-Signature-Ed25519", *thdr = "X-Signature-Timestamp", *v, *ts;
    size_t vn, tsn;
    struct hw_sig_decoded d;
    enum hw_sig_reason r;

    if (!header(req, hdr, &v, &vn))
        return hw_sig_fail(res, HW_SIG_MISSING_HEADER, hdr);
    if (!header(req, thdr, &ts, &tsn))
        return hw_sig_fail(res, HW_SIG_MISSING_HEADER, thdr);
    if ((r = one(v, vn, NULL, 0, crypto_sign_BYTES, &d)) != HW_SIG_OK)
        return hw_sig_fail(res, r, hdr);
    if ((r = hw_sig_check_ts(src, req, res, ts, tsn, thdr)) != HW_SIG_OK)
        return r;
    {
        struct hw_sig_part parts[] = { { ts, tsn }, { req->body, req->body_len } };
        r = match_ed25519(src, parts, 2, &d, res);
    }
    if (r != HW_SIG_OK)
        return hw_sig_fail(res, r, hdr);
    dedup_json(req, res, "id");
    return r;
}

static enum hw_sig_reason verify_sendgrid(const struct hw_sig_source *src,
                                          const struct hw_sig_request *req,
                                          struct hw_sig_result *res)
{
    const char *hdr = "X-Twilio-Email-Event-Webhook-Signature";
    const char *thdr = "X-Twilio-Email-Event-Webhook-Timestamp", *v, *ts;
    unsigned char sig[HW_SIG_MAX_SIG];
    size_t vn, tsn, len;
    enum hw_sig_reason r;

    if (!header(req, hdr, &v, &vn))
        return hw_sig_fail(res, HW_SIG_MISSING_HEADER, hdr);
    if (!header(req, thdr, &ts, &tsn))
        return hw_sig_fail(res, HW_SIG_MISSING_HEADER, thdr);
    if (hw_sig_b64_decode(v, vn, sig, sizeof(sig), &len) < 0)
        return hw_sig_fail(res, HW_SIG_MALFORMED, hdr);
    if ((r = hw_sig_check_ts(src, req, res, ts, tsn, thdr)) != HW_SIG_OK)
        return r;
    {
        struct hw_sig_part parts[] = { { ts, tsn }, { req->body, req->body_len } };

        for (size_t k = 0; k < src->nsecrets; k++) {
            int ok = hw_sig_ecdsa_verify(src->keys[k].pkey, sig, len, parts, 2);

            if (ok < 0)
                return hw_sig_fail(res, HW_SIG_INTERNAL, NULL);
            if (ok) {
                res->secret_index = (int)k;
                return HW_SIG_OK;
            }
        }
    }
    return hw_sig_fail(res, HW_SIG_NO_MATCH, hdr);
}

static enum hw_sig_reason verify_hmac(const struct hw_sig_source *src,
                                      const struct hw_sig_request *req, struct hw_sig_result *res)
{
    const char *v, *ts = NULL, *id = NULL;
    size_t vn, tsn = 0, idn = 0, np = 0;
    struct hw_sig_part parts[HW_SIG_MAX_TPL];
    struct hw_sig_decoded d;
    enum hw_sig_reason r;
    int need_id = 0;

    for (size_t i = 0; i < src->ntpl; i++)
        need_id |= src->tpl[i].kind == HW_SIG_TPL_ID;
    if (!header(req, src->header, &v, &vn))
        return hw_sig_fail(res, HW_SIG_MISSING_HEADER, src->header);
    if (src->ts_header && !header(req, src->ts_header, &ts, &tsn))
        return hw_sig_fail(res, HW_SIG_MISSING_HEADER, src->ts_header);
    if (src->id_header && !header(req, src->id_header, &id, &idn) && need_id)
        return hw_sig_fail(res, HW_SIG_MISSING_HEADER, src->id_header);
    r = one(v, vn, src->prefix, src->enc == HW_SIG_ENC_BASE64, hw_sig_mac_len(src->alg), &d);
    if (r != HW_SIG_OK)
        return hw_sig_fail(res, r, src->header);
    if (ts && (r = hw_sig_check_ts(src, req, res, ts, tsn, src->ts_header)) != HW_SIG_OK)
        return r;
    for (size_t i = 0; i < src->ntpl; i++) {
        switch (src->tpl[i].kind) {
        case HW_SIG_TPL_LIT:
            parts[np++] = (struct hw_sig_part){ src->tpl[i].lit, src->tpl[i].len };
            break;
        case HW_SIG_TPL_BODY:
            parts[np++] = (struct hw_sig_part){ req->body, req->body_len };
            break;
        case HW_SIG_TPL_TS:
            parts[np++] = (struct hw_sig_part){ ts, tsn };
            break;
        case HW_SIG_TPL_ID:
            parts[np++] = (struct hw_sig_part){ id, idn };
            break;
        }
    }
    r = hw_sig_match_hmac(src, src->alg, parts, np, &d, res);
    if (r != HW_SIG_OK)
        return hw_sig_fail(res, r, src->header);
    if (id)
        hw_sig_set_dedup(res, id, idn);
    return r;
}

static const struct hw_sig_provider providers[] = {
    { "github", HW_SIG_FORM_RAW, 1u << HW_SIG_SHA256 | 1u << HW_SIG_SHA1, verify_github },
    { "stripe", HW_SIG_FORM_RAW, 1u << HW_SIG_SHA256, verify_stripe },
    { "standard-webhooks", HW_SIG_FORM_STANDARD, 1u << HW_SIG_SHA256, verify_standard },
    { "svix", HW_SIG_FORM_STANDARD, 1u << HW_SIG_SHA256, verify_svix },
    { "slack", HW_SIG_FORM_RAW, 1u << HW_SIG_SHA256, verify_slack },
    { "shopify", HW_SIG_FORM_RAW, 1u << HW_SIG_SHA256, verify_shopify },
    { "twilio", HW_SIG_FORM_RAW, 1u << HW_SIG_SHA1, hw_sig_verify_twilio },
    { "discord", HW_SIG_FORM_ED25519_HEX, 0, verify_discord },
    { "sendgrid", HW_SIG_FORM_ECDSA_BASE64, 0, verify_sendgrid },
    { "paddle", HW_SIG_FORM_RAW, 1u << HW_SIG_SHA256, verify_paddle },
    { "gitlab", HW_SIG_FORM_TOKEN, 0, verify_gitlab },
    /* The generic provider's form and algorithm come from its own keys. */
    { "hmac", HW_SIG_FORM_RAW, 0, verify_hmac },
};

const struct hw_sig_provider *hw_sig_provider_find(const char *name)
{
    for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
        if (!strcmp(providers[i].name, name))
            return &providers[i];
    return NULL;
}
