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

/* The watcher thread (arg: the struct cass_lifecycle): reconciles, then
 * follows engine events until the engine goes, and again. */
void *cass_reconcile_watcher_main(void *arg);

#endif
