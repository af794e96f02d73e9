/* RFC 9457 problem details: the only place where an error kind becomes an
 * HTTP status. */
#ifndef CASS_PROBLEM_H
#define CASS_PROBLEM_H

#include <jansson.h>

#include "error.h"

/* The HTTP status for an error. */
unsigned cass_problem_status(const struct cass_error *e);

/* A problem object for e (caller owns): type, title, status, detail, and
 * for spec errors "errors": [{path, line, column, message}]. */
json_t *cass_problem_from_error(const struct cass_error *e);

/* A problem object with just a status and a detail (caller owns). */
json_t *cass_problem_new(unsigned status, const char *detail);

/* The reason phrase of an HTTP status ("Not Found"). Static. */
const char *cass_problem_title(unsigned status);

#endif
