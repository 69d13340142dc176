/*
 * Stream multiplexer for one tunnel connection: the mux and its stream table (a hash by id,
 * with a few freed streams kept for reuse: a stream per request would otherwise cost three
 * allocations), the streams' life from open to close, and the incoming side, which checks
 * each received message against the protocol's rules and hands it to its stream. The
 * outgoing side is mux_send.c. Event-loop thread only.
 */
#include "mux.h"

/* Kept streams are poisoned in sanitizer builds: a stale stream pointer still gets caught. */
#include <sanitizer/asan_interface.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "mux_int.h"

#define CTRL_MAX      (8u * 1024 * 1024)
#define CTRL_PONG_MAX (1u * 1024 * 1024) /* no PONG is queued past this */
/* Freed streams kept for the next ones, and the most storage each of their buffers keeps. */
#define SPARE_MAX  32
#define SPARE_KEEP (8u * 1024)

struct hw_mux *hw_mux_new(enum hw_mux_role role, const struct hw_mux_callbacks *cb, size_t headroom,
                          size_t body_cap, void *user)
{
    struct hw_mux *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    m->role = role;
    m->cb = *cb;
    m->headroom = headroom;
    m->body_cap = body_cap;
    m->user = user;
    hw_buf_init(&m->ctrl, CTRL_MAX);
    hw_buf_init(&m->stage, headroom + HW_FRAME_HDR_LEN + HW_FRAME_MAX_PAYLOAD);
    return m;
}

void *hw_mux_user(const struct hw_mux *m)
{
    return m->user;
}

size_t hw_mux_stream_count(const struct hw_mux *m)
{
    return m->nstreams;
}

uint32_t hw_mux_stream_id(const struct hw_mux_stream *s)
{
    return s->id;
}

void *hw_mux_stream_user(const struct hw_mux_stream *s)
{
    return s->user;
}

void hw_mux_stream_set_user(struct hw_mux_stream *s, void *user)
{
    s->user = user;
}

static struct hw_mux_stream *find(struct hw_mux *m, uint32_t id)
{
    struct hw_mux_stream *s = m->buckets[id % MUX_BUCKETS];

    while (s && s->id != id)
        s = s->hnext;
    return s;
}

static struct hw_mux_stream *stream_new(struct hw_mux *m, uint32_t id)
{
    struct hw_mux_stream *s = m->spare;

    if (s) {
        struct hw_buf head, body;

        ASAN_UNPOISON_MEMORY_REGION(s, sizeof(*s));
        head = s->head;
        body = s->body;
        m->spare = s->hnext;
        m->nspare--;
        memset(s, 0, sizeof(*s));
        s->head = head;
        s->body = body;
    } else {
        s = calloc(1, sizeof(*s));
        if (!s)
            return NULL;
        hw_buf_init(&s->head, HW_FRAME_HDR_LEN + HW_FRAME_MAX_PAYLOAD);
        hw_buf_init(&s->body, m->body_cap);
    }
    s->mux = m;
    s->id = id;
    s->credit = HW_WINDOW_INITIAL;
    s->recv_window = HW_WINDOW_INITIAL;
    s->hnext = m->buckets[id % MUX_BUCKETS];
    m->buckets[id % MUX_BUCKETS] = s;
    m->nstreams++;
    return s;
}

/* Empties a buffer of a stream kept for reuse, keeping its storage only if it is small. */
static void spare_buf(struct hw_buf *b, size_t max)
{
    if (b->cap > SPARE_KEEP || b->max != max)
        hw_buf_cleanup(b);
    hw_buf_reset(b);
    b->max = max;
}

void hw_mux_stream_free(struct hw_mux_stream *s)
{
    struct hw_mux *m = s->mux;
    struct hw_mux_stream **pp = &m->buckets[s->id % MUX_BUCKETS];

    while (*pp != s)
        pp = &(*pp)->hnext;
    *pp = s->hnext;
    hw_mux_ready_remove(s);
    m->nstreams--;
    if (m->nspare < SPARE_MAX) {
        spare_buf(&s->head, HW_FRAME_HDR_LEN + HW_FRAME_MAX_PAYLOAD);
        spare_buf(&s->body, m->body_cap);
        s->user = NULL;
        s->hnext = m->spare;
        m->spare = s;
        m->nspare++;
        ASAN_POISON_MEMORY_REGION(s, sizeof(*s));
        return;
    }
    hw_buf_cleanup(&s->head);
    hw_buf_cleanup(&s->body);
    free(s);
}

void hw_mux_free(struct hw_mux *m)
{
    struct hw_mux_stream *all = NULL, *s;

    if (!m)
        return;
    /*
     * Detach first, so the callbacks see a consistent table; in stream id
     * order, which is the order the requests were sent: a relay that keeps
     * them for its queue keeps their arrival order.
     */
    for (size_t i = 0; i < MUX_BUCKETS; i++) {
        while ((s = m->buckets[i])) {
            struct hw_mux_stream **at = &all;

            m->buckets[i] = s->hnext;
            while (*at && (*at)->id < s->id)
                at = &(*at)->hnext;
            s->hnext = *at;
            *at = s;
        }
    }
    m->rhead = m->rtail = NULL;
    while ((s = all)) {
        all = s->hnext;
        s->ready = 0;
        if (m->cb.on_reset && !s->closing)
            m->cb.on_reset(m, s, HW_RST_TUNNEL_LOST, "tunnel lost", 11);
        hw_buf_cleanup(&s->head);
        hw_buf_cleanup(&s->body);
        free(s);
    }
    while ((s = m->spare)) {
        ASAN_UNPOISON_MEMORY_REGION(s, sizeof(*s));
        m->spare = s->hnext;
        hw_buf_cleanup(&s->head);
        hw_buf_cleanup(&s->body);
        free(s);
    }
    hw_buf_cleanup(&m->ctrl);
    hw_buf_cleanup(&m->stage);
    free(m);
}

int hw_mux_fail(struct hw_mux *m, const char *why)
{
    m->why = why;
    return HW_EPROTO;
}

const char *hw_mux_error(const struct hw_mux *m)
{
    return m->why;
}

/*
 * Whether f names a stream above every one the relay opened. Only the relay
 * can tell: it opens them all. The agent may get a RESET that overtook its
 * stream's REQUEST (the relay reset the stream before the REQUEST went out)
 * and drops it, as a message for a stream it no longer knows.
 */
static int never_opened(const struct hw_mux *m, const struct hw_frame *f)
{
    return m->role == HW_MUX_RELAY && f->stream > m->last_id;
}

static int handle_stream_frame(struct hw_mux *m, const struct hw_frame *f)
{
    struct hw_mux_stream *s = find(m, f->stream);
    struct hw_msg_reset rst;
    uint32_t inc;

    switch (f->type) {
    case HW_FT_REQUEST:
        if (m->role != HW_MUX_AGENT)
            return hw_mux_fail(m, "a REQUEST sent to the relay");
        if (f->stream <= m->last_id)
            return hw_mux_fail(m, "a REQUEST on a stream id not above the last one");
        m->last_id = f->stream;
        s = stream_new(m, f->stream);
        if (!s)
            return HW_ENOMEM;
        s->head_in = 1;
        m->cb.on_head(m, s, f);
        return 0;
    case HW_FT_RESPONSE:
        if (m->role != HW_MUX_RELAY)
            return hw_mux_fail(m, "a RESPONSE sent to the agent");
        if (f->stream > m->last_id)
            return hw_mux_fail(m, "a RESPONSE on a stream never opened");
        if (!s || s->closing)
            return 0;
        if (s->head_in)
            return hw_mux_fail(m, "a second RESPONSE on one stream");
        s->head_in = 1;
        m->cb.on_head(m, s, f);
        return 0;
    case HW_FT_DATA:
        if (!s && never_opened(m, f))
            return hw_mux_fail(m, "DATA on a stream never opened");
        if (!s || s->closing)
            return 0; /* the stream was closed here; the peer had not heard yet */
        if (!s->head_in)
            return hw_mux_fail(m, "DATA before the stream's head");
        if (s->in_end)
            return hw_mux_fail(m, "DATA after the stream's END");
        if ((int64_t)f->len > s->recv_window)
            return hw_mux_fail(m, "DATA beyond the stream's window");
        s->recv_window -= f->len;
        if (f->len)
            m->cb.on_data(m, s, f->payload, f->len);
        return 0;
    case HW_FT_END:
        if (!s && never_opened(m, f))
            return hw_mux_fail(m, "END on a stream never opened");
        if (!s || s->closing)
            return 0;
        if (!s->head_in)
            return hw_mux_fail(m, "END before the stream's head");
        if (s->in_end)
            return hw_mux_fail(m, "a second END on one stream");
        s->in_end = 1;
        m->cb.on_end(m, s);
        return 0;
    case HW_FT_WINDOW:
        if (hw_frame_decode_window(f, &inc))
            return hw_mux_fail(m, "a malformed WINDOW");
        if (!s && never_opened(m, f))
            return hw_mux_fail(m, "a WINDOW on a stream never opened");
        if (!s)
            return 0;
        if (s->credit + inc > (int64_t)1 << 31)
            return hw_mux_fail(m, "a WINDOW past 2^31 bytes of credit");
        s->credit += inc;
        hw_mux_update_ready(s);
        return 0;
    case HW_FT_RESET:
        if (hw_frame_decode_reset(f, &rst))
            return hw_mux_fail(m, "a malformed RESET");
        /* Code 0 means the tunnel itself was lost: only this end may say so. */
        if (rst.code == HW_RST_TUNNEL_LOST)
            return hw_mux_fail(m, "a RESET with code 0 (tunnel lost), which no peer may send");
        if (!s && never_opened(m, f))
            return hw_mux_fail(m, "a RESET on a stream never opened");
        if (!s)
            return 0;
        hw_mux_ready_remove(s);
        if (!s->closing)
            m->cb.on_reset(m, s, rst.code, rst.text.p, rst.text.len);
        hw_mux_stream_free(s);
        return 0;
    default:
        return 0; /* unknown types are ignored so newer peers can add them */
    }
}

int hw_mux_receive(struct hw_mux *m, const uint8_t *msg, size_t len)
{
    struct hw_frame f;

    if (hw_frame_decode(msg, len, &f))
        return hw_mux_fail(m, hw_frame_broken(msg, len));
    switch (f.type) {
    case HW_FT_PING:
        /*
         * A peer that pings faster than it reads loses PONGs, so that it can
         * never fill the queue that RESET and WINDOW messages need.
         */
        if (hw_buf_size(&m->ctrl) < CTRL_PONG_MAX &&
            hw_frame_encode_control(&m->ctrl, HW_FT_PONG, f.payload, f.len) == 0)
            m->cb.want_write(m);
        return 0;
    case HW_FT_PONG:
        return 0;
    case HW_FT_HELLO: {
        struct hw_msg_hello h;

        if (m->role == HW_MUX_RELAY)
            return hw_mux_fail(m, "a HELLO sent to the relay");
        /* Another version's HELLO may be laid out otherwise: the program says so itself. */
        if (!f.len || (f.payload[0] == HW_PROTO_VERSION && hw_frame_decode_hello(&f, &h)))
            return hw_mux_fail(m, "a malformed HELLO");
        /* The relay says who the agent is once: a second would rename a tunnel in use. */
        if (f.payload[0] == HW_PROTO_VERSION && m->hello_seen++)
            return hw_mux_fail(m, "a second HELLO");
        if (m->cb.on_control)
            m->cb.on_control(m, &f);
        return 0;
    }
    case HW_FT_GOAWAY:
        if (m->cb.on_control)
            m->cb.on_control(m, &f);
        return 0;
    default:
        return handle_stream_frame(m, &f);
    }
}

struct hw_mux_stream *hw_mux_stream_open(struct hw_mux *m, void *user)
{
    struct hw_mux_stream *s;

    if (m->role != HW_MUX_RELAY || m->last_id == UINT32_MAX)
        return NULL;
    s = stream_new(m, m->last_id + 1);
    if (!s)
        return NULL;
    m->last_id++;
    s->user = user;
    return s;
}

void hw_mux_stream_close(struct hw_mux_stream *s)
{
    if (s->mux->role == HW_MUX_RELAY) {
        if (s->in_end && s->end_sent)
            hw_mux_stream_free(s);
        else
            hw_mux_stream_reset(s, HW_RST_CANCEL, "closed");
        return;
    }
    if (s->end_sent) {
        hw_mux_stream_free(s);
    } else if (s->end_queued) {
        s->closing = 1;
        s->user = NULL;
    } else {
        hw_mux_stream_reset(s, HW_RST_CANCEL, "closed");
    }
}
