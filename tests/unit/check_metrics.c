#include "config.h"

#include "check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "metrics.h"

/* What cass_metrics_write writes now. Caller owns. */
static char *written(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    cass_metrics_write(f);
    fclose(f);
    return text;
}

START_TEST(counter_by_labels)
{
    cass_metrics_reset();
    cass_metric_add(CASS_M_API_REQUESTS, 1, "/v1/specs", "POST", "202");
    cass_metric_add(CASS_M_API_REQUESTS, 2, "/v1/specs", "POST", "202");
    cass_metric_add(CASS_M_API_REQUESTS, 1, "/v1/specs", "POST", "403");
    cass_metric_add(CASS_M_API_REQUESTS, -5, "/v1/specs", "POST", "403"); /* never down */
    _cleanup_free_ char *t = written();
    ck_assert_ptr_nonnull(
        strstr(t, "# TYPE cassiny_api_requests_total counter\n"
                  "cassiny_api_requests_total{route=\"/v1/specs\",method=\"POST\",code=\"202\"} 3\n"
                  "cassiny_api_requests_total{route=\"/v1/specs\",method=\"POST\",code=\"403\"} "
                  "1\n"));
    /* A family without labels is there from the start, at 0. */
    ck_assert_ptr_nonnull(strstr(t, "\ncassiny_notebooks_culled_total 0\n"));
    /* Families never counted are not written. */
    ck_assert_ptr_null(strstr(t, "cassiny_gateway_requests_total"));
}
END_TEST

START_TEST(histogram_buckets_are_cumulative)
{
    cass_metrics_reset();
    cass_metric_observe(CASS_M_LAUNCH_DURATION, 0.3, "Job");  /* le 0.5 */
    cass_metric_observe(CASS_M_LAUNCH_DURATION, 0.5, "Job");  /* le 0.5: bounds are inclusive */
    cass_metric_observe(CASS_M_LAUNCH_DURATION, 7, "Job");    /* le 10 */
    cass_metric_observe(CASS_M_LAUNCH_DURATION, 1000, "Job"); /* +Inf only */
    _cleanup_free_ char *t = written();
    ck_assert_ptr_nonnull(strstr(t, "# TYPE cassiny_launch_duration_seconds histogram\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "cassiny_launch_duration_seconds_bucket{kind=\"Job\",le=\"0.25\"} 0\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "cassiny_launch_duration_seconds_bucket{kind=\"Job\",le=\"0.5\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "cassiny_launch_duration_seconds_bucket{kind=\"Job\",le=\"5\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "cassiny_launch_duration_seconds_bucket{kind=\"Job\",le=\"10\"} 3\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "cassiny_launch_duration_seconds_bucket{kind=\"Job\",le=\"300\"} 3\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "cassiny_launch_duration_seconds_bucket{kind=\"Job\",le=\"+Inf\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(t, "cassiny_launch_duration_seconds_sum{kind=\"Job\"} 1007.8\n"));
    ck_assert_ptr_nonnull(strstr(t, "cassiny_launch_duration_seconds_count{kind=\"Job\"} 4\n"));
}
END_TEST

START_TEST(values_are_escaped)
{
    cass_metrics_reset();
    cass_metric_add(CASS_M_LAUNCH_FAILURES, 1, "Job", "a\"b\\c\nd");
    cass_metric_add(CASS_M_LAUNCH_FAILURES, 1, "Job", NULL); /* NULL is "" */
    _cleanup_free_ char *t = written();
    ck_assert_ptr_nonnull(
        strstr(t, "cassiny_launch_failures_total{kind=\"Job\",reason=\"a\\\"b\\\\c\\nd\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(t, "cassiny_launch_failures_total{kind=\"Job\",reason=\"\"} 1\n"));

    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    cass_metrics_sample(f, "x", 2.5, "k", "v\"", NULL);
    cass_metrics_sample(f, "y", 3, NULL);
    fclose(f);
    ck_assert_str_eq(s, "x{k=\"v\\\"\"} 2.5\ny 3\n");
    free(s);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, counter_by_labels);
    tcase_add_test(tc, histogram_buckets_are_cumulative);
    tcase_add_test(tc, values_are_escaped);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cass_check_run(metrics_suite());
}
