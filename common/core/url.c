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
    /* No space or control byte: each part goes into a request line or a header as it is. */
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return HW_EINVAL;
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
    /* Port 0 is no place to connect to: refused here, every program says so in its words. */
    if (split_authority(auth, (size_t)(path - auth), u->host, sizeof(u->host), &u->port, 0) ||
        !u->host[0] || u->port == 0)
        return HW_EINVAL;
    /* A fragment never goes to the server. */
    plen = strcspn(path, "#");
    if (snprintf(u->path, sizeof(u->path), "%s%.*s", *path == '/' ? "" : "/", (int)plen, path) >=
        (int)sizeof(u->path))
        return HW_EINVAL;
    return 0;
}

int hw_url_parse_target(const char *s, struct hw_url *u)
{
    char url[1400];
    const char *sep = strstr(s, "://");

    if (sep) {
        if (hw_url_parse(s, u) ||
            (strcmp(u->scheme, "http") != 0 && strcmp(u->scheme, "https") != 0))
            return HW_EINVAL;
        return 0;
    }
    /* "3000" and ":3000" are a port on localhost; "HOST:PORT[/PREFIX]" gets http:// in front. */
    if (s[0] && strspn(s, "0123456789") == strlen(s)) {
        if (snprintf(url, sizeof(url), "http://localhost:%s", s) >= (int)sizeof(url))
            return HW_EINVAL;
    } else if (s[0] == ':') {
        if (snprintf(url, sizeof(url), "http://localhost%s", s) >= (int)sizeof(url))
            return HW_EINVAL;
    } else if (snprintf(url, sizeof(url), "http://%s", s) >= (int)sizeof(url)) {
        return HW_EINVAL;
    }
    if (hw_url_parse(url, u))
        return HW_EINVAL;
    /* Without a scheme the port must be written: "localhost" alone is more likely a slip. */
    {
        const char *auth = url + 7, *rb;
        size_t alen = strcspn(auth, "/?#");

        rb = memchr(auth, ']', alen);
        if (rb)
            alen -= (size_t)(rb - auth), auth = rb;
        if (!memchr(auth, ':', alen))
            return HW_EINVAL;
    }
    return 0;
}

const char *hw_url_format(const struct hw_url *u, int with_path, char *out, size_t cap)
{
    int v6 = strchr(u->host, ':') != NULL;
    int tls = strcmp(u->scheme, "https") == 0 || strcmp(u->scheme, "wss") == 0;
    char port[8] = "";

    /* The scheme's own port goes unsaid, as people write it. */
    if (u->port != (tls ? 443 : 80))
        snprintf(port, sizeof(port), ":%d", u->port);
    snprintf(out, cap, "%s://%s%s%s%s%s", u->scheme, v6 ? "[" : "", u->host, v6 ? "]" : "", port,
             with_path && strcmp(u->path, "/") != 0 ? u->path : "");
    return out;
}

/*
 * The byte at s[i], decoded when it is written "%" HEX HEX; *len gets how
 * many characters it takes (3 then, else 1).
 */
static int byte_at(const char *s, size_t n, size_t i, size_t *len)
{
    if (i + 2 < n && s[i] == '%' && hw_hex_value(s[i + 1]) >= 0 && hw_hex_value(s[i + 2]) >= 0) {
        *len = 3;
        return hw_hex_value(s[i + 1]) << 4 | hw_hex_value(s[i + 2]);
    }
    *len = 1;
    return (unsigned char)s[i];
}

/*
 * Whether byte b at s[i] (len characters) is one a lenient decoder reads
 * as another: a '%' that starts no escape or an encoded '%' (decoded twice,
 * "%%32%65" and "%252e" are '.'), a NUL (a C backend ends the path there:
 * "..%00" reads as ".."), or the lead of an overlong UTF-8 form ("%c0%ae",
 * "%e0%80%ae", "%f8%80%80%80%ae": '.' to a decoder that does not check;
 * bytes 0xf5-0xff never begin UTF-8).
 */
static int reads_as_other(const char *s, size_t n, size_t i, int b, size_t len)
{
    size_t next_len;
    int next;

    /* 0xf5-0xff never begin UTF-8: an old decoder reads 0xf8 and 0xfc as 5- and 6-byte forms. */
    if (b == '%' || b == 0 || b == 0xc0 || b == 0xc1 || b >= 0xf5)
        return 1;
    if ((b != 0xe0 && b != 0xf0) || i + len >= n)
        return 0;
    next = byte_at(s, n, i + len, &next_len);
    return next >= 0x80 && next <= (b == 0xe0 ? 0x9f : 0x8f);
}

/*
 * Whether the character at s[i] (lead byte b, raw or escaped, len
 * characters) is one that Unicode compatibility normalisation (NFKC, as
 * some frameworks apply to paths) turns into '.', '..', '/' or '\\':
 * U+2024 one dot leader, U+2025 two dot leader and its vertical form U+FE30,
 * U+FE52 small full stop, U+FE68 small reverse solidus, and the fullwidth
 * U+FF0E, U+FF0F and U+FF3C ("%ef%bc%8e%ef%bc%8e" and "%e2%80%a5" read as "..").
 */
static int normalises_to_separator(const char *s, size_t n, size_t i, int b, size_t len)
{
    static const unsigned char forms[][3] = { { 0xe2, 0x80, 0xa4 }, { 0xe2, 0x80, 0xa5 },
                                              { 0xef, 0xb8, 0xb0 }, { 0xef, 0xb9, 0x92 },
                                              { 0xef, 0xb9, 0xa8 }, { 0xef, 0xbc, 0x8e },
                                              { 0xef, 0xbc, 0x8f }, { 0xef, 0xbc, 0xbc } };
    size_t len2, len3;
    int b2, b3;

    if ((b != 0xe2 && b != 0xef) || i + len >= n)
        return 0;
    b2 = byte_at(s, n, i + len, &len2);
    if (i + len + len2 >= n)
        return 0;
    b3 = byte_at(s, n, i + len + len2, &len3);
    for (size_t k = 0; k < sizeof(forms) / sizeof(forms[0]); k++)
        if (b == forms[k][0] && b2 == forms[k][1] && b3 == forms[k][2])
            return 1;
    return 0;
}

int hw_url_path_escapes(const char *p, size_t n)
{
    size_t i = n && p[0] == '/' ? 1 : 0;

    while (i < n) {
        size_t dots = 0;
        int params = 0; /* past the segment's first ';': its name is over */

        while (i < n && p[i] != '/') {
            size_t len;
            int b = byte_at(p, n, i, &len);
            int dot = b == '.', semi = b == ';';

            /* A slash here is encoded: a raw one ends the segment. */
            if (b == '\\' || b == '/' || (b == '#' && len == 1) ||
                reads_as_other(p, n, i, b, len) || normalises_to_separator(p, n, i, b, len))
                return 1;
            i += len;
            if (params)
                continue; /* the parameters themselves do not count */
            params = semi;
            /* Any other byte makes it a name, not a dot segment. */
            dots = dot ? dots + 1 : semi ? dots : 3;
        }
        if (dots <= 2)
            return 1; /* a dot segment, or one empty or only parameters */
        i++;          /* the slash */
    }
    return 0;
}
