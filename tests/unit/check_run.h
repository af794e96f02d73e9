/* Runs a Check suite the way every test program of the project does and
 * turns its result into an exit status. */
#ifndef CASS_CHECK_RUN_H
#define CASS_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

/* Number of failed tests (0 when all passed); frees the runner. */
static inline int cass_check_failures(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed;
}

static inline int cass_check_run(Suite *s)
{
    return cass_check_failures(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
