/*
 * lws context and vhost set-up for the relay. Main thread, at startup and
 * shutdown.
 */
#include "server.h"

#include <stdio.h>
#include <string.h>

#include "api.h"
#include "core/err.h"
#include "core/listen.h"
#include "core/log.h"
#include "ingress.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "relay.h"
#include "tunnel.h"

/* lws takes NULL-terminated arrays; the entries come from the HTTP server, api.c and tunnel.c. */
static struct lws_protocols ingress_list[2];
static struct lws_protocols tunnel_list[3];

static struct lws_vhost *make_vhost(struct relay *r, const char *name, const char *addr,
                                    const struct lws_protocols *protocols, int raw)
{
    const char *option = strcmp(name, "public") == 0 ? "--listen" : "--tunnel-listen";
    struct lws_context_creation_info info;
    char ip[64], why[512];
    int port;
    struct lws_vhost *vh;

    if (hw_listen_resolve(addr, option, ip, sizeof(ip), &port, why, sizeof(why))) {
        fprintf(stderr, "%s\n", why);
        return NULL;
    }
    memset(&info, 0, sizeof(info));
    info.vhost_name = name;
    info.port = port;
    info.iface = ip[0] ? ip : NULL;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    if (r->cfg.tls_cert)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (raw)
        info.options |= LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
    else
        /* Bytes lws cannot take as HTTP (or as TLS on a TLS port: ALLOW_NON_SSL lets lws look
         * at them) go to protocols[0] raw, for the relay's own 400 or a logged close, instead
         * of lws's 403 page or a silent close. */
        info.options |= LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG |
                        (r->cfg.tls_cert ? LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT : 0);
    info.listen_accept_role = "raw-skt";
    info.listen_accept_protocol = protocols[0].name;
    if (r->cfg.tls_cert) {
        info.ssl_cert_filepath = r->cfg.tls_cert;
        info.ssl_private_key_filepath = r->cfg.tls_key;
        /* Both ports speak HTTP/1.1 only: never let a client pick h2 by ALPN. */
        info.alpn = "http/1.1";
    }
    vh = lws_create_vhost(r->context, &info);
    if (!vh) {
        /* lws only says that it failed: find out why, and say it with the option to change. */
        if (hw_listen_probe(addr, option, why, sizeof(why)))
            fprintf(stderr, "%s\n", why);
        else
            fprintf(stderr, "cannot listen on %s (%s)%s\n", addr, name,
                    r->cfg.tls_cert ? ": check --tls-cert and --tls-key" : "");
    }
    return vh;
}

int relay_server_start(struct relay *r)
{
    struct lws_context_creation_info info;

    hw_http_server_protocol(r->ingress, &ingress_list[0]);
    tunnel_list[0] = relay_api_protocol;
    tunnel_list[1] = relay_tunnel_protocol;
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (r->cfg.tls_cert)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.user = r;
    info.port = CONTEXT_PORT_NO_LISTEN;
    /* lws caps every read at this buffer (4 KiB by default): 64 KiB takes a request body or
     * a tunnel batch in one read instead of many. */
    info.pt_serv_buf_size = 65536 + LWS_PRE;
    r->loop = hw_loop_new(&info, &r->context);
    if (!r->loop) {
        fprintf(stderr, "cannot create the event loop\n");
        return HW_EIO;
    }
    r->public_vhost = make_vhost(r, "public", r->cfg.listen, ingress_list, 1);
    if (!r->public_vhost)
        return HW_EIO;
    r->tunnel_vhost = make_vhost(r, "tunnel", r->cfg.tunnel_listen, tunnel_list, 0);
    if (!r->tunnel_vhost)
        return HW_EIO;
    return 0;
}

void relay_server_stop(struct relay *r)
{
    hw_loop_free(r->loop, r->context);
    r->loop = NULL;
    r->context = NULL;
}
