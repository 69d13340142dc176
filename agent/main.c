/*
 * hookwire-agent: wires configuration, the forwarder and the tunnel client
 * into one lws context and runs the event loop until SIGINT/SIGTERM (the
 * forwards in flight finish first; a second signal exits at once), or until
 * the relay refuses the token. Main thread.
 */
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "core/log.h"
#include "forward.h"
#include "history.h"
#include "inspect.h"
#include "net/http_client.h"
#include "net/loop.h"
#include "net/lwslog.h"
#include "tunnel.h"
#include "tunnel_ws.h"

static volatile sig_atomic_t stopping;
static struct lws_context *loop_context;

/* 1: finish what is in flight, then exit (tunnel.c); 2: a second signal, exit now. */
static void on_signal(int sig)
{
    stopping = stopping < 2 ? stopping + 1 : 2;
    if (loop_context)
        lws_cancel_service(loop_context);
}

int main(int argc, char **argv)
{
    static struct agent a;
    static struct lws_protocols protocols[3];
    struct hw_loop *loop;
    struct lws_context_creation_info info;
    struct sigaction sa;
    int status = 1, idx;

    hw_log_init("agent");
    if (sodium_init() < 0) {
        fprintf(stderr, "libsodium failed to initialise\n");
        return 1;
    }
    idx = agent_config_load(&a, argc, argv);
    if (idx < argc) {
        /* A history command: one call to the relay's API, no event loop. A relay that
         * closes while the request is written is an error said in words, not a SIGPIPE. */
        signal(SIGPIPE, SIG_IGN);
        status = agent_history_command(&a, argc - idx, argv + idx);
        agent_config_cleanup(&a);
        return status;
    }
    agent_inspect_check(&a);
    if (agent_config_check_relay(&a)) {
        agent_config_cleanup(&a);
        return 1;
    }
    hw_lwslog_route();
    protocols[0] = agent_tunnel_protocol;
    protocols[1] = hw_http_client_protocol;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = &a;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.client_ssl_ca_filepath = a.cfg.ca_file;
    /* lws's own deadline for pending steps is only a backstop: the tunnel's handshake and the
     * HTTP client's connects have their own, shorter ones. */
    info.timeout_secs = 20;
    /* lws caps every read at this buffer (4 KiB by default): 64 KiB takes a tunnel batch or
     * a target's answer in one read instead of many. */
    info.pt_serv_buf_size = 65536 + LWS_PRE;
    loop = hw_loop_new(&info, &a.context);
    if (!loop || agent_forward_init(&a)) {
        fprintf(stderr, "cannot create the event loop\n");
        goto out;
    }
    if (agent_inspect_start(&a)) {
        fprintf(stderr, "cannot start the inspector\n");
        goto out;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    loop_context = a.context;
    agent_tunnel_start(&a);
    /* Each round's tunnel frames go out as it ends, not one poll later (docs/decisions.md). */
    while (!a.fatal && hw_loop_run(loop, 0) == 0) {
        agent_ws_flush(&a);
        if (stopping > 1 || (stopping && agent_tunnel_stopping(&a)))
            break;
    }
    status = a.fatal && !stopping ? 1 : 0;
    HW_INFO("shutting down");
    agent_tunnel_stop(&a);
out:
    loop_context = NULL;
    agent_inspect_stop(&a);
    agent_forward_cleanup(&a);
    hw_loop_free(loop, a.context);
    /* After the context: its close callbacks end the tunnel through the transport's state. */
    agent_ws_free(&a);
    agent_inspect_free(&a);
    agent_config_cleanup(&a);
    return status;
}
