/*
 * Admission (admit.h): the path prefix and source lookup, the signature
 * check through common/sig with the receiver's public URL, and the provider
 * handshakes. Owns nothing; any thread.
 */
#include "admit.h"

#include <string.h>

#include "core/err.h"
#include "core/url.h"

/* Whether target[0..len) is under prefix[0..plen), on a segment boundary. */
static int prefix_is(const char *prefix, size_t plen, const char *target, size_t len)
{
    return len > plen + 1 && memcmp(target, prefix, plen) == 0 && target[plen] == '/';
}

int recv_route_parse(const char *prefix, const char *target, size_t len, struct recv_route *r)
{
    size_t plen = strlen(prefix), i, name_end;
    const char *q;

    memset(r, 0, sizeof(*r));
    /*
     * Raw bytes past ASCII (HTTP allows them as obs-text) are what backends' parsers refuse. A
     * '#' has no place in a request target (RFC 9112 3.2: no fragment), yet a WHATWG URL parser
     * (Node's new URL()) ends the path there: "/hooks/..#" resolves to "/", outside deliver-to.
     */
    for (i = 0; i < len; i++)
        if ((unsigned char)target[i] >= 0x80 || target[i] == '#')
            return prefix_is(prefix, plen, target, len) ? HW_EINVAL : HW_ENOTFOUND;
    /* The prefix must end on a segment boundary: /api/webhooksX is not under it. */
    if (!prefix_is(prefix, plen, target, len))
        return HW_ENOTFOUND;
    i = plen + 1;
    name_end = i;
    while (name_end < len && target[name_end] != '/' && target[name_end] != '?')
        name_end++;
    if (name_end == i)
        return HW_ENOTFOUND;
    r->source = target + i;
    r->source_len = name_end - i;
    q = memchr(target + name_end, '?', len - name_end);
    r->path = target + name_end;
    r->path_len = (size_t)((q ? q : target + len) - r->path);
    if (q) {
        r->query = q + 1;
        r->query_len = (size_t)(target + len - r->query);
    }
    return hw_url_path_escapes(r->path, r->path_len) ? HW_EINVAL : 0;
}

int recv_admit(const struct recv_config *cfg, const struct hw_http_head *head, const void *body,
               size_t len, int64_t now, struct recv_admission *a)
{
    const struct recv_source *src;
    struct hw_sig_request req;
    struct hw_sig_result res;
    int rc;

    memset(a, 0, sizeof(*a));
    a->verdict = RECV_ADMIT_REFUSE;
    a->errc = HW_ERRC_UNKNOWN_SOURCE;
    rc = recv_route_parse(cfg->path_prefix, head->target, head->target_len, &a->route);
    if (rc == HW_EINVAL)
        a->errc = HW_ERRC_BAD_REQUEST;
    if (rc < 0)
        return 0;
    src = recv_sources_find(&cfg->sources, a->route.source, a->route.source_len);
    if (!src)
        return 0;
    a->source = src;
    if (src->sig) {
        memset(&req, 0, sizeof(req));
        req.method = head->method;
        req.method_len = head->method_len;
        /* URL-signed providers check the public URL the sender was given; it
         * comes from the configuration, never from Host or X-Forwarded-*. */
        req.base_url = cfg->public_url ? cfg->public_url : "";
        req.base_url_len = cfg->public_url ? strlen(cfg->public_url) : 0;
        req.target = head->target;
        req.target_len = head->target_len;
        req.headers = head->headers;
        req.nheaders = head->nheaders;
        req.body = body;
        req.body_len = len;
        req.now = now;
        rc = hw_sig_verify(src->sig, &req, &res);
        if (rc == HW_ENOMEM)
            return HW_ENOMEM;
        if (rc < 0) {
            a->errc = HW_ERRC_SIGNATURE;
            a->reason = res.reason;
            a->reason_header = res.header;
            return 0;
        }
        a->verified = 1;
        memcpy(a->dedup_key, res.dedup_key, res.dedup_len + 1);
    }
    if (recv_handshake_check(src->handshake, src->zoom_secret, body, len, &a->handshake) == 1) {
        a->verdict = RECV_ADMIT_HANDSHAKE;
        return 0;
    }
    a->verdict = RECV_ADMIT_STORE;
    return 0;
}
