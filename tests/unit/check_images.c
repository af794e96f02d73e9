/* images.c: references read as Docker reads them, and the pull decision. */
#include "config.h"

#include "check_run.h"

#include <check.h>
#include <jansson.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "images.h"

#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

START_TEST(normalization_table)
{
    static const struct {
        const char *ref, *registry, *repository, *tag, *digest;
    } cases[] = {
        {"busybox", "docker.io", "library/busybox", "latest", NULL},
        {"busybox:1.36", "docker.io", "library/busybox", "1.36", NULL},
        {"cassiny/x", "docker.io", "cassiny/x", "latest", NULL},
        {"cassiny/x:1", "docker.io", "cassiny/x", "1", NULL},
        {"cassiny/x@sha256:" HEX, "docker.io", "cassiny/x", NULL, "sha256:" HEX},
        {"cassiny/x:1@sha256:" HEX, "docker.io", "cassiny/x", "1", "sha256:" HEX},
        {"cassiny/team/x", "docker.io", "cassiny/team/x", "latest", NULL},
        {"docker.io/busybox", "docker.io", "library/busybox", "latest", NULL},
        {"docker.io/library/busybox", "docker.io", "library/busybox", "latest", NULL},
        {"index.docker.io/cassiny/x", "docker.io", "cassiny/x", "latest", NULL},
        {"localhost/x", "localhost", "x", "latest", NULL},
        {"localhost:5000/x", "localhost:5000", "x", "latest", NULL},
        {"localhost:5000/x:2", "localhost:5000", "x", "2", NULL},
        {"127.0.0.1:5000/cassiny/test-busybox:latest", "127.0.0.1:5000", "cassiny/test-busybox",
         "latest", NULL},
        {"127.0.0.1/x", "127.0.0.1", "x", "latest", NULL},
        /* a dot or a port makes the first component a registry, a plain word does not */
        {"reg.local/x/y:3", "reg.local", "x/y", "3", NULL},
        {"reg:5000/x", "reg:5000", "x", "latest", NULL},
        {"registry/x", "docker.io", "registry/x", "latest", NULL},
        /* so does an uppercase letter, as in Docker's splitDockerDomain */
        {"Reg/x", "Reg", "x", "latest", NULL},
        {"a.b-c/x__y.z--w", "a.b-c", "x__y.z--w", "latest", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cass_image_ref r = {0};
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_msg(cass_images_parse(cases[i].ref, &r, &err) == 0, "%s: %s", cases[i].ref,
                      err ? err->message : "");
        ck_assert_msg(strcmp(r.registry, cases[i].registry) == 0, "%s: registry %s", cases[i].ref,
                      r.registry);
        ck_assert_msg(strcmp(r.repository, cases[i].repository) == 0, "%s: repository %s",
                      cases[i].ref, r.repository);
        if (cases[i].tag)
            ck_assert_msg(r.tag && strcmp(r.tag, cases[i].tag) == 0, "%s: tag %s", cases[i].ref,
                          r.tag ? r.tag : "(none)");
        else
            ck_assert_msg(r.tag == NULL, "%s: tag %s", cases[i].ref, r.tag);
        if (cases[i].digest)
            ck_assert_str_eq(r.digest, cases[i].digest);
        else
            ck_assert_ptr_null(r.digest);
        cass_images_ref_clear(&r);
    }
}
END_TEST

START_TEST(not_references)
{
    static const char *const bad[] = {
        "",
        "sha256:" HEX, /* an image ID names no registry */
        "cassiny/X",   /* repositories are lowercase */
        "cassiny/x@sha256:abc",
        "cassiny/x@md5:" HEX,
        "cassiny//x",
        "/x",
        "x/",
        "cassiny/x:",
        "cassiny/x:-1",
        "cassiny/x.",
        "cassiny/x___y",
        "cassiny/-x",
        "reg:port/x",
        "reg:123456/x",
        ".reg/x",
        "reg_1.local/x",
        "cassiny/x y",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cass_image_ref r = {.registry = (char *)"untouched"};
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_msg(cass_images_parse(bad[i], &r, &err) == -1, "%s parsed", bad[i]);
        ck_assert_int_eq(err->kind, CASS_ERR_INVALID);
        ck_assert_str_eq(r.registry, "untouched");
    }
}
END_TEST

/* The decision for ref under the config text (JSON); returns the message
 * (caller owns) or NULL when the pull is allowed, with *ret_registry. */
static char *decide(const char *cfg_text, const char *ref, char **ret_registry)
{
    json_error_t jerr;
    _cleanup_json_ json_t *cfg = cfg_text ? json_loads(cfg_text, 0, &jerr) : NULL;
    ck_assert_msg(!cfg_text || cfg, "bad test config %s", cfg_text);
    _cleanup_error_ struct cass_error *err = NULL;
    if (cass_images_pull_check(cfg, ref, ret_registry, &err) == 0) {
        ck_assert_ptr_null(err);
        return NULL;
    }
    ck_assert_int_eq(err->kind, CASS_ERR_FORBIDDEN);
    return strdup(err->message);
}

START_TEST(pull_decision)
{
    static const struct {
        const char *cfg, *ref, *registry, *refusal;
    } cases[] = {
        /* the defaults: no registries, so nothing is pulled */
        {NULL, "cassiny/does-not-exist:1", NULL, "registry docker.io is not in registries (none)"},
        {"{}", "cassiny/x@sha256:" HEX, NULL, "registry docker.io is not in registries (none)"},
        {"{\"pull\":\"missing\",\"registries\":[]}", "busybox", NULL,
         "registry docker.io is not in registries (none)"},
        /* a listed registry: pulled from it, and from nowhere else */
        {"{\"registries\":[\"127.0.0.1:5000\"]}", "127.0.0.1:5000/cassiny/x:1", "127.0.0.1:5000",
         NULL},
        {"{\"registries\":[\"127.0.0.1:5000\"]}", "cassiny/x:1", NULL,
         "registry docker.io is not in registries (127.0.0.1:5000)"},
        {"{\"registries\":[\"127.0.0.1:5000\"]}", "127.0.0.1:5001/cassiny/x", NULL,
         "registry 127.0.0.1:5001 is not in registries (127.0.0.1:5000)"},
        {"{\"registries\":[\"127.0.0.1:5000\"]}", "127.0.0.1/cassiny/x", NULL,
         "registry 127.0.0.1 is not in registries (127.0.0.1:5000)"},
        {"{\"registries\":[\"localhost:5000\",\"127.0.0.1:5000\"]}", "localhost:5000/x",
         "localhost:5000", NULL},
        /* docker.io must be named to pull a reference without a registry part */
        {"{\"registries\":[\"docker.io\"]}", "cassiny/x", "docker.io", NULL},
        {"{\"registries\":[\"index.docker.io\"]}", "busybox", "docker.io", NULL},
        {"{\"registries\":[\"LOCALHOST:5000\"]}", "localhost:5000/x", "localhost:5000", NULL},
        /* pull: never wins over the list */
        {"{\"pull\":\"never\",\"registries\":[\"127.0.0.1:5000\"]}", "127.0.0.1:5000/x", NULL,
         "pulls are off (pull: never)"},
        /* an image ID names no registry */
        {"{\"registries\":[\"docker.io\"]}", "sha256:" HEX, NULL,
         "sha256:" HEX " is an image ID, which names no registry"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        _cleanup_free_ char *registry = NULL;
        _cleanup_free_ char *msg = decide(cases[i].cfg, cases[i].ref, &registry);
        if (cases[i].refusal) {
            ck_assert_msg(msg && strcmp(msg, cases[i].refusal) == 0, "case %zu: %s", i,
                          msg ? msg : "allowed");
            ck_assert_ptr_null(registry);
        } else {
            ck_assert_msg(msg == NULL, "case %zu refused: %s", i, msg);
            ck_assert_str_eq(registry, cases[i].registry);
        }
    }
}
END_TEST

START_TEST(bad_config_is_internal)
{
    static const char *const cfgs[] = {
        "{\"pull\":\"always\"}",
        "{\"pull\":1}",
        "{\"registries\":\"127.0.0.1:5000\"}",
        "{\"registries\":[1]}",
    };
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
        json_error_t jerr;
        _cleanup_json_ json_t *cfg = json_loads(cfgs[i], 0, &jerr);
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_int_eq(cass_images_pull_check(cfg, "x", NULL, &err), -1);
        ck_assert_int_eq(err->kind, CASS_ERR_INTERNAL);
    }
}
END_TEST

START_TEST(registry_and_pin)
{
    static const struct {
        const char *cfg, *ref;
        int listed;
        const char *registry, *pinned;
    } cases[] = {
        {"{\"registries\":[\"127.0.0.1:5000\"]}", "127.0.0.1:5000/cassiny/x:1", 1, "127.0.0.1:5000",
         "127.0.0.1:5000/cassiny/x@sha256:" HEX},
        /* pull: never does not change where an image comes from */
        {"{\"pull\":\"never\",\"registries\":[\"127.0.0.1:5000\"]}", "127.0.0.1:5000/x", 1,
         "127.0.0.1:5000", "127.0.0.1:5000/x@sha256:" HEX},
        {"{\"registries\":[\"127.0.0.1:5000\"]}", "127.0.0.1:5000/x@sha256:" HEX, 1,
         "127.0.0.1:5000", "127.0.0.1:5000/x@sha256:" HEX},
        {"{\"registries\":[\"127.0.0.1:5000\"]}", "cassiny/x:1", 0, NULL, "cassiny/x@sha256:" HEX},
        {"{\"registries\":[\"docker.io\"]}", "busybox", 1, "docker.io", "busybox@sha256:" HEX},
        {"{\"registries\":[\"docker.io\"]}", "sha256:" HEX, 0, NULL, NULL},
        {NULL, "127.0.0.1:5000/x:1", 0, NULL, "127.0.0.1:5000/x@sha256:" HEX},
        {"{\"registries\":[\"127.0.0.1:5000\"]}", "Not A Reference", 0, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_error_t jerr;
        _cleanup_json_ json_t *cfg = cases[i].cfg ? json_loads(cases[i].cfg, 0, &jerr) : NULL;
        _cleanup_free_ char *registry = NULL;
        int rc = cass_images_registry_of(cfg, cases[i].ref, &registry, NULL);
        ck_assert_msg(rc == cases[i].listed, "case %zu: %d", i, rc);
        if (cases[i].registry)
            ck_assert_str_eq(registry, cases[i].registry);
        else
            ck_assert_ptr_null(registry);
        if (cases[i].pinned) {
            _cleanup_free_ char *p = cass_images_pin(cases[i].ref, "sha256:" HEX);
            ck_assert_str_eq(p, cases[i].pinned);
        }
    }
    json_error_t jerr;
    _cleanup_json_ json_t *bad = json_loads("{\"registries\":[1]}", 0, &jerr);
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_images_registry_of(bad, "x", NULL, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_INTERNAL);
}
END_TEST

static Suite *images_suite(void)
{
    Suite *s = suite_create("images");
    TCase *tc = tcase_create("images");
    tcase_add_test(tc, normalization_table);
    tcase_add_test(tc, not_references);
    tcase_add_test(tc, pull_decision);
    tcase_add_test(tc, bad_config_is_internal);
    tcase_add_test(tc, registry_and_pin);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cass_check_run(images_suite());
}
