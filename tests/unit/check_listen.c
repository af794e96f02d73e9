#include "config.h"

#include "check_run.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "listen.h"

/* A file of tests/data/tls (see its README), or of the scratch directory:
 * each path in a buffer of its own, valid for the whole test. */
static char path_buf[32][4096];
static int path_next;
static char *next_buf(void)
{
    ck_assert_int_lt(path_next, 32);
    return path_buf[path_next++];
}
static const char *data(const char *name)
{
    const char *d = getenv("CASS_TEST_DATA");
    if (!d || !*d)
        ck_abort_msg("CASS_TEST_DATA is not set: run through `make check`");
    char *p = next_buf();
    snprintf(p, sizeof(path_buf[0]), "%s/tls/%s", d, name);
    return p;
}

static char scratch[] = "/tmp/check_listen.XXXXXX";
static const char *scratch_file(const char *name, const char *text)
{
    char *p = next_buf();
    snprintf(p, sizeof(path_buf[0]), "%s/%s", scratch, name);
    if (text) {
        FILE *f = fopen(p, "we");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
    }
    return p;
}

/* Loads and expects a refusal of which with msg in its message. */
static void refused(const char *cert, const char *key, const char *ca,
                    enum cass_listen_tls_file want, const char *msg)
{
    struct cass_listen_tls t = {.cert = (char *)"untouched"};
    enum cass_listen_tls_file which = 99;
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_listen_tls_load(cert, key, ca, &t, &which, &err), -1);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err->message, msg), "\"%s\" not in \"%s\"", msg, err->message);
    ck_assert_int_eq(which, want);
    ck_assert_str_eq(t.cert, "untouched");
}

START_TEST(loopback_names)
{
    const char *yes[] = {"127.0.0.1", "127.255.3.9", "::1", "::ffff:127.0.0.1", "localhost"};
    const char *no[] = {"0.0.0.0",         "10.0.0.5", "128.0.0.1",         "::",
                        "::ffff:10.0.0.1", "",         "localhost.example", "2001:db8::1"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        ck_assert_msg(cass_listen_loopback_name(yes[i]), "%s is loopback", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        ck_assert_msg(!cass_listen_loopback_name(no[i]), "%s is not loopback", no[i]);
    ck_assert(!cass_listen_loopback_name(NULL));
}
END_TEST

START_TEST(tls_loads)
{
    struct cass_listen_tls t = {0};
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(
        cass_listen_tls_load(data("server.pem"), data("server.key"), NULL, &t, NULL, &err), 0);
    ck_assert_ptr_null(err);
    ck_assert(strstr(t.cert, "-----BEGIN CERTIFICATE-----"));
    ck_assert(strstr(t.key, "PRIVATE KEY-----"));
    ck_assert_ptr_null(t.ca);
    ck_assert(t.not_before < time(NULL) && t.not_after > time(NULL));
    cass_listen_tls_clear(&t);
    ck_assert_ptr_null(t.key);
    /* A certificate is a CA of its own: enough to load as clientCA. */
    ck_assert_int_eq(cass_listen_tls_load(data("server.pem"), data("server.key"),
                                          data("server.pem"), &t, NULL, &err),
                     0);
    ck_assert(strstr(t.ca, "-----BEGIN CERTIFICATE-----"));
    cass_listen_tls_clear(&t);
}
END_TEST

START_TEST(tls_refusals)
{
    const char *cert = data("server.pem"), *key = data("server.key");
    ck_assert_ptr_nonnull(mkdtemp(scratch));
    refused(scratch_file("missing.pem", NULL), key, NULL, CASS_LISTEN_TLS_CERT, "cannot be read");
    refused(scratch, key, NULL, CASS_LISTEN_TLS_CERT, "is not a regular file");
    refused(scratch_file("empty.pem", ""), key, NULL, CASS_LISTEN_TLS_CERT, "is not PEM text");
    refused(key, key, NULL, CASS_LISTEN_TLS_CERT, "holds no PEM certificate");
    refused(scratch_file("garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n"), key, NULL,
            CASS_LISTEN_TLS_CERT, "holds no PEM certificate");
    refused(cert, cert, NULL, CASS_LISTEN_TLS_KEY, "is not an unencrypted PEM private key");
    refused(cert, scratch_file("missing.key", NULL), NULL, CASS_LISTEN_TLS_KEY, "cannot be read");
    refused(cert, data("other.key"), NULL, CASS_LISTEN_TLS_KEY,
            "is not the key of the certificate");
    refused(cert, key, key, CASS_LISTEN_TLS_CA, "holds no PEM certificate");
    refused(cert, key, scratch_file("nothing", NULL), CASS_LISTEN_TLS_CA, "cannot be read");
    /* A key every user can read is loaded, and said so. */
    char text[4096];
    FILE *f = fopen(key, "re");
    ck_assert_ptr_nonnull(f);
    text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
    fclose(f);
    const char *open_key = scratch_file("open.key", text);
    ck_assert_int_eq(chmod(open_key, 0644), 0);
    struct cass_listen_tls t = {0};
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_listen_tls_load(cert, open_key, NULL, &t, NULL, &err), 0);
    ck_assert(t.key_readable);
    cass_listen_tls_clear(&t);
    ck_assert_int_eq(chmod(open_key, 0600), 0);
    ck_assert_int_eq(cass_listen_tls_load(cert, open_key, NULL, &t, NULL, &err), 0);
    ck_assert(!t.key_readable);
    cass_listen_tls_clear(&t);
    const char *names[] = {"empty.pem", "garbage.pem", "open.key"};
    for (size_t i = 0; i < 3; i++)
        unlink(scratch_file(names[i], NULL));
    rmdir(scratch);
}
END_TEST

START_TEST(tcp_binds)
{
    _cleanup_error_ struct cass_error *err = NULL;
    int fd = cass_listen_tcp("127.0.0.1", 0, true, &err);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    ck_assert(cass_listen_loopback_addr((struct sockaddr *)&sa));
    ck_assert_int_ne(ntohs(((struct sockaddr_in *)&sa)->sin_port), 0);
    close(fd);
    ck_assert_int_eq(cass_listen_tcp("0.0.0.0", 0, true, &err), -1);
    ck_assert(strstr(err->message, "not a loopback address"));
    ck_assert(strstr(err->message, "would send tokens in the clear"));
    cass_error_free(TAKE_PTR(err));
    ck_assert_int_eq(cass_listen_tcp("no-such-host.invalid", 0, false, &err), -1);
    ck_assert_ptr_nonnull(err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("listen");
    TCase *tc = tcase_create("listen");
    tcase_add_test(tc, loopback_names);
    tcase_add_test(tc, tls_loads);
    tcase_add_test(tc, tls_refusals);
    tcase_add_test(tc, tcp_binds);
    suite_add_tcase(s, tc);
    return cass_check_run(s);
}
