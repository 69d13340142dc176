/*
 * Tunnel-port HTTP endpoints and the upgrade gate. Each answer is small and
 * written whole with one lws_write of the raw response bytes. Service
 * thread only.
 */
#include "api.h"

#include <string.h>

#include "buf.h"
#include "err.h"
#include "hwerror.h"
#include "log.h"
#include "relay.h"
#include "tunnel.h"

/* Writes a complete response held in b (after LWS_PRE bytes of headroom). */
static int write_whole(struct lws *wsi, struct hw_buf *b)
{
    int n = lws_write(wsi, (unsigned char *)hw_buf_head(b) + LWS_PRE, hw_buf_size(b) - LWS_PRE,
                      LWS_WRITE_HTTP_HEADERS);

    hw_buf_cleanup(b);
    return n < 0 ? -1 : 0;
}

static void begin(struct hw_buf *b)
{
    hw_buf_init(b, 16 * 1024 * 1024);
    hw_buf_reserve(b, LWS_PRE);
    hw_buf_commit(b, LWS_PRE);
}

static int respond_error(struct lws *wsi, enum hw_errc e)
{
    struct hw_buf b;

    begin(&b);
    if (hw_error_response(&b, e, 0, NULL, 0)) {
        hw_buf_cleanup(&b);
        return -1;
    }
    return write_whole(wsi, &b);
}

static int respond_text(struct lws *wsi, const char *type, const char *body, size_t len)
{
    struct hw_buf b;

    begin(&b);
    if (hw_buf_printf(&b, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                      type, len) ||
        hw_buf_append(&b, body, len)) {
        hw_buf_cleanup(&b);
        return -1;
    }
    return write_whole(wsi, &b);
}

static int on_http(struct lws *wsi, struct relay *r, const char *uri)
{
    int rc;

    if (strcmp(uri, "/healthz") == 0) {
        rc = respond_text(wsi, "text/plain", "ok\n", 3);
    } else if (strcmp(uri, "/metrics") == 0) {
        struct hw_buf m;

        hw_buf_init(&m, 16 * 1024 * 1024);
        rc = relay_metrics_render(r, &m)
                 ? -1
                 : respond_text(wsi, "text/plain; version=0.0.4", hw_buf_head(&m), hw_buf_size(&m));
        hw_buf_cleanup(&m);
    } else {
        rc = respond_error(wsi, HW_ERRC_NOT_FOUND);
    }
    if (rc || lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

/* Lets only /tunnel upgrades with a valid token through. */
static int confirm_upgrade(struct lws *wsi, struct relay *r, const char *kind)
{
    char uri[64], channel[64];
    int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
    int rc;

    if (strcmp(kind, "websocket") != 0 || n != 7 || strcmp(uri, "/tunnel") != 0) {
        respond_error(wsi, HW_ERRC_NOT_FOUND);
        return 1;
    }
    rc = relay_tunnel_authenticate(r, wsi, channel);
    if (rc) {
        char peer[64];

        lws_get_peer_simple(wsi, peer, sizeof(peer));
        HW_WARN("conn=%s tunnel upgrade refused: %s", peer,
                rc == HW_EAUTH ? "missing or invalid token" : hw_strerror(rc));
        r->metrics.agent_rejected++;
        if (rc != HW_EAUTH) {
            /* The store failed, not the agent: a 503 makes it retry instead of giving up. */
            r->metrics.errors[HW_ERRC_STORE_UNAVAILABLE]++;
            respond_error(wsi, HW_ERRC_STORE_UNAVAILABLE);
            return 1;
        }
        r->metrics.errors[HW_ERRC_UNAUTHORIZED]++;
        respond_error(wsi, HW_ERRC_UNAUTHORIZED);
        return 1;
    }
    return 0;
}

static int api_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    struct relay *r = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, r, in);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(wsi, r, in);
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

const struct lws_protocols relay_api_protocol = {
    .name = "http",
    .callback = api_cb,
};
