/*
 * Provider handshakes (receiver/handshake.h) with the providers' documented
 * request bodies: Slack's url_verification example
 * (https://api.slack.com/events/url_verification), Discord's PING
 * interaction (https://discord.com/developers/docs/interactions/receiving-and-responding),
 * Zoom's endpoint.url_validation example
 * (https://developers.zoom.us/docs/api/webhooks/#validate-your-webhook-endpoint),
 * whose encryptedToken was computed independently with Python's hmac module.
 */
#include <string.h>

#include "check.h"
#include "handshake.h"

#define S(lit) lit, sizeof(lit) - 1

static void check_answer(const struct recv_handshake_answer *a, int status, const char *ctype,
                         const char *body)
{
    CHECK_EQ(a->status, status);
    CHECK_STR(a->content_type, ctype);
    CHECK_EQ(a->body_len, strlen(body));
    CHECK_MEM(a->body, body, a->body_len);
}

static void test_kinds(void)
{
    CHECK_EQ(recv_handshake_for("slack"), RECV_HANDSHAKE_SLACK);
    CHECK_EQ(recv_handshake_for("discord"), RECV_HANDSHAKE_DISCORD);
    CHECK_EQ(recv_handshake_for("zoom"), RECV_HANDSHAKE_ZOOM);
    CHECK_EQ(recv_handshake_for("github"), RECV_HANDSHAKE_NONE);
    CHECK_EQ(recv_handshake_for("none"), RECV_HANDSHAKE_NONE);
}

static void test_slack(void)
{
    struct recv_handshake_answer a;

    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_SLACK, NULL,
                                  S("{\n    \"token\": \"Jhj5dZrVaK7ZwHHjRyZWjbDl\",\n"
                                    "    \"challenge\": "
                                    "\"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P\",\n"
                                    "    \"type\": \"url_verification\"\n}"),
                                  &a),
             1);
    check_answer(&a, 200, "text/plain", "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
    /* An ordinary event callback, even one carrying a challenge member
     * inside it, is an event. */
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_SLACK, NULL,
                                  S("{\"type\":\"event_callback\",\"event\":{\"type\":"
                                    "\"url_verification\",\"challenge\":\"x\"}}"),
                                  &a),
             0);
    /* Slash commands are form-encoded: not a handshake. */
    CHECK_EQ(
        recv_handshake_check(RECV_HANDSHAKE_SLACK, NULL, S("token=x&type=url_verification"), &a),
        0);
    /* A handshake whose challenge cannot be echoed safely is refused, not
     * stored: missing, escaped, with spaces, or too long. */
    CHECK_EQ(
        recv_handshake_check(RECV_HANDSHAKE_SLACK, NULL, S("{\"type\":\"url_verification\"}"), &a),
        1);
    CHECK_EQ(a.status, 400);
    CHECK_STR(a.why,
              "Slack url_verification: challenge: missing, longer than 256 bytes, or not plain "
              "printable text");
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_SLACK, NULL,
                                  S("{\"type\":\"url_verification\",\"challenge\":\"a\\\"b\"}"),
                                  &a),
             1);
    CHECK_EQ(a.status, 400);
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_SLACK, NULL,
                                  S("{\"type\":\"url_verification\",\"challenge\":\"a b\"}"), &a),
             1);
    CHECK_EQ(a.status, 400);
    {
        char body[400];
        int n =
            snprintf(body, sizeof(body), "{\"type\":\"url_verification\",\"challenge\":\"%0*d\"}",
                     RECV_HANDSHAKE_TOKEN_MAX + 1, 7);

        CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_SLACK, NULL, body, (size_t)n, &a), 1);
        CHECK_EQ(a.status, 400);
        n = snprintf(body, sizeof(body), "{\"type\":\"url_verification\",\"challenge\":\"%0*d\"}",
                     RECV_HANDSHAKE_TOKEN_MAX, 7);
        CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_SLACK, NULL, body, (size_t)n, &a), 1);
        CHECK_EQ(a.status, 200);
        CHECK_EQ(a.body_len, RECV_HANDSHAKE_TOKEN_MAX);
    }
}

static void test_discord(void)
{
    struct recv_handshake_answer a;

    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_DISCORD, NULL,
                                  S("{\"application_id\":\"1130600000000000000\",\"id\":"
                                    "\"1130600000000000001\",\"token\":\"aW50ZXJhY3Rpb24\","
                                    "\"type\":1,\"user\":{\"id\":\"1\"},\"version\":1}"),
                                  &a),
             1);
    check_answer(&a, 200, "application/json", "{\"type\":1}");
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_DISCORD, NULL, S("{\"type\": 1}"), &a), 1);
    /* Application commands (type 2) and look-alikes are events. */
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_DISCORD, NULL, S("{\"type\":2,\"data\":{}}"), &a),
             0);
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_DISCORD, NULL, S("{\"type\":\"1\"}"), &a), 0);
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_DISCORD, NULL, S("{\"type\":10}"), &a), 0);
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_DISCORD, NULL, S("{\"d\":{\"type\":1}}"), &a), 0);
    /* Another provider's source never answers Discord's PING. */
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_SLACK, NULL, S("{\"type\":1}"), &a), 0);
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_NONE, NULL, S("{\"type\":1}"), &a), 0);
}

static void test_zoom(void)
{
    static const char body[] = "{\"payload\":{\"plainToken\":\"qgg8vlvZRS6UYooatFL8Aw\"},"
                               "\"event_ts\":1654503849680,\"event\":\"endpoint.url_validation\"}";
    struct recv_handshake_answer a;

    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_ZOOM, "zoom-secret-token-example", S(body), &a),
             1);
    check_answer(&a, 200, "application/json",
                 "{\"plainToken\":\"qgg8vlvZRS6UYooatFL8Aw\",\"encryptedToken\":"
                 "\"02b388957bd75494d35ec1658be6692dcda1d75201c34a5b7fbc48a7a2e59fc3\"}");
    /* Without its secret the answer cannot be made. */
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_ZOOM, NULL, S(body), &a), 1);
    CHECK_EQ(a.status, 400);
    CHECK_STR(a.why, "Zoom endpoint.url_validation: the source has no secret to answer it");
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_ZOOM, "s",
                                  S("{\"event\":\"endpoint.url_validation\",\"payload\":{}}"), &a),
             1);
    CHECK_EQ(a.status, 400);
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_ZOOM, "s",
                                  S("{\"event\":\"endpoint.url_validation\",\"plainToken\":\"x\"}"),
                                  &a),
             1);
    CHECK_EQ(a.status, 400);
    /* Ordinary Zoom events are events. */
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_ZOOM, "s",
                                  S("{\"event\":\"meeting.started\",\"payload\":{\"plainToken\":"
                                    "\"x\"}}"),
                                  &a),
             0);
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_ZOOM, "s", "", 0, &a), 0);
    CHECK_EQ(recv_handshake_check(RECV_HANDSHAKE_ZOOM, "s", S("not json"), &a), 0);
}

int main(void)
{
    RUN(test_kinds);
    RUN(test_slack);
    RUN(test_discord);
    RUN(test_zoom);
    return 0;
}
