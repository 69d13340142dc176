#ifndef HW_STORE_SCHEMA_H
#define HW_STORE_SCHEMA_H

/*
 * Versioned schema migrations for both store backends, applied at open.
 */
#include "store_backend.h"

/*
 * Brings the database behind be up to HW_STORE_SCHEMA_VERSION, one
 * migration at a time, under the backend's migration lock so that two
 * processes opening one store at once do not both migrate. kind is an enum
 * hw_store_kind; name (borrowed) is the store's log name. Returns 0;
 * HW_EVERSION when the store is newer than this build (logged with both
 * versions); or the backend's error. Thread: the handle's owner, at open.
 */
int hw_store_schema_migrate(const struct hw_store_ops *ops, void *be, int kind, const char *name);

#endif
