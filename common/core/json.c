/*
 * JSON string writing (json.h): one escaper into a caller's buffer, and the
 * hw_buf and FILE writers that feed it a small stack buffer at a time.
 * Owns nothing; any thread.
 */
#include "json.h"

#include <string.h>

/* A chunk of escaped output: big enough for runs, small enough for any stack. */
#define CHUNK 512

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

static int plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

size_t hw_json_escape(char *out, size_t cap, size_t *outlen, const char *s, size_t n,
                      enum hw_json_mode mode)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;

    while (i < n) {
        unsigned char c = p[i];
        char esc[6] = { '\\', (char)c };
        const char *w = esc;
        size_t in = 1, len = 2;

        if (plain(c)) {
            /* A plain run in one copy: headers and bodies are mostly plain. */
            len = 1;
            while (i + len < n && len < cap - o && plain(p[i + len]))
                len++;
            w = s + i;
            in = len;
        } else if (c == '"' || c == '\\') {
            /* esc is already backslash and the byte */
        } else if (mode == HW_JSON_TEXT && (c == '\n' || c == '\r' || c == '\t')) {
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (mode == HW_JSON_TEXT && c >= 0x80 && utf8_len(p + i, n - i)) {
            w = s + i;
            in = len = utf8_len(p + i, n - i);
        } else {
            esc[1] = 'u';
            esc[2] = esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        if (len > cap - o)
            break;
        memcpy(out + o, w, len);
        o += len;
        i += in;
    }
    *outlen = o;
    return i;
}

int hw_json_str(struct hw_buf *b, const char *s, size_t n, enum hw_json_mode mode)
{
    char chunk[CHUNK];
    int err = hw_buf_append(b, "\"", 1);

    while (!err && n) {
        size_t len, in = hw_json_escape(chunk, sizeof(chunk), &len, s, n, mode);

        err = hw_buf_append(b, chunk, len);
        s += in;
        n -= in;
    }
    return err ? err : hw_buf_append(b, "\"", 1);
}

void hw_json_fput(FILE *f, const char *s, size_t n, enum hw_json_mode mode)
{
    char chunk[CHUNK];

    fputc('"', f);
    while (n) {
        size_t len, in = hw_json_escape(chunk, sizeof(chunk), &len, s, n, mode);

        fwrite(chunk, 1, len, f);
        s += in;
        n -= in;
    }
    fputc('"', f);
}
