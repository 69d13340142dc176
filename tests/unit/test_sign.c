/*
 * Delivery signatures (sig/sign.h) against the Standard Webhooks
 * specification's published example, a raw-secret vector computed
 * independently with Python's hmac module, and the refusals.
 */
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "sig/sign.h"

#define S(lit) lit, sizeof(lit) - 1

/*
 * The example in the Standard Webhooks specification (and the svix and
 * standardwebhooks libraries' own tests): secret, message id, timestamp and
 * payload below sign to v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=.
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
static void test_spec_example(void)
{
    struct hw_signer *s;
    const char *why = NULL;
    char out[HW_SIGN_MAX];

    CHECK_EQ(hw_signer_new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &s, &why), 0);
    CHECK_EQ(hw_signer_sign(s, S("msg_p5jXN8AQM9LWM0D4loKWxJek"), 1614265330,
                            S("{\"test\": 2432232314}"), out),
             0);
    CHECK_STR(out, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* One byte of the body, the id or the time changes the signature. */
    CHECK_EQ(hw_signer_sign(s, S("msg_p5jXN8AQM9LWM0D4loKWxJek"), 1614265330,
                            S("{\"test\": 2432232315}"), out),
             0);
    CHECK(strcmp(out, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") != 0);
    CHECK_EQ(hw_signer_sign(s, S("msg_p5jXN8AQM9LWM0D4loKWxJeK"), 1614265330,
                            S("{\"test\": 2432232314}"), out),
             0);
    CHECK(strcmp(out, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") != 0);
    CHECK_EQ(hw_signer_sign(s, S("msg_p5jXN8AQM9LWM0D4loKWxJek"), 1614265331,
                            S("{\"test\": 2432232314}"), out),
             0);
    CHECK(strcmp(out, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") != 0);
    hw_signer_free(s);
}

/* Computed with Python: base64(hmac.new(KEY, b"ID.TS.BODY", sha256).digest()). */
static void test_raw_secret(void)
{
    struct hw_signer *s;
    const char *why = NULL;
    char out[HW_SIGN_MAX];

    CHECK_EQ(hw_signer_new("a-raw-secret-of-32-bytes-length!", &s, &why), 0);
    CHECK_EQ(hw_signer_sign(s, S("evt_01J0000000000000000000000A"), 1700000000,
                            S("{\"hello\":\"world\"}"), out),
             0);
    CHECK_STR(out, "v1,XKrVdb+LpFdhy4tnYpXkNT2BaK0JtlRPJ1ukmrPvwS0=");
    /* An empty body is signed as "id.ts." (NULL body pointer allowed). */
    CHECK_EQ(hw_signer_sign(s, S("evt_1"), 0, NULL, 0, out), 0);
    CHECK_STR(out, "v1,3a9RBnxGIWJ20Cr693XaZcuuwp2FlRBE/CXZmHLBIZM=");
    CHECK_EQ(strlen(out), HW_SIGN_MAX - 1);
    hw_signer_free(s);
}

static void test_refusals(void)
{
    struct hw_signer *s = NULL;
    const char *why = NULL;
    char out[HW_SIGN_MAX];

    CHECK_EQ(hw_signer_new("too-short", &s, &why), HW_EINVAL);
    CHECK(s == NULL && why && strstr(why, "16 bytes"));
    CHECK_EQ(hw_signer_new("whsec_c2hvcnQ=", &s, &why), HW_EINVAL); /* "short" */
    CHECK_EQ(hw_signer_new("whsec_!!!notbase64", &s, &why), HW_EINVAL);
    CHECK_EQ(hw_signer_new("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &s, &why),
             HW_EINVAL); /* 32 zero bytes: the empty HMAC key */
    CHECK_EQ(hw_signer_new("", &s, &why), HW_EINVAL);
    CHECK(s == NULL);

    CHECK_EQ(hw_signer_new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &s, &why), 0);
    /* Ids that would make "id.ts.body" ambiguous, and negative times. */
    CHECK_EQ(hw_signer_sign(s, "", 0, 1, S("x"), out), HW_EINVAL);
    CHECK_EQ(out[0], '\0');
    CHECK_EQ(hw_signer_sign(s, S("evt.1"), 1, S("x"), out), HW_EINVAL);
    CHECK_EQ(hw_signer_sign(s, S("evt_1"), -1, S("x"), out), HW_EINVAL);
    hw_signer_free(s);
    hw_signer_free(NULL);
}

int main(void)
{
    RUN(test_spec_example);
    RUN(test_raw_secret);
    RUN(test_refusals);
    return 0;
}
