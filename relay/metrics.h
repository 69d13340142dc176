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

struct relay_metrics {
    uint64_t requests;  /* webhooks accepted for forwarding */
    uint64_t responses; /* answers relayed back from agents */
    uint64_t errors[HW_ERRC_COUNT];
    uint64_t agent_connects;
    uint64_t agent_rejected;  /* tunnel upgrades refused (token) */
    uint64_t protocol_errors; /* tunnels closed for breaking the protocol */
    uint64_t heartbeat_timeouts;
    uint64_t holders_dropped; /* silent holders replaced by a newcomer (claim.c) */
};

/*
 * Appends the Prometheus exposition of all counters and gauges to out, with
 * the public server's own (connections, held bytes, its error answers).
 */
int relay_metrics_render(struct relay *r, struct hw_buf *out);

#endif
