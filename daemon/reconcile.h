/* Makes the store and the engine agree, after a start and after any loss of
 * the engine, and follows the engine's events in between. */
#ifndef CASS_RECONCILE_H
#define CASS_RECONCILE_H

#include "daemon.h"
#include "error.h"

/* Every workload with this daemon's labels is found and kept or removed
 * (its logs kept first): those of runs that ended, and those a live run
 * does not list (made just before a crash). Every live run that no thread
 * has in hand is handed to the launch path, which follows it again or
 * decides how it ended (launch.h). */
int cass_reconcile(struct cass_daemon *d, struct cass_error **err);

/* At a start, before the API and the gateway accept, synchronously: the
 * running workloads of live runs go back where requests find them (the
 * running replicas of ready models back in the gateway's rotation, each
 * healthy or not per a first probe), so that the first request after a
 * daemon restart is served. The rest (replacing what is gone) is
 * cass_reconcile's. Returns how many were put back, or -1 with *err (the
 * engine does not answer: the watcher does it all once it does). */
int cass_reconcile_restore(struct cass_daemon *d, struct cass_error **err);

/* The watcher thread (arg: the struct cass_lifecycle): reconciles, then
 * follows engine events until the engine goes, and again. */
void *cass_reconcile_watcher_main(void *arg);

#endif
