#ifndef HW_STORE_URL_H
#define HW_STORE_URL_H

/*
 * Store URL parsing: "sqlite:PATH[?unsafe_sync=off]" and
 * "mysql://USER[:PASS]@HOST[:PORT]/DB[?socket=PATH][&timeout=SECONDS]" with
 * percent-decoding.
 * The parsed form owns its strings; the password is wiped on cleanup.
 */
#include <stddef.h>

enum hw_store_kind { HW_STORE_KIND_SQLITE = 1, HW_STORE_KIND_MYSQL = 2 };

struct hw_store_url {
    int kind;           /* enum hw_store_kind */
    char *path;         /* sqlite: the database file */
    char *user;         /* mysql */
    char *password;     /* mysql: from the URL or HOOKWIRE_MYSQL_PASSWORD; NULL for none */
    char *host;         /* mysql: NULL when only a socket is given */
    unsigned port;      /* mysql: 0 means the client's default (3306) */
    char *db;           /* mysql */
    char *socket;       /* mysql: NULL unless ?socket=PATH */
    unsigned timeout_s; /* mysql: ?timeout=SECONDS, read/write/connect timeout; 0 for the default */
    int unsafe_nosync;  /* sqlite: ?unsafe_sync=off, for tests only (commits not fsynced) */
    char *name;         /* the URL without its password, for logs */
};

/*
 * Parses url (borrowed) into u (caller-owned; cleaned by
 * hw_store_url_cleanup() even on failure). Returns 0, HW_ECONFIG with the
 * reason logged (never the password), or HW_ENOMEM. Any thread.
 */
int hw_store_url_parse(const char *url, struct hw_store_url *u);

/* hw_store_url_parse() that logs nothing: on HW_ECONFIG the reason is in why (cap bytes). */
int hw_store_url_read(const char *url, struct hw_store_url *u, char *why, size_t cap);

/* Frees u's strings, wiping the password first. */
void hw_store_url_cleanup(struct hw_store_url *u);

#endif
