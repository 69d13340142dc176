#ifndef REPLAY_JSON_H
#define REPLAY_JSON_H

/*
 * Output for machines: one JSON object per line for listed events (--json),
 * one object for show --json and stats --json. Stored bytes that are not
 * valid UTF-8 are written as \u00XX (each byte as its Latin-1 character),
 * so every line parses. Main thread.
 */
#include <stdio.h>

#include "store/store.h"

/* One listed event as an object on its own line. */
void replay_json_event(FILE *f, const struct hw_store_event *ev);

/* ev (with headers) and its attempts as one object on one line. */
void replay_json_show(FILE *f, const struct hw_store_event *ev, const struct hw_store_attempts *at);

/* The summary as one object on one line. */
void replay_json_summary(FILE *f, const struct hw_store_summary *sum, int schema);

#endif
