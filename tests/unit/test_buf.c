/*
 * Unit tests for common/core/buf.c: the cap on unread bytes (HW_E2BIG and no
 * growth past it), consumption and compaction, reserve/commit, formatted
 * appends short and long, truncate, reset and cleanup. Single-threaded.
 */
#include "core/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"

static void check_content(const struct hw_buf *b, const char *want)
{
    CHECK_EQ(hw_buf_size(b), strlen(want));
    CHECK_MEM(hw_buf_head(b), want, strlen(want));
}

static void test_init_and_append(void)
{
    struct hw_buf b;

    hw_buf_init(&b, 1000);
    CHECK(b.data == NULL);
    CHECK_EQ(hw_buf_size(&b), 0);
    /* The head of a never allocated buffer can be passed on with its size of 0. */
    CHECK_EQ(hw_buf_append(&b, hw_buf_head(&b), hw_buf_size(&b)), 0);
    CHECK_EQ(b.max, 1000);
    CHECK_EQ(hw_buf_append(&b, "hello", 5), 0);
    CHECK_EQ(hw_buf_puts(&b, ", world"), 0);
    check_content(&b, "hello, world");
    /* Appending nothing always succeeds and changes nothing. */
    CHECK_EQ(hw_buf_append(&b, NULL, 0), 0);
    CHECK_EQ(hw_buf_puts(&b, ""), 0);
    check_content(&b, "hello, world");
    hw_buf_cleanup(&b);
    CHECK(b.data == NULL);
    CHECK_EQ(hw_buf_size(&b), 0);
    CHECK_EQ(b.max, 1000); /* reusable with the same cap */
    CHECK_EQ(hw_buf_puts(&b, "again"), 0);
    check_content(&b, "again");
    hw_buf_cleanup(&b);
}

/* Past the cap an append fails whole: nothing is added and nothing grows. */
static void test_cap_enforced(void)
{
    char big[300];
    struct hw_buf b;
    char *data;
    size_t cap;

    memset(big, 'x', sizeof(big));
    hw_buf_init(&b, 100);
    CHECK_EQ(hw_buf_append(&b, big, 60), 0);
    data = b.data;
    cap = b.cap;
    CHECK_EQ(hw_buf_append(&b, big, 41), HW_E2BIG);
    CHECK_EQ(hw_buf_size(&b), 60);
    CHECK(b.data == data);
    CHECK_EQ(b.cap, cap);
    CHECK_EQ(hw_buf_puts(&b, "0123456789012345678901234567890123456789!"), HW_E2BIG);
    CHECK_EQ(hw_buf_size(&b), 60);
    /* Exactly up to the cap is fine; then even one byte is too many. */
    CHECK_EQ(hw_buf_append(&b, big, 40), 0);
    CHECK_EQ(hw_buf_size(&b), 100);
    CHECK_EQ(hw_buf_append(&b, "y", 1), HW_E2BIG);
    CHECK_EQ(hw_buf_append(&b, "y", 0), 0);
    CHECK_EQ(hw_buf_size(&b), 100);
    hw_buf_cleanup(&b);

    /* A single append larger than the cap never allocates. */
    hw_buf_init(&b, 100);
    CHECK_EQ(hw_buf_append(&b, big, sizeof(big)), HW_E2BIG);
    CHECK(b.data == NULL);
    CHECK_EQ(b.cap, 0);
    CHECK(hw_buf_reserve(&b, 101) == NULL);
    CHECK(b.data == NULL);
    hw_buf_cleanup(&b);

    /* The cap limits unread bytes: consuming makes room again. */
    hw_buf_init(&b, 100);
    CHECK_EQ(hw_buf_append(&b, big, 100), 0);
    hw_buf_consume(&b, 30);
    CHECK_EQ(hw_buf_append(&b, big, 31), HW_E2BIG);
    CHECK_EQ(hw_buf_append(&b, "abcdefghijklmnopqrstuvwxyz0123", 30), 0);
    CHECK_EQ(hw_buf_size(&b), 100);
    CHECK_MEM(hw_buf_head(&b) + 70, "abcdefghijklmnopqrstuvwxyz0123", 30);
    hw_buf_cleanup(&b);
}

static void test_growth_keeps_content(void)
{
    const size_t total = 1024 * 1024;
    struct hw_buf b;

    hw_buf_init(&b, total);
    for (size_t i = 0; i < total; i += 7) {
        uint8_t chunk[7];
        size_t n = total - i < 7 ? total - i : 7;

        for (size_t k = 0; k < n; k++)
            chunk[k] = (uint8_t)((i + k) * 31 + ((i + k) >> 10));
        CHECK_EQ(hw_buf_append(&b, chunk, n), 0);
    }
    CHECK_EQ(hw_buf_size(&b), total);
    CHECK(b.cap >= total);
    for (size_t i = 0; i < total; i++)
        CHECK_EQ((uint8_t)hw_buf_head(&b)[i], (uint8_t)(i * 31 + (i >> 10)));
    CHECK_EQ(hw_buf_append(&b, "z", 1), HW_E2BIG);
    hw_buf_cleanup(&b);
}

static void test_consume(void)
{
    struct hw_buf b;

    hw_buf_init(&b, 1000);
    CHECK_EQ(hw_buf_puts(&b, "abcdef"), 0);
    hw_buf_consume(&b, 2);
    check_content(&b, "cdef");
    hw_buf_consume(&b, 0);
    check_content(&b, "cdef");
    CHECK_EQ(hw_buf_puts(&b, "gh"), 0);
    check_content(&b, "cdefgh");
    /* Consuming everything rewinds to the start of the storage. */
    hw_buf_consume(&b, 6);
    CHECK_EQ(hw_buf_size(&b), 0);
    CHECK_EQ(b.off, 0);
    CHECK_EQ(b.len, 0);
    CHECK(hw_buf_head(&b) == b.data);
    CHECK_EQ(hw_buf_puts(&b, "new"), 0);
    check_content(&b, "new");
    CHECK(hw_buf_head(&b) == b.data);
    hw_buf_cleanup(&b);
}

/* Space freed at the front is reused by moving the unread bytes, not by growing. */
static void test_compaction(void)
{
    char fill[256], tail[56];
    struct hw_buf b;
    char *data;
    size_t cap;

    for (size_t i = 0; i < sizeof(fill); i++)
        fill[i] = (char)('a' + i % 26);
    hw_buf_init(&b, 1 << 20);
    CHECK_EQ(hw_buf_append(&b, fill, sizeof(fill)), 0);
    /* Top up to exactly the allocated size, so the storage is full. */
    while (b.len < b.cap)
        CHECK_EQ(hw_buf_append(&b, "z", 1), 0);
    data = b.data;
    cap = b.cap;
    memcpy(tail, b.data + cap - 56, 56);
    hw_buf_consume(&b, cap - 56);
    CHECK_EQ(hw_buf_append(&b, "0123456789", 10), 0);
    CHECK(b.data == data);
    CHECK_EQ(b.cap, cap);
    CHECK_EQ(b.off, 0);
    CHECK_EQ(hw_buf_size(&b), 66);
    CHECK_MEM(hw_buf_head(&b), tail, 56);
    CHECK_MEM(hw_buf_head(&b) + 56, "0123456789", 10);

    /* When moving is not enough the storage grows and keeps the unread bytes only. */
    while (hw_buf_size(&b) < cap)
        CHECK_EQ(hw_buf_append(&b, "y", 1), 0);
    CHECK(b.data == data);
    hw_buf_consume(&b, 16);
    CHECK(b.off > 0);
    CHECK_EQ(hw_buf_append(&b, fill, sizeof(fill)), 0);
    CHECK_EQ(hw_buf_size(&b), cap - 16 + sizeof(fill));
    CHECK(b.cap >= cap - 16 + sizeof(fill));
    CHECK_MEM(hw_buf_head(&b), tail + 16, 40);
    CHECK_MEM(hw_buf_head(&b) + 40, "0123456789", 10);
    CHECK_EQ(hw_buf_head(&b)[cap - 17], 'y');
    CHECK_MEM(hw_buf_head(&b) + cap - 16, fill, sizeof(fill));
    hw_buf_cleanup(&b);
}

static void test_reserve_commit(void)
{
    struct hw_buf b;
    char *p;

    hw_buf_init(&b, 64);
    CHECK_EQ(hw_buf_puts(&b, "head:"), 0);
    p = hw_buf_reserve(&b, 20);
    CHECK(p != NULL);
    CHECK(p == hw_buf_head(&b) + 5);
    /* Reserving does not change the content. */
    CHECK_EQ(hw_buf_size(&b), 5);
    memcpy(p, "0123456789abcdefghij", 20);
    hw_buf_commit(&b, 10); /* commit fewer bytes than reserved */
    check_content(&b, "head:0123456789");
    /* The cap counts reserved room too. */
    CHECK(hw_buf_reserve(&b, 64 - 15 + 1) == NULL);
    CHECK_EQ(hw_buf_size(&b), 15);
    p = hw_buf_reserve(&b, 64 - 15);
    CHECK(p != NULL);
    memset(p, '!', 64 - 15);
    hw_buf_commit(&b, 64 - 15);
    CHECK_EQ(hw_buf_size(&b), 64);
    CHECK(hw_buf_reserve(&b, 1) == NULL);
    CHECK(hw_buf_reserve(&b, 0) != NULL);
    hw_buf_commit(&b, 0);
    CHECK_EQ(hw_buf_size(&b), 64);
    /* After consuming, reserve makes room by compacting. */
    hw_buf_consume(&b, 5);
    p = hw_buf_reserve(&b, 5);
    CHECK(p != NULL);
    memcpy(p, "tail!", 5);
    hw_buf_commit(&b, 5);
    CHECK_EQ(hw_buf_size(&b), 64);
    CHECK_MEM(hw_buf_head(&b), "0123456789", 10);
    CHECK_MEM(hw_buf_head(&b) + 59, "tail!", 5);
    hw_buf_cleanup(&b);
}

static void test_printf(void)
{
    char *longs = malloc(5001);
    struct hw_buf b;

    CHECK(longs != NULL);
    for (size_t i = 0; i < 5000; i++)
        longs[i] = (char)('A' + i % 23);
    longs[5000] = '\0';

    hw_buf_init(&b, 100000);
    CHECK_EQ(hw_buf_printf(&b, "%s=%d;", "n", 42), 0);
    check_content(&b, "n=42;");
    CHECK_EQ(hw_buf_printf(&b, "%s", ""), 0);
    check_content(&b, "n=42;");
    /* Longer than any internal scratch space: formatted straight into the buffer. */
    CHECK_EQ(hw_buf_printf(&b, "[%s|%05u]", longs, 7u), 0);
    CHECK_EQ(hw_buf_size(&b), 5 + 1 + 5000 + 7);
    CHECK_MEM(hw_buf_head(&b), "n=42;[", 6);
    CHECK_MEM(hw_buf_head(&b) + 6, longs, 5000);
    CHECK_MEM(hw_buf_head(&b) + 5006, "|00007]", 7);
    hw_buf_cleanup(&b);

    /* Around the boundary of 511/512/513 formatted bytes. */
    for (size_t n = 505; n < 520; n++) {
        hw_buf_init(&b, 100000);
        CHECK_EQ(hw_buf_puts(&b, "<"), 0);
        CHECK_EQ(hw_buf_printf(&b, "%.*s", (int)n, longs), 0);
        CHECK_EQ(hw_buf_size(&b), n + 1);
        CHECK_MEM(hw_buf_head(&b) + 1, longs, n);
        CHECK_EQ(hw_buf_puts(&b, ">"), 0);
        CHECK_EQ(hw_buf_head(&b)[n + 1], '>');
        hw_buf_cleanup(&b);
    }

    /* Past the cap: HW_E2BIG and the buffer unchanged, short or long. */
    hw_buf_init(&b, 1000);
    CHECK_EQ(hw_buf_puts(&b, "keep"), 0);
    CHECK_EQ(hw_buf_printf(&b, "%.*s", 997, longs), HW_E2BIG);
    check_content(&b, "keep");
    CHECK_EQ(hw_buf_printf(&b, "%s", longs), HW_E2BIG);
    check_content(&b, "keep");
    hw_buf_cleanup(&b);

    hw_buf_init(&b, 10);
    CHECK_EQ(hw_buf_printf(&b, "%d", 1234567890), 0);
    CHECK_EQ(hw_buf_printf(&b, "%d", 1), HW_E2BIG);
    check_content(&b, "1234567890");
    hw_buf_cleanup(&b);

    /* Text that fills the buffer exactly to its cap fits, whatever its length. */
    hw_buf_init(&b, 1000);
    CHECK_EQ(hw_buf_puts(&b, "keep"), 0);
    CHECK_EQ(hw_buf_printf(&b, "%.*s", 996, longs), 0);
    CHECK_EQ(hw_buf_size(&b), 1000);
    CHECK_MEM(hw_buf_head(&b) + 4, longs, 996);
    hw_buf_cleanup(&b);
    free(longs);
}

static void test_truncate_and_reset(void)
{
    struct hw_buf b;
    char *data;

    hw_buf_init(&b, 100);
    CHECK_EQ(hw_buf_puts(&b, "0123456789"), 0);
    hw_buf_consume(&b, 3);
    hw_buf_truncate(&b, 4);
    check_content(&b, "3456");
    hw_buf_truncate(&b, 4);
    check_content(&b, "3456");
    CHECK_EQ(hw_buf_puts(&b, "xy"), 0);
    check_content(&b, "3456xy");
    hw_buf_truncate(&b, 0);
    CHECK_EQ(hw_buf_size(&b), 0);
    CHECK_EQ(b.off, 0);
    CHECK_EQ(hw_buf_puts(&b, "fresh"), 0);
    check_content(&b, "fresh");

    /* Reset empties but keeps the storage for reuse. */
    data = b.data;
    hw_buf_reset(&b);
    CHECK_EQ(hw_buf_size(&b), 0);
    CHECK(b.data == data);
    CHECK_EQ(hw_buf_puts(&b, "reuse"), 0);
    CHECK(b.data == data);
    check_content(&b, "reuse");
    hw_buf_cleanup(&b);
}

/* Decimal appends give what printf gives, and respect the cap like any append. */
static void test_putu(void)
{
    static const uint64_t values[] = { 0, 7, 10, 99, 100, 404, 1234567890, UINT64_MAX };
    struct hw_buf b;
    char want[32];

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        int n = snprintf(want, sizeof(want), "%llu", (unsigned long long)values[i]);

        hw_buf_init(&b, 64);
        CHECK_EQ(hw_buf_puts(&b, "x="), 0);
        CHECK_EQ(hw_buf_putu(&b, values[i]), 0);
        CHECK_EQ(hw_buf_size(&b), (size_t)n + 2);
        CHECK_MEM(hw_buf_head(&b) + 2, want, (size_t)n);
        hw_buf_cleanup(&b);
    }
    hw_buf_init(&b, 3);
    CHECK_EQ(hw_buf_putu(&b, 1234), HW_E2BIG);
    CHECK_EQ(hw_buf_size(&b), 0);
    CHECK_EQ(hw_buf_putu(&b, 123), 0);
    hw_buf_cleanup(&b);
}

int main(void)
{
    fprintf(stderr, "test_buf\n");
    RUN(test_init_and_append);
    RUN(test_cap_enforced);
    RUN(test_growth_keeps_content);
    RUN(test_consume);
    RUN(test_compaction);
    RUN(test_reserve_commit);
    RUN(test_printf);
    RUN(test_putu);
    RUN(test_truncate_and_reset);
    return 0;
}
