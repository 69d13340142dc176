/*
 * The pack data files (store/store_sqlite_seg.h): an append of many
 * pieces (more than one pwritev takes, of every size from 1 byte) lands
 * end to end in writes of at most 32 KiB and 1024 pieces, and reads back
 * byte for byte, also when the kernel writes
 * less than asked (pwritev is wrapped at link time to cut each call short,
 * in the middle of a piece); a second append follows the first; only the
 * n bytes asked for are written; an append whose pieces hold fewer bytes
 * than it names is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "check.h"
#include "core/err.h"
#include "store/store_sqlite_seg.h"

#define PIECES 2600        /* past two calls of 1024 pieces */
#define STEP   (32 * 1024) /* the most one call writes (SEG_STEP) */

/* Bytes the wrapped pwritev writes at most per call (0: as asked), its calls, the most asked. */
static size_t g_cap, g_most;
static int g_calls;

ssize_t __real_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off);
ssize_t __wrap_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off);

/* Linked in place of pwritev (-Wl,--wrap=pwritev): writes at most g_cap bytes, as a short write. */
ssize_t __wrap_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    struct iovec part[1024];
    size_t left = g_cap;
    int k = 0;

    g_calls++;
    for (int i = 0; i < iovcnt; i++)
        left += iov[i].iov_len;
    if (left - g_cap > g_most)
        g_most = left - g_cap;
    left = g_cap;
    if (!g_cap)
        return __real_pwritev(fd, iov, iovcnt, off);
    for (; k < iovcnt && k < 1024 && left; k++) {
        part[k] = iov[k];
        if (part[k].iov_len > left)
            part[k].iov_len = left;
        left -= part[k].iov_len;
    }
    return __real_pwritev(fd, part, k, off);
}

static void test_many_pieces(void)
{
    char dir[] = "/tmp/hw-seg-test-XXXXXX", db[64], file[128];
    static struct iovec iov[PIECES], ones[PIECES];
    struct hw_lite_seg g;
    unsigned char *src, *back;
    size_t total = 0, at = 0;
    int64_t num = 0, off = -1, num2 = 0, off2 = -1;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(db, sizeof(db), "%s/s.db", dir);
    for (size_t i = 0; i < PIECES; i++)
        total += 1 + i % 397;
    src = malloc(total);
    back = malloc(total);
    CHECK(src && back);
    for (size_t i = 0; i < total; i++)
        src[i] = (unsigned char)(i * 131 + i / 251);
    for (size_t i = 0; i < PIECES; i++) {
        iov[i] = (struct iovec){ .iov_base = src + at, .iov_len = 1 + i % 397 };
        at += 1 + i % 397;
    }

    CHECK_EQ(hw_lite_seg_init(&g, db), 0);
    g_calls = 0;
    g_most = 0;
    CHECK_EQ(hw_lite_seg_append(&g, iov, PIECES, total, &num, &off), 0);
    /* Pieces of 199 bytes on average: 32 KiB fills before 1024 pieces do. */
    CHECK_EQ(g_calls, (total + STEP - 1) / STEP);
    CHECK_EQ(g_most, STEP);
    CHECK_EQ(num, 1);
    CHECK_EQ(off, 0);
    memset(back, 0, total);
    CHECK_EQ(hw_lite_seg_read(&g, num, off, back, total), 0);
    CHECK(memcmp(back, src, total) == 0);
    /* The next append starts where this one ended. */
    CHECK_EQ(hw_lite_seg_append(&g, iov + 5, 3, iov[5].iov_len + iov[6].iov_len + iov[7].iov_len,
                                &num2, &off2),
             0);
    CHECK_EQ(num2, 1);
    CHECK_EQ((size_t)off2, total);
    CHECK_EQ(hw_lite_seg_read(&g, num2, off2, back, 3), 0);
    CHECK(memcmp(back, iov[5].iov_base, 3) == 0);
    /* Pieces that hold less than n: refused, and the file is cut back to where it was. */
    CHECK(hw_lite_seg_append(&g, iov, 2, iov[0].iov_len + iov[1].iov_len + 10, &num2, &off2) != 0);
    CHECK_EQ(hw_lite_seg_read(&g, 1, (int64_t)total, back, 3), 0);
    CHECK_EQ(hw_lite_seg_read(&g, 1, (int64_t)total, back,
                              iov[5].iov_len + iov[6].iov_len + iov[7].iov_len + 1),
             HW_EIO);
    /* Short writes, each ending inside a piece (1000 is no sum of the first pieces' lengths). */
    g_cap = 1000;
    g_calls = 0;
    CHECK_EQ(hw_lite_seg_append(&g, iov, PIECES, total, &num2, &off2), 0);
    CHECK_EQ((size_t)g_calls, (total + 999) / 1000);
    g_cap = 0;
    memset(back, 0, total);
    CHECK_EQ(hw_lite_seg_read(&g, num2, off2, back, total), 0);
    CHECK(memcmp(back, src, total) == 0);
    /* Only the n bytes asked for go, though the pieces hold more. */
    CHECK_EQ(hw_lite_seg_append(&g, iov, PIECES, 5, &num2, &off2), 0);
    CHECK_EQ(hw_lite_seg_append(&g, iov + 9, 1, 2, &num, &off), 0);
    CHECK_EQ(off, off2 + 5);
    CHECK_EQ(hw_lite_seg_read(&g, num2, off2, back, 7), 0);
    CHECK(memcmp(back, src, 5) == 0 && memcmp(back + 5, iov[9].iov_base, 2) == 0);
    /* Pieces of 1 byte: 1024 pieces fill before 32 KiB does. */
    for (size_t i = 0; i < PIECES; i++)
        ones[i] = (struct iovec){ .iov_base = src + i, .iov_len = 1 };
    g_calls = 0;
    CHECK_EQ(hw_lite_seg_append(&g, ones, PIECES, PIECES, &num2, &off2), 0);
    CHECK_EQ(g_calls, 3); /* 1024 + 1024 + 552 pieces */
    CHECK_EQ(hw_lite_seg_read(&g, num2, off2, back, PIECES), 0);
    CHECK(memcmp(back, src, PIECES) == 0);
    hw_lite_seg_close(&g);

    snprintf(file, sizeof(file), "%s/s.db-packs/00000001.seg", dir);
    CHECK_EQ(unlink(file), 0);
    snprintf(file, sizeof(file), "%s/s.db-packs", dir);
    CHECK_EQ(rmdir(file), 0);
    CHECK_EQ(rmdir(dir), 0);
    free(src);
    free(back);
}

int main(void)
{
    fprintf(stderr, "test_store_seg\n");
    RUN(test_many_pieces);
    return 0;
}
