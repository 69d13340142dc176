/*
 * Listen addresses: resolves one to the numbers a listener binds and binds
 * a throwaway socket to learn the errno a listener would get, worded with
 * the option to change; and the stop of a listener at shutdown. Owns
 * nothing past the call.
 */
#include "listen.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "url.h"

int hw_listen_parse(const char *option, const char *addr, char *host, size_t cap, int *port,
                    char *why, size_t whycap)
{
    const char *colon = strrchr(addr, ':');
    size_t n = strlen(addr);

    if (hw_hostport_parse(addr, host, cap, port) == 0 && *port > 0)
        return 0;
    if (n && n <= 5 && strspn(addr, "0123456789") == n)
        snprintf(why, whycap,
                 "%s %s: give an address with the port: %s 127.0.0.1:%s (this machine only) or "
                 "%s 0.0.0.0:%s (every interface)",
                 option, addr, option, addr, option, addr);
    else if (!colon || (addr[0] == '[' && colon < strchr(addr, ']')))
        snprintf(why, whycap, "%s %s: add the port, e.g. %s:8080", option, addr, addr);
    else
        snprintf(why, whycap, "%s %s: the port must be a number from 1 to 65535 (HOST:PORT)",
                 option, addr);
    return HW_EINVAL;
}

/* Words the errno a bind of addr (host, for option) got, in why; returns the HW_E* code. */
static int bind_error(int e, const char *addr, const char *host, const char *option, char *why,
                      size_t cap)
{
    switch (e) {
    case EADDRINUSE:
        snprintf(why, cap,
                 "%s is already in use: stop the program that holds it, or give %s another port",
                 addr, option);
        return HW_EEXIST;
    case EACCES:
        snprintf(why, cap,
                 "%s: ports below 1024 need root or CAP_NET_BIND_SERVICE: give %s a port above "
                 "1023",
                 addr, option);
        return -EACCES;
    case EADDRNOTAVAIL:
        snprintf(why, cap,
                 "%s: %s is not an address of this machine: use 127.0.0.1, 0.0.0.0 or one of its "
                 "addresses in %s",
                 addr, host, option);
        return HW_EINVAL;
    default:
        snprintf(why, cap, "%s: cannot listen: %s", addr, strerror(e));
        return HW_EIO;
    }
}

int hw_listen_resolve(const char *addr, const char *option, char *ip, size_t ipcap, int *port_out,
                      char *why, size_t cap)
{
    struct addrinfo hints, *res = NULL;
    char host[256], port_s[8];
    int port, fd, one = 1, rc, e = 0;
    int any;

    if (hw_hostport_parse(addr, host, sizeof(host), &port)) {
        snprintf(why, cap, "%s %s: expected HOST:PORT, e.g. 127.0.0.1:8080", option, addr);
        return HW_EINVAL;
    }
    if (port_out)
        *port_out = port;
    any = !host[0] || strcmp(host, "0.0.0.0") == 0;
    snprintf(port_s, sizeof(port_s), "%d", port);
    memset(&hints, 0, sizeof(hints));
    /* The listeners are IPv4 (the event library's IPv6 is off). */
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    rc = getaddrinfo(any ? NULL : host, port_s, &hints, &res);
    if (rc) {
        if (strchr(host, ':'))
            snprintf(why, cap, "%s %s: IPv6 addresses are not supported: give an IPv4 address",
                     option, addr);
        else
            snprintf(why, cap, "%s %s: cannot resolve %s: %s", option, addr, host,
                     gai_strerror(rc));
        return HW_ENOTFOUND;
    }
    if (ipcap) {
        ip[0] = '\0';
        if (!any && !inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip,
                               (socklen_t)ipcap))
            e = errno;
    }
    fd = e ? -1 : socket(res->ai_family, SOCK_STREAM, 0);
    if (!e && fd < 0)
        e = errno;
    /* As a listener sets it: a port whose old connections linger in TIME_WAIT is not "in use". */
    if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
                    bind(fd, res->ai_addr, res->ai_addrlen)))
        e = errno;
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return e ? bind_error(e, addr, host, option, why, cap) : 0;
}

int hw_listen_probe(const char *addr, const char *option, char *why, size_t cap)
{
    return hw_listen_resolve(addr, option, NULL, 0, NULL, why, cap);
}

/* The port a socket is bound to, or -1. */
static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

/* Shuts fd down if it is a TCP listener on port; returns 1 when it did. */
static int stop_if_listener(int fd, int port)
{
    int listening = 0;
    socklen_t len = sizeof(listening);

    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening ||
        bound_port(fd) != port)
        return 0;
    /* Linux: SHUT_RD ends the listen; what waits to be accepted is reset, new SYNs refused. */
    return shutdown(fd, SHUT_RD) == 0;
}

int hw_listen_stop(const char *addr)
{
    char host[256];
    int port, stopped = 0;
    struct dirent *e;
    DIR *d;

    if (!addr || hw_hostport_parse(addr, host, sizeof(host), &port))
        return 0;
    /* The event library keeps its listener to itself: find it among the open descriptors. */
    d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);

        if (*end == '\0' && end != e->d_name && fd != dirfd(d))
            stopped += stop_if_listener((int)fd, port);
    }
    closedir(d);
    return stopped;
}

unsigned long long hw_listen_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl))
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;

        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            HW_DEBUG("open files limit raised from %llu to %llu", (unsigned long long)was,
                     (unsigned long long)rl.rlim_cur);
        else if (getrlimit(RLIMIT_NOFILE, &rl))
            return 0;
    }
    return rl.rlim_cur == RLIM_INFINITY ? 0 : (unsigned long long)rl.rlim_cur;
}
