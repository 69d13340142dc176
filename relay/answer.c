/*
 * Answers to webhook senders. The agent's answer head is checked (the relay
 * vouches for its framing), re-framed for this hop and queued; its body is
 * queued as it arrives, and tunnel credit is returned as it is written. The
 * relay's own errors, /healthz, and the exchange timer live here too.
 * Service thread only.
 */
#include "answer.h"

#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "core/err.h"
#include "core/log.h"
#include "http/hwerror.h"
#include "relay.h"
#include "tunnel/mux.h"

void relay_answer_want_write(struct ingress_conn *c)
{
    lws_callback_on_writable(c->wsi);
}

void relay_answer_kill(struct ingress_conn *c, const char *why)
{
    HW_WARN("conn=%s evt=%s %s: closing", c->peer, c->event_id, why);
    if (c->stream) {
        hw_mux_stream_close(c->stream);
        c->stream = NULL;
    }
    lws_sul_cancel(&c->timer);
    c->killed = 1;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static int is_head_request(const struct ingress_conn *c)
{
    return c->req.method_len == 4 && memcmp(c->req.method, "HEAD", 4) == 0;
}

/* Ends the exchange with our own error answer; the stream, if any, is dropped. */
void relay_answer_error(struct ingress_conn *c, enum hw_errc e, const char *extra)
{
    struct relay *r = c->relay;

    if (c->stream) {
        hw_mux_stream_close(c->stream);
        c->stream = NULL;
    }
    lws_sul_cancel(&c->timer);
    /*
     * Unread request bytes would be taken for the next request: close instead.
     * That is a head that did not parse, or a body not (fully) read.
     */
    if ((c->state == ST_HEAD && (!c->req.method_len || c->req.body != HW_BODY_NONE)) ||
        c->state == ST_BODY)
        c->close_after = 1;
    if (!c->keep_alive)
        c->close_after = 1;
    hw_error_response(&c->out, e, !c->close_after, extra, is_head_request(c));
    r->metrics.errors[e]++;
    c->status = hw_errc_status(e);
    c->state = ST_RESPONSE;
    c->resp_started = c->resp_done = 1;
    HW_INFO("conn=%s %.*s %.*s -> %d %s%s%s", c->peer, (int)c->req.method_len, c->req.method,
            (int)c->req.target_len, c->req.target, c->status, hw_errc_name(e),
            c->event_id[0] ? " evt=" : "", c->event_id);
    relay_answer_want_write(c);
}

void relay_answer_health(struct ingress_conn *c)
{
    int err = hw_buf_puts(&c->out,
                          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n");

    err = err ? err : hw_buf_puts(&c->out, c->keep_alive ? "\r\n" : "Connection: close\r\n\r\n");
    if (!err && !is_head_request(c))
        err = hw_buf_puts(&c->out, "ok\n");
    if (err) {
        relay_answer_kill(c, "out of memory for the answer");
        return;
    }
    c->close_after = !c->keep_alive;
    c->status = 200;
    c->state = ST_RESPONSE;
    c->resp_started = c->resp_done = 1;
    relay_answer_want_write(c);
}

static void timeout_cb(lws_sorted_usec_list_t *sul)
{
    struct ingress_conn *c = lws_container_of(sul, struct ingress_conn, timer);

    if (c->state == ST_WAIT)
        relay_answer_error(c, HW_ERRC_LOCAL_TIMEOUT, NULL);
    else if (c->state == ST_RESPONSE && (!c->resp_done || hw_buf_size(&c->out)))
        relay_answer_kill(c, "the answer stalled (app silent or sender not reading)");
}

void relay_answer_arm_timer(struct ingress_conn *c)
{
    lws_sul_schedule(c->relay->context, 0, &c->timer, timeout_cb,
                     (lws_usec_t)c->relay->cfg.response_timeout_ms * 1000);
}

/*
 * The agent's answer goes to the sender verbatim, so the relay checks that it
 * can vouch for its framing: a final status, a reason without control bytes,
 * header lines that parse, no hop-by-hop headers (the agent drops them), and
 * a Content-Length that agrees with the announced body length. Returns 1 if
 * the head may be passed on.
 */
static int response_ok(const struct ingress_conn *c, const struct hw_msg_response *m, int no_body)
{
    struct hw_http_head h;
    struct hw_buf b;
    char method[16];
    int ok;

    if (m->status < 200 || m->status > 599)
        return 0;
    for (size_t i = 0; i < m->reason.len; i++) {
        unsigned char ch = (unsigned char)m->reason.p[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return 0;
    }
    snprintf(method, sizeof(method), "%.*s", (int)c->req.method_len, c->req.method);
    hw_buf_init(&b, m->headers.len + 64);
    ok = hw_buf_printf(&b, "HTTP/1.1 %u OK\r\n", m->status) == 0 &&
         hw_buf_append(&b, m->headers.p, m->headers.len) == 0 &&
         hw_buf_append(&b, "\r\n", 2) == 0 &&
         hw_http_parse_response(hw_buf_head(&b), hw_buf_size(&b), method, &h) ==
             (int)hw_buf_size(&b);
    for (size_t i = 0; ok && i < h.nheaders; i++)
        ok = !hw_http_is_hop_by_hop(&h, &h.headers[i]);
    if (ok && !no_body) {
        if (m->body_len == HW_BODY_LEN_UNKNOWN)
            ok = h.body == HW_BODY_CLOSE;
        else
            ok = h.body == HW_BODY_LENGTH && h.content_length == m->body_len;
    }
    hw_buf_cleanup(&b);
    return ok;
}

/*
 * Ends a broken answer whose head is already queued: what was valid goes
 * out, then the connection closes, so the sender sees the answer cut short
 * against its Content-Length and never reads bytes beyond it.
 */
static void cut_response(struct ingress_conn *c, const char *why)
{
    HW_WARN("conn=%s evt=%s %s: closing", c->peer, c->event_id, why);
    if (c->stream) {
        hw_mux_stream_close(c->stream);
        c->stream = NULL;
    }
    c->resp_done = 1;
    c->close_after = 1;
    relay_answer_want_write(c);
}

void relay_answer_on_response(struct ingress_conn *c, const struct hw_frame *f)
{
    struct hw_msg_response m;
    int no_body, err;

    if (c->state != ST_WAIT || hw_frame_decode_response(f, &m)) {
        relay_answer_error(c, HW_ERRC_LOCAL_ERROR, NULL);
        return;
    }
    no_body = is_head_request(c) || m.status == 204 || m.status == 304;
    if (!response_ok(c, &m, no_body)) {
        HW_WARN("conn=%s evt=%s the agent sent an answer head the relay cannot pass on", c->peer,
                c->event_id);
        relay_answer_error(c, HW_ERRC_LOCAL_ERROR, NULL);
        return;
    }
    relay_answer_arm_timer(c); /* from now on it bounds how long the answer may stall */
    c->status = m.status;
    c->resp_mark = hw_buf_size(&c->out);
    c->resp_left = no_body ? 0 : m.body_len;
    err = hw_buf_printf(&c->out, "HTTP/1.1 %u %.*s\r\n", m.status,
                        m.reason.len ? (int)m.reason.len : (int)strlen(hw_http_reason(m.status)),
                        m.reason.len ? m.reason.p : hw_http_reason(m.status));
    err = err ? err : hw_buf_append(&c->out, m.headers.p, m.headers.len);
    if (!no_body && !err && m.body_len == HW_BODY_LEN_UNKNOWN) {
        /* Known lengths travel in the target's own Content-Length line. */
        if (c->req.minor_version >= 1) {
            c->resp_chunked = 1;
            err = hw_buf_puts(&c->out, "Transfer-Encoding: chunked\r\n");
        } else {
            c->close_after = 1;
        }
    }
    if (!c->keep_alive)
        c->close_after = 1;
    if (!err && c->close_after)
        err = hw_buf_puts(&c->out, "Connection: close\r\n");
    err = err ? err : hw_buf_append(&c->out, "\r\n", 2);
    if (err) {
        hw_buf_reset(&c->out);
        relay_answer_error(c, HW_ERRC_LOCAL_ERROR, NULL);
        return;
    }
    c->state = ST_RESPONSE;
    c->resp_started = 1;
    relay_answer_want_write(c);
}

void relay_answer_on_data(struct ingress_conn *c, const uint8_t *p, size_t n)
{
    int err = 0;

    if (c->state != ST_RESPONSE || c->resp_done)
        return;
    if (c->resp_left != HW_BODY_LEN_UNKNOWN) {
        if (n > c->resp_left) {
            if (hw_buf_append(&c->out, p, (size_t)c->resp_left)) {
                relay_answer_kill(c, "out of memory for the answer");
                return;
            }
            cut_response(c, "the agent sent more body than announced");
            return;
        }
        c->resp_left -= n;
    }
    if (c->resp_chunked)
        err = hw_buf_printf(&c->out, "%zx\r\n", n);
    err = err ? err : hw_buf_append(&c->out, p, n);
    if (!err && c->resp_chunked)
        err = hw_buf_append(&c->out, "\r\n", 2);
    if (err) {
        relay_answer_kill(c, "out of memory for the answer");
        return;
    }
    relay_answer_arm_timer(c);
    if (hw_buf_size(&c->out) < OUT_LOW)
        hw_mux_consumed(c->stream, n);
    else
        c->credit_owed += n;
    relay_answer_want_write(c);
}

void relay_answer_on_end(struct ingress_conn *c)
{
    struct relay *r = c->relay;

    if (c->state != ST_RESPONSE || c->resp_done)
        return;
    if (c->resp_left != HW_BODY_LEN_UNKNOWN && c->resp_left > 0) {
        cut_response(c, "the agent's answer ended before its Content-Length");
        return;
    }
    if (c->resp_chunked && hw_buf_puts(&c->out, "0\r\n\r\n")) {
        relay_answer_kill(c, "out of memory for the answer");
        return;
    }
    c->resp_done = 1;
    hw_mux_stream_close(c->stream);
    c->stream = NULL;
    r->metrics.responses++;
    HW_DEBUG("conn=%s %.*s %.*s -> %d evt=%s %.1fms", c->peer, (int)c->req.method_len,
             c->req.method, (int)c->req.target_len, c->req.target, c->status, c->event_id,
             (double)(lws_now_usecs() - c->started) / 1000.0);
    relay_answer_want_write(c);
}

void relay_answer_on_reset(struct ingress_conn *c, uint16_t code, const char *text, size_t len)
{
    static const enum hw_errc by_code[] = {
        [HW_RST_TUNNEL_LOST] = HW_ERRC_AGENT_DISCONNECTED,
        [HW_RST_CANCEL] = HW_ERRC_LOCAL_ERROR,
        [HW_RST_REFUSED] = HW_ERRC_LOCAL_REFUSED,
        [HW_RST_TARGET_ERROR] = HW_ERRC_LOCAL_ERROR,
        [HW_RST_TIMEOUT] = HW_ERRC_LOCAL_TIMEOUT,
        [HW_RST_TOO_LARGE] = HW_ERRC_LOCAL_ERROR,
        [HW_RST_PROTOCOL] = HW_ERRC_LOCAL_ERROR,
    };

    c->stream = NULL; /* the mux frees it */
    HW_DEBUG("conn=%s evt=%s stream reset by agent: code %u %.*s", c->peer, c->event_id, code,
             (int)len, text);
    if (c->resp_started && !c->resp_written && !c->resp_done) {
        /* Nothing of the answer has left yet: replace it with our error. */
        hw_buf_truncate(&c->out, c->resp_mark);
        c->resp_started = c->resp_chunked = 0;
        c->close_after = 1; /* the exchange broke: start the next one afresh */
    }
    if (c->resp_started) {
        /* Part of the answer is out already: all we can do is cut it short. */
        relay_answer_kill(c, "the agent reset the answer midway");
        return;
    }
    relay_answer_error(
        c, code < sizeof(by_code) / sizeof(by_code[0]) ? by_code[code] : HW_ERRC_LOCAL_ERROR, NULL);
}
