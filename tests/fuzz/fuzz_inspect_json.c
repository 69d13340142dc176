/*
 * libFuzzer target for agent/inspect_json.c's reader, which takes a browser's
 * edited replay. Looks up a member of the input as a document, requiring
 * that a found string decodes within the input's size (escapes only
 * shrink or keep it, surrogate pairs give 4 bytes for 12), and that
 * writing it back with hw_json_str and reading that again gives the
 * same bytes. Single-threaded, like libFuzzer's calls.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "fuzz_check.h"
#include "inspect_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hw_buf v, doc, again;
    int rc;

    hw_buf_init(&v, 1 << 20);
    rc = agent_json_get_str((const char *)data, size, "headers", &v);
    FUZZ_CHECK(rc == 0 || rc == 1 || rc == HW_EINVAL || rc == HW_E2BIG);
    if (rc == 1) {
        FUZZ_CHECK(hw_buf_size(&v) <= size);
        /* Only bytes below 0x100 round-trip as themselves; the writer works on bytes. */
        hw_buf_init(&doc, 8u << 20);
        hw_buf_init(&again, 1 << 20);
        FUZZ_CHECK(hw_buf_puts(&doc, "{\"headers\":") == 0);
        FUZZ_CHECK(hw_json_str(&doc, hw_buf_head(&v), hw_buf_size(&v), HW_JSON_BYTES) == 0);
        FUZZ_CHECK(hw_buf_puts(&doc, "}") == 0);
        FUZZ_CHECK(agent_json_get_str(hw_buf_head(&doc), hw_buf_size(&doc), "headers", &again) ==
                   1);
        FUZZ_CHECK(hw_buf_size(&again) == hw_buf_size(&v));
        FUZZ_CHECK(memcmp(hw_buf_head(&again), hw_buf_head(&v), hw_buf_size(&v)) == 0);
        hw_buf_cleanup(&doc);
        hw_buf_cleanup(&again);
    }
    hw_buf_cleanup(&v);
    return 0;
}
