/* The REST API over GNU libmicrohttpd: a unix socket (mode 0660, group from
 * the config) and, later, TCP with tokens. */
#ifndef CASS_SERVER_H
#define CASS_SERVER_H

#include "daemon.h"
#include "error.h"

struct cass_server;

/* Binds the socket from the config and starts serving on its own threads.
 * Returns the server (caller owns; cass_server_stop) or NULL with *err. */
struct cass_server *cass_server_start(struct cass_daemon *d, struct cass_error **err);

/* Stops accepting, finishes or drops open connections, removes the socket. */
void cass_server_stop(struct cass_server *s);

#endif
