#ifndef RECV_METRICS_H
#define RECV_METRICS_H

/*
 * The receiver's counters and latency histograms, and their Prometheus text
 * rendering for /metrics. Counters are bumped and rendered on the service
 * thread only. /metrics (server.c) appends to them the deliveries in flight
 * (deliver.h) and the database thread's figures (db.h: claims, backlog by
 * source, oldest pending).
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "sig/sig.h"

/* Bucket upper bounds, in seconds, for the two histograms. */
#define RECV_INGEST_BUCKETS  12
#define RECV_DELIVER_BUCKETS 14

struct recv_histogram {
    uint64_t count;
    double sum; /* seconds */
    uint64_t le[RECV_DELIVER_BUCKETS];
};

/* Why a webhook was refused, for rejected{reason=...}. */
enum recv_reject {
    RECV_REJECT_UNKNOWN_SOURCE,
    RECV_REJECT_SIGNATURE,
    RECV_REJECT_TOO_LARGE,
    RECV_REJECT_STORE_UNAVAILABLE,
    RECV_REJECT_DRAINING,
    RECV_REJECT_INVALID,
    RECV_REJECT_COUNT
};

struct recv_metrics {
    uint64_t received; /* complete webhook requests for a known source */
    uint64_t verified; /* whose signature checked out */
    uint64_t rejected[RECV_REJECT_COUNT];
    uint64_t handshakes;           /* answered at the edge */
    uint64_t stored;               /* committed and acknowledged */
    uint64_t duplicates;           /* acknowledged with the first event's id */
    uint64_t leased_at_append;     /* handed to delivery by their append, with no claim */
    uint64_t delivered;            /* attempts the backend accepted */
    uint64_t failed;               /* events whose attempts ran out */
    uint64_t retries;              /* attempts that will be retried */
    uint64_t handed_back;          /* claimed, not sent before their lease would end */
    struct recv_histogram ingest;  /* request complete -> acknowledged */
    struct recv_histogram deliver; /* received -> delivered */
};

/* Adds one observation of seconds to an ingest (0) or delivery (1) histogram. */
void recv_metrics_observe(struct recv_histogram *h, int delivery, double seconds);

struct recv;

/*
 * Appends r's counters, histograms and the HTTP server's figures to out
 * as Prometheus text. 0 or an hw_buf error.
 */
int recv_metrics_render(struct recv *r, struct hw_buf *out);

#endif
