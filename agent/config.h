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
    unsigned stop_timeout_ms; /* SIGTERM: how long the forwards in flight may take */
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
 * --config and argv (a lone last argument that is not a command is the
 * target: "hookwire-agent 3000"); reads the token from HOOKWIRE_TOKEN or
 * --token-file; parses the URLs. Exits the process with usage, the version,
 * or a one-line error (status 2; docs/cli.md).
 * Returns the index of a history command (events, show, replay) in argv,
 * or argc when there is none (run the tunnel).
 */
int agent_config_load(struct agent *a, int argc, char **argv);

/*
 * Looks the relay's host name up once, so a name that does not exist is
 * reported with the resolver's reason before the tunnel starts retrying.
 * Waits a few seconds at most: a name server that does not answer by then
 * is not an error (one WARN line; the tunnel's attempts look the name up
 * again). Returns 0, or HW_ENOTFOUND after printing one line. Main thread,
 * blocking, before the event loop.
 */
int agent_config_check_relay(struct agent *a);

void agent_config_cleanup(struct agent *a);

#endif
