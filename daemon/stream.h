/* Streamed response bodies that never block: a read either has bytes, ends,
 * or says what to wait for, and the HTTP layer parks the connection until
 * then (api/hub.c). Shared by the log and event streams. */
#ifndef CASS_STREAM_H
#define CASS_STREAM_H

#include <stdbool.h>
#include <stdint.h>

/* Returned by a stream's read when it has nothing now; *wait is filled. */
#define CASS_STREAM_AGAIN (-2L)

struct cass_stream_wait {
    int fd;           /* readable or hung up: read again; -1 for none */
    bool events;      /* something recorded in the audit log: refill, then read */
    int64_t until_ms; /* cass_stream_now_ms() at which to read again; 0 for none */
};

/* CLOCK_MONOTONIC in milliseconds. */
int64_t cass_stream_now_ms(void);

#endif
