/*
 * Keys and primitives for signature verification. A key is decoded once, at
 * configuration time; for HMAC we then also absorb key^ipad and key^opad
 * into two OpenSSL digest contexts (RFC 2104), and each verification copies
 * them: the key is not re-processed per request, the shared contexts are
 * only read, and a copy costs far fewer allocations than duplicating an
 * EVP_MAC context (bench/RESULTS.md). Any thread may verify with a
 * prepared key.
 */
#include "sig_crypto.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "sig_parse.h"

static const char *const alg_digest[HW_SIG_NALG] = { "SHA1", "SHA256", "SHA512" };
static const size_t alg_len[HW_SIG_NALG] = { 20, 32, 64 };

/* Largest digest block (SHA-512). */
#define BLOCK_MAX 128

size_t hw_sig_mac_len(enum hw_sig_alg alg)
{
    return alg_len[alg];
}

static int has_prefix(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

static int decode_ecdsa(const char *text, struct hw_sig_key *k, const char **why)
{
    size_t n = strlen(text), len;
    unsigned char *der = malloc(n ? n : 1);
    const unsigned char *p = der;
    char group[32];
    EVP_PKEY *pkey = NULL;

    if (!der)
        return HW_ENOMEM;
    if (hw_sig_b64_decode(text, n, der, n, &len) < 0) {
        *why = "secret: SendGrid verification key is not base64";
        goto fail;
    }
    pkey = d2i_PUBKEY(NULL, &p, (long)len);
    if (!pkey || p != der + len || !EVP_PKEY_is_a(pkey, "EC") ||
        !EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) || strcmp(group, "prime256v1")) {
        *why = "secret: SendGrid verification key is not an ECDSA P-256 public key (base64 DER)";
        goto fail;
    }
    free(der);
    k->kind = HW_SIG_KEY_ECDSA;
    k->pkey = pkey;
    return 0;
fail:
    ERR_clear_error();
    EVP_PKEY_free(pkey);
    free(der);
    return HW_EINVAL;
}

/* Decodes hex or base64 text into a fresh buffer owned by k. */
static int decode_bytes(const char *s, int base64, size_t want, struct hw_sig_key *k)
{
    size_t n = strlen(s), len;
    unsigned char *b = malloc(n ? n : 1);
    int rc;

    if (!b)
        return HW_ENOMEM;
    rc = base64 ? hw_sig_b64_decode(s, n, b, n, &len) : hw_sig_hex_decode(s, n, b, n, &len);
    if (rc < 0 || (want && len != want)) {
        sodium_memzero(b, n);
        free(b);
        return HW_EINVAL;
    }
    k->bytes = b;
    k->len = len;
    return 0;
}

static int decode_form(enum hw_sig_secret_form form, const char *text, struct hw_sig_key *k,
                       const char **why)
{
    size_t n = strlen(text);
    int rc;

    if (!n) {
        *why = "secret: empty";
        return HW_EINVAL;
    }
    k->kind = HW_SIG_KEY_HMAC;
    switch (form) {
    case HW_SIG_FORM_RAW:
    case HW_SIG_FORM_TOKEN:
        k->bytes = malloc(n);
        if (!k->bytes)
            return HW_ENOMEM;
        memcpy(k->bytes, text, n);
        k->len = n;
        k->kind = form == HW_SIG_FORM_TOKEN ? HW_SIG_KEY_TOKEN : HW_SIG_KEY_HMAC;
        return 0;
    case HW_SIG_FORM_HEX:
        rc = decode_bytes(text, 0, 0, k);
        *why = "secret: not valid hex (secret-encoding = hex)";
        return rc;
    case HW_SIG_FORM_BASE64:
        rc = decode_bytes(text, 1, 0, k);
        *why = "secret: not valid base64 (secret-encoding = base64)";
        return rc;
    case HW_SIG_FORM_STANDARD:
        if (has_prefix(text, "whsk_")) {
            *why = "secret: whsk_ is a private signing key; configure its whpk_ public key";
            return HW_EINVAL;
        }
        if (has_prefix(text, "whpk_")) {
            k->kind = HW_SIG_KEY_ED25519;
            rc = decode_bytes(text + 5, 1, crypto_sign_PUBLICKEYBYTES, k);
            *why = "secret: whpk_ value is not a base64 Ed25519 public key (32 bytes)";
            return rc;
        }
        /* Like the reference libraries, a bare base64 key is taken too. */
        rc = decode_bytes(text + (has_prefix(text, "whsec_") ? 6 : 0), 1, 0, k);
        *why = "secret: not a whsec_ (base64) secret or a whpk_ public key";
        return rc;
    case HW_SIG_FORM_ED25519_HEX:
        k->kind = HW_SIG_KEY_ED25519;
        rc = decode_bytes(text, 0, crypto_sign_PUBLICKEYBYTES, k);
        *why = "secret: Discord public key must be 64 hex digits";
        return rc;
    case HW_SIG_FORM_ECDSA_BASE64:
        return decode_ecdsa(text, k, why);
    }
    *why = "secret: unknown form";
    return HW_EINVAL;
}

/*
 * HMAC pads its key with zeros, so a key of only zero bytes (such as whsec_AA==)
 * is the empty key: anyone could sign with it. Such a secret is refused.
 */
int hw_sig_key_decode(enum hw_sig_secret_form form, const char *text, struct hw_sig_key *k,
                      const char **why)
{
    int rc = decode_form(form, text, k, why);
    unsigned char any = 0;

    if (rc || k->kind != HW_SIG_KEY_HMAC)
        return rc;
    for (size_t i = 0; i < k->len; i++)
        any |= k->bytes[i];
    if (any)
        return 0;
    hw_sig_key_wipe(k);
    *why = "secret: decodes to an empty or all-zero key, which anyone could sign with";
    return HW_EINVAL;
}

/* Digest state after absorbing the key block XORed with pad. */
static EVP_MD_CTX *pad_state(const EVP_MD *md, const unsigned char *kb, size_t bs,
                             unsigned char pad)
{
    unsigned char block[BLOCK_MAX];
    EVP_MD_CTX *c = EVP_MD_CTX_new();

    for (size_t i = 0; i < bs; i++)
        block[i] = kb[i] ^ pad;
    if (c && (!EVP_DigestInit_ex(c, md, NULL) || !EVP_DigestUpdate(c, block, bs))) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    sodium_memzero(block, sizeof(block));
    return c;
}

int hw_sig_key_prepare(struct hw_sig_key *k, unsigned alg_mask)
{
    unsigned char kb[BLOCK_MAX];
    int rc = 0;

    if (k->kind != HW_SIG_KEY_HMAC)
        return 0;
    for (int a = 0; a < HW_SIG_NALG && !rc; a++) {
        EVP_MD *md;
        size_t bs;
        unsigned int len;

        if (!(alg_mask & (1u << a)) || k->inner[a])
            continue;
        md = EVP_MD_fetch(NULL, alg_digest[a], NULL);
        if (!md) {
            rc = HW_ENOMEM;
            break;
        }
        bs = (size_t)EVP_MD_get_block_size(md);
        memset(kb, 0, sizeof(kb));
        /* RFC 2104: a key longer than the block is replaced by its hash. */
        if (k->len > bs) {
            if (!EVP_Digest(k->bytes, k->len, kb, &len, md, NULL))
                rc = HW_ENOMEM;
        } else {
            memcpy(kb, k->bytes, k->len);
        }
        if (!rc) {
            k->inner[a] = pad_state(md, kb, bs, 0x36);
            k->outer[a] = pad_state(md, kb, bs, 0x5c);
            if (!k->inner[a] || !k->outer[a])
                rc = HW_ENOMEM;
        }
        EVP_MD_free(md);
    }
    sodium_memzero(kb, sizeof(kb));
    return rc;
}

void hw_sig_key_wipe(struct hw_sig_key *k)
{
    /* OpenSSL's digest implementations clear their state when freed. */
    for (int a = 0; a < HW_SIG_NALG; a++) {
        EVP_MD_CTX_free(k->inner[a]);
        EVP_MD_CTX_free(k->outer[a]);
    }
    EVP_PKEY_free(k->pkey);
    if (k->bytes) {
        sodium_memzero(k->bytes, k->len);
        free(k->bytes);
    }
    memset(k, 0, sizeof(*k));
}

int hw_sig_mac_begin(struct hw_sig_mac_ctx *c, const struct hw_sig_key *k, enum hw_sig_alg alg)
{
    c->key = k;
    c->alg = alg;
    c->md = k->inner[alg] ? EVP_MD_CTX_new() : NULL;
    if (c->md && EVP_MD_CTX_copy_ex(c->md, k->inner[alg]))
        return 0;
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
    return HW_ENOMEM;
}

int hw_sig_mac_update(struct hw_sig_mac_ctx *c, const void *p, size_t n)
{
    return !n || EVP_DigestUpdate(c->md, p, n) ? 0 : HW_ENOMEM;
}

int hw_sig_mac_end(struct hw_sig_mac_ctx *c, unsigned char *out)
{
    unsigned char ih[HW_SIG_MAC_MAX];
    unsigned int len = 0;
    int ok = 1;

    if (out) {
        ok = EVP_DigestFinal_ex(c->md, ih, &len) &&
             EVP_MD_CTX_copy_ex(c->md, c->key->outer[c->alg]) && EVP_DigestUpdate(c->md, ih, len) &&
             EVP_DigestFinal_ex(c->md, out, &len);
        sodium_memzero(ih, sizeof(ih));
    }
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
    return ok ? 0 : HW_ENOMEM;
}

int hw_sig_mac(const struct hw_sig_key *k, enum hw_sig_alg alg, const struct hw_sig_part *parts,
               size_t nparts, unsigned char *out)
{
    struct hw_sig_mac_ctx c;
    int rc = 0;

    if (hw_sig_mac_begin(&c, k, alg) < 0)
        return HW_ENOMEM;
    for (size_t i = 0; i < nparts && !rc; i++)
        rc = hw_sig_mac_update(&c, parts[i].p, parts[i].n);
    if (rc) {
        hw_sig_mac_end(&c, NULL);
        return rc;
    }
    return hw_sig_mac_end(&c, out);
}

int hw_sig_sha256(const void *p, size_t n, unsigned char *out)
{
    static const unsigned char empty[1];

    return EVP_Digest(n ? p : empty, n, out, NULL, EVP_sha256(), NULL) ? 0 : HW_ENOMEM;
}

int hw_sig_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}

int hw_sig_token_equal(const struct hw_sig_key *k, const char *token, size_t n)
{
    unsigned char a[32], b[32];
    int eq;

    /* Hashing both sides first makes the comparison independent of lengths. */
    if (hw_sig_sha256(k->bytes, k->len, a) < 0 || hw_sig_sha256(token, n, b) < 0)
        return 0;
    eq = hw_sig_equal(a, b, sizeof(a));
    sodium_memzero(a, sizeof(a));
    return eq;
}

int hw_sig_ed25519_verify(const unsigned char *pk, const unsigned char *sig,
                          const unsigned char *msg, size_t len)
{
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0;
}

int hw_sig_ecdsa_verify(EVP_PKEY *pkey, const unsigned char *sig, size_t siglen,
                        const struct hw_sig_part *parts, size_t nparts)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = 0;

    if (!md)
        return HW_ENOMEM;
    if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) != 1) {
        rc = HW_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].n && EVP_DigestVerifyUpdate(md, parts[i].p, parts[i].n) != 1)
            goto out;
    rc = EVP_DigestVerifyFinal(md, sig, siglen) == 1;
out:
    /* A rejected signature leaves reasons on this thread's error queue; drop them. */
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    return rc;
}
