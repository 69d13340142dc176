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
 * HW_EINVAL (unknown scheme, empty host, bad port, overlong parts).
 */
int hw_url_parse(const char *s, struct hw_url *u);

/*
 * Parses "HOST:PORT" (HOST may be "[v6]" or empty for all interfaces).
 * Returns 0 or HW_EINVAL.
 */
int hw_hostport_parse(const char *s, char *host, size_t cap, int *port);

#endif
