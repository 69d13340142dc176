#ifndef HW_ERR_H
#define HW_ERR_H

/*
 * Error codes returned by common/ functions: 0 for success, a negative HW_E*
 * code, or a negative errno passed through from the system. The HW_E* values
 * start far above any errno so the two ranges never meet.
 */
enum hw_err {
    HW_OK = 0,
    HW_EAGAIN = -10001,    /* need more input */
    HW_EPARSE = -10002,    /* malformed input */
    HW_E2BIG = -10003,     /* input exceeds a configured cap */
    HW_ENOMEM = -10004,    /* allocation failed */
    HW_EINVAL = -10005,    /* bad argument or configuration value */
    HW_ENOTFOUND = -10006, /* no such item */
    HW_EEXIST = -10007,    /* item already exists */
    HW_EUNAVAIL = -10008,  /* backing service unavailable (retry later) */
    HW_EPROTO = -10009,    /* peer violated the tunnel protocol */
    HW_EVERSION = -10010,  /* unsupported version */
    HW_ECONFIG = -10011,   /* invalid configuration */
    HW_EIO = -10012,       /* storage or I/O failure */
    HW_EAUTH = -10013,     /* authentication failed */
    HW_EFULL = -10014,     /* queue or window is full */
    HW_ELEASE = -10015,    /* another process holds the event's lease */
};

/*
 * Returns a static, human-readable text for any code returned by common/,
 * HW_E* or -errno. Never NULL. Any thread.
 */
const char *hw_strerror(int err);

#endif
