/*
 * Deliveries (outgoing.h): the hosts a delivery can go to, the request
 * head built from a stored event and its source, signed with the
 * receiver's key, and the outcome of an answer on the retry schedule. Owns
 * nothing; any thread.
 */
#include "outgoing.h"

#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "http/http1.h"

/* Splits the stored header block into lines; fills head->headers. */
static int split_headers(const char *p, size_t n, struct hw_http_head *head)
{
    const char *end = p + n;

    head->nheaders = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *colon;
        struct hw_http_header *h;

        if (!eol || eol == p || eol[-1] != '\r')
            return HW_EPARSE;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p)
            return HW_EPARSE;
        if (head->nheaders == HW_HTTP_MAX_HEADERS)
            return HW_E2BIG;
        h = &head->headers[head->nheaders++];
        h->name = p;
        h->name_len = (size_t)(colon - p);
        h->value = colon + 1;
        h->value_len = (size_t)(eol - 1 - h->value);
        p = eol + 1;
    }
    return 0;
}

static int name_is(const struct hw_http_header *h, const char *name)
{
    size_t n = strlen(name);

    return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

const char *recv_outgoing_host_problem(const struct hw_url *u)
{
    if (strchr(u->host, '@'))
        return "a user or password in the URL is not supported (the backend checks "
               "Hookwire-Signature instead)";
    if (strchr(u->host, ':'))
        return "an IPv6 address is not supported: use a host name or an IPv4 address";
    return NULL;
}

/* deliver-to's path joined with the event's path and both queries. */
static int append_target(struct hw_buf *out, const struct recv_source *src,
                         const struct recv_outgoing *ev)
{
    const char *base = src->deliver_url.path, *bq = strchr(base, '?');
    size_t blen = bq ? (size_t)(bq - base) : strlen(base);
    const char *path = ev->path ? ev->path : "";
    const char *query = ev->query ? ev->query : "";
    int err;

    /* "/hooks/" + "/push" must not become "/hooks//push". */
    if (blen && base[blen - 1] == '/' && path[0] == '/')
        blen--;
    err = hw_buf_append(out, base, blen);
    err = err ? err : hw_buf_puts(out, path);
    if (!err && (bq || query[0]))
        err = hw_buf_printf(out, "?%s%s%s", bq ? bq + 1 : "", bq && bq[1] && query[0] ? "&" : "",
                            query);
    return err;
}

int recv_outgoing_head(const struct recv_source *src, const struct hw_signer *signer,
                       const struct recv_outgoing *ev, unsigned attempt, int64_t now,
                       struct hw_buf *out)
{
    struct hw_http_head head, *h = &head;
    char sig[HW_SIGN_MAX];
    int err, has_host = 0, has_length = 0;

    memset(h, 0, sizeof(*h));
    err = split_headers(ev->headers, ev->headers_len, h);
    if (!err)
        err = hw_signer_sign(signer, ev->event_id, strlen(ev->event_id), now, ev->body,
                             ev->body_len, sig);
    err = err ? err : hw_buf_printf(out, "%s ", ev->method);
    err = err ? err : append_target(out, src, ev);
    err = err ? err : hw_buf_puts(out, " HTTP/1.1\r\n");
    for (size_t i = 0; i < h->nheaders && !err; i++) {
        const struct hw_http_header *hd = &h->headers[i];

        /* Hookwire-* are ours to set (a sender must not forge an id or a signature), and
         * identical repeats of Content-Length were one length to the parser: one line goes. */
        if (hw_http_is_hop_by_hop(h, hd) || name_is(hd, "expect") ||
            (hd->name_len >= 9 && strncasecmp(hd->name, "hookwire-", 9) == 0) ||
            (has_length && name_is(hd, "content-length")))
            continue;
        has_host |= name_is(hd, "host");
        if (name_is(hd, "content-length")) {
            /* Written from the body's length in its place: the value as received may carry
             * whitespace HTTP allows ("2\t") and backends' parsers refuse (Node's). */
            has_length = 1;
            err = hw_buf_printf(out, "Content-Length: %zu\r\n", ev->body_len);
            continue;
        }
        err = hw_buf_append(out, hd->name, hd->name_len);
        err = err ? err : hw_buf_append(out, ":", 1);
        err = err ? err : hw_buf_append(out, hd->value, hd->value_len);
        err = err ? err : hw_buf_append(out, "\r\n", 2);
    }
    if (!err && !has_host) {
        const struct hw_url *u = &src->deliver_url;

        /* An IPv6 literal is bracketed in Host, as in the URL. */
        const char *lb = strchr(u->host, ':') ? "[" : "", *rb = lb[0] ? "]" : "";

        err = u->port == (u->tls ? 443 : 80)
                  ? hw_buf_printf(out, "Host: %s%s%s\r\n", lb, u->host, rb)
                  : hw_buf_printf(out, "Host: %s%s%s:%d\r\n", lb, u->host, rb, u->port);
    }
    if (!err && !has_length)
        err = hw_buf_printf(out, "Content-Length: %zu\r\n", ev->body_len);
    if (!err)
        err = hw_buf_printf(out,
                            "Hookwire-Event-Id: %s\r\nHookwire-Attempt: %u\r\n"
                            "Hookwire-Timestamp: %lld\r\nHookwire-Signature: %s\r\n\r\n",
                            ev->event_id, attempt, (long long)now, sig);
    return err;
}

enum recv_outcome recv_outcome(const struct recv_schedule *s, unsigned attempt, int status,
                               const char *retry_after, size_t ra_len, int64_t now,
                               uint64_t *delay_ms)
{
    if (status >= 200 && status <= 299)
        return RECV_DELIVERED;
    return recv_schedule_next(s, attempt, retry_after, ra_len, now, delay_ms) == 1 ? RECV_RETRY
                                                                                   : RECV_FAILED;
}
