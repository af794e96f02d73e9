#include "config.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "stream.h"

int64_t cass_stream_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long cass_stream_read_fd(int fd, char *buf, size_t max, struct cass_stream_wait *wait)
{
    for (;;) {
        ssize_t n = read(fd, buf, max);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            wait->fd = fd;
            return CASS_STREAM_AGAIN;
        }
        return n;
    }
}
