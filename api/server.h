/* The REST API over GNU libmicrohttpd: a unix socket (mode 0660, group from
 * the config) and, with listen: in the config, TCP (HTTPS with listen.tls;
 * plain HTTP on loopback only), the same routes, limits and workers. */
#ifndef CASS_SERVER_H
#define CASS_SERVER_H

#include "daemon.h"
#include "error.h"

struct cass_server;

/* Serves on listen_fd, a listening unix socket the service manager passed
 * (socket activation; the server takes it over), or with listen_fd -1 on
 * the socket from the config, which it binds, on its own threads; and when
 * the config has listen, on TCP: tcp_fd, a listening TCP socket passed for
 * it, or with -1 listen.address and listen.port, bound here. Returns the
 * server (caller owns; cass_server_stop) or NULL with *err (listen_fd and
 * tcp_fd are the caller's again then). */
struct cass_server *cass_server_start(struct cass_daemon *d, int listen_fd, int tcp_fd,
                                      struct cass_error **err);

/* Stops accepting, lets requests in flight finish (at most 5 s), ends the
 * event streams, closes the connections, and removes the socket when it
 * bound it itself. */
void cass_server_stop(struct cass_server *s);

#endif
