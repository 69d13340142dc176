/*
 * Forwarder: one fwd_req per tunnel stream, one fwd_conn per TCP connection
 * to the target, idle connections pooled for reuse. The request head is
 * written as received (Host optionally rewritten, Content-Length added when
 * the original framing was chunked); the response head is parsed by our
 * HTTP/1.1 code and sent back without its hop-by-hop headers, its body
 * de-chunked and paced by the stream's send room. Service thread only.
 */
#include "forward.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "http/http1.h"
#include "net/lwsio.h"

#define HEAD_MAX (64 * 1024)
#define REPLAY_MAX                                                                 \
    (64 * 1024) /* requests up to this size are retried once on a stale connection \
                 */
#define OUT_LOW (256 * 1024)
#define IN_MAX  (2 * 1024 * 1024)

enum resp_state { R_HEAD, R_BODY, R_DONE };

struct fwd_req;

struct fwd_conn {
    struct agent *agent;
    struct lws *wsi;
    struct fwd_req *req;
    struct fwd_conn *next_idle;
    struct hw_buf out;     /* bytes for the target */
    struct hw_buf in;      /* bytes from the target, not yet parsed */
    struct hw_buf pending; /* decoded body bytes waiting for stream room */
    enum resp_state state;
    enum hw_http_body body_kind;
    uint64_t body_left;
    struct hw_chunked chunked;
    size_t credit_owed;
    unsigned connected : 1, reused : 1, idle : 1, keep_alive : 1, paused : 1;
    unsigned eof : 1;        /* the target closed; a close-delimited body is complete */
    unsigned got_bytes : 1;  /* the target sent something for the current request */
    unsigned in_connect : 1; /* inside lws_client_connect_via_info() */
    unsigned failed : 1;     /* the connection failed during that call */
};

struct fwd_req {
    struct agent *agent;
    struct hw_mux_stream *stream;
    struct fwd_conn *conn;
    struct hw_buf replay; /* everything sent so far, while it fits REPLAY_MAX */
    lws_usec_t started;
    int status;
    unsigned req_end : 1, resp_started : 1, retried : 1, replayable : 1;
    char method[16];
    char path[256];
    char event_id[40];
};

struct fwd_pool {
    struct fwd_conn *idle;
    unsigned nidle;
};

int agent_forward_init(struct agent *a)
{
    a->pool = calloc(1, sizeof(*a->pool));
    return a->pool ? 0 : HW_ENOMEM;
}

void agent_forward_cleanup(struct agent *a)
{
    free(a->pool);
    a->pool = NULL;
}

static void conn_want_write(struct fwd_conn *c)
{
    if (c->wsi && c->connected)
        lws_callback_on_writable(c->wsi);
}

static void conn_kill(struct fwd_conn *c)
{
    if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void idle_remove(struct fwd_conn *c)
{
    struct fwd_pool *p = c->agent->pool;
    struct fwd_conn **pp = &p->idle;

    if (!c->idle)
        return;
    while (*pp != c)
        pp = &(*pp)->next_idle;
    *pp = c->next_idle;
    c->idle = 0;
    p->nidle--;
}

static void req_free(struct fwd_req *r)
{
    hw_buf_cleanup(&r->replay);
    free(r);
}

static void log_result(struct fwd_req *r, const char *failure)
{
    double ms = (double)(lws_now_usecs() - r->started) / 1000.0;

    if (failure)
        HW_INFO("%s %s failed: %s %.1fms evt=%s", r->method, r->path, failure, ms, r->event_id);
    else
        HW_INFO("%s %s %d %.1fms evt=%s", r->method, r->path, r->status, ms, r->event_id);
}

/* Ends a request that failed: tells the relay why and drops the connection. */
static void req_fail(struct fwd_req *r, uint16_t code, const char *why)
{
    struct fwd_conn *c = r->conn;

    log_result(r, why);
    if (c) {
        c->req = NULL;
        conn_kill(c);
    }
    hw_mux_stream_reset(r->stream, code, why);
    req_free(r);
}

static struct fwd_conn *conn_new(struct agent *a)
{
    struct fwd_conn *c = calloc(1, sizeof(*c));
    struct lws_client_connect_info i;

    if (!c)
        return NULL;
    c->agent = a;
    hw_buf_init(&c->out, (size_t)-1);
    hw_buf_init(&c->in, IN_MAX);
    hw_buf_init(&c->pending, (size_t)-1);
    memset(&i, 0, sizeof(i));
    i.context = a->context;
    i.address = a->target_addr;
    i.port = a->target.port;
    i.host = a->target.host;
    i.origin = a->target.host;
    i.method = "RAW";
    i.local_protocol_name = agent_forward_protocol.name;
    i.opaque_user_data = c;
    i.pwsi = &c->wsi;
    /* lws may report a failure from inside the call; then the caller frees c here. */
    c->in_connect = 1;
    if (!lws_client_connect_via_info(&i) || c->failed) {
        hw_buf_cleanup(&c->out);
        hw_buf_cleanup(&c->in);
        hw_buf_cleanup(&c->pending);
        free(c);
        return NULL;
    }
    c->in_connect = 0;
    return c;
}

static void conn_free(struct fwd_conn *c)
{
    idle_remove(c);
    hw_buf_cleanup(&c->out);
    hw_buf_cleanup(&c->in);
    hw_buf_cleanup(&c->pending);
    free(c);
}

/* Takes an idle connection, or opens a new one. NULL if none can be had now. */
static struct fwd_conn *conn_get(struct agent *a)
{
    struct fwd_conn *c = a->pool->idle;

    if (c) {
        idle_remove(c);
        c->reused = 1;
        return c;
    }
    return conn_new(a);
}

static void conn_attach(struct fwd_conn *c, struct fwd_req *r)
{
    c->req = r;
    r->conn = c;
    c->state = R_HEAD;
    c->credit_owed = 0;
    c->paused = 0;
    c->got_bytes = 0;
    hw_buf_reset(&c->in);
    hw_buf_reset(&c->pending);
    hw_buf_reset(&c->out);
    if (hw_buf_append(&c->out, hw_buf_head(&r->replay), hw_buf_size(&r->replay))) {
        req_fail(r, HW_RST_TARGET_ERROR, "out of memory");
        return;
    }
    conn_want_write(c);
}

/* Finds a header line "Name:value\r\n" in a raw block, case-insensitively. */
static int block_has(const struct hw_str *blk, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = blk->p, *end = blk->p + blk->len;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if ((size_t)(end - p) > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0)
            return 1;
        if (!eol)
            break;
        p = eol + 1;
    }
    return 0;
}

/*
 * The head goes to the app as is, on a connection that may carry the next
 * request too, so it must parse as one request whose framing is exactly the
 * announced body: nothing the relay sent may split it or smuggle another.
 * Returns 0 or HW_EPROTO.
 */
static int check_head(const struct hw_buf *b, uint64_t body_len)
{
    struct hw_http_head h;
    int rc = hw_http_parse_request(hw_buf_head(b), hw_buf_size(b), &h);

    if (rc != (int)hw_buf_size(b))
        return HW_EPROTO;
    for (size_t i = 0; i < h.nheaders; i++)
        if (hw_http_is_hop_by_hop(&h, &h.headers[i]))
            return HW_EPROTO;
    if (body_len ? h.body != HW_BODY_LENGTH || h.content_length != body_len
                 : h.body == HW_BODY_LENGTH && h.content_length != 0)
        return HW_EPROTO;
    return 0;
}

/* Writes the request head for the target into r->replay. */
static int build_head(struct agent *a, struct fwd_req *r, const struct hw_msg_request *m)
{
    struct hw_buf *b = &r->replay;
    const char *p = m->headers.p, *end = p + m->headers.len;
    int err, rewrite = strcmp(a->cfg.host_header, "rewrite") == 0;

    err = hw_buf_printf(b, "%.*s %.*s HTTP/1.1\r\n", (int)m->method.len, m->method.p,
                        (int)m->target.len, m->target.p);
    while (!err && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol + 1 - p) : (size_t)(end - p);
        if (rewrite && n > 5 && strncasecmp(p, "host:", 5) == 0)
            err = hw_buf_printf(b, "Host: %s:%d\r\n", a->target.host, a->target.port);
        else
            err = hw_buf_append(b, p, n);
        p += n;
    }
    /* An HTTP/1.0 sender may have sent no Host; the app gets HTTP/1.1, which needs one. */
    if (!err && !block_has(&m->headers, "host"))
        err = hw_buf_printf(b, "Host: %s:%d\r\n", a->target.host, a->target.port);
    /* A chunked request lost its Transfer-Encoding at the relay; say its length here. */
    if (!err && m->body_len && !block_has(&m->headers, "content-length"))
        err = hw_buf_printf(b, "Content-Length: %llu\r\n", (unsigned long long)m->body_len);
    err = err ? err : hw_buf_append(b, "\r\n", 2);
    return err ? err : check_head(b, m->body_len);
}

void agent_forward_on_request(struct hw_mux *m, struct hw_mux_stream *s, const struct hw_frame *f)
{
    struct agent *a = hw_mux_user(m);
    struct hw_msg_request msg;
    struct fwd_req *r;
    struct fwd_conn *c;

    if (hw_frame_decode_request(f, &msg)) {
        hw_mux_stream_reset(s, HW_RST_PROTOCOL, "malformed request head");
        return;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        hw_mux_stream_reset(s, HW_RST_TARGET_ERROR, "out of memory");
        return;
    }
    r->agent = a;
    r->stream = s;
    r->started = lws_now_usecs();
    r->replayable = 1;
    hw_buf_init(&r->replay, HEAD_MAX + REPLAY_MAX);
    snprintf(r->method, sizeof(r->method), "%.*s", (int)msg.method.len, msg.method.p);
    snprintf(r->path, sizeof(r->path), "%.*s", (int)msg.target.len, msg.target.p);
    snprintf(r->event_id, sizeof(r->event_id), "%.*s", (int)msg.event_id.len, msg.event_id.p);
    hw_mux_stream_set_user(s, r);
    switch (build_head(a, r, &msg)) {
    case 0:
        break;
    case HW_EPROTO:
        req_fail(r, HW_RST_PROTOCOL, "malformed request head from the relay");
        return;
    default:
        req_fail(r, HW_RST_TOO_LARGE, "request head too large");
        return;
    }
    c = conn_get(a);
    if (!c) {
        req_fail(r, HW_RST_REFUSED, "cannot connect to the target");
        return;
    }
    conn_attach(c, r);
}

void agent_forward_on_data(struct hw_mux *m, struct hw_mux_stream *s, const uint8_t *p, size_t n)
{
    struct fwd_req *r = hw_mux_stream_user(s);
    struct fwd_conn *c = r->conn;

    if (r->replayable && hw_buf_append(&r->replay, p, n)) {
        r->replayable = 0;
        hw_buf_cleanup(&r->replay);
    }
    if (hw_buf_append(&c->out, p, n)) {
        req_fail(r, HW_RST_TARGET_ERROR, "out of memory");
        return;
    }
    c->credit_owed += n;
    conn_want_write(c);
}

void agent_forward_on_end(struct hw_mux *m, struct hw_mux_stream *s)
{
    struct fwd_req *r = hw_mux_stream_user(s);

    r->req_end = 1;
}

void agent_forward_on_reset(struct hw_mux *m, struct hw_mux_stream *s, uint16_t code,
                            const char *text, size_t len)
{
    struct fwd_req *r = hw_mux_stream_user(s);

    if (!r)
        return;
    log_result(r, code == HW_RST_TUNNEL_LOST ? "tunnel lost" : "cancelled by the relay");
    if (r->conn) {
        r->conn->req = NULL;
        if (r->conn->eof)
            conn_free(r->conn); /* already closed by the target */
        else
            conn_kill(r->conn);
    }
    req_free(r);
}

/* The exchange is over: the stream finishes sending, the connection is reused or closed. */
static void req_done(struct fwd_conn *c)
{
    struct fwd_req *r = c->req;
    struct fwd_pool *p = c->agent->pool;

    log_result(r, NULL);
    hw_mux_send_end(r->stream);
    hw_mux_stream_close(r->stream);
    c->req = NULL;
    r->conn = NULL;
    c->state = R_DONE;
    if (c->keep_alive && r->req_end && !hw_buf_size(&c->out) && !hw_buf_size(&c->in) &&
        p->nidle < c->agent->cfg.max_idle_conns) {
        c->idle = 1;
        c->next_idle = p->idle;
        p->idle = c;
        p->nidle++;
    } else {
        conn_kill(c);
    }
    req_free(r);
}

/* Sends decoded body bytes as the stream has room; pauses the target when it has none. */
static int push_body(struct fwd_conn *c)
{
    struct fwd_req *r = c->req;
    size_t n = hw_buf_size(&c->pending), room = hw_mux_send_room(r->stream);

    if (n > room)
        n = room;
    if (n && hw_mux_send_body(r->stream, hw_buf_head(&c->pending), n) == 0)
        hw_buf_consume(&c->pending, n);
    if (hw_buf_size(&c->pending)) {
        if (!c->paused && c->wsi) {
            c->paused = 1;
            lws_rx_flow_control(c->wsi, 0);
        }
        hw_mux_want_drain(r->stream);
        return 0;
    }
    if (c->paused && c->wsi) {
        c->paused = 0;
        lws_rx_flow_control(c->wsi, 1);
    }
    return 1;
}

static int send_head(struct fwd_conn *c, const struct hw_http_head *h)
{
    struct fwd_req *r = c->req;
    struct hw_msg_response m;
    struct hw_buf hb;
    int err = 0, kept_length = 0;

    hw_buf_init(&hb, HW_FRAME_MAX_PAYLOAD / 2);
    for (size_t i = 0; i < h->nheaders && !err; i++) {
        const struct hw_http_header *hd = &h->headers[i];
        /* Hookwire-Error marks the relay's own answers; an app's would mislead. */
        if (hw_http_is_hop_by_hop(h, hd) ||
            (hd->name_len == 14 && strncasecmp(hd->name, "hookwire-error", 14) == 0))
            continue;
        if (hd->name_len == 14 && strncasecmp(hd->name, "content-length", 14) == 0)
            kept_length = 1;
        err = hw_buf_append(&hb, hd->name, hd->name_len);
        err = err ? err : hw_buf_append(&hb, ":", 1);
        err = err ? err : hw_buf_append(&hb, hd->value, hd->value_len);
        err = err ? err : hw_buf_append(&hb, "\r\n", 2);
    }
    m.status = (uint16_t)h->status;
    /* The length travels in the Content-Length line; without it the relay re-frames. */
    m.body_len = h->body == HW_BODY_LENGTH ? (kept_length ? h->content_length : HW_BODY_LEN_UNKNOWN)
                 : h->body == HW_BODY_NONE ? 0
                                           : HW_BODY_LEN_UNKNOWN;
    m.reason = (struct hw_str){ h->reason, h->reason_len };
    m.headers = (struct hw_str){ hw_buf_head(&hb), hw_buf_size(&hb) };
    err = err ? err : hw_mux_send_response(r->stream, &m);
    hw_buf_cleanup(&hb);
    r->status = h->status;
    r->resp_started = 1;
    return err;
}

/* Parses what the target sent; returns when more input or stream room is needed. */
static void process_response(struct fwd_conn *c)
{
    while (c->req) {
        struct fwd_req *r = c->req;

        if (c->state == R_HEAD) {
            struct hw_http_head h;
            int rc =
                hw_http_parse_response(hw_buf_head(&c->in), hw_buf_size(&c->in), r->method, &h);
            if (rc == HW_EAGAIN) {
                if (hw_buf_size(&c->in) > HEAD_MAX)
                    req_fail(r, HW_RST_TOO_LARGE, "response head too large");
                return;
            }
            if (rc < 0) {
                req_fail(r, HW_RST_TARGET_ERROR, "malformed response from the target");
                return;
            }
            if (h.status == 101) {
                /* A webhook never switches protocols; the connection is unusable now. */
                req_fail(r, HW_RST_TARGET_ERROR, "the target switched protocols");
                return;
            }
            if (h.status < 200) {
                hw_buf_consume(&c->in, (size_t)rc); /* interim answer: wait for the final one */
                continue;
            }
            if (send_head(c, &h)) {
                req_fail(r, HW_RST_TOO_LARGE, "response head too large");
                return;
            }
            c->keep_alive = h.keep_alive;
            c->body_kind = h.body;
            c->body_left = h.content_length;
            hw_chunked_init(&c->chunked);
            hw_buf_consume(&c->in, (size_t)rc);
            c->state = R_BODY;
            if (h.body == HW_BODY_NONE) {
                req_done(c);
                return;
            }
            continue;
        }
        /* R_BODY: move decoded bytes to pending, then push what fits. */
        {
            size_t n = hw_buf_size(&c->in);
            int complete = 0;

            if (c->body_kind == HW_BODY_LENGTH) {
                if (n > c->body_left)
                    n = (size_t)c->body_left;
                if (hw_buf_append(&c->pending, hw_buf_head(&c->in), n)) {
                    req_fail(r, HW_RST_TARGET_ERROR, "out of memory");
                    return;
                }
                hw_buf_consume(&c->in, n);
                c->body_left -= n;
                complete = c->body_left == 0;
            } else if (c->body_kind == HW_BODY_CHUNKED && n) {
                int rc = hw_chunked_decode(&c->chunked, hw_buf_head(&c->in), &n);
                if (rc == HW_EPARSE) {
                    req_fail(r, HW_RST_TARGET_ERROR, "malformed chunked body from the target");
                    return;
                }
                if (hw_buf_append(&c->pending, hw_buf_head(&c->in), n)) {
                    req_fail(r, HW_RST_TARGET_ERROR, "out of memory");
                    return;
                }
                if (rc == HW_EAGAIN) {
                    hw_buf_reset(&c->in);
                } else {
                    hw_buf_truncate(&c->in, n + (size_t)rc);
                    hw_buf_consume(&c->in, n);
                    complete = 1;
                }
            } else if (c->body_kind == HW_BODY_CLOSE) {
                if (hw_buf_append(&c->pending, hw_buf_head(&c->in), n)) {
                    req_fail(r, HW_RST_TARGET_ERROR, "out of memory");
                    return;
                }
                hw_buf_reset(&c->in);
                complete = c->eof;
            }
            if (!push_body(c))
                return;
            if (complete)
                req_done(c);
            return;
        }
    }
}

void agent_forward_on_drain(struct hw_mux *m, struct hw_mux_stream *s)
{
    struct fwd_req *r = hw_mux_stream_user(s);

    struct fwd_conn *c = r ? r->conn : NULL;

    if (!c)
        return;
    process_response(c);
    if (c->eof && !c->req)
        conn_free(c);
}

static int on_rx(struct fwd_conn *c, const void *in, size_t len)
{
    if (!c->req)
        return -1; /* bytes on an idle connection: it can't be trusted for reuse */
    c->got_bytes = 1;
    if (hw_buf_append(&c->in, in, len)) {
        req_fail(c->req, HW_RST_TOO_LARGE, "response buffer overflow");
        return -1;
    }
    process_response(c);
    return 0;
}

static int on_writeable(struct fwd_conn *c)
{
    if (hw_lwsio_write_raw(c->wsi, &c->out))
        return -1;
    if (c->req && c->credit_owed && hw_buf_size(&c->out) < OUT_LOW) {
        hw_mux_consumed(c->req->stream, c->credit_owed);
        c->credit_owed = 0;
    }
    return 0;
}

/* The target closed (or never accepted) the connection. */
static void on_gone(struct fwd_conn *c, const char *why)
{
    struct fwd_req *r = c->req;
    struct fwd_conn *fresh;

    c->wsi = NULL;
    c->eof = 1;
    if (c->in_connect) {
        c->failed = 1; /* conn_new() cleans up */
        return;
    }
    if (r && c->state == R_BODY && c->body_kind == HW_BODY_CLOSE) {
        process_response(c);
        if (c->req)
            return; /* the rest of the body waits for stream room; freed on drain */
    } else if (r) {
        r->conn = NULL;
        c->req = NULL;
        if (!c->got_bytes && c->reused && !r->retried && r->replayable) {
            /* A pooled connection the target had already closed: try once more. */
            r->retried = 1;
            fresh = conn_new(c->agent);
            if (fresh)
                conn_attach(fresh, r);
            else
                req_fail(r, HW_RST_REFUSED, why);
        } else if (!c->connected) {
            req_fail(r, HW_RST_REFUSED, why);
        } else {
            req_fail(r, HW_RST_TARGET_ERROR, "the target closed the connection early");
        }
    }
    conn_free(c);
}

static int forward_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    struct fwd_conn *c = lws_get_opaque_user_data(wsi);

    if (!c)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_RAW_CONNECTED:
        c->wsi = wsi;
        c->connected = 1;
        conn_want_write(c);
        return 0;
    case LWS_CALLBACK_RAW_RX:
        return on_rx(c, in, len);
    case LWS_CALLBACK_RAW_WRITEABLE:
        return on_writeable(c);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        lws_set_opaque_user_data(wsi, NULL);
        on_gone(c, "connection refused by the target");
        return 0;
    case LWS_CALLBACK_RAW_CLOSE:
        lws_set_opaque_user_data(wsi, NULL);
        on_gone(c, "the target closed the connection");
        return 0;
    default:
        return 0;
    }
}

const struct lws_protocols agent_forward_protocol = {
    .name = "hw-forward",
    .callback = forward_cb,
    .rx_buffer_size = 65536,
};
