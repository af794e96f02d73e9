/* SHA-256 and randomness through OpenSSL's libcrypto. */
#ifndef CASS_HASH_H
#define CASS_HASH_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define CASS_SHA256_HEX_LEN 64

/* Writes the lowercase hex digest of data and a NUL to out (65 bytes). */
void cass_hash_sha256_hex(const void *data, size_t len, char out[CASS_SHA256_HEX_LEN + 1]);

/* Writes the lowercase hex HMAC-SHA256 of data under key and a NUL to out. */
void cass_hash_hmac_sha256_hex(const void *key, size_t key_len, const void *data, size_t len,
                               char out[CASS_SHA256_HEX_LEN + 1]);

/* Whether a equals b (NUL-terminated), in time that depends on neither:
 * both are hashed first, so that their lengths do not show either. */
bool cass_hash_same_secret(const char *a, size_t a_len, const char *b);

/* Streaming digest for files and manifests. */
struct cass_hash_ctx;
struct cass_hash_ctx *cass_hash_new(void);
void cass_hash_update(struct cass_hash_ctx *c, const void *data, size_t len);
/* Writes the hex digest and frees the context. */
void cass_hash_finish(struct cass_hash_ctx *c, char out[CASS_SHA256_HEX_LEN + 1]);

/* sha256 of a regular file's contents; -1 with err on failure. */
int cass_hash_file(const char *path, char out[CASS_SHA256_HEX_LEN + 1], struct cass_error **err);

/* Fills buf with n cryptographically random bytes. */
int cass_hash_random(void *buf, size_t n, struct cass_error **err);

/* n random bytes as unpadded base64url text (caller owns). */
char *cass_hash_random_token(size_t n, struct cass_error **err);

#endif
