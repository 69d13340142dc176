/*
 * In-place, incremental decoder for the chunked transfer coding (RFC 9112
 * 7.1): chunk sizes with extensions, data, and trailers (read and dropped).
 * Input may be split at any byte. Owns no memory; any thread.
 */
#include "chunked.h"

#include <limits.h>
#include <string.h>

#include "core/err.h"
#include "core/text.h"
#include "httpchar.h"

/*
 * Chunk sizes above 2^60 are rejected: no real body comes near it, and the
 * cap keeps every accumulation far from overflowing.
 */
#define CHUNK_SIZE_MAX ((uint64_t)1 << 60)

/* Longest chunk-size line or trailer line, CRLF excluded. */
#define HTTP1_CHUNK_LINE_MAX 4096

/*
 * Most bytes of chunk extensions in one body, and of its trailer section
 * (line ends excluded). Neither is data: uncapped, a sender could stream
 * either for ever at the body's rate floor, never reaching the body cap.
 */
#define HTTP1_CHUNK_EXTRA_MAX 65536

enum {
    CH_SIZE = 0,      /* hex digits of a chunk size */
    CH_SIZE_WS,       /* whitespace after the size, allowed only before ';' */
    CH_EXT,           /* chunk extensions, skipped up to CR */
    CH_SIZE_LF,       /* LF that ends the size line */
    CH_DATA,          /* chunk data, c->remaining bytes left */
    CH_DATA_CR,       /* CR after the chunk data */
    CH_DATA_LF,       /* LF after the chunk data */
    CH_TRAILER,       /* start of a trailer line or of the final blank line */
    CH_TRAILER_NAME,  /* trailer field name, up to ':' */
    CH_TRAILER_VALUE, /* trailer field value, up to CR */
    CH_TRAILER_LF,    /* LF that ends a trailer line */
    CH_END_LF,        /* LF that ends the body */
    CH_DONE,
    CH_ERROR,
};

void hw_chunked_init(struct hw_chunked *c)
{
    c->state = CH_SIZE;
    c->remaining = 0;
    c->line_len = 0;
    c->ext_len = 0;
    c->trailer_len = 0;
}

/* Counts one more extension or trailer byte in *total; 0 while under the cap. */
static int extra_byte(size_t *total)
{
    return ++*total > HTTP1_CHUNK_EXTRA_MAX ? HW_EPARSE : 0;
}

/* Counts one more byte of a size or trailer line; 0 while under the cap. */
static int line_byte(struct hw_chunked *c)
{
    return ++c->line_len > HTTP1_CHUNK_LINE_MAX ? HW_EPARSE : 0;
}

/* Moves the bytes after the body's end next to the decoded bytes. */
static int chunked_finish(char *buf, size_t *len, size_t out, size_t in, size_t n)
{
    size_t rest = n - in;

    if (rest > INT_MAX)
        return HW_E2BIG;
    memmove(buf + out, buf + in, rest);
    *len = out;
    return (int)rest;
}

/*
 * One byte of a chunk extension or a trailer value: field bytes count toward
 * the line cap, and the CR that ends the line moves on to state next.
 */
static int field_step(struct hw_chunked *c, unsigned char ch, int next)
{
    if (ch == '\r') {
        c->state = next;
        return 0;
    }
    if (!is_field_byte(ch) || extra_byte(next == CH_SIZE_LF ? &c->ext_len : &c->trailer_len))
        return HW_EPARSE;
    return line_byte(c);
}

/*
 * Consumes one byte of framing (anything but chunk data) and returns 0 or
 * HW_EPARSE. The states mirror RFC 9112 section 7.1 one token at a time, so
 * a split anywhere in the input only pauses the machine.
 */
static int chunked_step(struct hw_chunked *c, unsigned char ch)
{
    int d;

    switch (c->state) {
    case CH_SIZE:
        d = hw_hex_value(ch);
        if (d >= 0) {
            if (c->remaining > (CHUNK_SIZE_MAX - (uint64_t)d) / 16)
                return HW_EPARSE;
            c->remaining = c->remaining * 16 + (uint64_t)d;
        } else if (c->line_len == 0) {
            return HW_EPARSE; /* a size needs at least one digit */
        } else if (ch == ';') {
            c->state = CH_EXT;
            if (extra_byte(&c->ext_len))
                return HW_EPARSE;
        } else if (is_ows(ch)) {
            c->state = CH_SIZE_WS;
        } else if (ch == '\r') {
            c->state = CH_SIZE_LF;
            return 0;
        } else {
            return HW_EPARSE;
        }
        return line_byte(c);
    case CH_SIZE_WS:
        if (ch == ';') {
            c->state = CH_EXT;
            if (extra_byte(&c->ext_len))
                return HW_EPARSE;
        } else if (!is_ows(ch)) {
            return HW_EPARSE;
        }
        return line_byte(c);
    case CH_EXT:
        return field_step(c, ch, CH_SIZE_LF);
    case CH_SIZE_LF:
        if (ch != '\n')
            return HW_EPARSE;
        c->line_len = 0;
        c->state = c->remaining > 0 ? CH_DATA : CH_TRAILER;
        return 0;
    case CH_DATA_CR:
        if (ch != '\r')
            return HW_EPARSE;
        c->state = CH_DATA_LF;
        return 0;
    case CH_DATA_LF:
        if (ch != '\n')
            return HW_EPARSE;
        c->state = CH_SIZE;
        return 0;
    case CH_TRAILER:
        if (ch == '\r') {
            c->state = CH_END_LF;
            return 0;
        }
        if (!is_tchar(ch) || extra_byte(&c->trailer_len))
            return HW_EPARSE;
        c->state = CH_TRAILER_NAME;
        return line_byte(c);
    case CH_TRAILER_NAME:
        if (ch == ':')
            c->state = CH_TRAILER_VALUE;
        else if (!is_tchar(ch))
            return HW_EPARSE;
        if (extra_byte(&c->trailer_len))
            return HW_EPARSE;
        return line_byte(c);
    case CH_TRAILER_VALUE:
        return field_step(c, ch, CH_TRAILER_LF);
    case CH_TRAILER_LF:
        if (ch != '\n')
            return HW_EPARSE;
        c->line_len = 0;
        c->state = CH_TRAILER;
        return 0;
    case CH_END_LF:
        if (ch != '\n')
            return HW_EPARSE;
        c->state = CH_DONE;
        return 0;
    default:
        return HW_EPARSE;
    }
}

int hw_chunked_decode(struct hw_chunked *c, char *buf, size_t *len)
{
    size_t n = *len, in = 0, out = 0;

    if (c->state == CH_DONE)
        return chunked_finish(buf, len, 0, 0, n);
    if (c->state == CH_ERROR) {
        *len = 0;
        return HW_EPARSE;
    }
    while (in < n) {
        if (c->state == CH_DATA) {
            size_t take = n - in;
            if (take > c->remaining)
                take = (size_t)c->remaining;
            memmove(buf + out, buf + in, take);
            out += take;
            in += take;
            c->remaining -= take;
            if (c->remaining == 0)
                c->state = CH_DATA_CR;
            continue;
        }
        if (chunked_step(c, (unsigned char)buf[in++]) != 0) {
            c->state = CH_ERROR;
            *len = out;
            return HW_EPARSE;
        }
        if (c->state == CH_DONE)
            return chunked_finish(buf, len, out, in, n);
    }
    *len = out;
    return HW_EAGAIN;
}
