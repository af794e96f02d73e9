/* The words cassinyd, its store and cassinyctl share, defined once: the
 * workload kinds, the statuses of a run, the rules for names and run ids.
 * A new kind is one line in CASS_VOCAB_KINDS, its schema
 * (schemas/<file>.schema.json) and its file in the daemon
 * (daemon/kind_<file>.c defining cass_kind_<file>). */
#ifndef CASS_VOCAB_H
#define CASS_VOCAB_H

#include <stdbool.h>

/* X(Name as in specs, file stem) for every kind. */
#define CASS_VOCAB_KINDS(X)                                                                        \
    X(Notebook, notebook)                                                                          \
    X(Job, job)                                                                                    \
    X(Model, model)

struct cass_vocab_kind {
    const char *name;   /* "Notebook" */
    const char *schema; /* "notebook.schema.json" */
};
/* Every kind, then {NULL, NULL}. */
extern const struct cass_vocab_kind cass_vocab_kinds[];

/* The kind called name (exactly), or NULL. */
const struct cass_vocab_kind *cass_vocab_kind(const char *name);

/* Every status of a run, in the order a run moves through them, then NULL:
 * pending, queued, creating, starting, ready, running, succeeded, failed,
 * stopped. */
extern const char *const cass_vocab_statuses[];
bool cass_vocab_status_valid(const char *status);
/* succeeded, failed, stopped: nothing moves a run out of these. */
bool cass_vocab_status_final(const char *status);

/* A DNS label: ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ (metadata.name). */
bool cass_vocab_name_valid(const char *name);
/* "r-" and a 26-character ULID in Crockford base 32. */
bool cass_vocab_run_id_valid(const char *id);

#endif
