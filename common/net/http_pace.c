/*
 * Reading pace of server connections: each connection's phase (start, last
 * bytes, body bytes held) and the list of readers oldest first, from which
 * the one to shed is picked. Owns struct hw_http_pace and hw_http_readers.
 * Service thread only.
 */
#include "http_pace.h"

/* A stalled reader is looked for among this many of the oldest. */
#define PICK_SCAN 64

static struct hw_http_pace_list *list_of(struct hw_http_readers *rs, const struct hw_http_pace *p)
{
    return p->in_head ? &rs->heads : &rs->bodies;
}

void hw_http_pace_end(struct hw_http_readers *rs, struct hw_http_pace *p)
{
    struct hw_http_pace_list *l = list_of(rs, p);

    if (!p->listed)
        return;
    if (p->prev)
        p->prev->next = p->next;
    else
        l->oldest = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        l->newest = p->prev;
    p->prev = p->next = NULL;
    p->listed = 0;
}

void hw_http_pace_begin(struct hw_http_readers *rs, struct hw_http_pace *p, int64_t now,
                        int in_head)
{
    struct hw_http_pace_list *l;

    hw_http_pace_end(rs, p);
    p->in_head = (unsigned)!!in_head;
    l = list_of(rs, p);
    p->prev = l->newest;
    if (l->newest)
        l->newest->next = p;
    else
        l->oldest = p;
    l->newest = p;
    p->listed = 1;
    p->start = now;
    p->bytes = 0;
}

void hw_http_pace_hold(struct hw_http_readers *rs, struct hw_http_pace *p, size_t n)
{
    p->held += n;
    p->bytes += n;
    rs->held += n;
}

void hw_http_pace_release(struct hw_http_readers *rs, struct hw_http_pace *p)
{
    rs->held -= p->held;
    p->held = 0;
}

int hw_http_pace_body_too_slow(const struct hw_http_pace *p, int64_t now, int64_t stall_us,
                               unsigned min_rate)
{
    int64_t since = now - p->start;

    if (now - hw_http_pace_moved(p) >= stall_us)
        return 1;
    return since >= stall_us && p->bytes * 1000000 < (uint64_t)since * min_rate;
}

/* The first slow phase among the oldest few of l, or NULL. */
static struct hw_http_pace *first_slow(const struct hw_http_pace_list *l,
                                       const struct hw_http_pace *self, int holding, int64_t now,
                                       int64_t quiet_us)
{
    struct hw_http_pace *p = l->oldest;

    for (int i = 0; p && i < PICK_SCAN; p = p->next, i++) {
        int slow = now - hw_http_pace_moved(p) >= quiet_us ||
                   (p->in_head && now - p->start >= 4 * quiet_us);

        if (p != self && slow && (!holding || p->held))
            return p;
    }
    return NULL;
}

struct hw_http_pace *hw_http_pace_pick(const struct hw_http_readers *rs,
                                       const struct hw_http_pace *self, int holding, int64_t now,
                                       int64_t quiet_us)
{
    struct hw_http_pace *body = first_slow(&rs->bodies, self, holding, now, quiet_us);
    struct hw_http_pace *head = holding ? NULL : first_slow(&rs->heads, self, 0, now, quiet_us);

    if (!head || !body)
        return head ? head : body;
    return hw_http_pace_moved(body) < hw_http_pace_moved(head) ? body : head;
}
