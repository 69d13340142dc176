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

#endif
