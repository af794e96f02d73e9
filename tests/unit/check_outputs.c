/* Manifests: hashing trees without following links, and comparing runs. */
#include "config.h"

#include "check_run.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "outputs.h"

static char root[64];

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "we");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    snprintf(root, sizeof(root), "/tmp/cass-outputs-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/sub", root);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    put("metrics.json", "{\"auc\": 0.91}\n");
    put("sub/model.bin", "abc");
    char link[128];
    snprintf(link, sizeof(link), "%s/escape", root);
    ck_assert_int_eq(symlink("/etc/passwd", link), 0);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(manifest_of_a_tree)
{
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *m = cass_outputs_manifest(root, "", &err);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(json_array_size(m), 3);
    /* Sorted by path; the link is its target text, never the target. */
    json_t *e0 = json_array_get(m, 0), *e1 = json_array_get(m, 1), *e2 = json_array_get(m, 2);
    ck_assert_str_eq(json_string_value(json_object_get(e0, "path")), "escape");
    ck_assert_int_eq(json_integer_value(json_object_get(e0, "size")), 11);
    ck_assert_str_eq(json_string_value(json_object_get(e1, "path")), "metrics.json");
    ck_assert_str_eq(json_string_value(json_object_get(e2, "path")), "sub/model.bin");
    ck_assert_str_eq(json_string_value(json_object_get(e2, "sha256")),
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    _cleanup_json_ json_t *pre = cass_outputs_manifest(root, "project", &err);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(pre, 2), "path")),
                     "project/sub/model.bin");

    char file[128];
    snprintf(file, sizeof(file), "%s/sub/model.bin", root);
    _cleanup_json_ json_t *one = cass_outputs_manifest(file, "model.bin", &err);
    ck_assert_uint_eq(json_array_size(one), 1);

    ck_assert_ptr_null(cass_outputs_manifest("/nonexistent/x", "", &err));
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);
}
END_TEST

START_TEST(compare_and_digest)
{
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *a = cass_outputs_manifest(root, "", &err);
    put("metrics.json", "{\"auc\": 0.92}\n");
    put("new.txt", "x");
    char gone[128];
    snprintf(gone, sizeof(gone), "%s/escape", root);
    unlink(gone);
    _cleanup_json_ json_t *b = cass_outputs_manifest(root, "", &err);

    _cleanup_json_ json_t *same = cass_outputs_compare(a, a);
    ck_assert(json_is_true(json_object_get(same, "identical")));
    _cleanup_json_ json_t *c = cass_outputs_compare(a, b);
    ck_assert(json_is_false(json_object_get(c, "identical")));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(c, "added"), 0)), "new.txt");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(c, "removed"), 0)), "escape");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(c, "changed"), 0)),
                     "metrics.json");
    ck_assert_uint_eq(json_array_size(json_object_get(c, "changed")), 1);

    char da[65], db[65], da2[65];
    cass_outputs_digest(a, da);
    cass_outputs_digest(b, db);
    /* Order does not matter, content does. */
    _cleanup_json_ json_t *rev = json_array();
    for (size_t i = json_array_size(a); i-- > 0;)
        json_array_append(rev, json_array_get(a, i));
    cass_outputs_digest(rev, da2);
    ck_assert_str_eq(da, da2);
    ck_assert_str_ne(da, db);

    _cleanup_json_ json_t *empty = json_array();
    _cleanup_json_ json_t *none = cass_outputs_compare(empty, empty);
    ck_assert(json_is_true(json_object_get(none, "identical")));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("outputs");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, manifest_of_a_tree);
    tcase_add_test(tc, compare_and_digest);
    suite_add_tcase(s, tc);
    return cass_check_run(s);
}
