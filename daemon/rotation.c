#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "rotation.h"

#define TABLE_MAGIC 0x52534143u /* "CASR" */
#define TABLE_VERSION 1u

struct entry {
    bool used; /* a slot taken; false: free */
    char name[64];
    char run_id[32];
    struct cass_replica rep;
    bool in; /* in rotation; false once removed but still draining */
    int inflight;
    int failures;     /* consecutive failed health checks */
    double out_since; /* when it stopped taking requests; 0 while healthy */
    unsigned generation;
};

struct request {
    int kind; /* 0: free */
    char name[64];
    char run_id[32];
    unsigned long seq;
};

/* What every process maps: no pointers, fixed arrays only. */
struct table {
    uint32_t magic, version;
    uint64_t size; /* sizeof(struct table) of its maker */
    pthread_mutex_t lock;
    unsigned long counter; /* round robin */
    unsigned generation;
    int gateway_port;
    unsigned long request_seq;
    size_t top; /* slots[top..] are all free */
    struct request requests[CASS_ROTATION_REQUESTS];
    struct entry slots[CASS_ROTATION_SLOTS];
};

struct cass_rotation {
    struct table *t;
};

static int init_lock(pthread_mutex_t *m)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    int rc = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc;
}

static void table_init(struct table *t)
{
    memset(t, 0, sizeof(*t));
    init_lock(&t->lock);
    t->size = sizeof(*t);
    t->version = TABLE_VERSION;
    __atomic_store_n(&t->magic, TABLE_MAGIC, __ATOMIC_RELEASE);
}

static void lock(struct cass_rotation *r)
{
    int rc = pthread_mutex_lock(&r->t->lock);
    /* Its holder died (kill -9) between two stores into one slot: what it
     * left is a slot half updated at worst, every field still valid. */
    if (rc == EOWNERDEAD)
        pthread_mutex_consistent(&r->t->lock);
}

static void unlock(struct cass_rotation *r)
{
    pthread_mutex_unlock(&r->t->lock);
}

struct cass_rotation *cass_rotation_new(void)
{
    struct cass_rotation *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    void *m =
        mmap(NULL, sizeof(struct table), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        free(r);
        return NULL;
    }
    r->t = m;
    table_init(r->t);
    return r;
}

struct cass_rotation *cass_rotation_open(const char *path, struct cass_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        cass_error_errno(err, errno, "open %s", path);
        return NULL;
    }
    /* Made (or made again) by one process at a time. */
    if (flock(fd, LOCK_EX) < 0) {
        cass_error_errno(err, errno, "lock %s", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        cass_error_errno(err, errno, "stat %s", path);
        return NULL;
    }
    bool fresh = st.st_size != (off_t)sizeof(struct table);
    if (fresh && ftruncate(fd, 0) == 0 && ftruncate(fd, sizeof(struct table)) < 0) {
        cass_error_errno(err, errno, "size %s", path);
        return NULL;
    }
    void *m = mmap(NULL, sizeof(struct table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        cass_error_errno(err, errno, "map %s", path);
        return NULL;
    }
    struct table *t = m;
    if (fresh || t->magic != TABLE_MAGIC || t->version != TABLE_VERSION ||
        t->size != sizeof(struct table))
        table_init(t);
    flock(fd, LOCK_UN);
    struct cass_rotation *r = calloc(1, sizeof(*r));
    if (!r) {
        munmap(m, sizeof(struct table));
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    r->t = t;
    return r;
}

void cass_rotation_free(struct cass_rotation *r)
{
    if (!r)
        return;
    munmap(r->t, sizeof(struct table));
    free(r);
}

static struct entry *find(struct cass_rotation *r, const char *id)
{
    struct table *t = r->t;
    for (size_t i = 0; i < t->top; i++)
        if (t->slots[i].used && strcmp(t->slots[i].rep.id, id) == 0)
            return &t->slots[i];
    return NULL;
}

/* Entries out of rotation with nothing in flight are forgotten. */
static void prune(struct cass_rotation *r)
{
    struct table *t = r->t;
    for (size_t i = 0; i < t->top; i++)
        if (t->slots[i].used && !t->slots[i].in && t->slots[i].inflight == 0)
            t->slots[i].used = false;
    while (t->top > 0 && !t->slots[t->top - 1].used)
        t->top--;
}

static struct entry *slot_new(struct cass_rotation *r)
{
    struct table *t = r->t;
    for (size_t i = 0; i < CASS_ROTATION_SLOTS; i++) {
        if (t->slots[i].used)
            continue;
        struct entry *e = &t->slots[i];
        memset(e, 0, sizeof(*e));
        e->used = true;
        if (i >= t->top)
            t->top = i + 1;
        return e;
    }
    return NULL;
}

void cass_rotation_add(struct cass_rotation *r, const char *name, const char *run_id,
                       const struct cass_replica *rep)
{
    lock(r);
    struct entry *e = find(r, rep->id);
    if (!e)
        e = slot_new(r);
    if (!e) {
        unlock(r);
        /* Said, not silent: the replica runs but takes no request. */
        log_error("rotation: all %d slots taken; replica %.12s of %s takes no request",
                  CASS_ROTATION_SLOTS, rep->id, name);
        return;
    }
    snprintf(e->name, sizeof(e->name), "%s", name);
    snprintf(e->run_id, sizeof(e->run_id), "%s", run_id ? run_id : "");
    e->rep = *rep;
    if (!e->in) {
        e->failures = 0;
        e->out_since = 0;
    }
    e->generation = r->t->generation;
    e->in = true;
    unlock(r);
}

/* Takes out the members of name whose id is id, or whose run is run_id, or
 * (both NULL) all of them. */
static void take_out(struct cass_rotation *r, const char *name, const char *id, const char *run_id)
{
    lock(r);
    struct table *t = r->t;
    for (size_t i = 0; i < t->top; i++) {
        struct entry *e = &t->slots[i];
        if (e->used && strcmp(e->name, name) == 0 && (!id || strcmp(e->rep.id, id) == 0) &&
            (!run_id || strcmp(e->run_id, run_id) == 0))
            e->in = false;
    }
    prune(r);
    unlock(r);
}

void cass_rotation_remove(struct cass_rotation *r, const char *name, const char *id)
{
    take_out(r, name, id, NULL);
}

void cass_rotation_remove_run(struct cass_rotation *r, const char *name, const char *run_id)
{
    take_out(r, name, NULL, run_id);
}

void cass_rotation_clear(struct cass_rotation *r, const char *name)
{
    take_out(r, name, NULL, NULL);
}

int cass_rotation_pick(struct cass_rotation *r, const char *name, const char *const *skip, size_t n,
                       struct cass_replica *ret)
{
    lock(r);
    struct table *t = r->t;
    struct entry *cand[256];
    size_t nc = 0;
    /* Healthy replicas first; when none is, every member: a replica that is
     * slow to answer its health check under load still serves, and
     * overload must not become an outage. */
    for (int pass = 0; pass < 2 && nc == 0; pass++) {
        for (size_t i = 0; i < t->top && nc < 256; i++) {
            struct entry *e = &t->slots[i];
            if (!e->used || !e->in || strcmp(e->name, name) != 0 || (pass == 0 && e->out_since > 0))
                continue;
            bool skipped = false;
            for (size_t k = 0; k < n && !skipped; k++)
                skipped = strcmp(skip[k], e->rep.id) == 0;
            if (!skipped)
                cand[nc++] = e;
        }
    }
    if (nc == 0) {
        unlock(r);
        return -1;
    }
    struct entry *e = cand[t->counter++ % nc];
    e->inflight++;
    *ret = e->rep;
    unlock(r);
    return 0;
}

void cass_rotation_release(struct cass_rotation *r, const char *name, const char *id)
{
    (void)name;
    lock(r);
    struct entry *e = find(r, id);
    if (e && e->inflight > 0)
        e->inflight--;
    prune(r);
    unlock(r);
}

int cass_rotation_inflight(struct cass_rotation *r, const char *id)
{
    lock(r);
    struct entry *e = find(r, id);
    int n = e ? e->inflight : 0;
    unlock(r);
    return n;
}

/* Members of name; with healthy_only, those taking picks. */
static size_t count(struct cass_rotation *r, const char *name, bool healthy_only)
{
    lock(r);
    struct table *t = r->t;
    size_t n = 0;
    for (size_t i = 0; i < t->top; i++) {
        const struct entry *e = &t->slots[i];
        if (e->used && e->in && (!healthy_only || e->out_since == 0) && strcmp(e->name, name) == 0)
            n++;
    }
    unlock(r);
    return n;
}

size_t cass_rotation_count(struct cass_rotation *r, const char *name)
{
    return count(r, name, false);
}

bool cass_rotation_has(struct cass_rotation *r, const char *name, const char *id)
{
    lock(r);
    struct entry *e = find(r, id);
    bool has = e && e->in && strcmp(e->name, name) == 0;
    unlock(r);
    return has;
}

double cass_rotation_health(struct cass_rotation *r, const char *id, bool ok, int threshold,
                            double now)
{
    lock(r);
    struct entry *e = find(r, id);
    double out = -1;
    if (e && e->in) {
        if (ok) {
            e->failures = 0;
            e->out_since = 0;
        } else if (++e->failures >= threshold && e->out_since == 0) {
            e->out_since = now;
        }
        out = e->out_since > 0 ? now - e->out_since : 0;
    }
    unlock(r);
    return out;
}

size_t cass_rotation_count_healthy(struct cass_rotation *r, const char *name)
{
    return count(r, name, true);
}

double cass_rotation_out_seconds(struct cass_rotation *r, const char *id, double now)
{
    lock(r);
    struct entry *e = find(r, id);
    double out = !e || !e->in ? -1 : e->out_since > 0 ? now - e->out_since : 0;
    unlock(r);
    return out;
}

int cass_rotation_get(struct cass_rotation *r, const char *id, struct cass_replica *ret)
{
    lock(r);
    struct entry *e = find(r, id);
    int rc = e && e->in ? 0 : -1;
    if (rc == 0)
        *ret = e->rep;
    unlock(r);
    return rc;
}

void cass_rotation_gateway_attach(struct cass_rotation *r, int port)
{
    lock(r);
    struct table *t = r->t;
    for (size_t i = 0; i < t->top; i++)
        t->slots[i].inflight = 0;
    prune(r);
    t->gateway_port = port;
    unlock(r);
}

int cass_rotation_gateway_port(struct cass_rotation *r)
{
    lock(r);
    int port = r->t->gateway_port;
    unlock(r);
    return port;
}

unsigned cass_rotation_generation_begin(struct cass_rotation *r)
{
    lock(r);
    unsigned g = ++r->t->generation;
    unlock(r);
    return g;
}

void cass_rotation_sweep(struct cass_rotation *r, unsigned generation)
{
    lock(r);
    struct table *t = r->t;
    for (size_t i = 0; i < t->top; i++)
        if (t->slots[i].used && t->slots[i].generation != generation)
            t->slots[i].in = false;
    prune(r);
    unlock(r);
}

int cass_rotation_request(struct cass_rotation *r, enum cass_rotation_request_kind kind,
                          const char *name, const char *run_id)
{
    lock(r);
    struct table *t = r->t;
    struct request *free_slot = NULL;
    for (size_t i = 0; i < CASS_ROTATION_REQUESTS; i++) {
        struct request *q = &t->requests[i];
        if (q->kind == 0) {
            if (!free_slot)
                free_slot = q;
        } else if (q->kind == (int)kind && strcmp(q->name, name) == 0 &&
                   strcmp(q->run_id, run_id ? run_id : "") == 0) {
            unlock(r);
            return 0;
        }
    }
    if (!free_slot) {
        unlock(r);
        return -1;
    }
    snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
    snprintf(free_slot->run_id, sizeof(free_slot->run_id), "%s", run_id ? run_id : "");
    free_slot->seq = ++t->request_seq;
    free_slot->kind = (int)kind;
    unlock(r);
    return 0;
}

int cass_rotation_request_take(struct cass_rotation *r, char name[64], char run_id[32])
{
    lock(r);
    struct table *t = r->t;
    struct request *oldest = NULL;
    for (size_t i = 0; i < CASS_ROTATION_REQUESTS; i++) {
        struct request *q = &t->requests[i];
        if (q->kind != 0 && (!oldest || q->seq < oldest->seq))
            oldest = q;
    }
    int kind = 0;
    if (oldest) {
        kind = oldest->kind;
        memcpy(name, oldest->name, 64);
        memcpy(run_id, oldest->run_id, 32);
        oldest->kind = 0;
    }
    unlock(r);
    return kind;
}

void cass_rotation_test_abandon_lock(struct cass_rotation *r)
{
    lock(r);
}
