/*
 * TLS client sessions over OpenSSL memory BIOs (see tls_client.h): owns the
 * shared SSL_CTX of a context and the SSL of each session; the transport
 * (agent/tunnel_ws.c, http_client_conn.c) moves the bytes through lws. The
 * thread that drives the connection, one at a time.
 */
#include "tls_client.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

struct hw_tls_ctx {
    SSL_CTX *ctx;
    int insecure;
    unsigned refs;
};

struct hw_tls {
    struct hw_tls_ctx *x;
    SSL *ssl;
    BIO *rbio; /* what the peer sent, for OpenSSL to read */
    BIO *wbio; /* what OpenSSL wrote, for us to send */
    int ready;
    int closed;
    uint8_t first[5]; /* the peer's first bytes, to tell a plain HTTP answer from TLS */
    size_t nfirst;
    char why[192];
};

static int is_ip(const char *host)
{
    unsigned char a[16];

    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

struct hw_tls_ctx *hw_tls_ctx_new(const char *ca_file, int insecure, char *err, size_t errlen)
{
    struct hw_tls_ctx *x = calloc(1, sizeof(*x));

    if (!x)
        goto fail;
    x->refs = 1;
    x->insecure = insecure ? 1 : 0;
    x->ctx = SSL_CTX_new(TLS_client_method());
    if (!x->ctx || !SSL_CTX_set_min_proto_version(x->ctx, TLS1_2_VERSION))
        goto fail;
    if (insecure) {
        SSL_CTX_set_verify(x->ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(x->ctx, SSL_VERIFY_PEER, NULL);
        if (ca_file ? !SSL_CTX_load_verify_locations(x->ctx, ca_file, NULL)
                    : !SSL_CTX_set_default_verify_paths(x->ctx)) {
            snprintf(err, errlen, "cannot load CA certificates from %s",
                     ca_file ? ca_file : "the system store");
            goto fail_quiet;
        }
    }
    return x;
fail:
    snprintf(err, errlen, "cannot set up TLS");
fail_quiet:
    hw_tls_ctx_free(x);
    ERR_clear_error();
    return NULL;
}

struct hw_tls_ctx *hw_tls_ctx_ref(struct hw_tls_ctx *x)
{
    x->refs++;
    return x;
}

void hw_tls_ctx_free(struct hw_tls_ctx *x)
{
    if (!x || --x->refs)
        return;
    SSL_CTX_free(x->ctx);
    free(x);
}

struct hw_tls *hw_tls_new(struct hw_tls_ctx *x, const char *host)
{
    struct hw_tls *t;

    if (!host[0])
        return NULL;
    t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->x = hw_tls_ctx_ref(x);
    t->ssl = SSL_new(x->ctx);
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
        /* SNI carries DNS names only (RFC 6066 section 3); an address is checked as one. */
        if (!x->insecure && !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host))
            goto fail;
    } else {
        if (!SSL_set_tlsext_host_name(t->ssl, host))
            goto fail;
        if (!x->insecure && !SSL_set1_host(t->ssl, host))
            goto fail;
    }
    return t;
fail:
    hw_tls_free(t);
    ERR_clear_error();
    return NULL;
}

void hw_tls_free(struct hw_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    hw_tls_ctx_free(t->x);
    free(t);
}

/* Names the first error OpenSSL queued (after prefix) in t->why, and clears the queue. */
static const char *say_error(struct hw_tls *t, const char *prefix)
{
    unsigned long e = ERR_peek_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;

    snprintf(t->why, sizeof(t->why), "%s%s%s", prefix, reason ? ": " : "", reason ? reason : "");
    ERR_clear_error();
    return t->why;
}

int hw_tls_handshake(struct hw_tls *t, const char **why)
{
    int rc;
    long vr;

    *why = NULL;
    if (t->ready)
        return 1;
    rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        t->ready = 1;
        return 1;
    }
    switch (SSL_get_error(t->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return 0;
    default:
        break;
    }
    if (t->nfirst == sizeof(t->first) && memcmp(t->first, "HTTP/", 5) == 0) {
        /* The commonest mistake: https:// to a server that speaks plain HTTP. */
        ERR_clear_error();
        *why = "TLS handshake failed: the peer answered in plain HTTP, not TLS";
        return HW_EIO;
    }
    vr = SSL_get_verify_result(t->ssl);
    if (vr != X509_V_OK) {
        ERR_clear_error();
        snprintf(t->why, sizeof(t->why), "certificate verify failed: %s",
                 X509_verify_cert_error_string(vr));
        *why = t->why;
        return HW_EAUTH;
    }
    *why = say_error(t, "TLS handshake failed");
    return HW_EIO;
}

int hw_tls_ready(const struct hw_tls *t)
{
    return t->ready;
}

int hw_tls_feed(struct hw_tls *t, const void *in, size_t n)
{
    if (BIO_ctrl_pending(t->rbio) + n > HW_TLS_RX_BACKLOG_MAX)
        return HW_E2BIG;
    if (t->nfirst < sizeof(t->first)) {
        size_t k = n < sizeof(t->first) - t->nfirst ? n : sizeof(t->first) - t->nfirst;

        memcpy(t->first + t->nfirst, in, k);
        t->nfirst += k;
    }
    return BIO_write(t->rbio, in, (int)n) == (int)n ? 0 : HW_ENOMEM;
}

int hw_tls_read(struct hw_tls *t, uint8_t *out, size_t cap, const char **why)
{
    int n;

    if (t->closed)
        return 0;
    n = SSL_read(t->ssl, out, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (n > 0)
        return n;
    switch (SSL_get_error(t->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        t->closed = 1;
        return 0;
    default:
        if (why)
            *why = say_error(t, "TLS error");
        else
            ERR_clear_error();
        return HW_EPROTO;
    }
}

int hw_tls_closed(const struct hw_tls *t)
{
    return t->closed;
}

int hw_tls_write(struct hw_tls *t, const void *p, size_t n)
{
    if (!n)
        return 0;
    if (n > INT32_MAX || SSL_write(t->ssl, p, (int)n) != (int)n) {
        ERR_clear_error();
        return HW_EIO;
    }
    return 0;
}

size_t hw_tls_pending(const struct hw_tls *t)
{
    return BIO_ctrl_pending(t->wbio);
}

int hw_tls_take(struct hw_tls *t, struct hw_buf *out)
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

/* Moves the records to send to out; names the failure in *why. */
static int take_out(struct hw_tls *t, struct hw_buf *out, const char **why)
{
    int err = hw_tls_take(t, out);

    if (err)
        *why = "too many bytes waiting for the socket";
    return err;
}

int hw_tls_start(struct hw_tls *t, struct hw_buf *out, const char **why)
{
    int rc = hw_tls_handshake(t, why);

    return rc < 0 ? rc : take_out(t, out, why);
}

int hw_tls_rx(struct hw_tls *t, const void *in, size_t n, uint8_t *buf, size_t cap,
              hw_tls_plain_fn plain, void *user, struct hw_buf *out, int *up, const char **why)
{
    const char *read_why = NULL;
    size_t got = 0;
    int rc;

    *up = 0;
    *why = NULL;
    if (hw_tls_feed(t, in, n)) {
        *why = "the peer sent more than TLS can buffer";
        return HW_E2BIG;
    }
    if (!t->ready) {
        rc = hw_tls_handshake(t, why);
        if (rc <= 0)
            return rc < 0 ? rc : take_out(t, out, why);
        *up = 1;
    }
    while ((rc = hw_tls_read(t, buf + got, cap - got, &read_why)) > 0) {
        got += (size_t)rc;
        if (got == cap) {
            int err = plain(user, buf, got);

            if (err < 0)
                return err;
            got = 0;
        }
    }
    /* What was decrypted before a bad record still goes to the transport. */
    if (got) {
        int err = plain(user, buf, got);

        if (err < 0)
            return err;
    }
    if (rc < 0) {
        *why = read_why;
        return rc;
    }
    return take_out(t, out, why);
}

int hw_tls_send(struct hw_tls *t, const void *p, size_t n, struct hw_buf *out)
{
    int err = hw_tls_write(t, p, n);

    return err ? err : hw_tls_take(t, out);
}
