#ifndef HW_FUZZ_CHECK_H
#define HW_FUZZ_CHECK_H

/*
 * What every libFuzzer target here shares: the entry point's prototype and
 * FUZZ_CHECK, which prints file:line and the expression of a broken property
 * and aborts, so libFuzzer keeps the input as a crash. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(expr)                                                             \
    do {                                                                             \
        if (!(expr)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
