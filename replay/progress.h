#ifndef REPLAY_PROGRESS_H
#define REPLAY_PROGRESS_H

/*
 * The progress bar of bulk work, on stderr and only when stderr is a
 * terminal (piped or redirected, nothing is drawn, so logs stay clean).
 * Redrawn at most ten times a second. Main thread.
 */
#include <stdint.h>

struct replay_progress {
    int on;           /* stderr is a terminal */
    const char *verb; /* "requeue", "count" */
    uint64_t total;   /* 0 when not known in advance */
    uint64_t done;
    int64_t start_ms, drawn_ms;
};

/* Starts a bar for total items (0: unknown, shows a count and a rate). */
void replay_progress_start(struct replay_progress *p, const char *verb, uint64_t total);

/* Sets how many are done and redraws when due. */
void replay_progress_update(struct replay_progress *p, uint64_t done);

/* Erases the bar (the caller then prints its result line). */
void replay_progress_end(struct replay_progress *p);

#endif
