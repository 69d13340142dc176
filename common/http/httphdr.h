#ifndef HW_HTTPHDR_H
#define HW_HTTPHDR_H

/*
 * One HTTP header line exactly as received: the name bytes with their case,
 * the raw value bytes after the colon (surrounding whitespace included). The
 * HTTP parser produces these and signature verification reads them, so the
 * struct lives on its own and both include it. Plain data; no functions.
 */
#include <stddef.h>

struct hw_http_header {
    const char *name; /* exact bytes before ':' */
    size_t name_len;
    const char *value; /* raw bytes after ':' up to (not including) CRLF */
    size_t value_len;
};

#endif
