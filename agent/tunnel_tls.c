/*
 * TLS client session over OpenSSL memory BIOs for the tunnel's raw socket
 * (see tunnel_tls.h). Owns the SSL_CTX and SSL of one connection attempt;
 * the transport in tunnel_ws.c moves the bytes. Service thread only.
 */
#include "tunnel_tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/err.h"

/* Received bytes OpenSSL has not consumed yet: a relay that floods us is cut off. */
#define RX_BACKLOG_MAX (1024 * 1024)

struct agent_tls {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio; /* what the relay sent, for OpenSSL to read */
    BIO *wbio; /* what OpenSSL wrote, for us to send */
};

static int is_ip(const char *host)
{
    unsigned char a[16];

    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

struct agent_tls *agent_tls_new(const char *host, const char *ca_file, int insecure, char *err,
                                size_t errlen)
{
    struct agent_tls *t = calloc(1, sizeof(*t));

    if (!t)
        goto fail;
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx || !SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION))
        goto fail;
    if (insecure) {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
        if (ca_file ? !SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL)
                    : !SSL_CTX_set_default_verify_paths(t->ctx)) {
            snprintf(err, errlen, "cannot load CA certificates from %s",
                     ca_file ? ca_file : "the system store");
            goto fail_quiet;
        }
    }
    t->ssl = SSL_new(t->ctx);
    if (!t->ssl)
        goto fail;
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        goto fail;
    }
    /* SSL_free() frees the BIOs from here on. */
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_connect_state(t->ssl);
    if (is_ip(host)) {
        if (!insecure && !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host))
            goto fail;
    } else {
        if (!SSL_set_tlsext_host_name(t->ssl, host))
            goto fail;
        if (!insecure && !SSL_set1_host(t->ssl, host))
            goto fail;
    }
    return t;
fail:
    snprintf(err, errlen, "cannot set up TLS");
fail_quiet:
    agent_tls_free(t);
    ERR_clear_error();
    return NULL;
}

void agent_tls_free(struct agent_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    SSL_CTX_free(t->ctx);
    free(t);
}

int agent_tls_handshake(struct agent_tls *t, const char **why)
{
    int rc = SSL_do_handshake(t->ssl);

    *why = NULL;
    if (rc == 1)
        return 1;
    switch (SSL_get_error(t->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return 0;
    default:
        break;
    }
    ERR_clear_error();
    if (SSL_get_verify_result(t->ssl) != X509_V_OK) {
        *why = X509_verify_cert_error_string(SSL_get_verify_result(t->ssl));
        return HW_EAUTH;
    }
    *why = "TLS handshake failed";
    return HW_EIO;
}

int agent_tls_feed(struct agent_tls *t, const void *in, size_t n)
{
    if (BIO_ctrl_pending(t->rbio) + n > RX_BACKLOG_MAX)
        return HW_E2BIG;
    return BIO_write(t->rbio, in, (int)n) == (int)n ? 0 : HW_ENOMEM;
}

int agent_tls_read(struct agent_tls *t, uint8_t *out, size_t cap)
{
    int n = SSL_read(t->ssl, out, cap > INT32_MAX ? INT32_MAX : (int)cap);

    if (n > 0)
        return n;
    switch (SSL_get_error(t->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return 0;
    default:
        ERR_clear_error();
        return HW_EPROTO;
    }
}

int agent_tls_write(struct agent_tls *t, const void *p, size_t n)
{
    /* Memory BIOs take everything at once: a short write cannot happen. */
    if (!n)
        return 0;
    if (SSL_write(t->ssl, p, (int)n) != (int)n) {
        ERR_clear_error();
        return HW_EIO;
    }
    return 0;
}

int agent_tls_take(struct agent_tls *t, struct hw_buf *out)
{
    size_t n = BIO_ctrl_pending(t->wbio);
    char *dst;

    if (!n)
        return 0;
    dst = hw_buf_reserve(out, n);
    if (!dst)
        return HW_E2BIG;
    if (BIO_read(t->wbio, dst, (int)n) != (int)n)
        return HW_EIO;
    hw_buf_commit(out, n);
    return 0;
}
