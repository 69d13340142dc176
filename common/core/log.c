/*
 * The logger behind HW_LOG: formats one line (text or JSON) into a stack
 * buffer and writes it with one write(2) to stderr. Any thread. (lws's own
 * log reaches it through net/lwslog.c.)
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

int hw_log_level = HW_LOG_INFO;

static const char *log_program = "hookwire";
static int log_json;

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void hw_log_init(const char *program)
{
    log_program = program;
}

int hw_log_set_level(const char *name)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };

    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0) {
            hw_log_level = i;
            return 0;
        }
    }
    return HW_EINVAL;
}

int hw_log_set_format(const char *name)
{
    if (strcmp(name, "text") == 0)
        log_json = 0;
    else if (strcmp(name, "json") == 0)
        log_json = 1;
    else
        return HW_EINVAL;
    return 0;
}

/* Appends s as a JSON string body (without quotes), escaping as needed. */
static size_t json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;

    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    return n;
}

static void log_emit(int level, const char *msg)
{
    char line[4096 + 512];
    char ts[40];
    struct timespec now;
    struct tm tm;
    size_t n;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000);

    if (log_json) {
        n = (size_t)snprintf(line, sizeof(line),
                             "{\"ts\":\"%s\",\"level\":\"%s\",\"prog\":\"%s\","
                             "\"msg\":\"",
                             ts, level_names[level], log_program);
        n += json_escape(line + n, sizeof(line) - n - 4, msg);
        line[n++] = '"';
        line[n++] = '}';
    } else {
        n = (size_t)snprintf(line, sizeof(line), "%s %-5s %s: %s", ts, level_names[level],
                             log_program, msg);
        if (n > sizeof(line) - 2)
            n = sizeof(line) - 2;
    }
    line[n++] = '\n';
    /* A short write to stderr loses part of a log line; nothing better to do. */
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}

void hw_log_write(int level, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;

    if (level < HW_LOG_ERR)
        level = HW_LOG_ERR;
    if (level > HW_LOG_DEBUG)
        level = HW_LOG_DEBUG;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_emit(level, msg);
}
