/*
 * Hookwire-Error table and error-response writer, shared by every program
 * that answers HTTP itself. Any thread.
 */
#include "hwerror.h"

#include <string.h>

static const struct {
    const char *name;
    int status;
    const char *text;
} errcs[HW_ERRC_COUNT] = {
    [HW_ERRC_BAD_REQUEST] = { "HW_BAD_REQUEST", 400, "malformed HTTP request" },
    [HW_ERRC_UNAUTHORIZED] = { "HW_UNAUTHORIZED", 401, "missing or invalid token" },
    [HW_ERRC_SIGNATURE] = { "HW_SIGNATURE", 401, "signature verification failed" },
    [HW_ERRC_NOT_FOUND] = { "HW_NOT_FOUND", 404, "no such endpoint" },
    [HW_ERRC_UNKNOWN_CHANNEL] = { "HW_UNKNOWN_CHANNEL", 404, "unknown channel" },
    [HW_ERRC_UNKNOWN_SOURCE] = { "HW_UNKNOWN_SOURCE", 404, "unknown webhook source" },
    [HW_ERRC_BODY_TOO_LARGE] = { "HW_BODY_TOO_LARGE", 413, "request body too large" },
    [HW_ERRC_HEADERS_TOO_LARGE] = { "HW_HEADERS_TOO_LARGE", 431, "request headers too large" },
    [HW_ERRC_OVERLOADED] = { "HW_OVERLOADED", 429, "too many requests in flight" },
    [HW_ERRC_LOCAL_REFUSED] = { "HW_LOCAL_REFUSED", 502, "the local app refused the connection" },
    [HW_ERRC_LOCAL_ERROR] = { "HW_LOCAL_ERROR", 502, "the local app failed to answer" },
    [HW_ERRC_AGENT_DISCONNECTED] = { "HW_AGENT_DISCONNECTED", 502,
                                     "the agent disconnected during the request" },
    [HW_ERRC_AGENT_OFFLINE] = { "HW_AGENT_OFFLINE", 503, "no agent is connected" },
    [HW_ERRC_STORE_UNAVAILABLE] = { "HW_STORE_UNAVAILABLE", 503, "storage is unavailable" },
    [HW_ERRC_LOCAL_TIMEOUT] = { "HW_LOCAL_TIMEOUT", 504, "the local app did not answer in time" },
    [HW_ERRC_REQUEST_TIMEOUT] = { "HW_REQUEST_TIMEOUT", 408, "the request did not arrive in time" },
    [HW_ERRC_CHANNEL_BUSY] = { "HW_CHANNEL_BUSY", 409, "another agent holds this channel" },
    [HW_ERRC_QUEUE_FULL] = { "HW_QUEUE_FULL", 429, "the channel's offline queue is full" },
    [HW_ERRC_SHUTTING_DOWN] = { "HW_SHUTTING_DOWN", 503, "shutting down; retry shortly" },
    [HW_ERRC_EVENT_IN_FLIGHT] = { "HW_EVENT_IN_FLIGHT", 409,
                                  "the event is being delivered; replay it once that ends" },
};

const char *hw_errc_name(enum hw_errc e)
{
    return errcs[e].name;
}

int hw_errc_status(enum hw_errc e)
{
    return errcs[e].status;
}

const char *hw_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

int hw_error_response(struct hw_buf *out, enum hw_errc e, int keep_alive, const char *extra,
                      int head_only)
{
    return hw_buf_printf(out,
                         "HTTP/1.1 %d %s\r\nHookwire-Error: %s\r\nContent-Type: text/plain\r\n"
                         "Content-Length: %zu\r\n%s%s\r\n%s%s",
                         errcs[e].status, hw_http_reason(errcs[e].status), errcs[e].name,
                         strlen(errcs[e].text) + 1, keep_alive ? "" : "Connection: close\r\n",
                         extra ? extra : "", head_only ? "" : errcs[e].text, head_only ? "" : "\n");
}
