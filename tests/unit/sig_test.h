#ifndef HW_SIG_TEST_H
#define HW_SIG_TEST_H

/*
 * Helpers shared by the signature tests: a request with editable headers,
 * a source built from key/value pairs, and shorthands for one verification.
 * Header-only (static functions) so each test binary stays one file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "sig/sig.h"

#define HREQ_MAX 16

struct hreq {
    const char *name[HREQ_MAX];
    char val[HREQ_MAX][1024];
    struct hw_http_header h[HREQ_MAX];
    size_t nh;
    struct hw_sig_request req;
};

static inline void hreq_init(struct hreq *r, const void *body, size_t n, int64_t now)
{
    memset(r, 0, sizeof(*r));
    r->req.method = "POST";
    r->req.method_len = 4;
    r->req.body = body;
    r->req.body_len = n;
    r->req.now = now;
}

static inline size_t hreq_find(struct hreq *r, const char *name)
{
    for (size_t i = 0; i < r->nh; i++)
        if (!strcmp(r->name[i], name))
            return i;
    return r->nh;
}

/* Sets (or adds) header name to the formatted value. name must be static. */
__attribute__((format(printf, 3, 4))) static inline void hreq_set(struct hreq *r, const char *name,
                                                                  const char *fmt, ...)
{
    size_t i = hreq_find(r, name);
    va_list ap;

    if (i == r->nh) {
        CHECK(r->nh < HREQ_MAX);
        r->name[r->nh++] = name;
    }
    va_start(ap, fmt);
    CHECK((size_t)vsnprintf(r->val[i], sizeof(r->val[i]), fmt, ap) < sizeof(r->val[i]));
    va_end(ap);
}

/* Adds a second header of name, with the value of the first (which must exist). */
static inline void hreq_repeat(struct hreq *r, const char *name)
{
    size_t i = hreq_find(r, name);

    CHECK(i < r->nh && r->nh < HREQ_MAX);
    r->name[r->nh] = name;
    memcpy(r->val[r->nh], r->val[i], sizeof(r->val[i]));
    r->nh++;
}

static inline void hreq_del(struct hreq *r, const char *name)
{
    size_t i = hreq_find(r, name);

    if (i == r->nh)
        return;
    for (; i + 1 < r->nh; i++) {
        r->name[i] = r->name[i + 1];
        memcpy(r->val[i], r->val[i + 1], sizeof(r->val[i]));
    }
    r->nh--;
}

static inline const char *hreq_get(struct hreq *r, const char *name)
{
    size_t i = hreq_find(r, name);

    return i == r->nh ? NULL : r->val[i];
}

/* Points the request at the current headers; call before each verify. */
static inline const struct hw_sig_request *hreq_done(struct hreq *r)
{
    for (size_t i = 0; i < r->nh; i++) {
        r->h[i].name = r->name[i];
        r->h[i].name_len = strlen(r->name[i]);
        r->h[i].value = r->val[i];
        r->h[i].value_len = strlen(r->val[i]);
    }
    r->req.headers = r->h;
    r->req.nheaders = r->nh;
    return &r->req;
}

/* Builds and finalizes a source from NULL-terminated key, value pairs. */
static inline struct hw_sig_source *source_make(const char *const *kv)
{
    struct hw_sig_source *src = hw_sig_source_new("test");
    const char *why = NULL;

    CHECK(src);
    for (; kv[0]; kv += 2) {
        int rc = hw_sig_source_set(src, kv[0], kv[1], &why);

        if (rc)
            fprintf(stderr, "set %s: %s\n", kv[0], why);
        CHECK_EQ(rc, 0);
    }
    if (hw_sig_source_finalize(src, &why)) {
        fprintf(stderr, "finalize: %s\n", why);
        CHECK(0);
    }
    return src;
}

/* Verifies and returns the reason, checking that the return code agrees. */
static inline enum hw_sig_reason verify_reason(const struct hw_sig_source *src, struct hreq *r,
                                               struct hw_sig_result *res)
{
    int rc = hw_sig_verify(src, hreq_done(r), res);

    CHECK_EQ(rc == 0, res->ok);
    CHECK_EQ(res->ok, res->reason == HW_SIG_OK);
    if (rc)
        CHECK(rc == HW_EAUTH || rc == HW_ENOMEM);
    return res->reason;
}

#define CHECK_REASON(src, r, want)                                             \
    do {                                                                       \
        struct hw_sig_result res_;                                             \
        enum hw_sig_reason got_ = verify_reason((src), (r), &res_);            \
        if (got_ != (want))                                                    \
            fprintf(stderr, "reason %s, wanted %s\n", hw_sig_reason_str(got_), \
                    hw_sig_reason_str(want));                                  \
        CHECK_EQ(got_, (want));                                                \
    } while (0)

#endif
