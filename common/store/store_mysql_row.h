#ifndef HW_STORE_MYSQL_ROW_H
#define HW_STORE_MYSQL_ROW_H

/*
 * Parameter binding and result fetching for store_mysql.c: the MYSQL_BIND
 * boilerplate, and readers that turn a statement's rows into owned store
 * events, attempts and tokens. Same thread rules as store_mysql.c.
 */
#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The NULL-indicator type: my_bool in MariaDB Connector/C, bool in Oracle's client. */
typedef __typeof__(*((MYSQL_BIND *)0)->is_null) hw_my_flag;

/* Input parameters. The values are borrowed until the statement has executed. */
void hw_my_param_i64(MYSQL_BIND *p, const int64_t *v);
void hw_my_param_int(MYSQL_BIND *p, const int *v);
void hw_my_param_bytes(MYSQL_BIND *p, const void *data, size_t n);
/* A NUL-terminated string as bytes; NULL binds SQL NULL. */
void hw_my_param_str(MYSQL_BIND *p, const char *s);

/*
 * Binds the columns every inserted event row starts with, HW_MY_EVENT_COLS
 * entries at p (id, source, received, method, path, query, headers, body, its
 * length from *body_len, its SHA-256, verification, dedup key). The plain and
 * the finished insert each bind their own columns after these.
 */
#define HW_MY_EVENT_COLS 12
void hw_my_param_event(MYSQL_BIND *p, const struct hw_store_event *ev, int64_t *body_len);

/* Bytes an event's row adds to an INSERT packet, generously. */
size_t hw_my_event_bytes(const struct hw_store_event *ev);

/* A BIGINT result column into *v; *nul is set for SQL NULL. */
void hw_my_result_i64(MYSQL_BIND *r, int64_t *v, hw_my_flag *nul);

/*
 * Readers for an executed statement; each consumes the whole result. They
 * return 0, HW_ENOMEM, or HW_EIO when the client library failed (the
 * statement's error number and text then say why).
 */

/* First column of the first row as a string cut to cap - 1 bytes; *found = 0 without a row. */
int hw_my_fetch_str(MYSQL_STMT *st, char *out, size_t cap, int *found);

/*
 * First column of up to max rows as integers into v, and the second into w
 * when w is not NULL (the statement then has two columns); *n gets the count.
 */
int hw_my_fetch_i64s(MYSQL_STMT *st, int64_t *v, int64_t *w, size_t max, size_t *n);

/* Rows of HW_SQL_EVENT_COLS (full = 0) or HW_SQL_EVENT_COLS_FULL (full = 1), appended to out. */
int hw_my_fetch_events(MYSQL_STMT *st, int full, struct hw_store_events *out);

/* Rows of HW_SQL_ATTEMPTS appended to out. */
int hw_my_fetch_attempts(MYSQL_STMT *st, struct hw_store_attempts *out);

/* Rows of HW_SQL_TOKEN_LIST into a growing array *out of *n tokens. */
int hw_my_fetch_tokens(MYSQL_STMT *st, struct hw_store_token **out, size_t *n);

#endif
