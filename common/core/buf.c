/*
 * Bounded byte buffer: growth by doubling up to the cap, consumption by
 * moving a read offset, compaction only when space is needed. One owner.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

void hw_buf_init(struct hw_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void hw_buf_cleanup(struct hw_buf *b)
{
    size_t max = b->max;

    free(b->data);
    hw_buf_init(b, max);
}

char *hw_buf_reserve(struct hw_buf *b, size_t n)
{
    size_t unread = b->len - b->off;
    size_t need, cap;
    char *p;

    if (n > b->max - unread)
        return NULL;
    if (b->len + n <= b->cap)
        return b->data + b->len;
    /* Compact first: the consumed prefix may already make enough room. */
    if (b->off && unread + n <= b->cap) {
        memmove(b->data, b->data + b->off, unread);
        b->off = 0;
        b->len = unread;
        return b->data + b->len;
    }
    need = unread + n;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    p = malloc(cap);
    if (!p)
        return NULL;
    if (unread)
        memcpy(p, b->data + b->off, unread);
    free(b->data);
    b->data = p;
    b->cap = cap;
    b->off = 0;
    b->len = unread;
    return b->data + b->len;
}

void hw_buf_commit(struct hw_buf *b, size_t n)
{
    b->len += n;
}

int hw_buf_append(struct hw_buf *b, const void *p, size_t n)
{
    char *dst;

    if (!n)
        return 0;
    if (n > b->max - (b->len - b->off))
        return HW_E2BIG;
    /* Fits already: the common case of the many small appends that build a head. */
    if (n <= b->cap - b->len) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        return 0;
    }
    dst = hw_buf_reserve(b, n);
    if (!dst)
        return HW_ENOMEM;
    memcpy(dst, p, n);
    b->len += n;
    return 0;
}

int hw_buf_puts(struct hw_buf *b, const char *s)
{
    return hw_buf_append(b, s, strlen(s));
}

int hw_buf_putu(struct hw_buf *b, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return hw_buf_append(b, tmp + i, sizeof(tmp) - i);
}

int hw_buf_printf(struct hw_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return HW_EINVAL;
    if ((size_t)n < sizeof(tmp))
        return hw_buf_append(b, tmp, (size_t)n);
    {
        /* Long text: format it apart, since the terminating NUL may not fit the cap. */
        char *big = malloc((size_t)n + 1);
        int err;

        if (!big)
            return HW_ENOMEM;
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        err = hw_buf_append(b, big, (size_t)n);
        free(big);
        return err;
    }
}

void hw_buf_consume(struct hw_buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

void hw_buf_truncate(struct hw_buf *b, size_t n)
{
    b->len = b->off + n;
    if (!n)
        b->off = b->len = 0;
}

void hw_buf_reset(struct hw_buf *b)
{
    b->off = b->len = 0;
}
