/* A workload kind (Notebook, Job, Model) is one table of functions and one
 * file (kind_notebook.c, kind_job.c, kind_model.c) with its schema
 * (schemas/<kind>.schema.json): how it launches, how it is followed again
 * after a restart, its periodic work, and what ready and finished mean for
 * it. A fourth kind is one new file, its schema and one line in
 * CASS_VOCAB_KINDS (lib/vocab.h), which the daemon, the store and the
 * client all read. */
#ifndef CASS_KIND_H
#define CASS_KIND_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "launch.h"
#include "vocab.h"

struct cass_kind {
    const char *name; /* as in specs: "Notebook" */

    /* Runs to completion on their own runner (limits.maxRunningJobs)
     * rather than being launched and then left to serve. */
    bool runs_to_completion;

    /* At apply and at dry run alike, before the revision is computed: folds
     * what the host says into the spec document (a model's artifact hash),
     * so that both give the same revision. NULL: nothing to add. Errors are
     * items on the spec's field. */
    int (*prepare)(json_t *doc, int line, struct cass_error **err);

    /* Work done before a launch slot is taken (hashing a job's inputs).
     * NULL: none. */
    int (*stage)(struct cass_launch *l, struct cass_error **err);

    /* From the image pinned to ready (or, for a job, to its end). */
    int (*launch)(struct cass_launch *l, struct cass_error **err);

    /* A run that was live when the daemon stopped: follow it again, or
     * decide how it ended (0). 1: it was cut short and its workloads are
     * gone; launch it again from a clean slate now. NULL: always 1. */
    int (*resume)(struct cass_launch *l, struct cass_error **err);

    /* At a start, before the API and the gateway accept: puts the running
     * workloads of a live run back where requests find them (a model's
     * replicas in the gateway's rotation), at once and from the engine's
     * state, so that the first request after a restart is served. resume
     * then does the rest. Returns how many were put back. NULL: nothing. */
    int (*restore)(struct cass_lifecycle *lc, const json_t *run);

    /* Periodic work on one live run (idle culling, health), from the
     * lifecycle's ticker. NULL: none. */
    void (*tick)(struct cass_lifecycle *lc, const json_t *run);

    /* A live run whose workload died unexpectedly (an engine event). NULL:
     * its own runner notices. */
    void (*died)(struct cass_lifecycle *lc, const json_t *run, const char *exit_code);

    /* Whether a new run of the same name replaces the live one before it
     * launches (a notebook), rather than taking over from it (a model's
     * rollout) or running beside it (a job). */
    bool replaces_before_launch;
};

/* One per line of CASS_VOCAB_KINDS (lib/vocab.h): cass_kind_<file>. */
#define KIND_DECLARE(name, file) extern const struct cass_kind cass_kind_##file;
CASS_VOCAB_KINDS(KIND_DECLARE)
#undef KIND_DECLARE

/* The kind called name, or NULL. */
const struct cass_kind *cass_kind_find(const char *name);

#endif
