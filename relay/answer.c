/*
 * The agent's answer on its way back: the RESPONSE frame becomes the
 * server's streamed answer head (the server vouches for its framing), DATA
 * its body, END its end, and a RESET the relay's own error (or a cut, once
 * part of the answer is out). Service thread only.
 */
#include "answer.h"

#include <stdio.h>

#include "core/err.h"
#include "core/log.h"
#include "http/hwerror.h"
#include "ingress.h"
#include "net/http_server.h"
#include "record.h"
#include "relay.h"
#include "tunnel/mux.h"

/*
 * The agent's answer head cannot go to the sender: it gets 502, the log and the
 * webhook's history say what was wrong with the head (what, the rule it broke).
 */
static void refuse(struct hw_http_conn *c, int status, const char *what, const char *rule)
{
    struct relay_exchange *x = hw_http_conn_user(c);
    char error[256];

    HW_WARN("conn=%s evt=%s %s: %s: answering 502", hw_http_conn_peer(c), x->event_id, what, rule);
    snprintf(error, sizeof(error), "%s: %s (the sender got 502)", what, rule);
    /* The server does not call on_abort for an answer the program itself replaces. */
    relay_record_outcome(x->live, status, error);
    x->live = NULL;
    relay_ingress_drop_stream(c, 1);
    hw_http_conn_stream_abort(c, HW_ERRC_LOCAL_ERROR, "the agent's answer head was refused");
}

void relay_answer_on_response(struct hw_http_conn *c, const struct hw_frame *f)
{
    struct relay_exchange *x = hw_http_conn_user(c);
    struct hw_msg_response m;
    struct hw_http_answer_head h;
    const char *why = NULL;
    int rc;

    if (hw_frame_decode_response(f, &m)) {
        refuse(c, 0, "a malformed answer head from the agent", hw_frame_response_broken(f));
        return;
    }
    h.status = m.status;
    x->status = m.status;
    h.reason = m.reason.p;
    h.reason_len = m.reason.len;
    h.headers = m.headers.p;
    h.headers_len = m.headers.len;
    h.body_len = m.body_len == HW_BODY_LEN_UNKNOWN ? HW_HTTP_LEN_UNKNOWN : m.body_len;
    rc = hw_http_conn_stream_begin(c, &h, &why);
    if (rc == 0) {
        x->relay->metrics.answered++;
        relay_metrics_observe_answer(&x->relay->metrics, lws_now_usecs() - x->started);
        return;
    }
    if (rc == HW_EPROTO)
        refuse(c, m.status, "an answer head from the agent that the relay cannot pass on", why);
    else
        refuse(c, m.status, "an answer head from the agent that the relay could not take",
               hw_strerror(rc));
}

void relay_answer_on_data(struct hw_http_conn *c, const uint8_t *p, size_t n)
{
    /* A cut (more than announced) has dropped the stream through on_abort already. */
    (void)hw_http_conn_stream_data(c, p, n);
}

void relay_answer_on_end(struct hw_http_conn *c)
{
    struct relay_exchange *x = hw_http_conn_user(c);
    const struct hw_http_head *req = hw_http_conn_head(c);

    if (hw_http_conn_stream_end(c))
        return;
    relay_record_outcome(x->live, x->status, NULL);
    x->live = NULL;
    relay_ingress_drop_stream(c, 1);
    x->relay->metrics.responses++;
    HW_DEBUG("conn=%s %.*s %.*s -> done evt=%s %.1fms", hw_http_conn_peer(c),
             req ? (int)req->method_len : 0, req ? req->method : "", req ? (int)req->target_len : 0,
             req ? req->target : "", x->event_id, (double)(lws_now_usecs() - x->started) / 1000.0);
}

const char *relay_answer_reset_reason(char *why, size_t cap, const char *text, size_t len)
{
    static const char none[] = "no reason given";
    const char *t = text && len ? text : none;
    size_t n = text && len ? len : sizeof(none) - 1;

    /* The agent says why (the app refused, timed out, answered garbage...). */
    snprintf(why, cap, "the agent reset the stream: %.*s", (int)(n < 96 ? n : 96), t);
    return why;
}

void relay_answer_on_reset(struct hw_http_conn *c, uint16_t code, const char *text, size_t len)
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
    struct relay_exchange *x = hw_http_conn_user(c);

    relay_ingress_drop_stream(c, 0); /* the mux frees it */
    /* A webhook the dead tunnel never answered is kept: it joins the channel's queue (202). */
    if (code == HW_RST_TUNNEL_LOST && x->live && !x->status &&
        relay_record_requeue(x->live, c) == 0) {
        HW_INFO("conn=%s evt=%s tunnel lost before the answer: queued", hw_http_conn_peer(c),
                x->event_id);
        return;
    }
    if (code == HW_RST_TUNNEL_LOST) {
        relay_record_outcome(x->live, x->status,
                             x->status ? "the agent's tunnel was lost mid-answer"
                                       : "the agent's tunnel was lost before the answer");
    } else {
        char why[128];

        relay_record_outcome(x->live, x->status,
                             relay_answer_reset_reason(why, sizeof(why), text, len));
    }
    x->live = NULL;
    HW_DEBUG("conn=%s evt=%s stream reset by agent: code %u %.*s", hw_http_conn_peer(c),
             x->event_id, code, (int)len, text);
    hw_http_conn_stream_abort(
        c, code < sizeof(by_code) / sizeof(by_code[0]) ? by_code[code] : HW_ERRC_LOCAL_ERROR,
        "the agent reset the answer");
}
