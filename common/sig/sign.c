/*
 * Delivery signatures (sign.h): the signing secret decoded once into an HMAC
 * key with prepared SHA-256 states (sig_crypto.c), and one MAC per delivery
 * over "id.timestamp.body" without copying the body. Built on the main
 * thread; afterwards read-only, so any thread may sign.
 */
#include "sign.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "sig_crypto.h"

struct hw_signer {
    struct hw_sig_key key;
};

int hw_signer_new(const char *secret, struct hw_signer **out, const char **why)
{
    /* The Standard Webhooks form is base64 after its prefix; anything else is
     * the key's bytes as written, which is what an operator types. */
    int standard = strncmp(secret, "whsec_", 6) == 0;
    struct hw_signer *s;
    int rc;

    *out = NULL;
    if (sodium_init() < 0)
        return HW_ENOMEM;
    s = calloc(1, sizeof(*s));
    if (!s)
        return HW_ENOMEM;
    rc = hw_sig_key_decode(standard ? HW_SIG_FORM_STANDARD : HW_SIG_FORM_RAW, secret, &s->key, why);
    if (rc < 0)
        goto fail;
    if (s->key.kind != HW_SIG_KEY_HMAC || s->key.len < HW_SIGN_KEY_MIN) {
        *why = "signing-secret: shorter than 16 bytes (use whsec_ and 32 random bytes in base64)";
        rc = HW_EINVAL;
        goto fail;
    }
    rc = hw_sig_key_prepare(&s->key, 1u << HW_SIG_SHA256);
    if (rc < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    hw_signer_free(s);
    return rc == HW_ENOMEM ? HW_ENOMEM : HW_EINVAL;
}

void hw_signer_free(struct hw_signer *s)
{
    if (!s)
        return;
    hw_sig_key_wipe(&s->key);
    free(s);
}

int hw_signer_sign(const struct hw_signer *s, const char *id, size_t id_len, int64_t ts,
                   const void *body, size_t len, char out[HW_SIGN_MAX])
{
    unsigned char mac[32];
    char tsbuf[24];
    struct hw_sig_part parts[5];
    int n, rc;

    out[0] = '\0';
    if (!id_len || memchr(id, '.', id_len) || ts < 0)
        return HW_EINVAL;
    n = snprintf(tsbuf, sizeof(tsbuf), "%" PRId64, ts);
    parts[0] = (struct hw_sig_part){ id, id_len };
    parts[1] = (struct hw_sig_part){ ".", 1 };
    parts[2] = (struct hw_sig_part){ tsbuf, (size_t)n };
    parts[3] = (struct hw_sig_part){ ".", 1 };
    parts[4] = (struct hw_sig_part){ len ? body : "", len };
    rc = hw_sig_mac(&s->key, HW_SIG_SHA256, parts, 5, mac);
    if (rc < 0)
        return rc;
    memcpy(out, "v1,", 3);
    sodium_bin2base64(out + 3, HW_SIGN_MAX - 3, mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(mac, sizeof(mac));
    return 0;
}
