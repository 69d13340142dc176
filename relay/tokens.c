/*
 * Agent tokens on top of the event store: a new token is 32 random bytes
 * shown once as "hwt_" + base64url; the store keeps only its SHA-256. The
 * relay answers from an in-memory copy of the token table, refreshed every
 * REFRESH_MS through the store thread, so an agent's connect never waits on
 * the database. Service thread (the cache), or the CLI (the subcommands).
 */
#include "tokens.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channels.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/text.h"
#include "live.h"
#include "relay.h"
#include "store/store.h"
#include "tunnel.h"

#define REFRESH_MS 200  /* how often the table is read again: a new token works this soon */
#define FRESH_MS   1000 /* an unknown token is refused (401) only by a table this recent */

struct relay_tokens {
    struct hw_store *store;
    struct relay *relay;          /* NULL until started */
    struct lws_context *context;  /* NULL until started */
    lws_sorted_usec_list_t timer; /* the periodic refresh */
    struct hw_store_token *list;  /* sorted by hash */
    size_t nlist;
    int64_t fresh_ms; /* when the read that gave list began; 0: never */
    int64_t asked_ms; /* when the read in flight began */
    int inflight;     /* a read is queued on the store thread */
    int orphan;       /* freed while a read was in flight: its callback frees */
    int failing;      /* the last read failed (logged once) */
};

static void token_hash(const char *token, size_t len, unsigned char h[HW_STORE_SHA256_LEN])
{
    crypto_hash_sha256(h, (const unsigned char *)token, len);
}

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(((const struct hw_store_token *)a)->hash,
                  ((const struct hw_store_token *)b)->hash, HW_STORE_SHA256_LEN);
}

void relay_store_wake(void *arg)
{
    struct relay *r = arg;

    if (r->context)
        lws_cancel_service(r->context);
}

struct relay_tokens *relay_tokens_new(struct hw_store *store)
{
    struct relay_tokens *t = calloc(1, sizeof(*t));

    if (t)
        t->store = store;
    return t;
}

/* Takes list (owned) as the new table, read as of asked. */
static void install(struct relay_tokens *t, struct hw_store_token *list, size_t n, int64_t asked)
{
    if (n)
        qsort(list, n, sizeof(*list), cmp_hash);
    free(t->list);
    t->list = list;
    t->nlist = n;
    t->fresh_ms = asked;
    if (t->failing)
        HW_INFO("tokens: the store answers again");
    t->failing = 0;
}

static void drop_revoked(void *arg, const char *name, struct relay_agent *a)
{
    if (relay_tokens_channel_exists(arg, name) == 0)
        relay_agent_revoked(a);
}

/* Runs on the service thread, from hw_store_poll_completions(). */
static void on_list(void *arg, int err, struct hw_store_token *list, size_t n)
{
    struct relay_tokens *t = arg;

    t->inflight = 0;
    if (t->orphan) {
        free(list);
        free(t->list);
        free(t);
        return;
    }
    if (err) {
        if (!t->failing)
            HW_WARN("tokens: cannot read the token table: %s (known tokens still work; "
                    "unknown ones get 503 until the store answers)",
                    hw_strerror(err));
        t->failing = 1;
        return;
    }
    install(t, list, n, t->asked_ms);
    /* An agent that connected on a token revoked since then loses its tunnel now. */
    relay_channels_foreach(t->relay->channels, drop_revoked, t);
}

/* Queues a read of the table unless one is in flight. */
static void refresh(struct relay_tokens *t)
{
    if (t->inflight || !t->context)
        return;
    t->asked_ms = hw_mono_ms();
    if (hw_store_token_list_async(t->store, on_list, t) == 0)
        t->inflight = 1;
}

static void refresh_timer(lws_sorted_usec_list_t *sul)
{
    struct relay_tokens *t = lws_container_of(sul, struct relay_tokens, timer);

    refresh(t);
    lws_sul_schedule(t->context, 0, &t->timer, refresh_timer, (lws_usec_t)REFRESH_MS * 1000);
}

int relay_tokens_start(struct relay_tokens *t, struct relay *r)
{
    struct lws_context *context = r->context;
    struct hw_store_token *list = NULL;
    int64_t asked = hw_mono_ms();
    size_t n = 0;
    int rc;

    /* Before the loop runs, waiting is harmless: start with the table in hand if the store is up.
     */
    rc = hw_store_token_list(t->store, &list, &n);
    if (rc == 0)
        install(t, list, n, asked);
    else
        HW_WARN("tokens: cannot read the token table at start: %s", hw_strerror(rc));
    t->relay = r;
    t->context = context;
    lws_sul_schedule(context, 0, &t->timer, refresh_timer, (lws_usec_t)REFRESH_MS * 1000);
    return 0;
}

void relay_tokens_stop(struct relay_tokens *t)
{
    if (t && t->context)
        lws_sul_cancel(&t->timer);
}

void relay_tokens_free(struct relay_tokens *t)
{
    if (!t)
        return;
    if (t->inflight) {
        t->orphan = 1; /* the store still holds t as the read's argument */
        return;
    }
    free(t->list);
    free(t);
}

int relay_tokens_lookup(struct relay_tokens *t, const char *token, size_t token_len, char *channel,
                        size_t cap)
{
    struct hw_store_token key;
    const struct hw_store_token *hit;

    token_hash(token, token_len, key.hash);
    hit = t->nlist ? bsearch(&key, t->list, t->nlist, sizeof(key), cmp_hash) : NULL;
    sodium_memzero(key.hash, sizeof(key.hash));
    if (hit) {
        snprintf(channel, cap, "%s", hit->channel);
        return 0;
    }
    if (t->fresh_ms && hw_mono_ms() - t->fresh_ms <= FRESH_MS)
        return HW_ENOTFOUND;
    /* The table is too old to refuse a token it does not know: ask again, "retry later". */
    refresh(t);
    return HW_EUNAVAIL;
}

int relay_tokens_channel_exists(struct relay_tokens *t, const char *channel)
{
    for (size_t i = 0; i < t->nlist; i++)
        if (strcmp(t->list[i].channel, channel) == 0)
            return 1;
    if (t->fresh_ms && hw_mono_ms() - t->fresh_ms <= FRESH_MS)
        return 0;
    refresh(t);
    return HW_EUNAVAIL;
}

/* Asks the store whether channel has a token (CLI only: waits for the database). */
static int channel_has_token(struct hw_store *s, const char *channel)
{
    struct hw_store_token *list = NULL;
    size_t n = 0;
    int rc = hw_store_token_list(s, &list, &n), found = 0;

    for (size_t i = 0; !rc && i < n; i++)
        found |= strcmp(list[i].channel, channel) == 0;
    free(list);
    return rc ? rc : found;
}

static int cmd_add(struct hw_store *s, const struct relay_config *cfg, const char *channel)
{
    char *base, relay_url[1400];
    unsigned char raw[32], h[HW_STORE_SHA256_LEN];
    char token[4 + 64];
    int rc = channel_has_token(s, channel);

    if (rc == 1) {
        fprintf(stderr, "channel %s already has a token; revoke it first\n", channel);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "cannot read tokens: %s\n", hw_strerror(rc));
        return 1;
    }
    randombytes_buf(raw, sizeof(raw));
    memcpy(token, "hwt_", 4);
    sodium_bin2base64(token + 4, sizeof(token) - 4, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    token_hash(token, strlen(token), h);
    rc = hw_store_token_add(s, channel, h);
    if (rc) {
        sodium_memzero(token, sizeof(token));
        fprintf(stderr, "cannot store token: %s\n", hw_strerror(rc));
        return 1;
    }
    /* The token is printed once, here, and never stored. It alone goes to stdout, so
     * TOKEN=$(hookwire-relay token add alice) works; what to do with it goes to stderr. */
    printf("%s\n", token);
    fflush(stdout);
    base = relay_config_public_base(cfg);
    fprintf(stderr,
            "webhook URL: %s/t/%s/\n"
            "agent:       HOOKWIRE_TOKEN=%s hookwire-agent --relay %s 3000\n",
            base ? base : "?", channel, token,
            relay_config_tunnel_url(cfg, relay_url, sizeof(relay_url)));
    free(base);
    sodium_memzero(token, sizeof(token));
    return 0;
}

/* The agent column of `token list` for channel. */
static void agent_column(const char *channel, const struct relay_live_agent *live, size_t nlive,
                         const char *unknown, char *out, size_t cap)
{
    if (unknown) {
        snprintf(out, cap, "unknown: %s", unknown);
        return;
    }
    for (size_t i = 0; i < nlive; i++) {
        if (strcmp(live[i].channel, channel) == 0) {
            time_t t = (time_t)(live[i].since_ms / 1000);
            struct tm tm;
            char ts[32];

            gmtime_r(&t, &tm);
            strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
            snprintf(out, cap, "connected from %s since %s", live[i].addr, ts);
            return;
        }
    }
    snprintf(out, cap, "not connected");
}

static int cmd_list(struct hw_store *s, const struct relay_config *cfg)
{
    struct relay_live_agent *live = NULL;
    size_t nlive = 0;
    char why[256], agent[320];
    int asked;
    struct hw_store_token *list = NULL;
    size_t n = 0;
    int rc = hw_store_token_list(s, &list, &n);

    if (rc) {
        fprintf(stderr, "cannot list tokens: %s\n", hw_strerror(rc));
        return 1;
    }
    /* Only the running relay knows its tunnels: ask it (the same --config or --tunnel-listen). */
    asked = n ? relay_live_ask(cfg, &live, &nlive, why, sizeof(why)) : 0;
    for (size_t i = 0; i < n; i++) {
        time_t created = (time_t)(list[i].created_ms / 1000);
        struct tm tm;
        char ts[32];

        gmtime_r(&created, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        agent_column(list[i].channel, live, nlive, asked ? why : NULL, agent, sizeof(agent));
        printf("%s\t%s\t%s\n", list[i].channel, ts, agent);
    }
    free(live);
    free(list);
    return 0;
}

static int cmd_revoke(struct hw_store *s, const char *channel)
{
    unsigned removed = 0;
    int rc = hw_store_token_revoke(s, channel, &removed);

    if (rc && rc != HW_ENOTFOUND) {
        fprintf(stderr, "cannot revoke the token of channel %s: %s\n", channel, hw_strerror(rc));
        return 1;
    }
    if (rc || !removed) {
        fprintf(stderr, "channel %s has no token\n", channel);
        return 1;
    }
    printf("revoked %s\n", channel);
    return 0;
}

int relay_tokens_command(const struct relay_config *cfg, int argc, char **argv)
{
    const char *url = cfg->store;
    struct hw_store *s;
    const char *verb = argc > 1 ? argv[1] : "";
    int status, help = 0;

    /* "token add --help" asks for the usage: it must not add a channel named "--help". */
    for (int i = 1; i < argc; i++)
        help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    if (help) {
        printf("usage: hookwire-relay [--store URL] token add CHANNEL | token list | token "
               "revoke CHANNEL\n\n"
               "  add CHANNEL     a token for CHANNEL (one that has none), printed on stdout\n"
               "  list            the channels with a token, and the agent connected to each\n"
               "  revoke CHANNEL  the channel's token stops working; its agent is cut off\n");
        return 0;
    }
    /* The commands take no options: a channel starting with '-' is an option mistyped. */
    if (argc == 3 && argv[2][0] == '-' &&
        (strcmp(verb, "add") == 0 || strcmp(verb, "list") == 0 || strcmp(verb, "revoke") == 0)) {
        fprintf(stderr, "token %s: unknown option %s (see hookwire-relay token --help)\n", verb,
                argv[2]);
        return 2;
    }
    if (!((strcmp(verb, "add") == 0 || strcmp(verb, "revoke") == 0) && argc == 3) &&
        !(strcmp(verb, "list") == 0 && argc == 2)) {
        fprintf(stderr, "usage: hookwire-relay [--store URL] token add CHANNEL | token list | "
                        "token revoke CHANNEL\n");
        return 2;
    }
    if (strncmp(url, "sqlite:", 7) != 0 && strncmp(url, "mysql://", 8) != 0) {
        char name[1024];

        hw_store_url_masked(url, name, sizeof(name));
        fprintf(stderr, "--store %s: expected sqlite:PATH or mysql://USER@HOST[:PORT]/DB\n", name);
        return 2;
    }
    if (argc == 3 && !hw_text_channel_valid(argv[2], strlen(argv[2]))) {
        fprintf(stderr, "invalid channel name \"%s\": use 1-63 of a-z, 0-9 and -\n", argv[2]);
        return 2;
    }
    if (hw_store_open(url, NULL, &s)) {
        char name[1024];

        hw_store_url_masked(url, name, sizeof(name));
        fprintf(stderr, "cannot open store %s\n", name);
        return 1;
    }
    if (strcmp(verb, "add") == 0)
        status = cmd_add(s, cfg, argv[2]);
    else if (strcmp(verb, "list") == 0)
        status = cmd_list(s, cfg);
    else
        status = cmd_revoke(s, argv[2]);
    hw_store_close(s);
    return status;
}
