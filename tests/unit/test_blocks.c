/*
 * Unit tests for common/core/blocks.c: a block given back is the next one
 * taken (most recent first), and holds what it is asked for; at most keep
 * wait on the list; a block larger than the size is neither listed nor
 * reused; cleanup frees what is listed. The sanitizer build sees a leak, a
 * double free or a write past a block as an error. Single-threaded.
 */
#include "core/blocks.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

/* Given back, taken again: the same blocks, most recent first, whole. */
static void test_reuse(void)
{
    struct hw_blocks b;
    char *x, *y;

    hw_blocks_init(&b, 256, 4);
    x = hw_blocks_get(&b, 10);
    y = hw_blocks_get(&b, 256);
    CHECK(x && y && x != y);
    memset(x, 'x', 256); /* a block is b.size long whatever was asked */
    memset(y, 'y', 256);
    CHECK_EQ(b.n, 0);
    hw_blocks_put(&b, x, 10);
    hw_blocks_put(&b, y, 256);
    CHECK_EQ(b.n, 2);
    CHECK(hw_blocks_get(&b, 100) == y);
    CHECK(hw_blocks_get(&b, 1) == x);
    CHECK_EQ(b.n, 0);
    memset(x, 'z', 256);
    hw_blocks_put(&b, x, 1);
    hw_blocks_put(&b, y, 100);
    hw_blocks_put(&b, NULL, 5); /* nothing */
    CHECK_EQ(b.n, 2);
    hw_blocks_cleanup(&b);
    CHECK_EQ(b.n, 0);
    CHECK(b.head == NULL);
    /* Reusable after cleanup. */
    x = hw_blocks_get(&b, 256);
    CHECK(x != NULL);
    hw_blocks_put(&b, x, 256);
    hw_blocks_cleanup(&b);
}

/* Past keep, a block given back is freed, not listed. */
static void test_keep(void)
{
    struct hw_blocks b;
    void *v[6];

    hw_blocks_init(&b, 64, 3);
    for (int i = 0; i < 6; i++) {
        v[i] = hw_blocks_get(&b, 64);
        CHECK(v[i] != NULL);
    }
    for (int i = 0; i < 6; i++)
        hw_blocks_put(&b, v[i], 64);
    CHECK_EQ(b.n, 3);
    /* The three listed are the first three given back, last one first. */
    CHECK(hw_blocks_get(&b, 64) == v[2]);
    CHECK(hw_blocks_get(&b, 64) == v[1]);
    CHECK(hw_blocks_get(&b, 64) == v[0]);
    CHECK_EQ(b.n, 0);
    for (int i = 0; i < 3; i++)
        hw_blocks_put(&b, v[i], 64);
    hw_blocks_cleanup(&b);
}

/* Larger than the size: malloc'd to its length, freed when given back. */
static void test_large(void)
{
    struct hw_blocks b;
    char *big;

    hw_blocks_init(&b, 128, 8);
    big = hw_blocks_get(&b, 4000);
    CHECK(big != NULL);
    memset(big, 'b', 4000);
    hw_blocks_put(&b, big, 4000);
    CHECK_EQ(b.n, 0);
    CHECK(b.head == NULL);
    hw_blocks_cleanup(&b);
}

/* A size smaller than the list's link still holds the link. */
static void test_tiny(void)
{
    struct hw_blocks b;
    void *p;

    hw_blocks_init(&b, 1, 2);
    CHECK_EQ(b.size, sizeof(void *));
    p = hw_blocks_get(&b, 1);
    CHECK(p != NULL);
    hw_blocks_put(&b, p, 1);
    CHECK(hw_blocks_get(&b, 1) == p);
    hw_blocks_put(&b, p, 1);
    hw_blocks_cleanup(&b);
}

int main(void)
{
    fprintf(stderr, "test_blocks\n");
    RUN(test_reuse);
    RUN(test_keep);
    RUN(test_large);
    RUN(test_tiny);
    return 0;
}
