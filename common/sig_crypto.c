/*
 * Keys and primitives for signature verification. A key is decoded once, at
 * configuration time; for HMAC we also key one OpenSSL MAC context per
 * algorithm then, and each verification works on a duplicate of it, so the
 * key schedule is not redone per request and the shared context is only read.
 * Any thread may verify with a prepared key.
 */
#include "sig_crypto.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sig_parse.h"

static const char *const alg_digest[HW_SIG_NALG] = { "SHA1", "SHA256", "SHA512" };
static const size_t alg_len[HW_SIG_NALG] = { 20, 32, 64 };

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

int hw_sig_key_decode(enum hw_sig_secret_form form, const char *text, struct hw_sig_key *k,
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

int hw_sig_key_prepare(struct hw_sig_key *k, unsigned alg_mask)
{
    EVP_MAC *mac;
    int rc = 0;

    if (k->kind != HW_SIG_KEY_HMAC)
        return 0;
    mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    if (!mac)
        return HW_ENOMEM;
    for (int a = 0; a < HW_SIG_NALG; a++) {
        OSSL_PARAM params[2];

        if (!(alg_mask & (1u << a)) || k->mac[a])
            continue;
        params[0] =
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)alg_digest[a], 0);
        params[1] = OSSL_PARAM_construct_end();
        k->mac[a] = EVP_MAC_CTX_new(mac);
        if (!k->mac[a] || !EVP_MAC_init(k->mac[a], k->bytes, k->len, params)) {
            rc = HW_ENOMEM;
            break;
        }
    }
    EVP_MAC_free(mac);
    return rc;
}

void hw_sig_key_wipe(struct hw_sig_key *k)
{
    /* OpenSSL clears the key copies inside its HMAC contexts when freeing them. */
    for (int a = 0; a < HW_SIG_NALG; a++)
        EVP_MAC_CTX_free(k->mac[a]);
    EVP_PKEY_free(k->pkey);
    if (k->bytes) {
        sodium_memzero(k->bytes, k->len);
        free(k->bytes);
    }
    memset(k, 0, sizeof(*k));
}

EVP_MAC_CTX *hw_sig_mac_begin(const struct hw_sig_key *k, enum hw_sig_alg alg)
{
    if (!k->mac[alg])
        return NULL;
    return EVP_MAC_CTX_dup(k->mac[alg]);
}

int hw_sig_mac_end(EVP_MAC_CTX *c, unsigned char *out)
{
    unsigned char buf[HW_SIG_MAC_MAX];
    size_t len = 0;
    int ok = 1;

    if (out) {
        ok = EVP_MAC_final(c, buf, &len, sizeof(buf));
        if (ok)
            memcpy(out, buf, len);
        sodium_memzero(buf, sizeof(buf));
    }
    EVP_MAC_CTX_free(c);
    return ok ? 0 : HW_ENOMEM;
}

int hw_sig_mac(const struct hw_sig_key *k, enum hw_sig_alg alg, const struct hw_sig_part *parts,
               size_t nparts, unsigned char *out)
{
    EVP_MAC_CTX *c = hw_sig_mac_begin(k, alg);

    if (!c)
        return HW_ENOMEM;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].n && !EVP_MAC_update(c, parts[i].p, parts[i].n)) {
            hw_sig_mac_end(c, NULL);
            return HW_ENOMEM;
        }
    }
    return hw_sig_mac_end(c, out);
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
