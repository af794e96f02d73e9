/* Where an image may come from: see images.h. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "images.h"

#define DOCKER_HUB "docker.io"
#define DOCKER_HUB_LEGACY "index.docker.io"
#define DIGEST_PREFIX "sha256:"
#define DIGEST_HEX 64
/* Longest list of registries quoted in one message. */
#define LIST_MAX 300

static char *xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (!p)
        abort(); /* as lib/error.c: nothing sane remains */
    return p;
}

static bool is_hex_digest(const char *s)
{
    return strncmp(s, DIGEST_PREFIX, strlen(DIGEST_PREFIX)) == 0 &&
           strlen(s + strlen(DIGEST_PREFIX)) == DIGEST_HEX &&
           strspn(s + strlen(DIGEST_PREFIX), "0123456789abcdef") == DIGEST_HEX;
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* host[:port]: letters, digits, '.' and '-', a port of digits. */
static bool valid_registry(const char *s, size_t n)
{
    size_t host = 0;
    while (host < n && s[host] != ':')
        host++;
    if (host == 0 || s[0] == '.' || s[0] == '-' || s[host - 1] == '.' || s[host - 1] == '-')
        return false;
    for (size_t i = 0; i < host; i++)
        if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '-')
            return false;
    if (host == n)
        return true;
    size_t port = n - host - 1;
    return port >= 1 && port <= 5 && strspn(s + host + 1, "0123456789") == port;
}

/* One path component: lowercase letters and digits, runs of them joined
 * by '.', '_', '__' or any number of '-'. */
static bool valid_component(const char *s, size_t n)
{
    size_t i = 0;
    for (;;) {
        size_t run = i;
        while (i < n && is_lower_alnum(s[i]))
            i++;
        if (i == run)
            return false;
        if (i == n)
            return true;
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i += i + 1 < n && s[i + 1] == '_' ? 2 : 1;
        } else if (s[i] == '-') {
            while (i < n && s[i] == '-')
                i++;
        } else {
            return false;
        }
    }
}

/* Components separated by '/'. */
static bool valid_repository(const char *s)
{
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (!valid_component(s, n))
            return false;
        if (!slash)
            return true;
        s = slash + 1;
    }
}

static bool valid_tag(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

/* Whether the first component of a name is a registry, as Docker's
 * splitDockerDomain decides. */
static bool names_registry(const char *first, size_t n)
{
    if (n == 9 && strncmp(first, "localhost", 9) == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (first[i] == '.' || first[i] == ':' || (first[i] >= 'A' && first[i] <= 'Z'))
            return true;
    return false;
}

int cass_images_parse(const char *ref, struct cass_image_ref *ret, struct cass_error **err)
{
    if (!ref || !*ref || strlen(ref) > 512)
        return cass_error_set(err, CASS_ERR_INVALID, "image reference is empty or too long");
    if (is_hex_digest(ref))
        return cass_error_set(err, CASS_ERR_INVALID,
                              "%.80s is an image ID, which names no registry", ref);

    const char *at = strchr(ref, '@');
    size_t name_len = at ? (size_t)(at - ref) : strlen(ref);
    if (at && !is_hex_digest(at + 1))
        return cass_error_set(err, CASS_ERR_INVALID,
                              "image reference %.520s: the digest is not sha256:<64 hex digits>",
                              ref);
    _cleanup_free_ char *name = xstrndup(ref, name_len);

    /* The tag is after the last ':' that follows the last '/' ("host:5000/x"
     * has a port, not a tag). */
    char *slash = strrchr(name, '/');
    char *colon = strrchr(slash ? slash : name, ':');
    const char *tag = NULL;
    if (colon) {
        *colon = '\0';
        tag = colon + 1;
        if (!valid_tag(tag))
            return cass_error_set(err, CASS_ERR_INVALID, "image reference %.520s: bad tag", ref);
    }

    const char *first_slash = strchr(name, '/');
    const char *registry = DOCKER_HUB, *repo = name;
    size_t registry_len = strlen(DOCKER_HUB);
    if (first_slash && names_registry(name, (size_t)(first_slash - name))) {
        registry = name;
        registry_len = (size_t)(first_slash - name);
        repo = first_slash + 1;
        if (!valid_registry(registry, registry_len))
            return cass_error_set(err, CASS_ERR_INVALID,
                                  "image reference %.520s: the registry part is not host[:port]",
                                  ref);
    }
    if (!valid_repository(repo))
        return cass_error_set(err, CASS_ERR_INVALID,
                              "image reference %.520s: the repository must be lowercase path "
                              "components",
                              ref);

    struct cass_image_ref r = {0};
    if (registry_len == strlen(DOCKER_HUB_LEGACY) &&
        strncmp(registry, DOCKER_HUB_LEGACY, registry_len) == 0)
        r.registry = xstrndup(DOCKER_HUB, strlen(DOCKER_HUB));
    else
        r.registry = xstrndup(registry, registry_len);
    if (strcmp(r.registry, DOCKER_HUB) == 0 && !strchr(repo, '/')) {
        if (asprintf(&r.repository, "library/%s", repo) < 0)
            abort();
    } else {
        r.repository = xstrndup(repo, strlen(repo));
    }
    if (tag || !at)
        r.tag = xstrndup(tag ? tag : "latest", strlen(tag ? tag : "latest"));
    if (at)
        r.digest = xstrndup(at + 1, strlen(at + 1));
    *ret = r;
    return 0;
}

void cass_images_ref_clear(struct cass_image_ref *r)
{
    free(r->registry);
    free(r->repository);
    free(r->tag);
    free(r->digest);
    *r = (struct cass_image_ref){0};
}

/* A configured registry as the parser names it: index.docker.io is docker.io. */
static bool registry_matches(const char *configured, const char *registry)
{
    if (strcasecmp(configured, DOCKER_HUB_LEGACY) == 0)
        configured = DOCKER_HUB;
    return strcasecmp(configured, registry) == 0;
}

/* "a, b" of the configured registries, or "none"; cut at LIST_MAX. Caller owns. */
static char *registries_text(const json_t *list)
{
    char buf[LIST_MAX + 8] = "none";
    size_t o = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *s = json_string_value(json_array_get(list, i));
        if (o + strlen(s) + 2 > LIST_MAX) {
            snprintf(buf + o, sizeof(buf) - o, "%s...", i ? ", " : "");
            break;
        }
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? ", " : "", s);
    }
    return xstrndup(buf, strlen(buf));
}

/* The config's pull and registries members, checked for type. */
static int config_of(const json_t *cfg, const json_t **ret_pull, const json_t **ret_registries,
                     struct cass_error **err)
{
    const json_t *pull = cfg ? json_object_get(cfg, "pull") : NULL;
    const json_t *registries = cfg ? json_object_get(cfg, "registries") : NULL;
    if (pull && (!json_is_string(pull) || (strcmp(json_string_value(pull), "never") != 0 &&
                                           strcmp(json_string_value(pull), "missing") != 0)))
        return cass_error_set(err, CASS_ERR_INTERNAL, "pull must be never or missing");
    if (registries && !json_is_array(registries))
        return cass_error_set(err, CASS_ERR_INTERNAL, "registries must be a list");
    for (size_t i = 0; i < json_array_size(registries); i++)
        if (!json_is_string(json_array_get(registries, i)))
            return cass_error_set(err, CASS_ERR_INTERNAL, "registries[%zu] must be a string", i);
    *ret_pull = pull;
    *ret_registries = registries;
    return 0;
}

static bool listed(const json_t *registries, const char *registry)
{
    for (size_t i = 0; i < json_array_size(registries); i++)
        if (registry_matches(json_string_value(json_array_get(registries, i)), registry))
            return true;
    return false;
}

int cass_images_pull_check(const json_t *cfg, const char *ref, char **ret_registry,
                           struct cass_error **err)
{
    const json_t *pull, *registries;
    if (config_of(cfg, &pull, &registries, err) < 0)
        return -1;
    if (pull && strcmp(json_string_value(pull), "never") == 0)
        return cass_error_set(err, CASS_ERR_FORBIDDEN, "pulls are off (pull: never)");
    struct cass_image_ref r = {0};
    _cleanup_error_ struct cass_error *perr = NULL;
    if (cass_images_parse(ref, &r, &perr) < 0)
        return cass_error_set(err, CASS_ERR_FORBIDDEN, "%s", perr->message);
    int rc = 0;
    if (!listed(registries, r.registry)) {
        _cleanup_free_ char *allowed = registries_text(registries);
        rc = cass_error_set(err, CASS_ERR_FORBIDDEN, "registry %s is not in registries (%s)",
                            r.registry, allowed);
    } else if (ret_registry) {
        *ret_registry = TAKE_PTR(r.registry);
    }
    cass_images_ref_clear(&r);
    return rc;
}

int cass_images_registry_of(const json_t *cfg, const char *ref, char **ret_registry,
                            struct cass_error **err)
{
    const json_t *pull, *registries;
    if (config_of(cfg, &pull, &registries, err) < 0)
        return -1;
    struct cass_image_ref r = {0};
    if (cass_images_parse(ref, &r, NULL) < 0)
        return 0;
    int rc = listed(registries, r.registry) ? 1 : 0;
    if (rc && ret_registry)
        *ret_registry = TAKE_PTR(r.registry);
    cass_images_ref_clear(&r);
    return rc;
}

char *cass_images_pin(const char *ref, const char *digest)
{
    /* The name as written (the engine is asked about it as the spec gave
     * it): without "@..." and without a tag after the last '/'. */
    size_t n = strcspn(ref, "@");
    const char *slash = memrchr(ref, '/', n);
    const char *colon =
        memrchr(slash ? slash : ref, ':', n - (size_t)((slash ? slash : ref) - ref));
    if (colon)
        n = (size_t)(colon - ref);
    char *s = NULL;
    if (asprintf(&s, "%.*s@%s", (int)n, ref, digest) < 0)
        abort();
    return s;
}
