/*
 * Prometheus text rendering of the relay's counters and gauges. Service
 * thread only.
 */
#include "metrics.h"

#include "channels.h"
#include "core/err.h"
#include "net/http_server.h"
#include "queue.h"
#include "relay.h"
#include "store/store.h"
#include "tunnel.h"
#include "tunnel/mux.h"

/* Bucket bounds in microseconds, matching the "le" labels below. */
static const int64_t bounds_us[RELAY_LATENCY_BUCKETS] = {
    1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
static const char *const bounds_le[RELAY_LATENCY_BUCKETS] = {
    "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
};

void relay_metrics_observe_answer(struct relay_metrics *m, int64_t latency_us)
{
    int i = 0;

    if (latency_us < 0)
        latency_us = 0;
    while (i < RELAY_LATENCY_BUCKETS && latency_us > bounds_us[i])
        i++;
    m->latency_counts[i]++;
    m->latency_sum_us += (uint64_t)latency_us;
}

/* Requests by outcome, the queue's counters and the latency histogram. */
static int render_outcomes(const struct relay_metrics *m, const struct hw_http_server_stats *ps,
                           uint64_t depth, struct hw_buf *out)
{
    uint64_t errors = 0, offline = ps->errors[HW_ERRC_AGENT_OFFLINE], cum = 0, count = 0;
    int err = 0;

    for (int e = 0; e < HW_ERRC_COUNT; e++)
        errors += ps->errors[e];
    err |= hw_buf_printf(out,
                         "# TYPE hookwire_relay_outcomes_total counter\n"
                         "hookwire_relay_outcomes_total{outcome=\"answered\"} %llu\n"
                         "hookwire_relay_outcomes_total{outcome=\"queued\"} %llu\n"
                         "hookwire_relay_outcomes_total{outcome=\"offline\"} %llu\n"
                         "hookwire_relay_outcomes_total{outcome=\"error\"} %llu\n"
                         "# TYPE hookwire_relay_queued_total counter\n"
                         "hookwire_relay_queued_total %llu\n"
                         "# TYPE hookwire_relay_drained_total counter\n"
                         "hookwire_relay_drained_total %llu\n"
                         "# TYPE hookwire_relay_queue_depth gauge\n"
                         "hookwire_relay_queue_depth %llu\n"
                         "# TYPE hookwire_relay_config_reloads_total counter\n"
                         "hookwire_relay_config_reloads_total{result=\"ok\"} %llu\n"
                         "hookwire_relay_config_reloads_total{result=\"failed\"} %llu\n"
                         "# TYPE hookwire_relay_answer_seconds histogram\n",
                         (unsigned long long)m->answered, (unsigned long long)m->queued,
                         (unsigned long long)offline, (unsigned long long)(errors - offline),
                         (unsigned long long)m->queued, (unsigned long long)m->drained,
                         (unsigned long long)depth, (unsigned long long)m->reloads_ok,
                         (unsigned long long)m->reloads_failed);
    for (int i = 0; i <= RELAY_LATENCY_BUCKETS; i++) {
        cum += m->latency_counts[i];
        err |= hw_buf_printf(out, "hookwire_relay_answer_seconds_bucket{le=\"%s\"} %llu\n",
                             i < RELAY_LATENCY_BUCKETS ? bounds_le[i] : "+Inf",
                             (unsigned long long)cum);
    }
    count = cum;
    err |= hw_buf_printf(out,
                         "hookwire_relay_answer_seconds_sum %.6f\n"
                         "hookwire_relay_answer_seconds_count %llu\n",
                         (double)m->latency_sum_us / 1e6, (unsigned long long)count);
    return err;
}

/* The output and the first error met while rendering the per-channel lines. */
struct render {
    struct hw_buf *out;
    int err;
};

static void render_channel(void *arg, const char *name, struct relay_agent *a)
{
    struct render *rd = arg;

    if (rd->err)
        return;
    rd->err = hw_buf_printf(rd->out, "hookwire_relay_channel_connected{channel=\"%s\"} 1\n", name);
    if (!rd->err)
        rd->err = hw_buf_printf(rd->out, "hookwire_relay_channel_streams{channel=\"%s\"} %zu\n",
                                name, hw_mux_stream_count(relay_agent_mux(a)));
}

int relay_metrics_render(struct relay *r, struct hw_buf *out)
{
    const struct relay_metrics *m = &r->metrics;
    const struct hw_http_server_stats *ps = hw_http_server_stats(r->ingress);
    int err = 0;

    err |= hw_buf_printf(out,
                         "# TYPE hookwire_relay_requests_total counter\n"
                         "hookwire_relay_requests_total %llu\n",
                         (unsigned long long)m->requests);
    err |= hw_buf_printf(out,
                         "# TYPE hookwire_relay_responses_total counter\n"
                         "hookwire_relay_responses_total %llu\n",
                         (unsigned long long)m->responses);
    err |= hw_buf_printf(out, "# TYPE hookwire_relay_errors_total counter\n");
    for (int e = 0; e < HW_ERRC_COUNT; e++)
        err |= hw_buf_printf(out, "hookwire_relay_errors_total{code=\"%s\"} %llu\n",
                             hw_errc_name(e), (unsigned long long)(m->errors[e] + ps->errors[e]));
    err |= hw_buf_printf(
        out,
        "# TYPE hookwire_relay_agent_connects_total counter\n"
        "hookwire_relay_agent_connects_total %llu\n"
        "# TYPE hookwire_relay_agent_rejected_total counter\n"
        "hookwire_relay_agent_rejected_total %llu\n"
        "# TYPE hookwire_relay_protocol_errors_total counter\n"
        "hookwire_relay_protocol_errors_total %llu\n"
        "# TYPE hookwire_relay_heartbeat_timeouts_total counter\n"
        "hookwire_relay_heartbeat_timeouts_total %llu\n"
        "# TYPE hookwire_relay_holders_dropped_total counter\n"
        "hookwire_relay_holders_dropped_total %llu\n"
        "# TYPE hookwire_relay_public_connections gauge\n"
        "hookwire_relay_public_connections %llu\n"
        "# TYPE hookwire_relay_held_bytes gauge\n"
        "hookwire_relay_held_bytes %llu\n"
        "# TYPE hookwire_relay_shed_total counter\n"
        "hookwire_relay_shed_total %llu\n"
        "# TYPE hookwire_relay_agents_connected gauge\n"
        "hookwire_relay_agents_connected %zu\n",
        (unsigned long long)m->agent_connects, (unsigned long long)m->agent_rejected,
        (unsigned long long)m->protocol_errors, (unsigned long long)m->heartbeat_timeouts,
        (unsigned long long)m->holders_dropped, (unsigned long long)ps->connections,
        (unsigned long long)ps->held_bytes, (unsigned long long)ps->shed,
        relay_channels_count(r->channels));
    struct render rd = { out, 0 };

    /* Live webhooks held for their history record, and what that bound did. */
    err |= hw_buf_printf(out,
                         "# TYPE hookwire_relay_history_held_bytes gauge\n"
                         "hookwire_relay_history_held_bytes %zu\n"
                         "# TYPE hookwire_relay_history_full_total counter\n"
                         "hookwire_relay_history_full_total %llu\n"
                         "# TYPE hookwire_relay_history_lost_total counter\n"
                         "hookwire_relay_history_lost_total %llu\n"
                         "# TYPE hookwire_relay_tunnel_connections gauge\n"
                         "hookwire_relay_tunnel_connections %ld\n"
                         "# TYPE hookwire_relay_tunnel_full_total counter\n"
                         "hookwire_relay_tunnel_full_total %llu\n"
                         "# TYPE hookwire_relay_api_held_bytes gauge\n"
                         "hookwire_relay_api_held_bytes %zu\n",
                         r->history_held, (unsigned long long)m->history_full,
                         (unsigned long long)m->history_lost, r->tunnel_conns,
                         (unsigned long long)m->tunnel_full, r->api_held);

    /* 0 when the store's commits would not survive a crash (MySQL settings; see docs/store.md). */
    if (r->store)
        err |= hw_buf_printf(out,
                             "# TYPE hookwire_relay_store_durable gauge\n"
                             "hookwire_relay_store_durable %d\n",
                             hw_store_durable(r->store));

    err |= render_outcomes(m, ps, relay_queue_depth(r->queue), out);
    /* Channel names are webhook URLs: listed only when the operator asks for it. */
    if (r->cfg.metrics_channels) {
        err |= hw_buf_printf(out, "# TYPE hookwire_relay_channel_connected gauge\n"
                                  "# TYPE hookwire_relay_channel_streams gauge\n");
        relay_channels_foreach(r->channels, render_channel, &rd);
    }
    return err || rd.err ? HW_E2BIG : 0;
}
