/*
 * The progress bar (progress.h): one line on stderr, rewritten in place
 * with "\r", only when stderr is a terminal. Owns nothing; main thread.
 */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "when.h"

#define BAR_WIDTH 30
#define REDRAW_MS 100

static void draw(struct replay_progress *p, int64_t now)
{
    double secs = (double)(now - p->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)p->done / secs : 0;

    if (p->total) {
        uint64_t done = p->done > p->total ? p->total : p->done;
        int fill = (int)(done * BAR_WIDTH / p->total);
        char bar[BAR_WIDTH + 1];

        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '.', (size_t)(BAR_WIDTH - fill));
        bar[BAR_WIDTH] = '\0';
        fprintf(stderr, "\r%s [%s] %3d%% %llu/%llu  %.0f/s\033[K", p->verb, bar,
                (int)(done * 100 / p->total), (unsigned long long)done,
                (unsigned long long)p->total, rate);
    } else {
        fprintf(stderr, "\r%s %llu  %.0f/s\033[K", p->verb, (unsigned long long)p->done, rate);
    }
    fflush(stderr);
    p->drawn_ms = now;
}

void replay_progress_start(struct replay_progress *p, const char *verb, uint64_t total)
{
    memset(p, 0, sizeof(*p));
    p->on = isatty(STDERR_FILENO);
    p->verb = verb;
    p->total = total;
    p->start_ms = hw_wall_ms();
    if (p->on)
        draw(p, p->start_ms);
}

void replay_progress_update(struct replay_progress *p, uint64_t done)
{
    int64_t now;

    p->done = done;
    if (!p->on)
        return;
    now = hw_wall_ms();
    if (now - p->drawn_ms >= REDRAW_MS)
        draw(p, now);
}

void replay_progress_end(struct replay_progress *p)
{
    if (!p->on)
        return;
    draw(p, hw_wall_ms());
    fputs("\n", stderr);
    fflush(stderr);
}
