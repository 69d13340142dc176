/*
 * The inspector's JSON API (routes in inspect_api.h): relay calls handed
 * to the relay threads and answered when they come back, the capture
 * ring's JSON, and replays, as is through the relay or edited to the app.
 * Service thread only.
 */
#include "inspect_api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "core/url.h"
#include "history.h"
#include "inspect.h"
#include "inspect_capture.h"
#include "inspect_json.h"
#include "inspect_replay.h"

#define ANSWER_MAX (96u * 1024 * 1024)

static struct agent_inspect_conn *conn_of(struct hw_http_conn *c)
{
    return hw_http_conn_user(c);
}

/* Hands j to a relay thread; c's answer waits for it. */
static void submit(struct agent_relays *rp, struct hw_http_conn *c, struct agent_relay_job *j,
                   agent_relay_done_fn done)
{
    if (!j) {
        agent_inspect_error(c, 503, "out of memory");
        return;
    }
    j->done = done;
    j->user = c;
    if (agent_relays_submit(rp, j)) {
        agent_inspect_error(c, 503, "too many relay calls waiting; try again");
        return;
    }
    conn_of(c)->job = j;
}

/* The connection whose answer j was for, or NULL when it went away. */
static struct hw_http_conn *job_conn(struct agent_relay_job *j)
{
    struct hw_http_conn *c = j->user;

    if (c)
        conn_of(c)->job = NULL;
    return c;
}

/* Answers c for a relay call that did not succeed; returns 1 when it did answer. */
static int relay_failed(struct hw_http_conn *c, struct agent_relay_job *j, int i)
{
    char text[160];

    if (j->err[i] == -ETIMEDOUT) {
        snprintf(text, sizeof(text), "the relay did not answer within %d s",
                 AGENT_HISTORY_TIMEOUT_S);
        agent_inspect_error(c, 504, text);
        return 1;
    }
    if (j->err[i] == AGENT_HISTORY_UNRESOLVED) {
        snprintf(text, sizeof(text),
                 "the relay's host name did not resolve: the name server did not answer "
                 "within %d s, or failed",
                 AGENT_HISTORY_TIMEOUT_S);
        agent_inspect_error(c, 504, text);
        return 1;
    }
    if (j->err[i]) {
        snprintf(text, sizeof(text), "the relay cannot be reached: %s", hw_strerror(j->err[i]));
        agent_inspect_error(c, 502, text);
        return 1;
    }
    if (j->status[i] == 401) {
        agent_inspect_error(c, 502, "the relay refused this agent's token");
        return 1;
    }
    if (j->status[i] == 404) {
        agent_inspect_error(c, 404, "no such event");
        return 1;
    }
    if (j->status[i] >= 300) {
        /* With the first line of its answer: the relay says why (a limit out of range...). */
        const char *b = hw_buf_head(&j->body[i]);
        size_t n = 0, len = hw_buf_size(&j->body[i]);

        while (n < len && n < 100 && b[n] >= 0x20 && b[n] < 0x7f)
            n++;
        snprintf(text, sizeof(text), "the relay answered %d%s%.*s", j->status[i], n ? ": " : "",
                 (int)n, b ? b : "");
        agent_inspect_error(c, j->status[i] == 400 ? 400 : 502, text);
        return 1;
    }
    return 0;
}

/* The relay's JSON goes to the browser as it came. */
static void pass_done(struct agent_relay_job *j)
{
    struct hw_http_conn *c = job_conn(j);

    if (c && !relay_failed(c, j, 0))
        agent_inspect_json(c, j->status[0], hw_buf_head(&j->body[0]), hw_buf_size(&j->body[0]));
}

/* The id in "/api/events/ID[/...]" of a job's first path. */
static void job_id(const struct agent_relay_job *j, char id[HW_ID_LEN + 1])
{
    memcpy(id, j->path[0] + 12, HW_ID_LEN);
    id[HW_ID_LEN] = '\0';
}

static void detail_done(struct agent_relay_job *j)
{
    struct hw_http_conn *c = job_conn(j);
    struct agent *a;
    char id[HW_ID_LEN + 1];
    struct hw_buf b;
    int err, found = 0, ok = !j->err[0] && j->status[0] == 200;

    if (!c)
        return;
    a = conn_of(c)->agent;
    job_id(j, id);
    hw_buf_init(&b, ANSWER_MAX);
    err = hw_buf_printf(&b, "{\"id\":\"%s\",\"relay\":", id);
    err = err ? err
              : hw_buf_append(&b, ok ? hw_buf_head(&j->body[0]) : "null",
                              ok ? hw_buf_size(&j->body[0]) : 4);
    err = err ? err : hw_buf_puts(&b, ",\"relay_status\":");
    err = err ? err : hw_buf_printf(&b, "%d,\"body_b64\":", j->err[0] ? 0 : j->status[0]);
    ok = ok && !j->err[1] && j->status[1] == 200;
    err = err ? err
              : agent_json_b64(&b, ok ? hw_buf_head(&j->body[1]) : "",
                               ok ? hw_buf_size(&j->body[1]) : 0);
    err = err ? err
              : hw_buf_printf(&b, ",\"body_from_relay\":%s,\"captures\":", ok ? "true" : "false");
    err = err ? err : agent_capture_json_event(a->capture, id, &b, &found);
    err = err ? err : hw_buf_puts(&b, "}\n");
    if (err)
        agent_inspect_error(c, 503, "out of memory");
    else if (found || (!j->err[0] && j->status[0] == 200))
        agent_inspect_json(c, 200, hw_buf_head(&b), hw_buf_size(&b));
    else
        relay_failed(c, j, 0);
    hw_buf_cleanup(&b);
}

static void edit_done(void *user, uint64_t seq, int status, const char *error)
{
    struct hw_http_conn *c = user;
    struct hw_buf b;
    int err;

    conn_of(c)->edit = NULL;
    hw_buf_init(&b, 1024);
    err = hw_buf_printf(&b, "{\"seq\":%llu,\"status\":%d,\"error\":", (unsigned long long)seq,
                        status);
    err = err ? err : hw_json_str(&b, error ? error : "", error ? strlen(error) : 0, HW_JSON_BYTES);
    err = err ? err : hw_buf_puts(&b, "}\n");
    if (err)
        agent_inspect_error(c, 503, "out of memory");
    else
        agent_inspect_json(c, status ? 200 : 502, hw_buf_head(&b), hw_buf_size(&b));
    hw_buf_cleanup(&b);
}

/* Sends the edited replay in doc for id, with the original's method and target. */
static void send_edit(struct hw_http_conn *c, const char *id, const char *doc, size_t doc_len,
                      const char *method, size_t method_len, const char *target, size_t target_len)
{
    struct agent_inspect_conn *ic = conn_of(c);
    struct hw_buf headers, body;
    const char *why = NULL;
    int err;

    hw_buf_init(&headers, AGENT_INSPECT_EDIT_MAX);
    hw_buf_init(&body, AGENT_INSPECT_EDIT_MAX);
    err = agent_json_get_str(doc, doc_len, "headers", &headers);
    if (err >= 0)
        err = agent_json_get_str(doc, doc_len, "body", &body);
    if (err < 0) {
        agent_inspect_error(c, 400,
                            "expected a JSON object {\"headers\": \"...\", \"body\": \"...\"}");
        goto out;
    }
    err = agent_replay_edited(ic->agent, id, method, method_len, target, target_len,
                              hw_buf_head(&headers), hw_buf_size(&headers), hw_buf_head(&body),
                              hw_buf_size(&body), edit_done, c, &ic->edit, &why);
    if (err == HW_EINVAL)
        agent_inspect_error(c, 400, why ? why : "bad request");
    else if (err)
        agent_inspect_error(c, 503, "the app cannot be reached from here now");
out:
    hw_buf_cleanup(&headers);
    hw_buf_cleanup(&body);
}

/* The original was looked up at the relay: its method, path and query. */
static void lookup_done(struct agent_relay_job *j)
{
    struct hw_http_conn *c = job_conn(j);
    struct agent_inspect_conn *ic;
    struct hw_buf method, path, query;
    const char *doc = hw_buf_head(&j->body[0]);
    size_t len = hw_buf_size(&j->body[0]);
    char id[HW_ID_LEN + 1];
    const char *prefix;
    size_t pre;

    if (!c || relay_failed(c, j, 0))
        return;
    ic = conn_of(c);
    job_id(j, id);
    /* Under --forward's path, as the tunnel's requests go (forward.c). */
    prefix = strcmp(ic->agent->target.path, "/") != 0 ? ic->agent->target.path : "";
    pre = strlen(prefix);
    hw_buf_init(&method, 64);
    hw_buf_init(&path, 8192);
    hw_buf_init(&query, 8192);
    if (hw_buf_append(&path, prefix, pre) || agent_json_get_str(doc, len, "method", &method) != 1 ||
        agent_json_get_str(doc, len, "path", &path) != 1 ||
        agent_json_get_str(doc, len, "query", &query) < 0) {
        agent_inspect_error(c, 502, "the relay's record of the event cannot be read");
    } else if (pre && hw_url_path_escapes((const char *)hw_buf_head(&path) + pre,
                                          hw_buf_size(&path) - pre)) {
        agent_inspect_error(c, 400, "path refused: it would leave --forward's path");
    } else if (hw_buf_size(&query) &&
               (hw_buf_append(&path, "?", 1) ||
                hw_buf_append(&path, hw_buf_head(&query), hw_buf_size(&query)))) {
        agent_inspect_error(c, 503, "out of memory");
    } else {
        send_edit(c, id, hw_buf_head(&ic->doc), hw_buf_size(&ic->doc), hw_buf_head(&method),
                  hw_buf_size(&method), hw_buf_head(&path), hw_buf_size(&path));
    }
    hw_buf_cleanup(&ic->doc);
    hw_buf_cleanup(&method);
    hw_buf_cleanup(&path);
    hw_buf_cleanup(&query);
}

static void replay(struct agent *a, struct agent_relays *rp, struct hw_http_conn *c, const char *id,
                   const struct hw_http_request *rq)
{
    struct agent_inspect_conn *ic = conn_of(c);
    struct agent_relay_job *j;
    const char *head, *body, *sp, *sp2;
    size_t head_len, body_len;

    if (!hw_buf_size(rq->body)) {
        /* As is: the relay delivers it again through the tunnel, as a new attempt. */
        j = agent_relay_job_new();
        if (j) {
            j->method = "POST";
            j->ncalls = 1;
            snprintf(j->path[0], sizeof(j->path[0]), "/api/events/%s/replay", id);
        }
        submit(rp, c, j, pass_done);
        return;
    }
    if (agent_json_get_str(hw_buf_head(rq->body), hw_buf_size(rq->body), "headers", NULL) != 1) {
        agent_inspect_error(c, 400,
                            "expected a JSON object {\"headers\": \"...\", \"body\": \"...\"}");
        return;
    }
    /* The request line the app got, when this agent saw the webhook. */
    if (agent_capture_request(a->capture, id, &head, &head_len, &body, &body_len) == 0 &&
        (sp = memchr(head, ' ', head_len)) &&
        (sp2 = memchr(sp + 1, ' ', head_len - (size_t)(sp + 1 - head)))) {
        send_edit(c, id, hw_buf_head(rq->body), hw_buf_size(rq->body), head, (size_t)(sp - head),
                  sp + 1, (size_t)(sp2 - sp - 1));
        return;
    }
    hw_buf_init(&ic->doc, AGENT_INSPECT_EDIT_MAX);
    if (hw_buf_append(&ic->doc, hw_buf_head(rq->body), hw_buf_size(rq->body))) {
        agent_inspect_error(c, 503, "out of memory");
        return;
    }
    j = agent_relay_job_new();
    if (j) {
        j->ncalls = 1;
        snprintf(j->path[0], sizeof(j->path[0]), "/api/events/%s", id);
    }
    submit(rp, c, j, lookup_done);
}

/* Copies the query's plain arguments (digits and lowercase letters) the relay's list takes. */
static int list_path(char *out, size_t cap, const char *q, size_t qlen)
{
    static const char *const keys[] = { "cursor", "limit", "status" };
    int n = snprintf(out, cap, "/api/events?x=1");

    while (qlen) {
        const char *amp = memchr(q, '&', qlen);
        size_t len = amp ? (size_t)(amp - q) : qlen;
        const char *eq = memchr(q, '=', len);

        for (size_t k = 0; eq && k < 3; k++) {
            size_t klen = strlen(keys[k]), vlen = len - klen - 1;
            if ((size_t)(eq - q) != klen || memcmp(q, keys[k], klen) != 0 || !vlen)
                continue;
            for (size_t i = 0; i < vlen; i++)
                if (!((eq[1 + i] >= '0' && eq[1 + i] <= '9') ||
                      (eq[1 + i] >= 'a' && eq[1 + i] <= 'z')))
                    return HW_EINVAL;
            n += snprintf(out + n, cap - (size_t)n, "&%.*s", (int)len, q);
            if ((size_t)n >= cap)
                return HW_EINVAL;
        }
        q += len + (amp ? 1 : 0);
        qlen -= len + (amp ? 1 : 0);
    }
    return 0;
}

/* Whether the target's path t[0..plen) is path. */
static int path_is(const char *t, size_t plen, const char *path)
{
    return plen == strlen(path) && memcmp(t, path, plen) == 0;
}

/*
 * Each path is matched first, then its method: a path of the API asked with
 * another method is 405, naming the one it takes; an unknown path is 404.
 */
void agent_inspect_api(struct agent *a, struct agent_relays *rp, struct hw_http_conn *c,
                       const struct hw_http_request *rq)
{
    const struct hw_http_head *h = rq->head;
    const char *t = h->target, *q = memchr(t, '?', h->target_len);
    size_t plen = q ? (size_t)(q - t) : h->target_len;
    /* HEAD reads as GET: the server sends the head alone. */
    int get = (h->method_len == 3 && memcmp(h->method, "GET", 3) == 0) ||
              (h->method_len == 4 && memcmp(h->method, "HEAD", 4) == 0);
    int post = h->method_len == 4 && memcmp(h->method, "POST", 4) == 0;
    struct agent_relay_job *j;
    char id[HW_ID_LEN + 1];
    struct hw_buf b;

    if (path_is(t, plen, "/api/events")) {
        if (!get)
            goto takes_get;
        j = agent_relay_job_new();
        if (j && list_path(j->path[0], sizeof(j->path[0]), q ? q + 1 : "",
                           q ? h->target_len - plen - 1 : 0)) {
            agent_relay_job_free(j);
            agent_inspect_error(c, 400, "cursor, limit and status take digits or a status name");
            return;
        }
        if (j)
            j->ncalls = 1;
        submit(rp, c, j, pass_done);
        return;
    }
    if (path_is(t, plen, "/api/refused")) {
        if (!get)
            goto takes_get;
        j = agent_relay_job_new();
        if (j) {
            j->ncalls = 1;
            snprintf(j->path[0], sizeof(j->path[0]), "/api/refused");
        }
        submit(rp, c, j, pass_done);
        return;
    }
    if (path_is(t, plen, "/api/info")) {
        if (!get)
            goto takes_get;
        hw_buf_init(&b, 4096);
        if (hw_buf_printf(&b, "{\"forward\":\"http://%s:%d\",\"relay\":", a->target.host,
                          a->target.port) ||
            hw_json_str(&b, a->cfg.relay, strlen(a->cfg.relay), HW_JSON_BYTES) ||
            hw_buf_puts(&b, ",\"public_url\":") ||
            hw_json_str(&b, agent_capture_public_url(a->capture),
                        strlen(agent_capture_public_url(a->capture)), HW_JSON_BYTES) ||
            hw_buf_puts(&b, "}\n"))
            agent_inspect_error(c, 503, "out of memory");
        else
            agent_inspect_json(c, 200, hw_buf_head(&b), hw_buf_size(&b));
        hw_buf_cleanup(&b);
        return;
    }
    if (path_is(t, plen, "/api/captures")) {
        if (!get)
            goto takes_get;
        hw_buf_init(&b, ANSWER_MAX);
        if (agent_capture_json_list(a->capture, &b) || hw_buf_append(&b, "\n", 1))
            agent_inspect_error(c, 503, "out of memory");
        else
            agent_inspect_json(c, 200, hw_buf_head(&b), hw_buf_size(&b));
        hw_buf_cleanup(&b);
        return;
    }
    /* Its GET is the event stream (inspect.c); nothing else is served there. */
    if (path_is(t, plen, "/api/stream")) {
        agent_inspect_error(c, 405, "method not allowed: this path takes GET");
        return;
    }
    if (plen >= 12 + HW_ID_LEN && memcmp(t, "/api/events/", 12) == 0) {
        memcpy(id, t + 12, HW_ID_LEN);
        id[HW_ID_LEN] = '\0';
        if (!hw_id_valid(id)) {
            agent_inspect_error(c, 404, "no such event");
            return;
        }
        if (plen == 12 + HW_ID_LEN) {
            if (!get)
                goto takes_get;
            j = agent_relay_job_new();
            if (j) {
                j->ncalls = 2;
                snprintf(j->path[0], sizeof(j->path[0]), "/api/events/%s", id);
                snprintf(j->path[1], sizeof(j->path[1]), "/api/events/%s/body", id);
            }
            submit(rp, c, j, detail_done);
            return;
        }
        if (path_is(t + 12 + HW_ID_LEN, plen - 12 - HW_ID_LEN, "/replay")) {
            if (post)
                replay(a, rp, c, id, rq);
            else
                agent_inspect_error(c, 405, "method not allowed: this path takes POST");
            return;
        }
    }
    agent_inspect_error(c, 404, "no such API");
    return;
takes_get:
    agent_inspect_error(c, 405, "method not allowed: this path takes GET or HEAD");
}

void agent_inspect_api_forget(struct hw_http_conn *c)
{
    struct agent_inspect_conn *ic = conn_of(c);

    agent_replay_edited_forget(ic->edit);
    ic->edit = NULL;
    hw_buf_cleanup(&ic->doc);
}
