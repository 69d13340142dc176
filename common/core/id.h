#ifndef HW_ID_H
#define HW_ID_H

/*
 * Public event ids: "evt_" followed by 26 characters of lowercase Crockford
 * base32 (a ULID): a 48-bit Unix time in milliseconds, then 80 random bits
 * from libsodium. Ids sort by creation time as plain strings (to the
 * millisecond; within one millisecond the order is random).
 */
#include <stdint.h>

#define HW_ID_PREFIX     "evt_"
#define HW_ID_PREFIX_LEN 4
#define HW_ID_LEN        (HW_ID_PREFIX_LEN + 26)

/*
 * Writes a new id and its NUL into out, stamped with the current time.
 * Never fails (libsodium's generator does not fail once initialised; the
 * library is initialised on first use). Any thread.
 */
void hw_id_new(char out[HW_ID_LEN + 1]);

/* Same as hw_id_new() with a given time in Unix milliseconds (for imports and tests). */
void hw_id_new_at(char out[HW_ID_LEN + 1], uint64_t unix_ms);

/*
 * Returns 1 when s is a well-formed id (prefix, 26 valid digits in either
 * case, time within 48 bits), 0 otherwise (NULL included). Borrows s. Any
 * thread.
 */
int hw_id_valid(const char *s);

/*
 * The time of a well-formed id (hw_id_valid()) in Unix milliseconds, -1 for
 * anything else, NULL included. A table lookup per digit: it runs for each
 * webhook recorded. Borrows s. Any thread.
 */
int64_t hw_id_time_ms(const char *s);

#endif
