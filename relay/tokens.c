/*
 * Agent tokens on top of the event store: a new token is 32 random bytes
 * shown once as "hwt_" + base64url; the store keeps only its SHA-256. Also
 * the `hookwire-relay token ...` subcommands. Service thread, or the CLI.
 */
#include "tokens.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channels.h"
#include "core/err.h"
#include "core/text.h"
#include "store/store.h"

#define LIST_TTL_MS 1000

struct relay_tokens {
    struct hw_store *store;
    struct hw_store_token *list; /* cached token list, for channel_exists */
    size_t nlist;
    int64_t list_at_ms;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void token_hash(const char *token, size_t len, unsigned char h[HW_STORE_SHA256_LEN])
{
    crypto_hash_sha256(h, (const unsigned char *)token, len);
}

struct relay_tokens *relay_tokens_new(struct hw_store *store)
{
    struct relay_tokens *t = calloc(1, sizeof(*t));

    if (t)
        t->store = store;
    return t;
}

void relay_tokens_free(struct relay_tokens *t)
{
    if (!t)
        return;
    free(t->list);
    free(t);
}

int relay_tokens_lookup(struct relay_tokens *t, const char *token, size_t token_len, char *channel,
                        size_t cap)
{
    unsigned char h[HW_STORE_SHA256_LEN];
    char name[HW_STORE_NAME_MAX + 1];
    int rc;

    token_hash(token, token_len, h);
    rc = hw_store_token_lookup(t->store, h, name);
    if (rc == 0)
        snprintf(channel, cap, "%s", name);
    return rc;
}

int relay_tokens_channel_exists(struct relay_tokens *t, const char *channel)
{
    int64_t now = now_ms();

    if (!t->list_at_ms || now - t->list_at_ms > LIST_TTL_MS) {
        struct hw_store_token *list = NULL;
        size_t n = 0;
        int rc = hw_store_token_list(t->store, &list, &n);

        if (rc)
            return rc;
        free(t->list);
        t->list = list;
        t->nlist = n;
        t->list_at_ms = now;
    }
    for (size_t i = 0; i < t->nlist; i++)
        if (strcmp(t->list[i].channel, channel) == 0)
            return 1;
    return 0;
}

static int cmd_add(struct hw_store *s, const char *channel)
{
    unsigned char raw[32], h[HW_STORE_SHA256_LEN];
    char token[4 + 64];
    struct relay_tokens *t = relay_tokens_new(s);
    int rc = t ? relay_tokens_channel_exists(t, channel) : HW_ENOMEM;

    relay_tokens_free(t);
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
    /* The token is printed once, here, and never stored. */
    printf("%s\n", token);
    sodium_memzero(token, sizeof(token));
    return 0;
}

static int cmd_list(struct hw_store *s)
{
    struct hw_store_token *list = NULL;
    size_t n = 0;
    int rc = hw_store_token_list(s, &list, &n);

    if (rc) {
        fprintf(stderr, "cannot list tokens: %s\n", hw_strerror(rc));
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        time_t created = (time_t)(list[i].created_ms / 1000);
        struct tm tm;
        char ts[32];

        gmtime_r(&created, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%s\t%s\n", list[i].channel, ts);
    }
    free(list);
    return 0;
}

static int cmd_revoke(struct hw_store *s, const char *channel)
{
    unsigned removed = 0;
    int rc = hw_store_token_revoke(s, channel, &removed);

    if (rc) {
        fprintf(stderr, "cannot revoke: %s\n", hw_strerror(rc));
        return 1;
    }
    if (!removed) {
        fprintf(stderr, "channel %s has no token\n", channel);
        return 1;
    }
    printf("revoked %s\n", channel);
    return 0;
}

int relay_tokens_command(const char *url, int argc, char **argv)
{
    struct hw_store *s;
    const char *verb = argc > 1 ? argv[1] : "";
    int status;

    if (!((strcmp(verb, "add") == 0 || strcmp(verb, "revoke") == 0) && argc == 3) &&
        !(strcmp(verb, "list") == 0 && argc == 2)) {
        fprintf(stderr, "usage: hookwire-relay [--store URL] token add CHANNEL | token list | "
                        "token revoke CHANNEL\n");
        return 2;
    }
    if (argc == 3 && !hw_text_channel_valid(argv[2], strlen(argv[2]))) {
        fprintf(stderr, "invalid channel name \"%s\": use 1-63 of a-z, 0-9 and -\n", argv[2]);
        return 2;
    }
    if (hw_store_open(url, NULL, &s)) {
        fprintf(stderr, "cannot open store %s\n", url);
        return 1;
    }
    if (strcmp(verb, "add") == 0)
        status = cmd_add(s, argv[2]);
    else if (strcmp(verb, "list") == 0)
        status = cmd_list(s);
    else
        status = cmd_revoke(s, argv[2]);
    hw_store_close(s);
    return status;
}
