/*
 * hookwire-receiver: loads and checks the configuration. Serving (ingest,
 * delivery, operations endpoints) is wired here once the shared HTTP server
 * and client exist; until then the program validates a configuration with
 * --check-config and prints --help and --example-config. Main thread only.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"

/* Prints the store URL without a password ("mysql://user:***@host/db"). */
static void print_store(const char *url)
{
    const char *auth = strstr(url, "://"), *at, *colon;

    if (auth && (at = strchr(auth + 3, '@')) &&
        (colon = memchr(auth + 3, ':', (size_t)(at - auth - 3))))
        printf("%.*s:***%s", (int)(colon - url), url, at);
    else
        printf("%s", url);
}

static void print_summary(const struct recv_config *cfg)
{
    printf("config ok: listen %s, store ", cfg->listen);
    print_store(cfg->store);
    printf(", webhooks at %s/SOURCE, %u delivery attempts, %zu source%s\n", cfg->path_prefix,
           recv_schedule_attempts(&cfg->schedule), cfg->sources.n, cfg->sources.n == 1 ? "" : "s");
    for (const struct recv_source *s = cfg->sources.head; s; s = s->next)
        printf("source %s: provider %s, %zu secret%s, deliver to %s, concurrency %u%s\n", s->name,
               s->provider, s->nsecrets, s->nsecrets == 1 ? "" : "s", s->deliver_to, s->concurrency,
               s->handshake ? ", handshake answered here" : "");
}

int main(int argc, char **argv)
{
    struct recv_config cfg;

    recv_config_load(&cfg, argc, argv);
    if (cfg.check_only) {
        print_summary(&cfg);
        recv_config_cleanup(&cfg);
        return 0;
    }
    fprintf(stderr, "hookwire-receiver: serving is not wired in yet; "
                    "use --check-config to validate a configuration\n");
    recv_config_cleanup(&cfg);
    return 1;
}
