/* Fail points: named steps of apply, launch, job, rollout and reconcile at
 * which the daemon can be made to die as kill -9 would (SIGKILL to itself),
 * so that the fault suite (tests/faults/) can crash it at every step that
 * matters and check what the restart makes of it.
 *
 * Armed from the environment, read once at start:
 *   CASS_FAILPOINT=step[,step...]   die at the first hit of any of them
 *   CASS_FAILPOINT=step:N           die at its Nth hit
 * Unset, a fail point costs one load and branch on a global. */
#ifndef CASS_FAILPOINT_H
#define CASS_FAILPOINT_H

#include <stdbool.h>
#include <stdio.h>

#include "error.h"

/* Every step, in the order of the paths; cassinyd --list-failpoints prints
 * them and the suite checks the list against the CASS_FAILPOINT("...")
 * uses in the source. */
#define CASS_FAILPOINTS(X)                                                                         \
    X("apply.after-revision")                                                                      \
    X("apply.after-run-stored")                                                                    \
    X("apply.after-spec-stored")                                                                   \
    X("apply.before-commit")                                                                       \
    X("launch.after-image-pin")                                                                    \
    X("launch.after-create")                                                                       \
    X("launch.after-create-recorded")                                                              \
    X("launch.after-start")                                                                        \
    X("launch.after-record-running")                                                               \
    X("job.after-exit-seen")                                                                       \
    X("job.after-outputs-hashed")                                                                  \
    X("job.after-final-record")                                                                    \
    X("job.before-container-removal")                                                              \
    X("rollout.after-new-replica-healthy")                                                         \
    X("rollout.after-rotation-switch")                                                             \
    X("rollout.after-old-replica-stopped")                                                         \
    X("rollout.after-spec-pointer-moved")                                                          \
    X("reconcile.after-listing")                                                                   \
    X("reconcile.after-removal")

extern bool cass_failpoints_armed;

/* Reads CASS_FAILPOINT; an unknown step name or a bad count is an error
 * (a typo must not make a trial pass without its crash). */
int cass_failpoint_init(const char *spec, struct cass_error **err);

/* Counts a hit of step and, when it is armed and its count is reached,
 * kills the process with SIGKILL. */
void cass_failpoint_hit(const char *step);

/* Prints every step name, one a line. */
void cass_failpoint_list(FILE *f);

#define CASS_FAILPOINT(step)                                                                       \
    do {                                                                                           \
        if (cass_failpoints_armed)                                                                 \
            cass_failpoint_hit(step);                                                              \
    } while (0)

#endif
