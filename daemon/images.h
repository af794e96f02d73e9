/* Where an image may come from. policy.images decides which references may
 * run at all; this module decides whether a reference missing from the
 * engine may be pulled: only when the config's pull setting allows it and
 * the registry the reference names (read as Docker reads it) is one of the
 * config's registries. docs/security.md describes the rules. */
#ifndef CASS_IMAGES_H
#define CASS_IMAGES_H

#include <jansson.h>

#include "error.h"

/* An image reference as Docker reads it: "busybox" is
 * docker.io/library/busybox:latest, "localhost:5000/x@sha256:..." is
 * repository x on localhost:5000. Every member is owned. */
struct cass_image_ref {
    char *registry;   /* "docker.io", "localhost:5000", "127.0.0.1:5000" */
    char *repository; /* the path in the registry: "library/busybox", "cassiny/x" */
    char *tag;        /* "latest" when neither tag nor digest is given; NULL with a digest alone */
    char *digest;     /* "sha256:<64 hex>" or NULL */
};

/* Parses ref (name[:tag], name@sha256:<digest>, with or without a
 * registry part) into *ret, normalized the way Docker does: no registry
 * part (the first component has no '.' or ':', is not "localhost" and is
 * lowercase) means docker.io, index.docker.io is docker.io, and a docker.io
 * repository of one component is under library/. A bare image ID
 * (sha256:<64 hex>) names no registry and is CASS_ERR_INVALID, as is
 * anything that is not a reference. *ret is untouched on failure. */
int cass_images_parse(const char *ref, struct cass_image_ref *ret, struct cass_error **err);
void cass_images_ref_clear(struct cass_image_ref *r);

/* Decides whether ref, missing from the engine, may be pulled under cfg
 * (the daemon's config: "pull" is "missing" or "never", "registries" a list
 * of registry hosts[:port]; NULL or missing members mean the schema
 * defaults: pull missing, no registries). Returns 0 when it may, with
 * *ret_registry (caller owns; may be NULL) set to the registry it comes
 * from. Otherwise -1 with *err of kind CASS_ERR_FORBIDDEN and a message
 * that says why, naming the rule: "registry docker.io is not in
 * registries (none)", "pulls are off (pull: never)", "an image ID names no
 * registry"; CASS_ERR_INTERNAL when cfg's members have the wrong type. */
int cass_images_pull_check(const json_t *cfg, const char *ref, char **ret_registry,
                           struct cass_error **err);

/* Whether the registry ref names (as cass_images_parse reads it) is one of
 * cfg's registries, whatever the pull setting: 1 when it is, with
 * *ret_registry (caller owns; may be NULL) set; 0 when it is not or ref
 * names no registry (an image ID, a reference that does not parse); -1
 * with CASS_ERR_INTERNAL when cfg's members have the wrong type. An image
 * from such a registry is pinned to the digest the registry gives for its
 * tag at launch. */
int cass_images_registry_of(const json_t *cfg, const char *ref, char **ret_registry,
                            struct cass_error **err);

/* ref's name as written, without its tag or digest, joined to digest:
 * "127.0.0.1:5000/cassiny/x:1" and "sha256:ab.." give
 * "127.0.0.1:5000/cassiny/x@sha256:ab..". Caller owns. */
char *cass_images_pin(const char *ref, const char *digest);

#endif
