/*
 * The bridge from libwebsockets' own log to the one logger: lws lines arrive
 * through lws_set_log_level()'s emitter and leave as hw_log_write() lines.
 * Set up once at start-up, before the lws context exists. lws's lines are
 * worded for lws's developers ("ERROR on binding fd 8 ..."): the programs say
 * what went wrong in their own words, so lws's lines show only at debug
 * level, marked "lws:".
 */
#include "lwslog.h"

#include <libwebsockets.h>
#include <string.h>

#include "core/log.h"

static void lws_log_emit(int lws_level, const char *line)
{
    char msg[1024];
    size_t n = strlen(line);
    if (HW_LOG_DEBUG > hw_log_level)
        return;
    /* lws lines carry their own timestamp prefix and a trailing newline. */
    if (n && line[n - 1] == '\n')
        n--;
    if (n >= sizeof(msg))
        n = sizeof(msg) - 1;
    memcpy(msg, line, n);
    msg[n] = '\0';
    hw_log_write(HW_LOG_DEBUG, "lws: %s", msg);
}

void hw_lwslog_route(void)
{
    int levels = 0;

    if (hw_log_level >= HW_LOG_DEBUG)
        levels = LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO;
    lws_set_log_level(levels, lws_log_emit);
}
