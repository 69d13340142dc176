#ifndef HW_LOG_H
#define HW_LOG_H

/*
 * The one logger: one line per event on stderr, "UTC-time LEVEL program:
 * message", or one JSON object per line with --log-format json. Any thread;
 * each line is written with a single write(2) so lines never interleave.
 */

#include <stddef.h>

enum hw_log_level { HW_LOG_ERR = 0, HW_LOG_WARN, HW_LOG_INFO, HW_LOG_DEBUG };

extern int hw_log_level;

/*
 * Sets the program name shown on every line (borrowed: must outlive logging)
 * and decides on colour: text lines colour their level when stderr is a
 * terminal, unless NO_COLOR is set (https://no-color.org) or TERM is "dumb".
 * The first call also arranges for hw_log_flush() to run at exit().
 */
void hw_log_init(const char *program);

/* Forces colour on (1) or off (0), whatever hw_log_init() decided. */
void hw_log_set_color(int on);

/* Parses "error|warn|info|debug"; returns 0 or HW_EINVAL. */
int hw_log_set_level(const char *name);

/* Parses "text|json"; returns 0 or HW_EINVAL. */
int hw_log_set_format(const char *name);

/* Repeats of one warning or error: at most BURST lines are written per window of MS. */
#define HW_LOG_REPEAT_MS    1000
#define HW_LOG_REPEAT_BURST 10

/*
 * Writes one line at level. WARN and ERROR lines from one format string are
 * rate-limited: after HW_LOG_REPEAT_BURST within HW_LOG_REPEAT_MS of the first,
 * the rest of that window are held back and counted, and the first line
 * logged after the window (from any site) is preceded by "N more like this in
 * Ts, the last: MESSAGE". A failure repeating thousands of times a second thus
 * gives about BURST + 1 lines a second; fmt must be a string literal.
 */
void hw_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Writes the "N more like this" count of every site that has lines held back
 * now, without waiting for its window to end: a program that stops during a
 * burst still says how many lines it did not write. Any thread.
 */
void hw_log_flush(void);

/*
 * Writes a duration for people into buf: "3.5ms" under a second, "10.0s"
 * from a second on. Returns buf.
 */
const char *hw_log_duration(char *buf, size_t cap, double ms);

/* One webhook's outcome, as one line. */
struct hw_log_req {
    const char *method;
    const char *path;
    int status; /* the answer's status; 0 when there is none */
    double ms;  /* how long the exchange took */
    const char *event_id;
    const char *failure; /* why it failed, or NULL */
};

/*
 * Logs r at INFO: text "POST /path 200 3.5ms evt=ID" (or "POST /path failed:
 * WHY 3.5ms evt=ID"); JSON carries method, path, status, duration_ms,
 * event_id and error as fields of their own next to msg.
 */
void hw_log_request(const struct hw_log_req *r);

/* Checks the level before evaluating the arguments. */
#define HW_LOG(level, ...)                      \
    do {                                        \
        if ((level) <= hw_log_level)            \
            hw_log_write((level), __VA_ARGS__); \
    } while (0)

#define HW_ERR(...)   HW_LOG(HW_LOG_ERR, __VA_ARGS__)
#define HW_WARN(...)  HW_LOG(HW_LOG_WARN, __VA_ARGS__)
#define HW_INFO(...)  HW_LOG(HW_LOG_INFO, __VA_ARGS__)
#define HW_DEBUG(...) HW_LOG(HW_LOG_DEBUG, __VA_ARGS__)

#endif
