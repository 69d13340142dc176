/*
 * Event id generator (see id.h): a ULID-style time-sortable id with 80 random
 * bits from libsodium's randombytes, drawn from a per-thread pool so that
 * an id costs no system call. Any thread.
 */
#include "id.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char crockford[] = "0123456789abcdefghjkmnpqrstvwxyz";

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

/*
 * Ids per refill. A refill is one getrandom: libsodium reads at most 256
 * bytes per call, so the pool is expanded from a fresh 256-bit seed by
 * ChaCha20 (randombytes_buf_deterministic) rather than read whole.
 */
#define POOL_IDS 256

static __thread unsigned char pool[POOL_IDS * 10];
static __thread size_t left;

/*
 * In a child of fork() the forking thread's pool is a copy of the parent's:
 * both processes would hand out the same "random" bytes, and so the same
 * ids. The child drops it and draws afresh.
 */
static void pool_forget(void)
{
    sodium_memzero(pool, sizeof(pool));
    left = 0;
}

static void id_sodium_init(void)
{
    /* sodium_init() fails only when the system has no randomness source at all. */
    if (sodium_init() < 0)
        abort();
    if (pthread_atfork(NULL, NULL, pool_forget))
        abort();
}

/* Fills out with 10 random bytes from this thread's pool, refilling it when empty. */
static void random10(unsigned char out[10])
{
    if (!left) {
        unsigned char seed[randombytes_SEEDBYTES];

        randombytes_buf(seed, sizeof(seed));
        randombytes_buf_deterministic(pool, sizeof(pool), seed);
        sodium_memzero(seed, sizeof(seed));
        left = sizeof(pool);
    }
    left -= 10;
    memcpy(out, pool + left, 10);
    /* Bytes handed out are not kept: a later read of the pool cannot repeat them. */
    sodium_memzero(pool + left, 10);
}

void hw_id_new_at(char out[HW_ID_LEN + 1], uint64_t unix_ms)
{
    unsigned char r[10];
    uint64_t hi, lo;
    char *p = out + HW_ID_PREFIX_LEN;

    pthread_once(&sodium_once, id_sodium_init);
    random10(r);
    /* The 128-bit value: 48 bits of time, then 80 random bits, big-endian. */
    hi = (unix_ms & 0xffffffffffffull) << 16 | (uint64_t)r[0] << 8 | r[1];
    lo = 0;
    for (int i = 2; i < 10; i++)
        lo = lo << 8 | r[i];

    memcpy(out, HW_ID_PREFIX, HW_ID_PREFIX_LEN);
    /*
     * 26 digits carry 130 bits; the value has 128, so it reads as if two
     * zero bits stood in front: digit i is the value shifted right by 125 - 5i.
     */
    for (int i = 0; i < 26; i++) {
        unsigned shift = 125u - 5u * (unsigned)i;
        uint64_t d;

        if (shift >= 64)
            d = hi >> (shift - 64);
        else if (shift == 0)
            d = lo;
        else
            d = lo >> shift | hi << (64 - shift);
        p[i] = crockford[d & 31u];
    }
    out[HW_ID_LEN] = '\0';
}

void hw_id_new(char out[HW_ID_LEN + 1])
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    hw_id_new_at(out, (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u);
}

/* Each Crockford base32 digit's value plus one (either case); 0 for every other byte. */
#define D(c, v) [c] = (v) + 1
static const unsigned char digit_plus1[256] = {
    D('0', 0),  D('1', 1),  D('2', 2),  D('3', 3),  D('4', 4),  D('5', 5),  D('6', 6),  D('7', 7),
    D('8', 8),  D('9', 9),  D('a', 10), D('A', 10), D('b', 11), D('B', 11), D('c', 12), D('C', 12),
    D('d', 13), D('D', 13), D('e', 14), D('E', 14), D('f', 15), D('F', 15), D('g', 16), D('G', 16),
    D('h', 17), D('H', 17), D('j', 18), D('J', 18), D('k', 19), D('K', 19), D('m', 20), D('M', 20),
    D('n', 21), D('N', 21), D('p', 22), D('P', 22), D('q', 23), D('Q', 23), D('r', 24), D('R', 24),
    D('s', 25), D('S', 25), D('t', 26), D('T', 26), D('v', 27), D('V', 27), D('w', 28), D('W', 28),
    D('x', 29), D('X', 29), D('y', 30), D('Y', 30), D('z', 31), D('Z', 31),
};
#undef D

int64_t hw_id_time_ms(const char *s)
{
    int64_t t = 0;

    if (!s || strncmp(s, HW_ID_PREFIX, HW_ID_PREFIX_LEN) != 0)
        return -1;
    s += HW_ID_PREFIX_LEN;
    for (int i = 0; i < 26; i++) {
        int v = digit_plus1[(unsigned char)s[i]];

        /* No digit (a short id's NUL too) has entry 0: nothing past the NUL is read. */
        if (!v)
            return -1;
        if (i < 10)
            t = t * 32 + (v - 1);
    }
    /* Ten digits hold 50 bits; the time has 48 (the first digit at most 7). */
    return s[26] == '\0' && t < (int64_t)1 << 48 ? t : -1;
}

int hw_id_valid(const char *s)
{
    return hw_id_time_ms(s) >= 0;
}
