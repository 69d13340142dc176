#ifndef AGENT_INSPECT_ASSETS_H
#define AGENT_INSPECT_ASSETS_H

/*
 * The inspector's single-page app, compiled into the binary: the table is
 * generated at build time from agent/inspect/ (agent/embed.cmake), so the
 * agent serves it with no file and no network. Read only; any thread.
 */
#include <stddef.h>

struct agent_asset {
    const char *path; /* "/app.js" */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t len;
};

/* The assets, ended by an entry with a NULL path. */
extern const struct agent_asset agent_assets[];

#endif
