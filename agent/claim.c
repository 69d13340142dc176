/*
 * The agent's handling of channel claims: asks to take the channel over
 * (--takeover, first connection only), reads the relay's 409 HW_CHANNEL_BUSY
 * (holder address and connect time from its headers), retries once when the
 * relay is checking whether the holder is alive, and stops with status 1
 * when the channel stays taken or is taken over. Service thread only.
 */
#include "claim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "core/log.h"

/* Past the relay's Retry-After, so its liveness probe's deadline has surely passed. */
#define RETRY_MARGIN_MS 300
#define RETRY_MAX_S     10

int agent_claim_append_header(struct agent *a, char **p, size_t len)
{
    static const char hdr[] = "Hookwire-Takeover: 1\r\n";

    if (!a->cfg.takeover || a->was_online)
        return 0;
    if (len < sizeof(hdr))
        return -1;
    memcpy(*p, hdr, sizeof(hdr) - 1);
    *p += sizeof(hdr) - 1;
    return 0;
}

/* Copies response header name (lower case, with its colon) into dst, or "?" when absent. */
static void header(struct lws *wsi, const char *name, char *dst, int cap)
{
    if (lws_hdr_custom_copy(wsi, dst, cap, name, (int)strlen(name)) <= 0)
        snprintf(dst, (size_t)cap, "?");
}

void agent_claim_on_busy(struct agent *a, struct lws *wsi)
{
    char holder[64], since[40], channel[80], retry[16];
    unsigned long secs = 0;

    if (lws_hdr_copy(wsi, retry, sizeof(retry), WSI_TOKEN_HTTP_RETRY_AFTER) > 0)
        secs = strtoul(retry, NULL, 10);
    if (secs && !a->busy_retried) {
        /* The relay is pinging the holder: come back once, after its deadline. */
        if (secs > RETRY_MAX_S)
            secs = RETRY_MAX_S;
        a->busy_retried = 1;
        a->retry_after_ms = (unsigned)secs * 1000 + RETRY_MARGIN_MS;
        HW_INFO("busy channel: the relay is checking that its agent is alive; retrying in %u ms",
                a->retry_after_ms);
        return;
    }
    header(wsi, "hookwire-holder:", holder, sizeof(holder));
    header(wsi, "hookwire-holder-since:", since, sizeof(since));
    header(wsi, "hookwire-channel:", channel, sizeof(channel));
    HW_ERR("channel %s is held by another agent at %s (connected since %s): stop it, or start "
           "this one with --takeover to replace it",
           channel, holder, since);
    a->fatal = 1;
    lws_cancel_service(a->context);
}

void agent_claim_on_goaway(struct agent *a, const char *text, size_t len)
{
    static const char prefix[] = "taken over by ";

    if (len < sizeof(prefix) - 1 || memcmp(text, prefix, sizeof(prefix) - 1) != 0)
        return;
    HW_ERR("another agent took this channel over (%.*s): stopping", (int)len, text);
    a->fatal = 1;
    lws_cancel_service(a->context);
}
