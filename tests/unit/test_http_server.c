/*
 * The HTTP server connection on its own: a test program with its own lws
 * context serves a small app on loopback and talks to it over plain
 * sockets (no relay, no agent): keep-alive, pipelining, HEAD, peers that
 * vanish, late and timed-out answers, head and body deadlines, lying
 * streamed answers, shedding, peers that never read, a burst of thousands
 * of pipelined requests answered late, Expect and the
 * header-line limit. Every wait polls with a deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/err.h"
#include "core/log.h"
#include "http/limits.h"
#include "net/http_server.h"

/* The app's side: what it saw, and the exchange it holds for a later answer. */
static struct {
    int requests, aborts, opens, closes;
    struct hw_http_conn *held;
    char last_body[256];
    size_t last_body_len;
    int data_rc, end_rc, begin_rc;
    const char *begin_why; /* the rule a refused head broke */
} app;

static char big[16 << 20];

struct rig {
    struct lws_context *ctx;
    struct hw_http_server *srv;
    struct lws_protocols protos[2];
    int port;
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int target_is(const struct hw_http_head *h, const char *t)
{
    return h->target_len == strlen(t) && memcmp(h->target, t, h->target_len) == 0;
}

static void stream(struct hw_http_conn *c, const char *headers, uint64_t len, const char *data,
                   int end)
{
    struct hw_http_answer_head h = { 200, "", 0, headers, strlen(headers), len };

    app.begin_rc = hw_http_conn_stream_begin(c, &h, &app.begin_why);
    if (app.begin_rc) {
        hw_http_conn_error(c, HW_ERRC_LOCAL_ERROR, NULL);
        return;
    }
    app.data_rc = hw_http_conn_stream_data(c, data, strlen(data));
    if (end && !app.data_rc)
        app.end_rc = hw_http_conn_stream_end(c);
}

static void on_request(struct hw_http_conn *c, const struct hw_http_request *rq)
{
    const struct hw_http_head *h = rq->head;

    app.requests++;
    app.last_body_len = hw_buf_size(rq->body);
    if (app.last_body_len < sizeof(app.last_body))
        memcpy(app.last_body, hw_buf_head(rq->body), app.last_body_len);
    if (target_is(h, "/echo"))
        CHECK_EQ(hw_http_conn_respond(c, 200, NULL, "X-App: yes\r\n", 12, hw_buf_head(rq->body),
                                      hw_buf_size(rq->body)),
                 0);
    else if (target_is(h, "/big1m") || target_is(h, "/big16m"))
        CHECK_EQ(hw_http_conn_respond(c, 200, NULL, "", 0, big,
                                      target_is(h, "/big1m") ? 1 << 20 : sizeof(big)),
                 0);
    else if (target_is(h, "/hold"))
        app.held = c;
    else if (target_is(h, "/lie-long"))
        stream(c, "Content-Length: 5\r\n", 5, "0123456789", 1);
    else if (target_is(h, "/lie-short"))
        stream(c, "Content-Length: 10\r\n", 10, "abc", 1);
    else if (target_is(h, "/chunked"))
        stream(c, "", HW_HTTP_LEN_UNKNOWN, "hello", 1);
    else if (target_is(h, "/lie-head"))
        stream(c, "Content-Length: 3\r\n", 2, "hi", 1);
    else if (target_is(h, "/hop"))
        stream(c, "Content-Length: 2\r\nUpgrade: x\r\n", 2, "hi", 1);
    else
        CHECK_EQ(hw_http_conn_error(c, HW_ERRC_NOT_FOUND, NULL), 0);
}

static void on_abort(struct hw_http_conn *c, const char *why)
{
    app.aborts++;
    if (app.held == c)
        app.held = NULL;
}

static void on_open(struct hw_http_conn *c)
{
    app.opens++;
}

static void on_close(struct hw_http_conn *c)
{
    app.closes++;
    if (app.held == c)
        app.held = NULL;
}

static const struct hw_http_server_callbacks callbacks = {
    .on_open = on_open,
    .on_request = on_request,
    .on_abort = on_abort,
    .on_close = on_close,
};

static void rig_start(struct rig *g, const struct hw_http_server_config *cfg)
{
    struct lws_context_creation_info info;

    memset(&app, 0, sizeof(app));
    memset(g, 0, sizeof(*g));
    g->srv = hw_http_server_new(cfg, &callbacks, g);
    CHECK(g->srv);
    hw_http_server_protocol(g->srv, &g->protos[0]);
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.port = CONTEXT_PORT_NO_LISTEN;
    g->ctx = lws_create_context(&info);
    CHECK(g->ctx);
    memset(&info, 0, sizeof(info));
    info.vhost_name = "test";
    info.port = 0;
    info.iface = "127.0.0.1";
    info.protocols = g->protos;
    info.options =
        LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
    info.listen_accept_role = "raw-skt";
    info.listen_accept_protocol = g->protos[0].name;
    struct lws_vhost *vh = lws_create_vhost(g->ctx, &info);
    CHECK(vh);
    g->port = lws_get_vhost_listen_port(vh);
    CHECK(g->port > 0);
}

static void rig_stop(struct rig *g)
{
    lws_context_destroy(g->ctx);
    CHECK_EQ(hw_http_server_stats(g->srv)->connections, 0);
    CHECK_EQ(hw_http_server_stats(g->srv)->held_bytes, 0);
    hw_http_server_free(g->srv);
}

/* One turn of the loop: lws without blocking, then a short wait on fd (or -1). */
static void turn(struct rig *g, int fd)
{
    struct pollfd p = { fd, POLLIN, 0 };

    lws_service(g->ctx, -1);
    poll(&p, fd >= 0 ? 1 : 0, 1);
}

/* Runs the loop until cond() holds, for at most ms. Returns whether it held. */
static int run_until(struct rig *g, int (*cond)(struct rig *), int ms)
{
    long long end = now_ms() + ms;

    while (now_ms() < end) {
        if (cond(g))
            return 1;
        turn(g, -1);
    }
    return cond(g);
}

/*
 * Serves the loop for ms: the quiet stretch a shedding test needs its
 * stalled readers to have had (what is tested is that they went quiet).
 */
static void run_quiet(struct rig *g, int ms)
{
    long long end = now_ms() + ms;

    while (now_ms() < end)
        turn(g, -1);
}

static int client(const struct rig *g)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    CHECK(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)g->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void send_str(int fd, const char *s)
{
    CHECK_EQ(send(fd, s, strlen(s), MSG_NOSIGNAL), (long long)strlen(s));
}

/*
 * Reads into buf until it holds want bytes, or the peer closes, for at most
 * ms. Returns the bytes read; *eof says whether the peer closed.
 */
static size_t recv_until(struct rig *g, int fd, char *buf, size_t want, int ms, int *eof)
{
    long long end = now_ms() + ms;
    size_t got = 0;

    *eof = 0;
    while (got < want && now_ms() < end) {
        ssize_t n = recv(fd, buf + got, want - got, MSG_DONTWAIT);

        if (n == 0) {
            *eof = 1;
            break;
        }
        if (n > 0)
            got += (size_t)n;
        else if (errno == ECONNRESET) {
            *eof = 1;
            break;
        }
        turn(g, fd);
    }
    buf[got] = '\0';
    return got;
}

/* Reads until text appears (or close / deadline); returns whether it did. */
static int recv_text(struct rig *g, int fd, char *buf, size_t cap, const char *text, int ms,
                     int *eof)
{
    long long end = now_ms() + ms;
    size_t got = 0;

    *eof = 0;
    while (!strstr(buf, text) && now_ms() < end && got < cap - 1) {
        ssize_t n = recv(fd, buf + got, cap - 1 - got, MSG_DONTWAIT);

        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            *eof = 1;
            break;
        }
        if (n > 0) {
            got += (size_t)n;
            buf[got] = '\0';
        }
        turn(g, fd);
    }
    return strstr(buf, text) != NULL;
}

/* Waits for the peer to close, reading and keeping what arrives. */
static size_t recv_to_eof(struct rig *g, int fd, char *buf, size_t cap, int ms, int *eof)
{
    return recv_until(g, fd, buf, cap - 1, ms, eof);
}

static int no_connections(struct rig *g)
{
    return hw_http_server_stats(g->srv)->connections == 0;
}

static int answered_once(struct rig *g)
{
    return app.requests == 1;
}

static int one_held(struct rig *g)
{
    return app.held != NULL;
}

static void test_keep_alive(void)
{
    struct hw_http_server_config cfg;
    struct rig g;
    char buf[4096] = "";
    int fd, eof;

    hw_http_server_config_defaults(&cfg);
    rig_start(&g, &cfg);
    fd = client(&g);
    for (int i = 0; i < 3; i++) {
        memset(buf, 0, sizeof(buf));
        send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
        CHECK(recv_text(&g, fd, buf, sizeof(buf), "\r\n\r\nhello", 2000, &eof));
        CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\nX-App: yes\r\nContent-Length: 5\r\n\r\nhello", 55) ==
              0);
        CHECK(!eof);
    }
    CHECK_EQ(app.requests, 3);
    CHECK_EQ(app.opens, 1);
    /* A chunked body is decoded for the app. */
    memset(buf, 0, sizeof(buf));
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    CHECK(recv_text(&g, fd, buf, sizeof(buf), "abcde", 2000, &eof));
    CHECK(strstr(buf, "Content-Length: 5\r\n"));
    /* Connection: close is honoured. */
    memset(buf, 0, sizeof(buf));
    send_str(fd, "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    recv_to_eof(&g, fd, buf, sizeof(buf), 2000, &eof);
    CHECK(eof);
    CHECK(strstr(buf, "Connection: close\r\n"));
    close(fd);
    CHECK(run_until(&g, no_connections, 2000));
    rig_stop(&g);
}

static void test_pipelining_and_head(void)
{
    struct hw_http_server_config cfg;
    struct rig g;
    char buf[4096] = "";
    const char *second;
    int fd, eof;

    hw_http_server_config_defaults(&cfg);
    rig_start(&g, &cfg);
    fd = client(&g);
    /* Three requests in one segment: answered in order; HEAD gets no body. */
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
                 "HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo");
    CHECK(recv_text(&g, fd, buf, sizeof(buf), "\r\n\r\ntwo", 2000, &eof));
    CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    second = strstr(buf, "one") + 3;
    CHECK(strncmp(second, "HTTP/1.1 200 OK\r\nX-App: yes\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200",
                  61) == 0);
    CHECK_EQ(app.requests, 3);
    /* An unknown length is chunked for HTTP/1.1. */
    memset(buf, 0, sizeof(buf));
    send_str(fd, "GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(recv_text(&g, fd, buf, sizeof(buf), "0\r\n\r\n", 2000, &eof));
    CHECK(strstr(buf, "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
    close(fd);
    CHECK(run_until(&g, no_connections, 2000));
    rig_stop(&g);
}

static void test_peer_closes_midway(void)
{
    struct hw_http_server_config cfg;
    struct rig g;
    int fd;

    hw_http_server_config_defaults(&cfg);
    rig_start(&g, &cfg);
    /* Mid-head. */
    fd = client(&g);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Le");
    close(fd);
    CHECK(run_until(&g, no_connections, 2000));
    /* Mid-body: the bytes held for it go back to the budget. */
    fd = client(&g);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
    for (long long end = now_ms() + 2000;
         hw_http_server_stats(g.srv)->held_bytes != 10 && now_ms() < end;)
        turn(&g, -1);
    CHECK_EQ(hw_http_server_stats(g.srv)->held_bytes, 10);
    close(fd);
    CHECK(run_until(&g, no_connections, 2000));
    CHECK_EQ(hw_http_server_stats(g.srv)->held_bytes, 0);
    /* While the app holds the exchange: it is told, and the handle is dropped. */
    fd = client(&g);
    send_str(fd, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(run_until(&g, one_held, 2000));
    close(fd);
    CHECK(run_until(&g, no_connections, 2000));
    CHECK_EQ(app.aborts, 1);
    CHECK(app.held == NULL);
    CHECK_EQ(app.requests, 1);
    rig_stop(&g);
}

static void test_answer_later(void)
{
    struct hw_http_server_config cfg;
    struct rig g;
    char buf[4096] = "";
    int fd, eof;

    hw_http_server_config_defaults(&cfg);
    cfg.answer_timeout_ms = 300;
    rig_start(&g, &cfg);
    fd = client(&g);
    send_str(fd, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(run_until(&g, one_held, 2000));
    /* Many loop turns later, the held exchange is answered whole. */
    for (int i = 0; i < 20; i++)
        turn(&g, -1);
    CHECK_EQ(hw_http_conn_respond(app.held, 202, NULL, "", 0, "done", 4), 0);
    CHECK_EQ(hw_http_conn_respond(app.held, 202, NULL, "", 0, "done", 4), HW_EINVAL);
    CHECK(recv_text(&g, fd, buf, sizeof(buf), "done", 2000, &eof));
    CHECK(strncmp(buf, "HTTP/1.1 202 Accepted\r\nContent-Length: 4\r\n\r\ndone", 48) == 0);
    /* Not answered in time: on_abort, then the timeout error. */
    memset(buf, 0, sizeof(buf));
    app.held = NULL;
    send_str(fd, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(recv_text(&g, fd, buf, sizeof(buf), "HW_LOCAL_TIMEOUT", 3000, &eof));
    CHECK(strncmp(buf, "HTTP/1.1 504 ", 13) == 0);
    CHECK_EQ(app.aborts, 1);
    CHECK(app.held == NULL);
    close(fd);
    CHECK(run_until(&g, no_connections, 2000));
    rig_stop(&g);
}

/* A late wait of the program's own moves the deadline later, never earlier. */
static void test_wait_at_least(void)
{
    struct hw_http_server_config cfg;
    struct rig g;
    char buf[4096] = "";
    long long t0;
    int fd, eof;

    hw_http_server_config_defaults(&cfg);
    cfg.answer_timeout_ms = 300;
    rig_start(&g, &cfg);
    fd = client(&g);
    send_str(fd, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(run_until(&g, one_held, 2000));
    t0 = now_ms();
    hw_http_conn_wait_at_least(app.held, 1500);
    hw_http_conn_wait_at_least(app.held, 100);
    CHECK(recv_text(&g, fd, buf, sizeof(buf), "HW_LOCAL_TIMEOUT", 5000, &eof));
    CHECK(now_ms() - t0 >= 1450);
    CHECK(strncmp(buf, "HTTP/1.1 504 ", 13) == 0);
    close(fd);
    CHECK(run_until(&g, no_connections, 2000));
    rig_stop(&g);
}

static void test_head_deadline(void)
{
    struct hw_http_server_config cfg;
    struct rig g;
    char buf[4096] = "";
    long long t0;
    int fd, eof;

    hw_http_server_config_defaults(&cfg);
    cfg.head_timeout_ms = 400;
    rig_start(&g, &cfg);
    fd = client(&g);
    t0 = now_ms();
    /* One byte every 100 ms: progress, but the head is never whole in time. */
    for (const char *p = "POST /echo HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa"; *p;
         p++) {
        struct pollfd pf = { fd, POLLIN, 0 };
        long long next = now_ms() + 100;

        if (send(fd, p, 1, MSG_NOSIGNAL) != 1)
            break;
        while (now_ms() < next)
            turn(&g, -1);
        if (poll(&pf, 1, 0) == 1)
            break; /* the answer (or the close) is there */
    }
    recv_to_eof(&g, fd, buf, sizeof(buf), 3000, &eof);
    CHECK(eof);
    CHECK(strncmp(buf, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
    CHECK(now_ms() - t0 >= 350);
    CHECK(now_ms() - t0 < 2000);
    close(fd);
    CHECK(run_until(&g, no_connections, 2000));
    CHECK_EQ(app.requests, 0);
    rig_stop(&g);
}

static void test_body_stall(void)
{
    struct hw_http_server_config cfg;
    struct rig g;
    char buf[4096] = "";
    long long t0;
    int fd, eof;

    hw_http_server_config_defaults(&cfg);
    cfg.body_stall_ms = 300;
    rig_start(&g, &cfg);
    fd = client(&g);
    t0 = now_ms();
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab");
    recv_to_eof(&g, fd, buf, sizeof(buf), 3000, &eof);
    CHECK(eof);
    CHECK(strncmp(buf, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
    CHECK(strstr(buf, "Hookwire-Error: HW_REQUEST_TIMEOUT\r\n"));
    CHECK(now_ms() - t0 >= 250);
    CHECK(now_ms() - t0 < 2000);
    close(fd);
    CHECK(run_until(&g, no_connections, 2000));
    CHECK_EQ(app.requests, 0);
    rig_stop(&g);
}

static void test_lying_length(void)
{
    struct hw_http_server_config cfg;
    struct rig g;
    char buf[4096] = "";
    int fd, eof;
    size_t n;

    hw_http_server_config_defaults(&cfg);
    rig_start(&g, &cfg);
    /* More body than announced: exactly the announced bytes go out, then the close. */
    fd = client(&g);
    send_str(fd, "GET /lie-long HTTP/1.1\r\nHost: x\r\n\r\n");
    n = recv_to_eof(&g, fd, buf, sizeof(buf), 3000, &eof);
    CHECK(eof);
    CHECK_EQ(app.data_rc, HW_EPROTO);
    CHECK_EQ(app.aborts, 1);
    CHECK(strstr(buf, "\r\n\r\n"));
    CHECK_STR(strstr(buf, "\r\n\r\n") + 4, "01234");
    CHECK_EQ(n, (size_t)(strstr(buf, "\r\n\r\n") + 4 - buf) + 5);
    close(fd);
    /* Less than announced: cut short, the sender sees the close. */
    fd = client(&g);
    memset(buf, 0, sizeof(buf));
    send_str(fd, "GET /lie-short HTTP/1.1\r\nHost: x\r\n\r\n");
    recv_to_eof(&g, fd, buf, sizeof(buf), 3000, &eof);
    CHECK(eof);
    CHECK_EQ(app.end_rc, HW_EPROTO);
    CHECK_STR(strstr(buf, "\r\n\r\n") + 4, "abc");
    close(fd);
    /* A head with a hop-by-hop header is refused before a byte goes out. */
    fd = client(&g);
    memset(buf, 0, sizeof(buf));
    send_str(fd, "GET /hop HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(recv_text(&g, fd, buf, sizeof(buf), "HW_LOCAL_ERROR", 2000, &eof));
    CHECK_EQ(app.begin_rc, HW_EPROTO);
    CHECK(app.begin_why && strstr(app.begin_why, "hop-by-hop"));
    CHECK(strncmp(buf, "HTTP/1.1 502 ", 13) == 0);
    close(fd);
    /* A Content-Length that is not the announced length: refused, and the rule named. */
    fd = client(&g);
    memset(buf, 0, sizeof(buf));
    app.begin_why = NULL;
    send_str(fd, "GET /lie-head HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(recv_text(&g, fd, buf, sizeof(buf), "HW_LOCAL_ERROR", 2000, &eof));
    CHECK_EQ(app.begin_rc, HW_EPROTO);
    CHECK(app.begin_why && strstr(app.begin_why, "announced length"));
    close(fd);
    CHECK(run_until(&g, no_connections, 2000));
    rig_stop(&g);
}

static void test_shed_stalled(void)
{
    struct hw_http_server_config cfg;
    struct rig g;
    char buf[4096] = "";
    int slow[2], fd, eof, closed = 0;

    hw_http_server_config_defaults(&cfg);
    cfg.max_connections = 2;
    cfg.max_held = 20;
    cfg.shed_after_ms = 100;
    rig_start(&g, &cfg);
    /* Two readers stall: one in its head, one in its body holding 15 of the 20 bytes. */
    slow[0] = client(&g);
    send_str(slow[0], "POST /echo HTTP/1.1\r\nHo");
    slow[1] = client(&g);
    send_str(slow[1], "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
                      "012345678901234");
    run_quiet(&g, 200);
    CHECK_EQ(hw_http_server_stats(g.srv)->held_bytes, 15);
    /* A sender that sends gets through: a stalled reader makes room, twice over. */
    fd = client(&g);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789");
    CHECK(recv_text(&g, fd, buf, sizeof(buf), "\r\n\r\n0123456789", 2000, &eof));
    CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK_EQ(hw_http_server_stats(g.srv)->shed, 2);
    for (int i = 0; i < 2; i++) {
        recv_to_eof(&g, slow[i], buf, sizeof(buf), 2000, &eof);
        closed += eof;
        close(slow[i]);
    }
    CHECK_EQ(closed, 2);
    close(fd);
    CHECK(run_until(&g, no_connections, 2000));
    rig_stop(&g);
}

/* At the connection cap, a kept-alive connection gone idle makes room for a new sender. */
static void test_shed_idle_keepalive(void)
{
    struct hw_http_server_config cfg;
    struct rig g;
    char buf[4096] = "";
    int idle, fd, eof;

    hw_http_server_config_defaults(&cfg);
    cfg.max_connections = 1;
    cfg.shed_after_ms = 100;
    rig_start(&g, &cfg);
    idle = client(&g);
    send_str(idle, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok");
    CHECK(recv_text(&g, idle, buf, sizeof(buf), "\r\n\r\nok", 2000, &eof));
    CHECK(!eof);
    /* Kept alive, it sends nothing more: quiet past shed_after_ms. */
    run_quiet(&g, 200);
    fd = client(&g);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nnew");
    CHECK(recv_text(&g, fd, buf, sizeof(buf), "\r\n\r\nnew", 2000, &eof));
    CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK_EQ(hw_http_server_stats(g.srv)->shed, 1);
    recv_to_eof(&g, idle, buf, sizeof(buf), 2000, &eof);
    CHECK(eof);
    close(idle);
    close(fd);
    CHECK(run_until(&g, no_connections, 2000));
    rig_stop(&g);
}

static int holds_15(struct rig *g)
{
    return hw_http_server_stats(g->srv)->held_bytes == 15;
}

/* A stalled body is found for shedding however many heads opened before it. */
static void test_shed_body_behind_heads(void)
{
    struct hw_http_server_config cfg;
    struct rig g;
    char buf[4096] = "";
    int heads[100], body, fd, eof;

    hw_http_server_config_defaults(&cfg);
    cfg.max_held = 20;
    cfg.shed_after_ms = 100;
    rig_start(&g, &cfg);
    for (int i = 0; i < 100; i++) {
        heads[i] = client(&g);
        send_str(heads[i], "POST /echo HTTP/1.1\r\nHo");
    }
    run_quiet(&g, 100);
    body = client(&g);
    send_str(body, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
                   "012345678901234");
    CHECK(run_until(&g, holds_15, 2000));
    run_quiet(&g, 200);
    fd = client(&g);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789");
    CHECK(recv_text(&g, fd, buf, sizeof(buf), "\r\n\r\n0123456789", 2000, &eof));
    CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK_EQ(hw_http_server_stats(g.srv)->shed, 1);
    recv_to_eof(&g, body, buf, sizeof(buf), 2000, &eof);
    CHECK(eof);
    close(body);
    close(fd);
    for (int i = 0; i < 100; i++)
        close(heads[i]);
    CHECK(run_until(&g, no_connections, 2000));
    rig_stop(&g);
}

/*
 * A peer that never reads: the answer is cut once its bytes stop leaving,
 * whether it fits in the kernel's buffers (1 MiB) or not (16 MiB).
 */
static void test_peer_not_reading(void)
{
    static const char *targets[] = { "/big1m", "/big16m" };
    struct hw_http_server_config cfg;
    struct rig g;

    hw_http_server_config_defaults(&cfg);
    cfg.answer_stall_ms = 400;
    rig_start(&g, &cfg);
    for (int i = 0; i < 2; i++) {
        char req[128];
        int fd = socket(AF_INET, SOCK_STREAM, 0), small = 4096;
        struct sockaddr_in a;
        long long t0, took;

        CHECK(fd >= 0);
        CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)g.port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CHECK_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", targets[i]);
        t0 = now_ms();
        send_str(fd, req);
        CHECK(run_until(&g, answered_once, 2000));
        CHECK(run_until(&g, no_connections, 5000));
        took = now_ms() - t0;
        fprintf(stderr, "    %s: closed after %lld ms\n", targets[i], took);
        CHECK(took >= 350);
        CHECK(took < 2500);
        close(fd);
        app.requests = 0;
    }
    rig_stop(&g);
}

/*
 * A peer that stops reading while a large answer goes out: the send at the
 * end of the round leaves most of it queued, the socket fills, and the rest
 * goes through WRITEABLE once the peer reads again. Every byte arrives, in
 * order, and then the answer to the request pipelined behind it.
 */
static void test_reader_pauses(void)
{
    static char got[(16 << 20) + 4096];
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 16777216\r\n\r\n";
    static const char echo[] = "HTTP/1.1 200 OK\r\nX-App: yes\r\nContent-Length: 5\r\n\r\nhello";
    size_t hl = sizeof(head) - 1, el = sizeof(echo) - 1, n;
    struct hw_http_server_config cfg;
    struct rig g;
    int fd, small = 4096, avail = 0, last = -1, eof;

    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + (i * 7 + i / 4093) % 26);
    hw_http_server_config_defaults(&cfg);
    rig_start(&g, &cfg);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    {
        struct sockaddr_in a;

        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)g.port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CHECK_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    }
    send_str(fd, "GET /big16m HTTP/1.1\r\nHost: x\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    CHECK(run_until(&g, answered_once, 2000));
    /* Not reading: the loop runs until what reaches the peer stops growing (the socket is full). */
    for (int stable = 0, i = 0; stable < 50 && i < 20000; i++) {
        turn(&g, -1);
        CHECK_EQ(ioctl(fd, FIONREAD, &avail), 0);
        stable = avail == last ? stable + 1 : 0;
        last = avail;
    }
    CHECK(avail > 0);
    CHECK(avail < (int)sizeof(big));
    n = recv_until(&g, fd, got, hl + sizeof(big) + el, 20000, &eof);
    CHECK_EQ(n, hl + sizeof(big) + el);
    CHECK_MEM(got, head, hl);
    CHECK(memcmp(got + hl, big, sizeof(big)) == 0);
    CHECK_MEM(got + hl + sizeof(big), echo, el);
    CHECK_EQ(app.requests, 2);
    close(fd);
    CHECK(run_until(&g, no_connections, 2000));
    app.requests = 0;
    rig_stop(&g);
}

/*
 * Thousands of small requests sent in one burst on one connection, each
 * answered only later (as a receiver answers after its commit): reading
 * pauses while head_max bytes wait unread, and stays paused across answers
 * until the backlog is under that, so the reader's buffer never overflows
 * and every request is answered, in order, on the same connection.
 */
static void test_pipelined_burst(void)
{
    enum { N = 4000 };
    static const char rq[] = "POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n"
                             "0123456789012345678901234567890123456789";
    static const char ans[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    static char out[N * (sizeof(rq) - 1)], in[N * (sizeof(ans) - 1) + 1];
    size_t sent = 0, got = 0, al = sizeof(ans) - 1;
    struct hw_http_server_config cfg;
    struct rig g;
    long long end;
    int fd, answered = 0, eof = 0;

    for (int i = 0; i < N; i++)
        memcpy(out + (size_t)i * (sizeof(rq) - 1), rq, sizeof(rq) - 1);
    hw_http_server_config_defaults(&cfg);
    rig_start(&g, &cfg);
    fd = client(&g);
    end = now_ms() + 30000;
    while (got < sizeof(in) - 1 && !eof && now_ms() < end) {
        ssize_t n;

        if (sent < sizeof(out)) {
            n = send(fd, out + sent, sizeof(out) - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            CHECK(n > 0 || errno == EAGAIN);
            sent += n > 0 ? (size_t)n : 0;
        }
        turn(&g, -1);
        if (app.held) {
            struct hw_http_conn *c = app.held;

            app.held = NULL;
            CHECK_EQ(hw_http_conn_respond(c, 200, NULL, "", 0, "ok", 2), 0);
            answered++;
        }
        n = recv(fd, in + got, sizeof(in) - 1 - got, MSG_DONTWAIT);
        eof = n == 0 || (n < 0 && errno == ECONNRESET);
        got += n > 0 ? (size_t)n : 0;
    }
    CHECK_EQ(sent, sizeof(out));
    CHECK(!eof);
    CHECK_EQ(answered, N);
    CHECK_EQ(got, sizeof(in) - 1);
    for (int i = 0; i < N; i++)
        CHECK_MEM(in + (size_t)i * al, ans, al);
    CHECK_EQ(app.requests, N);
    close(fd);
    CHECK(run_until(&g, no_connections, 2000));
    rig_stop(&g);
}

/* Expect: 100-continue gets its interim answer from HTTP/1.1 clients only (RFC 9110 10.1.1). */
static void test_expect_continue(void)
{
    struct hw_http_server_config cfg;
    struct rig g;
    char buf[4096] = "";
    int fd, eof;

    hw_http_server_config_defaults(&cfg);
    rig_start(&g, &cfg);
    fd = client(&g);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                 "Content-Length: 2\r\n\r\n");
    CHECK(recv_text(&g, fd, buf, sizeof(buf), "\r\n\r\n", 2000, &eof));
    CHECK_STR(buf, "HTTP/1.1 100 Continue\r\n\r\n");
    send_str(fd, "ok");
    CHECK(recv_text(&g, fd, buf, sizeof(buf), "\r\n\r\nok", 2000, &eof));
    CHECK(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    close(fd);
    fd = client(&g);
    memset(buf, 0, sizeof(buf));
    send_str(fd, "POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    for (int i = 0; i < 50; i++)
        turn(&g, fd);
    send_str(fd, "ok");
    recv_to_eof(&g, fd, buf, sizeof(buf), 2000, &eof);
    CHECK(eof);
    CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(!strstr(buf, "100 Continue"));
    close(fd);
    CHECK(run_until(&g, no_connections, 2000));
    rig_stop(&g);
}

/* HW_HEADERS_ACCEPTED header lines are served; one more gets 431 and the close. */
static void test_header_lines(void)
{
    struct hw_http_server_config cfg;
    struct rig g;
    static char req[16384], buf[4096];
    int eof;

    hw_http_server_config_defaults(&cfg);
    rig_start(&g, &cfg);
    for (int n = HW_HEADERS_ACCEPTED; n <= HW_HEADERS_ACCEPTED + 1; n++) {
        size_t len = (size_t)snprintf(req, sizeof(req), "GET /echo HTTP/1.1\r\nHost: x\r\n");
        int fd = client(&g);

        for (int i = 1; i < n; i++)
            len += (size_t)snprintf(req + len, sizeof(req) - len, "X-Line-%d: %d\r\n", i, i);
        snprintf(req + len, sizeof(req) - len, "\r\n");
        memset(buf, 0, sizeof(buf));
        send_str(fd, req);
        if (n == HW_HEADERS_ACCEPTED) {
            CHECK(recv_text(&g, fd, buf, sizeof(buf), "\r\n\r\n", 2000, &eof));
            CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
        } else {
            recv_to_eof(&g, fd, buf, sizeof(buf), 2000, &eof);
            CHECK(eof);
            CHECK(strncmp(buf, "HTTP/1.1 431 ", 13) == 0);
            CHECK(strstr(buf, "Hookwire-Error: HW_HEADERS_TOO_LARGE\r\n"));
        }
        close(fd);
    }
    CHECK_EQ(app.requests, 1);
    CHECK_EQ(hw_http_server_stats(g.srv)->errors[HW_ERRC_HEADERS_TOO_LARGE], 1);
    CHECK(run_until(&g, no_connections, 2000));
    rig_stop(&g);
}

int main(void)
{
    hw_log_init("test");
    lws_set_log_level(0, NULL);
    RUN(test_keep_alive);
    RUN(test_pipelining_and_head);
    RUN(test_peer_closes_midway);
    RUN(test_answer_later);
    RUN(test_wait_at_least);
    RUN(test_head_deadline);
    RUN(test_body_stall);
    RUN(test_lying_length);
    RUN(test_shed_stalled);
    RUN(test_shed_idle_keepalive);
    RUN(test_shed_body_behind_heads);
    RUN(test_peer_not_reading);
    RUN(test_reader_pauses);
    RUN(test_pipelined_burst);
    RUN(test_expect_continue);
    RUN(test_header_lines);
    return 0;
}
