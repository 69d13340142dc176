#ifndef RELAY_CONFIG_H
#define RELAY_CONFIG_H

/*
 * The relay's options: one table drives the command line, the [relay]
 * section of the config file and --help. Main thread, at startup.
 */
#include <stddef.h>

#include "core/opt.h"

struct relay_config {
    char *listen;
    char *tunnel_listen;
    char *store;
    char *public_url;
    char *tunnel_url;
    char *tls_cert;
    char *tls_key;
    size_t max_body;
    unsigned response_timeout_ms;
    unsigned head_timeout_ms;
    char *offline;
    char *history;
    unsigned retention_ms;
    unsigned max_events;   /* finished events kept per channel; 0: no limit */
    size_t history_buffer; /* live webhook bytes held for their record before 429 */
    unsigned max_queued;
    unsigned queue_retries;
    unsigned queue_backoff_ms;
    unsigned heartbeat_ms;
    unsigned max_streams;
    unsigned max_connections;
    unsigned max_tunnel_connections;
    size_t max_held;
    char *log_level;
    char *log_format;
    int metrics_channels;
};

extern const struct hw_opt relay_options[];

/*
 * Parses argv (options, then an optional subcommand) into cfg after the
 * defaults; config-file sections other than [relay] go to section_fn(ctx).
 * Returns the index of the first non-option argument, or exits the process
 * with usage (--help) or a one-line error.
 */
int relay_config_parse(struct relay_config *cfg, int argc, char **argv,
                       hw_opt_section_fn section_fn, void *ctx);

/*
 * The public base URL without a trailing slash: --public-url, or
 * http(s)://LISTEN ("localhost" for all interfaces). malloc'd; NULL when
 * out of memory.
 */
char *relay_config_public_base(const struct relay_config *cfg);

/*
 * The URL agents give as --relay, into out: --tunnel-url; else, from
 * --public-url, the same host's /tunnel (the layout of examples/Caddyfile)
 * or, when the public URL names the --listen port itself (no proxy), that
 * host at the --tunnel-listen port; else ws(s)://TUNNEL-LISTEN. Returns out.
 */
const char *relay_config_tunnel_url(const struct relay_config *cfg, char *out, size_t cap);

/* Frees what relay_config_parse() allocated. */
void relay_config_cleanup(struct relay_config *cfg);

#endif
