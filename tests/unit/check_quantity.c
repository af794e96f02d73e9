#include "config.h"

#include "check_run.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quantity.h"

static int64_t mem(const char *s)
{
    int64_t v = -42;
    return cass_quantity_memory(s, &v) == 0 ? v : -1;
}

static int64_t cpus(const char *s)
{
    int64_t v = -42;
    return cass_quantity_cpus(s, &v) == 0 ? v : -1;
}

static int64_t dur(const char *s)
{
    int64_t v = -42;
    return cass_quantity_duration(s, &v) == 0 ? v : -1;
}

START_TEST(memory_forms)
{
    ck_assert_int_eq(mem("0"), 0);
    ck_assert_int_eq(mem("1073741824"), 1073741824LL);
    ck_assert_int_eq(mem("512Mi"), 512LL << 20);
    ck_assert_int_eq(mem("2Gi"), 2LL << 30);
    ck_assert_int_eq(mem("1G"), 1000000000LL);
    ck_assert_int_eq(mem("1.5Gi"), 1610612736LL);
    ck_assert_int_eq(mem("100k"), 100000);
    ck_assert_int_eq(mem("100K"), 100000);
    ck_assert_int_eq(mem("1Ki"), 1024);
    ck_assert_int_eq(mem("1Ti"), 1LL << 40);
    ck_assert_int_eq(mem("1Pi"), 1LL << 50);
    ck_assert_int_eq(mem("7Ei"), 7LL << 60);
    ck_assert_int_eq(mem("1T"), 1000000000000LL);
    ck_assert_int_eq(mem("1P"), 1000000000000000LL);
    ck_assert_int_eq(mem("9E"), 9000000000000000000LL);
    /* rounded up to a whole byte */
    ck_assert_int_eq(mem("0.5"), 1);
    ck_assert_int_eq(mem("1.001k"), 1001);
    ck_assert_int_eq(mem("1.0001k"), 1001);
    ck_assert_int_eq(mem("0.1Ki"), 103);
    ck_assert_int_eq(mem("9223372036854775807"), INT64_MAX);
}
END_TEST

START_TEST(memory_refused)
{
    static const char *bad[] = {
        "",    "-1",   "+1",
        "1GB", "1Gb",  "1 Gi",
        " 1",  "1gi",  "1g",
        "Gi",  ".5Gi", "1.Gi",
        "1e3", "0x10", "1Gi ",
        "8Ei", "10E",  "9223372036854775808",
        "abc", "1Mi1", "1.0000000000000000001",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v = 42;
        ck_assert_msg(cass_quantity_memory(bad[i], &v) == -1, "accepted %s", bad[i]);
        ck_assert_int_eq(v, 42); /* untouched on failure */
    }
    ck_assert_int_eq(mem("1.5"), 2);
    ck_assert_int_eq(cass_quantity_memory(NULL, &(int64_t){0}), -1);
}
END_TEST

START_TEST(cpus_forms)
{
    ck_assert_int_eq(cpus("1.5"), 1500);
    ck_assert_int_eq(cpus("2"), 2000);
    ck_assert_int_eq(cpus("0"), 0);
    ck_assert_int_eq(cpus("500m"), 500);
    ck_assert_int_eq(cpus("0.25"), 250);
    ck_assert_int_eq(cpus("0.001"), 1);
    ck_assert_int_eq(cpus("1.5000"), 1500); /* trailing zeros add no precision */
    ck_assert_int_eq(cpus("1m"), 1);
    ck_assert_int_eq(cpus("9223372036854775807m"), INT64_MAX);
}
END_TEST

START_TEST(cpus_refused)
{
    static const char *bad[] = {"",
                                "-1",
                                "0.0005",
                                "1.2345",
                                "0.5m",
                                "1e3",
                                "m",
                                "1 m",
                                "1M",
                                "1.",
                                ".5",
                                "abc",
                                "2cpu",
                                "+1",
                                "1,5",
                                "9223372036854775808m",
                                "9223372036854775808"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(cpus(bad[i]) == -1, "accepted %s", bad[i]);
}
END_TEST

START_TEST(duration_forms)
{
    ck_assert_int_eq(dur("90"), 90);
    ck_assert_int_eq(dur("0"), 0);
    ck_assert_int_eq(dur("90s"), 90);
    ck_assert_int_eq(dur("1h30m"), 5400);
    ck_assert_int_eq(dur("2h"), 7200);
    ck_assert_int_eq(dur("45m"), 2700);
    ck_assert_int_eq(dur("500ms"), 1); /* rounded up */
    ck_assert_int_eq(dur("1000ms"), 1);
    ck_assert_int_eq(dur("1001ms"), 2);
    ck_assert_int_eq(dur("1d"), 86400);
    ck_assert_int_eq(dur("1d2h3m4s5ms"), 86400 + 7200 + 180 + 4 + 1);
    ck_assert_int_eq(dur("90m"), 5400); /* no carry rules: 90m is fine */
}
END_TEST

START_TEST(duration_refused)
{
    static const char *bad[] = {"",
                                "-1",
                                "1x",
                                "h",
                                "1h1h",
                                "30m1h",
                                "1.5h",
                                "1 h",
                                "1H",
                                "1h 2m",
                                "ms1",
                                "1s5m",
                                "+1",
                                "1e3",
                                "1hm",
                                "9223372036854775808",
                                "106751991167301d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(dur(bad[i]) == -1, "accepted %s", bad[i]);
    ck_assert_int_eq(dur("9223372036854775807"), INT64_MAX);
}
END_TEST

START_TEST(forms_text)
{
    ck_assert_ptr_nonnull(strstr(cass_quantity_memory_forms, "Gi"));
    ck_assert_ptr_nonnull(strstr(cass_quantity_cpus_forms, "500m"));
    ck_assert_ptr_nonnull(strstr(cass_quantity_duration_forms, "1h30m"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("quantity");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, memory_forms);
    tcase_add_test(tc, memory_refused);
    tcase_add_test(tc, cpus_forms);
    tcase_add_test(tc, cpus_refused);
    tcase_add_test(tc, duration_forms);
    tcase_add_test(tc, duration_refused);
    tcase_add_test(tc, forms_text);
    suite_add_tcase(s, tc);
    return cass_check_run(s);
}
