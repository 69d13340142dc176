/*
 * `token list`'s question to the running relay: one GET /agents to its
 * tunnel port on loopback, read whole within a deadline and parsed from TSV.
 * CLI main thread only; owns its socket for the call.
 */
#include "live.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/url.h"

#define DEADLINE_MS 2000
#define ANSWER_MAX  (1024 * 1024)

/* Waits for events on fd until the deadline. 1 ready, 0 timed out, <0 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd p = { fd, events, 0 };
    int64_t left = deadline - hw_mono_ms();

    if (left <= 0)
        return 0;
    return poll(&p, 1, (int)left);
}

/* Has buf[0..got) a whole answer: a head, and as many body bytes as its Content-Length says? */
static int complete(char *buf, size_t got)
{
    const char *end, *cl;
    unsigned long len;

    buf[got] = '\0';
    end = strstr(buf, "\r\n\r\n");
    if (!end)
        return 0;
    cl = strcasestr(buf, "\r\ncontent-length:");
    if (!cl || cl > end)
        return 0; /* read until the relay closes */
    len = strtoul(cl + 17, NULL, 10);
    return got - (size_t)(end + 4 - buf) >= len;
}

/* Sends the request and reads the answer into buf (NUL-terminated). Returns its length or <0. */
static int fetch(int fd, int port, char *buf, size_t cap, int64_t deadline)
{
    char req[128];
    int n = snprintf(req, sizeof(req),
                     "GET /agents HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "Connection: close\r\n\r\n",
                     port);
    size_t got = 0;

    if (wait_fd(fd, POLLOUT, deadline) <= 0 || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        return HW_EIO;
    while (got + 1 < cap) {
        ssize_t r;

        if (wait_fd(fd, POLLIN, deadline) <= 0)
            return HW_EIO;
        r = recv(fd, buf + got, cap - 1 - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return HW_EIO;
        if (r == 0)
            break;
        got += (size_t)r;
        if (complete(buf, got))
            break;
    }
    buf[got] = '\0';
    return (int)got;
}

/* Parses "channel\taddr\tsince\n" lines after the head. */
static int parse(const char *body, struct relay_live_agent **out, size_t *n)
{
    struct relay_live_agent *rows = NULL;
    size_t count = 0;
    const char *p = body;

    while (*p) {
        const char *eol = strchr(p, '\n');
        struct relay_live_agent row;
        long long since;
        void *grown;

        if (!eol)
            break;
        memset(&row, 0, sizeof(row));
        if (sscanf(p, "%63[^\t]\t%63[^\t]\t%lld", row.channel, row.addr, &since) != 3) {
            free(rows);
            return HW_EPARSE;
        }
        row.since_ms = since;
        grown = realloc(rows, (count + 1) * sizeof(*rows));
        if (!grown) {
            free(rows);
            return HW_ENOMEM;
        }
        rows = grown;
        rows[count++] = row;
        p = eol + 1;
    }
    *out = rows;
    *n = count;
    return 0;
}

int relay_live_ask(const struct relay_config *cfg, struct relay_live_agent **out, size_t *n,
                   char *why, size_t cap)
{
    struct sockaddr_in sa;
    char host[256], *buf = NULL;
    const char *body;
    int port, fd = -1, rc, status = 0;
    int64_t deadline = hw_mono_ms() + DEADLINE_MS;

    *out = NULL;
    *n = 0;
    if (hw_hostport_parse(cfg->tunnel_listen, host, sizeof(host), &port)) {
        snprintf(why, cap, "--tunnel-listen %s is not HOST:PORT", cfg->tunnel_listen);
        return HW_EINVAL;
    }
    if (cfg->tls_cert) {
        snprintf(why, cap, "the relay's tunnel port uses TLS: this list cannot ask it");
        return HW_EINVAL;
    }
    /* The relay listens on all interfaces or on loopback: either way 127.0.0.1 reaches it. */
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (!host[0] || strcmp(host, "0.0.0.0") == 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS)) {
        rc = HW_EIO;
        goto fail;
    }
    buf = malloc(ANSWER_MAX);
    rc = buf ? fetch(fd, port, buf, ANSWER_MAX, deadline) : HW_ENOMEM;
    if (rc < 0)
        goto fail;
    body = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || status != 200 || !body) {
        snprintf(why, cap, "the relay at %s does not list its agents (HTTP %d)", cfg->tunnel_listen,
                 status);
        rc = HW_ENOTFOUND;
        goto out;
    }
    rc = parse(body + 4, out, n);
    if (rc)
        snprintf(why, cap, "the relay's list of agents is malformed");
    goto out;
fail:
    snprintf(why, cap, "no relay answers at %s (is it running, with this --tunnel-listen?)",
             cfg->tunnel_listen);
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}
