/*
 * hw-store-append: appends test events to a store through hw_store_append
 * (group commit through the store thread when there are many) and prints
 * each new id on stdout, in append order. With --fail or --deliver each is
 * then claimed and given one recorded attempt, so the e2e tests of
 * hookwire-replay get failed and delivered events the way a receiver makes
 * them. Main thread, plus the store's own thread.
 *
 *   hw-store-append --store URL [--count N] [--source S] [--method M]
 *       [--path P] [--query Q] [--headers-file F] [--body-file F]
 *       [--received-ms MS] [--step-ms MS] [--verify 0|1|2]
 *       [--fail HTTP_STATUS] [--deliver]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "store/store.h"

#define FILE_MAX (26u << 20)
#define PAGE     1000

struct run {
    struct hw_store *s;
    int wake[2];
    size_t done, failed;
    char (*ids)[HW_ID_LEN + 1];
};

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (!f)
        return -errno;
    buf = malloc(FILE_MAX + 1);
    n = buf ? fread(buf, 1, FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!buf || n > FILE_MAX) {
        free(buf);
        return buf ? HW_E2BIG : HW_ENOMEM;
    }
    *out = buf;
    *len = n;
    return 0;
}

static void wake(void *arg)
{
    struct run *r = arg;
    char c = 1;

    if (write(r->wake[1], &c, 1) < 0 && errno != EAGAIN)
        abort();
}

static void appended(void *arg, int err, const struct hw_store_result *res)
{
    struct run *r = arg;

    if (err) {
        fprintf(stderr, "hw-store-append: append: %s\n", hw_strerror(err));
        r->failed++;
    } else {
        memcpy(r->ids[r->done], res->id, sizeof(r->ids[0]));
    }
    r->done++;
}

/* Claims the appended events of source and records one attempt on each. */
static int finish(struct hw_store *s, const char *source, size_t count, int status)
{
    struct hw_store_attempt a = { 0 };
    size_t n = 0;

    a.duration_ms = 3;
    a.http_status = status;
    a.error = status >= 200 && status <= 299 ? "" : "backend answered an error";
    a.excerpt = status >= 200 && status <= 299 ? "ok" : "down for maintenance";
    a.excerpt_len = strlen(a.excerpt);
    while (n < count) {
        struct hw_store_events l = { 0 };
        int err = hw_store_claim(s, source, 600000, PAGE, 0, &l);

        if (err || l.n == 0) {
            fprintf(stderr, "hw-store-append: claim: %s\n", err ? hw_strerror(err) : "none due");
            hw_store_events_cleanup(&l);
            return 1;
        }
        for (size_t i = 0; i < l.n && !err; i++) {
            a.at_ms = l.v[i]->received_ms + 5;
            err = hw_store_record_attempt(
                s, l.v[i]->id, l.v[i]->lease, &a,
                status >= 200 && status <= 299 ? HW_STORE_DELIVERED : HW_STORE_FAILED, 0);
        }
        n += l.n;
        hw_store_events_cleanup(&l);
        if (err) {
            fprintf(stderr, "hw-store-append: record: %s\n", hw_strerror(err));
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct hw_store_event ev;
    struct run r;
    const char *url = NULL, *headers_file = NULL, *body_file = NULL;
    char *headers = NULL, *body = NULL;
    size_t count = 1, hlen = 0, blen = 0;
    long long step = 1;
    int fail = 0, deliver = 0, rc = 1;

    memset(&ev, 0, sizeof(ev));
    memset(&r, 0, sizeof(r));
    ev.source = "test";
    ev.method = "POST";
    ev.path = "/hook";
    ev.received_ms = 0;
    for (int i = 1; i + 1 < argc || (i < argc && !strcmp(argv[i], "--deliver")); i += 2) {
        const char *k = argv[i], *v = argv[i + 1];

        if (!strcmp(k, "--deliver")) {
            deliver = 1;
            i--;
        } else if (!strcmp(k, "--store"))
            url = v;
        else if (!strcmp(k, "--count"))
            count = strtoul(v, NULL, 10);
        else if (!strcmp(k, "--source"))
            ev.source = v;
        else if (!strcmp(k, "--method"))
            ev.method = v;
        else if (!strcmp(k, "--path"))
            ev.path = v;
        else if (!strcmp(k, "--query"))
            ev.query = v;
        else if (!strcmp(k, "--headers-file"))
            headers_file = v;
        else if (!strcmp(k, "--body-file"))
            body_file = v;
        else if (!strcmp(k, "--received-ms"))
            ev.received_ms = strtoll(v, NULL, 10);
        else if (!strcmp(k, "--step-ms"))
            step = strtoll(v, NULL, 10);
        else if (!strcmp(k, "--verify"))
            ev.verify = (int)strtol(v, NULL, 10);
        else if (!strcmp(k, "--fail"))
            fail = (int)strtol(v, NULL, 10);
        else {
            fprintf(stderr, "hw-store-append: unknown option %s\n", k);
            return 2;
        }
    }
    if (!url || !count) {
        fprintf(stderr, "hw-store-append: --store URL is required\n");
        return 2;
    }
    if ((headers_file && read_file(headers_file, &headers, &hlen)) ||
        (body_file && read_file(body_file, &body, &blen))) {
        fprintf(stderr, "hw-store-append: cannot read an input file\n");
        goto out;
    }
    ev.headers =
        headers ? headers : "Host: hooks.example.test\r\nContent-Type: application/json\r\n";
    ev.headers_len = headers ? hlen : strlen(ev.headers);
    ev.body = body ? body : "{}";
    ev.body_len = body ? blen : 2;
    r.ids = malloc(count * sizeof(*r.ids));
    if (!r.ids || pipe(r.wake) != 0)
        goto out;
    fcntl(r.wake[0], F_SETFL, O_NONBLOCK);
    fcntl(r.wake[1], F_SETFL, O_NONBLOCK);
    if (hw_store_open(url, &(struct hw_store_opts){ .wake = wake, .wake_arg = &r }, &r.s)) {
        fprintf(stderr, "hw-store-append: cannot open the store\n");
        goto out;
    }
    for (size_t i = 0, sent = 0; r.done < count;) {
        struct pollfd p = { r.wake[0], POLLIN, 0 };
        char buf[64];

        /* Keep a bounded number in flight, so the store's queue never fills. */
        while (sent < count && sent - r.done < 8192) {
            struct hw_store_event e = ev;

            if (ev.received_ms)
                e.received_ms = ev.received_ms + (int64_t)(i * (size_t)step);
            if (hw_store_append_async(r.s, &e, appended, &r) != 0)
                break;
            sent++;
            i++;
        }
        if (poll(&p, 1, 30000) <= 0) {
            fprintf(stderr, "hw-store-append: no completion within 30 s\n");
            goto out;
        }
        while (read(r.wake[0], buf, sizeof(buf)) > 0)
            ;
        hw_store_poll_completions(r.s);
    }
    if (r.failed)
        goto out;
    if ((fail || deliver) && finish(r.s, ev.source, count, deliver ? 200 : fail))
        goto out;
    for (size_t i = 0; i < count; i++)
        printf("%s\n", r.ids[i]);
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    hw_store_close(r.s);
    free(r.ids);
    free(headers);
    free(body);
    return rc;
}
