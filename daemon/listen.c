#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "cleanup.h"
#include "listen.h"
#include "log.h"

#define PEM_MAX_BYTES (1024 * 1024)

/* The whole of a small regular file, NUL-terminated (caller owns), or NULL
 * with *err. *ret_mode gets its mode. */
static char *read_pem(const char *what, const char *path, mode_t *ret_mode, struct cass_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        cass_error_errno(err, errno, "%s %s cannot be read", what, path);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        cass_error_errno(err, errno, "%s %s", what, path);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > PEM_MAX_BYTES) {
        cass_error_set(err, CASS_ERR_INVALID, "%s %s is not a regular file of at most %d bytes",
                       what, path, PEM_MAX_BYTES);
        return NULL;
    }
    _cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    size_t len = 0;
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cass_error_errno(err, errno, "%s %s cannot be read", what, path);
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    /* libmicrohttpd takes PEM as a C string. */
    if (memchr(buf, '\0', len) || len == 0) {
        cass_error_set(err, CASS_ERR_INVALID, "%s %s is not PEM text", what, path);
        return NULL;
    }
    *ret_mode = st.st_mode;
    return TAKE_PTR(buf);
}

static gnutls_datum_t datum(const char *pem)
{
    return (gnutls_datum_t){.data = (unsigned char *)pem, .size = (unsigned)strlen(pem)};
}

static void free_crts(gnutls_x509_crt_t *crts, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
}

/* The certificates of a PEM text; 0 and *ret (free_crts), or -1 with *err. */
static int import_crts(const char *what, const char *path, const char *pem, gnutls_x509_crt_t **ret,
                       unsigned *ret_n, struct cass_error **err)
{
    gnutls_datum_t d = datum(pem);
    int rc = gnutls_x509_crt_list_import2(ret, ret_n, &d, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || *ret_n == 0) {
        if (rc >= 0)
            free_crts(*ret, *ret_n);
        return cass_error_set(
            err, CASS_ERR_INVALID,
            "%s %s holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\"): %s", what, path,
            rc < 0 ? gnutls_strerror(rc) : "none found");
    }
    return 0;
}

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void cass_listen_tls_clear(struct cass_listen_tls *t)
{
    if (!t)
        return;
    free(t->cert);
    wipe_free(t->key);
    free(t->ca);
    *t = (struct cass_listen_tls){0};
}

int cass_listen_tls_load(const char *cert, const char *key, const char *ca,
                         struct cass_listen_tls *ret, enum cass_listen_tls_file *ret_which,
                         struct cass_error **err)
{
    enum cass_listen_tls_file which_dummy;
    enum cass_listen_tls_file *which = ret_which ? ret_which : &which_dummy;
    mode_t mode = 0, key_mode = 0;
    struct cass_listen_tls t = {0};
    gnutls_x509_crt_t *crts = NULL;
    unsigned n = 0;
    gnutls_x509_privkey_t pk = NULL;
    gnutls_certificate_credentials_t cred = NULL;
    int rc = -1;

    *which = CASS_LISTEN_TLS_CERT;
    if (!(t.cert = read_pem("the certificate", cert, &mode, err)) ||
        import_crts("the certificate", cert, t.cert, &crts, &n, err) < 0)
        goto out;
    t.not_after = gnutls_x509_crt_get_expiration_time(crts[0]);
    t.not_before = gnutls_x509_crt_get_activation_time(crts[0]);

    *which = CASS_LISTEN_TLS_KEY;
    if (!(t.key = read_pem("the key", key, &key_mode, err)))
        goto out;
    t.key_readable = (key_mode & S_IROTH) != 0;
    gnutls_datum_t kd = datum(t.key);
    int g = gnutls_x509_privkey_init(&pk);
    if (g >= 0)
        g = gnutls_x509_privkey_import2(pk, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (g < 0) {
        cass_error_set(err, CASS_ERR_INVALID,
                       "the key %s is not an unencrypted PEM private key: %s", key,
                       gnutls_strerror(g));
        goto out;
    }
    /* GnuTLS compares the key with the first certificate's public key. */
    g = gnutls_certificate_allocate_credentials(&cred);
    if (g >= 0)
        g = gnutls_certificate_set_x509_key(cred, crts, n, pk);
    if (g == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
        cass_error_set(err, CASS_ERR_INVALID, "the key %s is not the key of the certificate %s",
                       key, cert);
        goto out;
    }
    if (g < 0) {
        cass_error_set(err, CASS_ERR_INVALID, "the certificate %s and the key %s: %s", cert, key,
                       gnutls_strerror(g));
        goto out;
    }

    if (ca) {
        *which = CASS_LISTEN_TLS_CA;
        gnutls_x509_crt_t *cas = NULL;
        unsigned n_ca = 0;
        if (!(t.ca = read_pem("the client CA", ca, &mode, err)) ||
            import_crts("the client CA", ca, t.ca, &cas, &n_ca, err) < 0)
            goto out;
        free_crts(cas, n_ca);
    }
    *ret = t;
    t = (struct cass_listen_tls){0};
    rc = 0;
out:
    if (cred)
        gnutls_certificate_free_credentials(cred);
    if (pk)
        gnutls_x509_privkey_deinit(pk);
    free_crts(crts, n);
    cass_listen_tls_clear(&t);
    return rc;
}

int cass_listen_tls_config(const json_t *tls, const char *where, struct cass_listen_tls *ret,
                           struct cass_error **err)
{
    static const char *const keys[] = {"cert", "key", "clientCA"};
    enum cass_listen_tls_file which = CASS_LISTEN_TLS_CERT;
    const char *cert = json_string_value(json_object_get(tls, "cert"));
    const char *key = json_string_value(json_object_get(tls, "key"));
    if (!cert || !key)
        return cass_error_set(err, CASS_ERR_INVALID, "%s: needs cert and key", where);
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return cass_error_set(err, CASS_ERR_INVALID,
                              "%s: the libmicrohttpd this daemon runs with is built without TLS",
                              where);
    if (cass_listen_tls_load(cert, key, json_string_value(json_object_get(tls, "clientCA")), ret,
                             &which, err) < 0) {
        cass_error_prefix(err, "%s.%s", where, keys[which]);
        return -1;
    }
    time_t now = time(NULL);
    if (ret->not_after != (time_t)-1 && ret->not_after < now)
        log_warn("%s.cert: the certificate %s expired %ld days ago: clients will refuse it", where,
                 cert, (long)((now - ret->not_after) / 86400));
    else if (ret->not_before != (time_t)-1 && ret->not_before > now)
        log_warn("%s.cert: the certificate %s is not valid yet (in %ld s): clients will refuse "
                 "it",
                 where, cert, (long)(ret->not_before - now));
    if (ret->key_readable)
        log_warn("%s.key: %s can be read by every user of this host: chmod 0600 (or 0640 for a "
                 "group) it",
                 where, key);
    return 0;
}

/* TLS 1.2 and 1.3 only. */
#define TLS_PRIORITIES "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1"

void cass_listen_mhd_options(const struct cass_listen_tls *t, struct MHD_OptionItem *opts)
{
    size_t k = 0;
    if (t) {
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, t->key};
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, t->cert};
        if (t->ca)
            opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, t->ca};
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES};
    }
    opts[k] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

bool cass_listen_loopback_name(const char *address)
{
    if (!address)
        return false;
    if (strcmp(address, "localhost") == 0)
        return true;
    struct sockaddr_in in4 = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, address, &in4.sin_addr) == 1)
        return cass_listen_loopback_addr((struct sockaddr *)&in4);
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET6, address, &in6.sin6_addr) == 1)
        return cass_listen_loopback_addr((struct sockaddr *)&in6);
    return false;
}

bool cass_listen_loopback_addr(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family != AF_INET6)
        return false;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(a))
        return true;
    return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
}

int cass_listen_tcp(const char *address, int port, bool loopback_only, struct cass_error **err)
{
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(address, service, &hints, &res);
    if (g != 0)
        return cass_error_set(err, CASS_ERR_INVALID, "%s: %s", address, gai_strerror(g));
    int fd = -1, e = 0;
    char where[CASS_LISTEN_PEER_MAX] = "";
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        cass_auth_format_addr(ai->ai_addr, where, sizeof(where));
        if (loopback_only && !cass_listen_loopback_addr(ai->ai_addr)) {
            freeaddrinfo(res);
            return cass_error_set(err, CASS_ERR_INVALID,
                                  "%s resolves to %s, not a loopback address: plain HTTP on a "
                                  "non-loopback address would send tokens in the clear",
                                  address, where);
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return cass_error_set(err, CASS_ERR_CONFLICT, "cannot listen on %s (%s port %d): %s",
                              where[0] ? where : address, address, port,
                              strerror(e ? e : EADDRNOTAVAIL));
    return fd;
}
