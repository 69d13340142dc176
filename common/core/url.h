#ifndef HW_URL_H
#define HW_URL_H

/*
 * Parsing of the addresses programs are given: "HOST:PORT" listen addresses
 * and http(s)/ws(s) URLs. No allocation; any thread.
 */
#include <stddef.h>

struct hw_url {
    char scheme[8]; /* "http", "https", "ws" or "wss" */
    char host[256];
    int port;        /* explicit, or the scheme's default */
    char path[1024]; /* "/" when the URL has none; includes any query */
    int tls;         /* https or wss */
};

/*
 * Parses an absolute URL with scheme http, https, ws or wss. Returns 0 or
 * HW_EINVAL (unknown scheme, empty host, a port outside 1-65535, overlong parts, a space
 * or control byte anywhere). A user part is left in host: callers that
 * send no credentials refuse a host with '@'.
 */
int hw_url_parse(const char *s, struct hw_url *u);

/*
 * Parses "HOST:PORT" (HOST may be "[v6]" or empty for all interfaces).
 * Returns 0 or HW_EINVAL.
 */
int hw_hostport_parse(const char *s, char *host, size_t cap, int *port);

/*
 * Parses a place to forward to as people write it: "3000", ":3000",
 * "localhost:3000", "[::1]:3000", "http://HOST[:PORT][/PREFIX]" or
 * "https://..." (then u->tls is set). A missing host is localhost, a
 * missing scheme http. The path is kept as the prefix of every forwarded
 * request; "/" when there is none. Returns 0 or HW_EINVAL (other schemes,
 * a bad port, overlong parts).
 */
int hw_url_parse_target(const char *s, struct hw_url *u);

/*
 * Writes "scheme://host:port" into out, an IPv6 host in brackets, the port
 * left out when it is the scheme's own (80, 443), followed by the path when
 * with_path is set and the path is not "/". Returns out.
 */
const char *hw_url_format(const struct hw_url *u, int with_path, char *out, size_t cap);

/*
 * Whether a request path (p[0..n), no query) could name another path once a
 * backend decodes and normalises it: a "." or ".." segment (raw or %2e, also
 * with parameters after a raw or encoded ';', as "..;x" reads on servers that
 * drop them), a segment that is empty or only parameters ("//host/x" reads as
 * another host), an encoded slash or backslash (%2f, %5c), a raw backslash,
 * or a '#' (no fragment belongs in a request, yet a WHATWG URL parser ends
 * the path there: "/..#" reads as "/.."), or a byte a lenient decoder
 * reads as another: a '%' starting no escape, an encoded '%' (decoded
 * twice), a NUL, an overlong UTF-8 lead ("%c0%ae" is '.'), or a character
 * Unicode compatibility normalisation makes '.', '..', '/' or '\' (the
 * fullwidth full stop U+FF0E, the two dot leader U+2025 and their kin, raw
 * or escaped). Providers send none of
 * them; a trailing slash is kept. 1 or 0.
 */
int hw_url_path_escapes(const char *p, size_t n);

#endif
