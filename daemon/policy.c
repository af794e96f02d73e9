#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "error.h"
#include "policy.h"
#include "yaml.h"

/* Host paths never mounted, whatever policy.mountRoots says: the paths
 * themselves, anything under them, and anything that contains them. "/"
 * only matches itself (everything is under it). /run holds the control
 * sockets of the engine, containerd, systemd and D-Bus, all root-equivalent. */
// clang-format off
static const char *const denied_paths[] = {
    "/", "/proc", "/sys", "/dev", "/etc", "/boot", "/root", "/run", "/var/run",
    "/var/lib/docker", NULL,
};
// clang-format on

/* Engine sockets never mounted, in addition to the configured one. */
static const char *const engine_sockets[] = {
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    NULL,
};

/* Container paths a mount must not shadow: these and anything under them. */
static const char *const denied_targets_tree[] = {"/proc", "/sys", "/dev", NULL};
/* ... and these exactly (a file under /etc may be mounted, /etc itself not). */
static const char *const denied_targets_exact[] = {"/", "/etc", NULL};

/* Defaults of schemas/config.schema.json, used for missing members. */
#define DEFAULT_IMAGE_PATTERN "cassiny/*"
#define DEFAULT_MOUNT_ROOT "/srv"
#define DEFAULT_MAX_CPUS 8.0
#define DEFAULT_MAX_MEMORY 17179869184LL
#define DEFAULT_MAX_GPUS 0LL
#define DEFAULT_MAX_PIDS 4096

/* Longest list of patterns or roots quoted in one message. */
#define LIST_MAX 400

/* A host path in the two forms that matter: as written (lexically
 * normalized) and resolved (realpath, NULL when it does not exist). */
struct host_path {
    char *lexical;
    char *resolved;
};

struct ctx {
    const json_t *pos;
    struct cass_error *items; /* collected refusals */
    const json_t *images;     /* borrowed; NULL: the default */
    struct host_path *roots;
    size_t n_roots;
    char *roots_text;
    struct host_path *denied;
    size_t n_denied;
    struct host_path *sockets;
    size_t n_sockets;
    double max_cpus;
    long long max_memory;
    long long max_gpus;
    long long max_pids;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        abort(); /* as lib/error.c: nothing sane remains */
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        abort();
    return p;
}

/* Lexical normalization of an absolute path: no "//", no "." components,
 * ".." pops, no trailing "/". Caller owns. */
static char *path_normalize(const char *p)
{
    size_t len = strlen(p);
    char *out = xmalloc(len + 2);
    size_t o = 0;
    const char *s = p;
    while (*s) {
        while (*s == '/')
            s++;
        size_t n = strcspn(s, "/");
        if (n == 0)
            break;
        if (n == 1 && s[0] == '.') {
            /* skip */
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else {
            out[o++] = '/';
            memcpy(out + o, s, n);
            o += n;
        }
        s += n;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return out;
}

/* Whether path is base or lies under it, on component boundaries (so
 * "/srvx" is not under "/srv"). Both normalized. */
static bool path_within(const char *path, const char *base)
{
    if (!strcmp(base, "/"))
        return true;
    size_t n = strlen(base);
    return strncmp(path, base, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void host_path_init(struct host_path *hp, const char *p)
{
    hp->lexical = path_normalize(p);
    hp->resolved = realpath(hp->lexical, NULL);
}

static void host_paths_free(struct host_path *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].lexical);
        free(v[i].resolved);
    }
    free(v);
}

static void ctx_release(struct ctx *c)
{
    host_paths_free(c->roots, c->n_roots);
    host_paths_free(c->denied, c->n_denied);
    host_paths_free(c->sockets, c->n_sockets);
    free(c->roots_text);
    cass_error_free(c->items);
}

/* "a, b, c" of the strings of a JSON array, cut at LIST_MAX bytes. Caller
 * owns. */
static char *join_list(const json_t *arr, const char *dflt)
{
    char buf[LIST_MAX + 8];
    size_t o = 0;
    if (!arr)
        return xstrdup(dflt);
    if (json_array_size(arr) == 0)
        return xstrdup("none");
    buf[0] = '\0';
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        size_t n = strlen(s);
        if (o + n + 2 > LIST_MAX) {
            snprintf(buf + o, sizeof(buf) - o, "%s...", i ? ", " : "");
            break;
        }
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? ", " : "", s);
    }
    return xstrdup(buf);
}

/* Borrowed member of policy that must be of the given type when present. */
static int policy_member(const json_t *policy, const char *key, json_type type, const json_t **ret,
                         struct cass_error **err)
{
    const json_t *v = policy ? json_object_get(policy, key) : NULL;
    if (v && !(json_typeof(v) == type || (type == JSON_REAL && json_is_integer(v)))) /* 8 for 8.0 */
        return cass_error_set(err, CASS_ERR_INTERNAL, "policy.%s has the wrong type", key);
    *ret = v;
    return 0;
}

static int string_array(const json_t *arr, const char *key, struct cass_error **err)
{
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *v = json_array_get(arr, i);
        if (!json_is_string(v) || json_string_length(v) == 0)
            return cass_error_set(err, CASS_ERR_INTERNAL,
                                  "policy.%s[%zu] must be a non-empty string", key, i);
        if (strlen(json_string_value(v)) != json_string_length(v))
            return cass_error_set(err, CASS_ERR_INTERNAL, "policy.%s[%zu] contains NUL", key, i);
    }
    return 0;
}

static int ctx_init(struct ctx *c, const json_t *policy, const char *docker_host, const json_t *pos,
                    struct cass_error **err)
{
    const json_t *images = NULL, *roots = NULL, *cpus = NULL, *mem = NULL, *gpus = NULL,
                 *pids = NULL;

    memset(c, 0, sizeof(*c));
    c->pos = pos;
    if (policy && !json_is_object(policy))
        return cass_error_set(err, CASS_ERR_INTERNAL, "policy must be an object");
    if (policy_member(policy, "images", JSON_ARRAY, &images, err) < 0 ||
        policy_member(policy, "mountRoots", JSON_ARRAY, &roots, err) < 0 ||
        policy_member(policy, "maxCpus", JSON_REAL, &cpus, err) < 0 ||
        policy_member(policy, "maxMemory", JSON_INTEGER, &mem, err) < 0 ||
        policy_member(policy, "maxGpus", JSON_INTEGER, &gpus, err) < 0 ||
        policy_member(policy, "maxPids", JSON_INTEGER, &pids, err) < 0)
        return -1;
    if ((images && string_array(images, "images", err) < 0) ||
        (roots && string_array(roots, "mountRoots", err) < 0))
        return -1;
    for (size_t i = 0; roots && i < json_array_size(roots); i++)
        if (json_string_value(json_array_get(roots, i))[0] != '/')
            return cass_error_set(err, CASS_ERR_INTERNAL,
                                  "policy.mountRoots[%zu] must be an absolute path", i);

    c->images = images;
    c->max_cpus = cpus ? json_number_value(cpus) : DEFAULT_MAX_CPUS;
    c->max_memory = mem ? (long long)json_integer_value(mem) : DEFAULT_MAX_MEMORY;
    c->max_gpus = gpus ? (long long)json_integer_value(gpus) : DEFAULT_MAX_GPUS;
    c->max_pids = pids ? (long long)json_integer_value(pids) : DEFAULT_MAX_PIDS;

    /* Roots, denied paths and sockets are realpath'd once per check, so a
     * symlinked /var/run or /var/lib/docker is recognised too. */
    c->n_roots = roots ? json_array_size(roots) : 1;
    c->roots = xmalloc((c->n_roots ? c->n_roots : 1) * sizeof(*c->roots));
    for (size_t i = 0; i < c->n_roots; i++)
        host_path_init(&c->roots[i],
                       roots ? json_string_value(json_array_get(roots, i)) : DEFAULT_MOUNT_ROOT);
    c->roots_text = join_list(roots, DEFAULT_MOUNT_ROOT);

    c->denied = xmalloc(sizeof(denied_paths) / sizeof(denied_paths[0]) * sizeof(*c->denied));
    for (; denied_paths[c->n_denied]; c->n_denied++)
        host_path_init(&c->denied[c->n_denied], denied_paths[c->n_denied]);

    const char *configured = NULL;
    if (docker_host && !strncmp(docker_host, "unix://", 7))
        configured = docker_host + 7;
    else if (docker_host && docker_host[0] == '/')
        configured = docker_host;
    size_t n_known = sizeof(engine_sockets) / sizeof(engine_sockets[0]) - 1;
    c->sockets = xmalloc((n_known + 1) * sizeof(*c->sockets));
    for (; c->n_sockets < n_known; c->n_sockets++)
        host_path_init(&c->sockets[c->n_sockets], engine_sockets[c->n_sockets]);
    if (configured && configured[0] == '/')
        host_path_init(&c->sockets[c->n_sockets++], configured);
    return 0;
}

static void refuse(struct ctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void refuse(struct ctx *c, const char *path, const char *fmt, ...)
{
    int line, col;
    va_list ap;
    char *msg = NULL;

    cass_yaml_pos_lookup(c->pos, path, 0, &line, &col);
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    cass_error_add_item(&c->items, path, line, col, "%s", msg);
    free(msg);
}

/* ---- images --------------------------------------------------------------- */

/* "sha256:" and 64 lowercase hex digits: an image ID, not a name. ("sha256"
 * alone is a valid repository name, so "sha256:latest" is a name.) */
static bool is_image_id(const char *ref)
{
    if (strncmp(ref, "sha256:", 7) != 0)
        return false;
    const char *h = ref + 7;
    return strlen(h) == 64 && strspn(h, "0123456789abcdef") == 64;
}

static bool image_allowed(const struct ctx *c, const char *ref)
{
    static const char *const dflt[] = {DEFAULT_IMAGE_PATTERN, NULL};
    size_t n = c->images ? json_array_size(c->images) : 1;
    bool id = is_image_id(ref);

    /* the name part of name@sha256:...; "name" and "name:latest" are the
     * same image, so each also tries the other */
    _cleanup_free_ char *name = NULL;
    _cleanup_free_ char *other = NULL;
    if (!id) {
        const char *at = strchr(ref, '@');
        const char *last = strrchr(ref, '/');
        const char *tag = strchr(last ? last : ref, ':');
        size_t len = strlen(ref);
        if (at) {
            name = strndup(ref, (size_t)(at - ref));
            if (!name)
                abort();
        } else if (!tag) {
            if (asprintf(&other, "%s:latest", ref) < 0)
                abort();
        } else if (!strcmp(tag, ":latest")) {
            other = strndup(ref, len - strlen(":latest"));
            if (!other)
                abort();
        }
    }

    for (size_t i = 0; i < n; i++) {
        const char *p = c->images ? json_string_value(json_array_get(c->images, i)) : dflt[i];
        bool id_pattern = !strncmp(p, "sha256:", 7);
        /* an ID names no repository, so only ID patterns ("sha256:*" or one
         * literal ID) allow it; "*" allows every name but no ID */
        if (id != id_pattern)
            continue;
        if (fnmatch(p, ref, 0) == 0 || (name && fnmatch(p, name, 0) == 0) ||
            (other && fnmatch(p, other, 0) == 0))
            return true;
    }
    return false;
}

static void check_image(struct ctx *c, const json_t *spec)
{
    const char *ref = json_string_value(json_object_get(spec, "image"));
    if (!ref) {
        refuse(c, "spec.image", "no image given; policy.images needs one");
        return;
    }
    if (image_allowed(c, ref))
        return;
    _cleanup_free_ char *pats = join_list(c->images, DEFAULT_IMAGE_PATTERN);
    if (is_image_id(ref))
        refuse(c, "spec.image",
               "image \"%.80s\" is not allowed: an image ID needs a policy.images pattern "
               "starting with sha256: (such as sha256:*); policy.images allows %s",
               ref, pats);
    else
        refuse(c, "spec.image", "image \"%.520s\" is not allowed: policy.images allows %s", ref,
               pats);
}

/* ---- resources ------------------------------------------------------------- */

static void check_resources(struct ctx *c, const json_t *spec)
{
    const json_t *res = json_object_get(spec, "resources");
    const json_t *cpus = json_object_get(res, "cpus");
    const json_t *mem = json_object_get(res, "memory");
    const json_t *gpus = json_object_get(res, "gpus");
    const json_t *pids = json_object_get(res, "pids");

    /* A missing limit would mean an unlimited container: fail closed. */
    if (!json_is_number(cpus))
        refuse(c, "spec.resources.cpus", "no cpus limit given; policy.maxCpus (%.15g) needs one",
               c->max_cpus);
    else if (json_number_value(cpus) > c->max_cpus)
        refuse(c, "spec.resources.cpus", "cpus %.15g exceeds policy.maxCpus (%.15g)",
               json_number_value(cpus), c->max_cpus);

    if (!json_is_number(mem))
        refuse(c, "spec.resources.memory",
               "no memory limit given; policy.maxMemory (%lld) needs one", c->max_memory);
    else if (json_is_integer(mem) && json_integer_value(mem) > c->max_memory)
        refuse(c, "spec.resources.memory", "memory %lld bytes exceeds policy.maxMemory (%lld)",
               (long long)json_integer_value(mem), c->max_memory);
    else if (json_is_real(mem) && json_real_value(mem) > (double)c->max_memory)
        refuse(c, "spec.resources.memory", "memory %.0f bytes exceeds policy.maxMemory (%lld)",
               json_real_value(mem), c->max_memory);

    /* absent gpus means none */
    if (gpus && !json_is_integer(gpus))
        refuse(c, "spec.resources.gpus", "gpus must be a whole number");
    else if (gpus && json_integer_value(gpus) > c->max_gpus) {
        if (c->max_gpus <= 0)
            refuse(c, "spec.resources.gpus", "GPUs are not allowed by policy.maxGpus (0)");
        else
            refuse(c, "spec.resources.gpus", "gpus %lld exceeds policy.maxGpus (%lld)",
                   (long long)json_integer_value(gpus), c->max_gpus);
    }

    /* absent pids means policy.defaultPids, never unlimited */
    if (pids && (!json_is_integer(pids) || json_integer_value(pids) < 1))
        refuse(c, "spec.resources.pids", "pids must be a positive whole number");
    else if (pids && json_integer_value(pids) > c->max_pids)
        refuse(c, "spec.resources.pids", "pids %lld exceeds policy.maxPids (%lld)",
               (long long)json_integer_value(pids), c->max_pids);
}

/* ---- host paths ------------------------------------------------------------ */

static bool under_a_root(const struct ctx *c, const char *p)
{
    for (size_t i = 0; i < c->n_roots; i++)
        if (path_within(p, c->roots[i].lexical) ||
            (c->roots[i].resolved && path_within(p, c->roots[i].resolved)))
            return true;
    return false;
}

/* The denied path that p is, lies under or contains; NULL if none. */
static const char *denied_for(const struct ctx *c, const char *p, const char **ret_relation)
{
    for (size_t i = 0; i < c->n_denied; i++) {
        const struct host_path *d = &c->denied[i];
        const char *forms[] = {d->lexical, d->resolved};
        for (size_t k = 0; k < 2; k++) {
            const char *f = forms[k];
            if (!f)
                continue;
            if (!strcmp(p, f))
                *ret_relation = "is";
            else if (strcmp(f, "/") && path_within(p, f))
                *ret_relation = "is under";
            else if (strcmp(f, "/") && path_within(f, p))
                *ret_relation = "contains";
            else
                continue;
            return d->lexical;
        }
    }
    return NULL;
}

/* The engine socket that p is or contains, in the form that matched (as
 * configured or resolved); NULL if none. */
static const char *socket_for(const struct ctx *c, const char *p, const struct stat *st)
{
    for (size_t i = 0; i < c->n_sockets; i++) {
        const struct host_path *s = &c->sockets[i];
        if (path_within(s->lexical, p))
            return s->lexical;
        if (s->resolved && path_within(s->resolved, p))
            return s->resolved;
        /* the same socket under another name (a hard link) */
        struct stat sst;
        if (st && S_ISSOCK(st->st_mode) && s->resolved && stat(s->resolved, &sst) == 0 &&
            sst.st_dev == st->st_dev && sst.st_ino == st->st_ino)
            return s->lexical;
    }
    return NULL;
}

/* Checks one host path a spec brings in (mount source, job input, model
 * artifact); field is its path in the document. */
static void check_source_at(struct ctx *c, const char *field, const char *src,
                            const struct stat *pinned)
{
    if (!src || src[0] != '/') {
        refuse(c, field, "must be an absolute host path under policy.mountRoots (%s)",
               c->roots_text);
        return;
    }
    _cleanup_free_ char *lex = path_normalize(src);
    bool lex_in_root = under_a_root(c, lex);
    /* the kernel resolves ".." after following links, as Docker will; a
     * pinned object was reached along src itself, with no link followed */
    _cleanup_free_ char *res = pinned ? xstrdup(src) : realpath(src, NULL);
    int res_errno = res ? 0 : errno;
    struct stat st;
    bool have_st = pinned ? (st = *pinned, true) : res && stat(res, &st) == 0;

    /* The deny list and the socket win over the roots, so they are checked
     * on both forms whatever the roots say. */
    const char *rel = NULL;
    const char *d = denied_for(c, lex, &rel);
    bool via_link = false;
    if (!d && res) {
        d = denied_for(c, res, &rel);
        via_link = d != NULL;
    }
    _cleanup_free_ char *subject = NULL;
    if (d && asprintf(&subject, via_link ? "%s resolves to %s, which" : "%s", src, res) < 0)
        abort();
    if (d && !strcmp(d, "/"))
        refuse(c, field, "%s is the host's root directory, which is never mounted", subject);
    else if (d && !strcmp(rel, "is"))
        refuse(c, field,
               "%s is a protected host path, never mounted whatever policy.mountRoots says",
               subject);
    else if (d)
        refuse(c, field,
               "%s %s %s, a protected host path never mounted whatever policy.mountRoots says",
               subject, rel, d);

    const char *sock = socket_for(c, lex, NULL);
    if (!sock && res)
        sock = socket_for(c, res, have_st ? &st : NULL);
    if (sock) {
        _cleanup_free_ char *why = NULL;
        bool by_lex = socket_for(c, lex, NULL) != NULL;
        const char *eff = by_lex || !res ? lex : res;
        const char *relation = !strcmp(sock, eff)       ? "is"
                               : path_within(sock, eff) ? "contains"
                                                        : "is the same socket as";
        int r;
        if (by_lex && !strcmp(sock, lex))
            r = asprintf(&why, "%s", "");
        else if (by_lex || !strcmp(res, lex))
            r = asprintf(&why, " (%s %s %s)", src, relation, sock);
        else
            r = asprintf(&why, " (%s resolves to %s, which %s %s)", src, res, relation, sock);
        if (r < 0)
            abort();
        refuse(c, field, "mounting the Docker socket is never allowed%s", why);
    }

    /* Outside the roots as written: say so without probing the host, so
     * that the answer does not tell which paths exist outside them. */
    if (!lex_in_root) {
        refuse(c, field, "%s is outside policy.mountRoots (%s)", src, c->roots_text);
        return;
    }
    if (!res) {
        if (res_errno == ENOENT || res_errno == ENOTDIR)
            refuse(c, field,
                   "%s does not exist on the host (Docker would create it, owned by root)", src);
        else
            refuse(c, field, "%s cannot be resolved: %s", src, strerror(res_errno));
        return;
    }
    if (!under_a_root(c, res))
        refuse(c, field, "%s resolves to %s, which is outside policy.mountRoots (%s)", src, res,
               c->roots_text);
}

static void check_source(struct ctx *c, const char *field, const json_t *v)
{
    check_source_at(c, field, json_string_value(v), NULL);
}

/* ---- container paths ------------------------------------------------------- */

static void check_target(struct ctx *c, const char *field, const json_t *v)
{
    const char *t = json_string_value(v);
    if (!t || t[0] != '/') {
        refuse(c, field, "must be an absolute container path");
        return;
    }
    _cleanup_free_ char *n = path_normalize(t);
    for (size_t i = 0; denied_targets_exact[i]; i++)
        if (!strcmp(n, denied_targets_exact[i])) {
            refuse(c, field, "%s would shadow the container's %s, which is never allowed", t,
                   denied_targets_exact[i]);
            return;
        }
    for (size_t i = 0; denied_targets_tree[i]; i++)
        if (path_within(n, denied_targets_tree[i])) {
            refuse(c, field,
                   "%s would shadow the container's %s, which is never allowed (nor anything "
                   "under it)",
                   t, denied_targets_tree[i]);
            return;
        }
}

static void check_mount_list(struct ctx *c, const json_t *spec, const char *key)
{
    const json_t *list = json_object_get(spec, key);
    char field[64];
    if (!list)
        return;
    if (!json_is_array(list)) {
        snprintf(field, sizeof(field), "spec.%s", key);
        refuse(c, field, "must be a list of mounts");
        return;
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *m = json_array_get(list, i);
        snprintf(field, sizeof(field), "spec.%s[%zu].source", key, i);
        check_source(c, field, json_object_get(m, "source"));
        snprintf(field, sizeof(field), "spec.%s[%zu].target", key, i);
        check_target(c, field, json_object_get(m, "target"));
    }
}

/* ---- entry points ------------------------------------------------------------ */

int cass_policy_check(const json_t *policy, const char *docker_host, const json_t *doc,
                      const json_t *pos, struct cass_error **err)
{
    struct ctx c;
    const json_t *spec = json_object_get(doc, "spec");

    if (!json_is_object(spec))
        return cass_error_set(err, CASS_ERR_INVALID, "policy: not a spec document");
    if (ctx_init(&c, policy, docker_host, pos, err) < 0) {
        ctx_release(&c);
        return -1;
    }

    /* Every field that brings something in is policed whatever the kind
     * says, so an unexpected field cannot slip past. */
    check_image(&c, spec);
    check_resources(&c, spec);
    check_mount_list(&c, spec, "mounts");
    check_mount_list(&c, spec, "inputs");
    if (json_object_get(spec, "artifact"))
        check_source(&c, "spec.artifact", json_object_get(spec, "artifact"));
    if (json_object_get(spec, "outputs"))
        check_target(&c, "spec.outputs", json_object_get(spec, "outputs"));

    if (!c.items) {
        ctx_release(&c);
        return 0;
    }
    c.items->kind = CASS_ERR_FORBIDDEN;
    free(c.items->message);
    if (asprintf(&c.items->message, "refused by policy: %zu rule%s broken", c.items->n_items,
                 c.items->n_items == 1 ? "" : "s") < 0)
        c.items->message = NULL;
    if (err && !*err)
        *err = TAKE_PTR(c.items);
    ctx_release(&c);
    return -1;
}

int cass_policy_check_pinned(const json_t *policy, const char *docker_host, const char *field,
                             const char *path, const struct stat *st, struct cass_error **err)
{
    struct ctx c;
    if (ctx_init(&c, policy, docker_host, NULL, err) < 0) {
        ctx_release(&c);
        return -1;
    }
    check_source_at(&c, field, path, st);
    if (!c.items) {
        ctx_release(&c);
        return 0;
    }
    c.items->kind = CASS_ERR_FORBIDDEN;
    free(c.items->message);
    c.items->message = xstrdup(c.items->items[0].message);
    if (err && !*err)
        *err = TAKE_PTR(c.items);
    ctx_release(&c);
    return -1;
}

/* Whether s is a user or group as Docker takes it: a name or a number. */
static bool valid_user_part(const char *s, size_t n)
{
    if (n == 0 || n > 256)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.' || (ch == '$' && i == n - 1)))
            return false;
    }
    if (strspn(s, "0123456789") >= n) {
        /* a uid: at most 4294967294 ((uid_t)-1 means "no change") */
        if (n > 10)
            return false;
        unsigned long long u = strtoull(s, NULL, 10);
        return u <= 4294967294ULL;
    }
    return true;
}

static bool is_root_part(const char *s, size_t n)
{
    if (n == 4 && !strncmp(s, "root", 4))
        return true;
    return strspn(s, "0") >= n; /* "0", "00", ... */
}

int cass_policy_user(const json_t *policy, const char *image_user, const char **ret_user,
                     struct cass_error **err)
{
    if (policy && !json_is_object(policy))
        return cass_error_set(err, CASS_ERR_INTERNAL, "policy must be an object");
    const json_t *allow = policy ? json_object_get(policy, "allowRootUser") : NULL;
    if (allow && !json_is_boolean(allow))
        return cass_error_set(err, CASS_ERR_INTERNAL, "policy.allowRootUser has the wrong type");

    bool root;
    if (!image_user || !*image_user) {
        root = true; /* Docker's default user is root */
    } else {
        size_t ulen = strcspn(image_user, ":");
        const char *group = image_user[ulen] == ':' ? image_user + ulen + 1 : NULL;
        if (!valid_user_part(image_user, ulen) || (group && !valid_user_part(group, strlen(group))))
            return cass_error_set(err, CASS_ERR_FORBIDDEN,
                                  "the image's user \"%.64s\" is not a user name or id",
                                  image_user);
        root = is_root_part(image_user, ulen);
    }

    if (!root)
        *ret_user = image_user;
    else if (json_is_true(allow))
        *ret_user = NULL;
    else
        *ret_user = CASS_POLICY_NOBODY;
    return 0;
}

const char *const *cass_policy_cap_drop(void)
{
    static const char *const caps[] = {"ALL", NULL};
    return caps;
}

const char *const *cass_policy_security_opt(void)
{
    static const char *const opts[] = {"no-new-privileges", NULL};
    return opts;
}

void cass_policy_tmp_options(long long tmp_size, long long memory,
                             char buf[CASS_POLICY_TMP_OPTIONS_MAX])
{
    long long size = memory > 0 && memory < tmp_size ? memory : tmp_size;
    snprintf(buf, CASS_POLICY_TMP_OPTIONS_MAX, "rw,noexec,nosuid,nodev,size=%lld", size);
}
