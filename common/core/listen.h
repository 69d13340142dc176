#ifndef HW_LISTEN_H
#define HW_LISTEN_H

/*
 * Listen addresses: resolved and tried before a server listens, why one
 * cannot be used, in words (the event library only says that it failed),
 * and a listener stopped at shutdown.
 */
#include <stddef.h>

/*
 * Parses a listen address "HOST:PORT" given as option. On a mistake returns
 * HW_EINVAL with one line in why that says what to write instead: a bare
 * port ("18092" -> "127.0.0.1:18092 or 0.0.0.0:18092"), a missing port, a
 * port that is not a number from 1 to 65535.
 */
int hw_listen_parse(const char *option, const char *addr, char *host, size_t cap, int *port,
                    char *why, size_t whycap);

/*
 * What a listener on addr ("HOST:PORT") binds, found before it is made: the
 * host resolved to its IPv4 address in numbers, in ip ("" for every
 * interface: HOST empty or 0.0.0.0), and the port in *port (may be NULL),
 * which the event library takes (it
 * takes no host name: given one, it would wait for an interface of that
 * name and never listen); then a TCP socket bound to it and closed, as
 * hw_listen_probe(). Returns 0, or a negative HW_E* code with one line in
 * why: a name that does not resolve, an IPv6 address, and the bind errors
 * below.
 */
int hw_listen_resolve(const char *addr, const char *option, char *ip, size_t ipcap, int *port,
                      char *why, size_t cap);

/*
 * Tries to bind a TCP socket to addr ("HOST:PORT", HOST empty or 0.0.0.0
 * for all interfaces) the way a listener would, then closes it. Returns 0
 * when the address is usable, or a negative HW_E* code with one line in why:
 * "127.0.0.1:8080 is already in use: stop the program that holds it, or give
 * OPTION another port", a port that needs privileges, an address that is not
 * this machine's. option names the setting ("--listen") for the advice.
 */
int hw_listen_probe(const char *addr, const char *option, char *why, size_t cap);

/*
 * Stops this process's listening TCP sockets on addr's port ("HOST:PORT")
 * from taking connections (shutdown, not close: their owner closes them
 * later). A program that stops serving calls it before work that may block
 * (a store that does not answer), so that a client is refused at once,
 * which a proxy retries elsewhere, instead of being accepted and then
 * reset. Returns how many sockets it stopped. Any thread.
 */
int hw_listen_stop(const char *addr);

/*
 * Each connection a server holds is a descriptor: lifts this process's soft
 * open files limit to the hard one (call it before the event library sizes
 * its tables) and returns the soft limit now in effect, or 0 when it is
 * unlimited or cannot be read (no cap then needs fitting under it). Main
 * thread, at startup.
 */
unsigned long long hw_listen_fd_limit(void);

#endif
