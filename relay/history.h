#ifndef RELAY_HISTORY_H
#define RELAY_HISTORY_H

/*
 * The agents' history API on the tunnel port, each call authorised by the
 * channel's bearer token and limited to that channel:
 *   GET  /api/events?limit=N&status=S&cursor=C   recent events, newest first
 *   GET  /api/events/ID[?body=1]                 one event with its attempts (or its raw body)
 *   POST /api/events/ID/replay                   deliver it again through the queue
 *   GET  /api/refused                            recent webhooks refused (refused.h)
 * Another channel's event gets the same 404 as a missing one. The store work
 * runs on the store thread; the answer is written when it is done. Service
 * thread only.
 */
#include <libwebsockets.h>

#include "core/buf.h"

struct relay;
struct relay_history_call;

/* The largest answer the API builds: the buffer handed to relay_history_start() is sized so. */
size_t relay_history_answer_max(const struct relay *r);

/*
 * Starts answering uri (an /api/ path) on wsi. Either fills out with a
 * whole answer at once (returns 0, *call NULL), or starts a store call
 * (returns 0, *call set): when it is done its answer is moved into out,
 * counted in r->api_held (the caller takes it off when out goes), and
 * lws_callback_on_writable(wsi) is called, and *call is cleared. A body
 * that would take the answers in memory past --max-held (a budget of their
 * own; one answer alone always goes) is answered 429 HW_OVERLOADED instead. Returns
 * HW_ENOMEM when nothing could be started.
 */
int relay_history_start(struct lws *wsi, struct relay *r, const char *uri, struct hw_buf *out,
                        struct relay_history_call **call);

/* wsi is closing: the call's answer is dropped when it comes. NULL is ignored. */
void relay_history_orphan(struct relay_history_call *call);

/*
 * The relay is stopping: every call whose store job has not started is
 * withdrawn (its caller, if still there, gets 503 HW_SHUTTING_DOWN), so that
 * closing the store waits for none of them. Calls under way end as usual.
 */
void relay_history_stop(struct relay *r);

#endif
