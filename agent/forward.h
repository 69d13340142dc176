#ifndef AGENT_FORWARD_H
#define AGENT_FORWARD_H

/*
 * The forwarder: turns each tunnel stream into an HTTP/1.1 exchange with the
 * local target through the HTTP client (net/http_client.h), and streams the
 * answer back. Headers go out exactly as received from the relay. Service
 * thread only.
 */
#include <stddef.h>
#include <stdint.h>

#include "tunnel/mux.h"

struct agent;
struct agent_fwd;

/* Creates the HTTP client and its target, the app. 0 or HW_ENOMEM. */
int agent_forward_init(struct agent *a);

/*
 * Fails what is still in flight and frees the client; before
 * lws_context_destroy(). Safe when init failed or never ran.
 */
void agent_forward_cleanup(struct agent *a);

/*
 * The tunnel's stream events (tunnel.c's mux callbacks call these, the way
 * the relay's call its answer.c). on_request starts the exchange with the
 * app and makes its agent_fwd the stream's user pointer; the others take
 * that pointer, NULL once the exchange ended (then they do nothing). The
 * stream stays the forwarder's until it sends END (then it is closed) or it
 * is reset by either side; on_reset (also for a lost tunnel) drops the
 * exchange and its connection to the app. on_drain resumes reading the
 * app's answer.
 */
void agent_forward_on_request(struct agent *a, struct hw_mux_stream *s, const struct hw_frame *f);
void agent_forward_on_data(struct agent_fwd *f, const uint8_t *p, size_t n);
void agent_forward_on_end(struct agent_fwd *f);
void agent_forward_on_reset(struct agent_fwd *f, uint16_t code, const char *text, size_t len);
void agent_forward_on_drain(struct agent_fwd *f);

#endif
