#ifndef HW_LOG_H
#define HW_LOG_H

/*
 * The one logger: one line per event on stderr, "UTC-time LEVEL program:
 * message", or one JSON object per line with --log-format json. Any thread;
 * each line is written with a single write(2) so lines never interleave.
 */

enum hw_log_level { HW_LOG_ERR = 0, HW_LOG_WARN, HW_LOG_INFO, HW_LOG_DEBUG };

extern int hw_log_level;

/* Sets the program name shown on every line (borrowed: must outlive logging). */
void hw_log_init(const char *program);

/* Parses "error|warn|info|debug"; returns 0 or HW_EINVAL. */
int hw_log_set_level(const char *name);

/* Parses "text|json"; returns 0 or HW_EINVAL. */
int hw_log_set_format(const char *name);

void hw_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
