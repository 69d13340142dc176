/*
 * The HTTP client on loopback, on its own: a test lws context drives the
 * client while scripted peers (plain sockets, one thread per connection)
 * answer each request as the case needs: keep-alive, a close mid-head or
 * mid-body, a stale pooled connection, lying lengths, chunked answers,
 * silence, a listener that never accepts. Waits are service loops with a
 * deadline.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "core/buf.h"
#include "core/err.h"
#include "http/chunked.h"
#include "net/http_client.h"
#include "net/http_fetch.h"

/* ---- scripted peer ---- */

typedef void (*serve_fn)(int fd, int conn_no);

#define PEER_MAX_CONNS 16

struct peer {
    int lfd, port;
    serve_fn serve;
    pthread_t accepter;
    pthread_t th[PEER_MAX_CONNS];
    int fds[PEER_MAX_CONNS];
    atomic_int accepted;
};

struct conn_arg {
    serve_fn serve;
    int fd, no;
};

static void *conn_main(void *p)
{
    struct conn_arg a = *(struct conn_arg *)p;

    free(p);
    a.serve(a.fd, a.no);
    shutdown(a.fd, SHUT_RDWR);
    return NULL;
}

static void *accept_main(void *p)
{
    struct peer *pe = p;

    for (;;) {
        int fd = accept(pe->lfd, NULL, NULL), n;
        struct conn_arg *a;

        if (fd < 0)
            return NULL;
        n = atomic_load(&pe->accepted);
        CHECK(n < PEER_MAX_CONNS);
        a = malloc(sizeof(*a));
        CHECK(a);
        *a = (struct conn_arg){ pe->serve, fd, n + 1 };
        pe->fds[n] = fd;
        atomic_store(&pe->accepted, n + 1); /* counted before the connection can answer */
        CHECK_EQ(pthread_create(&pe->th[n], NULL, conn_main, a), 0);
    }
}

static int listen_loopback(int backlog, int *port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    CHECK(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    CHECK_EQ(listen(fd, backlog), 0);
    CHECK_EQ(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void peer_open(struct peer *pe, serve_fn serve)
{
    memset(pe, 0, sizeof(*pe));
    pe->serve = serve;
    pe->lfd = listen_loopback(16, &pe->port);
    CHECK_EQ(pthread_create(&pe->accepter, NULL, accept_main, pe), 0);
}

static void peer_close(struct peer *pe)
{
    shutdown(pe->lfd, SHUT_RDWR); /* wakes accept() */
    CHECK_EQ(pthread_join(pe->accepter, NULL), 0);
    close(pe->lfd);
    for (int i = 0; i < atomic_load(&pe->accepted); i++) {
        shutdown(pe->fds[i], SHUT_RDWR); /* wakes a peer still reading */
        CHECK_EQ(pthread_join(pe->th[i], NULL), 0);
        close(pe->fds[i]);
    }
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the client went away: the case checks what it saw */
        s += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

/*
 * Reads one request (head, then a Content-Length or chunked body) into buf;
 * the decoded body goes to body (its length to *body_len) when given. Returns the request's
 * length, or 0 when the client closed first.
 */
static size_t read_request(int fd, char *buf, size_t cap, char *body, size_t *body_len)
{
    size_t len = 0, need = 0, head = 0;
    int chunked = 0;

    for (;;) {
        ssize_t n;

        if (head) {
            if (chunked && len >= 5 && memcmp(buf + len - 5, "0\r\n\r\n", 5) == 0)
                break;
            if (!chunked && len >= head + need)
                break;
        }
        CHECK(len < cap);
        n = recv(fd, buf + len, cap - len, 0);
        if (n <= 0)
            return 0;
        len += (size_t)n;
        if (!head) {
            char *end = memmem(buf, len, "\r\n\r\n", 4), *cl;
            if (!end)
                continue;
            head = (size_t)(end + 4 - buf);
            buf[head - 1] = '\0';
            chunked = strcasestr(buf, "transfer-encoding: chunked") != NULL;
            cl = strcasestr(buf, "content-length:");
            need = cl ? strtoul(cl + 15, NULL, 10) : 0;
            buf[head - 1] = '\n';
        }
    }
    if (body) {
        size_t n = len - head;
        memcpy(body, buf + head, n);
        if (chunked) {
            struct hw_chunked c;
            hw_chunked_init(&c);
            CHECK_EQ(hw_chunked_decode(&c, body, &n), 0);
        }
        *body_len = n;
    }
    return len;
}

static char peer_buf[PEER_MAX_CONNS][256 * 1024];

#define READ_REQ(fd, no) read_request(fd, peer_buf[(no)-1], sizeof(peer_buf[0]), NULL, NULL)

static void serve_keepalive(int fd, int no)
{
    while (READ_REQ(fd, no))
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
}

/* Empty answers, framed by a zero length and by a status that has no body. */
static void serve_empty(int fd, int no)
{
    while (READ_REQ(fd, no)) {
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        if (!READ_REQ(fd, no))
            return;
        send_str(fd, "HTTP/1.1 204 No Content\r\n\r\n");
    }
}

static void serve_mid_head(int fd, int no)
{
    if (READ_REQ(fd, no))
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Len");
}

static void serve_mid_body(int fd, int no)
{
    if (READ_REQ(fd, no))
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
}

/* Two Content-Length headers that disagree: the framing is unknowable. */
static void serve_bad_head(int fd, int no)
{
    if (READ_REQ(fd, no))
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd");
}

/* The first connection answers once, then takes the next request and closes unanswered. */
static void serve_stale(int fd, int no)
{
    if (no > 1) {
        serve_keepalive(fd, no);
        return;
    }
    if (READ_REQ(fd, no))
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
    READ_REQ(fd, no);
}

/* The first connection answers once and closes; the test hears of it through this pipe. */
static int closed_pipe[2];

static void serve_close_after_one(int fd, int no)
{
    if (no > 1) {
        serve_keepalive(fd, no);
        return;
    }
    if (READ_REQ(fd, no))
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
    shutdown(fd, SHUT_RDWR);
    CHECK_EQ(write(closed_pipe[1], "x", 1), 1);
}

/* First connection: three bytes announced, eight sent in one segment; then keep-alive. */
static void serve_lying_more(int fd, int no)
{
    if (no == 1 && READ_REQ(fd, no))
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA");
    serve_keepalive(fd, no);
}

static void serve_chunked(int fd, int no)
{
    while (READ_REQ(fd, no)) {
        send_str(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        send_str(fd, "5\r\nhello\r\n");
        send_str(fd, "6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
    }
}

static void serve_hang(int fd, int no)
{
    while (READ_REQ(fd, no))
        ; /* never answers; returns when the client closes */
}

static void serve_interim(int fd, int no)
{
    if (READ_REQ(fd, no))
        send_str(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
                     "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
}

static void serve_101(int fd, int no)
{
    if (READ_REQ(fd, no))
        send_str(fd,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n");
}

#define BIG_LEN 300000

static char pattern(size_t i)
{
    return (char)('a' + i % 23);
}

static char big_body[BIG_LEN]; /* filled by main() before any peer runs */

static void serve_big(int fd, int no)
{
    while (READ_REQ(fd, no)) {
        char head[100];
        int n =
            snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BIG_LEN);
        send_all(fd, head, (size_t)n);
        send_all(fd, big_body, BIG_LEN);
    }
}

/* Answers each request with its decoded body. */
static void serve_echo(int fd, int no)
{
    static char body[PEER_MAX_CONNS][64 * 1024];
    size_t n;

    while (read_request(fd, peer_buf[no - 1], sizeof(peer_buf[0]), body[no - 1], &n)) {
        char head[100];
        int h = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
        send_all(fd, head, (size_t)h);
        send_all(fd, body[no - 1], n);
    }
}

static void serve_retry_after(int fd, int no)
{
    while (READ_REQ(fd, no)) {
        send_str(fd, "HTTP/1.1 503 Busy\r\nRetry-After:  7 \r\nContent-Length: 3000\r\n\r\n");
        send_all(fd, big_body, 3000);
    }
}

/* ---- the client side ---- */

static struct lws_context *cx;
static lws_sorted_usec_list_t tick;

/* Wakes the service loop so that conditions set by other threads are seen. */
static void tick_cb(lws_sorted_usec_list_t *s)
{
    lws_sul_schedule(cx, 0, &tick, tick_cb, 10 * 1000);
}

struct res {
    int status, ended, failed, resent, paused;
    enum hw_http_fail why;
    char text[160];
    size_t body_len;
    size_t take_max; /* on_body takes at most this much per call (0: all) */
    int cancel_in_head, cancel_in_body;
    size_t sent;
    char body[BIG_LEN]; /* last: start() clears what comes before */
};

static int finished(const struct res *r)
{
    return r->ended || r->failed;
}

static void on_head(struct hw_http_req *r, void *user, const struct hw_http_head *h,
                    const char *raw, size_t raw_len)
{
    struct res *s = user;

    s->status = h->status;
    CHECK(raw_len >= 12 && memcmp(raw, "HTTP/1.1 ", 9) == 0);
    if (s->cancel_in_head) {
        hw_http_req_cancel(r);
        hw_http_req_cancel(r); /* twice is harmless inside a callback */
    }
}

static size_t on_body(struct hw_http_req *r, void *user, const char *p, size_t n)
{
    struct res *s = user;
    size_t take = s->take_max && n > s->take_max ? s->take_max : n;

    CHECK(!finished(s));
    CHECK(s->body_len + take <= sizeof(s->body));
    memcpy(s->body + s->body_len, p, take);
    s->body_len += take;
    if (take < n)
        s->paused = 1;
    if (s->cancel_in_body)
        hw_http_req_cancel(r);
    return take;
}

static void on_end(struct hw_http_req *r, void *user)
{
    struct res *s = user;

    CHECK(!finished(s));
    s->ended = 1;
    s->resent = hw_http_req_resent(r);
}

static void on_error(struct hw_http_req *r, void *user, enum hw_http_fail why, const char *text)
{
    struct res *s = user;

    CHECK(!finished(s));
    s->failed = 1;
    s->why = why;
    snprintf(s->text, sizeof(s->text), "%s", text); /* text lives for the call only */
}

static void on_sent(struct hw_http_req *r, void *user, size_t n)
{
    ((struct res *)user)->sent += n;
}

static struct res res1, res2, res3;

static const struct hw_http_req_cb cbs = { on_head, on_body, on_end, on_error, on_sent, NULL };

/* Services the context until cond(arg) holds; fails the test after ms. */
static void spin(int (*cond)(const void *), const void *arg, int ms)
{
    lws_usec_t deadline = lws_now_usecs() + (lws_usec_t)ms * 1000;

    while (!cond(arg)) {
        CHECK(lws_now_usecs() < deadline);
        lws_service(cx, 0);
    }
}

static void spin_done(const struct res *s, int ms)
{
    spin((int (*)(const void *))finished, s, ms);
}

static struct hw_http_client *client;

static struct hw_http_target *target(int port, size_t max_conns, size_t max_pending)
{
    struct hw_http_target_opts o = { .address = "127.0.0.1",
                                     .port = port,
                                     .max_conns = max_conns,
                                     .max_idle = 8,
                                     .max_pending = max_pending };
    struct hw_http_target *t = hw_http_target_new(client, &o);

    CHECK(t);
    return t;
}

static struct hw_http_req *start(struct hw_http_target *t, struct res *s, const char *head,
                                 const struct hw_http_req_opts *opts)
{
    struct hw_http_req_opts o = { .method = "GET", .body_done = 1 };
    struct hw_buf b;
    struct hw_http_req *r;
    int err;

    memset(s, 0, offsetof(struct res, body));
    hw_buf_init(&b, 64 * 1024);
    CHECK_EQ(hw_buf_puts(&b, head ? head : "GET / HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    r = hw_http_req_start(t, &b, opts ? opts : &o, &cbs, s, &err);
    CHECK(r);
    CHECK_EQ(err, 0);
    CHECK_EQ(hw_buf_size(&b), 0); /* the client took the bytes */
    hw_buf_cleanup(&b);
    return r;
}

static void test_keepalive_reuse(void)
{
    struct peer pe;
    struct hw_http_target *t;

    peer_open(&pe, serve_keepalive);
    t = target(pe.port, 4, 8);
    for (int i = 0; i < 3; i++) {
        start(t, &res1, NULL, NULL);
        spin_done(&res1, 5000);
        CHECK(res1.ended);
        CHECK_EQ(res1.status, 200);
        CHECK_EQ(res1.body_len, 5);
        CHECK_MEM(res1.body, "hello", 5);
    }
    CHECK_EQ(atomic_load(&pe.accepted), 1); /* one connection, reused in turn */
    peer_close(&pe);
}

static void test_empty_answers(void)
{
    struct peer pe;
    struct hw_http_target *t;

    peer_open(&pe, serve_empty);
    t = target(pe.port, 4, 8);
    for (int i = 0; i < 4; i++) {
        start(t, &res1, NULL, NULL);
        spin_done(&res1, 5000);
        CHECK(res1.ended);
        CHECK_EQ(res1.status, i % 2 ? 204 : 200);
        CHECK_EQ(res1.body_len, 0);
    }
    CHECK_EQ(atomic_load(&pe.accepted), 1);
    peer_close(&pe);
}

static void test_close_mid_head_and_body(void)
{
    struct peer ph, pb;

    peer_open(&ph, serve_mid_head);
    start(target(ph.port, 4, 8), &res1, NULL, NULL);
    spin_done(&res1, 5000);
    CHECK(res1.failed);
    CHECK_EQ(res1.why, HW_HTTP_BAD_ANSWER);
    CHECK_EQ(res1.status, 0);
    CHECK(strstr(res1.text, "mid-head"));
    peer_close(&ph);

    /* Fewer bytes than the Content-Length, then a close: an error, never an end. */
    peer_open(&pb, serve_mid_body);
    start(target(pb.port, 4, 8), &res1, NULL, NULL);
    spin_done(&res1, 5000);
    CHECK(res1.failed);
    CHECK_EQ(res1.why, HW_HTTP_BAD_ANSWER);
    CHECK_EQ(res1.status, 200);
    CHECK(res1.body_len <= 3);
    CHECK(strstr(res1.text, "mid-body"));
    peer_close(&pb);
}

/* A malformed head fails the request with the rule it broke, for the caller's log line. */
static void test_malformed_head_names_rule(void)
{
    struct peer p;

    peer_open(&p, serve_bad_head);
    start(target(p.port, 4, 8), &res1, NULL, NULL);
    spin_done(&res1, 5000);
    CHECK(res1.failed);
    CHECK_EQ(res1.why, HW_HTTP_BAD_ANSWER);
    CHECK_EQ(res1.status, 0);
    CHECK(strncmp(res1.text, "malformed answer head: ", 23) == 0);
    CHECK(strstr(res1.text, "Content-Length") != NULL);
    peer_close(&p);
}

static void test_stale_pooled_resent_once(void)
{
    struct peer pe;
    struct hw_http_target *t;

    peer_open(&pe, serve_stale);
    t = target(pe.port, 4, 8);
    start(t, &res1, NULL, NULL);
    spin_done(&res1, 5000);
    CHECK(res1.ended && !res1.resent);
    CHECK_MEM(res1.body, "one", 3);
    /* Sent on the pooled connection, which closes without a byte: resent on a fresh one. */
    start(t, &res2, "GET /again HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    spin_done(&res2, 5000);
    CHECK(res2.ended);
    CHECK(res2.resent);
    CHECK_EQ(res2.status, 200);
    CHECK_MEM(res2.body, "hello", 5);
    CHECK_EQ(atomic_load(&pe.accepted), 2);
    peer_close(&pe);
}

static void test_pooled_closed_before_next(void)
{
    struct peer pe;
    struct hw_http_target *t;
    struct pollfd p;
    char x;

    CHECK_EQ(pipe(closed_pipe), 0);
    peer_open(&pe, serve_close_after_one);
    t = target(pe.port, 4, 8);
    start(t, &res1, NULL, NULL);
    spin_done(&res1, 5000);
    CHECK(res1.ended);
    /* Without servicing lws, so that the connection is still pooled when the close is known. */
    p = (struct pollfd){ .fd = closed_pipe[0], .events = POLLIN };
    CHECK_EQ(poll(&p, 1, 5000), 1);
    CHECK_EQ(read(closed_pipe[0], &x, 1), 1);
    start(t, &res2, NULL, NULL);
    spin_done(&res2, 5000);
    CHECK(res2.ended);
    CHECK(res2.resent);
    CHECK_MEM(res2.body, "hello", 5);
    CHECK_EQ(atomic_load(&pe.accepted), 2);
    peer_close(&pe);
    close(closed_pipe[0]);
    close(closed_pipe[1]);
}

static void test_lying_content_length(void)
{
    struct peer pe;
    struct hw_http_target *t;

    peer_open(&pe, serve_lying_more);
    t = target(pe.port, 4, 8);
    start(t, &res1, NULL, NULL);
    spin_done(&res1, 5000);
    CHECK(res1.ended);
    CHECK_EQ(res1.body_len, 3); /* the extra bytes are never delivered */
    CHECK_MEM(res1.body, "abc", 3);
    start(t, &res2, NULL, NULL);
    spin_done(&res2, 5000);
    CHECK(res2.ended);
    CHECK_EQ(res2.body_len, 5);
    CHECK_MEM(res2.body, "hello", 5);
    CHECK(!res2.resent);
    CHECK_EQ(atomic_load(&pe.accepted), 2); /* the connection that lied was not reused */
    peer_close(&pe);
}

static void test_chunked_answers(void)
{
    struct peer pe;
    struct hw_http_target *t;

    peer_open(&pe, serve_chunked);
    t = target(pe.port, 4, 8);
    for (int i = 0; i < 2; i++) {
        start(t, &res1, NULL, NULL);
        spin_done(&res1, 5000);
        CHECK(res1.ended);
        CHECK_EQ(res1.body_len, 11);
        CHECK_MEM(res1.body, "hello world", 11);
    }
    CHECK_EQ(atomic_load(&pe.accepted), 1); /* framed by the last chunk: reusable */
    peer_close(&pe);
}

static void test_interim_and_101(void)
{
    struct peer pi, ps;

    peer_open(&pi, serve_interim);
    start(target(pi.port, 4, 8), &res1, NULL, NULL);
    spin_done(&res1, 5000);
    CHECK(res1.ended);
    CHECK_EQ(res1.status, 201);
    CHECK_MEM(res1.body, "ok", 2);
    peer_close(&pi);

    peer_open(&ps, serve_101);
    start(target(ps.port, 4, 8), &res1, NULL, NULL);
    spin_done(&res1, 5000);
    CHECK(res1.failed);
    CHECK_EQ(res1.why, HW_HTTP_BAD_ANSWER);
    CHECK(strstr(res1.text, "switched"));
    peer_close(&ps);
}

static void test_connect_timeout(void)
{
    int port, lfd = listen_loopback(0, &port), fill[16], nfill = 0, full = 0;
    struct hw_http_req_opts o = { .method = "GET", .body_done = 1, .connect_timeout_ms = 300 };
    lws_usec_t t0;

    /* Fill the accept queue of a listener that never accepts, until a connect hangs. */
    while (!full && nfill < 16) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        struct pollfd p;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

        CHECK(fd >= 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fill[nfill++] = fd;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            continue;
        p = (struct pollfd){ .fd = fd, .events = POLLOUT };
        full = poll(&p, 1, 200) == 0; /* no handshake within 200 ms: the queue is full */
    }
    CHECK(full);
    t0 = lws_now_usecs();
    start(target(port, 4, 8), &res1, NULL, &o);
    spin_done(&res1, 5000);
    CHECK(res1.failed);
    CHECK_EQ(res1.why, HW_HTTP_TIMEOUT);
    CHECK(strstr(res1.text, "connect"));
    CHECK(lws_now_usecs() - t0 >= 250 * 1000);
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    close(lfd);
}

static void test_total_timeout(void)
{
    struct peer pe;
    struct hw_http_req_opts o = { .method = "GET", .body_done = 1, .timeout_ms = 300 };
    lws_usec_t t0 = lws_now_usecs();

    peer_open(&pe, serve_hang);
    start(target(pe.port, 4, 8), &res1, NULL, &o);
    spin_done(&res1, 5000);
    CHECK(res1.failed);
    CHECK_EQ(res1.why, HW_HTTP_TIMEOUT);
    CHECK(lws_now_usecs() - t0 >= 250 * 1000);
    peer_close(&pe); /* the peer saw the connection closed, or this would hang */
}

static int both_done(const void *unused)
{
    return finished(&res1) && finished(&res2);
}

static void test_pending_cap(void)
{
    struct peer pe;
    struct hw_http_target *t;
    struct hw_buf b;
    struct hw_http_req_opts o = { .method = "GET", .body_done = 1 };
    int err = 0;

    peer_open(&pe, serve_keepalive);
    t = target(pe.port, 1, 2);
    start(t, &res1, NULL, NULL);
    start(t, &res2, NULL, NULL); /* waits for the one connection */
    hw_buf_init(&b, 1024);
    CHECK_EQ(hw_buf_puts(&b, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    CHECK(!hw_http_req_start(t, &b, &o, &cbs, &res3, &err));
    CHECK_EQ(err, HW_EFULL);
    CHECK_EQ(hw_buf_size(&b), 27); /* refused: the caller keeps its bytes */
    hw_buf_cleanup(&b);
    spin(both_done, NULL, 5000);
    CHECK(res1.ended && res2.ended);
    CHECK_EQ(atomic_load(&pe.accepted), 1);
    CHECK(!finished(&res3));
    peer_close(&pe);
}

static int seen_accepts(const void *p)
{
    return atomic_load(&((struct peer *)p)->accepted) >= 1 && res1.status != 0;
}

static int cancelled_in_body(const void *unused)
{
    return finished(&res2) && res1.body_len > 0;
}

static void test_cancel_inside_callbacks(void)
{
    struct peer pe, pb;
    struct hw_http_target *t;

    peer_open(&pe, serve_keepalive);
    t = target(pe.port, 4, 8);
    start(t, &res1, NULL, NULL);
    res1.cancel_in_head = 1;
    spin(seen_accepts, &pe, 5000);
    CHECK(!finished(&res1));
    CHECK_EQ(res1.body_len, 0); /* nothing after the cancel */
    start(t, &res2, NULL, NULL);
    spin_done(&res2, 5000);
    CHECK(res2.ended);
    CHECK_EQ(atomic_load(&pe.accepted), 2); /* the cancelled exchange's connection was closed */
    CHECK(!finished(&res1));
    peer_close(&pe);

    peer_open(&pb, serve_big);
    t = target(pb.port, 4, 8);
    start(t, &res1, NULL, NULL);
    res1.cancel_in_body = 1;
    res1.take_max = 100;
    start(t, &res2, NULL, NULL); /* a second exchange on its own connection is unaffected */
    spin(cancelled_in_body, NULL, 5000);
    CHECK(res2.ended);
    CHECK_EQ(res2.body_len, BIG_LEN);
    CHECK_EQ(res1.body_len, 100);
    CHECK(!finished(&res1));
    peer_close(&pb);
}

static void test_pause_resume(void)
{
    struct peer pe;
    struct hw_http_req *r;
    lws_usec_t deadline = lws_now_usecs() + 10 * 1000 * 1000;

    peer_open(&pe, serve_big);
    r = start(target(pe.port, 4, 8), &res1, NULL, NULL);
    res1.take_max = 7000;
    while (!finished(&res1)) {
        CHECK(lws_now_usecs() < deadline);
        lws_service(cx, 0);
        if (res1.paused && !finished(&res1)) {
            res1.paused = 0;
            hw_http_req_resume(r); /* the caller has room again */
        }
    }
    CHECK(res1.ended);
    CHECK_EQ(res1.body_len, BIG_LEN);
    for (size_t i = 0; i < BIG_LEN; i++)
        CHECK(res1.body[i] == pattern(i));
    peer_close(&pe);
}

static void test_streamed_chunked_request(void)
{
    struct peer pe;
    struct hw_http_req_opts o = { .method = "POST", .chunked = 1 };
    struct hw_http_req *r;
    static char piece[40000];
    size_t total = 0;

    peer_open(&pe, serve_echo);
    r = start(target(pe.port, 4, 8), &res1,
              "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", &o);
    for (int i = 0; i < 3; i++) {
        memset(piece, 'A' + i, sizeof(piece));
        CHECK_EQ(hw_http_req_write(r, piece, sizeof(piece) - (size_t)i), 0);
        total += sizeof(piece) - (size_t)i;
        lws_service(cx, 0);
    }
    CHECK_EQ(hw_http_req_finish(r), 0);
    CHECK_EQ(hw_http_req_finish(r), HW_EINVAL);
    spin_done(&res1, 5000);
    CHECK(res1.ended);
    CHECK_EQ(res1.body_len, total);
    CHECK(res1.body[0] == 'A' && res1.body[40000] == 'B' && res1.body[total - 1] == 'C');
    CHECK_EQ(res1.sent, total); /* on_sent reported every body byte */
    peer_close(&pe);
}

static int fetched;
static void on_fetched(const struct hw_http_result *res, void *user)
{
    size_t len;
    const char *v = hw_http_result_header(res, "retry-after", &len);

    CHECK_EQ(res->status, 503);
    CHECK_EQ(res->fail, 0);
    CHECK_EQ(res->body_len, 3000);
    CHECK_EQ(hw_buf_size(&res->body), 1024);
    CHECK(res->truncated);
    CHECK(v && len == 1 && v[0] == '7');
    CHECK_EQ(hw_http_result_retry_after(res, 0), 7);
    CHECK(!hw_http_result_header(res, "x-absent", &len));
    CHECK(res->duration_us > 0);
    fetched++;
}

static int fetch_done(const void *unused)
{
    return fetched > 0;
}

static void test_fetch_collects(void)
{
    struct peer pe;
    struct hw_http_req_opts o = { .method = "POST", .timeout_ms = 5000 };
    struct hw_buf b;
    int err;

    peer_open(&pe, serve_retry_after);
    hw_buf_init(&b, 4096);
    CHECK_EQ(hw_buf_puts(&b, "POST /hook HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}"), 0);
    CHECK(hw_http_fetch(target(pe.port, 4, 8), &b, &o, 1024, 0, on_fetched, NULL, &err));
    spin(fetch_done, NULL, 5000);
    CHECK_EQ(fetched, 1);
    hw_buf_cleanup(&b);
    peer_close(&pe);
}

static int seen_accepts_any(const void *p)
{
    return atomic_load(&((struct peer *)p)->accepted) >= 1;
}

static void test_free_cancels_pending(void)
{
    struct peer pe;

    peer_open(&pe, serve_hang);
    start(target(pe.port, 4, 8), &res1, NULL, NULL);
    spin(seen_accepts_any, &pe, 5000);
    hw_http_client_free(client);
    client = NULL;
    CHECK(res1.failed);
    CHECK_EQ(res1.why, HW_HTTP_CANCELLED);
    lws_context_destroy(cx); /* closes the sockets: the peer's reader returns */
    cx = NULL;
    peer_close(&pe);
}

int main(void)
{
    static struct lws_protocols protocols[2];
    struct lws_context_creation_info info;

    for (size_t i = 0; i < BIG_LEN; i++)
        big_body[i] = pattern(i);
    lws_set_log_level(LLL_ERR, NULL);
    protocols[0] = hw_http_client_protocol;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    cx = lws_create_context(&info);
    CHECK(cx);
    client = hw_http_client_new(cx, NULL);
    CHECK(client);
    lws_sul_schedule(cx, 0, &tick, tick_cb, 10 * 1000);
    RUN(test_keepalive_reuse);
    RUN(test_empty_answers);
    RUN(test_close_mid_head_and_body);
    RUN(test_malformed_head_names_rule);
    RUN(test_stale_pooled_resent_once);
    RUN(test_pooled_closed_before_next);
    RUN(test_lying_content_length);
    RUN(test_chunked_answers);
    RUN(test_interim_and_101);
    RUN(test_connect_timeout);
    RUN(test_total_timeout);
    RUN(test_pending_cap);
    RUN(test_cancel_inside_callbacks);
    RUN(test_pause_resume);
    RUN(test_streamed_chunked_request);
    RUN(test_fetch_collects);
    RUN(test_free_cancels_pending);
    return 0;
}
