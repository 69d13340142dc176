/*
 * Unit tests for common/net/tls_client.c against an in-process OpenSSL server,
 * both ends on memory BIOs with certificates made here: the handshake with a
 * trusted CA (by DNS name, by IP address, SNI only for names), plaintext both
 * ways and close_notify; each refusal with its one-line reason (unknown
 * issuer, self-signed, host name and IP address mismatch), insecure mode, a
 * peer that does not speak TLS, a record that fails to decrypt, the receive
 * backlog cap, an unreadable CA file, and a session outliving its context;
 * and the pump transports drive (start, rx, send): the handshake's end said
 * once, one read's plaintext in one call when it fits, a stop from the
 * transport, plaintext before a bad record still delivered.
 * Single-threaded.
 */
#include "net/tls_client.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/err.h"

struct cert {
    EVP_PKEY *key;
    X509 *x509;
};

/* A certificate for cn with the given subjectAltName, signed by issuer (NULL: self-signed). */
static struct cert make_cert(const char *cn, const char *san, const struct cert *issuer, int ca)
{
    struct cert c = { EVP_EC_gen("P-256"), X509_new() };
    X509V3_CTX v3;
    X509_EXTENSION *ext;

    CHECK(c.key && c.x509);
    CHECK(X509_set_version(c.x509, 2));
    CHECK(ASN1_INTEGER_set(X509_get_serialNumber(c.x509), (long)(random() & 0x7fffffff)));
    CHECK(X509_gmtime_adj(X509_getm_notBefore(c.x509), -3600));
    CHECK(X509_gmtime_adj(X509_getm_notAfter(c.x509), 86400));
    CHECK(X509_set_pubkey(c.x509, c.key));
    CHECK(X509_NAME_add_entry_by_txt(X509_get_subject_name(c.x509), "CN", MBSTRING_ASC,
                                     (const unsigned char *)cn, -1, -1, 0));
    CHECK(X509_set_issuer_name(c.x509, X509_get_subject_name(issuer ? issuer->x509 : c.x509)));
    X509V3_set_ctx(&v3, issuer ? issuer->x509 : c.x509, c.x509, NULL, NULL, 0);
    ext =
        X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    CHECK(ext && X509_add_ext(c.x509, ext, -1));
    X509_EXTENSION_free(ext);
    if (san) {
        ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
        CHECK(ext && X509_add_ext(c.x509, ext, -1));
        X509_EXTENSION_free(ext);
    }
    CHECK(X509_sign(c.x509, issuer ? issuer->key : c.key, EVP_sha256()));
    return c;
}

static void free_cert(struct cert *c)
{
    X509_free(c->x509);
    EVP_PKEY_free(c->key);
}

/* Writes c's certificate to a temporary PEM file; returns its path (static, one at a time). */
static const char *pem_file(const struct cert *c)
{
    static char path[64];
    int fd;
    FILE *f;

    snprintf(path, sizeof(path), "/tmp/hw-test-tls-XXXXXX");
    fd = mkstemp(path);
    CHECK(fd >= 0);
    f = fdopen(fd, "w");
    CHECK(f && PEM_write_X509(f, c->x509));
    fclose(f);
    return path;
}

struct server {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio, *wbio;
};

static void server_init(struct server *s, const struct cert *c)
{
    s->ctx = SSL_CTX_new(TLS_server_method());
    CHECK(s->ctx);
    CHECK(SSL_CTX_use_certificate(s->ctx, c->x509) == 1);
    CHECK(SSL_CTX_use_PrivateKey(s->ctx, c->key) == 1);
    s->ssl = SSL_new(s->ctx);
    s->rbio = BIO_new(BIO_s_mem());
    s->wbio = BIO_new(BIO_s_mem());
    CHECK(s->ssl && s->rbio && s->wbio);
    SSL_set_bio(s->ssl, s->rbio, s->wbio);
    SSL_set_accept_state(s->ssl);
}

static void server_cleanup(struct server *s)
{
    SSL_free(s->ssl);
    SSL_CTX_free(s->ctx);
    ERR_clear_error();
}

/* Moves what each side wrote to the other, and lets the server take its step. */
static void exchange(struct hw_tls *t, struct server *s)
{
    struct hw_buf b;
    char tmp[65536];
    int n;

    hw_buf_init(&b, 4 << 20);
    CHECK_EQ(hw_tls_take(t, &b), 0);
    CHECK_EQ(hw_tls_pending(t), 0);
    if (hw_buf_size(&b))
        CHECK_EQ(BIO_write(s->rbio, hw_buf_head(&b), (int)hw_buf_size(&b)), hw_buf_size(&b));
    hw_buf_cleanup(&b);
    if (!SSL_is_init_finished(s->ssl))
        SSL_do_handshake(s->ssl);
    while ((n = BIO_read(s->wbio, tmp, sizeof(tmp))) > 0)
        CHECK_EQ(hw_tls_feed(t, tmp, (size_t)n), 0);
}

/* Runs the handshake to its end; returns hw_tls_handshake()'s last result. */
static int handshake(struct hw_tls *t, struct server *s, const char **why)
{
    for (int i = 0; i < 10; i++) {
        int rc = hw_tls_handshake(t, why);

        exchange(t, s);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static struct hw_tls_ctx *ctx_for(const struct cert *ca, int insecure)
{
    char err[256];
    const char *path = ca ? pem_file(ca) : NULL;
    struct hw_tls_ctx *x = hw_tls_ctx_new(path, insecure, err, sizeof(err));

    if (path)
        unlink(path);
    CHECK(x);
    return x;
}

/* One handshake of a client for host against a server with leaf; *why as the client said. */
static int try_handshake(struct hw_tls_ctx *x, const char *host, const struct cert *leaf, char *why,
                         size_t cap)
{
    struct server s;
    struct hw_tls *t = hw_tls_new(x, host);
    const char *w = NULL;
    int rc;

    CHECK(t);
    server_init(&s, leaf);
    rc = handshake(t, &s, &w);
    snprintf(why, cap, "%s", w ? w : "");
    hw_tls_free(t);
    server_cleanup(&s);
    return rc;
}

static struct cert ca, leaf, other_ca, self_signed;

static void test_trusted_by_name(void)
{
    struct hw_tls_ctx *x = ctx_for(&ca, 0);
    struct hw_tls *t = hw_tls_new(x, "localhost");
    struct server s;
    const char *why = "unset";
    static uint8_t big[40000], got[40000];
    uint8_t small[16];
    size_t have = 0;
    int n;

    CHECK(t);
    /* The session keeps its own hold on the context. */
    hw_tls_ctx_free(x);
    server_init(&s, &leaf);
    CHECK(!hw_tls_ready(t));
    CHECK_EQ(handshake(t, &s, &why), 1);
    CHECK(why == NULL);
    CHECK(hw_tls_ready(t));
    CHECK(SSL_is_init_finished(s.ssl));
    CHECK_STR(SSL_get_servername(s.ssl, TLSEXT_NAMETYPE_host_name), "localhost");
    /* Client to server. */
    CHECK_EQ(hw_tls_write(t, "hello, app", 10), 0);
    CHECK_EQ(hw_tls_write(t, "", 0), 0);
    exchange(t, &s);
    CHECK_EQ(SSL_read(s.ssl, small, sizeof(small)), 10);
    CHECK_MEM(small, "hello, app", 10);
    /* Server to client: several records, read in pieces smaller than one. */
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7 + 3);
    CHECK_EQ(SSL_write(s.ssl, big, sizeof(big)), sizeof(big));
    exchange(t, &s);
    while ((n = hw_tls_read(t, got + have, have + 5000 > sizeof(got) ? sizeof(got) - have : 5000,
                            NULL)) > 0)
        have += (size_t)n;
    CHECK_EQ(n, 0);
    CHECK_EQ(have, sizeof(big));
    CHECK_MEM(got, big, sizeof(big));
    CHECK(!hw_tls_closed(t));
    /* close_notify: read says 0 from then on, and closed says why. */
    SSL_shutdown(s.ssl);
    exchange(t, &s);
    CHECK_EQ(hw_tls_read(t, small, sizeof(small), NULL), 0);
    CHECK(hw_tls_closed(t));
    CHECK_EQ(hw_tls_read(t, small, sizeof(small), NULL), 0);
    hw_tls_free(t);
    server_cleanup(&s);
}

static void test_trusted_by_ip(void)
{
    struct hw_tls_ctx *x = ctx_for(&ca, 0);
    struct hw_tls *t = hw_tls_new(x, "127.0.0.1");
    struct server s;
    const char *why;

    CHECK(t);
    server_init(&s, &leaf);
    CHECK_EQ(handshake(t, &s, &why), 1);
    /* SNI carries names only. */
    CHECK(SSL_get_servername(s.ssl, TLSEXT_NAMETYPE_host_name) == NULL);
    hw_tls_free(t);
    server_cleanup(&s);
    hw_tls_ctx_free(x);
}

static void test_refusals(void)
{
    struct hw_tls_ctx *x = ctx_for(&ca, 0), *wrong = ctx_for(&other_ca, 0);
    char why[256];

    CHECK_EQ(try_handshake(wrong, "localhost", &leaf, why, sizeof(why)), HW_EAUTH);
    CHECK_STR(why, "certificate verify failed: unable to get local issuer certificate");
    CHECK_EQ(try_handshake(x, "localhost", &self_signed, why, sizeof(why)), HW_EAUTH);
    CHECK_STR(why, "certificate verify failed: self-signed certificate");
    CHECK_EQ(try_handshake(x, "other.test", &leaf, why, sizeof(why)), HW_EAUTH);
    CHECK_STR(why, "certificate verify failed: hostname mismatch");
    CHECK_EQ(try_handshake(x, "127.0.0.2", &leaf, why, sizeof(why)), HW_EAUTH);
    CHECK_STR(why, "certificate verify failed: IP address mismatch");
    CHECK_EQ(try_handshake(x, "::1", &leaf, why, sizeof(why)), HW_EAUTH);
    CHECK_STR(why, "certificate verify failed: IP address mismatch");
    hw_tls_ctx_free(x);
    hw_tls_ctx_free(wrong);
}

static void test_insecure(void)
{
    struct hw_tls_ctx *x = ctx_for(NULL, 1);
    char why[256];

    CHECK_EQ(try_handshake(x, "localhost", &self_signed, why, sizeof(why)), 1);
    CHECK_EQ(try_handshake(x, "other.test", &leaf, why, sizeof(why)), 1);
    CHECK_EQ(try_handshake(x, "127.0.0.2", &leaf, why, sizeof(why)), 1);
    hw_tls_ctx_free(x);
}

static void test_not_tls(void)
{
    static const char answer[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    struct hw_tls_ctx *x = ctx_for(&ca, 0);
    struct hw_tls *t = hw_tls_new(x, "localhost");
    struct hw_buf b;
    const char *why;

    CHECK(t);
    CHECK_EQ(hw_tls_handshake(t, &why), 0);
    hw_buf_init(&b, 1 << 20);
    CHECK_EQ(hw_tls_take(t, &b), 0);
    CHECK(hw_buf_size(&b) > 0); /* the ClientHello */
    hw_buf_cleanup(&b);
    CHECK_EQ(hw_tls_feed(t, answer, sizeof(answer) - 1), 0);
    CHECK_EQ(hw_tls_handshake(t, &why), HW_EIO);
    CHECK_STR(why, "TLS handshake failed: the peer answered in plain HTTP, not TLS");
    hw_tls_free(t);
    /* Anything else that is not TLS: OpenSSL's own reason. */
    t = hw_tls_new(x, "localhost");
    CHECK(t);
    CHECK_EQ(hw_tls_handshake(t, &why), 0);
    CHECK_EQ(hw_tls_feed(t, "SSH-2.0-OpenSSH_9.2\r\n", 21), 0);
    CHECK_EQ(hw_tls_handshake(t, &why), HW_EIO);
    CHECK(why && strncmp(why, "TLS handshake failed: ", 22) == 0 && strlen(why) > 22);
    CHECK(strstr(why, "plain HTTP") == NULL);
    hw_tls_free(t);
    hw_tls_ctx_free(x);
}

static void test_bad_record(void)
{
    struct hw_tls_ctx *x = ctx_for(&ca, 0);
    struct hw_tls *t = hw_tls_new(x, "localhost");
    struct server s;
    uint8_t rec[5 + 64], out[64];
    const char *why = NULL;

    CHECK(t);
    server_init(&s, &leaf);
    CHECK_EQ(handshake(t, &s, &why), 1);
    /* An application-data record whose contents do not decrypt. */
    memset(rec, 0xa5, sizeof(rec));
    memcpy(rec, "\x17\x03\x03\x00\x40", 5);
    CHECK_EQ(hw_tls_feed(t, rec, sizeof(rec)), 0);
    CHECK_EQ(hw_tls_read(t, out, sizeof(out), &why), HW_EPROTO);
    CHECK(why && strncmp(why, "TLS error", 9) == 0);
    hw_tls_free(t);
    server_cleanup(&s);
    hw_tls_ctx_free(x);
}

static void test_backlog_cap(void)
{
    struct hw_tls_ctx *x = ctx_for(NULL, 1);
    struct hw_tls *t = hw_tls_new(x, "localhost");
    static char junk[64 * 1024];
    struct hw_buf small;
    const char *why;

    CHECK(t);
    for (size_t i = 0; i < HW_TLS_RX_BACKLOG_MAX / sizeof(junk); i++)
        CHECK_EQ(hw_tls_feed(t, junk, sizeof(junk)), 0);
    CHECK_EQ(hw_tls_feed(t, junk, 1), HW_E2BIG);
    /* A megabyte of zeros is no ServerHello. */
    CHECK_EQ(hw_tls_handshake(t, &why), HW_EIO);
    hw_tls_free(t);
    t = hw_tls_new(x, "localhost");
    CHECK(t);
    CHECK_EQ(hw_tls_handshake(t, &why), 0);
    /* The ClientHello does not fit a 16-byte buffer: nothing is taken. */
    hw_buf_init(&small, 16);
    CHECK_EQ(hw_tls_take(t, &small), HW_E2BIG);
    CHECK_EQ(hw_buf_size(&small), 0);
    CHECK(hw_tls_pending(t) > 16);
    hw_buf_cleanup(&small);
    hw_tls_free(t);
    hw_tls_ctx_free(x);
}

/* What the pump handed over: each call's size, and the bytes. */
struct sink {
    size_t calls, sizes[16];
    uint8_t data[65536];
    size_t len;
    int stop_at; /* the call (1-based) that returns -7; 0 for none */
};

static int sink_plain(void *user, const uint8_t *p, size_t n)
{
    struct sink *k = user;

    CHECK(k->calls < 16 && k->len + n <= sizeof(k->data));
    k->sizes[k->calls++] = n;
    memcpy(k->data + k->len, p, n);
    k->len += n;
    return k->stop_at && (int)k->calls == k->stop_at ? -7 : 0;
}

/* Moves out to the server, lets it step, and returns what it wrote back in *back. */
static void to_server(struct server *s, struct hw_buf *out, struct hw_buf *back)
{
    char tmp[65536];
    int n;

    if (hw_buf_size(out))
        CHECK_EQ(BIO_write(s->rbio, hw_buf_head(out), (int)hw_buf_size(out)), hw_buf_size(out));
    hw_buf_reset(out);
    if (!SSL_is_init_finished(s->ssl))
        SSL_do_handshake(s->ssl);
    while ((n = BIO_read(s->wbio, tmp, sizeof(tmp))) > 0)
        CHECK_EQ(hw_buf_append(back, tmp, (size_t)n), 0);
}

static void test_pump(void)
{
    struct hw_tls_ctx *x = ctx_for(&ca, 0);
    struct hw_tls *t = hw_tls_new(x, "localhost");
    struct hw_buf out, back;
    struct server s;
    struct sink k;
    uint8_t buf[65536], msg[10000], small[4096], got[32];
    const char *why = "unset";
    int up = 0, ups = 0, steps = 0;

    CHECK(t);
    server_init(&s, &leaf);
    hw_buf_init(&out, 1 << 20);
    hw_buf_init(&back, 1 << 20);
    memset(&k, 0, sizeof(k));
    CHECK_EQ(hw_tls_start(t, &out, &why), 0);
    CHECK(hw_buf_size(&out) > 0);
    while (!hw_tls_ready(t) && steps++ < 10) {
        to_server(&s, &out, &back);
        CHECK_EQ(hw_tls_rx(t, hw_buf_head(&back), hw_buf_size(&back), buf, sizeof(buf), sink_plain,
                           &k, &out, &up, &why),
                 0);
        CHECK(why == NULL);
        hw_buf_reset(&back);
        ups += up;
    }
    CHECK_EQ(ups, 1);
    to_server(&s, &out, &back); /* the client's Finished */
    CHECK(SSL_is_init_finished(s.ssl));
    /* Sealed plaintext reaches the server. */
    CHECK_EQ(hw_tls_send(t, "ping", 4, &out), 0);
    to_server(&s, &out, &back);
    CHECK_EQ(SSL_read(s.ssl, got, sizeof(got)), 4);
    CHECK_MEM(got, "ping", 4);
    /* The server's session tickets carry no data: nothing for the transport. */
    CHECK(hw_buf_size(&back) > 0);
    CHECK_EQ(hw_tls_rx(t, hw_buf_head(&back), hw_buf_size(&back), buf, sizeof(buf), sink_plain, &k,
                       &out, &up, &why),
             0);
    CHECK_EQ(k.calls, 0);
    /* Three records in one read: one call with all of it. */
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 13);
    CHECK_EQ(SSL_write(s.ssl, msg, 4000), 4000);
    CHECK_EQ(SSL_write(s.ssl, msg + 4000, 4000), 4000);
    CHECK_EQ(SSL_write(s.ssl, msg + 8000, 2000), 2000);
    hw_buf_reset(&back);
    to_server(&s, &out, &back);
    k.calls = k.len = 0;
    CHECK_EQ(hw_tls_rx(t, hw_buf_head(&back), hw_buf_size(&back), buf, sizeof(buf), sink_plain, &k,
                       &out, &up, &why),
             0);
    CHECK_EQ(up, 0);
    CHECK_EQ(k.calls, 1);
    CHECK_EQ(k.sizes[0], sizeof(msg));
    CHECK_MEM(k.data, msg, sizeof(msg));
    /* The same with a small buffer: full pieces, then the rest. */
    CHECK_EQ(SSL_write(s.ssl, msg, sizeof(msg)), sizeof(msg));
    hw_buf_reset(&back);
    to_server(&s, &out, &back);
    k.calls = k.len = 0;
    CHECK_EQ(hw_tls_rx(t, hw_buf_head(&back), hw_buf_size(&back), small, sizeof(small), sink_plain,
                       &k, &out, &up, &why),
             0);
    CHECK_EQ(k.calls, 3);
    CHECK_EQ(k.sizes[0], 4096);
    CHECK_EQ(k.sizes[1], 4096);
    CHECK_EQ(k.sizes[2], sizeof(msg) - 8192);
    CHECK_MEM(k.data, msg, sizeof(msg));
    /* The transport stops: its own code comes back, no reason of TLS's. */
    CHECK_EQ(SSL_write(s.ssl, msg, sizeof(msg)), sizeof(msg));
    hw_buf_reset(&back);
    to_server(&s, &out, &back);
    k.calls = k.len = 0;
    k.stop_at = 1;
    CHECK_EQ(hw_tls_rx(t, hw_buf_head(&back), hw_buf_size(&back), small, sizeof(small), sink_plain,
                       &k, &out, &up, &why),
             -7);
    CHECK(why == NULL);
    k.stop_at = 0;
    /* The rest of that read is still buffered; then a good record, then one that fails. */
    k.calls = k.len = 0;
    hw_buf_reset(&back);
    CHECK_EQ(SSL_write(s.ssl, "tail", 4), 4);
    to_server(&s, &out, &back);
    memset(buf, 0xa5, 69);
    memcpy(buf, "\x17\x03\x03\x00\x40", 5);
    CHECK_EQ(hw_buf_append(&back, buf, 69), 0);
    CHECK_EQ(hw_tls_rx(t, hw_buf_head(&back), hw_buf_size(&back), small, sizeof(small), sink_plain,
                       &k, &out, &up, &why),
             HW_EPROTO);
    CHECK(why && strncmp(why, "TLS error", 9) == 0);
    CHECK_EQ(k.len, sizeof(msg) - 4096 + 4);
    CHECK_MEM(k.data + k.len - 4, "tail", 4);
    hw_buf_cleanup(&out);
    hw_buf_cleanup(&back);
    hw_tls_free(t);
    server_cleanup(&s);
    hw_tls_ctx_free(x);
}

static void test_pump_refusals(void)
{
    struct hw_tls_ctx *x = ctx_for(&ca, 0);
    struct hw_tls *t = hw_tls_new(x, "other.test");
    static char junk[64 * 1024];
    struct hw_buf out, back;
    struct server s;
    struct sink k;
    uint8_t buf[4096];
    const char *why = NULL;
    int up = 1, rc = 0;

    CHECK(t);
    server_init(&s, &leaf);
    hw_buf_init(&out, 1 << 20);
    hw_buf_init(&back, 1 << 20);
    memset(&k, 0, sizeof(k));
    CHECK_EQ(hw_tls_start(t, &out, &why), 0);
    for (int i = 0; i < 10 && rc == 0 && !hw_tls_ready(t); i++) {
        hw_buf_reset(&back);
        to_server(&s, &out, &back);
        rc = hw_tls_rx(t, hw_buf_head(&back), hw_buf_size(&back), buf, sizeof(buf), sink_plain, &k,
                       &out, &up, &why);
    }
    CHECK_EQ(rc, HW_EAUTH);
    CHECK_EQ(up, 0);
    CHECK_STR(why, "certificate verify failed: hostname mismatch");
    CHECK_EQ(k.calls, 0);
    hw_tls_free(t);
    server_cleanup(&s);
    /* A peer past the backlog cap. */
    t = hw_tls_new(x, "localhost");
    CHECK(t);
    for (size_t i = 0; i < HW_TLS_RX_BACKLOG_MAX / sizeof(junk); i++)
        CHECK_EQ(hw_tls_feed(t, junk, sizeof(junk)), 0);
    CHECK_EQ(hw_tls_rx(t, junk, 1, buf, sizeof(buf), sink_plain, &k, &out, &up, &why), HW_E2BIG);
    CHECK(why != NULL);
    hw_buf_cleanup(&out);
    hw_buf_cleanup(&back);
    hw_tls_free(t);
    hw_tls_ctx_free(x);
}

static void test_setup_errors(void)
{
    char err[256] = "";
    struct hw_tls_ctx *x = hw_tls_ctx_new("/nonexistent/ca.pem", 0, err, sizeof(err));

    CHECK(x == NULL);
    CHECK_STR(err, "cannot load CA certificates from /nonexistent/ca.pem");
    /* Insecure mode loads nothing, so no file is needed. */
    x = hw_tls_ctx_new("/nonexistent/ca.pem", 1, err, sizeof(err));
    CHECK(x);
    CHECK(hw_tls_new(x, "") == NULL);
    hw_tls_ctx_free(x);
    hw_tls_ctx_free(NULL);
    hw_tls_free(NULL);
}

int main(void)
{
    ca = make_cert("hookwire test CA", NULL, NULL, 1);
    other_ca = make_cert("another CA", NULL, NULL, 1);
    leaf = make_cert("app", "DNS:localhost,IP:127.0.0.1", &ca, 0);
    self_signed = make_cert("localhost", "DNS:localhost,IP:127.0.0.1", NULL, 0);
    RUN(test_trusted_by_name);
    RUN(test_trusted_by_ip);
    RUN(test_refusals);
    RUN(test_insecure);
    RUN(test_not_tls);
    RUN(test_bad_record);
    RUN(test_backlog_cap);
    RUN(test_pump);
    RUN(test_pump_refusals);
    RUN(test_setup_errors);
    free_cert(&ca);
    free_cert(&other_ca);
    free_cert(&leaf);
    free_cert(&self_signed);
    return 0;
}
