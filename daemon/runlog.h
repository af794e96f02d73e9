/* A run's container output kept in the state directory once the container
 * is gone (<stateDir>/runs/<run>/container.log): the output of each of its
 * containers in the order they went (a line "[cassiny: the output of
 * container ID follows]" before each after the first), at most the last
 * CASS_RUNLOG_MAX bytes of all of it, with a first line that says what was
 * dropped. */
#ifndef CASS_RUNLOG_H
#define CASS_RUNLOG_H

#include "backend.h"
#include "daemon.h"
#include "stream.h"

#include <jansson.h>
#include <stdbool.h>

#define CASS_RUNLOG_MAX (8u << 20)       /* kept per run: the end of the output */
#define CASS_RUNLOG_READ_MAX (64u << 20) /* read at most this much to find it */

/* Where a run's output is kept (caller owns). */
char *cass_runlog_path(struct cass_daemon *d, const char *run_id);

/* The first words of the line that ends a log cut short by a full disk. */
#define CASS_RUNLOG_CUT_MARK "[cassiny: log cut here"

/* Copies the output of workload id of run_id there before it goes: 0 when
 * all of it was kept; 1 when the disk filled (the store is marked full) and
 * what fit was kept, ending with a CASS_RUNLOG_CUT_MARK line; -1 (logged)
 * when nothing could be kept. */
int cass_runlog_save(struct cass_daemon *d, struct cass_backend *b, const char *run_id,
                     const char *id);

/* Reads a run's output as it comes: the live container's (followed when
 * follow, the last tail lines when tail >= 0) or, once it is gone, the kept
 * log. CASS_ERR_NOT_FOUND when there is neither. Caller closes. */
struct cass_runlog_reader;
struct cass_runlog_reader *cass_runlog_open(struct cass_daemon *d, const json_t *run, bool follow,
                                            int tail, struct cass_error **err);
/* Bytes read, 0 at the end, -1 on errors, never waiting: CASS_STREAM_AGAIN
 * with wait->fd set when the live stream has nothing yet. */
long cass_runlog_read(struct cass_runlog_reader *r, char *buf, size_t max,
                      struct cass_stream_wait *wait);
void cass_runlog_close(struct cass_runlog_reader *r);
/* At shutdown: every open reader ends. */
void cass_runlog_cancel_all(void);

#endif
