#ifndef HW_HTTP_CONN_INT_H
#define HW_HTTP_CONN_INT_H

/*
 * Internal to one server connection (http_conn.c, its reading;
 * http_conn_timer.c, its timer; http_conn_write.c, the program's answer
 * calls and the writes): the connection's structure and the steps the three
 * files call in each other. Service thread only.
 */
#include <libwebsockets.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include "http/hwerror.h"
#include "http_answer.h"
#include "http_conn.h"
#include "http_pace.h"
#include "http_reader.h"
#include "http_server.h"

enum hw_http_conn_state {
    ST_HEAD,     /* reading a request head (or idle before one) */
    ST_BODY,     /* reading its body */
    ST_WAIT,     /* complete: the program has it, no answer yet */
    ST_RESPONSE, /* writing the answer */
};

struct hw_http_conn {
    struct lws *wsi;
    struct hw_http_server *srv;
    const struct hw_http_server_config *cfg; /* the server's, cached */
    const struct hw_http_server_callbacks *cb;
    struct hw_http_readers *readers;
    enum hw_http_conn_state state;
    struct hw_http_reader rd;
    struct hw_http_answer ans;
    struct hw_http_pace pace; /* the reading phase, in the server's readers list */
    lws_sorted_usec_list_t timer;
    lws_sorted_usec_list_t flush; /* the end-of-round write (hw_http_conn_want_write()) */
    lws_usec_t timer_at;          /* when the timer fires; 0 when it is not armed */
    lws_usec_t wait_due;          /* when the program's answer is overdue */
    uint64_t max_body;
    size_t credit_owed; /* streamed body bytes not yet handed back through on_drain */
    const char *log_id;
    enum hw_errc timeout_errc; /* answered when the program's answer is overdue */
    const char *timeout_extra; /* its header lines (static), or NULL */
    unsigned keep_alive : 1, idle : 1, rx_paused : 1, killed : 1;
    unsigned program_holds : 1; /* the program owes (part of) this exchange's answer */
    unsigned flush_armed : 1;   /* the end-of-round write is scheduled */
    unsigned blocked : 1;       /* the socket took less than it was given: wait for WRITEABLE */
    unsigned counted : 1;       /* counted in the server's exchanges under way */
    char peer[64];
    alignas(max_align_t) unsigned char user[];
};

/* Closes the connection now, dropping what is queued; nothing else runs on it. */
void hw_http_conn_kill(struct hw_http_conn *c, const char *why);

/* Ends the program's part in the exchange, telling it (on_abort) when the server ended it. */
void hw_http_conn_take_back(struct hw_http_conn *c, const char *why);

/* Moves to answering: the reading phase is over, the answer's stall clock runs, output wanted. */
void hw_http_conn_answering(struct hw_http_conn *c);

/* Answers with hookwire's error e (extra: more header lines or NULL), counted and logged. */
void hw_http_conn_answer_error(struct hw_http_conn *c, enum hw_errc e, const char *extra);

/*
 * Whether the answer given now may keep the connection, and c->keep_alive
 * cleared when not: request bytes remain unread (they would be taken for
 * the next request), or the server is closing (hw_http_server_closing()).
 */
int hw_http_conn_keeps_alive(struct hw_http_conn *c);

/* The answer is out and the connection stays: forget the request, run the next one buffered. */
void hw_http_conn_next_exchange(struct hw_http_conn *c);

/*
 * (Re)arms the connection's one timer for the current state's limit, sooner
 * while a finished answer's bytes wait unacked; left alone when it already
 * fires no later (http_conn_timer.c).
 */
void hw_http_conn_arm_timer(struct hw_http_conn *c);

/* Output is queued: has it written at the end of this round, or at WRITEABLE (http_conn_write.c).
 */
void hw_http_conn_want_write(struct hw_http_conn *c);

#endif
