#ifndef HW_BUF_H
#define HW_BUF_H

/*
 * A bounded growable byte buffer (after curl's dynbuf): every buffer fed from
 * the network has a cap, and appending past it fails with HW_E2BIG instead of
 * growing without end. Readers consume from the front; the unread bytes are
 * data[off .. len). Not thread-safe: one owner.
 */
#include <stddef.h>
#include <stdint.h>

/* A result the caller must look at (curl's dynbuf marks its appends the same way). */
#define HW_MUST_CHECK __attribute__((warn_unused_result))

struct hw_buf {
    char *data;
    size_t off; /* first unread byte */
    size_t len; /* end of valid bytes */
    size_t cap; /* allocated size */
    size_t max; /* most unread bytes ever held */
};

/* Prepares an empty buffer that will hold at most max unread bytes. */
void hw_buf_init(struct hw_buf *b, size_t max);

/* Frees the storage; the buffer is empty and reusable afterwards. */
void hw_buf_cleanup(struct hw_buf *b);

/* Appends n bytes. Returns 0, HW_E2BIG past the cap, or HW_ENOMEM. */
HW_MUST_CHECK int hw_buf_append(struct hw_buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string (without the NUL). Same returns. */
HW_MUST_CHECK int hw_buf_puts(struct hw_buf *b, const char *s);

/* Appends v in decimal, without printf's cost on hot paths. Same returns. */
HW_MUST_CHECK int hw_buf_putu(struct hw_buf *b, uint64_t v);

/* Appends printf-formatted text. Same returns. */
HW_MUST_CHECK int hw_buf_printf(struct hw_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Makes room for n more bytes and returns a pointer to write them at; the
 * caller then calls hw_buf_commit() with how many it wrote. NULL on HW_E2BIG
 * or out of memory.
 */
HW_MUST_CHECK char *hw_buf_reserve(struct hw_buf *b, size_t n);
void hw_buf_commit(struct hw_buf *b, size_t n);

/* Drops n bytes from the front (n <= hw_buf_size()). */
void hw_buf_consume(struct hw_buf *b, size_t n);

/* Keeps only the first n unread bytes (n <= hw_buf_size()). */
void hw_buf_truncate(struct hw_buf *b, size_t n);

/* Empties the buffer but keeps its storage. */
void hw_buf_reset(struct hw_buf *b);

/* The first unread byte; for a buffer that never held any, an empty string. */
static inline char *hw_buf_head(const struct hw_buf *b)
{
    static char nothing[1];

    return b->data ? b->data + b->off : nothing;
}

static inline size_t hw_buf_size(const struct hw_buf *b)
{
    return b->len - b->off;
}

#endif
