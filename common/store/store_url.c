/*
 * Parses store URLs (see store_url.h) into their parts, decoding %XX escapes
 * so that passwords may hold '@', ':' or '/'. Builds the password-free name
 * used in every log line about the store. Pure functions; any thread.
 */
#include "store_url.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/text.h"
#include "store.h"

/* Stores a NUL-terminated, percent-decoded copy of s[0..n) in *out. */
static int decode(const char *s, size_t n, char **out)
{
    char *d = malloc(n + 1);
    size_t j = 0;

    if (!d)
        return HW_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            d[j++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? hw_hex_value(s[i + 1]) : -1;
        int lo = i + 2 < n ? hw_hex_value(s[i + 2]) : -1;
        /* A decoded NUL would silently cut the string short. */
        if (hi < 0 || lo < 0 || (hi | lo) == 0) {
            sodium_memzero(d, n + 1);
            free(d);
            return HW_ECONFIG;
        }
        d[j++] = (char)(hi * 16 + lo);
        i += 2;
    }
    d[j] = '\0';
    *out = d;
    return 0;
}

static int parse_port(const char *s, size_t n, unsigned *port)
{
    int v;

    if (hw_text_port(s, n, &v) || v == 0)
        return HW_ECONFIG;
    *port = (unsigned)v;
    return 0;
}

/* Parses "socket=PATH" and "timeout=SECONDS", joined with '&'; q points after the '?'. */
static int parse_query(const char *q, struct hw_store_url *u)
{
    while (*q) {
        const char *end = strchr(q, '&');
        size_t n = end ? (size_t)(end - q) : strlen(q);
        int err = 0;

        if (n > 7 && strncmp(q, "socket=", 7) == 0 && !u->socket) {
            err = decode(q + 7, n - 7, &u->socket);
        } else if (n > 8 && n < 13 && strncmp(q, "timeout=", 8) == 0) {
            char num[8];
            char *stop;
            long v;

            memcpy(num, q + 8, n - 8);
            num[n - 8] = '\0';
            v = strtol(num, &stop, 10);
            if (*stop || v < 1 || v > 3600)
                return HW_ECONFIG;
            u->timeout_s = (unsigned)v;
        } else {
            return HW_ECONFIG;
        }
        if (err)
            return err;
        q += n + (end ? 1 : 0);
        if (end && !*q)
            return HW_ECONFIG;
    }
    return 0;
}

/* Parses "HOST[:PORT]" or "[V6]:PORT"; an empty host is allowed (socket only). */
static int parse_host(const char *h, size_t n, struct hw_store_url *u)
{
    const char *end = h + n, *name = h, *name_end, *port = NULL;

    if (n && h[0] == '[') {
        const char *close = memchr(h, ']', n);
        if (!close)
            return HW_ECONFIG;
        /* libmysqlclient wants the bare address without brackets. */
        name = h + 1;
        name_end = close;
        if (close + 1 < end) {
            if (close[1] != ':')
                return HW_ECONFIG;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(h, ':', n);
        name_end = colon ? colon : end;
        if (colon)
            port = colon + 1;
    }
    if (port && parse_port(port, (size_t)(end - port), &u->port) < 0)
        return HW_ECONFIG;
    if (name_end == name)
        return 0;
    return decode(name, (size_t)(name_end - name), &u->host);
}

/* Builds the log name: the URL with the password left out. */
static int build_name(struct hw_store_url *u)
{
    struct hw_buf b;
    int err;

    hw_buf_init(&b, 8192);
    err = hw_buf_printf(&b, "mysql://%s@", u->user);
    if (!err && u->host)
        err = hw_buf_printf(&b, strchr(u->host, ':') ? "[%s]" : "%s", u->host);
    if (!err && u->port)
        err = hw_buf_printf(&b, ":%u", u->port);
    if (!err)
        err = hw_buf_printf(&b, "/%s", u->db);
    if (!err && u->socket)
        err = hw_buf_printf(&b, "?socket=%s", u->socket);
    if (!err && u->timeout_s)
        err = hw_buf_printf(&b, "%ctimeout=%u", u->socket ? '&' : '?', u->timeout_s);
    if (!err)
        err = hw_buf_append(&b, "", 1);
    if (err) {
        hw_buf_cleanup(&b);
        return err == HW_E2BIG ? HW_ECONFIG : err;
    }
    u->name = b.data;
    return 0;
}

static int parse_mysql(const char *url, struct hw_store_url *u, char *why, size_t cap)
{
    const char *rest = url + strlen("mysql://");
    const char *q = strchr(rest, '?');
    const char *end = q ? q : rest + strlen(rest);
    const char *at, *slash, *colon;
    int err;

    u->kind = HW_STORE_KIND_MYSQL;
    /* The last '@' ends the user part, so an unescaped '@' in a password still works. */
    at = memrchr(rest, '@', (size_t)(end - rest));
    if (!at) {
        snprintf(why, cap, "mysql:// needs USER@HOST/DB");
        return HW_ECONFIG;
    }
    slash = memchr(at + 1, '/', (size_t)(end - at - 1));
    if (!slash || slash + 1 == end || memchr(slash + 1, '/', (size_t)(end - slash - 1))) {
        snprintf(why, cap, "mysql:// needs one database name after the host: .../DB");
        return HW_ECONFIG;
    }
    colon = memchr(rest, ':', (size_t)(at - rest));
    err = decode(rest, (size_t)((colon ? colon : at) - rest), &u->user);
    if (!err && colon)
        err = decode(colon + 1, (size_t)(at - colon - 1), &u->password);
    if (!err)
        err = parse_host(at + 1, (size_t)(slash - at - 1), u);
    if (!err)
        err = decode(slash + 1, (size_t)(end - slash - 1), &u->db);
    if (!err && q)
        err = parse_query(q + 1, u);
    if (err == HW_ECONFIG || (!err && (!u->user[0] || (!u->host && !u->socket)))) {
        snprintf(why, cap,
                 "expected mysql://USER[:PASS]@HOST[:PORT]/DB[?socket=PATH][&timeout=S] (S from 1 "
                 "to 3600 seconds; %%-encode special characters)");
        return HW_ECONFIG;
    }
    if (err)
        return err;
    if (!u->password) {
        const char *env = getenv("HOOKWIRE_MYSQL_PASSWORD");
        if (env && !(u->password = strdup(env)))
            return HW_ENOMEM;
    }
    return build_name(u);
}

int hw_store_url_read(const char *url, struct hw_store_url *u, char *why, size_t cap)
{
    memset(u, 0, sizeof(*u));
    /* The one refusal that names no rule of its own: a name past build_name()'s buffer. */
    snprintf(why, cap, "too long (a store URL is at most about 8 KiB)");
    if (strncmp(url, "sqlite:", 7) == 0) {
        u->kind = HW_STORE_KIND_SQLITE;
        if (!url[7]) {
            snprintf(why, cap,
                     "sqlite: needs a file path, e.g. sqlite:/var/lib/hookwire/events.db");
            return HW_ECONFIG;
        }
        static const char unsafe[] = "?unsafe_sync=off";
        size_t n = strlen(url + 7), k = sizeof(unsafe) - 1;

        /* Only for tests that must show a missing fsync is caught; never in production. */
        if (n > k && strcmp(url + 7 + n - k, unsafe) == 0) {
            u->unsafe_nosync = 1;
            n -= k;
        }
        /* Nothing else follows a '?': a file named "events.db?cache=shared" is a mistake. */
        if (memchr(url + 7, '?', n)) {
            snprintf(why, cap,
                     "sqlite:PATH takes no ?parameters (a '?' in the path is refused too)");
            return HW_ECONFIG;
        }
        u->path = strndup(url + 7, n);
        u->name = strdup(url);
        return u->path && u->name ? 0 : HW_ENOMEM;
    }
    if (strncmp(url, "mysql://", 8) == 0)
        return parse_mysql(url, u, why, cap);
    snprintf(why, cap, "must start with sqlite: or mysql://");
    return HW_ECONFIG;
}

int hw_store_url_parse(const char *url, struct hw_store_url *u)
{
    char why[256];
    int err = hw_store_url_read(url, u, why, sizeof(why));

    if (err == HW_ECONFIG)
        HW_ERR("store URL: %s", why);
    return err;
}

void hw_store_url_cleanup(struct hw_store_url *u)
{
    if (u->password) {
        sodium_memzero(u->password, strlen(u->password));
        free(u->password);
    }
    free(u->path);
    free(u->user);
    free(u->host);
    free(u->db);
    free(u->socket);
    free(u->name);
    memset(u, 0, sizeof(*u));
}

void hw_store_url_masked(const char *url, char *out, size_t cap)
{
    const char *auth = strstr(url, "://"), *q = strchr(url, '?'), *at, *colon;
    const char *end = q ? q : url + strlen(url);
    /* From the user part on; in a URL the parser cannot read, from the scheme's colon on. */
    const char *from = auth ? auth + 3 : url;

    /* The last '@' ends the user part, as parse_mysql() reads it. */
    at = memrchr(url, '@', (size_t)(end - url));
    if (at && at > from && (colon = memchr(from, ':', (size_t)(at - from))))
        snprintf(out, cap, "%.*s:***%s", (int)(colon - url), url, at);
    else
        snprintf(out, cap, "%s", url);
}
