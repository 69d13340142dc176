#ifndef HW_CORE_CLOCK_H
#define HW_CORE_CLOCK_H

/*
 * Wall-clock time in Unix milliseconds: what stored times (received,
 * next attempt, lease expiry) are written in, and compared with across
 * hosts. Durations and timeouts use the monotonic clock instead.
 */
#include <stdint.h>
#include <time.h>

static inline int64_t hw_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds on the monotonic clock: for durations and deadlines within one process. */
static inline int64_t hw_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
