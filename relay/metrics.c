/*
 * Prometheus text rendering of the relay's counters and gauges. Service
 * thread only.
 */
#include "metrics.h"

#include "channels.h"
#include "core/err.h"
#include "net/http_server.h"
#include "relay.h"
#include "store/store.h"
#include "tunnel.h"
#include "tunnel/mux.h"

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
        "hookwire_relay_agents_connected %zu\n"
        "# TYPE hookwire_relay_channel_connected gauge\n",
        (unsigned long long)m->agent_connects, (unsigned long long)m->agent_rejected,
        (unsigned long long)m->protocol_errors, (unsigned long long)m->heartbeat_timeouts,
        (unsigned long long)m->holders_dropped, (unsigned long long)ps->connections,
        (unsigned long long)ps->held_bytes, (unsigned long long)ps->shed,
        relay_channels_count(r->channels));
    struct render rd = { out, 0 };

    /* 0 when the store's commits would not survive a crash (MySQL settings; see docs/store.md). */
    if (r->store)
        err |= hw_buf_printf(out,
                             "# TYPE hookwire_relay_store_durable gauge\n"
                             "hookwire_relay_store_durable %d\n",
                             hw_store_durable(r->store));

    relay_channels_foreach(r->channels, render_channel, &rd);
    return err || rd.err ? HW_E2BIG : 0;
}
