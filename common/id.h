#ifndef HW_ID_H
#define HW_ID_H

/*
 * Public event ids: "evt_" + 26 Crockford base32 characters holding a 48-bit
 * millisecond timestamp and 80 random bits, so ids sort by creation time.
 * Any thread (randomness from libsodium, which must be initialised).
 */
#define HW_ID_LEN 30

/* Writes a new NUL-terminated id into out. */
void hw_id_new(char out[HW_ID_LEN + 1]);

#endif
