/*
 * The inspector's server (see inspect.h): address checks, the vhost on the
 * agent's loop, routing of each request to an asset, the event stream or
 * the API (inspect_api.c), the event stream's clients and keep-alive, and
 * the wake-up that brings relay calls back to the loop. Owns struct
 * agent_inspect. Service thread, except agent_inspect_check().
 */
#include "inspect.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "agent.h"
#include "core/err.h"
#include "core/listen.h"
#include "core/log.h"
#include "core/url.h"
#include "inspect_api.h"
#include "inspect_assets.h"
#include "inspect_capture.h"
#include "inspect_json.h"
#include "inspect_relay.h"
#include "net/http_server.h"

#define SSE_MAX 32 /* event-stream clients at once */
/*
 * A stream's bytes its client has not taken (in the agent and the kernel),
 * past which the next event or ping cuts it: a client that does not read
 * cannot keep a slot while events come. A reading one takes them as they go.
 */
#define SSE_UNTAKEN_MAX (64 * 1024)
#define SSE_PING_US                                                                                \
    5000000 /* a comment line keeps idle streams alive (the server cuts an answer silent for 10 s) \
             */
#define RELAY_THREADS 2

struct agent_inspect {
    struct agent *a;
    struct hw_http_server *srv;
    struct lws_vhost *vhost;
    struct agent_relays *relays;
    struct hw_http_conn *sse[SSE_MAX];
    lws_sorted_usec_list_t ping;
    char host[256];
    int port;
    struct lws_protocols protocols[3];
};

/* Whether host (dotted IPv4, "localhost" or an IPv6 literal) is this machine only. */
static int is_loopback(const char *host)
{
    struct in_addr v4;
    struct in6_addr v6;

    if (strcmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

void agent_inspect_check(struct agent *a)
{
    const char *spec = a->cfg.inspect;
    char host[256];
    int port;

    if (!spec || strcmp(spec, "off") == 0)
        return;
    if (hw_hostport_parse(spec, host, sizeof(host), &port) || port <= 0) {
        fprintf(stderr, "--inspect %s: expected HOST:PORT (such as 127.0.0.1:4040) or off\n", spec);
        exit(2);
    }
    if (!a->cfg.inspect_allow_remote && !is_loopback(host[0] ? host : "0.0.0.0")) {
        fprintf(stderr,
                "--inspect %s: not a loopback address; the inspector shows every webhook and "
                "replays them, so serving it beyond this machine needs --inspect-allow-remote\n",
                spec);
        exit(2);
    }
}

void agent_inspect_json(struct hw_http_conn *c, int status, const char *body, size_t len)
{
    static const char h[] = "Content-Type: application/json\r\nCache-Control: no-store\r\n";

    if (hw_http_conn_respond(c, status, NULL, h, sizeof(h) - 1, body, len))
        HW_DEBUG("inspect: the answer could not be queued");
}

void agent_inspect_error(struct hw_http_conn *c, int status, const char *text)
{
    struct hw_buf b;

    hw_buf_init(&b, 4096);
    if (hw_buf_puts(&b, "{\"error\":") || hw_json_str(&b, text, strlen(text), HW_JSON_BYTES) ||
        hw_buf_puts(&b, "}\n"))
        hw_http_conn_error(c, HW_ERRC_OVERLOADED, NULL);
    else
        agent_inspect_json(c, status, hw_buf_head(&b), hw_buf_size(&b));
    hw_buf_cleanup(&b);
}

/* Tells the capture whether any stream is open, so it formats rows only for a listener. */
static void sse_watch(struct agent_inspect *ins)
{
    int any = 0;

    for (size_t i = 0; i < SSE_MAX; i++)
        any |= ins->sse[i] != NULL;
    agent_capture_watch(ins->a->capture, any);
}

/*
 * Queues p on stream i. A stream whose client left more than
 * SSE_UNTAKEN_MAX bytes of earlier events untaken, or that the server cut,
 * loses its slot (and is closed).
 */
static void sse_put(struct agent_inspect *ins, size_t i, const char *p, size_t n)
{
    struct hw_http_conn *c = ins->sse[i];
    struct agent_inspect_conn *ic = hw_http_conn_user(c);

    if (hw_http_conn_untaken(c) <= SSE_UNTAKEN_MAX) {
        if (hw_http_conn_stream_data(c, p, n)) {
            ins->sse[i] = NULL; /* cut: the server closes it */
            ic->sse = 0;
        }
        return;
    }
    ins->sse[i] = NULL;
    ic->sse = 0;
    /* Its one log line: "conn=... event stream not read by its client ... midway: closing". */
    hw_http_conn_stream_abort(c, HW_ERRC_OVERLOADED,
                              "event stream not read by its client (over 64 KiB waiting)");
}

/* One server-sent event to every stream client. */
static void sse_send(struct agent_inspect *ins, const char *event, const char *data, size_t len)
{
    struct hw_buf b;
    int err;

    hw_buf_init(&b, len + 64);
    err = hw_buf_printf(&b, "event: %s\ndata: ", event);
    err = err ? err : hw_buf_append(&b, data, len);
    err = err ? err : hw_buf_append(&b, "\n\n", 2);
    for (size_t i = 0; i < SSE_MAX && !err; i++)
        if (ins->sse[i])
            sse_put(ins, i, hw_buf_head(&b), hw_buf_size(&b));
    hw_buf_cleanup(&b);
    sse_watch(ins);
}

/* A capture row changed: JSON has no newline in it, so it is one data line. */
static void on_capture(void *user, const char *row, size_t len)
{
    sse_send(user, "capture", row, len);
}

static void sse_ping(lws_sorted_usec_list_t *sul)
{
    struct agent_inspect *ins = lws_container_of(sul, struct agent_inspect, ping);
    static const char ping[] = ": ping\n\n";

    for (size_t i = 0; i < SSE_MAX; i++)
        if (ins->sse[i])
            sse_put(ins, i, ping, sizeof(ping) - 1);
    sse_watch(ins);
    lws_sul_schedule(ins->a->context, 0, &ins->ping, sse_ping, SSE_PING_US);
}

static void sse_open(struct agent_inspect *ins, struct hw_http_conn *c)
{
    static const char h[] = "Content-Type: text/event-stream\r\nCache-Control: no-store\r\n";
    static const char hello[] = "retry: 1000\n\n";
    struct hw_http_answer_head ah = {
        .status = 200,
        .reason = "",
        .headers = h,
        .headers_len = sizeof(h) - 1,
        .body_len = HW_HTTP_LEN_UNKNOWN,
    };
    struct agent_inspect_conn *ic = hw_http_conn_user(c);

    for (size_t i = 0; i < SSE_MAX; i++) {
        if (ins->sse[i])
            continue;
        if (hw_http_conn_stream_begin(c, &ah, NULL) ||
            hw_http_conn_stream_data(c, hello, sizeof(hello) - 1)) {
            hw_http_conn_stream_abort(c, HW_ERRC_OVERLOADED, "cannot start the stream");
            return;
        }
        ins->sse[i] = c;
        ic->sse = 1;
        sse_watch(ins);
        return;
    }
    hw_http_conn_error(c, HW_ERRC_OVERLOADED, "Retry-After: 5\r\n");
}

static void sse_forget(struct agent_inspect *ins, struct hw_http_conn *c)
{
    for (size_t i = 0; i < SSE_MAX; i++)
        if (ins->sse[i] == c)
            ins->sse[i] = NULL;
    sse_watch(ins);
}

/* The request's header value, trimmed (borrowed from head), or NULL; *count: its lines. */
static const char *header(const struct hw_http_head *h, const char *name, size_t *n, int *count)
{
    size_t nlen = strlen(name);
    const char *v = NULL;

    *count = 0;
    for (size_t i = 0; i < h->nheaders; i++)
        if (h->headers[i].name_len == nlen && strncasecmp(h->headers[i].name, name, nlen) == 0) {
            if (!v)
                v = hw_http_value_trim(&h->headers[i], n);
            ++*count;
        }
    return v;
}

/*
 * A page on another site can reach a loopback port through the browser
 * (DNS rebinding, or a form posted across sites): only requests that name
 * this server in Host, and in Origin when they have one, are served. A
 * second Host or Origin line could say something else to another reader,
 * so it is refused, not skipped.
 */
static int same_origin(struct agent_inspect *ins, const struct hw_http_head *h)
{
    char want[3][300];
    const char *host, *origin;
    size_t hn, on;
    int ok = 0, hosts, origins;

    if (ins->a->cfg.inspect_allow_remote)
        return 1;
    host = header(h, "host", &hn, &hosts);
    origin = header(h, "origin", &on, &origins);
    if (hosts != 1 || origins > 1)
        return 0;
    snprintf(want[0], sizeof(want[0]), "%s:%d", ins->host, ins->port);
    snprintf(want[1], sizeof(want[1]), "localhost:%d", ins->port);
    snprintf(want[2], sizeof(want[2]), "127.0.0.1:%d", ins->port);
    for (int i = 0; i < 3; i++)
        ok |= hn == strlen(want[i]) && strncasecmp(host, want[i], hn) == 0;
    if (ok && origin)
        ok = on == hn + 7 && strncasecmp(origin, "http://", 7) == 0 &&
             strncasecmp(origin + 7, host, hn) == 0;
    return ok;
}

/*
 * The browser says where a request comes from in Sec-Fetch-Site, also when
 * it sends no Origin: only the inspector's own page ("same-origin") and the
 * user's own navigation ("none") are served, and a link followed from
 * another page (a GET navigation: it shows the page, whose own requests are
 * then same-origin; it reads nothing for the other page). Older browsers
 * send none. page: a GET of the page's files, where that exception applies.
 */
static int same_site_fetch(const struct hw_http_head *h, int page)
{
    size_t n, mn;
    int count, modes;
    const char *v = header(h, "sec-fetch-site", &n, &count);
    const char *mode = header(h, "sec-fetch-mode", &mn, &modes);

    if (!count)
        return 1;
    if (count == 1 && page && modes == 1 && mn == 8 && strncasecmp(mode, "navigate", 8) == 0)
        return 1;
    return count == 1 && ((n == 11 && strncasecmp(v, "same-origin", 11) == 0) ||
                          (n == 4 && strncasecmp(v, "none", 4) == 0));
}

/*
 * Whether the request says its body is JSON: one Content-Type line,
 * application/json with parameters (charset) allowed. A cross-site form
 * cannot send that type, and a cross-site fetch() that does must first
 * pass a CORS preflight, which the inspector never grants.
 */
static int is_json(const struct hw_http_head *h)
{
    size_t n;
    int count;
    const char *v = header(h, "content-type", &n, &count);
    static const char want[] = "application/json";
    size_t w = sizeof(want) - 1;

    if (count != 1 || n < w || strncasecmp(v, want, w) != 0)
        return 0;
    while (w < n && (v[w] == ' ' || v[w] == '\t'))
        w++;
    return w == n || v[w] == ';';
}

/* The page's file at path[0..len) ("/" is index.html), or NULL. */
static const struct agent_asset *find_asset(const char *path, size_t len)
{
    if (len == 1 && path[0] == '/') {
        path = "/index.html";
        len = 11;
    }
    for (const struct agent_asset *as = agent_assets; as->path; as++)
        if (strlen(as->path) == len && memcmp(as->path, path, len) == 0)
            return as;
    return NULL;
}

static void serve_asset(struct hw_http_conn *c, const char *path, size_t len)
{
    const struct agent_asset *as = find_asset(path, len);
    char h[160];
    int n;

    if (!as) {
        agent_inspect_error(c, 404, "no such page");
        return;
    }
    n = snprintf(h, sizeof(h),
                 "Content-Type: %s\r\nCache-Control: no-cache\r\n"
                 "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n",
                 as->type);
    if (hw_http_conn_respond(c, 200, NULL, h, (size_t)n, as->data, as->len))
        HW_DEBUG("inspect: the answer could not be queued");
}

static void on_open(struct hw_http_conn *c)
{
    struct agent_inspect_conn *ic = hw_http_conn_user(c);

    ic->ins = hw_http_server_user(hw_http_conn_server(c));
    ic->agent = ic->ins->a;
}

/* Edited replays carry a body; nothing else the inspector takes needs more. */
static void on_head(struct hw_http_conn *c, const struct hw_http_head *h)
{
    hw_http_conn_set_max_body(c, AGENT_INSPECT_EDIT_MAX);
}

static void on_request(struct hw_http_conn *c, const struct hw_http_request *rq)
{
    struct agent_inspect_conn *ic = hw_http_conn_user(c);
    const struct hw_http_head *h = rq->head;
    const char *t = h->target, *q = memchr(t, '?', h->target_len);
    size_t plen = q ? (size_t)(q - t) : h->target_len;
    int get = h->method_len == 3 && memcmp(h->method, "GET", 3) == 0;
    int head = h->method_len == 4 && memcmp(h->method, "HEAD", 4) == 0;
    int api = plen >= 5 && memcmp(t, "/api/", 5) == 0;

    if (!same_origin(ic->ins, h)) {
        agent_inspect_error(c, 403, "this inspector serves only its own origin (Host, Origin)");
        return;
    }
    /* A navigation from another site may show the page, never read the API. */
    if (!same_site_fetch(h, (get || head) && !api)) {
        agent_inspect_error(c, 403, "this inspector serves only its own page (Sec-Fetch-Site)");
        return;
    }
    /* Anything but reading changes something (a replay): it must come as JSON. */
    if (!get && !head && !is_json(h)) {
        agent_inspect_error(c, 415,
                            "a request that changes something needs "
                            "Content-Type: application/json");
        return;
    }
    if (plen == 11 && memcmp(t, "/api/stream", 11) == 0 && get) {
        sse_open(ic->ins, c);
        return;
    }
    if (api) {
        agent_inspect_api(ic->ins->a, ic->ins->relays, c, rq);
        return;
    }
    if (get || head)
        serve_asset(c, t, plen);
    else if (find_asset(t, plen))
        agent_inspect_error(c, 405, "method not allowed");
    else
        agent_inspect_error(c, 404, "no such page");
}

/* The exchange is no longer this connection's: a relay call's answer is dropped when it comes. */
static void forget(struct hw_http_conn *c)
{
    struct agent_inspect_conn *ic = hw_http_conn_user(c);

    if (ic->job)
        ic->job->user = NULL;
    ic->job = NULL;
    agent_inspect_api_forget(c);
    if (ic->sse)
        sse_forget(ic->ins, c);
    ic->sse = 0;
}

static void on_abort(struct hw_http_conn *c, const char *why)
{
    forget(c);
}

static void on_close(struct hw_http_conn *c)
{
    forget(c);
}

static const struct hw_http_server_callbacks callbacks = {
    .on_open = on_open,
    .on_head = on_head,
    .on_request = on_request,
    .on_abort = on_abort,
    .on_close = on_close,
};

/* Relay threads finished calls: lws_cancel_service() woke the loop for them. */
static int wake_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct agent *a = lws_context_user(lws_get_context(wsi));

    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED && a && a->inspect)
        agent_relays_drain(a->inspect->relays);
    return 0;
}

int agent_inspect_start(struct agent *a)
{
    struct lws_context_creation_info info;
    struct hw_http_server_config cfg;
    struct agent_inspect *ins;
    char ip[64], why[512] = "";
    int rc = HW_ENOMEM;

    if (!a->cfg.inspect || strcmp(a->cfg.inspect, "off") == 0)
        return 0;
    ins = calloc(1, sizeof(*ins));
    if (!ins)
        return HW_ENOMEM;
    ins->a = a;
    if (hw_hostport_parse(a->cfg.inspect, ins->host, sizeof(ins->host), &ins->port))
        goto fail; /* checked at startup */
    /* lws would only log a cryptic bind error, or wait forever for an interface of a name. */
    if (hw_listen_resolve(a->cfg.inspect, "--inspect", ip, sizeof(ip), NULL, why, sizeof(why)) ||
        (!a->cfg.inspect_allow_remote && ip[0] && !is_loopback(ip))) {
        HW_WARN("inspector: %s; running without the inspector (choose another with --inspect "
                "HOST:PORT, or --inspect off)",
                why[0] ? why : "not a loopback address");
        free(ins);
        return 0;
    }
    hw_http_server_config_defaults(&cfg);
    cfg.conn_user_size = sizeof(struct agent_inspect_conn);
    cfg.max_connections = 64;
    /* An edited replay waits for the app's answer (and a relay call for the relay). */
    cfg.answer_timeout_ms = 60000;
    ins->srv = hw_http_server_new(&cfg, &callbacks, ins);
    ins->relays = agent_relays_new(a, RELAY_THREADS);
    a->capture = agent_capture_new(on_capture, ins);
    if (!ins->srv || !ins->relays || !a->capture)
        goto fail;
    hw_http_server_protocol(ins->srv, &ins->protocols[0]);
    ins->protocols[1] = (struct lws_protocols){ .name = "hw-inspect-wake", .callback = wake_cb };
    memset(&info, 0, sizeof(info));
    info.vhost_name = "inspect";
    info.port = ins->port;
    info.iface = ip[0] ? ip : NULL;
    info.protocols = ins->protocols;
    info.options =
        LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
    info.listen_accept_role = "raw-skt";
    info.listen_accept_protocol = ins->protocols[0].name;
    a->inspect = ins;
    ins->vhost = lws_create_vhost(a->context, &info);
    if (!ins->vhost) {
        HW_WARN("inspector: cannot listen on %s; running without the inspector", a->cfg.inspect);
        a->inspect = NULL;
        rc = 0;
        goto fail;
    }
    lws_sul_schedule(a->context, 0, &ins->ping, sse_ping, SSE_PING_US);
    printf("Inspector  http://%s:%d/\n", ins->host[0] ? ins->host : "0.0.0.0", ins->port);
    fflush(stdout);
    return 0;
fail:
    agent_relays_free(ins->relays);
    agent_capture_free(a->capture);
    a->capture = NULL;
    hw_http_server_free(ins->srv);
    free(ins);
    return rc;
}

void agent_inspect_stop(struct agent *a)
{
    if (!a->inspect)
        return;
    lws_sul_cancel(&a->inspect->ping);
    agent_relays_stop(a->inspect->relays);
}

void agent_inspect_free(struct agent *a)
{
    struct agent_inspect *ins = a->inspect;

    if (!ins)
        return;
    agent_relays_free(ins->relays);
    agent_capture_free(a->capture);
    a->capture = NULL;
    hw_http_server_free(ins->srv);
    free(ins);
    a->inspect = NULL;
}
