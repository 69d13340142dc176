#ifndef RECV_ADMIT_H
#define RECV_ADMIT_H

/*
 * Admission of one complete webhook request: which source its path names,
 * whether its signature is authentic, whether it is a provider handshake
 * answered here, and what to store otherwise (the verification result and
 * the provider's delivery id for deduplication). No I/O: the HTTP server
 * hands over the parsed head and the body (already capped at max-body), and
 * acts on the verdict. Any thread; sources are read-only after startup.
 */
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "handshake.h"
#include "http/http1.h"
#include "http/hwerror.h"
#include "sig/sig.h"

/* A request-target split under the path prefix: PREFIX/SOURCE[/rest][?query]. */
struct recv_route {
    const char *source; /* the name as sent (not yet looked up) */
    size_t source_len;
    const char *path; /* the rest of the path after the name: "" or "/..." */
    size_t path_len;
    const char *query; /* after '?', without it; NULL when the target has no '?' */
    size_t query_len;
};

/*
 * Splits target[0..len) (origin-form) under prefix (config's path-prefix,
 * no trailing slash). Returns 0 with *r pointing into target,
 * HW_ENOTFOUND when the target is not PREFIX/NAME... with a non-empty NAME,
 * or HW_EINVAL when the path after NAME holds a "." or ".." segment (raw
 * or %2e), an encoded slash or backslash, or a backslash: a backend that
 * normalises it would route the delivery outside deliver-to's path; and
 * when a target under prefix holds a raw byte past ASCII, which backends'
 * HTTP parsers refuse (it would be stored and never delivered), or a '#',
 * which a request target never holds and a WHATWG URL parser reads as the
 * end of the path ("/..#" is "/..").
 */
int recv_route_parse(const char *prefix, const char *target, size_t len, struct recv_route *r);

enum recv_admit_verdict {
    RECV_ADMIT_STORE,     /* authentic (or an unverified source): store, then answer 200 */
    RECV_ADMIT_HANDSHAKE, /* answer with .handshake; neither store nor deliver */
    RECV_ADMIT_REFUSE,    /* answer the error .errc; nothing stored */
};

struct recv_admission {
    enum recv_admit_verdict verdict;
    const struct recv_source *source; /* NULL when the path names none */
    struct recv_route route;
    enum hw_errc errc;         /* REFUSE: HW_ERRC_UNKNOWN_SOURCE or HW_ERRC_SIGNATURE */
    enum hw_sig_reason reason; /* why the signature failed, for the log and metrics only */
    const char *reason_header; /* the header the reason concerns, or NULL (static/owned by src) */
    int verified;              /* STORE: 1 signature checked, 0 provider = none */
    char dedup_key[HW_SIG_DEDUP_MAX + 1]; /* STORE: provider delivery id, "" if none */
    struct recv_handshake_answer handshake;
};

/*
 * Decides what to do with a complete request: head as parsed by
 * hw_http_parse_request(), body[0..len) its whole body, now the current
 * Unix time in seconds. Fills *a (always) and returns 0, or HW_ENOMEM when
 * verification could not get memory (answer 503 so the provider retries).
 * Never logs; the caller logs a refusal's reason with the source's name.
 */
int recv_admit(const struct recv_config *cfg, const struct hw_http_head *head, const void *body,
               size_t len, int64_t now, struct recv_admission *a);

#endif
