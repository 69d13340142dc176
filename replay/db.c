/*
 * Opening the store for the replay CLI and saying, in one line, why a
 * store call failed (db.h). Owns the store URL only while opening; main
 * thread.
 */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "store/store_url.h"

/* The store's name for messages: o->st's when open, else the masked URL. */
static void store_name(const struct replay_opts *o, const char *url, char *out, size_t cap)
{
    if (o->st)
        snprintf(out, cap, "%s", hw_store_name(o->st));
    else
        hw_store_url_masked(url, out, cap);
}

/*
 * Checks a SQLite store's file before SQLite opens it. One that is not there
 * is a typo, and an empty file a failed copy: opening either would write an
 * empty store into it. Anything but a SQLite file would fail with SQLite's
 * bare "I/O error" or "not a database". Returns 0, -ENOENT, or HW_EINVAL
 * with *why saying what the file is instead.
 */
static int sqlite_file_check(const char *path, const char **why)
{
    static const char magic[16] = "SQLite format 3";
    char file[4096], head[16];
    size_t n = strcspn(path, "?");
    struct stat st;
    ssize_t got;
    int fd;

    if (n == 0 || n >= sizeof(file))
        return 0; /* let the store say what is wrong with it */
    memcpy(file, path, n);
    file[n] = '\0';
    *why = NULL;
    if (stat(file, &st) != 0) {
        if (errno == ENOENT)
            return -ENOENT;
        *why = strerror(errno);
    } else if (S_ISDIR(st.st_mode)) {
        *why = "a directory, not a store";
    } else if (!S_ISREG(st.st_mode)) {
        *why = "not a regular file, not a store";
    } else if (st.st_size == 0) {
        *why = "an empty file, not a store (hookwire-replay never creates one)";
    } else if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
        *why = strerror(errno);
    } else {
        got = read(fd, head, sizeof(head));
        close(fd);
        if (got != (ssize_t)sizeof(head) || memcmp(head, magic, sizeof(head)) != 0)
            *why = "not a SQLite database";
    }
    return *why ? HW_EINVAL : 0;
}

/*
 * Says why the store did not open (why: the file check's reason, or NULL;
 * hidden: the URL came through env: or file: and is not shown when it is
 * not one). Returns the exit status.
 */
static int open_fail(const struct replay_opts *o, const char *url, int hidden, int err,
                     const char *why)
{
    static const char expected[] = "expected sqlite:PATH or "
                                   "mysql://USER[:PASS]@HOST[:PORT]/DB[?socket=PATH][&timeout=S], "
                                   "S from 1 to 3600 seconds";
    char name[1024];

    store_name(o, url, name, sizeof(name));
    if (err == HW_ECONFIG && hidden) {
        replay_fail("bad store URL in %s (read through env: or file:, so not shown): %s", o->config,
                    why ? why : expected);
        return REPLAY_EXIT_USAGE;
    }
    if (err == HW_ECONFIG) {
        replay_fail("bad store URL %s: %s", name, why ? why : expected);
        return REPLAY_EXIT_USAGE;
    }
    if (err == HW_EVERSION)
        replay_fail("%s was written by a newer hookwire (schema version above %d): upgrade "
                    "hookwire-replay",
                    name, HW_STORE_SCHEMA_VERSION);
    else if (err == HW_EUNAVAIL && !strncmp(url, "sqlite:", 7))
        replay_fail("the store %s is busy: another process holds its lock", name);
    else if (err == HW_EUNAVAIL)
        replay_fail("cannot reach MySQL at %s (is it running, and are the user, password and "
                    "database right?)",
                    name);
    else if (err == -ENOENT)
        replay_fail("no store at %s (no such file)", name);
    else if (why)
        replay_fail("cannot open the store %s: %s", name, why);
    else
        replay_fail("cannot open the store %s: %s", name, hw_strerror(err));
    return REPLAY_EXIT_ERR;
}

int replay_db_open(struct replay_opts *o)
{
    const char *why = NULL;
    char reason[256];
    struct hw_store_url u = { 0 };
    int err, hidden;
    char *url = replay_store_url(o, &hidden);

    if (!url)
        return REPLAY_EXIT_USAGE;
    if (strncmp(url, "sqlite:", 7) && strncmp(url, "mysql://", 8)) {
        err = HW_ECONFIG;
    } else if ((err = hw_store_url_read(url, &u, reason, sizeof(reason))) != 0) {
        /* Named before any file is looked at: "events.db?x=1" is no path to check. */
        why = err == HW_ECONFIG ? reason : NULL;
    } else {
        err = strncmp(url, "sqlite:", 7) ? 0 : sqlite_file_check(url + 7, &why);
        err = err ? err : hw_store_open(url, NULL, &o->st);
    }
    hw_store_url_cleanup(&u);
    if (err) {
        o->st = NULL;
        err = open_fail(o, url, hidden, err, why);
    }
    sodium_memzero(url, strlen(url));
    free(url);
    return err;
}

int replay_db_fail(const struct replay_opts *o, int err, const char *what)
{
    const char *name = o->st ? hw_store_name(o->st) : "the store";

    if (err == HW_EUNAVAIL && !strncmp(name, "sqlite:", 7))
        replay_fail("%s: the store %s is busy: another process holds its lock", what, name);
    else if (err == HW_EUNAVAIL)
        replay_fail("%s: the store %s is unavailable: MySQL did not answer", what, name);
    else
        replay_fail("%s: %s (store %s)", what, hw_strerror(err), name);
    return REPLAY_EXIT_ERR;
}
