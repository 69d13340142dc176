#ifndef HW_SIG_CRYPTO_H
#define HW_SIG_CRYPTO_H

/*
 * The cryptography behind signature verification: decoding a configured
 * secret into a key once at load, HMAC (RFC 2104) from inner and outer
 * digest states prepared from it, over several byte ranges without copying
 * them together, Ed25519 (libsodium)
 * and ECDSA P-256 (OpenSSL) verification, and constant-time comparison.
 * A prepared key is read-only: any thread may use it concurrently.
 */
#include <openssl/evp.h>
#include <stddef.h>

enum hw_sig_alg { HW_SIG_SHA1 = 0, HW_SIG_SHA256, HW_SIG_SHA512, HW_SIG_NALG };

/* Largest MAC we compute (SHA-512). */
#define HW_SIG_MAC_MAX 64

enum hw_sig_key_kind {
    HW_SIG_KEY_HMAC = 0, /* shared secret for HMAC */
    HW_SIG_KEY_TOKEN,    /* shared token compared as is (GitLab) */
    HW_SIG_KEY_ED25519,  /* 32-byte Ed25519 public key */
    HW_SIG_KEY_ECDSA,    /* ECDSA P-256 public key */
};

/* How the text of a secret is turned into a key. */
enum hw_sig_secret_form {
    HW_SIG_FORM_RAW = 0,      /* the bytes as written */
    HW_SIG_FORM_TOKEN,        /* the bytes as written, compared as a token */
    HW_SIG_FORM_HEX,          /* hex-encoded HMAC key */
    HW_SIG_FORM_BASE64,       /* base64-encoded HMAC key */
    HW_SIG_FORM_STANDARD,     /* whsec_BASE64 HMAC key or whpk_BASE64 Ed25519 key */
    HW_SIG_FORM_ED25519_HEX,  /* 64 hex digits (Discord) */
    HW_SIG_FORM_ECDSA_BASE64, /* base64 DER SubjectPublicKeyInfo, P-256 (SendGrid) */
};

struct hw_sig_key {
    enum hw_sig_key_kind kind;
    unsigned char *bytes; /* HMAC key, token or Ed25519 public key; owned, wiped */
    size_t len;
    /* HMAC states after absorbing the key XOR ipad / opad, per algorithm;
     * NULL where not prepared. Only ever copied from, never updated. */
    EVP_MD_CTX *inner[HW_SIG_NALG];
    EVP_MD_CTX *outer[HW_SIG_NALG];
    EVP_PKEY *pkey; /* ECDSA public key */
};

/* One HMAC computation in progress (hw_sig_mac_begin .. hw_sig_mac_end). */
struct hw_sig_mac_ctx {
    EVP_MD_CTX *md;
    const struct hw_sig_key *key;
    enum hw_sig_alg alg;
};

/* A byte range to be signed; several make up one signed content. */
struct hw_sig_part {
    const void *p;
    size_t n;
};

/* Output length of an HMAC with alg. */
size_t hw_sig_mac_len(enum hw_sig_alg alg);

/*
 * Decodes text (NUL-terminated) per form into *k (zeroed by the caller).
 * Returns 0, HW_EINVAL with *why set to a static reason starting "secret:",
 * or HW_ENOMEM. On failure *k holds nothing to free.
 */
int hw_sig_key_decode(enum hw_sig_secret_form form, const char *text, struct hw_sig_key *k,
                      const char **why);

/*
 * Prepares the HMAC inner and outer states for every algorithm in alg_mask
 * (bit 1 << alg) on an HMAC key; other kinds ignore it. Returns 0 or
 * HW_ENOMEM.
 */
int hw_sig_key_prepare(struct hw_sig_key *k, unsigned alg_mask);

/* Wipes and frees everything *k holds; *k is zeroed afterwards. */
void hw_sig_key_wipe(struct hw_sig_key *k);

/*
 * HMAC with a prepared key over the concatenation of parts, written to out
 * (hw_sig_mac_len(alg) bytes). Returns 0 or HW_ENOMEM.
 */
int hw_sig_mac(const struct hw_sig_key *k, enum hw_sig_alg alg, const struct hw_sig_part *parts,
               size_t nparts, unsigned char *out);

/*
 * The same, streamed: begin (0 or HW_ENOMEM; nothing to end on failure),
 * any number of updates (0 or HW_ENOMEM), then end, which writes the MAC
 * unless out is NULL, releases and wipes the state, and returns 0 or
 * HW_ENOMEM. End must follow a successful begin even after a failed update.
 */
int hw_sig_mac_begin(struct hw_sig_mac_ctx *c, const struct hw_sig_key *k, enum hw_sig_alg alg);
int hw_sig_mac_update(struct hw_sig_mac_ctx *c, const void *p, size_t n);
int hw_sig_mac_end(struct hw_sig_mac_ctx *c, unsigned char *out);

/* SHA-256 of a byte range into out[32]. Returns 0 or HW_ENOMEM. */
int hw_sig_sha256(const void *p, size_t n, unsigned char *out);

/* Constant-time equality of two n-byte buffers: 1 equal, 0 not. */
int hw_sig_equal(const void *a, const void *b, size_t n);

/* Whether token[0..n) equals the key's token, in time independent of both. */
int hw_sig_token_equal(const struct hw_sig_key *k, const char *token, size_t n);

/* Ed25519 over msg with a 32-byte public key and a 64-byte signature: 1 valid, 0 not. */
int hw_sig_ed25519_verify(const unsigned char *pk, const unsigned char *sig,
                          const unsigned char *msg, size_t len);

/*
 * ECDSA P-256 with SHA-256 over the concatenation of parts; sig is DER.
 * Returns 1 valid, 0 not, HW_ENOMEM when a context could not be had.
 */
int hw_sig_ecdsa_verify(EVP_PKEY *pkey, const unsigned char *sig, size_t siglen,
                        const struct hw_sig_part *parts, size_t nparts);

#endif
