#ifndef HW_HTTP1_INT_H
#define HW_HTTP1_INT_H

/*
 * Internal to the HTTP/1.1 head code (http1.c, the head parser, which
 * defines the functions; http1_headers.c, the header-line rules after it):
 * the cursor, the steps both read header lines with and the name comparison
 * (it and the literal match inline: both files use them on every header
 * line). No state; any thread.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Bytes being read: p up to end. */
struct hw_http1_cursor {
    const char *p;
    const char *end;
    const char *why; /* the rule the bytes broke, once a step returned HW_EPARSE */
};

static inline unsigned char hw_http1_ascii_lower(unsigned char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
}

/*
 * Case-insensitive comparison in ASCII only, whatever the locale. Inline, so
 * NAME_IS below settles most mismatches by the length test in the caller,
 * with no call (the hop-by-hop checks run on every header).
 */
static inline int hw_http1_mem_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++) {
        if (hw_http1_ascii_lower((unsigned char)a[i]) != hw_http1_ascii_lower((unsigned char)b[i]))
            return 0;
    }
    return 1;
}

/* Compares a header's name with a string literal; the length test settles most mismatches. */
#define NAME_IS(h, lit) hw_http1_mem_ieq((h)->name, (h)->name_len, (lit), sizeof(lit) - 1)

/* v[0..vlen) without leading and trailing spaces and tabs: returns the start, *len the length. */
const char *hw_http1_trim(const char *v, size_t vlen, size_t *len);

/* The next non-empty element of a comma-separated list at *p (before end): 1, or 0 at the end. */
int hw_http1_list_next(const char **p, const char *end, const char **elem, size_t *elen);

/*
 * The steps that read a line. Each returns 0 and moves c->p past what it
 * read, HW_EAGAIN when the input ends first, or HW_EPARSE.
 */

/* Matches a literal; a prefix of it at the end of the input asks for more. */
static inline int hw_http1_expect_lit(struct hw_http1_cursor *c, const char *lit)
{
    for (; *lit != '\0'; lit++, c->p++) {
        if (c->p == c->end)
            return HW_EAGAIN;
        if (*c->p != *lit)
            return HW_EPARSE;
    }
    return 0;
}

/* Reads a non-empty token that must be ended by stop, and steps over stop. */
int hw_http1_parse_token(struct hw_http1_cursor *c, char stop, const char **tok, size_t *len);

/* Reads field bytes (a header value, a reason phrase) up to the first byte that is not one. */
int hw_http1_parse_field(struct hw_http1_cursor *c, const char **field, size_t *len);

/* A Content-Length value: digits only, at most 2^60. 0 with *out set, or HW_EPARSE. */
int hw_http1_parse_length(const char *v, size_t vlen, uint64_t *out);

#endif
