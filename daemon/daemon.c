#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "daemon.h"
#include "cfg.h"
#include "cleanup.h"
#include "hash.h"
#include "protocol.h"
#include "engine.h"
#include "rotation.h"
#include "store.h"

const char *cass_daemon_config_str(const struct cass_daemon *d, const char *path)
{
    return json_string_value(cass_cfg_get(d->config, path));
}

json_int_t cass_daemon_config_int(const struct cass_daemon *d, const char *path)
{
    json_t *v = cass_cfg_get(d->config, path);
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

struct cass_engine *cass_daemon_engine(struct cass_daemon *d, struct cass_error **err)
{
    pthread_mutex_lock(&d->engine_lock);
    struct cass_engine *e = d->engine;
    if (!e) {
        struct cass_error *cerr = NULL;
        e = cass_engine_new(cass_daemon_config_str(d, "dockerHost"), &cerr);
        free(d->engine_error);
        d->engine_error = NULL;
        if (e)
            d->engine = e;
        else {
            d->engine_error = strdup(cerr && cerr->message ? cerr->message : "unreachable");
            cass_error_merge(err, &cerr);
        }
    }
    pthread_mutex_unlock(&d->engine_lock);
    return e;
}

const char *cass_daemon_gateway_scheme(const struct cass_daemon *d)
{
    return cass_cfg_get(d->config, "gateway.tls") ? "https" : "http";
}

json_t *cass_daemon_policy(struct cass_daemon *d)
{
    pthread_mutex_lock(&d->policy_lock);
    json_t *p = json_incref(d->policy);
    pthread_mutex_unlock(&d->policy_lock);
    return p;
}

void cass_daemon_policy_set(struct cass_daemon *d, json_t *policy)
{
    pthread_mutex_lock(&d->policy_lock);
    json_t *old = d->policy;
    d->policy = policy;
    pthread_mutex_unlock(&d->policy_lock);
    json_decref(old);
}

struct cass_daemon *cass_daemon_new(json_t *config)
{
    struct cass_daemon *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->config = config;
    pthread_mutex_init(&d->policy_lock, NULL);
    d->policy = json_incref(json_object_get(config, "policy"));
    d->started_at = time(NULL);
    pthread_mutex_init(&d->engine_lock, NULL);
    pthread_mutex_init(&d->events_lock, NULL);
    pthread_cond_init(&d->events_cond, NULL);
    d->rotation = cass_rotation_new();
    if (!d->rotation) {
        free(d);
        return NULL;
    }
    return d;
}

int cass_daemon_state_value(const struct cass_daemon *d, const char *name, size_t nbytes, char *buf,
                            size_t n, struct cass_error **err)
{
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s/%s", cass_daemon_config_str(d, "stateDir"), name) < 0)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    char got[160] = {0};
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t len = read(fd, got, sizeof(got) - 1);
        while (len > 0 && (got[len - 1] == '\n' || got[len - 1] == ' '))
            got[--len] = '\0';
        if (len < 8 || len >= (ssize_t)n ||
            strspn(got, "abcdefghijklmnopqrstuvwxyz0123456789") != (size_t)len)
            return cass_error_set(err, CASS_ERR_IO, "%s: not a value of this daemon", path);
    } else if (errno == ENOENT) {
        unsigned char raw[64];
        if (nbytes > sizeof(raw) || 2 * nbytes >= n)
            return cass_error_set(err, CASS_ERR_INTERNAL, "%s: %zu bytes do not fit", path, nbytes);
        if (cass_hash_random(raw, nbytes, err) < 0)
            return -1;
        for (size_t i = 0; i < nbytes; i++)
            snprintf(got + 2 * i, 3, "%02x", raw[i]);
        _cleanup_close_ int wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (wfd < 0 || write(wfd, got, strlen(got)) != (ssize_t)strlen(got) || fsync(wfd) < 0)
            return cass_error_errno(err, errno, "write %s", path);
    } else {
        return cass_error_errno(err, errno, "open %s", path);
    }
    snprintf(buf, n, "%s", got);
    return 0;
}

int cass_daemon_instance_load(struct cass_daemon *d, struct cass_error **err)
{
    char buf[sizeof(d->instance)];
    if (cass_daemon_state_value(d, "instance", 12, buf, sizeof(buf), err) < 0)
        return -1;
    snprintf(d->instance, sizeof(d->instance), "%s", buf);
    snprintf(d->instance_label, sizeof(d->instance_label), "%s=%s", CASS_LABEL_INSTANCE, buf);
    return 0;
}

void cass_daemon_events_notify(struct cass_daemon *d)
{
    pthread_mutex_lock(&d->events_lock);
    d->events_seq++;
    pthread_cond_broadcast(&d->events_cond);
    pthread_mutex_unlock(&d->events_lock);
}

void cass_daemon_free(struct cass_daemon *d)
{
    if (!d)
        return;
    cass_engine_free(d->engine);
    cass_store_close(d->store);
    cass_rotation_free(d->rotation);
    json_decref(d->policy);
    pthread_mutex_destroy(&d->policy_lock);
    json_decref(d->config);
    free(d->engine_error);
    pthread_mutex_destroy(&d->engine_lock);
    pthread_mutex_destroy(&d->events_lock);
    pthread_cond_destroy(&d->events_cond);
    free(d);
}

unsigned cass_daemon_drain(const atomic_uint *requests, const atomic_uint *connections,
                           long timeout_ms)
{
    const long step_ms = 10;
    for (long waited = 0; waited < timeout_ms; waited += step_ms) {
        unsigned busy = atomic_load(requests);
        if (busy == 0 && (atomic_load(connections) == 0 || waited >= CASS_DAEMON_DRAIN_GRACE_MS))
            return 0;
        nanosleep(&(struct timespec){.tv_nsec = step_ms * 1000000L}, NULL);
    }
    return atomic_load(requests);
}
