/*
 * The HTTP server as a whole: its configuration and callbacks, the counts
 * its connections report (open connections, error answers, sheds), the
 * list of readers the limits work on, and the lws protocol that hands each
 * raw-socket event to its connection (http_conn.c). Owns struct
 * hw_http_server. Service thread only.
 */
#include "http_server.h"

#include <stdlib.h>
#include <string.h>

#include "http/limits.h"
#include "http_conn.h"
#include "http_pace.h"

struct hw_http_server {
    struct hw_http_server_config cfg;
    struct hw_http_server_callbacks cb;
    void *user;
    struct hw_http_server_stats stats;
    uint64_t active;                /* open connections not being closed */
    struct hw_http_readers readers; /* connections reading a head or body, oldest first */
    int closing;                    /* hw_http_server_closing() was called */
};

void hw_http_server_config_defaults(struct hw_http_server_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->head_max = HW_HEAD_MAX;
    cfg->max_headers = HW_HEADERS_ACCEPTED;
    cfg->max_body = 25 * 1024 * 1024;
    cfg->max_held = (uint64_t)1 << 30;
    cfg->max_connections = HW_HTTP_SERVER_CONNECTIONS;
    cfg->head_timeout_ms = HW_HEAD_TIMEOUT_MS;
    cfg->idle_timeout_ms = HW_IDLE_TIMEOUT_MS;
    cfg->body_stall_ms = HW_BODY_STALL_MS;
    cfg->body_min_rate = HW_BODY_MIN_RATE;
    cfg->answer_timeout_ms = 10000;
    cfg->answer_stall_ms = 10000;
    cfg->shed_after_ms = HW_SHED_AFTER_MS;
    cfg->timeout_errc = HW_ERRC_LOCAL_TIMEOUT;
}

struct hw_http_server *hw_http_server_new(const struct hw_http_server_config *cfg,
                                          const struct hw_http_server_callbacks *cb, void *user)
{
    struct hw_http_server *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->cb = *cb;
    s->user = user;
    return s;
}

void hw_http_server_free(struct hw_http_server *s)
{
    free(s);
}

void *hw_http_server_user(const struct hw_http_server *s)
{
    return s->user;
}

const struct hw_http_server_config *hw_http_server_cfg(const struct hw_http_server *s)
{
    return &s->cfg;
}

const struct hw_http_server_callbacks *hw_http_server_cb(const struct hw_http_server *s)
{
    return &s->cb;
}

struct hw_http_readers *hw_http_server_readers(struct hw_http_server *s)
{
    return &s->readers;
}

int hw_http_server_opened(struct hw_http_server *s)
{
    s->stats.connections++;
    s->active++;
    return s->active > s->cfg.max_connections;
}

void hw_http_server_leaving(struct hw_http_server *s)
{
    s->active--;
}

void hw_http_server_closed(struct hw_http_server *s)
{
    s->stats.connections--;
}

void hw_http_server_exchange(struct hw_http_server *s, int on)
{
    if (on)
        s->stats.exchanges++;
    else
        s->stats.exchanges--;
}

void hw_http_server_count_error(struct hw_http_server *s, enum hw_errc e)
{
    s->stats.errors[e]++;
}

void hw_http_server_count_shed(struct hw_http_server *s)
{
    s->stats.shed++;
}

void hw_http_server_closing(struct hw_http_server *s)
{
    s->closing = 1;
}

int hw_http_server_is_closing(const struct hw_http_server *s)
{
    return s->closing;
}

const struct hw_http_server_stats *hw_http_server_stats(struct hw_http_server *s)
{
    s->stats.held_bytes = s->readers.held;
    return &s->stats;
}

static int server_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    struct hw_http_conn *c = lws_get_opaque_user_data(wsi);
    const struct lws_protocols *p = lws_get_protocol(wsi);

    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT:
        return p && p->user ? hw_http_conn_adopt(p->user, wsi) : -1;
    case LWS_CALLBACK_RAW_RX:
        return c ? hw_http_conn_rx(c, in, len) : -1;
    case LWS_CALLBACK_RAW_WRITEABLE:
        return c ? hw_http_conn_writeable(c) : 0;
    case LWS_CALLBACK_RAW_CLOSE:
        if (c) {
            lws_set_opaque_user_data(wsi, NULL);
            hw_http_conn_closed(c);
        }
        return 0;
    default:
        return 0;
    }
}

void hw_http_server_protocol(struct hw_http_server *s, struct lws_protocols *p)
{
    memset(p, 0, sizeof(*p));
    p->name = "hw-http";
    p->callback = server_cb;
    p->rx_buffer_size = 65536;
    p->user = s;
}
