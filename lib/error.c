#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"

static char *vformat(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        return NULL;
    return s;
}

static struct cass_error *error_new(enum cass_error_kind kind)
{
    struct cass_error *e = calloc(1, sizeof(*e));
    if (!e)
        abort(); /* out of memory while reporting an error: nothing sane remains */
    e->kind = kind;
    return e;
}

int cass_error_set(struct cass_error **err, enum cass_error_kind kind, const char *fmt, ...)
{
    va_list ap;
    if (!err || *err)
        return -1;
    struct cass_error *e = error_new(kind);
    va_start(ap, fmt);
    e->message = vformat(fmt, ap);
    va_end(ap);
    *err = e;
    return -1;
}

int cass_error_errno(struct cass_error **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    if (!err || *err)
        return -1;
    va_start(ap, fmt);
    _cleanup_free_ char *m = vformat(fmt, ap);
    va_end(ap);
    enum cass_error_kind kind = errnum == ENOMEM   ? CASS_ERR_NOMEM
                                : errnum == ENOENT ? CASS_ERR_NOT_FOUND
                                : errnum == ENOSPC ? CASS_ERR_NOSPACE
                                                   : CASS_ERR_IO;
    return cass_error_set(err, kind, "%s: %s", m ? m : "?", strerror(errnum));
}

void cass_error_prefix(struct cass_error **err, const char *fmt, ...)
{
    va_list ap;
    if (!err || !*err)
        return;
    va_start(ap, fmt);
    _cleanup_free_ char *p = vformat(fmt, ap);
    va_end(ap);
    char *m = NULL;
    if (asprintf(&m, "%s: %s", p ? p : "", (*err)->message ? (*err)->message : "") < 0)
        return;
    free((*err)->message);
    (*err)->message = m;
}

void cass_error_add_item(struct cass_error **err, const char *path, int line, int column,
                         const char *fmt, ...)
{
    va_list ap;
    if (!err)
        return;
    if (!*err) {
        *err = error_new(CASS_ERR_INVALID);
        (*err)->message = strdup("invalid spec");
    }
    struct cass_error *e = *err;
    struct cass_error_item *items = realloc(e->items, (e->n_items + 1) * sizeof(*items));
    if (!items)
        abort();
    e->items = items;
    struct cass_error_item *it = &items[e->n_items++];
    it->path = strdup(path ? path : "");
    it->line = line;
    it->column = column;
    va_start(ap, fmt);
    it->message = vformat(fmt, ap);
    va_end(ap);
}

void cass_error_merge(struct cass_error **to, struct cass_error **from)
{
    if (!from || !*from)
        return;
    if (!to) {
        cass_error_free(TAKE_PTR(*from));
        return;
    }
    if (!*to) {
        *to = TAKE_PTR(*from);
        return;
    }
    struct cass_error *f = *from;
    for (size_t i = 0; i < f->n_items; i++)
        cass_error_add_item(to, f->items[i].path, f->items[i].line, f->items[i].column, "%s",
                            f->items[i].message ? f->items[i].message : "");
    cass_error_free(TAKE_PTR(*from));
}

void cass_error_free(struct cass_error *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n_items; i++) {
        free(e->items[i].path);
        free(e->items[i].message);
    }
    free(e->items);
    free(e->message);
    free(e->file);
    free(e);
}

const char *cass_error_kind_name(enum cass_error_kind kind)
{
    switch (kind) {
    case CASS_ERR_INTERNAL:
        return "internal";
    case CASS_ERR_INVALID:
        return "invalid";
    case CASS_ERR_SYNTAX:
        return "syntax";
    case CASS_ERR_TOO_LARGE:
        return "too-large";
    case CASS_ERR_NOT_FOUND:
        return "not-found";
    case CASS_ERR_CONFLICT:
        return "conflict";
    case CASS_ERR_FORBIDDEN:
        return "forbidden";
    case CASS_ERR_UNAUTHORIZED:
        return "unauthorized";
    case CASS_ERR_ENGINE:
        return "engine";
    case CASS_ERR_UNAVAILABLE:
        return "unavailable";
    case CASS_ERR_IO:
        return "io";
    case CASS_ERR_NOSPACE:
        return "no-space";
    case CASS_ERR_NOMEM:
        return "no-memory";
    }
    return "unknown";
}

void cass_json_decrefp(void *p)
{
    json_decref(*(json_t **)p);
}

void cass_error_freep(void *p)
{
    cass_error_free(*(struct cass_error **)p);
}

void cass_error_fprint(FILE *f, const struct cass_error *e, const char *file_hint)
{
    if (!e)
        return;
    const char *file = e->file ? e->file : file_hint;
    if (e->n_items == 0 || !file) {
        fprintf(f, "%s\n", e->message ? e->message : cass_error_kind_name(e->kind));
        if (!file)
            file = "-";
        if (e->n_items == 0)
            return;
    }
    for (size_t i = 0; i < e->n_items; i++) {
        const struct cass_error_item *it = &e->items[i];
        const char *path = it->path && *it->path ? it->path : ".";
        if (it->line > 0)
            fprintf(f, "%s:%d:%d: %s: %s\n", file, it->line, it->column, path,
                    it->message ? it->message : "");
        else
            fprintf(f, "%s: %s: %s\n", file, path, it->message ? it->message : "");
    }
}
