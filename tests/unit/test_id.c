/*
 * Tests for common/id.c: the time part against the ULID specification's
 * example, sort order by time, randomness of the rest, and validation.
 */
#include <string.h>

#include "check.h"
#include "id.h"

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
}

int main(void)
{
    RUN(test_time_encoding);
    RUN(test_sorts_by_time);
    RUN(test_random_part_differs);
    RUN(test_validation);
    return 0;
}
