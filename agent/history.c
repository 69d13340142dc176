/*
 * `hookwire-agent events|show|replay`: one blocking HTTP/1.1 call to the
 * relay's history API (relay/history.c) with the channel token, and its
 * answer printed. Plain TCP for ws:// relays, OpenSSL for wss:// (with
 * --ca-file, or --insecure for self-signed test relays). The relay's name
 * is looked up on a thread of its own (core/resolve.h), the socket is
 * non-blocking, and every wait is within the call's deadline: lookup,
 * connect, handshake, request and answer end AGENT_HISTORY_TIMEOUT_S after
 * the start, however slowly the bytes come (-ETIMEDOUT). The answer is read
 * as its framing says (the strict response parser), with a size cap.
 * Main thread, or the inspector's relay threads for agent_history_call();
 * never touches lws.
 */
#include "history.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "core/resolve.h"
#include "core/text.h"
#include "http/chunked.h"
#include "http/http1.h"

#define ANSWER_MAX (64u * 1024 * 1024) /* a raw body is at most 25 MiB */
/* The most one address of the relay's name gets, so that the next is tried within the call. */
#define CONNECT_EACH_MS 10000
/* How often a stop is looked for while the name is looked up. */
#define LOOKUP_STEP_MS 50

struct conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    int64_t deadline_ms; /* hw_mono_ms() at which the call has failed */
    int cancel_fd;       /* readable once the caller gives up (a stop), or -1 */
};

/*
 * Waits until fd is ready for events, until deadline_ms at most: 0,
 * -ETIMEDOUT, or -ECANCELED once c->cancel_fd is readable.
 */
static int wait_until(const struct conn *c, int fd, short events, int64_t deadline_ms)
{
    struct pollfd p[2] = { { .fd = fd, .events = events },
                           { .fd = c->cancel_fd, .events = POLLIN } };

    for (;;) {
        int64_t left = deadline_ms - hw_mono_ms();
        int n;

        if (left <= 0)
            return -ETIMEDOUT;
        n = poll(p, c->cancel_fd >= 0 ? 2 : 1, (int)left);
        if (n > 0)
            return p[1].revents ? -ECANCELED : 0; /* ready, or an error the next call reports */
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

static int wait_ready(const struct conn *c, short events)
{
    return wait_until(c, c->fd, events, c->deadline_ms);
}

/*
 * One address: a connected non-blocking socket in c->fd, or -errno
 * (-ETIMEDOUT past until, -ECANCELED).
 */
static int dial_one(struct conn *c, const struct addrinfo *ai, int64_t until)
{
    int err = 0;
    socklen_t len = sizeof(err);

    c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (c->fd < 0)
        return -errno;
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return 0;
    err = errno == EINPROGRESS ? wait_until(c, c->fd, POLLOUT, until) : -errno;
    if (!err && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0)
        err = -err;
    if (err) {
        close(c->fd);
        c->fd = -1;
    }
    return err;
}

/*
 * The addresses host has, looked up within the call's deadline (the lookup
 * runs on a thread of its own, core/resolve.h): 0, HW_ENOTFOUND (no such
 * name), AGENT_HISTORY_UNRESOLVED (no answer by the deadline, or a failure
 * of the name service, which may pass) or -ECANCELED.
 */
static int lookup(const struct conn *c, const char *host, struct hw_addrs *out)
{
    struct hw_resolve *q;
    struct pollfd p = { .fd = c->cancel_fd, .events = POLLIN };
    int gai = 0, done = 0;

    if (hw_addr_is_numeric(host)) {
        out->n = 1;
        snprintf(out->a[0], sizeof(out->a[0]), "%.*s", HW_ADDR_STRLEN - 1, host); /* it fits */
        return 0;
    }
    q = hw_resolve_start(host);
    if (!q)
        return errno == EAGAIN ? AGENT_HISTORY_UNRESOLVED : HW_ENOMEM; /* 32 lookups hang */
    /* In steps, so that a stop (cancel_fd) is seen while the name server keeps silent. */
    while (!done && hw_mono_ms() < c->deadline_ms) {
        int64_t step = hw_mono_ms() + LOOKUP_STEP_MS;

        done = hw_resolve_wait(q, step < c->deadline_ms ? step : c->deadline_ms, out, &gai);
        if (!done && c->cancel_fd >= 0 && poll(&p, 1, 0) > 0) {
            hw_resolve_drop(q);
            return -ECANCELED;
        }
    }
    hw_resolve_drop(q);
    if (done && !gai)
        return 0;
    /* Only a definite "no such name" is one; a name server that failed may answer next time. */
    return done && (gai == EAI_NONAME || gai == EAI_FAIL
#ifdef EAI_NODATA
                    || gai == EAI_NODATA
#endif
                    )
               ? HW_ENOTFOUND
               : AGENT_HISTORY_UNRESOLVED;
}

/*
 * A connected socket in c->fd, or what lookup() returns, or -errno of the
 * last address tried (-ETIMEDOUT once the deadline passed). Each address
 * gets CONNECT_EACH_MS at most, so an unreachable first one (an IPv6 route
 * that drops) leaves the next its turn.
 */
static int dial(struct conn *c, const char *host, int port)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST }, *ai;
    struct hw_addrs addrs;
    char svc[16];
    int err;

    snprintf(svc, sizeof(svc), "%d", port);
    c->fd = -1;
    err = lookup(c, host, &addrs);
    if (err)
        return err;
    err = HW_EIO;
    for (size_t i = 0;
         i < addrs.n && c->fd < 0 && err != -ECANCELED && hw_mono_ms() < c->deadline_ms; i++) {
        int64_t until = hw_mono_ms() + CONNECT_EACH_MS;

        /* An address in numbers: made into a socket address at once, asking no one. */
        if (getaddrinfo(addrs.a[i], svc, &hints, &ai))
            continue;
        err = dial_one(c, ai, until < c->deadline_ms ? until : c->deadline_ms);
        freeaddrinfo(ai);
    }
    if (c->fd < 0 && err != -ECANCELED && hw_mono_ms() >= c->deadline_ms)
        err = -ETIMEDOUT;
    return c->fd < 0 ? err : 0;
}

/*
 * After an SSL call returned rc: 1 to call again once the socket is ready
 * (waited for here), 0 when it failed for good, or -ETIMEDOUT.
 */
static int ssl_again(struct conn *c, int rc)
{
    int e = SSL_get_error(c->ssl, rc), err;

    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        return 0;
    err = wait_ready(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT);
    return err ? err : 1;
}

/* After a plain read or write failed: 1 to try again once ready, 0 failed, or -ETIMEDOUT. */
static int plain_again(struct conn *c, short events)
{
    int err;

    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return 0;
    err = wait_ready(c, events);
    return err ? err : 1;
}

static int conn_open(struct conn *c, struct agent *a, int64_t deadline_ms, int cancel_fd)
{
    int err, rc, again;

    memset(c, 0, sizeof(*c));
    c->deadline_ms = deadline_ms;
    c->cancel_fd = cancel_fd;
    err = dial(c, a->relay_url.host, a->relay_url.port);
    if (err)
        return err;
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
    while ((rc = SSL_connect(c->ssl)) != 1) {
        again = ssl_again(c, rc);
        if (again <= 0)
            return again < 0 ? again : HW_EAUTH; /* the handshake, or the certificate */
    }
    return 0;
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
        int err;

        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        err = c->ssl ? ssl_again(c, (int)w) : w < 0 ? plain_again(c, POLLOUT) : 0;
        if (err <= 0)
            return err < 0 ? err : HW_EIO;
    }
    return 0;
}

/* One read into b: the bytes read (> 0), 0 at the peer's close, or an error. */
static ssize_t conn_read(struct conn *c, struct hw_buf *b)
{
    for (;;) {
        char *p = hw_buf_reserve(b, 65536);
        ssize_t r;
        int err;

        if (!p)
            return HW_E2BIG;
        r = c->ssl ? SSL_read(c->ssl, p, 65536) : read(c->fd, p, 65536);
        if (r > 0) {
            hw_buf_commit(b, (size_t)r);
            return r;
        }
        if (r == 0 || (c->ssl && SSL_get_error(c->ssl, (int)r) == SSL_ERROR_ZERO_RETURN))
            return 0;
        err = c->ssl ? ssl_again(c, (int)r) : plain_again(c, POLLIN);
        if (err <= 0)
            return err < 0 ? err : HW_EIO;
    }
}

/*
 * Reads the answer to method as its framing says (the strict parser's: a
 * Content-Length, chunked, or until the close), interim 1xx answers
 * skipped, whatever a proxy between does with the connection: its status in
 * *status and its body appended to body. HW_EPROTO for what is not an
 * HTTP/1.x answer, HW_EIO for one cut short.
 */
static int read_answer(struct conn *c, const char *method, int *status, struct hw_buf *body)
{
    struct hw_buf in;
    struct hw_http_head h;
    struct hw_chunked ch;
    size_t len = 0;
    ssize_t got = 1;
    int rc, err = 0;

    hw_buf_init(&in, ANSWER_MAX);
    for (;;) {
        rc = hw_http_parse_response(hw_buf_head(&in), hw_buf_size(&in), method, &h);
        if (rc > 0 && h.status >= 100 && h.status < 200) {
            hw_buf_consume(&in, (size_t)rc); /* 100 Continue and its kin: the answer follows */
            continue;
        }
        if (rc != HW_EAGAIN)
            break;
        if (got <= 0 || (got = conn_read(c, &in)) <= 0) {
            err = got < 0 ? (int)got : HW_EPROTO; /* no head, or a head cut short */
            goto out;
        }
    }
    if (rc < 0) {
        err = HW_EPROTO;
        goto out;
    }
    *status = h.status;
    hw_buf_consume(&in, (size_t)rc);
    hw_chunked_init(&ch);
    for (;;) {
        if (h.body == HW_BODY_NONE)
            break;
        if (h.body == HW_BODY_LENGTH && hw_buf_size(&in) >= h.content_length) {
            hw_buf_truncate(&in, (size_t)h.content_length);
            break;
        }
        if (h.body == HW_BODY_CHUNKED) {
            size_t n = hw_buf_size(&in) - len;

            rc = hw_chunked_decode(&ch, (char *)hw_buf_head(&in) + len, &n);
            len += n;
            if (rc >= 0 || rc == HW_EPARSE) {
                hw_buf_truncate(&in, len);
                err = rc == HW_EPARSE ? HW_EPROTO : 0;
                break;
            }
            hw_buf_truncate(&in, len);
        }
        got = conn_read(c, &in);
        if (got < 0) {
            err = (int)got;
            break;
        }
        if (got == 0) {
            err = h.body == HW_BODY_CLOSE ? 0 : HW_EIO; /* cut short */
            break;
        }
    }
    err = err ? err : hw_buf_append(body, hw_buf_head(&in), hw_buf_size(&in));
out:
    hw_buf_cleanup(&in);
    return err;
}

int agent_history_call(struct agent *a, const char *method, const char *path, int64_t deadline_ms,
                       int cancel_fd, int *status, struct hw_buf *body)
{
    struct hw_buf req;
    struct conn c;
    int err;

    hw_buf_init(&req, 16384);
    err = conn_open(&c, a, deadline_ms, cancel_fd);
    err = err ? err
              : hw_buf_printf(&req,
                              "%s %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
                              "Content-Length: 0\r\nConnection: close\r\n\r\n",
                              method, path, a->relay_url.host, a->relay_url.port, a->token);
    err = err ? err : conn_write(&c, hw_buf_head(&req), hw_buf_size(&req));
    err = err ? err : read_answer(&c, method, status, body);
    conn_close(&c);
    hw_buf_cleanup(&req);
    return err;
}

static int usage(void)
{
    fprintf(stderr, "usage: hookwire-agent [OPTIONS] events [--limit N] [--status S] [--cursor C]\n"
                    "       hookwire-agent [OPTIONS] show ID [--body]\n"
                    "       hookwire-agent [OPTIONS] replay ID\n");
    return 2;
}

/* Whether s is short printable ASCII, fit to be echoed in a message. */
static int printable(const char *s)
{
    size_t n = strlen(s);

    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return 0;
    return n <= 64;
}

/* A flag's value that is wrong: one line that names it and what it takes. */
static int bad_value(const char *flag, const char *v, const char *want)
{
    fprintf(stderr, "events %s %s: expected %s\n", flag, printable(v) ? v : "(that value)", want);
    return 2;
}

/*
 * Appends "&NAME=VALUE" for one of events' flags to the path (n used of
 * cap) once the value is checked here, as the relay would check it: a
 * mistake is named on the spot rather than sent. Returns 0 or an exit status.
 */
static int events_flag(const char *k, const char *v, char *path, size_t cap, int *n)
{
    uint64_t num;

    if (strcmp(k, "--limit") == 0) {
        if (hw_text_uint(v, strlen(v), 1000, &num) || num < 1)
            return bad_value(k, v, "a number from 1 to 1000");
    } else if (strcmp(k, "--status") == 0) {
        if (strcmp(v, "all") == 0)
            return 0; /* as hookwire-replay: no filter */
        if (strcmp(v, "pending") && strcmp(v, "delivered") && strcmp(v, "failed"))
            return bad_value(k, v, "pending, delivered, failed or all");
    } else if (strcmp(k, "--cursor") == 0) {
        if (hw_text_uint(v, strlen(v), INT64_MAX, &num))
            return bad_value(k, v, "the next_cursor of an earlier listing");
    } else {
        return usage();
    }
    *n += snprintf(path + *n, cap - (size_t)*n, "&%s=%s", k + 2, v);
    return (size_t)*n < cap ? 0 : usage(); /* flags repeated past any sense */
}

/* Why the relay could not be asked, in one line with what to check. */
static void unreachable(const struct agent *a, const char *verb, int err)
{
    const char *h = a->relay_url.host;
    int p = a->relay_url.port;

    if (err == HW_ENOTFOUND)
        fprintf(stderr, "%s: cannot resolve %s: check the host name in --relay\n", verb, h);
    else if (err == AGENT_HISTORY_UNRESOLVED)
        fprintf(stderr,
                "%s: %s did not resolve: the name server did not answer within %d s, or "
                "failed: check it and the host name in --relay\n",
                verb, h, AGENT_HISTORY_TIMEOUT_S);
    else if (err == -ECONNREFUSED || err == -EHOSTUNREACH || err == -ENETUNREACH)
        fprintf(stderr,
                "%s: nothing answers at %s:%d (%s): is the relay running, and is %d its "
                "--tunnel-listen port?\n",
                verb, h, p, hw_strerror(err), p);
    else if (err == -ETIMEDOUT)
        fprintf(stderr,
                "%s: the relay at %s:%d did not answer within %d s: is --relay its tunnel port?\n",
                verb, h, p, AGENT_HISTORY_TIMEOUT_S);
    else if (err == HW_EAUTH)
        fprintf(stderr,
                "%s: the TLS handshake with %s:%d failed: is it the relay's wss:// port, and does "
                "its certificate verify (--ca-file)?\n",
                verb, h, p);
    else if (err == HW_EPROTO)
        fprintf(stderr,
                "%s: %s:%d did not answer in HTTP: is it the relay's --tunnel-listen port?\n", verb,
                h, p);
    else
        fprintf(stderr, "%s: cannot reach the relay at %s:%d: %s\n", verb, h, p, hw_strerror(err));
}

int agent_history_command(struct agent *a, int argc, char **argv)
{
    char path[512];
    const char *verb = argv[0], *method = "GET", *id = argc >= 2 ? argv[1] : "";
    struct hw_buf body;
    int status = 0, err, n = 0, raw = 0;

    if (strcmp(verb, "events") == 0) {
        n = snprintf(path, sizeof(path), "/api/events?x=1");
        /* Flags come in pairs: --limit N, --status S, --cursor C. */
        for (int i = 1; i < argc; i += 2) {
            if (i + 1 >= argc)
                return usage();
            err = events_flag(argv[i], argv[i + 1], path, sizeof(path), &n);
            if (err)
                return err;
        }
    } else if ((strcmp(verb, "show") == 0 || strcmp(verb, "replay") == 0) && argc >= 2) {
        raw = strcmp(verb, "show") == 0 && argc == 3 && strcmp(argv[2], "--body") == 0;
        if (argc > (raw ? 3 : 2))
            return usage();
        /* An id is what the relay gave: anything else names no event (and goes in no URL). */
        if (strlen(id) != HW_ID_LEN || !hw_id_valid(id)) {
            fprintf(stderr,
                    "%s: %s is not an event id: ids are evt_ and 26 letters and digits, as "
                    "\"events\" lists them\n",
                    verb, printable(id) ? id : "that");
            return 2;
        }
        if (strcmp(verb, "replay") == 0) {
            method = "POST";
            snprintf(path, sizeof(path), "/api/events/%s/replay", id);
        } else {
            snprintf(path, sizeof(path), "/api/events/%s%s", id, raw ? "/body" : "");
        }
    } else {
        return usage();
    }
    hw_buf_init(&body, ANSWER_MAX);
    err = agent_history_call(a, method, path, hw_mono_ms() + AGENT_HISTORY_TIMEOUT_S * 1000, -1,
                             &status, &body);
    if (err) {
        unreachable(a, verb, err);
        hw_buf_cleanup(&body);
        return 1;
    }
    if (status == 404 && strcmp(verb, "events") != 0) {
        /* Another channel's event reads the same: the token's channel is all there is. */
        fprintf(stderr, "%s: no such event on this channel (the relay answered 404)\n", verb);
        hw_buf_cleanup(&body);
        return 1;
    }
    if (status == 409 && strcmp(verb, "replay") == 0) {
        fprintf(stderr,
                "replay: %s is being delivered right now: replay it once that attempt has "
                "ended (the relay answered 409)\n",
                id);
        hw_buf_cleanup(&body);
        return 1;
    }
    if (status / 100 != 2) {
        size_t shown = hw_buf_size(&body) < 300 ? hw_buf_size(&body) : 300;

        /* The relay's own words, their control bytes written as \xHH (a proxy may say anything). */
        fprintf(stderr, "%s: the relay answered %d: ", verb, status);
        while (shown &&
               (hw_buf_head(&body)[shown - 1] == '\n' || hw_buf_head(&body)[shown - 1] == '\r'))
            shown--;
        hw_text_put_clean(stderr, hw_buf_head(&body), shown);
        fputc('\n', stderr);
        hw_buf_cleanup(&body);
        return 1;
    }
    /* A webhook's bytes may hold terminal escapes: on a terminal only text is written. */
    if (raw && isatty(STDOUT_FILENO) && hw_text_binary(hw_buf_head(&body), hw_buf_size(&body))) {
        fprintf(stderr,
                "show: the body of %s is binary (%zu bytes): redirect stdout, e.g. "
                "hookwire-agent show %s --body > body.bin\n",
                id, hw_buf_size(&body), id);
        hw_buf_cleanup(&body);
        return 1;
    }
    fwrite(hw_buf_head(&body), 1, hw_buf_size(&body), stdout);
    hw_buf_cleanup(&body);
    return fflush(stdout) == 0 ? 0 : 1;
}
