/*
 * Deliveries (receiver/outgoing.h): the request head built from a stored
 * event, byte for byte, with hop-by-hop and forged Hookwire-* lines gone and
 * the signature of the Standard Webhooks scheme; the target joined from
 * deliver-to and the event; refusals of broken stored blocks; and what each
 * answer means on the retry schedule.
 */
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "http/http1.h"
#include "outgoing.h"

#define S(lit) lit, sizeof(lit) - 1

static struct hw_signer *signer;

/* How many times needle occurs in the buffer (which holds no NUL). */
static int count(const struct hw_buf *b, const char *needle)
{
    const char *p = hw_buf_head(b), *end = p + hw_buf_size(b);
    size_t n = strlen(needle);
    int c = 0;

    while ((p = memmem(p, (size_t)(end - p), needle, n)) != NULL) {
        c++;
        p += n;
    }
    return c;
}

static void source_init(struct recv_source *src, const char *url)
{
    memset(src, 0, sizeof(*src));
    CHECK_EQ(hw_url_parse(url, &src->deliver_url), 0);
}

static void test_head_byte_exact(void)
{
    static const char headers[] = "Host: www.example.com\r\n"
                                  "Content-Type: application/json\r\n"
                                  "Connection: keep-alive, X-Hop\r\n"
                                  "X-Hop: dropped\r\n"
                                  "Transfer-Encoding: chunked\r\n"
                                  "Expect: 100-continue\r\n"
                                  "HOOKWIRE-Event-Id: evt_forged\r\n"
                                  "X-Hub-Signature-256:  sha256=abc \r\n"
                                  "x-dup: 1\r\n"
                                  "X-Dup: 2\r\n"
                                  "X-Forwarded-For: 203.0.113.9\r\n";
    static const char body[] = "{\"test\": 2432232314}";
    struct recv_outgoing ev = { "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                "POST",
                                "/push",
                                "a=1&b",
                                headers,
                                sizeof(headers) - 1,
                                body,
                                sizeof(body) - 1 };
    struct recv_source src;
    struct hw_http_head parsed;
    struct hw_buf out;

    source_init(&src, "http://127.0.0.1:3000/hooks/");
    hw_buf_init(&out, 64 * 1024);
    CHECK_EQ(recv_outgoing_head(&src, signer, &ev, 3, 1614265330, &out), 0);
    /* The signature is the Standard Webhooks specification's own example. */
    static const char want[] =
        "POST /hooks/push?a=1&b HTTP/1.1\r\n"
        "Host: www.example.com\r\n"
        "Content-Type: application/json\r\n"
        "X-Hub-Signature-256:  sha256=abc \r\n"
        "x-dup: 1\r\n"
        "X-Dup: 2\r\n"
        "X-Forwarded-For: 203.0.113.9\r\n"
        "Content-Length: 20\r\n"
        "Hookwire-Event-Id: msg_p5jXN8AQM9LWM0D4loKWxJek\r\n"
        "Hookwire-Attempt: 3\r\n"
        "Hookwire-Timestamp: 1614265330\r\n"
        "Hookwire-Signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\r\n"
        "\r\n";
    CHECK_EQ(hw_buf_size(&out), sizeof(want) - 1);
    CHECK_MEM(hw_buf_head(&out), want, sizeof(want) - 1);
    /* What we send parses as a request with a known length. */
    CHECK_EQ(hw_http_parse_request(hw_buf_head(&out), hw_buf_size(&out), &parsed),
             (int)hw_buf_size(&out));
    CHECK_EQ(parsed.body, HW_BODY_LENGTH);
    CHECK_EQ(parsed.content_length, sizeof(body) - 1);
    hw_buf_cleanup(&out);
}

static void test_targets_and_host(void)
{
    /* Whitespace around the value is legal (RFC 9110 5.5), yet Node's parser refuses it. */
    static const char headers[] = "content-length:\t2\t\r\n";
    struct recv_outgoing ev = { "evt_1", "PUT", "", "x=1", headers, sizeof(headers) - 1, "{}", 2 };
    struct recv_source src;
    struct hw_buf out;
    static const struct {
        const char *url, *path, *query, *line, *host;
    } cases[] = {
        { "http://b.internal/in?token=abc", "", "x=1", "PUT /in?token=abc&x=1 HTTP/1.1\r\n",
          "Host: b.internal\r\n" },
        { "https://b.internal:8443", "/a", NULL, "PUT /a HTTP/1.1\r\n",
          "Host: b.internal:8443\r\n" },
        { "http://127.0.0.1:3000/hooks", "/gh/push", "", "PUT /hooks/gh/push HTTP/1.1\r\n",
          "Host: 127.0.0.1:3000\r\n" },
        { "http://[::1]:3000/", "", "q", "PUT /?q HTTP/1.1\r\n", "Host: [::1]:3000\r\n" },
        { "https://b.internal/in?k=v", "/x", "", "PUT /in/x?k=v HTTP/1.1\r\n",
          "Host: b.internal\r\n" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        source_init(&src, cases[i].url);
        ev.path = cases[i].path;
        ev.query = cases[i].query;
        hw_buf_init(&out, 4096);
        CHECK_EQ(recv_outgoing_head(&src, signer, &ev, 1, 1700000000, &out), 0);
        if (hw_buf_size(&out) < strlen(cases[i].line) ||
            memcmp(hw_buf_head(&out), cases[i].line, strlen(cases[i].line)) != 0) {
            fprintf(stderr, "case %zu: %.*s\n", i, (int)hw_buf_size(&out), hw_buf_head(&out));
            CHECK(0);
        }
        /* No Host in the original: deliver-to's; its Content-Length is written once, plain. */
        CHECK_EQ(count(&out, cases[i].host), 1);
        CHECK_EQ(count(&out, "Content-Length"), 1);
        CHECK_EQ(count(&out, "content-length"), 0);
        CHECK_EQ(count(&out, "Content-Length: 2\r\n"), 1);
        hw_buf_cleanup(&out);
    }
}

static void test_refusals(void)
{
    struct recv_outgoing ev = { "evt_1", "POST", "", NULL, NULL, 0, "", 0 };
    struct recv_source src;
    struct hw_buf out;
    char many[200 * 8];
    size_t n = 0;

    source_init(&src, "http://127.0.0.1:3000/");
    static const char *const broken[] = { "X-A: 1\n", "X-A: 1", ": v\r\n", "no colon\r\n", "\r\n" };
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        ev.headers = broken[i];
        ev.headers_len = strlen(broken[i]);
        hw_buf_init(&out, 4096);
        CHECK_EQ(recv_outgoing_head(&src, signer, &ev, 1, 1, &out), HW_EPARSE);
        hw_buf_cleanup(&out);
    }
    for (int i = 0; i <= HW_HTTP_MAX_HEADERS; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "X-%d: v\r\n", i);
    ev.headers = many;
    ev.headers_len = n;
    hw_buf_init(&out, 64 * 1024);
    CHECK_EQ(recv_outgoing_head(&src, signer, &ev, 1, 1, &out), HW_E2BIG);
    hw_buf_cleanup(&out);
    /* The output's cap holds. */
    ev.headers = "X-A: 1\r\n";
    ev.headers_len = 8;
    hw_buf_init(&out, 64);
    CHECK_EQ(recv_outgoing_head(&src, signer, &ev, 1, 1, &out), HW_E2BIG);
    hw_buf_cleanup(&out);
    /* An id the signer refuses. */
    ev.event_id = "evt.1";
    hw_buf_init(&out, 4096);
    CHECK_EQ(recv_outgoing_head(&src, signer, &ev, 1, 1, &out), HW_EINVAL);
    hw_buf_cleanup(&out);
}

static void test_outcome(void)
{
    struct recv_schedule s;
    char err[100];
    uint64_t d = 0;

    CHECK_EQ(recv_schedule_parse("5s 1m", &s, err, sizeof(err)), 0);
    CHECK_EQ(recv_outcome(&s, 1, 200, NULL, 0, 0, &d), RECV_DELIVERED);
    CHECK_EQ(recv_outcome(&s, 3, 204, NULL, 0, 0, &d), RECV_DELIVERED);
    CHECK_EQ(recv_outcome(&s, 1, 299, NULL, 0, 0, &d), RECV_DELIVERED);
    CHECK_EQ(recv_outcome(&s, 1, 0, NULL, 0, 0, &d), RECV_RETRY);
    CHECK(d >= 4000 && d <= 6000);
    CHECK_EQ(recv_outcome(&s, 1, 302, NULL, 0, 0, &d), RECV_RETRY);
    CHECK_EQ(recv_outcome(&s, 2, 500, NULL, 0, 0, &d), RECV_RETRY);
    CHECK(d >= 48000 && d <= 72000);
    CHECK_EQ(recv_outcome(&s, 1, 503, S("7"), 0, &d), RECV_RETRY);
    CHECK_EQ(d, 7000);
    CHECK_EQ(recv_outcome(&s, 1, 429, S("3600"), 0, &d), RECV_RETRY);
    CHECK_EQ(d, 10000);
    CHECK_EQ(recv_outcome(&s, 3, 500, NULL, 0, 0, &d), RECV_FAILED);
    CHECK_EQ(recv_outcome(&s, 3, 200, NULL, 0, 0, &d), RECV_DELIVERED);
}

int main(void)
{
    const char *why;

    CHECK_EQ(hw_signer_new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &signer, &why), 0);
    RUN(test_head_byte_exact);
    RUN(test_targets_and_host);
    RUN(test_refusals);
    RUN(test_outcome);
    hw_signer_free(signer);
    return 0;
}
