/*
 * deliver: one event sent now to any URL, with the request head the
 * receiver builds (receiver/outgoing.c: original lines, Hookwire-* and the
 * signature from the receiver's signing secret), over the shared HTTP
 * client on a private lws context (TLS for https://, verified against
 * --ca-file, the config's deliver-ca-file or the system store). Prints the
 * outcome; the event in the store is not changed. Main thread, which is also the lws service thread
 * here.
 */
#include <libwebsockets.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "core/err.h"
#include "core/opt.h"
#include "core/text.h"
#include "core/url.h"
#include "db.h"
#include "net/http_fetch.h"
#include "net/lwslog.h"
#include "net/tls_client.h"
#include "outgoing.h"
#include "table.h"

#define TIMEOUT_DEFAULT_MS 15000u
#define EXCERPT_MAX        2048u
#define EXCERPT_SHOWN      300u
/* The head the receiver builds is at most the stored header block plus its own lines. */
#define HEAD_SLACK (64u * 1024u)

struct outcome {
    int done;
    int status;
    char fail_text[256]; /* empty when an answer came */
    int64_t duration_us;
    uint64_t body_len;
    char excerpt[EXCERPT_MAX];
    size_t excerpt_len;
};

static void on_done(const struct hw_http_result *res, void *user)
{
    struct outcome *oc = user;

    oc->done = 1;
    oc->status = res->status;
    snprintf(oc->fail_text, sizeof(oc->fail_text), "%s",
             res->fail ? (res->fail_text ? res->fail_text : "failed") : "");
    oc->duration_us = res->duration_us;
    oc->body_len = res->body_len;
    oc->excerpt_len = hw_buf_size(&res->body) < EXCERPT_MAX ? hw_buf_size(&res->body) : EXCERPT_MAX;
    memcpy(oc->excerpt, hw_buf_head(&res->body), oc->excerpt_len);
}

/* The receiver's signer: --signing-secret (a value, env: or file:), else the config's. */
static int load_signer(const struct replay_opts *o, struct hw_signer **signer)
{
    char err[512];
    char *secret = NULL;
    const char *why = "invalid";
    int rc;

    if (o->signing_secret)
        secret = hw_opt_resolve(o->signing_secret, err, sizeof(err));
    else if (o->config)
        secret = replay_config_key(o->config, "signing-secret", err, sizeof(err));
    else {
        replay_fail("deliver: the receiver's signing secret is needed: --signing-secret "
                    "env:NAME, or --config FILE (see hookwire-replay deliver --help)");
        return REPLAY_EXIT_USAGE;
    }
    if (!secret) {
        replay_fail("deliver: signing secret: %s", err);
        return REPLAY_EXIT_USAGE;
    }
    rc = hw_signer_new(secret, signer, &why);
    sodium_memzero(secret, strlen(secret));
    free(secret);
    if (rc < 0) {
        replay_fail("deliver: signing secret: %s", why);
        return REPLAY_EXIT_USAGE;
    }
    return 0;
}

/* Runs the lws loop until the answer (or the client's own deadline, with a margin). */
static int send_one(const struct hw_url *u, struct hw_tls_ctx *tls, const char *method,
                    unsigned timeout_ms, struct hw_buf *msg, struct outcome *oc)
{
    static struct lws_protocols protocols[2];
    struct lws_context_creation_info info;
    struct hw_http_client_opts co = { 5000, timeout_ms };
    struct hw_http_target_opts to;
    struct hw_http_req_opts ro;
    struct hw_http_client *client = NULL;
    struct hw_http_target *t;
    struct lws_context *cx;
    time_t deadline = time(NULL) + (time_t)(timeout_ms / 1000) + 5;
    int err = 0;

    protocols[0] = hw_http_client_protocol;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    hw_lwslog_route();
    cx = lws_create_context(&info);
    if (!cx)
        return HW_ENOMEM;
    client = hw_http_client_new(cx, &co);
    memset(&to, 0, sizeof(to));
    to.address = u->host;
    to.port = u->port;
    to.max_conns = 1;
    to.tls = tls;
    t = client ? hw_http_target_new(client, &to) : NULL;
    memset(&ro, 0, sizeof(ro));
    ro.method = method;
    if (!t || !hw_http_fetch(t, msg, &ro, EXCERPT_MAX, 0, on_done, oc, &err)) {
        err = err ? err : HW_ENOMEM;
        goto done;
    }
    while (!oc->done && time(NULL) < deadline)
        lws_service(cx, 0);
    if (!oc->done)
        err = HW_EUNAVAIL;
done:
    hw_http_client_free(client);
    lws_context_destroy(cx);
    return err;
}

/*
 * The TLS context for an https:// URL: --ca-file, else the config's
 * deliver-ca-file, else the system store. 0 (*x NULL for http://), or
 * REPLAY_EXIT_USAGE after printing why.
 */
static int load_tls(const struct replay_opts *o, const struct hw_url *u, struct hw_tls_ctx **x)
{
    char err[512];
    char *from_config = NULL;

    *x = NULL;
    if (!u->tls)
        return 0;
    /* A config without the key means the system store, as for the receiver. */
    if (!o->ca_file && o->config)
        from_config = replay_config_key(o->config, "deliver-ca-file", err, sizeof(err));
    *x = hw_tls_ctx_new(o->ca_file ? o->ca_file : from_config, 0, err, sizeof(err));
    free(from_config);
    if (!*x) {
        replay_fail("deliver: %s", err);
        return REPLAY_EXIT_USAGE;
    }
    return 0;
}

static int report(const struct hw_store_event *ev, const char *to, const struct outcome *oc)
{
    printf("%s %s -> ", ev->method, to);
    if (oc->status)
        printf("%d", oc->status);
    else
        printf("no answer (%s)", oc->fail_text[0] ? oc->fail_text : "failed");
    printf(" in %lld ms (%s, attempt %d)\n", (long long)(oc->duration_us / 1000), ev->id,
           ev->attempts + 1);
    if (oc->status) {
        size_t n = oc->excerpt_len < EXCERPT_SHOWN ? oc->excerpt_len : EXCERPT_SHOWN;

        printf("answer: %llu byte%s", (unsigned long long)oc->body_len,
               oc->body_len == 1 ? "" : "s");
        if (n) {
            fputs(": ", stdout);
            hw_text_put_clean(stdout, oc->excerpt, n);
            fputs(oc->body_len > n ? "..." : "", stdout);
        }
        putchar('\n');
    }
    return oc->status >= 200 && oc->status <= 299 ? REPLAY_EXIT_OK : REPLAY_EXIT_ERR;
}

int replay_cmd_deliver(const struct replay_cmd *cmd, struct replay_opts *o)
{
    struct hw_store_event *ev = NULL;
    struct hw_signer *signer = NULL;
    struct hw_tls_ctx *tls = NULL;
    struct recv_source src;
    struct recv_outgoing og;
    struct outcome *oc = NULL;
    struct hw_buf msg;
    const char *why;
    int rc = replay_one_id(cmd, o), err;

    if (rc)
        return rc;
    memset(&src, 0, sizeof(src));
    if (!o->to || hw_url_parse(o->to, &src.deliver_url) < 0 ||
        (strcmp(src.deliver_url.scheme, "http") && strcmp(src.deliver_url.scheme, "https"))) {
        replay_fail("deliver: %s (see hookwire-replay deliver --help)",
                    !o->to ? "--to URL is required"
                           : "--to: expected http(s)://HOST[:PORT][/PATH]");
        return REPLAY_EXIT_USAGE;
    }
    /* As the receiver's deliver-to: no credentials, IPv4 or a name. */
    if ((why = recv_outgoing_host_problem(&src.deliver_url))) {
        replay_fail("deliver: --to: %s (see hookwire-replay deliver --help)", why);
        return REPLAY_EXIT_USAGE;
    }
    if ((rc = load_signer(o, &signer)))
        return rc;
    if ((rc = load_tls(o, &src.deliver_url, &tls))) {
        hw_signer_free(signer);
        return rc;
    }
    hw_buf_init(&msg, 0);
    err = hw_store_get(o->st, o->args[0], &ev);
    if (err == HW_ENOTFOUND) {
        replay_fail("deliver: no event %s in %s", o->args[0], hw_store_name(o->st));
        rc = REPLAY_EXIT_ERR;
        goto out;
    }
    if (err) {
        rc = replay_db_fail(o, err, "deliver");
        goto out;
    }
    og.event_id = ev->id;
    og.method = ev->method;
    og.path = ev->path;
    og.query = ev->query;
    og.headers = ev->headers;
    og.headers_len = ev->headers_len;
    og.body = ev->body;
    og.body_len = ev->body_len;
    hw_buf_init(&msg, ev->headers_len + ev->body_len + HEAD_SLACK);
    err = recv_outgoing_head(&src, signer, &og, (unsigned)ev->attempts + 1, (int64_t)time(NULL),
                             &msg);
    err = err ? err : hw_buf_append(&msg, ev->body, ev->body_len);
    if (err) {
        replay_fail("deliver: cannot build the request for %s: %s", ev->id, hw_strerror(err));
        rc = REPLAY_EXIT_ERR;
        goto out;
    }
    oc = calloc(1, sizeof(*oc));
    err = oc ? send_one(&src.deliver_url, tls, ev->method,
                        o->timeout_ms ? o->timeout_ms : TIMEOUT_DEFAULT_MS, &msg, oc)
             : HW_ENOMEM;
    if (err) {
        replay_fail("deliver: %s: %s", o->to, hw_strerror(err));
        rc = REPLAY_EXIT_ERR;
        goto out;
    }
    rc = report(ev, o->to, oc);
out:
    free(oc);
    hw_buf_cleanup(&msg);
    hw_store_event_free(ev);
    hw_signer_free(signer);
    hw_tls_ctx_free(tls);
    return rc;
}
