#ifndef AGENT_TUNNEL_TLS_H
#define AGENT_TUNNEL_TLS_H

/*
 * TLS for the tunnel's raw socket (wss://), run over OpenSSL memory BIOs:
 * the transport hands it the bytes it read and sends the bytes it produces,
 * so all socket I/O stays with lws. The relay's certificate is verified
 * against --ca-file or the system store, and its name against the relay
 * URL's host (DNS name or IP address), unless --insecure. Service thread
 * only; no lws here.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct agent_tls;

/*
 * Starts a client session for host. ca_file may be NULL (the system store).
 * Returns NULL on failure (out of memory, an unreadable CA file) and says why
 * in err.
 */
struct agent_tls *agent_tls_new(const char *host, const char *ca_file, int insecure, char *err,
                                size_t errlen);

void agent_tls_free(struct agent_tls *t);

/*
 * Drives the handshake: returns 1 once it is complete, 0 while it needs more
 * bytes from the relay, HW_EAUTH when the relay's certificate or name is
 * refused, HW_EIO for any other failure (why: a short reason for the log).
 * Bytes to send accumulate for agent_tls_take().
 */
int agent_tls_handshake(struct agent_tls *t, const char **why);

/* Takes n received bytes. Returns 0, or HW_E2BIG past a 1 MiB backlog. */
int agent_tls_feed(struct agent_tls *t, const void *in, size_t n);

/*
 * Decrypts into out (cap bytes). Returns the number of bytes, 0 when no whole
 * record is buffered, HW_EPROTO when the relay closed the session or sent
 * garbage.
 */
int agent_tls_read(struct agent_tls *t, uint8_t *out, size_t cap);

/* Encrypts n bytes for sending. Returns 0, or HW_EIO. */
int agent_tls_write(struct agent_tls *t, const void *p, size_t n);

/* Moves every byte waiting to be sent to the end of out. Returns 0, or out's error. */
int agent_tls_take(struct agent_tls *t, struct hw_buf *out);

#endif
