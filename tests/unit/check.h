#ifndef HW_CHECK_H
#define HW_CHECK_H

/*
 * Tiny assertion helpers for the unit tests (after libuv's test/task.h):
 * a failed check prints file:line and the expression, then aborts, so ctest
 * reports the test as failed and a sanitizer build shows the stack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(expr)                                                                  \
    do {                                                                             \
        if (!(expr)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

#define CHECK_EQ(a, b)                                                                            \
    do {                                                                                          \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                           \
        if (check_a_ != check_b_) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, \
                    #a, #b, check_a_, check_b_);                                                  \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

#define CHECK_STR(a, b)                                                                     \
    do {                                                                                    \
        const char *check_a_ = (a), *check_b_ = (b);                                        \
        if (strcmp(check_a_, check_b_) != 0) {                                              \
            fprintf(stderr, "%s:%d: check failed: %s == %s (\"%s\" != \"%s\")\n", __FILE__, \
                    __LINE__, #a, #b, check_a_, check_b_);                                  \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

/* Runs one test function and prints its name, so a failure is easy to place. */
#define RUN(fn)                         \
    do {                                \
        fprintf(stderr, "  %s\n", #fn); \
        fn();                           \
    } while (0)

#endif
