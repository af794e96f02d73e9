/* The Jupyter rules without a Jupyter: time parsing and the culling decision. */
#include "config.h"

#include "check_run.h"

#include <check.h>
#include <stdlib.h>

#include "cleanup.h"
#include "notebook.h"

START_TEST(parse_times)
{
    double t = 0;
    ck_assert_int_eq(cass_notebook_parse_time("2024-05-01T12:00:00Z", &t), 0);
    ck_assert(t == 1714564800.0);
    ck_assert_int_eq(cass_notebook_parse_time("2024-05-01T12:00:00.250000Z", &t), 0);
    ck_assert(t == 1714564800.25);
    ck_assert_int_eq(cass_notebook_parse_time("2024-05-01T12:00:00.5+00:00", &t), 0);
    ck_assert(t == 1714564800.5);
    const char *bad[] = {"",
                         "yesterday",
                         "2024-05-01",
                         "2024-05-01T12:00:00",
                         "2024-05-01T12:00:00.Z",
                         "2024-05-01T12:00:00+02:00",
                         "2024-05-01T12:00:00Zjunk"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(cass_notebook_parse_time(bad[i], &t) < 0, "accepted %s", bad[i]);
    ck_assert_int_lt(cass_notebook_parse_time(NULL, &t), 0);
}
END_TEST

START_TEST(idle_decision)
{
    const double last = 1714564800.0; /* 2024-05-01T12:00:00Z */
    _cleanup_json_ json_t *status = json_pack("{s:s}", "last_activity", "2024-05-01T12:00:00Z");
    _cleanup_json_ json_t *idle =
        json_pack("[{s:s},{s:s}]", "execution_state", "idle", "execution_state", "dead");
    _cleanup_json_ json_t *busy =
        json_pack("[{s:s},{s:s}]", "execution_state", "idle", "execution_state", "busy");
    _cleanup_json_ json_t *starting = json_pack("[{s:s}]", "execution_state", "starting");
    _cleanup_json_ json_t *none = json_array();
    _cleanup_error_ struct cass_error *err = NULL;

    /* Younger than the timeout: never idle. */
    ck_assert_int_eq(cass_notebook_idle_decide(status, NULL, 60, 0, last + 30, &err), 0);
    ck_assert_int_eq(cass_notebook_idle_decide(status, idle, 60, 0, last + 59.9, &err), 0);
    /* Old enough: idle unless a kernel works. */
    ck_assert_int_eq(cass_notebook_idle_decide(status, NULL, 60, 0, last + 61, &err), 1);
    ck_assert_int_eq(cass_notebook_idle_decide(status, none, 60, 0, last + 61, &err), 1);
    ck_assert_int_eq(cass_notebook_idle_decide(status, idle, 60, 0, last + 61, &err), 1);
    ck_assert_int_eq(cass_notebook_idle_decide(status, busy, 60, 0, last + 3600, &err), 0);
    ck_assert_int_eq(cass_notebook_idle_decide(status, starting, 60, 0, last + 3600, &err), 0);
    ck_assert_ptr_null(err);

    /* Woken: ready 10 s after Jupyter's last activity (its start). Idle
     * counts from the ready time, so the seconds it took to start are not
     * idleness: 30 s after ready is not idle, though 40 s after last. */
    ck_assert_int_eq(cass_notebook_idle_decide(status, NULL, 35, last + 10, last + 40, &err), 0);
    ck_assert_int_eq(cass_notebook_idle_decide(status, none, 35, last + 10, last + 45.5, &err), 1);
    /* A ready time older than the last activity changes nothing. */
    ck_assert_int_eq(cass_notebook_idle_decide(status, NULL, 60, last - 100, last + 61, &err), 1);
    ck_assert_ptr_null(err);

    /* Malformed replies are errors, never a reason to cull. */
    _cleanup_json_ json_t *nolast = json_object();
    ck_assert_int_lt(cass_notebook_idle_decide(nolast, NULL, 60, 0, last + 61, &err), 0);
    cass_error_free(TAKE_PTR(err));
    _cleanup_json_ json_t *notarray = json_object();
    ck_assert_int_lt(cass_notebook_idle_decide(status, notarray, 60, 0, last + 61, &err), 0);
}
END_TEST

START_TEST(status_unreachable)
{
    /* Port 1 on loopback: nothing listens; an error, not a hang or a crash. */
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_lt(cass_notebook_status("http://127.0.0.1:1", "t", 2000, NULL, &err), 0);
    ck_assert_int_eq(err->kind, CASS_ERR_UNAVAILABLE);
}
END_TEST

START_TEST(endpoints)
{
    char host[64];
    int port = 0;
    const char *prefix = NULL;
    _cleanup_json_ json_t *run = json_loads("{\"endpoint\": {\"host\": \"172.20.0.5\", \"port\": "
                                            "8888}, \"baseUrl\": \"/notebooks/a/\"}",
                                            0, NULL);
    ck_assert_int_eq(cass_notebook_endpoint(run, host, &port, &prefix), 0);
    ck_assert_str_eq(host, "172.20.0.5");
    ck_assert_int_eq(port, 8888);
    ck_assert_str_eq(prefix, "/notebooks/a/");
    _cleanup_free_ char *base = cass_notebook_base(run);
    ck_assert_str_eq(base, "http://172.20.0.5:8888/notebooks/a");
    /* A run from before endpoints: its published port, at "/". */
    _cleanup_json_ json_t *old = json_loads(
        "{\"ports\": [{\"containerPort\": 8888, \"hostIp\": \"0.0.0.0\", \"hostPort\": 49153}]}", 0,
        NULL);
    _cleanup_free_ char *obase = cass_notebook_base(old);
    ck_assert_str_eq(obase, "http://127.0.0.1:49153");
    /* Nothing to reach. */
    _cleanup_json_ json_t *none = json_loads("{\"ports\": []}", 0, NULL);
    ck_assert_int_eq(cass_notebook_endpoint(none, host, &port, &prefix), -1);
    _cleanup_json_ json_t *badbase = json_loads(
        "{\"endpoint\": {\"host\": \"1.2.3.4\", \"port\": 1}, \"baseUrl\": \"notebooks\"}", 0,
        NULL);
    ck_assert_int_eq(cass_notebook_endpoint(badbase, host, &port, &prefix), -1);
    _cleanup_free_ char *u = cass_notebook_base_url("churn");
    ck_assert_str_eq(u, "/notebooks/churn/");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("notebook");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, parse_times);
    tcase_add_test(tc, idle_decision);
    tcase_add_test(tc, status_unreachable);
    tcase_add_test(tc, endpoints);
    suite_add_tcase(s, tc);
    return cass_check_run(s);
}
