/* Fail points (see failpoint.h). */
#include "config.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "failpoint.h"
#include "log.h"

#define STEP_NAME(s) s,
static const char *const steps[] = {CASS_FAILPOINTS(STEP_NAME)};
#undef STEP_NAME
#define N_STEPS (sizeof(steps) / sizeof(steps[0]))

bool cass_failpoints_armed;
static unsigned long at_hit[N_STEPS]; /* 0: not armed; else the hit that kills */
static atomic_ulong hits[N_STEPS];

static int step_index(const char *name, size_t len)
{
    for (size_t i = 0; i < N_STEPS; i++)
        if (strlen(steps[i]) == len && strncmp(steps[i], name, len) == 0)
            return (int)i;
    return -1;
}

int cass_failpoint_init(const char *spec, struct cass_error **err)
{
    if (!spec || !*spec)
        return 0;
    _cleanup_free_ char *copy = strdup(spec);
    if (!copy)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        unsigned long n = 1;
        if (colon) {
            char *end = NULL;
            n = strtoul(colon + 1, &end, 10);
            if (!*(colon + 1) || *end || n == 0)
                return cass_error_set(err, CASS_ERR_INVALID,
                                      "CASS_FAILPOINT: %s: the count must be a number from 1", tok);
        }
        int i = step_index(tok, colon ? (size_t)(colon - tok) : strlen(tok));
        if (i < 0)
            return cass_error_set(err, CASS_ERR_INVALID,
                                  "CASS_FAILPOINT: unknown step %s (cassinyd --list-failpoints)",
                                  tok);
        at_hit[i] = n;
    }
    cass_failpoints_armed = true;
    return 0;
}

void cass_failpoint_hit(const char *step)
{
    int i = step_index(step, strlen(step));
    if (i < 0 || !at_hit[i])
        return;
    if (atomic_fetch_add(&hits[i], 1) + 1 != at_hit[i])
        return;
    log_warn("fail point %s reached: dying as kill -9 would", step);
    raise(SIGKILL);
    _exit(137); /* not reached */
}

void cass_failpoint_list(FILE *f)
{
    for (size_t i = 0; i < N_STEPS; i++)
        fprintf(f, "%s\n", steps[i]);
}
