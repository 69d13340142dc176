/*
 * Collect mode of the HTTP client: a whole request out, one result back,
 * with the head kept and the body cut to an excerpt. The result lives in the
 * request's data area, its buffers are freed on release. Service thread only.
 */
#include "http_fetch.h"

#include <string.h>

#include "core/err.h"
#include "http/limits.h"

struct fetch {
    struct hw_http_result res;
    size_t body_max;
    int fail_past_max;
    hw_http_done_fn done;
    void *user;
    lws_usec_t started;
};

static void finish(struct fetch *f)
{
    f->res.duration_us = (int64_t)(lws_now_usecs() - f->started);
    f->done(&f->res, f->user);
}

static void on_head(struct hw_http_req *r, void *user, const struct hw_http_head *h,
                    const char *raw, size_t raw_len)
{
    struct fetch *f = hw_http_req_data(r);

    f->res.status = f->res.head_status = h->status;
    /* raw_len <= HW_HEAD_MAX, the buffer's cap: only memory can fail here. */
    if (hw_buf_append(&f->res.head, raw, raw_len)) {
        f->res.status = 0;
        f->res.fail = HW_HTTP_TOO_LARGE;
        f->res.fail_text = "out of memory";
        finish(f);
        hw_http_req_cancel(r);
    }
}

static size_t on_body(struct hw_http_req *r, void *user, const char *p, size_t n)
{
    struct fetch *f = hw_http_req_data(r);
    size_t room = f->body_max - hw_buf_size(&f->res.body), keep = n < room ? n : room;

    f->res.body_len += n;
    if (f->res.body_len > f->body_max) {
        f->res.truncated = 1;
        if (f->fail_past_max) {
            f->res.fail = HW_HTTP_TOO_LARGE;
            f->res.fail_text = "answer body too large";
            finish(f);
            hw_http_req_cancel(r);
            return n;
        }
    }
    if (keep && hw_buf_append(&f->res.body, p, keep)) {
        f->res.fail = HW_HTTP_TOO_LARGE;
        f->res.fail_text = "out of memory";
        finish(f);
        hw_http_req_cancel(r);
    }
    return n;
}

static void on_end(struct hw_http_req *r, void *user)
{
    finish(hw_http_req_data(r));
}

static void on_error(struct hw_http_req *r, void *user, enum hw_http_fail why, const char *text)
{
    struct fetch *f = hw_http_req_data(r);

    f->res.status = 0;
    f->res.fail = why;
    f->res.fail_text = text;
    finish(f);
}

static void on_release(struct hw_http_req *r, void *user)
{
    struct fetch *f = hw_http_req_data(r);

    hw_buf_cleanup(&f->res.head);
    hw_buf_cleanup(&f->res.body);
}

static const struct hw_http_req_cb fetch_cb = {
    .on_head = on_head,
    .on_body = on_body,
    .on_end = on_end,
    .on_error = on_error,
    .on_release = on_release,
};

struct hw_http_req *hw_http_fetch(struct hw_http_target *t, struct hw_buf *msg,
                                  const struct hw_http_req_opts *o, size_t body_max,
                                  int fail_past_max, hw_http_done_fn done, void *user, int *err)
{
    struct hw_http_req_opts fo = *o;
    struct hw_http_req *r;
    struct fetch *f;

    fo.body_done = 1;
    fo.chunked = 0;
    fo.data_size = sizeof(struct fetch);
    r = hw_http_req_start(t, msg, &fo, &fetch_cb, NULL, err);
    if (!r)
        return NULL;
    f = hw_http_req_data(r);
    hw_buf_init(&f->res.head, HW_HEAD_MAX);
    hw_buf_init(&f->res.body, body_max);
    f->body_max = body_max;
    f->fail_past_max = fail_past_max;
    f->done = done;
    f->user = user;
    f->started = lws_now_usecs();
    return r;
}

const char *hw_http_result_header(const struct hw_http_result *res, const char *name, size_t *len)
{
    static struct hw_http_head h; /* service thread only; too big for some stacks */
    const struct hw_http_header *hd;

    if (!res->status ||
        hw_http_parse_response(hw_buf_head(&res->head), hw_buf_size(&res->head), NULL, &h) <= 0)
        return NULL;
    hd = hw_http_find(&h, name);
    return hd ? hw_http_value_trim(hd, len) : NULL;
}

long hw_http_result_retry_after(const struct hw_http_result *res, time_t now)
{
    size_t len;
    const char *v = hw_http_result_header(res, "retry-after", &len);
    char date[32];
    struct tm tm;
    const char *end;
    long secs = 0;
    time_t when;

    if (!v || !len)
        return -1;
    if (v[0] >= '0' && v[0] <= '9') {
        for (size_t i = 0; i < len; i++) {
            if (v[i] < '0' || v[i] > '9' || secs > 100000000L)
                return -1;
            secs = secs * 10 + (v[i] - '0');
        }
        return secs;
    }
    if (len != 29)
        return -1; /* IMF-fixdate is exactly "Sun, 06 Nov 1994 08:49:37 GMT" */
    memcpy(date, v, len);
    date[len] = '\0';
    memset(&tm, 0, sizeof(tm));
    end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return -1;
    when = timegm(&tm);
    return when <= now ? 0 : (long)(when - now);
}
