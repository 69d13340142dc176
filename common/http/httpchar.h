#ifndef HW_HTTPCHAR_H
#define HW_HTTPCHAR_H

/*
 * Byte classes of RFC 9110 shared by the HTTP/1.1 head parser and the
 * chunked decoder. Pure functions; any thread.
 */
#include <stdint.h>

/*
 * RFC 9110 tchar: the bytes a method or a header name may contain (letters,
 * digits and !#$%&'*+-.^_`|~). A bitmap of the ASCII range, bit ch of word
 * ch / 32: one load per byte of every header name parsed.
 */
static inline int is_tchar(unsigned char ch)
{
    static const uint32_t map[4] = { 0x00000000u, 0x03ff6cfau, 0xc7fffffeu, 0x57ffffffu };

    return ch < 128 && (map[ch >> 5] >> (ch & 31u)) & 1u;
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
