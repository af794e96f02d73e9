#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "launch.h"
#include "lifecycle.h"
#include "log.h"
#include "runlog.h"
#include "store.h"

struct log_file {
    int fd;
    size_t written;
    int error; /* errno of the write that failed, 0 while all fit */
};

static int log_to_file(int stream, const char *data, size_t len, void *ud)
{
    (void)stream;
    struct log_file *lf = ud;
    if (lf->written + len > CASS_RUNLOG_READ_MAX)
        return 1;
    while (len > 0) {
        ssize_t n = write(lf->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            lf->error = n < 0 ? errno : ENOSPC;
            return 1;
        }
        lf->written += (size_t)n;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The disk filled while the log was copied: what fit is kept and its last
 * line says so. The note needs room too: the log gives back the block it
 * ended in (or one more, up to four times) until the note fits. */
static int note_cut(struct log_file *lf)
{
    const size_t block = 4096;
    size_t keep = lf->written;
    for (int tries = 0; tries < 4; tries++) {
        keep = keep > 0 ? ((keep - 1) / block) * block : 0;
        char note[160];
        int n = snprintf(note, sizeof(note),
                         "\n%s: the state directory was full; the log was kept to byte %zu]\n",
                         CASS_RUNLOG_CUT_MARK, keep);
        if (ftruncate(lf->fd, (off_t)keep) < 0 || lseek(lf->fd, 0, SEEK_END) < 0)
            return -1;
        if (write(lf->fd, note, (size_t)n) == n) {
            lf->written = keep + (size_t)n;
            return 0;
        }
        if (keep == 0)
            break;
    }
    return -1;
}

/* Cuts a kept log down to its last CASS_RUNLOG_MAX bytes, where a failing
 * program says why, with a first line that says what was dropped. */
static int keep_tail(const char *path, size_t size)
{
    _cleanup_fclose_ FILE *in = fopen(path, "re");
    _cleanup_free_ char *cut = cass_xasprintf("%s.cut", path);
    _cleanup_fclose_ FILE *out = in ? fopen(cut, "we") : NULL;
    if (!in || !out || fseeko(in, (off_t)(size - CASS_RUNLOG_MAX), SEEK_SET) < 0)
        return -1;
    fprintf(out, "[cassiny: the first %zu bytes of this log were dropped]\n",
            size - CASS_RUNLOG_MAX);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            return -1;
    if (fflush(out) != 0)
        return -1;
    return rename(cut, path);
}

char *cass_runlog_path(struct cass_daemon *d, const char *run_id)
{
    return cass_xasprintf("%s/runs/%s/container.log", cass_daemon_config_str(d, "stateDir"),
                          run_id);
}

/* The ids of the containers whose output the kept log holds, one a line,
 * in <log>.ids. */
static bool log_has(const char *ids_path, const char *id)
{
    _cleanup_fclose_ FILE *f = fopen(ids_path, "re");
    char line[128];
    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strcmp(line, id) == 0)
            return true;
    }
    return false;
}

#define SECTION_HEAD "[cassiny: the output of container "

/* How much of a kept log stays before the output of container id: all of
 * it, unless it ends with a copy cut short by a full disk (its last line
 * the cut note) of this same container, which the new copy replaces: the
 * section under id's header, or the whole log when it has no header (its
 * one section, the first container's). */
static size_t kept_before(const char *text, size_t len, const char *id)
{
    size_t end = len;
    while (end > 0 && text[end - 1] == '\n')
        end--;
    size_t line = end;
    while (line > 0 && text[line - 1] != '\n')
        line--;
    if (strncmp(text + line, CASS_RUNLOG_CUT_MARK, strlen(CASS_RUNLOG_CUT_MARK)) != 0)
        return len;
    char head[64];
    snprintf(head, sizeof(head), "\n" SECTION_HEAD "%.12s", id);
    const char *last = NULL;
    for (const char *p = text;
         (p = memmem(p, (size_t)(text + len - p), "\n" SECTION_HEAD, strlen(SECTION_HEAD) + 1));
         p++)
        last = p;
    if (!last)
        return 0;
    return strncmp(last, head, strlen(head)) == 0 ? (size_t)(last - text) : len;
}

/* Copies what stays of the kept log at path (kept_before) to lf, then a
 * line that says the next container's output follows: a run with several
 * containers (replicas, replacements, a notebook restarted in place) keeps
 * all of them, in the order they went. 0, or -1 with errno. */
static int copy_before(const char *path, struct log_file *lf, const char *id)
{
    _cleanup_fclose_ FILE *in = fopen(path, "re");
    if (!in)
        return errno == ENOENT ? 0 : -1;
    _cleanup_free_ char *text = malloc(CASS_RUNLOG_MAX + 65536);
    if (!text)
        return -1;
    size_t len = fread(text, 1, CASS_RUNLOG_MAX + 65536, in);
    if (ferror(in))
        return -1;
    size_t keep = kept_before(text, len, id);
    if (keep > 0 && log_to_file(0, text, keep, lf) != 0)
        return -1;
    if (lf->written == 0)
        return 0;
    char head[160];
    int h = snprintf(head, sizeof(head), "\n" SECTION_HEAD "%.12s follows]\n", id);
    return log_to_file(0, head, (size_t)h, lf) != 0 ? -1 : 0;
}

int cass_runlog_save(struct cass_daemon *d, struct cass_backend *b, const char *run_id,
                     const char *id)
{
    const char *state = cass_daemon_config_str(d, "stateDir");
    _cleanup_free_ char *runs = cass_xasprintf("%s/runs", state);
    _cleanup_free_ char *dir = cass_xasprintf("%s/runs/%s", state, run_id);
    if ((mkdir(runs, 0700) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
        if (errno == ENOSPC || errno == EDQUOT)
            cass_store_mark_full(d->store);
        log_warn("run %s: cannot keep logs: mkdir %s: %s", run_id, dir, strerror(errno));
        return -1;
    }
    _cleanup_free_ char *path = cass_runlog_path(d, run_id);
    _cleanup_free_ char *ids = cass_xasprintf("%s.ids", path);
    /* Kept already (a reconcile after a crash saves again). */
    if (log_has(ids, id))
        return 0;
    _cleanup_free_ char *tmp = cass_xasprintf("%s.tmp", path);
    struct log_file lf = {.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
    if (lf.fd < 0) {
        if (errno == ENOSPC || errno == EDQUOT)
            cass_store_mark_full(d->store);
        log_warn("run %s: cannot keep logs: %s: %s", run_id, tmp, strerror(errno));
        return -1;
    }
    int rc = 0;
    _cleanup_error_ struct cass_error *err = NULL;
    /* A log kept before this version has no .ids: its one container is
     * the one kept. */
    if (access(ids, F_OK) == 0 || access(path, F_OK) == 0)
        rc = copy_before(path, &lf, id);
    if (rc == 0) {
        struct cass_engine_logs_opts o = {.tail = -1};
        rc = b->ops->logs(b, id, &o, log_to_file, &lf, &err);
    } else if (!lf.error) {
        lf.error = errno;
    }
    int cut = 0;
    if (lf.error == ENOSPC || lf.error == EDQUOT) {
        cass_store_mark_full(d->store);
        cut = note_cut(&lf) == 0 ? 1 : -1;
        log_warn("run %s: the disk is full: its log was kept to byte %zu%s", run_id, lf.written,
                 cut < 0 ? ", without the note (no room for it)" : ", with a note");
    }
    if (close(lf.fd) != 0 || rc < 0 || (lf.error && cut <= 0)) {
        if (err && err->kind != CASS_ERR_NOT_FOUND)
            log_warn("run %s: cannot keep logs: %s", run_id, err->message);
        else if (lf.error)
            log_warn("run %s: cannot keep logs: %s", run_id, strerror(lf.error));
        unlink(tmp);
        return -1;
    }
    if (lf.written > CASS_RUNLOG_MAX && keep_tail(tmp, lf.written) < 0)
        log_warn("run %s: cannot shorten the kept log: %s", run_id, strerror(errno));
    if (rename(tmp, path) < 0) {
        log_warn("run %s: cannot keep logs: rename: %s", run_id, strerror(errno));
        return -1;
    }
    if (cut != 0)
        return 1; /* not noted as kept: the next save replaces the cut copy */
    /* After the log: a crash between the two keeps this output twice at the
     * next save, rather than not at all. */
    _cleanup_fclose_ FILE *f = fopen(ids, "ae");
    if (!f || fprintf(f, "%s\n", id) < 0 || fflush(f) != 0)
        log_warn("run %s: cannot note container %.12s as kept: %s", run_id, id, strerror(errno));
    return 0;
}

/* Logs: a thread copies the engine's demultiplexed stream into a pipe that
 * the API's event loop reads when it is readable; closing either end ends
 * both. */
struct log_stream {
    struct log_stream *next; /* in live_streams */
    int fds[2];
    atomic_int cancel;
    pthread_t thread;
    struct cass_backend *backend;
    char *container;
    struct cass_engine_logs_opts opts;
};

/* Set at shutdown: every open stream ends. */
static atomic_int streams_cancelled;

/* Open follows, so that shutdown can end them (a connection thread blocked
 * on a quiet follow would otherwise hold the server up). */
static pthread_mutex_t streams_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_stream *live_streams;

void cass_runlog_cancel_all(void)
{
    atomic_store(&streams_cancelled, 1);
    pthread_mutex_lock(&streams_lock);
    for (struct log_stream *ls = live_streams; ls; ls = ls->next)
        atomic_store(&ls->cancel, 1);
    pthread_mutex_unlock(&streams_lock);
}

static int log_pipe_write(int stream, const char *data, size_t len, void *ud)
{
    struct log_stream *ls = ud;
    while (len > 0) {
        ssize_t n = write(ls->fds[1], data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 1; /* the client went away */
        data += n;
        len -= (size_t)n;
    }
    return atomic_load(&ls->cancel) ? 1 : 0;
}

static void *log_thread(void *arg)
{
    struct log_stream *ls = arg;
    struct cass_error *err = NULL;
    if (ls->backend->ops->logs(ls->backend, ls->container, &ls->opts, log_pipe_write, ls, &err) <
            0 &&
        !atomic_load(&ls->cancel)) {
        char line[512];
        int n = snprintf(line, sizeof(line), "\n[cassiny: log stream ended: %s]\n",
                         err->message ? err->message : "?");
        if (n > 0 && write(ls->fds[1], line, (size_t)n) < 0)
            n = 0;
    }
    cass_error_free(err);
    close(ls->fds[1]);
    ls->fds[1] = -1;
    return NULL;
}

/* The pipe's read end does not block: a quiet follow waits in the API's
 * hub, not in a thread of its own. */
static long log_stream_read(struct log_stream *ls, char *buf, size_t max,
                            struct cass_stream_wait *wait)
{
    return cass_stream_read_fd(ls->fds[0], buf, max, wait);
}

static void log_stream_free(struct log_stream *ls)
{
    pthread_mutex_lock(&streams_lock);
    for (struct log_stream **p = &live_streams; *p; p = &(*p)->next)
        if (*p == ls) {
            *p = ls->next;
            break;
        }
    pthread_mutex_unlock(&streams_lock);
    atomic_store(&ls->cancel, 1);
    close(ls->fds[0]);
    pthread_join(ls->thread, NULL);
    free(ls->container);
    free(ls);
}

static long file_stream_read(int fd, char *buf, size_t max)
{
    for (;;) {
        ssize_t n = read(fd, buf, max);
        if (n < 0 && errno == EINTR)
            continue;
        return n;
    }
}

/* A reader of a run's output: the live container's stream or the kept file. */
struct cass_runlog_reader {
    struct log_stream *live;
    int fd;
};

struct cass_runlog_reader *cass_runlog_open(struct cass_daemon *d, const json_t *run, bool follow,
                                            int tail, struct cass_error **err)
{
    const char *id = json_string_value(json_object_get(run, "id"));
    const char *cid = json_string_value(json_array_get(json_object_get(run, "containers"), 0));
    struct cass_backend *b = d->lifecycle ? cass_lifecycle_backend(d->lifecycle) : NULL;
    struct cass_workload_state st = {0};
    if (cid && b) {
        _cleanup_error_ struct cass_error *serr = NULL;
        if (b->ops->state(b, cid, &st, &serr) < 0)
            st.exists = false;
    }
    struct cass_runlog_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    r->fd = -1;
    if (!st.exists) {
        /* The container is gone: serve what was kept. */
        _cleanup_free_ char *path = cass_runlog_path(d, id);
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            free(r);
            cass_error_set(err, CASS_ERR_NOT_FOUND, "run %s has no container and no kept logs", id);
            return NULL;
        }
        return r;
    }
    struct log_stream *ls = calloc(1, sizeof(*ls));
    if (!ls || pipe2(ls->fds, O_CLOEXEC) < 0 || fcntl(ls->fds[0], F_SETFL, O_NONBLOCK) < 0) {
        free(ls);
        free(r);
        cass_error_set(err, CASS_ERR_INTERNAL, "cannot make a pipe for the logs");
        return NULL;
    }
    ls->backend = b;
    ls->container = strdup(cid);
    ls->opts.follow = follow;
    ls->opts.tail = tail;
    ls->opts.cancel = &ls->cancel;
    if (pthread_create(&ls->thread, NULL, log_thread, ls) != 0) {
        close(ls->fds[0]);
        close(ls->fds[1]);
        free(ls->container);
        free(ls);
        free(r);
        cass_error_set(err, CASS_ERR_INTERNAL, "cannot start the log thread");
        return NULL;
    }
    pthread_mutex_lock(&streams_lock);
    ls->next = live_streams;
    live_streams = ls;
    pthread_mutex_unlock(&streams_lock);
    r->live = ls;
    return r;
}

long cass_runlog_read(struct cass_runlog_reader *r, char *buf, size_t max,
                      struct cass_stream_wait *wait)
{
    return r->live ? log_stream_read(r->live, buf, max, wait) : file_stream_read(r->fd, buf, max);
}

void cass_runlog_close(struct cass_runlog_reader *r)
{
    if (r->live)
        log_stream_free(r->live);
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}
