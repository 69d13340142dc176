/*
 * The logger behind HW_LOG: formats one line (text or JSON) into a stack
 * buffer and writes it with one write(2) to stderr, holding back repeats of
 * one warning or error (see hw_log_write). Any thread. (lws's own log reaches
 * it through net/lwslog.c.)
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

int hw_log_level = HW_LOG_INFO;

static const char *log_program = "hookwire";
static int log_json;
static int log_color;
static int log_flush_registered;

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
/* Red, yellow, green, dim: only the level word is coloured, the message stays plain. */
static const char *const level_colors[] = { "\033[1;31m", "\033[33m", "\033[32m", "\033[2m" };

void hw_log_init(const char *program)
{
    const char *no_color = getenv("NO_COLOR"), *term = getenv("TERM");

    log_program = program;
    if (!log_flush_registered) {
        log_flush_registered = 1;
        atexit(hw_log_flush);
    }
    log_color =
        isatty(STDERR_FILENO) && !(no_color && no_color[0]) && !(term && strcmp(term, "dumb") == 0);
}

void hw_log_set_color(int on)
{
    log_color = on;
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

/*
 * Copies s for a text line, each control byte and DEL as \xHH: a peer's
 * words in a message (a reset's reason, a path) can neither end the line
 * and forge the next one nor send escape sequences to a terminal.
 */
static size_t text_escape(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    for (; *s && n + 5 < cap; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < 0x20 || c == 0x7f) {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return n;
}

/* The fields of a request line, already escaped for JSON, or "" for other lines. */
static void log_emit(int level, const char *msg, const char *fields)
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
        n += json_escape(line + n, sizeof(line) - n - 1024, msg);
        n += (size_t)snprintf(line + n, sizeof(line) - n, "\"%s}", fields);
        if (n > sizeof(line) - 2)
            n = sizeof(line) - 2;
    } else {
        if (log_color)
            n = (size_t)snprintf(line, sizeof(line), "%s %s%-5s\033[0m %s: ", ts,
                                 level_colors[level], level_names[level], log_program);
        else
            n = (size_t)snprintf(line, sizeof(line), "%s %-5s %s: ", ts, level_names[level],
                                 log_program);
        n += text_escape(line + n, sizeof(line) - n - 1, msg);
    }
    line[n++] = '\n';
    /* A short write to stderr loses part of a log line; nothing better to do. */
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}

/*
 * Repeats of a warning or an error from one call site (one format string),
 * as a failing store gives one per request: within a window of
 * HW_LOG_REPEAT_MS from the first, HW_LOG_REPEAT_BURST lines are written and
 * the rest are counted; the count is written once the window has passed. A
 * few sites at a time are tracked; a new one takes the slot used longest ago.
 */
#define REPEAT_SLOTS 8

struct repeat {
    const char *fmt; /* the call site; NULL for a free slot */
    int level;
    long long window_ms; /* when its window began (its first line) */
    unsigned written;    /* lines written in the window */
    unsigned long held;  /* lines held back in it */
    char last[512];      /* the last one held back, for the summary */
};

static pthread_mutex_t repeat_lock = PTHREAD_MUTEX_INITIALIZER;
static struct repeat repeats[REPEAT_SLOTS];
/* Lines held back and not yet summarised, all slots: read without the lock by the fast path. */
static atomic_ulong repeats_held;

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes the count of lines held back at a site, with the last of them. */
static void repeat_summary(struct repeat *r, long long now)
{
    char msg[700];

    snprintf(msg, sizeof(msg), "%lu more like this in %.1fs, the last: %s", r->held,
             (double)(now - r->window_ms) / 1000.0, r->last);
    log_emit(r->level, msg, "");
    atomic_fetch_sub_explicit(&repeats_held, r->held, memory_order_relaxed);
    r->held = 0;
}

/* Ends the windows that have passed, writing their counts. Under repeat_lock. */
static void repeat_flush_due(long long now)
{
    for (int i = 0; i < REPEAT_SLOTS; i++) {
        struct repeat *r = &repeats[i];

        if (!r->fmt || now - r->window_ms < HW_LOG_REPEAT_MS)
            continue;
        if (r->held)
            repeat_summary(r, now);
        r->written = 0;
    }
}

/* The slot of fmt at level, or a slot taken for it (a free one, else the oldest). */
static struct repeat *repeat_slot(int level, const char *fmt, long long now)
{
    struct repeat *slot = &repeats[0];

    for (int i = 0; i < REPEAT_SLOTS; i++) {
        if (repeats[i].fmt == fmt && repeats[i].level == level)
            return &repeats[i];
    }
    for (int i = 1; i < REPEAT_SLOTS && slot->fmt; i++) {
        if (!repeats[i].fmt || repeats[i].window_ms < slot->window_ms)
            slot = &repeats[i];
    }
    if (slot->held)
        repeat_summary(slot, now);
    slot->fmt = fmt;
    slot->level = level;
    slot->written = 0;
    return slot;
}

/*
 * Says whether msg from fmt is to be written now (1) or held back (0); held
 * back lines are counted. First writes the counts that are due, so a burst's
 * count is reported once anything is logged after its window.
 */
static int repeat_admit(int level, const char *fmt, const char *msg)
{
    long long now;
    struct repeat *r;
    int write_it = 1;

    /* An info or debug line (one per request in the agent) has nothing to do while none is held. */
    if (level > HW_LOG_WARN && !atomic_load_explicit(&repeats_held, memory_order_relaxed))
        return 1;
    now = now_ms();
    pthread_mutex_lock(&repeat_lock);
    repeat_flush_due(now);
    if (level <= HW_LOG_WARN) {
        r = repeat_slot(level, fmt, now);
        if (r->written == 0)
            r->window_ms = now;
        if (r->written < HW_LOG_REPEAT_BURST) {
            r->written++;
        } else {
            /* Cut to the slot: a summary quotes the start of the last line. */
            size_t len = strnlen(msg, sizeof(r->last) - 1);

            memcpy(r->last, msg, len);
            r->last[len] = '\0';
            r->held++;
            atomic_fetch_add_explicit(&repeats_held, 1, memory_order_relaxed);
            write_it = 0;
        }
    }
    pthread_mutex_unlock(&repeat_lock);
    return write_it;
}

void hw_log_flush(void)
{
    long long now;

    if (!atomic_load_explicit(&repeats_held, memory_order_relaxed))
        return;
    now = now_ms();
    pthread_mutex_lock(&repeat_lock);
    for (int i = 0; i < REPEAT_SLOTS; i++) {
        if (repeats[i].held)
            repeat_summary(&repeats[i], now);
    }
    pthread_mutex_unlock(&repeat_lock);
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
    if (!repeat_admit(level, fmt, msg))
        return;
    log_emit(level, msg, "");
}

const char *hw_log_duration(char *buf, size_t cap, double ms)
{
    if (ms < 0)
        ms = 0;
    /* 999.96ms would print as "1000.0ms": from there on it is seconds. */
    if (ms < 999.95)
        snprintf(buf, cap, "%.1fms", ms);
    else
        snprintf(buf, cap, "%.1fs", ms / 1000.0);
    return buf;
}

void hw_log_request(const struct hw_log_req *r)
{
    char msg[1024], fields[1200], dur[32], status[16];
    size_t n = 0;

    if (HW_LOG_INFO > hw_log_level)
        return;
    hw_log_duration(dur, sizeof(dur), r->ms);
    snprintf(status, sizeof(status), "%d", r->status);
    if (r->failure)
        snprintf(msg, sizeof(msg), "%s %s failed: %s %s evt=%s", r->method, r->path, r->failure,
                 dur, r->event_id);
    else
        snprintf(msg, sizeof(msg), "%s %s %d %s evt=%s", r->method, r->path, r->status, dur,
                 r->event_id);
    fields[0] = '\0';
    repeat_admit(HW_LOG_INFO, NULL, NULL);
    if (log_json) {
        /* Each part is escaped into its own share of fields, so none can run past it. */
        n += (size_t)snprintf(fields + n, sizeof(fields) - n, ",\"method\":\"");
        n += json_escape(fields + n, 40, r->method);
        n += (size_t)snprintf(fields + n, sizeof(fields) - n, "\",\"path\":\"");
        n += json_escape(fields + n, 600, r->path);
        n += (size_t)snprintf(fields + n, sizeof(fields) - n,
                              "\",\"status\":%s,\"duration_ms\":%.3f,\"event_id\":\"",
                              r->status ? status : "null", r->ms);
        n += json_escape(fields + n, 60, r->event_id);
        n += (size_t)snprintf(fields + n, sizeof(fields) - n, "\"");
        if (r->failure) {
            n += (size_t)snprintf(fields + n, sizeof(fields) - n, ",\"error\":\"");
            n += json_escape(fields + n, 200, r->failure);
            snprintf(fields + n, sizeof(fields) - n, "\"");
        }
    }
    log_emit(HW_LOG_INFO, msg, fields);
}
