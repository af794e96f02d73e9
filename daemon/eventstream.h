/* The state changes recorded in the audit log as server-sent events (GET
 * /v1/events): every entry after an id, then new ones as they come, with a
 * keep-alive comment when nothing happens, ended after a lifetime. */
#ifndef CASS_EVENTSTREAM_H
#define CASS_EVENTSTREAM_H

#include "auth.h"
#include "daemon.h"
#include "error.h"
#include "stream.h"

struct cass_eventstream;

/* Entries after after_id (< 0: from now on), only of spec name and of run
 * when given; heartbeats and lifetime from limits.heartbeatSeconds and
 * limits.eventStreamLifetimeSeconds. At most limits.maxEventStreams are
 * open at once: past it NULL with *err of kind UNAVAILABLE. Caller closes. */
/* who (NULL: the local admin): without admin, only entries about who's own
 * things; notebook URLs only of who's own notebooks. */
struct cass_eventstream *cass_eventstream_open(struct cass_daemon *d, long long after_id,
                                               const char *name, const char *run,
                                               const struct cass_principal *who,
                                               struct cass_error **err);
/* Bytes of the stream into buf, never waiting: 0 at the end (shutdown, or
 * the lifetime's end after a "retry:" hint), -1 on errors, or
 * CASS_STREAM_AGAIN with *wait set (a heartbeat or the lifetime's end is
 * due at wait->until_ms; new events need cass_eventstream_refill). */
long cass_eventstream_read(struct cass_eventstream *s, char *buf, size_t max,
                           struct cass_stream_wait *wait);
/* Reads the events after the last one sent from the store (may wait on
 * it). 1 when cass_eventstream_read has something now, 0 when not. */
int cass_eventstream_refill(struct cass_eventstream *s);
void cass_eventstream_close(struct cass_eventstream *s);
/* At shutdown: every open stream ends. */
void cass_eventstream_cancel_all(void);

#endif
