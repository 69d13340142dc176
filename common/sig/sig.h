#ifndef HW_SIG_H
#define HW_SIG_H

/*
 * Webhook signature verification: a source's configuration (provider,
 * secrets, tolerance, generic-HMAC fields) is built once from key/value pairs,
 * then hw_sig_verify() says whether a request is authentic and, if not, why.
 * No I/O, no logging of secrets. A finalized source is immutable, so any
 * number of threads may verify against it at once; building it is
 * single-threaded. docs/signatures.md lists the providers and keys.
 */
#include <stddef.h>
#include <stdint.h>

#include "http/httphdr.h"

/* Default timestamp tolerance in seconds, in both directions. */
#define HW_SIG_DEFAULT_TOLERANCE 300

/* At most this many secrets per source (rotation needs two or three). */
#define HW_SIG_MAX_SECRETS 8

/* Longest dedup key kept in a result; a longer one is not reported. */
#define HW_SIG_DEDUP_MAX 128

/* Why a request is or is not authentic; stable, for logs and metrics. */
enum hw_sig_reason {
    HW_SIG_OK = 0,
    HW_SIG_MISSING_HEADER,         /* a required header is absent or empty */
    HW_SIG_REPEATED_HEADER,        /* a header it reads is given more than once */
    HW_SIG_MALFORMED,              /* a header is present but cannot be parsed */
    HW_SIG_UNSUPPORTED,            /* no signature in a scheme this source has keys for */
    HW_SIG_TIMESTAMP_OUT_OF_RANGE, /* signed timestamp too old or too far in the future */
    HW_SIG_NO_MATCH,               /* well-formed signatures, none made with our secrets */
    HW_SIG_BODY_HASH_MISMATCH,     /* a signed body hash (Twilio bodySHA256) differs */
    HW_SIG_NO_PUBLIC_URL,          /* URL-signed provider, but no public base URL known */
    HW_SIG_INTERNAL,               /* out of memory or crypto library failure */
    HW_SIG_REASON_COUNT
};

struct hw_sig_source;

/*
 * The request as it arrived. Everything is borrowed for the duration of the
 * hw_sig_verify() call only. Header values may carry surrounding whitespace;
 * lookups are case-insensitive, and a header the verifier reads that is
 * given more than once fails it (HW_SIG_REPEATED_HEADER).
 */
struct hw_sig_request {
    const char *method; /* "POST"; may be NULL */
    size_t method_len;
    /*
     * The public base URL the sender was given, without a trailing slash
     * ("https://hooks.example.com"), and the request-target as received
     * ("/t/alice/sms?x=1"). URL-signed providers (Twilio) check base + target;
     * never build the base from X-Forwarded-* headers, which a client forges.
     * A source's own public-url key, when set, replaces base_url.
     */
    const char *base_url;
    size_t base_url_len;
    const char *target;
    size_t target_len;
    const struct hw_http_header *headers; /* in arrival order */
    size_t nheaders;
    const void *body; /* raw body bytes; may be NULL when body_len is 0 */
    size_t body_len;
    int64_t now; /* current time, Unix seconds */
};

struct hw_sig_result {
    int ok;                    /* 1 when authentic */
    enum hw_sig_reason reason; /* HW_SIG_OK when ok */
    /* Header that the reason concerns (e.g. the missing one), or NULL. Static
     * or owned by the source. */
    const char *header;
    int64_t timestamp; /* signed timestamp when the provider has one, else 0 */
    int secret_index;  /* which configured secret matched (0-based), -1 if none */
    /*
     * The provider's delivery or event id for deduplication (X-GitHub-Delivery,
     * webhook-id, Stripe's event id, ...), NUL-terminated, set only when ok.
     * Empty when the provider has none, the request lacks it, or it is longer
     * than HW_SIG_DEDUP_MAX. Some ids are not covered by the signature (e.g.
     * X-GitHub-Delivery): docs/signatures.md says which.
     */
    char dedup_key[HW_SIG_DEDUP_MAX + 1];
    size_t dedup_len;
};

/*
 * Allocates an empty source. name is copied and only used in messages.
 * Returns NULL when out of memory. Configure it with hw_sig_source_set(),
 * then hw_sig_source_finalize() before any verification.
 */
struct hw_sig_source *hw_sig_source_new(const char *name);

/*
 * Applies one key = value from a [source NAME] (or [channel NAME]) section,
 * the value already resolved from env:/file: by the caller. Keys: provider
 * (or its alias verify), secret (repeatable), tolerance, public-url,
 * legacy-sha1, and for provider = hmac: header, algorithm, encoding, prefix,
 * timestamp-header, id-header, signed-content, secret-encoding.
 * A secret is decoded as soon as the provider is known, so put provider
 * first and a malformed secret is reported on its own line.
 *
 * Returns 0; HW_ENOTFOUND for a key that is not ours (the caller may own it,
 * e.g. the relay's enforce); HW_EINVAL for a bad value; HW_ENOMEM. On any
 * error *why (if why is not NULL) is set to a static text naming the key,
 * fit for "file:line: text". Never logs the value. Only before finalize.
 */
int hw_sig_source_set(struct hw_sig_source *src, const char *key, const char *value,
                      const char **why);

/*
 * Checks that the configuration is complete and consistent, decodes every
 * secret into its key (HMAC key, Ed25519 or ECDSA public key), prepares the
 * HMAC states and wipes the secrets' text. Returns 0, HW_ECONFIG with *why
 * set (no provider, no secret, a generic field used with another provider,
 * a malformed secret, ...), or HW_ENOMEM. After success the source is
 * read-only.
 */
int hw_sig_source_finalize(struct hw_sig_source *src, const char **why);

/* Wipes all key material (sodium_memzero) and frees the source. NULL is fine. */
void hw_sig_source_free(struct hw_sig_source *src);

/* The source's name and its provider's canonical name ("github", ...). */
const char *hw_sig_source_name(const struct hw_sig_source *src);
const char *hw_sig_source_provider(const struct hw_sig_source *src);

/*
 * Verifies req against a finalized source and fills *res (always, even on
 * error). Returns 0 when authentic, HW_EAUTH when not (res->reason says
 * why), or HW_ENOMEM when a working buffer could not be had (res->reason is
 * HW_SIG_INTERNAL); callers treat every non-zero as "not verified". The work
 * is a small multiple of the body size (one MAC per secret, at most 8 Ed25519
 * attempts); compares in constant time and wipes computed MACs. Any thread,
 * concurrently on one source.
 */
int hw_sig_verify(const struct hw_sig_source *src, const struct hw_sig_request *req,
                  struct hw_sig_result *res);

/* A stable snake_case token for a reason ("no_match"), for logs and metric labels. */
const char *hw_sig_reason_str(enum hw_sig_reason reason);

#endif
