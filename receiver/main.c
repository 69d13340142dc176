/*
 * hookwire-receiver: wires the configuration, the event store (async
 * appends on the service thread, a second handle on the database thread),
 * the HTTP server and client and the delivery worker into one lws context,
 * runs the loop until SIGTERM/SIGINT and drains; or validates a
 * configuration with --check-config. Main thread.
 */
#include <mysql.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "core/err.h"
#include "core/listen.h"
#include "core/log.h"
#include "db.h"
#include "deliver.h"
#include "ingest.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "net/lwslog.h"
#include "net/version.h"
#include "recv.h"
#include "server.h"
#include "store/store.h"

/* After SIGTERM: how long acknowledgements and deliveries in flight may take to finish. */
#define DRAIN_MS 5000
/* Descriptors besides the senders' and the deliveries': listener, store files, logs, lws. */
#define FD_RESERVE 64
/* The fewest sender connections a receiver runs with. */
#define FD_SENDERS_MIN 16
/* After the drain, how long the 503s of senders whose appends the store never answered may take. */
#define ANSWER_FLUSH_MS 1000
/*
 * After the drain, how long the exit's store calls (commits still in
 * flight, lease releases) may wait for a SQLite file another process has
 * locked, all of them together (hw_store_stopping()).
 */
#define EXIT_LOCK_WAIT_MS 1000

static volatile sig_atomic_t stopping, hangups;
static struct lws_context *loop_context;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        hangups = 1;
    else
        stopping = 1;
    if (loop_context)
        lws_cancel_service(loop_context);
}

static void print_summary(const struct recv_config *cfg)
{
    char store[1024];

    hw_store_url_masked(cfg->store, store, sizeof(store));
    printf("config ok: listen %s, store %s, webhooks at %s/SOURCE, %u delivery attempts, %zu "
           "source%s\n",
           cfg->listen, store, cfg->path_prefix, recv_schedule_attempts(&cfg->schedule),
           cfg->sources.n, cfg->sources.n == 1 ? "" : "s");
    for (const struct recv_source *s = cfg->sources.head; s; s = s->next)
        printf("source %s: provider %s, %zu secret%s, deliver to %s, concurrency %u%s\n", s->name,
               s->provider, s->nsecrets, s->nsecrets == 1 ? "" : "s", s->deliver_to, s->concurrency,
               s->handshake ? ", handshake answered here" : "");
}

/* Called on the store thread after commits: the loop polls the completions. */
static void store_wake(void *arg)
{
    struct recv *r = arg;

    if (r->context)
        lws_cancel_service(r->context);
}

/*
 * Each connection is a descriptor: lifts the soft limit before lws sizes its
 * tables, then fits the server's connection cap under it, beside what the
 * deliveries (each source's concurrency), the store and the listener hold,
 * so that the cap is reached, and a quiet connection shed for a new one,
 * before accept() runs out of descriptors. Returns -1 (said on stderr) when
 * the limit leaves no room for senders.
 */
static int fit_fd_limit(struct recv *r)
{
    unsigned long long others = FD_RESERVE + (unsigned long long)r->cfg.store_writers, room;
    unsigned long long limit = hw_listen_fd_limit();

    r->max_connections = HW_HTTP_SERVER_CONNECTIONS;
    for (const struct recv_source *s = r->cfg.sources.head; s; s = s->next)
        others += s->concurrency;
    if (!limit || limit >= others + r->max_connections)
        return 0;
    /* One more than the cap: a connection past it is accepted before a quiet one is shed. */
    room = limit > others + 1 ? limit - others - 1 : 0;
    if (room < FD_SENDERS_MIN) {
        fprintf(stderr,
                "open files limit %llu is too low: the deliveries, the store and the listener "
                "take %llu; raise it to at least %llu (ulimit -n, LimitNOFILE=)\n",
                limit, others, others + FD_SENDERS_MIN);
        return -1;
    }
    r->max_connections = (unsigned)room;
    HW_WARN("open files limit %llu cannot hold %u sender connections beside the %llu the "
            "deliveries, the store and the listener take: the cap is %u (past it a quiet "
            "connection is closed for a new one); raise the limit (ulimit -n, LimitNOFILE=)",
            limit, HW_HTTP_SERVER_CONNECTIONS, others, r->max_connections);
    return 0;
}

/*
 * SIGTERM: new webhooks get 503 (the provider retries elsewhere or later),
 * and so do those whose body is still arriving, once it is in (the server
 * counts them as exchanges under way),
 * nothing new is claimed, events queued for a delivery slot go back unsent
 * (the recorder releases their leases meanwhile), and the loop keeps
 * running until every append in flight has committed and its answer has
 * been written to the sender (an answer is queued when the commit
 * completes and written at the end of the round: leaving at once would
 * drop it), and every delivery in flight has its answer, or DRAIN_MS
 * passes. Deliveries cut at the deadline record no attempt: main() frees
 * the client, and their leases are released with the last batch, so
 * another instance (or the next start) sends them at once.
 */
static void drain(struct recv *r)
{
    int64_t deadline = recv_now_us() + (int64_t)DRAIN_MS * 1000;

    r->draining = 1;
    hw_http_server_closing(r->http); /* a kept-alive sender must not send into the close */
    recv_db_stop_claiming(r->db);
    /* Claimed events still queued for a delivery slot go back unsent. */
    recv_deliver_pump(r->deliver);
    hw_loop_kick(r->context); /* arms the timers the pump scheduled outside lws's callbacks */
    for (int64_t now = recv_now_us(); now < deadline; now = recv_now_us()) {
        if (!r->acks && !recv_deliver_inflight(r->deliver) &&
            !hw_http_server_stats(r->http)->exchanges)
            break;
        if (hw_loop_run(r->loop, deadline - now) < 0)
            break;
    }
    if (r->acks) {
        /* Their senders get 503 rather than a connection closed unanswered at exit. */
        recv_ingest_give_up(r);
        hw_loop_kick(r->context); /* arms the answers' writes, scheduled outside lws's callbacks */
        deadline = recv_now_us() + (int64_t)ANSWER_FLUSH_MS * 1000;
        for (int64_t now = recv_now_us(); now < deadline; now = recv_now_us()) {
            if (!hw_http_server_stats(r->http)->exchanges ||
                hw_loop_run(r->loop, deadline - now) < 0)
                break;
        }
    }
}

static int serve(struct recv *r)
{
    struct sigaction sa;
    int rc;

    hw_lwslog_route();
    if (fit_fd_limit(r))
        return 1;
    rc = hw_store_open(r->cfg.store,
                       &(struct hw_store_opts){
                           .wake = store_wake, .wake_arg = r, .writers = r->cfg.store_writers },
                       &r->store);
    if (rc < 0) {
        fprintf(stderr, "--store: cannot open the store: %s\n", hw_strerror(rc));
        return 1;
    }
    r->http = recv_ingest_new(r);
    if (!r->http || recv_server_start(r))
        return 1;
    r->client = hw_http_client_new(
        r->context, &(struct hw_http_client_opts){ .timeout_ms = r->cfg.deliver_timeout_ms });
    r->deliver = r->client ? recv_deliver_new(r) : NULL;
    if (!r->deliver)
        return 1;
    rc = recv_db_start(&r->cfg, r->context, &r->db);
    if (rc < 0) {
        fprintf(stderr, "--store: cannot open the delivery handle: %s\n", hw_strerror(rc));
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    loop_context = r->context;
    HW_INFO("listening on %s: webhooks at %s/SOURCE, %zu source%s, store %s (%u writer%s)",
            r->cfg.listen, r->cfg.path_prefix, r->cfg.sources.n, r->cfg.sources.n == 1 ? "" : "s",
            hw_store_name(r->store), hw_store_writers(r->store),
            hw_store_writers(r->store) == 1 ? "" : "s");
    while (!stopping && hw_loop_run(r->loop, 0) == 0) {
        if (hangups) {
            /* systemctl reload, or a log rotation's HUP: neither may end the receiver. */
            hangups = 0;
            HW_WARN("SIGHUP: the receiver does not reload its configuration (restart it to "
                    "apply a change); running on");
        }
    }
    HW_INFO("shutting down");
    drain(r);
    return 0;
}

/*
 * Nothing is served from here on: a new connection is refused at once (a
 * proxy tries another upstream), not accepted and left unanswered while the
 * store closes, which waits as long as the database does.
 */
static void stop_listening(const struct recv_config *cfg)
{
    if (hw_listen_stop(cfg->listen) > 0)
        HW_INFO("stopped listening on %s: new connections are refused while the store closes",
                cfg->listen);
}

int main(int argc, char **argv)
{
    static struct recv r;
    int status;

    hw_log_init("receiver");
    if (sodium_init() < 0) {
        fprintf(stderr, "libsodium failed to initialise\n");
        return 1;
    }
    /* Before the options: --version needs no configuration. */
    for (int i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            char line[512], more[128];

            snprintf(more, sizeof(more), "SQLite %s, MariaDB client %s", sqlite3_libversion(),
                     mysql_get_client_info());
            printf("%s\n", hw_version_line(line, sizeof(line), "hookwire-receiver", more));
            return 0;
        }
    }
    recv_config_load(&r.cfg, argc, argv);
    if (r.cfg.check_only) {
        print_summary(&r.cfg);
        recv_config_cleanup(&r.cfg);
        return 0;
    }
    status = serve(&r);
    loop_context = NULL;
    /* The drain is over: what the exit still asks of a locked SQLite file waits 1 s in all. */
    hw_store_stopping(EXIT_LOCK_WAIT_MS);
    if (status == 0)
        stop_listening(&r.cfg);
    /* Deliveries still in flight end as cancelled, handed to the database threads to release. */
    hw_http_client_free(r.client);
    r.client = NULL;
    /*
     * Appends still queued commit here; their answers have nowhere to go.
     * Before the database threads stop: a commit's callback reaches them
     * (an event leased at its append goes back unsent and its lease is
     * released with the rest).
     */
    hw_store_close(r.store);
    r.store = NULL;
    recv_db_stop(r.db);
    r.db = NULL;
    recv_deliver_free(r.deliver);
    r.deliver = NULL;
    recv_server_stop(&r);
    hw_http_server_free(r.http);
    recv_config_cleanup(&r.cfg);
    return status;
}
