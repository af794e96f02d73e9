#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "hash.h"

struct cass_hash_ctx {
    EVP_MD_CTX *md;
};

static void to_hex(const unsigned char *d, unsigned n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void cass_hash_sha256_hex(const void *data, size_t len, char out[CASS_SHA256_HEX_LEN + 1])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!EVP_Digest(data, len, d, &n, EVP_sha256(), NULL))
        abort();
    to_hex(d, n, out);
}

void cass_hash_hmac_sha256_hex(const void *key, size_t key_len, const void *data, size_t len,
                               char out[CASS_SHA256_HEX_LEN + 1])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, d, &n))
        abort();
    to_hex(d, n, out);
}

bool cass_hash_same_secret(const char *a, size_t a_len, const char *b)
{
    char ha[CASS_SHA256_HEX_LEN + 1], hb[CASS_SHA256_HEX_LEN + 1];
    cass_hash_sha256_hex(a, a_len, ha);
    cass_hash_sha256_hex(b, strlen(b), hb);
    return CRYPTO_memcmp(ha, hb, CASS_SHA256_HEX_LEN) == 0;
}

struct cass_hash_ctx *cass_hash_new(void)
{
    struct cass_hash_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->md = EVP_MD_CTX_new();
    if (!c->md || !EVP_DigestInit_ex(c->md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(c->md);
        free(c);
        return NULL;
    }
    return c;
}

void cass_hash_update(struct cass_hash_ctx *c, const void *data, size_t len)
{
    EVP_DigestUpdate(c->md, data, len);
}

void cass_hash_finish(struct cass_hash_ctx *c, char out[CASS_SHA256_HEX_LEN + 1])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(c->md, d, &n);
    to_hex(d, n, out);
    EVP_MD_CTX_free(c->md);
    free(c);
}

int cass_hash_file(const char *path, char out[CASS_SHA256_HEX_LEN + 1], struct cass_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return cass_error_errno(err, errno, "open %s", path);
    struct cass_hash_ctx *c = cass_hash_new();
    if (!c)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            cass_hash_finish(c, out);
            return cass_error_errno(err, e, "read %s", path);
        }
        if (n == 0)
            break;
        cass_hash_update(c, buf, (size_t)n);
    }
    cass_hash_finish(c, out);
    return 0;
}

int cass_hash_random(void *buf, size_t n, struct cass_error **err)
{
    if (RAND_bytes(buf, (int)n) != 1)
        return cass_error_set(err, CASS_ERR_INTERNAL, "no random bytes available");
    return 0;
}

char *cass_hash_random_token(size_t n, struct cass_error **err)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[256];
    if (n > sizeof(raw)) {
        cass_error_set(err, CASS_ERR_INTERNAL, "token too long");
        return NULL;
    }
    if (cass_hash_random(raw, n, err) < 0)
        return NULL;
    char *out = malloc(n * 4 / 3 + 4);
    if (!out) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)raw[i] << 16;
        size_t left = n - i;
        if (left > 1)
            v |= (unsigned)raw[i + 1] << 8;
        if (left > 2)
            v |= raw[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        if (left > 1)
            out[o++] = b64[(v >> 6) & 63];
        if (left > 2)
            out[o++] = b64[v & 63];
    }
    out[o] = '\0';
    return out;
}
