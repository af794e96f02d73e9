/* Notebooks through the gateway: http://GATEWAY/notebooks/NAME/... is
 * forwarded, HTTP and WebSocket, to the current run of notebook NAME
 * (Jupyter's base URL is that path), once the gateway has checked that the
 * caller holds the notebook's token (?token=, "Authorization: token T", or
 * the cookie set at a token login) or its owner's API token
 * ("Authorization: Bearer SECRET"). A notebook idle culling stopped is
 * started again by its owner's next request, which gets a page saying so
 * while it starts. docs/gateway.md ("Notebooks") has the rules.
 *
 * Internal to the gateway: gateway.c routes /notebooks/ here. */
#ifndef CASS_NBGW_H
#define CASS_NBGW_H

#include <microhttpd.h>
#include <jansson.h>
#include <stddef.h>

#include "daemon.h"

/* Largest request or response body forwarded (the classic notebook's
 * browser upload sends files above 15 MB in chunks of 1 MiB). */
#define CASS_NBGW_MAX_BODY (64u << 20)
/* WebSockets open at once through the gateway; more get a 503. */
#define CASS_NBGW_MAX_WEBSOCKETS 256
/* The cookie a token login sets (Path=/notebooks/NAME/). */
#define CASS_NBGW_COOKIE "cassiny-nb"

struct cass_nbgw;

/* Caller owns (cass_nbgw_free). NULL when out of memory. */
struct cass_nbgw *cass_nbgw_new(struct cass_daemon *d);
/* Closes the WebSockets still open and waits for their threads (at most
 * 5 s); before the libmicrohttpd daemon stops. */
void cass_nbgw_close_all(struct cass_nbgw *n);
void cass_nbgw_free(struct cass_nbgw *n);
/* WebSockets open now. */
unsigned cass_nbgw_websockets(struct cass_nbgw *n);

/* Answers one request for /notebooks/...: url as libmicrohttpd decoded it
 * (routing), raw_uri as the client sent it, path and query (forwarded as
 * is), body the request's. *ret_status gets the status answered (0 when
 * the connection was dropped). */
enum MHD_Result cass_nbgw_request(struct cass_nbgw *n, struct MHD_Connection *conn, const char *url,
                                  const char *raw_uri, const char *method, const char *body,
                                  size_t len, unsigned *ret_status);

/* The address of run's notebook as the engine has it now, recorded in the
 * run when it changed: 0 and host, port, or -1 (no engine, no address, or
 * the same one). For the daemon, also on a gateway process's request. */
int cass_nbgw_endpoint_refresh(struct cass_daemon *d, const json_t *run, char host[64], int *port);

/* A problem response (RFC 9457) of the gateway's, for the caller to add
 * headers to and queue; NULL when out of memory. Defined in gateway.c. */
struct MHD_Response *cass_gateway_problem(unsigned status, const char *detail);

#endif
