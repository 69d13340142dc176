/*
 * Text rules shared across layers (text.h): port numbers and channel names,
 * written once so the relay, the store and the URL parsers cannot disagree.
 * Pure functions; any thread.
 */
#include "text.h"

#include "err.h"

int hw_text_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0)
        return HW_EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');

        if (s[i] < '0' || s[i] > '9' || d > max || v > (max - d) / 10)
            return HW_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int hw_text_port(const char *s, size_t n, int *port)
{
    uint64_t v;

    if (n > 5 || hw_text_uint(s, n, 65535, &v))
        return HW_EINVAL;
    *port = (int)v;
    return 0;
}

int hw_text_channel_valid(const char *s, size_t n)
{
    if (n < 1 || n > HW_CHANNEL_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
            return 0;
    }
    return 1;
}

int hw_text_binary(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
            return 1;
    }
    return 0;
}

void hw_text_put_clean(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (hw_text_byte_clean(c))
            fputc(c, f);
        else
            fprintf(f, "\\x%02x", c);
    }
}
