/*
 * Time parsing and formatting for the replay CLI (when.h): ages such as
 * "2h" or "3d", ISO 8601 times, and UTC output. Owns nothing; any thread.
 */
#include "when.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

/* Ages longer than this are typing mistakes, and would overflow nothing but still mislead. */
#define AGE_MAX_MS (100LL * 366 * 24 * 3600 * 1000)

/* Units in a combined age go from larger to smaller, each once ("1h30m", never "1h1h"). */
static int parse_age(const char *s, int64_t *ms)
{
    int64_t total = 0, last = INT64_MAX;

    if (!*s)
        return HW_EINVAL;
    while (*s) {
        int64_t n = 0, unit;

        if (!isdigit((unsigned char)*s))
            return HW_EINVAL;
        while (isdigit((unsigned char)*s)) {
            n = n * 10 + (*s++ - '0');
            if (n > AGE_MAX_MS)
                return HW_EINVAL;
        }
        switch (*s++) {
        case 's':
            unit = 1000;
            break;
        case 'm':
            unit = 60 * 1000;
            break;
        case 'h':
            unit = 3600 * 1000;
            break;
        case 'd':
            unit = 24LL * 3600 * 1000;
            break;
        case 'w':
            unit = 7LL * 24 * 3600 * 1000;
            break;
        default:
            return HW_EINVAL;
        }
        /* Checked before the product: n * unit could overflow. */
        if (n > AGE_MAX_MS / unit || unit >= last)
            return HW_EINVAL;
        last = unit;
        total += n * unit;
        if (total > AGE_MAX_MS)
            return HW_EINVAL;
    }
    *ms = total;
    return 0;
}

/* Reads exactly n digits into *v; returns the rest of s or NULL. */
static const char *digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return NULL;
        *v = *v * 10 + (s[i] - '0');
    }
    return s + n;
}

static int parse_iso(const char *s, int64_t *out)
{
    struct tm tm;
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off = 0;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (!(s = digits(s, 4, &y)) || *s++ != '-' || !(s = digits(s, 2, &mo)) || *s++ != '-' ||
        !(s = digits(s, 2, &d)))
        return HW_EINVAL;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        if (!(s = digits(s, 2, &h)) || *s++ != ':' || !(s = digits(s, 2, &mi)))
            return HW_EINVAL;
        if (*s == ':' && !(s = digits(s + 1, 2, &sec)))
            return HW_EINVAL;
        if (*s == '.' || *s == ',') {
            int scale = 100;

            if (!isdigit((unsigned char)*++s))
                return HW_EINVAL;
            for (; isdigit((unsigned char)*s); s++, scale /= 10)
                ms += (*s - '0') * scale;
        }
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            int sign = *s++ == '-' ? -1 : 1, oh, om;

            if (!(s = digits(s, 2, &oh)))
                return HW_EINVAL;
            if (*s == ':')
                s++;
            if (!(s = digits(s, 2, &om)) || oh > 23 || om > 59)
                return HW_EINVAL;
            off = sign * (oh * 60 + om);
        }
    }
    if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return HW_EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    /* timegm normalises 2026-02-31 to March: such a date was not a real one. */
    if (tm.tm_mday != d || tm.tm_mon != mo - 1)
        return HW_EINVAL;
    *out = ((int64_t)t - (int64_t)off * 60) * 1000 + ms;
    return 0;
}

int replay_when_parse(const char *s, int64_t now_ms, int64_t *out)
{
    int64_t age;

    if (!s)
        return HW_EINVAL;
    if (parse_age(s, &age) == 0) {
        *out = now_ms - age;
        return 0;
    }
    return parse_iso(s, out);
}

/*
 * The UTC calendar time of ms, in *tm, and its milliseconds past the second
 * (0-999, before 1970 too); -1 for a time no four-digit year holds (a store
 * written by something else may hold anything).
 */
static int utc(int64_t ms, struct tm *tm, int *frac)
{
    int64_t f = ((ms % 1000) + 1000) % 1000;
    time_t t;

    *frac = (int)f;
    if (ms < -62135596800000LL || ms > 253402300799999LL)
        return -1; /* before year 1 or after 9999 */
    t = (time_t)((ms - f) / 1000);
    return gmtime_r(&t, tm) ? 0 : -1;
}

void replay_when_format(int64_t ms, char *out, size_t cap)
{
    struct tm tm;
    int frac;

    if (utc(ms, &tm, &frac) || !strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(out, cap, "?");
}

void replay_when_iso(int64_t ms, char *out, size_t cap)
{
    struct tm tm;
    char base[24];
    int frac;

    if (utc(ms, &tm, &frac) || !strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm)) {
        snprintf(out, cap, "?");
        return;
    }
    snprintf(out, cap, "%s.%03dZ", base, frac);
}

void replay_when_span(int64_t ms, char *out, size_t cap)
{
    if (ms < 0)
        ms = 0;
    if (ms < 1000)
        snprintf(out, cap, "%lldms", (long long)ms);
    else if (ms < 120 * 1000)
        snprintf(out, cap, "%llds", (long long)(ms / 1000));
    else if (ms < 120 * 60 * 1000)
        snprintf(out, cap, "%lldm", (long long)(ms / 60000));
    else if (ms < 48LL * 3600 * 1000)
        snprintf(out, cap, "%lldh", (long long)(ms / 3600000));
    else
        snprintf(out, cap, "%lldd", (long long)(ms / 86400000));
}
