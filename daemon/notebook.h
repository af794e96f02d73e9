/* Jupyter-specific knowledge: readiness through /api/status and idleness
 * through last_activity and the kernels' execution_state. */
#ifndef CASS_NOTEBOOK_H
#define CASS_NOTEBOOK_H

#include <jansson.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

/* GET base/api/status?token=T. 0 when Jupyter answers 200 with a JSON
 * object (returned in *ret_status when not NULL, caller owns); -1 with *err
 * otherwise (UNAVAILABLE while it does not answer yet, UNAUTHORIZED for a
 * refused token). base is "http://127.0.0.1:49153". */
int cass_notebook_status(const char *base, const char *token, long timeout_ms, json_t **ret_status,
                         struct cass_error **err);

/* GET base/api/kernels?token=T: the kernels array (caller owns). */
json_t *cass_notebook_kernels(const char *base, const char *token, long timeout_ms,
                              struct cass_error **err);

/* Jupyter's ISO 8601 UTC times ("2024-05-01T12:00:00.123456Z" or with
 * "+00:00") to UNIX seconds; -1 if malformed. */
int cass_notebook_parse_time(const char *s, double *ret);

/* The culling rule, without I/O: 1 when the notebook has been idle for
 * idle_timeout_s at now and no kernel is busy, 0 when not, -1 when the
 * replies are malformed. Idle is counted from the later of status's
 * last_activity and since (when the run became ready; 0 if unknown): a
 * notebook woken by a request is not culled for the seconds Jupyter took to
 * start, before it served anyone. kernels may be NULL when not fetched (then
 * only the age is judged). */
int cass_notebook_idle_decide(const json_t *status, const json_t *kernels, int64_t idle_timeout_s,
                              double since, double now, struct cass_error **err);

/* The path the gateway serves notebook name under, and Jupyter's base URL:
 * "/notebooks/NAME/" (caller owns). */
char *cass_notebook_base_url(const char *name);

/* Where the daemon reaches a run's Jupyter: its recorded endpoint (the
 * published port, or the container's own address) and base URL, or for
 * runs recorded before those the published port at "/". 0 with host, *port
 * and *prefix (borrowed from run: "/notebooks/NAME/" or "/"), -1 when the
 * run has no such record. */
int cass_notebook_endpoint(const json_t *run, char host[64], int *port, const char **prefix);

/* "http://HOST:PORT/notebooks/NAME" (no trailing slash: the paths of
 * cass_notebook_status and _kernels follow) for a run, NULL when it has no
 * endpoint (caller owns). */
char *cass_notebook_base(const json_t *run);

struct cass_strv;
/* What Jupyter needs on a read-only root file system, added to env unless
 * spec_env (a spec's env object, may be NULL) sets it: HOME=home (Jupyter's
 * settings, the notebook-signing key, IPython's history) and
 * JUPYTER_RUNTIME_DIR on the /tmp tmpfs (kernel connection files, with their
 * keys, never kept). */
void cass_notebook_env(struct cass_strv *env, const json_t *spec_env, const char *home);

#endif
