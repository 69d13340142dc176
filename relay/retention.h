#ifndef RELAY_RETENTION_H
#define RELAY_RETENTION_H

/*
 * Purges finished history older than --retention, and beyond each
 * channel's newest --max-events, by itself, on a timer, through the store
 * thread. One per process. Service thread.
 */
struct relay;

/* Starts the timer (after the lws context exists). */
void relay_retention_start(struct relay *r);

/* Cancels it (before the store closes). */
void relay_retention_stop(struct relay *r);

#endif
