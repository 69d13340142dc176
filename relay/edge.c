/*
 * Edge verification: one hw_sig source per [channel NAME] section, plus the
 * relay's own key "enforce". Sources are finalized at startup and then only
 * read, on the service thread.
 */
#include "edge.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channels.h"
#include "core/err.h"
#include "core/log.h"
#include "core/opt.h"
#include "core/text.h"
#include "sig/sig.h"

struct edge_channel {
    struct edge_channel *next;
    char name[HW_CHANNEL_MAX + 1];
    struct hw_sig_source *src;
    int enforce;
    int verifies;    /* a signature key was given: the channel is checked */
    int enforce_set; /* enforce was given, which means nothing without a provider */
    char offline[8]; /* "queue", "reject", or "" for the relay's --offline */
    char *where;     /* FILE:LINE of its section's header */
};

struct relay_edge {
    struct edge_channel *channels;
};

struct relay_edge *relay_edge_new(void)
{
    return calloc(1, sizeof(struct relay_edge));
}

void relay_edge_free(struct relay_edge *e)
{
    struct edge_channel *c, *next;

    if (!e)
        return;
    for (c = e->channels; c; c = next) {
        next = c->next;
        hw_sig_source_free(c->src);
        free(c->where);
        free(c);
    }
    free(e);
}

static struct edge_channel *find(const struct relay_edge *e, const char *name, size_t len)
{
    struct edge_channel *c;

    for (c = e->channels; c; c = c->next)
        if (strlen(c->name) == len && memcmp(c->name, name, len) == 0)
            return c;
    return NULL;
}

int relay_edge_config(void *ctx, const char *where, const char *section, const char *key,
                      const char *value, char *err, size_t errlen)
{
    struct relay_edge *e = ctx;
    struct edge_channel *c;
    const char *name, *why = NULL;
    char *resolved;
    int rc;

    if (strncmp(section, "channel ", 8) != 0) {
        snprintf(err, errlen, "unknown section [%s]", section);
        return HW_EINVAL;
    }
    name = section + 8;
    if (!hw_text_channel_valid(name, strlen(name))) {
        snprintf(err, errlen, "[%s]: invalid channel name", section);
        return HW_EINVAL;
    }
    c = find(e, name, strlen(name));
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (!c || !(c->src = hw_sig_source_new(name)) || !(c->where = strdup(where))) {
            if (c) {
                hw_sig_source_free(c->src);
                free(c->where);
            }
            free(c);
            snprintf(err, errlen, "out of memory");
            return HW_ENOMEM;
        }
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->enforce = 1;
        c->next = e->channels;
        e->channels = c;
    }
    resolved = hw_opt_resolve(value, err, errlen);
    if (!resolved)
        return HW_EINVAL;
    if (strcmp(key, "offline") == 0) {
        rc = strcmp(resolved, "queue") && strcmp(resolved, "reject") ? HW_EINVAL : 0;
        if (rc)
            snprintf(err, errlen, "[%s] offline: expected queue or reject", section);
        else
            snprintf(c->offline, sizeof(c->offline), "%s", resolved);
    } else if (strcmp(key, "enforce") == 0) {
        rc = hw_opt_parse_bool(resolved, &c->enforce);
        c->enforce_set = 1;
        if (rc)
            snprintf(err, errlen, "[%s] enforce: expected true or false", section);
    } else {
        c->verifies = 1;
        rc = hw_sig_source_set(c->src, key, resolved, &why);
        if (rc == HW_ENOTFOUND)
            snprintf(err, errlen, "[%s]: unknown key \"%s\"", section, key);
        else if (rc)
            snprintf(err, errlen, "[%s] %s", section, why ? why : hw_strerror(rc));
    }
    sodium_memzero(resolved, strlen(resolved));
    free(resolved);
    return rc ? HW_EINVAL : 0;
}

int relay_edge_finalize(struct relay_edge *e, char *err, size_t errlen)
{
    const char *why = NULL;

    for (struct edge_channel *c = e->channels; c; c = c->next) {
        /* enforce alone verifies nothing: a provider line lost in an edit, most likely. */
        if (!c->verifies && c->enforce_set) {
            snprintf(err, errlen,
                     "%s: [channel %s] enforce without a provider: add verify = PROVIDER and its "
                     "secret, or remove enforce",
                     c->where, c->name);
            return HW_ECONFIG;
        }
        if (!c->verifies)
            continue; /* only other keys (offline) */
        if (hw_sig_source_finalize(c->src, &why)) {
            snprintf(err, errlen, "%s: [channel %s] %s", c->where, c->name, why ? why : "invalid");
            return HW_ECONFIG;
        }
        HW_INFO("channel %s: verifying %s signatures at the edge%s", c->name,
                hw_sig_source_provider(c->src), c->enforce ? "" : " (marking, not enforcing)");
    }
    return 0;
}

enum relay_edge_verdict relay_edge_check(const struct relay_edge *e, const char *channel,
                                         size_t len, const char *base_url,
                                         const struct hw_http_head *head, const void *body,
                                         size_t body_len, const char *peer)
{
    const struct edge_channel *c = e ? find(e, channel, len) : NULL;
    struct hw_sig_request req;
    struct hw_sig_result res;

    if (!c || !c->verifies)
        return RELAY_EDGE_NONE;
    memset(&req, 0, sizeof(req));
    req.method = head->method;
    req.method_len = head->method_len;
    req.base_url = base_url;
    req.base_url_len = strlen(base_url);
    req.target = head->target;
    req.target_len = head->target_len;
    req.headers = head->headers;
    req.nheaders = head->nheaders;
    req.body = body;
    req.body_len = body_len;
    req.now = (int64_t)time(NULL);
    if (hw_sig_verify(c->src, &req, &res) == 0)
        return RELAY_EDGE_PASS;
    HW_INFO("conn=%s channel=%s %s signature failed: %s%s%s", peer, c->name,
            hw_sig_source_provider(c->src), hw_sig_reason_str(res.reason),
            res.header ? " header=" : "", res.header ? res.header : "");
    return c->enforce ? RELAY_EDGE_REJECT : RELAY_EDGE_MARK;
}

const char *relay_edge_offline(const struct relay_edge *e, const char *channel, size_t len,
                               const char *fallback)
{
    const struct edge_channel *c = e ? find(e, channel, len) : NULL;

    return c && c->offline[0] ? c->offline : fallback;
}
