/* Bind-mount sources pinned at launch, so that what the policy checked is
 * what the engine mounts.
 *
 * A host path that a spec brings in (a mount, a job input, a model
 * artifact) is resolved again at every launch to its canonical form and
 * opened along that form with no symbolic link followed (openat2 with
 * RESOLVE_NO_SYMLINKS, or a component-by-component walk where openat2 is
 * missing): the object opened is the object at the checked path, and the
 * policy's rules are applied to that path and that object. The engine then
 * gets, where the daemon can make one, a bind mount of the opened object
 * in a private directory of the daemon (<stateDir>/pins, 0700), the way
 * the kubelet fixed subPath (CVE-2017-1002101): renaming or replacing a
 * component of the spec's path afterwards changes nothing, because the
 * engine never walks it. The pin goes once the container started (its
 * mount is a copy). Where the daemon cannot stage (not allowed to mount,
 * or the engine lives in another mount namespace) the canonical path is
 * handed over as it is, and a swap in the milliseconds between the check
 * and the engine's mount remains possible: cass_pin_mode says which, and
 * /healthz shows it. docs/security.md has the whole story. */
#ifndef CASS_PIN_H
#define CASS_PIN_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"

/* Where the pins live and how the engine is reached; called once at start
 * (before any launch). Leftover pins of an earlier daemon are removed.
 * Without it (unit tests) sources are resolved and checked but not staged. */
int cass_pin_setup(const char *state_dir, const char *docker_host, struct cass_error **err);

/* "staged", or "unstaged: WHY" once decided, or "undecided" while the
 * engine has not answered since the start (decided at setup when it
 * answers, else at the first launch). Static string. */
const char *cass_pin_mode(void);

/* The pins of one container. */
struct cass_pins;
struct cass_pins *cass_pins_new(void);
/* Unmounts and removes every pin; NULL is fine. */
void cass_pins_free(struct cass_pins *p);

/* Pins path (a host path: a directory or a regular file) to be mounted at
 * target and returns the source to hand to the engine (owned by p). field names the spec field it
 * came from ("spec.inputs[0].source"): the policy's host-path rules
 * (policy, docker_host as in cass_policy_check) are applied to the object
 * pinned; NULL for the daemon's own paths, which are not policed. A path
 * that changed so that the check no longer holds is CASS_ERR_FORBIDDEN
 * with field as the item's path. */
const char *cass_pins_add(struct cass_pins *p, const char *path, const char *target,
                          const char *field, const json_t *policy, const char *docker_host,
                          struct cass_error **err);

/* The source already pinned for target, or NULL. */
const char *cass_pins_find(const struct cass_pins *p, const char *target);

/* Checks what the engine says it mounts (engine: an array of {source,
 * target}, from inspect) against the sources p handed over for those
 * targets. 0 when each pinned target has exactly that source; -1 with
 * CASS_ERR_FORBIDDEN naming the first difference. */
int cass_pins_verify(const struct cass_pins *p, const json_t *engine, struct cass_error **err);

/* The number of pins (for tests). */
size_t cass_pins_count(const struct cass_pins *p);

#endif
