/* Manifests of files: what a job read and wrote, hashed so that two runs can
 * be compared file by file. */
#ifndef CASS_OUTPUTS_H
#define CASS_OUTPUTS_H

#include <jansson.h>

#include "error.h"

/* Most files one manifest holds: a job that writes more is reported, not
 * hashed forever. */
#define CASS_OUTPUTS_MAX_FILES 100000

/* Hashes every regular file under dir (symlinks are recorded, never
 * followed; other special files are skipped) and returns a new array sorted
 * by path: [{"path": prefix + relative path, "size", "sha256"}] (caller
 * owns). A dir that is a regular file gives one entry whose path is prefix
 * (or the file's name when prefix is NULL or empty). Always reads every file
 * (no cache), on all online cores: what a job wrote is hashed fresh. */
json_t *cass_outputs_manifest(const char *dir, const char *prefix, struct cass_error **err);

/* A cache of file hashes keyed by (device, inode) and trusted only while
 * the file's size, mtime and ctime (nanoseconds) are unchanged: a small
 * SQLite database of its own (WAL mode), so that verifying unchanged inputs
 * reads no file. Thread-safe: one connection behind a mutex; several
 * processes may share the file (busy timeout 5 s).
 *
 * Bounds: rows not seen by any manifest for CASS_HASHCACHE_TTL_DAYS are
 * dropped, and beyond CASS_HASHCACHE_MAX_ROWS (about 45 MB on disk) the
 * least recently seen are, at open and as rows are added. A file whose
 * mtime or ctime is less than CASS_HASHCACHE_RACY_MS before its hashing
 * began is not cached: a write within the same timestamp tick would leave
 * its stat unchanged (git's "racily clean" entries). Clock steps backwards
 * and network filesystems whose server clock lags by more than that are
 * outside this guarantee. */
#define CASS_HASHCACHE_FILE "hashcache.db" /* inside the daemon's state directory */
#define CASS_HASHCACHE_MAX_ROWS 400000
#define CASS_HASHCACHE_TTL_DAYS 30
#define CASS_HASHCACHE_RACY_MS 2000

struct cass_hashcache; /* opaque, thread-safe */

/* Opens (creating, mode 0600) the cache file at path (caller owns; close
 * with cass_hashcache_close). A file that is not a hash cache, is corrupt
 * or cannot be written is refused with CASS_ERR_IO: the cache is only a
 * speed-up, so a caller may remove the file and open again, or hash
 * without a cache (NULL). */
struct cass_hashcache *cass_hashcache_open(const char *path, struct cass_error **err);
void cass_hashcache_close(struct cass_hashcache *c);

/* The first failure of the cache since the last call (caller owns; NULL if
 * none), for the caller to log once. A manifest never fails or goes wrong
 * because of its cache: a lookup that fails hashes every file, a write that
 * fails is dropped. */
struct cass_error *cass_hashcache_take_error(struct cass_hashcache *c);

/* Like cass_outputs_manifest (same entries, order and limits), hashing files
 * on `threads` threads (0: the machine's online cores), and with cache (may
 * be NULL) a file whose (device, inode, size, mtime ns, ctime ns) is
 * unchanged since it was last hashed is not read again. Each file is read
 * through one open descriptor (O_NOFOLLOW on every path component) and
 * fstat'ed before and after: one that changed while read is read again, and
 * after three attempts reported with CASS_ERR_CONFLICT. Caller owns. */
json_t *cass_outputs_manifest_parallel(const char *dir, const char *prefix,
                                       struct cass_hashcache *cache, unsigned threads,
                                       struct cass_error **err);

/* Regular files this process has opened and read to hash them, over all
 * manifests: lets tests prove that a cache hit reads nothing. */
unsigned long long cass_outputs_files_read(void);

/* For tests: hook is called in the reading thread once a file is open and
 * stat'ed, before it is read (attempt counts from 1), so that a test can
 * change the file right there; NULL for none. */
void cass_outputs_set_read_hook(void (*hook)(const char *path, int attempt));

/* Compares two manifests (arrays as above, any order) and returns (caller
 * owns) {"identical": bool, "added": [paths], "removed": [paths],
 * "changed": [paths]}. */
json_t *cass_outputs_compare(const json_t *before, const json_t *after);

/* sha256 over a manifest's "path sha256\n" lines, in path order: one hash
 * that stands for a whole directory. Writes 64 hex digits and a NUL. */
void cass_outputs_digest(const json_t *manifest, char out[65]);

#endif
