#ifndef HW_HTTPCHAR_H
#define HW_HTTPCHAR_H

/*
 * Byte classes of RFC 9110 shared by the HTTP/1.1 head parser and the
 * chunked decoder. Pure functions; any thread.
 */
#include <stdint.h>

/*
 * RFC 9110 tchar: the bytes a method or a header name may contain (letters,
 * digits and !#$%&'*+-.^_`|~). A table of all 256 byte values (the upper half
 * zero): one load per byte of every header name parsed, with no range test.
 */
static inline int is_tchar(unsigned char ch)
{
    static const uint8_t map[256] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0,
    };

    return map[ch];
}

/*
 * Bytes allowed in a header value, a reason phrase or a chunk extension:
 * HTAB, SP, visible ASCII and obs-text. Every other control byte, bare CR and
 * NUL included, is an error rather than something to pass on.
 */
static inline int is_field_byte(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

/* Optional whitespace (OWS): space or horizontal tab. */
static inline int is_ows(unsigned char ch)
{
    return ch == ' ' || ch == '\t';
}

#endif
