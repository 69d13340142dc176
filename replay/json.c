/*
 * JSON output (json.h): listed events, the show object and the stats
 * object, one line each; strings through core/json.h (HW_JSON_TEXT).
 * Owns nothing; main thread.
 */
#include "json.h"

#include <string.h>

#include "core/json.h"
#include "when.h"

static void str_field(FILE *f, const char *name, const char *s)
{
    fprintf(f, ",\"%s\":", name);
    hw_json_fput(f, s ? s : "", s ? strlen(s) : 0, HW_JSON_TEXT);
}

/* The fields a listed event and the show object share, without braces. */
static void event_fields(FILE *f, const struct hw_store_event *ev)
{
    char when[40];

    replay_when_iso(ev->received_ms, when, sizeof(when));
    /* The id as a string like the rest: a store written by something else may hold anything. */
    fputs("\"id\":", f);
    hw_json_fput(f, ev->id, strlen(ev->id), HW_JSON_TEXT);
    fprintf(f, ",\"seq\":%lld,\"received\":\"%s\",\"received_ms\":%lld", (long long)ev->seq, when,
            (long long)ev->received_ms);
    str_field(f, "source", ev->source);
    str_field(f, "method", ev->method);
    str_field(f, "path", ev->path);
    str_field(f, "query", ev->query);
    fprintf(f, ",\"status\":\"%s\",\"attempts\":%d,\"last_status\":%d",
            hw_store_status_name(ev->status), ev->attempts, ev->last_status);
    str_field(f, "last_error", ev->last_error);
    fprintf(f, ",\"next_attempt_ms\":%lld,\"verify\":\"%s\",\"headers_len\":%zu,\"body_len\":%zu",
            (long long)ev->next_attempt_ms,
            ev->verify == HW_STORE_VERIFIED        ? "verified"
            : ev->verify == HW_STORE_VERIFY_FAILED ? "failed"
                                                   : "unverified",
            ev->headers_len, ev->body_len);
    str_field(f, "dedup_key", ev->dedup_key);
}

void replay_json_event(FILE *f, const struct hw_store_event *ev)
{
    fputc('{', f);
    event_fields(f, ev);
    fputs("}\n", f);
}

void replay_json_show(FILE *f, const struct hw_store_event *ev, const struct hw_store_attempts *at)
{
    const char *p = ev->headers, *end = p ? p + ev->headers_len : p;
    int first = 1;

    fputc('{', f);
    event_fields(f, ev);
    fputs(",\"body_sha256\":\"", f);
    for (int i = 0; i < HW_STORE_SHA256_LEN; i++)
        fprintf(f, "%02x", ev->body_sha256[i]);
    fputs("\",\"headers\":[", f);
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);

        if (n && p[n - 1] == '\r')
            n--;
        fputs(first ? "" : ",", f);
        hw_json_fput(f, p, n, HW_JSON_TEXT);
        first = 0;
        p = eol ? eol + 1 : end;
    }
    fputs("],\"attempts_list\":[", f);
    for (size_t i = 0; i < at->n; i++) {
        const struct hw_store_attempt *a = at->v[i];

        fprintf(f, "%s{\"at_ms\":%lld,\"duration_ms\":%d,\"http_status\":%d", i ? "," : "",
                (long long)a->at_ms, a->duration_ms, a->http_status);
        str_field(f, "error", a->error);
        fputs(",\"excerpt\":", f);
        hw_json_fput(f, a->excerpt ? a->excerpt : "", a->excerpt ? a->excerpt_len : 0,
                     HW_JSON_TEXT);
        fputc('}', f);
    }
    fputs("]}\n", f);
}

void replay_json_summary(FILE *f, const struct hw_store_summary *sum, int schema)
{
    fprintf(f,
            "{\"schema_version\":%d,\"pending\":%llu,\"delivered\":%llu,\"failed\":%llu,"
            "\"oldest_pending_ms\":%lld,\"failed_last_hour\":%llu,\"delivered_last_hour\":%llu,"
            "\"latency_ms\":{\"p50\":%d,\"p90\":%d,\"p99\":%d},\"sources\":[",
            schema, (unsigned long long)sum->by_status[HW_STORE_PENDING],
            (unsigned long long)sum->by_status[HW_STORE_DELIVERED],
            (unsigned long long)sum->by_status[HW_STORE_FAILED], (long long)sum->oldest_pending_ms,
            (unsigned long long)sum->failed_last_hour, (unsigned long long)sum->delivered_last_hour,
            sum->latency_p50_ms, sum->latency_p90_ms, sum->latency_p99_ms);
    for (size_t i = 0; i < sum->nsources; i++) {
        const struct hw_store_source_counts *s = &sum->sources[i];

        fputs(i ? ",{\"source\":" : "{\"source\":", f);
        hw_json_fput(f, s->source, strlen(s->source), HW_JSON_TEXT);
        fprintf(f, ",\"pending\":%llu,\"delivered\":%llu,\"failed\":%llu}",
                (unsigned long long)s->by_status[HW_STORE_PENDING],
                (unsigned long long)s->by_status[HW_STORE_DELIVERED],
                (unsigned long long)s->by_status[HW_STORE_FAILED]);
    }
    fputs("]}\n", f);
}
