#ifndef HW_TEST_STORE_PROXY_H
#define HW_TEST_STORE_PROXY_H

/*
 * A fault-injecting TCP proxy for the MySQL store tests: a thread between
 * the store and MariaDB that reads the client's MySQL packets and, when a
 * fault is armed, drops the answer to COMMIT, cuts the connection at an
 * INSERT or before a COMMIT, stalls after COMMIT, holds the answer to
 * COMMIT (or to a statement that reads the schema) until the test releases
 * it, or trickles that answer (or a new connection's greeting) a byte at a
 * time, each well within the client's read timeout. Used by test_store_fault.c.
 */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "check.h"
#include "store_util.h"

enum fault {
    F_NONE,
    F_DROP_COMMIT_ANSWER,
    F_CUT_MID_BATCH,
    F_CUT_BEFORE_COMMIT,
    F_STALL_COMMIT,
    F_HOLD_COMMIT,      /* keep the answer to COMMIT from the client until px.release is set */
    F_TRICKLE_COMMIT,   /* the answer to COMMIT goes a byte every TRICKLE_MS */
    F_TRICKLE_FIRST,    /* after the handshake, the server's answers go a byte every TRICKLE_MS */
    F_HOLD_SCHEMA,      /* keep answers from a statement that reads the schema until px.release */
    F_TRICKLE_GREETING, /* a new connection's server bytes (its greeting on) go one a TRICKLE_MS */
};

#define TRICKLE_MS 1200

struct pair {
    int c, u;          /* client and upstream sockets; -1 when unused */
    char buf[1 << 16]; /* client bytes not yet a whole packet */
    size_t n;
    int drop_answer;     /* COMMIT forwarded: swallow the answer, then close both */
    int64_t stall_until; /* COMMIT forwarded: forward nothing until then, then close */
    int hold;            /* COMMIT forwarded: the server's answers wait until px.release */
    int trickle;         /* COMMIT forwarded: the server's bytes go one at a time */
    char tb[4096];       /* ...those not yet forwarded */
    size_t tn;
    int64_t next_byte; /* ...when the next one goes */
    int commands;      /* commands (sequence 0) the client has sent since the handshake */
};

static struct {
    int lfd, port, up_port;
    struct pair p[16];
    _Atomic int fault;    /* armed fault; one-shot */
    _Atomic int fired;    /* how many faults were injected */
    _Atomic int cut_at;   /* F_CUT_*: cut at this INSERT (MID_BATCH) or COMMIT (BEFORE_COMMIT) */
    _Atomic int executes; /* INSERTs or COMMITs seen since the fault was armed */
    _Atomic int multi_prepares; /* multi-row INSERTs prepared (a batch of several events) */
    _Atomic int stop;
    int64_t stall_ms;        /* F_STALL_COMMIT: how long the stall lasts */
    _Atomic int release;     /* F_HOLD_COMMIT: set by the test to let the held answer through */
    _Atomic int commits;     /* COMMITs forwarded since the fault was armed */
    _Atomic int trickle_cut; /* the client went away with trickled bytes still to come */
    pthread_t th;
} px;

static inline void pair_close(struct pair *p)
{
    if (p->c >= 0)
        close(p->c);
    if (p->u >= 0)
        close(p->u);
    p->c = p->u = -1;
    p->n = 0;
    p->drop_answer = 0;
    p->stall_until = 0;
    p->hold = 0;
    p->trickle = 0;
    p->tn = 0;
    p->commands = 0;
}

static inline int write_all(int fd, const char *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Forwards the whole packets in p->buf upstream, injecting the armed fault. 0, or -1 to close. */
static inline int client_packets(struct pair *p)
{
    size_t off = 0;

    while (p->n - off >= 4) {
        const unsigned char *h = (const unsigned char *)p->buf + off;
        size_t len = h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16;
        const char *payload = p->buf + off + 4;

        if (p->n - off < 4 + len)
            break;
        /* A prepared statement's execution: every INSERT of an append. */
        int insert = len >= 1 && payload[0] == 0x17;
        /* The multi-row INSERT a batch of several events goes in, prepared for its size. */
        int multi = len >= 1 && payload[0] == 0x16 && memmem(payload, len, "), (", 4) != NULL;
        int commit = len == 7 && memcmp(payload,
                                        "\x03"
                                        "COMMIT",
                                        7) == 0;

        if (multi)
            px.multi_prepares++;
        /* The schema's version or its lock: what an open asks once its session is set. */
        if (px.fault == F_HOLD_SCHEMA && (memmem(payload, len, "information_schema", 18) ||
                                          memmem(payload, len, "GET_LOCK", 8))) {
            px.fault = F_NONE;
            px.fired++;
            p->hold = 1;
        }
        /*
         * A connection's first command (sequence 0) after the handshake:
         * what a new connection asks first. A closing connection's COM_QUIT
         * is not one, nor is the command of a connection opened earlier.
         */
        if (h[3] == 0 && p->commands++ == 0 && len >= 1 && payload[0] != 0x01 &&
            px.fault == F_TRICKLE_FIRST) {
            px.fault = F_NONE;
            px.fired++;
            p->trickle = 1;
            p->next_byte = tu_now_ms() + TRICKLE_MS;
        }
        if (((insert && px.fault == F_CUT_MID_BATCH) ||
             (commit && px.fault == F_CUT_BEFORE_COMMIT)) &&
            ++px.executes >= px.cut_at) {
            px.fault = F_NONE;
            px.fired++;
            return -1; /* cut before the server sees this statement */
        }
        if (write_all(p->u, p->buf + off, 4 + len))
            return -1;
        if (commit) {
            px.commits++;
            if (px.fault == F_DROP_COMMIT_ANSWER) {
                px.fault = F_NONE;
                px.fired++;
                p->drop_answer = 1;
            } else if (px.fault == F_TRICKLE_COMMIT) {
                px.fault = F_NONE;
                px.fired++;
                p->trickle = 1;
                p->next_byte = tu_now_ms() + TRICKLE_MS;
            } else if (px.fault == F_HOLD_COMMIT) {
                px.fault = F_NONE;
                px.fired++;
                p->hold = 1;
            } else if (px.fault == F_STALL_COMMIT) {
                px.fault = F_NONE;
                px.fired++;
                p->stall_until = tu_now_ms() + px.stall_ms;
            }
        }
        off += 4 + len;
    }
    memmove(p->buf, p->buf + off, p->n - off);
    p->n -= off;
    return 0;
}

static inline void accept_one(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)px.up_port) };
    int c = accept(px.lfd, NULL, NULL), u;

    if (c < 0)
        return;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    u = socket(AF_INET, SOCK_STREAM, 0);
    if (u < 0 || connect(u, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(c);
        if (u >= 0)
            close(u);
        return;
    }
    for (int i = 0; i < 16; i++) {
        if (px.p[i].c < 0) {
            px.p[i].c = c;
            px.p[i].u = u;
            if (px.fault == F_TRICKLE_GREETING) {
                px.fault = F_NONE;
                px.fired++;
                px.p[i].trickle = 1;
                px.p[i].next_byte = tu_now_ms() + TRICKLE_MS;
            }
            return;
        }
    }
    close(c);
    close(u);
}

static void *proxy_main(void *arg)
{
    while (!px.stop) {
        struct pollfd f[33];
        int idx[33], n = 0;
        int64_t now = tu_now_ms();

        f[n] = (struct pollfd){ .fd = px.lfd, .events = POLLIN };
        idx[n++] = -1;
        for (int i = 0; i < 16; i++) {
            struct pair *p = &px.p[i];
            if (p->c < 0)
                continue;
            if (p->stall_until) {
                if (now >= p->stall_until)
                    pair_close(p); /* the stall ends with the connection gone */
                continue;
            }
            f[n] = (struct pollfd){ .fd = p->c, .events = POLLIN };
            idx[n++] = i * 2;
            if (p->hold && px.release)
                p->hold = 0;
            if (p->hold)
                continue; /* the answer waits in the socket until the test lets it go */
            if (p->trickle && p->tn && now >= p->next_byte) {
                if (write_all(p->c, p->tb, 1)) {
                    pair_close(p);
                    continue;
                }
                memmove(p->tb, p->tb + 1, --p->tn);
                p->next_byte = now + TRICKLE_MS;
            }
            f[n] = (struct pollfd){ .fd = p->u, .events = POLLIN };
            idx[n++] = i * 2 + 1;
        }
        if (poll(f, (nfds_t)n, 50) <= 0)
            continue;
        for (int k = 0; k < n; k++) {
            struct pair *p;
            char b[1 << 15];
            ssize_t r;

            if (!(f[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (idx[k] < 0) {
                accept_one();
                continue;
            }
            p = &px.p[idx[k] / 2];
            if (p->c < 0 || p->stall_until)
                continue;
            if (idx[k] % 2 == 0) {
                r = read(p->c, p->buf + p->n, sizeof(p->buf) - p->n);
                if (r <= 0) {
                    px.trickle_cut += p->trickle && p->tn > 0;
                    pair_close(p);
                    continue;
                }
                p->n += (size_t)r;
                if (client_packets(p) || p->n == sizeof(p->buf))
                    pair_close(p);
            } else {
                r = p->trickle ? read(p->u, p->tb + p->tn, sizeof(p->tb) - p->tn)
                               : read(p->u, b, sizeof(b));
                if (p->trickle && r > 0) {
                    p->tn += (size_t)r;
                    continue;
                }
                /* The server answered COMMIT (it has committed): the client never hears it. */
                if (r <= 0 || p->drop_answer || write_all(p->c, b, (size_t)r))
                    pair_close(p);
            }
        }
    }
    for (int i = 0; i < 16; i++)
        pair_close(&px.p[i]);
    return NULL;
}

/* Starts the proxy in front of 127.0.0.1:up_port; a stalled COMMIT stalls for stall_ms. */
static inline void proxy_start(int up_port, int64_t stall_ms)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);

    px.up_port = up_port;
    px.stall_ms = stall_ms;
    for (int i = 0; i < 16; i++)
        px.p[i].c = px.p[i].u = -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    px.lfd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(px.lfd >= 0);
    CHECK_EQ(bind(px.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    CHECK_EQ(listen(px.lfd, 16), 0);
    CHECK_EQ(getsockname(px.lfd, (struct sockaddr *)&a, &len), 0);
    px.port = ntohs(a.sin_port);
    CHECK_EQ(pthread_create(&px.th, NULL, proxy_main, NULL), 0);
}

static inline void proxy_stop(void)
{
    px.stop = 1;
    pthread_join(px.th, NULL);
    close(px.lfd);
}

/*
 * The proxy notes the client going away on its own thread, which may run
 * after the store call that cut the connection has returned: waits (ms at
 * most) for it, and returns px.trickle_cut.
 */
static inline int proxy_trickle_cut(int ms)
{
    int64_t until = tu_now_ms() + ms;

    while (px.trickle_cut == 0 && tu_now_ms() < until)
        tu_pause_ms(5);
    return px.trickle_cut;
}

static inline void arm(int fault, int cut_at)
{
    px.executes = 0;
    px.commits = 0;
    px.release = 0;
    px.trickle_cut = 0;
    px.cut_at = cut_at;
    px.fault = fault;
}

#endif
