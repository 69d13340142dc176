/*
 * hw-sign-delivery: signs one delivery with common/sig's signer and prints
 * the Hookwire-* headers a receiver adds, as JSON, so that tests can check
 * them with a Standard Webhooks library (tests/node/verify-hookwire.js).
 * The secret comes from HW_SIGNING_SECRET, never from the command line.
 *
 *   HW_SIGNING_SECRET=whsec_... hw-sign-delivery EVENT_ID UNIX_TIME BODYFILE
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "sig/sign.h"

/* Test bodies are small; a cap keeps the tool honest about its input. */
#define BODY_MAX (32u << 20)

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;

    if (!f)
        return -errno;
    buf = malloc(BODY_MAX + 1);
    if (buf)
        n = fread(buf, 1, BODY_MAX + 1, f);
    fclose(f);
    if (!buf || n > BODY_MAX) {
        free(buf);
        return buf ? HW_E2BIG : HW_ENOMEM;
    }
    *out = buf;
    *len = n;
    return 0;
}

int main(int argc, char **argv)
{
    const char *secret = getenv("HW_SIGNING_SECRET"), *why = "";
    struct hw_signer *s = NULL;
    char sig[HW_SIGN_MAX], *body = NULL, *end;
    size_t len = 0;
    long long ts;
    int rc;

    if (argc != 4 || !secret) {
        fprintf(stderr, "usage: HW_SIGNING_SECRET=... hw-sign-delivery EVENT_ID UNIX_TIME "
                        "BODYFILE\n");
        return 2;
    }
    errno = 0;
    ts = strtoll(argv[2], &end, 10);
    if (errno || *end || end == argv[2]) {
        fprintf(stderr, "hw-sign-delivery: bad time %s\n", argv[2]);
        return 2;
    }
    rc = hw_signer_new(secret, &s, &why);
    if (rc < 0) {
        fprintf(stderr, "hw-sign-delivery: %s\n", why);
        return 1;
    }
    rc = read_file(argv[3], &body, &len);
    if (rc == 0)
        rc = hw_signer_sign(s, argv[1], strlen(argv[1]), ts, body, len, sig);
    if (rc == 0)
        printf("{\"Hookwire-Event-Id\": \"%s\", \"Hookwire-Timestamp\": \"%lld\", "
               "\"Hookwire-Signature\": \"%s\"}\n",
               argv[1], ts, sig);
    else
        fprintf(stderr, "hw-sign-delivery: %s\n", hw_strerror(rc));
    free(body);
    hw_signer_free(s);
    return rc == 0 ? 0 : 1;
}
