/*
 * Parsers for signature verification: header lookup, hex/base64, timestamps,
 * signature lists, a flat JSON member lookup and form decoding. Every input
 * comes from the network, so each function reads only inside its bounds and
 * in one pass. No allocation, no state; any thread.
 */
#include "sig_parse.h"

#include <string.h>

#include "core/err.h"
#include "core/text.h"

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

void hw_sig_trim(const char **p, size_t *n)
{
    const char *s = *p;
    size_t len = *n;

    while (len && is_ows(s[0])) {
        s++;
        len--;
    }
    while (len && is_ows(s[len - 1]))
        len--;
    *p = s;
    *n = len;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Whether header h is named name (len bytes), ASCII case-insensitive. */
static int named(const struct hw_http_header *h, const char *name, size_t len)
{
    if (h->name_len != len)
        return 0;
    for (size_t k = 0; k < len; k++)
        if (lower((unsigned char)h->name[k]) != lower((unsigned char)name[k]))
            return 0;
    return 1;
}

size_t hw_sig_header_count(const struct hw_http_header *h, size_t nh, const char *name)
{
    size_t len = strlen(name), n = 0;

    for (size_t i = 0; i < nh; i++)
        n += (size_t)named(&h[i], name, len);
    return n;
}

int hw_sig_header(const struct hw_http_header *h, size_t nh, const char *name, const char **v,
                  size_t *vn)
{
    size_t len = strlen(name), i;

    for (i = 0; i < nh && !named(&h[i], name, len); i++)
        ;
    if (i == nh)
        return 0;
    /* Given twice, which one counts is anybody's guess: neither does. */
    for (size_t j = i + 1; j < nh; j++)
        if (named(&h[j], name, len))
            return 0;
    *v = h[i].value;
    *vn = h[i].value_len;
    if (!*v)
        *vn = 0;
    hw_sig_trim(v, vn);
    return 1;
}

int hw_sig_hex_decode(const char *s, size_t n, unsigned char *out, size_t max, size_t *outn)
{
    if (!n || n % 2)
        return HW_EPARSE;
    if (n / 2 > max)
        return HW_E2BIG;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hw_hex_value((unsigned char)s[i]), lo = hw_hex_value((unsigned char)s[i + 1]);

        if (hi < 0 || lo < 0)
            return HW_EPARSE;
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    *outn = n / 2;
    return 0;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int hw_sig_b64_decode(const char *s, size_t n, unsigned char *out, size_t max, size_t *outn)
{
    size_t pad = 0, need, o = 0;
    uint32_t acc = 0;
    int bits = 0;

    while (n && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    /* Padding, when present, must complete the last quantum exactly. */
    if (!n || n % 4 == 1 || (pad && (n + pad) % 4))
        return HW_EPARSE;
    need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (need > max)
        return HW_E2BIG;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);

        if (v < 0)
            return HW_EPARSE;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits must be zero: one value has exactly one encoding. */
    if (acc)
        return HW_EPARSE;
    *outn = o;
    return 0;
}

int hw_sig_parse_ts(const char *s, size_t n, int64_t *ts)
{
    int64_t v = 0;

    if (!n || n > 15)
        return HW_EPARSE;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return HW_EPARSE;
        v = v * 10 + (s[i] - '0');
    }
    *ts = v;
    return 0;
}

static int add_cand(struct hw_sig_list *out, const char *tag, size_t tag_len, const char *val,
                    size_t val_len)
{
    if (out->n == HW_SIG_MAX_CANDS)
        return HW_E2BIG;
    out->c[out->n].tag = tag;
    out->c[out->n].tag_len = tag_len;
    out->c[out->n].val = val;
    out->c[out->n].val_len = val_len;
    out->n++;
    return 0;
}

int hw_sig_parse_kv_list(const char *s, size_t n, char sep, const char *ts_key,
                         struct hw_sig_list *out)
{
    size_t tsk = strlen(ts_key), i = 0;

    memset(out, 0, sizeof(*out));
    for (;;) {
        size_t j = i, il, kl;
        const char *it = s + i, *eq;
        int rc;

        while (j < n && s[j] != sep)
            j++;
        il = j - i;
        hw_sig_trim(&it, &il);
        eq = il ? memchr(it, '=', il) : NULL;
        if (!eq)
            return HW_EPARSE;
        kl = (size_t)(eq - it);
        if (!kl || kl + 1 == il)
            return HW_EPARSE;
        if (kl == tsk && !memcmp(it, ts_key, tsk)) {
            if (out->ts)
                return HW_EPARSE;
            out->ts = eq + 1;
            out->ts_len = il - kl - 1;
        } else if ((rc = add_cand(out, it, kl, eq + 1, il - kl - 1)) < 0) {
            return rc;
        }
        if (j >= n)
            break;
        i = j + 1;
    }
    return out->ts ? 0 : HW_EPARSE;
}

int hw_sig_parse_sw_list(const char *s, size_t n, struct hw_sig_list *out)
{
    size_t i = 0;

    memset(out, 0, sizeof(*out));
    for (;;) {
        size_t j;
        const char *comma;
        int rc;

        while (i < n && s[i] == ' ')
            i++;
        if (i == n)
            break;
        j = i;
        while (j < n && s[j] != ' ')
            j++;
        comma = memchr(s + i, ',', j - i);
        if (!comma || comma == s + i || comma + 1 == s + j)
            return HW_EPARSE;
        rc = add_cand(out, s + i, (size_t)(comma - (s + i)), comma + 1,
                      (size_t)(s + j - (comma + 1)));
        if (rc < 0)
            return rc;
        i = j;
    }
    return out->n ? 0 : HW_EPARSE;
}

static int is_json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && is_json_ws(s[i]))
        i++;
    return i;
}

/* s[*i] is '"'. Moves *i past the closing quote; notes escapes. 0 or -1. */
static int skip_string(const char *s, size_t n, size_t *i, int *escaped)
{
    size_t k = *i + 1;

    *escaped = 0;
    while (k < n) {
        if (s[k] == '\\') {
            *escaped = 1;
            k += 2;
            continue;
        }
        if (s[k] == '"') {
            *i = k + 1;
            return 0;
        }
        k++;
    }
    return -1;
}

/* Skips one non-string value (object, array, number, literal). 0 or -1. */
static int skip_value(const char *s, size_t n, size_t *i)
{
    size_t k = *i, depth = 0;
    int esc;

    if (s[k] != '{' && s[k] != '[') {
        while (k < n && !is_json_ws(s[k]) && s[k] != ',' && s[k] != '}' && s[k] != ']')
            k++;
        if (k == *i)
            return -1;
        *i = k;
        return 0;
    }
    while (k < n) {
        char c = s[k];

        if (c == '"') {
            if (skip_string(s, n, &k, &esc) < 0)
                return -1;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) {
                *i = k + 1;
                return 0;
            }
        }
        k++;
    }
    return -1;
}

int hw_sig_json_member(const char *s, size_t n, const char *key, const char **v, size_t *vn)
{
    size_t klen = strlen(key), i = skip_ws(s, n, 0);

    if (i == n || s[i] != '{')
        return HW_EPARSE;
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == '}')
        return HW_ENOTFOUND;
    for (;;) {
        size_t ks, kn, vs;
        int esc, match;

        if (i == n || s[i] != '"')
            return HW_EPARSE;
        ks = i + 1;
        if (skip_string(s, n, &i, &esc) < 0)
            return HW_EPARSE;
        kn = i - 1 - ks;
        match = !esc && kn == klen && !memcmp(s + ks, key, klen);
        i = skip_ws(s, n, i);
        if (i == n || s[i] != ':')
            return HW_EPARSE;
        i = skip_ws(s, n, i + 1);
        if (i == n)
            return HW_EPARSE;
        vs = i;
        if (s[i] == '"' ? skip_string(s, n, &i, &esc) < 0 : skip_value(s, n, &i) < 0)
            return HW_EPARSE;
        if (match) {
            *v = s + vs;
            *vn = i - vs;
            return 0;
        }
        i = skip_ws(s, n, i);
        if (i == n)
            return HW_EPARSE;
        if (s[i] == '}')
            return HW_ENOTFOUND;
        if (s[i] != ',')
            return HW_EPARSE;
        i = skip_ws(s, n, i + 1);
    }
}

int hw_sig_json_string(const char *s, size_t n, const char *key, const char **v, size_t *vn)
{
    const char *raw;
    size_t rn;
    int rc = hw_sig_json_member(s, n, key, &raw, &rn);

    if (rc < 0)
        return rc;
    /* Only a plain string: an escape would need decoding to compare. */
    if (raw[0] != '"' || memchr(raw + 1, '\\', rn - 2))
        return HW_ENOTFOUND;
    *v = raw + 1;
    *vn = rn - 2;
    return 0;
}

size_t hw_sig_form_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int hi, lo;

        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && (hi = hw_hex_value((unsigned char)s[i + 1])) >= 0 &&
                   (lo = hw_hex_value((unsigned char)s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

int hw_sig_query_param(const char *target, size_t n, const char *key, const char **v, size_t *vn)
{
    const char *q = memchr(target, '?', n);
    size_t klen = strlen(key), i;

    if (!q)
        return 0;
    i = (size_t)(q - target) + 1;
    while (i < n) {
        size_t j = i;
        const char *eq;

        while (j < n && target[j] != '&')
            j++;
        eq = memchr(target + i, '=', j - i);
        if (eq && (size_t)(eq - (target + i)) == klen && !memcmp(target + i, key, klen)) {
            *v = eq + 1;
            *vn = (size_t)(target + j - (eq + 1));
            return 1;
        }
        i = j + 1;
    }
    return 0;
}
