/*
 * The answer side of the HTTP client: parses the head with the strict
 * parser, skips interim answers, frames the body (length, chunked or until
 * close) in place in the connection's input buffer and passes it to the
 * caller as far as the caller has room. Service thread only.
 */
#include <stddef.h>

#include "core/err.h"
#include "http/limits.h"
#include "http_client_int.h"

/* Moves newly arrived bytes of the body into the decoded prefix; <0 for a bad body. */
static int decode(struct hwc_conn *c)
{
    size_t raw = hw_buf_size(&c->in) - c->ready;

    if (c->framed || !raw)
        return 0;
    if (c->body_kind == HW_BODY_LENGTH) {
        size_t k = raw < c->body_left ? raw : (size_t)c->body_left;
        c->ready += k;
        c->body_left -= k;
        c->framed = c->body_left == 0;
    } else if (c->body_kind == HW_BODY_CHUNKED) {
        size_t n = raw;
        int rc = hw_chunked_decode(&c->chunked, hw_buf_head(&c->in) + c->ready, &n);

        if (rc < 0 && rc != HW_EAGAIN)
            return HW_EPARSE;
        c->ready += n;
        if (rc == HW_EAGAIN) {
            hw_buf_truncate(&c->in, c->ready);
        } else {
            hw_buf_truncate(&c->in, c->ready + (size_t)rc); /* rc bytes past the end stay */
            c->framed = 1;
        }
    } else if (c->body_kind == HW_BODY_CLOSE) {
        c->ready += raw;
    }
    return 0;
}

static void set_paused(struct hwc_conn *c, int paused)
{
    if (c->paused == (unsigned)paused || !c->wsi)
        return;
    c->paused = (unsigned)paused;
    lws_rx_flow_control(c->wsi, !paused);
}

/* Parses the head; 1 when the body phase may go on. */
static int process_head(struct hwc_conn *c, struct hw_http_req *r)
{
    while (c->state == HWC_HEAD) {
        struct hw_http_head h;
        int rc = hw_http_parse_response(hw_buf_head(&c->in), hw_buf_size(&c->in),
                                        r->is_head ? "HEAD" : NULL, &h);

        if (rc == HW_EAGAIN) {
            if (hw_buf_size(&c->in) > HW_HEAD_MAX)
                hwc_fail(r, HW_HTTP_TOO_LARGE, "answer head too large");
            return 0;
        }
        if (rc == HW_EPARSE) {
            char text[128];

            /* The rule it broke, so the log line says what the target got wrong. */
            snprintf(text, sizeof(text), "malformed answer head: %s", h.error);
            hwc_fail(r, HW_HTTP_BAD_ANSWER, text);
            return 0;
        }
        if (rc < 0 || rc > HW_HEAD_MAX) {
            hwc_fail(r, HW_HTTP_TOO_LARGE, "answer head too large");
            return 0;
        }
        if (h.status == 101) {
            /* A request here never asks to switch protocols; the connection is unusable. */
            hwc_fail(r, HW_HTTP_BAD_ANSWER, "the target switched protocols");
            return 0;
        }
        if (h.status < 200) {
            hw_buf_consume(&c->in, (size_t)rc); /* interim answer: wait for the final one */
            continue;
        }
        c->keep_alive = h.keep_alive ? 1 : 0;
        c->body_kind = h.body;
        c->body_left = h.content_length;
        c->ready = 0;
        c->framed = h.body == HW_BODY_NONE || (h.body == HW_BODY_LENGTH && !h.content_length);
        hw_chunked_init(&c->chunked);
        if (hwc_call_head(r, &h, hw_buf_head(&c->in), (size_t)rc))
            return 0;
        hw_buf_consume(&c->in, (size_t)rc);
        c->state = HWC_BODY;
    }
    return 1;
}

void hwc_process(struct hwc_conn *c)
{
    struct hw_http_req *r = c->req;

    if (!r || !process_head(c, r))
        return;
    if (decode(c)) {
        hwc_fail(r, HW_HTTP_BAD_ANSWER, "malformed chunked body");
        return;
    }
    if (c->body_kind == HW_BODY_CLOSE && c->eof)
        c->framed = 1;
    while (c->ready) {
        size_t n = c->ready, taken;

        r->resume = 0;
        if (hwc_call_body(r, hw_buf_head(&c->in), n, &taken))
            return;
        hw_buf_consume(&c->in, taken);
        c->ready -= taken;
        if (taken < n && !r->resume) {
            set_paused(c, 1); /* the caller calls hw_http_req_resume() */
            return;
        }
    }
    set_paused(c, 0);
    if (c->framed)
        /* Bytes past the answer's end mean the connection can't be trusted again. */
        hwc_finish_ok(r, c->keep_alive && !c->eof && hw_buf_size(&c->in) == 0);
}

int hwc_on_rx(struct hwc_conn *c, const void *in, size_t len)
{
    if (!c->req)
        return -1; /* bytes on an idle connection: it can't be trusted for reuse */
    c->got_bytes = 1;
    if (c->state == HWC_BODY && c->framed) {
        c->keep_alive = 0; /* past the answer's end: dropped, never delivered */
        return 0;
    }
    if (hw_buf_append(&c->in, in, len)) {
        hwc_fail(c->req, HW_HTTP_TOO_LARGE, "answer buffer overflow");
        return 0;
    }
    hwc_process(c);
    return 0;
}

void hw_http_req_resume(struct hw_http_req *r)
{
    if (r->in_cb) {
        r->resume = 1; /* the delivery loop offers the rest again */
        return;
    }
    if (r->c)
        hwc_process(r->c);
}
