#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "hash.h"
#include "store.h"
#include "vocab.h"

#define BUSY_TIMEOUT_MS 5000
#define AUDIT_DEFAULT_LIMIT 100
#define MAX_ITEMS 100000 /* outputs or input hashes in one call */
#define MAX_PATH_LEN 4096
#define MAX_TOKEN_NAME 128
#define MAX_SECRET_LEN 512

/* --- schema ---------------------------------------------------------------- */

/* Applied in order, each in one transaction with its row in schema_version.
 * Never edit a shipped step: add a new one. */
static const char *const migrations[] = {
    /* 1: revisions, specs, runs, outputs and input hashes */
    "CREATE TABLE revisions ("
    " revision TEXT PRIMARY KEY NOT NULL,"
    " name TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " spec TEXT NOT NULL,"
    " created_at TEXT NOT NULL);"
    "CREATE INDEX revisions_name ON revisions(name, created_at);"
    "CREATE TABLE runs ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " name TEXT NOT NULL,"
    " kind TEXT NOT NULL CHECK (kind IN ('Notebook', 'Job', 'Model')),"
    " revision TEXT NOT NULL REFERENCES revisions(revision),"
    " status TEXT NOT NULL CHECK (status IN ('pending', 'queued', 'creating', 'starting',"
    "  'ready', 'running', 'succeeded', 'failed', 'stopped')),"
    " reason TEXT,"
    " error TEXT,"
    " image_ref TEXT,"
    " image_id TEXT,"
    " repo_digests TEXT NOT NULL DEFAULT '[]',"
    " containers TEXT NOT NULL DEFAULT '[]',"
    " url TEXT,"
    " exit_code INTEGER,"
    " created_at TEXT NOT NULL,"
    " started_at TEXT,"
    " ready_at TEXT,"
    " finished_at TEXT,"
    " artifacts TEXT NOT NULL DEFAULT '[]',"
    " reproduced_from TEXT REFERENCES runs(id),"
    " extra TEXT NOT NULL DEFAULT '{}');"
    "CREATE INDEX runs_created ON runs(created_at, id);"
    "CREATE INDEX runs_name_created ON runs(name, created_at, id);"
    "CREATE INDEX runs_status_created ON runs(status, created_at, id);"
    "CREATE TABLE specs ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " kind TEXT NOT NULL,"
    " revision TEXT NOT NULL REFERENCES revisions(revision),"
    " run_id TEXT REFERENCES runs(id),"
    " created_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL,"
    " deleted_at TEXT);"
    "CREATE TABLE run_outputs ("
    " run_id TEXT NOT NULL REFERENCES runs(id),"
    " path TEXT NOT NULL,"
    " size INTEGER NOT NULL CHECK (size >= 0),"
    " sha256 TEXT NOT NULL,"
    " PRIMARY KEY (run_id, path)) WITHOUT ROWID;"
    "CREATE TABLE input_hashes ("
    " run_id TEXT NOT NULL REFERENCES runs(id),"
    " path TEXT NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " PRIMARY KEY (run_id, path)) WITHOUT ROWID;",

    /* 2: published ports of a run; hashed API tokens for TCP clients */
    "ALTER TABLE runs ADD COLUMN ports TEXT NOT NULL DEFAULT '[]';"
    "CREATE TABLE api_tokens ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " name TEXT NOT NULL,"
    " secret_sha256 TEXT NOT NULL UNIQUE,"
    " created_at TEXT NOT NULL,"
    " last_used_at TEXT,"
    " revoked_at TEXT);",

    /* 3: audit log; AUTOINCREMENT so that an id (an SSE event id) is never reused */
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " time TEXT NOT NULL,"
    " actor TEXT,"
    " action TEXT NOT NULL,"
    " target TEXT,"
    " status INTEGER NOT NULL DEFAULT 0,"
    " detail TEXT);",

    /* 4: users: owners of specs and runs, tokens with a user, a scope and an
     * expiry; the audit log says who (user, token) and whose thing it was.
     * What was there before belongs to the unix socket's local admin. */
    "ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT 'local';"
    "ALTER TABLE specs ADD COLUMN owner TEXT NOT NULL DEFAULT 'local';"
    "CREATE INDEX runs_owner_created ON runs(owner, created_at, id);"
    "ALTER TABLE api_tokens ADD COLUMN user TEXT NOT NULL DEFAULT 'local';"
    "ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin'"
    " CHECK (scope IN ('read', 'write', 'admin'));"
    "ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;"
    "ALTER TABLE audit ADD COLUMN user TEXT;"
    "ALTER TABLE audit ADD COLUMN token_id TEXT;"
    "ALTER TABLE audit ADD COLUMN owner TEXT;"
    "CREATE INDEX audit_user ON audit(user, id);",
};
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define RUN_COLS                                                                                   \
    "id, name, kind, revision, status, reason, error, image_ref, image_id, repo_digests, "         \
    "containers, url, ports, exit_code, created_at, started_at, ready_at, finished_at, "           \
    "artifacts, reproduced_from, extra, owner"
enum {
    C_ID,
    C_NAME,
    C_KIND,
    C_REVISION,
    C_STATUS,
    C_REASON,
    C_ERROR,
    C_IMAGE_REF,
    C_IMAGE_ID,
    C_REPO_DIGESTS,
    C_CONTAINERS,
    C_URL,
    C_PORTS,
    C_EXIT_CODE,
    C_CREATED,
    C_STARTED,
    C_READY,
    C_FINISHED,
    C_ARTIFACTS,
    C_REPRODUCED_FROM,
    C_EXTRA,
    C_OWNER,
};

#define ACTIVE_STATUSES "('pending', 'queued', 'creating', 'starting', 'ready', 'running')"
#define SPEC_SELECT                                                                                \
    "SELECT s.name, s.kind, s.revision, s.run_id, r.status, r.url, s.created_at, s.updated_at, "   \
    "s.deleted_at, json_extract(r.extra, '$.degraded'), s.owner FROM specs s "                     \
    "LEFT JOIN runs r ON r.id = s.run_id "

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_VERSION,
    ST_REV_INSERT,
    ST_REV_GET,
    ST_REV_LIST,
    ST_REV_CHECK,
    ST_SPEC_STATE,
    ST_SPEC_INSERT,
    ST_SPEC_UPDATE,
    ST_SPEC_GET,
    ST_SPEC_LIST,
    ST_SPEC_LIST_ALL,
    ST_SPEC_DELETE,
    ST_RUN_INSERT,
    ST_RUN_GET,
    ST_RUN_NAME,
    ST_RUN_UPDATE,
    ST_RUN_ACTIVE,
    ST_RUN_COUNTS,
    ST_OUT_PUT,
    ST_OUT_GET,
    ST_IN_PUT,
    ST_IN_GET,
    ST_TOK_INSERT,
    ST_TOK_LIVE,
    ST_TOK_TOUCH,
    ST_TOK_LIST,
    ST_TOK_REVOKE,
    ST_TOK_EXISTS,
    ST_SPEC_OWNER,
    ST_AUDIT_INSERT,
    ST_AUDIT_SINCE,
    ST_AUDIT_LAST,
    ST_SIZE,
    N_STMTS
};

static const char *const stmt_sql[N_STMTS] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_version",
    [ST_REV_INSERT] = "INSERT OR IGNORE INTO revisions (revision, name, kind, spec, created_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_REV_GET] = "SELECT revision, name, kind, spec, created_at FROM revisions "
                   "WHERE revision = ?1",
    [ST_REV_LIST] = "SELECT revision, name, kind, spec, created_at FROM revisions "
                    "WHERE name = ?1 ORDER BY created_at DESC, revision DESC",
    [ST_REV_CHECK] = "SELECT name, kind FROM revisions WHERE revision = ?1",
    [ST_SPEC_STATE] = "SELECT kind, deleted_at FROM specs WHERE name = ?1",
    [ST_SPEC_INSERT] = "INSERT INTO specs (name, kind, revision, run_id, created_at, updated_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    [ST_SPEC_UPDATE] = "UPDATE specs SET kind = ?2, revision = ?3, run_id = ?4, updated_at = ?5, "
                       "created_at = CASE WHEN deleted_at IS NULL THEN created_at ELSE ?5 END, "
                       "deleted_at = NULL WHERE name = ?1",
    [ST_SPEC_GET] = SPEC_SELECT "WHERE s.name = ?1 AND s.deleted_at IS NULL",
    [ST_SPEC_LIST] = SPEC_SELECT "WHERE s.deleted_at IS NULL ORDER BY s.name",
    [ST_SPEC_LIST_ALL] = SPEC_SELECT "ORDER BY s.name",
    [ST_SPEC_DELETE] = "UPDATE specs SET deleted_at = ?2, updated_at = ?2 "
                       "WHERE name = ?1 AND deleted_at IS NULL",
    [ST_RUN_INSERT] = "INSERT INTO runs (" RUN_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                      "?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, "
                      "coalesce(?22, (SELECT owner FROM specs WHERE name = ?2), 'local'))",
    [ST_RUN_GET] = "SELECT " RUN_COLS " FROM runs WHERE id = ?1",
    [ST_RUN_NAME] = "SELECT name FROM runs WHERE id = ?1",
    [ST_RUN_UPDATE] = "UPDATE runs SET status = ?5, reason = ?6, error = ?7, image_ref = ?8, "
                      "image_id = ?9, repo_digests = ?10, containers = ?11, url = ?12, "
                      "ports = ?13, exit_code = ?14, started_at = ?16, ready_at = ?17, "
                      "finished_at = ?18, artifacts = ?19, extra = ?21 WHERE id = ?1",
    [ST_RUN_ACTIVE] =
        "SELECT " RUN_COLS " FROM runs WHERE status IN " ACTIVE_STATUSES " ORDER BY created_at, id",
    [ST_RUN_COUNTS] = "SELECT kind, status, count(*) FROM runs GROUP BY kind, status "
                      "ORDER BY kind, status",
    [ST_OUT_PUT] = "INSERT OR REPLACE INTO run_outputs (run_id, path, size, sha256) "
                   "VALUES (?1, ?2, ?3, ?4)",
    [ST_OUT_GET] = "SELECT path, size, sha256 FROM run_outputs WHERE run_id = ?1 ORDER BY path",
    [ST_IN_PUT] = "INSERT OR REPLACE INTO input_hashes (run_id, path, sha256) VALUES (?1, ?2, ?3)",
    [ST_IN_GET] = "SELECT path, sha256 FROM input_hashes WHERE run_id = ?1 ORDER BY path",
    [ST_TOK_INSERT] = "INSERT INTO api_tokens (id, name, secret_sha256, created_at, user, scope, "
                      "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_TOK_LIVE] = "SELECT id, secret_sha256, user, scope, expires_at, revoked_at FROM api_tokens",
    [ST_TOK_TOUCH] = "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1",
    [ST_TOK_LIST] =
        "SELECT id, name, created_at, last_used_at, revoked_at, user, scope, expires_at "
        "FROM api_tokens WHERE ?1 IS NULL OR user = ?1 ORDER BY created_at, id",
    [ST_TOK_REVOKE] = "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL "
                      "AND (?3 IS NULL OR user = ?3)",
    [ST_TOK_EXISTS] = "SELECT 1 FROM api_tokens WHERE id = ?1 AND (?2 IS NULL OR user = ?2)",
    [ST_SPEC_OWNER] = "UPDATE specs SET owner = ?2 WHERE name = ?1 AND deleted_at IS NULL",
    [ST_AUDIT_INSERT] = "INSERT INTO audit (time, actor, action, target, status, detail, user, "
                        "token_id, owner) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_AUDIT_SINCE] = "SELECT id, time, actor, action, target, status, detail, user, token_id, "
                       "owner FROM audit WHERE id > ?1 AND (?3 IS NULL OR user = ?3) "
                       "AND (?4 IS NULL OR time >= ?4) AND (?5 IS NULL OR owner = ?5) "
                       "ORDER BY id LIMIT ?2",
    [ST_AUDIT_LAST] = "SELECT coalesce(max(id), 0) FROM audit",
    [ST_SIZE] = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
};

/* run_list and run_count take any combination of these filters; each
 * combination is its own cached statement so that every one can use an index. */
enum { F_NAME = 1, F_KIND = 2, F_STATUS = 4, F_CURSOR = 8, F_OWNER = 16, N_LIST_VARIANTS = 32 };

struct cass_store {
    pthread_mutex_t lock; /* recursive: a caller's transaction holds it across calls */
    sqlite3 *db;
    bool memory;
    int tx_depth; /* open transactions: 1 BEGIN IMMEDIATE, then savepoints */
    sqlite3_stmt *stmts[N_STMTS];
    sqlite3_stmt *list_stmts[N_LIST_VARIANTS];
    sqlite3_stmt *count_stmts[N_LIST_VARIANTS];
    atomic_bool full; /* a write found no room; cleared by a probe that fits */
};

/* --- small helpers ------------------------------------------------------- */

static bool in_list(const char *s, const char *const *list, size_t n)
{
    if (!s)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

int cass_store_status_valid(const char *status)
{
    return cass_vocab_status_valid(status);
}

int cass_store_status_final(const char *status)
{
    return cass_vocab_status_final(status);
}

static bool kind_valid(const char *kind)
{
    return cass_vocab_kind(kind) != NULL;
}

bool cass_store_user_valid(const char *user)
{
    size_t n = user ? strlen(user) : 0;
    if (n == 0 || n > 63 ||
        !((user[0] >= 'a' && user[0] <= 'z') || (user[0] >= '0' && user[0] <= '9')))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = user[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static bool name_valid(const char *name)
{
    return cass_vocab_name_valid(name);
}

static bool hex64_valid(const char *s)
{
    if (!s || strlen(s) != CASS_SHA256_HEX_LEN)
        return false;
    for (size_t i = 0; i < CASS_SHA256_HEX_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool digest_valid(const char *s)
{
    return s && strncmp(s, "sha256:", 7) == 0 && hex64_valid(s + 7);
}

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* prefix followed by a 26-character ULID */
static bool ulid_id_valid(const char *s, const char *prefix)
{
    size_t p = strlen(prefix);
    if (!s || strncmp(s, prefix, p) != 0 || strlen(s) != p + 26 || s[p] > '7')
        return false;
    for (size_t i = p; i < p + 26; i++)
        if (!s[i] || !strchr(crockford, s[i]))
            return false;
    return true;
}

static bool run_id_valid(const char *s)
{
    return ulid_id_valid(s, "r-");
}

/* A path relative to an outputs or inputs directory: no absolute path, no
 * "." or ".." component, no control characters. */
static bool rel_path_valid(const char *p)
{
    if (!p || !*p || *p == '/' || strlen(p) > MAX_PATH_LEN)
        return false;
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return false;
    const char *seg = p;
    for (;;) {
        const char *end = strchrnul(seg, '/');
        size_t n = (size_t)(end - seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (!*end)
            return true;
        seg = end + 1;
    }
}

static void format_time(int64_t ms, char out[CASS_STORE_TIME_LEN + 1])
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    /* the compiler cannot know that every field fits its width */
    char buf[64];
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    memcpy(out, buf, CASS_STORE_TIME_LEN);
    out[CASS_STORE_TIME_LEN] = '\0';
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cass_store_time_now(char out[CASS_STORE_TIME_LEN + 1])
{
    format_time(now_ms(), out);
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" to UTC with
 * milliseconds, so that stored times compare as text. */
static bool time_normalize(const char *in, char out[CASS_STORE_TIME_LEN + 1])
{
    if (!in || strlen(in) < 20 || in[4] != '-' || in[7] != '-' ||
        (in[10] != 'T' && in[10] != 't') || in[13] != ':' || in[16] != ':')
        return false;
    int year = digits(in, 4), mon = digits(in + 5, 2), day = digits(in + 8, 2);
    int hour = digits(in + 11, 2), min = digits(in + 14, 2), sec = digits(in + 17, 2);
    if (year < 0 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
        min < 0 || min > 59 || sec < 0 || sec > 60)
        return false;
    const char *p = in + 19;
    int ms = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        for (; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3)
                ms = ms * 10 + (*p - '0');
        if (n == 0 || n > 9)
            return false;
        for (; n < 3; n++)
            ms *= 10;
    }
    int offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && p[3] == ':') {
        int oh = digits(p + 1, 2), om = digits(p + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return false;
        offset = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = mon - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = min,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    format_time(((int64_t)t - offset) * 1000 + ms, out);
    return true;
}

/* --- ids ---------------------------------------------------------------- */

static pthread_mutex_t ulid_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t ulid_last_ms = -1;
static unsigned char ulid_last_rand[10];

static int ulid_new(char out[27], struct cass_error **err)
{
    unsigned char b[16];
    int64_t ms = now_ms();
    pthread_mutex_lock(&ulid_lock);
    bool fresh = true;
    if (ms <= ulid_last_ms) {
        /* same millisecond (or the clock stepped back): count up from the
         * last id so that ids stay ordered */
        ms = ulid_last_ms;
        int i;
        for (i = 9; i >= 0; i--)
            if (++ulid_last_rand[i] != 0)
                break;
        fresh = i < 0;
        if (fresh)
            ms++;
    }
    if (fresh && cass_hash_random(ulid_last_rand, sizeof(ulid_last_rand), err) < 0) {
        pthread_mutex_unlock(&ulid_lock);
        return -1;
    }
    ulid_last_ms = ms;
    memcpy(b + 6, ulid_last_rand, 10);
    pthread_mutex_unlock(&ulid_lock);

    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)((uint64_t)ms >> (8 * (5 - i)));
    /* 128 bits as 26 five-bit digits, the first one carrying 3 bits */
    for (int i = 0; i < 26; i++) {
        unsigned v = 0;
        for (int k = 0; k < 5; k++) {
            int bit = i * 5 + k - 2;
            v <<= 1;
            if (bit >= 0)
                v |= (b[bit / 8] >> (7 - bit % 8)) & 1u;
        }
        out[i] = crockford[v];
    }
    out[26] = '\0';
    return 0;
}

int cass_store_run_id_new(char out[CASS_STORE_RUN_ID_LEN + 1], struct cass_error **err)
{
    out[0] = 'r';
    out[1] = '-';
    return ulid_new(out + 2, err);
}

/* --- SQLite plumbing ------------------------------------------------------ */

/* What SQLite says when the disk under the database has no room: full, or
 * a write, a sync or a growth of the WAL index that the file system refused. */
static bool sql_no_space(int rc)
{
    return (rc & 0xff) == SQLITE_FULL || rc == SQLITE_IOERR_WRITE || rc == SQLITE_IOERR_FSYNC ||
           rc == SQLITE_IOERR_SHMSIZE || rc == SQLITE_IOERR_TRUNCATE;
}

static int sql_error(struct cass_store *s, int rc, struct cass_error **err, const char *what)
{
    enum cass_error_kind kind = CASS_ERR_IO;
    if (sql_no_space(rc)) {
        kind = CASS_ERR_NOSPACE;
        atomic_store(&s->full, true);
    } else if ((rc & 0xff) == SQLITE_NOMEM)
        kind = CASS_ERR_NOMEM;
    else if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
        kind = CASS_ERR_CONFLICT;
    else if ((rc & 0xff) == SQLITE_CONSTRAINT)
        kind = CASS_ERR_INVALID;
    return cass_error_set(err, kind, "%s: %s", what, sqlite3_errmsg(s->db));
}

static void stmt_resetp(sqlite3_stmt **st)
{
    if (*st) {
        sqlite3_reset(*st);
        sqlite3_clear_bindings(*st);
    }
}
#define _cleanup_stmt_ _cleanup_(stmt_resetp)

static void stmt_finalizep(sqlite3_stmt **st)
{
    sqlite3_finalize(*st);
}

static sqlite3_stmt *prepare_cached(struct cass_store *s, sqlite3_stmt **slot, const char *sql,
                                    struct cass_error **err)
{
    if (!*slot) {
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        if (rc != SQLITE_OK) {
            sql_error(s, rc, err, "prepare");
            *slot = NULL;
            return NULL;
        }
    }
    return *slot;
}

static sqlite3_stmt *stmt(struct cass_store *s, enum stmt_id id, struct cass_error **err)
{
    return prepare_cached(s, &s->stmts[id], stmt_sql[id], err);
}

/* Bind helpers keep the first failure in *rc so that a run of binds can be
 * checked once. Text is copied (SQLITE_TRANSIENT): values often die first. */
static void bind_text(sqlite3_stmt *st, int i, const char *v, int *rc)
{
    if (*rc == SQLITE_OK)
        *rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

static void bind_int64(sqlite3_stmt *st, int i, int64_t v, int *rc)
{
    if (*rc == SQLITE_OK)
        *rc = sqlite3_bind_int64(st, i, v);
}

static int bound(struct cass_store *s, int rc, struct cass_error **err)
{
    return rc == SQLITE_OK ? 0 : sql_error(s, rc, err, "bind");
}

/* Steps a statement expected to finish without a row. */
static int step_done(struct cass_store *s, sqlite3_stmt *st, const char *what,
                     struct cass_error **err)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        return sql_error(s, rc, err, what);
    return 0;
}

/* Steps for a row: 1 row, 0 done, -1 error. */
static int step_row(struct cass_store *s, sqlite3_stmt *st, const char *what,
                    struct cass_error **err)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return sql_error(s, rc, err, what);
}

static int exec_stmt(struct cass_store *s, enum stmt_id id, const char *what,
                     struct cass_error **err)
{
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, id, err);
    if (!st)
        return -1;
    return step_done(s, st, what, err);
}

/* Inside a caller's transaction (cass_store_tx_begin) a function's own
 * transaction is a savepoint, so that it still undoes only its own part. */
static int savepoint(struct cass_store *s, const char *sql, struct cass_error **err)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sql_error(s, rc, err, sql);
}

static int tx_begin(struct cass_store *s, struct cass_error **err)
{
    if (s->tx_depth > 0 ? savepoint(s, "SAVEPOINT nested", err) < 0
                        : exec_stmt(s, ST_BEGIN, "begin transaction", err) < 0)
        return -1;
    s->tx_depth++;
    return 0;
}

static void tx_rollback(struct cass_store *s)
{
    if (s->tx_depth > 1)
        savepoint(s, "ROLLBACK TO nested; RELEASE nested", NULL);
    else if (!sqlite3_get_autocommit(s->db))
        exec_stmt(s, ST_ROLLBACK, "rollback", NULL);
    if (s->tx_depth > 0)
        s->tx_depth--;
}

static int tx_commit(struct cass_store *s, struct cass_error **err)
{
    if (s->tx_depth > 1 ? savepoint(s, "RELEASE nested", err) < 0
                        : exec_stmt(s, ST_COMMIT, "commit", err) < 0) {
        tx_rollback(s);
        return -1;
    }
    s->tx_depth--;
    return 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static json_t *col_string(sqlite3_stmt *st, int i)
{
    const char *v = col_text(st, i);
    return v ? json_string(v) : json_null();
}

/* A JSON column; dflt ("[]" or "{}") when NULL. */
static json_t *col_json(sqlite3_stmt *st, int i, const char *dflt)
{
    const char *v = col_text(st, i);
    return json_loads(v ? v : dflt, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
}

static void store_lock(struct cass_store *s)
{
    pthread_mutex_lock(&s->lock);
}

static void store_unlockp(struct cass_store **s)
{
    if (*s)
        pthread_mutex_unlock(&(*s)->lock);
}
/* Holds the store's mutex until the end of the scope. */
#define LOCK_SCOPE(s)                                                                              \
    _cleanup_(store_unlockp) struct cass_store *scope_lock_ = (store_lock(s), (s));                \
    (void)scope_lock_

static json_t *oom(struct cass_error **err)
{
    cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    return NULL;
}

/* --- a caller's transaction ---------------------------------------------- */

int cass_store_tx_begin(struct cass_store *s, struct cass_error **err)
{
    store_lock(s);
    if (s->tx_depth > 0) {
        pthread_mutex_unlock(&s->lock);
        return cass_error_set(err, CASS_ERR_INTERNAL, "a store transaction is already open");
    }
    if (tx_begin(s, err) < 0) {
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    return 0;
}

int cass_store_tx_commit(struct cass_store *s, struct cass_error **err)
{
    int rc = tx_commit(s, err);
    s->tx_depth = 0;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void cass_store_tx_rollback(struct cass_store *s)
{
    while (s->tx_depth > 0)
        tx_rollback(s);
    pthread_mutex_unlock(&s->lock);
}

/* --- open, migrate, close ------------------------------------------------- */

int cass_store_schema_latest(void)
{
    return N_MIGRATIONS;
}

const char *cass_store_migration_sql(int version)
{
    if (version < 1 || version > N_MIGRATIONS)
        return NULL;
    return migrations[version - 1];
}

static int schema_version_locked(struct cass_store *s, struct cass_error **err)
{
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_VERSION, err);
    if (!st)
        return -1;
    int r = step_row(s, st, "read schema version", err);
    if (r <= 0)
        return r < 0 ? -1 : cass_error_set(err, CASS_ERR_IO, "no schema version");
    return sqlite3_column_int(st, 0);
}

static int exec_sql(struct cass_store *s, const char *sql, const char *what,
                    struct cass_error **err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        cass_error_set(err, CASS_ERR_IO, "%s: %s", what, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* One migration per transaction; the version is read again inside it so
 * that two daemons opening the same file do not both apply a step. */
static int migrate(struct cass_store *s, const char *path, struct cass_error **err)
{
    if (exec_sql(s,
                 "CREATE TABLE IF NOT EXISTS schema_version ("
                 " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
                 "create schema_version", err) < 0)
        return -1;
    for (;;) {
        if (tx_begin(s, err) < 0)
            return -1;
        int v = schema_version_locked(s, err);
        if (v < 0) {
            tx_rollback(s);
            return -1;
        }
        if (v > N_MIGRATIONS) {
            tx_rollback(s);
            return cass_error_set(err, CASS_ERR_CONFLICT,
                                  "%s has schema version %d, newer than the %d this cassinyd "
                                  "knows; refusing to open it (upgrade cassinyd)",
                                  path, v, N_MIGRATIONS);
        }
        if (v == N_MIGRATIONS)
            return tx_commit(s, err);
        char what[64], now[CASS_STORE_TIME_LEN + 1], sql[128];
        snprintf(what, sizeof(what), "schema migration %d", v + 1);
        cass_store_time_now(now);
        snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%d, '%s')", v + 1, now);
        if (exec_sql(s, migrations[v], what, err) < 0 || exec_sql(s, sql, what, err) < 0) {
            tx_rollback(s);
            return -1;
        }
        if (tx_commit(s, err) < 0)
            return -1;
    }
}

/* The query of the pragma must answer value (journal_mode answers the mode). */
static int pragma(sqlite3 *db, const char *sql, const char *value, struct cass_error **err)
{
    _cleanup_(stmt_finalizep) sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return cass_error_set(err, (rc & 0xff) == SQLITE_NOMEM ? CASS_ERR_NOMEM : CASS_ERR_IO,
                              "%s: %s", sql, sqlite3_errmsg(db));
    const char *got = rc == SQLITE_ROW ? col_text(st, 0) : NULL;
    if (value && (!got || strcasecmp(got, value) != 0))
        return cass_error_set(err, CASS_ERR_IO, "%s: answered %s instead of %s", sql,
                              got ? got : "nothing", value);
    return 0;
}

struct sqlite3 *cass_store_sqlite_open(const char *path, struct cass_error **err)
{
    bool memory = strcmp(path, ":memory:") == 0;
    if (!memory) {
        /* The store holds token hashes: every database is created private. */
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            cass_error_errno(err, errno, "open %s", path);
            return NULL;
        }
    }
    sqlite3 *db = NULL;
    /* NOMUTEX: the owner's mutex serializes every use of the connection. */
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        cass_error_set(err, CASS_ERR_IO, "open %s: %s", path,
                       db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    if (sqlite3_db_readonly(db, "main") == 1)
        rc = cass_error_set(err, CASS_ERR_IO, "open %s: not writable", path);
    else if ((!memory && pragma(db, "PRAGMA journal_mode=WAL", "wal", err) < 0) ||
             pragma(db, "PRAGMA synchronous=NORMAL", NULL, err) < 0) {
        cass_error_prefix(err, "open %s", path);
        rc = -1;
    }
    if (rc != SQLITE_OK) {
        sqlite3_close_v2(db);
        return NULL;
    }
    return db;
}

struct cass_store *cass_store_open(const char *path, struct cass_error **err)
{
    if (!path || !*path) {
        cass_error_set(err, CASS_ERR_INVALID, "no database path");
        return NULL;
    }
    struct cass_store *s = calloc(1, sizeof(*s));
    if (!s) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    s->memory = strcmp(path, ":memory:") == 0;
    s->db = cass_store_sqlite_open(path, err);
    if (!s->db) {
        cass_store_close(s);
        return NULL;
    }
    if (pragma(s->db, "PRAGMA foreign_keys=ON", NULL, err) < 0 || migrate(s, path, err) < 0) {
        cass_error_prefix(err, "open %s", path);
        cass_store_close(s);
        return NULL;
    }
    return s;
}

void cass_store_close(struct cass_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < N_STMTS; i++)
        sqlite3_finalize(s->stmts[i]);
    for (int i = 0; i < N_LIST_VARIANTS; i++)
        sqlite3_finalize(s->list_stmts[i]);
    for (int i = 0; i < N_LIST_VARIANTS; i++)
        sqlite3_finalize(s->count_stmts[i]);
    sqlite3_close_v2(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int cass_store_schema_version(struct cass_store *s, struct cass_error **err)
{
    LOCK_SCOPE(s);
    return schema_version_locked(s, err);
}

/* --- revisions -------------------------------------------------------------- */

int cass_store_revision_put(struct cass_store *s, const char *revision, const char *name,
                            const char *kind, const char *canonical, struct cass_error **err)
{
    if (!digest_valid(revision))
        return cass_error_set(err, CASS_ERR_INVALID, "revision must be sha256:<64 hex digits>");
    if (!name_valid(name))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid spec name \"%s\"", name ? name : "");
    if (!kind_valid(kind))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid kind \"%s\"", kind ? kind : "");
    if (!canonical)
        return cass_error_set(err, CASS_ERR_INVALID, "no canonical spec");
    char hex[CASS_SHA256_HEX_LEN + 1];
    cass_hash_sha256_hex(canonical, strlen(canonical), hex);
    if (strcmp(hex, revision + 7) != 0)
        return cass_error_set(err, CASS_ERR_INVALID,
                              "revision %s is not the sha256 of its canonical spec", revision);
    _cleanup_json_ json_t *doc = json_loads(canonical, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc))
        return cass_error_set(err, CASS_ERR_INVALID, "canonical spec is not a JSON object");

    LOCK_SCOPE(s);
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_REV_INSERT, err);
    if (!st)
        return -1;
    char now[CASS_STORE_TIME_LEN + 1];
    cass_store_time_now(now);
    int rc = SQLITE_OK;
    bind_text(st, 1, revision, &rc);
    bind_text(st, 2, name, &rc);
    bind_text(st, 3, kind, &rc);
    bind_text(st, 4, canonical, &rc);
    bind_text(st, 5, now, &rc);
    if (bound(s, rc, err) < 0 || step_done(s, st, "store revision", err) < 0)
        return -1;
    return sqlite3_changes(s->db) > 0 ? 1 : 0;
}

static json_t *revision_from_row(sqlite3_stmt *st, struct cass_error **err)
{
    json_t *spec = json_loads(col_text(st, 3), JSON_REJECT_DUPLICATES, NULL);
    if (!spec) {
        cass_error_set(err, CASS_ERR_IO, "revision %s: stored spec does not parse",
                       col_text(st, 0));
        return NULL;
    }
    json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:o}", "revision", col_string(st, 0), "name",
                          col_string(st, 1), "kind", col_string(st, 2), "createdAt",
                          col_string(st, 4), "spec", spec);
    return o ? o : oom(err);
}

json_t *cass_store_revision_get(struct cass_store *s, const char *revision, struct cass_error **err)
{
    if (!digest_valid(revision)) {
        cass_error_set(err, CASS_ERR_INVALID, "revision must be sha256:<64 hex digits>");
        return NULL;
    }
    LOCK_SCOPE(s);
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_REV_GET, err);
    if (!st)
        return NULL;
    int rc = SQLITE_OK;
    bind_text(st, 1, revision, &rc);
    if (bound(s, rc, err) < 0)
        return NULL;
    int r = step_row(s, st, "read revision", err);
    if (r <= 0) {
        if (r == 0)
            cass_error_set(err, CASS_ERR_NOT_FOUND, "revision %s not found", revision);
        return NULL;
    }
    return revision_from_row(st, err);
}

json_t *cass_store_revision_list(struct cass_store *s, const char *name, struct cass_error **err)
{
    if (!name_valid(name)) {
        cass_error_set(err, CASS_ERR_INVALID, "invalid spec name \"%s\"", name ? name : "");
        return NULL;
    }
    LOCK_SCOPE(s);
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_REV_LIST, err);
    if (!st)
        return NULL;
    int rc = SQLITE_OK;
    bind_text(st, 1, name, &rc);
    if (bound(s, rc, err) < 0)
        return NULL;
    _cleanup_json_ json_t *list = json_array();
    if (!list)
        return oom(err);
    int r;
    while ((r = step_row(s, st, "list revisions", err)) > 0) {
        json_t *o = revision_from_row(st, err);
        if (!o || json_array_append_new(list, o) < 0)
            return o ? oom(err) : NULL;
    }
    return r < 0 ? NULL : TAKE_PTR(list);
}

/* --- specs --------------------------------------------------------------------- */

/* Whether revision is stored for this name and kind: 0 yes, else -1 with err. */
static int check_revision(struct cass_store *s, const char *revision, const char *name,
                          const char *kind, struct cass_error **err)
{
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_REV_CHECK, err);
    if (!st)
        return -1;
    int rc = SQLITE_OK;
    bind_text(st, 1, revision, &rc);
    if (bound(s, rc, err) < 0)
        return -1;
    int r = step_row(s, st, "read revision", err);
    if (r < 0)
        return -1;
    if (r == 0)
        return cass_error_set(err, CASS_ERR_INVALID, "unknown revision %s", revision);
    if (strcmp(col_text(st, 0), name) != 0 || strcmp(col_text(st, 1), kind) != 0)
        return cass_error_set(err, CASS_ERR_INVALID, "revision %s is of %s %s, not %s %s", revision,
                              col_text(st, 1), col_text(st, 0), kind, name);
    return 0;
}

/* Whether run id exists (and, when name is given, is a run of name). */
static int check_run(struct cass_store *s, const char *id, const char *name,
                     struct cass_error **err)
{
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_RUN_NAME, err);
    if (!st)
        return -1;
    int rc = SQLITE_OK;
    bind_text(st, 1, id, &rc);
    if (bound(s, rc, err) < 0)
        return -1;
    int r = step_row(s, st, "read run", err);
    if (r < 0)
        return -1;
    if (r == 0)
        return cass_error_set(err, CASS_ERR_NOT_FOUND, "run %s not found", id);
    if (name && strcmp(col_text(st, 0), name) != 0)
        return cass_error_set(err, CASS_ERR_INVALID, "run %s is a run of %s, not of %s", id,
                              col_text(st, 0), name);
    return 0;
}

static int spec_put_locked(struct cass_store *s, const char *name, const char *kind,
                           const char *revision, const char *run_id, struct cass_error **err)
{
    if (check_revision(s, revision, name, kind, err) < 0)
        return -1;
    if (run_id && check_run(s, run_id, name, err) < 0) {
        if (err && *err && (*err)->kind == CASS_ERR_NOT_FOUND)
            (*err)->kind = CASS_ERR_INVALID;
        return -1;
    }
    bool exists = false;
    {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_SPEC_STATE, err);
        if (!st)
            return -1;
        int rc = SQLITE_OK;
        bind_text(st, 1, name, &rc);
        if (bound(s, rc, err) < 0)
            return -1;
        int r = step_row(s, st, "read spec", err);
        if (r < 0)
            return -1;
        exists = r > 0;
        if (exists && sqlite3_column_type(st, 1) == SQLITE_NULL &&
            strcmp(col_text(st, 0), kind) != 0)
            return cass_error_set(err, CASS_ERR_CONFLICT,
                                  "%s is a %s; delete it before applying a %s of that name", name,
                                  col_text(st, 0), kind);
    }
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, exists ? ST_SPEC_UPDATE : ST_SPEC_INSERT, err);
    if (!st)
        return -1;
    char now[CASS_STORE_TIME_LEN + 1];
    cass_store_time_now(now);
    int rc = SQLITE_OK;
    bind_text(st, 1, name, &rc);
    bind_text(st, 2, kind, &rc);
    bind_text(st, 3, revision, &rc);
    bind_text(st, 4, run_id, &rc);
    bind_text(st, 5, now, &rc);
    if (bound(s, rc, err) < 0)
        return -1;
    return step_done(s, st, "store spec", err);
}

int cass_store_spec_put(struct cass_store *s, const char *name, const char *kind,
                        const char *revision, const char *run_id, struct cass_error **err)
{
    if (!name_valid(name))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid spec name \"%s\"", name ? name : "");
    if (!kind_valid(kind))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid kind \"%s\"", kind ? kind : "");
    if (!digest_valid(revision))
        return cass_error_set(err, CASS_ERR_INVALID, "revision must be sha256:<64 hex digits>");
    if (run_id && !run_id_valid(run_id))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid run id \"%s\"", run_id);
    LOCK_SCOPE(s);
    if (tx_begin(s, err) < 0)
        return -1;
    if (spec_put_locked(s, name, kind, revision, run_id, err) < 0) {
        tx_rollback(s);
        return -1;
    }
    return tx_commit(s, err);
}

static json_t *spec_from_row(sqlite3_stmt *st, struct cass_error **err)
{
    json_t *o = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "name", col_string(st, 0), "kind",
        col_string(st, 1), "revision", col_string(st, 2), "runId", col_string(st, 3), "status",
        col_string(st, 4), "url", col_string(st, 5), "createdAt", col_string(st, 6), "updatedAt",
        col_string(st, 7), "deletedAt", col_string(st, 8), "owner", col_string(st, 10));
    /* A serving model none of whose replicas answers says why. */
    if (o && sqlite3_column_type(st, 9) == SQLITE_TEXT)
        json_object_set_new(o, "degraded", col_string(st, 9));
    return o ? o : oom(err);
}

json_t *cass_store_spec_get(struct cass_store *s, const char *name, struct cass_error **err)
{
    if (!name_valid(name)) {
        cass_error_set(err, CASS_ERR_INVALID, "invalid spec name \"%s\"", name ? name : "");
        return NULL;
    }
    LOCK_SCOPE(s);
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_SPEC_GET, err);
    if (!st)
        return NULL;
    int rc = SQLITE_OK;
    bind_text(st, 1, name, &rc);
    if (bound(s, rc, err) < 0)
        return NULL;
    int r = step_row(s, st, "read spec", err);
    if (r <= 0) {
        if (r == 0)
            cass_error_set(err, CASS_ERR_NOT_FOUND, "spec %s not found", name);
        return NULL;
    }
    return spec_from_row(st, err);
}

json_t *cass_store_spec_list(struct cass_store *s, int include_deleted, struct cass_error **err)
{
    LOCK_SCOPE(s);
    _cleanup_stmt_ sqlite3_stmt *st =
        stmt(s, include_deleted ? ST_SPEC_LIST_ALL : ST_SPEC_LIST, err);
    if (!st)
        return NULL;
    _cleanup_json_ json_t *list = json_array();
    if (!list)
        return oom(err);
    int r;
    while ((r = step_row(s, st, "list specs", err)) > 0) {
        json_t *o = spec_from_row(st, err);
        if (!o || json_array_append_new(list, o) < 0)
            return o ? oom(err) : NULL;
    }
    return r < 0 ? NULL : TAKE_PTR(list);
}

int cass_store_spec_delete(struct cass_store *s, const char *name, struct cass_error **err)
{
    if (!name_valid(name))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid spec name \"%s\"", name ? name : "");
    LOCK_SCOPE(s);
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_SPEC_DELETE, err);
    if (!st)
        return -1;
    char now[CASS_STORE_TIME_LEN + 1];
    cass_store_time_now(now);
    int rc = SQLITE_OK;
    bind_text(st, 1, name, &rc);
    bind_text(st, 2, now, &rc);
    if (bound(s, rc, err) < 0 || step_done(s, st, "delete spec", err) < 0)
        return -1;
    if (sqlite3_changes(s->db) == 0)
        return cass_error_set(err, CASS_ERR_NOT_FOUND, "spec %s not found", name);
    return 0;
}

/* --- runs: JSON <-> row ----------------------------------------------------------- */

enum { T_CREATED, T_STARTED, T_READY, T_FINISHED, N_TIMES };
static const char *const time_keys[N_TIMES] = {"createdAt", "startedAt", "readyAt", "finishedAt"};

/* Top-level keys with a column of their own; any other goes to `extra`. */
static const char *const run_keys[] = {
    "id",      "name",       "kind",      "status",         "revision", "image",     "containers",
    "url",     "ports",      "reason",    "error",          "exitCode", "createdAt", "startedAt",
    "readyAt", "finishedAt", "artifacts", "reproducedFrom", "outputs",  "owner",
};

/* A run validated and ready to bind. Strings are borrowed from the JSON it
 * was parsed from, except the buffers and the serialized JSON columns. */
struct run_row {
    const char *id, *name, *kind, *revision, *status, *reason, *error, *image_ref, *image_id, *url,
        *reproduced_from, *owner;
    char id_buf[CASS_STORE_RUN_ID_LEN + 1];
    char times[N_TIMES][CASS_STORE_TIME_LEN + 1];
    bool has_time[N_TIMES];
    bool has_exit_code;
    json_int_t exit_code;
    char *repo_digests, *containers, *ports, *artifacts, *extra;
};

static void run_row_done(struct run_row *r)
{
    free(r->repo_digests);
    free(r->containers);
    free(r->ports);
    free(r->artifacts);
    free(r->extra);
}

static int field_error(struct cass_error **err, const char *field, const char *what)
{
    return cass_error_set(err, CASS_ERR_INVALID, "run field \"%s\": %s", field, what);
}

/* An optional string member: absent or null gives NULL. */
static int opt_string(const json_t *o, const char *key, const char **ret, struct cass_error **err)
{
    json_t *v = json_object_get(o, key);
    *ret = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return field_error(err, key, "must be a string or null");
    *ret = json_string_value(v);
    return 0;
}

static char *dump(const json_t *v, struct cass_error **err)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t)
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    return t;
}

/* An array of non-empty strings, serialized; absent or null gives "[]". */
static char *string_array(const json_t *v, const char *key, struct cass_error **err)
{
    if (!v || json_is_null(v)) {
        char *t = strdup("[]");
        if (!t)
            cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return t;
    }
    if (!json_is_array(v)) {
        field_error(err, key, "must be an array of strings");
        return NULL;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || json_string_length(e) == 0) {
            field_error(err, key, "must be an array of non-empty strings");
            return NULL;
        }
    }
    return dump(v, err);
}

static int hash_list_valid(const json_t *v, bool with_size, const char *key,
                           struct cass_error **err)
{
    if (!json_is_array(v))
        return field_error(err, key, "must be an array");
    if (json_array_size(v) > MAX_ITEMS)
        return cass_error_set(err, CASS_ERR_TOO_LARGE, "%s: more than %d entries", key, MAX_ITEMS);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *sha = json_string_value(json_object_get(e, "sha256"));
        json_t *size = json_object_get(e, "size");
        if (!json_is_object(e))
            return field_error(err, key, "entries must be objects");
        if (!path || !*path || strlen(path) > MAX_PATH_LEN)
            return cass_error_set(err, CASS_ERR_INVALID, "%s[%zu].path: must be a path", key, i);
        if (with_size && !rel_path_valid(path))
            return cass_error_set(err, CASS_ERR_INVALID,
                                  "%s[%zu].path: \"%s\" is not a relative path inside the "
                                  "outputs directory",
                                  key, i, path);
        if (!hex64_valid(sha))
            return cass_error_set(err, CASS_ERR_INVALID,
                                  "%s[%zu].sha256: must be 64 lowercase hex digits", key, i);
        if (with_size && (!json_is_integer(size) || json_integer_value(size) < 0))
            return cass_error_set(err, CASS_ERR_INVALID,
                                  "%s[%zu].size: must be a non-negative integer", key, i);
    }
    return 0;
}

/* Validates run (the whole run, as inserted or as it will be after an
 * update) into r. With generate, a missing id and createdAt are filled. */
static int run_row_parse(const json_t *run, bool generate, struct run_row *r,
                         struct cass_error **err)
{
    if (!json_is_object(run))
        return cass_error_set(err, CASS_ERR_INVALID, "a run must be a JSON object");

    if (opt_string(run, "id", &r->id, err) < 0)
        return -1;
    if (!r->id) {
        if (!generate)
            return field_error(err, "id", "is required");
        if (cass_store_run_id_new(r->id_buf, err) < 0)
            return -1;
        r->id = r->id_buf;
    } else if (!run_id_valid(r->id)) {
        return field_error(err, "id", "must be r- and a ULID");
    }

    if (opt_string(run, "name", &r->name, err) < 0)
        return -1;
    if (!name_valid(r->name))
        return field_error(err, "name", "is required and must be a DNS label");
    if (opt_string(run, "kind", &r->kind, err) < 0)
        return -1;
    if (!kind_valid(r->kind))
        return field_error(err, "kind", "is required and must be Notebook, Job or Model");
    if (opt_string(run, "revision", &r->revision, err) < 0)
        return -1;
    if (!digest_valid(r->revision))
        return field_error(err, "revision", "is required and must be sha256:<64 hex digits>");
    if (opt_string(run, "status", &r->status, err) < 0)
        return -1;
    if (!r->status)
        r->status = "pending";
    if (!cass_store_status_valid(r->status))
        return cass_error_set(err, CASS_ERR_INVALID, "run field \"status\": unknown status \"%s\"",
                              r->status);
    if (opt_string(run, "reason", &r->reason, err) < 0 ||
        opt_string(run, "error", &r->error, err) < 0 || opt_string(run, "url", &r->url, err) < 0)
        return -1;
    if (opt_string(run, "reproducedFrom", &r->reproduced_from, err) < 0)
        return -1;
    if (r->reproduced_from && !run_id_valid(r->reproduced_from))
        return field_error(err, "reproducedFrom", "must be a run id or null");
    /* NULL: the spec's owner (ST_RUN_INSERT). */
    if (opt_string(run, "owner", &r->owner, err) < 0)
        return -1;
    if (r->owner && !cass_store_user_valid(r->owner))
        return field_error(err, "owner", "must be a user name");

    json_t *image = json_object_get(run, "image");
    json_t *digests = NULL;
    if (image && !json_is_null(image)) {
        if (!json_is_object(image))
            return field_error(err, "image", "must be an object");
        const char *key;
        json_t *v;
        json_object_foreach(image, key, v)
        {
            if (strcmp(key, "ref") != 0 && strcmp(key, "id") != 0 &&
                strcmp(key, "repoDigests") != 0)
                return cass_error_set(err, CASS_ERR_INVALID, "run field \"image.%s\": unknown",
                                      key);
        }
        if (opt_string(image, "ref", &r->image_ref, err) < 0 ||
            opt_string(image, "id", &r->image_id, err) < 0) {
            cass_error_prefix(err, "image");
            return -1;
        }
        if (r->image_id && !digest_valid(r->image_id))
            return field_error(err, "image.id", "must be sha256:<64 hex digits> or null");
        digests = json_object_get(image, "repoDigests");
    }
    if (!(r->repo_digests = string_array(digests, "image.repoDigests", err)) ||
        !(r->containers = string_array(json_object_get(run, "containers"), "containers", err)))
        return -1;

    json_t *ports = json_object_get(run, "ports");
    if (ports && !json_is_null(ports) && !json_is_array(ports) && !json_is_object(ports))
        return field_error(err, "ports", "must be an array or an object");
    _cleanup_json_ json_t *no_ports = json_array();
    if (!(r->ports = dump(ports && !json_is_null(ports) ? ports : no_ports, err)))
        return -1;

    json_t *exit_code = json_object_get(run, "exitCode");
    if (exit_code && !json_is_null(exit_code)) {
        if (!json_is_integer(exit_code) || json_integer_value(exit_code) < INT32_MIN ||
            json_integer_value(exit_code) > INT32_MAX)
            return field_error(err, "exitCode", "must be an integer or null");
        r->has_exit_code = true;
        r->exit_code = json_integer_value(exit_code);
    }

    for (int t = 0; t < N_TIMES; t++) {
        const char *v;
        if (opt_string(run, time_keys[t], &v, err) < 0)
            return -1;
        if (v && !time_normalize(v, r->times[t]))
            return field_error(err, time_keys[t], "must be an RFC 3339 time or null");
        r->has_time[t] = v != NULL;
    }
    if (!r->has_time[T_CREATED]) {
        if (!generate)
            return field_error(err, "createdAt", "is required");
        cass_store_time_now(r->times[T_CREATED]);
        r->has_time[T_CREATED] = true;
    }

    json_t *artifacts = json_object_get(run, "artifacts");
    _cleanup_json_ json_t *no_artifacts = json_array();
    if (!artifacts || json_is_null(artifacts))
        artifacts = no_artifacts;
    if (hash_list_valid(artifacts, false, "artifacts", err) < 0)
        return -1;
    if (!(r->artifacts = dump(artifacts, err)))
        return -1;

    _cleanup_json_ json_t *extra = json_object();
    if (!extra)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)run, key, v)
    {
        if (!in_list(key, run_keys, sizeof(run_keys) / sizeof(run_keys[0])) &&
            json_object_set(extra, key, v) < 0)
            return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    }
    if (!(r->extra = dump(extra, err)))
        return -1;
    return 0;
}

/* Binds the columns in RUN_COLS order (the UPDATE skips some numbers and the owner). */
static int run_row_bind(struct cass_store *s, sqlite3_stmt *st, const struct run_row *r,
                        struct cass_error **err)
{
    int rc = SQLITE_OK;
    bind_text(st, C_ID + 1, r->id, &rc);
    bind_text(st, C_NAME + 1, r->name, &rc);
    bind_text(st, C_KIND + 1, r->kind, &rc);
    bind_text(st, C_REVISION + 1, r->revision, &rc);
    bind_text(st, C_STATUS + 1, r->status, &rc);
    bind_text(st, C_REASON + 1, r->reason, &rc);
    bind_text(st, C_ERROR + 1, r->error, &rc);
    bind_text(st, C_IMAGE_REF + 1, r->image_ref, &rc);
    bind_text(st, C_IMAGE_ID + 1, r->image_id, &rc);
    bind_text(st, C_REPO_DIGESTS + 1, r->repo_digests, &rc);
    bind_text(st, C_CONTAINERS + 1, r->containers, &rc);
    bind_text(st, C_URL + 1, r->url, &rc);
    bind_text(st, C_PORTS + 1, r->ports, &rc);
    if (r->has_exit_code)
        bind_int64(st, C_EXIT_CODE + 1, r->exit_code, &rc);
    else if (rc == SQLITE_OK)
        rc = sqlite3_bind_null(st, C_EXIT_CODE + 1);
    for (int t = 0; t < N_TIMES; t++)
        bind_text(st, C_CREATED + 1 + t, r->has_time[t] ? r->times[t] : NULL, &rc);
    bind_text(st, C_ARTIFACTS + 1, r->artifacts, &rc);
    bind_text(st, C_REPRODUCED_FROM + 1, r->reproduced_from, &rc);
    bind_text(st, C_EXTRA + 1, r->extra, &rc);
    /* The insert only: an owner never changes. */
    if (sqlite3_bind_parameter_count(st) > C_OWNER)
        bind_text(st, C_OWNER + 1, r->owner, &rc);
    return bound(s, rc, err);
}

/* The run JSON of a row selected with RUN_COLS (no outputs). */
static json_t *run_from_row(sqlite3_stmt *st, struct cass_error **err)
{
    json_t *digests = col_json(st, C_REPO_DIGESTS, "[]");
    json_t *containers = col_json(st, C_CONTAINERS, "[]");
    json_t *ports = col_json(st, C_PORTS, "[]");
    json_t *artifacts = col_json(st, C_ARTIFACTS, "[]");
    _cleanup_json_ json_t *extra = col_json(st, C_EXTRA, "{}");
    if (!digests || !containers || !ports || !artifacts || !json_is_object(extra)) {
        json_decref(digests);
        json_decref(containers);
        json_decref(ports);
        json_decref(artifacts);
        cass_error_set(err, CASS_ERR_IO, "run %s: a stored JSON column does not parse",
                       col_text(st, C_ID));
        return NULL;
    }
    json_t *exit_code = sqlite3_column_type(st, C_EXIT_CODE) == SQLITE_NULL
                            ? json_null()
                            : json_integer(sqlite3_column_int64(st, C_EXIT_CODE));
    json_t *run = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:{s:o, s:o, s:o}, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
        "s:o, s:o, s:o, s:o, s:o}",
        "id", col_string(st, C_ID), "name", col_string(st, C_NAME), "kind", col_string(st, C_KIND),
        "status", col_string(st, C_STATUS), "revision", col_string(st, C_REVISION), "image", "ref",
        col_string(st, C_IMAGE_REF), "id", col_string(st, C_IMAGE_ID), "repoDigests", digests,
        "containers", containers, "url", col_string(st, C_URL), "ports", ports, "reason",
        col_string(st, C_REASON), "error", col_string(st, C_ERROR), "exitCode", exit_code,
        "createdAt", col_string(st, C_CREATED), "startedAt", col_string(st, C_STARTED), "readyAt",
        col_string(st, C_READY), "finishedAt", col_string(st, C_FINISHED), "artifacts", artifacts,
        "reproducedFrom", col_string(st, C_REPRODUCED_FROM), "owner", col_string(st, C_OWNER));
    if (!run)
        return oom(err);
    json_object_update_missing(run, extra);
    return run;
}

static json_t *outputs_get_locked(struct cass_store *s, const char *id, struct cass_error **err)
{
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_OUT_GET, err);
    if (!st)
        return NULL;
    int rc = SQLITE_OK;
    bind_text(st, 1, id, &rc);
    if (bound(s, rc, err) < 0)
        return NULL;
    _cleanup_json_ json_t *list = json_array();
    if (!list)
        return oom(err);
    int r;
    while ((r = step_row(s, st, "read run outputs", err)) > 0) {
        if (json_array_append_new(list, json_pack("{s:o, s:I, s:o}", "path", col_string(st, 0),
                                                  "size", (json_int_t)sqlite3_column_int64(st, 1),
                                                  "sha256", col_string(st, 2))) < 0)
            return oom(err);
    }
    return r < 0 ? NULL : TAKE_PTR(list);
}

static json_t *run_get_locked(struct cass_store *s, const char *id, bool with_outputs,
                              struct cass_error **err)
{
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_RUN_GET, err);
    if (!st)
        return NULL;
    int rc = SQLITE_OK;
    bind_text(st, 1, id, &rc);
    if (bound(s, rc, err) < 0)
        return NULL;
    int r = step_row(s, st, "read run", err);
    if (r <= 0) {
        if (r == 0)
            cass_error_set(err, CASS_ERR_NOT_FOUND, "run %s not found", id);
        return NULL;
    }
    _cleanup_json_ json_t *run = run_from_row(st, err);
    if (!run)
        return NULL;
    if (with_outputs) {
        json_t *outputs = outputs_get_locked(s, id, err);
        if (!outputs || json_object_set_new(run, "outputs", outputs) < 0)
            return outputs ? oom(err) : NULL;
    }
    return TAKE_PTR(run);
}

json_t *cass_store_run_get(struct cass_store *s, const char *id, struct cass_error **err)
{
    if (!run_id_valid(id)) {
        cass_error_set(err, CASS_ERR_INVALID, "invalid run id \"%s\"", id ? id : "");
        return NULL;
    }
    LOCK_SCOPE(s);
    return run_get_locked(s, id, true, err);
}

/* --- runs: writes ------------------------------------------------------------------- */

static int outputs_put_locked(struct cass_store *s, const char *run_id, const json_t *outputs,
                              struct cass_error **err)
{
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_OUT_PUT, err);
    if (!st)
        return -1;
    size_t i;
    json_t *e;
    json_array_foreach(outputs, i, e)
    {
        int rc = SQLITE_OK;
        bind_text(st, 1, run_id, &rc);
        bind_text(st, 2, json_string_value(json_object_get(e, "path")), &rc);
        bind_int64(st, 3, json_integer_value(json_object_get(e, "size")), &rc);
        bind_text(st, 4, json_string_value(json_object_get(e, "sha256")), &rc);
        if (bound(s, rc, err) < 0 || step_done(s, st, "store run output", err) < 0)
            return -1;
        sqlite3_reset(st);
    }
    return 0;
}

static int run_insert_locked(struct cass_store *s, const struct run_row *r, const json_t *outputs,
                             struct cass_error **err)
{
    if (check_revision(s, r->revision, r->name, r->kind, err) < 0)
        return -1;
    if (r->reproduced_from && check_run(s, r->reproduced_from, NULL, err) < 0) {
        cass_error_prefix(err, "reproducedFrom");
        if (err && *err && (*err)->kind == CASS_ERR_NOT_FOUND)
            (*err)->kind = CASS_ERR_INVALID;
        return -1;
    }
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_RUN_INSERT, err);
    if (!st)
        return -1;
    if (run_row_bind(s, st, r, err) < 0)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return cass_error_set(err, CASS_ERR_CONFLICT, "run %s already exists", r->id);
    if (rc != SQLITE_DONE)
        return sql_error(s, rc, err, "store run");
    if (outputs && outputs_put_locked(s, r->id, outputs, err) < 0)
        return -1;
    return 0;
}

int cass_store_run_insert(struct cass_store *s, const json_t *run, json_t **ret_run,
                          struct cass_error **err)
{
    _cleanup_(run_row_done) struct run_row r = {0};
    if (run_row_parse(run, true, &r, err) < 0)
        return -1;
    json_t *outputs = json_object_get(run, "outputs");
    if (json_is_null(outputs))
        outputs = NULL;
    if (outputs && hash_list_valid(outputs, true, "outputs", err) < 0)
        return -1;

    LOCK_SCOPE(s);
    if (tx_begin(s, err) < 0)
        return -1;
    if (run_insert_locked(s, &r, outputs, err) < 0) {
        tx_rollback(s);
        return -1;
    }
    if (tx_commit(s, err) < 0)
        return -1;
    if (ret_run && !(*ret_run = run_get_locked(s, r.id, true, err)))
        return -1;
    return 0;
}

static const char *const immutable_keys[] = {"id",        "name",           "kind", "revision",
                                             "createdAt", "reproducedFrom", "owner"};

/* Applies changes to a copy of the current run, fills the times a status
 * change implies, and writes the result. Inside a transaction. */
static int run_update_locked(struct cass_store *s, const char *id, const json_t *changes,
                             struct cass_error **err)
{
    _cleanup_json_ json_t *cur = run_get_locked(s, id, false, err);
    if (!cur)
        return -1;
    _cleanup_json_ json_t *next = json_deep_copy(cur);
    if (!next)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)changes, key, v)
    {
        if (in_list(key, immutable_keys, sizeof(immutable_keys) / sizeof(immutable_keys[0]))) {
            json_t *old = json_object_get(cur, key);
            bool same = json_equal(old, v);
            /* times compare after normalization */
            char a[CASS_STORE_TIME_LEN + 1];
            if (!same && strcmp(key, "createdAt") == 0 && json_is_string(v) && json_is_string(old))
                same = time_normalize(json_string_value(v), a) &&
                       strcmp(a, json_string_value(old)) == 0;
            if (!same)
                return field_error(err, key, "cannot be changed");
        } else if (strcmp(key, "outputs") == 0) {
            return field_error(err, key, "is changed with run_outputs_put");
        } else if (strcmp(key, "image") == 0 && json_is_object(v)) {
            json_t *image = json_object_get(next, "image");
            if (json_object_update(image, v) < 0)
                return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        } else if (json_object_set(next, key, v) < 0) {
            return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        }
    }

    const char *old_status = json_string_value(json_object_get(cur, "status"));
    const char *new_status = json_string_value(json_object_get(next, "status"));
    if (new_status && strcmp(old_status, new_status) != 0 && cass_store_status_valid(new_status)) {
        if (cass_store_status_final(old_status))
            return cass_error_set(err, CASS_ERR_CONFLICT, "run %s is already %s; cannot become %s",
                                  id, old_status, new_status);
        bool ready = strcmp(new_status, "ready") == 0;
        bool started = ready || strcmp(new_status, "running") == 0;
        bool finished = cass_store_status_final(new_status);
        char now[CASS_STORE_TIME_LEN + 1];
        cass_store_time_now(now);
        const struct {
            bool when;
            const char *key;
        } implied[] = {{started, "startedAt"}, {ready, "readyAt"}, {finished, "finishedAt"}};
        for (size_t i = 0; i < sizeof(implied) / sizeof(implied[0]); i++)
            if (implied[i].when && json_is_null(json_object_get(next, implied[i].key)) &&
                json_object_set_new(next, implied[i].key, json_string(now)) < 0)
                return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    }

    _cleanup_(run_row_done) struct run_row r = {0};
    if (run_row_parse(next, false, &r, err) < 0)
        return -1;
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_RUN_UPDATE, err);
    if (!st)
        return -1;
    if (run_row_bind(s, st, &r, err) < 0)
        return -1;
    return step_done(s, st, "update run", err);
}

int cass_store_run_update(struct cass_store *s, const char *id, const json_t *changes,
                          json_t **ret_run, struct cass_error **err)
{
    if (!run_id_valid(id))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid run id \"%s\"", id ? id : "");
    if (!json_is_object(changes))
        return cass_error_set(err, CASS_ERR_INVALID, "run changes must be a JSON object");
    LOCK_SCOPE(s);
    if (tx_begin(s, err) < 0)
        return -1;
    if (run_update_locked(s, id, changes, err) < 0) {
        tx_rollback(s);
        return -1;
    }
    if (tx_commit(s, err) < 0)
        return -1;
    if (ret_run && !(*ret_run = run_get_locked(s, id, true, err)))
        return -1;
    return 0;
}

int cass_store_run_set_status(struct cass_store *s, const char *id, const char *status,
                              const char *reason, json_t **ret_run, struct cass_error **err)
{
    if (!cass_store_status_valid(status))
        return cass_error_set(err, CASS_ERR_INVALID, "unknown status \"%s\"", status ? status : "");
    _cleanup_json_ json_t *changes = json_pack("{s:s, s:o}", "status", status, "reason",
                                               reason ? json_string(reason) : json_null());
    if (!changes)
        return cass_error_set(err, CASS_ERR_INVALID, "reason must be UTF-8");
    return cass_store_run_update(s, id, changes, ret_run, err);
}

int cass_store_run_outputs_put(struct cass_store *s, const char *run_id, const json_t *outputs,
                               struct cass_error **err)
{
    if (!run_id_valid(run_id))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid run id \"%s\"", run_id ? run_id : "");
    if (hash_list_valid(outputs, true, "outputs", err) < 0)
        return -1;
    LOCK_SCOPE(s);
    if (tx_begin(s, err) < 0)
        return -1;
    if (check_run(s, run_id, NULL, err) < 0 || outputs_put_locked(s, run_id, outputs, err) < 0) {
        tx_rollback(s);
        return -1;
    }
    return tx_commit(s, err);
}

int cass_store_input_hashes_put(struct cass_store *s, const char *run_id, const json_t *hashes,
                                struct cass_error **err)
{
    if (!run_id_valid(run_id))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid run id \"%s\"", run_id ? run_id : "");
    if (hash_list_valid(hashes, false, "inputs", err) < 0)
        return -1;
    LOCK_SCOPE(s);
    if (tx_begin(s, err) < 0)
        return -1;
    if (check_run(s, run_id, NULL, err) < 0)
        goto fail;
    {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_IN_PUT, err);
        if (!st)
            goto fail;
        size_t i;
        json_t *e;
        json_array_foreach(hashes, i, e)
        {
            int rc = SQLITE_OK;
            bind_text(st, 1, run_id, &rc);
            bind_text(st, 2, json_string_value(json_object_get(e, "path")), &rc);
            bind_text(st, 3, json_string_value(json_object_get(e, "sha256")), &rc);
            if (bound(s, rc, err) < 0 || step_done(s, st, "store input hash", err) < 0)
                goto fail;
            sqlite3_reset(st);
        }
    }
    return tx_commit(s, err);
fail:
    tx_rollback(s);
    return -1;
}

json_t *cass_store_input_hashes_get(struct cass_store *s, const char *run_id,
                                    struct cass_error **err)
{
    if (!run_id_valid(run_id)) {
        cass_error_set(err, CASS_ERR_INVALID, "invalid run id \"%s\"", run_id ? run_id : "");
        return NULL;
    }
    LOCK_SCOPE(s);
    if (check_run(s, run_id, NULL, err) < 0)
        return NULL;
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_IN_GET, err);
    if (!st)
        return NULL;
    int rc = SQLITE_OK;
    bind_text(st, 1, run_id, &rc);
    if (bound(s, rc, err) < 0)
        return NULL;
    _cleanup_json_ json_t *list = json_array();
    if (!list)
        return oom(err);
    int r;
    while ((r = step_row(s, st, "read input hashes", err)) > 0) {
        if (json_array_append_new(list, json_pack("{s:o, s:o}", "path", col_string(st, 0), "sha256",
                                                  col_string(st, 1))) < 0)
            return oom(err);
    }
    return r < 0 ? NULL : TAKE_PTR(list);
}

/* --- runs: queries ------------------------------------------------------------------- */

/* The cursor is the hex of "<createdAt> <id>" of the last run of a page:
 * opaque to clients, URL-safe, and checked strictly when it comes back. */
static char *cursor_encode(const char *created_at, const char *id)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(created_at) + 1 + strlen(id);
    char *plain = NULL;
    if (asprintf(&plain, "%s %s", created_at, id) < 0)
        return NULL;
    char *out = malloc(2 * n + 1);
    if (out) {
        for (size_t i = 0; i < n; i++) {
            out[2 * i] = hex[(unsigned char)plain[i] >> 4];
            out[2 * i + 1] = hex[(unsigned char)plain[i] & 15];
        }
        out[2 * n] = '\0';
    }
    free(plain);
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int cursor_decode(const char *cursor, char created_at[CASS_STORE_TIME_LEN + 1],
                         char id[CASS_STORE_RUN_ID_LEN + 1], struct cass_error **err)
{
    char plain[CASS_STORE_TIME_LEN + 1 + CASS_STORE_RUN_ID_LEN + 1];
    size_t n = strlen(cursor);
    if (n != 2 * (sizeof(plain) - 1))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid cursor");
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(cursor[2 * i]), lo = hexval(cursor[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return cass_error_set(err, CASS_ERR_INVALID, "invalid cursor");
        plain[i] = (char)(hi << 4 | lo);
    }
    plain[n / 2] = '\0';
    if (plain[CASS_STORE_TIME_LEN] != ' ')
        return cass_error_set(err, CASS_ERR_INVALID, "invalid cursor");
    plain[CASS_STORE_TIME_LEN] = '\0';
    char norm[CASS_STORE_TIME_LEN + 1];
    if (!time_normalize(plain, norm) || strcmp(norm, plain) != 0 ||
        !run_id_valid(plain + CASS_STORE_TIME_LEN + 1))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid cursor");
    memcpy(created_at, plain, CASS_STORE_TIME_LEN + 1);
    memcpy(id, plain + CASS_STORE_TIME_LEN + 1, CASS_STORE_RUN_ID_LEN + 1);
    return 0;
}

static int filter_check(const struct cass_store_run_filter *f, struct cass_error **err)
{
    if (!f)
        return 0;
    if (f->name && !name_valid(f->name))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid name filter \"%s\"", f->name);
    if (f->kind && !kind_valid(f->kind))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid kind filter \"%s\"", f->kind);
    if (f->status && !cass_store_status_valid(f->status))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid status filter \"%s\"", f->status);
    if (f->owner && !cass_store_user_valid(f->owner))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid owner filter \"%s\"", f->owner);
    return 0;
}

/* The WHERE clause of a filter combination; parameters ?1 name, ?2 kind,
 * ?3 status, ?4 and ?5 the cursor, ?7 the owner. */
static void filter_where(unsigned flags, char *buf, size_t len)
{
    snprintf(buf, len, "WHERE 1%s%s%s%s%s", flags & F_NAME ? " AND name = ?1" : "",
             flags & F_KIND ? " AND kind = ?2" : "", flags & F_STATUS ? " AND status = ?3" : "",
             flags & F_CURSOR ? " AND (created_at, id) < (?4, ?5)" : "",
             flags & F_OWNER ? " AND owner = ?7" : "");
}

static unsigned filter_flags(const struct cass_store_run_filter *f)
{
    if (!f)
        return 0;
    return (f->name ? F_NAME : 0) | (f->kind ? F_KIND : 0) | (f->status ? F_STATUS : 0) |
           (f->cursor ? F_CURSOR : 0) | (f->owner ? F_OWNER : 0);
}

static void filter_bind(sqlite3_stmt *st, const struct cass_store_run_filter *f, int *rc)
{
    if (!f)
        return;
    if (f->name)
        bind_text(st, 1, f->name, rc);
    if (f->kind)
        bind_text(st, 2, f->kind, rc);
    if (f->status)
        bind_text(st, 3, f->status, rc);
    if (f->owner)
        bind_text(st, 7, f->owner, rc);
}

json_t *cass_store_run_list(struct cass_store *s, const struct cass_store_run_filter *f,
                            char **ret_cursor, struct cass_error **err)
{
    if (filter_check(f, err) < 0)
        return NULL;
    char cur_time[CASS_STORE_TIME_LEN + 1], cur_id[CASS_STORE_RUN_ID_LEN + 1];
    if (f && f->cursor && cursor_decode(f->cursor, cur_time, cur_id, err) < 0)
        return NULL;
    unsigned limit = f && f->limit ? f->limit : CASS_STORE_LIST_DEFAULT;
    if (limit > CASS_STORE_LIST_MAX)
        limit = CASS_STORE_LIST_MAX;

    unsigned flags = filter_flags(f);
    LOCK_SCOPE(s);
    if (!s->list_stmts[flags]) {
        char where[160], sql[512];
        filter_where(flags, where, sizeof(where));
        snprintf(sql, sizeof(sql),
                 "SELECT " RUN_COLS " FROM runs %s ORDER BY created_at DESC, id DESC LIMIT ?6",
                 where);
        if (!prepare_cached(s, &s->list_stmts[flags], sql, err))
            return NULL;
    }
    _cleanup_stmt_ sqlite3_stmt *st = s->list_stmts[flags];
    int rc = SQLITE_OK;
    filter_bind(st, f, &rc);
    if (flags & F_CURSOR) {
        bind_text(st, 4, cur_time, &rc);
        bind_text(st, 5, cur_id, &rc);
    }
    /* one more than asked tells whether there is a next page */
    bind_int64(st, 6, (int64_t)limit + 1, &rc);
    if (bound(s, rc, err) < 0)
        return NULL;
    _cleanup_json_ json_t *list = json_array();
    if (!list)
        return oom(err);
    int r;
    bool more = false;
    while ((r = step_row(s, st, "list runs", err)) > 0) {
        if (json_array_size(list) == limit) {
            more = true;
            break;
        }
        json_t *run = run_from_row(st, err);
        if (!run || json_array_append_new(list, run) < 0)
            return run ? oom(err) : NULL;
    }
    if (r < 0)
        return NULL;
    if (ret_cursor) {
        *ret_cursor = NULL;
        if (more) {
            json_t *last = json_array_get(list, json_array_size(list) - 1);
            *ret_cursor = cursor_encode(json_string_value(json_object_get(last, "createdAt")),
                                        json_string_value(json_object_get(last, "id")));
            if (!*ret_cursor)
                return oom(err);
        }
    }
    return TAKE_PTR(list);
}

int64_t cass_store_run_count(struct cass_store *s, const struct cass_store_run_filter *f,
                             struct cass_error **err)
{
    if (filter_check(f, err) < 0)
        return -1;
    unsigned flags = filter_flags(f) & ~(unsigned)F_CURSOR;
    LOCK_SCOPE(s);
    if (!s->count_stmts[flags]) {
        char where[160], sql[256];
        filter_where(flags, where, sizeof(where));
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM runs %s", where);
        if (!prepare_cached(s, &s->count_stmts[flags], sql, err))
            return -1;
    }
    _cleanup_stmt_ sqlite3_stmt *st = s->count_stmts[flags];
    int rc = SQLITE_OK;
    filter_bind(st, f, &rc);
    if (bound(s, rc, err) < 0)
        return -1;
    if (step_row(s, st, "count runs", err) <= 0)
        return -1;
    return sqlite3_column_int64(st, 0);
}

json_t *cass_store_runs_active(struct cass_store *s, struct cass_error **err)
{
    LOCK_SCOPE(s);
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_RUN_ACTIVE, err);
    if (!st)
        return NULL;
    _cleanup_json_ json_t *list = json_array();
    if (!list)
        return oom(err);
    int r;
    while ((r = step_row(s, st, "list active runs", err)) > 0) {
        json_t *run = run_from_row(st, err);
        if (!run || json_array_append_new(list, run) < 0)
            return run ? oom(err) : NULL;
    }
    return r < 0 ? NULL : TAKE_PTR(list);
}

json_t *cass_store_run_counts(struct cass_store *s, struct cass_error **err)
{
    LOCK_SCOPE(s);
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_RUN_COUNTS, err);
    if (!st)
        return NULL;
    _cleanup_json_ json_t *list = json_array();
    if (!list)
        return oom(err);
    int r;
    while ((r = step_row(s, st, "count runs", err)) > 0) {
        if (json_array_append_new(list, json_pack("{s:o, s:o, s:I}", "kind", col_string(st, 0),
                                                  "status", col_string(st, 1), "count",
                                                  (json_int_t)sqlite3_column_int64(st, 2))) < 0)
            return oom(err);
    }
    return r < 0 ? NULL : TAKE_PTR(list);
}

/* --- API tokens ---------------------------------------------------------------------- */

static bool token_name_valid(const char *name)
{
    if (!name || !*name || strlen(name) > MAX_TOKEN_NAME)
        return false;
    for (const char *c = name; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return false;
    return true;
}

static bool scope_valid(const char *scope)
{
    return scope && (!strcmp(scope, "read") || !strcmp(scope, "write") || !strcmp(scope, "admin"));
}

int cass_store_token_create(struct cass_store *s, const char *name, const char *user,
                            const char *scope, const char *expires_at, char **ret_id,
                            char **ret_secret, struct cass_error **err)
{
    if (!token_name_valid(name))
        return cass_error_set(err, CASS_ERR_INVALID,
                              "a token name must be 1 to %d printable characters", MAX_TOKEN_NAME);
    if (!cass_store_user_valid(user))
        return cass_error_set(err, CASS_ERR_INVALID,
                              "a user name is 1 to 63 of a-z, 0-9, '.', '_' and '-', starting "
                              "with a letter or digit");
    if (!scope_valid(scope))
        return cass_error_set(err, CASS_ERR_INVALID, "the scope must be read, write or admin");
    char expires[CASS_STORE_TIME_LEN + 1];
    if (expires_at && !time_normalize(expires_at, expires))
        return cass_error_set(err, CASS_ERR_INVALID, "expiresAt must be an RFC 3339 time");
    char id[2 + 26 + 1] = "t-";
    if (ulid_new(id + 2, err) < 0)
        return -1;
    _cleanup_free_ char *secret = cass_hash_random_token(32, err);
    if (!secret)
        return -1;
    char hash[CASS_SHA256_HEX_LEN + 1];
    cass_hash_sha256_hex(secret, strlen(secret), hash);
    _cleanup_free_ char *id_copy = ret_id ? strdup(id) : NULL;
    if (ret_id && !id_copy)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");

    LOCK_SCOPE(s);
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_TOK_INSERT, err);
    if (!st)
        return -1;
    char now[CASS_STORE_TIME_LEN + 1];
    cass_store_time_now(now);
    int rc = SQLITE_OK;
    bind_text(st, 1, id, &rc);
    bind_text(st, 2, name, &rc);
    bind_text(st, 3, hash, &rc);
    bind_text(st, 4, now, &rc);
    bind_text(st, 5, user, &rc);
    bind_text(st, 6, scope, &rc);
    bind_text(st, 7, expires_at ? expires : NULL, &rc);
    if (bound(s, rc, err) < 0 || step_done(s, st, "store token", err) < 0)
        return -1;
    if (ret_id)
        *ret_id = TAKE_PTR(id_copy);
    *ret_secret = TAKE_PTR(secret);
    return 0;
}

/* Compares all n bytes whatever they hold. */
static bool equal_const_time(const char *a, const char *b, size_t n)
{
    volatile unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

int cass_store_token_lookup(struct cass_store *s, const char *secret, struct cass_store_token *ret,
                            struct cass_error **err)
{
    memset(ret, 0, sizeof(*ret));
    if (!secret || !*secret || strlen(secret) > MAX_SECRET_LEN)
        return 0;
    char hash[CASS_SHA256_HEX_LEN + 1];
    cass_hash_sha256_hex(secret, strlen(secret), hash);
    char now[CASS_STORE_TIME_LEN + 1];
    cass_store_time_now(now);
    bool found = false;
    LOCK_SCOPE(s);
    {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_TOK_LIVE, err);
        if (!st)
            return -1;
        int r;
        /* every token is compared, so the time taken says nothing of
         * which one (or how much of one) matched */
        while ((r = step_row(s, st, "read tokens", err)) > 0) {
            const char *h = col_text(st, 1);
            const char *id = col_text(st, 0);
            const char *user = col_text(st, 2);
            const char *scope = col_text(st, 3);
            const char *expires = col_text(st, 4);
            bool match = h && id && user && scope && strlen(h) == CASS_SHA256_HEX_LEN &&
                         equal_const_time(hash, h, CASS_SHA256_HEX_LEN);
            if (match && strlen(id) < sizeof(ret->id) && strlen(user) < sizeof(ret->user) &&
                strlen(scope) < sizeof(ret->scope)) {
                found = true;
                snprintf(ret->id, sizeof(ret->id), "%s", id);
                snprintf(ret->user, sizeof(ret->user), "%s", user);
                snprintf(ret->scope, sizeof(ret->scope), "%s", scope);
                ret->revoked = sqlite3_column_type(st, 5) != SQLITE_NULL;
                ret->expired = expires && strcmp(expires, now) <= 0;
            }
        }
        if (r < 0)
            return -1;
    }
    if (!found)
        return 0;
    if (ret->revoked || ret->expired)
        return 1;
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_TOK_TOUCH, err);
    if (!st)
        return -1;
    int rc = SQLITE_OK;
    bind_text(st, 1, ret->id, &rc);
    bind_text(st, 2, now, &rc);
    if (bound(s, rc, err) < 0 || step_done(s, st, "record token use", err) < 0)
        return -1;
    return 1;
}

json_t *cass_store_token_list(struct cass_store *s, const char *user, struct cass_error **err)
{
    LOCK_SCOPE(s);
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_TOK_LIST, err);
    if (!st)
        return NULL;
    int rc = SQLITE_OK;
    bind_text(st, 1, user, &rc);
    if (bound(s, rc, err) < 0)
        return NULL;
    _cleanup_json_ json_t *list = json_array();
    if (!list)
        return oom(err);
    int r;
    while ((r = step_row(s, st, "list tokens", err)) > 0) {
        if (json_array_append_new(
                list, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", col_string(st, 0),
                                "name", col_string(st, 1), "user", col_string(st, 5), "scope",
                                col_string(st, 6), "createdAt", col_string(st, 2), "expiresAt",
                                col_string(st, 7), "lastUsedAt", col_string(st, 3), "revokedAt",
                                col_string(st, 4))) < 0)
            return oom(err);
    }
    return r < 0 ? NULL : TAKE_PTR(list);
}

int cass_store_token_revoke(struct cass_store *s, const char *id, const char *user,
                            struct cass_error **err)
{
    if (!ulid_id_valid(id, "t-"))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid token id \"%s\"", id ? id : "");
    LOCK_SCOPE(s);
    {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_TOK_REVOKE, err);
        if (!st)
            return -1;
        char now[CASS_STORE_TIME_LEN + 1];
        cass_store_time_now(now);
        int rc = SQLITE_OK;
        bind_text(st, 1, id, &rc);
        bind_text(st, 2, now, &rc);
        bind_text(st, 3, user, &rc);
        if (bound(s, rc, err) < 0 || step_done(s, st, "revoke token", err) < 0)
            return -1;
        if (sqlite3_changes(s->db) > 0)
            return 0;
    }
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_TOK_EXISTS, err);
    if (!st)
        return -1;
    int rc = SQLITE_OK;
    bind_text(st, 1, id, &rc);
    bind_text(st, 2, user, &rc);
    if (bound(s, rc, err) < 0)
        return -1;
    int r = step_row(s, st, "read token", err);
    if (r < 0)
        return -1;
    return r ? 0 : cass_error_set(err, CASS_ERR_NOT_FOUND, "token %s not found", id);
}

int cass_store_spec_owner_set(struct cass_store *s, const char *name, const char *owner,
                              struct cass_error **err)
{
    if (!cass_store_user_valid(owner))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid owner \"%s\"", owner ? owner : "");
    LOCK_SCOPE(s);
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_SPEC_OWNER, err);
    if (!st)
        return -1;
    int rc = SQLITE_OK;
    bind_text(st, 1, name, &rc);
    bind_text(st, 2, owner, &rc);
    if (bound(s, rc, err) < 0 || step_done(s, st, "set the spec's owner", err) < 0)
        return -1;
    return sqlite3_changes(s->db) > 0
               ? 0
               : cass_error_set(err, CASS_ERR_NOT_FOUND, "spec %s not found", name);
}

/* --- audit log ------------------------------------------------------------------------ */

int64_t cass_store_audit_add(struct cass_store *s, const struct cass_audit_entry *e,
                             struct cass_error **err)
{
    if (!e->action || !*e->action)
        return cass_error_set(err, CASS_ERR_INVALID, "an audit entry needs an action");
    _cleanup_free_ char *text = NULL;
    if (e->detail && !(text = dump(e->detail, err)))
        return -1;
    LOCK_SCOPE(s);
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_AUDIT_INSERT, err);
    if (!st)
        return -1;
    char now[CASS_STORE_TIME_LEN + 1];
    cass_store_time_now(now);
    int rc = SQLITE_OK;
    bind_text(st, 1, now, &rc);
    bind_text(st, 2, e->actor, &rc);
    bind_text(st, 3, e->action, &rc);
    bind_text(st, 4, e->target, &rc);
    bind_int64(st, 5, e->status, &rc);
    bind_text(st, 6, text, &rc);
    bind_text(st, 7, e->user, &rc);
    bind_text(st, 8, e->token_id && *e->token_id ? e->token_id : NULL, &rc);
    bind_text(st, 9, e->owner, &rc);
    if (bound(s, rc, err) < 0 || step_done(s, st, "append audit entry", err) < 0)
        return -1;
    return sqlite3_last_insert_rowid(s->db);
}

int64_t cass_store_audit_append(struct cass_store *s, const char *actor, const char *action,
                                const char *target, int status, const json_t *detail,
                                struct cass_error **err)
{
    struct cass_audit_entry e = {
        .actor = actor, .action = action, .target = target, .status = status, .detail = detail};
    return cass_store_audit_add(s, &e, err);
}

json_t *cass_store_audit_since(struct cass_store *s, int64_t after_id, unsigned limit,
                               const struct cass_audit_filter *f, struct cass_error **err)
{
    if (limit == 0)
        limit = AUDIT_DEFAULT_LIMIT;
    if (limit > CASS_STORE_LIST_MAX)
        limit = CASS_STORE_LIST_MAX;
    char since[CASS_STORE_TIME_LEN + 1];
    if (f && f->since && !time_normalize(f->since, since)) {
        cass_error_set(err, CASS_ERR_INVALID, "since must be an RFC 3339 time");
        return NULL;
    }
    LOCK_SCOPE(s);
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_AUDIT_SINCE, err);
    if (!st)
        return NULL;
    int rc = SQLITE_OK;
    bind_int64(st, 1, after_id, &rc);
    bind_int64(st, 2, limit, &rc);
    bind_text(st, 3, f ? f->user : NULL, &rc);
    bind_text(st, 4, f && f->since ? since : NULL, &rc);
    bind_text(st, 5, f ? f->owner : NULL, &rc);
    if (bound(s, rc, err) < 0)
        return NULL;
    _cleanup_json_ json_t *list = json_array();
    if (!list)
        return oom(err);
    int r;
    while ((r = step_row(s, st, "read audit log", err)) > 0) {
        json_t *detail = sqlite3_column_type(st, 6) == SQLITE_NULL
                             ? json_null()
                             : json_loads(col_text(st, 6), JSON_DECODE_ANY, NULL);
        if (!detail)
            detail = json_null();
        if (json_array_append_new(
                list, json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:o}", "id",
                                (json_int_t)sqlite3_column_int64(st, 0), "time", col_string(st, 1),
                                "actor", col_string(st, 2), "user", col_string(st, 7), "tokenId",
                                col_string(st, 8), "owner", col_string(st, 9), "action",
                                col_string(st, 3), "target", col_string(st, 4), "status",
                                sqlite3_column_int(st, 5), "detail", detail)) < 0)
            return oom(err);
    }
    return r < 0 ? NULL : TAKE_PTR(list);
}

int64_t cass_store_audit_last_id(struct cass_store *s, struct cass_error **err)
{
    LOCK_SCOPE(s);
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_AUDIT_LAST, err);
    if (!st)
        return -1;
    if (step_row(s, st, "read audit log", err) <= 0)
        return -1;
    return sqlite3_column_int64(st, 0);
}

int64_t cass_store_size(struct cass_store *s, struct cass_error **err)
{
    LOCK_SCOPE(s);
    _cleanup_stmt_ sqlite3_stmt *st = stmt(s, ST_SIZE, err);
    if (!st)
        return -1;
    if (step_row(s, st, "read the database size", err) <= 0)
        return -1;
    return sqlite3_column_int64(st, 0);
}

/* --- room on the disk ----------------------------------------------------------- */

bool cass_store_full(struct cass_store *s)
{
    return atomic_load(&s->full);
}

void cass_store_mark_full(struct cass_store *s)
{
    atomic_store(&s->full, true);
}

/* Writes CASS_STORE_PROBE_BYTES to a file in dir and syncs it: what a
 * kept log or an outputs directory needs to succeed. */
static int probe_file(const char *dir, struct cass_error **err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/.space-probe", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return cass_error_errno(err, errno, "probe %s", path);
    static const char zeros[4096];
    int rc = 0;
    for (size_t done = 0; done < CASS_STORE_PROBE_BYTES && rc == 0; done += sizeof(zeros)) {
        if (write(fd, zeros, sizeof(zeros)) != (ssize_t)sizeof(zeros))
            rc = cass_error_errno(err, errno ? errno : ENOSPC, "probe %s", path);
    }
    if (rc == 0 && fsync(fd) < 0)
        rc = cass_error_errno(err, errno, "probe %s", path);
    close(fd);
    unlink(path);
    return rc;
}

int cass_store_probe(struct cass_store *s, const char *dir, struct cass_error **err)
{
    struct statvfs vfs;
    bool low = statvfs(dir, &vfs) == 0 &&
               (uint64_t)vfs.f_bavail * vfs.f_frsize < CASS_STORE_MIN_FREE_BYTES;
    if (!atomic_load(&s->full) && !low)
        return 0;
    errno = 0;
    if (probe_file(dir, err) < 0) {
        atomic_store(&s->full, true);
        if (err && *err)
            (*err)->kind = CASS_ERR_NOSPACE;
        return -1;
    }
    if (!s->memory) {
        /* A real write of the database's first page, the same value again. */
        LOCK_SCOPE(s);
        if (tx_begin(s, err) < 0 ||
            exec_sql(s, "PRAGMA application_id = 1128354643", "probe", err) < 0 ||
            tx_commit(s, err) < 0) {
            tx_rollback(s);
            atomic_store(&s->full, true);
            if (err && *err)
                (*err)->kind = CASS_ERR_NOSPACE;
            return -1;
        }
    }
    atomic_store(&s->full, false);
    return 0;
}
