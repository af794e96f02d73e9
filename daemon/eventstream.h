/* The state changes recorded in the audit log as server-sent events (GET
 * /v1/events): every entry after an id, then new ones as they come, with a
 * keep-alive comment when nothing happens. */
#ifndef CASS_EVENTSTREAM_H
#define CASS_EVENTSTREAM_H

#include "daemon.h"
#include "error.h"

struct cass_eventstream;

/* Entries after after_id (< 0: from now on), only of spec name and of run
 * when given. Caller closes. */
struct cass_eventstream *cass_eventstream_open(struct cass_daemon *d, long long after_id,
                                               const char *name, const char *run,
                                               struct cass_error **err);
/* Bytes of the stream into buf; blocks until there are some; 0 at the end
 * (shutdown), -1 on errors. */
long cass_eventstream_read(struct cass_eventstream *s, char *buf, size_t max);
void cass_eventstream_close(struct cass_eventstream *s);
/* At shutdown: every open stream ends. */
void cass_eventstream_cancel_all(void);

#endif
