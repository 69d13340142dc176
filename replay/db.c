/*
 * Opening the store for the replay CLI and saying, in one line, why a
 * store call failed (db.h). Owns the store URL only while opening; main
 * thread.
 */
#include "db.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"

/* The store's name for messages: o->st's when open, else the masked URL. */
static void store_name(const struct replay_opts *o, const char *url, char *out, size_t cap)
{
    if (o->st)
        snprintf(out, cap, "%s", hw_store_name(o->st));
    else
        replay_url_masked(url, out, cap);
}

/* A SQLite store that is not there is a typo: opening it would create an empty one. */
static int sqlite_exists(const char *path)
{
    char file[4096];
    size_t n = strcspn(path, "?");

    if (n == 0 || n >= sizeof(file))
        return 1; /* let the store say what is wrong with it */
    memcpy(file, path, n);
    file[n] = '\0';
    return access(file, F_OK) == 0;
}

static int open_fail(const struct replay_opts *o, const char *url, int err)
{
    char name[1024];

    store_name(o, url, name, sizeof(name));
    if (err == HW_ECONFIG) {
        replay_fail("bad store URL %s: expected sqlite:PATH or "
                    "mysql://USER[:PASS]@HOST[:PORT]/DB[?socket=PATH]",
                    name);
        return REPLAY_EXIT_USAGE;
    }
    if (err == HW_EVERSION)
        replay_fail("%s was written by a newer hookwire (schema version above %d): upgrade "
                    "hookwire-replay",
                    name, HW_STORE_SCHEMA_VERSION);
    else if (err == HW_EUNAVAIL)
        replay_fail("cannot reach MySQL at %s (is it running, and are the user, password and "
                    "database right?)",
                    name);
    else if (err == -ENOENT)
        replay_fail("no store at %s (no such file)", name);
    else
        replay_fail("cannot open the store %s: %s", name, hw_strerror(err));
    return REPLAY_EXIT_ERR;
}

int replay_db_open(struct replay_opts *o)
{
    char *url = replay_store_url(o);
    int err;

    if (!url)
        return REPLAY_EXIT_USAGE;
    if (strncmp(url, "sqlite:", 7) && strncmp(url, "mysql://", 8))
        err = HW_ECONFIG;
    else if (!strncmp(url, "sqlite:", 7) && !sqlite_exists(url + 7))
        err = -ENOENT;
    else
        err = hw_store_open(url, NULL, &o->st);
    if (err) {
        o->st = NULL;
        err = open_fail(o, url, err);
    }
    sodium_memzero(url, strlen(url));
    free(url);
    return err;
}

int replay_db_fail(const struct replay_opts *o, int err, const char *what)
{
    const char *name = o->st ? hw_store_name(o->st) : "the store";

    if (err == HW_EUNAVAIL)
        replay_fail("%s: the store %s is unavailable (MySQL unreachable or busy)", what, name);
    else
        replay_fail("%s: %s (store %s)", what, hw_strerror(err), name);
    return REPLAY_EXIT_ERR;
}
