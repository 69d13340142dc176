/*
 * --version's line: hookwire's version from the build and the libraries'
 * versions as the loaded libraries report them. Any thread.
 */
#include "version.h"

#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#ifndef HW_VERSION
#define HW_VERSION "unknown"
#endif

const char *hw_version_line(char *out, size_t cap, const char *program, const char *more)
{
    /* lws says "4.1.6-v4.1.6" (a build tag after '-'), OpenSSL "OpenSSL 3.0.19 27 Jan 2026":
     * the version is the part before the tag, or the first two words. */
    char lws[64], ssl[64];
    size_t n;

    snprintf(lws, sizeof(lws), "%s", lws_get_library_version());
    lws[strcspn(lws, " -")] = '\0';
    snprintf(ssl, sizeof(ssl), "%s", OpenSSL_version(OPENSSL_VERSION));
    n = strcspn(ssl, " ");
    if (ssl[n])
        n += 1 + strcspn(ssl + n + 1, " ");
    ssl[n] = '\0';
    snprintf(out, cap, "%s %s (libwebsockets %s, %s, libsodium %s%s%s)", program, HW_VERSION, lws,
             ssl, sodium_version_string(), more && more[0] ? ", " : "", more ? more : "");
    return out;
}
