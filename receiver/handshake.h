#ifndef RECV_HANDSHAKE_H
#define RECV_HANDSHAKE_H

/*
 * Provider handshakes, answered by the receiver itself after the request's
 * signature has been verified, and neither stored nor delivered: Slack's
 * url_verification (echo the challenge), Discord's PING (answer PONG) and
 * Zoom's endpoint.url_validation (HMAC the plain token with the secret).
 * Pure functions on a complete body; any thread.
 */
#include <stddef.h>

/* Longest challenge or token echoed back; real ones are under 100 bytes. */
#define RECV_HANDSHAKE_TOKEN_MAX 256

/* Room for the longest answer: Zoom's JSON with a maximal token. */
#define RECV_HANDSHAKE_BODY_MAX (RECV_HANDSHAKE_TOKEN_MAX + 128)

enum recv_handshake_kind {
    RECV_HANDSHAKE_NONE = 0, /* the provider has no handshake */
    RECV_HANDSHAKE_SLACK,
    RECV_HANDSHAKE_DISCORD,
    RECV_HANDSHAKE_ZOOM,
};

/* What to send back instead of storing the request. */
struct recv_handshake_answer {
    int status;               /* 200, or 400 for a handshake that cannot be answered */
    const char *why;          /* with 400 (and nothing else set): what is wrong, static text */
    const char *content_type; /* static text */
    char body[RECV_HANDSHAKE_BODY_MAX];
    size_t body_len;
};

/* The handshake a source's provider ("slack", "discord", "zoom", ...) uses. */
enum recv_handshake_kind recv_handshake_for(const char *provider);

/*
 * Decides whether body[0..len) (already verified for its source) is the
 * provider's handshake. Returns 1 with *ans filled when it is: answer with
 * it and neither store nor deliver the request (status 400 when the request
 * is a handshake whose token is missing, too long or not plain printable
 * text, with why set: the caller refuses it as a bad request). Returns 0
 * when it is an ordinary event (also for any body that is not a JSON
 * object). zoom_secret is the source's Zoom secret token (NUL-terminated;
 * borrowed), needed only for RECV_HANDSHAKE_ZOOM, where NULL makes the
 * answer 400. Never logs the secret or the body.
 */
int recv_handshake_check(enum recv_handshake_kind kind, const char *zoom_secret, const void *body,
                         size_t len, struct recv_handshake_answer *ans);

#endif
