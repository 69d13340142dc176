/*
 * Forwarder glue: one HTTP client request per tunnel stream. The request
 * head is written as received (Host optionally rewritten, Content-Length
 * added when the original framing was chunked) and checked before it goes
 * out; the answer's head goes back without its hop-by-hop headers, its body
 * paced by the stream's send room. The connections, their pool and the
 * answer's framing are net/http_client's. Service thread only.
 */
#include "forward.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agent.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/url.h"
#include "http/http1.h"
#include "http/limits.h"
#include "inspect_capture.h"
#include "net/http_client.h"
#include "net/tls_client.h"

/* Connections to the app, and requests queued or in flight, at most. */
#define FWD_MAX_CONNS   1024
#define FWD_MAX_PENDING 4096
#define FWD_CONNECT_MS  5000
/* Room reserved for the request line, the Host and Content-Length lines the agent may add,
 * and a body up to FWD_BODY_INLINE bytes, so a small request grows its buffer once. */
#define FWD_HEAD_EXTRA  512
#define FWD_BODY_INLINE (16 * 1024)

/* Lives in the client request's data area: freed with it. */
struct agent_fwd {
    struct agent *agent;
    struct hw_mux_stream *stream;
    struct hw_http_req *req;
    lws_usec_t started;
    uint64_t cap; /* the inspector's record of the exchange, or 0 */
    int status;
    unsigned body_done : 1;
    uint64_t body_left; /* of the length the REQUEST declared (its Content-Length to the app) */
    char method[16];
    char path[256];
    char event_id[40];
};

int agent_forward_init(struct agent *a)
{
    struct hw_http_client_opts co = { .connect_timeout_ms = FWD_CONNECT_MS };
    struct hw_http_target_opts to = {
        .address = a->target_addr,
        .host = a->target.host,
        .port = a->target.port,
        .max_conns = FWD_MAX_CONNS,
        .max_idle = a->cfg.max_idle_conns,
        .max_pending = FWD_MAX_PENDING,
    };
    char err[160];

    /* https://: the system's CAs and the target's host name, unless --forward-insecure. */
    if (a->target.tls) {
        to.tls = hw_tls_ctx_new(NULL, a->cfg.forward_insecure, err, sizeof(err));
        if (!to.tls) {
            HW_ERR("--forward %s: %s", a->cfg.forward, err);
            return HW_ECONFIG;
        }
    }
    a->http = hw_http_client_new(a->context, &co);
    a->app = a->http ? hw_http_target_new(a->http, &to) : NULL;
    hw_tls_ctx_free(to.tls); /* the target holds its own reference */
    return a->app ? 0 : HW_ENOMEM;
}

void agent_forward_cleanup(struct agent *a)
{
    hw_http_client_free(a->http);
    a->http = NULL;
    a->app = NULL;
}

/* Copies n bytes of p into dst as a string, cut to fit cap. */
static void copy_cut(char *dst, size_t cap, const char *p, size_t n)
{
    if (n > cap - 1)
        n = cap - 1;
    memcpy(dst, p, n);
    dst[n] = '\0';
}

static void log_result(struct agent_fwd *f, const char *failure)
{
    struct hw_log_req r = {
        .method = f->method,
        .path = f->path,
        .status = failure ? 0 : f->status,
        .ms = (double)(lws_now_usecs() - f->started) / 1000.0,
        .event_id = f->event_id,
        .failure = failure,
    };

    hw_log_request(&r);
}

/* Logs a request that failed before it reached the app. */
static void log_refused(const struct hw_msg_request *m, const char *failure)
{
    char method[16], path[256], id[40];

    copy_cut(method, sizeof(method), m->method.p, m->method.len);
    copy_cut(path, sizeof(path), m->target.p, m->target.len);
    copy_cut(id, sizeof(id), m->event_id.p, m->event_id.len);
    hw_log_request(&(struct hw_log_req){ method, path, 0, 0.0, id, failure });
}

/* Ends a request that failed here: tells the relay why and drops the exchange. */
static void fwd_fail(struct agent_fwd *f, uint16_t code, const char *why)
{
    struct hw_mux_stream *s = f->stream;

    log_result(f, why);
    agent_capture_end(f->agent->capture, f->cap, why);
    hw_mux_stream_set_user(s, NULL);
    hw_http_req_cancel(f->req); /* frees f */
    hw_mux_stream_reset(s, code, why);
}

/* Appends "Host: <target>:<port>\r\n" (appends, not printf: once per request). */
static int host_line(struct agent *a, struct hw_buf *b)
{
    int v6 = strchr(a->target.host, ':') != NULL;
    int err = hw_buf_puts(b, v6 ? "Host: [" : "Host: ");

    err = err ? err : hw_buf_puts(b, a->target.host);
    err = err ? err : hw_buf_puts(b, v6 ? "]:" : ":");
    err = err ? err : hw_buf_putu(b, (uint64_t)a->target.port);
    return err ? err : hw_buf_append(b, "\r\n", 2);
}

/*
 * Writes the request head for the target into b, checking the relay's parts as it goes:
 * the head goes to the app as is, on a connection that may carry the next request too,
 * so it must parse as one request whose framing is exactly the announced body: nothing
 * the relay sent may split it or smuggle another. One pass over the header block does
 * both (hw_http_block_next() accepts only lines that parse, none hop-by-hop).
 * Returns 0, HW_EPROTO for a malformed head, or HW_E2BIG/HW_ENOMEM for one too large.
 */
static int build_head(struct agent *a, struct hw_buf *b, const struct hw_msg_request *m)
{
    const char *p = m->headers.p, *end = p + m->headers.len, *run = p;
    struct hw_http_block blk = { 0 };
    struct hw_http_header h;
    int err, rc = 0, hosts = 0, added = 0, rewrite = strcmp(a->cfg.host_header, "rewrite") == 0;
    const char *q = memchr(m->target.p, '?', m->target.len);

    /* Origin-form only: the relay sends a path; "http://host/" would name another server. */
    if (!hw_http_is_token(m->method.p, m->method.len) ||
        !hw_http_is_target(m->target.p, m->target.len) || m->target.p[0] != '/')
        return HW_EPROTO;
    /* Under --forward's path, a segment that leads out of it is refused (the relay does too). */
    if (strcmp(a->target.path, "/") != 0 &&
        hw_url_path_escapes(m->target.p, q ? (size_t)(q - m->target.p) : m->target.len))
        return HW_EINVAL;
    err = hw_buf_append(b, m->method.p, m->method.len);
    err = err ? err : hw_buf_append(b, " ", 1);
    /* --forward http://host:port/api: every path goes under /api ("/api" + "/hook"). */
    if (!err && strcmp(a->target.path, "/") != 0 && m->target.len && m->target.p[0] == '/')
        err = hw_buf_puts(b, a->target.path);
    err = err ? err : hw_buf_append(b, m->target.p, m->target.len);
    err = err ? err : hw_buf_append(b, " HTTP/1.1\r\n", 11);
    /* Checked lines go out in runs, as received; a rewritten Host line ends a run. */
    while (!err && (rc = hw_http_block_next(&blk, &p, end, &h)) == 1) {
        if (h.name_len != 4 || strncasecmp(h.name, "host", 4) != 0)
            continue;
        hosts++;
        if (rewrite) {
            err = hw_buf_append(b, run, (size_t)(h.name - run));
            err = err ? err : host_line(a, b);
            run = p;
        }
    }
    err = err ? err : hw_buf_append(b, run, (size_t)(p - run));
    if (err)
        return err;
    /* Two Host lines: the app could read either (the relay refuses such a request). */
    if (rc < 0 || hosts > 1)
        return HW_EPROTO;
    /* An HTTP/1.0 sender may have sent no Host; the app gets HTTP/1.1, which needs one. */
    if (!hosts) {
        err = host_line(a, b);
        added++;
    }
    /* A chunked request lost its Transfer-Encoding at the relay; say its length here. */
    if (!err && m->body_len && !blk.has_length) {
        err = hw_buf_puts(b, "Content-Length: ");
        err = err ? err : hw_buf_putu(b, m->body_len);
        err = err ? err : hw_buf_append(b, "\r\n", 2);
        blk.has_length = 1;
        blk.content_length = m->body_len;
        added++;
    }
    err = err ? err : hw_buf_append(b, "\r\n", 2);
    if (err)
        return err;
    /* As many lines as a parser of the head would take; the framing is the announced body. */
    if (blk.nheaders + (size_t)added > HW_HTTP_MAX_HEADERS ||
        (blk.has_length && blk.content_length != m->body_len))
        return HW_EPROTO;
    return 0;
}

static void on_head(struct hw_http_req *r, void *user, const struct hw_http_head *h,
                    const char *raw, size_t raw_len)
{
    struct agent_fwd *f = hw_http_req_data(r);
    struct hw_msg_response m;
    struct hw_http_run run = { 0 };
    struct hw_buf hb;
    int err = 0, kept_length = 0;

    /* Three digits parse, but no status past 599 exists: the relay would refuse it as well. */
    if (h->status > 599) {
        char why[80];

        snprintf(why, sizeof(why), "malformed answer head: status %d is outside 100-599",
                 h->status);
        fwd_fail(f, HW_RST_TARGET_ERROR, why);
        return;
    }
    hw_buf_init(&hb, HW_FRAME_MAX_PAYLOAD / 2);
    for (size_t i = 0; i < h->nheaders && !err; i++) {
        const struct hw_http_header *hd = &h->headers[i];
        /* Hookwire-Error marks the relay's own answers; an app's would mislead. */
        if (hw_http_is_hop_by_hop(h, hd) ||
            (hd->name_len == 14 && strncasecmp(hd->name, "hookwire-error", 14) == 0))
            continue;
        if (hd->name_len == 14 && strncasecmp(hd->name, "content-length", 14) == 0)
            kept_length = 1;
        err = hw_http_run_add(&run, &hb, hd);
    }
    err = err ? err : hw_http_run_flush(&run, &hb);
    m.status = (uint16_t)h->status;
    /* The length travels in the Content-Length line; without it the relay re-frames. */
    m.body_len = h->body == HW_BODY_LENGTH ? (kept_length ? h->content_length : HW_BODY_LEN_UNKNOWN)
                 : h->body == HW_BODY_NONE ? 0
                                           : HW_BODY_LEN_UNKNOWN;
    m.reason = (struct hw_str){ h->reason, h->reason_len };
    m.headers = (struct hw_str){ hw_buf_head(&hb), hw_buf_size(&hb) };
    err = err ? err : hw_mux_send_response(f->stream, &m);
    hw_buf_cleanup(&hb);
    f->status = h->status;
    agent_capture_answer(f->agent->capture, f->cap, h->status, raw, raw_len);
    if (err)
        fwd_fail(f, HW_RST_TOO_LARGE, "response head too large");
}

/* Takes what the stream has room for; asks for on_drain when it had to leave some. */
static size_t on_body(struct hw_http_req *r, void *user, const char *p, size_t n)
{
    struct agent_fwd *f = hw_http_req_data(r);
    size_t room = hw_mux_send_room(f->stream), take = n < room ? n : room;

    if (take && hw_mux_send_body(f->stream, p, take))
        take = 0;
    agent_capture_answer_body(f->agent->capture, f->cap, p, take);
    if (take < n)
        hw_mux_want_drain(f->stream);
    return take;
}

/* The exchange is over: the stream finishes sending. */
static void on_end(struct hw_http_req *r, void *user)
{
    struct agent_fwd *f = hw_http_req_data(r);

    log_result(f, NULL);
    agent_capture_end(f->agent->capture, f->cap, NULL);
    hw_mux_stream_set_user(f->stream, NULL);
    hw_mux_send_end(f->stream);
    hw_mux_stream_close(f->stream);
}

static void on_error(struct hw_http_req *r, void *user, enum hw_http_fail why, const char *text)
{
    struct agent_fwd *f = hw_http_req_data(r);
    /* A TLS failure means no usable connection to the app, as a refused connect does. */
    uint16_t code = why == HW_HTTP_REFUSED || why == HW_HTTP_TLS ? HW_RST_REFUSED
                    : why == HW_HTTP_TIMEOUT                     ? HW_RST_TIMEOUT
                    : why == HW_HTTP_TOO_LARGE                   ? HW_RST_TOO_LARGE
                                                                 : HW_RST_TARGET_ERROR;

    log_result(f, text);
    agent_capture_end(f->agent->capture, f->cap, text);
    hw_mux_stream_set_user(f->stream, NULL);
    hw_mux_stream_reset(f->stream, code, text);
}

/* Body bytes reached the app's socket: the relay may send more. */
static void on_sent(struct hw_http_req *r, void *user, size_t n)
{
    struct agent_fwd *f = hw_http_req_data(r);

    hw_mux_consumed(f->stream, n);
}

static const struct hw_http_req_cb fwd_cb = {
    .on_head = on_head,
    .on_body = on_body,
    .on_end = on_end,
    .on_error = on_error,
    .on_sent = on_sent,
};

void agent_forward_on_request(struct agent *a, struct hw_mux_stream *s, const struct hw_frame *fr)
{
    struct hw_msg_request msg;
    struct hw_http_req_opts o = { 0 };
    struct agent_fwd *f;
    struct hw_http_req *r;
    struct hw_buf head;
    char method[16];
    uint64_t cap;
    size_t want;
    int err;

    /* The relay holds a whole body before it forwards: its length is always known. */
    if (hw_frame_decode_request(fr, &msg) || msg.body_len == HW_BODY_LEN_UNKNOWN) {
        hw_mux_stream_reset(s, HW_RST_PROTOCOL, "malformed request head");
        return;
    }
    hw_buf_init(&head, HW_FORWARDED_HEAD_MAX);
    /* The body follows the head in the same buffer: one allocation for both when small. */
    want = msg.method.len + msg.target.len + msg.headers.len + FWD_HEAD_EXTRA +
           (msg.body_len < FWD_BODY_INLINE ? msg.body_len : FWD_BODY_INLINE);
    err = hw_buf_reserve(&head, want < HW_HEAD_MAX ? want : HW_HEAD_MAX) ? 0 : HW_ENOMEM;
    err = err ? err : build_head(a, &head, &msg);
    if (err) {
        const char *why = err == HW_EPROTO   ? "malformed request head from the relay"
                          : err == HW_EINVAL ? "path refused: it would leave --forward's path"
                                             : "request head too large";

        hw_buf_cleanup(&head);
        log_refused(&msg, why);
        hw_mux_stream_reset(s,
                            err == HW_EPROTO   ? HW_RST_PROTOCOL
                            : err == HW_EINVAL ? HW_RST_REFUSED
                                               : HW_RST_TOO_LARGE,
                            why);
        return;
    }
    copy_cut(method, sizeof(method), msg.method.p, msg.method.len);
    o.method = method;
    /* The relay's --response-timeout governs the exchange; the stream's reset ends it. */
    o.timeout_ms = HW_HTTP_NO_DEADLINE;
    o.body_done = msg.body_len == 0;
    o.data_size = sizeof(struct agent_fwd);
    /* Recorded before the client takes the head's storage. */
    cap = agent_capture_begin(a->capture, msg.event_id.p, msg.event_id.len, NULL,
                              hw_buf_head(&head), hw_buf_size(&head));
    r = hw_http_req_start(a->app, &head, &o, &fwd_cb, NULL, &err);
    hw_buf_cleanup(&head);
    if (!r) {
        const char *why =
            err == HW_EFULL ? "too many requests in flight" : "cannot connect to the target";

        log_refused(&msg, why);
        agent_capture_end(a->capture, cap, why);
        hw_mux_stream_reset(s, HW_RST_REFUSED, why);
        return;
    }
    f = hw_http_req_data(r);
    f->agent = a;
    f->stream = s;
    f->req = r;
    f->started = lws_now_usecs();
    f->cap = cap;
    f->body_done = o.body_done;
    f->body_left = msg.body_len;
    memcpy(f->method, method, sizeof(f->method));
    copy_cut(f->path, sizeof(f->path), msg.target.p, msg.target.len);
    copy_cut(f->event_id, sizeof(f->event_id), msg.event_id.p, msg.event_id.len);
    hw_mux_stream_set_user(s, f);
}

void agent_forward_on_data(struct agent_fwd *f, const uint8_t *p, size_t n)
{
    if (!f)
        return;
    /* Past the declared length the bytes would reach the app as the start of another request. */
    if (n > f->body_left) {
        fwd_fail(f, HW_RST_PROTOCOL, "more body than the request declared");
        return;
    }
    f->body_left -= n;
    agent_capture_body(f->agent->capture, f->cap, p, n);
    if (hw_http_req_write(f->req, p, n))
        fwd_fail(f, HW_RST_TARGET_ERROR, "out of memory");
}

void agent_forward_on_end(struct agent_fwd *f)
{
    if (!f || f->body_done)
        return;
    /* Short of it, the app would wait for the rest until a timeout. */
    if (f->body_left) {
        fwd_fail(f, HW_RST_PROTOCOL, "the request body ended before its declared length");
        return;
    }
    f->body_done = 1;
    if (hw_http_req_finish(f->req))
        fwd_fail(f, HW_RST_TARGET_ERROR, "out of memory");
}

/* "cancelled by the relay", with the relay's reason in printable ASCII (it goes into the log). */
static const char *relay_cancel(char *out, size_t cap, const char *text, size_t len)
{
    size_t n = (size_t)snprintf(out, cap, "cancelled by the relay%s", len ? ": " : "");

    for (size_t i = 0; i < len && n + 1 < cap; i++)
        out[n++] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
    out[n < cap ? n : cap - 1] = '\0';
    return out;
}

void agent_forward_on_reset(struct agent_fwd *f, uint16_t code, const char *text, size_t len)
{
    char said[160];
    const char *why;

    if (!f)
        return;
    if (code == HW_RST_TUNNEL_LOST)
        why = !f->agent->stopping ? "tunnel lost"
              : f->status         ? "the agent stopped mid-answer: the answer was cut"
                                  : "the agent stopped before the app answered: left to the relay";
    else if (code == HW_RST_TIMEOUT)
        why = "timeout: the app did not answer within the relay's --response-timeout";
    else
        why = relay_cancel(said, sizeof(said), text, len);
    log_result(f, why);
    agent_capture_end(f->agent->capture, f->cap, why);
    hw_http_req_cancel(f->req); /* frees f */
}

void agent_forward_on_drain(struct agent_fwd *f)
{
    if (f)
        hw_http_req_resume(f->req);
}
