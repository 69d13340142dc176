#ifndef RELAY_OUTCOMES_H
#define RELAY_OUTCOMES_H

/*
 * Delivery outcomes on their way to the store: gathered while one write is
 * in flight, then all written in one transaction (hw_store_record_attempts)
 * on the store thread, so a drain or a busy live channel costs one commit
 * per batch, not per webhook. The relay owns the events it records
 * (HW_STORE_NO_LEASE). Service thread only.
 */
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct relay;
struct relay_outcomes;

struct relay_outcomes *relay_outcomes_new(struct relay *r);

/* Frees o and what it still holds (unrecorded: delivered again later). NULL is ignored. */
void relay_outcomes_free(struct relay_outcomes *o);

/*
 * Queues the attempt a (copied; error and excerpt cut to size) for event id
 * with its new status, and writes it soon. Out of memory is logged (the
 * event is then delivered again later: at least once).
 */
void relay_outcomes_add(struct relay_outcomes *o, const char *id, const struct hw_store_attempt *a,
                        int status);

/* Writes what is gathered now unless a write is in flight (before the store closes). */
void relay_outcomes_flush(struct relay_outcomes *o);

/*
 * 1 when every outcome added has been written (or given up on, logged): no
 * write in flight and nothing gathered. Shutdown waits for this before it
 * closes the store, which takes no new work once it begins closing.
 */
int relay_outcomes_idle(const struct relay_outcomes *o);

/* Whether an outcome of event id waits to be handed to the store (a later job would precede it). */
int relay_outcomes_holds(const struct relay_outcomes *o, const char *id);

#endif
