/*
 * Unit tests for common/core/resolve.c: addresses in numbers recognised,
 * a name looked up to its addresses (in the resolver's order, without
 * repeats), a name that does not exist, and a lookup the name server holds:
 * a wait with a deadline returns at the deadline, and the caller may drop
 * the lookup before it is done. ctest preloads tests/tools/fake_resolver.c
 * for the names held.test and two.test (the environment below is set
 * before any lookup thread runs).
 */
#include "core/resolve.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/clock.h"

static char gate[256];

static void test_numeric(void)
{
    CHECK_EQ(hw_addr_is_numeric("127.0.0.1"), 1);
    CHECK_EQ(hw_addr_is_numeric("::1"), 1);
    CHECK_EQ(hw_addr_is_numeric("2001:db8::5"), 1);
    CHECK_EQ(hw_addr_is_numeric("localhost"), 0);
    CHECK_EQ(hw_addr_is_numeric("1.2.3"), 0);
    CHECK_EQ(hw_addr_is_numeric("[::1]"), 0);
    CHECK_EQ(hw_addr_is_numeric("fe80::1%eth0"), 1);
    CHECK_EQ(hw_addr_is_numeric("fe80::1%2"), 1);
    CHECK_EQ(hw_addr_is_numeric("fe80::1%"), 0);
    CHECK_EQ(hw_addr_is_numeric("%eth0"), 0);
    CHECK_EQ(hw_addr_is_numeric("127.0.0.1%eth0"), 0);
    CHECK_EQ(hw_addr_is_numeric(
                 "fe80::1%a-scope-longer-than-any-interface-name-could-ever-be-xxxxxxxxx"),
             0);
    CHECK_EQ(hw_addr_is_numeric(""), 0);
}

static void test_lookup(void)
{
    struct hw_resolve *q = hw_resolve_start("localhost");
    struct hw_addrs a;
    int gai = -1, found = 0;

    CHECK(q != NULL);
    CHECK_EQ(hw_resolve_wait(q, hw_mono_ms() + 10000, &a, &gai), 1);
    CHECK_EQ(gai, 0);
    CHECK(a.n >= 1);
    for (size_t i = 0; i < a.n; i++)
        found |= strcmp(a.a[i], "127.0.0.1") == 0 || strcmp(a.a[i], "::1") == 0;
    CHECK(found);
    /* Done stays done: a poll gives the same answer. */
    CHECK_EQ(hw_resolve_poll(q, &a, &gai), 1);
    CHECK_EQ(gai, 0);
    hw_resolve_drop(q);

    /* The resolver's order, each address once. */
    q = hw_resolve_start("two.test");
    CHECK_EQ(hw_resolve_wait(q, hw_mono_ms() + 10000, &a, &gai), 1);
    CHECK_EQ(gai, 0);
    CHECK_EQ(a.n, 2);
    CHECK_STR(a.a[0], "127.0.0.3");
    CHECK_STR(a.a[1], "127.0.0.1");
    hw_resolve_drop(q);

    q = hw_resolve_start("nosuch.invalid");
    CHECK_EQ(hw_resolve_wait(q, hw_mono_ms() + 30000, &a, &gai), 1);
    CHECK(gai != 0);
    hw_resolve_drop(q);
}

static void test_held(void)
{
    struct hw_resolve *dropped = hw_resolve_start("held.test"), *q = hw_resolve_start("held.test");
    struct hw_resolve *more[HW_RESOLVE_RUNNING_MAX];
    int64_t t0 = hw_mono_ms();
    struct hw_addrs a;
    char entered[300];
    int gai = -1;
    FILE *f;

    CHECK(dropped && q);
    /* The name server does not answer: the wait ends at its deadline, not done. */
    CHECK_EQ(hw_resolve_wait(q, t0 + 200, &a, &gai), 0);
    CHECK(hw_mono_ms() >= t0 + 200);
    CHECK_EQ(hw_resolve_poll(q, &a, &gai), 0);
    CHECK_EQ(gai, -1);
    /* Given up before it is done: its thread frees it when the answer comes. */
    hw_resolve_drop(dropped);
    /* Lookups that hang keep their threads: past HW_RESOLVE_RUNNING_MAX none starts. */
    for (int i = 0; i < HW_RESOLVE_RUNNING_MAX - 2; i++) {
        more[i] = hw_resolve_start("held.test");
        CHECK(more[i] != NULL);
    }
    errno = 0;
    CHECK(hw_resolve_start("localhost") == NULL);
    CHECK_EQ(errno, EAGAIN);
    f = fopen(gate, "w");
    CHECK(f != NULL);
    fclose(f);
    CHECK_EQ(hw_resolve_wait(q, hw_mono_ms() + 10000, &a, &gai), 1);
    CHECK_EQ(gai, 0);
    CHECK_EQ(a.n, 1);
    CHECK_STR(a.a[0], "127.0.0.1");
    hw_resolve_drop(q);
    for (int i = 0; i < HW_RESOLVE_RUNNING_MAX - 2; i++) {
        CHECK_EQ(hw_resolve_wait(more[i], hw_mono_ms() + 10000, &a, &gai), 1);
        hw_resolve_drop(more[i]);
    }
    /* Their threads end just after their answers: lookups start again. */
    for (int64_t until = hw_mono_ms() + 10000; !(q = hw_resolve_start("localhost"));)
        CHECK(hw_mono_ms() < until);
    CHECK_EQ(hw_resolve_wait(q, hw_mono_ms() + 10000, &a, &gai), 1);
    hw_resolve_drop(q);
    remove(gate);
    snprintf(entered, sizeof(entered), "%s.entered", gate);
    remove(entered);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");

    fprintf(stderr, "test_resolve\n");
    snprintf(gate, sizeof(gate), "%s/hw-resolve-gate-%d", tmp ? tmp : "/tmp", (int)getpid());
    remove(gate);
    /* Set before any lookup thread reads them. */
    setenv("HW_FAKE_NAME", "two.test", 1);
    setenv("HW_FAKE_ANSWER", "127.0.0.3 127.0.0.1 127.0.0.3", 1);
    RUN(test_numeric);
    RUN(test_lookup);
    /* The previous lookups' threads are done: every wait above saw its answer. */
    setenv("HW_FAKE_NAME", "held.test", 1);
    unsetenv("HW_FAKE_ANSWER");
    setenv("HW_FAKE_GATE", gate, 1);
    RUN(test_held);
    return 0;
}
