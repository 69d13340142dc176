/*
 * JSON writing and a small strict reader for the inspector (see
 * inspect_json.h). The reader walks the document once per look-up: the
 * documents it reads are a browser's edited replay, a few KiB. Any thread.
 */
#include "inspect_json.h"

#include <openssl/evp.h>
#include <string.h>

#include "core/err.h"
#include "core/text.h"

#define DEPTH_MAX 16

int agent_json_b64(struct hw_buf *b, const void *p, size_t n)
{
    char *out;
    int err = hw_buf_append(b, "\"", 1);

    if (!err && n) {
        out = hw_buf_reserve(b, 4 * ((n + 2) / 3) + 1);
        if (!out)
            return HW_E2BIG;
        hw_buf_commit(b, (size_t)EVP_EncodeBlock((unsigned char *)out, p, (int)n));
    }
    return err ? err : hw_buf_append(b, "\"", 1);
}

struct reader {
    const char *p, *end;
};

static void skip_ws(struct reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

/* Four hex digits at r->p into *v. */
static int hex4(struct reader *r, unsigned *v)
{
    *v = 0;
    if (r->end - r->p < 4)
        return HW_EINVAL;
    for (int i = 0; i < 4; i++) {
        int d = hw_hex_value((unsigned char)r->p[i]);
        if (d < 0)
            return HW_EINVAL;
        *v = *v << 4 | (unsigned)d;
    }
    r->p += 4;
    return 0;
}

/* Appends code point cp: below 0x100 as its byte (see the header), else as UTF-8. */
static int put_cp(struct hw_buf *out, unsigned cp)
{
    unsigned char u[4];
    size_t n;

    if (cp < 0x100) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | cp >> 12);
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | cp >> 18);
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return out ? hw_buf_append(out, u, n) : 0;
}

/* A string at r->p (its opening quote); decoded into out unless out is NULL. */
static int read_str(struct reader *r, struct hw_buf *out)
{
    int err = 0;

    if (r->p >= r->end || *r->p != '"')
        return HW_EINVAL;
    r->p++;
    while (!err) {
        const char *run = r->p;
        unsigned cp, lo;

        while (r->p < r->end && *r->p != '"' && *r->p != '\\' && (unsigned char)*r->p >= 0x20)
            r->p++;
        if (out && r->p > run)
            err = hw_buf_append(out, run, (size_t)(r->p - run));
        if (err || r->p >= r->end || (unsigned char)*r->p < 0x20)
            return err ? err : HW_EINVAL;
        if (*r->p++ == '"')
            return 0;
        if (r->p >= r->end)
            return HW_EINVAL;
        switch (*r->p++) {
        case '"':
            cp = '"';
            break;
        case '\\':
            cp = '\\';
            break;
        case '/':
            cp = '/';
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            if (hex4(r, &cp))
                return HW_EINVAL;
            /* A surrogate pair is one code point; a lone half is refused. */
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u')
                    return HW_EINVAL;
                r->p += 2;
                if (hex4(r, &lo) || lo < 0xdc00 || lo >= 0xe000)
                    return HW_EINVAL;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return HW_EINVAL;
            }
            break;
        default:
            return HW_EINVAL;
        }
        err = put_cp(out, cp);
    }
    return err;
}

static int read_value(struct reader *r, int depth);

/* An object or array at r->p; members skipped. */
static int read_container(struct reader *r, int depth)
{
    char close = *r->p == '{' ? '}' : ']';
    int first = 1;

    if (depth > DEPTH_MAX)
        return HW_EINVAL;
    r->p++;
    for (;;) {
        skip_ws(r);
        if (r->p < r->end && *r->p == close && first) {
            r->p++;
            return 0;
        }
        if (close == '}') {
            if (read_str(r, NULL))
                return HW_EINVAL;
            skip_ws(r);
            if (r->p >= r->end || *r->p++ != ':')
                return HW_EINVAL;
        }
        if (read_value(r, depth + 1))
            return HW_EINVAL;
        skip_ws(r);
        if (r->p >= r->end)
            return HW_EINVAL;
        if (*r->p == close) {
            r->p++;
            return 0;
        }
        if (*r->p++ != ',')
            return HW_EINVAL;
        first = 0;
    }
}

static int read_value(struct reader *r, int depth)
{
    static const char *const words[] = { "true", "false", "null" };

    skip_ws(r);
    if (r->p >= r->end)
        return HW_EINVAL;
    if (*r->p == '"')
        return read_str(r, NULL);
    if (*r->p == '{' || *r->p == '[')
        return read_container(r, depth);
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(r->end - r->p) >= n && memcmp(r->p, words[i], n) == 0) {
            r->p += n;
            return 0;
        }
    }
    /* A number: sign, digits, fraction, exponent; checked loosely but never past its bytes. */
    if (*r->p == '-')
        r->p++;
    if (r->p >= r->end || *r->p < '0' || *r->p > '9')
        return HW_EINVAL;
    while (r->p < r->end && strchr("0123456789.eE+-", *r->p))
        r->p++;
    return 0;
}

int agent_json_get_str(const char *doc, size_t len, const char *key, struct hw_buf *out)
{
    struct reader r = { doc, doc + len }, whole = { doc, doc + len };
    struct hw_buf name;
    int found = 0, err = 0;

    /* The whole document first: a broken one is refused even if the key comes early. */
    skip_ws(&whole);
    if (whole.p >= whole.end || *whole.p != '{' || read_container(&whole, 0))
        return HW_EINVAL;
    skip_ws(&whole);
    if (whole.p != whole.end)
        return HW_EINVAL;
    skip_ws(&r);
    r.p++;
    hw_buf_init(&name, 4096);
    for (;;) {
        skip_ws(&r);
        if (*r.p == '}')
            break;
        hw_buf_reset(&name);
        err = read_str(&r, &name);
        skip_ws(&r);
        r.p++; /* the colon, checked above */
        skip_ws(&r);
        if (!err && hw_buf_size(&name) == strlen(key) &&
            memcmp(hw_buf_head(&name), key, strlen(key)) == 0) {
            err = *r.p == '"' ? read_str(&r, out) : HW_EINVAL;
            found = 1;
            break;
        }
        err = err ? err : read_value(&r, 1);
        skip_ws(&r);
        if (err || *r.p == '}')
            break;
        r.p++; /* the comma */
    }
    hw_buf_cleanup(&name);
    return err ? err : found;
}
