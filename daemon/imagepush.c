/* Pushing a local image into a configured registry: see imagepush.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cleanup.h"
#include "engine.h"
#include "imagepush.h"
#include "images.h"

/* Longest engine status text passed on. */
#define STATUS_MAX 200

char *cass_imagepush_target(const json_t *cfg, const char *image, const char *registry,
                            struct cass_error **err)
{
    struct cass_image_ref r = {0};
    if (cass_images_parse(image, &r, err) < 0)
        return NULL;
    _cleanup_free_ char *tag = r.tag ? strdup(r.tag) : NULL;
    _cleanup_free_ char *from = strdup(r.registry);
    cass_images_ref_clear(&r);
    if (!tag) {
        cass_error_set(err, CASS_ERR_INVALID, "%s: push a tag, not a digest", image);
        return NULL;
    }
    /* The path as written: without the registry part and the tag. */
    const char *path = image;
    size_t flen = strlen(from);
    if (strncasecmp(image, from, flen) == 0 && image[flen] == '/')
        path = image + flen + 1;
    else if (strncmp(image, "index.docker.io/", 16) == 0)
        path = image + 16;
    size_t n = cass_images_name_length(path);

    const json_t *list = cfg ? json_object_get(cfg, "registries") : NULL;
    if (!registry) {
        if (cass_images_registry_of(cfg, image, NULL, NULL) == 1 && path != image)
            registry = from;
        else if (json_array_size(list) == 1)
            registry = json_string_value(json_array_get(list, 0));
        else {
            cass_error_set(err, CASS_ERR_INVALID,
                           "%s: name the registry to push to (--registry): registries has %zu",
                           image, json_array_size(list));
            return NULL;
        }
    }
    char *target = NULL;
    if (asprintf(&target, "%s/%.*s:%s", registry, (int)n, path, tag) < 0) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    int listed = cass_images_registry_of(cfg, target, NULL, err);
    if (listed <= 0) {
        if (listed == 0)
            cass_error_set(err, CASS_ERR_FORBIDDEN,
                           "%s: registry %s is not in registries; images are pushed only to those",
                           target, registry);
        free(target);
        return NULL;
    }
    return target;
}

/* A layer ID as the engine prints it: a short hex digest. */
static bool layer_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 64 && strspn(s, "0123456789abcdef") == n;
}

json_t *cass_imagepush_progress(const json_t *line)
{
    const char *status = json_string_value(json_object_get(line, "status"));
    const char *id = json_string_value(json_object_get(line, "id"));
    const json_t *pd = json_object_get(line, "progressDetail");
    json_t *cur = json_object_get(pd, "current"), *tot = json_object_get(pd, "total");
    if (!status)
        return NULL;
    /* NULL for a status cut in the middle of a UTF-8 sequence. */
    json_t *text = json_stringn(status, strnlen(status, STATUS_MAX));
    json_t *o = text ? json_pack("{s:o}", "status", text) : NULL;
    if (!o)
        return NULL;
    if (layer_id(id))
        json_object_set_new(o, "layer", json_string(id));
    if (json_is_integer(cur) && json_integer_value(cur) >= 0)
        json_object_set_new(o, "current", json_integer(json_integer_value(cur)));
    if (json_is_integer(tot) && json_integer_value(tot) > 0)
        json_object_set_new(o, "total", json_integer(json_integer_value(tot)));
    return o;
}

struct cass_imagepush {
    struct cass_imagepush *next; /* in live */
    int fds[2];
    atomic_int cancel;
    pthread_t thread;
    struct cass_engine *engine;
    char *target;
    bool untag; /* the tag target was made for the push */
};

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cass_imagepush *live;

void cass_imagepush_cancel_all(void)
{
    pthread_mutex_lock(&live_lock);
    for (struct cass_imagepush *p = live; p; p = p->next)
        atomic_store(&p->cancel, 1);
    pthread_mutex_unlock(&live_lock);
}

/* One JSON line into the pipe; 1 once the client went away. */
static int put_line(struct cass_imagepush *p, const json_t *o)
{
    _cleanup_free_ char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    _cleanup_free_ char *line = NULL;
    if (!s || asprintf(&line, "%s\n", s) < 0)
        return 0;
    const char *d = line;
    size_t n = strlen(line);
    while (n > 0) {
        ssize_t w = write(p->fds[1], d, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 1;
        d += w;
        n -= (size_t)w;
    }
    return 0;
}

static int on_progress(json_t *line, void *userdata)
{
    struct cass_imagepush *p = userdata;
    _cleanup_json_ json_t *o = cass_imagepush_progress(line);
    if (o && put_line(p, o))
        return 1;
    return atomic_load(&p->cancel) ? 1 : 0;
}

static void *push_thread(void *arg)
{
    struct cass_imagepush *p = arg;
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_free_ char *digest = NULL;
    int rc =
        cass_engine_image_push(p->engine, p->target, on_progress, p, &p->cancel, &digest, &err);
    if (!atomic_load(&p->cancel)) {
        _cleanup_json_ json_t *last = rc < 0 ? json_pack("{s:s}", "error", err->message)
                                             : json_pack("{s:s,s:s,s:s?}", "status", "pushed",
                                                         "image", p->target, "digest", digest);
        if (last)
            put_line(p, last);
    }
    if (p->untag) {
        _cleanup_error_ struct cass_error *uerr = NULL;
        cass_engine_image_untag(p->engine, p->target, &uerr);
    }
    close(p->fds[1]);
    p->fds[1] = -1;
    return NULL;
}

struct cass_imagepush *cass_imagepush_start(struct cass_daemon *d, const char *image,
                                            const char *target, struct cass_error **err)
{
    struct cass_engine *e = cass_daemon_engine(d, err);
    if (!e)
        return NULL;
    struct cass_engine_image img = {0};
    if (cass_engine_image_inspect(e, image, &img, err) < 0) {
        if (err && *err && (*err)->kind == CASS_ERR_NOT_FOUND)
            cass_error_prefix(err, "image %s is not in the engine", image);
        return NULL;
    }
    cass_engine_image_clear(&img);
    /* A tag already there is the user's: pushed as it is, and kept. */
    _cleanup_error_ struct cass_error *terr = NULL;
    bool had = cass_engine_image_inspect(e, target, &img, &terr) == 0;
    cass_engine_image_clear(&img);
    if (!had && terr->kind != CASS_ERR_NOT_FOUND) {
        cass_error_merge(err, &terr);
        return NULL;
    }
    if (!had && cass_engine_image_tag(e, image, target, err) < 0)
        return NULL;
    struct cass_imagepush *p = calloc(1, sizeof(*p));
    if (!p || !(p->target = strdup(target)) || pipe2(p->fds, O_CLOEXEC) < 0 ||
        fcntl(p->fds[0], F_SETFL, O_NONBLOCK) < 0) {
        if (p)
            free(p->target);
        free(p);
        if (!had)
            cass_engine_image_untag(e, target, NULL);
        cass_error_set(err, CASS_ERR_INTERNAL, "cannot make a pipe for the push");
        return NULL;
    }
    p->engine = e;
    p->untag = !had;
    if (pthread_create(&p->thread, NULL, push_thread, p) != 0) {
        close(p->fds[0]);
        close(p->fds[1]);
        if (!had)
            cass_engine_image_untag(e, target, NULL);
        free(p->target);
        free(p);
        cass_error_set(err, CASS_ERR_INTERNAL, "cannot start the push thread");
        return NULL;
    }
    pthread_mutex_lock(&live_lock);
    p->next = live;
    live = p;
    pthread_mutex_unlock(&live_lock);
    return p;
}

long cass_imagepush_read(struct cass_imagepush *p, char *buf, size_t max,
                         struct cass_stream_wait *wait)
{
    return cass_stream_read_fd(p->fds[0], buf, max, wait);
}

void cass_imagepush_close(struct cass_imagepush *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&live_lock);
    for (struct cass_imagepush **q = &live; *q; q = &(*q)->next)
        if (*q == p) {
            *q = p->next;
            break;
        }
    pthread_mutex_unlock(&live_lock);
    atomic_store(&p->cancel, 1);
    close(p->fds[0]);
    pthread_join(p->thread, NULL);
    free(p->target);
    free(p);
}
