#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "hash.h"
#include "outputs.h"

struct walk {
    json_t *list;
    size_t count;
    struct cass_error **err;
};

static int add_entry(struct walk *w, const char *path, long long size, const char *sha)
{
    if (++w->count > CASS_OUTPUTS_MAX_FILES)
        return cass_error_set(w->err, CASS_ERR_TOO_LARGE, "more than %d files",
                              CASS_OUTPUTS_MAX_FILES);
    json_array_append_new(
        w->list, json_pack("{s:s,s:I,s:s}", "path", path, "size", (json_int_t)size, "sha256", sha));
    return 0;
}

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
            int f = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (f < 0) {
                rc = cass_error_errno(w->err, errno, "open %s", path);
                break;
            }
            struct cass_hash_ctx *h = cass_hash_new();
            char buf[65536];
            ssize_t n;
            while ((n = read(f, buf, sizeof(buf))) > 0)
                cass_hash_update(h, buf, (size_t)n);
            int e = errno;
            close(f);
            char hex[CASS_SHA256_HEX_LEN + 1];
            cass_hash_finish(h, hex);
            if (n < 0) {
                rc = cass_error_errno(w->err, e, "read %s", path);
                break;
            }
            rc = add_entry(w, path, (long long)st.st_size, hex);
        } else if (S_ISLNK(st.st_mode)) {
            /* A link is its target text: recorded, never followed. */
            char target[4096];
            ssize_t n = readlinkat(dirfd, de->d_name, target, sizeof(target));
            if (n < 0) {
                rc = cass_error_errno(w->err, errno, "readlink %s", path);
                break;
            }
            char hex[CASS_SHA256_HEX_LEN + 1];
            cass_hash_sha256_hex(target, (size_t)n, hex);
            rc = add_entry(w, path, (long long)n, hex);
        }
    }
    closedir(d);
    return rc;
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

json_t *cass_outputs_manifest(const char *dir, const char *prefix, struct cass_error **err)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        cass_error_errno(err, errno, "%s", dir);
        return NULL;
    }
    json_t *list = json_array();
    struct walk w = {.list = list, .err = err};
    if (S_ISREG(st.st_mode)) {
        char hex[CASS_SHA256_HEX_LEN + 1];
        if (cass_hash_file(dir, hex, err) < 0) {
            json_decref(list);
            return NULL;
        }
        const char *base = strrchr(dir, '/');
        add_entry(&w, prefix && *prefix ? prefix : (base ? base + 1 : dir), (long long)st.st_size,
                  hex);
        return list;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        cass_error_errno(err, errno, "open %s", dir);
        json_decref(list);
        return NULL;
    }
    int rc = walk_dir(&w, fd, prefix ? prefix : "", 0);
    close(fd);
    if (rc < 0) {
        json_decref(list);
        return NULL;
    }
    size_t n;
    json_t **v = sorted(list, &n);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(out, v[i]);
    free(v);
    json_decref(list);
    return out;
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
