#ifndef REPLAY_WHEN_H
#define REPLAY_WHEN_H

/*
 * Times on the replay command line and in its output: "2h" or "3d" ago, or
 * an ISO 8601 time, parsed to Unix milliseconds; and Unix milliseconds
 * written as UTC for tables and JSON. No state; any thread.
 */
#include <stddef.h>
#include <stdint.h>

/*
 * Parses s as either an age before now_ms (one or more NUMBER UNIT pairs,
 * units s, m, h, d, w: "90s", "2h", "3d", "1h30m") or an ISO 8601 time
 * ("2026-12-02", "2026-12-02T10:00", "2026-12-02T10:00:05.250Z",
 * "2026-12-02 10:00:05+01:00"; no zone means UTC). Writes the Unix ms into
 * *out. Returns 0 or HW_EINVAL.
 */
int replay_when_parse(const char *s, int64_t now_ms, int64_t *out);

/* Writes ms as "2026-12-02 10:00:05" (UTC) into out (at least 24 bytes). */
void replay_when_format(int64_t ms, char *out, size_t cap);

/* Writes ms as "2026-12-02T10:00:05.250Z" into out (at least 32 bytes). */
void replay_when_iso(int64_t ms, char *out, size_t cap);

/* Writes a span of ms as "850ms", "12s", "5m", "3h", "2d" into out. */
void replay_when_span(int64_t ms, char *out, size_t cap);

#endif
