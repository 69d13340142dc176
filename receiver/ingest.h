#ifndef RECV_INGEST_H
#define RECV_INGEST_H

/*
 * Webhook ingest on the shared HTTP server (ingest.c): route, admit, append
 * through group commit, answer after the commit. Service thread only.
 */
struct recv;
struct hw_http_server;

/* The HTTP server for r's listen address, limits from r->cfg. NULL when out of memory. */
struct hw_http_server *recv_ingest_new(struct recv *r);

/*
 * The stop's drain is over and appends still wait for the store (logged,
 * with their number): each
 * sender still waiting gets 503 HW_STORE_UNAVAILABLE now (the loop must run
 * a little longer to write it), and its append is withdrawn when no commit
 * has taken it yet, or logged as one that may still be stored.
 */
void recv_ingest_give_up(struct recv *r);

#endif
