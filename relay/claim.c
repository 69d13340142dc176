/*
 * The channel claim policy at the tunnel's upgrade gate: refuse a second
 * agent while the holder is alive, let "--takeover" through, and replace a
 * holder that stayed silent through a liveness ping. lws 4.1.6 wants the
 * upgrade gate answered at once, so a probe cannot be waited for there: the
 * first refusal carries Retry-After and the agent's one retry gets the
 * verdict. Service thread only.
 */
#include "claim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api.h"
#include "channels.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "http/hwerror.h"
#include "relay.h"
#include "tunnel.h"
#include "tunnel/mux.h"

/* A holder must answer a newcomer's ping within this to keep its channel. */
#define PROBE_MS 2000
/* A holder that answered a probe counts as alive this long after it (no new ping needed). */
#define ALIVE_MS 10000

#define TAKEOVER_HDR "hookwire-takeover:"

void relay_claim_init(struct relay_claim_info *info, struct lws *wsi)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0, fd = (int)lws_get_socket_fd(wsi);

    memset(info, 0, sizeof(*info));
    info->since_ms = hw_wall_ms();
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;

            inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

            inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
            port = ntohs(in6->sin6_port);
        }
    }
    snprintf(info->addr, sizeof(info->addr), "%s:%d", ip, port);
}

/* Whether the upgrade asks to replace the holder ("Hookwire-Takeover: 1"). */
static int wants_takeover(struct lws *wsi)
{
    char v[8];
    int n = lws_hdr_custom_copy(wsi, v, sizeof(v), TAKEOVER_HDR, (int)strlen(TAKEOVER_HDR));

    return n > 0 && strcmp(v, "1") == 0;
}

/* Writes the 409 naming the holder; retry_s > 0 adds Retry-After. 0, or -1. */
static int refuse(struct lws *wsi, const char *channel, const struct relay_claim_info *h,
                  unsigned retry_s)
{
    char extra[320], since[32];
    time_t t = (time_t)(h->since_ms / 1000);
    struct tm tm;
    int n;

    gmtime_r(&t, &tm);
    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
    n = snprintf(extra, sizeof(extra),
                 "Hookwire-Channel: %s\r\nHookwire-Holder: %s\r\nHookwire-Holder-Since: %s\r\n",
                 channel, h->addr, since);
    if (retry_s && n > 0 && (size_t)n < sizeof(extra))
        snprintf(extra + n, sizeof(extra) - (size_t)n, "Retry-After: %u\r\n", retry_s);
    return relay_api_respond_error(wsi, HW_ERRC_CHANNEL_BUSY, extra);
}

int relay_claim_gate(struct relay *r, struct lws *wsi, const char *channel)
{
    struct relay_agent *holder = relay_channels_get(r->channels, channel, strlen(channel));
    struct relay_claim_info *h;
    lws_usec_t now = lws_now_usecs(), last_rx;
    uint64_t stamp = (uint64_t)now;
    unsigned wait_s;

    if (!holder)
        return 0;
    h = relay_agent_claim(holder);
    if (wants_takeover(wsi))
        return 0; /* the holder is told when the newcomer is established */
    last_rx = relay_agent_last_rx(holder);
    if (h->probe_at && last_rx < h->probe_at && now - h->probe_at >= (lws_usec_t)PROBE_MS * 1000) {
        /* Silent through its probe: a sleeping laptop's old tunnel. The newcomer wins. */
        char d[32];

        HW_WARN("conn=%s channel=%s holder did not answer a ping within %s: replacing it", h->addr,
                channel, hw_log_duration(d, sizeof(d), PROBE_MS));
        r->metrics.holders_dropped++;
        relay_agent_goaway(holder, "silent: replaced by a newer connection");
        return 0;
    }
    r->metrics.errors[HW_ERRC_CHANNEL_BUSY]++;
    r->metrics.agent_rejected++;
    if (h->probe_at && last_rx >= h->probe_at && now - h->probe_at < (lws_usec_t)ALIVE_MS * 1000) {
        /* It answered a recent probe: alive, the refusal is final. */
        HW_INFO("channel=%s busy: held by %s; refusing another agent", channel, h->addr);
        return refuse(wsi, channel, h, 0) ? -1 : 1;
    }
    if (!h->probe_at || last_rx >= h->probe_at ||
        now - h->probe_at >= (lws_usec_t)ALIVE_MS * 1000) {
        hw_mux_send_control(relay_agent_mux(holder), HW_FT_PING, &stamp, sizeof(stamp));
        h->probe_at = now;
    }
    /* Come back once the probe's deadline has passed: the verdict is known then. */
    wait_s = (unsigned)((h->probe_at + (lws_usec_t)PROBE_MS * 1000 - now + 999999) / 1000000);
    HW_INFO("channel=%s busy: held by %s; pinging it, newcomer to retry in %u s", channel, h->addr,
            wait_s ? wait_s : 1);
    return refuse(wsi, channel, h, wait_s ? wait_s : 1) ? -1 : 1;
}

void relay_claim_replaced(struct relay_agent *old, const struct relay_claim_info *newcomer)
{
    char reason[96];

    snprintf(reason, sizeof(reason), "taken over by %s", newcomer->addr);
    HW_INFO("conn=%s channel=%s %s (--takeover)", relay_agent_claim(old)->addr,
            relay_agent_channel(old), reason);
    relay_agent_goaway(old, reason);
}
