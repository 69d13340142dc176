/*
 * libFuzzer target for the packed history reader (store/store_pack.h). The
 * input splits at its first byte into a meta blob and a data blob, each
 * copied to a heap block of its exact size; every entry the reader accepts
 * must lie inside both, and its event must build (headers and body read,
 * SHA-256 taken) without reading past them.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "fuzz_check.h"
#include "store/store_pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t split, mlen, dlen;
    unsigned char *meta, *blob;
    struct hw_pack_reader r;
    struct hw_pack_entry e;
    int got;

    if (size < 1)
        return 0;
    split = 1 + (size_t)data[0] * (size - 1) / 256;
    mlen = split - 1;
    dlen = size - split;
    meta = malloc(mlen ? mlen : 1);
    blob = malloc(dlen ? dlen : 1);
    FUZZ_CHECK(meta && blob);
    memcpy(meta, data + 1, mlen);
    memcpy(blob, data + split, dlen);
    got = hw_pack_open(&r, meta, mlen, dlen);
    while (got == 0 && (got = hw_pack_next(&r, &e)) == 1) {
        struct hw_store_event *ev;

        FUZZ_CHECK(e.headers_off + e.headers_len <= dlen && e.body_off + e.body_len <= dlen);
        FUZZ_CHECK((const unsigned char *)e.attempt.error < meta + mlen);
        ev = hw_pack_event(&e, "src", 1, blob, 1);
        FUZZ_CHECK(ev != NULL);
        FUZZ_CHECK(ev->body_len == e.body_len && strlen(ev->path) <= mlen);
        hw_store_event_free(ev);
        got = 0;
    }
    FUZZ_CHECK(got == 0 || got == HW_EIO);
    free(meta);
    free(blob);
    return 0;
}
