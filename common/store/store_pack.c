/*
 * The byte format of packed live history (store_pack.h): building a pack
 * on the store thread that commits it, and reading one back for any
 * reader (get, list, replay, purge) with every length checked first.
 * Pure functions over caller-owned buffers; any thread.
 */
#include "store_pack.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
#include "store_backend.h"

/*
 * meta: "HP", version, 0, count (u32), then per webhook: flag status
 * verify (u8 each), the id (HW_ID_LEN bytes), received_ms at_ms (i64),
 * duration_ms http_status (u32), method_len (u16), path_len query_len
 * error_len headers_len body_len (u32), then method path query error, each
 * followed by a NUL. data: each webhook's headers then body, in order.
 * Little-endian throughout.
 */
#define HEAD_LEN  8
#define FIXED_LEN (3 + HW_ID_LEN + 8 + 8 + 4 + 4 + 2 + 5 * 4)

static void put_u(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Makes room for add more bytes in *buf (cap doubling). Returns 0 or HW_ENOMEM. */
static int reserve(unsigned char **buf, size_t *cap, size_t len, size_t add)
{
    size_t want = len + add, c = *cap ? *cap : 4096;
    unsigned char *p;

    if (want <= *cap)
        return 0;
    while (c < want)
        c *= 2;
    p = realloc(*buf, c);
    if (!p)
        return HW_ENOMEM;
    *buf = p;
    *cap = c;
    return 0;
}

/* Room in b->iov for one webhook's headers and body. */
static int reserve_iov(struct hw_pack_buf *b)
{
    size_t c = b->iov_cap ? b->iov_cap : 64;
    struct iovec *v;

    if (b->iov_n + 2 <= b->iov_cap)
        return 0;
    while (c < b->iov_n + 2)
        c *= 2;
    v = realloc(b->iov, c * sizeof(*v));
    if (!v)
        return HW_ENOMEM;
    b->iov = v;
    b->iov_cap = c;
    return 0;
}

/* Borrows n bytes at p as the next piece of the data blob (room reserved). */
static void add_iov(struct hw_pack_buf *b, const void *p, size_t n)
{
    if (!n)
        return;
    b->iov[b->iov_n++] = (struct iovec){ .iov_base = (void *)p, .iov_len = n };
    b->data_len += n;
}

unsigned char *hw_pack_data(const struct hw_pack_buf *b)
{
    unsigned char *d = malloc(b->data_len ? b->data_len : 1), *p = d;

    for (size_t i = 0; d && i < b->iov_n; i++) {
        memcpy(p, b->iov[i].iov_base, b->iov[i].iov_len);
        p += b->iov[i].iov_len;
    }
    return d;
}

int hw_pack_fits(const struct hw_pack_buf *b, int64_t t)
{
    if (!b->n)
        return 1;
    if (b->n >= HW_PACK_MAX || t < 0)
        return 0;
    return (t > b->id_hi ? t : b->id_hi) - (t < b->id_lo ? t : b->id_lo) <= HW_PACK_SPAN_MS;
}

static unsigned char *put_str(unsigned char *p, const char *s, size_t n)
{
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p + n + 1;
}

int hw_pack_add(struct hw_pack_buf *b, const struct hw_store_event *ev, int64_t t,
                const struct hw_store_attempt *a, int status)
{
    const char *query = ev->query ? ev->query : "", *error = a->error ? a->error : "";
    size_t ml = strlen(ev->method), pl = strlen(ev->path), ql = strlen(query), el = strlen(error);
    size_t size = FIXED_LEN + ml + pl + ql + el + 4;
    unsigned char *p;

    if (t < 0 || t >= (int64_t)1 << 48 || b->n >= HW_PACK_MAX || ml > 0xffff ||
        ev->body_len > UINT32_MAX || ev->headers_len > UINT32_MAX ||
        (status != HW_STORE_DELIVERED && status != HW_STORE_FAILED))
        return HW_EINVAL;
    if (reserve(&b->meta, &b->meta_cap, b->meta_len, size + (b->n ? 0 : HEAD_LEN)) ||
        reserve_iov(b))
        return HW_ENOMEM;
    if (!b->n) {
        memcpy(b->meta, "HP", 2);
        b->meta[2] = HW_PACK_VERSION;
        b->meta[3] = 0;
        b->meta_len = HEAD_LEN;
        b->id_lo = b->id_hi = t;
        b->received_lo = b->received_hi = ev->received_ms;
    }
    p = b->meta + b->meta_len;
    p[0] = HW_PACK_LIVE;
    p[1] = (unsigned char)status;
    p[2] = (unsigned char)ev->verify;
    memcpy(p + 3, ev->id, HW_ID_LEN);
    p += 3 + HW_ID_LEN;
    put_u(p, (uint64_t)ev->received_ms, 8);
    put_u(p + 8, (uint64_t)a->at_ms, 8);
    put_u(p + 16, (uint32_t)a->duration_ms, 4);
    put_u(p + 20, (uint32_t)a->http_status, 4);
    put_u(p + 24, ml, 2);
    put_u(p + 26, pl, 4);
    put_u(p + 30, ql, 4);
    put_u(p + 34, el, 4);
    put_u(p + 38, ev->headers_len, 4);
    put_u(p + 42, ev->body_len, 4);
    p += 46;
    p = put_str(p, ev->method, ml);
    p = put_str(p, ev->path, pl);
    p = put_str(p, query, ql);
    put_str(p, error, el);
    b->meta_len += size;
    add_iov(b, ev->headers, ev->headers_len);
    add_iov(b, ev->body, ev->body_len);
    b->n++;
    put_u(b->meta + 4, b->n, 4);
    b->id_lo = t < b->id_lo ? t : b->id_lo;
    b->id_hi = t > b->id_hi ? t : b->id_hi;
    b->received_lo = ev->received_ms < b->received_lo ? ev->received_ms : b->received_lo;
    b->received_hi = ev->received_ms > b->received_hi ? ev->received_ms : b->received_hi;
    if (status == HW_STORE_DELIVERED)
        b->delivered++;
    else
        b->failed++;
    return 0;
}

void hw_pack_buf_reset(struct hw_pack_buf *b)
{
    free(b->meta);
    free(b->iov);
    memset(b, 0, sizeof(*b));
}

int hw_pack_open(struct hw_pack_reader *r, const void *meta, size_t meta_len, size_t data_len)
{
    const unsigned char *m = meta;

    memset(r, 0, sizeof(*r));
    if (!m || meta_len < HEAD_LEN || memcmp(m, "HP", 2) != 0 || m[2] != HW_PACK_VERSION)
        return HW_EIO;
    r->meta = m;
    r->meta_len = meta_len;
    r->data_len = data_len;
    r->n = (uint32_t)get_u(m + 4, 4);
    r->pos = HEAD_LEN;
    /* Each entry takes at least FIXED_LEN + 4 bytes: a count meta cannot hold is a lie. */
    if (r->n > HW_PACK_MAX || r->n > (meta_len - HEAD_LEN) / (FIXED_LEN + 4))
        return HW_EIO;
    return 0;
}

/* Takes a string of n bytes and its NUL at r->pos. Returns it, or NULL when it does not fit. */
static const char *take_str(struct hw_pack_reader *r, size_t n)
{
    const char *s = (const char *)r->meta + r->pos;

    if (n >= r->meta_len - r->pos || r->meta[r->pos + n] != '\0')
        return NULL;
    r->pos += n + 1;
    return s;
}

int hw_pack_next(struct hw_pack_reader *r, struct hw_pack_entry *e)
{
    const unsigned char *p;
    size_t ml, pl, ql, el;

    if (r->next >= r->n)
        return 0;
    if (r->meta_len - r->pos < FIXED_LEN)
        return HW_EIO;
    p = r->meta + r->pos;
    memset(e, 0, sizeof(*e));
    e->index = r->next;
    e->flag_off = r->pos;
    e->flag = p[0];
    e->status = p[1];
    e->verify = p[2];
    if (e->flag > HW_PACK_GONE || (e->status != HW_STORE_DELIVERED && e->status != HW_STORE_FAILED))
        return HW_EIO;
    memcpy(e->id, p + 3, HW_ID_LEN);
    e->id[HW_ID_LEN] = '\0';
    p += 3 + HW_ID_LEN;
    e->received_ms = (int64_t)get_u(p, 8);
    e->attempt.at_ms = (int64_t)get_u(p + 8, 8);
    e->attempt.duration_ms = (int)(uint32_t)get_u(p + 16, 4);
    e->attempt.http_status = (int)(uint32_t)get_u(p + 20, 4);
    ml = (size_t)get_u(p + 24, 2);
    pl = (size_t)get_u(p + 26, 4);
    ql = (size_t)get_u(p + 30, 4);
    el = (size_t)get_u(p + 34, 4);
    e->headers_len = (size_t)get_u(p + 38, 4);
    e->body_len = (size_t)get_u(p + 42, 4);
    r->pos += FIXED_LEN;
    e->method = take_str(r, ml);
    e->path = e->method ? take_str(r, pl) : NULL;
    e->query = e->path ? take_str(r, ql) : NULL;
    e->attempt.error = e->query ? take_str(r, el) : NULL;
    e->attempt.excerpt = "";
    if (!e->attempt.error || e->attempt.duration_ms < 0 || e->attempt.http_status < 0)
        return HW_EIO;
    if (e->headers_len > r->data_len - r->data_pos ||
        e->body_len > r->data_len - r->data_pos - e->headers_len)
        return HW_EIO;
    e->headers_off = r->data_pos;
    e->body_off = r->data_pos + e->headers_len;
    r->data_pos += e->headers_len + e->body_len;
    r->next++;
    return 1;
}

struct hw_store_event *hw_pack_event(const struct hw_pack_entry *e, const char *source, int64_t seq,
                                     const unsigned char *data, int full)
{
    struct hw_store_event ev = {
        .seq = seq,
        .source = source,
        .received_ms = e->received_ms,
        .method = e->method,
        .path = e->path,
        .query = e->query,
        .headers_len = e->headers_len,
        .body_len = e->body_len,
        .verify = e->verify,
        .dedup_key = "",
        .next_attempt_ms = e->received_ms,
        .status = e->status,
        .attempts = 1,
        .last_status = e->attempt.http_status,
        .last_error = e->attempt.error,
    };

    memcpy(ev.id, e->id, sizeof(ev.id));
    if (full && data) {
        ev.headers = (const char *)data + e->headers_off;
        ev.body = (const char *)data + e->body_off;
        /* Computed when read: a live webhook's record never pays for it. */
        hw_store_body_hash(data + e->body_off, e->body_len, ev.body_sha256);
    } else if (full) {
        ev.headers = ev.body = "";
    }
    return hw_store_event_build(&ev);
}
