/* What the API's event loop does not wait for itself: connections parked
 * (suspended) until their stream has something to send, and the deadline
 * of every request still arriving (a TLS handshake included). One thread, woken by an eventfd, by
 * the daemon's events and by epoll on the descriptors the parked wait for. */
#ifndef CASS_HUB_H
#define CASS_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"
#include "error.h"
#include "stream.h"

struct MHD_Connection;
struct cass_hub;

/* A connection as the hub tracks it, owned by the server (MHD's socket
 * context); between cass_hub_conn_add and cass_hub_conn_remove. */
struct cass_hub_conn {
    struct cass_hub_conn *prev, *next;
    int fd;
    int64_t deadline_ms; /* its request must be in by then; 0: none */
    bool killed;         /* answered 408 and shut down by the hub */
    bool tls;            /* a TLS connection: shut down without the 408 (it would be
                            plain text inside TLS), the handshake bounded the same way */
};

struct cass_hub_tag {
    struct cass_hub_park *p;
};

/* A parked stream: the caller's memory, untouched by the hub once resumed. */
struct cass_hub_park {
    struct cass_hub_park *next;
    struct MHD_Connection *conn;
    int sock; /* the connection's descriptor: a hang-up resumes it */
    struct cass_stream_wait wait;
    /* Called on the hub's thread when wait.events fired (and once when
     * parked): 1 to resume, 0 to keep waiting. NULL: always resume. */
    int (*refill)(void *ctx);
    void *ctx;
    bool hung_up; /* set by the hub: the peer went away while parked */
    struct cass_hub_tag tag_sock, tag_fd;
};

/* Starts the hub's threads. Caller owns the result (cass_hub_free). */
struct cass_hub *cass_hub_start(struct cass_daemon *d, struct cass_error **err);

/* Resumes every parked connection, refuses new ones, joins the threads. */
void cass_hub_stop(struct cass_hub *h);
/* Stops it if need be, then frees it; connections may be added and removed
 * between cass_hub_stop and this (libmicrohttpd closing what is left). */
void cass_hub_free(struct cass_hub *h);

/* From MHD's thread, inside a content reader that has nothing to send:
 * suspends p->conn and hands it to the hub. -1 when the hub is stopping
 * (nothing was suspended: end the stream). */
int cass_hub_park(struct cass_hub *h, struct cass_hub_park *p);

/* Request deadlines. deadline_ms 0 disarms. The hub answers a connection
 * whose deadline passed with 408 and shuts it down (MHD then closes it). */
void cass_hub_conn_add(struct cass_hub *h, struct cass_hub_conn *c, int64_t deadline_ms);
void cass_hub_conn_arm(struct cass_hub *h, struct cass_hub_conn *c, int64_t deadline_ms);
void cass_hub_conn_remove(struct cass_hub *h, struct cass_hub_conn *c);

#endif
