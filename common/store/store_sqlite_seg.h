#ifndef HW_STORE_SQLITE_SEG_H
#define HW_STORE_SQLITE_SEG_H

/*
 * The files that hold packed live history's headers and bodies next to a
 * SQLite store (PATH-packs/NNNNNNNN.seg, store_sqlite_seg.c). Called under
 * the handle's lock; appends only inside the write transaction that
 * commits the pack that refers to them.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct hw_lite_seg {
    char *dir;   /* PATH-packs; NULL: the store has no file, data stays in the rows */
    int fd;      /* the file being appended to, or -1 */
    int64_t num; /* its number */
};

/* Sets g up for the database at db_path ("" or NULL: no files). Returns 0 or HW_ENOMEM. */
int hw_lite_seg_init(struct hw_lite_seg *g, const char *db_path);
void hw_lite_seg_close(struct hw_lite_seg *g);

/*
 * Appends the first n bytes of the iovcnt pieces at iov, end to end, to the
 * newest file (made, with the folder, if need be; a new one past 64 MiB);
 * *num and *off say where they went. Not synced: like the finished commit
 * that refers to them, they reach the disk with the OS's write-back.
 * Returns 0 or a negative errno (logged); pieces that hold fewer than n
 * bytes are an error (HW_EIO), and what was written is cut off.
 */
int hw_lite_seg_append(struct hw_lite_seg *g, const struct iovec *iov, size_t iovcnt, size_t n,
                       int64_t *num, int64_t *off);

/* Reads n bytes at off of file num into buf. Returns 0 or HW_EIO (logged: missing or short). */
int hw_lite_seg_read(const struct hw_lite_seg *g, int64_t num, int64_t off, void *buf, size_t n);

/*
 * Removes the files numbered below lowest (the least that a pack still
 * refers to; 0: none does), never the newest. Run after the commit that
 * dropped the packs.
 */
void hw_lite_seg_reclaim(const struct hw_lite_seg *g, int64_t lowest);

#endif
