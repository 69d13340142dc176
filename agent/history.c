/*
 * `hookwire-agent events|show|replay`: one blocking HTTP/1.1 call to the
 * relay's history API (relay/history.c) with the channel token, and its
 * answer printed. Plain TCP for ws:// relays, OpenSSL for wss:// (with
 * --ca-file, or --insecure for self-signed test relays). Every wait has a
 * deadline (IO_TIMEOUT_S per read or write) and the answer a size cap.
 * Main thread, or the inspector's relay threads for agent_history_call();
 * never touches lws.
 */
#include "history.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "agent.h"
#include "core/buf.h"
#include "core/err.h"

#define IO_TIMEOUT_S 10
#define ANSWER_MAX   (64u * 1024 * 1024) /* a raw body is at most 25 MiB */

struct conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
};

static int dial(const char *host, int port)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
    struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
    char svc[16];
    int fd = -1;

    snprintf(svc, sizeof(svc), "%d", port);
    if (getaddrinfo(host, svc, &hints, &res))
        return -1;
    for (ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        /* The timeouts bound connect (Linux applies SO_SNDTIMEO to it), reads and writes. */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen)) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static int conn_open(struct conn *c, struct agent *a)
{
    memset(c, 0, sizeof(*c));
    c->fd = dial(a->relay_url.host, a->relay_url.port);
    if (c->fd < 0)
        return HW_EIO;
    if (!a->relay_url.tls)
        return 0;
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx)
        return HW_ENOMEM;
    if (a->cfg.insecure) {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
        if (a->cfg.ca_file ? SSL_CTX_load_verify_locations(c->ctx, a->cfg.ca_file, NULL) != 1
                           : SSL_CTX_set_default_verify_paths(c->ctx) != 1)
            return HW_EIO;
    }
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl)
        return HW_ENOMEM;
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, a->relay_url.host);
    if (!a->cfg.insecure)
        SSL_set1_host(c->ssl, a->relay_url.host);
    return SSL_connect(c->ssl) == 1 ? 0 : HW_EIO;
}

static void conn_close(struct conn *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
}

static int conn_write(struct conn *c, const char *p, size_t n)
{
    while (n) {
        ssize_t w = c->ssl ? SSL_write(c->ssl, p, (int)n) : write(c->fd, p, n);

        if (w <= 0)
            return HW_EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads until the peer closes (the request says Connection: close). */
static int conn_read_all(struct conn *c, struct hw_buf *b)
{
    for (;;) {
        char *p = hw_buf_reserve(b, 65536);
        ssize_t r;

        if (!p)
            return HW_E2BIG;
        r = c->ssl ? SSL_read(c->ssl, p, 65536) : read(c->fd, p, 65536);
        if (r == 0 || (r < 0 && c->ssl && SSL_get_error(c->ssl, (int)r) == SSL_ERROR_ZERO_RETURN))
            return 0;
        if (r < 0)
            return HW_EIO;
        hw_buf_commit(b, (size_t)r);
    }
}

int agent_history_call(struct agent *a, const char *method, const char *path, int *status,
                       struct hw_buf *body)
{
    struct hw_buf req, ans;
    struct conn c;
    const char *head, *sep;
    int err;

    hw_buf_init(&req, 16384);
    hw_buf_init(&ans, ANSWER_MAX);
    err = conn_open(&c, a);
    err = err ? err
              : hw_buf_printf(&req,
                              "%s %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
                              "Content-Length: 0\r\nConnection: close\r\n\r\n",
                              method, path, a->relay_url.host, a->relay_url.port, a->token);
    err = err ? err : conn_write(&c, hw_buf_head(&req), hw_buf_size(&req));
    err = err ? err : conn_read_all(&c, &ans);
    conn_close(&c);
    hw_buf_cleanup(&req);
    if (err)
        goto out;
    head = hw_buf_head(&ans);
    sep = hw_buf_size(&ans) > 12 ? memmem(head, hw_buf_size(&ans), "\r\n\r\n", 4) : NULL;
    if (!sep || sscanf(head, "HTTP/1.%*c %d", status) != 1) {
        err = HW_EPROTO;
        goto out;
    }
    /* The relay's API answers with Content-Length and closes: the rest is the body. */
    err = hw_buf_append(body, sep + 4, hw_buf_size(&ans) - (size_t)(sep + 4 - head));
out:
    hw_buf_cleanup(&ans);
    return err;
}

static int usage(void)
{
    fprintf(stderr, "usage: hookwire-agent [OPTIONS] events [--limit N] [--status S] [--cursor C]\n"
                    "       hookwire-agent [OPTIONS] show ID [--body]\n"
                    "       hookwire-agent [OPTIONS] replay ID\n");
    return 2;
}

/* Query parameters are digits or status names: anything else is refused here. */
static int plain(const char *s)
{
    return s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789") == strlen(s);
}

int agent_history_command(struct agent *a, int argc, char **argv)
{
    char path[512];
    const char *verb = argv[0], *method = "GET";
    struct hw_buf body;
    int status = 0, err, n = 0, raw = 0;

    if (strcmp(verb, "events") == 0) {
        n = snprintf(path, sizeof(path), "/api/events?x=1");
        /* Flags come in pairs: --limit N, --status S, --cursor C. */
        for (int i = 1; i < argc; i += 2) {
            const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";

            if ((strcmp(k, "--limit") && strcmp(k, "--status") && strcmp(k, "--cursor")) ||
                !plain(v) || strlen(v) > 32)
                return usage();
            n += snprintf(path + n, sizeof(path) - (size_t)n, "&%s=%s", k + 2, v);
            if ((size_t)n >= sizeof(path))
                return usage(); /* flags repeated past any sense */
        }
    } else if ((strcmp(verb, "show") == 0 || strcmp(verb, "replay") == 0) && argc >= 2 &&
               plain(argv[1] + (strncmp(argv[1], "evt_", 4) == 0 ? 4 : 0)) &&
               strlen(argv[1]) < 64) {
        raw = strcmp(verb, "show") == 0 && argc == 3 && strcmp(argv[2], "--body") == 0;
        if (argc > (raw ? 3 : 2))
            return usage();
        if (strcmp(verb, "replay") == 0) {
            method = "POST";
            snprintf(path, sizeof(path), "/api/events/%s/replay", argv[1]);
        } else {
            snprintf(path, sizeof(path), "/api/events/%s%s", argv[1], raw ? "/body" : "");
        }
    } else {
        return usage();
    }
    hw_buf_init(&body, ANSWER_MAX);
    err = agent_history_call(a, method, path, &status, &body);
    if (err) {
        fprintf(stderr, "%s: cannot reach the relay at %s:%d: %s\n", verb, a->relay_url.host,
                a->relay_url.port, hw_strerror(err));
        hw_buf_cleanup(&body);
        return 1;
    }
    if (status / 100 != 2) {
        fprintf(stderr, "%s: the relay answered %d: %.*s", verb, status,
                (int)(hw_buf_size(&body) < 300 ? hw_buf_size(&body) : 300),
                (const char *)hw_buf_head(&body));
        hw_buf_cleanup(&body);
        return 1;
    }
    fwrite(hw_buf_head(&body), 1, hw_buf_size(&body), stdout);
    hw_buf_cleanup(&body);
    return 0;
}
