/*
 * RFC 6455 client framing (see ws.h): the upgrade request and the check of
 * its answer, masked frame headers, and the decoder of the server's frames,
 * which hands payloads on as blocks rather than byte by byte. Owns no memory.
 * Pure code; whichever thread owns the struct hw_ws_rx.
 */
#include "ws.h"

#include <string.h>

#include "core/err.h"

static int add(struct hw_buf *out, const char *s)
{
    return hw_buf_append(out, s, strlen(s));
}

int hw_ws_client_request(struct hw_buf *out, const char *host, const char *path, const char *key,
                         const char *protocol, const char *token, const char *extra)
{
    const char *parts[] = {
        "GET ",
        path,
        " HTTP/1.1\r\nHost: ",
        host,
        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ",
        key,
        "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ",
        protocol,
        "\r\nAuthorization: Bearer ",
        token,
        "\r\n",
        extra ? extra : "",
        "\r\n",
    };

    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        int err = add(out, parts[i]);
        if (err)
            return err;
    }
    return 0;
}

size_t hw_ws_answer_end(const char *p, size_t n)
{
    for (size_t i = 3; i < n; i++)
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
            return i + 1;
    return 0;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int same_ci(const char *a, size_t n, const char *b)
{
    size_t i;

    for (i = 0; i < n && b[i]; i++)
        if (lower(a[i]) != lower(b[i]))
            return 0;
    return i == n && !b[i];
}

/* Does the comma-separated list v (n bytes) hold token, in any case? */
static int list_has(const char *v, size_t n, const char *token)
{
    size_t i = 0;

    while (i < n) {
        size_t s, e;

        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        s = i;
        while (i < n && v[i] != ',')
            i++;
        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e > s && same_ci(v + s, e - s, token))
            return 1;
    }
    return 0;
}

int hw_ws_client_check_answer(const char *p, size_t len, const char *accept, const char *protocol,
                              unsigned *status)
{
    const char *end = p + len, *line = p, *eol;
    int upgrade = 0, connection = 0, accepted = 0, proto = 0;

    *status = 0;
    eol = memchr(line, '\n', len);
    /* "HTTP/1.1 101" at least: the code is the three digits after the first space. */
    if (!eol || eol - line < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ')
        return HW_EPROTO;
    for (int i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9')
            return HW_EPROTO;
        *status = *status * 10 + (unsigned)(line[i] - '0');
    }
    for (line = eol + 1; line < end; line = eol + 1) {
        const char *colon, *v, *ve;

        eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            return HW_EPROTO;
        ve = eol > line && eol[-1] == '\r' ? eol - 1 : eol;
        if (ve == line)
            break; /* the blank line */
        colon = memchr(line, ':', (size_t)(ve - line));
        if (!colon)
            return HW_EPROTO;
        for (v = colon + 1; v < ve && (*v == ' ' || *v == '\t'); v++)
            ;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (same_ci(line, (size_t)(colon - line), "upgrade"))
            upgrade = same_ci(v, (size_t)(ve - v), "websocket");
        else if (same_ci(line, (size_t)(colon - line), "connection"))
            connection |= list_has(v, (size_t)(ve - v), "upgrade");
        else if (same_ci(line, (size_t)(colon - line), "sec-websocket-accept"))
            accepted = (size_t)(ve - v) == strlen(accept) && memcmp(v, accept, strlen(accept)) == 0;
        else if (same_ci(line, (size_t)(colon - line), "sec-websocket-protocol"))
            proto =
                (size_t)(ve - v) == strlen(protocol) && memcmp(v, protocol, strlen(protocol)) == 0;
    }
    if (*status != 101 || !upgrade || !connection || !accepted || !proto)
        return HW_EPROTO;
    return 0;
}

size_t hw_ws_frame_header(uint8_t hdr[HW_WS_HDR_MAX], unsigned opcode, uint64_t len,
                          const uint8_t mask[4])
{
    size_t n = 2;

    uint8_t masked = mask ? 0x80u : 0;

    hdr[0] = (uint8_t)(0x80u | (opcode & 0x0fu));
    if (len < 126) {
        hdr[1] = (uint8_t)(masked | len);
    } else if (len <= 0xffff) {
        hdr[1] = masked | 126u;
        hdr[2] = (uint8_t)(len >> 8);
        hdr[3] = (uint8_t)len;
        n = 4;
    } else {
        hdr[1] = masked | 127u;
        for (int i = 0; i < 8; i++)
            hdr[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    if (!mask)
        return n;
    memcpy(hdr + n, mask, 4);
    return n + 4;
}

void hw_ws_mask(uint8_t *p, size_t n, const uint8_t mask[4])
{
    uint64_t m8;
    size_t i = 0;
    uint8_t w[8];

    for (int k = 0; k < 8; k++)
        w[k] = mask[k & 3];
    memcpy(&m8, w, 8);
    /* Eight bytes at a time: the mask repeats every 4, so an 8-byte word lines up. */
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        v ^= m8;
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++)
        p[i] ^= mask[i & 3];
}

void hw_ws_rx_init(struct hw_ws_rx *rx, size_t max_msg)
{
    memset(rx, 0, sizeof(*rx));
    rx->max_msg = max_msg;
}

/* Bytes of header the first two bytes announce. */
static size_t hdr_need(const uint8_t *h)
{
    unsigned l = h[1] & 0x7fu;

    return l == 126 ? 4 : l == 127 ? 10 : 2;
}

/* Records the rule a frame broke; returns HW_EPROTO. */
static int broken(struct hw_ws_rx *rx, const char *why)
{
    rx->why = why;
    return HW_EPROTO;
}

/* Checks a complete header and sets up the frame it starts. */
static int begin_frame(struct hw_ws_rx *rx)
{
    const uint8_t *h = rx->hdr;
    unsigned op = h[0] & 0x0fu, l = h[1] & 0x7fu;
    uint64_t len = l;

    if (h[0] & 0x70u)
        return broken(rx, "a WebSocket frame with RSV bits set (no extension was agreed)");
    if (h[1] & 0x80u)
        return broken(rx, "a masked WebSocket frame from the server");
    if (l == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        if (len < 126)
            return broken(rx, "a WebSocket length not in its shortest form");
    } else if (l == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        if (len >> 63 || len <= 0xffff)
            return broken(rx, "a WebSocket length not in its shortest form");
    }
    rx->opcode = (uint8_t)op;
    rx->fin = (uint8_t)(h[0] >> 7);
    rx->left = len;
    rx->ctl_len = 0;
    switch (op) {
    case HW_WS_OP_CLOSE:
    case HW_WS_OP_PING:
    case HW_WS_OP_PONG:
        if (!rx->fin || len > HW_WS_CTL_MAX || (op == HW_WS_OP_CLOSE && len == 1))
            return broken(rx, "a fragmented, oversized or malformed WebSocket control frame");
        return 0;
    case HW_WS_OP_BINARY:
        if (rx->in_msg)
            return broken(rx, "a new WebSocket message inside a fragmented one");
        rx->msg_len = 0;
        break;
    case HW_WS_OP_CONT:
        if (!rx->in_msg)
            return broken(rx, "a WebSocket continuation frame outside a message");
        break;
    default:
        return broken(rx, "a text WebSocket message or a reserved opcode (the tunnel is binary)");
    }
    if (len > rx->max_msg - rx->msg_len) {
        rx->why = "a WebSocket message over the tunnel's size limit";
        return HW_E2BIG;
    }
    rx->msg_len += (size_t)len;
    rx->in_msg = !rx->fin;
    return 0;
}

static int end_frame(struct hw_ws_rx *rx, hw_ws_sink sink, void *user)
{
    rx->in_frame = 0;
    rx->hdr_have = 0;
    switch (rx->opcode) {
    case HW_WS_OP_CLOSE:
        return sink(user, HW_WS_CLOSE, rx->ctl, rx->ctl_len);
    case HW_WS_OP_PING:
        return sink(user, HW_WS_PING, rx->ctl, rx->ctl_len);
    case HW_WS_OP_PONG:
        return sink(user, HW_WS_PONG, rx->ctl, rx->ctl_len);
    default:
        return rx->fin ? sink(user, HW_WS_END, NULL, 0) : 0;
    }
}

int hw_ws_rx_feed(struct hw_ws_rx *rx, const uint8_t *p, size_t n, hw_ws_sink sink, void *user)
{
    int err;

    while (n) {
        size_t take;

        if (!rx->in_frame) {
            size_t need = rx->hdr_have < 2 ? 2 : hdr_need(rx->hdr);

            take = need - rx->hdr_have;
            if (take > n)
                take = n;
            memcpy(rx->hdr + rx->hdr_have, p, take);
            rx->hdr_have = (uint8_t)(rx->hdr_have + take);
            p += take;
            n -= take;
            if (rx->hdr_have < 2 || rx->hdr_have < hdr_need(rx->hdr))
                continue;
            err = begin_frame(rx);
            if (err)
                return err;
            rx->in_frame = 1;
            /* A whole unfragmented message already here goes on without a copy. */
            if (rx->opcode == HW_WS_OP_BINARY && rx->fin && rx->left <= n) {
                take = (size_t)rx->left;
                rx->in_frame = 0;
                rx->hdr_have = 0;
                err = sink(user, HW_WS_MESSAGE, p, take);
                if (err)
                    return err;
                p += take;
                n -= take;
                continue;
            }
        }
        take = rx->left < n ? (size_t)rx->left : n;
        if (take) {
            if (rx->opcode >= HW_WS_OP_CLOSE) {
                memcpy(rx->ctl + rx->ctl_len, p, take);
                rx->ctl_len = (uint8_t)(rx->ctl_len + take);
            } else {
                err = sink(user, HW_WS_DATA, p, take);
                if (err)
                    return err;
            }
            p += take;
            n -= take;
            rx->left -= take;
        }
        if (!rx->left) {
            err = end_frame(rx, sink, user);
            if (err)
                return err;
        }
    }
    return 0;
}
