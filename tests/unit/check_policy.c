#include "config.h"

#include "check_run.h"

#include <check.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "pin.h"
#include "policy.h"

#define ID_HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID_HEX_F "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

/* A temporary tree, made once for the whole suite:
 *   BASE/root/            the mount root
 *   BASE/root/data/file.txt
 *   BASE/root/model.joblib
 *   BASE/root/link-out -> /etc
 *   BASE/root/link-in  -> BASE/root/data
 *   BASE/root/up       -> BASE/rootx/sub
 *   BASE/root/link-sock -> BASE/sock/docker.sock
 *   BASE/root/hard.sock   hard link of the socket (when the kernel allows)
 *   BASE/rootx/file, BASE/rootx/sub/  sibling with a common prefix
 *   BASE/sock/docker.sock a listening unix socket, the "configured" engine */
static char base[256];
static char root[300], rootx[300], sockdir[300], sockpath[300], docker_host[320];
static bool have_hardlink;
static int sock_fd = -1;

static void mk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mk(const char *fmt, ...)
{
    char p[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof(p), fmt, ap);
    va_end(ap);
    size_t n = strlen(p);
    if (p[n - 1] == '/') {
        p[n - 1] = '\0';
        ck_assert_int_eq(mkdir(p, 0755), 0);
    } else {
        FILE *f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fputs("x\n", f);
        fclose(f);
    }
}

static void tree_setup(void)
{
    const char *tmp = getenv("TMPDIR");
    char tmpl[200];
    snprintf(tmpl, sizeof(tmpl), "%s/cass-policy-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    char *real = realpath(tmpl, NULL); /* TMPDIR itself may be a symlink */
    ck_assert_ptr_nonnull(real);
    snprintf(base, sizeof(base), "%s", real);
    free(real);

    snprintf(root, sizeof(root), "%s/root", base);
    snprintf(rootx, sizeof(rootx), "%s/rootx", base);
    snprintf(sockdir, sizeof(sockdir), "%s/sock", base);
    snprintf(sockpath, sizeof(sockpath), "%s/sock/docker.sock", base);
    snprintf(docker_host, sizeof(docker_host), "unix://%s", sockpath);

    mk("%s/", root);
    mk("%s/data/", root);
    mk("%s/data/file.txt", root);
    mk("%s/model.joblib", root);
    mk("%s/", rootx);
    mk("%s/file", rootx);
    mk("%s/sub/", rootx);
    mk("%s/", sockdir);

    char p[512], t[512];
    snprintf(p, sizeof(p), "%s/link-out", root);
    ck_assert_int_eq(symlink("/etc", p), 0);
    snprintf(p, sizeof(p), "%s/link-in", root);
    snprintf(t, sizeof(t), "%s/data", root);
    ck_assert_int_eq(symlink(t, p), 0);
    snprintf(p, sizeof(p), "%s/up", root);
    snprintf(t, sizeof(t), "%s/sub", rootx);
    ck_assert_int_eq(symlink(t, p), 0);
    snprintf(p, sizeof(p), "%s/link-sock", root);
    ck_assert_int_eq(symlink(sockpath, p), 0);

    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(sockpath), sizeof(sa.sun_path));
    strcpy(sa.sun_path, sockpath);
    sock_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(sock_fd, 0);
    ck_assert_int_eq(bind(sock_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    snprintf(p, sizeof(p), "%s/hard.sock", root);
    have_hardlink = link(sockpath, p) == 0;
}

static void rm_tree(void)
{
    static const char *const files[] = {
        "root/data/file.txt",
        "root/model.joblib",
        "root/link-out",
        "root/link-in",
        "root/link-sock",
        "root/hard.sock",
        "rootx/file",
        "root/up",
        "rootx/sub",
        "sock/docker.sock",
        "root/data",
        "root",
        "rootx",
        "sock",
        "",
    };
    char p[512];
    if (sock_fd >= 0)
        close(sock_fd);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", base, files[i]);
        if (unlink(p) < 0)
            rmdir(p);
    }
}

/* ---- helpers --------------------------------------------------------------- */

/* The default policy of these tests: roots = [BASE/root]. Caller owns. */
static json_t *policy_new(void)
{
    json_t *p = json_pack("{s:[s,s], s:[s], s:f, s:I, s:I, s:b}", "images", "cassiny/*", "busybox",
                          "mountRoots", root, "maxCpus", 4.0, "maxMemory",
                          (json_int_t)17179869184LL, "maxGpus", (json_int_t)0, "allowRootUser", 0);
    ck_assert_ptr_nonnull(p);
    return p;
}

static json_t *resources(double cpus, json_int_t mem, json_int_t gpus)
{
    return json_pack("{s:f, s:I, s:I}", "cpus", cpus, "memory", mem, "gpus", gpus);
}

/* A document of the given kind with an allowed image and resources; spec
 * members added by the test. Caller owns. */
static json_t *doc_new(const char *kind)
{
    json_t *d =
        json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:o}}", "apiVersion", "cassiny/v1", "kind", kind,
                  "metadata", "name", "t", "spec", "image", "cassiny/notebook:bookworm",
                  "resources", resources(1.5, 2147483648LL, 0));
    ck_assert_ptr_nonnull(d);
    return d;
}

static json_t *spec_of(json_t *doc)
{
    return json_object_get(doc, "spec");
}

static json_t *mount(const char *source, const char *target)
{
    return json_pack("{s:s, s:s, s:b}", "source", source, "target", target, "readOnly", 1);
}

static char *at(const char *dir, const char *rel)
{
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", dir, rel), 0);
    return p;
}

/* The message of the item at path containing needle, or NULL. */
static const char *item_with(const struct cass_error *e, const char *path, const char *needle)
{
    for (size_t i = 0; e && i < e->n_items; i++)
        if (!strcmp(e->items[i].path, path) && strstr(e->items[i].message, needle))
            return e->items[i].message;
    return NULL;
}

static size_t items_at(const struct cass_error *e, const char *path)
{
    size_t n = 0;
    for (size_t i = 0; e && i < e->n_items; i++)
        n += !strcmp(e->items[i].path, path);
    return n;
}

static void dump(const struct cass_error *e)
{
    if (e)
        cass_error_fprint(stderr, e, "spec");
}

#define assert_item(e, path, needle)                                                               \
    do {                                                                                           \
        if (!item_with((e), (path), (needle)))                                                     \
            dump(e);                                                                               \
        ck_assert_msg(item_with((e), (path), (needle)), "no item at %s with \"%s\"", (path),       \
                      (needle));                                                                   \
    } while (0)

/* Runs the check; returns the error (caller owns) or NULL when allowed. */
static struct cass_error *check(const json_t *policy, const char *host, const json_t *doc,
                                const json_t *pos)
{
    struct cass_error *err = NULL;
    int r = cass_policy_check(policy, host, doc, pos, &err);
    if (r == 0) {
        ck_assert_ptr_null(err);
        return NULL;
    }
    ck_assert_int_eq(r, -1);
    ck_assert_ptr_nonnull(err);
    return err;
}

static void assert_allowed(const json_t *policy, const json_t *doc)
{
    struct cass_error *err = check(policy, docker_host, doc, NULL);
    if (err)
        dump(err);
    ck_assert_msg(err == NULL, "refused: %s", err ? err->message : "");
}

static struct cass_error *assert_refused(const json_t *policy, const json_t *doc)
{
    struct cass_error *err = check(policy, docker_host, doc, NULL);
    ck_assert_msg(err != NULL, "allowed but should be refused");
    ck_assert_int_eq(err->kind, CASS_ERR_FORBIDDEN);
    ck_assert_uint_gt(err->n_items, 0);
    return err;
}

/* ---- allowed specs ------------------------------------------------------------ */

START_TEST(notebook_allowed)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    _cleanup_free_ char *data = at(root, "data");
    _cleanup_free_ char *file = at(root, "data/file.txt");
    _cleanup_free_ char *link = at(root, "link-in");
    json_object_set_new(spec_of(doc), "mounts",
                        json_pack("[o,o,o]", mount(data, "/data"), mount(file, "/etc/app.conf"),
                                  mount(link, "/processes")));
    json_object_set_new(spec_of(doc), "workspace", json_string("ws"));
    assert_allowed(policy, doc);
}
END_TEST

START_TEST(job_allowed)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Job");
    _cleanup_free_ char *data = at(root, "data");
    json_object_set_new(spec_of(doc), "image", json_string("busybox"));
    json_object_set_new(spec_of(doc), "command", json_pack("[s]", "true"));
    json_object_set_new(spec_of(doc), "inputs", json_pack("[o]", mount(data, "/project")));
    json_object_set_new(spec_of(doc), "outputs", json_string("/outputs"));
    assert_allowed(policy, doc);
}
END_TEST

START_TEST(model_allowed)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Model");
    _cleanup_free_ char *artifact = at(root, "model.joblib");
    json_object_set_new(spec_of(doc), "image", json_string("cassiny/model-server@sha256:" ID_HEX));
    json_object_set_new(spec_of(doc), "artifact", json_string(artifact));
    json_object_set_new(spec_of(doc), "replicas", json_integer(64));
    /* limits are per container: 64 replicas of the maximum are fine */
    json_object_set_new(spec_of(doc), "resources", resources(4.0, 17179869184LL, 0));
    assert_allowed(policy, doc);
}
END_TEST

START_TEST(mount_root_itself_allowed)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    _cleanup_free_ char *slash = at(root, "data/"); /* normalized */
    json_object_set_new(spec_of(doc), "mounts",
                        json_pack("[o,o]", mount(root, "/r"), mount(slash, "/d")));
    assert_allowed(policy, doc);
}
END_TEST

/* ---- images ------------------------------------------------------------------ */

START_TEST(image_refused_names_rule)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    json_object_set_new(spec_of(doc), "image", json_string("evil/x:1"));
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    ck_assert_uint_eq(err->n_items, 1);
    ck_assert_str_eq(err->items[0].path, "spec.image");
    ck_assert_str_eq(err->items[0].message,
                     "image \"evil/x:1\" is not allowed: policy.images allows cassiny/*, busybox");
    ck_assert_int_eq(err->items[0].line, 0);
}
END_TEST

static bool image_ok(const char *const *patterns, const char *ref)
{
    _cleanup_json_ json_t *policy = policy_new();
    if (patterns) {
        json_t *arr = json_array();
        for (; *patterns; patterns++)
            json_array_append_new(arr, json_string(*patterns));
        json_object_set_new(policy, "images", arr);
    }
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    json_object_set_new(spec_of(doc), "image", json_string(ref));
    _cleanup_error_ struct cass_error *err = check(policy, NULL, doc, NULL);
    if (err) {
        ck_assert_uint_eq(err->n_items, 1);
        ck_assert_str_eq(err->items[0].path, "spec.image");
    }
    return err == NULL;
}

START_TEST(image_matching)
{
    static const char *const star[] = {"*", NULL};
    static const char *const ids[] = {"cassiny/*", "sha256:*", NULL};
    static const char *const one_id[] = {"sha256:" ID_HEX, NULL};
    static const char *const tagged[] = {"busybox:latest", "cassiny/notebook:bookworm", NULL};

    /* no FNM_PATHNAME: * crosses '/' and ':' */
    ck_assert(image_ok(NULL, "cassiny/notebook:bookworm"));
    ck_assert(image_ok(NULL, "cassiny/team/notebook"));
    ck_assert(image_ok(NULL, "busybox"));
    ck_assert(image_ok(NULL, "busybox:latest")); /* the same image as "busybox" */
    ck_assert(!image_ok(NULL, "busybox:1.36"));
    ck_assert(!image_ok(NULL, "cassinyx/notebook"));
    ck_assert(!image_ok(NULL, "evil.io/cassiny/notebook"));
    ck_assert(!image_ok(NULL, "cassiny.evil.io/notebook"));
    ck_assert(!image_ok(NULL, "cassiny:5000/notebook"));
    /* name@digest matches on its name part */
    ck_assert(image_ok(NULL, "cassiny/notebook@sha256:" ID_HEX));
    ck_assert(image_ok(NULL, "busybox@sha256:" ID_HEX));
    ck_assert(!image_ok(NULL, "evil/x@sha256:" ID_HEX));
    ck_assert(image_ok(tagged, "busybox"));
    ck_assert(image_ok(tagged, "cassiny/notebook:bookworm"));
    ck_assert(!image_ok(tagged, "cassiny/notebook"));

    /* a bare image ID only with an ID pattern */
    ck_assert(!image_ok(NULL, "sha256:" ID_HEX));
    ck_assert(!image_ok(star, "sha256:" ID_HEX));
    ck_assert(image_ok(star, "evil/anything:1"));
    ck_assert(image_ok(ids, "sha256:" ID_HEX));
    ck_assert(image_ok(one_id, "sha256:" ID_HEX));
    ck_assert(!image_ok(one_id, "sha256:" ID_HEX "0"));
    ck_assert(!image_ok(one_id, "sha256:" ID_HEX_F));
    /* "sha256" is also a repository name: sha256:latest is a name */
    ck_assert(!image_ok(ids, "sha256:latest"));
    ck_assert(image_ok(star, "sha256:latest"));
}
END_TEST

START_TEST(image_id_message)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Job");
    json_object_set_new(spec_of(doc), "image", json_string("sha256:" ID_HEX));
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    assert_item(err, "spec.image", "an image ID needs a policy.images pattern");
    assert_item(err, "spec.image", "sha256:*");
}
END_TEST

START_TEST(image_empty_list)
{
    _cleanup_json_ json_t *policy = policy_new();
    json_object_set_new(policy, "images", json_array());
    _cleanup_json_ json_t *doc = doc_new("Job");
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    assert_item(err, "spec.image", "policy.images allows none");
}
END_TEST

/* ---- resources --------------------------------------------------------------------- */

START_TEST(memory_refused)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    json_object_set_new(spec_of(doc), "resources", resources(1.0, 34359738368LL, 0));
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    ck_assert_uint_eq(err->n_items, 1);
    ck_assert_str_eq(err->items[0].path, "spec.resources.memory");
    ck_assert_str_eq(err->items[0].message,
                     "memory 34359738368 bytes exceeds policy.maxMemory (17179869184)");
}
END_TEST

START_TEST(cpus_refused)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Job");
    json_object_set_new(spec_of(doc), "resources", resources(6.5, 1073741824LL, 0));
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    ck_assert_uint_eq(err->n_items, 1);
    ck_assert_str_eq(err->items[0].path, "spec.resources.cpus");
    ck_assert_str_eq(err->items[0].message, "cpus 6.5 exceeds policy.maxCpus (4)");
}
END_TEST

START_TEST(gpus_refused)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Model");
    json_object_set_new(spec_of(doc), "resources", resources(1.0, 1073741824LL, 1));
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    ck_assert_uint_eq(err->n_items, 1);
    ck_assert_str_eq(err->items[0].path, "spec.resources.gpus");
    ck_assert_str_eq(err->items[0].message, "GPUs are not allowed by policy.maxGpus (0)");

    json_object_set_new(policy, "maxGpus", json_integer(2));
    json_object_set_new(spec_of(doc), "resources", resources(1.0, 1073741824LL, 4));
    _cleanup_error_ struct cass_error *err2 = assert_refused(policy, doc);
    ck_assert_str_eq(err2->items[0].message, "gpus 4 exceeds policy.maxGpus (2)");

    json_object_set_new(spec_of(doc), "resources", resources(1.0, 1073741824LL, 2));
    assert_allowed(policy, doc);
}
END_TEST

START_TEST(pids_refused_over_the_ceiling)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Job");
    json_t *res = resources(1.0, 1073741824LL, 0);
    json_object_set_new(res, "pids", json_integer(5000));
    json_object_set_new(spec_of(doc), "resources", res);
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    ck_assert_uint_eq(err->n_items, 1);
    ck_assert_str_eq(err->items[0].path, "spec.resources.pids");
    ck_assert_str_eq(err->items[0].message, "pids 5000 exceeds policy.maxPids (4096)");
    json_object_set_new(policy, "maxPids", json_integer(8192));
    assert_allowed(policy, doc);
}
END_TEST

START_TEST(limits_are_inclusive)
{
    _cleanup_json_ json_t *policy = policy_new();
    json_object_set_new(policy, "maxGpus", json_integer(1));
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    json_object_set_new(spec_of(doc), "resources", resources(4.0, 17179869184LL, 1));
    assert_allowed(policy, doc);
    /* maxCpus given as an integer, as a hand-written config might */
    json_object_set_new(policy, "maxCpus", json_integer(4));
    assert_allowed(policy, doc);
}
END_TEST

START_TEST(missing_resources_fail_closed)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    json_object_del(spec_of(doc), "resources");
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    assert_item(err, "spec.resources.cpus", "policy.maxCpus (4) needs one");
    assert_item(err, "spec.resources.memory", "policy.maxMemory (17179869184) needs one");
    ck_assert_uint_eq(err->n_items, 2); /* absent gpus means none */
}
END_TEST

/* ---- host paths ----------------------------------------------------------------- */

START_TEST(source_outside_roots)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    _cleanup_free_ char *data = at(root, "data");
    _cleanup_free_ char *sib = at(rootx, "file");
    json_object_set_new(
        spec_of(doc), "mounts",
        json_pack("[o,o,o]", mount(data, "/data"), mount("/etc", "/e"), mount(sib, "/x")));
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    ck_assert_uint_eq(items_at(err, "spec.mounts[0].source"), 0);
    _cleanup_free_ char *want = NULL;
    ck_assert_int_ge(asprintf(&want, "/etc is outside policy.mountRoots (%s)", root), 0);
    assert_item(err, "spec.mounts[1].source", want);
    /* the deny list also names /etc */
    assert_item(err, "spec.mounts[1].source", "/etc is a protected host path, never mounted");
    /* rootx shares a prefix with root but is not under it */
    _cleanup_free_ char *want2 = NULL;
    ck_assert_int_ge(asprintf(&want2, "%s is outside policy.mountRoots (%s)", sib, root), 0);
    assert_item(err, "spec.mounts[2].source", want2);
    ck_assert_uint_eq(items_at(err, "spec.mounts[2].source"), 1);
}
END_TEST

START_TEST(symlink_out_refused)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Job");
    _cleanup_free_ char *link = at(root, "link-out");
    json_object_set_new(spec_of(doc), "command", json_pack("[s]", "true"));
    json_object_set_new(spec_of(doc), "inputs", json_pack("[o]", mount(link, "/in")));
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    assert_item(err, "spec.inputs[0].source",
                "resolves to /etc, which is outside policy.mountRoots");
    assert_item(err, "spec.inputs[0].source", "resolves to /etc, which is a protected host path");
}
END_TEST

START_TEST(dotdot_follows_the_kernel)
{
    /* lexically ROOT/file, but the kernel resolves up/.. to BASE/rootx */
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Model");
    _cleanup_free_ char *sneaky = at(root, "up/../file");
    json_object_set_new(spec_of(doc), "artifact", json_string(sneaky));
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    _cleanup_free_ char *want = NULL;
    ck_assert_int_ge(
        asprintf(&want, "resolves to %s/file, which is outside policy.mountRoots", rootx), 0);
    assert_item(err, "spec.artifact", want);
}
END_TEST

START_TEST(missing_source_refused)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Model");
    _cleanup_free_ char *nope = at(root, "nope/model.joblib");
    json_object_set_new(spec_of(doc), "artifact", json_string(nope));
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    ck_assert_uint_eq(err->n_items, 1);
    assert_item(err, "spec.artifact", "does not exist on the host");
    assert_item(err, "spec.artifact", nope);

    /* a file used as a directory */
    _cleanup_free_ char *notdir = at(root, "model.joblib/x");
    json_object_set_new(spec_of(doc), "artifact", json_string(notdir));
    _cleanup_error_ struct cass_error *err2 = assert_refused(policy, doc);
    assert_item(err2, "spec.artifact", "does not exist on the host");
}
END_TEST

START_TEST(artifact_outside_roots)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Model");
    _cleanup_free_ char *sib = at(rootx, "file");
    json_object_set_new(spec_of(doc), "artifact", json_string(sib));
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    assert_item(err, "spec.artifact", "is outside policy.mountRoots");
}
END_TEST

START_TEST(docker_socket_refused)
{
    /* roots cover the whole test tree, so only the socket rule can fire */
    _cleanup_json_ json_t *policy = policy_new();
    json_object_set_new(policy, "mountRoots", json_pack("[s]", base));
    _cleanup_free_ char *link = at(root, "link-sock");
    _cleanup_free_ char *hard = at(root, "hard.sock");
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    json_object_set_new(spec_of(doc), "mounts",
                        json_pack("[o,o,o,o]", mount(sockpath, "/var/run/docker.sock"),
                                  mount(sockdir, "/s"), mount(link, "/l"), mount(hard, "/h")));
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    assert_item(err, "spec.mounts[0].source", "mounting the Docker socket is never allowed");
    assert_item(err, "spec.mounts[1].source", "mounting the Docker socket is never allowed");
    assert_item(err, "spec.mounts[2].source", "mounting the Docker socket is never allowed");
    if (have_hardlink)
        assert_item(err, "spec.mounts[3].source", "mounting the Docker socket is never allowed");
    ck_assert_uint_eq(items_at(err, "spec.mounts[0].source"), 1);
    ck_assert_uint_eq(items_at(err, "spec.mounts[1].source"), 1);

    /* the configured socket as a bare path, too */
    _cleanup_error_ struct cass_error *err2 = check(policy, sockpath, doc, NULL);
    ck_assert_ptr_nonnull(err2);
    assert_item(err2, "spec.mounts[1].source", "Docker socket");

    /* without the configured socket, the directory is just a directory */
    json_object_set_new(spec_of(doc), "mounts", json_pack("[o]", mount(sockdir, "/s")));
    _cleanup_error_ struct cass_error *err3 = check(policy, "tcp://127.0.0.1:2375", doc, NULL);
    ck_assert_ptr_null(err3);
}
END_TEST

START_TEST(well_known_sockets_refused)
{
    /* even with "/" as a root, whatever the configured endpoint */
    _cleanup_json_ json_t *policy = policy_new();
    json_object_set_new(policy, "mountRoots", json_pack("[s]", "/"));
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    json_object_set_new(spec_of(doc), "mounts",
                        json_pack("[o,o,o]", mount("/var/run/docker.sock", "/d"),
                                  mount("/run/docker.sock", "/d2"), mount("/run", "/r")));
    _cleanup_error_ struct cass_error *err = check(policy, NULL, doc, NULL);
    ck_assert_ptr_nonnull(err);
    for (int i = 0; i < 3; i++) {
        char path[64];
        snprintf(path, sizeof(path), "spec.mounts[%d].source", i);
        assert_item(err, path, "mounting the Docker socket is never allowed");
        ck_assert_uint_eq(items_at(err, path) > 0, 1);
    }
}
END_TEST

START_TEST(deny_list_wins_over_roots)
{
    static const char *const denied[] = {
        "/etc/hostname",           "/proc/self", "/sys",         "/dev/null", "/boot", "/root",
        "/var/lib/docker/volumes", "/var",       "/etc/../proc",
    };
    _cleanup_json_ json_t *policy = policy_new();
    json_object_set_new(policy, "mountRoots", json_pack("[s,s,s]", "/", "/etc", "/var"));
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    json_t *mounts = json_array();
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
        json_array_append_new(mounts, mount(denied[i], "/m"));
    json_array_append_new(mounts, mount("/", "/host"));
    json_object_set_new(spec_of(doc), "mounts", mounts);
    _cleanup_error_ struct cass_error *err = check(policy, NULL, doc, NULL);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(err->kind, CASS_ERR_FORBIDDEN);
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "spec.mounts[%zu].source", i);
        assert_item(err, path, "never mounted whatever policy.mountRoots says");
    }
    assert_item(err, "spec.mounts[0].source", "/etc/hostname is under /etc");
    assert_item(err, "spec.mounts[7].source", "/var contains /var/");
    char last[64];
    snprintf(last, sizeof(last), "spec.mounts[%zu].source", sizeof(denied) / sizeof(denied[0]));
    assert_item(err, last, "/ is the host's root directory, which is never mounted");

    /* and the test tree is still fine under "/" */
    _cleanup_free_ char *data = at(root, "data");
    json_object_set_new(spec_of(doc), "mounts", json_pack("[o]", mount(data, "/data")));
    assert_allowed(policy, doc);
}
END_TEST

START_TEST(empty_roots_refuse_every_path)
{
    _cleanup_json_ json_t *policy = policy_new();
    json_object_set_new(policy, "mountRoots", json_array());
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    _cleanup_free_ char *data = at(root, "data");
    json_object_set_new(spec_of(doc), "mounts", json_pack("[o]", mount(data, "/data")));
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    assert_item(err, "spec.mounts[0].source", "is outside policy.mountRoots (none)");
}
END_TEST

START_TEST(symlinked_root)
{
    /* a root given through a symlink is compared on its real path */
    char link[512];
    snprintf(link, sizeof(link), "%s/root-link", base);
    ck_assert_int_eq(symlink(root, link), 0);
    _cleanup_json_ json_t *policy = policy_new();
    json_object_set_new(policy, "mountRoots", json_pack("[s]", link));
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    _cleanup_free_ char *data = at(root, "data");
    _cleanup_free_ char *via = at(link, "data");
    json_object_set_new(spec_of(doc), "mounts",
                        json_pack("[o,o]", mount(data, "/a"), mount(via, "/b")));
    _cleanup_error_ struct cass_error *err = check(policy, docker_host, doc, NULL);
    unlink(link);
    if (err)
        dump(err);
    ck_assert_ptr_null(err);
}
END_TEST

/* ---- container targets ---------------------------------------------------------- */

START_TEST(targets_refused)
{
    static const char *const bad[] = {"/",        "/proc", "/proc/sys", "/sys/fs", "/dev",
                                      "/dev/shm", "/etc",  "/etc/",     "//proc"};
    static const char *const good[] = {"/etc/app.conf", "/processes", "/devices", "/data",
                                       "/system"};
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    _cleanup_free_ char *data = at(root, "data");
    json_t *mounts = json_array();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        json_array_append_new(mounts, mount(data, bad[i]));
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        json_array_append_new(mounts, mount(data, good[i]));
    json_object_set_new(spec_of(doc), "mounts", mounts);
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    ck_assert_uint_eq(err->n_items, sizeof(bad) / sizeof(bad[0]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "spec.mounts[%zu].target", i);
        assert_item(err, path, "would shadow the container's");
    }
    assert_item(err, "spec.mounts[2].target", "/proc/sys would shadow the container's /proc");
}
END_TEST

START_TEST(job_targets_refused)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = doc_new("Job");
    _cleanup_free_ char *data = at(root, "data");
    json_object_set_new(spec_of(doc), "inputs", json_pack("[o]", mount(data, "/dev/x")));
    json_object_set_new(spec_of(doc), "outputs", json_string("/sys"));
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    ck_assert_uint_eq(err->n_items, 2);
    assert_item(err, "spec.inputs[0].target", "the container's /dev");
    assert_item(err, "spec.outputs", "/sys would shadow the container's /sys");
}
END_TEST

/* ---- all at once, positions ------------------------------------------------------ */

static json_t *bad_everything(void)
{
    json_t *doc = doc_new("Notebook");
    _cleanup_free_ char *data = at(root, "data");
    _cleanup_free_ char *link = at(root, "link-out");
    json_object_set_new(spec_of(doc), "image", json_string("evil/x:1"));
    json_object_set_new(spec_of(doc), "resources", resources(16.0, 34359738368LL, 2));
    json_object_set_new(spec_of(doc), "mounts",
                        json_pack("[o,o]", mount(data, "/proc"), mount(link, "/host-etc")));
    return doc;
}

START_TEST(every_rule_at_once)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = bad_everything();
    _cleanup_error_ struct cass_error *err = assert_refused(policy, doc);
    assert_item(err, "spec.image", "policy.images allows cassiny/*, busybox");
    assert_item(err, "spec.resources.cpus", "policy.maxCpus (4)");
    assert_item(err, "spec.resources.memory", "policy.maxMemory (17179869184)");
    assert_item(err, "spec.resources.gpus", "policy.maxGpus (0)");
    assert_item(err, "spec.mounts[0].target", "/proc");
    assert_item(err, "spec.mounts[1].source", "outside policy.mountRoots");
    assert_item(err, "spec.mounts[1].source", "protected host path");
    ck_assert_uint_eq(err->n_items, 7);
    ck_assert_str_eq(err->message, "refused by policy: 7 rules broken");
    for (size_t i = 0; i < err->n_items; i++)
        ck_assert_int_eq(err->items[i].line, 0);
}
END_TEST

START_TEST(positions_come_through)
{
    _cleanup_json_ json_t *policy = policy_new();
    _cleanup_json_ json_t *doc = bad_everything();
    _cleanup_json_ json_t *pos =
        json_pack("{s:[i,i,i,i], s:[i,i,i,i], s:[i,i,i,i], s:[i,i,i,i], s:[i,i,i,i], s:[i,i,i,i],"
                  " s:[i,i,i,i]}",
                  "", 1, 1, 0, 0, "spec", 5, 3, 4, 1, "spec.image", 5, 10, 5, 3, "spec.resources",
                  6, 14, 6, 3, "spec.resources.memory", 6, 30, 6, 22, "spec.mounts[1].source", 9,
                  15, 9, 7, "spec.mounts[1]", 9, 7, 0, 0);
    _cleanup_error_ struct cass_error *err = check(policy, docker_host, doc, pos);
    ck_assert_ptr_nonnull(err);
    for (size_t i = 0; i < err->n_items; i++) {
        const struct cass_error_item *it = &err->items[i];
        if (!strcmp(it->path, "spec.image")) {
            ck_assert_int_eq(it->line, 5);
            ck_assert_int_eq(it->column, 10);
        } else if (!strcmp(it->path, "spec.resources.memory")) {
            ck_assert_int_eq(it->line, 6);
            ck_assert_int_eq(it->column, 30);
        } else if (!strcmp(it->path, "spec.resources.cpus")) {
            ck_assert_int_eq(it->line, 6); /* nearest parent */
            ck_assert_int_eq(it->column, 14);
        } else if (!strcmp(it->path, "spec.mounts[1].source")) {
            ck_assert_int_eq(it->line, 9);
            ck_assert_int_eq(it->column, 15);
        } else {
            ck_assert_int_gt(it->line, 0);
        }
    }
}
END_TEST

/* ---- policy and document shape --------------------------------------------------- */

START_TEST(null_policy_means_defaults)
{
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    json_object_set_new(spec_of(doc), "image", json_string("busybox"));
    json_object_set_new(spec_of(doc), "resources", resources(9.0, 1073741824LL, 1));
    _cleanup_error_ struct cass_error *err = check(NULL, NULL, doc, NULL);
    ck_assert_ptr_nonnull(err);
    assert_item(err, "spec.image", "policy.images allows cassiny/*");
    assert_item(err, "spec.resources.cpus", "cpus 9 exceeds policy.maxCpus (8)");
    assert_item(err, "spec.resources.gpus", "GPUs are not allowed");
    ck_assert_uint_eq(err->n_items, 3);
}
END_TEST

START_TEST(bad_policy_and_doc)
{
    _cleanup_json_ json_t *doc = doc_new("Notebook");
    _cleanup_json_ json_t *policy = policy_new();
    json_object_set_new(policy, "images", json_string("cassiny/*"));
    struct cass_error *err = NULL;
    ck_assert_int_eq(cass_policy_check(policy, NULL, doc, NULL, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_INTERNAL);
    ck_assert_uint_eq(err->n_items, 0);
    cass_error_free(err);
    err = NULL;

    _cleanup_json_ json_t *nospec = json_pack("{s:s}", "kind", "Notebook");
    ck_assert_int_eq(cass_policy_check(NULL, NULL, nospec, NULL, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_INVALID);
    cass_error_free(err);

    /* err may be NULL */
    json_object_set_new(spec_of(doc), "image", json_string("evil/x"));
    ck_assert_int_eq(cass_policy_check(NULL, NULL, doc, NULL, NULL), -1);
}
END_TEST

/* ---- user ------------------------------------------------------------------------ */

START_TEST(user_table)
{
    static const struct {
        const char *image_user;
        bool allow_root;
        const char *want; /* NULL: image default; "=": image_user itself */
    } cases[] = {
        {NULL, false, CASS_POLICY_NOBODY},
        {"", false, CASS_POLICY_NOBODY},
        {"root", false, CASS_POLICY_NOBODY},
        {"0", false, CASS_POLICY_NOBODY},
        {"000", false, CASS_POLICY_NOBODY},
        {"0:0", false, CASS_POLICY_NOBODY},
        {"root:root", false, CASS_POLICY_NOBODY},
        {"root:1000", false, CASS_POLICY_NOBODY},
        {"0:100", false, CASS_POLICY_NOBODY},
        {NULL, true, NULL},
        {"", true, NULL},
        {"root", true, NULL},
        {"0:0", true, NULL},
        {"1000", false, "="},
        {"jovyan", false, "="},
        {"1000:100", false, "="},
        {"1000:0", false, "="},
        {"rooted", false, "="},
        {"10", false, "="},
        {"65534:65534", true, "="},
        {"jovyan", true, "="},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        _cleanup_json_ json_t *policy = json_pack("{s:b}", "allowRootUser", cases[i].allow_root);
        const char *got = "untouched";
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_int_eq(cass_policy_user(policy, cases[i].image_user, &got, &err), 0);
        ck_assert_ptr_null(err);
        if (!cases[i].want)
            ck_assert_msg(got == NULL, "case %zu: got %s", i, got);
        else if (!strcmp(cases[i].want, "="))
            ck_assert_msg(got == cases[i].image_user, "case %zu", i);
        else
            ck_assert_str_eq(got, cases[i].want);
    }

    /* the default policy does not allow root */
    const char *got = NULL;
    ck_assert_int_eq(cass_policy_user(NULL, "root", &got, NULL), 0);
    ck_assert_str_eq(got, CASS_POLICY_NOBODY);
}
END_TEST

START_TEST(user_garbage_refused)
{
    static const char *const bad[] = {"a b",         "1000:", ":1000", "4294967295",
                                      "99999999999", "x\n",   "u:g:h", "$(id)"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *got = "untouched";
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_int_eq(cass_policy_user(NULL, bad[i], &got, &err), -1);
        ck_assert_int_eq(err->kind, CASS_ERR_FORBIDDEN);
        ck_assert_str_eq(got, "untouched");
    }
    _cleanup_json_ json_t *policy = json_pack("{s:s}", "allowRootUser", "yes");
    _cleanup_error_ struct cass_error *err = NULL;
    const char *got = NULL;
    ck_assert_int_eq(cass_policy_user(policy, "1000", &got, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_INTERNAL);
}
END_TEST

START_TEST(hardening)
{
    const char *const *caps = cass_policy_cap_drop();
    ck_assert_str_eq(caps[0], "ALL");
    ck_assert_ptr_null(caps[1]);
    const char *const *opts = cass_policy_security_opt();
    ck_assert_str_eq(opts[0], "no-new-privileges");
    ck_assert_ptr_null(opts[1]);
}
END_TEST

/* ---- pins (daemon/pin.c): the policy on the object the engine will mount ---- */

static json_t *pin_policy(void)
{
    return json_pack("{s:[s]}", "mountRoots", root);
}

START_TEST(pin_unstaged_gives_canonical_path)
{
    _cleanup_json_ json_t *pol = pin_policy();
    struct cass_pins *p = cass_pins_new();
    _cleanup_error_ struct cass_error *err = NULL;
    char path[512], want[512];
    snprintf(path, sizeof(path), "%s/link-in", root); /* a link that stays inside */
    snprintf(want, sizeof(want), "%s/data", root);
    const char *src = cass_pins_add(p, path, "/in", "spec.inputs[0].source", pol, NULL, &err);
    ck_assert_msg(src, "%s", err ? err->message : "?");
    ck_assert_str_eq(src, want);
    ck_assert_uint_eq(cass_pins_count(p), 1);
    ck_assert_str_eq(cass_pin_mode(), "unstaged: no state directory was set up");
    cass_pins_free(p);
}
END_TEST

START_TEST(pin_refuses_what_the_policy_refuses)
{
    _cleanup_json_ json_t *pol = pin_policy();
    struct cass_pins *p = cass_pins_new();
    char path[512];
    const char *cases[] = {"link-out", "up", "link-sock", "missing"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        _cleanup_error_ struct cass_error *err = NULL;
        snprintf(path, sizeof(path), "%s/%s", root, cases[i]);
        ck_assert_ptr_null(
            cass_pins_add(p, path, "/in", "spec.mounts[1].source", pol, docker_host, &err));
        ck_assert_int_eq(err->kind, CASS_ERR_FORBIDDEN);
        ck_assert_uint_ge(err->n_items, 1);
        ck_assert_str_eq(err->items[0].path, "spec.mounts[1].source");
    }
    /* A fifo under the root is neither a directory nor a file. */
    _cleanup_error_ struct cass_error *err = NULL;
    snprintf(path, sizeof(path), "%s/fifo", base);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    json_t *wide = json_pack("{s:[s]}", "mountRoots", base);
    ck_assert_ptr_null(cass_pins_add(p, path, "/in", "spec.mounts[0].source", wide, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err->message, "neither a directory nor a regular file"));
    json_decref(wide);
    unlink(path);
    ck_assert_uint_eq(cass_pins_count(p), 0);
    cass_pins_free(p);
}
END_TEST

START_TEST(pin_daemon_paths_are_not_policed)
{
    struct cass_pins *p = cass_pins_new();
    _cleanup_error_ struct cass_error *err = NULL;
    char path[512];
    snprintf(path, sizeof(path), "%s/sub", rootx); /* outside any root */
    ck_assert_ptr_nonnull(cass_pins_add(p, path, "/outputs", NULL, NULL, NULL, &err));
    cass_pins_free(p);
}
END_TEST

START_TEST(pin_verify_checks_the_engine_record)
{
    _cleanup_json_ json_t *pol = pin_policy();
    struct cass_pins *p = cass_pins_new();
    _cleanup_error_ struct cass_error *err = NULL;
    char path[512];
    snprintf(path, sizeof(path), "%s/data", root);
    const char *src = cass_pins_add(p, path, "/in", "spec.inputs[0].source", pol, NULL, &err);
    ck_assert_ptr_nonnull(src);
    _cleanup_json_ json_t *same = json_pack("[{s:s,s:s}]", "source", src, "target", "/in");
    ck_assert_int_eq(cass_pins_verify(p, same, &err), 0);
    _cleanup_json_ json_t *other = json_pack("[{s:s,s:s}]", "source", "/etc", "target", "/in");
    ck_assert_int_eq(cass_pins_verify(p, other, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_FORBIDDEN);
    ck_assert_ptr_nonnull(strstr(err->message, "/etc"));
    cass_error_free(TAKE_PTR(err));
    _cleanup_json_ json_t *none = json_array();
    ck_assert_int_eq(cass_pins_verify(p, none, &err), -1);
    cass_pins_free(p);
}
END_TEST

/* As root, with an "engine" in this process's mount namespace: the source
 * handed over is a mount of the checked directory in the pins directory,
 * and swapping the spec's path afterwards changes nothing it shows. */
START_TEST(pin_staged_survives_a_swap)
{
    char state[512], path[512], moved[512], lsock[512];
    snprintf(state, sizeof(state), "%s/state", base);
    snprintf(path, sizeof(path), "%s/swapme", root);
    snprintf(moved, sizeof(moved), "%s/swapme.real", root);
    snprintf(lsock, sizeof(lsock), "%s/engine.sock", base);
    ck_assert_int_eq(mkdir(state, 0700), 0);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    char marker[600];
    snprintf(marker, sizeof(marker), "%s/marker", path);
    FILE *f = fopen(marker, "w");
    ck_assert_ptr_nonnull(f);
    fputs("inside\n", f);
    fclose(f);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(lsock), sizeof(sa.sun_path));
    memcpy(sa.sun_path, lsock, strlen(lsock) + 1);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(l, 4), 0);
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_pin_setup(state, lsock, &err), 0);
    _cleanup_json_ json_t *pol = pin_policy();
    struct cass_pins *p = cass_pins_new();
    const char *src = cass_pins_add(p, path, "/in", "spec.inputs[0].source", pol, NULL, &err);
    ck_assert_msg(src, "%s", err ? err->message : "?");
    if (geteuid() != 0 || strcmp(cass_pin_mode(), "staged") != 0) {
        /* Not allowed to mount here: the canonical path, said so. */
        ck_assert_str_eq(src, path);
        ck_assert_ptr_nonnull(strstr(cass_pin_mode(), "unstaged: "));
    } else {
        ck_assert_int_eq(strncmp(src, state, strlen(state)), 0);
        ck_assert_int_eq(rename(path, moved), 0);
        ck_assert_int_eq(symlink("/etc", path), 0);
        char seen[600], buf[32] = "";
        snprintf(seen, sizeof(seen), "%s/marker", src);
        f = fopen(seen, "r");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
        fclose(f);
        ck_assert_str_eq(buf, "inside\n");
        char copy[512];
        snprintf(copy, sizeof(copy), "%s", src);
        cass_pins_free(p);
        p = NULL;
        struct stat st;
        ck_assert_int_eq(stat(copy, &st), -1); /* the pin is gone with the pins */
        unlink(path);
        rename(moved, path);
    }
    cass_pins_free(p);
    close(l);
    unlink(lsock);
    unlink(marker);
    rmdir(path);
    char pins[600];
    snprintf(pins, sizeof(pins), "%s/pins", state);
    rmdir(pins);
    rmdir(state);
}
END_TEST

static Suite *policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("spec");
    tcase_add_unchecked_fixture(tc, tree_setup, rm_tree);
    tcase_add_test(tc, notebook_allowed);
    tcase_add_test(tc, job_allowed);
    tcase_add_test(tc, model_allowed);
    tcase_add_test(tc, mount_root_itself_allowed);
    tcase_add_test(tc, image_refused_names_rule);
    tcase_add_test(tc, image_matching);
    tcase_add_test(tc, image_id_message);
    tcase_add_test(tc, image_empty_list);
    tcase_add_test(tc, memory_refused);
    tcase_add_test(tc, cpus_refused);
    tcase_add_test(tc, gpus_refused);
    tcase_add_test(tc, pids_refused_over_the_ceiling);
    tcase_add_test(tc, limits_are_inclusive);
    tcase_add_test(tc, missing_resources_fail_closed);
    tcase_add_test(tc, source_outside_roots);
    tcase_add_test(tc, symlink_out_refused);
    tcase_add_test(tc, dotdot_follows_the_kernel);
    tcase_add_test(tc, missing_source_refused);
    tcase_add_test(tc, artifact_outside_roots);
    tcase_add_test(tc, docker_socket_refused);
    tcase_add_test(tc, well_known_sockets_refused);
    tcase_add_test(tc, deny_list_wins_over_roots);
    tcase_add_test(tc, empty_roots_refuse_every_path);
    tcase_add_test(tc, symlinked_root);
    tcase_add_test(tc, targets_refused);
    tcase_add_test(tc, job_targets_refused);
    tcase_add_test(tc, every_rule_at_once);
    tcase_add_test(tc, positions_come_through);
    tcase_add_test(tc, null_policy_means_defaults);
    tcase_add_test(tc, bad_policy_and_doc);
    suite_add_tcase(s, tc);

    TCase *tp = tcase_create("pin");
    tcase_add_unchecked_fixture(tp, tree_setup, rm_tree);
    tcase_add_test(tp, pin_unstaged_gives_canonical_path);
    tcase_add_test(tp, pin_refuses_what_the_policy_refuses);
    tcase_add_test(tp, pin_daemon_paths_are_not_policed);
    tcase_add_test(tp, pin_verify_checks_the_engine_record);
    tcase_add_test(tp, pin_staged_survives_a_swap);
    suite_add_tcase(s, tp);

    TCase *tu = tcase_create("user");
    tcase_add_test(tu, user_table);
    tcase_add_test(tu, user_garbage_refused);
    tcase_add_test(tu, hardening);
    suite_add_tcase(s, tu);
    return s;
}

int main(void)
{
    return cass_check_run(policy_suite());
}
