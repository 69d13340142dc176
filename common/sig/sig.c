/*
 * Signature sources: building one from configuration keys, checking and
 * freezing it (secrets decoded into keys, HMAC states prepared, secret text
 * wiped), and dispatching a verification to the provider's verifier. A
 * source is built by one thread; once finalized it is read-only and any
 * number of threads may verify against it.
 */
#include "sig.h"

#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "sig_providers.h"
#include "sig_source.h"

/* Bits of hw_sig_source.given: keys that may appear only once. */
enum {
    GIVEN_PROVIDER = 1u << 0,
    GIVEN_TOLERANCE = 1u << 1,
    GIVEN_PUBLIC_URL = 1u << 2,
    GIVEN_LEGACY_SHA1 = 1u << 3,
    GIVEN_HEADER = 1u << 4,
    GIVEN_ALGORITHM = 1u << 5,
    GIVEN_ENCODING = 1u << 6,
    GIVEN_PREFIX = 1u << 7,
    GIVEN_TS_HEADER = 1u << 8,
    GIVEN_ID_HEADER = 1u << 9,
    GIVEN_CONTENT = 1u << 10,
    GIVEN_SECRET_ENCODING = 1u << 11,
};

#define GIVEN_GENERIC                                                                   \
    (GIVEN_HEADER | GIVEN_ALGORITHM | GIVEN_ENCODING | GIVEN_PREFIX | GIVEN_TS_HEADER | \
     GIVEN_ID_HEADER | GIVEN_CONTENT | GIVEN_SECRET_ENCODING)

/* Longest tolerance we accept: past a day a timestamp no longer stops replays. */
#define HW_SIG_MAX_TOLERANCE 86400

static const char *const reason_names[HW_SIG_REASON_COUNT] = {
    [HW_SIG_OK] = "ok",
    [HW_SIG_MISSING_HEADER] = "missing_header",
    [HW_SIG_REPEATED_HEADER] = "repeated_header",
    [HW_SIG_MALFORMED] = "malformed",
    [HW_SIG_UNSUPPORTED] = "unsupported",
    [HW_SIG_TIMESTAMP_OUT_OF_RANGE] = "timestamp_out_of_range",
    [HW_SIG_NO_MATCH] = "no_match",
    [HW_SIG_BODY_HASH_MISMATCH] = "body_hash_mismatch",
    [HW_SIG_NO_PUBLIC_URL] = "no_public_url",
    [HW_SIG_INTERNAL] = "internal",
};

const char *hw_sig_reason_str(enum hw_sig_reason reason)
{
    if ((unsigned)reason >= HW_SIG_REASON_COUNT)
        return "unknown";
    return reason_names[reason];
}

struct hw_sig_source *hw_sig_source_new(const char *name)
{
    struct hw_sig_source *src;

    /* libsodium picks its implementations here; safe to call more than once. */
    if (sodium_init() < 0)
        return NULL;
    src = calloc(1, sizeof(*src));
    if (!src)
        return NULL;
    src->name = strdup(name ? name : "");
    if (!src->name) {
        free(src);
        return NULL;
    }
    src->tolerance = HW_SIG_DEFAULT_TOLERANCE;
    src->alg = HW_SIG_SHA256;
    src->enc = HW_SIG_ENC_HEX;
    src->secret_form = HW_SIG_FORM_RAW;
    return src;
}

static void wipe_text(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

void hw_sig_source_free(struct hw_sig_source *src)
{
    if (!src)
        return;
    for (size_t i = 0; i < src->nsecrets; i++) {
        wipe_text(src->secret_text[i]);
        hw_sig_key_wipe(&src->keys[i]);
    }
    free(src->name);
    free(src->public_url);
    free(src->header);
    free(src->prefix);
    free(src->ts_header);
    free(src->id_header);
    free(src->content);
    free(src);
}

const char *hw_sig_source_name(const struct hw_sig_source *src)
{
    return src->name;
}

const char *hw_sig_source_provider(const struct hw_sig_source *src)
{
    return src->prov ? src->prov->name : "";
}

/* How the secrets are written; src->prov must be set. */
static enum hw_sig_secret_form secret_form(const struct hw_sig_source *src)
{
    return !strcmp(src->prov->name, "hmac") ? src->secret_form : src->prov->form;
}

/* Decodes one secret and throws the key away. src->prov must be set. */
static int check_secret(const struct hw_sig_source *src, const char *text, const char **why)
{
    struct hw_sig_key k;
    int rc;

    memset(&k, 0, sizeof(k));
    rc = hw_sig_key_decode(secret_form(src), text, &k, why);
    hw_sig_key_wipe(&k);
    return rc;
}

/* Decodes every secret given so far and throws the keys away: an early
 * check, so a bad secret is reported while its line is still known. */
static int check_secrets(struct hw_sig_source *src, const char **why)
{
    if (!src->prov)
        return 0;
    for (size_t i = 0; i < src->nsecrets; i++) {
        int rc = check_secret(src, src->secret_text[i], why);

        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };

    for (size_t i = 0; i < 4; i++) {
        if (!strcmp(v, yes[i]))
            return *out = 1, 0;
        if (!strcmp(v, no[i]))
            return *out = 0, 0;
    }
    return HW_EINVAL;
}

/* A header name: one or more token characters (RFC 9110), nothing else. */
static int is_header_name(const char *v)
{
    if (!*v)
        return 0;
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;

        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
            return 0;
    }
    return 1;
}

/* Stores a copy of value in *slot. 0 or HW_ENOMEM. */
static int keep(char **slot, const char *value)
{
    char *copy = strdup(value);

    if (!copy)
        return HW_ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

static int set_public_url(struct hw_sig_source *src, const char *value, const char **why)
{
    size_t n = strlen(value);

    if ((strncmp(value, "https://", 8) && strncmp(value, "http://", 7)) || strchr(value, '?') ||
        strchr(value, '#')) {
        *why = "public-url: must be an http:// or https:// base URL without query";
        return HW_EINVAL;
    }
    /* The request-target starts with '/', so a trailing one would double it. */
    while (n && value[n - 1] == '/')
        n--;
    if (keep(&src->public_url, value) < 0)
        return HW_ENOMEM;
    src->public_url[n] = '\0';
    src->public_url_len = n;
    return 0;
}

static int set_secret(struct hw_sig_source *src, const char *value, const char **why)
{
    int rc;

    if (src->nsecrets == HW_SIG_MAX_SECRETS) {
        *why = "secret: too many (at most 8 per source)";
        return HW_EINVAL;
    }
    if (src->prov) {
        rc = check_secret(src, value, why);
        if (rc < 0)
            return rc;
    } else if (!*value) {
        *why = "secret: empty";
        return HW_EINVAL;
    }
    src->secret_text[src->nsecrets] = strdup(value);
    if (!src->secret_text[src->nsecrets])
        return HW_ENOMEM;
    src->nsecrets++;
    return 0;
}

/* The generic provider's keys. Returns HW_ENOTFOUND for anything else. */
static int set_generic(struct hw_sig_source *src, const char *key, const char *value, unsigned *bit,
                       const char **why)
{
    if (!strcmp(key, "header") || !strcmp(key, "timestamp-header") || !strcmp(key, "id-header")) {
        char **slot = key[0] == 'h'   ? &src->header
                      : key[0] == 't' ? &src->ts_header
                                      : &src->id_header;
        *bit = key[0] == 'h' ? GIVEN_HEADER : key[0] == 't' ? GIVEN_TS_HEADER : GIVEN_ID_HEADER;
        if (!is_header_name(value)) {
            *why = key[0] == 'h'   ? "header: not a header name"
                   : key[0] == 't' ? "timestamp-header: not a header name"
                                   : "id-header: not a header name";
            return HW_EINVAL;
        }
        return keep(slot, value);
    }
    if (!strcmp(key, "algorithm")) {
        static const char *const names[HW_SIG_NALG] = { "sha1", "sha256", "sha512" };

        *bit = GIVEN_ALGORITHM;
        for (int a = 0; a < HW_SIG_NALG; a++)
            if (!strcmp(value, names[a]))
                return src->alg = (enum hw_sig_alg)a, 0;
        *why = "algorithm: must be sha1, sha256 or sha512";
        return HW_EINVAL;
    }
    if (!strcmp(key, "encoding")) {
        *bit = GIVEN_ENCODING;
        if (!strcmp(value, "hex") || !strcmp(value, "base64"))
            return src->enc = value[0] == 'h' ? HW_SIG_ENC_HEX : HW_SIG_ENC_BASE64, 0;
        *why = "encoding: must be hex or base64";
        return HW_EINVAL;
    }
    if (!strcmp(key, "prefix")) {
        *bit = GIVEN_PREFIX;
        src->prefix_len = strlen(value);
        return keep(&src->prefix, value);
    }
    if (!strcmp(key, "signed-content")) {
        *bit = GIVEN_CONTENT;
        return keep(&src->content, value);
    }
    if (!strcmp(key, "secret-encoding")) {
        *bit = GIVEN_SECRET_ENCODING;
        if (!strcmp(value, "raw"))
            src->secret_form = HW_SIG_FORM_RAW;
        else if (!strcmp(value, "hex"))
            src->secret_form = HW_SIG_FORM_HEX;
        else if (!strcmp(value, "base64"))
            src->secret_form = HW_SIG_FORM_BASE64;
        else {
            *why = "secret-encoding: must be raw, hex or base64";
            return HW_EINVAL;
        }
        return check_secrets(src, why);
    }
    return HW_ENOTFOUND;
}

static int set_key(struct hw_sig_source *src, const char *key, const char *value, unsigned *bit,
                   const char **why)
{
    if (!strcmp(key, "provider") || !strcmp(key, "verify")) {
        *bit = GIVEN_PROVIDER;
        src->prov = hw_sig_provider_find(value);
        if (!src->prov) {
            *why = "provider: unknown (github, stripe, standard-webhooks, svix, slack, shopify, "
                   "twilio, discord, sendgrid, paddle, gitlab or hmac)";
            return HW_EINVAL;
        }
        return check_secrets(src, why);
    }
    if (!strcmp(key, "secret"))
        return set_secret(src, value, why);
    if (!strcmp(key, "tolerance")) {
        int64_t t;

        *bit = GIVEN_TOLERANCE;
        if (hw_sig_parse_ts(value, strlen(value), &t) < 0 || t < 1 || t > HW_SIG_MAX_TOLERANCE) {
            *why = "tolerance: must be whole seconds from 1 to 86400";
            return HW_EINVAL;
        }
        src->tolerance = t;
        return 0;
    }
    if (!strcmp(key, "public-url")) {
        *bit = GIVEN_PUBLIC_URL;
        return set_public_url(src, value, why);
    }
    if (!strcmp(key, "legacy-sha1")) {
        *bit = GIVEN_LEGACY_SHA1;
        if (parse_bool(value, &src->legacy_sha1) < 0) {
            *why = "legacy-sha1: must be true or false";
            return HW_EINVAL;
        }
        return 0;
    }
    return set_generic(src, key, value, bit, why);
}

int hw_sig_source_set(struct hw_sig_source *src, const char *key, const char *value,
                      const char **why)
{
    const char *dummy;
    unsigned bit = 0, before = src->given;
    int rc;

    assert(!src->finalized);
    if (!why)
        why = &dummy;
    *why = "unknown key";
    rc = set_key(src, key, value, &bit, why);
    if (bit && (before & bit)) {
        /* Checked after parsing so that a bad repeated value says what is bad. */
        *why = "key given twice (only secret may repeat)";
        return HW_EINVAL;
    }
    src->given |= bit;
    if (rc == HW_ENOMEM)
        *why = "out of memory";
    return rc;
}

/* Compiles the generic signed-content template into parts. */
static int compile_template(struct hw_sig_source *src, const char **why)
{
    static const struct {
        const char *text;
        enum hw_sig_tpl_kind kind;
    } names[] = { { "{body}", HW_SIG_TPL_BODY },
                  { "{timestamp}", HW_SIG_TPL_TS },
                  { "{id}", HW_SIG_TPL_ID } };
    const char *t = src->content ? src->content : src->ts_header ? "{timestamp}.{body}" : "{body}";
    int count[4] = { 0 };

    src->ntpl = 0;
    while (*t) {
        size_t lit = strcspn(t, "{"), i;

        if (src->ntpl == HW_SIG_MAX_TPL)
            goto too_many;
        if (lit) {
            src->tpl[src->ntpl++] = (struct hw_sig_tpl){ HW_SIG_TPL_LIT, t, lit };
            t += lit;
            continue;
        }
        for (i = 0; i < 3; i++)
            if (!strncmp(t, names[i].text, strlen(names[i].text)))
                break;
        if (i == 3) {
            *why = "signed-content: unknown placeholder (use {body}, {timestamp} and {id})";
            return HW_ECONFIG;
        }
        src->tpl[src->ntpl++] = (struct hw_sig_tpl){ names[i].kind, NULL, 0 };
        count[names[i].kind]++;
        t += strlen(names[i].text);
    }
    if (count[HW_SIG_TPL_BODY] != 1) {
        *why = "signed-content: must contain {body} exactly once";
        return HW_ECONFIG;
    }
    if (count[HW_SIG_TPL_TS] && !src->ts_header) {
        *why = "signed-content: {timestamp} needs timestamp-header";
        return HW_ECONFIG;
    }
    if (src->ts_header && !count[HW_SIG_TPL_TS]) {
        *why = "timestamp-header: signed-content lacks {timestamp}, so it would not be signed";
        return HW_ECONFIG;
    }
    if (count[HW_SIG_TPL_ID] && !src->id_header) {
        *why = "signed-content: {id} needs id-header";
        return HW_ECONFIG;
    }
    return 0;
too_many:
    *why = "signed-content: too many parts (at most 16)";
    return HW_ECONFIG;
}

/* Cross-key checks that can only be made once every key has been seen. */
static int check_config(struct hw_sig_source *src, const char **why)
{
    int generic;

    if (!src->prov) {
        *why = "provider: missing (provider = NAME, or verify = NAME)";
        return HW_ECONFIG;
    }
    if (!src->nsecrets) {
        *why = "secret: missing (at least one secret = ...)";
        return HW_ECONFIG;
    }
    generic = !strcmp(src->prov->name, "hmac");
    if (!generic && (src->given & GIVEN_GENERIC)) {
        *why = "header, algorithm, encoding, prefix, timestamp-header, id-header, "
               "signed-content and secret-encoding are only for provider = hmac";
        return HW_ECONFIG;
    }
    if ((src->given & GIVEN_LEGACY_SHA1) && strcmp(src->prov->name, "github")) {
        *why = "legacy-sha1: only for provider = github";
        return HW_ECONFIG;
    }
    if ((src->given & GIVEN_PUBLIC_URL) && strcmp(src->prov->name, "twilio")) {
        *why = "public-url: only for provider = twilio";
        return HW_ECONFIG;
    }
    if (!generic)
        return 0;
    if (!src->header) {
        *why = "header: missing (provider = hmac needs the signature header's name)";
        return HW_ECONFIG;
    }
    return compile_template(src, why);
}

int hw_sig_source_finalize(struct hw_sig_source *src, const char **why)
{
    const char *dummy;
    unsigned mask;
    int rc;

    assert(!src->finalized);
    if (!why)
        why = &dummy;
    if ((rc = check_config(src, why)) < 0)
        return rc;
    mask = strcmp(src->prov->name, "hmac") ? src->prov->alg_mask : 1u << src->alg;
    for (size_t i = 0; i < src->nsecrets; i++) {
        rc = hw_sig_key_decode(secret_form(src), src->secret_text[i], &src->keys[i], why);
        if (!rc)
            rc = hw_sig_key_prepare(&src->keys[i], mask);
        if (rc < 0) {
            for (size_t k = 0; k <= i; k++)
                hw_sig_key_wipe(&src->keys[k]);
            if (rc == HW_ENOMEM)
                *why = "out of memory";
            return rc == HW_ENOMEM ? rc : HW_ECONFIG;
        }
    }
    /* The keys are all we need from here on; the text goes. */
    for (size_t i = 0; i < src->nsecrets; i++) {
        wipe_text(src->secret_text[i]);
        src->secret_text[i] = NULL;
    }
    src->finalized = 1;
    return 0;
}

int hw_sig_verify(const struct hw_sig_source *src, const struct hw_sig_request *req,
                  struct hw_sig_result *res)
{
    enum hw_sig_reason r;

    memset(res, 0, sizeof(*res));
    res->secret_index = -1;
    if (!src->finalized) {
        /* A programming error; "not verified" is the only safe answer. */
        res->reason = HW_SIG_INTERNAL;
        return HW_EINVAL;
    }
    r = src->prov->verify(src, req, res);
    /* The lookups take a repeated header for an absent one: say which it was. */
    if (r == HW_SIG_MISSING_HEADER && res->header &&
        hw_sig_header_count(req->headers, req->nheaders, res->header) > 1)
        r = HW_SIG_REPEATED_HEADER;
    res->reason = r;
    res->ok = r == HW_SIG_OK;
    if (!res->ok) {
        res->secret_index = -1;
        res->dedup_key[0] = '\0';
        res->dedup_len = 0;
    }
    if (r == HW_SIG_OK)
        return 0;
    return r == HW_SIG_INTERNAL ? HW_ENOMEM : HW_EAUTH;
}
