/*
 * Event id generator (see id.h): a ULID-style time-sortable id with 80 random
 * bits from libsodium's randombytes. Stateless apart from libsodium's one-time
 * initialisation; any thread.
 */
#include "id.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char crockford[] = "0123456789abcdefghjkmnpqrstvwxyz";

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void id_sodium_init(void)
{
    /* sodium_init() fails only when the system has no randomness source at all. */
    if (sodium_init() < 0)
        abort();
}

void hw_id_new_at(char out[HW_ID_LEN + 1], uint64_t unix_ms)
{
    unsigned char v[16];
    char *p = out + HW_ID_PREFIX_LEN;

    pthread_once(&sodium_once, id_sodium_init);
    for (int i = 0; i < 6; i++)
        v[i] = (unsigned char)(unix_ms >> (40 - 8 * i));
    randombytes_buf(v + 6, 10);

    memcpy(out, HW_ID_PREFIX, HW_ID_PREFIX_LEN);
    /*
     * 26 digits carry 130 bits; the value has 128, so it reads as if two
     * zero bits stood in front: digit i covers bits [5i - 2, 5i + 3) of v.
     */
    for (int i = 0; i < 26; i++) {
        unsigned digit = 0;
        for (int b = 0; b < 5; b++) {
            int bit = 5 * i + b - 2;
            digit <<= 1;
            if (bit >= 0)
                digit |= (v[bit / 8] >> (7 - bit % 8)) & 1u;
        }
        p[i] = crockford[digit];
    }
    out[HW_ID_LEN] = '\0';
}

void hw_id_new(char out[HW_ID_LEN + 1])
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    hw_id_new_at(out, (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u);
}

int hw_id_valid(const char *s)
{
    if (strncmp(s, HW_ID_PREFIX, HW_ID_PREFIX_LEN) != 0 || strlen(s) != HW_ID_LEN)
        return 0;
    s += HW_ID_PREFIX_LEN;
    /* The first digit holds only three bits of the 48-bit time. */
    if (s[0] < '0' || s[0] > '7')
        return 0;
    for (int i = 0; i < 26; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!strchr(crockford, c) || c == '\0')
            return 0;
    }
    return 1;
}
