#ifndef REPLAY_STOP_H
#define REPLAY_STOP_H

/*
 * Ctrl-C during bulk work: SIGINT is held back (blocked) while the work
 * runs, and looked for between pages, so a store call is never cut in the
 * middle and what was committed stays committed. Main thread; call
 * replay_stop_hold() before any other thread exists.
 */

/* Blocks SIGINT and SIGTERM (they stay pending). Returns 0 or -errno. */
int replay_stop_hold(void);

/* 1 when SIGINT or SIGTERM arrived since replay_stop_hold() (the signal is taken), else 0. */
int replay_stop_requested(void);

#endif
