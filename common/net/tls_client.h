#ifndef HW_TLS_CLIENT_H
#define HW_TLS_CLIENT_H

/*
 * TLS client sessions over OpenSSL memory BIOs, for connections whose socket
 * I/O stays with lws (the agent's tunnel to a wss:// relay, the HTTP client's
 * https:// targets): the transport feeds in the bytes it read, takes out the
 * bytes to send, and moves plaintext through read and write. A context holds
 * what every connection to one kind of peer shares: the trusted certificates
 * (a CA file or the system store) and whether they are checked at all. A
 * session checks the peer's certificate chain and its name (a DNS name, or an
 * IP address when the host is one) and sends the name as SNI. No lws here;
 * one thread at a time per context and per session (in practice the lws
 * service thread, or the main thread at startup).
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct hw_tls_ctx;
struct hw_tls;

/* Received bytes OpenSSL has not consumed yet, at most: a peer that floods us is cut off. */
#define HW_TLS_RX_BACKLOG_MAX (1024 * 1024)

/*
 * Makes a context. ca_file: the PEM bundle to trust, or NULL for the system
 * store. insecure: no certificate or name check at all (a self-signed test
 * peer). Returns an owned context (free with hw_tls_ctx_free()), or NULL with
 * the reason in err ("cannot load CA certificates from FILE", or "cannot set
 * up TLS" when out of memory).
 */
struct hw_tls_ctx *hw_tls_ctx_new(const char *ca_file, int insecure, char *err, size_t errlen);

/* Adds a reference: the context lives until every holder has called hw_tls_ctx_free(). */
struct hw_tls_ctx *hw_tls_ctx_ref(struct hw_tls_ctx *x);

/* Drops a reference. NULL is a no-op. */
void hw_tls_ctx_free(struct hw_tls_ctx *x);

/*
 * Starts a client session with the peer known as host (the name checked and
 * sent as SNI, or an IP address checked against the certificate's IP
 * entries). The session keeps its own hold on the context. Returns an owned
 * session, or NULL when out of memory or host is not usable (empty).
 */
struct hw_tls *hw_tls_new(struct hw_tls_ctx *x, const char *host);

/* Frees the session. NULL is a no-op. */
void hw_tls_free(struct hw_tls *t);

/*
 * Drives the handshake: returns 1 once it is complete, 0 while it waits for
 * the peer's bytes (hw_tls_feed()), HW_EAUTH when the peer's certificate or
 * name is refused, HW_EIO for any other failure. *why is then a one-line
 * reason for the log, such as "certificate verify failed: self-signed
 * certificate", "TLS handshake failed: the peer answered in plain HTTP, not
 * TLS" or "TLS handshake failed: wrong version number"; it stays valid
 * until the session's next call. Bytes to send accumulate for hw_tls_take().
 */
HW_MUST_CHECK int hw_tls_handshake(struct hw_tls *t, const char **why);

/* 1 once the handshake completed. */
int hw_tls_ready(const struct hw_tls *t);

/* Takes n received bytes (copied). Returns 0, HW_E2BIG past HW_TLS_RX_BACKLOG_MAX, or HW_ENOMEM. */
HW_MUST_CHECK int hw_tls_feed(struct hw_tls *t, const void *in, size_t n);

/*
 * Decrypts into out (cap bytes). Returns the number of bytes, 0 when no
 * whole record is buffered (a record may carry no data, such as a session
 * ticket) or once the peer closed the session cleanly (hw_tls_closed()), or
 * HW_EPROTO when the peer sent something that is not valid TLS (*why, if why
 * is not NULL, then says what; valid until the session's next call).
 */
HW_MUST_CHECK int hw_tls_read(struct hw_tls *t, uint8_t *out, size_t cap, const char **why);

/* 1 once the peer sent close_notify: nothing more will be read. */
int hw_tls_closed(const struct hw_tls *t);

/*
 * Encrypts n bytes for sending (memory BIOs take everything at once, so a
 * write is never short). Returns 0, or HW_EIO.
 */
HW_MUST_CHECK int hw_tls_write(struct hw_tls *t, const void *p, size_t n);

/* Bytes waiting to be sent (hw_tls_take()). */
size_t hw_tls_pending(const struct hw_tls *t);

/*
 * Moves every byte waiting to be sent to the end of out. Returns 0, HW_E2BIG
 * past out's cap (nothing moved), or HW_EIO.
 */
HW_MUST_CHECK int hw_tls_take(struct hw_tls *t, struct hw_buf *out);

/*
 * The pump a transport drives from its socket callbacks: hw_tls_start() once
 * connected, hw_tls_rx() for each read, hw_tls_send() for plaintext to go
 * out; each leaves the records to write at the end of out, which the
 * transport writes to the socket in order, before anything else.
 */

/* Starts the handshake: the ClientHello goes to out. 0, or <0 with *why as hw_tls_rx(). */
HW_MUST_CHECK int hw_tls_start(struct hw_tls *t, struct hw_buf *out, const char **why);

/*
 * Plaintext for the transport, from hw_tls_rx(). Returns 0 to go on, or a
 * negative value to stop (hw_tls_rx() returns it, with *why NULL).
 */
typedef int (*hw_tls_plain_fn)(void *user, const uint8_t *p, size_t n);

/*
 * One read's worth of bytes from the peer: takes the n bytes, advances the
 * handshake while it is not complete, decrypts every whole record into buf
 * (cap bytes) and hands what buf holds to plain (everything one read
 * yields in one call while it fits cap, so the transport sees it together,
 * as a plain read would give it), and moves the records to send (the
 * handshake's, alerts) to out. *up becomes 1 when this step completed the
 * handshake. Returns 0 (hw_tls_closed() says whether the peer also closed
 * the session), or a negative code: TLS's own failures with *why set (a
 * one-line reason, valid until the session's next call): HW_EAUTH or
 * HW_EIO as hw_tls_handshake(), HW_EPROTO for a record that is not valid
 * TLS, HW_E2BIG past HW_TLS_RX_BACKLOG_MAX or out's cap; or plain's own
 * negative value with *why NULL.
 */
HW_MUST_CHECK int hw_tls_rx(struct hw_tls *t, const void *in, size_t n, uint8_t *buf, size_t cap,
                            hw_tls_plain_fn plain, void *user, struct hw_buf *out, int *up,
                            const char **why);

/* Seals n bytes of plaintext into out. 0, HW_EIO, or HW_E2BIG past out's cap. */
HW_MUST_CHECK int hw_tls_send(struct hw_tls *t, const void *p, size_t n, struct hw_buf *out);

#endif
