/* The daemon's record of what ran: revisions, specs, runs, their outputs and
 * input hashes, API tokens and the audit log, in SQLite (WAL mode).
 *
 * Threading: one connection per store, serialized by a mutex that every
 * public function takes for its whole duration, so a store may be shared by
 * all threads of the daemon. Several stores (or processes) may open the same
 * file: write transactions are BEGIN IMMEDIATE and the busy timeout is 5 s.
 *
 * Conventions: fallible functions return -1 (or NULL) and set *err, which is
 * CASS_ERR_INVALID for bad arguments, CASS_ERR_NOT_FOUND for a missing row,
 * CASS_ERR_CONFLICT for a duplicate or an impossible change, CASS_ERR_NOSPACE
 * when the disk had no room for a write, CASS_ERR_IO for
 * any other database failure (with SQLite's message). Every json_t * result
 * is a new reference the caller owns; json_t * arguments are borrowed.
 * Times are RFC 3339 UTC text with milliseconds ("2024-05-01T12:00:00.123Z");
 * times passed in may carry any fraction or offset and are normalized. */
#ifndef CASS_STORE_H
#define CASS_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define CASS_STORE_FILE "cassiny.db" /* inside the daemon's state directory */
#define CASS_STORE_RUN_ID_LEN 28     /* "r-" and a 26-character ULID */
#define CASS_STORE_TIME_LEN 24       /* "2024-05-01T12:00:00.123Z" */
#define CASS_STORE_LIST_DEFAULT 50
#define CASS_STORE_LIST_MAX 1000

struct cass_store;

/* Opens (creating if needed, mode 0600) the database at path, or an
 * in-memory one for ":memory:", and migrates it to the current schema. A
 * database written by a newer cassinyd is refused with CASS_ERR_CONFLICT. */
struct cass_store *cass_store_open(const char *path, struct cass_error **err);
void cass_store_close(struct cass_store *s);

/* Room on the disk. A write that found none (SQLITE_FULL, an I/O error on
 * write; also marked by callers that met ENOSPC on their own files) sets
 * the store's full mark, and its error is CASS_ERR_NOSPACE. */
#define CASS_STORE_PROBE_BYTES 65536      /* what a probe writes */
#define CASS_STORE_MIN_FREE_BYTES 1048576 /* below this free, probe even when not marked */
/* Bytes of the database file (pages in use and free), -1 with *err. */
int64_t cass_store_size(struct cass_store *s, struct cass_error **err);

bool cass_store_full(struct cass_store *s);
void cass_store_mark_full(struct cass_store *s);
/* When the store is marked full or dir (the state directory) has less than
 * CASS_STORE_MIN_FREE_BYTES free: writes CASS_STORE_PROBE_BYTES into dir and
 * a page of the database. 0 (the mark cleared) when both fit, else -1 with
 * *err of kind NOSPACE (or IO) and the mark set. */
int cass_store_probe(struct cass_store *s, const char *dir, struct cass_error **err);

/* Opens (creating it mode 0600, never through a symbolic link) the SQLite
 * database at path the way the daemon opens each of its databases: without
 * SQLite's mutex (its owner serializes every use), extended result codes, a
 * 5 s busy timeout, defensive, no trusted schema, WAL (not for ":memory:")
 * and synchronous=NORMAL. A file that is not a database or cannot be
 * written is CASS_ERR_IO with SQLite's word for it. Caller owns (close with
 * sqlite3_close_v2). */
struct sqlite3;
struct sqlite3 *cass_store_sqlite_open(const char *path, struct cass_error **err);

/* Schema version of the open database, and the one this code writes. */
int cass_store_schema_version(struct cass_store *s, struct cass_error **err);
int cass_store_schema_latest(void);
/* SQL of migration `version` (1-based), NULL when out of range; for tests
 * that build a database as an older cassinyd left it. */
const char *cass_store_migration_sql(int version);

/* A new run id, "r-" and a ULID: 48-bit milliseconds and 80 random bits,
 * monotonic within a millisecond, so ids sort by creation time. */
int cass_store_run_id_new(char out[CASS_STORE_RUN_ID_LEN + 1], struct cass_error **err);
void cass_store_time_now(char out[CASS_STORE_TIME_LEN + 1]);
/* 1 for a known status (pending ... stopped), else 0; final statuses are
 * succeeded, failed and stopped. */
int cass_store_status_valid(const char *status);
int cass_store_status_final(const char *status);

/* --- a caller's transaction ---------------------------------------------- */

/* Opens one write transaction (BEGIN IMMEDIATE) that every store call of
 * this thread joins until cass_store_tx_commit or cass_store_tx_rollback;
 * the store's mutex is held meanwhile, so other threads wait. A crash
 * before the commit leaves none of it. Not nestable (INTERNAL). */
int cass_store_tx_begin(struct cass_store *s, struct cass_error **err);
/* Commits; on failure everything since the begin is rolled back. Ends the
 * transaction either way. */
int cass_store_tx_commit(struct cass_store *s, struct cass_error **err);
void cass_store_tx_rollback(struct cass_store *s);

/* --- revisions: the canonical JSON of a spec and its "sha256:<hex>" ------ */

/* Stores a revision unless it exists; checks that revision is the sha256 of
 * canonical. Returns 1 when it was new, 0 when it existed, -1 on error. */
int cass_store_revision_put(struct cass_store *s, const char *revision, const char *name,
                            const char *kind, const char *canonical, struct cass_error **err);
/* {"revision", "name", "kind", "createdAt", "spec": <parsed canonical>}. */
json_t *cass_store_revision_get(struct cass_store *s, const char *revision,
                                struct cass_error **err);
/* The revisions of one spec name, newest first, shaped as revision_get. */
json_t *cass_store_revision_list(struct cass_store *s, const char *name, struct cass_error **err);

/* --- specs: the current revision and run of each applied name ------------ */

/* Creates or updates spec name (undeleting it) with its current revision,
 * which must be stored under the same name and kind, and current run
 * (run_id may be NULL for none). A live spec cannot change kind (CONFLICT). */
int cass_store_spec_put(struct cass_store *s, const char *name, const char *kind,
                        const char *revision, const char *run_id, struct cass_error **err);
/* {"name", "kind", "revision", "runId", "status", "url", "createdAt",
 *  "updatedAt", "deletedAt"}; status and url are the current run's (or
 * null). A deleted spec is NOT_FOUND. */
json_t *cass_store_spec_get(struct cass_store *s, const char *name, struct cass_error **err);
/* Array of spec_get objects by name; deleted ones only when asked. */
json_t *cass_store_spec_list(struct cass_store *s, int include_deleted, struct cass_error **err);
/* Marks the spec deleted; its revisions and runs stay. */
int cass_store_spec_delete(struct cass_store *s, const char *name, struct cass_error **err);

/* --- runs ----------------------------------------------------------------- */

/* A run is exchanged as the run JSON of DESIGN.md:
 *   {"id", "name", "kind", "status", "revision",
 *    "image": {"ref", "id", "repoDigests": []}, "containers": [], "url",
 *    "ports": [] or {}, "reason", "error", "exitCode", "createdAt",
 *    "startedAt", "readyAt", "finishedAt", "artifacts": [{"path", "sha256"}],
 *    "outputs": [{"path", "size", "sha256"}], "reproducedFrom"}
 * Any other top-level key is kept as is (the `extra` column). */

/* Inserts a run. name, kind and revision (already stored) are required; id
 * (generated), status ("pending"), createdAt (now) and the rest default.
 * "outputs", when given, are stored in the same transaction. On success
 * *ret_run (when not NULL) receives the stored run. Duplicate id: CONFLICT. */
int cass_store_run_insert(struct cass_store *s, const json_t *run, json_t **ret_run,
                          struct cass_error **err);
/* The run with its outputs (sorted by path). */
json_t *cass_store_run_get(struct cass_store *s, const char *id, struct cass_error **err);
/* Changes the fields named in changes (status, reason, error, url, exitCode,
 * containers, ports, image (merged key by key), startedAt, readyAt,
 * finishedAt, artifacts, or extra keys). id, name, kind, revision,
 * createdAt and reproducedFrom cannot change (INVALID unless equal);
 * outputs go through run_outputs_put. A status change fills the time it
 * implies when unset (ready: startedAt and readyAt; running: startedAt;
 * succeeded, failed, stopped: finishedAt). A final status is final: moving
 * out of it is a CONFLICT, so the first of racing terminations wins.
 * *ret_run (when not NULL) receives the updated run. */
int cass_store_run_update(struct cass_store *s, const char *id, const json_t *changes,
                          json_t **ret_run, struct cass_error **err);
/* run_update with {"status": status, "reason": reason (NULL: null)}. */
int cass_store_run_set_status(struct cass_store *s, const char *id, const char *status,
                              const char *reason, json_t **ret_run, struct cass_error **err);

struct cass_store_run_filter {
    const char *name;   /* NULL: any */
    const char *kind;   /* NULL: any */
    const char *status; /* NULL: any */
    unsigned limit;     /* 0: CASS_STORE_LIST_DEFAULT; capped at CASS_STORE_LIST_MAX */
    const char *cursor; /* NULL: first page, else a cursor from the previous page */
    const char *owner;  /* NULL: anyone's */
};

/* Runs matching f (NULL: all), newest first, without "outputs" (run_get has
 * them). *ret_cursor (when not NULL) receives the opaque cursor of the next
 * page (caller frees), or NULL on the last page. A malformed cursor is
 * INVALID. */
json_t *cass_store_run_list(struct cass_store *s, const struct cass_store_run_filter *f,
                            char **ret_cursor, struct cass_error **err);
/* Runs in no final status, oldest first, without outputs: what reconcile
 * must look at after a restart. */
json_t *cass_store_runs_active(struct cass_store *s, struct cass_error **err);
/* Number of runs matching f's name, kind and status (f NULL: all). */
int64_t cass_store_run_count(struct cass_store *s, const struct cass_store_run_filter *f,
                             struct cass_error **err);
/* For metrics: [{"kind", "status", "count"}] for each pair with runs. */
json_t *cass_store_run_counts(struct cass_store *s, struct cass_error **err);

/* Stores [{"path", "size", "sha256"}] for a run in one transaction, replacing
 * entries of the same path. Paths are relative to the outputs directory. */
int cass_store_run_outputs_put(struct cass_store *s, const char *run_id, const json_t *outputs,
                               struct cass_error **err);
/* Stores [{"path", "sha256"}] (mounted inputs, model artifacts) for a run in
 * one transaction; input_hashes_get returns them sorted by path. */
int cass_store_input_hashes_put(struct cass_store *s, const char *run_id, const json_t *hashes,
                                struct cass_error **err);
json_t *cass_store_input_hashes_get(struct cass_store *s, const char *run_id,
                                    struct cass_error **err);

/* --- API tokens: only the sha256 of a secret is ever stored -------------- */

/* A user name: 1 to 63 of [a-z0-9._-], starting with a letter or digit. */
bool cass_store_user_valid(const char *user);

/* Creates a token of user with scope ("read", "write", "admin"), expiring
 * at expires_at (an RFC 3339 time; NULL: never); *ret_id ("t-<ULID>") and
 * *ret_secret (shown once) are the caller's to free (ret_id may be NULL). */
int cass_store_token_create(struct cass_store *s, const char *name, const char *user,
                            const char *scope, const char *expires_at, char **ret_id,
                            char **ret_secret, struct cass_error **err);

struct cass_store_token {
    char id[32];
    char user[64];
    char scope[8];
    bool revoked, expired;
};
/* 1 when secret is some token's (live or not: *ret says which; its use is
 * recorded when live), 0 when it is no token's, -1 on error. Every hash is
 * compared, in constant time. */
int cass_store_token_lookup(struct cass_store *s, const char *secret, struct cass_store_token *ret,
                            struct cass_error **err);
/* [{"id", "name", "user", "scope", "createdAt", "expiresAt", "lastUsedAt",
 * "revokedAt"}] of user (NULL: everyone's), oldest first. */
json_t *cass_store_token_list(struct cass_store *s, const char *user, struct cass_error **err);
/* Revokes a token of user (NULL: anyone's); revoking a revoked token changes
 * nothing; NOT_FOUND when user has no such token. */
int cass_store_token_revoke(struct cass_store *s, const char *id, const char *user,
                            struct cass_error **err);

/* Sets the owner of the live spec name (a new spec takes its applier's). */
int cass_store_spec_owner_set(struct cass_store *s, const char *name, const char *owner,
                              struct cass_error **err);

/* --- audit log: its ids double as server-sent event ids ------------------ */

struct cass_audit_entry {
    const char *actor;    /* from where: "uid:N", "ADDR:PORT", "cassinyd" */
    const char *user;     /* who, when known */
    const char *token_id; /* with which token, when one */
    const char *owner;    /* whose spec or run it is about (event streams filter on it) */
    const char *action, *target;
    int status; /* 0 when there is none */
    const json_t *detail;
};
/* Appends an entry (all but action may be NULL) and returns its id (> 0),
 * or -1. */
int64_t cass_store_audit_add(struct cass_store *s, const struct cass_audit_entry *e,
                             struct cass_error **err);
/* The same with only actor, action, target, status and detail. */
int64_t cass_store_audit_append(struct cass_store *s, const char *actor, const char *action,
                                const char *target, int status, const json_t *detail,
                                struct cass_error **err);
struct cass_audit_filter {
    const char *user;  /* NULL: anyone's acts */
    const char *since; /* RFC 3339 time, NULL: all */
    const char *owner; /* NULL: about anyone's things */
};
/* Entries with id > after_id matching f (NULL: all), oldest first, at most
 * limit (0: 100; capped at CASS_STORE_LIST_MAX): [{"id", "time", "actor",
 * "user", "tokenId", "owner", "action", "target", "status", "detail"}]. */
json_t *cass_store_audit_since(struct cass_store *s, int64_t after_id, unsigned limit,
                               const struct cass_audit_filter *f, struct cass_error **err);
/* The newest id (0 when the log is empty), where a new subscriber starts. */
int64_t cass_store_audit_last_id(struct cass_store *s, struct cass_error **err);

#endif
