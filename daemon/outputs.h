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
 * (or the file's name when prefix is NULL or empty). */
json_t *cass_outputs_manifest(const char *dir, const char *prefix, struct cass_error **err);

/* Compares two manifests (arrays as above, any order) and returns (caller
 * owns) {"identical": bool, "added": [paths], "removed": [paths],
 * "changed": [paths]}. */
json_t *cass_outputs_compare(const json_t *before, const json_t *after);

/* sha256 over a manifest's "path sha256\n" lines, in path order: one hash
 * that stands for a whole directory. Writes 64 hex digits and a NUL. */
void cass_outputs_digest(const json_t *manifest, char out[65]);

#endif
