#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

/*
 * The agent's options: one table drives the command line, the [agent]
 * section of the config file and --help. Main thread, at startup.
 */
#include <stddef.h>

#include "core/opt.h"

struct agent_config {
    char *relay;
    char *token_file;
    char *forward;
    char *ca_file;
    int insecure;
    int forward_insecure; /* an https:// --forward target's certificate is not checked */
    int takeover;
    char *host_header;
    unsigned heartbeat_ms;
    unsigned max_idle_conns;
    char *log_level;
    char *log_format;
    char *inspect;            /* HOST:PORT of the web inspector, or "off" */
    int inspect_allow_remote; /* serve the inspector on a non-loopback address */
};

extern const struct hw_opt agent_options[];

struct agent;

/*
 * Fills the agent's configuration from defaults, HOOKWIRE_RELAY,
 * --config and argv; reads the token from HOOKWIRE_TOKEN or --token-file;
 * parses the URLs. Exits the process with usage or a one-line error.
 * Returns the index of a history command (events, show, replay) in argv,
 * or argc when there is none (run the tunnel).
 */
int agent_config_load(struct agent *a, int argc, char **argv);

void agent_config_cleanup(struct agent *a);

#endif
