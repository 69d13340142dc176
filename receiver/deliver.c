/*
 * Deliveries on the service thread: takes the events the database thread
 * claimed (several times `concurrency` ahead), keeps them in a queue per
 * source and sends `concurrency` at a time to the source's deliver-to
 * through the HTTP client (one pool per source), and hands each outcome
 * (delivered, retry at, failed) back to the database thread to be
 * recorded. Owns struct recv_deliver, the queues and the client targets.
 * Service thread.
 */
#include "deliver.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "db.h"
#include "net/http_fetch.h"
#include "net/tls_client.h"
#include "outgoing.h"
#include "recv.h"
#include "store/store.h"

/* Claimed events of one source waiting for a delivery slot, oldest first. */
struct src_queue {
    struct recv_job *head, **tail;
    size_t sending; /* fetches started and not answered yet, at most concurrency */
};

struct recv_deliver {
    struct recv *r;
    struct hw_http_target **targets; /* by source index */
    struct src_queue *q;             /* by source index */
    size_t inflight;
};

struct recv_deliver *recv_deliver_new(struct recv *r)
{
    struct recv_deliver *d = calloc(1, sizeof(*d));
    struct hw_tls_ctx *tls = NULL;
    char err[256];

    if (!d)
        return NULL;
    /* One TLS context for every https backend: deliver-ca-file, or the system store. */
    for (const struct recv_source *s = r->cfg.sources.head; s && !tls; s = s->next) {
        if (!s->deliver_url.tls)
            continue;
        tls = hw_tls_ctx_new(r->cfg.deliver_ca_file, 0, err, sizeof(err));
        if (!tls) {
            HW_ERR("deliver-ca-file: %s", err);
            goto fail;
        }
    }
    d->r = r;
    d->targets = calloc(r->cfg.sources.n, sizeof(*d->targets));
    d->q = calloc(r->cfg.sources.n, sizeof(*d->q));
    if (!d->targets || !d->q)
        goto fail;
    for (const struct recv_source *s = r->cfg.sources.head; s; s = s->next) {
        size_t idx = s->index;
        struct hw_http_target_opts o = {
            .address = s->deliver_url.host,
            .port = s->deliver_url.port,
            .max_conns = s->concurrency,
            .max_idle = s->concurrency,
            .max_pending = s->concurrency * 2,
            .tls = s->deliver_url.tls ? tls : NULL,
        };

        d->q[idx].tail = &d->q[idx].head;
        d->targets[idx] = hw_http_target_new(r->client, &o);
        if (!d->targets[idx])
            goto fail;
    }
    hw_tls_ctx_free(tls); /* the targets hold their own references */
    return d;
fail:
    hw_tls_ctx_free(tls);
    recv_deliver_free(d);
    return NULL;
}

void recv_deliver_free(struct recv_deliver *d)
{
    if (!d)
        return;
    /* The targets belong to the client, freed with it. */
    free(d->targets);
    /* Jobs still queued (the database thread is gone): their leases lapse. */
    for (size_t i = 0; d->q && i < d->r->cfg.sources.n; i++) {
        while (d->q[i].head) {
            struct recv_job *j = d->q[i].head;

            d->q[i].head = j->next;
            recv_job_free(j);
        }
    }
    free(d->q);
    free(d);
}

size_t recv_deliver_inflight(const struct recv_deliver *d)
{
    return d->inflight;
}

int recv_deliver_render(const struct recv_deliver *d, struct hw_buf *out)
{
    return hw_buf_printf(out,
                         "# HELP hookwire_receiver_deliveries_in_flight Deliveries sent and not "
                         "answered.\n"
                         "# TYPE hookwire_receiver_deliveries_in_flight gauge\n"
                         "hookwire_receiver_deliveries_in_flight %zu\n",
                         d->inflight);
}

/* Sets the job's outcome from the answer (or its absence) and the schedule. */
static void judge(struct recv_deliver *d, struct recv_job *j, const struct hw_http_result *res)
{
    struct recv *r = d->r;
    const char *ra = NULL, *what;
    char status[24];
    size_t ra_len = 0;
    uint64_t delay = 0;
    unsigned attempt = (unsigned)j->ev->attempts + 1;
    int64_t now = hw_wall_ms();
    int verdict = res->fail ? 0 : res->status;
    enum recv_outcome o;

    j->attempt.at_ms = now - res->duration_us / 1000;
    j->attempt.duration_ms = (int)(res->duration_us / 1000);
    /*
     * A 2xx head is the backend's verdict: delivered, though the body it sent
     * after it did not end (in time, or at all). The attempt keeps both.
     */
    if (res->fail && res->head_status >= 200 && res->head_status < 300)
        verdict = res->head_status;
    /* Any status the backend sent is kept, though a body cut short makes it no verdict. */
    j->attempt.http_status = res->fail && res->head_status ? res->head_status : verdict;
    if (res->fail) {
        snprintf(j->error, sizeof(j->error), "%s", res->fail_text ? res->fail_text : "failed");
        j->attempt.error = j->error;
    } else if (hw_buf_size(&res->body)) {
        j->excerpt = malloc(hw_buf_size(&res->body));
        if (j->excerpt) {
            memcpy(j->excerpt, hw_buf_head(&res->body), hw_buf_size(&res->body));
            j->attempt.excerpt = j->excerpt;
            j->attempt.excerpt_len = hw_buf_size(&res->body);
        }
    }
    if (!res->fail)
        ra = hw_http_result_header(res, "retry-after", &ra_len);
    o = recv_outcome(&r->cfg.schedule, attempt, verdict, ra, ra_len, now / 1000, &delay);
    /* The log names the failure: the client's error, or the status the backend answered. */
    what = j->error;
    if (!res->fail) {
        snprintf(status, sizeof(status), "status %d", res->status);
        what = status;
    }
    switch (o) {
    case RECV_DELIVERED:
        HW_DEBUG("evt=%s source=%s attempt %u: delivered, %s", j->ev->id, j->src->name, attempt,
                 what);
        j->new_status = HW_STORE_DELIVERED;
        r->metrics.delivered++;
        recv_metrics_observe(&r->metrics.deliver, 1, (double)(now - j->ev->received_ms) / 1000.0);
        break;
    case RECV_RETRY:
        j->new_status = HW_STORE_PENDING;
        j->next_ms = now + (int64_t)delay;
        r->metrics.retries++;
        HW_INFO("evt=%s source=%s attempt %u: %s, next in %llu ms", j->ev->id, j->src->name,
                attempt, what, (unsigned long long)delay);
        break;
    case RECV_FAILED:
        j->new_status = HW_STORE_FAILED;
        r->metrics.failed++;
        HW_WARN("evt=%s source=%s attempt %u: %s, attempts exhausted: failed", j->ev->id,
                j->src->name, attempt, what);
        break;
    }
}

/* The fetch's user pointer: the job and the deliverer it belongs to. */
struct pending {
    struct recv_deliver *d;
    struct recv_job *j;
};

static void start_queued(struct recv_deliver *d, size_t idx);

static void done(const struct hw_http_result *res, void *user)
{
    struct pending *p = user;
    struct recv_deliver *d = p->d;
    struct recv_job *j = p->j;
    size_t idx = j->src->index;

    free(p);
    d->inflight--;
    d->q[idx].sending--;
    if (res->fail == HW_HTTP_CANCELLED) {
        /*
         * Shutting down: no attempt was made to the end. Its lease is
         * released, no attempt counted, so that the next claim (another
         * instance, or the next start) sends it again at once.
         */
        j->abandon = 1;
    } else {
        judge(d, j, res);
    }
    recv_db_finish(d->r->db, j);
    start_queued(d, idx);
}

/* Builds and sends one delivery; on a local failure the attempt is recorded as failed to build. */
static void start(struct recv_deliver *d, struct recv_job *j)
{
    struct recv *r = d->r;
    const struct hw_store_event *ev = j->ev;
    struct recv_outgoing o = {
        .event_id = ev->id,
        .method = ev->method,
        .path = ev->path,
        .query = ev->query,
        .headers = ev->headers,
        .headers_len = ev->headers_len,
        .body = ev->body,
        .body_len = ev->body_len,
    };
    struct hw_http_req_opts ro = { 0 };
    struct pending *p = NULL;
    struct hw_buf msg;
    int err;

    hw_buf_init(&msg, (size_t)HW_STORE_HEADERS_MAX * 2 + HW_STORE_BODY_MAX);
    err = recv_outgoing_head(j->src, r->cfg.signer, &o, (unsigned)ev->attempts + 1,
                             hw_wall_ms() / 1000, &msg);
    err = err ? err : hw_buf_append(&msg, ev->body, ev->body_len);
    p = err ? NULL : malloc(sizeof(*p));
    if (!err && !p)
        err = HW_ENOMEM;
    if (!err) {
        p->d = d;
        p->j = j;
        ro.method = ev->method;
        ro.timeout_ms = r->cfg.deliver_timeout_ms;
        ro.connect_timeout_ms = r->cfg.deliver_timeout_ms < 5000 ? r->cfg.deliver_timeout_ms : 5000;
        if (hw_http_fetch(d->targets[j->src->index], &msg, &ro, HW_STORE_EXCERPT_MAX, 0, done, p,
                          &err)) {
            d->inflight++;
            d->q[j->src->index].sending++;
            hw_buf_cleanup(&msg);
            return;
        }
        free(p);
    }
    hw_buf_cleanup(&msg);
    {
        struct hw_http_result res;

        /* Recorded like a refused attempt, so the schedule still applies. */
        memset(&res, 0, sizeof(res));
        res.fail = HW_HTTP_REFUSED;
        /* No socket could be had (a name that does not resolve fails later, saying so). */
        res.fail_text = err == HW_ENOMEM     ? "out of memory"
                        : err == HW_EUNAVAIL ? "cannot open a connection to the backend"
                                             : "cannot build the request";
        HW_ERR("evt=%s source=%s cannot send the delivery to %s: %s", ev->id, j->src->name,
               j->src->deliver_to, res.fail_text);
        judge(d, j, &res);
        recv_db_finish(r->db, j);
    }
}

/*
 * Starts queued jobs of source idx while it has a free slot. A job whose
 * lease would run out during the attempt is not sent (no two holders ever
 * send it at once): it goes back with no attempt recorded, its lease is
 * released and a claim takes it again at once. While draining nothing new
 * starts, and the queued jobs go back the same way.
 */
static void start_queued(struct recv_deliver *d, size_t idx)
{
    struct recv *r = d->r;
    struct src_queue *q = &d->q[idx];

    while (q->head && (r->draining || q->sending < q->head->src->concurrency)) {
        struct recv_job *j = q->head;

        q->head = j->next;
        if (!q->head)
            q->tail = &q->head;
        j->next = NULL;
        if (r->draining ||
            hw_wall_ms() + (int64_t)r->cfg.deliver_timeout_ms >= j->ev->lease_until_ms) {
            if (!r->draining) {
                /* The backend takes longer than the lease leaves: the backlog waits here. */
                r->metrics.handed_back++;
                HW_WARN("evt=%s source=%s waited for a delivery slot until its lease would end "
                        "before an attempt could: given back to be claimed again (the backend "
                        "is slower than concurrency and lease allow)",
                        j->ev->id, j->src->name);
            }
            j->abandon = 1;
            recv_db_finish(r->db, j);
            continue;
        }
        start(d, j);
    }
}

static void enqueue(struct recv_deliver *d, struct recv_job *j)
{
    struct src_queue *q = &d->q[j->src->index];

    j->next = NULL;
    *q->tail = j;
    q->tail = &j->next;
}

void recv_deliver_pump(struct recv_deliver *d)
{
    struct recv_job *list = recv_db_take_claimed(d->r->db);

    while (list) {
        struct recv_job *j = list;

        list = j->next;
        enqueue(d, j);
    }
    for (size_t i = 0; i < d->r->cfg.sources.n; i++)
        start_queued(d, i);
}

void recv_deliver_leased(struct recv_deliver *d, const struct recv_source *src,
                         struct hw_store_event *ev, size_t bytes)
{
    struct recv_job *j = recv_db_leased_job(src, ev, bytes);

    if (!j) {
        /* Nothing was sent: the lease lapses and a claim takes it then. */
        HW_ERR("evt=%s out of memory for its delivery; it is claimed after its lease", ev->id);
        hw_store_event_free(ev);
        recv_db_unreserve(d->r->db, src, bytes);
        return;
    }
    enqueue(d, j);
    start_queued(d, src->index);
}
