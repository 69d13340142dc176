/*
 * [source NAME] sections (sources.h): scanning the headers, applying keys to
 * a verifier from common/sig (with a Zoom preset on its generic HMAC), and
 * the cross-key checks. Owns each source and its secrets. Main thread, at
 * startup; read-only afterwards.
 */
#include "sources.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/opt.h"
#include "outgoing.h"

/* Bits of recv_source.given. */
enum {
    GIVEN_PROVIDER = 1u << 0,
    GIVEN_DELIVER_TO = 1u << 1,
    GIVEN_CONCURRENCY = 1u << 2,
    GIVEN_ALLOW = 1u << 3,
};

/* Longest config line the header scan looks at; inih's own limit is lower. */
#define LINE_MAX_SCAN 4096

static void wipe_free(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

const struct recv_source *recv_sources_find(const struct recv_sources *ss, const char *name,
                                            size_t len)
{
    for (const struct recv_source *s = ss->head; s; s = s->next)
        if (strlen(s->name) == len && memcmp(s->name, name, len) == 0)
            return s;
    return NULL;
}

static void trim(char **p)
{
    char *s = *p, *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    *e = '\0';
    *p = s;
}

/* One "[...]" header line: returns 0, or HW_ECONFIG after printing why. */
static int scan_header(struct recv_sources *ss, char *line, int lineno)
{
    char *end = strchr(line, ']'), *name;
    struct recv_source *s;

    if (!end)
        return 0; /* inih reports the syntax error itself */
    *end = '\0';
    name = line + 1;
    trim(&name);
    if (!strcmp(name, "receiver"))
        return 0;
    if (strncmp(name, "source ", 7) != 0) {
        fprintf(stderr, "%s:%d: unknown section [%s] (expected [receiver] or [source NAME])\n",
                ss->path, lineno, name);
        return HW_ECONFIG;
    }
    name += 7;
    if (!hw_text_channel_valid(name, strlen(name))) {
        fprintf(stderr, "%s:%d: [source %s]: invalid source name (a-z, 0-9 and '-', 1 to 63)\n",
                ss->path, lineno, name);
        return HW_ECONFIG;
    }
    if (recv_sources_find(ss, name, strlen(name))) {
        fprintf(stderr, "%s:%d: [source %s]: duplicate source name\n", ss->path, lineno, name);
        return HW_ECONFIG;
    }
    s = calloc(1, sizeof(*s));
    if (!s || !(s->sig = hw_sig_source_new(name))) {
        free(s);
        fprintf(stderr, "%s:%d: out of memory\n", ss->path, lineno);
        return HW_ENOMEM;
    }
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->line = lineno;
    s->concurrency = RECV_CONCURRENCY_DEFAULT;
    s->index = ss->n;
    if (ss->tail)
        ss->tail->next = s;
    else
        ss->head = s;
    ss->tail = s;
    ss->n++;
    return 0;
}

int recv_sources_scan(struct recv_sources *ss, const char *path)
{
    char buf[LINE_MAX_SCAN];
    int lineno = 0, rc = 0, whole = 1;
    FILE *f = fopen(path, "r");

    ss->path = path;
    if (!f) {
        fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
        return HW_ECONFIG;
    }
    while (!rc && fgets(buf, sizeof(buf), f)) {
        char *line = buf;
        /* Only the start of a physical line can be a header. */
        int starts = whole;

        whole = strchr(buf, '\n') != NULL;
        if (!starts)
            continue;
        lineno++;
        trim(&line);
        if (line[0] == '[')
            rc = scan_header(ss, line, lineno);
    }
    fclose(f);
    return rc;
}

/* provider = zoom: Zoom signs "v0:TIMESTAMP:BODY" with HMAC-SHA256 into
 * x-zm-signature: v0=HEX, with the time in x-zm-request-timestamp. */
static int set_zoom(struct hw_sig_source *sig, const char **why)
{
    static const char *const kv[][2] = {
        { "provider", "hmac" },
        { "header", "x-zm-signature" },
        { "prefix", "v0=" },
        { "timestamp-header", "x-zm-request-timestamp" },
        { "signed-content", "v0:{timestamp}:{body}" },
        { "algorithm", "sha256" },
        { "encoding", "hex" },
    };

    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        int rc = hw_sig_source_set(sig, kv[i][0], kv[i][1], why);

        if (rc < 0)
            return rc;
    }
    return 0;
}

static int set_provider(struct recv_source *s, const char *v, char *err, size_t errlen)
{
    const char *why = NULL;
    int rc = 0;

    if (s->given & GIVEN_PROVIDER) {
        snprintf(err, errlen, "[source %s] provider: given twice", s->name);
        return HW_EINVAL;
    }
    s->given |= GIVEN_PROVIDER;
    snprintf(s->provider, sizeof(s->provider), "%s", v);
    if (!strcmp(v, "none")) {
        if (s->nsecrets) {
            snprintf(err, errlen, "[source %s] secret: not used with provider = none", s->name);
            return HW_EINVAL;
        }
        return 0;
    }
    rc = !strcmp(v, "zoom") ? set_zoom(s->sig, &why)
                            : hw_sig_source_set(s->sig, "provider", v, &why);
    if (rc == HW_EINVAL && why && !strncmp(why, "provider: unknown", 17))
        why = "provider: unknown (github, stripe, standard-webhooks, svix, slack, shopify, "
              "twilio, discord, sendgrid, paddle, gitlab, hmac, zoom or none)";
    if (rc < 0) {
        snprintf(err, errlen, "[source %s] %s", s->name, why ? why : hw_strerror(rc));
        return HW_EINVAL;
    }
    s->handshake = recv_handshake_for(v);
    return 0;
}

static int set_key(struct recv_source *s, const char *key, const char *v, char *err, size_t errlen)
{
    const char *why = NULL;
    int rc;

    if (!strcmp(key, "provider") || !strcmp(key, "verify"))
        return set_provider(s, v, err, errlen);
    if (!strcmp(key, "deliver-to")) {
        if ((s->given & GIVEN_DELIVER_TO) || hw_url_parse(v, &s->deliver_url) ||
            (strcmp(s->deliver_url.scheme, "http") && strcmp(s->deliver_url.scheme, "https"))) {
            snprintf(err, errlen, "[source %s] deliver-to: %s", s->name,
                     (s->given & GIVEN_DELIVER_TO) ? "given twice"
                                                   : "expected an http:// or https:// URL");
            return HW_EINVAL;
        }
        why = recv_outgoing_host_problem(&s->deliver_url);
        if (why) {
            snprintf(err, errlen, "[source %s] deliver-to: %s", s->name, why);
            return HW_EINVAL;
        }
        s->given |= GIVEN_DELIVER_TO;
        s->deliver_to = strdup(v);
        return s->deliver_to ? 0 : HW_ENOMEM;
    }
    if (!strcmp(key, "concurrency")) {
        char *end;
        unsigned long n;

        errno = 0;
        n = strtoul(v, &end, 10);
        if (v[0] < '0' || v[0] > '9' || *end || errno || n < 1 || n > RECV_CONCURRENCY_MAX ||
            (s->given & GIVEN_CONCURRENCY)) {
            snprintf(err, errlen, "[source %s] concurrency: expected a number from 1 to %d, once",
                     s->name, RECV_CONCURRENCY_MAX);
            return HW_EINVAL;
        }
        s->given |= GIVEN_CONCURRENCY;
        s->concurrency = (unsigned)n;
        return 0;
    }
    if (!strcmp(key, "allow-unverified")) {
        if ((s->given & GIVEN_ALLOW) || hw_opt_parse_bool(v, &s->allow_unverified)) {
            snprintf(err, errlen, "[source %s] allow-unverified: expected true or false, once",
                     s->name);
            return HW_EINVAL;
        }
        s->given |= GIVEN_ALLOW;
        return 0;
    }
    if (!strcmp(key, "secret") && !strcmp(s->provider, "none")) {
        snprintf(err, errlen, "[source %s] secret: not used with provider = none", s->name);
        return HW_EINVAL;
    }
    rc = hw_sig_source_set(s->sig, key, v, &why);
    if (rc == HW_ENOTFOUND) {
        snprintf(err, errlen, "[source %s]: unknown key \"%s\"", s->name, key);
        return HW_EINVAL;
    }
    if (rc < 0) {
        snprintf(err, errlen, "[source %s] %s", s->name, why ? why : hw_strerror(rc));
        return HW_EINVAL;
    }
    if (!strcmp(key, "public-url"))
        s->has_public_url = 1;
    if (!strcmp(key, "secret") && s->nsecrets++ == 0) {
        /* Zoom's handshake HMACs with the secret itself; keep the first. */
        s->zoom_secret = strdup(v);
        if (!s->zoom_secret)
            return HW_ENOMEM;
    }
    return 0;
}

int recv_sources_key(struct recv_sources *ss, const char *name, const char *key, const char *value,
                     char *err, size_t errlen)
{
    struct recv_source *s = (struct recv_source *)recv_sources_find(ss, name, strlen(name));
    char k[64], *v;
    size_t i;
    int rc;

    if (!s) {
        /* The scan saw every header, so this is a name it refused. */
        snprintf(err, errlen, "[source %s]: invalid source name", name);
        return HW_EINVAL;
    }
    for (i = 0; key[i] && i < sizeof(k) - 1; i++)
        k[i] = key[i] == '_' ? '-' : key[i];
    k[i] = '\0';
    v = hw_opt_resolve(value, err, errlen);
    if (!v)
        return HW_EINVAL;
    rc = set_key(s, k, v, err, errlen);
    wipe_free(v);
    if (rc == HW_ENOMEM)
        snprintf(err, errlen, "out of memory");
    return rc < 0 ? HW_EINVAL : 0;
}

/* Checks one source; returns a static reason or NULL when it is fine. */
static const char *check_source(struct recv_source *s)
{
    const char *why = NULL;

    if (!strcmp(s->provider, "none")) {
        if (!s->allow_unverified)
            return "provider = none accepts unsigned webhooks: it needs allow-unverified = true";
        hw_sig_source_free(s->sig);
        s->sig = NULL;
    } else {
        if (s->given & GIVEN_ALLOW)
            return "allow-unverified: only with provider = none";
        if (hw_sig_source_finalize(s->sig, &why) < 0)
            return why ? why : "invalid";
    }
    if (!(s->given & GIVEN_DELIVER_TO))
        return "deliver-to: missing (the backend URL this source's events go to)";
    if (s->handshake != RECV_HANDSHAKE_ZOOM) {
        wipe_free(s->zoom_secret);
        s->zoom_secret = NULL;
    }
    return NULL;
}

int recv_sources_finalize(struct recv_sources *ss)
{
    for (struct recv_source *s = ss->head; s; s = s->next) {
        const char *why = check_source(s);

        if (why) {
            fprintf(stderr, "%s:%d: [source %s] %s\n", ss->path, s->line, s->name, why);
            return HW_ECONFIG;
        }
    }
    return 0;
}

void recv_sources_cleanup(struct recv_sources *ss)
{
    struct recv_source *s, *next;

    for (s = ss->head; s; s = next) {
        next = s->next;
        hw_sig_source_free(s->sig);
        wipe_free(s->zoom_secret);
        free(s->deliver_to);
        free(s);
    }
    memset(ss, 0, sizeof(*ss));
}
