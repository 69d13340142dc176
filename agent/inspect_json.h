#ifndef AGENT_INSPECT_JSON_H
#define AGENT_INSPECT_JSON_H

/*
 * JSON for the inspector's API: base64 written into a bounded buffer (strings
 * are core/json.h's hw_json_str in HW_JSON_BYTES mode), and a small strict reader for the one
 * document the API accepts (an edited replay: an object of string members). No allocation beyond
 * the caller's buffers. Any thread.
 */
#include <stddef.h>

#include "core/buf.h"
#include "core/json.h"

/* Appends p[0..n) in base64 inside quotes. Returns 0 or the buffer's error. */
HW_MUST_CHECK int agent_json_b64(struct hw_buf *b, const void *p, size_t n);

/*
 * Finds member key of the JSON object doc[0..len) and, when it is a string,
 * appends its decoded value to out (\u00XX below 0x100 as that byte, other
 * escapes as UTF-8). The whole document must be one well-formed object
 * (nesting at most 16 deep). Returns 1 when found, 0 when absent,
 * HW_EINVAL when the document is not valid JSON or the member is not a
 * string, or the buffer's error.
 */
HW_MUST_CHECK int agent_json_get_str(const char *doc, size_t len, const char *key,
                                     struct hw_buf *out);

#endif
