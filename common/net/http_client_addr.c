/*
 * Where a target's new connections go. An address in numbers is used as
 * it is. A host name is looked up off the service thread (core/resolve.h),
 * since lws 4.1.6 would call getaddrinfo() inside its connect and stall
 * every connection of the program for as long as the name server takes;
 * the connection then goes to the address in numbers, while TLS and the
 * caller's Host header keep the name. Requests wait in the target's queue
 * meanwhile, each for at most its connect timeout.
 *
 * The addresses are kept for ADDRS_TTL_MS (as curl keeps its DNS cache),
 * then looked up again while the old ones still serve, and within RETRY_MS
 * after a connection to one of them fails, when new connections go to the
 * next address (a new lookup keeps the one in use if it still lists it). A
 * lookup that fails leaves old addresses in use, and fails the requests
 * waiting for it only when there are none; one that has not answered in
 * LOOKUP_MAX_MS is given up (its thread ends on its own) and counts as failed.
 * A failure with no addresses stands for RETRY_MS (a negative cache, as
 * nginx's resolver keeps one): requests meanwhile fail with it at the next
 * step rather than each sending the name server a lookup of its own.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "http_client_int.h"

#define ADDRS_TTL_MS 60000
/*
 * After a failed lookup or connection, old addresses serve at most this long
 * before the next lookup; a failure with none stands this long.
 */
#define RETRY_MS 5000
/* A lookup still running after this is given up: a name service that hangs for good. */
#define LOOKUP_MAX_MS 60000

static void lookup_cb(lws_sorted_usec_list_t *sul);

/* A round that starts before failed_until repeats the last failure (see settle()). */
static void start_lookup(struct hw_http_target *t)
{
    lws_usec_t now = lws_now_usecs();

    if (!t->addrs.n && now < t->failed_until) {
        t->lookup_failed = 1; /* the last answer stands: the waiting requests fail with it */
        t->lookup_gai = t->failed_gai;
    } else if (!(t->lookup = hw_resolve_start(t->address))) {
        t->lookup_failed = 1; /* no thread: the waiting requests fail at the next step */
        t->lookup_gai = errno == EAGAIN ? EAI_AGAIN : EAI_MEMORY;
    }
    t->lookups++;
    t->lookup_started = now;
    t->lookup_step = HW_RESOLVE_POLL_FIRST_US;
    lws_sul_schedule(t->client->cx, 0, &t->lookup_timer, lookup_cb, t->lookup ? t->lookup_step : 0);
}

const char *hwc_addr(struct hw_http_target *t)
{
    if (t->numeric)
        return t->address;
    if ((!t->addrs.n || lws_now_usecs() >= t->addrs_until) && !t->lookup && !t->lookup_failed)
        start_lookup(t);
    return t->addrs.n ? t->addrs.a[t->addr_next] : NULL;
}

int hwc_addr_failed(struct hw_http_target *t, const char *addr)
{
    lws_usec_t soon = lws_now_usecs() + (lws_usec_t)RETRY_MS * 1000;

    if (t->numeric || !t->addrs.n)
        return 0;
    if (strcmp(addr, t->addrs.a[t->addr_next]) == 0)
        t->addr_next = (t->addr_next + 1) % t->addrs.n;
    if (t->addrs_until > soon)
        t->addrs_until = soon; /* the name may point elsewhere now */
    return 1;
}

/* The lookup is done: its addresses serve from now on, or the requests waiting for it fail. */
static void settle(struct hw_http_target *t, int gai, const struct hw_addrs *found)
{
    struct hw_http_client *cl = t->client;

    hw_resolve_drop(t->lookup);
    t->lookup = NULL;
    t->lookup_failed = 0;
    if (!gai) {
        size_t keep = 0;

        /* New connections stay on the address they use if the name still has it. */
        for (size_t i = 0; i < found->n && t->addrs.n; i++)
            if (strcmp(found->a[i], t->addrs.a[t->addr_next]) == 0)
                keep = i;
        t->addrs = *found;
        t->addr_next = keep;
        t->addrs_until = lws_now_usecs() + (lws_usec_t)ADDRS_TTL_MS * 1000;
        hwc_pump(t);
        return;
    }
    if (t->addrs.n) {
        t->addrs_until = lws_now_usecs() + (lws_usec_t)RETRY_MS * 1000;
        hwc_pump(t);
        return;
    }
    if (t->lookup_started >= t->failed_until) { /* a lookup, not a repeat: the window starts */
        t->failed_until = lws_now_usecs() + (lws_usec_t)RETRY_MS * 1000;
        t->failed_gai = gai;
    }
    snprintf(cl->why, sizeof(cl->why), "cannot resolve %.150s: %.50s", t->address,
             gai_strerror(gai));
    hwc_fail_waiting(t, t->lookups, HW_HTTP_REFUSED, cl->why);
}

static void lookup_cb(lws_sorted_usec_list_t *sul)
{
    struct hw_http_target *t = lws_container_of(sul, struct hw_http_target, lookup_timer);
    struct hw_http_client *cl = t->client;
    struct hw_addrs found;
    int gai = t->lookup_gai;

    if (t->lookup_failed || hw_resolve_poll(t->lookup, &found, &gai)) {
        settle(t, gai, &found);
        return;
    }
    if (lws_now_usecs() - t->lookup_started >= (lws_usec_t)LOOKUP_MAX_MS * 1000) {
        settle(t, EAI_AGAIN, NULL);
        return;
    }
    if (!t->addrs.n) {
        snprintf(cl->why, sizeof(cl->why), "%.160s did not resolve in time", t->address);
        hwc_fail_overdue(t, HW_HTTP_TIMEOUT, cl->why);
    }
    if (t->lookup_step < HW_RESOLVE_POLL_MAX_US)
        t->lookup_step *= 2;
    lws_sul_schedule(cl->cx, 0, &t->lookup_timer, lookup_cb, t->lookup_step);
}

void hwc_addr_cleanup(struct hw_http_target *t)
{
    lws_sul_cancel(&t->lookup_timer);
    hw_resolve_drop(t->lookup);
    t->lookup = NULL;
}
