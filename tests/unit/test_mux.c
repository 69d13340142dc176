/*
 * Unit tests for common/tunnel/mux.c and mux_send.c: a relay-role and an
 * agent-role mux wired back to back in memory (each pulled message is fed to the
 * other side) drive whole exchanges, round-robin between streams, flow control
 * in both directions, PING/PONG, control priority, resets, closing on either
 * side, the protocol errors the receiver must catch, body ownership and
 * on_drain. Single-threaded.
 */
#include "tunnel/mux.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"

#define HEADROOM 16
#define BIG_CAP  (2u * 1024 * 1024)
#define MAX_EV   4096
#define MAX_WIRE 4096
#define MAX_ID   32
#define BODY_MAX (4u * 1024 * 1024)

enum ev_kind { EV_HEAD = 1, EV_DATA, EV_END, EV_RESET, EV_DRAIN, EV_CONTROL };

struct ev {
    enum ev_kind kind;
    uint32_t stream;
    size_t n;      /* DATA: bytes; RESET: text length; CONTROL: payload length */
    uint16_t code; /* RESET code */
    uint8_t type;  /* CONTROL: message type */
    void *user;    /* the stream's user pointer when the callback ran */
};

struct wire {
    uint8_t type;
    uint32_t stream;
    uint32_t len;
};

/* One end of the in-memory tunnel and everything its callbacks saw. */
struct peer {
    struct hw_mux *mux;
    struct ev ev[MAX_EV];
    size_t nev;
    struct wire sent[MAX_WIRE]; /* messages pulled from this side */
    size_t nsent;
    struct hw_buf body[MAX_ID]; /* body bytes received, by stream id */
    struct hw_buf head[MAX_ID]; /* head payload received, by stream id */
    struct hw_mux_stream *st[MAX_ID];
    size_t sent_off[MAX_ID]; /* pattern bytes queued for sending, by stream id */
    char reset_text[MAX_ID][64];
    uint8_t ctrl[64]; /* payload of the last on_control message */
    unsigned want_writes;
    int auto_consume;    /* on_data calls hw_mux_consumed() at once */
    size_t drain_refill; /* on_drain queues this many more pattern bytes, once */
};

static struct peer relay, agent;

/* The body bytes used everywhere: stream id and offset decide each byte. */
static uint8_t pattern(uint32_t id, size_t i)
{
    return (uint8_t)(i * 131 + id * 17 + (i >> 9));
}

static void check_pattern(const struct hw_buf *b, uint32_t id, size_t n)
{
    const uint8_t *p;

    CHECK_EQ(hw_buf_size(b), n);
    if (!n)
        return;
    p = (const uint8_t *)hw_buf_head(b);
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern(id, i)) {
            fprintf(stderr, "stream %u byte %zu differs\n", (unsigned)id, i);
            CHECK(0);
        }
}

static struct peer *peer_of(struct hw_mux *m)
{
    return hw_mux_user(m);
}

static struct ev *add_ev(struct peer *p, enum ev_kind kind, struct hw_mux_stream *s)
{
    struct ev *e;

    CHECK(p->nev < MAX_EV);
    e = &p->ev[p->nev++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    if (s) {
        e->stream = hw_mux_stream_id(s);
        e->user = hw_mux_stream_user(s);
        CHECK(e->stream < MAX_ID);
    }
    return e;
}

static void cb_head(struct hw_mux *m, struct hw_mux_stream *s, const struct hw_frame *f)
{
    struct peer *p = peer_of(m);
    uint32_t id = hw_mux_stream_id(s);

    add_ev(p, EV_HEAD, s);
    CHECK_EQ(f->stream, id);
    p->st[id] = s;
    hw_buf_reset(&p->head[id]);
    CHECK_EQ(hw_buf_append(&p->head[id], f->payload, f->len), 0);
}

static void cb_data(struct hw_mux *m, struct hw_mux_stream *s, const uint8_t *d, size_t n)
{
    struct peer *p = peer_of(m);

    add_ev(p, EV_DATA, s)->n = n;
    CHECK(n > 0);
    CHECK_EQ(hw_buf_append(&p->body[hw_mux_stream_id(s)], d, n), 0);
    if (p->auto_consume)
        hw_mux_consumed(s, n);
}

static void cb_end(struct hw_mux *m, struct hw_mux_stream *s)
{
    add_ev(peer_of(m), EV_END, s);
}

static void cb_reset(struct hw_mux *m, struct hw_mux_stream *s, uint16_t code, const char *text,
                     size_t len)
{
    struct peer *p = peer_of(m);
    struct ev *e = add_ev(p, EV_RESET, s);

    e->code = code;
    e->n = len;
    CHECK(len < sizeof(p->reset_text[0]));
    memcpy(p->reset_text[e->stream], text, len);
    p->reset_text[e->stream][len] = '\0';
    p->st[e->stream] = NULL;
}

static void send_pattern(struct peer *p, struct hw_mux_stream *s, size_t n);

static void cb_drain(struct hw_mux *m, struct hw_mux_stream *s)
{
    struct peer *p = peer_of(m);

    add_ev(p, EV_DRAIN, s);
    if (p->drain_refill) {
        size_t n = p->drain_refill;

        p->drain_refill = 0;
        send_pattern(p, s, n);
    }
}

static void cb_control(struct hw_mux *m, const struct hw_frame *f)
{
    struct peer *p = peer_of(m);
    struct ev *e = add_ev(p, EV_CONTROL, NULL);

    e->type = f->type;
    e->n = f->len;
    CHECK_EQ(f->stream, 0);
    memcpy(p->ctrl, f->payload, f->len < sizeof(p->ctrl) ? f->len : sizeof(p->ctrl));
}

static void cb_want_write(struct hw_mux *m)
{
    peer_of(m)->want_writes++;
}

static const struct hw_mux_callbacks callbacks = {
    .on_head = cb_head,
    .on_data = cb_data,
    .on_end = cb_end,
    .on_reset = cb_reset,
    .on_drain = cb_drain,
    .on_control = cb_control,
    .want_write = cb_want_write,
};

static void peer_init(struct peer *p, enum hw_mux_role role, size_t body_cap)
{
    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i < MAX_ID; i++) {
        hw_buf_init(&p->body[i], BODY_MAX);
        hw_buf_init(&p->head[i], HW_FRAME_MAX_PAYLOAD);
    }
    p->mux = hw_mux_new(role, &callbacks, HEADROOM, body_cap, p);
    CHECK(p->mux != NULL);
    CHECK(hw_mux_user(p->mux) == p);
}

static void peer_cleanup(struct peer *p)
{
    hw_mux_free(p->mux);
    p->mux = NULL;
    for (size_t i = 0; i < MAX_ID; i++) {
        hw_buf_cleanup(&p->body[i]);
        hw_buf_cleanup(&p->head[i]);
    }
}

static void setup(void)
{
    peer_init(&relay, HW_MUX_RELAY, BIG_CAP);
    peer_init(&agent, HW_MUX_AGENT, BIG_CAP);
}

static void teardown(void)
{
    peer_cleanup(&relay);
    peer_cleanup(&agent);
}

/* Queues the next n bytes of the stream's pattern, as much as fits at a time. */
static void send_pattern(struct peer *p, struct hw_mux_stream *s, size_t n)
{
    uint32_t id = hw_mux_stream_id(s);
    uint8_t chunk[4096];

    while (n) {
        size_t k = n < sizeof(chunk) ? n : sizeof(chunk);

        for (size_t i = 0; i < k; i++)
            chunk[i] = pattern(id, p->sent_off[id] + i);
        CHECK_EQ(hw_mux_send_body(s, chunk, k), 0);
        p->sent_off[id] += k;
        n -= k;
    }
}

/*
 * Moves one message from one side to the other. Returns 0 when the sender had
 * nothing, which must agree with hw_mux_pending().
 */
static int step(struct peer *from, struct peer *to)
{
    int pending = hw_mux_pending(from->mux);
    struct hw_frame f;
    uint8_t *msg;
    size_t len;

    if (!hw_mux_pull(from->mux, &msg, &len)) {
        CHECK(!pending);
        return 0;
    }
    CHECK(pending);
    /* The headroom in front of the message is the program's to write (LWS_PRE). */
    memset(msg - HEADROOM, 0xee, HEADROOM);
    CHECK_EQ(hw_frame_decode(msg, len, &f), 0);
    CHECK(from->nsent < MAX_WIRE);
    from->sent[from->nsent].type = f.type;
    from->sent[from->nsent].stream = f.stream;
    from->sent[from->nsent].len = f.len;
    from->nsent++;
    CHECK_EQ(hw_mux_receive(to->mux, msg, len), 0);
    return 1;
}

/* Moves messages both ways until neither side has anything to send. */
static void pump(void)
{
    int moved;

    do {
        moved = 0;
        while (step(&relay, &agent))
            moved = 1;
        while (step(&agent, &relay))
            moved = 1;
    } while (moved);
}

/* Moves one message from the relay, then everything the agent answers. */
static int step_relay(void)
{
    int moved = step(&relay, &agent);

    while (step(&agent, &relay))
        ;
    return moved;
}

static int step_agent(void)
{
    int moved = step(&agent, &relay);

    while (step(&relay, &agent))
        ;
    return moved;
}

static struct hw_str str(const char *s)
{
    struct hw_str v = { s, strlen(s) };

    return v;
}

/* Opens a relay stream and queues its REQUEST, body_len pattern bytes and, if asked, END. */
static struct hw_mux_stream *open_request(void *user, size_t body_len, int end)
{
    struct hw_msg_request req = { body_len, str("evt_test"), str("POST"), str("/hook"),
                                  str("Content-Type:application/json\r\n") };
    struct hw_mux_stream *s = hw_mux_stream_open(relay.mux, user);

    CHECK(s != NULL);
    CHECK(hw_mux_stream_id(s) < MAX_ID);
    relay.st[hw_mux_stream_id(s)] = s;
    CHECK_EQ(hw_mux_send_request(s, &req), 0);
    send_pattern(&relay, s, body_len);
    if (end)
        CHECK_EQ(hw_mux_send_end(s), 0);
    return s;
}

static void respond(struct hw_mux_stream *s, uint16_t status, size_t body_len, int end)
{
    struct hw_msg_response resp = { status, body_len, str("OK"), str("Content-Length:0\r\n") };

    CHECK_EQ(hw_mux_send_response(s, &resp), 0);
    send_pattern(&agent, s, body_len);
    if (end)
        CHECK_EQ(hw_mux_send_end(s), 0);
}

static size_t count_ev(const struct peer *p, enum ev_kind kind, uint32_t stream)
{
    size_t n = 0;

    for (size_t i = 0; i < p->nev; i++)
        if (p->ev[i].kind == kind && p->ev[i].stream == stream)
            n++;
    return n;
}

/* Index of the first event of a kind on a stream, or -1. */
static long find_ev(const struct peer *p, enum ev_kind kind, uint32_t stream)
{
    for (size_t i = 0; i < p->nev; i++)
        if (p->ev[i].kind == kind && p->ev[i].stream == stream)
            return (long)i;
    return -1;
}

static size_t count_sent(const struct peer *p, uint8_t type)
{
    size_t n = 0;

    for (size_t i = 0; i < p->nsent; i++)
        if (p->sent[i].type == type)
            n++;
    return n;
}

/* Scratch buffer for messages built by hand: fb() empties it, feed() delivers it. */
static struct hw_buf feed_buf;

static struct hw_buf *fb(void)
{
    hw_buf_reset(&feed_buf);
    return &feed_buf;
}

static void feed(struct hw_mux *m, int rc)
{
    CHECK_EQ(hw_mux_receive(m, (const uint8_t *)hw_buf_head(&feed_buf), hw_buf_size(&feed_buf)),
             rc);
}

static void feed_request(struct hw_mux *m, uint32_t stream, int rc)
{
    struct hw_msg_request req = { 0, str(""), str("GET"), str("/"), str("") };

    CHECK_EQ(hw_frame_encode_request(fb(), stream, &req), 0);
    feed(m, rc);
}

static void feed_response(struct hw_mux *m, uint32_t stream, int rc)
{
    struct hw_msg_response resp = { 204, 0, str(""), str("") };

    CHECK_EQ(hw_frame_encode_response(fb(), stream, &resp), 0);
    feed(m, rc);
}

static void feed_data(struct hw_mux *m, uint32_t stream, size_t n, int rc)
{
    static uint8_t zeros[HW_FRAME_MAX_DATA];

    CHECK_EQ(hw_frame_encode_data(fb(), stream, zeros, n), 0);
    feed(m, rc);
}

/* Pulls the next message from a mux that has no peer and checks its header. */
#define ANY_LEN SIZE_MAX

static const uint8_t *pull_expect(struct hw_mux *m, uint8_t type, uint32_t stream, size_t len)
{
    struct hw_frame f;
    uint8_t *msg;
    size_t n;

    CHECK_EQ(hw_mux_pull(m, &msg, &n), 1);
    CHECK_EQ(hw_frame_decode(msg, n, &f), 0);
    CHECK_EQ(f.type, type);
    CHECK_EQ(f.stream, stream);
    if (len != ANY_LEN)
        CHECK_EQ(f.len, len);
    return f.payload;
}

/* Checks that a peer saw HEAD, then only DATA, then END on one stream, and nothing else. */
static void check_exchange_events(const struct peer *p, uint32_t id)
{
    CHECK(p->nev >= 2);
    CHECK_EQ(p->ev[0].kind, EV_HEAD);
    for (size_t i = 1; i + 1 < p->nev; i++)
        CHECK_EQ(p->ev[i].kind, EV_DATA);
    CHECK_EQ(p->ev[p->nev - 1].kind, EV_END);
    for (size_t i = 0; i < p->nev; i++)
        CHECK_EQ(p->ev[i].stream, id);
}

/* A request with a body goes out, the answer comes back, both sides end clean. */
static void test_full_exchange(void)
{
    struct hw_msg_request rq;
    struct hw_msg_response rs;
    struct hw_frame f;
    struct hw_mux_stream *idle, *s, *as;
    int rtag, atag;

    setup();
    CHECK(hw_mux_stream_open(agent.mux, NULL) == NULL); /* only the relay opens streams */
    CHECK_EQ(hw_mux_pending(relay.mux), 0);
    idle = hw_mux_stream_open(relay.mux, NULL);
    CHECK(idle != NULL);
    CHECK_EQ(hw_mux_stream_id(idle), 1);
    CHECK_EQ(hw_mux_stream_count(relay.mux), 1);
    /* Opening alone has nothing to send. */
    CHECK_EQ(hw_mux_pending(relay.mux), 0);
    CHECK_EQ(relay.want_writes, 0);

    s = open_request(&rtag, 5000, 1);
    CHECK_EQ(hw_mux_stream_id(s), 2);
    CHECK(hw_mux_stream_user(s) == &rtag);
    CHECK(relay.want_writes > 0);
    CHECK(hw_mux_pending(relay.mux));
    pump();

    /* The agent saw the head, then the body, then END, in that order. */
    CHECK_EQ(relay.sent[0].type, HW_FT_REQUEST);
    CHECK_EQ(relay.sent[0].stream, 2);
    CHECK_EQ(relay.sent[relay.nsent - 1].type, HW_FT_END);
    check_exchange_events(&agent, 2);
    CHECK(agent.ev[0].user == NULL);
    check_pattern(&agent.body[2], 2, 5000);
    f.type = HW_FT_REQUEST;
    f.stream = 2;
    f.payload = (const uint8_t *)hw_buf_head(&agent.head[2]);
    f.len = (uint32_t)hw_buf_size(&agent.head[2]);
    CHECK_EQ(hw_frame_decode_request(&f, &rq), 0);
    CHECK_EQ(rq.body_len, 5000);
    CHECK_EQ(rq.method.len, 4);
    CHECK_MEM(rq.method.p, "POST", 4);
    CHECK_EQ(rq.target.len, 5);
    CHECK_MEM(rq.target.p, "/hook", 5);
    CHECK_EQ(hw_mux_stream_count(agent.mux), 1);

    /* The agent answers and closes at once; its queued answer still goes out. */
    as = agent.st[2];
    CHECK(as != NULL);
    hw_mux_stream_set_user(as, &atag);
    CHECK(hw_mux_stream_user(as) == &atag);
    respond(as, 201, 700, 1);
    hw_mux_stream_close(as);
    CHECK_EQ(hw_mux_stream_count(agent.mux), 1);
    pump();
    CHECK_EQ(hw_mux_stream_count(agent.mux), 0);

    check_exchange_events(&relay, 2);
    for (size_t i = 0; i < relay.nev; i++)
        CHECK(relay.ev[i].user == &rtag);
    check_pattern(&relay.body[2], 2, 700);
    f.type = HW_FT_RESPONSE;
    f.payload = (const uint8_t *)hw_buf_head(&relay.head[2]);
    f.len = (uint32_t)hw_buf_size(&relay.head[2]);
    CHECK_EQ(hw_frame_decode_response(&f, &rs), 0);
    CHECK_EQ(rs.status, 201);
    CHECK_EQ(rs.body_len, 700);

    /* Both bodies are complete: closing on the relay sends nothing. */
    CHECK_EQ(hw_mux_stream_count(relay.mux), 2);
    hw_mux_stream_close(s);
    CHECK_EQ(hw_mux_stream_count(relay.mux), 1);
    CHECK_EQ(hw_mux_pending(relay.mux), 0);
    /* The idle stream never sent a head; closing it still cancels it, harmlessly. */
    hw_mux_stream_close(idle);
    CHECK_EQ(hw_mux_stream_count(relay.mux), 0);
    pump();
    CHECK_EQ(relay.sent[relay.nsent - 1].type, HW_FT_RESET);
    CHECK_EQ(relay.sent[relay.nsent - 1].stream, 1);
    CHECK_EQ(count_ev(&agent, EV_RESET, 1), 0);
    teardown();
}

/* Exact schedule of three streams: heads first in order, then one message per stream in turn. */
static void test_round_robin_order(void)
{
    static const struct wire want[] = {
        { HW_FT_REQUEST, 1, 0 },  { HW_FT_REQUEST, 2, 0 }, { HW_FT_REQUEST, 3, 0 },
        { HW_FT_DATA, 1, 65536 }, { HW_FT_DATA, 2, 1000 }, { HW_FT_DATA, 3, 65536 },
        { HW_FT_DATA, 1, 65536 }, { HW_FT_END, 2, 0 },     { HW_FT_DATA, 3, 4464 },
        { HW_FT_DATA, 1, 65536 }, { HW_FT_END, 3, 0 },     { HW_FT_DATA, 1, 65536 },
        { HW_FT_DATA, 1, 37856 }, { HW_FT_END, 1, 0 },
    };
    size_t n = 0;

    setup();
    agent.auto_consume = 1;
    open_request(NULL, 300000, 1);
    open_request(NULL, 1000, 1);
    open_request(NULL, 70000, 1);
    while (step_relay()) {
        const struct wire *w = &relay.sent[relay.nsent - 1];

        CHECK(n < sizeof(want) / sizeof(want[0]));
        CHECK_EQ(w->type, want[n].type);
        CHECK_EQ(w->stream, want[n].stream);
        if (w->type != HW_FT_REQUEST)
            CHECK_EQ(w->len, want[n].len);
        n++;
        /* The small stream finishes while the big one is far from done. */
        if (w->type == HW_FT_END && w->stream == 2)
            CHECK(hw_buf_size(&agent.body[1]) <= 2 * 65536);
    }
    CHECK_EQ(n, sizeof(want) / sizeof(want[0]));
    check_pattern(&agent.body[1], 1, 300000);
    check_pattern(&agent.body[2], 2, 1000);
    check_pattern(&agent.body[3], 3, 70000);
    /* The WINDOWs the agent sent are what let the 300000-byte body pass the first window. */
    CHECK(count_sent(&agent, HW_FT_WINDOW) >= 1);
    teardown();
}

/* Many streams each way at once: every body arrives intact, small ones finish first. */
static void test_many_streams(void)
{
    static const size_t sizes[] = { 0, 1, 1000, 65535, 65536, 65537, 300000, 1000000, 5, 123457 };
    const size_t ns = sizeof(sizes) / sizeof(sizes[0]);

    setup();
    agent.auto_consume = 1;
    relay.auto_consume = 1;
    for (size_t i = 0; i < ns; i++)
        open_request(NULL, sizes[i], 1);
    pump();
    CHECK_EQ(hw_mux_stream_count(agent.mux), ns);
    for (uint32_t id = 1; id <= ns; id++) {
        check_pattern(&agent.body[id], id, sizes[id - 1]);
        CHECK_EQ(count_ev(&agent, EV_HEAD, id), 1);
        CHECK_EQ(count_ev(&agent, EV_END, id), 1);
        CHECK(find_ev(&agent, EV_HEAD, id) < find_ev(&agent, EV_END, id));
    }
    /* Round-robin: the 1000-byte and 5-byte bodies end before the 1 MB one has half arrived. */
    for (size_t i = 0; i < agent.nev; i++) {
        const struct ev *e = &agent.ev[i];
        if (e->kind == EV_END && (e->stream == 3 || e->stream == 9)) {
            size_t big = 0;
            for (size_t j = 0; j < i; j++)
                if (agent.ev[j].kind == EV_DATA && agent.ev[j].stream == 8)
                    big += agent.ev[j].n;
            CHECK(big < 500000);
        }
    }

    /* The agent answers every stream with a body of another size, all at once. */
    for (uint32_t id = 1; id <= ns; id++) {
        respond(agent.st[id], 200, sizes[ns - id], 1);
        hw_mux_stream_close(agent.st[id]);
    }
    pump();
    CHECK_EQ(hw_mux_stream_count(agent.mux), 0);
    for (uint32_t id = 1; id <= ns; id++) {
        check_pattern(&relay.body[id], id, sizes[ns - id]);
        CHECK_EQ(count_ev(&relay, EV_END, id), 1);
        hw_mux_stream_close(relay.st[id]);
    }
    CHECK_EQ(hw_mux_stream_count(relay.mux), 0);
    CHECK_EQ(count_sent(&relay, HW_FT_RESET), 0);
    CHECK_EQ(hw_mux_pending(relay.mux), 0);
    teardown();
}

/* Without consumption a sender stops at exactly the window, and resumes with credit. */
static void test_flow_control(void)
{
    struct hw_mux_stream *as;

    setup();
    open_request(NULL, 400000, 1);
    pump();
    CHECK_EQ(hw_buf_size(&agent.body[1]), HW_WINDOW_INITIAL);
    CHECK_EQ(count_ev(&agent, EV_END, 1), 0);
    CHECK_EQ(hw_mux_pending(relay.mux), 0);
    CHECK_EQ(hw_mux_pending(agent.mux), 0);

    as = agent.st[1];
    hw_mux_consumed(as, 65536);
    CHECK(hw_mux_pending(agent.mux));
    pump();
    CHECK_EQ(count_sent(&agent, HW_FT_WINDOW), 1);
    CHECK_EQ(hw_buf_size(&agent.body[1]), HW_WINDOW_INITIAL + 65536);
    CHECK_EQ(hw_mux_pending(relay.mux), 0);

    /* Credit that is not a multiple of the DATA size is used to the byte. */
    hw_mux_consumed(as, 70000);
    pump();
    CHECK_EQ(hw_buf_size(&agent.body[1]), HW_WINDOW_INITIAL + 65536 + 70000);
    CHECK_EQ(hw_mux_pending(relay.mux), 0);

    hw_mux_consumed(as, HW_WINDOW_INITIAL);
    pump();
    check_pattern(&agent.body[1], 1, 400000);
    CHECK_EQ(count_ev(&agent, EV_END, 1), 1);

    /* The same the other way: the relay's unconsumed response stops at the window. */
    respond(as, 200, 300000, 1);
    pump();
    CHECK_EQ(hw_buf_size(&relay.body[1]), HW_WINDOW_INITIAL);
    CHECK_EQ(count_ev(&relay, EV_END, 1), 0);
    CHECK_EQ(hw_mux_pending(agent.mux), 0);
    hw_mux_consumed(relay.st[1], HW_WINDOW_INITIAL);
    pump();
    check_pattern(&relay.body[1], 1, 300000);
    CHECK_EQ(count_ev(&relay, EV_END, 1), 1);
    teardown();
}

/* A peer that sends past the window it was given breaks the protocol. */
static void test_window_enforced_by_receiver(void)
{
    uint8_t *msg;
    size_t len;

    setup();
    feed_request(agent.mux, 1, 0);
    for (int i = 0; i < 4; i++)
        feed_data(agent.mux, 1, 65536, 0);
    feed_data(agent.mux, 1, 0, 0); /* an empty DATA needs no credit */
    CHECK_EQ(hw_buf_size(&agent.body[1]), HW_WINDOW_INITIAL);
    CHECK(hw_mux_error(agent.mux) == NULL);
    feed_data(agent.mux, 1, 1, HW_EPROTO);
    CHECK_STR(hw_mux_error(agent.mux), "DATA beyond the stream's window");

    /* Credit handed back with WINDOW moves the limit by exactly that much. */
    feed_request(agent.mux, 2, 0);
    for (int i = 0; i < 4; i++)
        feed_data(agent.mux, 2, 65536, 0);
    hw_mux_consumed(agent.st[2], 65536);
    CHECK(hw_mux_pending(agent.mux));
    feed_data(agent.mux, 2, 65536, 0);
    feed_data(agent.mux, 2, 1, HW_EPROTO);

    /* Credit may not grow past 2^31 bytes. */
    CHECK_EQ(hw_frame_encode_window(fb(), 2, 0x7fffffffu - HW_WINDOW_INITIAL + 1), 0);
    feed(agent.mux, 0);
    CHECK_EQ(hw_frame_encode_window(fb(), 2, 1), 0);
    feed(agent.mux, HW_EPROTO);
    CHECK_STR(hw_mux_error(agent.mux), "a WINDOW past 2^31 bytes of credit");

    /* Nothing may follow END, and END comes once. */
    feed_request(agent.mux, 3, 0);
    feed_data(agent.mux, 3, 65536, 0);
    feed_data(agent.mux, 3, 65536, 0);
    CHECK_EQ(hw_frame_encode_end(fb(), 3), 0);
    feed(agent.mux, 0);
    feed_data(agent.mux, 3, 1, HW_EPROTO);
    CHECK_STR(hw_mux_error(agent.mux), "DATA after the stream's END");
    CHECK_EQ(hw_frame_encode_end(fb(), 3), 0);
    feed(agent.mux, HW_EPROTO);
    CHECK_STR(hw_mux_error(agent.mux), "a second END on one stream");
    /* Once the peer's body has ended, consuming it grants no more credit. */
    while (hw_mux_pull(agent.mux, &msg, &len))
        ;
    hw_mux_consumed(agent.st[3], 131072);
    CHECK_EQ(hw_mux_pending(agent.mux), 0);

    /* The relay enforces its receive window on responses the same way. */
    hw_mux_stream_open(relay.mux, NULL);
    feed_response(relay.mux, 1, 0);
    for (int i = 0; i < 4; i++)
        feed_data(relay.mux, 1, 65536, 0);
    feed_data(relay.mux, 1, 1, HW_EPROTO);
    teardown();
}

static void test_ping_pong(void)
{
    static const uint8_t stamp[] = { 0, 0, 1, 0x8f, 0xaa, 0xbb, 0xcc, 0xdd };
    uint8_t *big = malloc(HW_FRAME_MAX_PAYLOAD);
    const uint8_t *payload;

    CHECK(big != NULL);
    for (size_t i = 0; i < HW_FRAME_MAX_PAYLOAD; i++)
        big[i] = (uint8_t)(i ^ (i >> 11));
    setup();
    CHECK_EQ(hw_frame_encode_control(fb(), HW_FT_PING, stamp, sizeof(stamp)), 0);
    feed(agent.mux, 0);
    CHECK(agent.want_writes > 0);
    CHECK_EQ(hw_frame_encode_control(fb(), HW_FT_PING, NULL, 0), 0);
    feed(agent.mux, 0);
    CHECK_EQ(hw_frame_encode_control(fb(), HW_FT_PING, big, HW_FRAME_MAX_PAYLOAD), 0);
    feed(agent.mux, 0);
    /* PINGs are answered by the mux, not shown to the program. */
    CHECK_EQ(agent.nev, 0);
    payload = pull_expect(agent.mux, HW_FT_PONG, 0, sizeof(stamp));
    CHECK_MEM(payload, stamp, sizeof(stamp));
    pull_expect(agent.mux, HW_FT_PONG, 0, 0);
    payload = pull_expect(agent.mux, HW_FT_PONG, 0, HW_FRAME_MAX_PAYLOAD);
    CHECK_MEM(payload, big, HW_FRAME_MAX_PAYLOAD);
    CHECK_EQ(hw_mux_pending(agent.mux), 0);

    /* Through the tunnel: the relay's PING comes back as PONG, which needs no answer. */
    CHECK_EQ(relay.want_writes, 0);
    CHECK_EQ(hw_mux_send_control(relay.mux, HW_FT_PING, stamp, sizeof(stamp)), 0);
    CHECK(relay.want_writes > 0);
    pump();
    CHECK_EQ(relay.nsent, 1);
    CHECK_EQ(agent.nsent, 1);
    CHECK_EQ(agent.sent[0].type, HW_FT_PONG);
    CHECK_EQ(relay.nev, 0);

    /* HELLO and GOAWAY go to on_control with their payload. */
    {
        struct hw_msg_hello h = { HW_PROTO_VERSION, 20, str("alice"), str("https://r/c/alice") };
        struct hw_msg_hello d;
        struct hw_frame f;

        CHECK_EQ(hw_mux_send_hello(relay.mux, &h), 0);
        CHECK_EQ(hw_mux_send_control(agent.mux, HW_FT_GOAWAY, "bye", 3), 0);
        pump();
        CHECK_EQ(agent.nev, 1);
        CHECK_EQ(agent.ev[0].type, HW_FT_HELLO);
        f.type = HW_FT_HELLO;
        f.stream = 0;
        f.payload = agent.ctrl;
        f.len = (uint32_t)agent.ev[0].n;
        CHECK_EQ(hw_frame_decode_hello(&f, &d), 0);
        CHECK_EQ(d.heartbeat_s, 20);
        CHECK_MEM(d.channel.p, "alice", 5);
        CHECK_EQ(relay.nev, 1);
        CHECK_EQ(relay.ev[0].type, HW_FT_GOAWAY);
        CHECK_EQ(relay.ev[0].n, 3);
        CHECK_MEM(relay.ctrl, "bye", 3);
    }
    teardown();
    free(big);
}

/* Control messages (PONG, WINDOW, RESET, GOAWAY) overtake stream data already queued. */
static void test_control_first(void)
{
    struct hw_mux_stream *as, *bs;
    const uint8_t *payload;

    setup();
    feed_request(agent.mux, 1, 0);
    feed_request(agent.mux, 2, 0);
    as = agent.st[1];
    bs = agent.st[2];
    respond(as, 200, 100000, 1);
    CHECK_EQ(hw_mux_send_control(agent.mux, HW_FT_GOAWAY, "bye", 3), 0);
    pull_expect(agent.mux, HW_FT_GOAWAY, 0, 3);
    pull_expect(agent.mux, HW_FT_RESPONSE, 1, ANY_LEN);
    CHECK_EQ(hw_frame_encode_control(fb(), HW_FT_PING, "p", 1), 0);
    feed(agent.mux, 0);
    payload = pull_expect(agent.mux, HW_FT_PONG, 0, 1);
    CHECK_EQ(payload[0], 'p');
    pull_expect(agent.mux, HW_FT_DATA, 1, 65536);
    /* Credit returned for received bytes goes before the rest of the body. */
    for (int i = 0; i < 2; i++)
        feed_data(agent.mux, 2, 65536, 0);
    hw_mux_consumed(bs, 131072);
    payload = pull_expect(agent.mux, HW_FT_WINDOW, 2, 4);
    CHECK_EQ((uint32_t)payload[0] << 24 | (uint32_t)payload[1] << 16 | payload[2] << 8 | payload[3],
             131072);
    /* So does a RESET. */
    hw_mux_stream_reset(bs, HW_RST_TIMEOUT, "slow");
    payload = pull_expect(agent.mux, HW_FT_RESET, 2, 8);
    CHECK_MEM(payload, "\x00\x04\x00\x04slow", 8);
    pull_expect(agent.mux, HW_FT_DATA, 1, 100000 - 65536);
    pull_expect(agent.mux, HW_FT_END, 1, 0);
    CHECK_EQ(hw_mux_pending(agent.mux), 0);
    teardown();
}

/* A RESET from the peer reaches on_reset once and frees the stream with its queued body. */
static void test_reset_from_peer(void)
{
    int tag;

    setup();
    open_request(&tag, 400000, 1); /* more than a window: part stays queued */
    pump();
    CHECK_EQ(hw_buf_size(&agent.body[1]), HW_WINDOW_INITIAL);
    hw_mux_stream_reset(agent.st[1], HW_RST_REFUSED, "connection refused");
    CHECK_EQ(hw_mux_stream_count(agent.mux), 0);
    pump();
    CHECK_EQ(agent.nsent, 1);
    CHECK_EQ(agent.sent[0].type, HW_FT_RESET);
    CHECK_EQ(count_ev(&relay, EV_RESET, 1), 1);
    CHECK_EQ(relay.ev[relay.nev - 1].kind, EV_RESET);
    CHECK_EQ(relay.ev[relay.nev - 1].code, HW_RST_REFUSED);
    CHECK(relay.ev[relay.nev - 1].user == &tag);
    CHECK_STR(relay.reset_text[1], "connection refused");
    CHECK_EQ(hw_mux_stream_count(relay.mux), 0);
    /* The relay drops the rest of that body and answers nothing. */
    CHECK_EQ(hw_mux_pending(relay.mux), 0);
    /* Late messages for the freed stream are ignored. */
    feed_data(relay.mux, 1, 10, 0);
    CHECK_EQ(hw_frame_encode_end(fb(), 1), 0);
    feed(relay.mux, 0);
    feed_response(relay.mux, 1, 0);
    CHECK_EQ(count_ev(&relay, EV_DATA, 1), 0);
    CHECK_EQ(count_ev(&relay, EV_END, 1), 0);
    CHECK_EQ(count_ev(&relay, EV_HEAD, 1), 0);

    /* The other way: the relay's reset reaches the agent's on_reset. */
    open_request(NULL, 0, 0);
    pump();
    hw_mux_stream_reset(relay.st[2], HW_RST_TIMEOUT, "deadline");
    CHECK_EQ(hw_mux_stream_count(relay.mux), 0);
    pump();
    CHECK_EQ(count_ev(&agent, EV_RESET, 2), 1);
    CHECK_EQ(agent.ev[agent.nev - 1].code, HW_RST_TIMEOUT);
    CHECK_STR(agent.reset_text[2], "deadline");
    CHECK_EQ(hw_mux_stream_count(agent.mux), 0);
    teardown();
}

/* Freeing the mux tells the program about every open stream, once, as a lost tunnel. */
static void test_free_reports_tunnel_lost(void)
{
    int tags[3];
    size_t before;

    setup();
    for (int i = 0; i < 3; i++)
        open_request(&tags[i], 1000, i != 1);
    send_pattern(&relay, relay.st[2], 500000); /* more than a window: some stays queued */
    pump();
    CHECK_EQ(hw_mux_stream_count(agent.mux), 3);
    /* Agent stream 2 is closed with its END queued: the program gave it up already. */
    respond(agent.st[2], 200, 10, 1);
    hw_mux_stream_close(agent.st[2]);
    respond(agent.st[3], 200, 10, 0);

    before = agent.nev;
    hw_mux_free(agent.mux);
    agent.mux = NULL;
    CHECK_EQ(agent.nev, before + 2);
    for (size_t i = before; i < agent.nev; i++) {
        CHECK_EQ(agent.ev[i].kind, EV_RESET);
        CHECK_EQ(agent.ev[i].code, HW_RST_TUNNEL_LOST);
    }
    CHECK_EQ(count_ev(&agent, EV_RESET, 1), 1);
    CHECK_EQ(count_ev(&agent, EV_RESET, 2), 0);
    CHECK_EQ(count_ev(&agent, EV_RESET, 3), 1);

    before = relay.nev;
    hw_mux_free(relay.mux);
    relay.mux = NULL;
    CHECK_EQ(relay.nev, before + 3);
    for (size_t i = before; i < relay.nev; i++) {
        const struct ev *e = &relay.ev[i];

        CHECK_EQ(e->kind, EV_RESET);
        CHECK_EQ(e->code, HW_RST_TUNNEL_LOST);
        CHECK(e->stream >= 1 && e->stream <= 3);
        CHECK(e->user == &tags[e->stream - 1]);
        CHECK_EQ(count_ev(&relay, EV_RESET, e->stream), 1);
    }
    teardown();
}

/* The relay cancels a stream it closes before both bodies are complete, and only then. */
static void test_relay_close(void)
{
    setup();
    /* Request still open. */
    open_request(NULL, 10, 0);
    pump();
    hw_mux_stream_close(relay.st[1]);
    CHECK_EQ(hw_mux_stream_count(relay.mux), 0);
    pump();
    CHECK_EQ(relay.sent[relay.nsent - 1].type, HW_FT_RESET);
    CHECK_EQ(count_ev(&agent, EV_RESET, 1), 1);
    CHECK_EQ(agent.ev[agent.nev - 1].code, HW_RST_CANCEL);
    CHECK_EQ(hw_mux_stream_count(agent.mux), 0);

    /* Request complete, response half way. */
    open_request(NULL, 10, 1);
    pump();
    respond(agent.st[2], 200, 5, 0);
    pump();
    hw_mux_stream_close(relay.st[2]);
    pump();
    CHECK_EQ(count_ev(&agent, EV_RESET, 2), 1);
    CHECK_EQ(agent.ev[agent.nev - 1].code, HW_RST_CANCEL);

    /* Response complete, but the request's END is still stuck behind the window. */
    open_request(NULL, 300000, 1);
    pump();
    respond(agent.st[3], 200, 5, 1);
    pump();
    CHECK_EQ(count_ev(&relay, EV_END, 3), 1);
    hw_mux_stream_close(relay.st[3]);
    pump();
    CHECK_EQ(count_ev(&agent, EV_RESET, 3), 1);
    CHECK_EQ(count_ev(&agent, EV_END, 3), 0);

    /* Both complete: closing sends nothing. */
    open_request(NULL, 10, 1);
    pump();
    respond(agent.st[4], 200, 5, 1);
    pump();
    relay.nsent = 0;
    hw_mux_stream_close(relay.st[4]);
    CHECK_EQ(hw_mux_pending(relay.mux), 0);
    CHECK_EQ(count_ev(&agent, EV_RESET, 4), 0);
    CHECK_EQ(hw_mux_stream_count(relay.mux), 0);
    teardown();
}

/* The agent's closed stream delivers everything it queued, then goes away quietly. */
static void test_agent_close(void)
{
    uint32_t id;
    size_t n;

    setup();
    relay.auto_consume = 1;
    open_request(NULL, 400000, 1); /* the agent never reads all of it */
    pump();
    respond(agent.st[1], 200, 300000, 1);
    hw_mux_stream_close(agent.st[1]);
    CHECK_EQ(hw_mux_stream_count(agent.mux), 1);
    /* Request body for a closed stream is dropped without a callback, even past the window. */
    n = agent.nev;
    feed_data(agent.mux, 1, 65536, 0);
    feed_data(agent.mux, 1, 65536, 0);
    CHECK_EQ(hw_frame_encode_end(fb(), 1), 0);
    feed(agent.mux, 0);
    CHECK_EQ(agent.nev, n);
    CHECK(step_agent());
    CHECK_EQ(hw_mux_stream_count(agent.mux), 1);
    pump();
    check_pattern(&relay.body[1], 1, 300000);
    CHECK_EQ(count_ev(&relay, EV_END, 1), 1);
    CHECK_EQ(hw_mux_stream_count(agent.mux), 0);
    CHECK_EQ(agent.sent[agent.nsent - 1].type, HW_FT_END);
    /* The relay, its request body unfinished, cancels; the agent has already let go. */
    hw_mux_stream_close(relay.st[1]);
    pump();
    CHECK_EQ(relay.sent[relay.nsent - 1].type, HW_FT_RESET);
    CHECK_EQ(count_ev(&agent, EV_RESET, 1), 0);

    /* A closing stream that the peer resets is freed without on_reset. */
    relay.auto_consume = 0;
    id = hw_mux_stream_id(open_request(NULL, 0, 1));
    pump();
    respond(agent.st[id], 200, 400000, 1);
    hw_mux_stream_close(agent.st[id]);
    pump(); /* stops at the window */
    CHECK_EQ(hw_buf_size(&relay.body[id]), HW_WINDOW_INITIAL);
    CHECK_EQ(hw_mux_stream_count(agent.mux), 1);
    hw_mux_stream_reset(relay.st[id], HW_RST_CANCEL, "client gone");
    pump();
    CHECK_EQ(hw_mux_stream_count(agent.mux), 0);
    CHECK_EQ(count_ev(&agent, EV_RESET, id), 0);
    CHECK_EQ(hw_mux_pending(agent.mux), 0);

    /* Closed without END queued: reset at once, queued head and body dropped. */
    id = hw_mux_stream_id(open_request(NULL, 0, 1));
    pump();
    respond(agent.st[id], 200, 10, 0);
    hw_mux_stream_close(agent.st[id]);
    CHECK_EQ(hw_mux_stream_count(agent.mux), 0);
    pump();
    CHECK_EQ(count_ev(&relay, EV_RESET, id), 1);
    CHECK_EQ(relay.ev[relay.nev - 1].code, HW_RST_CANCEL);
    CHECK_EQ(count_ev(&relay, EV_HEAD, id), 0);
    CHECK_EQ(count_ev(&relay, EV_DATA, id), 0);

    /* Closed after END went out: freed at once, nothing more sent. */
    id = hw_mux_stream_id(open_request(NULL, 0, 1));
    pump();
    respond(agent.st[id], 200, 10, 1);
    pump();
    CHECK_EQ(count_ev(&relay, EV_END, id), 1);
    hw_mux_stream_close(agent.st[id]);
    CHECK_EQ(hw_mux_stream_count(agent.mux), 0);
    CHECK_EQ(hw_mux_pending(agent.mux), 0);
    teardown();
}

static void test_protocol_errors(void)
{
    uint8_t junk[HW_FRAME_HDR_LEN] = { HW_FT_DATA, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1 };
    uint8_t zero_window[HW_FRAME_HDR_LEN + 4] = { HW_FT_WINDOW, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4 };
    /* A RESET whose text length is cut off. */
    uint8_t short_reset[HW_FRAME_HDR_LEN + 3] = { HW_FT_RESET, 0, 0, 0, 0, 0, 0, 5,
                                                  0,           0, 0, 3, 0, 1, 0 };
    /* Well-formed, on stream 9, above every stream either side opened. */
    uint8_t window9[HW_FRAME_HDR_LEN + 4] = {
        HW_FT_WINDOW, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 4, 0, 0, 0, 1
    };
    uint8_t end9[HW_FRAME_HDR_LEN] = { HW_FT_END, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0 };
    uint8_t reset9[HW_FRAME_HDR_LEN + 4] = { HW_FT_RESET, 0, 0, 0, 0, 0, 0, 9,
                                             0,           0, 0, 4, 0, 1, 0, 0 };
    /* Code 0, on streams both sides have open: the local-only "tunnel lost". */
    uint8_t reset1_lost[HW_FRAME_HDR_LEN + 4] = { HW_FT_RESET, 0, 0, 0, 0, 0, 0, 1,
                                                  0,           0, 0, 4, 0, 0, 0, 0 };
    uint8_t reset5_lost[HW_FRAME_HDR_LEN + 4] = { HW_FT_RESET, 0, 0, 0, 0, 0, 0, 5,
                                                  0,           0, 0, 4, 0, 0, 0, 0 };

    setup();
    /* Stream ids of REQUESTs must increase. */
    feed_request(agent.mux, 5, 0);
    feed_request(agent.mux, 5, HW_EPROTO);
    feed_request(agent.mux, 4, HW_EPROTO);
    CHECK_STR(hw_mux_error(agent.mux), "a REQUEST on a stream id not above the last one");
    feed_request(agent.mux, 6, 0);
    CHECK_EQ(hw_mux_stream_count(agent.mux), 2);
    CHECK_EQ(count_ev(&agent, EV_HEAD, 4), 0);
    /* Heads in the wrong direction. */
    feed_request(relay.mux, 1, HW_EPROTO);
    CHECK_STR(hw_mux_error(relay.mux), "a REQUEST sent to the relay");
    feed_response(agent.mux, 5, HW_EPROTO);
    CHECK_STR(hw_mux_error(agent.mux), "a RESPONSE sent to the agent");
    /* A RESPONSE for a stream the relay never opened. */
    hw_mux_stream_open(relay.mux, NULL);
    feed_response(relay.mux, 2, HW_EPROTO);
    CHECK_STR(hw_mux_error(relay.mux), "a RESPONSE on a stream never opened");
    feed_response(relay.mux, 1, 0);
    CHECK_EQ(count_ev(&relay, EV_HEAD, 1), 1);
    /* Nor DATA, END, WINDOW or RESET from the agent: it answers only streams the relay opened. */
    feed_data(relay.mux, 2, 1, HW_EPROTO);
    CHECK_STR(hw_mux_error(relay.mux), "DATA on a stream never opened");
    CHECK_EQ(hw_mux_receive(relay.mux, window9, sizeof(window9)), HW_EPROTO);
    CHECK_STR(hw_mux_error(relay.mux), "a WINDOW on a stream never opened");
    CHECK_EQ(hw_mux_receive(relay.mux, end9, sizeof(end9)), HW_EPROTO);
    CHECK_STR(hw_mux_error(relay.mux), "END on a stream never opened");
    CHECK_EQ(hw_mux_receive(relay.mux, reset9, sizeof(reset9)), HW_EPROTO);
    CHECK_STR(hw_mux_error(relay.mux), "a RESET on a stream never opened");
    /* Only an end itself knows its tunnel is lost: a peer saying so is a protocol error. */
    CHECK_EQ(hw_mux_receive(relay.mux, reset1_lost, sizeof(reset1_lost)), HW_EPROTO);
    CHECK_STR(hw_mux_error(relay.mux), "a RESET with code 0 (tunnel lost), which no peer may send");
    CHECK_EQ(count_ev(&relay, EV_RESET, 1), 0);
    CHECK_EQ(hw_mux_receive(agent.mux, reset5_lost, sizeof(reset5_lost)), HW_EPROTO);
    CHECK_EQ(count_ev(&agent, EV_RESET, 5), 0);
    /* The agent drops them: a RESET may overtake the REQUEST it came after. */
    CHECK_EQ(hw_mux_receive(agent.mux, reset9, sizeof(reset9)), 0);
    CHECK_EQ(hw_mux_receive(agent.mux, window9, sizeof(window9)), 0);
    /* Messages that do not decode. */
    CHECK_EQ(hw_mux_receive(agent.mux, junk, 5), HW_EPROTO);
    CHECK_EQ(hw_mux_receive(agent.mux, junk, sizeof(junk)), HW_EPROTO);
    CHECK_EQ(hw_mux_receive(agent.mux, zero_window, sizeof(zero_window)), HW_EPROTO);
    CHECK_EQ(hw_mux_receive(agent.mux, short_reset, sizeof(short_reset)), HW_EPROTO);
    teardown();
}

/* A stream reset before its REQUEST went out: whatever reaches the agent, the tunnel stays. */
static void test_reset_before_request_sent(void)
{
    struct hw_mux_stream *s;
    uint32_t id;

    setup();
    s = open_request(NULL, 10, 1);
    hw_mux_stream_reset(s, HW_RST_CANCEL, "client gone");
    pump(); /* step() checks that the agent takes every message */
    CHECK(hw_mux_error(agent.mux) == NULL);
    CHECK_EQ(hw_mux_stream_count(agent.mux), 0);
    id = hw_mux_stream_id(open_request(NULL, 0, 1));
    pump();
    CHECK_EQ(count_ev(&agent, EV_HEAD, id), 1);
    teardown();
}

/*
 * A HELLO goes to the agent, and one of this version must decode and come once; another
 * version is passed on.
 */
static void test_hello_rules(void)
{
    struct hw_msg_hello h = { HW_PROTO_VERSION, 10, str("ch"), str("https://x/t/ch/") };
    uint8_t empty[HW_FRAME_HDR_LEN] = { HW_FT_HELLO };
    /* Version 2, with fields this version would not read. */
    uint8_t v2[HW_FRAME_HDR_LEN + 3] = { HW_FT_HELLO, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2, 0, 10 };
    uint8_t cut[64];
    size_t n;

    setup();
    CHECK_EQ(hw_frame_encode_hello(fb(), &h), 0);
    feed(relay.mux, HW_EPROTO);
    CHECK_STR(hw_mux_error(relay.mux), "a HELLO sent to the relay");
    CHECK_EQ(hw_mux_receive(agent.mux, empty, sizeof(empty)), HW_EPROTO);
    CHECK_STR(hw_mux_error(agent.mux), "a malformed HELLO");
    /* A good HELLO cut short by one byte, its length saying so: the fields do not fit. */
    CHECK_EQ(hw_frame_encode_hello(fb(), &h), 0);
    n = hw_buf_size(&feed_buf) - 1;
    CHECK(n <= sizeof(cut));
    memcpy(cut, hw_buf_head(&feed_buf), n);
    cut[HW_FRAME_HDR_LEN - 1]--;
    CHECK_EQ(hw_mux_receive(agent.mux, cut, n), HW_EPROTO);
    CHECK_EQ(agent.nev, 0);
    CHECK_EQ(hw_mux_receive(agent.mux, v2, sizeof(v2)), 0);
    CHECK_EQ(hw_frame_encode_hello(fb(), &h), 0);
    feed(agent.mux, 0);
    CHECK_EQ(agent.nev, 2);
    CHECK_EQ(agent.ev[0].type, HW_FT_HELLO);
    CHECK_EQ(agent.ev[0].n, 3);
    /* The relay sends one: a second would rename the tunnel under the agent. */
    CHECK_EQ(hw_frame_encode_hello(fb(), &h), 0);
    feed(agent.mux, HW_EPROTO);
    CHECK_STR(hw_mux_error(agent.mux), "a second HELLO");
    CHECK_EQ(agent.nev, 2);
    teardown();
}

/* Messages for streams that do not exist (any more) and unknown types are ignored. */
static void test_unknown_streams_ignored(void)
{
    struct hw_msg_reset rst = { 1, str("x") };
    uint8_t unknown[HW_FRAME_HDR_LEN + 3] = {
        0x42, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 3, 'n', 'e', 'w'
    };

    setup();
    feed_request(agent.mux, 5, 0);
    agent.want_writes = 0;
    /* Streams at or below the last opened one that it does not know: closed, late news. */
    feed_data(agent.mux, 3, 100, 0);
    feed_data(agent.mux, 4, 100, 0);
    CHECK_EQ(hw_frame_encode_end(fb(), 4), 0);
    feed(agent.mux, 0);
    CHECK_EQ(hw_frame_encode_window(fb(), 4, 1000), 0);
    feed(agent.mux, 0);
    CHECK_EQ(hw_frame_encode_reset(fb(), 4, &rst), 0);
    feed(agent.mux, 0);
    CHECK_EQ(hw_mux_receive(agent.mux, unknown, sizeof(unknown)), 0);
    unknown[7] = 0;
    CHECK_EQ(hw_mux_receive(agent.mux, unknown, sizeof(unknown)), 0);
    CHECK_EQ(agent.nev, 1);
    CHECK_EQ(agent.want_writes, 0);
    CHECK_EQ(hw_mux_pending(agent.mux), 0);
    CHECK_EQ(hw_mux_stream_count(agent.mux), 1);
    teardown();
}

/* hw_mux_send_body_buf takes the buffer's storage instead of copying it. */
static void test_send_body_buf(void)
{
    struct hw_mux_stream *s;
    struct hw_buf b;

    setup();
    agent.auto_consume = 1;
    s = open_request(NULL, 0, 0);
    hw_buf_init(&b, 300000);
    for (size_t i = 0; i < 200000; i++) {
        uint8_t c = pattern(1, i);
        CHECK_EQ(hw_buf_append(&b, &c, 1), 0);
    }
    CHECK_EQ(hw_mux_send_body_buf(s, &b), 0);
    CHECK(b.data == NULL);
    CHECK_EQ(hw_buf_size(&b), 0);
    CHECK_EQ(b.cap, 0);
    CHECK_EQ(b.max, 300000);
    /* The emptied buffer is ready for reuse. */
    CHECK_EQ(hw_buf_append(&b, "again", 5), 0);
    hw_buf_cleanup(&b);
    CHECK_EQ(hw_mux_send_end(s), 0);
    pump();
    check_pattern(&agent.body[1], 1, 200000);
    CHECK_EQ(count_ev(&agent, EV_END, 1), 1);

    /* With body already queued the bytes are appended after it. */
    s = open_request(NULL, 3000, 0);
    hw_buf_init(&b, 300000);
    for (size_t i = 3000; i < 5000; i++) {
        uint8_t c = pattern(2, i);
        CHECK_EQ(hw_buf_append(&b, &c, 1), 0);
    }
    CHECK_EQ(hw_mux_send_body_buf(s, &b), 0);
    hw_buf_cleanup(&b);
    /* An empty, never allocated buffer adds nothing (found by fuzz_frame). */
    hw_buf_init(&b, 300000);
    CHECK_EQ(hw_mux_send_body_buf(s, &b), 0);
    hw_buf_cleanup(&b);
    CHECK_EQ(hw_mux_send_end(s), 0);
    pump();
    check_pattern(&agent.body[2], 2, 5000);
    teardown();
}

/* on_drain fires once the body falls to half its cap, after a refused send or a request. */
static void test_on_drain(void)
{
    const size_t cap = 200000;
    struct hw_mux_stream *as;

    peer_init(&relay, HW_MUX_RELAY, BIG_CAP);
    peer_init(&agent, HW_MUX_AGENT, cap);
    relay.auto_consume = 1;
    open_request(NULL, 0, 1);
    pump();
    as = agent.st[1];
    respond(as, 200, cap, 0);
    CHECK_EQ(hw_mux_send_room(as), 0);
    CHECK_EQ(hw_mux_send_body(as, "x", 1), HW_E2BIG);
    CHECK_EQ(count_ev(&agent, EV_DRAIN, 1), 0);
    CHECK(step_agent()); /* RESPONSE */
    CHECK(step_agent()); /* 65536 bytes: 134464 left, above half */
    CHECK_EQ(count_ev(&agent, EV_DRAIN, 1), 0);
    CHECK_EQ(hw_mux_send_room(as), 65536);
    CHECK(step_agent()); /* 68928 left: at most half */
    CHECK_EQ(count_ev(&agent, EV_DRAIN, 1), 1);
    CHECK(agent.ev[agent.nev - 1].kind == EV_DRAIN);
    CHECK_EQ(hw_mux_send_room(as), cap - 68928);
    pump();
    CHECK_EQ(count_ev(&agent, EV_DRAIN, 1), 1); /* once per request */

    /* Asked for explicitly; the callback may queue more at once. */
    send_pattern(&agent, as, 150000);
    hw_mux_want_drain(as);
    agent.drain_refill = 7777;
    CHECK(step_agent()); /* 84464 left */
    CHECK_EQ(count_ev(&agent, EV_DRAIN, 1), 2);
    pump();
    CHECK_EQ(count_ev(&agent, EV_DRAIN, 1), 2);

    /* Not asked for: never fires. */
    send_pattern(&agent, as, 150000);
    pump();
    CHECK_EQ(count_ev(&agent, EV_DRAIN, 1), 2);
    CHECK_EQ(hw_mux_send_end(as), 0);
    pump();
    check_pattern(&relay.body[1], 1, cap + 150000 + 7777 + 150000);
    CHECK_EQ(count_ev(&relay, EV_END, 1), 1);
    teardown();
}

int main(void)
{
    fprintf(stderr, "test_mux\n");
    hw_buf_init(&feed_buf, HW_FRAME_HDR_LEN + HW_FRAME_MAX_PAYLOAD);
    RUN(test_full_exchange);
    RUN(test_round_robin_order);
    RUN(test_many_streams);
    RUN(test_flow_control);
    RUN(test_window_enforced_by_receiver);
    RUN(test_ping_pong);
    RUN(test_control_first);
    RUN(test_reset_from_peer);
    RUN(test_free_reports_tunnel_lost);
    RUN(test_relay_close);
    RUN(test_agent_close);
    RUN(test_protocol_errors);
    RUN(test_reset_before_request_sent);
    RUN(test_hello_rules);
    RUN(test_unknown_streams_ignored);
    RUN(test_send_body_buf);
    RUN(test_on_drain);
    hw_buf_cleanup(&feed_buf);
    return 0;
}
