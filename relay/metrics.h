#ifndef RELAY_METRICS_H
#define RELAY_METRICS_H

/*
 * Counters the relay exposes at /metrics (Prometheus text). Plain integers:
 * only the service thread touches them.
 */
#include <stdint.h>

#include "core/buf.h"
#include "http/hwerror.h"

struct relay;

/* Upper bounds (seconds) of the answer-latency histogram's buckets; +Inf is implied. */
#define RELAY_LATENCY_BUCKETS 12

struct relay_metrics {
    uint64_t requests;  /* webhooks accepted for forwarding */
    uint64_t responses; /* answers relayed back from agents */
    uint64_t errors[HW_ERRC_COUNT];
    uint64_t agent_connects;
    uint64_t agent_rejected;  /* tunnel upgrades refused (token) */
    uint64_t protocol_errors; /* tunnels closed for breaking the protocol */
    uint64_t heartbeat_timeouts;
    uint64_t holders_dropped; /* silent holders replaced by a newcomer (claim.c) */
    uint64_t answered;        /* webhooks whose app answer head went back to the sender */
    uint64_t reloads_ok;      /* SIGHUP reloads applied (reload.c) */
    uint64_t reloads_failed;  /* SIGHUP reloads refused: the running configuration stayed */
    uint64_t history_full;    /* live webhooks refused (429): --history-buffer was full */
    uint64_t history_lost;    /* live webhooks whose record the store refused (logged) */
    uint64_t tunnel_full;     /* tunnel-port connections closed at accept: the cap was reached */
    /*
     * The offline queue's counters (queue.c and queue_drain.c count them):
     * webhooks committed to a channel's queue (answered 202 on the agent's
     * behalf), and queued events an agent's app accepted. The depth is read
     * from the queue.
     */
    uint64_t queued;
    uint64_t drained;
    /* Complete request to the app's answer head, per bucket (not cumulative), sum in us. */
    uint64_t latency_counts[RELAY_LATENCY_BUCKETS + 1];
    uint64_t latency_sum_us;
};

/* Counts one answer head that went back latency_us after its request was complete. */
void relay_metrics_observe_answer(struct relay_metrics *m, int64_t latency_us);

/*
 * Appends the Prometheus exposition of all counters and gauges to out, with
 * the public server's own (connections, held bytes, its error answers).
 * Per-channel lines (channel names are webhook URLs) only with
 * --metrics-channels. Returns 0 or HW_E2BIG.
 */
int relay_metrics_render(struct relay *r, struct hw_buf *out);

#endif
