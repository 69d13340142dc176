#ifndef HW_TEXT_H
#define HW_TEXT_H

/*
 * Small text rules that several layers apply and that must agree: hex
 * digits, decimal numbers, port numbers, channel names. Pure functions; any thread.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Longest channel name: a DNS label's length, so a name can become a subdomain. */
#define HW_CHANNEL_MAX 63

/* The value of one hex digit (either case), or -1 for any other byte. */
static inline int hw_hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Parses n decimal digits (at least one; no sign, no spaces) into *out, at
 * most max. Returns 0 or HW_EINVAL (also on overflow past max).
 */
int hw_text_uint(const char *s, size_t n, uint64_t max, uint64_t *out);

/*
 * Parses n decimal digits (1 to 5, no sign, no spaces) into *port, 0..65535.
 * Returns 0 or HW_EINVAL. Callers that need a non-zero port check for 0.
 */
int hw_text_port(const char *s, size_t n, int *port);

/* 1 when s[0..n) is a channel name, [a-z0-9-]{1,63}, else 0. */
int hw_text_channel_valid(const char *s, size_t n);

/*
 * 1 when s[0..n) holds a control byte other than tab, CR and LF (or DEL):
 * bytes not to write to a terminal, where they could be escape sequences.
 */
int hw_text_binary(const char *s, size_t n);

/* Whether byte c is written as itself to a terminal: printable ASCII, but the backslash. */
static inline int hw_text_byte_clean(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '\\';
}

/*
 * Writes s[0..n) to f with every byte that is not printable ASCII, and the
 * backslash, as \xHH: text from the network (a webhook's fields, a relay's
 * words) can then neither move a terminal's cursor nor forge a next line.
 */
void hw_text_put_clean(FILE *f, const char *s, size_t n);

#endif
