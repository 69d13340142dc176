#ifndef HW_HTTP_LIMITS_H
#define HW_HTTP_LIMITS_H

/*
 * The HTTP limits every hop shares, named once: a request that one hop
 * accepts must fit what the next hop accepts after the lines the first one
 * adds. Programs size their buffers from these.
 */

/* Largest message head (request or response), through the blank line. */
#define HW_HEAD_MAX (64 * 1024)

/*
 * Largest head a hop sends on for one it accepted: the head (up to
 * HW_HEAD_MAX) and the lines the hop adds, X-Forwarded-Host among them (a
 * copy of Host, which may be most of that head), and a request line and
 * Host of the next hop's own. Whatever a relay let through reaches the app,
 * which answers for itself (a 431 of its own) if it is too large for it.
 */
#define HW_FORWARDED_HEAD_MAX (2 * HW_HEAD_MAX + 512)

/*
 * Longest request method: what the stores keep (HW_STORE_METHOD_MAX); no
 * method in use comes near it. A longer one is a malformed request (400),
 * refused before a relay forwards it unrecorded or a receiver takes it.
 */
#define HW_METHOD_MAX 32

/*
 * Header lines: the parser holds HW_HTTP_MAX_HEADERS (http1.h); a hop adds
 * at most HW_HEADERS_ADDED of its own (X-Forwarded-*, Hookwire-Event-Id,
 * Hookwire-Attempt, a delivery signature's three, Host for an HTTP/1.0
 * sender), so it accepts at most HW_HEADERS_ACCEPTED from a sender and
 * answers 431 past that.
 */
#define HW_HEADERS_ADDED    8
#define HW_HEADERS_ACCEPTED (HW_HTTP_MAX_HEADERS - HW_HEADERS_ADDED)

/* Output backlog below which a streamed answer's producer is asked for more. */
#define HW_OUT_LOW (256 * 1024)

/*
 * Bytes of an app's answer read but not yet passed on (the HTTP client's
 * input buffer: a head, or body waiting for the receiving side's room).
 */
#define HW_ANSWER_IN_MAX (2 * 1024 * 1024)

/* A request whose bytes fit the head plus this much is kept for one resend. */
#define HW_REPLAY_MAX (64 * 1024)

/*
 * Time limits of a server connection, so a slow sender cannot hold a slot
 * for long: a head must arrive whole within HW_HEAD_TIMEOUT_MS of its first
 * byte (of the connection, for the first), a body must not pause for
 * HW_BODY_STALL_MS nor average under HW_BODY_MIN_RATE bytes/s once that
 * long has passed; a kept-alive connection may idle HW_IDLE_TIMEOUT_MS
 * between requests. A reader silent for HW_SHED_AFTER_MS (or a head taking
 * four times that) may be closed to make room for a newcomer when
 * connections or held bytes run short.
 */
#define HW_HEAD_TIMEOUT_MS 10000
#define HW_BODY_STALL_MS   10000
#define HW_BODY_MIN_RATE   1024
#define HW_IDLE_TIMEOUT_MS 60000
#define HW_SHED_AFTER_MS   250

#endif
