/*
 * The answer side of a server connection: whole answers, hookwire's error
 * answers and streamed answers, whose framing the server vouches for before
 * a byte goes out; and the writer, which counts progress only when lws has
 * passed bytes to the kernel. Owns struct hw_http_answer. Service thread only.
 */
#include "http_answer.h"

#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "core/err.h"
#include "http/limits.h"

/* One lws_write at most this large: lws copies what the kernel does not take. */
#define WRITE_CHUNK (256 * 1024)

void hw_http_answer_init(struct hw_http_answer *a)
{
    memset(a, 0, sizeof(*a));
    hw_buf_init(&a->out, (size_t)-1);
}

void hw_http_answer_cleanup(struct hw_http_answer *a)
{
    hw_buf_cleanup(&a->out);
}

void hw_http_answer_next(struct hw_http_answer *a)
{
    a->started = a->written = a->done = a->chunked = a->close_after = 0;
    a->mark = 0;
    a->written_bytes = 0;
    a->left = 0;
    a->status = 0;
}

int hw_http_answer_continue(struct hw_http_answer *a)
{
    return hw_buf_puts(&a->out, "HTTP/1.1 100 Continue\r\n\r\n");
}

static int is_head(const struct hw_http_head *req)
{
    return req && req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
}

/*
 * The blank line that ends a head, after the connection's fate: "Connection:
 * close" when it ends, "Connection: keep-alive" when an HTTP/1.0 request's
 * connection stays open (a 1.0 client takes an answer without it as the
 * last one), nothing for HTTP/1.1.
 */
static int end_head(struct hw_buf *b, const struct hw_http_head *req, int close_after)
{
    if (close_after)
        return hw_buf_puts(b, "Connection: close\r\n\r\n");
    if (req && req->minor_version == 0)
        return hw_buf_puts(b, "Connection: keep-alive\r\n\r\n");
    return hw_buf_append(b, "\r\n", 2);
}

static void queued(struct hw_http_answer *a, size_t mark, int status, int keep_alive)
{
    a->mark = mark;
    a->status = status;
    a->started = 1;
    a->close_after |= !keep_alive;
    a->progress_at = lws_now_usecs();
}

/* Appends "HTTP/1.1 <status> <reason>\r\n" (no printf: this runs once per exchange). */
static int status_line(struct hw_buf *b, int status, const char *reason, size_t reason_len)
{
    int err = hw_buf_append(b, "HTTP/1.1 ", 9);

    err = err ? err : hw_buf_putu(b, (uint64_t)status);
    err = err ? err : hw_buf_append(b, " ", 1);
    err = err ? err : hw_buf_append(b, reason, reason_len);
    return err ? err : hw_buf_append(b, "\r\n", 2);
}

int hw_http_answer_whole(struct hw_http_answer *a, const struct hw_http_head *req, int keep_alive,
                         int status, const char *reason, const char *headers, size_t headers_len,
                         const void *body, size_t body_len)
{
    size_t mark = hw_buf_size(&a->out);
    int no_body = is_head(req) || status == 204 || status == 304;
    int err;

    if (!reason)
        reason = hw_http_reason(status);
    err = status_line(&a->out, status, reason, strlen(reason));
    err = err ? err : hw_buf_append(&a->out, headers, headers_len);
    if (!err && status != 204 && status != 304) {
        err = hw_buf_puts(&a->out, "Content-Length: ");
        err = err ? err : hw_buf_putu(&a->out, body_len);
        err = err ? err : hw_buf_append(&a->out, "\r\n", 2);
    }
    err = err ? err : end_head(&a->out, req, !keep_alive);
    if (!err && !no_body)
        err = hw_buf_append(&a->out, body, body_len);
    if (err) {
        hw_buf_truncate(&a->out, mark);
        return err;
    }
    queued(a, mark, status, keep_alive);
    a->done = 1;
    return 0;
}

int hw_http_answer_error(struct hw_http_answer *a, const struct hw_http_head *req, int keep_alive,
                         enum hw_errc e, const char *extra)
{
    size_t mark = hw_buf_size(&a->out);
    int err;

    /* An error's head says nothing of keep-alive: an HTTP/1.0 connection ends with it. */
    if (req && req->minor_version == 0)
        keep_alive = 0;
    err = hw_error_response(&a->out, e, keep_alive, extra, is_head(req));

    if (err) {
        hw_buf_truncate(&a->out, mark);
        return err;
    }
    queued(a, mark, hw_errc_status(e), keep_alive);
    a->done = 1;
    return 0;
}

/*
 * The answer goes to the sender verbatim, so the server checks that it can
 * vouch for its framing: a final status, a reason without control bytes,
 * header lines that parse, no hop-by-hop headers, and a Content-Length
 * that agrees with the announced body length. One pass over the header block
 * (hw_http_block_next()), not a head built and parsed again. Returns NULL if it
 * may pass, else the rule it broke (static text, for a log line).
 */
static const char *head_broken(const struct hw_http_answer_head *m, int no_body)
{
    const char *p = m->headers, *end = p + m->headers_len;
    struct hw_http_block blk = { 0 };
    struct hw_http_header h;
    int rc;

    if (m->status < 200 || m->status > 599)
        return "a status outside 200-599";
    for (size_t i = 0; i < m->reason_len; i++) {
        unsigned char ch = (unsigned char)m->reason[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return "a control byte in the reason phrase";
    }
    while ((rc = hw_http_block_next(&blk, &p, end, &h)) == 1)
        ;
    if (rc < 0)
        return blk.error;
    /* No body (HEAD, 204, 304): a Content-Length, if any, describes what was not sent. */
    if (no_body)
        return NULL;
    if (m->body_len == HW_HTTP_LEN_UNKNOWN)
        return blk.has_length ? "a Content-Length on a body of unknown length" : NULL;
    if (!blk.has_length)
        return "no Content-Length for a body of known length";
    return blk.content_length == m->body_len
               ? NULL
               : "a Content-Length other than the body's announced length";
}

/*
 * Appends an answer's header block, which head_ok() has checked. A 204 loses its
 * Content-Length lines: no server may send one with it (RFC 9110 8.6), whatever
 * the app wrote. Returns 0 or HW_ENOMEM.
 */
static int append_headers(struct hw_buf *out, const struct hw_http_answer_head *m)
{
    const char *p = m->headers, *end = p + m->headers_len, *line = p;
    struct hw_http_block blk = { 0 };
    struct hw_http_header h;
    int err = 0;

    if (m->status != 204)
        return hw_buf_append(out, m->headers, m->headers_len);
    while (!err && hw_http_block_next(&blk, &p, end, &h) == 1) {
        if (!(h.name_len == 14 && strncasecmp(h.name, "Content-Length", 14) == 0))
            err = hw_buf_append(out, line, (size_t)(p - line));
        line = p;
    }
    return err;
}

int hw_http_answer_begin(struct hw_http_answer *a, const struct hw_http_head *req, int keep_alive,
                         const struct hw_http_answer_head *h, const char **why)
{
    size_t mark = hw_buf_size(&a->out);
    int no_body = is_head(req) || h->status == 204 || h->status == 304;
    int chunked = 0, close_after = !keep_alive, err;
    const char *broken = head_broken(h, no_body);

    if (broken) {
        if (why)
            *why = broken;
        return HW_EPROTO;
    }
    if (h->reason_len) {
        err = status_line(&a->out, h->status, h->reason, h->reason_len);
    } else {
        const char *reason = hw_http_reason(h->status);
        err = status_line(&a->out, h->status, reason, strlen(reason));
    }
    err = err ? err : append_headers(&a->out, h);
    if (!no_body && !err && h->body_len == HW_HTTP_LEN_UNKNOWN) {
        /* Known lengths travel in the answer's own Content-Length line. */
        if (req->minor_version >= 1) {
            chunked = 1;
            err = hw_buf_puts(&a->out, "Transfer-Encoding: chunked\r\n");
        } else {
            close_after = 1;
        }
    }
    err = err ? err : end_head(&a->out, req, close_after);
    if (err) {
        hw_buf_truncate(&a->out, mark);
        return err;
    }
    queued(a, mark, h->status, !close_after);
    a->chunked = (unsigned)chunked;
    a->left = no_body ? 0 : h->body_len;
    return 0;
}

/* The answer broke its framing: what was valid goes out, then the connection closes. */
static int cut(struct hw_http_answer *a)
{
    a->done = 1;
    a->close_after = 1;
    return HW_EPROTO;
}

int hw_http_answer_data(struct hw_http_answer *a, const void *p, size_t n)
{
    int err = 0;

    if (a->left != HW_HTTP_LEN_UNKNOWN) {
        if (n > a->left) {
            err = hw_buf_append(&a->out, p, (size_t)a->left);
            a->left = 0;
            return err ? err : cut(a);
        }
        a->left -= n;
    }
    if (!n)
        return 0;
    if (a->chunked)
        err = hw_buf_printf(&a->out, "%zx\r\n", n);
    err = err ? err : hw_buf_append(&a->out, p, n);
    if (!err && a->chunked)
        err = hw_buf_append(&a->out, "\r\n", 2);
    return err;
}

int hw_http_answer_end(struct hw_http_answer *a)
{
    if (a->left != HW_HTTP_LEN_UNKNOWN && a->left > 0)
        return cut(a);
    if (a->chunked && hw_buf_puts(&a->out, "0\r\n\r\n"))
        return HW_ENOMEM;
    a->done = 1;
    return 0;
}

int hw_http_answer_retract(struct hw_http_answer *a)
{
    if (!a->started || a->written || a->done)
        return 0;
    hw_buf_truncate(&a->out, a->mark);
    a->started = a->chunked = 0;
    a->close_after = 1; /* the exchange broke: start the next one afresh */
    return 1;
}

/* n bytes from the front of the queue went to lws or the kernel. */
static void handed(struct hw_http_answer *a, size_t n)
{
    hw_buf_consume(&a->out, n);
    a->written_bytes += n;
    a->unacked = 0; /* a new answer is moving: the writes measure progress again */
    if (a->started && !a->written) {
        if (n > a->mark)
            a->written = 1;
        else
            a->mark -= n;
    }
}

int hw_http_answer_write(struct hw_http_answer *a, struct lws *wsi)
{
    size_t n = hw_buf_size(&a->out);

    /*
     * lws calls WRITEABLE only once it has passed on what it kept from the
     * last write: those bytes have reached the kernel now.
     */
    if (a->inflight && !lws_partial_buffered(wsi)) {
        a->inflight = 0;
        a->progress_at = lws_now_usecs();
    }
    if (!n)
        return 0;
    if (n > WRITE_CHUNK)
        n = WRITE_CHUNK;
    if (lws_write(wsi, (unsigned char *)hw_buf_head(&a->out), n, LWS_WRITE_RAW) < 0)
        return -1;
    handed(a, n);
    if (lws_partial_buffered(wsi))
        a->inflight = n; /* the kernel did not take it all: no progress until lws has */
    else
        a->progress_at = lws_now_usecs();
    /* Also once lws has passed on what it kept, to learn that it did. */
    if (hw_buf_size(&a->out) || a->inflight)
        lws_callback_on_writable(wsi);
    return 0;
}

int hw_http_answer_send(struct hw_http_answer *a, struct lws *wsi)
{
    size_t n = hw_buf_size(&a->out);
    ssize_t sent;

    /* Bytes lws still holds go first: writing past them would reorder the stream. */
    if (!n || a->inflight || lws_partial_buffered(wsi))
        return 0;
    sent = send(lws_get_socket_fd(wsi), hw_buf_head(&a->out), n, MSG_DONTWAIT | MSG_NOSIGNAL);
    /* A full socket takes nothing; a broken one is for lws to find (WRITEABLE) and close. */
    if (sent <= 0)
        return 0;
    handed(a, (size_t)sent);
    a->progress_at = lws_now_usecs(); /* these bytes are in the kernel now */
    return 1;
}

/* Bytes in the socket's send queue: not yet sent, or sent and not acknowledged. */
static int outq(struct lws *wsi)
{
    int n = 0;

    if (ioctl(lws_get_socket_fd(wsi), SIOCOUTQ, &n) < 0)
        return 0;
    return n;
}

void hw_http_answer_unacked_start(struct hw_http_answer *a, struct lws *wsi)
{
    if (a->written_bytes < HW_OUT_LOW)
        return;
    a->unacked = outq(wsi);
    a->unacked_at = lws_now_usecs();
}

size_t hw_http_answer_untaken(const struct hw_http_answer *a, struct lws *wsi)
{
    return hw_buf_size(&a->out) + a->inflight + (size_t)outq(wsi);
}

int hw_http_answer_unacked_check(struct hw_http_answer *a, struct lws *wsi, lws_usec_t stall_us)
{
    lws_usec_t now = lws_now_usecs();
    int n;

    if (!a->unacked)
        return 0;
    n = outq(wsi);
    if (n < a->unacked) {
        a->unacked = n;
        a->unacked_at = now;
        return 0;
    }
    return now - a->unacked_at >= stall_us;
}
