/* One error type for the whole project: set once where it happens, wrapped
 * with context as it rises, mapped to an HTTP status only in api/. */
#ifndef CASS_ERROR_H
#define CASS_ERROR_H

#include <stddef.h>
#include <stdio.h>

enum cass_error_kind {
    CASS_ERR_INTERNAL = 0,
    CASS_ERR_INVALID,      /* bad input: spec, body, flag, name (422/400, exit 2) */
    CASS_ERR_SYNTAX,       /* input that does not parse (400) */
    CASS_ERR_TOO_LARGE,    /* a size or count limit (413) */
    CASS_ERR_NOT_FOUND,    /* 404 */
    CASS_ERR_CONFLICT,     /* 409 */
    CASS_ERR_FORBIDDEN,    /* policy refusal (403) */
    CASS_ERR_UNAUTHORIZED, /* 401 */
    CASS_ERR_ENGINE,       /* the Docker Engine answered with an error (status kept) */
    CASS_ERR_UNAVAILABLE,  /* the engine or a peer cannot be reached (503) */
    CASS_ERR_IO,           /* file system, database */
    CASS_ERR_NOSPACE,      /* the state directory is full: nothing new until it has room (507) */
    CASS_ERR_NOMEM,
};

/* One problem in a document: field path ("spec.resources.memory"), the
 * 1-based line and column of the node (0 when unknown), and what rule broke. */
struct cass_error_item {
    char *path;
    int line;
    int column;
    char *message;
};

struct cass_error {
    enum cass_error_kind kind;
    int status; /* engine or HTTP status when kind is ENGINE, else 0 */
    char *message;
    char *file; /* file name the items refer to, may be NULL */
    size_t n_items;
    struct cass_error_item *items;
};

/* Sets *err (when err is not NULL and *err is NULL) and returns -1, so that
 * callers can write `return cass_error_set(err, ...);`. */
int cass_error_set(struct cass_error **err, enum cass_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like cass_error_set with the text of errno appended. */
int cass_error_errno(struct cass_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to the message of an error that is already set. */
void cass_error_prefix(struct cass_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends one item; creates the error (kind INVALID) if *err is NULL. */
void cass_error_add_item(struct cass_error **err, const char *path, int line, int column,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Moves all items of *from into *to (creating *to if needed) and frees *from. */
void cass_error_merge(struct cass_error **to, struct cass_error **from);

void cass_error_free(struct cass_error *e);

const char *cass_error_kind_name(enum cass_error_kind kind);

/* Writes e for a person: the message, then one line per item as
 * "FILE:LINE:COL: path: message" (file from e->file, else file_hint). */
void cass_error_fprint(FILE *f, const struct cass_error *e, const char *file_hint);

#endif
