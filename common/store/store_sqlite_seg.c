/*
 * SQLite: the files that hold packed live history's data (schema 12,
 * docs/store.md, "Pack data files"). A pack's headers and bodies are
 * written once, to the end of the newest numbered file in PATH-packs/,
 * and its row keeps (seg, seg_off, seg_len); a row in the database would
 * write them twice (the WAL, then the database file at checkpoint).
 * Files are only appended to and removed whole, once no pack refers to
 * them and a newer one exists. Called under the handle's lock, inside
 * the write transaction that commits the pack (a writer in another
 * process waits for that lock, so two never append at once).
 */
#include "store_sqlite_seg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"

/* A file takes no new pack once it is this large (a pack may take it past). */
#define SEG_ROLL_BYTES (64ll << 20)
/* "%08lld.seg": numbers from 1; more digits only past 99,999,999 files. */
#define SEG_NAME_MAX 32
/* Pieces per pwritev (Linux takes up to 1024). */
#define SEG_IOV 1024
/*
 * Bytes per pwritev. A kernel without preemption finishes a write before
 * any other thread gets the core; in 32 KiB steps a thread that wakes
 * waits for one step, not for the whole pack (docs/decisions.md, "The
 * relay's store thread runs only on idle time").
 */
#define SEG_STEP (32u * 1024u)

int hw_lite_seg_init(struct hw_lite_seg *g, const char *db_path)
{
    size_t n = db_path ? strlen(db_path) : 0;

    memset(g, 0, sizeof(*g));
    g->fd = -1;
    /* A store without a file (or a path too long to name files under): data stays in its rows. */
    if (!n || n > 4000)
        return 0;
    g->dir = malloc(n + sizeof("-packs"));
    if (!g->dir)
        return HW_ENOMEM;
    memcpy(g->dir, db_path, n);
    memcpy(g->dir + n, "-packs", sizeof("-packs"));
    return 0;
}

void hw_lite_seg_close(struct hw_lite_seg *g)
{
    if (g->fd >= 0)
        close(g->fd);
    free(g->dir);
    memset(g, 0, sizeof(*g));
    g->fd = -1;
}

/* g's path of file num in buf (cap bytes). */
static void seg_path(const struct hw_lite_seg *g, int64_t num, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%08lld.seg", g->dir, (long long)num);
}

/* A file name's number, or -1 for a name that is not one of ours. */
static int64_t seg_num(const char *name)
{
    int64_t v = 0;
    size_t i = 0;

    for (; name[i] >= '0' && name[i] <= '9' && i < 18; i++)
        v = v * 10 + (name[i] - '0');
    return i >= 8 && strcmp(name + i, ".seg") == 0 && v > 0 ? v : -1;
}

/*
 * Calls fn(g, num, arg) for each file in the folder; *newest gets the
 * highest number (0: none). Returns 0, or -errno (ENOENT: no folder yet).
 */
static int seg_scan(const struct hw_lite_seg *g, int64_t *newest,
                    void (*fn)(const struct hw_lite_seg *, int64_t, void *), void *arg)
{
    DIR *d = opendir(g->dir);
    struct dirent *e;

    *newest = 0;
    if (!d)
        return -errno;
    while ((e = readdir(d)) != NULL) {
        int64_t num = seg_num(e->d_name);

        if (num > *newest)
            *newest = num;
        if (num > 0 && fn)
            fn(g, num, arg);
    }
    closedir(d);
    return 0;
}

/* Opens file num for appending (created if absent) as g's current file. */
static int seg_open(struct hw_lite_seg *g, int64_t num)
{
    char path[4096 + SEG_NAME_MAX];

    seg_path(g, num, path, sizeof(path));
    if (g->fd >= 0)
        close(g->fd);
    g->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (g->fd < 0) {
        int err = -errno;

        HW_ERR("store: cannot open %s: %s", path, strerror(errno));
        return err;
    }
    g->num = num;
    return 0;
}

/* Makes g's current file the newest one, with room; *size gets its length. */
static int seg_current(struct hw_lite_seg *g, off_t *size)
{
    char next[4096 + SEG_NAME_MAX];
    struct stat st;
    int64_t newest;
    int err;

    for (int tries = 0; tries < 4; tries++) {
        if (g->fd < 0) {
            err = seg_scan(g, &newest, NULL, NULL);
            if (err == -ENOENT && mkdir(g->dir, 0700) != 0 && errno != EEXIST)
                err = -errno;
            else if (err == -ENOENT)
                err = 0;
            if (err) {
                HW_ERR("store: cannot use the folder %s: %s", g->dir, strerror(-err));
                return err;
            }
            err = seg_open(g, newest ? newest : 1);
            if (err)
                return err;
        }
        if (fstat(g->fd, &st) != 0)
            return -errno;
        /* Another process went on to a newer file, or removed ours: follow. */
        seg_path(g, g->num + 1, next, sizeof(next));
        if (st.st_nlink == 0 || access(next, F_OK) == 0) {
            close(g->fd);
            g->fd = -1;
            continue;
        }
        if (st.st_size >= SEG_ROLL_BYTES) {
            err = seg_open(g, g->num + 1);
            if (err)
                return err;
            continue;
        }
        *size = st.st_size;
        return 0;
    }
    return HW_EIO;
}

/*
 * Fills part with up to SEG_IOV of the pieces still to write, from iov[i]
 * skip bytes in, and no more than want bytes in all. Returns how many.
 */
static int pieces(const struct iovec *iov, size_t iovcnt, size_t i, size_t skip, size_t want,
                  struct iovec *part)
{
    int k = 0;

    for (; i < iovcnt && k < SEG_IOV && want; i++, skip = 0) {
        size_t len = iov[i].iov_len - skip < want ? iov[i].iov_len - skip : want;

        part[k++] = (struct iovec){ .iov_base = (char *)iov[i].iov_base + skip, .iov_len = len };
        want -= len;
    }
    return k;
}

int hw_lite_seg_append(struct hw_lite_seg *g, const struct iovec *iov, size_t iovcnt, size_t n,
                       int64_t *num, int64_t *off)
{
    struct iovec part[SEG_IOV];
    off_t at = 0;
    size_t done = 0, i = 0, skip = 0;
    int err = seg_current(g, &at);

    if (err)
        return err;
    while (done < n) {
        int k = pieces(iov, iovcnt, i, skip, n - done < SEG_STEP ? n - done : SEG_STEP, part);
        ssize_t w = pwritev(g->fd, part, k, at + (off_t)done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = w < 0 ? -errno : HW_EIO;
            HW_ERR("store: cannot write pack data to %s/%08lld.seg: %s", g->dir, (long long)g->num,
                   hw_strerror(err));
            /* What was written is not referenced: cut it off, or leave it to the file's removal. */
            if (ftruncate(g->fd, at) != 0)
                HW_WARN("store: cannot cut %s/%08lld.seg back: %s", g->dir, (long long)g->num,
                        strerror(errno));
            return err;
        }
        done += (size_t)w;
        /* Step over what went: whole pieces, then into the first one left. */
        for (size_t left = (size_t)w; left && i < iovcnt;) {
            size_t rest = iov[i].iov_len - skip;

            if (left < rest) {
                skip += left;
                left = 0;
            } else {
                left -= rest;
                i++;
                skip = 0;
            }
        }
    }
    *num = g->num;
    *off = (int64_t)at;
    return 0;
}

int hw_lite_seg_read(const struct hw_lite_seg *g, int64_t num, int64_t off, void *buf, size_t n)
{
    char path[4096 + SEG_NAME_MAX];
    size_t done = 0;
    int fd, err = 0;

    if (!g->dir || num <= 0 || off < 0)
        return HW_EIO;
    seg_path(g, num, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        HW_WARN("store: pack data %s: %s", path, strerror(errno));
        return HW_EIO;
    }
    while (!err && done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)off + (off_t)done);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            /* Short: the bytes never reached the disk (an OS crash after an unsynced commit). */
            HW_WARN("store: pack data %s: %zu bytes at %lld: %s", path, n, (long long)off,
                    r < 0 ? strerror(errno) : "past the end of the file");
            err = HW_EIO;
        } else {
            done += (size_t)r;
        }
    }
    close(fd);
    return err;
}

/* Removes file num when it is numbered below *(int64_t *)below. */
static void reclaim_one(const struct hw_lite_seg *g, int64_t num, void *below)
{
    char path[4096 + SEG_NAME_MAX];

    if (num >= *(const int64_t *)below)
        return;
    seg_path(g, num, path, sizeof(path));
    if (unlink(path) != 0 && errno != ENOENT)
        HW_WARN("store: cannot remove %s: %s", path, strerror(errno));
}

void hw_lite_seg_reclaim(const struct hw_lite_seg *g, int64_t lowest)
{
    int64_t newest, below;

    if (!g->dir || seg_scan(g, &newest, NULL, NULL) != 0)
        return;
    /* The newest file stays, referenced or not: a writer may be about to append to it. */
    below = lowest > 0 && lowest < newest ? lowest : newest;
    seg_scan(g, &newest, reclaim_one, &below);
}
