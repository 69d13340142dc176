#ifndef HW_JSON_H
#define HW_JSON_H

/*
 * JSON string writing, once for every program: the relay's history API and
 * refused ring, the agent's inspector API, the replay CLI's --json output.
 * Any bytes in, a valid JSON string out. Pure functions; any thread.
 */
#include <stddef.h>
#include <stdio.h>

#include "buf.h"

/* How the bytes of a string are written. Both escape '"' and '\' with a backslash. */
enum hw_json_mode {
    /*
     * Every byte outside printable ASCII as \u00XX, standing for its byte
     * value: headers and other stored bytes come back exactly (the relay's
     * and the agent's APIs, whose readers decode \u00XX as that byte).
     */
    HW_JSON_BYTES,
    /*
     * Valid UTF-8 kept as text and \n \r \t as short escapes, for people
     * and jq; other bytes (invalid UTF-8, control characters, DEL, NUL) as
     * \u00XX, each byte as its Latin-1 character (the replay CLI).
     */
    HW_JSON_TEXT,
};

/*
 * Escapes s[0..n) into out[0..cap), without quotes, writing whole escapes
 * and whole UTF-8 sequences only. Stores the bytes written in *outlen and
 * returns how many bytes of s it consumed (n when all). With cap >= 6 it
 * always consumes at least one byte of a non-empty s, so a caller with a
 * small buffer loops; the output does not depend on cap.
 */
size_t hw_json_escape(char *out, size_t cap, size_t *outlen, const char *s, size_t n,
                      enum hw_json_mode mode);

/* Appends s[0..n) as a JSON string, quotes included. Returns 0 or the buffer's error. */
HW_MUST_CHECK int hw_json_str(struct hw_buf *b, const char *s, size_t n, enum hw_json_mode mode);

/* Writes s[0..n) to f as a JSON string, quotes included; a write error shows in ferror(f). */
void hw_json_fput(FILE *f, const char *s, size_t n, enum hw_json_mode mode);

#endif
