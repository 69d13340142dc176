/*
 * Event id generator: 128 bits (48-bit ms time, 80 random bits) written as
 * 26 Crockford base32 digits after "evt_". Any thread.
 */
#include "id.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

void hw_id_new(char out[HW_ID_LEN + 1])
{
    static const char digits[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    uint8_t raw[16];
    struct timespec ts;
    uint64_t ms;
    unsigned acc = 0, bits = 0;
    size_t o = 4;

    clock_gettime(CLOCK_REALTIME, &ts);
    ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    for (int i = 0; i < 6; i++)
        raw[i] = (uint8_t)(ms >> (8 * (5 - i)));
    randombytes_buf(raw + 6, 10);
    memcpy(out, "evt_", 4);
    /* 128 bits into 26 digits: the first digit carries the top 3 bits. */
    acc = raw[0] >> 5;
    out[o++] = digits[acc];
    acc = raw[0] & 0x1f;
    bits = 5;
    for (int i = 1; i < 16; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = digits[(acc >> (bits - 5)) & 0x1f];
            bits -= 5;
        }
    }
    out[o] = '\0';
}
