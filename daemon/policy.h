/* The policy: what a spec may ask of the host. The API creates containers,
 * so without this module it would be root-equivalent. Every check runs
 * before anything is created; docs/security.md describes the rules. */
#ifndef CASS_POLICY_H
#define CASS_POLICY_H

#include <jansson.h>
#include <sys/stat.h>

#include "error.h"

/* The user a container runs as when the image's user is root and
 * policy.allowRootUser is false: nobody. */
#define CASS_POLICY_NOBODY "65534:65534"

/* Decides whether doc (one validated spec document, {apiVersion, kind,
 * metadata, spec}: the "spec" member of what cass_spec_load returns) is
 * allowed by policy (the config's "policy" object; NULL or missing members
 * mean the schema defaults, which are strict).
 *
 * docker_host is the configured engine endpoint ("unix:///PATH", a bare
 * socket path, "tcp://..." or NULL); its socket is never mounted, nor are
 * /var/run/docker.sock, /run/docker.sock and containerd's socket.
 *
 * pos is an optional position map as in lib/yaml.h ("spec.image" ->
 * [value_line, value_col, key_line, key_col]); NULL gives line 0.
 *
 * Returns 0 when allowed. Otherwise -1 with *err of kind CASS_ERR_FORBIDDEN
 * holding one item per broken rule (field path, line, column, a message that
 * names the rule and the configured limit); every rule is checked, so one
 * answer lists them all. A policy whose members have the wrong type, or a
 * doc that is not an object with an object "spec", gives -1 with kind
 * CASS_ERR_INTERNAL or CASS_ERR_INVALID and no items. */
int cass_policy_check(const json_t *policy, const char *docker_host, const json_t *doc,
                      const json_t *pos, struct cass_error **err);

/* The host-path rules of cass_policy_check for one path that was opened
 * along its canonical form with no symbolic link followed (daemon/pin.c):
 * path is that form and st the opened object's fstat, so nothing is
 * resolved again. field names the spec field for the error's item. Returns
 * 0 or -1 with CASS_ERR_FORBIDDEN (message: the first broken rule). */
int cass_policy_check_pinned(const json_t *policy, const char *docker_host, const char *field,
                             const char *path, const struct stat *st, struct cass_error **err);

/* Decides the user a container runs as, from the image's configured user
 * (Config.User from the engine: untrusted, may be NULL or ""):
 *   - a non-root user ("1000", "jovyan", "1000:100", "1000:0"): kept,
 *     *ret_user = image_user (borrowed from the caller);
 *   - root (NULL, "", "root", "0", "0:0", "root:root", "0:1000", ...):
 *     policy.allowRootUser true  -> *ret_user = NULL (the image default);
 *     policy.allowRootUser false -> *ret_user = CASS_POLICY_NOBODY (static).
 * Only the user part decides: a non-root uid with group 0 is not root.
 * Returns 0, or -1 with *err (CASS_ERR_FORBIDDEN) when image_user is not a
 * user name or id at all; *ret_user is untouched on failure. */
int cass_policy_user(const json_t *policy, const char *image_user, const char **ret_user,
                     struct cass_error **err);

/* The fixed hardening of every container, in one place. Static,
 * NULL-terminated arrays: HostConfig.CapDrop and HostConfig.SecurityOpt. */
const char *const *cass_policy_cap_drop(void);
const char *const *cass_policy_security_opt(void);

/* Every container's root file system is read-only; what a workload writes
 * goes to its mounts and to a tmpfs on CASS_POLICY_TMP. */
#define CASS_POLICY_TMP "/tmp"
#define CASS_POLICY_TMP_OPTIONS_MAX 96

/* The mount options of that tmpfs, written to buf: read-write, no
 * executables, setuid bits or device files, and a size of tmp_size bytes
 * (policy.tmpSize), at most memory (the container's limit; tmpfs pages count
 * against it) when memory > 0. */
void cass_policy_tmp_options(long long tmp_size, long long memory,
                             char buf[CASS_POLICY_TMP_OPTIONS_MAX]);

#endif
