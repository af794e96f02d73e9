#include "config.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "log.h"

/* Atomic: SIGHUP changes it while other threads log. */
static _Atomic int log_level = CASS_LOG_INFO;
static enum cass_log_format log_format = CASS_LOG_TEXT;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void cass_log_setup(enum cass_log_level level, enum cass_log_format format)
{
    atomic_store(&log_level, (int)level);
    log_format = format;
}

void cass_log_set_level(enum cass_log_level level)
{
    atomic_store(&log_level, (int)level);
}

int cass_log_level_parse(const char *s, enum cass_log_level *ret)
{
    for (int i = 0; i <= CASS_LOG_DEBUG; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *ret = (enum cass_log_level)i;
            return 0;
        }
    return -1;
}

int cass_log_format_parse(const char *s, enum cass_log_format *ret)
{
    if (strcmp(s, "text") == 0)
        *ret = CASS_LOG_TEXT;
    else if (strcmp(s, "json") == 0)
        *ret = CASS_LOG_JSON;
    else
        return -1;
    return 0;
}

int cass_log_enabled(enum cass_log_level level)
{
    return (int)level <= atomic_load(&log_level);
}

/* Text that may come from a container or a client is escaped so that it
 * cannot forge log lines or terminal control sequences. */
static void write_escaped(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            fputs("\\n", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
}

void cass_log_write(enum cass_log_level level, const char *fmt, ...)
{
    if (!cass_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (!msg)
        return;

    pthread_mutex_lock(&log_lock);
    if (log_format == CASS_LOG_JSON) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        json_t *o = json_pack("{s:f,s:s,s:s}", "ts", (double)ts.tv_sec + ts.tv_nsec / 1e9, "level",
                              level_names[level], "msg", msg);
        if (o) {
            char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
            if (line) {
                fprintf(stderr, "%s\n", line);
                free(line);
            }
            json_decref(o);
        }
    } else {
        fprintf(stderr, "%s: ", level_names[level]);
        write_escaped(stderr, msg);
        fputc('\n', stderr);
    }
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}
