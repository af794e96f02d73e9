#include "config.h"

#include <stdio.h>

#include "problem.h"

unsigned cass_problem_status(const struct cass_error *e)
{
    switch (e->kind) {
    case CASS_ERR_INVALID:
        return 422;
    case CASS_ERR_SYNTAX:
        return 400;
    case CASS_ERR_TOO_LARGE:
        return 413;
    case CASS_ERR_NOT_FOUND:
        return 404;
    case CASS_ERR_CONFLICT:
        return 409;
    case CASS_ERR_FORBIDDEN:
        return 403;
    case CASS_ERR_UNAUTHORIZED:
        return 401;
    case CASS_ERR_ENGINE:
        return 502;
    case CASS_ERR_UNAVAILABLE:
        return 503;
    case CASS_ERR_NOSPACE:
        return 507;
    case CASS_ERR_IO:
    case CASS_ERR_NOMEM:
    case CASS_ERR_INTERNAL:
        return 500;
    }
    return 500;
}

const char *cass_problem_title(unsigned status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    }
    return "Error";
}

json_t *cass_problem_new(unsigned status, const char *detail)
{
    return json_pack("{s:s,s:s,s:I,s:s}", "type", "about:blank", "title",
                     cass_problem_title(status), "status", (json_int_t)status, "detail",
                     detail ? detail : "");
}

json_t *cass_problem_from_error(const struct cass_error *e)
{
    unsigned status = cass_problem_status(e);
    json_t *p = cass_problem_new(status, e->message ? e->message : cass_error_kind_name(e->kind));
    if (!p)
        return NULL;
    char type[64];
    snprintf(type, sizeof(type), "urn:cassiny:problem:%s", cass_error_kind_name(e->kind));
    json_object_set_new(p, "type", json_string(type));
    if (e->kind == CASS_ERR_ENGINE && e->status)
        json_object_set_new(p, "engineStatus", json_integer(e->status));
    if (e->n_items) {
        json_t *items = json_array();
        for (size_t i = 0; i < e->n_items; i++) {
            const struct cass_error_item *it = &e->items[i];
            json_t *o = json_pack("{s:s,s:s}", "path", it->path ? it->path : "", "message",
                                  it->message ? it->message : "");
            if (!o)
                continue;
            if (it->line > 0) {
                json_object_set_new(o, "line", json_integer(it->line));
                json_object_set_new(o, "column", json_integer(it->column));
            }
            json_array_append_new(items, o);
        }
        json_object_set_new(p, "errors", items);
    }
    return p;
}
