/*
 * Configuration reload on SIGHUP: the [channel NAME] sections (edge
 * verification) and the TLS certificate and key, re-read from the same
 * paths. Everything is checked before anything changes, so a broken file
 * leaves the running configuration in place. Options of the [relay]
 * section other than these need a restart. Service thread.
 */
#include "reload.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "core/err.h"
#include "core/log.h"
#include "edge.h"
#include "relay.h"
#include "tls.h"

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int relay_reload(struct relay *r, int argc, char **argv)
{
    struct relay_config cfg;
    struct relay_edge *edge = relay_edge_new(), *old;
    /* What a reload applies (the files at the same paths), or says of on its own. */
    static const char *const reloaded[] = { "tls-cert", "tls-key", "config", NULL };
    char why[320] = "out of memory", changed[512];
    int rc = HW_ENOMEM;

    memset(&cfg, 0, sizeof(cfg));
    if (!edge || hw_opt_defaults(relay_options, &cfg))
        goto fail;
    /* The file's first error ("file:line: reason") goes into the log line. */
    hw_opt_capture_errors(why, sizeof(why));
    rc = hw_opt_parse_args(relay_options, &cfg, argc, argv, 1, "relay", relay_edge_config, edge);
    hw_opt_capture_errors(NULL, 0);
    if (rc < 0) {
        if (!why[0])
            snprintf(why, sizeof(why), "the configuration has an error");
        rc = HW_ECONFIG;
        goto fail;
    }
    rc = relay_edge_finalize(edge, why, sizeof(why));
    if (rc)
        goto fail;
    if (r->cfg.tls_cert) {
        rc = relay_tls_check(r->cfg.tls_cert, r->cfg.tls_key, why, sizeof(why));
        if (rc)
            goto fail;
    }
    if (!same(cfg.tls_cert, r->cfg.tls_cert) || !same(cfg.tls_key, r->cfg.tls_key))
        HW_WARN("SIGHUP: tls-cert or tls-key names another file: that takes a restart; "
                "re-reading the files at the current paths");
    if (hw_opt_diff(relay_options, &cfg, &r->cfg, reloaded, changed, sizeof(changed)))
        HW_WARN("SIGHUP: changed in the configuration, not applied until a restart: %s", changed);

    /* Valid: apply. Edge checks keep no pointer into the old set past a request's check. */
    old = r->edge;
    r->edge = edge;
    relay_edge_free(old);
    if (r->cfg.tls_cert) {
        /* Every vhost loaded from these paths takes the files again (both ports). */
        lws_tls_cert_updated(r->context, r->cfg.tls_cert, r->cfg.tls_key, NULL, 0, NULL, 0);
    }
    hw_opt_cleanup(relay_options, &cfg);
    r->metrics.reloads_ok++;
    HW_INFO("SIGHUP: configuration reloaded (%s[channel] sections); connected agents stay",
            r->cfg.tls_cert ? "TLS certificate and key, " : "");
    return 0;
fail:
    r->metrics.reloads_failed++;
    HW_ERR("SIGHUP: %s: keeping the running configuration", why);
    relay_edge_free(edge);
    hw_opt_cleanup(relay_options, &cfg);
    return rc;
}
