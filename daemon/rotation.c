#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rotation.h"

struct entry {
    char name[64];
    char run_id[32];
    struct cass_replica rep;
    bool in; /* in rotation; false once removed but still draining */
    int inflight;
    int failures;     /* consecutive failed health checks */
    double out_since; /* when it stopped taking requests; 0 while healthy */
    struct entry *next;
};

struct cass_rotation {
    pthread_mutex_t lock;
    struct entry *head;
    unsigned long counter; /* round robin */
};

struct cass_rotation *cass_rotation_new(void)
{
    struct cass_rotation *r = calloc(1, sizeof(*r));
    if (r)
        pthread_mutex_init(&r->lock, NULL);
    return r;
}

void cass_rotation_free(struct cass_rotation *r)
{
    if (!r)
        return;
    while (r->head) {
        struct entry *e = r->head;
        r->head = e->next;
        free(e);
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static struct entry *find(struct cass_rotation *r, const char *id)
{
    for (struct entry *e = r->head; e; e = e->next)
        if (strcmp(e->rep.id, id) == 0)
            return e;
    return NULL;
}

/* Entries out of rotation with nothing in flight are forgotten. */
static void prune(struct cass_rotation *r)
{
    for (struct entry **p = &r->head; *p;) {
        struct entry *e = *p;
        if (!e->in && e->inflight == 0) {
            *p = e->next;
            free(e);
        } else {
            p = &e->next;
        }
    }
}

void cass_rotation_add(struct cass_rotation *r, const char *name, const char *run_id,
                       const struct cass_replica *rep)
{
    pthread_mutex_lock(&r->lock);
    struct entry *e = find(r, rep->id);
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e) {
            pthread_mutex_unlock(&r->lock);
            return;
        }
        e->next = r->head;
        r->head = e;
    }
    snprintf(e->name, sizeof(e->name), "%s", name);
    snprintf(e->run_id, sizeof(e->run_id), "%s", run_id ? run_id : "");
    e->rep = *rep;
    if (!e->in) {
        e->failures = 0;
        e->out_since = 0;
    }
    e->in = true;
    pthread_mutex_unlock(&r->lock);
}

void cass_rotation_remove(struct cass_rotation *r, const char *name, const char *id)
{
    pthread_mutex_lock(&r->lock);
    struct entry *e = find(r, id);
    if (e && strcmp(e->name, name) == 0)
        e->in = false;
    prune(r);
    pthread_mutex_unlock(&r->lock);
}

void cass_rotation_remove_run(struct cass_rotation *r, const char *name, const char *run_id)
{
    pthread_mutex_lock(&r->lock);
    for (struct entry *e = r->head; e; e = e->next)
        if (strcmp(e->name, name) == 0 && strcmp(e->run_id, run_id) == 0)
            e->in = false;
    prune(r);
    pthread_mutex_unlock(&r->lock);
}

void cass_rotation_clear(struct cass_rotation *r, const char *name)
{
    pthread_mutex_lock(&r->lock);
    for (struct entry *e = r->head; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            e->in = false;
    prune(r);
    pthread_mutex_unlock(&r->lock);
}

int cass_rotation_pick(struct cass_rotation *r, const char *name, const char *const *skip, size_t n,
                       struct cass_replica *ret)
{
    pthread_mutex_lock(&r->lock);
    struct entry *cand[256];
    size_t nc = 0;
    /* Healthy replicas first; when none is, every member: a replica that is
     * slow to answer its health check under load still serves, and
     * overload must not become an outage. */
    for (int pass = 0; pass < 2 && nc == 0; pass++) {
        for (struct entry *e = r->head; e && nc < 256; e = e->next) {
            if (!e->in || strcmp(e->name, name) != 0 || (pass == 0 && e->out_since > 0))
                continue;
            bool skipped = false;
            for (size_t i = 0; i < n && !skipped; i++)
                skipped = strcmp(skip[i], e->rep.id) == 0;
            if (!skipped)
                cand[nc++] = e;
        }
    }
    if (nc == 0) {
        pthread_mutex_unlock(&r->lock);
        return -1;
    }
    struct entry *e = cand[r->counter++ % nc];
    e->inflight++;
    *ret = e->rep;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

void cass_rotation_release(struct cass_rotation *r, const char *name, const char *id)
{
    pthread_mutex_lock(&r->lock);
    struct entry *e = find(r, id);
    if (e && e->inflight > 0)
        e->inflight--;
    prune(r);
    pthread_mutex_unlock(&r->lock);
}

int cass_rotation_inflight(struct cass_rotation *r, const char *id)
{
    pthread_mutex_lock(&r->lock);
    struct entry *e = find(r, id);
    int n = e ? e->inflight : 0;
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* Members of name; with healthy_only, those taking picks. */
static size_t count(struct cass_rotation *r, const char *name, bool healthy_only)
{
    pthread_mutex_lock(&r->lock);
    size_t n = 0;
    for (struct entry *e = r->head; e; e = e->next)
        if (e->in && (!healthy_only || e->out_since == 0) && strcmp(e->name, name) == 0)
            n++;
    pthread_mutex_unlock(&r->lock);
    return n;
}

size_t cass_rotation_count(struct cass_rotation *r, const char *name)
{
    return count(r, name, false);
}

bool cass_rotation_has(struct cass_rotation *r, const char *name, const char *id)
{
    pthread_mutex_lock(&r->lock);
    struct entry *e = find(r, id);
    bool has = e && e->in && strcmp(e->name, name) == 0;
    pthread_mutex_unlock(&r->lock);
    return has;
}

double cass_rotation_health(struct cass_rotation *r, const char *id, bool ok, int threshold,
                            double now)
{
    pthread_mutex_lock(&r->lock);
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
    pthread_mutex_unlock(&r->lock);
    return out;
}

size_t cass_rotation_count_healthy(struct cass_rotation *r, const char *name)
{
    return count(r, name, true);
}

double cass_rotation_out_seconds(struct cass_rotation *r, const char *id, double now)
{
    pthread_mutex_lock(&r->lock);
    struct entry *e = find(r, id);
    double out = !e || !e->in ? -1 : e->out_since > 0 ? now - e->out_since : 0;
    pthread_mutex_unlock(&r->lock);
    return out;
}

int cass_rotation_get(struct cass_rotation *r, const char *id, struct cass_replica *ret)
{
    pthread_mutex_lock(&r->lock);
    struct entry *e = find(r, id);
    int rc = e && e->in ? 0 : -1;
    if (rc == 0)
        *ret = e->rep;
    pthread_mutex_unlock(&r->lock);
    return rc;
}
