#ifndef HW_SIGN_H
#define HW_SIGN_H

/*
 * Signing deliveries the Standard Webhooks way: HMAC-SHA256 over
 * "EVENT_ID.TIMESTAMP.BODY", written "v1,BASE64". The receiver sends it as
 * Hookwire-Signature next to Hookwire-Event-Id and Hookwire-Timestamp, so a
 * backend checks it with any Standard Webhooks library by handing it those
 * three values. A signer is built once at startup and then only read: any
 * thread may sign with it concurrently.
 */
#include <stddef.h>
#include <stdint.h>

/* Longest signature text with its NUL: "v1," + base64 of 32 bytes (44) + NUL. */
#define HW_SIGN_MAX 48

/* Shortest key accepted, in bytes: shorter HMAC keys are guessable. */
#define HW_SIGN_KEY_MIN 16

struct hw_signer;

/*
 * Builds a signer from the receiver's signing secret: "whsec_BASE64" (the
 * Standard Webhooks form, what its libraries take) or any other text, used as
 * the raw key bytes. Borrows secret (the caller wipes it). Returns 0 with
 * *out set (free with hw_signer_free), HW_EINVAL with *why set to a static
 * reason (bad base64, a key shorter than HW_SIGN_KEY_MIN bytes or all
 * zeros), or HW_ENOMEM. Main thread, at startup.
 */
int hw_signer_new(const char *secret, struct hw_signer **out, const char **why)
    __attribute__((warn_unused_result));

/* Wipes the key and frees the signer. NULL is fine. */
void hw_signer_free(struct hw_signer *s);

/*
 * Signs one delivery: id[0..id_len) is the event id, ts the Unix timestamp
 * sent as Hookwire-Timestamp, body[0..len) the body as delivered. Writes the
 * NUL-terminated "v1,BASE64" into out (HW_SIGN_MAX bytes). Returns 0,
 * HW_EINVAL for an empty id, one containing '.', or a negative ts (each
 * would make the signed content ambiguous), or HW_ENOMEM. Any thread.
 */
int hw_signer_sign(const struct hw_signer *s, const char *id, size_t id_len, int64_t ts,
                   const void *body, size_t len, char out[HW_SIGN_MAX])
    __attribute__((warn_unused_result));

#endif
