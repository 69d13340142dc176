/*
 * Building a source: every key, every startup error a user can make (with
 * the text they will see), keys the caller owns, secret wiping, tolerance,
 * reason strings, and concurrent verification on one source from several
 * threads.
 */
#include <openssl/hmac.h>
#include <pthread.h>

#include "sig/sig_source.h"
#include "sig_test.h"

/* Applies pairs until one fails; returns that code and leaves *why set. */
static int apply(struct hw_sig_source *src, const char *const *kv, const char **why)
{
    int rc = 0;

    for (; kv[0] && !rc; kv += 2)
        rc = hw_sig_source_set(src, kv[0], kv[1], why);
    return rc;
}

/* Expects the pairs to be accepted and finalize to fail with text starting with want. */
static void expect_finalize_error(const char *const *kv, const char *want)
{
    struct hw_sig_source *src = hw_sig_source_new("bad");
    const char *why = NULL;

    CHECK_EQ(apply(src, kv, &why), 0);
    CHECK_EQ(hw_sig_source_finalize(src, &why), HW_ECONFIG);
    CHECK(why && !strncmp(why, want, strlen(want)));
    hw_sig_source_free(src);
}

/* Expects the last pair to be refused with HW_EINVAL and text starting with want. */
static void expect_set_error(const char *const *kv, const char *want)
{
    struct hw_sig_source *src = hw_sig_source_new("bad");
    const char *why = NULL;

    CHECK_EQ(apply(src, kv, &why), HW_EINVAL);
    if (strncmp(why, want, strlen(want)))
        fprintf(stderr, "why: %s\n", why);
    CHECK(!strncmp(why, want, strlen(want)));
    hw_sig_source_free(src);
}

static void test_unknown_keys_are_the_callers(void)
{
    struct hw_sig_source *src = hw_sig_source_new("alice");
    const char *why = NULL;

    CHECK_EQ(hw_sig_source_set(src, "verify", "github", &why), 0);
    CHECK_EQ(hw_sig_source_set(src, "enforce", "false", &why), HW_ENOTFOUND);
    CHECK_STR(why, "unknown key");
    CHECK_EQ(hw_sig_source_set(src, "secret", "s", NULL), 0);
    CHECK_EQ(hw_sig_source_finalize(src, NULL), 0);
    CHECK_STR(hw_sig_source_name(src), "alice");
    CHECK_STR(hw_sig_source_provider(src), "github");
    hw_sig_source_free(src);
    hw_sig_source_free(NULL);
}

static void test_set_errors(void)
{
    static const char *const twice[] = { "provider", "github", "verify", "github", NULL };
    static const char *const tol_twice[] = { "tolerance", "10", "tolerance", "10", NULL };
    static const char *const unknown[] = { "provider", "githib", NULL };
    static const char *const tol0[] = { "tolerance", "0", NULL };
    static const char *const tol_big[] = { "tolerance", "86401", NULL };
    static const char *const tol_unit[] = { "tolerance", "30s", NULL };
    static const char *const empty[] = { "provider", "github", "secret", "", NULL };
    static const char *const whsec[] = { "provider", "standard-webhooks", "secret",
                                         "whsec_not*base64", NULL };
    static const char *const whsk[] = { "provider", "svix", "secret", "whsk_AAAA", NULL };
    static const char *const whpk[] = { "provider", "standard-webhooks", "secret", "whpk_AAAA",
                                        NULL };
    static const char *const discord[] = { "provider", "discord", "secret", "abcd", NULL };
    static const char *const sendgrid[] = { "provider", "sendgrid", "secret", "@@@", NULL };
    /* A valid SubjectPublicKeyInfo, but Ed25519 (RFC 8410 example), not P-256. */
    static const char *const sendgrid_curve[] = {
        "provider", "sendgrid", "secret",
        "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=", NULL
    };
    /* The provider comes after the secret: the error surfaces on the provider line. */
    static const char *const late[] = { "secret", "abcd", "provider", "discord", NULL };
    static const char *const late_enc[] = { "provider",        "hmac", "secret", "xyz",
                                            "secret-encoding", "hex",  NULL };
    static const char *const url[] = { "provider", "twilio", "public-url", "ftp://x", NULL };
    static const char *const hdr[] = { "provider", "hmac", "header", "X Sig", NULL };
    static const char *const alg[] = { "provider", "hmac", "algorithm", "md5", NULL };
    static const char *const enc[] = { "provider", "hmac", "encoding", "base32", NULL };
    static const char *const bool_[] = { "provider", "github", "legacy-sha1", "maybe", NULL };

    expect_set_error(twice, "key given twice");
    expect_set_error(tol_twice, "key given twice");
    expect_set_error(unknown, "provider: unknown");
    expect_set_error(tol0, "tolerance:");
    expect_set_error(tol_big, "tolerance:");
    expect_set_error(tol_unit, "tolerance:");
    expect_set_error(empty, "secret: empty");
    expect_set_error(whsec, "secret: not a whsec_");
    expect_set_error(whsk, "secret: whsk_ is a private signing key");
    expect_set_error(whpk, "secret: whpk_ value is not a base64 Ed25519");
    expect_set_error(discord, "secret: Discord public key must be 64 hex digits");
    expect_set_error(sendgrid, "secret: SendGrid verification key is not base64");
    expect_set_error(sendgrid_curve, "secret: SendGrid verification key is not an ECDSA P-256");
    expect_set_error(late, "secret: Discord public key");
    expect_set_error(late_enc, "secret: not valid hex");
    expect_set_error(url, "public-url:");
    expect_set_error(hdr, "header: not a header name");
    expect_set_error(alg, "algorithm:");
    expect_set_error(enc, "encoding:");
    expect_set_error(bool_, "legacy-sha1:");
}

static void test_too_many_secrets(void)
{
    struct hw_sig_source *src = hw_sig_source_new("many");
    const char *why;

    CHECK_EQ(hw_sig_source_set(src, "provider", "github", &why), 0);
    for (int i = 0; i < HW_SIG_MAX_SECRETS; i++)
        CHECK_EQ(hw_sig_source_set(src, "secret", "s", &why), 0);
    CHECK_EQ(hw_sig_source_set(src, "secret", "s", &why), HW_EINVAL);
    CHECK(!strncmp(why, "secret: too many", 16));
    hw_sig_source_free(src);
}

static void test_finalize_errors(void)
{
    static const char *const none[] = { "secret", "x", NULL };
    static const char *const nosecret[] = { "provider", "github", NULL };
    static const char *const generic_key[] = { "provider", "github", "secret", "x",
                                               "header",   "X-Sig",  NULL };
    static const char *const sha1[] = { "provider",    "stripe", "secret", "x",
                                        "legacy-sha1", "true",   NULL };
    static const char *const url[] = { "provider",          "github", "secret", "x", "public-url",
                                       "https://a.example", NULL };
    static const char *const noheader[] = { "provider", "hmac", "secret", "x", NULL };
    static const char *const nobody[] = {
        "provider",       "hmac", "secret",    "x",    "header", "X-S",
        "signed-content", "{id}", "id-header", "X-Id", NULL
    };
    static const char *const twobody[] = { "provider", "hmac", "secret",         "x",
                                           "header",   "X-S",  "signed-content", "{body}.{body}",
                                           NULL };
    static const char *const ts_unset[] = {
        "provider",           "hmac", "secret", "x", "header", "X-S", "signed-content",
        "{timestamp}.{body}", NULL
    };
    static const char *const ts_unsigned[] = {
        "provider",         "hmac", "secret",         "x",      "header", "X-S",
        "timestamp-header", "X-T",  "signed-content", "{body}", NULL
    };
    static const char *const id_unset[] = { "provider", "hmac", "secret",         "x",
                                            "header",   "X-S",  "signed-content", "{id}.{body}",
                                            NULL };
    static const char *const placeholder[] = { "provider", "hmac", "secret",         "x",
                                               "header",   "X-S",  "signed-content", "{body}{ts}",
                                               NULL };

    expect_finalize_error(none, "provider: missing");
    expect_finalize_error(nosecret, "secret: missing");
    expect_finalize_error(generic_key, "header, algorithm,");
    expect_finalize_error(sha1, "legacy-sha1: only for provider = github");
    expect_finalize_error(url, "public-url: only for provider = twilio");
    expect_finalize_error(noheader, "header: missing");
    expect_finalize_error(nobody, "signed-content: must contain {body} exactly once");
    expect_finalize_error(twobody, "signed-content: must contain {body} exactly once");
    expect_finalize_error(ts_unset, "signed-content: {timestamp} needs timestamp-header");
    expect_finalize_error(ts_unsigned, "timestamp-header: signed-content lacks {timestamp}");
    expect_finalize_error(id_unset, "signed-content: {id} needs id-header");
    expect_finalize_error(placeholder, "signed-content: unknown placeholder");
}

/* After finalize the secret text is gone; only keys remain. */
static void test_secret_text_wiped(void)
{
    static const char *const kv[] = { "provider", "stripe",    "secret", "whsec_one",
                                      "secret",   "whsec_two", NULL };
    struct hw_sig_source *src = source_make(kv);

    CHECK_EQ(src->nsecrets, 2);
    for (size_t i = 0; i < src->nsecrets; i++) {
        CHECK(src->secret_text[i] == NULL);
        CHECK(src->keys[i].inner[HW_SIG_SHA256] && src->keys[i].outer[HW_SIG_SHA256]);
    }
    hw_sig_source_free(src);
}

/* Generic secrets may be given hex- or base64-encoded. */
static void test_secret_encodings(void)
{
    /* HMAC-SHA256("key", "body") computed with Python's hmac module. */
    static const char sig[] = "515aae133b435d4000956731f68ae5cf5eb85d4f0dc6a546d2bfcd3595ec1ae1";
    static const char *const hex[] = { "provider", "hmac",   "header", "X-S", "secret-encoding",
                                       "hex",      "secret", "6b6579", NULL };
    static const char *const b64[] = { "provider", "hmac", "header",          "X-S",
                                       "secret",   "a2V5", "secret-encoding", "base64",
                                       NULL };
    struct hw_sig_source *a = source_make(hex), *b = source_make(b64);
    struct hreq r;

    hreq_init(&r, "body", 4, 1700000000);
    hreq_set(&r, "X-S", "%s", sig);
    CHECK_REASON(a, &r, HW_SIG_OK);
    CHECK_REASON(b, &r, HW_SIG_OK);
    hw_sig_source_free(a);
    hw_sig_source_free(b);
}

static void test_tolerance_setting(void)
{
    static const char *const kv[] = { "provider",         "hmac", "header",    "X-S",
                                      "timestamp-header", "X-T",  "tolerance", "10",
                                      "secret",           "key",  NULL };
    struct hw_sig_source *src = source_make(kv);
    struct hw_sig_result res;
    struct hreq r;

    /* Signature irrelevant: the window is checked first. */
    hreq_init(&r, "body", 4, 1700000000);
    hreq_set(&r, "X-S", "%064d", 0);
    hreq_set(&r, "X-T", "%d", 1700000000 - 11);
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_TIMESTAMP_OUT_OF_RANGE);
    CHECK_STR(res.header, "X-T");
    CHECK_EQ(res.secret_index, -1);
    CHECK_EQ(res.dedup_len, 0);
    hreq_set(&r, "X-T", "%d", 1700000000 - 10);
    CHECK_REASON(src, &r, HW_SIG_NO_MATCH);
    hw_sig_source_free(src);
}

static void test_public_url_trailing_slash(void)
{
    struct hw_sig_source *src = hw_sig_source_new("t");

    CHECK_EQ(hw_sig_source_set(src, "provider", "twilio", NULL), 0);
    CHECK_EQ(hw_sig_source_set(src, "public-url", "https://h.example/base//", NULL), 0);
    CHECK_STR(src->public_url, "https://h.example/base");
    CHECK_EQ(src->public_url_len, strlen("https://h.example/base"));
    hw_sig_source_free(src);
}

/* Dedup keys: kept up to HW_SIG_DEDUP_MAX bytes of printable ASCII, else dropped. */
static void test_dedup_limits(void)
{
    static const char *const kv[] = { "provider", "github", "secret", "It's a Secret to Everybody",
                                      NULL };
    struct hw_sig_source *src = source_make(kv);
    struct hw_sig_result res;
    struct hreq r;

    hreq_init(&r, "Hello, World!", 13, 1700000000);
    hreq_set(&r, "X-Hub-Signature-256",
             "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
    hreq_set(&r, "X-GitHub-Delivery", "%0*d", HW_SIG_DEDUP_MAX, 7);
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK);
    CHECK_EQ(res.dedup_len, HW_SIG_DEDUP_MAX);
    CHECK_EQ(strlen(res.dedup_key), HW_SIG_DEDUP_MAX);
    hreq_set(&r, "X-GitHub-Delivery", "%0*d", HW_SIG_DEDUP_MAX + 1, 7);
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK);
    CHECK_EQ(res.dedup_len, 0);
    CHECK_STR(res.dedup_key, "");
    hreq_set(&r, "X-GitHub-Delivery", "two words");
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK);
    CHECK_EQ(res.dedup_len, 0);
    hreq_set(&r, "X-GitHub-Delivery", "caf\xc3\xa9");
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK);
    CHECK_EQ(res.dedup_len, 0);
    hw_sig_source_free(src);
}

static void test_reason_strings(void)
{
    for (int i = 0; i < HW_SIG_REASON_COUNT; i++) {
        CHECK(strcmp(hw_sig_reason_str((enum hw_sig_reason)i), "unknown"));
        for (int k = 0; k < i; k++)
            CHECK(strcmp(hw_sig_reason_str((enum hw_sig_reason)i),
                         hw_sig_reason_str((enum hw_sig_reason)k)));
    }
    CHECK_STR(hw_sig_reason_str(HW_SIG_NO_MATCH), "no_match");
    CHECK_STR(hw_sig_reason_str(HW_SIG_REASON_COUNT), "unknown");
}

/* ---- many threads, one source ---- */

struct worker {
    const struct hw_sig_source *src;
    int good; /* verifications that passed */
    int bad;  /* forged ones that failed */
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct hw_sig_result res;
    struct hreq r;

    for (int i = 0; i < 2000; i++) {
        hreq_init(&r, "Hello, World!", 13, 1700000000);
        hreq_set(&r, "X-Hub-Signature-256", "sha256=%s",
                 i % 2 ? "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
                       : "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18");
        if (hw_sig_verify(w->src, hreq_done(&r), &res) == 0)
            w->good++;
        else if (res.reason == HW_SIG_NO_MATCH)
            w->bad++;
    }
    return NULL;
}

static void test_concurrent_verify(void)
{
    static const char *const kv[] = { "provider", "github", "secret", "It's a Secret to Everybody",
                                      NULL };
    struct hw_sig_source *src = source_make(kv);
    struct worker w[4];
    pthread_t t[4];

    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){ src, 0, 0 };
        CHECK_EQ(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(pthread_join(t[i], NULL), 0);
        CHECK_EQ(w[i].good, 1000);
        CHECK_EQ(w[i].bad, 1000);
    }
    hw_sig_source_free(src);
}

/* HMAC pads keys with zeros: an all-zero key is the empty key, which anyone can sign with. */
static void test_zero_keys_refused(void)
{
    static const char *const sw[] = { "provider", "standard-webhooks", "secret",
                                      "whsec_AA==", NULL };
    static const char *const sw4[] = { "provider", "standard-webhooks", "secret",
                                       "whsec_AAAAAA==", NULL };
    static const char *const hex[] = { "provider", "hmac",   "header", "X-Sig", "secret-encoding",
                                       "hex",      "secret", "0000",   NULL };

    expect_set_error(sw, "secret: decodes to an empty or all-zero key");
    expect_set_error(sw4, "secret: decodes to an empty or all-zero key");
    expect_set_error(hex, "secret: decodes to an empty or all-zero key");
}

/* With legacy-sha1, a present but empty X-Hub-Signature-256 must not fall back to SHA-1. */
static void test_github_no_downgrade(void)
{
    static const char *const kv[] = { "provider",    "github", "secret", "s3cret",
                                      "legacy-sha1", "true",   NULL };
    struct hw_sig_source *src = source_make(kv);
    unsigned char mac[20];
    unsigned int len = 0;
    char hexmac[41];
    struct hw_sig_result res;
    struct hreq r;

    HMAC(EVP_sha1(), "s3cret", 6, (const unsigned char *)"{}", 2, mac, &len);
    for (int i = 0; i < 20; i++)
        snprintf(hexmac + 2 * i, 3, "%02x", mac[i]);
    hreq_init(&r, "{}", 2, 1700000000);
    hreq_set(&r, "X-Hub-Signature", "sha1=%s", hexmac);
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_OK); /* SHA-1 alone is accepted, as asked */
    hreq_set(&r, "X-Hub-Signature-256", "%s", "");
    CHECK_EQ(verify_reason(src, &r, &res), HW_SIG_MISSING_HEADER);
    hw_sig_source_free(src);
}

int main(void)
{
    RUN(test_unknown_keys_are_the_callers);
    RUN(test_set_errors);
    RUN(test_too_many_secrets);
    RUN(test_finalize_errors);
    RUN(test_secret_text_wiped);
    RUN(test_secret_encodings);
    RUN(test_tolerance_setting);
    RUN(test_public_url_trailing_slash);
    RUN(test_dedup_limits);
    RUN(test_reason_strings);
    RUN(test_concurrent_verify);
    RUN(test_zero_keys_refused);
    RUN(test_github_no_downgrade);
    return 0;
}
