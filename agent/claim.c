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
#include "http/http1.h"

/* Past the relay's Retry-After, so its liveness probe's deadline has surely passed. */
#define RETRY_MARGIN_MS 300
#define RETRY_MAX_S     10

const char *agent_claim_header(const struct agent *a)
{
    return a->cfg.takeover && !a->was_online ? "Hookwire-Takeover: 1\r\n" : NULL;
}

/* Copies header name's trimmed value from the parsed answer into dst, or "?" when absent. */
static void header(const struct hw_http_head *h, const char *name, char *dst, size_t cap)
{
    const struct hw_http_header *hd = h ? hw_http_find(h, name) : NULL;
    size_t n;
    const char *v = hd ? hw_http_value_trim(hd, &n) : NULL;

    if (v)
        snprintf(dst, cap, "%.*s", (int)n, v);
    else
        snprintf(dst, cap, "?");
}

void agent_claim_on_busy(struct agent *a, const char *answer, size_t len)
{
    char holder[64], since[40], channel[80], retry[16];
    unsigned long secs = 0;
    struct hw_http_head *h = calloc(1, sizeof(*h));

    /* The relay's own answer; one it cannot have sent is reported with "?" fields. */
    if (h && (!answer || hw_http_parse_response(answer, len, "GET", h) <= 0)) {
        free(h);
        h = NULL;
    }
    header(h, "retry-after", retry, sizeof(retry));
    if (retry[0] != '?')
        secs = strtoul(retry, NULL, 10);
    if (secs && !a->busy_retried) {
        /* The relay is pinging the holder: come back once, after its deadline. */
        if (secs > RETRY_MAX_S)
            secs = RETRY_MAX_S;
        a->busy_retried = 1;
        a->retry_after_ms = (unsigned)secs * 1000 + RETRY_MARGIN_MS;
        char d[32];

        HW_INFO("busy channel: the relay is checking that its agent is alive; retrying in %s",
                hw_log_duration(d, sizeof(d), a->retry_after_ms));
        free(h);
        return;
    }
    header(h, "hookwire-holder", holder, sizeof(holder));
    header(h, "hookwire-holder-since", since, sizeof(since));
    header(h, "hookwire-channel", channel, sizeof(channel));
    free(h);
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
