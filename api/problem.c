#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
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

/* Length of the valid UTF-8 sequence at s, 0 when none starts there
 * (overlong forms, surrogates and code points past U+10FFFF are not). */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0], min;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        n = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000;
    else
        return 0;
    unsigned cp = c & (0x3fu >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    return cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : n;
}

/* s as a JSON string, each byte that is not UTF-8 made '?': messages quote
 * what clients and the engine sent, and jansson refuses invalid UTF-8, which
 * would turn a 4xx into a problem that cannot be written. NULL: "". */
static json_t *text_new(const char *s)
{
    _cleanup_free_ char *t = strdup(s ? s : "");
    if (!t)
        return NULL;
    for (unsigned char *p = (unsigned char *)t; *p;) {
        size_t n = utf8_seq(p);
        if (!n)
            *p = '?', n = 1;
        p += n;
    }
    return json_string(t);
}

json_t *cass_problem_new(unsigned status, const char *detail)
{
    return json_pack("{s:s,s:s,s:I,s:o}", "type", "about:blank", "title",
                     cass_problem_title(status), "status", (json_int_t)status, "detail",
                     text_new(detail));
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
            json_t *o = json_pack("{s:o,s:o}", "path", text_new(it->path), "message",
                                  text_new(it->message));
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
