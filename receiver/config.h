#ifndef RECV_CONFIG_H
#define RECV_CONFIG_H

/*
 * The receiver's configuration: one option table for the command line, the
 * [receiver] section and --help / --example-config, plus the [source NAME]
 * sections (sources.h), the parsed retry schedule and the delivery signer.
 * Main thread, at startup; read-only afterwards.
 */
#include <stddef.h>

#include "core/opt.h"
#include "schedule.h"
#include "sig/sign.h"
#include "sources.h"

struct recv_config {
    /* Set from the option table. */
    char *listen;
    char *store;
    unsigned store_writers; /* MySQL: group commits in flight at once (hw_store_opts.writers) */
    char *path_prefix;
    char *public_url;
    size_t max_body;
    size_t max_held; /* body bytes held at once, server-wide */
    unsigned deliver_timeout_ms;
    char *deliver_ca_file; /* CAs for https:// backends; NULL: the system store */
    unsigned lease_ms;     /* a claim's lease; longer than deliver_timeout_ms */
    char *retry_schedule;
    char *signing_secret; /* wiped and freed once the signer is built */
    char *log_level;
    char *log_format;

    /* Built by recv_config_load(). */
    char *config_path; /* --config FILE, or NULL */
    int check_only;    /* --check-config: validate, print a summary, exit */
    struct recv_schedule schedule;
    struct hw_signer *signer;
    struct recv_sources sources;
};

extern const struct hw_opt recv_options[];

/*
 * Loads the configuration from argv: "--example-config" alone prints the
 * [receiver] example and exits 0; "--help" prints usage and exits 0;
 * "--config FILE" is read first wherever it appears, so every option given
 * on the command line (--listen, --store, ...) wins over the file. Any
 * problem prints one line ("file:line: reason" for the file, "--option:
 * reason" for the command line) to stderr and exits 2.
 */
void recv_config_load(struct recv_config *cfg, int argc, char **argv);

/* Frees and wipes everything recv_config_load() built. */
void recv_config_cleanup(struct recv_config *cfg);

#endif
