#ifndef HW_FUZZ_CHECK_H
#define HW_FUZZ_CHECK_H

/*
 * What every libFuzzer target here shares: the entry point's prototype and
 * FUZZ_CHECK, the unit tests' CHECK (it prints file:line and the expression
 * of a broken property and aborts, so libFuzzer keeps the input as a
 * crash). Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>

#include "../unit/check.h"

#define FUZZ_CHECK(expr) CHECK(expr)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
