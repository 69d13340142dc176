#ifndef HW_STORE_MYSQL_WATCH_H
#define HW_STORE_MYSQL_WATCH_H

/*
 * The deadline of a whole MySQL call (store_mysql_watch.c). The client
 * library's timeouts bound each read and write, so a server or network path
 * that sends its answer a few bytes at a time, each within the timeout,
 * would hold a call (and the store's lock) for as long as it trickles. One
 * thread per process looks at every MySQL connection four times a second
 * and shuts down the socket of a call older than its limit: the call then
 * fails as a lost connection (HW_EUNAVAIL, the outcome of a COMMIT unknown),
 * as with any cut.
 */
#include <pthread.h>
#include <stdint.h>

struct hw_my_watch {
    pthread_mutex_t lock; /* the fields below; held while the socket is shut down */
    const char *name;     /* the store's masked URL, for the log line */
    int sock;             /* the connection's socket, -1 while there is none */
    int held;             /* between hw_my_watch_call(1) and (0): a call may be under way */
    int cut;              /* the current call's socket was shut down */
    int64_t start_ms;     /* the current call began (monotonic) */
    int64_t limit_ms;     /* ...and may last this long */
    struct hw_my_watch *next;
};

/* Watches w from now on (name borrowed: it must outlive w). */
void hw_my_watch_add(struct hw_my_watch *w, const char *name);
/* Stops watching w (the thread no longer touches it once this returns). */
void hw_my_watch_remove(struct hw_my_watch *w);
/* The connection's socket (-1: none, before it is closed). */
void hw_my_watch_socket(struct hw_my_watch *w, int sock);
/* A call begins (1) or ends (0) on the connection. */
void hw_my_watch_call(struct hw_my_watch *w, int begin);
/* A statement begins within the call: it may last limit_ms from now. */
void hw_my_watch_touch(struct hw_my_watch *w, int64_t limit_ms);

#endif
