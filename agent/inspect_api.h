#ifndef AGENT_INSPECT_API_H
#define AGENT_INSPECT_API_H

/*
 * The inspector's JSON API (docs/inspector.md lists it):
 *   GET  /api/info            where the agent forwards, which relay
 *   GET  /api/events?cursor=C&limit=N&status=S
 *                             a page of the relay's history, as the relay gives it
 *   GET  /api/refused         what the relay refused for this channel
 *   GET  /api/captures        the exchanges this agent had with the app
 *   GET  /api/events/ID       one event: the relay's record, its body, and every
 *                             exchange with the app seen here
 *   POST /api/events/ID/replay
 *                             no body: replay through the relay (a new attempt);
 *                             {"headers": "...", "body": "..."}: edited, to the app
 * Relay calls run on the relay threads; the answer waits for them. Service
 * thread only.
 */
#include "inspect_relay.h"
#include "net/http_server.h"

struct agent;

/* An edited replay's JSON document, at most. */
#define AGENT_INSPECT_EDIT_MAX (2u * 1024 * 1024)

/* Answers rq (an /api/ path) on c, now or when its relay call or replay is done. */
void agent_inspect_api(struct agent *a, struct agent_relays *rp, struct hw_http_conn *c,
                       const struct hw_http_request *rq);

/* c's exchange ended: a pending replay's answer is dropped (the replay itself goes on). */
void agent_inspect_api_forget(struct hw_http_conn *c);

#endif
