/*
 * JSON output (json.h): strings escaped for any stored bytes, listed
 * events, the show object and the stats object, one line each. Owns
 * nothing; main thread.
 */
#include "json.h"

#include <string.h>

#include "when.h"

/* Length of the valid UTF-8 sequence at s[0..n), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned cp;

    if (s[0] < 0xc2 || s[0] > 0xf4)
        return 0;
    len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    cp = len == 2 ? (s[0] & 0x1fu) << 6 | (s[1] & 0x3fu)
         : len == 3
             ? (s[0] & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu)
             : (s[0] & 0x07u) << 18 | (s[1] & 0x3fu) << 12 | (s[2] & 0x3fu) << 6 | (s[3] & 0x3fu);
    /* Overlong forms, surrogates and code points past U+10FFFF are not UTF-8. */
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void replay_json_string(FILE *f, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;

    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t len;

        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
            i++;
        } else if (c == '\n') {
            fputs("\\n", f);
            i++;
        } else if (c == '\r') {
            fputs("\\r", f);
            i++;
        } else if (c == '\t') {
            fputs("\\t", f);
            i++;
        } else if (c >= 0x20 && c < 0x7f) {
            fputc(c, f);
            i++;
        } else if (c >= 0x80 && (len = utf8_len(p + i, n - i))) {
            fwrite(p + i, 1, len, f);
            i += len;
        } else {
            fprintf(f, "\\u%04x", c);
            i++;
        }
    }
    fputc('"', f);
}

static void str_field(FILE *f, const char *name, const char *s)
{
    fprintf(f, ",\"%s\":", name);
    replay_json_string(f, s ? s : "", s ? strlen(s) : 0);
}

/* The fields a listed event and the show object share, without braces. */
static void event_fields(FILE *f, const struct hw_store_event *ev)
{
    char when[40];

    replay_when_iso(ev->received_ms, when, sizeof(when));
    fprintf(f, "\"id\":\"%s\",\"seq\":%lld,\"received\":\"%s\",\"received_ms\":%lld", ev->id,
            (long long)ev->seq, when, (long long)ev->received_ms);
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
        replay_json_string(f, p, n);
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
        replay_json_string(f, a->excerpt ? a->excerpt : "", a->excerpt ? a->excerpt_len : 0);
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
        replay_json_string(f, s->source, strlen(s->source));
        fprintf(f, ",\"pending\":%llu,\"delivered\":%llu,\"failed\":%llu}",
                (unsigned long long)s->by_status[HW_STORE_PENDING],
                (unsigned long long)s->by_status[HW_STORE_DELIVERED],
                (unsigned long long)s->by_status[HW_STORE_FAILED]);
    }
    fputs("]}\n", f);
}
