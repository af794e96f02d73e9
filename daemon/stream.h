/* Streamed response bodies that never block: a read either has bytes, ends,
 * or says what to wait for, and the HTTP layer parks the connection until
 * then (api/hub.c). Shared by the log and event streams. */
#ifndef CASS_STREAM_H
#define CASS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returned by a stream's read when it has nothing now; *wait is filled. */
#define CASS_STREAM_AGAIN (-2L)

struct cass_stream_wait {
    int fd;           /* readable or hung up: read again; -1 for none */
    bool events;      /* something recorded in the audit log: refill, then read */
    int64_t until_ms; /* cass_stream_now_ms() at which to read again; 0 for none */
};

/* A read of a non-blocking fd (a pipe a thread fills) as a stream's read:
 * bytes, 0 at the end, -1 on errors, CASS_STREAM_AGAIN with wait->fd = fd
 * when it has nothing now. */
long cass_stream_read_fd(int fd, char *buf, size_t max, struct cass_stream_wait *wait);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t cass_stream_now_ms(void);

#endif
