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

/* Serves on listen_fd, a listening TCP socket the service manager passed
 * (socket activation; the gateway takes it over), or with listen_fd -1 on
 * one it binds to the config's gateway address and port (0: any free
 * port), on its own threads. Returns the gateway (caller owns;
 * cass_gateway_stop) or NULL with *err (listen_fd is the caller's again
 * then). */
struct cass_gateway *cass_gateway_start(struct cass_daemon *d, int listen_fd,
                                        struct cass_error **err);
/* Stops accepting, lets the requests in flight finish (at most 10 s), then
 * closes every connection. A connection not yet accepted stays in the
 * socket's backlog for whoever listens on it next. */
void cass_gateway_stop(struct cass_gateway *g);

/* The port it listens on (the chosen one when the config says 0). */
int cass_gateway_port(const struct cass_gateway *g);

#endif
