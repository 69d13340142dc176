#ifndef HW_SIG_PARSE_H
#define HW_SIG_PARSE_H

/*
 * The parsers behind signature verification, kept apart from the crypto so
 * they can be unit-tested and fuzzed on their own: header lookup and
 * trimming, hex/base64, timestamps, the signature-list formats (Stripe,
 * Paddle, Standard Webhooks), a top-level JSON string lookup for dedup keys,
 * and form/query decoding for Twilio. All inputs are (pointer, length) and
 * need no NUL; nothing allocates; any thread.
 */
#include <stddef.h>
#include <stdint.h>

#include "http/httphdr.h"

/* At most this many entries in one signature list; more is HW_E2BIG. It
 * bounds the work an attacker can ask for (each Ed25519 entry costs a
 * verification over the whole body). */
#define HW_SIG_MAX_CANDS 8

/* Largest decoded signature we accept (an Ed25519 signature or SHA-512 MAC). */
#define HW_SIG_MAX_SIG 72

/* Removes spaces and tabs from both ends of [*p, *p + *n). */
void hw_sig_trim(const char **p, size_t *n);

/*
 * Finds the header named name (ASCII case-insensitive) and returns 1 with
 * its trimmed value in *v, *vn (possibly empty), or 0 if there is none or
 * more than one (hw_sig_verify() then says HW_SIG_REPEATED_HEADER).
 */
int hw_sig_header(const struct hw_http_header *h, size_t nh, const char *name, const char **v,
                  size_t *vn);

/* How many headers are named name (ASCII case-insensitive). */
size_t hw_sig_header_count(const struct hw_http_header *h, size_t nh, const char *name);

/*
 * Decodes hex (either case) or base64 (standard alphabet, padding optional
 * but correct when present) into out[0..max). Returns 0 with *outn set,
 * HW_EPARSE for a bad character, odd hex length or bad padding, or HW_E2BIG
 * when the result would not fit in max bytes. An empty input is HW_EPARSE.
 */
int hw_sig_hex_decode(const char *s, size_t n, unsigned char *out, size_t max, size_t *outn);
int hw_sig_b64_decode(const char *s, size_t n, unsigned char *out, size_t max, size_t *outn);

/* Parses a Unix timestamp: 1 to 15 ASCII digits, nothing else. 0 or HW_EPARSE. */
int hw_sig_parse_ts(const char *s, size_t n, int64_t *ts);

/* One signature from a list: its scheme tag ("v1", "h1", ...) and encoded value. */
struct hw_sig_cand {
    const char *tag;
    size_t tag_len;
    const char *val;
    size_t val_len;
};

struct hw_sig_list {
    const char *ts; /* the list's own timestamp (Stripe t=, Paddle ts=), or NULL */
    size_t ts_len;
    struct hw_sig_cand c[HW_SIG_MAX_CANDS];
    size_t n;
};

/*
 * Parses "KEY=VALUE" items separated by sep (',' for Stripe-Signature, ';'
 * for Paddle-Signature), spaces around items ignored. The item whose key is
 * ts_key is the timestamp and must appear exactly once; every other item
 * becomes a candidate tagged with its key (unknown tags are kept; callers
 * pick theirs). Returns 0, HW_EPARSE (empty item, no '=', empty key or
 * value, missing or repeated timestamp) or HW_E2BIG (too many items).
 */
int hw_sig_parse_kv_list(const char *s, size_t n, char sep, const char *ts_key,
                         struct hw_sig_list *out);

/*
 * Parses a Standard Webhooks signature header: entries "TAG,VALUE"
 * separated by one or more spaces. Same returns as hw_sig_parse_kv_list();
 * an entry without a comma or with an empty part is HW_EPARSE. out->ts is NULL.
 */
int hw_sig_parse_sw_list(const char *s, size_t n, struct hw_sig_list *out);

/*
 * Looks up key among the members of the top-level JSON object in s and, if
 * its value is a string without escapes, returns 0 with the raw bytes
 * between the quotes. Nested values are skipped, not searched. Returns
 * HW_ENOTFOUND when absent (or not a plain string) and HW_EPARSE when s is
 * not an object as far as it was read. Linear, no recursion.
 */
int hw_sig_json_string(const char *s, size_t n, const char *key, const char **v, size_t *vn);

/*
 * Looks up key among the members of the top-level JSON object in s and
 * returns 0 with its value's raw bytes, whatever its type: a string with its
 * quotes, a number, a literal, or a whole nested object or array (which can
 * be searched in turn). The first member of that name wins. Same returns as
 * hw_sig_json_string() otherwise; a malformed value is HW_EPARSE.
 */
int hw_sig_json_member(const char *s, size_t n, const char *key, const char **v, size_t *vn);

/*
 * Decodes application/x-www-form-urlencoded text: '+' is a space, "%XX" a
 * byte, a '%' not followed by two hex digits stays as it is. out must hold n
 * bytes; returns the decoded length (never more than n).
 */
size_t hw_sig_form_decode(const char *s, size_t n, char *out);

/*
 * Finds the first query parameter named key (compared as sent, not decoded)
 * in a request-target "path?query" and returns 1 with its raw value, or 0.
 */
int hw_sig_query_param(const char *target, size_t n, const char *key, const char **v, size_t *vn);

#endif
