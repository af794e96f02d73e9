/* The stable endpoint of models: http://ADDRESS:PORT/models/NAME/PATH is
 * forwarded to PATH on a ready replica of NAME, round robin, over kept-alive
 * connections, at most 64 requests in flight per replica (more wait for
 * room). A replica that fails before it starts to answer is skipped for the
 * next; with none left the answer is a 503 problem. A thread per client
 * connection, up to gateway.maxConnections. docs/gateway.md says why it
 * lives in the daemon and why this concurrency model. */
#ifndef CASS_GATEWAY_H
#define CASS_GATEWAY_H

#include "daemon.h"
#include "error.h"

struct cass_gateway;

/* Listens on the config's gateway address and port (0: any free port) and
 * serves on its own threads. Returns the gateway (caller owns;
 * cass_gateway_stop) or NULL with *err. */
struct cass_gateway *cass_gateway_start(struct cass_daemon *d, struct cass_error **err);
void cass_gateway_stop(struct cass_gateway *g);

/* The port it listens on (the chosen one when the config says 0). */
int cass_gateway_port(const struct cass_gateway *g);

#endif
