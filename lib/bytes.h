/* A growing byte buffer: bodies read from a peer a piece at a time. */
#ifndef CASS_BYTES_H
#define CASS_BYTES_H

#include <stddef.h>

/* Appends n bytes of data to *buf (*len bytes used of *cap), growing it by
 * doubling, and keeps a NUL after the last byte. 0, or -1 when memory runs
 * out (nothing appended). Limits are the caller's to check first. */
int cass_bytes_append(char **buf, size_t *len, size_t *cap, const void *data, size_t n);

#endif
