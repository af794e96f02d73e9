/* cassinyctl: shared state of one invocation and the verbs. */
#ifndef CASS_CTL_H
#define CASS_CTL_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"
#include "http.h"
#include "output.h"

struct ctl {
    const char *host;
    const char *token;
    enum cass_output_format output;
    int tty; /* stdout is a terminal */
};

/* One request to the daemon. ret is filled for any HTTP status; -1 only when
 * the daemon cannot be reached. */
int ctl_request(struct ctl *c, const char *method, const char *path, const char *content_type,
                const char *body, size_t len, struct cass_http_response *ret,
                struct cass_error **err);

/* A GET whose 2xx JSON body is returned (caller owns); otherwise the problem
 * is printed and NULL returned with *ret_exit set. */
json_t *ctl_get_json(struct ctl *c, const char *path, int *ret_exit);

/* Prints a non-2xx reply (problem+json or plain) to stderr, with spec errors
 * as FILE:LINE:COL lines, and returns the exit code for it. */
int ctl_print_problem(const struct cass_http_response *r, const char *file);

/* Reads a spec file ("-" is stdin), at most max bytes. Caller owns. */
char *ctl_read_file(const char *path, size_t max, size_t *ret_len, struct cass_error **err);

/* The exit code for an error from this process (not from the daemon). */
int ctl_exit_for(const struct cass_error *e);

int ctl_cmd_version(struct ctl *c, int argc, char **argv);
int ctl_cmd_validate(struct ctl *c, int argc, char **argv);
int ctl_cmd_apply(struct ctl *c, int argc, char **argv);

#endif
