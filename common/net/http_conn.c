/*
 * One HTTP/1.1 server connection on an lws raw socket: its state machine
 * (head, body, waiting for the program), the held-bytes budget and shedding
 * as they apply to it. Owns struct hw_http_conn; its one timer lives in
 * http_conn_timer.c, the answer calls and writes in http_conn_write.c, its
 * request side, answer side and reading pace in http_reader.c,
 * http_answer.c, http_pace.c. Service thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "http_conn_int.h"

static void process(struct hw_http_conn *c);

struct hw_http_server *hw_http_conn_server(const struct hw_http_conn *c)
{
    return c->srv;
}

void *hw_http_conn_user(struct hw_http_conn *c)
{
    return c->user;
}

const char *hw_http_conn_peer(const struct hw_http_conn *c)
{
    return c->peer;
}

const struct hw_http_head *hw_http_conn_head(const struct hw_http_conn *c)
{
    return c->rd.have_head ? &c->rd.req : NULL;
}

size_t hw_http_conn_untaken(const struct hw_http_conn *c)
{
    return c->wsi ? hw_http_answer_untaken(&c->ans, c->wsi) : 0;
}

void hw_http_conn_set_max_body(struct hw_http_conn *c, uint64_t max)
{
    c->max_body = max;
}

void hw_http_conn_set_log_id(struct hw_http_conn *c, const char *id)
{
    c->log_id = id;
}

void hw_http_conn_set_timeout_error(struct hw_http_conn *c, enum hw_errc e, const char *extra)
{
    c->timeout_errc = e;
    c->timeout_extra = extra;
}

/* The reading phase is over (answering, waiting for the program, or closing). */
static void unlist(struct hw_http_conn *c)
{
    hw_http_pace_end(c->readers, &c->pace);
}

/* Starts a reading phase now: the connection joins the readers' young end. */
static void begin_phase(struct hw_http_conn *c, lws_usec_t now)
{
    hw_http_pace_begin(c->readers, &c->pace, now, c->state == ST_HEAD);
    hw_http_conn_arm_timer(c);
}

/* The exchange no longer holds request bytes: give them back to the budget. */
static void release_body(struct hw_http_conn *c)
{
    hw_http_pace_release(c->readers, &c->pace);
}

/* Ends the program's part in the exchange, telling it when the server ended it. */
void hw_http_conn_take_back(struct hw_http_conn *c, const char *why)
{
    if (!c->program_holds)
        return;
    c->program_holds = 0;
    c->credit_owed = 0;
    if (c->cb->on_abort)
        c->cb->on_abort(c, why);
}

/*
 * Whether the connection counts as an exchange under way: from the moment
 * its head is read and its body is coming, or an error answer is queued,
 * until every byte of the answer left or the connection closed. A clean
 * stop waits for the count to reach 0, so a body still arriving when the
 * stop begins is read to its end and answered (503, by a stopping program)
 * rather than cut without a word.
 */
static void count_exchange(struct hw_http_conn *c, int on)
{
    if (c->counted == (unsigned)on)
        return;
    c->counted = on ? 1 : 0;
    hw_http_server_exchange(c->srv, on);
}

/* Closes the connection now, dropping what is queued; nothing else runs on it. */
void hw_http_conn_kill(struct hw_http_conn *c, const char *why)
{
    if (c->killed)
        return;
    HW_DEBUG("conn=%s%s%s %s: closing", c->peer, c->log_id ? " evt=" : "",
             c->log_id ? c->log_id : "", why);
    hw_http_conn_take_back(c, why);
    c->killed = 1;
    count_exchange(c, 0);
    hw_http_server_leaving(c->srv);
    unlist(c);
    release_body(c);
    lws_sul_cancel(&c->timer);
    c->timer_at = 0;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Moves to answering: the reading phase is over and the answer's stall clock runs. */
void hw_http_conn_answering(struct hw_http_conn *c)
{
    unlist(c);
    c->state = ST_RESPONSE;
    count_exchange(c, 1);
    hw_http_conn_arm_timer(c);
    hw_http_conn_want_write(c);
}

/*
 * Whether request bytes remain unread: they would be taken for the next
 * request, so an answer given now closes the connection after it. That is a
 * head that did not parse, or a body not (fully) read.
 */
static int unread_request(const struct hw_http_conn *c)
{
    const struct hw_http_head *req = hw_http_conn_head(c);

    if (c->state == ST_BODY || !req)
        return 1;
    return c->state == ST_HEAD && req->body != HW_BODY_NONE &&
           !(req->body == HW_BODY_LENGTH && req->content_length == 0);
}

int hw_http_conn_keeps_alive(struct hw_http_conn *c)
{
    if (unread_request(c) || hw_http_server_is_closing(c->srv))
        c->keep_alive = 0;
    return c->keep_alive;
}

/*
 * Answers with hookwire's error e, counted and logged; why (NULL: none) is
 * the rule a refused request broke, for the log line only.
 */
static void answer_error(struct hw_http_conn *c, enum hw_errc e, const char *extra, const char *why)
{
    const struct hw_http_head *req = hw_http_conn_head(c);

    if (hw_http_answer_error(&c->ans, req, hw_http_conn_keeps_alive(c), e, extra)) {
        hw_http_conn_kill(c, "out of memory for the answer");
        return;
    }
    hw_http_server_count_error(c->srv, e);
    /* Before its head was read there is no method or target to name. */
    HW_INFO("conn=%s%s%.*s%s%.*s -> %d %s%s%s%s%s%s", c->peer, req ? " " : "",
            req ? (int)req->method_len : 0, req ? req->method : "", req ? " " : "",
            req ? (int)req->target_len : 0, req ? req->target : "", hw_errc_status(e),
            hw_errc_name(e), why ? " (" : "", why ? why : "", why ? ")" : "",
            c->log_id ? " evt=" : "", c->log_id ? c->log_id : "");
    hw_http_conn_answering(c);
}

void hw_http_conn_answer_error(struct hw_http_conn *c, enum hw_errc e, const char *extra)
{
    answer_error(c, e, extra, NULL);
}

/*
 * Makes room when a limit is reached: closes the reader that http_pace.c
 * picks as stalled (a slow sender holds a slot or budget that a sending one
 * needs). holding: only readers that hold body bytes. Returns 1 if one was
 * closed.
 */
static int shed_one(struct hw_http_conn *self, int holding)
{
    struct hw_http_pace *p = hw_http_pace_pick(self->readers, &self->pace, holding, lws_now_usecs(),
                                               (lws_usec_t)self->cfg->shed_after_ms * 1000);

    struct hw_http_conn *c;

    if (!p)
        return 0;
    c = lws_container_of(p, struct hw_http_conn, pace);
    /* No answer: its sender is not sending, and the room is needed now. */
    HW_INFO("conn=%s%s%s shed: its request stalled while the server was at its %s", c->peer,
            c->log_id ? " evt=" : "", c->log_id ? c->log_id : "",
            holding ? "limit of body bytes held" : "connection limit");
    hw_http_server_count_shed(self->srv);
    hw_http_conn_kill(c, "stalled while others wait: shed");
    return 1;
}

/*
 * Checks that n more body bytes fit the server-wide budget, shedding
 * stalled bodies to make room. Returns 0, or -1 after answering 429.
 */
static int budget(struct hw_http_conn *c, size_t n)
{
    while (c->readers->held + n > c->cfg->max_held) {
        if (!shed_one(c, 1)) {
            hw_http_conn_answer_error(c, HW_ERRC_OVERLOADED, "Retry-After: 5\r\n");
            return -1;
        }
    }
    return 0;
}

static void count_body(struct hw_http_conn *c, size_t n)
{
    hw_http_pace_hold(c->readers, &c->pace, n);
}

/* Between exchanges: forget the request, keep unread bytes, wait idle for the next. */
static void next_request(struct hw_http_conn *c)
{
    release_body(c);
    count_exchange(c, 0);
    hw_http_reader_next(&c->rd);
    hw_http_answer_next(&c->ans);
    c->state = ST_HEAD;
    c->keep_alive = 1;
    c->credit_owed = 0;
    c->log_id = NULL;
    c->timeout_errc = c->cfg->timeout_errc;
    c->timeout_extra = NULL;
    c->max_body = c->cfg->max_body;
    c->idle = !hw_http_reader_pending(&c->rd);
    begin_phase(c, lws_now_usecs());
}

/* The request is complete: the program has it now. */
static void dispatch(struct hw_http_conn *c)
{
    /* The head from its request line: empty lines before it (RFC 9112 2.2) are not part of it. */
    const char *head = hw_buf_head(&c->rd.head);
    size_t lead = (size_t)(c->rd.req.method - head);
    struct hw_http_request req = {
        .raw_head = head + lead,
        .raw_head_len = hw_buf_size(&c->rd.head) - lead,
        .head = &c->rd.req,
        .body = &c->rd.body,
        .peer = c->peer,
    };

    unlist(c);
    c->state = ST_WAIT;
    c->program_holds = 1;
    count_exchange(c, 1);
    c->wait_due = lws_now_usecs() + (lws_usec_t)c->cfg->answer_timeout_ms * 1000;
    hw_http_conn_arm_timer(c);
    c->cb->on_request(c, &req);
}

/* Answers the error the reader found, naming the rule the request broke in the log line. */
static void refuse_read(struct hw_http_conn *c, enum hw_errc e)
{
    answer_error(c, e, NULL, c->rd.why);
}

/* The Host rule a head breaks (RFC 9112 3.2), or NULL. */
static const char *host_rule(const struct hw_http_head *h)
{
    if (h->hosts > 1)
        return "two Host headers";
    if (h->host_bad)
        return "a Host that is not host[:port]";
    if (h->minor_version == 1 && h->hosts == 0)
        return "no Host header in HTTP/1.1";
    return NULL;
}

/* A head is complete: checks what applies to every request, then asks the program. */
static void on_head(struct hw_http_conn *c)
{
    const struct hw_http_head *h = &c->rd.req;
    /* RFC 9112 3.2: one valid Host, required in HTTP/1.1; two leave the target ambiguous. */
    const char *broken = host_rule(h);
    enum hw_errc e;

    c->keep_alive = h->keep_alive;
    if (broken) {
        c->keep_alive = 0; /* a malformed request ends the connection (docs/errors.md) */
        answer_error(c, HW_ERRC_BAD_REQUEST, NULL, broken);
        return;
    }
    /*
     * RFC 9110 9.3.6: what follows a CONNECT is tunnel data, never another
     * request. Nothing here opens tunnels, whatever its target names (a path
     * under a webhook prefix included): 404, and the connection ends.
     */
    if (h->method_len == 7 && memcmp(h->method, "CONNECT", 7) == 0) {
        c->keep_alive = 0;
        answer_error(c, HW_ERRC_NOT_FOUND, NULL, "a CONNECT: nothing here opens tunnels");
        return;
    }
    if (c->cb->on_head)
        c->cb->on_head(c, h);
    if (c->state != ST_HEAD || c->killed)
        return; /* answered already */
    if (hw_http_reader_body_start(&c->rd, c->max_body, &e)) {
        refuse_read(c, e);
        return;
    }
    /* RFC 9110 10.1.1: an HTTP/1.0 client's expectation is ignored. */
    if (h->expect_continue && h->minor_version >= 1) {
        if (hw_http_answer_continue(&c->ans)) {
            hw_http_conn_kill(c, "out of memory for the answer");
            return;
        }
        hw_http_conn_want_write(c);
    }
    c->state = ST_BODY;
    count_exchange(c, 1);
    begin_phase(c, lws_now_usecs());
}

/*
 * Reading pauses while head_max bytes or more wait unread (pipelined
 * requests behind the one being answered, or a burst): what waits is
 * bounded by head_max plus the socket reads already under way, within the
 * reader's cap, however many requests a client sends ahead. In any state
 * that many unread bytes let the exchange move without another read: a
 * head fits in them, or is too large; a body is taken from them.
 */
static void rx_flow(struct hw_http_conn *c)
{
    int pause = hw_http_reader_pending(&c->rd) >= c->cfg->head_max;

    if (c->killed)
        return;
    /* Still in a head with head_max bytes unread: it has no end within them, and is too large. */
    if (pause && c->state == ST_HEAD) {
        answer_error(c, HW_ERRC_HEADERS_TOO_LARGE, NULL, "a head longer than allowed");
        return;
    }
    if (pause == (int)c->rx_paused)
        return;
    c->rx_paused = (unsigned)pause;
    lws_rx_flow_control(c->wsi, !pause);
}

/* Runs the request state machine over the bytes buffered so far: heads, bodies, dispatches. */
static void take(struct hw_http_conn *c)
{
    enum hw_errc e;
    size_t added;
    int rc;

    while (!c->killed) {
        switch (c->state) {
        case ST_HEAD:
            if (!hw_http_reader_pending(&c->rd))
                return;
            rc = hw_http_reader_head(&c->rd, &e);
            if (rc < 0)
                refuse_read(c, e);
            if (rc <= 0)
                return;
            on_head(c);
            break;
        case ST_BODY:
            if (budget(c, hw_http_reader_body_want(&c->rd)))
                return;
            added = 0;
            rc = hw_http_reader_body(&c->rd, &added, &e);
            count_body(c, added);
            if (rc < 0)
                refuse_read(c, e);
            if (rc <= 0)
                return;
            dispatch(c);
            break;
        default:
            return;
        }
    }
}

static void process(struct hw_http_conn *c)
{
    take(c);
    rx_flow(c);
}

void hw_http_conn_next_exchange(struct hw_http_conn *c)
{
    next_request(c);
    process(c);
}

int hw_http_conn_adopt(struct hw_http_server *s, struct lws *wsi)
{
    const struct hw_http_server_config *cfg = hw_http_server_cfg(s);
    struct hw_http_conn *c = calloc(1, sizeof(*c) + cfg->conn_user_size);
    int over;

    if (!c)
        return -1;
    c->wsi = wsi;
    c->srv = s;
    c->cfg = cfg;
    c->cb = hw_http_server_cb(s);
    c->readers = hw_http_server_readers(s);
    hw_http_reader_init(&c->rd, cfg->head_max, cfg->max_headers);
    hw_http_answer_init(&c->ans);
    lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
    lws_set_opaque_user_data(wsi, c);
    over = hw_http_server_opened(s);
    next_request(c);
    c->idle = 0; /* a new connection must send its first head within the head deadline */
    hw_http_conn_arm_timer(c);
    if (c->cb->on_open)
        c->cb->on_open(c);
    if (over && !shed_one(c, 0)) {
        c->keep_alive = 0;
        hw_http_conn_answer_error(c, HW_ERRC_OVERLOADED, "Retry-After: 1\r\n");
    }
    return 0;
}

int hw_http_conn_rx(struct hw_http_conn *c, const char *in, size_t len)
{
    enum hw_errc e;
    lws_usec_t now;

    if (c->killed || (c->state == ST_RESPONSE && c->ans.close_after))
        return 0; /* answering and closing: the rest is ignored */
    now = lws_now_usecs();
    hw_http_pace_rx(&c->pace, now);
    if (c->state == ST_HEAD && c->idle) {
        c->idle = 0; /* the next head has begun: its deadline runs from here */
        begin_phase(c, now);
    }
    if (c->state == ST_BODY && c->rd.req.body == HW_BODY_LENGTH &&
        !hw_http_reader_pending(&c->rd)) {
        /* Fast path: body bytes go straight to the body buffer. */
        long n;

        if (budget(c, len < c->rd.body_left ? len : (size_t)c->rd.body_left))
            return 0;
        n = hw_http_reader_body_direct(&c->rd, in, len, &e);
        if (n < 0) {
            hw_http_conn_answer_error(c, e, NULL);
            return 0;
        }
        count_body(c, (size_t)n);
        in += n;
        len -= (size_t)n;
        if (!c->rd.body_left)
            dispatch(c);
    }
    if (len && hw_http_reader_add(&c->rd, in, len)) {
        if (c->state != ST_HEAD) {
            /* Cannot happen while reading pauses at head_max (rx_flow()); said if it does. */
            HW_WARN("conn=%s %zu unread bytes and %zu more: past the reader's buffer: closing",
                    c->peer, hw_http_reader_pending(&c->rd), len);
            return -1;
        }
        answer_error(c, HW_ERRC_HEADERS_TOO_LARGE, NULL, "a head longer than allowed");
        return 0;
    }
    /* Pipelined requests past head_max wait in the socket until the answers are out. */
    process(c);
    return 0;
}

void hw_http_conn_closed(struct hw_http_conn *c)
{
    if (!c->killed) {
        hw_http_conn_take_back(c, "the peer went away");
        hw_http_server_leaving(c->srv);
    }
    count_exchange(c, 0);
    unlist(c);
    lws_sul_cancel(&c->timer);
    lws_sul_cancel(&c->flush);
    c->timer_at = 0;
    release_body(c);
    if (c->cb->on_close)
        c->cb->on_close(c);
    hw_http_reader_cleanup(&c->rd);
    hw_http_answer_cleanup(&c->ans);
    hw_http_server_closed(c->srv);
    free(c);
}
