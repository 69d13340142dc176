/*
 * libFuzzer target for common/http/http1.c and http1_headers.c. Parses the
 * input as a request head and as a response head, checking that results stay
 * inside the input and agree with a parse of a shorter prefix, and decodes it
 * as a chunked body (whole, split in two, byte by byte), requiring the same
 * outcome each way; checks the one-pass header-block check against a parse of
 * the head built from the block. Single-threaded, like libFuzzer's calls.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "fuzz_check.h"
#include "http/http1.h"

static int in_range(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

static void check_head(int response, const char *buf, size_t len, const struct hw_http_head *h,
                       int rc)
{
    size_t n = (size_t)rc;

    FUZZ_CHECK(h->head_len == n && n <= len);
    FUZZ_CHECK(n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0);
    FUZZ_CHECK(h->minor_version == 0 || h->minor_version == 1);
    FUZZ_CHECK(h->nheaders <= HW_HTTP_MAX_HEADERS);
    if (response) {
        FUZZ_CHECK(h->status >= 100 && h->status <= 999);
        FUZZ_CHECK(in_range(h->reason, h->reason_len, buf, n));
        FUZZ_CHECK(h->expect_continue == 0);
    } else {
        FUZZ_CHECK(h->method_len > 0 && in_range(h->method, h->method_len, buf, n));
        FUZZ_CHECK(h->target_len > 0 && in_range(h->target, h->target_len, buf, n));
        FUZZ_CHECK(memchr(h->target, ' ', h->target_len) == NULL);
        FUZZ_CHECK(h->body != HW_BODY_CLOSE);
    }
    for (size_t i = 0; i < h->nheaders; i++) {
        const struct hw_http_header *hd = &h->headers[i];
        FUZZ_CHECK(hd->name_len > 0 && in_range(hd->name, hd->name_len, buf, n));
        FUZZ_CHECK(in_range(hd->value, hd->value_len, buf, n));
        FUZZ_CHECK(hd->value == hd->name + hd->name_len + 1);
        FUZZ_CHECK(memchr(hd->value, '\r', hd->value_len) == NULL);
        FUZZ_CHECK(memchr(hd->value, '\n', hd->value_len) == NULL);
        FUZZ_CHECK(memchr(hd->value, '\0', hd->value_len) == NULL);
        FUZZ_CHECK(memchr(hd->name, ':', hd->name_len) == NULL);
        /* The parser's shortcut for Connection headers gives what a full scan gives. */
        {
            static struct hw_http_head scan;
            memcpy(&scan, h, sizeof(scan));
            scan.no_connection = 0;
            scan.connection_plain = 0;
            FUZZ_CHECK(hw_http_is_hop_by_hop(h, hd) == hw_http_is_hop_by_hop(&scan, hd));
        }
    }
    if (h->body == HW_BODY_LENGTH)
        FUZZ_CHECK(h->content_length <= (uint64_t)1 << 60);
    if (h->body == HW_BODY_CLOSE)
        FUZZ_CHECK(h->keep_alive == 0);
    if (h->body == HW_BODY_CHUNKED || h->body == HW_BODY_LENGTH) {
        FUZZ_CHECK(hw_http_find(h, h->body == HW_BODY_CHUNKED ? "transfer-encoding"
                                                              : "content-length") != NULL);
    }
}

/*
 * Parses from an exact-size heap copy so that an over-read is reported; a
 * complete head is checked against the copy before it goes away.
 */
static int parse_copy(int response, const char *method, const char *buf, size_t len,
                      struct hw_http_head *head)
{
    char *copy = malloc(len ? len : 1);
    int rc;

    FUZZ_CHECK(copy != NULL);
    memcpy(copy, buf, len);
    if (response)
        rc = hw_http_parse_response(copy, len, method, head);
    else
        rc = hw_http_parse_request(copy, len, head);
    FUZZ_CHECK(rc > 0 || rc == HW_EAGAIN || rc == HW_EPARSE || rc == HW_E2BIG);
    if (rc > 0)
        check_head(response, copy, len, head, rc);
    free(copy);
    return rc;
}

/*
 * Parses the whole input and a prefix of it. A prefix can only be
 * incomplete or end the same way as the whole: once the parser has decided,
 * more bytes must not change its mind.
 */
static int fuzz_head(int response, const char *method, const char *buf, size_t len, size_t cut,
                     struct hw_http_head *head)
{
    static struct hw_http_head prefix;
    int rc = parse_copy(response, method, buf, len, head);
    int prc;

    prc = parse_copy(response, method, buf, cut, &prefix);
    FUZZ_CHECK(prc == HW_EAGAIN || prc == rc);
    if (rc > 0) {
        prc = parse_copy(response, method, buf, (size_t)rc - 1, &prefix);
        FUZZ_CHECK(prc == HW_EAGAIN);
    }
    return rc;
}

struct feed {
    int rc; /* HW_EPARSE, HW_EAGAIN when the input ran out, or 0 when complete */
    char *out;
    size_t out_len;
    char *rest;
    size_t rest_len;
};

/*
 * Decodes in[0..n) fed as a first piece of first bytes and then pieces of
 * step bytes, each in its own exact-size buffer.
 */
static void feed_chunked(const char *in, size_t n, size_t first, size_t step, struct feed *f)
{
    struct hw_chunked c;
    size_t pos = 0, piece = first;

    hw_chunked_init(&c);
    f->out = malloc(n ? n : 1);
    f->rest = malloc(n ? n : 1);
    FUZZ_CHECK(f->out != NULL && f->rest != NULL);
    f->out_len = 0;
    f->rest_len = 0;
    for (;;) {
        char *buf;
        size_t len;
        int rc;

        if (piece > n - pos)
            piece = n - pos;
        buf = malloc(piece ? piece : 1);
        FUZZ_CHECK(buf != NULL);
        memcpy(buf, in + pos, piece);
        pos += piece;
        len = piece;
        rc = hw_chunked_decode(&c, buf, &len);
        FUZZ_CHECK(rc >= 0 || rc == HW_EAGAIN || rc == HW_EPARSE);
        FUZZ_CHECK(len <= piece);
        memcpy(f->out + f->out_len, buf, len);
        f->out_len += len;
        f->rc = rc < 0 ? rc : 0;
        if (rc >= 0) {
            FUZZ_CHECK((size_t)rc <= piece - len);
            memcpy(f->rest, buf + len, (size_t)rc);
            memcpy(f->rest + rc, in + pos, n - pos);
            f->rest_len = (size_t)rc + (n - pos);
        }
        free(buf);
        if (rc != HW_EAGAIN || pos == n)
            break;
        piece = step ? step : 1;
    }
    FUZZ_CHECK(f->out_len + f->rest_len <= n);
}

static void feed_free(struct feed *f)
{
    free(f->out);
    free(f->rest);
}

static void fuzz_chunked(const char *in, size_t n, size_t cut)
{
    struct feed whole, split, bytes;

    feed_chunked(in, n, n, n, &whole);
    feed_chunked(in, n, cut, n, &split);
    feed_chunked(in, n, 1, 1, &bytes);

    /* The same bytes decode the same way however they were split. */
    FUZZ_CHECK(split.rc == whole.rc && bytes.rc == whole.rc);
    FUZZ_CHECK(split.out_len == whole.out_len && bytes.out_len == whole.out_len);
    FUZZ_CHECK(memcmp(split.out, whole.out, whole.out_len) == 0);
    FUZZ_CHECK(memcmp(bytes.out, whole.out, whole.out_len) == 0);
    FUZZ_CHECK(split.rest_len == whole.rest_len && bytes.rest_len == whole.rest_len);
    FUZZ_CHECK(memcmp(split.rest, whole.rest, whole.rest_len) == 0);
    FUZZ_CHECK(memcmp(bytes.rest, whole.rest, whole.rest_len) == 0);
    if (whole.rc == 0)
        FUZZ_CHECK(memcmp(whole.rest, in + n - whole.rest_len, whole.rest_len) == 0);

    feed_free(&whole);
    feed_free(&split);
    feed_free(&bytes);
}

/*
 * hw_http_block_next() over a whole block accepts exactly the blocks that, behind a
 * request line and before the blank line, make a head that parses whole with no
 * hop-by-hop header; the lines and the Content-Length it finds are the parser's.
 */
static void fuzz_block(const char *in, size_t n)
{
    static const char line[] = "GET / HTTP/1.1\r\n";
    static struct hw_http_head head;
    struct hw_http_block blk = { 0 };
    struct hw_http_header h;
    size_t total = sizeof(line) - 1 + n + 2, lines = 0;
    char *block = malloc(n ? n : 1), *built = malloc(total);
    const char *p;
    int rc, ok, ref;

    FUZZ_CHECK(block != NULL && built != NULL);
    memcpy(block, in, n);
    p = block;
    while ((rc = hw_http_block_next(&blk, &p, block + n, &h)) == 1) {
        FUZZ_CHECK(in_range(h.name, (size_t)(p - h.name), block, n));
        lines++;
    }
    FUZZ_CHECK(rc == 0 || rc == HW_EPARSE || rc == HW_E2BIG);
    ok = rc == 0;
    FUZZ_CHECK(!ok || p == block + n);

    memcpy(built, line, sizeof(line) - 1);
    memcpy(built + sizeof(line) - 1, in, n);
    memcpy(built + total - 2, "\r\n", 2);
    ref = hw_http_parse_request(built, total, &head) == (int)total;
    for (size_t i = 0; ref && i < head.nheaders; i++)
        ref = !hw_http_is_hop_by_hop(&head, &head.headers[i]);
    FUZZ_CHECK(ok == ref);
    if (ok) {
        FUZZ_CHECK(lines == head.nheaders && blk.nheaders == lines);
        FUZZ_CHECK(blk.has_length == (head.body == HW_BODY_LENGTH));
        FUZZ_CHECK(!blk.has_length || blk.content_length == head.content_length);
    }
    free(built);
    free(block);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct hw_http_head head;
    const char *buf = (const char *)data;
    /* A split point that the fuzzer can steer through the first byte. */
    size_t cut = size ? data[0] % (size + 1) : 0;
    int rc;

    rc = fuzz_head(0, NULL, buf, size, cut, &head);
    if (rc > 0 && head.body == HW_BODY_CHUNKED)
        fuzz_chunked(buf + rc, size - (size_t)rc, cut);

    rc = fuzz_head(1, "GET", buf, size, cut, &head);
    if (rc > 0 && head.body == HW_BODY_CHUNKED)
        fuzz_chunked(buf + rc, size - (size_t)rc, cut);
    (void)fuzz_head(1, "HEAD", buf, size, cut, &head);
    (void)fuzz_head(1, NULL, buf, size, cut, &head);

    fuzz_chunked(buf, size, cut);
    fuzz_block(buf, size);
    return 0;
}
