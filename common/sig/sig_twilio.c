/*
 * Twilio request validation: HMAC-SHA1, keyed with the auth token, over the
 * public URL (configured base + request-target, never X-Forwarded-*) and the
 * form parameters sorted by name, each appended as name then value. With a
 * JSON body the URL carries bodySHA256 instead and no parameters are added.
 * Like Twilio's own validators we accept the URL with and without its port.
 * Allocates a working copy of decoded parameters per call; any thread.
 */
#include "sig_twilio.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sig_parse.h"

struct param {
    const char *k;
    size_t kn;
    const char *v;
    size_t vn;
};

struct params {
    char *buf; /* decoded names and values that needed decoding, back to back */
    struct param *p;
    size_t n;
};

/* Byte order, a prefix before its extensions: the order Twilio sorts in. */
static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);

    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int cmp_param(const void *a, const void *b)
{
    const struct param *x = a, *y = b;
    int c = cmp_bytes(x->k, x->kn, y->k, y->kn);

    return c ? c : cmp_bytes(x->v, x->vn, y->v, y->vn);
}

/* Points at text that needs no decoding, or decodes it into the buffer. */
static const char *decoded(const char *s, size_t n, char *buf, size_t *o, size_t *len)
{
    if (!memchr(s, '%', n) && !memchr(s, '+', n)) {
        *len = n;
        return s;
    }
    *len = hw_sig_form_decode(s, n, buf + *o);
    *o += *len;
    return buf + *o - *len;
}

/* Decodes and sorts the form parameters of body. 0 or -1 (out of memory). */
static int form_params(const char *body, size_t n, struct params *ps)
{
    const char *p = body, *end = body + n, *amp;
    size_t segs = 1, o = 0;

    for (const char *q = body; (amp = memchr(q, '&', (size_t)(end - q))); q = amp + 1)
        segs++;
    ps->buf = malloc(n ? n : 1);
    ps->p = malloc(segs * sizeof(*ps->p));
    ps->n = 0;
    if (!ps->buf || !ps->p)
        return -1;
    for (;;) {
        const char *seg_end = memchr(p, '&', (size_t)(end - p));

        if (!seg_end)
            seg_end = end;
        if (seg_end > p) {
            const char *eq = memchr(p, '=', (size_t)(seg_end - p));
            struct param *pr = &ps->p[ps->n++];

            pr->k = decoded(p, (size_t)((eq ? eq : seg_end) - p), ps->buf, &o, &pr->kn);
            pr->v = "";
            pr->vn = 0;
            if (eq)
                pr->v = decoded(eq + 1, (size_t)(seg_end - eq - 1), ps->buf, &o, &pr->vn);
        }
        if (seg_end == end)
            break;
        p = seg_end + 1;
    }
    qsort(ps->p, ps->n, sizeof(*ps->p), cmp_param);
    return 0;
}

/* The base URL as configured, and the same with its port removed or the
 * scheme's default port added. */
struct variant {
    struct hw_sig_part p[3];
    size_t n;
};

static size_t url_variants(const char *base, size_t bn, struct variant v[2])
{
    const char *end = base + bn, *auth, *aend, *colon = NULL, *sep = NULL, *port;

    v[0].p[0] = (struct hw_sig_part){ base, bn };
    v[0].n = 1;
    for (const char *p = base; p + 3 <= end; p++) {
        if (!memcmp(p, "://", 3)) {
            sep = p;
            break;
        }
    }
    if (!sep)
        return 1;
    auth = aend = sep + 3;
    while (aend < end && *aend != '/' && *aend != '?' && *aend != '#')
        aend++;
    for (const char *p = auth; p < aend; p++) {
        if (*p == ':')
            colon = p;
        else if (*p == ']' || *p == '@')
            colon = NULL; /* IPv6 literal or user:password, not a port */
    }
    if (colon) {
        v[1].p[0] = (struct hw_sig_part){ base, (size_t)(colon - base) };
        v[1].p[1] = (struct hw_sig_part){ aend, (size_t)(end - aend) };
        v[1].n = 2;
        return 2;
    }
    if ((size_t)(sep - base) == 5 && !strncasecmp(base, "https", 5))
        port = ":443";
    else if ((size_t)(sep - base) == 4 && !strncasecmp(base, "http", 4))
        port = ":80";
    else
        return 1;
    v[1].p[0] = (struct hw_sig_part){ base, (size_t)(aend - base) };
    v[1].p[1] = (struct hw_sig_part){ port, strlen(port) };
    v[1].p[2] = (struct hw_sig_part){ aend, (size_t)(end - aend) };
    v[1].n = 3;
    return 2;
}

/* HMAC-SHA1 over variant + target + parameters; 1 match, 0 not, -1 error. */
static int try_key(const struct hw_sig_key *key, const struct variant *v, const char *target,
                   size_t tn, const struct params *ps, const unsigned char *sig)
{
    unsigned char mac[20];
    struct hw_sig_mac_ctx c;
    int rc = 0, eq;

    if (hw_sig_mac_begin(&c, key, HW_SIG_SHA1) < 0)
        return -1;
    for (size_t i = 0; !rc && i < v->n; i++)
        rc = hw_sig_mac_update(&c, v->p[i].p, v->p[i].n);
    if (!rc)
        rc = hw_sig_mac_update(&c, target, tn);
    for (size_t i = 0; !rc && i < ps->n; i++) {
        rc = hw_sig_mac_update(&c, ps->p[i].k, ps->p[i].kn);
        if (!rc)
            rc = hw_sig_mac_update(&c, ps->p[i].v, ps->p[i].vn);
    }
    if (hw_sig_mac_end(&c, rc ? NULL : mac) < 0 || rc)
        return -1;
    eq = hw_sig_equal(mac, sig, sizeof(mac));
    sodium_memzero(mac, sizeof(mac));
    return eq;
}

enum hw_sig_reason hw_sig_verify_twilio(const struct hw_sig_source *src,
                                        const struct hw_sig_request *req, struct hw_sig_result *res)
{
    const char *hdr = "X-Twilio-Signature", *v, *base, *target, *bh = NULL;
    size_t vn, bn, tn, bhn = 0, len, nv;
    unsigned char sig[HW_SIG_MAX_SIG], hash[32], want[32];
    struct params ps = { NULL, NULL, 0 };
    struct variant var[2];
    enum hw_sig_reason r = HW_SIG_NO_MATCH;

    if (!hw_sig_header(req->headers, req->nheaders, hdr, &v, &vn) || !vn)
        return hw_sig_fail(res, HW_SIG_MISSING_HEADER, hdr);
    if (hw_sig_b64_decode(v, vn, sig, sizeof(sig), &len) < 0 || len != 20)
        return hw_sig_fail(res, HW_SIG_MALFORMED, hdr);
    base = src->public_url ? src->public_url : req->base_url;
    bn = src->public_url ? src->public_url_len : req->base_url_len;
    if (!base || !bn)
        return hw_sig_fail(res, HW_SIG_NO_PUBLIC_URL, NULL);
    target = req->target ? req->target : "";
    tn = req->target ? req->target_len : 0;
    /* A JSON body is covered by the signed bodySHA256; a form body by its
     * parameters. Either way the body is authenticated. */
    if (!hw_sig_query_param(target, tn, "bodySHA256", &bh, &bhn) && req->body_len &&
        form_params(req->body, req->body_len, &ps) < 0) {
        r = HW_SIG_INTERNAL;
        goto out;
    }
    nv = url_variants(base, bn, var);
    for (size_t k = 0; k < src->nsecrets && r == HW_SIG_NO_MATCH; k++) {
        for (size_t i = 0; i < nv; i++) {
            int m = try_key(&src->keys[k], &var[i], target, tn, &ps, sig);

            if (m < 0) {
                r = HW_SIG_INTERNAL;
                break;
            }
            if (m) {
                res->secret_index = (int)k;
                r = HW_SIG_OK;
                break;
            }
        }
    }
    if (r == HW_SIG_OK && bh) {
        if (hw_sig_sha256(req->body, req->body_len, hash) < 0)
            r = HW_SIG_INTERNAL;
        else if (hw_sig_hex_decode(bh, bhn, want, sizeof(want), &len) < 0 || len != 32 ||
                 !hw_sig_equal(hash, want, 32))
            r = HW_SIG_BODY_HASH_MISMATCH;
    }
out:
    free(ps.buf);
    free(ps.p);
    if (r != HW_SIG_OK)
        return hw_sig_fail(res, r, r == HW_SIG_NO_MATCH ? hdr : NULL);
    if (hw_sig_header(req->headers, req->nheaders, "I-Twilio-Idempotency-Token", &v, &vn))
        hw_sig_set_dedup(res, v, vn);
    return r;
}
