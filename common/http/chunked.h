#ifndef HW_CHUNKED_H
#define HW_CHUNKED_H

/*
 * The chunked transfer coding of HTTP/1.1 (RFC 9112 7.1), decoded in place
 * and incrementally. No allocation; any thread.
 */
#include <stddef.h>
#include <stdint.h>

/*
 * Incremental in-place decoder for a chunked body. Chunk-size lines may have
 * extensions (ignored); sizes above 2^60 are errors; trailers are read and
 * dropped.
 */
struct hw_chunked {
    int state;
    uint64_t remaining;
    size_t line_len;    /* bytes of the current size or trailer line, for its cap */
    size_t ext_len;     /* chunk-extension bytes of the whole body, for their cap */
    size_t trailer_len; /* trailer-section bytes, for their cap */
};

void hw_chunked_init(struct hw_chunked *c);

/*
 * Decodes buf[0..*len): the decoded body bytes are moved to the front of buf
 * and *len is set to their count. Returns HW_EAGAIN when the body is not yet
 * complete (all input consumed), a value >= 0 when the last chunk and the
 * trailers are complete: the number of bytes that followed the body's end in
 * the input, which are moved to buf + *len (right after the decoded bytes),
 * or HW_EPARSE for malformed input (including a size or trailer line over
 * 4 KiB, and chunk extensions or a trailer section over 64 KiB in all).
 * Input may arrive split at any byte.
 *
 * After HW_EPARSE, *len counts the bytes decoded before the error and every
 * later call fails too. After completion, a further call decodes nothing and
 * returns its whole input as leftover. HW_E2BIG if more than INT_MAX bytes
 * follow the body.
 */
int hw_chunked_decode(struct hw_chunked *c, char *buf, size_t *len);

#endif
