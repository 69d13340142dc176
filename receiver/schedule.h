#ifndef RECV_SCHEDULE_H
#define RECV_SCHEDULE_H

/*
 * The delivery retry schedule: "5s 5m 30m 2h 5h 10h 10h" is seven retries
 * after the first attempt, each delay drawn within +-20% of its step so that
 * events failed together do not come back together. A backend's Retry-After
 * is honoured up to twice the step. Pure functions (randomness from
 * libsodium); any thread.
 */
#include <stddef.h>
#include <stdint.h>

/* At most this many retries; a longer schedule is a configuration error. */
#define RECV_SCHEDULE_MAX 32

/* Longest single step: past this an event should be failed and replayed. */
#define RECV_STEP_MAX_MS (30ull * 24 * 3600 * 1000)

/* Shortest delay a Retry-After can ask for (or the step, if shorter): an
 * answer "Retry-After: 0" must not become a busy loop. */
#define RECV_DELAY_MIN_MS 1000ull

/* Jitter, in percent either side of a step. */
#define RECV_JITTER_PCT 20

struct recv_schedule {
    unsigned n;                          /* retries after the first attempt */
    uint64_t step_ms[RECV_SCHEDULE_MAX]; /* delay before retry i+1 */
};

/*
 * Parses a schedule: 1 to RECV_SCHEDULE_MAX durations separated by spaces or
 * tabs, each digits then a unit (ms, s, m, h, d), greater than 0 and at most
 * 30 days. Nothing else is allowed: no bare numbers, signs, fractions or
 * commas. Returns 0 with *out filled, or HW_EINVAL with a reason in err.
 */
int recv_schedule_parse(const char *text, struct recv_schedule *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Attempts an event gets in all: the first plus one per step. */
unsigned recv_schedule_attempts(const struct recv_schedule *s);

/*
 * After attempts_made (>= 1) attempts have failed: returns 1 with *delay_ms
 * set when another is due, 0 when the attempts are exhausted and the event
 * becomes failed, HW_EINVAL when attempts_made is 0. The delay is the step
 * with +-20% jitter; if the backend's answer carried Retry-After
 * (retry_after[0..ra_len), seconds or an IMF-fixdate, NULL when absent) and
 * it parses, its delay replaces the drawn one, capped at twice the step
 * and at least RECV_DELAY_MIN_MS (or the step, if shorter). now is the
 * current Unix time in seconds.
 */
int recv_schedule_next(const struct recv_schedule *s, unsigned attempts_made,
                       const char *retry_after, size_t ra_len, int64_t now, uint64_t *delay_ms);

/*
 * Parses a Retry-After value (RFC 9110 10.2.3): delay-seconds (any number
 * of digits; past 2^64 - 1 it is UINT64_MAX) or an HTTP-date in the IMF-fixdate form ("Sun, 06 Nov
 * 1994 08:49:37 GMT"), surrounding spaces allowed. Returns 0 with *seconds, the wait from now (0
 * for a date in the past), or HW_EPARSE; the obsolete RFC 850 and asctime date forms are HW_EPARSE
 * too (the schedule then applies as if the header were absent).
 */
int recv_retry_after_parse(const char *v, size_t n, int64_t now, uint64_t *seconds);

/* Draws step_ms with +-RECV_JITTER_PCT% jitter, uniformly. Any thread. */
uint64_t recv_jitter(uint64_t step_ms);

#endif
