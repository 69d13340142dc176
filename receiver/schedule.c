/*
 * Retry schedule (schedule.h): parsing the configured steps, drawing each
 * delay with jitter from libsodium's generator, and reading a backend's
 * Retry-After. Owns nothing; pure functions that any thread may call.
 */
#include "schedule.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* One step "DIGITS UNIT" in s[0..n). 0 or HW_EINVAL. */
static int parse_step(const char *s, size_t n, uint64_t *ms)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 } };
    uint64_t v = 0;
    size_t i = 0;

    while (i < n && is_digit(s[i])) {
        /* Ten digits already exceed 30 days in any unit but ms. */
        if (i == 12)
            return HW_EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
        i++;
    }
    if (i == 0 || v == 0)
        return HW_EINVAL;
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        size_t ul = strlen(units[u].unit);

        if (n - i == ul && memcmp(s + i, units[u].unit, ul) == 0) {
            if (v > RECV_STEP_MAX_MS / units[u].ms)
                return HW_EINVAL;
            *ms = v * units[u].ms;
            return 0;
        }
    }
    return HW_EINVAL;
}

int recv_schedule_parse(const char *text, struct recv_schedule *out, char *err, size_t errlen)
{
    const char *p = text;

    memset(out, 0, sizeof(*out));
    for (;;) {
        size_t n;

        p += strspn(p, " \t");
        if (!*p)
            break;
        n = strcspn(p, " \t");
        if (out->n == RECV_SCHEDULE_MAX) {
            snprintf(err, errlen, "retry-schedule: more than %d steps", RECV_SCHEDULE_MAX);
            return HW_EINVAL;
        }
        if (parse_step(p, n, &out->step_ms[out->n]) < 0) {
            snprintf(err, errlen,
                     "retry-schedule: bad step \"%.*s\" (expected e.g. 30s, 5m, 2h or 1d, "
                     "above 0 and at most 30d)",
                     (int)(n > 40 ? 40 : n), p);
            return HW_EINVAL;
        }
        out->n++;
        p += n;
    }
    if (out->n == 0) {
        snprintf(err, errlen, "retry-schedule: empty (give at least one step, e.g. \"5s 5m\")");
        return HW_EINVAL;
    }
    return 0;
}

unsigned recv_schedule_attempts(const struct recv_schedule *s)
{
    return s->n + 1;
}

uint64_t recv_jitter(uint64_t step_ms)
{
    /* A factor in [100 - J, 100 + J] percent, in steps of 1/1000 percent. */
    uint64_t span = 2 * RECV_JITTER_PCT * 1000;
    uint64_t draw = randombytes_uniform((uint32_t)span + 1);

    return step_ms * ((100 - RECV_JITTER_PCT) * 1000 + draw) / 100000;
}

static int month_index(const char *m)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

    for (int i = 0; i < 12; i++)
        if (memcmp(m, names + 3 * i, 3) == 0)
            return i;
    return -1;
}

/* n digits at s as a number, or -1. */
static int digits(const char *s, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT": exactly 29 bytes. 0 or HW_EPARSE. */
static int parse_imf_fixdate(const char *s, size_t n, int64_t *t)
{
    static const char days[] = "MonTueWedThuFriSatSun";
    struct tm tm;
    int day_ok = 0;

    if (n != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
        return HW_EPARSE;
    for (int i = 0; i < 7; i++)
        day_ok |= memcmp(s, days + 3 * i, 3) == 0;
    memset(&tm, 0, sizeof(tm));
    tm.tm_mday = digits(s + 5, 2);
    tm.tm_mon = month_index(s + 8);
    tm.tm_year = digits(s + 12, 4) - 1900;
    tm.tm_hour = digits(s + 17, 2);
    tm.tm_min = digits(s + 20, 2);
    tm.tm_sec = digits(s + 23, 2);
    if (!day_ok || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_mon < 0 || tm.tm_year < 70 ||
        tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 ||
        tm.tm_sec > 60)
        return HW_EPARSE;
    *t = (int64_t)timegm(&tm);
    return 0;
}

int recv_retry_after_parse(const char *v, size_t n, int64_t now, uint64_t *seconds)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n == 0)
        return HW_EPARSE;
    if (is_digit(v[0])) {
        uint64_t s = 0;

        /* Any number of digits: past what fits is the longest wait (the caller caps it). */
        for (size_t i = 0; i < n; i++) {
            if (!is_digit(v[i]))
                return HW_EPARSE;
            s = s > (UINT64_MAX - 9) / 10 ? UINT64_MAX : s * 10 + (uint64_t)(v[i] - '0');
        }
        *seconds = s;
        return 0;
    }
    {
        int64_t t;

        if (parse_imf_fixdate(v, n, &t) < 0)
            return HW_EPARSE;
        *seconds = t > now ? (uint64_t)(t - now) : 0;
        return 0;
    }
}

int recv_schedule_next(const struct recv_schedule *s, unsigned attempts_made,
                       const char *retry_after, size_t ra_len, int64_t now, uint64_t *delay_ms)
{
    uint64_t step, delay, ra;

    if (attempts_made == 0)
        return HW_EINVAL;
    if (attempts_made > s->n)
        return 0;
    step = s->step_ms[attempts_made - 1];
    delay = recv_jitter(step);
    if (retry_after && recv_retry_after_parse(retry_after, ra_len, now, &ra) == 0) {
        /* The backend knows its own state better than our schedule, but a
         * huge value must not park the event for days: cap it at 2x. */
        uint64_t cap = 2 * step;
        uint64_t floor = step < RECV_DELAY_MIN_MS ? step : RECV_DELAY_MIN_MS;

        delay = ra > cap / 1000 ? cap : ra * 1000;
        if (delay < floor)
            delay = floor;
    }
    *delay_ms = delay;
    return 1;
}
