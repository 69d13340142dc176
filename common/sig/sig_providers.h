#ifndef HW_SIG_PROVIDERS_H
#define HW_SIG_PROVIDERS_H

/*
 * The provider table and the steps every verifier shares (timestamp window,
 * matching decoded signatures against MACs made with each key). Private to
 * common/sig*. Any thread.
 */
#include <stddef.h>
#include <stdint.h>

#include "sig_parse.h"
#include "sig_source.h"

/* Finds a provider by its name ("github", "standard-webhooks", ...); NULL if unknown. */
const struct hw_sig_provider *hw_sig_provider_find(const char *name);

/*
 * Parses the timestamp text ts[0..n) from header hdr, stores it in
 * res->timestamp and checks it against req->now +- src->tolerance.
 * Returns HW_SIG_OK, HW_SIG_MALFORMED or HW_SIG_TIMESTAMP_OUT_OF_RANGE.
 */
enum hw_sig_reason hw_sig_check_ts(const struct hw_sig_source *src,
                                   const struct hw_sig_request *req, struct hw_sig_result *res,
                                   const char *ts, size_t n, const char *hdr);

/* Decoded signatures awaiting comparison. */
struct hw_sig_decoded {
    unsigned char b[HW_SIG_MAX_CANDS][HW_SIG_MAX_SIG];
    size_t len[HW_SIG_MAX_CANDS];
    size_t n;
};

/*
 * Computes HMAC-alg over parts with each HMAC key of src and compares it in
 * constant time with every decoded signature of the right length. Returns
 * HW_SIG_OK (res->secret_index set), HW_SIG_NO_MATCH or HW_SIG_INTERNAL.
 * The computed MACs are wiped.
 */
enum hw_sig_reason hw_sig_match_hmac(const struct hw_sig_source *src, enum hw_sig_alg alg,
                                     const struct hw_sig_part *parts, size_t nparts,
                                     const struct hw_sig_decoded *d, struct hw_sig_result *res);

#endif
