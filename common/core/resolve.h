#ifndef HW_CORE_RESOLVE_H
#define HW_CORE_RESOLVE_H

/*
 * Host names looked up on a thread of their own. getaddrinfo() blocks for
 * as long as the system's resolver takes (many seconds when a name server
 * does not answer), and a program's connections all run on one service
 * thread: a lookup there would stall every one of them. So a name is looked
 * up on a detached thread; the service thread asks whether it is done
 * (hw_resolve_poll()), and a caller that may block waits with a deadline
 * (hw_resolve_wait()). Either side may give up first: the lookup is freed
 * by whichever of the two finishes last. An address in numbers needs no
 * lookup (hw_addr_is_numeric()).
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HW_ADDRS_MAX 8 /* addresses kept from one lookup, in the resolver's order */
/*
 * How often a service thread asks a running lookup whether it is done: from
 * 1 ms (a name in /etc/hosts takes less), doubling up to 16 ms.
 */
#define HW_RESOLVE_POLL_FIRST_US 1000
#define HW_RESOLVE_POLL_MAX_US   16000
#define HW_ADDR_STRLEN           64 /* an address in numbers, IPv6 with a scope included, and its NUL */

/* The TCP addresses a name has: IPv4 and IPv6, in numbers. */
struct hw_addrs {
    size_t n;
    char a[HW_ADDRS_MAX][HW_ADDR_STRLEN];
};

struct hw_resolve;

/*
 * 1 when s is an IPv4 or IPv6 address in numbers, a link-local one with its
 * scope too ("fe80::1%eth0"), shorter than HW_ADDR_STRLEN: it resolves to
 * itself, at once.
 */
int hw_addr_is_numeric(const char *s);

/* Lookups running at once in a process, abandoned ones included (a name service that hangs). */
#define HW_RESOLVE_RUNNING_MAX 32

/*
 * Starts looking up name (copied). Returns the lookup, or NULL when out of
 * memory, no thread can be started, or HW_RESOLVE_RUNNING_MAX lookups run
 * already (errno EAGAIN).
 */
struct hw_resolve *hw_resolve_start(const char *name);

/*
 * Without waiting: 0 while the lookup runs; 1 once it is done, with *gai 0
 * and the addresses in *out, or *gai a getaddrinfo() error code
 * (gai_strerror() says it: EAI_NONAME for a name that does not exist).
 */
int hw_resolve_poll(struct hw_resolve *q, struct hw_addrs *out, int *gai);

/*
 * As hw_resolve_poll(), but waits until the lookup is done or until
 * deadline_ms on the monotonic clock (hw_mono_ms()): 0 if it was not done
 * by then.
 */
int hw_resolve_wait(struct hw_resolve *q, int64_t deadline_ms, struct hw_addrs *out, int *gai);

/* The caller is done with q, finished or not. NULL is a no-op. */
void hw_resolve_drop(struct hw_resolve *q);

#endif
