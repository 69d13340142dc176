/*
 * The event store suite, run against SQLite (always) and MySQL (from
 * HOOKWIRE_TEST_MYSQL_URL; a missing URL fails unless HOOKWIRE_TEST_NO_MYSQL=1):
 * every operation, filters and paging, duplicates, requeue, purge, tokens,
 * group commit, schema upgrade from the version-1 fixtures, and bodies of
 * 0 B, binary and 25 MiB coming back byte-exact. Also the URL parser.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "core/id.h"
#include "store/store.h"
#include "store/store_url.h"
#include "store_util.h"

static const char *g_mysql; /* the server URL in the MySQL half, NULL in the SQLite half */

static struct hw_store *open_fresh(struct tu_db *d, const struct hw_store_opts *o)
{
    struct hw_store *s = NULL;

    tu_db_fresh(d, g_mysql);
    CHECK_EQ(hw_store_open(d->url, o, &s), 0);
    return s;
}

static void close_drop(struct hw_store *s, struct tu_db *d)
{
    hw_store_close(s);
    tu_db_drop(d, g_mysql);
}

static void append_ok(struct hw_store *s, const struct hw_store_event *ev, char id[HW_ID_LEN + 1])
{
    struct hw_store_result r;

    CHECK_EQ(hw_store_append(s, ev, &r), 0);
    CHECK_EQ(r.duplicate, 0);
    CHECK(hw_id_valid(r.id));
    memcpy(id, r.id, HW_ID_LEN + 1);
}

static void check_same_body(const struct hw_store_event *got, const void *body, size_t len)
{
    unsigned char sha[32];

    CHECK_EQ(got->body_len, len);
    CHECK(got->body != NULL);
    CHECK(len == 0 || memcmp(got->body, body, len) == 0);
    crypto_hash_sha256(sha, body, len);
    CHECK_MEM(got->body_sha256, sha, 32);
}

static void test_roundtrip(void)
{
    static const char headers[] = "X-Hub-Signature-256: sha256=abc\r\ncontent-type:  "
                                  "application/json \r\nX-Dup: 1\r\nX-Dup: 2\r\n";
    struct hw_store_event ev, *got = NULL;
    struct tu_db d;
    struct hw_store *s = open_fresh(&d, NULL);
    char id[HW_ID_LEN + 1], want[HW_ID_LEN + 1];
    int version = 0;

    CHECK_EQ(hw_store_schema_version(s, &version), 0);
    CHECK_EQ(version, HW_STORE_SCHEMA_VERSION);
    CHECK_EQ(hw_store_ping(s), 0);
    tu_event(&ev, "github", "{\"zen\":\"Design for failure.\"}");
    ev.path = "/api/webhooks/github";
    ev.query = "a=1&b=%20";
    ev.headers = headers;
    ev.headers_len = sizeof(headers) - 1;
    ev.verify = HW_STORE_VERIFIED;
    ev.dedup_key = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
    ev.received_ms = 1700000000123;
    append_ok(s, &ev, id);
    hw_id_new_at(want, 1700000000123ull);
    CHECK(strncmp(id, want, 14) == 0);

    CHECK_EQ(hw_store_get(s, id, &got), 0);
    CHECK_STR(got->id, id);
    CHECK(got->seq > 0);
    CHECK_STR(got->source, "github");
    CHECK_EQ(got->received_ms, 1700000000123);
    CHECK_STR(got->method, "POST");
    CHECK_STR(got->path, "/api/webhooks/github");
    CHECK_STR(got->query, "a=1&b=%20");
    CHECK_EQ(got->headers_len, sizeof(headers) - 1);
    CHECK_MEM(got->headers, headers, sizeof(headers) - 1);
    check_same_body(got, ev.body, ev.body_len);
    CHECK_EQ(got->verify, HW_STORE_VERIFIED);
    CHECK_STR(got->dedup_key, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    CHECK_EQ(got->status, HW_STORE_PENDING);
    CHECK_EQ(got->attempts, 0);
    CHECK_EQ(got->next_attempt_ms, 1700000000123);
    CHECK_EQ(got->last_status, 0);
    CHECK_STR(got->last_error, "");
    CHECK_EQ(got->lease_until_ms, 0);
    hw_store_event_free(got);

    CHECK_EQ(hw_store_get(s, "evt_00000000000000000000000000", &got), HW_ENOTFOUND);
    close_drop(s, &d);
}

struct done {
    int calls, err, dup;
    int order; /* submission index of the last completion */
    char id[HW_ID_LEN + 1];
};

static int g_order;

static void on_done(void *arg, int err, const struct hw_store_result *res)
{
    struct done *dn = arg;

    dn->calls++;
    dn->err = err;
    dn->order = g_order++;
    if (!err) {
        dn->dup = res->duplicate;
        memcpy(dn->id, res->id, sizeof(dn->id));
    }
}

/* Polls until every one of n completions has arrived, with a deadline. */
static void wait_all(struct tu_wake *w, struct hw_store *s, struct done *dn, int n)
{
    int64_t deadline = tu_now_ms() + 60000;
    int done;

    for (;;) {
        tu_wake_poll(w, s, 200);
        done = 0;
        for (int i = 0; i < n; i++)
            done += dn[i].calls;
        if (done == n)
            return;
        CHECK(tu_now_ms() < deadline);
    }
}

static void test_bodies(void)
{
    const size_t big = HW_STORE_BODY_MAX;
    unsigned char *large = malloc(big), binary[1024];
    struct hw_store_event ev, *got = NULL;
    struct hw_store_events l;
    struct hw_store_filter f = { 0 };
    struct hw_store_result r;
    struct done dn[3] = { 0 };
    struct tu_wake w;
    struct tu_db d;
    struct hw_store *s;
    const void *bodies[3];
    size_t lens[3] = { 0, sizeof(binary), big };
    char ids[3][HW_ID_LEN + 1];

    CHECK(large != NULL);
    randombytes_buf(large, big);
    for (size_t i = 0; i < sizeof(binary); i++)
        binary[i] = (unsigned char)(i * 7);
    binary[0] = binary[511] = 0;
    bodies[0] = "";
    bodies[1] = binary;
    bodies[2] = large;

    tu_wake_init(&w);
    s = open_fresh(&d, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w });
    for (int i = 0; i < 3; i++) {
        tu_event(&ev, "bodies", "");
        ev.body = bodies[i];
        ev.body_len = lens[i];
        append_ok(s, &ev, ids[i]);
        CHECK_EQ(hw_store_append_async(s, &ev, on_done, &dn[i]), 0);
    }
    wait_all(&w, s, dn, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(dn[i].err, 0);
        CHECK_EQ(hw_store_get(s, ids[i], &got), 0);
        check_same_body(got, bodies[i], lens[i]);
        hw_store_event_free(got);
        CHECK_EQ(hw_store_get(s, dn[i].id, &got), 0);
        check_same_body(got, bodies[i], lens[i]);
        hw_store_event_free(got);
    }

    /* Listing reports sizes without carrying the payload. */
    CHECK_EQ(hw_store_list(s, &f, &l), 0);
    CHECK_EQ(l.n, 6);
    CHECK_EQ(l.v[0]->body_len, big);
    CHECK(l.v[0]->body == NULL && l.v[0]->headers == NULL);
    CHECK_EQ(l.v[0]->headers_len, strlen("Content-Type: application/json\r\nX-Test: 1\r\n"));
    hw_store_events_cleanup(&l);

    ev.body_len = big + 1;
    CHECK_EQ(hw_store_append(s, &ev, &r), HW_E2BIG);
    CHECK_EQ(hw_store_append_async(s, &ev, on_done, &dn[0]), HW_E2BIG);
    close_drop(s, &d);
    tu_wake_cleanup(&w);
    free(large);
}

static void test_duplicates(void)
{
    struct hw_store_event ev, *got = NULL;
    struct hw_store_result r;
    struct hw_store_stats st;
    struct done dn[3] = { 0 };
    struct tu_wake w;
    struct tu_db d;
    struct hw_store *s;
    char id1[HW_ID_LEN + 1], id2[HW_ID_LEN + 1], id3[HW_ID_LEN + 1];

    tu_wake_init(&w);
    s = open_fresh(&d, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w });
    tu_event(&ev, "stripe", "first");
    ev.dedup_key = "evt_1NG8Du2eZvKYlo2CUI79vXWy";
    append_ok(s, &ev, id1);

    /* A redelivery is recognised and the first event is kept as it was. */
    ev.body = "second";
    ev.body_len = 6;
    CHECK_EQ(hw_store_append(s, &ev, &r), 0);
    CHECK_EQ(r.duplicate, 1);
    CHECK_STR(r.id, id1);
    CHECK_EQ(hw_store_get(s, id1, &got), 0);
    check_same_body(got, "first", 5);
    hw_store_event_free(got);

    /* The key is per source. */
    ev.source = "github";
    append_ok(s, &ev, id2);
    CHECK(strcmp(id1, id2) != 0);

    /* No key, or an empty one, never collides. */
    ev.dedup_key = NULL;
    append_ok(s, &ev, id2);
    append_ok(s, &ev, id3);
    CHECK(strcmp(id2, id3) != 0);
    ev.dedup_key = "";
    append_ok(s, &ev, id2);
    append_ok(s, &ev, id3);

    /* Duplicates inside one group commit resolve to the first of them. */
    ev.dedup_key = "batch-1";
    for (int i = 0; i < 3; i++)
        CHECK_EQ(hw_store_append_async(s, &ev, on_done, &dn[i]), 0);
    wait_all(&w, s, dn, 3);
    CHECK_EQ(dn[0].err, 0);
    CHECK_EQ(dn[0].dup, 0);
    for (int i = 1; i < 3; i++) {
        CHECK_EQ(dn[i].err, 0);
        CHECK_EQ(dn[i].dup, 1);
        CHECK_STR(dn[i].id, dn[0].id);
    }

    /* Pairs of redeliveries queued together, so most share multi-row statements. */
    struct done pairs[40] = { 0 };
    char keys[20][16];
    for (int i = 0; i < 40; i++) {
        snprintf(keys[i / 2], sizeof(keys[0]), "pair-%d", i / 2);
        ev.dedup_key = keys[i / 2];
        CHECK_EQ(hw_store_append_async(s, &ev, on_done, &pairs[i]), 0);
    }
    wait_all(&w, s, pairs, 40);
    for (int i = 0; i < 40; i++) {
        CHECK_EQ(pairs[i].err, 0);
        CHECK_EQ(pairs[i].dup, i % 2);
        CHECK_STR(pairs[i].id, pairs[i - i % 2].id);
    }
    hw_store_stats(s, &st);
    CHECK_EQ(st.duplicates, 3 + 20);
    CHECK_EQ(st.appended, 7 + 20);
    CHECK_EQ(st.failed, 0);
    close_drop(s, &d);
    tu_wake_cleanup(&w);
}

/*
 * Leases one chosen event as a claim would (a claim takes the oldest due
 * events, and these tests want a given one) and returns its fencing value.
 */
static int64_t lease_one(const struct tu_db *d, struct hw_store *s, const char *id)
{
    struct hw_store_event *got = NULL;
    char sql[256];
    int64_t lease;

    snprintf(sql, sizeof(sql),
             "UPDATE hookwire_events SET lease_token = lease_token + 1, lease_until = %lld "
             "WHERE id = '%s'",
             (long long)(tu_now_ms() + 60000), id);
    tu_db_exec(d, sql);
    CHECK_EQ(hw_store_get(s, id, &got), 0);
    lease = got->lease;
    CHECK(lease > 0);
    hw_store_event_free(got);
    return lease;
}

static void attempt(const struct tu_db *d, struct hw_store *s, const char *id, int http,
                    const char *error, int status, int64_t next)
{
    struct hw_store_attempt a = { .at_ms = tu_now_ms(),
                                  .duration_ms = 12,
                                  .http_status = http,
                                  .error = error,
                                  .excerpt = "ok",
                                  .excerpt_len = 2 };

    CHECK_EQ(hw_store_record_attempt(s, id, lease_one(d, s, id), &a, status, next), 0);
}

static size_t count_list(struct hw_store *s, const struct hw_store_filter *f)
{
    struct hw_store_events l;
    size_t n;

    CHECK_EQ(hw_store_list(s, f, &l), 0);
    n = l.n;
    hw_store_events_cleanup(&l);
    return n;
}

static void test_list(void)
{
    const int64_t base = 1700000000000;
    struct hw_store_event ev;
    struct hw_store_filter f = { 0 };
    struct hw_store_events l;
    struct tu_db d;
    struct hw_store *s = open_fresh(&d, NULL);
    char ids[30][HW_ID_LEN + 1];
    int64_t last_seq = INT64_MAX;
    size_t total = 0, pages = 0, want;

    for (int i = 0; i < 30; i++) {
        tu_event(&ev, i % 2 ? "b" : "a", "x");
        ev.received_ms = base + i * 1000;
        append_ok(s, &ev, ids[i]);
        if (i % 3 == 1)
            attempt(&d, s, ids[i], 200, NULL, HW_STORE_DELIVERED, 0);
        else if (i % 3 == 2)
            attempt(&d, s, ids[i], 500, NULL, HW_STORE_FAILED, 0);
    }

    CHECK_EQ(hw_store_list(s, &f, &l), 0);
    CHECK_EQ(l.n, 30);
    CHECK_EQ(l.next_cursor, 0);
    for (int i = 0; i < 30; i++)
        CHECK_STR(l.v[i]->id, ids[29 - i]); /* newest first */
    hw_store_events_cleanup(&l);

    f.source = "a";
    CHECK_EQ(count_list(s, &f), 15);
    f.source = NULL;
    f.status = HW_STORE_DELIVERED;
    CHECK_EQ(count_list(s, &f), 10);
    f.status = 0;
    f.since_ms = base + 10000;
    f.until_ms = base + 20000;
    CHECK_EQ(count_list(s, &f), 10);
    /* Source b (odd i), failed (i % 3 == 2), i >= 5: 5, 11, 17, 23, 29. */
    memset(&f, 0, sizeof(f));
    f.source = "b";
    f.status = HW_STORE_FAILED;
    f.since_ms = base + 5000;
    CHECK_EQ(hw_store_list(s, &f, &l), 0);
    CHECK_EQ(l.n, 5);
    for (size_t i = 0; i < l.n; i++) {
        CHECK_STR(l.v[i]->source, "b");
        CHECK_EQ(l.v[i]->status, HW_STORE_FAILED);
        CHECK_EQ(l.v[i]->attempts, 1);
        CHECK_EQ(l.v[i]->last_status, 500);
    }
    hw_store_events_cleanup(&l);

    /* Paging with a cursor visits every event once, in order. */
    memset(&f, 0, sizeof(f));
    f.limit = 7;
    do {
        CHECK_EQ(hw_store_list(s, &f, &l), 0);
        for (size_t i = 0; i < l.n; i++) {
            CHECK(l.v[i]->seq < last_seq);
            last_seq = l.v[i]->seq;
            CHECK_STR(l.v[i]->id, ids[29 - total]);
            total++;
        }
        pages++;
        f.cursor = l.next_cursor;
        hw_store_events_cleanup(&l);
    } while (f.cursor);
    CHECK_EQ(total, 30);
    CHECK_EQ(pages, 5);

    f.limit = 1001;
    CHECK_EQ(hw_store_list(s, &f, &l), HW_EINVAL);
    f.limit = 0;
    f.status = 9;
    CHECK_EQ(hw_store_list(s, &f, &l), HW_EINVAL);
    want = 30;
    memset(&f, 0, sizeof(f));
    f.limit = 30;
    CHECK_EQ(count_list(s, &f), want);
    close_drop(s, &d);
}

static void test_claim_and_attempts(void)
{
    char long_error[600], excerpt[5000];
    struct hw_store_event ev, *got = NULL;
    struct hw_store_events l;
    struct hw_store_attempts at;
    struct hw_store_attempt a = { 0 };
    struct tu_db d;
    struct hw_store *s = open_fresh(&d, NULL);
    char e[5][HW_ID_LEN + 1];
    int64_t now = tu_now_ms(), lease[5] = { 0 };

    for (int i = 0; i < 5; i++) {
        tu_event(&ev, i == 3 ? "y" : "x", "payload");
        if (i == 4)
            ev.next_attempt_ms = now + 3600 * 1000; /* not due for an hour */
        append_ok(s, &ev, e[i]);
    }

    /* The byte cap: each event is headers + 7 bytes; a cap of one and a half takes one. */
    CHECK_EQ(hw_store_claim(s, NULL, 30000, 10, (sizeof(TU_HEADERS) - 1 + 7) * 3 / 2, &l), 0);
    CHECK_EQ(l.n, 1);
    CHECK_EQ(l.capped, 1); /* due events are left behind: the caller claims again */
    CHECK_STR(l.v[0]->id, e[0]);
    lease[0] = l.v[0]->lease;
    hw_store_events_cleanup(&l);
    /* A cap below one event still takes one: a large event is never stuck. */
    CHECK_EQ(hw_store_claim(s, NULL, 30000, 10, 1, &l), 0);
    CHECK_EQ(l.n, 1);
    CHECK_STR(l.v[0]->id, e[1]);
    lease[1] = l.v[0]->lease;
    hw_store_events_cleanup(&l);
    CHECK_EQ(hw_store_claim(s, NULL, 30000, 10, 0, &l), 0);
    CHECK_EQ(l.n, 2);
    CHECK_EQ(l.capped, 0); /* every due event taken */
    for (int i = 2; i < 4; i++) {
        CHECK_STR(l.v[i - 2]->id, e[i]);
        check_same_body(l.v[i - 2], "payload", 7);
        CHECK(l.v[i - 2]->headers_len > 0 && l.v[i - 2]->headers != NULL);
        CHECK(l.v[i - 2]->lease_until_ms >= now + 30000);
        lease[i] = l.v[i - 2]->lease;
        CHECK(lease[i] > 0);
    }
    hw_store_events_cleanup(&l);
    CHECK_EQ(hw_store_claim(s, NULL, 30000, 10, 0, &l), 0);
    CHECK_EQ(l.n, 0); /* all leased */
    hw_store_events_cleanup(&l);

    a.at_ms = now;
    a.http_status = 200;
    CHECK_EQ(hw_store_record_attempt(s, e[0], lease[0], &a, HW_STORE_DELIVERED, 0), 0);
    CHECK_EQ(hw_store_get(s, e[0], &got), 0);
    CHECK_EQ(got->status, HW_STORE_DELIVERED);
    CHECK_EQ(got->attempts, 1);
    CHECK_EQ(got->last_status, 200);
    CHECK_EQ(got->lease_until_ms, 0);
    hw_store_event_free(got);

    /* A retry scheduled for later is not claimable before its time. */
    a.http_status = 0;
    a.error = "connect: Connection refused";
    CHECK_EQ(hw_store_record_attempt(s, e[1], lease[1], &a, HW_STORE_PENDING, now + 3600 * 1000),
             0);
    CHECK_EQ(hw_store_get(s, e[1], &got), 0);
    CHECK_EQ(got->status, HW_STORE_PENDING);
    CHECK_STR(got->last_error, "connect: Connection refused");
    CHECK_EQ(got->last_status, 0);
    CHECK_EQ(got->next_attempt_ms, now + 3600 * 1000);
    hw_store_event_free(got);

    /* Long errors and excerpts are cut to their caps. */
    memset(long_error, 'e', sizeof(long_error) - 1);
    long_error[sizeof(long_error) - 1] = '\0';
    for (size_t i = 0; i < sizeof(excerpt); i++)
        excerpt[i] = (char)i;
    a.at_ms = now;
    a.duration_ms = 250;
    a.http_status = 503;
    a.error = long_error;
    a.excerpt = excerpt;
    a.excerpt_len = sizeof(excerpt);
    CHECK_EQ(hw_store_record_attempt(s, e[2], lease[2], &a, HW_STORE_FAILED, 0), 0);
    CHECK_EQ(hw_store_attempts(s, e[2], &at), 0);
    CHECK_EQ(at.n, 1);
    CHECK_EQ(at.v[0]->at_ms, now);
    CHECK_EQ(at.v[0]->duration_ms, 250);
    CHECK_EQ(at.v[0]->http_status, 503);
    CHECK_EQ(strlen(at.v[0]->error), HW_STORE_ERROR_MAX);
    CHECK_EQ(at.v[0]->excerpt_len, HW_STORE_EXCERPT_MAX);
    CHECK_MEM(at.v[0]->excerpt, excerpt, HW_STORE_EXCERPT_MAX);
    hw_store_attempts_cleanup(&at);

    /* Attempts come back in the order they were recorded. */
    attempt(&d, s, e[3], 502, "first", HW_STORE_PENDING, now - 1);
    attempt(&d, s, e[3], 504, "second", HW_STORE_PENDING, now - 1);
    CHECK_EQ(hw_store_attempts(s, e[3], &at), 0);
    CHECK_EQ(at.n, 2);
    CHECK_STR(at.v[0]->error, "first");
    CHECK_STR(at.v[1]->error, "second");
    CHECK_EQ(at.v[1]->http_status, 504);
    CHECK_EQ(at.v[1]->excerpt_len, 2);
    hw_store_attempts_cleanup(&at);
    CHECK_EQ(hw_store_attempts(s, "evt_00000000000000000000000000", &at), 0);
    CHECK_EQ(at.n, 0);
    /* One event with its attempts, in one call (the replay CLI's "show"). */
    CHECK_EQ(hw_store_inspect(s, e[3], &got, &at), 0);
    CHECK_STR(got->id, e[3]);
    check_same_body(got, "payload", 7);
    CHECK_EQ(at.n, 2);
    CHECK_STR(at.v[1]->error, "second");
    hw_store_event_free(got);
    hw_store_attempts_cleanup(&at);
    CHECK_EQ(hw_store_inspect(s, "evt_00000000000000000000000000", &got, &at), HW_ENOTFOUND);
    CHECK(got == NULL && at.n == 0);

    /* Recording released the lease and the retry is due: only source y has it. */
    CHECK_EQ(hw_store_claim(s, "x", 30000, 10, 0, &l), 0);
    CHECK_EQ(l.n, 0);
    hw_store_events_cleanup(&l);
    CHECK_EQ(hw_store_claim(s, "y", 30000, 10, 0, &l), 0);
    CHECK_EQ(l.n, 1);
    CHECK_STR(l.v[0]->id, e[3]);
    CHECK_EQ(l.v[0]->attempts, 2);
    lease[3] = l.v[0]->lease;
    hw_store_events_cleanup(&l);

    CHECK_EQ(
        hw_store_record_attempt(s, "evt_00000000000000000000000000", 1, &a, HW_STORE_FAILED, 0),
        HW_ENOTFOUND);
    CHECK_EQ(hw_store_record_attempt(s, e[3], lease[3], &a, 0, 0), HW_EINVAL);
    /* Without the claim's own fencing value nothing is recorded. */
    CHECK_EQ(hw_store_record_attempt(s, e[3], lease[3] - 1, &a, HW_STORE_FAILED, 0), HW_ELEASE);
    CHECK_EQ(hw_store_record_attempt(s, e[3], 0, &a, HW_STORE_FAILED, 0), HW_ELEASE);
    /* A finished claim cannot record another attempt; the same outcome again is done, once. */
    CHECK_EQ(hw_store_record_attempt(s, e[2], lease[2], &a, HW_STORE_FAILED, 0), 0);
    a.at_ms = now + 1;
    CHECK_EQ(hw_store_record_attempt(s, e[2], lease[2], &a, HW_STORE_FAILED, 0), HW_ELEASE);
    a.at_ms = now;
    CHECK_EQ(hw_store_attempts(s, e[2], &at), 0);
    CHECK_EQ(at.n, 1);
    hw_store_attempts_cleanup(&at);
    CHECK_EQ(hw_store_claim(s, NULL, 0, 10, 0, &l), HW_EINVAL);

    /* Requeue (replay): a failed event becomes pending and due now; history stays. */
    CHECK_EQ(hw_store_requeue(s, e[2], 0), 0);
    CHECK_EQ(hw_store_claim(s, "x", 30000, 10, 0, &l), 0);
    CHECK_EQ(l.n, 1);
    CHECK_STR(l.v[0]->id, e[2]);
    CHECK_EQ(l.v[0]->status, HW_STORE_PENDING);
    CHECK_EQ(l.v[0]->attempts, 1);
    hw_store_events_cleanup(&l);
    CHECK_EQ(hw_store_requeue(s, "evt_00000000000000000000000000", 0), HW_ENOTFOUND);
    /* A delivered event is requeued only when forced; a requeue fences out the holder. */
    CHECK_EQ(hw_store_requeue(s, e[0], 0), HW_EEXIST);
    CHECK_EQ(hw_store_get(s, e[0], &got), 0);
    CHECK_EQ(got->status, HW_STORE_DELIVERED);
    hw_store_event_free(got);
    CHECK_EQ(hw_store_requeue(s, e[0], HW_STORE_REQUEUE_FORCE), 0);
    CHECK_EQ(hw_store_claim(s, "x", 30000, 10, 0, &l), 0);
    CHECK_EQ(l.n, 1);
    CHECK_STR(l.v[0]->id, e[0]);
    lease[0] = l.v[0]->lease;
    hw_store_events_cleanup(&l);
    CHECK_EQ(hw_store_requeue(s, e[0], 0), 0);
    CHECK_EQ(hw_store_record_attempt(s, e[0], lease[0], &a, HW_STORE_DELIVERED, 0), HW_ELEASE);
    CHECK_EQ(hw_store_requeue(s, e[0], 7), HW_EINVAL);
    close_drop(s, &d);
}

/*
 * Fenced leases: A's lease expires, B claims the event and records
 * "delivered"; A's late record (a failure) gets HW_ELEASE and changes
 * nothing, so the event is not delivered again. Even with nobody else
 * holding it, an expired claim records nothing.
 */
static void test_stale_lease(void)
{
    struct hw_store_event ev, *got = NULL;
    struct hw_store_events l;
    struct hw_store_attempts at;
    struct hw_store_attempt a = { 0 };
    struct tu_db d;
    struct hw_store *s = open_fresh(&d, NULL), *other;
    char id[HW_ID_LEN + 1], id2[HW_ID_LEN + 1];
    int64_t deadline, lease_a, lease_b, until;

    CHECK_EQ(hw_store_open(d.url, NULL, &other), 0);
    tu_event(&ev, "x", "payload");
    append_ok(s, &ev, id);
    CHECK_EQ(hw_store_claim(s, NULL, 50, 10, 0, &l), 0);
    CHECK_EQ(l.n, 1);
    lease_a = l.v[0]->lease;
    hw_store_events_cleanup(&l);
    /* Poll until the short lease has run out and the other handle gets the event. */
    deadline = tu_now_ms() + 10000;
    for (;;) {
        CHECK_EQ(hw_store_claim(other, NULL, 60000, 10, 0, &l), 0);
        if (l.n)
            break;
        hw_store_events_cleanup(&l);
        CHECK(tu_now_ms() < deadline);
    }
    CHECK_STR(l.v[0]->id, id);
    lease_b = l.v[0]->lease;
    CHECK(lease_b != lease_a);
    hw_store_events_cleanup(&l);

    a.at_ms = tu_now_ms();
    a.http_status = 200;
    CHECK_EQ(hw_store_record_attempt(other, id, lease_b, &a, HW_STORE_DELIVERED, 0), 0);
    a.http_status = 500;
    CHECK_EQ(hw_store_record_attempt(s, id, lease_a, &a, HW_STORE_PENDING, 0), HW_ELEASE);
    CHECK_EQ(hw_store_get(s, id, &got), 0);
    CHECK_EQ(got->status, HW_STORE_DELIVERED);
    CHECK_EQ(got->attempts, 1);
    CHECK_EQ(got->last_status, 200);
    hw_store_event_free(got);
    CHECK_EQ(hw_store_attempts(s, id, &at), 0);
    CHECK_EQ(at.n, 1); /* A's attempt was not recorded */
    hw_store_attempts_cleanup(&at);
    /* Claimable again? No: delivered stays delivered. */
    CHECK_EQ(hw_store_claim(s, NULL, 60000, 10, 0, &l), 0);
    CHECK_EQ(l.n, 0);
    hw_store_events_cleanup(&l);

    /* An expired claim that nobody took over records nothing either. */
    append_ok(s, &ev, id2);
    CHECK_EQ(hw_store_claim(s, NULL, 50, 10, 0, &l), 0);
    CHECK_EQ(l.n, 1);
    lease_a = l.v[0]->lease;
    until = l.v[0]->lease_until_ms;
    hw_store_events_cleanup(&l);
    deadline = tu_now_ms() + 10000;
    while (tu_now_ms() <= until) {
        CHECK(tu_now_ms() < deadline);
        tu_pause_ms(5);
    }
    CHECK_EQ(hw_store_record_attempt(s, id2, lease_a, &a, HW_STORE_FAILED, 0), HW_ELEASE);
    CHECK_EQ(hw_store_get(s, id2, &got), 0);
    CHECK_EQ(got->status, HW_STORE_PENDING);
    CHECK_EQ(got->attempts, 0);
    hw_store_event_free(got);
    CHECK_EQ(
        hw_store_record_attempt(s, "evt_00000000000000000000000000", 1, &a, HW_STORE_FAILED, 0),
        HW_ENOTFOUND);
    hw_store_close(other);
    close_drop(s, &d);
}

static void test_purge(void)
{
    const int64_t old = 1600000000000;
    struct hw_store_event ev, *got = NULL;
    struct hw_store_attempts at;
    struct tu_db d;
    struct hw_store *s = open_fresh(&d, NULL);
    char del[HW_ID_LEN + 1], fail[HW_ID_LEN + 1], pend[HW_ID_LEN + 1], young[HW_ID_LEN + 1];
    uint64_t removed = 99;

    tu_event(&ev, "p", "old");
    ev.received_ms = old;
    append_ok(s, &ev, del);
    append_ok(s, &ev, fail);
    append_ok(s, &ev, pend);
    ev.received_ms = 0;
    append_ok(s, &ev, young);
    attempt(&d, s, del, 200, NULL, HW_STORE_DELIVERED, 0);
    attempt(&d, s, fail, 500, NULL, HW_STORE_FAILED, 0);
    attempt(&d, s, young, 200, NULL, HW_STORE_DELIVERED, 0);

    CHECK_EQ(hw_store_purge(s, old + 1, 0, &removed), 0);
    CHECK_EQ(removed, 2);
    CHECK_EQ(hw_store_get(s, del, &got), HW_ENOTFOUND);
    CHECK_EQ(hw_store_get(s, fail, &got), HW_ENOTFOUND);
    CHECK_EQ(hw_store_attempts(s, del, &at), 0);
    CHECK_EQ(at.n, 0);
    CHECK_EQ(hw_store_get(s, pend, &got), 0);
    hw_store_event_free(got);

    CHECK_EQ(hw_store_purge(s, old + 1, HW_STORE_PURGE_PENDING, &removed), 0);
    CHECK_EQ(removed, 1);
    CHECK_EQ(hw_store_get(s, pend, &got), HW_ENOTFOUND);
    CHECK_EQ(hw_store_get(s, young, &got), 0);
    hw_store_event_free(got);
    CHECK_EQ(hw_store_attempts(s, young, &at), 0);
    CHECK_EQ(at.n, 1);
    hw_store_attempts_cleanup(&at);
    close_drop(s, &d);
}

/*
 * Bulk requeue (replay retry --failed): failed events become pending and
 * due in one statement; delivered ones, unknown ids and pending ones are
 * left alone: an event another run requeued since the listing, which a
 * receiver may be delivering under a lease, keeps its lease and is not
 * counted again.
 */
static void test_requeue_failed(void)
{
    struct hw_store_event ev, *got = NULL;
    struct hw_store_events l = { 0 };
    struct hw_store_attempt a = { 0 };
    struct tu_db d;
    struct hw_store *s = open_fresh(&d, NULL);
    char f1[HW_ID_LEN + 1], f2[HW_ID_LEN + 1], del[HW_ID_LEN + 1], held[HW_ID_LEN + 1];
    const char *ids[5] = { f1, f2, del, "evt_00000000000000000000000000", held };
    const char *many[HW_STORE_REQUEUE_MANY_MAX + 1];
    uint64_t n = 99;
    int64_t lease;

    tu_event(&ev, "rq", "bulk");
    append_ok(s, &ev, f1);
    append_ok(s, &ev, f2);
    append_ok(s, &ev, del);
    attempt(&d, s, f1, 500, NULL, HW_STORE_FAILED, 0);
    attempt(&d, s, f2, 0, "timeout", HW_STORE_FAILED, 0);
    attempt(&d, s, del, 200, NULL, HW_STORE_DELIVERED, 0);
    append_ok(s, &ev, held);
    CHECK_EQ(hw_store_claim(s, "rq", 30000, 10, 0, &l), 0);
    CHECK_EQ(l.n, 1);
    CHECK_STR(l.v[0]->id, held);
    lease = l.v[0]->lease;
    hw_store_events_cleanup(&l);

    CHECK_EQ(hw_store_requeue_failed(s, ids, 5, &n), 0);
    CHECK_EQ(n, 2);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(hw_store_get(s, ids[i], &got), 0);
        CHECK_EQ(got->status, HW_STORE_PENDING);
        CHECK_EQ(got->attempts, 1);
        CHECK(got->next_attempt_ms <= tu_now_ms());
        hw_store_event_free(got);
    }
    CHECK_EQ(hw_store_get(s, del, &got), 0);
    CHECK_EQ(got->status, HW_STORE_DELIVERED);
    hw_store_event_free(got);
    /* A second run over the same listing: all of it is pending now, nothing is touched. */
    CHECK_EQ(hw_store_requeue_failed(s, ids, 5, &n), 0);
    CHECK_EQ(n, 0);
    /* The held event's lease still stands: its holder records the outcome. */
    a.http_status = 200;
    CHECK_EQ(hw_store_record_attempt(s, held, lease, &a, HW_STORE_DELIVERED, 0), 0);

    CHECK_EQ(hw_store_requeue_failed(s, ids, 0, &n), 0);
    CHECK_EQ(n, 0);
    attempt(&d, s, f1, 500, NULL, HW_STORE_FAILED, 0);
    for (size_t i = 0; i <= HW_STORE_REQUEUE_MANY_MAX; i++)
        many[i] = f1;
    CHECK_EQ(hw_store_requeue_failed(s, many, HW_STORE_REQUEUE_MANY_MAX + 1, &n), HW_EINVAL);
    /* The cap is taken whole; one id given a thousand times is one event. */
    CHECK_EQ(hw_store_requeue_failed(s, many, HW_STORE_REQUEUE_MANY_MAX, &n), 0);
    CHECK_EQ(n, 1);
    ids[1] = NULL;
    CHECK_EQ(hw_store_requeue_failed(s, ids, 2, &n), HW_EINVAL);
    close_drop(s, &d);
}

/*
 * What the replay CLI reads: the summary (counts by status and source, the
 * oldest pending event, failures and delivery latency of the last hour),
 * listings by path glob, purges in batches by status. And what the
 * receiver reads for /metrics: each source's backlog and oldest pending.
 */
static void test_summary_glob_purge(void)
{
    struct hw_store_event ev;
    struct hw_store_summary sum;
    struct hw_store_filter f = { 0 };
    struct hw_store_events l;
    struct hw_store_attempt a = { .duration_ms = 5, .http_status = 200 };
    struct tu_db d;
    struct hw_store *s = open_fresh(&d, NULL);
    char id[HW_ID_LEN + 1];
    int64_t now = tu_now_ms(), old = now - 2 * 3600 * 1000;
    uint64_t removed = 0, pending = 0;
    int64_t oldest = 0;
    const char *paths[] = { "/gh/push", "/gh/pull", "/stripe/x", "/a%b_c", "/a[1]" };

    /* 1200 old failed events from "bulk", enough for two purge batches. */
    tu_event(&ev, "bulk", "b");
    ev.received_ms = old;
    for (int i = 0; i < 1200; i++)
        append_ok(s, &ev, id);
    tu_db_exec(&d, "UPDATE hookwire_events SET status = 3");
    /* Ten recent "gh" events delivered 10..100 ms after receipt, one recent failure. */
    for (int i = 0; i < 10; i++) {
        tu_event(&ev, "gh", "x");
        ev.path = paths[i % 5];
        ev.received_ms = now - 1000;
        append_ok(s, &ev, id);
        a.at_ms = ev.received_ms + (i + 1) * 10 - a.duration_ms;
        CHECK_EQ(hw_store_record_attempt(s, id, lease_one(&d, s, id), &a, HW_STORE_DELIVERED, 0),
                 0);
    }
    tu_event(&ev, "gh", "y");
    ev.received_ms = now - 500;
    append_ok(s, &ev, id);
    a.http_status = 500;
    a.at_ms = now;
    CHECK_EQ(hw_store_record_attempt(s, id, lease_one(&d, s, id), &a, HW_STORE_FAILED, 0), 0);
    tu_event(&ev, "stripe", "z");
    ev.received_ms = now - 4000;
    append_ok(s, &ev, id); /* pending */

    CHECK_EQ(hw_store_summarize(s, now, &sum), 0);
    CHECK_EQ(sum.by_status[HW_STORE_PENDING], 1);
    CHECK_EQ(sum.by_status[HW_STORE_DELIVERED], 10);
    CHECK_EQ(sum.by_status[HW_STORE_FAILED], 1201);
    CHECK_EQ(sum.nsources, 3);
    CHECK_STR(sum.sources[0].source, "bulk");
    CHECK_EQ(sum.sources[0].by_status[HW_STORE_FAILED], 1200);
    CHECK_STR(sum.sources[1].source, "gh");
    CHECK_EQ(sum.sources[1].by_status[HW_STORE_DELIVERED], 10);
    CHECK_EQ(sum.sources[1].by_status[HW_STORE_FAILED], 1);
    CHECK_STR(sum.sources[2].source, "stripe");
    CHECK_EQ(sum.oldest_pending_ms, now - 4000);
    CHECK_EQ(sum.failed_last_hour, 1);
    CHECK_EQ(sum.delivered_last_hour, 10);
    CHECK_EQ(sum.latency_p50_ms, 50); /* latencies 10, 20, ... 100 ms */
    CHECK_EQ(sum.latency_p90_ms, 90);
    CHECK_EQ(sum.latency_p99_ms, 100);
    hw_store_summary_cleanup(&sum);
    /* Backlogs: pending events only, per source; a source with none is 0 and 0. */
    tu_event(&ev, "stripe", "w");
    ev.received_ms = now - 3000;
    append_ok(s, &ev, id); /* pending */
    CHECK_EQ(hw_store_backlog(s, "stripe", &pending, &oldest), 0);
    CHECK_EQ(pending, 2);
    CHECK_EQ(oldest, now - 4000);
    CHECK_EQ(hw_store_backlog(s, "gh", &pending, &oldest), 0);
    CHECK_EQ(pending, 0);
    CHECK_EQ(oldest, 0);
    CHECK_EQ(hw_store_backlog(s, "nobody", &pending, &oldest), 0);
    CHECK_EQ(pending, 0);
    CHECK_EQ(hw_store_backlog(s, "", &pending, &oldest), HW_EINVAL);
    a.http_status = 200;
    CHECK_EQ(hw_store_record_attempt(s, id, lease_one(&d, s, id), &a, HW_STORE_DELIVERED, 0), 0);
    CHECK_EQ(hw_store_backlog(s, "stripe", &pending, &oldest), 0);
    CHECK_EQ(pending, 1);

    /* Path globs: '*' and '?' only; LIKE and GLOB specials are taken literally. */
    f.path = "/gh/*";
    CHECK_EQ(count_list(s, &f), 4);
    f.path = "/gh/pu??";
    CHECK_EQ(count_list(s, &f), 4);
    f.path = "/a%b_c";
    CHECK_EQ(count_list(s, &f), 2);
    f.path = "/a[1]";
    CHECK_EQ(count_list(s, &f), 2);
    f.path = "/a_b%c";
    CHECK_EQ(count_list(s, &f), 0);
    f.path = "/GH/*";
    CHECK_EQ(count_list(s, &f), 0); /* case matters */
    /* Status and time together, paged by cursor. */
    memset(&f, 0, sizeof(f));
    f.status = HW_STORE_FAILED;
    f.since_ms = now - 3600 * 1000;
    CHECK_EQ(count_list(s, &f), 1);
    f.since_ms = 0;
    f.limit = 1000;
    CHECK_EQ(hw_store_list(s, &f, &l), 0);
    CHECK_EQ(l.n, 1000);
    f.cursor = l.next_cursor;
    hw_store_events_cleanup(&l);
    CHECK_EQ(count_list(s, &f), 201);

    /* Purge: only delivered; then failed in batches of 1000; pending stays. */
    CHECK_EQ(hw_store_purge(s, now, HW_STORE_PURGE_DELIVERED, &removed), 0);
    CHECK_EQ(removed, 11);
    CHECK_EQ(hw_store_purge(s, now, HW_STORE_PURGE_FAILED, &removed), 0);
    CHECK_EQ(removed, 1201);
    CHECK_EQ(hw_store_purge(s, now, 0, &removed), 0);
    CHECK_EQ(removed, 0);
    CHECK_EQ(hw_store_purge(s, now, 64, &removed), HW_EINVAL);
    CHECK_EQ(hw_store_summarize(s, now, &sum), 0);
    CHECK_EQ(sum.by_status[HW_STORE_PENDING], 1);
    CHECK_EQ(sum.by_status[HW_STORE_DELIVERED] + sum.by_status[HW_STORE_FAILED], 0);
    CHECK_EQ(sum.delivered_last_hour, 0); /* their attempts went with them */
    hw_store_summary_cleanup(&sum);
    close_drop(s, &d);
}

/*
 * The backlog's oldest is the receipt of the pending event stored first
 * (docs/store.md, "backlog"): one stored later with an earlier receipt, as
 * can happen within one group commit, does not move it; once the first is
 * delivered the next stored one's receipt is reported.
 */
static void test_backlog_stored_first(void)
{
    struct hw_store_event ev;
    struct hw_store_attempt a = { .duration_ms = 5, .http_status = 200 };
    struct tu_db d;
    struct hw_store *s = open_fresh(&d, NULL);
    struct hw_store_summary sum;
    char first[HW_ID_LEN + 1], id[HW_ID_LEN + 1];
    int64_t now = tu_now_ms(), oldest = 0;
    uint64_t pending = 0;

    tu_event(&ev, "late", "{\"n\":1}");
    ev.received_ms = now - 100;
    append_ok(s, &ev, first);
    tu_event(&ev, "late", "{\"n\":2}");
    ev.received_ms = now - 101;
    append_ok(s, &ev, id);
    CHECK_EQ(hw_store_backlog(s, "late", &pending, &oldest), 0);
    CHECK_EQ(pending, 2);
    CHECK_EQ(oldest, now - 100);
    CHECK_EQ(hw_store_summarize(s, now, &sum), 0);
    CHECK_EQ(sum.oldest_pending_ms, now - 100); /* the summary's too */
    hw_store_summary_cleanup(&sum);
    CHECK_EQ(hw_store_record_attempt(s, first, lease_one(&d, s, first), &a, HW_STORE_DELIVERED, 0),
             0);
    CHECK_EQ(hw_store_backlog(s, "late", &pending, &oldest), 0);
    CHECK_EQ(pending, 1);
    CHECK_EQ(oldest, now - 101);
    close_drop(s, &d);
}

static void on_ignore(void *arg, int err, const struct hw_store_result *res)
{
}

/* An event larger than the queue's byte cap can never fit: HW_E2BIG, not HW_EFULL forever. */
static void test_queue_e2big(void)
{
    static char body[64 * 1024];
    struct hw_store_event ev;
    struct tu_wake w;
    struct tu_db d;
    struct hw_store *s;

    tu_wake_init(&w);
    s = open_fresh(&d, &(struct hw_store_opts){
                           .wake = tu_wake_fn, .wake_arg = &w, .queue_bytes_max = 32 * 1024 });
    memset(body, 'q', sizeof(body));
    tu_event(&ev, "big", "");
    ev.body = body;
    ev.body_len = sizeof(body);
    CHECK_EQ(hw_store_append_async(s, &ev, on_ignore, NULL), HW_E2BIG);
    ev.body_len = 1024;
    CHECK_EQ(hw_store_append_async(s, &ev, on_ignore, NULL), 0);
    close_drop(s, &d);
    tu_wake_cleanup(&w);
}

static void test_tokens(void)
{
    unsigned char h1[32], h2[32], h3[32];
    struct hw_store_token *t = NULL;
    struct tu_db d;
    struct hw_store *s = open_fresh(&d, NULL);
    char channel[HW_STORE_NAME_MAX + 1];
    unsigned removed = 0;
    size_t n = 0;

    crypto_hash_sha256(h1, (const unsigned char *)"hwt_alice_1", 11);
    crypto_hash_sha256(h2, (const unsigned char *)"hwt_alice_2", 11);
    crypto_hash_sha256(h3, (const unsigned char *)"hwt_bob", 7);
    CHECK_EQ(hw_store_token_add(s, "alice", h1), 0);
    CHECK_EQ(hw_store_token_add(s, "alice", h2), 0); /* rotation: two at once */
    CHECK_EQ(hw_store_token_add(s, "bob", h3), 0);
    CHECK_EQ(hw_store_token_add(s, "bob", h1), HW_EEXIST);
    CHECK_EQ(hw_store_token_add(s, "Bad_Name", h3), HW_EINVAL);

    CHECK_EQ(hw_store_token_lookup(s, h2, channel), 0);
    CHECK_STR(channel, "alice");
    CHECK_EQ(hw_store_token_lookup(s, h3, channel), 0);
    CHECK_STR(channel, "bob");

    CHECK_EQ(hw_store_token_list(s, &t, &n), 0);
    CHECK_EQ(n, 3);
    CHECK_STR(t[0].channel, "alice");
    CHECK_STR(t[2].channel, "bob");
    CHECK_MEM(t[2].hash, h3, 32);
    CHECK(t[0].created_ms > 0);
    free(t);

    CHECK_EQ(hw_store_token_revoke(s, "alice", &removed), 0);
    CHECK_EQ(removed, 2);
    CHECK_EQ(hw_store_token_lookup(s, h1, channel), HW_ENOTFOUND);
    CHECK_EQ(hw_store_token_lookup(s, h2, channel), HW_ENOTFOUND);
    CHECK_EQ(hw_store_token_revoke(s, "alice", &removed), HW_ENOTFOUND);
    CHECK_EQ(hw_store_token_lookup(s, h3, channel), 0);
    close_drop(s, &d);
}

/* A completion callback run by hw_store_close() that submits again is refused, not lost. */
static struct hw_store *g_closing;
static int g_resubmit_err = 1;

static void resubmit_on_done(void *arg, int err, const struct hw_store_result *res)
{
    struct hw_store_event ev;

    on_done(arg, err, res);
    tu_event(&ev, "late", "too late");
    g_resubmit_err = hw_store_append_async(g_closing, &ev, on_done, arg);
}

static void test_append_during_close(void)
{
    struct hw_store_event ev;
    struct done dn = { 0 };
    struct tu_wake w;
    struct tu_db d;

    tu_wake_init(&w);
    g_closing = open_fresh(&d, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w });
    tu_event(&ev, "late", "first");
    CHECK_EQ(hw_store_append_async(g_closing, &ev, resubmit_on_done, &dn), 0);
    hw_store_close(g_closing); /* runs the callback, which tries to append again */
    CHECK_EQ(dn.calls, 1);
    CHECK_EQ(g_resubmit_err, HW_EUNAVAIL);
    CHECK_EQ(hw_store_open(d.url, NULL, &g_closing), 0);
    close_drop(g_closing, &d);
    tu_wake_cleanup(&w);
}

static void test_group_commit(void)
{
    enum { N = 2000 };
    struct done *dn = calloc(N, sizeof(*dn));
    struct hw_store_event ev, *got = NULL;
    struct hw_store_stats st;
    struct tu_wake w;
    struct tu_db d;
    struct hw_store *s;
    char body[32];

    CHECK(dn != NULL);
    tu_wake_init(&w);
    s = open_fresh(&d, &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w });
    g_order = 0;
    for (int i = 0; i < N; i++) {
        snprintf(body, sizeof(body), "event %d", i);
        tu_event(&ev, "burst", body);
        CHECK_EQ(hw_store_append_async(s, &ev, on_done, &dn[i]), 0);
    }
    wait_all(&w, s, dn, N);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(dn[i].calls, 1);
        CHECK_EQ(dn[i].err, 0);
        CHECK_EQ(dn[i].order, i); /* completions run in submission order */
    }
    CHECK_EQ(hw_store_get(s, dn[N - 1].id, &got), 0);
    check_same_body(got, "event 1999", 10);
    hw_store_event_free(got);
    hw_store_stats(s, &st);
    CHECK_EQ(st.appended, N);
    /* A burst shares commits: far fewer transactions than events. */
    fprintf(stderr, "    %d appends in %llu commits\n", N, (unsigned long long)st.commits);
    CHECK(st.commits * 4 <= N);
    close_drop(s, &d);

    /* The queue is bounded; unpolled completions count against it. */
    memset(dn, 0, N * sizeof(*dn));
    s = open_fresh(&d,
                   &(struct hw_store_opts){ .wake = tu_wake_fn, .wake_arg = &w, .queue_max = 8 });
    for (int i = 0; i < 8; i++)
        CHECK_EQ(hw_store_append_async(s, &ev, on_done, &dn[i]), 0);
    CHECK_EQ(hw_store_append_async(s, &ev, on_done, &dn[8]), HW_EFULL);
    /* Close commits what is queued and runs the callbacks on this thread. */
    hw_store_close(s);
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(dn[i].calls, 1);
        CHECK_EQ(dn[i].err, 0);
    }
    CHECK_EQ(dn[8].calls, 0);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    CHECK_EQ(hw_store_get(s, dn[7].id, &got), 0);
    hw_store_event_free(got);
    close_drop(s, &d);
    tu_wake_cleanup(&w);
    free(dn);
}

static void test_bad_arguments(void)
{
    struct hw_store_event ev;
    struct hw_store_result r;
    struct done dn = { 0 };
    struct tu_db d;
    struct hw_store *s = open_fresh(&d, NULL);
    char name[70], key[300];

    tu_event(&ev, "ok", "x");
    CHECK_EQ(hw_store_append_async(s, &ev, on_done, &dn), HW_EINVAL); /* no store thread */
    ev.source = NULL;
    CHECK_EQ(hw_store_append(s, &ev, &r), HW_EINVAL);
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    ev.source = name;
    CHECK_EQ(hw_store_append(s, &ev, &r), HW_EINVAL);
    ev.source = "ok";
    ev.method = NULL;
    CHECK_EQ(hw_store_append(s, &ev, &r), HW_EINVAL);
    ev.method = "POST";
    ev.headers_len = HW_STORE_HEADERS_MAX + 1;
    CHECK_EQ(hw_store_append(s, &ev, &r), HW_E2BIG);
    ev.headers_len = 0;
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    ev.dedup_key = key;
    CHECK_EQ(hw_store_append(s, &ev, &r), HW_E2BIG);
    ev.dedup_key = NULL;
    ev.verify = 7;
    CHECK_EQ(hw_store_append(s, &ev, &r), HW_EINVAL);
    close_drop(s, &d);
}

/* Loads a version-1 fixture, opens it, and checks that it upgraded with its data intact. */
static void test_schema_upgrade(void)
{
    char *sql = tu_fixture(g_mysql ? "store_v1.mysql.sql" : "store_v1.sqlite.sql");
    struct hw_store_event ev, *got = NULL;
    struct hw_store_attempts at;
    struct hw_store_events l;
    struct hw_store_result r;
    struct hw_store *s = NULL;
    unsigned char h[32] = { 1 };
    char channel[HW_STORE_NAME_MAX + 1];
    int version = 0;
    struct tu_db d;

    tu_db_fresh(&d, g_mysql);
    tu_db_exec(&d, sql);
    free(sql);
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    CHECK_EQ(hw_store_schema_version(s, &version), 0);
    CHECK_EQ(version, HW_STORE_SCHEMA_VERSION);

    CHECK_EQ(hw_store_get(s, "evt_01hf1b4kc0aaaaaaaaaaaaaaaa", &got), 0);
    CHECK_STR(got->source, "github");
    CHECK_EQ(got->headers_len, 22);
    CHECK_MEM(got->headers, "X-GitHub-Event: push\r\n", 22);
    check_same_body(got, "{\"zen\":\"true\"}", 14);
    CHECK_EQ(got->status, HW_STORE_DELIVERED);
    CHECK_EQ(got->attempts, 1);
    CHECK_EQ(got->lease_until_ms, 0);
    hw_store_event_free(got);
    CHECK_EQ(hw_store_attempts(s, "evt_01hf1b4kc0aaaaaaaaaaaaaaaa", &at), 0);
    CHECK_EQ(at.n, 1);
    CHECK_EQ(at.v[0]->excerpt_len, 2);
    hw_store_attempts_cleanup(&at);

    /* Features of later versions work on the upgraded data. */
    CHECK_EQ(hw_store_claim(s, NULL, 1000, 10, 0, &l), 0);
    CHECK_EQ(l.n, 1);
    CHECK_STR(l.v[0]->id, "evt_01hf1b4kc1bbbbbbbbbbbbbbbb");
    CHECK_STR(l.v[0]->query, "a=1");
    hw_store_events_cleanup(&l);
    tu_event(&ev, "github", "again");
    ev.dedup_key = "delivery-1";
    CHECK_EQ(hw_store_append(s, &ev, &r), 0);
    CHECK_EQ(r.duplicate, 1);
    CHECK_STR(r.id, "evt_01hf1b4kc0aaaaaaaaaaaaaaaa");
    CHECK_EQ(hw_store_token_add(s, "alice", h), 0);
    CHECK_EQ(hw_store_token_lookup(s, h, channel), 0);
    hw_store_close(s);

    /* Reopening an up-to-date store changes nothing. */
    CHECK_EQ(hw_store_open(d.url, NULL, &s), 0);
    hw_store_close(s);

    /* A store from a newer hookwire is refused. */
    tu_db_exec(&d, "INSERT INTO hookwire_schema (version, applied_ms) VALUES (99, 0)");
    s = NULL;
    CHECK_EQ(hw_store_open(d.url, NULL, &s), HW_EVERSION);
    CHECK(s == NULL);
    tu_db_drop(&d, g_mysql);
}

/* MySQL only: the socket form of the URL and the password from the environment. */
static void test_mysql_connection_forms(void)
{
    const char *sock = getenv("HOOKWIRE_TEST_MYSQL_SOCKET_URL");
    struct hw_store_url u;
    struct hw_store *s = NULL;
    struct tu_db d;
    char url[2048];

    tu_db_fresh(&d, g_mysql);
    if (sock) {
        tu_url_with_db(url, sizeof(url), sock, d.name);
        CHECK_EQ(hw_store_open(url, NULL, &s), 0);
        CHECK(strstr(hw_store_name(s), "?socket=") != NULL);
        hw_store_close(s);
    }
    CHECK_EQ(hw_store_url_parse(d.url, &u), 0);
    CHECK(u.password != NULL);
    setenv("HOOKWIRE_MYSQL_PASSWORD", u.password, 1);
    snprintf(url, sizeof(url), "mysql://%s@%s:%u/%s", u.user, u.host, u.port, u.db);
    CHECK_EQ(hw_store_open(url, NULL, &s), 0);
    CHECK_EQ(hw_store_ping(s), 0);
    CHECK(strstr(hw_store_name(s), u.password) == NULL);
    hw_store_close(s);
    setenv("HOOKWIRE_MYSQL_PASSWORD", "wrong", 1);
    CHECK_EQ(hw_store_open(url, NULL, &s), HW_EUNAVAIL);
    unsetenv("HOOKWIRE_MYSQL_PASSWORD");
    hw_store_url_cleanup(&u);
    tu_db_drop(&d, g_mysql);
}

static void test_url_parsing(void)
{
    struct hw_store_url u;
    struct hw_store *s = NULL;

    CHECK_EQ(hw_store_url_parse("sqlite:/var/lib/hookwire/events.db", &u), 0);
    CHECK_EQ(u.kind, HW_STORE_KIND_SQLITE);
    CHECK_STR(u.path, "/var/lib/hookwire/events.db");
    hw_store_url_cleanup(&u);

    CHECK_EQ(hw_store_url_parse("mysql://hook:p%40ss%2Fw:rd@db.example:3307/events", &u), 0);
    CHECK_EQ(u.kind, HW_STORE_KIND_MYSQL);
    CHECK_STR(u.user, "hook");
    CHECK_STR(u.password, "p@ss/w:rd");
    CHECK_STR(u.host, "db.example");
    CHECK_EQ(u.port, 3307);
    CHECK_STR(u.db, "events");
    CHECK(u.socket == NULL);
    CHECK_STR(u.name, "mysql://hook@db.example:3307/events");
    hw_store_url_cleanup(&u);

    /* An unescaped '@' in the password still parses: the last '@' ends the user part. */
    CHECK_EQ(hw_store_url_parse("mysql://u:a@b@[::1]:3306/db", &u), 0);
    CHECK_STR(u.password, "a@b");
    CHECK_STR(u.host, "::1");
    CHECK_STR(u.name, "mysql://u@[::1]:3306/db");
    hw_store_url_cleanup(&u);

    CHECK_EQ(hw_store_url_parse("mysql://u@/db?socket=%2Frun%2Fmysqld%2Fmysqld.sock", &u), 0);
    CHECK(u.host == NULL);
    CHECK_STR(u.socket, "/run/mysqld/mysqld.sock");
    hw_store_url_cleanup(&u);

    setenv("HOOKWIRE_MYSQL_PASSWORD", "from-env", 1);
    CHECK_EQ(hw_store_url_parse("mysql://u@localhost/db", &u), 0);
    CHECK_STR(u.password, "from-env");
    hw_store_url_cleanup(&u);
    CHECK_EQ(hw_store_url_parse("mysql://u:url@localhost/db", &u), 0);
    CHECK_STR(u.password, "url");
    hw_store_url_cleanup(&u);
    unsetenv("HOOKWIRE_MYSQL_PASSWORD");

    static const char *const bad[] = {
        "sqlite:",
        "sqlite:/tmp/x.db?cache=shared",
        "sqlite:/tmp/x.db?unsafe_sync=off?x",
        "postgres://u@h/db",
        "mysql://h/db",
        "mysql://u@h",
        "mysql://u@h/",
        "mysql://u@h/db/x",
        "mysql://u@h:99999/db",
        "mysql://u@h:x/db",
        "mysql://u@h/db?sock=/x",
        "mysql://u@h/db?socket=",
        "mysql://u@h/d%00b",
        "mysql://u@h/d%zzb",
        "mysql://u@/db",
        "mysql://:pw@h/db",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (hw_store_url_parse(bad[i], &u) != HW_ECONFIG) {
            fprintf(stderr, "accepted %s\n", bad[i]);
            abort();
        }
        hw_store_url_cleanup(&u);
    }
    CHECK_EQ(hw_store_open("nope:x", NULL, &s), HW_ECONFIG);
    /* Nothing listens on port 1: the store says "unavailable", the caller's 503. */
    CHECK_EQ(hw_store_open("mysql://u:p@127.0.0.1:1/db", NULL, &s), HW_EUNAVAIL);
}

static void run_suite(const char *mysql_url)
{
    g_mysql = mysql_url;
    RUN(test_roundtrip);
    RUN(test_bodies);
    RUN(test_duplicates);
    RUN(test_list);
    RUN(test_claim_and_attempts);
    RUN(test_stale_lease);
    RUN(test_purge);
    RUN(test_requeue_failed);
    RUN(test_summary_glob_purge);
    RUN(test_backlog_stored_first);
    RUN(test_queue_e2big);
    RUN(test_tokens);
    RUN(test_group_commit);
    RUN(test_append_during_close);
    RUN(test_bad_arguments);
    RUN(test_schema_upgrade);
    if (mysql_url)
        RUN(test_mysql_connection_forms);
}

int main(void)
{
    RUN(test_url_parsing);
    return tu_run_backends(run_suite);
}
