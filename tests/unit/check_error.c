#include "config.h"

#include "check_run.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "output.h"

START_TEST(set_once_keeps_first)
{
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_error_set(&err, CASS_ERR_NOT_FOUND, "first %d", 1), -1);
    ck_assert_int_eq(cass_error_set(&err, CASS_ERR_IO, "second"), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);
    ck_assert_str_eq(err->message, "first 1");
    ck_assert_int_eq(cass_error_set(NULL, CASS_ERR_IO, "ignored"), -1);
}
END_TEST

START_TEST(prefix_and_errno)
{
    _cleanup_error_ struct cass_error *err = NULL;
    cass_error_errno(&err, ENOENT, "open %s", "/x");
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);
    cass_error_prefix(&err, "loading %s", "config");
    ck_assert_str_eq(err->message, "loading config: open /x: No such file or directory");
}
END_TEST

START_TEST(items_and_merge)
{
    _cleanup_error_ struct cass_error *a = NULL;
    struct cass_error *b = NULL;
    cass_error_add_item(&a, "spec.image", 3, 5, "required field %s", "image");
    cass_error_add_item(&b, "kind", 2, 7, "bad kind");
    cass_error_merge(&a, &b);
    ck_assert_ptr_null(b);
    ck_assert_uint_eq(a->n_items, 2);
    ck_assert_str_eq(a->items[1].path, "kind");
    ck_assert_int_eq(a->kind, CASS_ERR_INVALID);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cass_error_fprint(f, a, "x.yaml");
    fclose(f);
    ck_assert_str_eq(buf, "x.yaml:3:5: spec.image: required field image\n"
                          "x.yaml:2:7: kind: bad kind\n");
    free(buf);
}
END_TEST

START_TEST(table_and_yaml_output)
{
    static const char *const h[] = {"NAME", "STATUS"};
    struct cass_table *t = cass_table_new(2, h);
    const char *r1[] = {"a-long-name", "ready"};
    const char *r2[] = {"b\x1b[2J", "failed"};
    cass_table_add(t, r1);
    cass_table_add(t, r2);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cass_table_print(t, f);
    fclose(f);
    cass_table_free(t);
    ck_assert_str_eq(buf, "NAME          STATUS\n"
                          "a-long-name   ready\n"
                          "b?[2J         failed\n");
    free(buf);

    json_t *v = json_pack("{s:s,s:s,s:i,s:[s,n],s:b}", "name", "churn", "on", "yes", "n", 3, "list",
                          "1.5", "ok", 1);
    f = open_memstream(&buf, &len);
    ck_assert_int_eq(cass_output_yaml(f, v), 0);
    fclose(f);
    json_decref(v);
    ck_assert_msg(strstr(buf, "name: churn") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "\"on\": \"yes\"") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "- \"1.5\"") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "ok: true") != NULL, "%s", buf);
    free(buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, set_once_keeps_first);
    tcase_add_test(tc, prefix_and_errno);
    tcase_add_test(tc, items_and_merge);
    tcase_add_test(tc, table_and_yaml_output);
    suite_add_tcase(s, tc);
    return cass_check_run(s);
}
