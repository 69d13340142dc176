/*
 * The certificate and key check (tls.h): each file read on its own first,
 * then both as lws loads them into a scratch context, for a chain that
 * OpenSSL would refuse. OpenSSL's own words only where they add something
 * ("no start line", "bad decrypt"), never its library codes.
 */
#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"

/* The reason of OpenSSL's last error, or fallback. */
static const char *ossl_reason(const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    return r ? r : fallback;
}

/* No passphrase is asked for: lws loads the key unattended. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* Whether f is a regular file; else why (its path and option given) says what it is. */
static int regular(FILE *f, const char *opt, const char *path, char *why, size_t n)
{
    struct stat st = { 0 };

    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
        return 1;
    snprintf(why, n, "%s %s: %s", opt, path,
             S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
    return 0;
}

int relay_tls_check(const char *cert, const char *key, char *why, size_t n)
{
    FILE *cf = fopen(cert, "r"), *kf = cf ? fopen(key, "r") : NULL;
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    SSL_CTX *ctx = NULL;
    int err = HW_ECONFIG;

    if (!cf) {
        snprintf(why, n, "--tls-cert %s: %s", cert, strerror(errno));
        goto out;
    }
    if (!kf) {
        snprintf(why, n, "--tls-key %s: %s", key, strerror(errno));
        goto out;
    }
    if (!regular(cf, "--tls-cert", cert, why, n) || !regular(kf, "--tls-key", key, why, n))
        goto out;
    if (!(x = PEM_read_X509(cf, NULL, no_passphrase, NULL))) {
        snprintf(why, n, "--tls-cert %s: no PEM certificate in it (%s)", cert,
                 ossl_reason("unreadable"));
        goto out;
    }
    if (!(k = PEM_read_PrivateKey(kf, NULL, no_passphrase, NULL))) {
        /* OpenSSL 3's decoders say "unsupported" for anything: their words add nothing here. */
        snprintf(why, n, "--tls-key %s: no PEM private key in it, or one with a passphrase", key);
        goto out;
    }
    if (X509_check_private_key(x, k) != 1) {
        snprintf(why, n,
                 "--tls-key %s is not the key of the certificate in --tls-cert %s (the server's "
                 "own certificate comes first in that file, its chain after it)",
                 key, cert);
        goto out;
    }
    ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        snprintf(why, n, "--tls-cert %s: its chain cannot be used (%s)", cert,
                 ossl_reason("unusable"));
        goto out;
    }
    err = 0;
out:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    EVP_PKEY_free(k);
    X509_free(x);
    if (kf)
        fclose(kf);
    if (cf)
        fclose(cf);
    return err;
}
