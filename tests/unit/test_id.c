/*
 * Tests for common/core/id.c: the time part against the ULID specification's
 * example, sort order by time, randomness of the rest, and validation; then
 * ids from the real clock: format (length 30, prefix, alphabet), the 48-bit
 * time they carry, uniqueness over 100k ids and ordering of ids created at
 * least 2 ms apart. Single-threaded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/id.h"

#define MANY 100000

static const char crockford[] = "0123456789abcdefghjkmnpqrstvwxyz";

/* The ULID reference implementation encodes 1469918176385 ms as "01ARYZ6S41". */
static void test_time_encoding(void)
{
    char id[HW_ID_LEN + 1];

    hw_id_new_at(id, 1469918176385ull);
    CHECK_EQ(strlen(id), HW_ID_LEN);
    CHECK(strncmp(id, "evt_01aryz6s41", 14) == 0);
    CHECK(hw_id_valid(id));
}

static void test_sorts_by_time(void)
{
    char a[HW_ID_LEN + 1], b[HW_ID_LEN + 1], c[HW_ID_LEN + 1];

    hw_id_new_at(a, 1000);
    hw_id_new_at(b, 1001);
    hw_id_new_at(c, (1ull << 48) - 1);
    CHECK(strcmp(a, b) < 0);
    CHECK(strcmp(b, c) < 0);
    CHECK(strncmp(c, "evt_7zzzzzzzzz", 14) == 0);
}

static void test_random_part_differs(void)
{
    char a[HW_ID_LEN + 1], b[HW_ID_LEN + 1];

    hw_id_new_at(a, 42);
    hw_id_new_at(b, 42);
    CHECK(strncmp(a, b, 14) == 0);
    CHECK(strcmp(a + 14, b + 14) != 0);
    hw_id_new(a);
    CHECK(hw_id_valid(a));
}

static void test_validation(void)
{
    CHECK(hw_id_valid("evt_01ARYZ6S41TSV4RRFFQ69G5FAV"));
    CHECK(!hw_id_valid("evt_01aryz6s41tsv4rrffq69g5fa"));   /* short */
    CHECK(!hw_id_valid("evt_01aryz6s41tsv4rrffq69g5fav0")); /* long */
    CHECK(!hw_id_valid("evx_01aryz6s41tsv4rrffq69g5fav"));  /* prefix */
    CHECK(!hw_id_valid("evt_81aryz6s41tsv4rrffq69g5fav"));  /* past 48 bits */
    CHECK(!hw_id_valid("evt_01aryz6s41tsv4rrffq69g5fau"));  /* 'u' is not a digit */
    CHECK(!hw_id_valid(""));
    CHECK(!hw_id_valid("evt_01aryz6s41tsv4rrffq69g5fai")); /* nor 'i', 'l', 'o' */
    CHECK(!hw_id_valid("evt_01aryz6s41tsv4rrffq69g5f-v"));
    CHECK(!hw_id_valid("evt_01aryz6s41tsv4rrffq69g5f\xe1v"));
}

/* The time back from an id: the ULID spec's example, each case, the largest, and refusals. */
static void test_time_back(void)
{
    char id[HW_ID_LEN + 1];

    CHECK_EQ(hw_id_time_ms("evt_01ARYZ6S41TSV4RRFFQ69G5FAV"), 1469918176385);
    CHECK_EQ(hw_id_time_ms("evt_01aryz6s41tsv4rrffq69g5fav"), 1469918176385);
    hw_id_new_at(id, 0xffffffffffffull);
    CHECK_EQ(hw_id_time_ms(id), 0xffffffffffffll);
    hw_id_new_at(id, 1700000000123);
    CHECK_EQ(hw_id_time_ms(id), 1700000000123);
    CHECK_EQ(hw_id_time_ms("evt_81aryz6s41tsv4rrffq69g5fav"), -1);
    CHECK_EQ(hw_id_time_ms("evt_01aryz6s41tsv4rrffq69g5fa"), -1);
    CHECK_EQ(hw_id_time_ms("evt_01aryz6s41tsv4rrffq69g5fav0"), -1);
    CHECK_EQ(hw_id_time_ms("evt_01aryz6s4Ltsv4rrffq69g5fav"), -1);
    CHECK_EQ(hw_id_time_ms(NULL), -1);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    CHECK_EQ(clock_gettime(CLOCK_REALTIME, &ts), 0);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned digit_value(char c)
{
    const char *p = strchr(crockford, c);

    CHECK(c != '\0' && p != NULL);
    return (unsigned)(p - crockford);
}

static void check_format(const char *id)
{
    CHECK_EQ(strlen(id), 30);
    CHECK_MEM(id, "evt_", 4);
    for (size_t i = 4; i < 30; i++)
        CHECK(id[i] != '\0' && strchr(crockford, id[i]) != NULL);
    /* 128 bits in 26 digits: the first digit holds only the top 3 bits. */
    CHECK(digit_value(id[4]) < 8);
    CHECK(hw_id_valid(id));
}

/* The time prefix: the first 10 digits hold exactly 3 + 9 * 5 = 48 bits. */
static uint64_t id_time(const char *id)
{
    uint64_t t = 0;

    for (size_t i = 4; i < 14; i++)
        t = (t << 5) | digit_value(id[i]);
    return t;
}

static void test_time_round_trip(void)
{
    static const uint64_t times[] = {
        0, 1, 31, 32, 1469918176385ull, 1732838400123ull, (1ull << 47) + 12345, (1ull << 48) - 1
    };
    char id[HW_ID_LEN + 1];

    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        hw_id_new_at(id, times[i]);
        check_format(id);
        CHECK(id_time(id) == times[i]);
    }
}

static void test_clock_ids(void)
{
    char id[HW_ID_LEN + 1];

    for (int i = 0; i < 1000; i++) {
        uint64_t before, after;

        memset(id, '#', sizeof(id));
        before = now_ms();
        hw_id_new(id);
        after = now_ms();
        CHECK_EQ(id[HW_ID_LEN], '\0');
        check_format(id);
        CHECK(id_time(id) >= before && id_time(id) <= after);
    }
}

static int cmp_ids(const void *a, const void *b)
{
    return memcmp(a, b, HW_ID_LEN);
}

/* Ids made one after another never repeat, and their time prefixes never go back. */
static void test_unique(void)
{
    char(*ids)[HW_ID_LEN + 1] = malloc((size_t)MANY * sizeof(*ids));
    size_t same_ms = 0;

    CHECK(ids != NULL);
    for (size_t i = 0; i < MANY; i++) {
        hw_id_new(ids[i]);
        check_format(ids[i]);
        if (i) {
            CHECK(id_time(ids[i]) >= id_time(ids[i - 1]));
            if (id_time(ids[i]) == id_time(ids[i - 1]))
                same_ms++;
        }
    }
    /* Many ids share a millisecond, so uniqueness rests on the random part. */
    CHECK(same_ms > 0);
    qsort(ids, MANY, sizeof(ids[0]), cmp_ids);
    for (size_t i = 1; i < MANY; i++)
        CHECK(memcmp(ids[i - 1], ids[i], HW_ID_LEN) != 0);
    /* The last 16 digits are the 80 random bits: each takes every value. */
    for (size_t pos = 14; pos < HW_ID_LEN; pos++) {
        unsigned seen = 0;

        for (size_t i = 0; i < MANY; i++)
            seen |= 1u << digit_value(ids[i][pos]);
        CHECK_EQ(seen, 0xffffffffu);
    }
    free(ids);
}

/* Waits, by polling the clock, until at least ms milliseconds have passed. */
static void wait_ms(uint64_t ms)
{
    uint64_t start = now_ms(), deadline = start + 10000;
    uint64_t t;

    do {
        t = now_ms();
        CHECK(t < deadline);
    } while (t < start + ms);
}

/* Ids created at least 2 ms apart sort in creation order, as plain strings. */
static void test_time_ordering(void)
{
    char prev[HW_ID_LEN + 1], next[HW_ID_LEN + 1];

    hw_id_new(prev);
    for (int i = 0; i < 50; i++) {
        wait_ms(2);
        hw_id_new(next);
        CHECK(strcmp(prev, next) < 0);
        CHECK(id_time(next) >= id_time(prev) + 2);
        memcpy(prev, next, sizeof(prev));
    }
}

/*
 * A process that forks after making an id must not share its random stream
 * with the child: both would then make the same ids (ids are drawn from a
 * per-thread pool of random bytes).
 */
static void test_fork_differs(void)
{
    char parent[HW_ID_LEN + 1], child[HW_ID_LEN + 1], mine[HW_ID_LEN + 1];
    int fd[2], status;
    pid_t pid;

    hw_id_new_at(parent, 1700000000000ull); /* fills this thread's pool */
    CHECK_EQ(pipe(fd), 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        hw_id_new_at(child, 1700000000000ull);
        _exit(write(fd[1], child, sizeof(child)) == (ssize_t)sizeof(child) ? 0 : 1);
    }
    hw_id_new_at(mine, 1700000000000ull);
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(read(fd[0], child, sizeof(child)), (ssize_t)sizeof(child));
    close(fd[0]);
    close(fd[1]);
    CHECK(strcmp(child, mine) != 0);
}

int main(void)
{
    fprintf(stderr, "test_id\n");
    RUN(test_time_encoding);
    RUN(test_sorts_by_time);
    RUN(test_random_part_differs);
    RUN(test_validation);
    RUN(test_time_back);
    RUN(test_time_round_trip);
    RUN(test_clock_ids);
    RUN(test_unique);
    RUN(test_time_ordering);
    RUN(test_fork_differs);
    return 0;
}
