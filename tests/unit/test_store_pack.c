/*
 * The packed history format (store/store_pack.h): webhooks packed and read
 * back byte for byte; the id time and the span rule; and damaged packs
 * (every truncation, lengths that lie, bad flags or status, a missing NUL)
 * refused with HW_EIO without reading past the blob (each blob is copied
 * to a heap block of its exact size, so ASan sees any overread).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "core/id.h"
#include "store/store_pack.h"

static void event(struct hw_store_event *ev, const char *path, const char *body, int64_t ms)
{
    memset(ev, 0, sizeof(*ev));
    hw_id_new_at(ev->id, (uint64_t)ms);
    ev->source = "alice";
    ev->received_ms = ms;
    ev->method = "POST";
    ev->path = path;
    ev->query = "a=1";
    ev->headers = "Content-Type: text/plain\r\n";
    ev->headers_len = strlen(ev->headers);
    ev->body = body;
    ev->body_len = strlen(body);
    ev->verify = HW_STORE_VERIFIED;
}

/* Reads every entry of meta/data (exact-size heap copies); returns the last hw_pack_next() code. */
static int read_all(const unsigned char *meta, size_t mlen, size_t dlen, uint32_t *n)
{
    unsigned char *m = malloc(mlen ? mlen : 1);
    struct hw_pack_reader r;
    struct hw_pack_entry e;
    int got;

    memcpy(m, meta, mlen);
    *n = 0;
    got = hw_pack_open(&r, m, mlen, dlen);
    while (got == 0 || got == 1) {
        got = hw_pack_next(&r, &e);
        if (got == 1) {
            /* Everything an entry points at is inside meta and data. */
            CHECK(e.method >= (const char *)m && e.attempt.error < (const char *)m + mlen);
            CHECK(e.body_off + e.body_len <= dlen && e.headers_off + e.headers_len <= dlen);
            ++*n;
        } else if (got == 0) {
            break;
        }
    }
    free(m);
    return got;
}

static void test_round_trip(void)
{
    struct hw_pack_buf b = { 0 };
    struct hw_store_event ev;
    struct hw_store_attempt ok = { .at_ms = 1000, .duration_ms = 4, .http_status = 200 };
    struct hw_store_attempt bad = {
        .at_ms = 1001, .duration_ms = 9, .http_status = 502, .error = "bad gateway"
    };
    struct hw_pack_reader r;
    struct hw_pack_entry e;
    struct hw_store_event *full;
    unsigned char *data;
    char ids[3][HW_ID_LEN + 1];
    const char *bodies[3] = { "{\"a\":1}", "", "second\0body" };

    for (int i = 0; i < 3; i++) {
        event(&ev, i == 1 ? "/hooks/b" : "/hooks/a", bodies[i], 1700000000000 + i);
        if (i == 2)
            ev.body_len = 11; /* a NUL inside the body */
        memcpy(ids[i], ev.id, sizeof(ids[i]));
        CHECK_EQ(hw_pack_fits(&b, hw_id_time_ms(ev.id)), 1);
        CHECK_EQ(hw_pack_add(&b, &ev, hw_id_time_ms(ev.id), i == 1 ? &bad : &ok,
                             i == 1 ? HW_STORE_FAILED : HW_STORE_DELIVERED),
                 0);
    }
    CHECK_EQ(b.n, 3);
    CHECK_EQ(b.delivered, 2);
    CHECK_EQ(b.failed, 1);
    CHECK_EQ(b.id_lo, 1700000000000);
    CHECK_EQ(b.id_hi, 1700000000002);
    CHECK_EQ(b.received_lo, 1700000000000);

    /* The data blob is the pieces end to end: headers, then body, in order (borrowed). */
    data = hw_pack_data(&b);
    CHECK(data != NULL);
    CHECK_EQ(b.iov_n, 5); /* the empty body is no piece */
    CHECK(b.iov[1].iov_base == (void *)bodies[0]);
    CHECK_EQ(b.data_len, 3 * strlen("Content-Type: text/plain\r\n") + 7 + 0 + 11);
    CHECK_EQ(hw_pack_open(&r, b.meta, b.meta_len, b.data_len), 0);
    for (uint32_t i = 0; i < 3; i++) {
        CHECK_EQ(hw_pack_next(&r, &e), 1);
        CHECK_EQ(e.index, i);
        CHECK_STR(e.id, ids[i]);
        CHECK_EQ(e.flag, HW_PACK_LIVE);
        CHECK_EQ(e.status, i == 1 ? HW_STORE_FAILED : HW_STORE_DELIVERED);
        CHECK_EQ(e.verify, HW_STORE_VERIFIED);
        CHECK_EQ(e.received_ms, 1700000000000 + i);
        CHECK_STR(e.method, "POST");
        CHECK_STR(e.path, i == 1 ? "/hooks/b" : "/hooks/a");
        CHECK_STR(e.query, "a=1");
        CHECK_STR(e.attempt.error, i == 1 ? "bad gateway" : "");
        CHECK_EQ(e.attempt.http_status, i == 1 ? 502 : 200);
        CHECK_EQ(e.attempt.duration_ms, i == 1 ? 9 : 4);
        full = hw_pack_event(&e, "alice", 40 + i, data, 1);
        CHECK(full != NULL);
        CHECK_EQ(full->seq, 40 + i);
        CHECK_STR(full->source, "alice");
        CHECK_EQ(full->attempts, 1);
        CHECK_EQ(full->body_len, i == 2 ? 11 : strlen(bodies[i]));
        CHECK_MEM(full->body, bodies[i], full->body_len);
        CHECK_STR(full->headers, "Content-Type: text/plain\r\n");
        hw_store_event_free(full);
    }
    CHECK_EQ(hw_pack_next(&r, &e), 0);
    free(data);
    hw_pack_buf_reset(&b);
    CHECK(b.iov == NULL && b.meta == NULL && b.data_len == 0);
}

static void test_id_time_and_span(void)
{
    struct hw_pack_buf b = { 0 };
    struct hw_store_event ev;
    struct hw_store_attempt ok = { .http_status = 200 };

    event(&ev, "/", "x", 1700000000123);
    CHECK_EQ(hw_id_time_ms(ev.id), 1700000000123);
    CHECK_EQ(hw_id_time_ms("evt_nope"), -1);
    CHECK_EQ(hw_id_time_ms("ev"), -1);
    {
        /* Either case, as hw_id_valid() takes it; no i, l, o or u; a 48-bit time. */
        char id[HW_ID_LEN + 1];

        memcpy(id, ev.id, sizeof(id));
        for (int i = HW_ID_PREFIX_LEN; i < HW_ID_LEN; i++)
            if (id[i] >= 'a' && id[i] <= 'z')
                id[i] = (char)(id[i] - 'a' + 'A');
        CHECK_EQ(hw_id_time_ms(id), 1700000000123);
        id[HW_ID_LEN - 1] = 'u';
        CHECK_EQ(hw_id_time_ms(id), -1);
        CHECK_EQ(hw_id_valid(id), 0);
        memcpy(id, ev.id, sizeof(id));
        id[HW_ID_PREFIX_LEN] = '8';
        CHECK_EQ(hw_id_time_ms(id), -1);
        CHECK_EQ(hw_id_valid(id), 0);
        id[HW_ID_PREFIX_LEN] = '7';
        CHECK(hw_id_time_ms(id) > 0);
        CHECK_EQ(hw_id_valid(id), 1);
    }
    CHECK_EQ(hw_id_time_ms(NULL), -1);
    CHECK_EQ(hw_pack_add(&b, &ev, hw_id_time_ms(ev.id), &ok, HW_STORE_DELIVERED), 0);
    event(&ev, "/", "x", 1700000000123 + HW_PACK_SPAN_MS);
    CHECK_EQ(hw_pack_fits(&b, hw_id_time_ms(ev.id)), 1);
    event(&ev, "/", "x", 1700000000124 + HW_PACK_SPAN_MS);
    CHECK_EQ(hw_pack_fits(&b, hw_id_time_ms(ev.id)), 0);
    event(&ev, "/", "x", 1700000000122 - HW_PACK_SPAN_MS);
    CHECK_EQ(hw_pack_fits(&b, hw_id_time_ms(ev.id)), 0);
    /* Only finished statuses, and ids that carry a time. */
    CHECK_EQ(hw_pack_add(&b, &ev, hw_id_time_ms(ev.id), &ok, HW_STORE_PENDING), HW_EINVAL);
    snprintf(ev.id, sizeof(ev.id), "not-an-id");
    CHECK_EQ(hw_pack_add(&b, &ev, hw_id_time_ms(ev.id), &ok, HW_STORE_DELIVERED), HW_EINVAL);
    CHECK_EQ(b.n, 1);
    hw_pack_buf_reset(&b);
}

/* A pack of two webhooks, for the damage tests. */
static void two(struct hw_pack_buf *b)
{
    struct hw_store_event ev;
    struct hw_store_attempt a = { .http_status = 500, .error = "boom" };

    memset(b, 0, sizeof(*b));
    event(&ev, "/p", "body one", 1700000000000);
    CHECK_EQ(hw_pack_add(b, &ev, hw_id_time_ms(ev.id), &a, HW_STORE_FAILED), 0);
    event(&ev, "/q", "body two!", 1700000000001);
    CHECK_EQ(hw_pack_add(b, &ev, hw_id_time_ms(ev.id), &a, HW_STORE_FAILED), 0);
}

static void test_damaged(void)
{
    struct hw_pack_buf b;
    struct hw_pack_reader r;
    uint32_t n;

    two(&b);
    CHECK_EQ(read_all(b.meta, b.meta_len, b.data_len, &n), 0);
    CHECK_EQ(n, 2);
    /* Every truncation of meta, and of data, is refused. */
    for (size_t len = 0; len < b.meta_len; len++)
        CHECK_EQ(read_all(b.meta, len, b.data_len, &n), HW_EIO);
    for (size_t len = 0; len < b.data_len; len++)
        CHECK_EQ(read_all(b.meta, b.meta_len, len, &n), HW_EIO);
    /* Not a pack, another version. */
    CHECK_EQ(hw_pack_open(&r, "XP\x01\0\0\0\0\0", 8, 0), HW_EIO);
    b.meta[2] = 9;
    CHECK_EQ(hw_pack_open(&r, b.meta, b.meta_len, b.data_len), HW_EIO);
    b.meta[2] = HW_PACK_VERSION;
    /* A count meta cannot hold. */
    b.meta[7] = 0x7f;
    CHECK_EQ(hw_pack_open(&r, b.meta, b.meta_len, b.data_len), HW_EIO);
    b.meta[7] = 0;
    /* A bad flag, a bad status. */
    b.meta[8] = 7;
    CHECK_EQ(read_all(b.meta, b.meta_len, b.data_len, &n), HW_EIO);
    b.meta[8] = HW_PACK_LIVE;
    b.meta[9] = HW_STORE_PENDING;
    CHECK_EQ(read_all(b.meta, b.meta_len, b.data_len, &n), HW_EIO);
    b.meta[9] = HW_STORE_FAILED;
    /* Lengths that lie: a path length past meta, a body length past data. */
    b.meta[8 + 3 + HW_ID_LEN + 26 + 3] = 0x40; /* path_len high byte */
    CHECK_EQ(read_all(b.meta, b.meta_len, b.data_len, &n), HW_EIO);
    b.meta[8 + 3 + HW_ID_LEN + 26 + 3] = 0;
    b.meta[8 + 3 + HW_ID_LEN + 42 + 2] = 0x01; /* body_len + 65536 */
    CHECK_EQ(read_all(b.meta, b.meta_len, b.data_len, &n), HW_EIO);
    b.meta[8 + 3 + HW_ID_LEN + 42 + 2] = 0;
    /* A string without its NUL. */
    b.meta[8 + 3 + HW_ID_LEN + 46 + 4] = 'x'; /* the NUL after "POST" */
    CHECK_EQ(read_all(b.meta, b.meta_len, b.data_len, &n), HW_EIO);
    b.meta[8 + 3 + HW_ID_LEN + 46 + 4] = '\0';
    CHECK_EQ(read_all(b.meta, b.meta_len, b.data_len, &n), 0);
    CHECK_EQ(n, 2);
    hw_pack_buf_reset(&b);
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_id_time_and_span);
    RUN(test_damaged);
    return 0;
}
