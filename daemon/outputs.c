#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "hash.h"
#include "outputs.h"
#include "store.h"

/* The buffer each read fills: measured on warm 128 MiB files, 16-64 KiB
 * hash fastest (read's copy is still in L1/L2 when it is hashed); 128 KiB
 * was 10-30 % slower, 256 KiB 30-60 %. The disk is read ahead in larger
 * steps anyway (FADV_SEQUENTIAL doubles the readahead). */
#define READ_BUF (64 * 1024)
#define MAX_THREADS 64
/* A file that changes while it is read is read again this many times. */
#define MAX_ATTEMPTS 3

static atomic_ullong files_read;

unsigned long long cass_outputs_files_read(void)
{
    return atomic_load(&files_read);
}

static void (*_Atomic read_hook)(const char *path, int attempt);

void cass_outputs_set_read_hook(void (*hook)(const char *path, int attempt))
{
    atomic_store(&read_hook, hook);
}

static int64_t ns_of(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return ns_of(t);
}

/* ---- what to hash: one entry per file or link ------------------------------ */

struct entry {
    char *path;  /* prefix + path below the root, as the manifest says */
    bool cached; /* sha from the cache, not read */
    bool fresh;  /* read now, and old enough to be cached */
    bool touch;  /* cached, and its row's seen time is to be refreshed */
    dev_t dev;
    ino_t ino;
    long long size;
    int64_t mtime_ns, ctime_ns;
    char sha[CASS_SHA256_HEX_LEN + 1];
};

struct walk {
    struct entry *v;
    size_t n, cap;
    struct cass_error **err;
};

static void stat_into(struct entry *e, const struct stat *st)
{
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->size = (long long)st->st_size;
    e->mtime_ns = ns_of(st->st_mtim);
    e->ctime_ns = ns_of(st->st_ctim);
}

/* Appends an entry for path (taken, freed on failure). */
static struct entry *add_entry(struct walk *w, char *path, const struct stat *st)
{
    if (w->n >= CASS_OUTPUTS_MAX_FILES) {
        free(path);
        cass_error_set(w->err, CASS_ERR_TOO_LARGE, "more than %d files", CASS_OUTPUTS_MAX_FILES);
        return NULL;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 256;
        struct entry *v = realloc(w->v, cap * sizeof(*v));
        if (!v) {
            free(path);
            cass_error_set(w->err, CASS_ERR_NOMEM, "out of memory");
            return NULL;
        }
        w->v = v;
        w->cap = cap;
    }
    struct entry *e = &w->v[w->n++];
    *e = (struct entry){.path = path};
    stat_into(e, st);
    return e;
}

static void walk_free(struct walk *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i].path);
    free(w->v);
}

/* Records every regular file and link below dirfd; links are hashed here
 * (their target text), files later. */
static int walk_dir(struct walk *w, int dirfd, const char *rel, int depth)
{
    if (depth > 64)
        return cass_error_set(w->err, CASS_ERR_TOO_LARGE, "%s: nested too deep", rel);
    int fd = dup(dirfd);
    if (fd < 0)
        return cass_error_errno(w->err, errno, "dup");
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return cass_error_errno(w->err, errno, "opendir %s", rel);
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0) {
            rc = cass_error_set(w->err, CASS_ERR_NOMEM, "out of memory");
            break;
        }
        struct stat st;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = cass_error_errno(w->err, errno, "stat %s", path);
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                rc = cass_error_errno(w->err, errno, "open %s", path);
                break;
            }
            rc = walk_dir(w, sub, path, depth + 1);
            close(sub);
        } else if (S_ISREG(st.st_mode)) {
            if (!add_entry(w, TAKE_PTR(path), &st))
                rc = -1;
        } else if (S_ISLNK(st.st_mode)) {
            /* A link is its target text: recorded, never followed. */
            char target[4096];
            ssize_t n = readlinkat(dirfd, de->d_name, target, sizeof(target));
            if (n < 0) {
                rc = cass_error_errno(w->err, errno, "readlink %s", path);
                break;
            }
            st.st_size = n;
            struct entry *e = add_entry(w, TAKE_PTR(path), &st);
            if (!e)
                rc = -1;
            else
                cass_hash_sha256_hex(target, (size_t)n, e->sha);
        }
    }
    closedir(d);
    return rc;
}

/* ---- the cache ------------------------------------------------------------- */

#define APPLICATION_ID 0x43534843 /* "CSHC" */
#define SCHEMA_VERSION 1
#define SEEN_REFRESH_S 86400 /* a row's seen time is kept to the day */

enum { ST_GET, ST_UPDATE, ST_INSERT, ST_TOUCH, ST_EXPIRE, ST_EVICT, ST_COUNT, N_ST };

static const char *const stmt_sql[N_ST] = {
    /* from a file's key on, in key order: one seek serves a run of files */
    [ST_GET] = "SELECT ino, size, mtime_ns, ctime_ns, sha256, seen FROM files "
               "WHERE dev = ?1 AND ino >= ?2 ORDER BY ino",
    [ST_UPDATE] =
        "UPDATE files SET size = ?3, mtime_ns = ?4, ctime_ns = ?5, sha256 = ?6, seen = ?7 "
        "WHERE dev = ?1 AND ino = ?2",
    [ST_INSERT] = "INSERT INTO files (dev, ino, size, mtime_ns, ctime_ns, sha256, seen) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_TOUCH] = "UPDATE files SET seen = ?3 WHERE dev = ?1 AND ino = ?2",
    [ST_EXPIRE] = "DELETE FROM files WHERE seen < ?1",
    [ST_EVICT] = "DELETE FROM files WHERE (dev, ino) IN "
                 "(SELECT dev, ino FROM files ORDER BY seen LIMIT ?1)",
    [ST_COUNT] = "SELECT count(*) FROM files",
};

static const char schema_sql[] =
    "DROP TABLE IF EXISTS files;"
    "CREATE TABLE files (dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,"
    " mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, sha256 BLOB NOT NULL,"
    " seen INTEGER NOT NULL, PRIMARY KEY (dev, ino)) WITHOUT ROWID;"
    "CREATE INDEX files_seen ON files (seen);";

struct cass_hashcache {
    pthread_mutex_t lock;
    sqlite3 *db;
    sqlite3_stmt *st[N_ST];
    char *path;
    long long rows;   /* rows in the table, counted at open and kept up to date */
    time_t pruned_at; /* last expiry of rows not seen for the TTL */
    struct cass_error *failure;
};

static int db_error(struct cass_hashcache *c, struct cass_error **err, const char *what)
{
    return cass_error_set(err, CASS_ERR_IO, "%s: %s: %s", c->path, what, sqlite3_errmsg(c->db));
}

static int exec_sql(struct cass_hashcache *c, const char *sql, struct cass_error **err)
{
    if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_error(c, err, sql);
    return 0;
}

/* The integer a one-row query answers, or -1 with err. */
static long long query_int(struct cass_hashcache *c, const char *sql, struct cass_error **err)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        db_error(c, err, sql);
    sqlite3_finalize(st);
    return v;
}

/* Runs a statement that answers no row (after binding its parameters). */
static int run_stmt(struct cass_hashcache *c, sqlite3_stmt *st, struct cass_error **err)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_error(c, err, sqlite3_sql(st));
    return 0;
}

/* Drops rows not seen for the TTL and, beyond the row bound, the least
 * recently seen down to nine tenths of it. Inside a write transaction. */
static int prune_locked(struct cass_hashcache *c, time_t now, struct cass_error **err)
{
    sqlite3_bind_int64(c->st[ST_EXPIRE], 1, (sqlite3_int64)now - CASS_HASHCACHE_TTL_DAYS * 86400LL);
    if (run_stmt(c, c->st[ST_EXPIRE], err) < 0)
        return -1;
    c->rows -= sqlite3_changes(c->db);
    c->pruned_at = now;
    if (c->rows > CASS_HASHCACHE_MAX_ROWS) {
        sqlite3_bind_int64(c->st[ST_EVICT], 1, c->rows - CASS_HASHCACHE_MAX_ROWS / 10 * 9);
        if (run_stmt(c, c->st[ST_EVICT], err) < 0)
            return -1;
        c->rows -= sqlite3_changes(c->db);
    }
    return 0;
}

/* Creates the table in a new file, recreates it for another schema version
 * of ours, and refuses a database that is not a hash cache. */
static int setup_schema(struct cass_hashcache *c, struct cass_error **err)
{
    if (exec_sql(c, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    long long app = query_int(c, "PRAGMA application_id", err);
    long long version = app < 0 ? -1 : query_int(c, "PRAGMA user_version", err);
    long long tables = version < 0 ? -1 : query_int(c, "SELECT count(*) FROM sqlite_master", err);
    int rc = tables < 0 ? -1 : 0;
    if (rc == 0 && app != APPLICATION_ID && tables > 0)
        rc = cass_error_set(err, CASS_ERR_IO, "%s is a database but not a hash cache", c->path);
    if (rc == 0 && (app != APPLICATION_ID || version != SCHEMA_VERSION)) {
        char sql[128];
        snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d",
                 APPLICATION_ID, SCHEMA_VERSION);
        rc = exec_sql(c, schema_sql, err) < 0 || exec_sql(c, sql, err) < 0 ? -1 : 0;
    }
    if (rc < 0) {
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return exec_sql(c, "COMMIT", err);
}

struct cass_hashcache *cass_hashcache_open(const char *path, struct cass_error **err)
{
    if (!path || !*path) {
        cass_error_set(err, CASS_ERR_INVALID, "no hash cache path");
        return NULL;
    }
    struct cass_hashcache *c = calloc(1, sizeof(*c));
    if (!c || !(c->path = strdup(path))) {
        free(c);
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->db = cass_store_sqlite_open(path, err);
    int rc = c->db ? setup_schema(c, err) : -1;
    for (int i = 0; rc == 0 && i < N_ST; i++)
        if (sqlite3_prepare_v3(c->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i],
                               NULL) != SQLITE_OK)
            rc = db_error(c, err, stmt_sql[i]);
    if (rc == 0 && (c->rows = query_int(c, stmt_sql[ST_COUNT], err)) < 0)
        rc = -1;
    if (rc == 0)
        rc = exec_sql(c, "BEGIN IMMEDIATE", err);
    if (rc == 0) {
        rc = prune_locked(c, time(NULL), err);
        if (rc == 0)
            rc = exec_sql(c, "COMMIT", err);
        else
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    }
    if (rc < 0) {
        cass_hashcache_close(c);
        return NULL;
    }
    return c;
}

void cass_hashcache_close(struct cass_hashcache *c)
{
    if (!c)
        return;
    for (int i = 0; i < N_ST; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close_v2(c->db);
    pthread_mutex_destroy(&c->lock);
    cass_error_free(c->failure);
    free(c->path);
    free(c);
}

struct cass_error *cass_hashcache_take_error(struct cass_hashcache *c)
{
    pthread_mutex_lock(&c->lock);
    struct cass_error *e = TAKE_PTR(c->failure);
    pthread_mutex_unlock(&c->lock);
    return e;
}

static void bind_key(sqlite3_stmt *st, const struct entry *e)
{
    sqlite3_bind_int64(st, 1, (sqlite3_int64)e->dev);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)e->ino);
}

static int hex_value(char ch)
{
    return ch <= '9' ? ch - '0' : ch - 'a' + 10;
}

/* Rows of the table a merge may step over before it seeks again: a step
 * costs about a sixth of a seek. */
#define SKIP_LIMIT 8

static void take_row(sqlite3_stmt *row, struct entry *e, time_t now)
{
    static const char hex[] = "0123456789abcdef";
    if (sqlite3_column_int64(row, 1) != e->size || sqlite3_column_int64(row, 2) != e->mtime_ns ||
        sqlite3_column_int64(row, 3) != e->ctime_ns || sqlite3_column_bytes(row, 4) != 32)
        return;
    const unsigned char *d = sqlite3_column_blob(row, 4);
    for (int k = 0; k < 32; k++) {
        e->sha[2 * k] = hex[d[k] >> 4];
        e->sha[2 * k + 1] = hex[d[k] & 15];
    }
    e->sha[64] = '\0';
    e->cached = true;
    e->touch = sqlite3_column_int64(row, 5) < (sqlite3_int64)now - SEEN_REFRESH_S;
}

/* Marks the entries whose row matches their stat as cached. files is
 * sorted by key, and so are the rows: a merge of the two, seeking again
 * only where the table has many rows between two files (a tree written at
 * once has neighbouring inodes). On a database failure nothing is cached,
 * also what was found before it: every file is read. */
static void cache_lookup(struct cass_hashcache *c, struct entry **files, size_t n, time_t now)
{
    pthread_mutex_lock(&c->lock);
    sqlite3_stmt *get = c->st[ST_GET];
    int rc = exec_sql(c, "BEGIN", &c->failure);
    size_t i = 0;
    bool seek = true;
    int skipped = 0, s = SQLITE_DONE;
    while (rc == 0 && i < n) {
        struct entry *e = files[i];
        if (seek || e->dev != files[i - 1]->dev) {
            sqlite3_reset(get);
            bind_key(get, e);
            s = sqlite3_step(get);
            seek = false;
            skipped = 0;
        }
        if (s == SQLITE_DONE) {
            /* no row from here on on this device */
            for (i++; i < n && files[i]->dev == e->dev; i++)
                ;
            continue;
        }
        if (s != SQLITE_ROW) {
            rc = db_error(c, &c->failure, "lookup");
            break;
        }
        sqlite3_int64 ino = sqlite3_column_int64(get, 0), want = (sqlite3_int64)e->ino;
        if (ino == want) {
            take_row(get, e, now); /* the row stays: the next may be a hard link */
            i++;
        } else if (ino > want) {
            i++; /* not in the cache */
        } else if (++skipped > SKIP_LIMIT) {
            seek = true;
        } else {
            s = sqlite3_step(get);
        }
    }
    sqlite3_reset(get);
    if (rc < 0) {
        for (size_t k = 0; k < n; k++)
            files[k]->cached = files[k]->touch = false;
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    } else {
        exec_sql(c, "COMMIT", &c->failure);
    }
    pthread_mutex_unlock(&c->lock);
}

static int cache_put_locked(struct cass_hashcache *c, const struct entry *e, time_t now)
{
    unsigned char d[32];
    for (int k = 0; k < 32; k++)
        d[k] = (unsigned char)(hex_value(e->sha[2 * k]) << 4 | hex_value(e->sha[2 * k + 1]));
    for (int i = ST_UPDATE; i <= ST_INSERT; i++) {
        sqlite3_stmt *st = c->st[i];
        bind_key(st, e);
        sqlite3_bind_int64(st, 3, e->size);
        sqlite3_bind_int64(st, 4, e->mtime_ns);
        sqlite3_bind_int64(st, 5, e->ctime_ns);
        sqlite3_bind_blob(st, 6, d, sizeof(d), SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)now);
        if (run_stmt(c, st, &c->failure) < 0)
            return -1;
        if (sqlite3_changes(c->db) > 0) {
            c->rows += i == ST_INSERT;
            return 0;
        }
    }
    return 0;
}

/* Records what was read and refreshes what was seen, in one transaction,
 * and prunes when the table is over its bound or a day has passed. */
static void cache_store(struct cass_hashcache *c, const struct walk *w, time_t now)
{
    size_t todo = 0;
    for (size_t i = 0; i < w->n; i++)
        todo += w->v[i].fresh || w->v[i].touch;
    if (!todo)
        return;
    pthread_mutex_lock(&c->lock);
    int rc = exec_sql(c, "BEGIN IMMEDIATE", &c->failure);
    for (size_t i = 0; rc == 0 && i < w->n; i++) {
        const struct entry *e = &w->v[i];
        if (e->fresh) {
            rc = cache_put_locked(c, e, now);
        } else if (e->touch) {
            bind_key(c->st[ST_TOUCH], e);
            sqlite3_bind_int64(c->st[ST_TOUCH], 3, (sqlite3_int64)now);
            rc = run_stmt(c, c->st[ST_TOUCH], &c->failure);
        }
    }
    if (rc == 0 && (c->rows > CASS_HASHCACHE_MAX_ROWS || now - c->pruned_at > SEEN_REFRESH_S))
        rc = prune_locked(c, now, &c->failure);
    if (rc == 0 && exec_sql(c, "COMMIT", &c->failure) == 0) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    /* The count may have moved with the rolled back rows: count again. */
    long long rows = query_int(c, stmt_sql[ST_COUNT], NULL);
    if (rows >= 0)
        c->rows = rows;
    pthread_mutex_unlock(&c->lock);
}

/* ---- reading files, on several threads ------------------------------------ */

struct job {
    int rootfd;
    const char *single; /* a single file: its name in rootfd; else NULL */
    size_t rel_off;     /* entry path + rel_off is the path below rootfd */
    struct entry **todo;
    size_t n;
    atomic_size_t next;
    atomic_bool stop;
};

/* Opens rel below rootfd refusing a symbolic link in any component; -1 with
 * errno on failure. O_NONBLOCK: what was a regular file at the walk may be
 * a FIFO by now, and must not block the open. */
static int open_beneath(int rootfd, const char *rel)
{
    int dir = rootfd;
    const char *p = rel, *slash;
    while ((slash = strchr(p, '/'))) {
        char name[256];
        size_t len = (size_t)(slash - p);
        int sub = -1;
        if (len == 0 || len >= sizeof(name)) {
            errno = EINVAL;
        } else {
            memcpy(name, p, len);
            name[len] = '\0';
            sub = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        int e = errno;
        if (dir != rootfd)
            close(dir);
        errno = e;
        if (sub < 0)
            return -1;
        dir = sub;
        p = slash + 1;
    }
    int fd = openat(dir, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    int e = errno;
    if (dir != rootfd)
        close(dir);
    errno = e;
    return fd;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           ns_of(a->st_mtim) == ns_of(b->st_mtim) && ns_of(a->st_ctim) == ns_of(b->st_ctim);
}

/* Reads and hashes one file through one descriptor, stat'ed before and
 * after: what was read is what the stat describes, or it is read again. */
static int hash_entry(const struct job *j, struct entry *e, char *buf, struct cass_error **err)
{
    const char *rel = j->single ? j->single : e->path + j->rel_off;
    for (int attempt = 1;; attempt++) {
        int64_t started = now_ns();
        _cleanup_close_ int fd = open_beneath(j->rootfd, rel);
        if (fd < 0)
            return cass_error_errno(err, errno, "open %s", e->path);
        struct stat before, after;
        if (fstat(fd, &before) < 0)
            return cass_error_errno(err, errno, "stat %s", e->path);
        if (!S_ISREG(before.st_mode))
            return cass_error_set(err, CASS_ERR_CONFLICT, "%s: no longer a regular file", e->path);
        void (*hook)(const char *, int) = atomic_load(&read_hook);
        if (hook)
            hook(e->path, attempt);
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        struct cass_hash_ctx *h = cass_hash_new();
        if (!h)
            return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        long long total = 0;
        ssize_t n;
        while ((n = read(fd, buf, READ_BUF)) != 0) {
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                break;
            cass_hash_update(h, buf, (size_t)n);
            total += n;
        }
        int read_errno = errno;
        char hex[CASS_SHA256_HEX_LEN + 1];
        cass_hash_finish(h, hex);
        atomic_fetch_add(&files_read, 1);
        if (n < 0)
            return cass_error_errno(err, read_errno, "read %s", e->path);
        if (fstat(fd, &after) < 0)
            return cass_error_errno(err, errno, "stat %s", e->path);
        if (same_file(&before, &after) && total == (long long)after.st_size) {
            stat_into(e, &after);
            memcpy(e->sha, hex, sizeof(hex));
            int64_t newest = e->mtime_ns > e->ctime_ns ? e->mtime_ns : e->ctime_ns;
            e->fresh = newest <= started - (int64_t)CASS_HASHCACHE_RACY_MS * 1000000;
            return 0;
        }
        if (attempt == MAX_ATTEMPTS)
            return cass_error_set(err, CASS_ERR_CONFLICT, "%s changed while it was hashed",
                                  e->path);
    }
}

struct worker {
    struct job *job;
    pthread_t thread;
    struct cass_error *err;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct job *j = w->job;
    _cleanup_free_ char *buf = malloc(READ_BUF);
    if (!buf) {
        cass_error_set(&w->err, CASS_ERR_NOMEM, "out of memory");
        atomic_store(&j->stop, true);
        return NULL;
    }
    while (!atomic_load(&j->stop)) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n)
            break;
        if (hash_entry(j, j->todo[i], buf, &w->err) < 0)
            atomic_store(&j->stop, true);
    }
    return NULL;
}

/* Hashes j->todo on up to threads threads, the caller's among them. */
static int run_job(struct job *j, unsigned threads, struct cass_error **err)
{
    if (threads == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online > 0 ? (unsigned)online : 1;
    }
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    if (threads > j->n)
        threads = (unsigned)j->n;
    if (threads == 0)
        return 0;
    struct worker w[MAX_THREADS] = {{0}};
    unsigned started = 1;
    for (unsigned i = 0; i < threads; i++)
        w[i].job = j;
    /* A thread that cannot be made leaves its share to the others. */
    while (started < threads && pthread_create(&w[started].thread, NULL, work, &w[started]) == 0)
        started++;
    work(&w[0]);
    int rc = 0;
    for (unsigned i = 0; i < started; i++) {
        if (i > 0)
            pthread_join(w[i].thread, NULL);
        if (w[i].err && rc == 0) {
            rc = -1;
            if (err && !*err)
                *err = TAKE_PTR(w[i].err);
        }
        cass_error_free(w[i].err);
    }
    return rc;
}

static int by_size_desc(const void *a, const void *b)
{
    const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
    return x->size < y->size ? 1 : x->size > y->size ? -1 : 0;
}

/* The table's order: by device, then inode as SQLite's signed integer. */
static int by_key(const void *a, const void *b)
{
    const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    int64_t p = (int64_t)x->ino, q = (int64_t)y->ino;
    return p < q ? -1 : p > q ? 1 : 0;
}

/* The manifest's entry (new), or NULL for a path that is not UTF-8. Built
 * without json_pack's format parsing: that was a tenth of a 10,000-file
 * verify. */
static json_t *entry_json(const struct entry *e)
{
    json_t *path = json_string(e->path);
    if (!path)
        return NULL;
    json_t *o = json_object();
    json_object_set_new_nocheck(o, "path", path);
    json_object_set_new_nocheck(o, "size", json_integer((json_int_t)e->size));
    json_object_set_new_nocheck(o, "sha256", json_stringn_nocheck(e->sha, CASS_SHA256_HEX_LEN));
    return o;
}

/* A path for a message: bytes that are not printable ASCII shown as '?'. */
static char *printable(const char *path)
{
    char *p = strdup(path);
    for (char *c = p; c && *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
            *c = '?';
    return p;
}

static int entry_by_path(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->path, ((const struct entry *)b)->path);
}

/* Finds what the cache knows, reads the rest, and records what was read. */
static int hash_entries(struct walk *w, struct job *j, struct cass_hashcache *cache,
                        unsigned threads, struct cass_error **err)
{
    _cleanup_free_ struct entry **files = calloc(w->n ? w->n : 1, sizeof(*files));
    if (!files)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < w->n; i++)
        if (!w->v[i].sha[0])
            files[n++] = &w->v[i];
    time_t now = time(NULL);
    if (cache && n) {
        qsort(files, n, sizeof(*files), by_key);
        cache_lookup(cache, files, n, now);
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (!files[i]->cached)
                files[m++] = files[i];
        n = m;
    }
    /* The largest first: the threads finish together. */
    qsort(files, n, sizeof(*files), by_size_desc);
    j->todo = files;
    j->n = n;
    if (run_job(j, threads, err) < 0)
        return -1;
    if (cache)
        cache_store(cache, w, now);
    return 0;
}

json_t *cass_outputs_manifest_parallel(const char *dir, const char *prefix,
                                       struct cass_hashcache *cache, unsigned threads,
                                       struct cass_error **err)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        cass_error_errno(err, errno, "%s", dir);
        return NULL;
    }
    struct walk w = {.err = err};
    struct job j = {.rootfd = -1};
    _cleanup_close_ int rootfd = -1;
    _cleanup_free_ char *parent = NULL;
    int rc;
    if (S_ISREG(st.st_mode)) {
        /* One file: opened by its name in its directory, never through a
         * link, as in a tree. */
        const char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : dir;
        parent = slash ? strndup(dir, slash == dir ? 1 : (size_t)(slash - dir)) : strdup(".");
        char *path = strdup(prefix && *prefix ? prefix : base);
        if (!parent || !path) {
            free(path);
            cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
            return NULL;
        }
        rootfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0 || fstatat(rootfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            free(path);
            cass_error_errno(err, errno, "open %s", dir);
            return NULL;
        }
        if (!S_ISREG(st.st_mode)) {
            free(path);
            cass_error_errno(err, ELOOP, "open %s", dir);
            return NULL;
        }
        rc = add_entry(&w, path, &st) ? 0 : -1;
        j.single = base;
    } else {
        rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0) {
            cass_error_errno(err, errno, "open %s", dir);
            return NULL;
        }
        rc = walk_dir(&w, rootfd, prefix ? prefix : "", 0);
        j.rel_off = prefix && *prefix ? strlen(prefix) + 1 : 0;
    }
    j.rootfd = rootfd;
    if (rc == 0)
        rc = hash_entries(&w, &j, cache, threads, err);
    json_t *out = NULL;
    if (rc == 0) {
        if (w.n) /* an empty tree has no array to sort */
            qsort(w.v, w.n, sizeof(*w.v), entry_by_path);
        out = json_array();
        for (size_t i = 0; out && i < w.n; i++) {
            json_t *e = entry_json(&w.v[i]);
            if (!e) {
                _cleanup_free_ char *shown = printable(w.v[i].path);
                cass_error_set(err, CASS_ERR_INVALID, "%s: the file name is not UTF-8",
                               shown ? shown : "?");
                json_decref(TAKE_PTR(out));
            } else {
                json_array_append_new(out, e);
            }
        }
    }
    walk_free(&w);
    return out;
}

json_t *cass_outputs_manifest(const char *dir, const char *prefix, struct cass_error **err)
{
    return cass_outputs_manifest_parallel(dir, prefix, NULL, 0, err);
}

static int by_path(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "path")),
                  json_string_value(json_object_get(y, "path")));
}

/* The entries of m sorted by path, as a C array of borrowed pointers. */
static json_t **sorted(const json_t *m, size_t *n)
{
    *n = json_array_size(m);
    json_t **v = calloc(*n ? *n : 1, sizeof(*v));
    if (!v)
        abort();
    for (size_t i = 0; i < *n; i++)
        v[i] = json_array_get(m, i);
    qsort(v, *n, sizeof(*v), by_path);
    return v;
}

json_t *cass_outputs_compare(const json_t *before, const json_t *after)
{
    size_t na, nb;
    json_t **a = sorted(before, &na);
    json_t **b = sorted(after, &nb);
    json_t *added = json_array(), *removed = json_array(), *changed = json_array();
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        int c = i == na ? 1 : j == nb ? -1 : by_path(&a[i], &b[j]);
        if (c < 0) {
            json_array_append(removed, json_object_get(a[i++], "path"));
        } else if (c > 0) {
            json_array_append(added, json_object_get(b[j++], "path"));
        } else {
            const char *ha = json_string_value(json_object_get(a[i], "sha256"));
            const char *hb = json_string_value(json_object_get(b[j], "sha256"));
            if (!ha || !hb || strcmp(ha, hb) != 0)
                json_array_append(changed, json_object_get(a[i], "path"));
            i++;
            j++;
        }
    }
    free(a);
    free(b);
    int identical =
        !json_array_size(added) && !json_array_size(removed) && !json_array_size(changed);
    return json_pack("{s:b,s:o,s:o,s:o}", "identical", identical, "added", added, "removed",
                     removed, "changed", changed);
}

void cass_outputs_digest(const json_t *manifest, char out[65])
{
    size_t n;
    json_t **v = sorted(manifest, &n);
    struct cass_hash_ctx *h = cass_hash_new();
    for (size_t i = 0; i < n; i++) {
        const char *p = json_string_value(json_object_get(v[i], "path"));
        const char *s = json_string_value(json_object_get(v[i], "sha256"));
        cass_hash_update(h, p ? p : "", p ? strlen(p) : 0);
        cass_hash_update(h, " ", 1);
        cass_hash_update(h, s ? s : "", s ? strlen(s) : 0);
        cass_hash_update(h, "\n", 1);
    }
    free(v);
    cass_hash_finish(h, out);
}
