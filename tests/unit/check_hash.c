#include "config.h"

#include "check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "hash.h"

START_TEST(sha256_known_vectors)
{
    char out[CASS_SHA256_HEX_LEN + 1];
    cass_hash_sha256_hex("", 0, out);
    ck_assert_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cass_hash_sha256_hex("abc", 3, out);
    ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    struct cass_hash_ctx *c = cass_hash_new();
    cass_hash_update(c, "a", 1);
    cass_hash_update(c, "bc", 2);
    char streamed[CASS_SHA256_HEX_LEN + 1];
    cass_hash_finish(c, streamed);
    ck_assert_str_eq(streamed, out);
}
END_TEST

/* RFC 4231, test case 2; and the comparison of secrets. */
START_TEST(hmac_and_same_secret)
{
    char out[CASS_SHA256_HEX_LEN + 1];
    const char *data = "what do ya want for nothing?";
    cass_hash_hmac_sha256_hex("Jefe", 4, data, strlen(data), out);
    ck_assert_str_eq(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    ck_assert(cass_hash_same_secret("abc", 3, "abc"));
    ck_assert(!cass_hash_same_secret("abc", 2, "abc"));
    ck_assert(!cass_hash_same_secret("abd", 3, "abc"));
    ck_assert(!cass_hash_same_secret("", 0, "abc"));
}
END_TEST

START_TEST(sha256_file)
{
    char path[] = "/tmp/cass-hash-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "abc", 3), 3);
    close(fd);
    char out[CASS_SHA256_HEX_LEN + 1];
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_hash_file(path, out, &err), 0);
    ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    unlink(path);
    ck_assert_int_eq(cass_hash_file(path, out, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);
}
END_TEST

START_TEST(random_tokens)
{
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_free_ char *a = cass_hash_random_token(32, &err);
    _cleanup_free_ char *b = cass_hash_random_token(32, &err);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(strlen(a), 43); /* 32 bytes in unpadded base64 */
    ck_assert_str_ne(a, b);
    ck_assert_uint_eq(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                      strlen(a));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hash");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, sha256_known_vectors);
    tcase_add_test(tc, sha256_file);
    tcase_add_test(tc, hmac_and_same_secret);
    tcase_add_test(tc, random_tokens);
    suite_add_tcase(s, tc);
    return cass_check_run(s);
}
