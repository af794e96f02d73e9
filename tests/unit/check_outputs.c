/* Manifests: hashing trees without following links, and comparing runs. */
#include "config.h"

#include "check_run.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "hash.h"
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

/* ---- parallel hashing and the hash cache ---------------------------------- */

/* One tree for the whole case, made once and then left alone for longer
 * than the cache's racy window, so that its files may be cached. stable/ is
 * never changed by a test; each test that changes files has its own
 * directory. */
static char tree[128];
#define STABLE_FILES 45 /* regular files under stable/ */

static char *at(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *at(const char *fmt, ...)
{
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ % 4];
    int n = snprintf(b, sizeof(bufs[0]), "%s/", tree);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b + n, sizeof(bufs[0]) - (size_t)n, fmt, ap);
    va_end(ap);
    return b;
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void make_tree(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(tree, sizeof(tree), "%s/cass-hash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tree));
    const char *dirs[] = {"stable",      "stable/deep", "stable/deep/er", "stable/deep/er/still",
                          "stable/many", "mut",         "hooked",         "broken"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++)
        ck_assert_int_eq(mkdir(at("%s", dirs[i]), 0755), 0);
    write_file(at("stable/a.txt"), "alpha\n", 6);
    write_file(at("stable/empty"), "", 0);
    write_file(at("stable/deep/er/still/leaf.txt"), "leaf", 4);
    /* Larger than one read, and not a multiple of it. */
    size_t big = 3 * 1024 * 1024 + 17;
    unsigned char *b = malloc(big);
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < big; i++)
        b[i] = (unsigned char)(i * 2654435761u >> 13);
    write_file(at("stable/big.bin"), b, big);
    free(b);
    for (int i = 0; i < 40; i++) {
        char text[32];
        int n = snprintf(text, sizeof(text), "file %d\n", i);
        write_file(at("stable/many/f%03d", i), text, (size_t)n);
    }
    /* two paths, one inode: one cache row */
    ck_assert_int_eq(link(at("stable/many/f007"), at("stable/many/hard")), 0);
    ck_assert_int_eq(symlink("a.txt", at("stable/link-file")), 0);
    ck_assert_int_eq(symlink("deep", at("stable/link-dir")), 0);
    ck_assert_int_eq(symlink("/nonexistent/target", at("stable/dangling")), 0);
    ck_assert_int_eq(mkfifo(at("stable/fifo"), 0600), 0);
    for (int i = 0; i < 4; i++)
        write_file(at("mut/m%d.txt", i), "same size", 9);
    write_file(at("hooked/h.txt"), "before", 6);
    write_file(at("hooked/other.txt"), "other", 5);
    for (int i = 0; i < 3; i++)
        write_file(at("broken/b%d.txt", i), "b", 1);
    /* Older than the racy window: a stat from now on may be trusted. */
    usleep((CASS_HASHCACHE_RACY_MS + 200) * 1000);
}

static void remove_tree(void)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tree);
    ck_assert_int_eq(system(cmd), 0);
}

/* The manifest as a plain sequential walk computes it, independently of the
 * module: nftw without following links, cass_hash_file for each file. */
static json_t *ref_list;
static size_t ref_skip;
static const char *ref_prefix;

static int ref_visit(const char *fpath, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F && type != FTW_SL)
        return 0;
    if (type == FTW_F && !S_ISREG(st->st_mode))
        return 0;
    char hex[CASS_SHA256_HEX_LEN + 1], target[4096];
    long long size = (long long)st->st_size;
    if (type == FTW_SL) {
        ssize_t n = readlink(fpath, target, sizeof(target));
        ck_assert_int_ge(n, 0);
        cass_hash_sha256_hex(target, (size_t)n, hex);
        size = n;
    } else {
        ck_assert_int_eq(cass_hash_file(fpath, hex, NULL), 0);
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s%s%s", ref_prefix, *ref_prefix ? "/" : "",
             fpath + ref_skip + 1);
    json_array_append_new(ref_list,
                          json_pack("{s:s,s:I,s:s}", "path", path, "size", size, "sha256", hex));
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "path")),
                  json_string_value(json_object_get(*(json_t *const *)b, "path")));
}

static json_t *reference(const char *dir, const char *prefix)
{
    ref_list = json_array();
    ref_skip = strlen(dir);
    ref_prefix = prefix;
    ck_assert_int_eq(nftw(dir, ref_visit, 16, FTW_PHYS), 0);
    size_t n = json_array_size(ref_list);
    json_t **v = calloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(ref_list, i);
    qsort(v, n, sizeof(*v), entry_cmp);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(out, v[i]);
    free(v);
    json_decref(ref_list);
    return out;
}

static void assert_same(const json_t *want, const json_t *got)
{
    ck_assert_ptr_nonnull(got);
    if (!json_equal(want, got)) {
        char *a = json_dumps(want, JSON_INDENT(1)), *b = json_dumps(got, JSON_INDENT(1));
        ck_abort_msg("manifests differ:\nwant %s\ngot %s", a, b);
    }
}

/* Files read by one manifest with the cache c (NULL for none). */
static unsigned long long reads_of(const char *dir, struct cass_hashcache *c, json_t **ret)
{
    _cleanup_error_ struct cass_error *err = NULL;
    unsigned long long before = cass_outputs_files_read();
    *ret = cass_outputs_manifest_parallel(dir, "", c, 2, &err);
    ck_assert_msg(*ret, "manifest of %s: %s", dir, err ? err->message : "?");
    return cass_outputs_files_read() - before;
}

static struct cass_hashcache *open_cache(const char *name)
{
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_hashcache *c = cass_hashcache_open(at("%s", name), &err);
    ck_assert_msg(c, "open cache: %s", err ? err->message : "?");
    return c;
}

START_TEST(parallel_equals_sequential)
{
    _cleanup_json_ json_t *ref = reference(at("stable"), "in");
    /* nested dirs, 3 links (one to a dir, one dangling), a hard link, an
     * empty and a large file; the FIFO is skipped, the link to a dir not
     * followed */
    ck_assert_uint_eq(json_array_size(ref), STABLE_FILES + 3);
    unsigned threads[] = {1, 2, 3, 8, 0};
    for (size_t i = 0; i < sizeof(threads) / sizeof(*threads); i++) {
        _cleanup_error_ struct cass_error *err = NULL;
        _cleanup_json_ json_t *m =
            cass_outputs_manifest_parallel(at("stable"), "in", NULL, threads[i], &err);
        assert_same(ref, m);
    }
    _cleanup_json_ json_t *seq = cass_outputs_manifest(at("stable"), "in", NULL);
    assert_same(ref, seq);
    struct cass_hashcache *c = open_cache("equal.db");
    for (int pass = 0; pass < 2; pass++) {
        _cleanup_json_ json_t *m = cass_outputs_manifest_parallel(at("stable"), "in", c, 0, NULL);
        assert_same(ref, m);
    }

    /* One regular file: one entry named by the prefix, cached or not. */
    char big[65];
    ck_assert_int_eq(cass_hash_file(at("stable/big.bin"), big, NULL), 0);
    for (int pass = 0; pass < 3; pass++) {
        _cleanup_json_ json_t *one = cass_outputs_manifest_parallel(
            at("stable/big.bin"), pass ? "model.bin" : NULL, pass ? c : NULL, 4, NULL);
        ck_assert_uint_eq(json_array_size(one), 1);
        json_t *e = json_array_get(one, 0);
        ck_assert_str_eq(json_string_value(json_object_get(e, "path")),
                         pass ? "model.bin" : "big.bin");
        ck_assert_int_eq(json_integer_value(json_object_get(e, "size")), 3 * 1024 * 1024 + 17);
        ck_assert_str_eq(json_string_value(json_object_get(e, "sha256")), big);
    }
    /* An empty tree (a job that wrote nothing) is an empty manifest. */
    ck_assert_int_eq(mkdir(at("empty-dir"), 0755), 0);
    for (int pass = 0; pass < 2; pass++) {
        _cleanup_error_ struct cass_error *err = NULL;
        _cleanup_json_ json_t *none =
            cass_outputs_manifest_parallel(at("empty-dir"), "", pass ? c : NULL, 0, &err);
        ck_assert_ptr_nonnull(none);
        ck_assert_uint_eq(json_array_size(none), 0);
    }
    /* A name that is not UTF-8 cannot be a manifest path: reported, not
     * left out. */
    ck_assert_int_eq(mkdir(at("latin1"), 0755), 0);
    write_file(at("latin1/caf\xe9"), "x", 1);
    for (int pass = 0; pass < 2; pass++) {
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_ptr_null(
            cass_outputs_manifest_parallel(at("latin1"), "", pass ? c : NULL, 1, &err));
        ck_assert_int_eq(err->kind, CASS_ERR_INVALID);
        ck_assert_ptr_nonnull(strstr(err->message, "caf?: the file name is not UTF-8"));
    }
    /* A link given as the file is not followed, with or without a cache. */
    for (int pass = 0; pass < 2; pass++) {
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_ptr_null(
            cass_outputs_manifest_parallel(at("stable/link-file"), "", pass ? c : NULL, 1, &err));
        ck_assert_ptr_nonnull(strstr(err->message, "symbolic links"));
    }
    cass_hashcache_close(c);
}
END_TEST

START_TEST(cache_hit_reads_nothing)
{
    _cleanup_json_ json_t *ref = reference(at("stable"), "");
    struct cass_hashcache *c = open_cache("hit.db");
    _cleanup_json_ json_t *m1 = NULL, *m2 = NULL, *m3 = NULL;
    ck_assert_uint_eq(reads_of(at("stable"), c, &m1), STABLE_FILES);
    assert_same(ref, m1);
    ck_assert_uint_eq(reads_of(at("stable"), c, &m2), 0);
    assert_same(ref, m2);
    /* Kept across a close and an open; keyed by the file, not its path. */
    cass_hashcache_close(c);
    c = open_cache("hit.db");
    ck_assert_uint_eq(reads_of(at("stable/deep"), c, &m3), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m3, 0), "path")),
                     "er/still/leaf.txt");
    /* Without a cache, everything is read. */
    _cleanup_json_ json_t *m4 = NULL;
    ck_assert_uint_eq(reads_of(at("stable"), NULL, &m4), STABLE_FILES);
    ck_assert_ptr_null(cass_hashcache_take_error(c));
    cass_hashcache_close(c);
}
END_TEST

static void set_mtime(const char *path, const struct timespec *mtime)
{
    struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, *mtime};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

START_TEST(changed_file_is_rehashed)
{
    struct cass_hashcache *c = open_cache("changed.db");
    _cleanup_json_ json_t *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;
    ck_assert_uint_eq(reads_of(at("mut"), c, &m1), 4);
    ck_assert_uint_eq(reads_of(at("mut"), c, &m2), 0);

    struct stat st;
    ck_assert_int_eq(stat(at("mut/m1.txt"), &st), 0);
    /* m0: same size, new content (mtime and ctime move) */
    write_file(at("mut/m0.txt"), "SAME SIZE", 9);
    /* m1: mtime set back to what it was: only the ctime tells */
    set_mtime(at("mut/m1.txt"), &st.st_mtim);
    /* m2: replaced by another file (another inode) of the same size and mtime */
    ck_assert_int_eq(stat(at("mut/m2.txt"), &st), 0);
    write_file(at("mut/new"), "same SIZE", 9);
    set_mtime(at("mut/new"), &st.st_mtim);
    ck_assert_int_eq(rename(at("mut/new"), at("mut/m2.txt")), 0);
    /* m3: untouched */

    _cleanup_json_ json_t *ref = reference(at("mut"), "");
    ck_assert_uint_eq(reads_of(at("mut"), c, &m3), 3);
    assert_same(ref, m3);
    char hex[65];
    cass_hash_sha256_hex("SAME SIZE", 9, hex);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m3, 0), "sha256")), hex);
    /* Just written, within the racy window: not trusted yet, read again. */
    ck_assert_uint_eq(reads_of(at("mut"), c, &m4), 3);
    assert_same(ref, m4);
    cass_hashcache_close(c);
}
END_TEST

static int hook_calls, hook_every;

static void change_while_read(const char *path, int attempt)
{
    if (strcmp(path, "h.txt") != 0 || (attempt > 1 && !hook_every))
        return;
    hook_calls++;
    char text[32];
    int n = snprintf(text, sizeof(text), "after %d", hook_calls);
    write_file(at("hooked/h.txt"), text, (size_t)n);
}

START_TEST(file_changed_while_read)
{
    /* Changed between open and read: read again, the new content reported. */
    cass_outputs_set_read_hook(change_while_read);
    _cleanup_json_ json_t *m = NULL;
    ck_assert_uint_eq(reads_of(at("hooked"), NULL, &m), 3);
    ck_assert_int_eq(hook_calls, 1);
    _cleanup_json_ json_t *ref = reference(at("hooked"), "");
    assert_same(ref, m);
    char hex[65];
    cass_hash_sha256_hex("after 1", 7, hex);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 0), "sha256")), hex);

    /* Changing at every attempt: reported, not guessed. */
    hook_every = 1;
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_ptr_null(cass_outputs_manifest_parallel(at("hooked"), "", NULL, 1, &err));
    ck_assert_int_eq(err->kind, CASS_ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err->message, "h.txt changed while it was hashed"));
    ck_assert_int_eq(hook_calls, 4);
    cass_outputs_set_read_hook(NULL);
}
END_TEST

static void sql(const char *db, const char *text)
{
    sqlite3 *h = NULL;
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    char *msg = NULL;
    ck_assert_msg(sqlite3_exec(h, text, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", text, msg);
    sqlite3_close(h);
}

START_TEST(bad_cache_files)
{
    _cleanup_error_ struct cass_error *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;
    char junk[8192];
    memset(junk, 'x', sizeof(junk));
    write_file(at("junk.db"), junk, sizeof(junk));
    ck_assert_ptr_null(cass_hashcache_open(at("junk.db"), &e1));
    ck_assert_int_eq(e1->kind, CASS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(e1->message, "not a database"));

    /* Someone else's database is left alone. */
    sql(at("other.db"), "CREATE TABLE runs (id TEXT)");
    ck_assert_ptr_null(cass_hashcache_open(at("other.db"), &e2));
    ck_assert_ptr_nonnull(strstr(e2->message, "not a hash cache"));

    /* Not writable: below a regular file, or a directory. */
    ck_assert_ptr_null(cass_hashcache_open(at("junk.db/cache.db"), &e3));
    ck_assert_ptr_nonnull(strstr(e3->message, "junk.db/cache.db"));
    ck_assert_ptr_null(cass_hashcache_open(at("stable"), &e4));
    ck_assert_ptr_nonnull(e4);
    if (geteuid() != 0) {
        _cleanup_error_ struct cass_error *e5 = NULL;
        write_file(at("ro.db"), "", 0);
        ck_assert_int_eq(chmod(at("ro.db"), 0400), 0);
        ck_assert_ptr_null(cass_hashcache_open(at("ro.db"), &e5));
    }
}
END_TEST

START_TEST(broken_cache_falls_back)
{
    _cleanup_json_ json_t *ref = reference(at("broken"), "");
    struct cass_hashcache *c = open_cache("broken.db");
    _cleanup_json_ json_t *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;
    ck_assert_uint_eq(reads_of(at("broken"), c, &m1), 3);
    ck_assert_uint_eq(reads_of(at("broken"), c, &m2), 0);

    /* A row that does not hold a hash is not one. */
    sql(at("broken.db"), "UPDATE files SET sha256 = x'00'");
    ck_assert_uint_eq(reads_of(at("broken"), c, &m3), 3);
    assert_same(ref, m3);

    /* The table gone under the open cache: every file read, the error kept. */
    sql(at("broken.db"), "DROP TABLE files");
    ck_assert_uint_eq(reads_of(at("broken"), c, &m4), 3);
    assert_same(ref, m4);
    struct cass_error *e = cass_hashcache_take_error(c);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->kind, CASS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(e->message, "no such table"));
    cass_error_free(e);
    ck_assert_ptr_null(cass_hashcache_take_error(c));

    /* Garbage over the open database and its log: still right. */
    char junk[65536];
    memset(junk, 0x5a, sizeof(junk));
    write_file(at("broken.db"), junk, sizeof(junk));
    write_file(at("broken.db-wal"), junk, sizeof(junk));
    for (int pass = 0; pass < 2; pass++) {
        _cleanup_json_ json_t *m = NULL;
        reads_of(at("broken"), c, &m);
        assert_same(ref, m);
    }
    cass_error_free(cass_hashcache_take_error(c));
    cass_hashcache_close(c);
}
END_TEST

static long long count_rows(const char *db, const char *where)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    char q[256];
    snprintf(q, sizeof(q), "SELECT count(*) FROM files WHERE %s", where);
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(h, q, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

START_TEST(cache_is_bounded)
{
    struct cass_hashcache *c = open_cache("bounded.db");
    _cleanup_json_ json_t *m1 = NULL, *m2 = NULL;
    ck_assert_uint_eq(reads_of(at("stable"), c, &m1), STABLE_FILES);
    cass_hashcache_close(c);
    /* Beyond the bound, all seen before the real rows (seen now), and 500
     * not seen for longer than the TTL. */
    long long now = (long long)time(NULL), extra = CASS_HASHCACHE_MAX_ROWS + 1000;
    char q[512];
    snprintf(q, sizeof(q),
             "PRAGMA synchronous=OFF; "
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %lld) "
             "INSERT INTO files SELECT 999999, i, 1, 1, 1, zeroblob(32), %lld - 1 - i FROM n",
             extra, now);
    sql(at("bounded.db"), q);
    snprintf(q, sizeof(q),
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) "
             "INSERT INTO files SELECT 999998, i, 1, 1, 1, zeroblob(32), %lld FROM n",
             now - (CASS_HASHCACHE_TTL_DAYS + 1) * 86400LL);
    sql(at("bounded.db"), q);
    ck_assert_int_eq(count_rows(at("bounded.db"), "1"), extra + 500 + STABLE_FILES - 1);

    c = open_cache("bounded.db");
    ck_assert_int_eq(count_rows(at("bounded.db"), "dev = 999998"), 0);
    ck_assert_int_eq(count_rows(at("bounded.db"), "1"), CASS_HASHCACHE_MAX_ROWS / 10 * 9);
    /* the least recently seen went, the real rows (one per inode) stayed */
    long long kept = CASS_HASHCACHE_MAX_ROWS / 10 * 9 - (STABLE_FILES - 1);
    char where[64];
    snprintf(where, sizeof(where), "dev = 999999 AND ino <= %lld", kept);
    ck_assert_int_eq(count_rows(at("bounded.db"), where), kept);
    ck_assert_int_eq(count_rows(at("bounded.db"), "dev = 999999"), kept);
    ck_assert_uint_eq(reads_of(at("stable"), c, &m2), 0);
    cass_hashcache_close(c);
}
END_TEST

struct sharer {
    struct cass_hashcache *cache;
    const json_t *ref;
    int same;
};

static void *share(void *arg)
{
    struct sharer *sh = arg;
    for (int i = 0; i < 4; i++) {
        json_t *m = cass_outputs_manifest_parallel(at("stable"), "", sh->cache, 2, NULL);
        sh->same += m && json_equal(m, sh->ref);
        json_decref(m);
    }
    return NULL;
}

START_TEST(cache_shared_by_threads)
{
    _cleanup_json_ json_t *ref = reference(at("stable"), "");
    struct cass_hashcache *c = open_cache("shared.db");
    struct sharer sh[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        sh[i] = (struct sharer){.cache = c, .ref = ref};
        ck_assert_int_eq(pthread_create(&t[i], NULL, share, &sh[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(sh[i].same, 4);
    }
    ck_assert_ptr_null(cass_hashcache_take_error(c));
    _cleanup_json_ json_t *m = NULL;
    ck_assert_uint_eq(reads_of(at("stable"), c, &m), 0);
    cass_hashcache_close(c);
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

    TCase *par = tcase_create("parallel");
    /* cache_is_bounded writes and prunes 400,000 rows: seconds, more on a
     * busy machine */
    tcase_set_timeout(par, 180);
    tcase_add_unchecked_fixture(par, make_tree, remove_tree);
    tcase_add_test(par, parallel_equals_sequential);
    tcase_add_test(par, cache_hit_reads_nothing);
    tcase_add_test(par, changed_file_is_rehashed);
    tcase_add_test(par, file_changed_while_read);
    tcase_add_test(par, bad_cache_files);
    tcase_add_test(par, broken_cache_falls_back);
    tcase_add_test(par, cache_is_bounded);
    tcase_add_test(par, cache_shared_by_threads);
    suite_add_tcase(s, par);
    return cass_check_run(s);
}
