#ifndef HW_SIG_SOURCE_H
#define HW_SIG_SOURCE_H

/*
 * Inside a signature source: the configuration that sig.c builds and the
 * provider functions (sig_providers.c, sig_twilio.c) read. Private to
 * common/sig*; callers use sig.h. After finalize nothing here changes, which
 * is what makes concurrent verification safe.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sig.h"
#include "sig_crypto.h"

enum hw_sig_encoding { HW_SIG_ENC_HEX = 0, HW_SIG_ENC_BASE64 };

/* One piece of a generic signed-content template. */
enum hw_sig_tpl_kind { HW_SIG_TPL_LIT = 0, HW_SIG_TPL_BODY, HW_SIG_TPL_TS, HW_SIG_TPL_ID };

struct hw_sig_tpl {
    enum hw_sig_tpl_kind kind;
    const char *lit; /* HW_SIG_TPL_LIT: points into source->content */
    size_t len;
};

#define HW_SIG_MAX_TPL 16

struct hw_sig_source;

/* A provider: its name, how its secrets are read, and its verifier. */
struct hw_sig_provider {
    const char *name;
    enum hw_sig_secret_form form;
    unsigned alg_mask; /* HMAC algorithms its keys need (1 << alg) */
    /* Returns the reason; fills res->header, timestamp, secret_index, dedup. */
    enum hw_sig_reason (*verify)(const struct hw_sig_source *src, const struct hw_sig_request *req,
                                 struct hw_sig_result *res);
};

struct hw_sig_source {
    char *name;
    const struct hw_sig_provider *prov;
    int64_t tolerance;
    int legacy_sha1; /* github: accept X-Hub-Signature (SHA-1) when -256 is absent */
    char *public_url;
    size_t public_url_len;

    /* Secrets as configured, kept only until finalize decodes them. */
    char *secret_text[HW_SIG_MAX_SECRETS];
    struct hw_sig_key keys[HW_SIG_MAX_SECRETS];
    size_t nsecrets;

    /* Generic HMAC (provider = hmac). */
    char *header;
    char *prefix;
    size_t prefix_len;
    char *ts_header;
    char *id_header;
    char *content; /* signed-content template text */
    enum hw_sig_alg alg;
    enum hw_sig_encoding enc;
    enum hw_sig_secret_form secret_form;
    struct hw_sig_tpl tpl[HW_SIG_MAX_TPL];
    size_t ntpl;

    unsigned given; /* which generic-only keys were set, for finalize's checks */
    int finalized;
};

/* Records why verification failed and which header it concerns. */
static inline enum hw_sig_reason hw_sig_fail(struct hw_sig_result *res, enum hw_sig_reason r,
                                             const char *header)
{
    res->header = header;
    return r;
}

/*
 * Copies a dedup key into the result if it fits and is printable ASCII
 * without spaces (ids are; anything else would be unsafe in logs).
 */
static inline void hw_sig_set_dedup(struct hw_sig_result *res, const char *p, size_t n)
{
    if (!n || n > HW_SIG_DEDUP_MAX)
        return;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
            return;
    memcpy(res->dedup_key, p, n);
    res->dedup_key[n] = '\0';
    res->dedup_len = n;
}

#endif
