#include "config.h"

#include "check_run.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "hash.h"
#include "store.h"

/* A private directory for the file databases of the whole run, made by
 * main and removed after every test has run (even failed ones). */
static char tmpdir[1024];

static void db_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void storep(struct cass_store **s)
{
    cass_store_close(*s);
}
#define _cleanup_store_ _cleanup_(storep)

static struct cass_store *open_ok(const char *path)
{
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_store *s = cass_store_open(path, &err);
    ck_assert_msg(s != NULL, "open %s: %s", path, err ? err->message : "?");
    return s;
}

/* Stores the revision of a minimal spec of that name and kind; writes it to rev. */
static void put_revision(struct cass_store *s, const char *name, const char *kind, char rev[72])
{
    _cleanup_free_ char *canonical = NULL;
    ck_assert_int_ge(asprintf(&canonical,
                              "{\"apiVersion\":\"cassiny/v1\",\"kind\":\"%s\","
                              "\"metadata\":{\"name\":\"%s\"},\"spec\":{}}",
                              kind, name),
                     0);
    char hex[CASS_SHA256_HEX_LEN + 1];
    cass_hash_sha256_hex(canonical, strlen(canonical), hex);
    snprintf(rev, 72, "sha256:%s", hex);
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_ge(cass_store_revision_put(s, rev, name, kind, canonical, &err), 0);
}

static json_t *new_run(const char *name, const char *kind, const char *rev)
{
    json_t *run = json_pack("{s:s, s:s, s:s}", "name", name, "kind", kind, "revision", rev);
    ck_assert_ptr_nonnull(run);
    return run;
}

/* Inserts a minimal run and returns its id (caller frees). */
static char *insert_run(struct cass_store *s, const char *name, const char *kind, const char *rev,
                        const char *status)
{
    _cleanup_json_ json_t *run = new_run(name, kind, rev);
    if (status)
        json_object_set_new(run, "status", json_string(status));
    _cleanup_json_ json_t *stored = NULL;
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_msg(cass_store_run_insert(s, run, &stored, &err) == 0, "insert: %s",
                  err ? err->message : "?");
    return strdup(json_string_value(json_object_get(stored, "id")));
}

static void assert_error(struct cass_error *err, enum cass_error_kind kind)
{
    ck_assert_msg(err != NULL, "expected a %s error, got none", cass_error_kind_name(kind));
    ck_assert_msg(err->kind == kind, "expected %s, got %s: %s", cass_error_kind_name(kind),
                  cass_error_kind_name(err->kind), err->message ? err->message : "");
    ck_assert_ptr_nonnull(err->message);
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
}

static const char hex_a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char hex_b[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/* --- open, migrations ------------------------------------------------------ */

START_TEST(test_open_memory)
{
    _cleanup_store_ struct cass_store *s = open_ok(":memory:");
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_store_schema_version(s, &err), cass_store_schema_latest());
    ck_assert_int_ge(cass_store_schema_latest(), 2);
    ck_assert_ptr_nonnull(cass_store_migration_sql(1));
    ck_assert_ptr_null(cass_store_migration_sql(0));
    ck_assert_ptr_null(cass_store_migration_sql(cass_store_schema_latest() + 1));
}
END_TEST

START_TEST(test_open_errors)
{
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_ptr_null(cass_store_open("", &err));
    assert_error(err, CASS_ERR_INVALID);
    cass_error_free(TAKE_PTR(err));
    char path[PATH_MAX];
    db_path(path, sizeof(path), "no-such-dir/x.db");
    ck_assert_ptr_null(cass_store_open(path, &err));
    assert_error(err, CASS_ERR_NOT_FOUND);
    cass_error_free(TAKE_PTR(err));

    /* not a database: SQLite's word for it comes back */
    db_path(path, sizeof(path), "garbage.db");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 512; i++)
        fputs("not a database ", f);
    fclose(f);
    ck_assert_ptr_null(cass_store_open(path, &err));
    assert_error(err, CASS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err->message, "not a database"));
}
END_TEST

/* The full mark: set by whoever met no room, cleared only by a probe that
 * wrote both a file in the directory and a page of the database. */
START_TEST(test_full_mark_and_probe)
{
    char path[PATH_MAX];
    db_path(path, sizeof(path), "full.db");
    _cleanup_store_ struct cass_store *s = open_ok(path);
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert(!cass_store_full(s));
    ck_assert_int_eq(cass_store_probe(s, tmpdir, &err), 0); /* room, not marked: no write */
    cass_store_mark_full(s);
    ck_assert(cass_store_full(s));
    ck_assert_int_eq(cass_store_probe(s, "/nonexistent-dir", &err), -1);
    ck_assert(cass_store_full(s));
    cass_error_free(TAKE_PTR(err));
    ck_assert_int_eq(cass_store_probe(s, tmpdir, &err), 0);
    ck_assert(!cass_store_full(s));
    char probe[PATH_MAX];
    snprintf(probe, sizeof(probe), "%s/.space-probe", tmpdir);
    ck_assert_int_ne(access(probe, F_OK), 0); /* it cleans up after itself */
}
END_TEST

START_TEST(test_file_reopen_wal)
{
    char path[PATH_MAX];
    db_path(path, sizeof(path), "reopen.db");
    char rev[72];
    _cleanup_free_ char *id = NULL;
    _cleanup_json_ json_t *before = NULL;
    _cleanup_error_ struct cass_error *err = NULL;
    {
        _cleanup_store_ struct cass_store *s = open_ok(path);
        put_revision(s, "reopen", "Job", rev);
        id = insert_run(s, "reopen", "Job", rev, "running");
        ck_assert_int_eq(cass_store_spec_put(s, "reopen", "Job", rev, id, &err), 0);
        before = cass_store_run_get(s, id, &err);
        ck_assert_ptr_nonnull(before);

        /* WAL is a property of the file: a second connection sees it */
        sqlite3 *db = NULL;
        ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
        sqlite3_stmt *st = NULL;
        ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);

    _cleanup_store_ struct cass_store *s = open_ok(path);
    ck_assert_int_eq(cass_store_schema_version(s, &err), cass_store_schema_latest());
    _cleanup_json_ json_t *after = cass_store_run_get(s, id, &err);
    ck_assert_ptr_nonnull(after);
    ck_assert(json_equal(before, after));
    _cleanup_json_ json_t *spec = cass_store_spec_get(s, "reopen", &err);
    ck_assert_ptr_nonnull(spec);
    ck_assert_str_eq(json_string_value(json_object_get(spec, "runId")), id);
    _cleanup_json_ json_t *revision = cass_store_revision_get(s, rev, &err);
    ck_assert_ptr_nonnull(revision);
    ck_assert_str_eq(json_string_value(json_object_get(revision, "kind")), "Job");
}
END_TEST

START_TEST(test_migrate_empty)
{
    char path[PATH_MAX];
    db_path(path, sizeof(path), "empty.db");
    {
        _cleanup_store_ struct cass_store *s = open_ok(path);
    }
    /* every step recorded, in order */
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT version FROM schema_version ORDER BY version",
                                        -1, &st, NULL),
                     SQLITE_OK);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        ck_assert_int_eq(sqlite3_column_int(st, 0), ++n);
    ck_assert_int_eq(n, cass_store_schema_latest());
    sqlite3_finalize(st);
    sqlite3_close(db);
}
END_TEST

/* A database as the first release left it: migration 1 only, with a run. */
START_TEST(test_migrate_old_version)
{
    char path[PATH_MAX];
    db_path(path, sizeof(path), "old.db");
    const char *canonical = "{\"apiVersion\":\"cassiny/v1\",\"kind\":\"Job\","
                            "\"metadata\":{\"name\":\"old-job\"},\"spec\":{}}";
    char hex[CASS_SHA256_HEX_LEN + 1];
    cass_hash_sha256_hex(canonical, strlen(canonical), hex);
    const char *run_id = "r-01HQ0000000000000000000000";
    {
        sqlite3 *db = NULL;
        ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
        raw_exec(db, "PRAGMA journal_mode=WAL");
        raw_exec(db, "CREATE TABLE schema_version (version INTEGER PRIMARY KEY,"
                     " applied_at TEXT NOT NULL)");
        raw_exec(db, cass_store_migration_sql(1));
        raw_exec(db, "INSERT INTO schema_version VALUES (1, '2024-01-01T00:00:00.000Z')");
        _cleanup_free_ char *sql = NULL;
        ck_assert_int_ge(
            asprintf(&sql,
                     "INSERT INTO revisions VALUES ('sha256:%s', 'old-job', 'Job', '%s',"
                     " '2024-01-01T00:00:00.000Z');"
                     "INSERT INTO runs (id, name, kind, revision, status, image_ref, image_id,"
                     " containers, exit_code, created_at, started_at, finished_at, artifacts)"
                     " VALUES ('%s', 'old-job', 'Job', 'sha256:%s', 'succeeded', 'busybox:1',"
                     " 'sha256:%s', '[\"c0ffee\"]', 0, '2024-01-01T00:00:01.000Z',"
                     " '2024-01-01T00:00:02.000Z', '2024-01-01T00:00:03.000Z', '[]');"
                     "INSERT INTO run_outputs VALUES ('%s', 'metrics.json', 42, '%s');",
                     hex, canonical, run_id, hex, hex_a, run_id, hex_b),
            0);
        raw_exec(db, sql);
        ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
    }

    _cleanup_store_ struct cass_store *s = open_ok(path);
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_store_schema_version(s, &err), cass_store_schema_latest());
    _cleanup_json_ json_t *run = cass_store_run_get(s, run_id, &err);
    ck_assert_msg(run != NULL, "%s", err ? err->message : "?");
    _cleanup_free_ char *rev = NULL;
    ck_assert_int_ge(asprintf(&rev, "sha256:%s", hex), 0);
    _cleanup_free_ char *image_id = NULL;
    ck_assert_int_ge(asprintf(&image_id, "sha256:%s", hex_a), 0);
    _cleanup_json_ json_t *expected = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:[]}, s:[s], s:n, s:[], s:n, s:n, s:i, s:s, "
        "s:s, s:n, s:s, s:[], s:[{s:s, s:i, s:s}], s:n}",
        "id", run_id, "name", "old-job", "kind", "Job", "status", "succeeded", "revision", rev,
        "image", "ref", "busybox:1", "id", image_id, "repoDigests", "containers", "c0ffee", "url",
        "ports", "reason", "error", "exitCode", 0, "createdAt", "2024-01-01T00:00:01.000Z",
        "startedAt", "2024-01-01T00:00:02.000Z", "readyAt", "finishedAt",
        "2024-01-01T00:00:03.000Z", "artifacts", "outputs", "path", "metrics.json", "size", 42,
        "sha256", hex_b, "reproducedFrom");
    ck_assert_ptr_nonnull(expected);
    /* what was there before users belongs to the unix socket's local admin */
    json_object_set_new(expected, "owner", json_string("local"));
    ck_assert_msg(json_equal(expected, run), "migrated run differs: %s",
                  json_dumps(run, JSON_COMPACT));

    /* the tables of the later migrations work */
    _cleanup_free_ char *secret = NULL;
    ck_assert_int_eq(cass_store_token_create(s, "ci", "ci", "read", NULL, NULL, &secret, &err), 0);
    ck_assert_int_gt(cass_store_audit_append(s, "test", "migrate", NULL, 0, NULL, &err), 0);
    _cleanup_json_ json_t *changes = json_pack("{s:[{s:i}]}", "ports", "hostPort", 8080);
    ck_assert_int_eq(cass_store_run_update(s, run_id, changes, NULL, &err), 0);
}
END_TEST

START_TEST(test_newer_version_refused)
{
    char path[PATH_MAX];
    db_path(path, sizeof(path), "newer.db");
    {
        _cleanup_store_ struct cass_store *s = open_ok(path);
    }
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    raw_exec(db, "INSERT INTO schema_version VALUES (99, '2030-01-01T00:00:00.000Z')");
    sqlite3_close(db);

    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_ptr_null(cass_store_open(path, &err));
    assert_error(err, CASS_ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err->message, "newer"));
    ck_assert_ptr_nonnull(strstr(err->message, "99"));
}
END_TEST

/* --- revisions and specs ------------------------------------------------------ */

START_TEST(test_revisions)
{
    _cleanup_store_ struct cass_store *s = open_ok(":memory:");
    _cleanup_error_ struct cass_error *err = NULL;
    const char *canonical = "{\"kind\":\"Model\",\"metadata\":{\"name\":\"m\"}}";
    char hex[CASS_SHA256_HEX_LEN + 1], rev[72];
    cass_hash_sha256_hex(canonical, strlen(canonical), hex);
    snprintf(rev, sizeof(rev), "sha256:%s", hex);
    ck_assert_int_eq(cass_store_revision_put(s, rev, "m", "Model", canonical, &err), 1);
    ck_assert_int_eq(cass_store_revision_put(s, rev, "m", "Model", canonical, &err), 0);
    ck_assert_ptr_null(err);

    _cleanup_json_ json_t *got = cass_store_revision_get(s, rev, &err);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(json_string_value(json_object_get(got, "revision")), rev);
    ck_assert_str_eq(json_string_value(json_object_get(got, "name")), "m");
    _cleanup_json_ json_t *spec = json_loads(canonical, 0, NULL);
    ck_assert(json_equal(spec, json_object_get(got, "spec")));
    _cleanup_json_ json_t *list = cass_store_revision_list(s, "m", &err);
    ck_assert_int_eq(json_array_size(list), 1);

    /* a revision that is not the hash of its text */
    char wrong[72];
    snprintf(wrong, sizeof(wrong), "sha256:%s", hex_a);
    ck_assert_int_eq(cass_store_revision_put(s, wrong, "m", "Model", canonical, &err), -1);
    assert_error(err, CASS_ERR_INVALID);
    cass_error_free(TAKE_PTR(err));
    ck_assert_int_eq(cass_store_revision_put(s, "md5:abc", "m", "Model", canonical, &err), -1);
    assert_error(err, CASS_ERR_INVALID);
    cass_error_free(TAKE_PTR(err));
    ck_assert_ptr_null(cass_store_revision_get(s, wrong, &err));
    assert_error(err, CASS_ERR_NOT_FOUND);
}
END_TEST

/* A caller's transaction: the run and the spec pointing at it are stored
 * together or not at all, a failing call inside undoes only itself, and
 * another thread waits for the end of the transaction. */
static void *count_runs_thread(void *arg)
{
    struct cass_store *s = arg;
    struct cass_store_run_filter f = {.limit = 100};
    return (void *)(intptr_t)cass_store_run_count(s, &f, NULL);
}

START_TEST(test_caller_transaction)
{
    _cleanup_store_ struct cass_store *s = open_ok(":memory:");
    _cleanup_error_ struct cass_error *err = NULL;
    char rev[72];
    put_revision(s, "tx", "Job", rev);
    struct cass_store_run_filter f = {.limit = 100};

    ck_assert_int_eq(cass_store_tx_begin(s, &err), 0);
    _cleanup_free_ char *gone = insert_run(s, "tx", "Job", rev, NULL);
    ck_assert_int_eq(cass_store_spec_put(s, "tx", "Job", rev, gone, &err), 0);
    ck_assert_int_eq(cass_store_tx_begin(s, &err), -1); /* not nestable */
    assert_error(err, CASS_ERR_INTERNAL);
    cass_error_free(TAKE_PTR(err));
    /* another thread waits: it never sees the run that is rolled back
     * (on the one connection it would, were it let in) */
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, count_runs_thread, s), 0);
    usleep(50000);
    cass_store_tx_rollback(s);
    void *seen = NULL;
    pthread_join(t, &seen);
    ck_assert_int_eq((intptr_t)seen, 0);
    ck_assert_int_eq(cass_store_run_count(s, &f, &err), 0);
    ck_assert_ptr_null(cass_store_spec_get(s, "tx", &err));
    assert_error(err, CASS_ERR_NOT_FOUND);
    cass_error_free(TAKE_PTR(err));

    ck_assert_int_eq(cass_store_tx_begin(s, &err), 0);
    _cleanup_free_ char *kept = insert_run(s, "tx", "Job", rev, NULL);
    /* a call that fails inside (a duplicate id) undoes its own part only */
    _cleanup_json_ json_t *dup =
        json_pack("{s:s,s:s,s:s,s:s}", "id", kept, "name", "tx", "kind", "Job", "revision", rev);
    ck_assert_int_eq(cass_store_run_insert(s, dup, NULL, &err), -1);
    cass_error_free(TAKE_PTR(err));
    ck_assert_int_eq(cass_store_spec_put(s, "tx", "Job", rev, kept, &err), 0);
    ck_assert_int_eq(cass_store_tx_commit(s, &err), 0);
    ck_assert_int_eq(cass_store_run_count(s, &f, &err), 1);
    _cleanup_json_ json_t *spec = cass_store_spec_get(s, "tx", &err);
    ck_assert_ptr_nonnull(spec);
    ck_assert_str_eq(json_string_value(json_object_get(spec, "runId")), kept);
}
END_TEST

START_TEST(test_specs)
{
    _cleanup_store_ struct cass_store *s = open_ok(":memory:");
    _cleanup_error_ struct cass_error *err = NULL;
    char rev[72], job_rev[72], other_rev[72];
    put_revision(s, "churn", "Notebook", rev);
    put_revision(s, "churn", "Job", job_rev);
    put_revision(s, "other", "Notebook", other_rev);

    ck_assert_int_eq(cass_store_spec_put(s, "churn", "Notebook", rev, NULL, &err), 0);
    _cleanup_free_ char *id = insert_run(s, "churn", "Notebook", rev, "ready");
    ck_assert_int_eq(cass_store_spec_put(s, "churn", "Notebook", rev, id, &err), 0);
    {
        _cleanup_json_ json_t *spec = cass_store_spec_get(s, "churn", &err);
        ck_assert_ptr_nonnull(spec);
        ck_assert_str_eq(json_string_value(json_object_get(spec, "runId")), id);
        ck_assert_str_eq(json_string_value(json_object_get(spec, "status")), "ready");
        ck_assert_str_eq(json_string_value(json_object_get(spec, "revision")), rev);
        ck_assert(json_is_null(json_object_get(spec, "deletedAt")));
    }
    /* a revision of another spec, a run of another spec, a kind change */
    ck_assert_int_eq(cass_store_spec_put(s, "churn", "Notebook", other_rev, NULL, &err), -1);
    assert_error(err, CASS_ERR_INVALID);
    cass_error_free(TAKE_PTR(err));
    _cleanup_free_ char *other_id = insert_run(s, "other", "Notebook", other_rev, NULL);
    ck_assert_int_eq(cass_store_spec_put(s, "churn", "Notebook", rev, other_id, &err), -1);
    assert_error(err, CASS_ERR_INVALID);
    cass_error_free(TAKE_PTR(err));
    ck_assert_int_eq(cass_store_spec_put(s, "churn", "Job", job_rev, NULL, &err), -1);
    assert_error(err, CASS_ERR_CONFLICT);
    cass_error_free(TAKE_PTR(err));
    ck_assert_int_eq(cass_store_spec_put(s, "Bad_Name", "Job", job_rev, NULL, &err), -1);
    assert_error(err, CASS_ERR_INVALID);
    cass_error_free(TAKE_PTR(err));

    ck_assert_int_eq(cass_store_spec_put(s, "other", "Notebook", other_rev, other_id, &err), 0);
    {
        _cleanup_json_ json_t *list = cass_store_spec_list(s, 0, &err);
        ck_assert_int_eq(json_array_size(list), 2);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "name")),
                         "churn");
    }

    /* deleting keeps the runs */
    ck_assert_int_eq(cass_store_spec_delete(s, "churn", &err), 0);
    ck_assert_ptr_null(cass_store_spec_get(s, "churn", &err));
    assert_error(err, CASS_ERR_NOT_FOUND);
    cass_error_free(TAKE_PTR(err));
    ck_assert_int_eq(cass_store_spec_delete(s, "churn", &err), -1);
    assert_error(err, CASS_ERR_NOT_FOUND);
    cass_error_free(TAKE_PTR(err));
    {
        _cleanup_json_ json_t *live = cass_store_spec_list(s, 0, &err);
        ck_assert_int_eq(json_array_size(live), 1);
        _cleanup_json_ json_t *all = cass_store_spec_list(s, 1, &err);
        ck_assert_int_eq(json_array_size(all), 2);
        ck_assert(json_is_string(json_object_get(json_array_get(all, 0), "deletedAt")));
        _cleanup_json_ json_t *run = cass_store_run_get(s, id, &err);
        ck_assert_ptr_nonnull(run);
        struct cass_store_run_filter f = {.name = "churn"};
        ck_assert_int_eq(cass_store_run_count(s, &f, &err), 1);
    }
    /* once deleted, the name may come back, even as another kind */
    ck_assert_int_eq(cass_store_spec_put(s, "churn", "Job", job_rev, NULL, &err), 0);
    _cleanup_json_ json_t *spec = cass_store_spec_get(s, "churn", &err);
    ck_assert_str_eq(json_string_value(json_object_get(spec, "kind")), "Job");
    ck_assert(json_is_null(json_object_get(spec, "runId")));
    ck_assert(json_is_null(json_object_get(spec, "status")));
}
END_TEST

/* --- runs ----------------------------------------------------------------------- */

START_TEST(test_run_round_trip)
{
    _cleanup_store_ struct cass_store *s = open_ok(":memory:");
    _cleanup_error_ struct cass_error *err = NULL;
    char rev[72], id[CASS_STORE_RUN_ID_LEN + 1];
    put_revision(s, "churn-analysis", "Notebook", rev);
    ck_assert_int_eq(cass_store_run_id_new(id, &err), 0);
    char image_id[72], digest[128];
    snprintf(image_id, sizeof(image_id), "sha256:%s", hex_a);
    snprintf(digest, sizeof(digest), "cassiny/notebook@sha256:%s", hex_b);

    _cleanup_json_ json_t *in = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:[s]}, s:[s], s:s, s:[{s:i, s:i, s:s}], s:n, "
        "s:n, s:n, s:s, s:s, s:s, s:n, s:[{s:s, s:s}], s:[{s:s, s:i, s:s}], s:n, s:{s:s}}",
        "id", id, "name", "churn-analysis", "kind", "Notebook", "status", "ready", "revision", rev,
        "image", "ref", "cassiny/notebook:bookworm", "id", image_id, "repoDigests", digest,
        "containers", "3f2a", "url", "http://127.0.0.1:49153/?token=abc", "ports", "container",
        8888, "hostPort", 49153, "hostIp", "127.0.0.1", "reason", "error", "exitCode", "createdAt",
        "2024-05-01T12:00:00.000Z", "startedAt", "2024-05-01T12:00:01.000Z", "readyAt",
        "2024-05-01T12:00:02.500Z", "finishedAt", "artifacts", "path",
        "/srv/models/churn/model.joblib", "sha256", hex_a, "outputs", "path", "metrics.json",
        "size", 42, "sha256", hex_b, "reproducedFrom", "labels", "team", "risk");
    ck_assert_ptr_nonnull(in);
    json_object_set_new(in, "owner", json_string("alice"));
    _cleanup_json_ json_t *stored = NULL;
    ck_assert_int_eq(cass_store_run_insert(s, in, &stored, &err), 0);
    ck_assert_msg(json_equal(in, stored), "stored: %s", json_dumps(stored, JSON_COMPACT));
    _cleanup_json_ json_t *got = cass_store_run_get(s, id, &err);
    ck_assert_msg(json_equal(in, got), "got: %s", json_dumps(got, JSON_COMPACT));

    /* the same id twice */
    ck_assert_int_eq(cass_store_run_insert(s, in, NULL, &err), -1);
    assert_error(err, CASS_ERR_CONFLICT);
}
END_TEST

START_TEST(test_run_defaults)
{
    _cleanup_store_ struct cass_store *s = open_ok(":memory:");
    _cleanup_error_ struct cass_error *err = NULL;
    char rev[72];
    put_revision(s, "train", "Job", rev);
    _cleanup_json_ json_t *in = new_run("train", "Job", rev);
    /* other times are normalized to UTC milliseconds */
    json_object_set_new(in, "startedAt", json_string("2024-05-01T14:00:00.123456789+02:00"));
    _cleanup_json_ json_t *run = NULL;
    ck_assert_int_eq(cass_store_run_insert(s, in, &run, &err), 0);
    const char *id = json_string_value(json_object_get(run, "id"));
    ck_assert_int_eq(strlen(id), CASS_STORE_RUN_ID_LEN);
    ck_assert_str_eq(json_string_value(json_object_get(run, "status")), "pending");
    ck_assert_int_eq(strlen(json_string_value(json_object_get(run, "createdAt"))),
                     CASS_STORE_TIME_LEN);
    ck_assert_str_eq(json_string_value(json_object_get(run, "startedAt")),
                     "2024-05-01T12:00:00.123Z");
    ck_assert(json_is_null(json_object_get(run, "exitCode")));
    ck_assert(json_is_null(json_object_get(json_object_get(run, "image"), "id")));
    ck_assert_int_eq(json_array_size(json_object_get(json_object_get(run, "image"), "repoDigests")),
                     0);
    ck_assert_int_eq(json_array_size(json_object_get(run, "containers")), 0);
    ck_assert_int_eq(json_array_size(json_object_get(run, "outputs")), 0);
    ck_assert(json_is_array(json_object_get(run, "ports")));
    ck_assert(json_is_null(json_object_get(run, "reproducedFrom")));

    /* a reproduction points at its original */
    _cleanup_json_ json_t *again = new_run("train", "Job", rev);
    json_object_set_new(again, "reproducedFrom", json_string(id));
    _cleanup_json_ json_t *stored = NULL;
    ck_assert_int_eq(cass_store_run_insert(s, again, &stored, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(stored, "reproducedFrom")), id);
}
END_TEST

START_TEST(test_status_times)
{
    _cleanup_store_ struct cass_store *s = open_ok(":memory:");
    _cleanup_error_ struct cass_error *err = NULL;
    char rev[72], nb_rev[72];
    put_revision(s, "job", "Job", rev);
    put_revision(s, "nb", "Notebook", nb_rev);
    _cleanup_free_ char *id = insert_run(s, "job", "Job", rev, NULL);

    _cleanup_json_ json_t *run = NULL;
    ck_assert_int_eq(cass_store_run_set_status(s, id, "creating", NULL, &run, &err), 0);
    ck_assert(json_is_null(json_object_get(run, "startedAt")));
    json_decref(TAKE_PTR(run));
    ck_assert_int_eq(cass_store_run_set_status(s, id, "running", NULL, &run, &err), 0);
    ck_assert(json_is_string(json_object_get(run, "startedAt")));
    ck_assert(json_is_null(json_object_get(run, "readyAt")));
    ck_assert(json_is_null(json_object_get(run, "finishedAt")));
    char started[CASS_STORE_TIME_LEN + 1];
    snprintf(started, sizeof(started), "%s", json_string_value(json_object_get(run, "startedAt")));
    json_decref(TAKE_PTR(run));
    ck_assert_int_eq(cass_store_run_set_status(s, id, "succeeded", "exited 0", &run, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(run, "status")), "succeeded");
    ck_assert_str_eq(json_string_value(json_object_get(run, "reason")), "exited 0");
    ck_assert_str_eq(json_string_value(json_object_get(run, "startedAt")), started);
    ck_assert(json_is_string(json_object_get(run, "finishedAt")));
    ck_assert_str_ge(json_string_value(json_object_get(run, "finishedAt")), started);
    json_decref(TAKE_PTR(run));

    /* final is final; the same status again is harmless */
    ck_assert_int_eq(cass_store_run_set_status(s, id, "failed", "late exit", NULL, &err), -1);
    assert_error(err, CASS_ERR_CONFLICT);
    cass_error_free(TAKE_PTR(err));
    ck_assert_int_eq(cass_store_run_set_status(s, id, "succeeded", "exited 0", NULL, &err), 0);

    _cleanup_free_ char *nb = insert_run(s, "nb", "Notebook", nb_rev, "starting");
    ck_assert_int_eq(cass_store_run_set_status(s, nb, "ready", NULL, &run, &err), 0);
    ck_assert(json_is_string(json_object_get(run, "startedAt")));
    ck_assert(json_is_string(json_object_get(run, "readyAt")));
    json_decref(TAKE_PTR(run));
    ck_assert_int_eq(cass_store_run_set_status(s, nb, "stopped", "idle", &run, &err), 0);
    ck_assert(json_is_string(json_object_get(run, "finishedAt")));

    ck_assert_int_eq(cass_store_run_set_status(s, nb, "done", NULL, NULL, &err), -1);
    assert_error(err, CASS_ERR_INVALID);
    cass_error_free(TAKE_PTR(err));
    ck_assert_int_eq(
        cass_store_run_set_status(s, "r-01HQ0000000000000000000000", "running", NULL, NULL, &err),
        -1);
    assert_error(err, CASS_ERR_NOT_FOUND);
}
END_TEST

START_TEST(test_run_update)
{
    _cleanup_store_ struct cass_store *s = open_ok(":memory:");
    _cleanup_error_ struct cass_error *err = NULL;
    char rev[72], image_id[72];
    put_revision(s, "serve", "Model", rev);
    snprintf(image_id, sizeof(image_id), "sha256:%s", hex_a);
    _cleanup_json_ json_t *in = new_run("serve", "Model", rev);
    json_object_set_new(in, "image", json_pack("{s:s}", "ref", "cassiny/model-server:bookworm"));
    _cleanup_json_ json_t *run = NULL;
    ck_assert_int_eq(cass_store_run_insert(s, in, &run, &err), 0);
    const char *id = json_string_value(json_object_get(run, "id"));

    _cleanup_json_ json_t *changes =
        json_pack("{s:s, s:[s, s], s:{s:s}, s:i, s:s, s:{s:i}, s:s}", "url",
                  "http://127.0.0.1:8080/", "containers", "c1", "c2", "image", "id", image_id,
                  "exitCode", 137, "error", "OOM killed", "rollout", "step", 1, "status", "failed");
    _cleanup_json_ json_t *after = NULL;
    ck_assert_int_eq(cass_store_run_update(s, id, changes, &after, &err), 0);
    json_t *image = json_object_get(after, "image");
    ck_assert_str_eq(json_string_value(json_object_get(image, "ref")),
                     "cassiny/model-server:bookworm");
    ck_assert_str_eq(json_string_value(json_object_get(image, "id")), image_id);
    ck_assert_int_eq(json_integer_value(json_object_get(after, "exitCode")), 137);
    ck_assert_int_eq(json_array_size(json_object_get(after, "containers")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(after, "error")), "OOM killed");
    ck_assert(json_is_string(json_object_get(after, "finishedAt")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(after, "rollout"), "step")),
                     1);

    /* immutable fields may be repeated, not changed */
    _cleanup_json_ json_t *same = json_pack("{s:s, s:s}", "name", "serve", "id", id);
    ck_assert_int_eq(cass_store_run_update(s, id, same, NULL, &err), 0);
    const char *bad[] = {"{\"name\": \"other\"}",
                         "{\"revision\": \"sha256:" /* split for the line */
                         "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}",
                         "{\"outputs\": []}",
                         "{\"exitCode\": \"x\"}",
                         "{\"image\": {\"id\": \"latest\"}}",
                         "{\"readyAt\": \"yesterday\"}",
                         "{\"status\": \"gone\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        _cleanup_json_ json_t *c = json_loads(bad[i], 0, NULL);
        ck_assert_ptr_nonnull(c);
        ck_assert_msg(cass_store_run_update(s, id, c, NULL, &err) == -1, "%s accepted", bad[i]);
        assert_error(err, CASS_ERR_INVALID);
        cass_error_free(TAKE_PTR(err));
    }
    /* nothing of the refused changes was written */
    _cleanup_json_ json_t *now = cass_store_run_get(s, id, &err);
    ck_assert(json_equal(now, after));

    ck_assert_int_eq(cass_store_run_update(s, "r-01HQ0000000000000000000000", same, NULL, &err),
                     -1);
    assert_error(err, CASS_ERR_NOT_FOUND);
    cass_error_free(TAKE_PTR(err));
    ck_assert_int_eq(cass_store_run_update(s, "nope", same, NULL, &err), -1);
    assert_error(err, CASS_ERR_INVALID);
}
END_TEST

START_TEST(test_list_pagination)
{
    _cleanup_store_ struct cass_store *s = open_ok(":memory:");
    _cleanup_error_ struct cass_error *err = NULL;
    char alpha[72], beta[72];
    put_revision(s, "alpha", "Job", alpha);
    put_revision(s, "beta", "Notebook", beta);
    char *ids[250];
    for (int i = 0; i < 250; i++)
        ids[i] = insert_run(s, i % 2 ? "beta" : "alpha", i % 2 ? "Notebook" : "Job",
                            i % 2 ? beta : alpha, i % 5 == 0 ? "succeeded" : "running");
    /* one run recorded with an old creation time sorts last, whatever its id */
    _cleanup_json_ json_t *old = new_run("alpha", "Job", alpha);
    json_object_set_new(old, "createdAt", json_string("2020-01-01T00:00:00Z"));
    _cleanup_json_ json_t *old_run = NULL;
    ck_assert_int_eq(cass_store_run_insert(s, old, &old_run, &err), 0);

    _cleanup_json_ json_t *seen = json_object();
    int sizes[4] = {0};
    int pages = 0;
    _cleanup_free_ char *cursor = NULL;
    char prev_time[CASS_STORE_TIME_LEN + 1] = "9999", prev_id[CASS_STORE_RUN_ID_LEN + 1] = "r-Z";
    do {
        struct cass_store_run_filter f = {.limit = 100, .cursor = cursor};
        char *next = NULL;
        _cleanup_json_ json_t *page = cass_store_run_list(s, &f, &next, &err);
        ck_assert_msg(page != NULL, "%s", err ? err->message : "?");
        free(cursor);
        cursor = next;
        ck_assert_int_lt(pages, 4);
        sizes[pages++] = (int)json_array_size(page);
        size_t i;
        json_t *run;
        json_array_foreach(page, i, run)
        {
            const char *id = json_string_value(json_object_get(run, "id"));
            const char *t = json_string_value(json_object_get(run, "createdAt"));
            ck_assert_msg(!json_object_get(seen, id), "%s twice", id);
            json_object_set_new(seen, id, json_true());
            int c = strcmp(t, prev_time);
            ck_assert_msg(c < 0 || (c == 0 && strcmp(id, prev_id) < 0), "not newest first");
            snprintf(prev_time, sizeof(prev_time), "%s", t);
            snprintf(prev_id, sizeof(prev_id), "%s", id);
            ck_assert_ptr_null(json_object_get(run, "outputs"));
        }
        if (pages == 1)
            ck_assert_str_eq(json_string_value(json_object_get(json_array_get(page, 0), "id")),
                             ids[249]);
    } while (cursor);
    ck_assert_int_eq(pages, 3);
    ck_assert_int_eq(sizes[0], 100);
    ck_assert_int_eq(sizes[1], 100);
    ck_assert_int_eq(sizes[2], 51);
    ck_assert_int_eq(json_object_size(seen), 251);
    ck_assert_str_eq(prev_id, json_string_value(json_object_get(old_run, "id")));

    /* filters, default limit, counts */
    struct cass_store_run_filter f = {.name = "alpha"};
    char *next = NULL;
    _cleanup_json_ json_t *page = cass_store_run_list(s, &f, &next, &err);
    ck_assert_int_eq(json_array_size(page), CASS_STORE_LIST_DEFAULT);
    ck_assert_ptr_nonnull(next);
    free(next);
    ck_assert_int_eq(cass_store_run_count(s, &f, &err), 126);
    f = (struct cass_store_run_filter){.name = "beta", .status = "succeeded", .limit = 5000};
    _cleanup_json_ json_t *done = cass_store_run_list(s, &f, &next, &err);
    ck_assert_int_eq(json_array_size(done), 25); /* odd multiples of 5 below 250 */
    ck_assert_ptr_null(next);
    size_t i;
    json_t *run;
    json_array_foreach(done, i, run)
    {
        ck_assert_str_eq(json_string_value(json_object_get(run, "name")), "beta");
        ck_assert_str_eq(json_string_value(json_object_get(run, "status")), "succeeded");
    }
    f = (struct cass_store_run_filter){.kind = "Job", .status = "running"};
    ck_assert_int_eq(cass_store_run_count(s, &f, &err), 100);
    ck_assert_int_eq(cass_store_run_count(s, NULL, &err), 251);
    _cleanup_json_ json_t *counts = cass_store_run_counts(s, &err);
    ck_assert_int_eq(json_array_size(counts), 5); /* the old run is a pending Job */
    json_int_t total = 0;
    json_array_foreach(counts, i, run) total += json_integer_value(json_object_get(run, "count"));
    ck_assert_int_eq(total, 251);

    /* bad filters and cursors */
    const struct cass_store_run_filter bad[] = {
        {.status = "done"}, {.kind = "Pod"},        {.name = "Not A Name"},
        {.cursor = "zz"},   {.cursor = "32303234"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        ck_assert_ptr_null(cass_store_run_list(s, &bad[k], NULL, &err));
        assert_error(err, CASS_ERR_INVALID);
        cass_error_free(TAKE_PTR(err));
    }
    for (int k = 0; k < 250; k++)
        free(ids[k]);
}
END_TEST

START_TEST(test_runs_active)
{
    _cleanup_store_ struct cass_store *s = open_ok(":memory:");
    _cleanup_error_ struct cass_error *err = NULL;
    char rev[72];
    put_revision(s, "j", "Job", rev);
    const char *statuses[] = {"pending", "succeeded", "creating", "failed",
                              "running", "stopped",   "ready"};
    char *ids[7];
    for (int i = 0; i < 7; i++)
        ids[i] = insert_run(s, "j", "Job", rev, statuses[i]);
    _cleanup_json_ json_t *active = cass_store_runs_active(s, &err);
    ck_assert_int_eq(json_array_size(active), 4);
    const int expect[] = {0, 2, 4, 6};
    for (int i = 0; i < 4; i++)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(active, i), "id")),
                         ids[expect[i]]);
    for (int i = 0; i < 7; i++)
        free(ids[i]);
}
END_TEST

START_TEST(test_outputs_and_inputs)
{
    _cleanup_store_ struct cass_store *s = open_ok(":memory:");
    _cleanup_error_ struct cass_error *err = NULL;
    char rev[72];
    put_revision(s, "train", "Job", rev);
    _cleanup_free_ char *id = insert_run(s, "train", "Job", rev, "running");

    _cleanup_json_ json_t *outputs =
        json_pack("[{s:s, s:i, s:s}, {s:s, s:i, s:s}]", "path", "model/weights.bin", "size",
                  1048576, "sha256", hex_a, "path", "metrics.json", "size", 42, "sha256", hex_b);
    ck_assert_int_eq(cass_store_run_outputs_put(s, id, outputs, &err), 0);
    {
        _cleanup_json_ json_t *run = cass_store_run_get(s, id, &err);
        json_t *got = json_object_get(run, "outputs");
        ck_assert_int_eq(json_array_size(got), 2);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(got, 0), "path")),
                         "metrics.json");
        ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(got, 1), "size")),
                         1048576);
    }
    /* the same path again replaces its entry */
    _cleanup_json_ json_t *again =
        json_pack("[{s:s, s:i, s:s}]", "path", "metrics.json", "size", 43, "sha256", hex_a);
    ck_assert_int_eq(cass_store_run_outputs_put(s, id, again, &err), 0);
    {
        _cleanup_json_ json_t *run = cass_store_run_get(s, id, &err);
        json_t *got = json_object_get(run, "outputs");
        ck_assert_int_eq(json_array_size(got), 2);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(got, 0), "sha256")),
                         hex_a);
    }
    /* one bad entry stores none */
    const char *bad_paths[] = {"../escape", "/abs", "a/../b", "", "a//b", "./x"};
    for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
        _cleanup_json_ json_t *bad =
            json_pack("[{s:s, s:i, s:s}, {s:s, s:i, s:s}]", "path", "fine.txt", "size", 1, "sha256",
                      hex_a, "path", bad_paths[i], "size", 1, "sha256", hex_a);
        ck_assert_int_eq(cass_store_run_outputs_put(s, id, bad, &err), -1);
        assert_error(err, CASS_ERR_INVALID);
        cass_error_free(TAKE_PTR(err));
    }
    _cleanup_json_ json_t *bad_hash =
        json_pack("[{s:s, s:i, s:s}]", "path", "x", "size", 1, "sha256", "ABC");
    ck_assert_int_eq(cass_store_run_outputs_put(s, id, bad_hash, &err), -1);
    assert_error(err, CASS_ERR_INVALID);
    cass_error_free(TAKE_PTR(err));
    _cleanup_json_ json_t *negative =
        json_pack("[{s:s, s:i, s:s}]", "path", "x", "size", -1, "sha256", hex_a);
    ck_assert_int_eq(cass_store_run_outputs_put(s, id, negative, &err), -1);
    assert_error(err, CASS_ERR_INVALID);
    cass_error_free(TAKE_PTR(err));
    {
        _cleanup_json_ json_t *run = cass_store_run_get(s, id, &err);
        ck_assert_int_eq(json_array_size(json_object_get(run, "outputs")), 2);
    }
    ck_assert_int_eq(cass_store_run_outputs_put(s, "r-01HQ0000000000000000000000", outputs, &err),
                     -1);
    assert_error(err, CASS_ERR_NOT_FOUND);
    cass_error_free(TAKE_PTR(err));

    _cleanup_json_ json_t *inputs =
        json_pack("[{s:s, s:s}, {s:s, s:s}]", "path", "/srv/projects/churn", "sha256", hex_b,
                  "path", "/srv/data/a.csv", "sha256", hex_a);
    ck_assert_int_eq(cass_store_input_hashes_put(s, id, inputs, &err), 0);
    _cleanup_json_ json_t *got = cass_store_input_hashes_get(s, id, &err);
    ck_assert_int_eq(json_array_size(got), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(got, 0), "path")),
                     "/srv/data/a.csv");
    ck_assert_ptr_null(cass_store_input_hashes_get(s, "r-01HQ0000000000000000000000", &err));
    assert_error(err, CASS_ERR_NOT_FOUND);
}
END_TEST

START_TEST(test_invalid_runs)
{
    _cleanup_store_ struct cass_store *s = open_ok(":memory:");
    _cleanup_error_ struct cass_error *err = NULL;
    char rev[72];
    put_revision(s, "ok", "Job", rev);
    /* "REV" stands for the stored revision */
    const char *cases[] = {
        "[]",
        "{\"kind\": \"Job\", \"revision\": \"REV\"}",
        "{\"name\": \"Bad_Name\", \"kind\": \"Job\", \"revision\": \"REV\"}",
        "{\"name\": \"ok\", \"kind\": \"Pod\", \"revision\": \"REV\"}",
        "{\"name\": \"ok\", \"kind\": \"Job\"}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"sha256:abc\"}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"sha256:"
        "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"}",
        "{\"name\": \"ok\", \"kind\": \"Notebook\", \"revision\": \"REV\"}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"REV\", \"status\": \"done\"}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"REV\", \"status\": 3}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"REV\", \"exitCode\": 1.5}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"REV\", \"exitCode\": 4294967296}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"REV\", \"createdAt\": "
        "\"yesterday\"}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"REV\", \"createdAt\": "
        "\"2024-13-01T00:00:00Z\"}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"REV\", \"containers\": [1]}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"REV\", \"containers\": \"abc\"}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"REV\", \"image\": {\"id\": "
        "\"latest\"}}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"REV\", \"image\": {\"tag\": \"x\"}}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"REV\", \"ports\": 8080}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"REV\", \"artifacts\": [{\"path\": "
        "\"/m\"}]}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"REV\", \"outputs\": "
        "[{\"path\": \"/etc/passwd\", \"size\": 1, \"sha256\": \"x\"}]}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"REV\", \"id\": \"run-1\"}",
        "{\"name\": \"ok\", \"kind\": \"Job\", \"revision\": \"REV\", \"reproducedFrom\": "
        "\"r-01HQ0000000000000000000000\"}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_error_t jerr;
        _cleanup_json_ json_t *run = json_loads(cases[i], 0, &jerr);
        ck_assert_msg(run != NULL, "case %zu: %s", i, jerr.text);
        const char *r = json_string_value(json_object_get(run, "revision"));
        if (r && strcmp(r, "REV") == 0)
            json_object_set_new(run, "revision", json_string(rev));
        ck_assert_msg(cass_store_run_insert(s, run, NULL, &err) == -1, "case %zu accepted: %s", i,
                      cases[i]);
        assert_error(err, CASS_ERR_INVALID);
        cass_error_free(TAKE_PTR(err));
    }
    ck_assert_int_eq(cass_store_run_count(s, NULL, &err), 0);
    ck_assert_ptr_null(cass_store_run_get(s, "nope", &err));
    assert_error(err, CASS_ERR_INVALID);
    cass_error_free(TAKE_PTR(err));
    ck_assert_ptr_null(cass_store_run_get(s, "r-01HQ0000000000000000000000", &err));
    assert_error(err, CASS_ERR_NOT_FOUND);
}
END_TEST

/* --- tokens and audit ------------------------------------------------------------ */

static bool file_contains(const char *path, const char *needle)
{
    _cleanup_fclose_ FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    _cleanup_fclose_ FILE *mem = open_memstream(&buf, &len);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, mem);
    fclose(TAKE_PTR(mem));
    return memmem(buf, len, needle, strlen(needle)) != NULL;
}

/* Whether any file of the database (main file, -wal, -shm) holds needle. */
static bool db_files_contain(const char *path, const char *needle)
{
    const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        if (file_contains(p, needle))
            return true;
    }
    return false;
}

START_TEST(test_tokens)
{
    char path[PATH_MAX];
    db_path(path, sizeof(path), "tokens.db");
    _cleanup_free_ char *secret = NULL, *id = NULL, *secret2 = NULL, *id2 = NULL;
    char hash[CASS_SHA256_HEX_LEN + 1];
    _cleanup_error_ struct cass_error *err = NULL;
    {
        _cleanup_store_ struct cass_store *s = open_ok(path);
        ck_assert_int_eq(
            cass_store_token_create(s, "ci runner", "ci", "write", NULL, &id, &secret, &err), 0);
        ck_assert_int_eq(cass_store_token_create(s, "laptop", "alice", "read",
                                                 "2999-01-01T00:00:00Z", &id2, &secret2, &err),
                         0);
        ck_assert_int_ge(strlen(secret), 43);
        ck_assert_str_ne(secret, secret2);
        cass_hash_sha256_hex(secret, strlen(secret), hash);

        struct cass_store_token t;
        ck_assert_int_eq(cass_store_token_lookup(s, secret, &t, &err), 1);
        ck_assert_str_eq(t.id, id);
        ck_assert_str_eq(t.user, "ci");
        ck_assert_str_eq(t.scope, "write");
        ck_assert(!t.revoked && !t.expired);
        ck_assert_int_eq(cass_store_token_lookup(s, "wrong", &t, &err), 0);
        ck_assert_int_eq(cass_store_token_lookup(s, "", &t, &err), 0);
        ck_assert_int_eq(cass_store_token_lookup(s, hash, &t, &err), 0);
        ck_assert_ptr_null(err);

        /* a user's list has theirs only */
        _cleanup_json_ json_t *mine = cass_store_token_list(s, "alice", &err);
        ck_assert_int_eq(json_array_size(mine), 1);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(mine, 0), "expiresAt")),
                         "2999-01-01T00:00:00.000Z");
        _cleanup_json_ json_t *list = cass_store_token_list(s, NULL, &err);
        ck_assert_int_eq(json_array_size(list), 2);
        json_t *first = json_array_get(list, 0);
        ck_assert_str_eq(json_string_value(json_object_get(first, "id")), id);
        ck_assert_str_eq(json_string_value(json_object_get(first, "name")), "ci runner");
        ck_assert(json_is_string(json_object_get(first, "lastUsedAt")));
        ck_assert(json_is_null(json_object_get(json_array_get(list, 1), "lastUsedAt")));
        ck_assert_int_eq(json_object_size(first), 8);
        ck_assert_str_eq(json_string_value(json_object_get(first, "user")), "ci");
        _cleanup_free_ char *text = json_dumps(list, 0);
        ck_assert_ptr_null(strstr(text, secret));
        ck_assert_ptr_null(strstr(text, hash));

        /* another user cannot revoke it */
        ck_assert_int_eq(cass_store_token_revoke(s, id, "alice", &err), -1);
        assert_error(err, CASS_ERR_NOT_FOUND);
        cass_error_free(TAKE_PTR(err));
        ck_assert_int_eq(cass_store_token_revoke(s, id, "ci", &err), 0);
        ck_assert_int_eq(cass_store_token_revoke(s, id, NULL, &err), 0);
        ck_assert_int_eq(cass_store_token_lookup(s, secret, &t, &err), 1);
        ck_assert(t.revoked);
        ck_assert_int_eq(cass_store_token_lookup(s, secret2, &t, &err), 1);
        ck_assert(!t.revoked && !t.expired);
        ck_assert_int_eq(cass_store_token_revoke(s, "t-01HQ0000000000000000000000", NULL, &err),
                         -1);
        assert_error(err, CASS_ERR_NOT_FOUND);
        cass_error_free(TAKE_PTR(err));
        /* an expired one is known, and expired */
        _cleanup_free_ char *id3 = NULL, *secret3 = NULL;
        ck_assert_int_eq(cass_store_token_create(s, "old", "bob", "admin", "2001-01-01T00:00:00Z",
                                                 &id3, &secret3, &err),
                         0);
        ck_assert_int_eq(cass_store_token_lookup(s, secret3, &t, &err), 1);
        ck_assert(t.expired && !t.revoked);
        ck_assert_int_eq(
            cass_store_token_create(s, "x", "Bad User", "read", NULL, &id3, &secret3, &err), -1);
        assert_error(err, CASS_ERR_INVALID);
        cass_error_free(TAKE_PTR(err));
        ck_assert_int_eq(cass_store_token_create(s, "x", "bob", "root", NULL, &id3, &secret3, &err),
                         -1);
        assert_error(err, CASS_ERR_INVALID);
        cass_error_free(TAKE_PTR(err));
        ck_assert_int_eq(cass_store_token_create(s, "", "bob", "read", NULL, &id2, &secret2, &err),
                         -1);
        assert_error(err, CASS_ERR_INVALID);
        cass_error_free(TAKE_PTR(err));
        /* while open, the bytes may sit in the WAL */
        ck_assert(!db_files_contain(path, secret));
        ck_assert(!db_files_contain(path, secret2));
    }
    /* the hash is on disk (so the search does find things), the secret never */
    ck_assert(db_files_contain(path, hash));
    ck_assert(!db_files_contain(path, secret));
    ck_assert(!db_files_contain(path, secret2));
}
END_TEST

START_TEST(test_audit)
{
    _cleanup_store_ struct cass_store *s = open_ok(":memory:");
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_store_audit_last_id(s, &err), 0);
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        _cleanup_json_ json_t *detail = json_pack("{s:i}", "n", i);
        ids[i] = cass_store_audit_append(s, i % 2 ? "uid:1000" : NULL, "POST /v1/specs", "churn",
                                         202, detail, &err);
        ck_assert_int_gt(ids[i], i ? ids[i - 1] : 0);
    }
    ck_assert_int_eq(cass_store_audit_last_id(s, &err), ids[4]);
    _cleanup_json_ json_t *all = cass_store_audit_since(s, 0, 0, NULL, &err);
    ck_assert_int_eq(json_array_size(all), 5);
    json_t *e = json_array_get(all, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(e, "id")), ids[1]);
    ck_assert_str_eq(json_string_value(json_object_get(e, "actor")), "uid:1000");
    ck_assert_str_eq(json_string_value(json_object_get(e, "action")), "POST /v1/specs");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "status")), 202);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(e, "detail"), "n")), 1);
    ck_assert(json_is_null(json_object_get(json_array_get(all, 0), "actor")));

    _cleanup_json_ json_t *tail = cass_store_audit_since(s, ids[2], 0, NULL, &err);
    ck_assert_int_eq(json_array_size(tail), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(tail, 0), "id")), ids[3]);
    _cleanup_json_ json_t *two = cass_store_audit_since(s, 0, 2, NULL, &err);
    ck_assert_int_eq(json_array_size(two), 2);
    _cleanup_json_ json_t *none = cass_store_audit_since(s, ids[4], 0, NULL, &err);
    ck_assert_int_eq(json_array_size(none), 0);

    ck_assert_int_eq(cass_store_audit_append(s, NULL, "", NULL, 0, NULL, &err), -1);
    assert_error(err, CASS_ERR_INVALID);
    cass_error_free(TAKE_PTR(err));

    /* who did it, with which token, about whose thing; filtered on each */
    struct cass_audit_entry a = {.actor = "10.0.0.5:4242",
                                 .user = "alice",
                                 .token_id = "t-01HQ0000000000000000000001",
                                 .owner = "alice",
                                 .action = "POST /v1/specs",
                                 .status = 202};
    struct cass_audit_entry b = {.actor = "cassinyd", .owner = "bob", .action = "run"};
    ck_assert_int_gt(cass_store_audit_add(s, &a, &err), 0);
    ck_assert_int_gt(cass_store_audit_add(s, &b, &err), 0);
    _cleanup_json_ json_t *alices =
        cass_store_audit_since(s, 0, 0, &(struct cass_audit_filter){.user = "alice"}, &err);
    ck_assert_int_eq(json_array_size(alices), 1);
    json_t *x = json_array_get(alices, 0);
    ck_assert_str_eq(json_string_value(json_object_get(x, "tokenId")), a.token_id);
    ck_assert_str_eq(json_string_value(json_object_get(x, "actor")), a.actor);
    _cleanup_json_ json_t *bobs =
        cass_store_audit_since(s, 0, 0, &(struct cass_audit_filter){.owner = "bob"}, &err);
    ck_assert_int_eq(json_array_size(bobs), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(bobs, 0), "action")), "run");
    _cleanup_json_ json_t *later = cass_store_audit_since(
        s, 0, 0, &(struct cass_audit_filter){.since = "2999-01-01T00:00:00Z"}, &err);
    ck_assert_int_eq(json_array_size(later), 0);
    ck_assert_ptr_null(
        cass_store_audit_since(s, 0, 0, &(struct cass_audit_filter){.since = "yesterday"}, &err));
    assert_error(err, CASS_ERR_INVALID);
}
END_TEST

/* --- concurrency and ids --------------------------------------------------------- */

#define THREADS 4
#define PER_THREAD 100

struct writer {
    struct cass_store *store; /* shared, or NULL to open its own */
    const char *path;
    const char *rev;
    int failures;
    char first_error[256];
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct cass_error *err = NULL;
    struct cass_store *s = w->store ? w->store : cass_store_open(w->path, &err);
    for (int i = 0; s && i < PER_THREAD; i++) {
        json_t *run =
            json_pack("{s:s, s:s, s:s}", "name", "busy", "kind", "Job", "revision", w->rev);
        json_t *stored = NULL;
        int r = cass_store_run_insert(s, run, &stored, &err);
        json_decref(run);
        if (r == 0) {
            const char *id = json_string_value(json_object_get(stored, "id"));
            r = cass_store_run_set_status(s, id, "running", NULL, NULL, &err);
            if (r == 0)
                r = cass_store_run_set_status(s, id, "succeeded", NULL, NULL, &err);
            if (r == 0 && cass_store_audit_append(s, "test", "run", id, 0, NULL, &err) < 0)
                r = -1;
        }
        json_decref(stored);
        if (r < 0) {
            if (!w->failures++)
                snprintf(w->first_error, sizeof(w->first_error), "%s",
                         err && err->message ? err->message : "?");
            cass_error_free(err);
            err = NULL;
        }
    }
    if (!s) {
        w->failures++;
        snprintf(w->first_error, sizeof(w->first_error), "open: %s",
                 err && err->message ? err->message : "?");
        cass_error_free(err);
    }
    if (!w->store)
        cass_store_close(s);
    return NULL;
}

static void run_writers(const char *path, bool shared)
{
    _cleanup_store_ struct cass_store *s = open_ok(path);
    char rev[72];
    put_revision(s, "busy", "Job", rev);
    _cleanup_error_ struct cass_error *err = NULL;
    int64_t before = cass_store_run_count(s, NULL, &err);
    struct writer w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct writer){.store = shared ? s : NULL, .path = path, .rev = rev};
        ck_assert_int_eq(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++)
        ck_assert_msg(w[i].failures == 0, "thread %d: %d failures, first: %s", i, w[i].failures,
                      w[i].first_error);
    ck_assert_int_eq(cass_store_run_count(s, NULL, &err), before + THREADS * PER_THREAD);
    struct cass_store_run_filter f = {.status = "succeeded"};
    ck_assert_int_eq(cass_store_run_count(s, &f, &err), before + THREADS * PER_THREAD);
}

START_TEST(test_concurrent_shared)
{
    char path[PATH_MAX];
    db_path(path, sizeof(path), "shared.db");
    run_writers(path, true);
}
END_TEST

/* A connection per thread on one file: WAL, BEGIN IMMEDIATE and the busy
 * timeout must keep SQLITE_BUSY from surfacing. */
START_TEST(test_concurrent_connections)
{
    char path[PATH_MAX];
    db_path(path, sizeof(path), "connections.db");
    run_writers(path, false);
}
END_TEST

static int64_t ulid_ms(const char *id)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    int64_t ms = 0;
    for (int i = 0; i < 10; i++)
        ms = ms * 32 + (strchr(alphabet, id[2 + i]) - alphabet);
    return ms;
}

START_TEST(test_ulid)
{
    _cleanup_error_ struct cass_error *err = NULL;
    enum { N = 20000 };
    char(*ids)[CASS_STORE_RUN_ID_LEN + 1] = calloc(N, sizeof(*ids));
    ck_assert_ptr_nonnull(ids);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t start = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(cass_store_run_id_new(ids[i], &err), 0);
        ck_assert_int_eq(strlen(ids[i]), CASS_STORE_RUN_ID_LEN);
        ck_assert(strncmp(ids[i], "r-", 2) == 0);
        ck_assert_int_eq(strspn(ids[i] + 2, "0123456789ABCDEFGHJKMNPQRSTVWXYZ"), 26);
        /* many share a millisecond: monotonic, hence unique */
        if (i)
            ck_assert_msg(strcmp(ids[i - 1], ids[i]) < 0, "%s !< %s", ids[i - 1], ids[i]);
    }
    int64_t t0 = ulid_ms(ids[0]);
    ck_assert_int_ge(t0, start);
    ck_assert_int_lt(t0, start + 5000);
    /* later time, later id */
    struct timespec pause = {0, 3 * 1000 * 1000};
    nanosleep(&pause, NULL);
    char later[CASS_STORE_RUN_ID_LEN + 1];
    ck_assert_int_eq(cass_store_run_id_new(later, &err), 0);
    ck_assert_int_gt(ulid_ms(later), ulid_ms(ids[0]));
    ck_assert_str_gt(later, ids[N - 1]);
    free(ids);
}
END_TEST

/* --- main --------------------------------------------------------------------------- */

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("schema");
    tcase_add_test(tc, test_open_memory);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_file_reopen_wal);
    tcase_add_test(tc, test_full_mark_and_probe);
    tcase_add_test(tc, test_migrate_empty);
    tcase_add_test(tc, test_migrate_old_version);
    tcase_add_test(tc, test_newer_version_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("records");
    tcase_add_test(tc, test_revisions);
    tcase_add_test(tc, test_specs);
    tcase_add_test(tc, test_run_round_trip);
    tcase_add_test(tc, test_run_defaults);
    tcase_add_test(tc, test_status_times);
    tcase_add_test(tc, test_run_update);
    tcase_add_test(tc, test_runs_active);
    tcase_add_test(tc, test_outputs_and_inputs);
    tcase_add_test(tc, test_invalid_runs);
    tcase_add_test(tc, test_tokens);
    tcase_add_test(tc, test_audit);
    tcase_add_test(tc, test_caller_transaction);
    suite_add_tcase(s, tc);

    tc = tcase_create("scale");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_list_pagination);
    tcase_add_test(tc, test_concurrent_shared);
    tcase_add_test(tc, test_concurrent_connections);
    tcase_add_test(tc, test_ulid);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/check_store.XXXXXX", base && *base ? base : P_tmpdir);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    int failed = cass_check_failures(store_suite());
    remove_tree(tmpdir);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
