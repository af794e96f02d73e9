#include "config.h"

/* Runs the fuzz target over a corpus without libFuzzer, so that every file
 * found by fuzzing (and every spec test case) is replayed by `make check`.
 * Directories come from the environment variable REPLAY_CORPUS_ENV names
 * ($CASS_FUZZ_CORPUS unless the build says another; space-separated) and
 * argv. */
#ifndef REPLAY_CORPUS_ENV
#define REPLAY_CORPUS_ENV "CASS_FUZZ_CORPUS"
#endif

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t n_files;
static size_t n_failed;

static int read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
    _cleanup_fclose_ FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return -1;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return -1;
    }
    *ret = buf;
    *ret_len = len;
    return 0;
}

static void walk(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        fprintf(stderr, "replay: %s: cannot stat\n", path);
        n_failed++;
        return;
    }
    if (S_ISREG(st.st_mode)) {
        uint8_t *data = NULL;
        size_t len = 0;
        if (read_file(path, &data, &len) < 0) {
            fprintf(stderr, "replay: %s: cannot read\n", path);
            n_failed++;
            return;
        }
        LLVMFuzzerTestOneInput(data, len);
        free(data);
        n_files++;
        return;
    }
    if (!S_ISDIR(st.st_mode))
        return;
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: %s: cannot open\n", path);
        n_failed++;
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *sub = NULL;
        if (asprintf(&sub, "%s/%s", path, de->d_name) < 0)
            continue;
        walk(sub);
        free(sub);
    }
    closedir(d);
}

int main(int argc, char **argv)
{
    const char *env = getenv(REPLAY_CORPUS_ENV);
    if (env) {
        _cleanup_free_ char *dirs = strdup(env);
        char *save = NULL;
        for (char *t = strtok_r(dirs, " ", &save); t; t = strtok_r(NULL, " ", &save))
            walk(t);
    }
    for (int i = 1; i < argc; i++)
        walk(argv[i]);
    printf("replay: %zu files\n", n_files);
    /* a crash never gets here; what can fail is reading the corpus */
    printf("%zu passed, %zu failed\n", n_files, n_failed);
    if (n_files == 0) {
        fprintf(stderr, "replay: no files found (set %s or name directories)\n", REPLAY_CORPUS_ENV);
        return 1;
    }
    return n_failed ? 1 : 0;
}
