#ifndef RELAY_RELOAD_H
#define RELAY_RELOAD_H

/*
 * SIGHUP: re-reads the configuration and applies what can change while
 * agents stay connected. Service thread (the main loop, between
 * service rounds).
 */
struct relay;

/*
 * Parses argv again (the same command line, so the same --config files) and
 * re-reads the TLS certificate and key at their paths. When all of it is
 * valid, swaps in the new [channel NAME] sections and loads the certificate
 * into both vhosts (new TLS connections get it; open ones keep theirs).
 * Otherwise keeps everything as it was and logs one line. Returns 0 or
 * HW_ECONFIG / HW_ENOMEM.
 */
int relay_reload(struct relay *r, int argc, char **argv);

#endif
