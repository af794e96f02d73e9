/* cassinyctl image push: a local image of the engine put into one of the
 * config's registries, its progress streamed to the client as JSON lines.
 * The engine pushes (POST /images/{name}/push); this module names the
 * target, checks it against registries:, and relays the engine's progress
 * (re-encoded: the engine's lines are not passed on as they are). */
#ifndef CASS_IMAGEPUSH_H
#define CASS_IMAGEPUSH_H

#include <jansson.h>

#include "daemon.h"
#include "error.h"
#include "stream.h"

/* The name image is pushed as: registry (NULL: the registry image names
 * when it is one of cfg's registries, else cfg's only registry) joined to
 * image's path without its own registry part, with its tag ("latest" when
 * none): "cassiny/x:1" and "127.0.0.1:5000" give "127.0.0.1:5000/cassiny/x:1".
 * Caller owns. CASS_ERR_INVALID for a reference that does not parse, a
 * digest, or no registry to choose; CASS_ERR_FORBIDDEN for a registry that
 * is not in registries. */
char *cass_imagepush_target(const json_t *cfg, const char *image, const char *registry,
                            struct cass_error **err);

/* One progress line of the engine's push as the API streams it (caller
 * owns): {"layer", "status", "current", "total"} with what is there, or
 * NULL for a line that says nothing worth passing on. */
json_t *cass_imagepush_progress(const json_t *engine_line);

/* Starts pushing image to target (from cass_imagepush_target): image must
 * be in the engine (CASS_ERR_NOT_FOUND), and is tagged as target for the
 * push (the tag is removed after, unless it was there before). The stream
 * is JSON lines: progress lines, then {"status": "pushed", "image",
 * "digest"} or {"error"}. Caller closes. */
struct cass_imagepush;
struct cass_imagepush *cass_imagepush_start(struct cass_daemon *d, const char *image,
                                            const char *target, struct cass_error **err);
/* As cass_runlog_read: bytes, 0 at the end, CASS_STREAM_AGAIN with wait->fd. */
long cass_imagepush_read(struct cass_imagepush *p, char *buf, size_t max,
                         struct cass_stream_wait *wait);
/* Ends the push if it still runs (the engine stops it) and frees p. */
void cass_imagepush_close(struct cass_imagepush *p);
/* At shutdown: every push still running ends. */
void cass_imagepush_cancel_all(void);

#endif
