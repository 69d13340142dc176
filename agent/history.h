#ifndef AGENT_HISTORY_H
#define AGENT_HISTORY_H

/*
 * The developer's history commands: `events [--limit N] [--status S]`,
 * `show ID [--body]` and `replay ID`, each one HTTP call to the relay's
 * history API on its tunnel port (http for ws://, TLS for wss://),
 * authorised by the agent's token. Main thread; runs before (instead of)
 * the event loop, so it uses plain blocking sockets with deadlines.
 */
struct agent;

/*
 * Runs the command argv[0..argc) for a's relay and token. Returns the exit
 * status: 0, 1 (the relay refused or failed: one line on stderr), 2 (usage).
 */
int agent_history_command(struct agent *a, int argc, char **argv);

#endif
