#ifndef HW_STORE_PACK_H
#define HW_STORE_PACK_H

/*
 * Packed live history: the byte format of one pack, the finished live
 * webhooks of one source that one group commit wrote as a single row
 * (docs/store.md, "Packed live history"). A pack is two blobs: meta, a
 * small directory with each webhook's fixed fields and short strings, and
 * data, every webhook's header block and body end to end. Listings read
 * meta only. Pure functions, no allocation on the read side; any thread.
 * The decoder never trusts its input: every length is checked against the
 * blob before it is used.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "store.h"

#define HW_PACK_VERSION 1
/* Webhooks in one pack, at most (a group commit holds at most 1024 appends). */
#define HW_PACK_MAX 4096u
/*
 * The times in a pack's ids span at most this much: a reader that has an
 * id looks for its pack among those whose first id time is within this of
 * it (the pack's id_lo column, indexed), never through an index per event.
 */
#define HW_PACK_SPAN_MS 2000

/* Entry flags: a webhook still in its pack, or one a row now holds (requeued), or purged. */
#define HW_PACK_LIVE  0
#define HW_PACK_MOVED 1
#define HW_PACK_GONE  2

/*
 * A pack being written: meta grows with each hw_pack_add() (owned); data
 * is a list of the webhooks' header blocks and bodies, borrowed from their
 * events (written with pwritev, never copied into a blob of its own).
 */
struct hw_pack_buf {
    unsigned char *meta;
    size_t meta_len, meta_cap;
    struct iovec *iov; /* owned array; what it points at is the events' */
    size_t iov_n, iov_cap;
    size_t data_len; /* the data blob's length: the iov lengths' sum */
    uint32_t n;
    int64_t id_lo, id_hi;             /* times in the ids */
    int64_t received_lo, received_hi; /* received_ms */
    uint32_t delivered, failed;
};

/*
 * One webhook as read from a pack. Strings point into the meta blob and
 * are NUL-terminated there; headers and body are offsets into data.
 */
struct hw_pack_entry {
    uint32_t index;  /* position in the pack: seq = pack seq - n + 1 + index */
    size_t flag_off; /* where the flag byte is in meta (to mark it moved or gone) */
    int flag;        /* HW_PACK_LIVE, HW_PACK_MOVED, HW_PACK_GONE */
    int status;      /* HW_STORE_DELIVERED or HW_STORE_FAILED */
    int verify;
    char id[HW_ID_LEN + 1];
    int64_t received_ms;
    struct hw_store_attempt attempt; /* error points into meta; no excerpt */
    const char *method, *path, *query;
    size_t headers_off, headers_len, body_off, body_len;
};

/* A read position in a pack's blobs (borrowed; they must outlive it). */
struct hw_pack_reader {
    const unsigned char *meta;
    size_t meta_len, data_len, pos, data_pos;
    uint32_t n, next;
};

/*
 * Appends ev, whose id has time id_ms (hw_id_time_ms()), finished with
 * attempt a and status (HW_STORE_DELIVERED or HW_STORE_FAILED; a->error may
 * be NULL), to b. ev's strings must fit the store's caps (the append checked
 * them). Its headers and body are borrowed: they must stay until b is
 * written or reset. Returns 0, HW_EINVAL (bad time or status, pack full) or
 * HW_ENOMEM (b unchanged).
 */
int hw_pack_add(struct hw_pack_buf *b, const struct hw_store_event *ev, int64_t id_ms,
                const struct hw_store_attempt *a, int status);

/*
 * b's data blob in one block (data_len bytes, at least one allocated; free
 * it), for a store that keeps data in its rows. NULL when out of memory.
 */
unsigned char *hw_pack_data(const struct hw_pack_buf *b);

/* Would an id of time id_ms keep b within HW_PACK_SPAN_MS and HW_PACK_MAX? 1 yes, 0 no. */
int hw_pack_fits(const struct hw_pack_buf *b, int64_t id_ms);

/* Frees b's meta and data list and zeroes it. */
void hw_pack_buf_reset(struct hw_pack_buf *b);

/*
 * Starts reading a pack: meta (meta_len bytes) and the length of its data
 * blob. Returns 0 or HW_EIO (not a pack of this version, or a count that
 * meta cannot hold).
 */
int hw_pack_open(struct hw_pack_reader *r, const void *meta, size_t meta_len, size_t data_len);

/*
 * Reads the next entry into *e. Returns 1 (an entry), 0 (no more), or
 * HW_EIO when meta or data is shorter than the entry says, a string lacks
 * its NUL, or a field is out of range; nothing past the blobs is read.
 */
int hw_pack_next(struct hw_pack_reader *r, struct hw_pack_entry *e);

/*
 * The whole event of e with headers and body (data: the pack's data blob)
 * as an owned block (hw_store_event_free()): seq given, status, attempts 1,
 * last status and error, body_sha256 computed here. NULL when out of memory.
 */
struct hw_store_event *hw_pack_event(const struct hw_pack_entry *e, const char *source, int64_t seq,
                                     const unsigned char *data, int full);

#endif
