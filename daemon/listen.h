/* TCP listeners of the API and the gateway: which addresses may serve plain
 * HTTP (loopback only), binding, and the TLS
 * credentials read from PEM files at start and checked with GnuTLS (the
 * library libmicrohttpd serves TLS with, so what passes here it accepts). */
#ifndef CASS_LISTEN_H
#define CASS_LISTEN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include "error.h"

/* Room for "[IPv6]:PORT" and for "uid:N". */
#define CASS_LISTEN_PEER_MAX 72

/* The PEM texts of one listener, owned; the key is wiped when cleared. */
struct cass_listen_tls {
    char *cert; /* the server's certificate chain */
    char *key;  /* its private key */
    char *ca;   /* clientCA: the authority client certificates must be signed by; may be NULL */
    time_t not_after;  /* when the server's certificate expires */
    time_t not_before; /* when it becomes valid */
    bool key_readable; /* the key file can be read by every user of the host */
};

/* Which file cass_listen_tls_load refused (for the config line to name). */
enum cass_listen_tls_file { CASS_LISTEN_TLS_CERT, CASS_LISTEN_TLS_KEY, CASS_LISTEN_TLS_CA };

/* Reads cert and key (and ca when not NULL): each a regular file of at most
 * 1 MiB holding PEM of its kind (the key unencrypted), the key the
 * certificate's, ca one certificate or more. 0 with *ret filled (release
 * with cass_listen_tls_clear), or -1 with *err saying which file and why and
 * *ret_which (may be NULL) naming it; *ret untouched then. */
int cass_listen_tls_load(const char *cert, const char *key, const char *ca,
                         struct cass_listen_tls *ret, enum cass_listen_tls_file *ret_which,
                         struct cass_error **err);
void cass_listen_tls_clear(struct cass_listen_tls *t);

/* cass_listen_tls_load for a config object tls ({cert, key, clientCA?})
 * found at the dotted path where ("listen.tls"): *err names the key
 * ("listen.tls.key: ..."); refused too when libmicrohttpd has no TLS
 * (MHD_FEATURE_TLS). Logs a warning for a certificate that is
 * expired or not valid yet and for a key every user can read. */
int cass_listen_tls_config(const json_t *tls, const char *where, struct cass_listen_tls *ret,
                           struct cass_error **err);

struct MHD_OptionItem;
/* Fills opts (room for CASS_LISTEN_MHD_OPTIONS) with libmicrohttpd's
 * options for t (key, certificate, the client CA when set, TLS 1.2 and
 * later), ended with MHD_OPTION_END; t must outlive the MHD daemon. With t
 * NULL, only the end. For MHD_OPTION_ARRAY. */
#define CASS_LISTEN_MHD_OPTIONS 5
void cass_listen_mhd_options(const struct cass_listen_tls *t, struct MHD_OptionItem *opts);

/* Whether a config address names the loopback interface: an IPv4 address in
 * 127.0.0.0/8, ::1 (or ::ffff:127.x.y.z), or "localhost". */
bool cass_listen_loopback_name(const char *address);
/* Whether a socket address is a loopback one (AF_INET, AF_INET6). */
bool cass_listen_loopback_addr(const struct sockaddr *sa);

/* Binds and listens on address (an IP address or a host name) and port (0:
 * one the system picks), every address it resolves to tried in turn, the
 * first that binds kept; with loopback_only, an address that is not
 * loopback is refused. The listening descriptor (caller owns), or -1 with
 * *err. */
int cass_listen_tcp(const char *address, int port, bool loopback_only, struct cass_error **err);

#endif
