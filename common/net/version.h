#ifndef HW_VERSION_H
#define HW_VERSION_H

/*
 * The line --version prints: the program's version and the versions of the
 * libraries it runs with (read from the libraries at run time, not from the
 * headers it was built with). Any thread.
 */
#include <stddef.h>

/*
 * Writes "PROGRAM VERSION (libwebsockets X, OpenSSL Y, libsodium Z[, MORE])"
 * into out; more names what else the program links (SQLite, the MariaDB
 * client), or says what it does not. Returns out.
 */
const char *hw_version_line(char *out, size_t cap, const char *program, const char *more);

#endif
