/*
 * Agent tokens in the relay's SQLite store: a new token is 32 random bytes
 * shown once as "hwt_" + base64url; the store keeps only its SHA-256. Also
 * the `hookwire-relay token ...` subcommands. Service thread, or the CLI.
 */
#include "tokens.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channels.h"
#include "err.h"

struct relay_tokens {
    sqlite3 *db;
    sqlite3_stmt *lookup;
    sqlite3_stmt *exists;
};

#define HASH_HEX_LEN (crypto_hash_sha256_BYTES * 2)

static void token_hash(const char *token, size_t len, char hex[HASH_HEX_LEN + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(h, (const unsigned char *)token, len);
    sodium_bin2hex(hex, HASH_HEX_LEN + 1, h, sizeof(h));
}

int relay_tokens_open(const char *url, struct relay_tokens **out)
{
    struct relay_tokens *t;
    const char *path;

    if (strncmp(url, "sqlite:", 7) != 0) {
        fprintf(stderr, "--store %s: only sqlite:PATH stores are supported by the relay\n", url);
        return HW_EINVAL;
    }
    path = url + 7;
    t = calloc(1, sizeof(*t));
    if (!t)
        return HW_ENOMEM;
    if (sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK ||
        sqlite3_busy_timeout(t->db, 5000) != SQLITE_OK ||
        sqlite3_exec(t->db,
                     "PRAGMA journal_mode=WAL;"
                     "CREATE TABLE IF NOT EXISTS relay_tokens ("
                     " channel TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE,"
                     " created_at INTEGER NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(t->db, "SELECT channel FROM relay_tokens WHERE token_hash = ?", -1,
                           &t->lookup, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(t->db, "SELECT 1 FROM relay_tokens WHERE channel = ?", -1, &t->exists,
                           NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: cannot open store: %s\n", path, sqlite3_errmsg(t->db));
        relay_tokens_close(t);
        return HW_EIO;
    }
    *out = t;
    return 0;
}

void relay_tokens_close(struct relay_tokens *t)
{
    if (!t)
        return;
    sqlite3_finalize(t->lookup);
    sqlite3_finalize(t->exists);
    sqlite3_close(t->db);
    free(t);
}

int relay_tokens_lookup(struct relay_tokens *t, const char *token, size_t token_len, char *channel,
                        size_t cap)
{
    char hex[HASH_HEX_LEN + 1];
    int rc;

    token_hash(token, token_len, hex);
    sqlite3_bind_text(t->lookup, 1, hex, -1, SQLITE_STATIC);
    rc = sqlite3_step(t->lookup);
    if (rc == SQLITE_ROW)
        snprintf(channel, cap, "%s", (const char *)sqlite3_column_text(t->lookup, 0));
    sqlite3_reset(t->lookup);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? HW_ENOTFOUND : HW_EIO;
}

int relay_tokens_channel_exists(struct relay_tokens *t, const char *channel)
{
    int rc;

    sqlite3_bind_text(t->exists, 1, channel, -1, SQLITE_STATIC);
    rc = sqlite3_step(t->exists);
    sqlite3_reset(t->exists);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : HW_EIO;
}

static int cmd_add(struct relay_tokens *t, const char *channel)
{
    unsigned char raw[32];
    char token[4 + 64], hex[HASH_HEX_LEN + 1];
    sqlite3_stmt *st;
    int rc;

    randombytes_buf(raw, sizeof(raw));
    memcpy(token, "hwt_", 4);
    sodium_bin2base64(token + 4, sizeof(token) - 4, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    token_hash(token, strlen(token), hex);
    if (sqlite3_prepare_v2(t->db,
                           "INSERT INTO relay_tokens (channel, token_hash, created_at) "
                           "VALUES (?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return 1;
    sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_CONSTRAINT) {
        fprintf(stderr, "channel %s already has a token; revoke it first\n", channel);
        return 1;
    }
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "cannot store token: %s\n", sqlite3_errmsg(t->db));
        return 1;
    }
    /* The token is printed once, here, and never stored. */
    printf("%s\n", token);
    sodium_memzero(token, sizeof(token));
    return 0;
}

static int cmd_list(struct relay_tokens *t)
{
    sqlite3_stmt *st;

    if (sqlite3_prepare_v2(t->db, "SELECT channel, created_at FROM relay_tokens ORDER BY channel",
                           -1, &st, NULL) != SQLITE_OK)
        return 1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        time_t created = (time_t)sqlite3_column_int64(st, 1);
        struct tm tm;
        char ts[32];

        gmtime_r(&created, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%s\t%s\n", (const char *)sqlite3_column_text(st, 0), ts);
    }
    sqlite3_finalize(st);
    return 0;
}

static int cmd_revoke(struct relay_tokens *t, const char *channel)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(t->db, "DELETE FROM relay_tokens WHERE channel = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return 1;
    sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "cannot revoke: %s\n", sqlite3_errmsg(t->db));
        return 1;
    }
    if (sqlite3_changes(t->db) == 0) {
        fprintf(stderr, "channel %s has no token\n", channel);
        return 1;
    }
    printf("revoked %s\n", channel);
    return 0;
}

int relay_tokens_command(const char *url, int argc, char **argv)
{
    struct relay_tokens *t;
    const char *verb = argc > 1 ? argv[1] : "";
    int status = 2;

    if (!((strcmp(verb, "add") == 0 || strcmp(verb, "revoke") == 0) && argc == 3) &&
        !(strcmp(verb, "list") == 0 && argc == 2)) {
        fprintf(stderr, "usage: hookwire-relay [--store URL] token add CHANNEL | token list | "
                        "token revoke CHANNEL\n");
        return 2;
    }
    if (argc == 3 && !relay_channel_name_valid(argv[2])) {
        fprintf(stderr, "invalid channel name \"%s\": use 1-63 of a-z, 0-9 and -\n", argv[2]);
        return 2;
    }
    if (relay_tokens_open(url, &t))
        return 1;
    if (strcmp(verb, "add") == 0)
        status = cmd_add(t, argv[2]);
    else if (strcmp(verb, "list") == 0)
        status = cmd_list(t);
    else
        status = cmd_revoke(t, argv[2]);
    relay_tokens_close(t);
    return status;
}
