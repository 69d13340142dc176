/*
 * The receiver's lws context: one raw vhost on the listen address with the
 * HTTP server, the HTTP client's connections and the loop protocol that
 * runs store completions and starts claimed deliveries when another thread
 * wakes the loop; and the operations endpoints. Context set-up on the main
 * thread; everything else on the service thread.
 */
#include "server.h"

#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/listen.h"
#include "db.h"
#include "deliver.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "recv.h"
#include "store/store.h"

/* Woken by the store thread (commits) and the database thread (claims). */
static int loop_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct recv *r = lws_context_user(lws_get_context(wsi));

    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED && r) {
        if (r->store)
            hw_store_poll_completions(r->store);
        if (r->deliver)
            recv_deliver_pump(r->deliver);
    }
    return 0;
}

static struct lws_protocols protocols[4];

int recv_server_start(struct recv *r)
{
    struct lws_context_creation_info info;
    char ip[64], why[512];
    int port;

    if (hw_listen_resolve(r->cfg.listen, "--listen", ip, sizeof(ip), &port, why, sizeof(why))) {
        fprintf(stderr, "%s\n", why);
        return HW_EIO;
    }
    hw_http_server_protocol(r->http, &protocols[0]);
    protocols[1] = (struct lws_protocols){ .name = "hw-recv-loop", .callback = loop_cb };
    protocols[2] = hw_http_client_protocol;
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.user = r;
    info.port = CONTEXT_PORT_NO_LISTEN;
    r->loop = hw_loop_new(&info, &r->context);
    if (!r->loop) {
        fprintf(stderr, "cannot create the event loop\n");
        return HW_EIO;
    }
    memset(&info, 0, sizeof(info));
    info.vhost_name = "receiver";
    info.port = port;
    info.iface = ip[0] ? ip : NULL;
    info.protocols = protocols;
    info.options =
        LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
    info.listen_accept_role = "raw-skt";
    info.listen_accept_protocol = protocols[0].name;
    if (!lws_create_vhost(r->context, &info)) {
        /* lws only says that it failed: find out why, and say it with the option to change. */
        if (hw_listen_probe(r->cfg.listen, "--listen", why, sizeof(why)))
            fprintf(stderr, "%s\n", why);
        else
            fprintf(stderr, "cannot listen on %s\n", r->cfg.listen);
        return HW_EIO;
    }
    return 0;
}

void recv_server_stop(struct recv *r)
{
    hw_loop_free(r->loop, r->context);
    r->loop = NULL;
    r->context = NULL;
}

static int target_is(const struct hw_http_head *h, const char *path)
{
    size_t n = strlen(path);

    return h->target_len >= n && memcmp(h->target, path, n) == 0 &&
           (h->target_len == n || h->target[n] == '?');
}

int recv_server_endpoint(struct recv *r, struct hw_http_conn *c, const struct hw_http_head *h)
{
    static const char text[] = "Content-Type: text/plain\r\n";
    static const char prom[] = "Content-Type: text/plain; version=0.0.4\r\n";
    struct hw_buf body;
    int ready;

    if (!target_is(h, "/healthz") && !target_is(h, "/readyz") && !target_is(h, "/metrics"))
        return 0;
    /* Only read: a POST /healthz must not read as done (as on the relay's tunnel port). */
    if (!((h->method_len == 3 && memcmp(h->method, "GET", 3) == 0) ||
          (h->method_len == 4 && memcmp(h->method, "HEAD", 4) == 0))) {
        hw_http_conn_error(c, HW_ERRC_NOT_FOUND, NULL);
        return 1;
    }
    if (target_is(h, "/healthz")) {
        /* Draining after SIGTERM: a load balancer takes the receiver out before it exits. */
        if (r->draining)
            hw_http_conn_respond(c, 503, NULL, "Retry-After: 1\r\nContent-Type: text/plain\r\n", 42,
                                 "shutting down\n", 14);
        else
            hw_http_conn_respond(c, 200, NULL, text, sizeof(text) - 1, "ok\n", 3);
        return 1;
    }
    if (target_is(h, "/readyz")) {
        ready = !r->draining && recv_db_ready(r->db);
        if (ready)
            hw_http_conn_respond(c, 200, NULL, text, sizeof(text) - 1, "ready\n", 6);
        else
            hw_http_conn_respond(c, 503, NULL, "Retry-After: 1\r\nContent-Type: text/plain\r\n", 42,
                                 r->draining ? "shutting down\n" : "store unavailable\n",
                                 r->draining ? 14 : 18);
        return 1;
    }
    hw_buf_init(&body, 4 * 1024 * 1024);
    /* The service thread's counters, the deliveries in flight, the database thread's figures. */
    if (recv_metrics_render(r, &body) == 0 && recv_deliver_render(r->deliver, &body) == 0 &&
        recv_db_render(r->db, &body) == 0)
        hw_http_conn_respond(c, 200, NULL, prom, sizeof(prom) - 1, hw_buf_head(&body),
                             hw_buf_size(&body));
    else
        hw_http_conn_error(c, HW_ERRC_OVERLOADED, NULL);
    hw_buf_cleanup(&body);
    return 1;
}
