#ifndef REPLAY_TABLE_H
#define REPLAY_TABLE_H

/*
 * Output for people: the list as an aligned table on a terminal (a header,
 * columns cut to the window's width, status in colour) or as plain
 * tab-separated lines when stdout is a pipe or a file; and the page that
 * show prints for one event. Stored bytes are escaped (\xNN) so that a
 * webhook can never write control sequences to the operator's terminal.
 * Main thread.
 */
#include <stdio.h>

#include "store/store.h"

struct replay_table {
    FILE *f;
    int tty;     /* aligned columns and a header; else tab-separated lines */
    int colour;  /* status in colour (a terminal without NO_COLOR) */
    int path_w;  /* width of the path column */
    int headed;  /* the header row is out */
    size_t rows; /* rows printed */
};

/* Prepares t for f: the layout follows whether f is a terminal. */
void replay_table_init(struct replay_table *t, FILE *f);

/* Prints one listed event as a row. */
void replay_table_row(struct replay_table *t, const struct hw_store_event *ev);

/*
 * Ends the table: on a terminal, a line saying how many were shown and,
 * when more is true, that --limit shows more.
 */
void replay_table_end(struct replay_table *t, int more);

/* Prints the show page of ev (with headers) and its attempts to f. */
void replay_show_page(FILE *f, const struct hw_store_event *ev, const struct hw_store_attempts *at);

/*
 * s cleaned the same way into buf (cap bytes, at least 16), cut with "..."
 * when it does not fit: for a word from the command line or the store in a
 * message. Returns buf.
 */
const char *replay_clean(const char *s, char *buf, size_t cap);

#endif
