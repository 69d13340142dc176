/*
 * Edited replays (see inspect_replay.h): the head built from the edited
 * lines and checked as one request, sent whole through the HTTP client's
 * collect mode on the app's target, its outcome put in the capture ring.
 * Owns struct agent_edit (freed when the request ends). Service thread only.
 */
#include "inspect_replay.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent.h"
#include "core/buf.h"
#include "core/err.h"
#include "http/http1.h"
#include "http/limits.h"
#include "inspect_capture.h"
#include "net/http_fetch.h"

struct agent_edit {
    struct agent *a;
    uint64_t seq;
    agent_edit_done_fn done;
    void *user; /* NULL once forgotten */
};

/* Framing belongs to the agent: the edited body's own length replaces these lines. */
static int framing(const char *line, size_t n)
{
    static const char *const names[] = {
        "content-length", "transfer-encoding", "connection",      "keep-alive", "te",
        "trailer",        "upgrade",           "proxy-connection"
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t k = strlen(names[i]);
        if (n > k && line[k] == ':' && strncasecmp(line, names[i], k) == 0)
            return 1;
    }
    return 0;
}

static int build(struct agent *a, struct hw_buf *b, const char *method, size_t method_len,
                 const char *target, size_t target_len, const char *headers, size_t headers_len,
                 size_t body_len)
{
    const char *p = headers, *end = headers + headers_len;
    int err, host = 0;

    err = hw_buf_append(b, method, method_len);
    err = err ? err : hw_buf_append(b, " ", 1);
    err = err ? err : hw_buf_append(b, target, target_len);
    err = err ? err : hw_buf_puts(b, " HTTP/1.1\r\n");
    while (!err && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((eol ? eol : end) - p);
        const char *next = eol ? eol + 1 : end;

        if (n && p[n - 1] == '\r')
            n--;
        if (n && !framing(p, n)) {
            host |= n > 5 && strncasecmp(p, "host:", 5) == 0;
            err = hw_buf_append(b, p, n);
            err = err ? err : hw_buf_append(b, "\r\n", 2);
        }
        p = next;
    }
    if (!err && !host)
        err = hw_buf_printf(b, "Host: %s:%d\r\n", a->target.host, a->target.port);
    if (!err && body_len)
        err = hw_buf_printf(b, "Content-Length: %zu\r\n", body_len);
    return err ? err : hw_buf_append(b, "\r\n", 2);
}

/*
 * The head must parse whole as one request, with no line the parser did not
 * accept, and hold what a server requires of one (the HTTP server's rules):
 * one valid Host, and a path as its target.
 */
static int check(const struct hw_buf *b)
{
    struct hw_http_head h;

    if (hw_http_parse_request(hw_buf_head(b), hw_buf_size(b), &h) != (int)hw_buf_size(b))
        return HW_EINVAL;
    return h.hosts != 1 || h.host_bad || !h.target_len || h.target[0] != '/' ? HW_EINVAL : 0;
}

static void on_done(const struct hw_http_result *res, void *user)
{
    struct agent_edit *e = user;
    struct agent_capture *cp = e->a->capture;

    if (res->status) {
        agent_capture_answer(cp, e->seq, res->status, hw_buf_head(&res->head),
                             hw_buf_size(&res->head));
        agent_capture_answer_body(cp, e->seq, hw_buf_head(&res->body), hw_buf_size(&res->body));
    }
    agent_capture_end(cp, e->seq, res->status ? NULL : res->fail_text);
    if (e->user)
        e->done(e->user, e->seq, res->status, res->fail_text);
    free(e);
}

int agent_replay_edited(struct agent *a, const char *id, const char *method, size_t method_len,
                        const char *target, size_t target_len, const char *headers,
                        size_t headers_len, const char *body, size_t body_len,
                        agent_edit_done_fn done, void *user, struct agent_edit **handle,
                        const char **why)
{
    struct hw_http_req_opts o = { .timeout_ms = AGENT_EDIT_TIMEOUT_MS };
    struct agent_edit *e;
    struct hw_buf msg;
    char m[16];
    size_t head_len;
    int err;

    *why = NULL;
    if (!method_len || method_len >= sizeof(m) || !a->app)
        return HW_EINVAL;
    memcpy(m, method, method_len);
    m[method_len] = '\0';
    o.method = m;
    hw_buf_init(&msg, HW_HEAD_MAX + body_len);
    err = build(a, &msg, method, method_len, target, target_len, headers, headers_len, body_len);
    if (err || check(&msg)) {
        hw_buf_cleanup(&msg);
        *why = err ? "the edited head is too large"
                   : "the edited header lines do not make a valid HTTP/1.1 request";
        return HW_EINVAL;
    }
    head_len = hw_buf_size(&msg);
    e = calloc(1, sizeof(*e));
    if (!e || hw_buf_append(&msg, body, body_len)) {
        free(e);
        hw_buf_cleanup(&msg);
        return HW_ENOMEM;
    }
    e->a = a;
    e->done = done;
    e->user = user;
    e->seq = agent_capture_begin(a->capture, id, strlen(id), "edited", hw_buf_head(&msg), head_len);
    agent_capture_body(a->capture, e->seq, body, body_len);
    if (!hw_http_fetch(a->app, &msg, &o, 256 * 1024, 0, on_done, e, &err)) {
        agent_capture_end(a->capture, e->seq, "cannot start the request to the app");
        hw_buf_cleanup(&msg);
        free(e);
        return err ? err : HW_ENOMEM;
    }
    *handle = e;
    return 0;
}

void agent_replay_edited_forget(struct agent_edit *e)
{
    if (e)
        e->user = NULL;
}
