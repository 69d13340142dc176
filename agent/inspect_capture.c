/*
 * The inspector's record of exchanges with the app (see inspect_capture.h):
 * a ring of AGENT_CAPTURE_MAX slots reused oldest first, with a byte budget
 * over all kept bodies (the oldest exchanges lose their bodies first), and
 * their JSON. Owns struct agent_capture. Service thread only.
 */
#include "inspect_capture.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "core/err.h"
#include "core/id.h"
#include "http/limits.h"
#include "inspect_json.h"

/*
 * A webhook whose id (stamped by the relay's clock) is older than the tunnel came from the
 * relay's queue; so did one older than QUEUED_AGE_MS when it arrives. The two machines'
 * clocks may differ a little: the kind is a label for the developer, nothing acts on it.
 */
#define QUEUED_AGE_MS 2000

/* A slot keeps buffers up to this size for its next exchange. */
#define RECYCLE_MAX (16u * 1024)

struct exchange {
    uint64_t seq; /* 0: the slot is free */
    char id[HW_ID_LEN + 1];
    const char *kind;  /* given by the caller, or NULL: described from the head */
    int64_t tunnel_ms; /* when the tunnel came up, as the exchange began */
    int64_t at_ms;
    lws_usec_t started;
    int64_t duration_us;
    struct hw_buf head, body, answer, answer_body;
    uint64_t body_len, answer_len;
    int status;
    int done;
    int evicted; /* its bodies were dropped for the budget */
    char error[160];
};

struct agent_capture {
    struct exchange ex[AGENT_CAPTURE_MAX];
    uint64_t next_seq;
    size_t kept;       /* body bytes kept in all */
    int64_t tunnel_ms; /* when the tunnel last came up, wall clock */
    char public_url[512];
    agent_capture_fn changed;
    void *user;
    int watched; /* changed is called only while someone listens */
};

static int64_t wall_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

struct agent_capture *agent_capture_new(agent_capture_fn changed, void *user)
{
    struct agent_capture *cp = calloc(1, sizeof(*cp));

    if (!cp)
        return NULL;
    cp->next_seq = 1;
    cp->changed = changed;
    cp->user = user;
    return cp;
}

static void drop_bodies(struct agent_capture *cp, struct exchange *e)
{
    cp->kept -= hw_buf_size(&e->body) + hw_buf_size(&e->answer_body);
    hw_buf_cleanup(&e->body);
    hw_buf_cleanup(&e->answer_body);
}

static void slot_clear(struct agent_capture *cp, struct exchange *e)
{
    drop_bodies(cp, e);
    hw_buf_cleanup(&e->head);
    hw_buf_cleanup(&e->answer);
    memset(e, 0, sizeof(*e));
}

/* Keeps a small buffer's storage for the slot's next exchange (no allocation per exchange once
 * the ring has gone round); a large one is given back. */
static void buf_recycle(struct hw_buf *b, size_t max)
{
    if (b->cap > RECYCLE_MAX)
        hw_buf_cleanup(b);
    hw_buf_reset(b);
    b->max = max;
}

/* Empties a slot for a new exchange. */
static void slot_recycle(struct agent_capture *cp, struct exchange *e)
{
    struct hw_buf head = e->head, body = e->body, answer = e->answer, ab = e->answer_body;

    cp->kept -= hw_buf_size(&body) + hw_buf_size(&ab);
    memset(e, 0, sizeof(*e));
    e->head = head;
    e->body = body;
    e->answer = answer;
    e->answer_body = ab;
    buf_recycle(&e->head, HW_HEAD_MAX);
    buf_recycle(&e->body, AGENT_CAPTURE_BODY_MAX);
    buf_recycle(&e->answer, HW_HEAD_MAX);
    buf_recycle(&e->answer_body, AGENT_CAPTURE_ANSWER);
}

void agent_capture_tunnel_up(struct agent_capture *cp, const char *public_url, size_t len)
{
    if (!cp)
        return;
    cp->tunnel_ms = wall_ms();
    if (len >= sizeof(cp->public_url))
        len = 0; /* a URL this long is not worth showing cut */
    memcpy(cp->public_url, public_url, len);
    cp->public_url[len] = '\0';
}

const char *agent_capture_public_url(const struct agent_capture *cp)
{
    return cp ? cp->public_url : "";
}

void agent_capture_watch(struct agent_capture *cp, int watched)
{
    if (cp)
        cp->watched = watched;
}

void agent_capture_free(struct agent_capture *cp)
{
    if (!cp)
        return;
    for (size_t i = 0; i < AGENT_CAPTURE_MAX; i++)
        slot_clear(cp, &cp->ex[i]);
    free(cp);
}

static struct exchange *find(struct agent_capture *cp, uint64_t seq)
{
    struct exchange *e;

    if (!cp || !seq)
        return NULL;
    e = &cp->ex[seq % AGENT_CAPTURE_MAX];
    return e->seq == seq ? e : NULL;
}

/* The value of header name in a raw head, trimmed, or NULL. */
static const char *header(const char *head, size_t len, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *p = head, *end = head + len;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *stop = eol ? eol : end;

        if ((size_t)(stop - p) > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            while (v < stop && (*v == ' ' || *v == '\t'))
                v++;
            while (stop > v && (stop[-1] == '\r' || stop[-1] == ' ' || stop[-1] == '\t'))
                stop--;
            *vlen = (size_t)(stop - v);
            return v;
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    return NULL;
}

static int queued(int64_t tunnel_ms, int64_t now_ms, int64_t id_ms)
{
    return id_ms >= 0 && (now_ms - id_ms > QUEUED_AGE_MS || (tunnel_ms && id_ms < tunnel_ms));
}

/* What a row shows, read from the head when the row is formatted (not on the forwarding path). */
struct summary {
    char method[HW_METHOD_MAX + 1]; /* any method the parsers take */
    char path[512];
    int attempt;
    const char *verify;
    const char *kind;
};

/* Method and path from the request line; attempt and verification from the relay's lines. */
static void describe(const struct exchange *e, struct summary *m)
{
    const char *head = hw_buf_head(&e->head), *sp, *sp2, *v;
    size_t len = hw_buf_size(&e->head), n;

    memset(m, 0, sizeof(*m));
    sp = len ? memchr(head, ' ', len) : NULL;
    if (sp) {
        n = (size_t)(sp - head) < sizeof(m->method) - 1 ? (size_t)(sp - head) : 0;
        memcpy(m->method, head, n);
        sp2 = memchr(sp + 1, ' ', len - (size_t)(sp + 1 - head));
        n = sp2 ? (size_t)(sp2 - sp - 1) : 0;
        n = n < sizeof(m->path) - 1 ? n : sizeof(m->path) - 1;
        memcpy(m->path, sp + 1, n);
    }
    m->attempt = 1;
    if ((v = header(head, len, "hookwire-attempt", &n)) && n && n < 10) {
        char num[12];
        memcpy(num, v, n);
        num[n] = '\0';
        m->attempt = (int)strtol(num, NULL, 10);
    }
    v = header(head, len, "hookwire-verified", &n);
    m->verify = !v ? "none" : n == 4 && memcmp(v, "true", 4) == 0 ? "verified" : "failed";
    if (e->kind)
        m->kind = e->kind;
    else if (m->attempt > 1)
        m->kind = "replayed";
    else
        m->kind = queued(e->tunnel_ms, e->at_ms, hw_id_time_ms(e->id)) ? "queued" : "live";
}

static int row_json(const struct exchange *e, struct hw_buf *b)
{
    struct summary m;
    int err;

    describe(e, &m);
    err = hw_buf_printf(b,
                        "{\"seq\":%llu,\"id\":\"%s\",\"kind\":\"%s\",\"attempt\":%d,"
                        "\"verify\":\"%s\",\"at_ms\":%lld,\"method\":",
                        (unsigned long long)e->seq, e->id, m.kind, m.attempt, m.verify,
                        (long long)e->at_ms);
    err = err ? err : hw_json_str(b, m.method, strlen(m.method), HW_JSON_BYTES);
    err = err ? err : hw_buf_puts(b, ",\"path\":");
    err = err ? err : hw_json_str(b, m.path, strlen(m.path), HW_JSON_BYTES);
    err = err ? err
              : hw_buf_printf(b,
                              ",\"status\":%d,\"duration_ms\":%.1f,\"size\":%llu,"
                              "\"answer_size\":%llu,\"done\":%s,\"error\":",
                              e->status, (double)e->duration_us / 1000.0,
                              (unsigned long long)e->body_len, (unsigned long long)e->answer_len,
                              e->done ? "true" : "false");
    err = err ? err : hw_json_str(b, e->error, strlen(e->error), HW_JSON_BYTES);
    return err ? err : hw_buf_puts(b, "}");
}

static void notify(struct agent_capture *cp, const struct exchange *e)
{
    struct hw_buf b;

    if (!cp->changed || !cp->watched)
        return;
    hw_buf_init(&b, 8192);
    if (!row_json(e, &b))
        cp->changed(cp->user, hw_buf_head(&b), hw_buf_size(&b));
    hw_buf_cleanup(&b);
}

uint64_t agent_capture_begin(struct agent_capture *cp, const char *id, size_t id_len,
                             const char *kind, const char *head, size_t head_len)
{
    struct exchange *e;
    uint64_t seq;

    if (!cp)
        return 0;
    seq = cp->next_seq++;
    e = &cp->ex[seq % AGENT_CAPTURE_MAX];
    slot_recycle(cp, e);
    e->seq = seq;
    if (id_len > HW_ID_LEN)
        id_len = HW_ID_LEN;
    memcpy(e->id, id, id_len);
    e->at_ms = wall_ms();
    e->started = lws_now_usecs();
    if (hw_buf_append(&e->head, head, head_len)) {
        slot_clear(cp, e);
        return 0;
    }
    e->kind = kind;
    e->tunnel_ms = cp->tunnel_ms;
    notify(cp, e);
    return seq;
}

/* Keeps what fits the exchange's cap and the ring's budget, oldest exchanges giving way. */
static void keep(struct agent_capture *cp, struct exchange *e, struct hw_buf *b, const void *p,
                 size_t n)
{
    size_t room = b->max - hw_buf_size(b);

    if (e->evicted)
        return;
    n = n < room ? n : room;
    for (uint64_t s = e->seq + 1; n && cp->kept + n > AGENT_CAPTURE_BUDGET; s++) {
        struct exchange *old = &cp->ex[s % AGENT_CAPTURE_MAX];
        if (old == e)
            return; /* nothing older left to drop: this one keeps what it has */
        if (old->seq && !old->evicted) {
            drop_bodies(cp, old);
            old->evicted = 1;
        }
    }
    if (n && !hw_buf_append(b, p, n))
        cp->kept += n;
}

void agent_capture_body(struct agent_capture *cp, uint64_t seq, const void *p, size_t n)
{
    struct exchange *e = find(cp, seq);

    if (!e)
        return;
    e->body_len += n;
    keep(cp, e, &e->body, p, n);
}

void agent_capture_answer(struct agent_capture *cp, uint64_t seq, int status, const char *raw,
                          size_t raw_len)
{
    struct exchange *e = find(cp, seq);

    if (!e)
        return;
    e->status = status;
    hw_buf_reset(&e->answer);
    if (hw_buf_append(&e->answer, raw, raw_len))
        hw_buf_reset(&e->answer);
}

void agent_capture_answer_body(struct agent_capture *cp, uint64_t seq, const void *p, size_t n)
{
    struct exchange *e = find(cp, seq);

    if (!e)
        return;
    e->answer_len += n;
    keep(cp, e, &e->answer_body, p, n);
}

void agent_capture_end(struct agent_capture *cp, uint64_t seq, const char *error)
{
    struct exchange *e = find(cp, seq);

    if (!e || e->done)
        return;
    e->done = 1;
    e->duration_us = lws_now_usecs() - e->started;
    if (error)
        snprintf(e->error, sizeof(e->error), "%s", error);
    notify(cp, e);
}

/* The slots newest first: k = 0 is the newest. */
static const struct exchange *nth(const struct agent_capture *cp, uint64_t k)
{
    const struct exchange *e;

    if (k + 1 >= cp->next_seq || k >= AGENT_CAPTURE_MAX)
        return NULL;
    e = &cp->ex[(cp->next_seq - 1 - k) % AGENT_CAPTURE_MAX];
    return e->seq ? e : NULL;
}

int agent_capture_json_list(const struct agent_capture *cp, struct hw_buf *out)
{
    int err = hw_buf_puts(out, "{\"captures\":["), first = 1;

    for (uint64_t k = 0; cp && k < AGENT_CAPTURE_MAX && !err; k++) {
        const struct exchange *e = nth(cp, k);
        if (!e)
            continue;
        err = first ? 0 : hw_buf_puts(out, ",");
        err = err ? err : row_json(e, out);
        first = 0;
    }
    return err ? err : hw_buf_puts(out, "]}");
}

static int full_json(const struct exchange *e, struct hw_buf *b)
{
    int err = row_json(e, b);

    /* The summary's closing brace gives way to the record's own fields. */
    if (!err)
        hw_buf_truncate(b, hw_buf_size(b) - 1);
    err = err ? err : hw_buf_puts(b, ",\"head\":");
    err = err ? err : hw_json_str(b, hw_buf_head(&e->head), hw_buf_size(&e->head), HW_JSON_BYTES);
    err = err ? err : hw_buf_puts(b, ",\"body_b64\":");
    err = err ? err : agent_json_b64(b, hw_buf_head(&e->body), hw_buf_size(&e->body));
    err = err ? err
              : hw_buf_printf(b, ",\"body_cut\":%s,\"answer_head\":",
                              e->evicted || hw_buf_size(&e->body) < e->body_len ? "true" : "false");
    err =
        err ? err : hw_json_str(b, hw_buf_head(&e->answer), hw_buf_size(&e->answer), HW_JSON_BYTES);
    err = err ? err : hw_buf_puts(b, ",\"answer_b64\":");
    err = err ? err : agent_json_b64(b, hw_buf_head(&e->answer_body), hw_buf_size(&e->answer_body));
    err = err ? err
              : hw_buf_printf(b, ",\"answer_cut\":%s}",
                              e->evicted || hw_buf_size(&e->answer_body) < e->answer_len ? "true"
                                                                                         : "false");
    return err;
}

int agent_capture_json_event(const struct agent_capture *cp, const char *id, struct hw_buf *out,
                             int *found)
{
    int err = hw_buf_puts(out, "[");

    *found = 0;
    for (uint64_t k = 0; cp && k < AGENT_CAPTURE_MAX && !err; k++) {
        const struct exchange *e = nth(cp, k);
        if (!e || strcmp(e->id, id) != 0)
            continue;
        err = *found ? hw_buf_puts(out, ",") : 0;
        err = err ? err : full_json(e, out);
        (*found)++;
    }
    return err ? err : hw_buf_puts(out, "]");
}

int agent_capture_request(const struct agent_capture *cp, const char *id, const char **head,
                          size_t *head_len, const char **body, size_t *body_len)
{
    for (uint64_t k = 0; cp && k < AGENT_CAPTURE_MAX; k++) {
        const struct exchange *e = nth(cp, k);
        if (!e || strcmp(e->id, id) != 0)
            continue;
        if (e->evicted || hw_buf_size(&e->body) < e->body_len)
            return HW_ENOTFOUND;
        *head = hw_buf_head(&e->head);
        *head_len = hw_buf_size(&e->head);
        *body = hw_buf_head(&e->body);
        *body_len = hw_buf_size(&e->body);
        return 0;
    }
    return HW_ENOTFOUND;
}
