/* The daemon's config beyond its schema: deprecated names and their
 * warnings, the file named in errors and warnings, flags on top of a
 * resolved config, and the choice of the workload backend. Which keys are
 * refused or resolved for which input is data: tests/data/config/. */
#include "config.h"

#include "check_run.h"

#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "cleanup.h"
#include "error.h"

static json_int_t int_at(const json_t *cfg, const char *path)
{
    json_t *v = cass_cfg_get(cfg, path);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", path);
    return json_integer_value(v);
}

static json_t *parse(const char *text, struct cass_error **ret_warnings)
{
    _cleanup_error_ struct cass_error *err = NULL;
    json_t *cfg = cass_cfg_parse(text, strlen(text), ret_warnings, &err);
    ck_assert_msg(cfg != NULL, "refused: %s", err && err->n_items ? err->items[0].message : "?");
    return cfg;
}

START_TEST(deprecated_alias_warns_and_sets_the_new_key)
{
    _cleanup_error_ struct cass_error *warn = NULL;
    _cleanup_json_ json_t *cfg = parse("logLevel: info\nlimits:\n  maxConcurrentRuns: 7\n", &warn);
    ck_assert_int_eq(int_at(cfg, "limits.maxConcurrentLaunches"), 7);
    ck_assert_ptr_nonnull(warn);
    ck_assert_uint_eq(warn->n_items, 1);
    ck_assert_str_eq(warn->items[0].path, "limits.maxConcurrentRuns");
    ck_assert_int_eq(warn->items[0].line, 3);
    ck_assert_ptr_nonnull(strstr(warn->items[0].message, "deprecated"));
}
END_TEST

START_TEST(new_key_alone_gives_no_warning)
{
    _cleanup_error_ struct cass_error *warn = NULL;
    _cleanup_json_ json_t *cfg =
        parse("limits: {maxConcurrentLaunches: 9, maxRunningJobs: 5}\n", &warn);
    ck_assert_ptr_null(warn);
    ck_assert_int_eq(int_at(cfg, "limits.maxConcurrentLaunches"), 9);
    ck_assert_int_eq(int_at(cfg, "limits.maxRunningJobs"), 5);
    /* nothing reads the old name: it is not filled in */
    ck_assert_ptr_null(cass_cfg_get(cfg, "limits.maxConcurrentRuns"));
}
END_TEST

START_TEST(defaults_hold_the_effective_values)
{
    _cleanup_error_ struct cass_error *warn = NULL;
    _cleanup_json_ json_t *cfg = parse("", &warn);
    ck_assert_ptr_null(warn);
    ck_assert_int_eq(int_at(cfg, "limits.maxConcurrentLaunches"), 4);
    ck_assert_int_eq(int_at(cfg, "limits.maxRunningJobs"), 4);
}
END_TEST

/* The path defaults are configure's (--runstatedir, --localstatedir), not
 * the schema's FHS ones, unless the file sets them. */
START_TEST(path_defaults_follow_configure)
{
    _cleanup_json_ json_t *cfg = parse("", NULL);
    ck_assert_str_eq(json_string_value(cass_cfg_get(cfg, "socket")),
                     RUNSTATEDIR "/cassiny/cassiny.sock");
    ck_assert_str_eq(json_string_value(cass_cfg_get(cfg, "stateDir")),
                     LOCALSTATEDIR "/lib/cassiny");
    _cleanup_json_ json_t *set = parse("socket: /srv/a.sock\nstateDir: /srv/state\n", NULL);
    ck_assert_str_eq(json_string_value(cass_cfg_get(set, "socket")), "/srv/a.sock");
    ck_assert_str_eq(json_string_value(cass_cfg_get(set, "stateDir")), "/srv/state");
    _cleanup_json_ json_t *other = parse("logLevel: debug\n", NULL);
    ck_assert_str_eq(json_string_value(cass_cfg_get(other, "socket")),
                     RUNSTATEDIR "/cassiny/cassiny.sock");
}
END_TEST

/* cass_cfg_set validates the whole resolved config again: the mirrored old
 * name must not turn into a conflict. */
START_TEST(flags_on_a_resolved_config)
{
    _cleanup_json_ json_t *cfg = parse("limits: {maxConcurrentLaunches: 3}\n", NULL);
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_cfg_set(&cfg, "stateDir", "/srv/state", &err), 0);
    ck_assert_int_eq(int_at(cfg, "limits.maxConcurrentLaunches"), 3);
}
END_TEST

START_TEST(load_names_the_file)
{
    char path[] = "/tmp/check_cfg.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    static const char text[] = "limits:\n  maxConcurrentRuns: 2\n";
    ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
    close(fd);
    _cleanup_error_ struct cass_error *warn = NULL, *err = NULL;
    _cleanup_json_ json_t *cfg = cass_cfg_load(path, 1, &warn, &err);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_ptr_nonnull(warn);
    ck_assert_str_eq(warn->file, path);

    static const char bad[] = "engine: kubernetes\n";
    ck_assert_int_eq(truncate(path, 0), 0);
    fd = open(path, O_WRONLY);
    ck_assert_int_eq(write(fd, bad, sizeof(bad) - 1), (ssize_t)sizeof(bad) - 1);
    close(fd);
    _cleanup_error_ struct cass_error *warn2 = NULL;
    _cleanup_json_ json_t *none = cass_cfg_load(path, 1, &warn2, &err);
    unlink(path);
    ck_assert_ptr_null(none);
    ck_assert_ptr_null(warn2); /* untouched on failure */
    ck_assert_str_eq(err->file, path);
    ck_assert_uint_eq(err->n_items, 1);
    ck_assert_int_eq(err->items[0].line, 1);
    ck_assert_str_eq(err->items[0].path, "engine");
}
END_TEST

/* --- the backend ---------------------------------------------------------- */

static const char *backend(const char *engine, const char *info_text, char **ret_note)
{
    _cleanup_json_ json_t *cfg = parse("", NULL);
    json_object_set_new(cfg, "engine", json_string(engine));
    _cleanup_json_ json_t *info = NULL;
    if (info_text) {
        json_error_t jerr;
        info = json_loads(info_text, 0, &jerr);
        ck_assert_ptr_nonnull(info);
    }
    _cleanup_error_ struct cass_error *err = NULL;
    return cass_cfg_backend(cfg, info, ret_note, &err);
}

START_TEST(backend_docker)
{
    _cleanup_free_ char *note = NULL;
    ck_assert_str_eq(backend("docker", NULL, &note), "docker");
    ck_assert_ptr_null(note);
}
END_TEST

START_TEST(backend_auto_plain_engine)
{
    _cleanup_free_ char *note = NULL;
    ck_assert_str_eq(backend("auto", "{\"Swarm\": {\"LocalNodeState\": \"inactive\"}}", &note),
                     "docker");
    ck_assert_ptr_null(note);
    ck_assert_str_eq(backend("auto", "{}", &note), "docker");
    ck_assert_ptr_null(note);
}
END_TEST

START_TEST(backend_auto_swarm_worker)
{
    /* a worker cannot run services either way: plain containers, nothing to say */
    _cleanup_free_ char *note = NULL;
    ck_assert_str_eq(
        backend("auto",
                "{\"Swarm\": {\"LocalNodeState\": \"active\", \"ControlAvailable\": false}}",
                &note),
        "docker");
    ck_assert_ptr_null(note);
}
END_TEST

START_TEST(backend_auto_swarm_manager)
{
    _cleanup_free_ char *note = NULL;
    ck_assert_str_eq(
        backend("auto", "{\"Swarm\": {\"LocalNodeState\": \"active\", \"ControlAvailable\": true}}",
                &note),
        "swarm");
    ck_assert_ptr_null(note);
    /* a manager of a swarm it left is a plain engine */
    ck_assert_str_eq(
        backend("auto",
                "{\"Swarm\": {\"LocalNodeState\": \"inactive\", \"ControlAvailable\": true}}",
                &note),
        "docker");
}
END_TEST

START_TEST(backend_auto_without_info_says_so)
{
    _cleanup_free_ char *note = NULL;
    ck_assert_str_eq(backend("auto", NULL, &note), "docker");
    ck_assert_ptr_nonnull(note);
    free(note);
    note = NULL;
    ck_assert_str_eq(backend("auto", "{\"Swarm\": {\"LocalNodeState\": 3}}", &note), "docker");
    ck_assert_ptr_nonnull(strstr(note, "cannot read the Swarm state"));
}
END_TEST

START_TEST(backend_swarm)
{
    _cleanup_free_ char *note = NULL;
    /* an engine that does not answer yet: swarm, and the launches check */
    ck_assert_str_eq(backend("swarm", NULL, &note), "swarm");
    ck_assert_ptr_nonnull(strstr(note, "did not answer"));
    free(note);
    note = NULL;
    ck_assert_str_eq(
        backend("swarm",
                "{\"Swarm\": {\"LocalNodeState\": \"active\", \"ControlAvailable\": true}}", &note),
        "swarm");
    ck_assert_ptr_null(note);
    /* an engine that says it is no manager is refused at start */
    ck_assert_ptr_null(backend("swarm", "{\"Swarm\": {\"LocalNodeState\": \"inactive\"}}", &note));
    ck_assert_ptr_null(backend(
        "swarm", "{\"Swarm\": {\"LocalNodeState\": \"active\", \"ControlAvailable\": false}}",
        &note));
    /* a value the schema would refuse is refused here too, never run as docker */
    ck_assert_ptr_null(backend("kubernetes", NULL, &note));
}
END_TEST

static Suite *cfg_suite(void)
{
    Suite *s = suite_create("cfg");
    TCase *tc = tcase_create("aliases");
    tcase_add_test(tc, deprecated_alias_warns_and_sets_the_new_key);
    tcase_add_test(tc, new_key_alone_gives_no_warning);
    tcase_add_test(tc, defaults_hold_the_effective_values);
    tcase_add_test(tc, path_defaults_follow_configure);
    tcase_add_test(tc, flags_on_a_resolved_config);
    tcase_add_test(tc, load_names_the_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("backend");
    tcase_add_test(tc, backend_docker);
    tcase_add_test(tc, backend_auto_plain_engine);
    tcase_add_test(tc, backend_auto_swarm_worker);
    tcase_add_test(tc, backend_auto_swarm_manager);
    tcase_add_test(tc, backend_auto_without_info_says_so);
    tcase_add_test(tc, backend_swarm);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cass_check_run(cfg_suite());
}
