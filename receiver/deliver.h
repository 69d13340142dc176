#ifndef RECV_DELIVER_H
#define RECV_DELIVER_H

/*
 * Deliveries in flight (deliver.c): the claimed events the database thread
 * hands over are sent to their backends here, and their outcomes handed
 * back to be recorded. Service thread only.
 */
#include <stddef.h>

#include "core/buf.h"

struct hw_store_event;
struct recv;
struct recv_deliver;
struct recv_source;

/* One HTTP client pool per source (r->client must exist). NULL when out of memory. */
struct recv_deliver *recv_deliver_new(struct recv *r);

/* Frees the state; call after the client (which fails what is in flight) is freed. */
void recv_deliver_free(struct recv_deliver *d);

/*
 * Queues every claimed event waiting for the service thread and starts
 * what the sources' concurrency allows; while draining, hands queued
 * events back unsent (their leases lapse).
 */
void recv_deliver_pump(struct recv_deliver *d);

/*
 * Takes ev (owned), an event of src that its append leased to this
 * receiver (bytes: what recv_db_reserve() counted), and queues it for
 * delivery like a claimed one. Out of memory, it is left to its lease.
 */
void recv_deliver_leased(struct recv_deliver *d, const struct recv_source *src,
                         struct hw_store_event *ev, size_t bytes);

/* Requests sent whose answer has not come yet. */
size_t recv_deliver_inflight(const struct recv_deliver *d);

/* Appends the deliveries-in-flight gauge to out as Prometheus text. */
int recv_deliver_render(const struct recv_deliver *d, struct hw_buf *out);

#endif
