/*
 * Channel registry: a chained hash table from channel name to the agent
 * connection serving it. Service thread only.
 */
#include "channels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/text.h"

#define BUCKETS 1024

struct entry {
    struct entry *next;
    struct relay_agent *agent;
    size_t len;
    char name[HW_CHANNEL_MAX + 1];
};

struct relay_channels {
    struct entry *buckets[BUCKETS];
    size_t count;
};

/* FNV-1a: channel names are short and chosen by operators, not attackers. */
static size_t bucket_of(const char *name, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h % BUCKETS;
}

struct relay_channels *relay_channels_new(void)
{
    return calloc(1, sizeof(struct relay_channels));
}

void relay_channels_free(struct relay_channels *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < BUCKETS; i++) {
        struct entry *e = c->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(c);
}

static struct entry **find(struct relay_channels *c, const char *name, size_t len)
{
    struct entry **pp = &c->buckets[bucket_of(name, len)];

    while (*pp && !((*pp)->len == len && memcmp((*pp)->name, name, len) == 0))
        pp = &(*pp)->next;
    return pp;
}

struct relay_agent *relay_channels_get(struct relay_channels *c, const char *name, size_t len)
{
    struct entry *e = *find(c, name, len);

    return e ? e->agent : NULL;
}

struct relay_agent *relay_channels_set(struct relay_channels *c, const char *name,
                                       struct relay_agent *agent, int *err)
{
    size_t len = strlen(name);
    struct entry **pp = find(c, name, len), *e;
    struct relay_agent *old;

    *err = 0;
    if (*pp) {
        old = (*pp)->agent;
        (*pp)->agent = agent;
        return old;
    }
    if (len > HW_CHANNEL_MAX || !(e = calloc(1, sizeof(*e)))) {
        *err = HW_ENOMEM;
        return NULL;
    }
    memcpy(e->name, name, len);
    e->len = len;
    e->agent = agent;
    *pp = e;
    c->count++;
    return NULL;
}

void relay_channels_remove(struct relay_channels *c, const char *name, struct relay_agent *agent)
{
    struct entry **pp = find(c, name, strlen(name)), *e = *pp;

    if (!e || e->agent != agent)
        return;
    *pp = e->next;
    free(e);
    c->count--;
}

void relay_channels_foreach(struct relay_channels *c,
                            void (*fn)(void *arg, const char *name, struct relay_agent *a),
                            void *arg)
{
    struct entry *e, *next;

    /* next is read first: fn may remove the entry it is given (a revoked agent's). */
    for (size_t i = 0; i < BUCKETS; i++)
        for (e = c->buckets[i]; e; e = next) {
            next = e->next;
            fn(arg, e->name, e->agent);
        }
}

size_t relay_channels_count(const struct relay_channels *c)
{
    return c->count;
}
