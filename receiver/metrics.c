/*
 * The receiver's /metrics: counters and histograms kept on the service
 * thread, the HTTP server's own counts, and the store figures the database
 * thread caches. Owns nothing; service thread only.
 */
#include "metrics.h"

#include "http/hwerror.h"
#include "net/http_server.h"
#include "recv.h"

static const double ingest_le[RECV_INGEST_BUCKETS] = { 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                       0.05,   0.1,   0.25,  0.5,   1,    5 };
static const double deliver_le[RECV_DELIVER_BUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 1800, 7200, 36000
};

static const char *const reject_names[RECV_REJECT_COUNT] = {
    "unknown_source", "signature", "too_large", "store_unavailable", "shutting_down", "invalid",
};

void recv_metrics_observe(struct recv_histogram *h, int delivery, double seconds)
{
    const double *le = delivery ? deliver_le : ingest_le;
    size_t n = delivery ? RECV_DELIVER_BUCKETS : RECV_INGEST_BUCKETS;

    h->count++;
    h->sum += seconds;
    for (size_t i = 0; i < n; i++)
        if (seconds <= le[i])
            h->le[i]++;
}

static int histogram(struct hw_buf *out, const char *name, const char *help,
                     const struct recv_histogram *h, int delivery)
{
    const double *le = delivery ? deliver_le : ingest_le;
    size_t n = delivery ? RECV_DELIVER_BUCKETS : RECV_INGEST_BUCKETS;
    int err = hw_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);

    for (size_t i = 0; i < n && !err; i++)
        err = hw_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, le[i],
                            (unsigned long long)h->le[i]);
    return err ? err
               : hw_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n",
                               name, (unsigned long long)h->count, name, h->sum, name,
                               (unsigned long long)h->count);
}

static int counter(struct hw_buf *out, const char *name, const char *help, uint64_t v)
{
    return hw_buf_printf(out,
                         "# HELP hookwire_receiver_%s_total %s\n"
                         "# TYPE hookwire_receiver_%s_total counter\n"
                         "hookwire_receiver_%s_total %llu\n",
                         name, help, name, name, (unsigned long long)v);
}

int recv_metrics_render(struct recv *r, struct hw_buf *out)
{
    const struct recv_metrics *m = &r->metrics;
    const struct hw_http_server_stats *st = hw_http_server_stats(r->http);
    uint64_t too_large = m->rejected[RECV_REJECT_TOO_LARGE];
    int err;

    /* Bodies past max-body are refused by the server before the receiver sees them. */
    too_large += st->errors[HW_ERRC_BODY_TOO_LARGE];
    err = counter(out, "received", "Webhook requests for a configured source.", m->received);
    err =
        err ? err : counter(out, "verified", "Webhooks whose signature checked out.", m->verified);
    err = err ? err
              : hw_buf_puts(out, "# HELP hookwire_receiver_rejected_total Webhooks refused, by "
                                 "reason.\n# TYPE hookwire_receiver_rejected_total counter\n");
    for (int i = 0; i < RECV_REJECT_COUNT && !err; i++)
        err = hw_buf_printf(
            out, "hookwire_receiver_rejected_total{reason=\"%s\"} %llu\n", reject_names[i],
            (unsigned long long)(i == RECV_REJECT_TOO_LARGE ? too_large : m->rejected[i]));
    err = err ? err : counter(out, "handshakes", "Provider handshakes answered.", m->handshakes);
    err = err ? err : counter(out, "stored", "Events committed and acknowledged.", m->stored);
    err = err ? err
              : counter(out, "duplicates", "Repeated deliveries answered with the first id.",
                        m->duplicates);
    err = err ? err
              : counter(out, "leased_at_append",
                        "Events leased to this receiver by their append and delivered from memory.",
                        m->leased_at_append);
    err = err ? err : counter(out, "delivered", "Events the backend accepted.", m->delivered);
    err = err ? err : counter(out, "failed", "Events whose attempts ran out.", m->failed);
    err = err ? err : counter(out, "retries", "Delivery attempts to be retried.", m->retries);
    err = err ? err
              : counter(out, "handed_back",
                        "Events claimed but not sent: they waited for a delivery slot until "
                        "their lease would end first, and were given back to be claimed again.",
                        m->handed_back);
    err = err ? err
              : counter(out, "shed",
                        "Connections closed unanswered: their request stalled while the "
                        "receiver was at max-held or its connection limit.",
                        st->shed);
    err = err ? err
              : hw_buf_printf(out,
                              "# HELP hookwire_receiver_connections Open connections.\n"
                              "# TYPE hookwire_receiver_connections gauge\n"
                              "hookwire_receiver_connections %llu\n"
                              "# HELP hookwire_receiver_held_bytes Request body bytes held.\n"
                              "# TYPE hookwire_receiver_held_bytes gauge\n"
                              "hookwire_receiver_held_bytes %llu\n",
                              (unsigned long long)st->connections,
                              (unsigned long long)st->held_bytes);
    err = err ? err
              : histogram(out, "hookwire_receiver_ingest_seconds",
                          "Complete request to acknowledgement (after the commit).", &m->ingest, 0);
    err = err ? err
              : histogram(out, "hookwire_receiver_delivery_seconds",
                          "Receipt to delivery accepted by the backend.", &m->deliver, 1);
    return err;
}
