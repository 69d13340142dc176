#ifndef RECV_SOURCES_H
#define RECV_SOURCES_H

/*
 * The receiver's [source NAME] sections: each names a provider (any
 * verifier in common/sig, "zoom", or "none" with allow-unverified = true),
 * its secrets, the backend URL its events go to and how many deliveries may
 * be in flight for it. Built on the main thread at startup; afterwards read
 * only, so ingest and delivery may read it from any thread.
 */
#include <stddef.h>

#include "core/text.h"
#include "core/url.h"
#include "handshake.h"
#include "sig/sig.h"

/* Default and largest deliveries in flight per source. */
#define RECV_CONCURRENCY_DEFAULT 8
#define RECV_CONCURRENCY_MAX     1024

struct recv_source {
    struct recv_source *next; /* file order */
    char name[HW_CHANNEL_MAX + 1];
    char provider[24];         /* as configured: "github", "zoom", "none", ... */
    struct hw_sig_source *sig; /* finalized verifier; NULL only for provider = none */
    enum recv_handshake_kind handshake;
    char *zoom_secret; /* a Zoom source's first secret, for its handshake; wiped */
    int allow_unverified;
    char *deliver_to;          /* backend URL as written */
    struct hw_url deliver_url; /* parsed */
    unsigned concurrency;
    size_t index;       /* position in file order, 0 .. n - 1 */
    int line;           /* line of the [source NAME] header */
    int has_public_url; /* the section set its own public-url (Twilio) */
    unsigned given;     /* keys seen (internal to sources.c) */
    size_t nsecrets;
};

struct recv_sources {
    struct recv_source *head, *tail;
    size_t n;
    const char *path; /* config file, borrowed, for messages */
};

/*
 * Reads the section headers of the config file at path (before inih reads
 * the keys) and creates one empty source per [source NAME], in file order,
 * so that a source without keys, a duplicate or an invalid name is reported
 * at its header line. Every other section must be [receiver]. Prints one
 * "path:line: reason" to stderr on failure and returns HW_ECONFIG; HW_ENOMEM.
 */
int recv_sources_scan(struct recv_sources *ss, const char *path);

/*
 * Applies one key of [source NAME] (NAME already scanned); value is the raw
 * text, resolved from env:/file: here. Keys may be written with '-' or '_'.
 * Returns 0, or HW_EINVAL with a reason in err (never the secret's value).
 */
int recv_sources_key(struct recv_sources *ss, const char *name, const char *key, const char *value,
                     char *err, size_t errlen);

/*
 * Checks every source and finalizes its verifier (secrets decoded and their
 * text wiped). Prints "path:line: [source NAME] reason" for the first
 * problem and returns HW_ECONFIG, or 0.
 */
int recv_sources_finalize(struct recv_sources *ss);

/* The source named name[0..len), or NULL. Any thread after finalize. */
const struct recv_source *recv_sources_find(const struct recv_sources *ss, const char *name,
                                            size_t len);

/* Wipes secrets and frees every source. */
void recv_sources_cleanup(struct recv_sources *ss);

#endif
