/*
 * hw_strerror(): one table from HW_E* codes to text, falling back to
 * strerror() for the negative errno values that functions pass through.
 * Any thread.
 */
#include "err.h"

#include <string.h>

static const struct {
    int code;
    const char *text;
} hw_errors[] = {
    { HW_OK, "success" },
    { HW_EAGAIN, "incomplete input" },
    { HW_EPARSE, "malformed input" },
    { HW_E2BIG, "input too large" },
    { HW_ENOMEM, "out of memory" },
    { HW_EINVAL, "invalid argument" },
    { HW_ENOTFOUND, "not found" },
    { HW_EEXIST, "already exists" },
    { HW_EUNAVAIL, "service unavailable" },
    { HW_EPROTO, "protocol violation" },
    { HW_EVERSION, "unsupported version" },
    { HW_ECONFIG, "invalid configuration" },
    { HW_EIO, "I/O error" },
    { HW_EAUTH, "authentication failed" },
    { HW_EFULL, "queue full" },
    { HW_ELEASE, "leased to another process" },
};

const char *hw_strerror(int err)
{
    for (size_t i = 0; i < sizeof(hw_errors) / sizeof(hw_errors[0]); i++)
        if (hw_errors[i].code == err)
            return hw_errors[i].text;
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}
