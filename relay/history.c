/*
 * The history API (see history.h): authorisation by channel token, the
 * store calls on the store thread (hw_store_job_async) and their JSON
 * answers. Owns struct relay_history_call. Service thread, except the job
 * functions, which run on the store thread and touch only their call.
 */
#include "history.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/text.h"
#include "http/hwerror.h"
#include "outcomes.h"
#include "queue.h"
#include "refused.h"
#include "relay.h"
#include "store/store.h"
#include "tunnel.h"

enum call_kind { CALL_LIST, CALL_SHOW, CALL_BODY, CALL_REPLAY };

/*
 * The longest a call waits for the store before its caller is answered 503
 * HW_STORE_UNAVAILABLE (a lock held by another process, a database away):
 * below the agent's own 30 s deadline, so the agent prints the answer.
 */
#define STORE_WAIT_US (5 * LWS_US_PER_SEC)

struct relay_history_call {
    struct lws *wsi; /* NULL once orphaned */
    struct relay *r;
    struct hw_buf *out;
    struct relay_history_call **slot;
    enum call_kind kind;
    char channel[HW_STORE_NAME_MAX + 1];
    char id[HW_ID_LEN + 1];
    struct hw_store_filter f;
    /* results, filled on the store thread */
    struct hw_store_events list;
    struct hw_store_event *ev;
    struct hw_store_attempts attempts;
    int head;                       /* HEAD request */
    lws_sorted_usec_list_t overdue; /* STORE_WAIT_US after the call began */
    int late;                       /* its caller was answered 503 before the store was done */
    int was_pending;                /* a replay found the event waiting for delivery already */
    char peer[64];                  /* for the log */
    char request[160];              /* "METHOD URI", cut, for the log */
    struct relay_history_call *prev, *next; /* in `queued` while its store job is */
};

/* The calls whose store job was queued and has not completed (relay_history_stop()). */
static struct relay_history_call *queued;

/*
 * An error answer, counted in errors_total and logged with who asked what:
 * a wrong token or an unavailable store as a warning, a request that names
 * nothing (a typo, a missing id) at info.
 */
static int refuse(struct relay *r, const char *peer, const char *request, enum hw_errc e, int head,
                  struct hw_buf *out)
{
    int status = hw_errc_status(e);

    r->metrics.errors[e]++;
    if (e == HW_ERRC_UNAUTHORIZED)
        HW_WARN("conn=%s api %s: no channel token or a wrong one (%d)", peer, request, status);
    else if (e == HW_ERRC_STORE_UNAVAILABLE)
        HW_WARN("conn=%s api %s: the store is unavailable (%d)", peer, request, status);
    else if (e == HW_ERRC_EVENT_IN_FLIGHT)
        HW_INFO("conn=%s api %s: the event is being delivered; a replay must wait for that "
                "attempt's end (%d)",
                peer, request, status);
    else
        HW_INFO("conn=%s api %s: %s (%d)", peer, request,
                e == HW_ERRC_NOT_FOUND ? "no such event or endpoint for this channel"
                                       : "a malformed query",
                status);
    return hw_error_response(out, e, 1,
                             e == HW_ERRC_STORE_UNAVAILABLE ? "Retry-After: 1\r\n" : NULL, head);
}

static int json_event(struct hw_buf *b, const struct hw_store_event *ev)
{
    int err =
        hw_buf_printf(b, "{\"id\":\"%s\",\"seq\":%lld,\"received_ms\":%lld,\"method\":", ev->id,
                      (long long)ev->seq, (long long)ev->received_ms);

    err = err ? err : hw_json_str(b, ev->method, strlen(ev->method), HW_JSON_BYTES);
    err = err ? err : hw_buf_puts(b, ",\"path\":");
    err = err ? err : hw_json_str(b, ev->path, strlen(ev->path), HW_JSON_BYTES);
    err = err ? err : hw_buf_puts(b, ",\"query\":");
    err = err ? err : hw_json_str(b, ev->query, strlen(ev->query), HW_JSON_BYTES);
    err = err ? err
              : hw_buf_printf(b,
                              ",\"status\":\"%s\",\"attempts\":%d,\"last_status\":%d,"
                              "\"body_len\":%zu,\"last_error\":",
                              hw_store_status_name(ev->status), ev->attempts, ev->last_status,
                              ev->body_len);
    err = err ? err : hw_json_str(b, ev->last_error, strlen(ev->last_error), HW_JSON_BYTES);
    err = err ? err
              : hw_buf_puts(b, ev->verify == HW_STORE_VERIFIED        ? ",\"verify\":\"verified\""
                               : ev->verify == HW_STORE_VERIFY_FAILED ? ",\"verify\":\"failed\""
                                                                      : ",\"verify\":\"none\"");
    return err;
}

/* A whole answer: status line, type, length, then the body (left out for HEAD). */
static int answer(struct hw_buf *out, int status, const char *type, const void *body, size_t n,
                  int head)
{
    int err = hw_buf_printf(out,
                            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                            "Cache-Control: no-store\r\n\r\n",
                            status, hw_http_reason(status), type, n);

    return err || head ? err : hw_buf_append(out, body, n);
}

/*
 * A live webhook that was a plain success is stored without an attempt row
 * (docs/decisions.md): its one attempt is shown from the event, sent when
 * it arrived, with the duration unknown (null).
 */
static int summary_attempt(struct hw_buf *b, const struct hw_store_event *ev)
{
    const char *error = ev->last_error ? ev->last_error : "";
    int rc = hw_buf_printf(b, "{\"at_ms\":%lld,\"duration_ms\":null,\"http_status\":%d,\"error\":",
                           (long long)ev->received_ms, ev->last_status);

    rc = rc ? rc : hw_json_str(b, error, strlen(error), HW_JSON_BYTES);
    return rc ? rc : hw_buf_puts(b, "}");
}

static int build(struct relay_history_call *c, int err, struct hw_buf *out)
{
    struct hw_buf b;
    int rc = 0;

    if (err)
        return refuse(c->r, c->peer, c->request,
                      err == HW_ENOTFOUND ? HW_ERRC_NOT_FOUND
                      : err == HW_EINVAL  ? HW_ERRC_BAD_REQUEST
                                          : HW_ERRC_STORE_UNAVAILABLE,
                      c->head, out);
    if (c->kind == CALL_BODY)
        return answer(out, 200, "application/octet-stream", c->ev->body, c->ev->body_len, c->head);
    hw_buf_init(&b, 64 * 1024 * 1024);
    if (c->kind == CALL_LIST) {
        rc = hw_buf_puts(&b, "{\"events\":[");
        for (size_t i = 0; i < c->list.n && !rc; i++) {
            rc = i ? hw_buf_puts(&b, ",") : 0;
            rc = rc ? rc : json_event(&b, c->list.v[i]);
            rc = rc ? rc : hw_buf_puts(&b, "}");
        }
        rc = rc ? rc
                : hw_buf_printf(&b, "],\"next_cursor\":%lld}\n", (long long)c->list.next_cursor);
    } else if (c->kind == CALL_SHOW) {
        rc = json_event(&b, c->ev);
        rc = rc ? rc : hw_buf_puts(&b, ",\"headers\":");
        rc = rc ? rc
                : hw_json_str(&b, c->ev->headers ? c->ev->headers : "", c->ev->headers_len,
                              HW_JSON_BYTES);
        rc = rc ? rc : hw_buf_puts(&b, ",\"attempts_list\":[");
        if (!rc && !c->attempts.n && c->ev->attempts > 0)
            rc = summary_attempt(&b, c->ev);
        for (size_t i = 0; i < c->attempts.n && !rc; i++) {
            const struct hw_store_attempt *a = c->attempts.v[i];

            rc = hw_buf_printf(&b,
                               "%s{\"at_ms\":%lld,\"duration_ms\":%d,\"http_status\":%d,\"error\":",
                               i ? "," : "", (long long)a->at_ms, a->duration_ms, a->http_status);
            rc = rc ? rc
                    : hw_json_str(&b, a->error ? a->error : "", a->error ? strlen(a->error) : 0,
                                  HW_JSON_BYTES);
            rc = rc ? rc : hw_buf_puts(&b, "}");
        }
        rc = rc ? rc : hw_buf_puts(&b, "]}\n");
    } else if (c->was_pending) {
        /* No attempt is added: it goes with the queue, as it would have. */
        rc = hw_buf_printf(&b, "{\"id\":\"%s\",\"replayed\":false,\"pending\":true}\n", c->id);
    } else {
        rc = hw_buf_printf(&b, "{\"id\":\"%s\",\"replayed\":true}\n", c->id);
    }
    rc = rc ? rc
            : answer(out, c->kind == CALL_REPLAY && !c->was_pending ? 202 : 200, "application/json",
                     hw_buf_head(&b), hw_buf_size(&b), c->head);
    hw_buf_cleanup(&b);
    return rc;
}

/* Store thread: the call's work. Another channel's event is reported as missing. */
static int run(struct hw_store *s, void *arg)
{
    struct relay_history_call *c = arg;
    int err;

    if (c->kind == CALL_LIST)
        return hw_store_list(s, &c->f, &c->list);
    err = hw_store_inspect(s, c->id, &c->ev, &c->attempts);
    if (!err && strcmp(c->ev->source, c->channel) != 0)
        err = HW_ENOTFOUND;
    if (!err && c->kind == CALL_REPLAY) {
        /* Requeued all the same (a no-op for the store); the answer tells the two apart. */
        c->was_pending = c->ev->status == HW_STORE_PENDING;
        err = hw_store_requeue(s, c->id, HW_STORE_REQUEUE_FORCE);
    }
    return err;
}

static void call_free(struct relay_history_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (queued == c)
        queued = c->next;
    if (c->next)
        c->next->prev = c->prev;
    lws_sul_cancel(&c->overdue);
    hw_store_events_cleanup(&c->list);
    hw_store_event_free(c->ev);
    hw_store_attempts_cleanup(&c->attempts);
    free(c);
}

/*
 * Whether a body of n bytes must wait: the answers in memory would pass
 * --max-held, which bounds them apart from the public port's requests (one
 * alone always goes, whatever its size).
 */
static int over_budget(const struct relay *r, size_t n)
{
    return r->api_held && r->api_held + n > r->cfg.max_held;
}

/* c->out emptied back to its LWS_PRE headroom, for an answer that replaces what was built. */
static void out_restart(struct relay_history_call *c)
{
    hw_buf_reset(c->out);
    if (hw_buf_reserve(c->out, LWS_PRE))
        hw_buf_commit(c->out, LWS_PRE);
}

/* c->out is the answer: it counts in r->api_held until api.c lets it go, and goes out. */
static void hand_over(struct relay_history_call *c)
{
    *c->slot = NULL;
    c->r->api_held += hw_buf_size(c->out);
    lws_callback_on_writable(c->wsi);
}

/* Service thread: the work is done; answer if the connection is still there. */
static void done(void *arg, int err)
{
    struct relay_history_call *c = arg;
    struct relay *r = c->r;
    int rc;

    if (!err && c->kind == CALL_REPLAY && r->queue)
        relay_queue_replay(r->queue, c->channel, c->ev->seq);
    if (!err && c->kind == CALL_REPLAY && c->late)
        HW_WARN("conn=%s evt=%s replayed after all, though its caller was answered 503", c->peer,
                c->id);
    if (c->wsi) {
        if (!err && c->kind == CALL_BODY && !c->head && over_budget(r, c->ev->body_len)) {
            HW_WARN("api: %zu bytes of answers in memory: the body of %s (%zu bytes) is "
                    "refused for now (429)",
                    r->api_held, c->id, c->ev->body_len);
            rc = HW_E2BIG;
        } else {
            rc = build(c, err, c->out);
            if (rc)
                HW_WARN("api: no room for the answer about %s: %s", c->id[0] ? c->id : "the list",
                        hw_strerror(rc));
        }
        if (rc) {
            /* Whatever part was built goes: a head must not promise a body that never comes. */
            out_restart(c);
            r->metrics.errors[HW_ERRC_OVERLOADED]++;
            hw_error_response(c->out, HW_ERRC_OVERLOADED, 1, "Retry-After: 1\r\n", c->head);
        }
        hand_over(c);
    }
    call_free(c);
}

/*
 * The store has not answered in STORE_WAIT_US: the caller gets 503 now. A
 * call no store thread has started is withdrawn, so that the 503 is the
 * whole truth (a replay answered 503 does not happen later) and a store
 * that stalls does not pile up work nobody waits for; one under way ends
 * unseen, and done() frees it.
 */
/* Answers c's caller e now, before the store is done (if ever), and hands the answer over. */
static void answer_early(struct relay_history_call *c, enum hw_errc e)
{
    out_restart(c);
    refuse(c->r, c->peer, c->request, e, c->head, c->out);
    hand_over(c);
}

static void overdue_cb(lws_sorted_usec_list_t *sul)
{
    struct relay_history_call *c = lws_container_of(sul, struct relay_history_call, overdue);
    int withdrawn = c->r->store && hw_store_withdraw_job(c->r->store, done, c) == 0;

    if (c->wsi) {
        c->late = !withdrawn;
        answer_early(c, HW_ERRC_STORE_UNAVAILABLE);
        c->wsi = NULL;
    }
    if (withdrawn)
        call_free(c);
}

size_t relay_history_answer_max(const struct relay *r)
{
    /* The largest body, and the room its head or a list's JSON needs. */
    return r->cfg.max_body + 4 * 1024 * 1024;
}

void relay_history_orphan(struct relay_history_call *call)
{
    if (call)
        call->wsi = NULL;
}

void relay_history_stop(struct relay *r)
{
    struct relay_history_call *c, *next;

    for (c = queued; c && r->store; c = next) {
        next = c->next;
        if (hw_store_withdraw_job(r->store, done, c) != 0)
            continue; /* under way: it ends as usual */
        if (c->wsi)
            answer_early(c, HW_ERRC_SHUTTING_DOWN);
        call_free(c);
    }
}

/* The query argument name (with its '='), or NULL. */
static const char *arg(struct lws *wsi, const char *name, char *buf, int len)
{
    return lws_get_urlarg_by_name(wsi, name, buf, len);
}

int relay_history_start(struct lws *wsi, struct relay *r, const char *uri, struct hw_buf *out,
                        struct relay_history_call **call)
{
    struct relay_history_call *c;
    int head = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
    int post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    char channel[64], v[64], peer[64], request[160];
    const char *rest, *p;
    int rc, err = 0;

    *call = NULL;
    if (!lws_get_peer_simple(wsi, peer, sizeof(peer)))
        snprintf(peer, sizeof(peer), "?");
    snprintf(request, sizeof(request), "%s %.140s", head ? "HEAD" : post ? "POST" : "GET", uri);
    /* A stopping relay takes no new store work: its store is about to close. */
    if (r->stopping)
        return refuse(r, peer, request, HW_ERRC_SHUTTING_DOWN, head, out);
    rc = relay_tunnel_authenticate(r, wsi, channel);
    if (rc)
        return refuse(r, peer, request,
                      rc == HW_EAUTH ? HW_ERRC_UNAUTHORIZED : HW_ERRC_STORE_UNAVAILABLE, head, out);
    c = calloc(1, sizeof(*c));
    if (!c)
        return HW_ENOMEM;
    memcpy(c->peer, peer, sizeof(peer));
    memcpy(c->request, request, sizeof(request));
    c->wsi = wsi;
    c->r = r;
    c->out = out;
    c->slot = call;
    c->head = head;
    snprintf(c->channel, sizeof(c->channel), "%s", channel);
    if (strcmp(uri, "/api/refused") == 0 && !post) {
        /* Kept in memory by the service thread: answered at once, no store call. */
        struct hw_buf b;

        hw_buf_init(&b, 64 * 1024 * 1024);
        rc = relay_refused_json(r->refused, c->channel, &b);
        rc = rc ? rc : answer(out, 200, "application/json", hw_buf_head(&b), hw_buf_size(&b), head);
        hw_buf_cleanup(&b);
        call_free(c);
        return rc;
    }
    if (strcmp(uri, "/api/events") == 0 && !post) {
        c->kind = CALL_LIST;
        c->f.source = c->channel;
        c->f.limit = 50;
        if ((p = arg(wsi, "limit=", v, sizeof(v)))) {
            uint64_t n = 0;

            err = hw_text_uint(p, strlen(p), 1000, &n) || n < 1 ? HW_EINVAL : 0;
            c->f.limit = (size_t)n;
        }
        if (!err && (p = arg(wsi, "status=", v, sizeof(v)))) {
            rc = hw_store_status_parse(p);
            err = rc < 0 ? HW_EINVAL : 0;
            c->f.status = rc;
        }
        if (!err && (p = arg(wsi, "cursor=", v, sizeof(v)))) {
            uint64_t n = 0;

            err = hw_text_uint(p, strlen(p), INT64_MAX, &n);
            c->f.cursor = (int64_t)n;
        }
    } else if (strncmp(uri, "/api/events/", 12) == 0) {
        rest = uri + 12;
        p = strchr(rest, '/');
        if ((size_t)(p ? p - rest : (long)strlen(rest)) != HW_ID_LEN) {
            err = HW_ENOTFOUND;
        } else {
            memcpy(c->id, rest, HW_ID_LEN);
            if (!hw_id_valid(c->id))
                err = HW_ENOTFOUND;
            else if (p && strcmp(p, "/replay") == 0 && post)
                c->kind = CALL_REPLAY;
            else if (p && strcmp(p, "/body") == 0 && !post)
                c->kind = CALL_BODY;
            else if (!p && !post)
                c->kind = (p = arg(wsi, "body=", v, sizeof(v))) && strcmp(p, "1") == 0 ? CALL_BODY
                                                                                       : CALL_SHOW;
            else
                err = HW_ENOTFOUND;
        }
    } else {
        err = HW_ENOTFOUND;
    }
    if (err) {
        rc = build(c, err, out);
        call_free(c);
        return rc;
    }
    /* Its outcome would be written after the replay, and undo it: the replay must wait. */
    if (c->kind == CALL_REPLAY && (relay_queue_in_flight(r->queue, c->channel, c->id) ||
                                   relay_outcomes_holds(r->outcomes, c->id))) {
        rc = refuse(r, peer, request, HW_ERRC_EVENT_IN_FLIGHT, head, out);
        call_free(c);
        return rc;
    }
    rc = hw_store_job_async(r->store, run, done, c);
    if (rc) {
        rc = refuse(r, peer, request, HW_ERRC_STORE_UNAVAILABLE, head, out);
        call_free(c);
        return rc;
    }
    *call = c;
    c->next = queued;
    if (queued)
        queued->prev = c;
    queued = c;
    lws_sul_schedule(r->context, 0, &c->overdue, overdue_cb, STORE_WAIT_US);
    /* lws's own wait for an answer (5 s) must not close the connection before the 503. */
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int)(STORE_WAIT_US / LWS_US_PER_SEC) + 5);
    return 0;
}
