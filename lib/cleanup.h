/* Scope-bound cleanup, after systemd and crun: every resource gets a
 * _cleanup_ helper; TAKE_PTR hands ownership on. */
#ifndef CASS_CLEANUP_H
#define CASS_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

#define TAKE_PTR(p)                                                                                \
    ({                                                                                             \
        __typeof__(p) take_ptr_tmp_ = (p);                                                         \
        (p) = NULL;                                                                                \
        take_ptr_tmp_;                                                                             \
    })

static inline void cass_freep(void *p)
{
    free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(cass_freep)

static inline void cass_fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(cass_fclosep)

static inline void cass_closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}
#define _cleanup_close_ _cleanup_(cass_closep)

/* jansson: json_decref accepts NULL. */
#define _cleanup_json_ _cleanup_(cass_json_decrefp)
struct json_t;
void cass_json_decrefp(void *p);

#define _cleanup_error_ _cleanup_(cass_error_freep)
void cass_error_freep(void *p);

#endif
