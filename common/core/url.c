/*
 * URL and HOST:PORT parsing for command-line and config values. Any thread.
 */
#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "text.h"

/* Splits "host[:port]" of length len; an IPv6 host is bracketed. */
static int split_authority(const char *s, size_t len, char *host, size_t cap, int *port,
                           int need_port)
{
    const char *colon = NULL, *hs = s, *he;

    if (len && s[0] == '[') {
        const char *rb = memchr(s, ']', len);
        if (!rb)
            return HW_EINVAL;
        hs = s + 1;
        he = rb;
        if (rb + 1 < s + len) {
            if (rb[1] != ':')
                return HW_EINVAL;
            colon = rb + 1;
        }
    } else {
        colon = memrchr(s, ':', len);
        he = colon ? colon : s + len;
    }
    if ((size_t)(he - hs) >= cap)
        return HW_EINVAL;
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    if (colon)
        return hw_text_port(colon + 1, (size_t)(s + len - colon - 1), port);
    return need_port ? HW_EINVAL : 0;
}

int hw_hostport_parse(const char *s, char *host, size_t cap, int *port)
{
    return split_authority(s, strlen(s), host, cap, port, 1);
}

int hw_url_parse(const char *s, struct hw_url *u)
{
    static const struct {
        const char *name;
        int port, tls;
    } schemes[] = { { "http", 80, 0 }, { "https", 443, 1 }, { "ws", 80, 0 }, { "wss", 443, 1 } };
    const char *sep = strstr(s, "://"), *auth, *path;
    size_t slen, plen;
    int i;

    memset(u, 0, sizeof(*u));
    if (!sep)
        return HW_EINVAL;
    slen = (size_t)(sep - s);
    for (i = 0; i < 4; i++)
        if (strlen(schemes[i].name) == slen && strncmp(s, schemes[i].name, slen) == 0)
            break;
    if (i == 4)
        return HW_EINVAL;
    memcpy(u->scheme, s, slen);
    u->port = schemes[i].port;
    u->tls = schemes[i].tls;
    auth = sep + 3;
    path = auth + strcspn(auth, "/?#");
    if (split_authority(auth, (size_t)(path - auth), u->host, sizeof(u->host), &u->port, 0) ||
        !u->host[0])
        return HW_EINVAL;
    /* A fragment never goes to the server. */
    plen = strcspn(path, "#");
    if (snprintf(u->path, sizeof(u->path), "%s%.*s", *path == '/' ? "" : "/", (int)plen, path) >=
        (int)sizeof(u->path))
        return HW_EINVAL;
    return 0;
}
