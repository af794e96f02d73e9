/* Bind-mount sources pinned at launch: see pin.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "hash.h"
#include "log.h"
#include "pin.h"
#include "policy.h"

/* Decided once per process: where pins go and whether they can be made. */
static struct {
    pthread_mutex_t lock;
    char *dir;         /* <stateDir>/pins; NULL: not set up */
    char *socket_path; /* the engine's unix socket, NULL when it has none */
    int decided;       /* 0 undecided, 1 staged, -1 unstaged */
    char mode[200];
} pin = {.lock = PTHREAD_MUTEX_INITIALIZER, .mode = "undecided"};

struct pin_entry {
    char *canonical; /* the checked path */
    char *source;    /* what the engine got: the stage or the canonical path */
    char *target;
    bool staged;
};

struct cass_pins {
    struct pin_entry *v;
    size_t n;
};

/* Removes whatever is at path: a pin's mount first, then the stage. */
static void stage_remove(const char *path)
{
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        log_warn("pin %s: cannot unmount: %s", path, strerror(errno));
    if (rmdir(path) < 0 && errno == ENOTDIR)
        unlink(path);
}

static int decide(void);

static void sweep(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        _cleanup_free_ char *p = NULL;
        if (asprintf(&p, "%s/%s", dir, e->d_name) < 0)
            abort();
        stage_remove(p);
    }
    closedir(d);
}

int cass_pin_setup(const char *state_dir, const char *docker_host, struct cass_error **err)
{
    _cleanup_free_ char *dir = NULL;
    if (asprintf(&dir, "%s/pins", state_dir) < 0)
        abort();
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return cass_error_errno(err, errno, "cannot create %s", dir);
    /* Leftovers of a daemon that died with pins held. */
    sweep(dir);
    pthread_mutex_lock(&pin.lock);
    free(pin.dir);
    pin.dir = TAKE_PTR(dir);
    free(pin.socket_path);
    pin.socket_path = NULL;
    if (docker_host && !strncmp(docker_host, "unix://", 7))
        pin.socket_path = strdup(docker_host + 7);
    else if (docker_host && docker_host[0] == '/')
        pin.socket_path = strdup(docker_host);
    pin.decided = 0;
    snprintf(pin.mode, sizeof(pin.mode), "undecided");
    decide(); /* now if the engine answers, else at the first launch */
    pthread_mutex_unlock(&pin.lock);
    return 0;
}

const char *cass_pin_mode(void)
{
    return pin.mode;
}

/* Whether the process that listens on the engine's socket sees the mounts
 * this one makes: the same mount namespace. 1 yes, 0 no (why filled), -1
 * the engine did not answer (decide later). */
static int engine_shares_mounts(char *why, size_t n)
{
    if (!pin.socket_path) {
        snprintf(why, n, "the engine is not reached through a local socket");
        return 0;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(pin.socket_path) >= sizeof(sa.sun_path)) {
        snprintf(why, n, "the engine's socket path is too long");
        return 0;
    }
    memcpy(sa.sun_path, pin.socket_path, strlen(pin.socket_path) + 1);
    _cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -1;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0) {
        snprintf(why, n, "the engine's process is not known (SO_PEERCRED)");
        return 0;
    }
    char theirs[64] = "", ours[64] = "", path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)cred.pid);
    ssize_t a = readlink(path, theirs, sizeof(theirs) - 1);
    ssize_t b = readlink("/proc/self/ns/mnt", ours, sizeof(ours) - 1);
    if (a <= 0 || b <= 0) {
        snprintf(why, n, "the engine's mount namespace cannot be read (%s)", strerror(errno));
        return 0;
    }
    theirs[a] = ours[b] = '\0';
    if (strcmp(theirs, ours) != 0) {
        snprintf(why, n, "the engine runs in another mount namespace");
        return 0;
    }
    return 1;
}

/* Whether this process may make bind mounts: one of dir onto itself, made
 * and removed again. */
static bool can_mount(const char *dir, char *why, size_t n)
{
    if (mount(dir, dir, NULL, MS_BIND, NULL) < 0) {
        snprintf(why, n, "the daemon may not make mounts (%s)", strerror(errno));
        return false;
    }
    umount2(dir, MNT_DETACH);
    return true;
}

/* Decides, once, whether pins are staged; 1 staged, 0 not, -1 undecided
 * yet (the engine did not answer). Called with pin.lock held. */
static int decide(void)
{
    if (pin.decided)
        return pin.decided > 0;
    if (!pin.dir) {
        pin.decided = -1;
        snprintf(pin.mode, sizeof(pin.mode), "unstaged: no state directory was set up");
        return 0;
    }
    char why[160];
    int shares = engine_shares_mounts(why, sizeof(why));
    if (shares < 0)
        return -1;
    if (shares > 0 && !can_mount(pin.dir, why, sizeof(why)))
        shares = 0;
    pin.decided = shares > 0 ? 1 : -1;
    if (shares > 0)
        snprintf(pin.mode, sizeof(pin.mode), "staged");
    else
        snprintf(pin.mode, sizeof(pin.mode), "unstaged: %s", why);
    log_info("mount sources: %s", pin.mode);
    return shares > 0;
}

struct cass_pins *cass_pins_new(void)
{
    struct cass_pins *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    return p;
}

void cass_pins_free(struct cass_pins *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i].staged)
            stage_remove(p->v[i].source);
        free(p->v[i].canonical);
        free(p->v[i].source);
        free(p->v[i].target);
    }
    free(p->v);
    free(p);
}

const char *cass_pins_find(const struct cass_pins *p, const char *target)
{
    for (size_t i = 0; p && i < p->n; i++)
        if (!strcmp(p->v[i].target, target))
            return p->v[i].source;
    return NULL;
}

size_t cass_pins_count(const struct cass_pins *p)
{
    return p ? p->n : 0;
}

/* Opens an absolute canonical path with no symbolic link followed in any
 * component: openat2(RESOLVE_NO_SYMLINKS), or a walk with O_NOFOLLOW
 * where the kernel has no openat2. -1 with errno (ELOOP: a link). */
static int open_no_links(const char *path)
{
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
        .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
    if (fd >= 0 || errno != ENOSYS)
        return fd;
    int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    _cleanup_free_ char *copy = strdup(path);
    if (dir < 0 || !copy)
        return -1;
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        int next = openat(dir, c, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        struct stat st;
        if (next >= 0 && fstat(next, &st) == 0 && S_ISLNK(st.st_mode)) {
            close(next);
            next = -1;
            e = ELOOP;
        }
        close(dir);
        if (next < 0) {
            errno = e;
            return -1;
        }
        dir = next;
    }
    return dir;
}

static void entry_add(struct cass_pins *p, char *canonical, char *source, const char *target,
                      bool staged)
{
    struct pin_entry *v = realloc(p->v, (p->n + 1) * sizeof(*v));
    if (!v)
        abort();
    p->v = v;
    p->v[p->n++] = (struct pin_entry){
        .canonical = canonical, .source = source, .target = strdup(target), .staged = staged};
}

/* Makes a bind mount of the object behind fd at a fresh name in the pins
 * directory; the name (caller owns) or NULL with *err. */
static char *stage(int fd, const struct stat *st, const char *canonical, struct cass_error **err)
{
    unsigned char rnd[8];
    cass_hash_random(rnd, sizeof(rnd), NULL);
    _cleanup_free_ char *name = NULL;
    if (asprintf(&name, "%s/%02x%02x%02x%02x%02x%02x%02x%02x", pin.dir, rnd[0], rnd[1], rnd[2],
                 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]) < 0)
        abort();
    if (S_ISDIR(st->st_mode) ? mkdir(name, 0700) < 0 : mknod(name, S_IFREG | 0600, 0) < 0) {
        cass_error_errno(err, errno, "cannot make a pin for %s", canonical);
        return NULL;
    }
    char self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
    if (mount(self, name, NULL, MS_BIND | MS_REC, NULL) < 0) {
        cass_error_errno(err, errno, "cannot pin %s", canonical);
        stage_remove(name);
        return NULL;
    }
    return TAKE_PTR(name);
}

/* A refusal of path: CASS_ERR_FORBIDDEN with field as its item's path
 * when it came from a spec. */
static void refuse(struct cass_error **err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse(struct cass_error **err, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    cass_error_set(err, CASS_ERR_FORBIDDEN, "%s: %s", field ? field : "a mount source", msg);
    if (field && err && *err && !(*err)->n_items)
        cass_error_add_item(err, field, 0, 0, "%s", msg);
}

const char *cass_pins_add(struct cass_pins *p, const char *path, const char *target,
                          const char *field, const json_t *policy, const char *docker_host,
                          struct cass_error **err)
{
    _cleanup_free_ char *canonical = realpath(path, NULL);
    if (!canonical) {
        refuse(err, field, "%s cannot be resolved at launch: %s", path, strerror(errno));
        return NULL;
    }
    _cleanup_close_ int fd = open_no_links(canonical);
    if (fd < 0) {
        refuse(err, field, "%s changed while it was checked at launch (%s): not mounted", path,
               errno == ELOOP ? "a symbolic link appeared in its path" : strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        cass_error_errno(err, errno, "cannot stat %s", canonical);
        return NULL;
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
        refuse(err, field, "%s is neither a directory nor a regular file: not mounted", path);
        return NULL;
    }
    if (field && cass_policy_check_pinned(policy, docker_host, field, canonical, &st, err) < 0)
        return NULL;

    pthread_mutex_lock(&pin.lock);
    int staged = decide();
    char *source = NULL;
    if (staged > 0)
        source = stage(fd, &st, canonical, err);
    pthread_mutex_unlock(&pin.lock);
    if (staged > 0 && !source)
        return NULL;
    if (!source)
        source = strdup(canonical);
    entry_add(p, TAKE_PTR(canonical), source, target, staged > 0);
    return source;
}

int cass_pins_verify(const struct cass_pins *p, const json_t *engine, struct cass_error **err)
{
    for (size_t i = 0; p && i < p->n; i++) {
        const struct pin_entry *e = &p->v[i];
        const char *got = NULL;
        size_t k;
        json_t *m;
        json_array_foreach(engine, k, m)
        {
            const char *t = json_string_value(json_object_get(m, "target"));
            if (t && !strcmp(t, e->target))
                got = json_string_value(json_object_get(m, "source"));
        }
        if (!got || strcmp(got, e->source) != 0)
            return cass_error_set(err, CASS_ERR_FORBIDDEN,
                                  "the engine mounts %s at %s, not %s, the path that was checked "
                                  "(%s): the container was removed",
                                  got ? got : "nothing", e->target, e->source, e->canonical);
    }
    return 0;
}
