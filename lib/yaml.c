#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h> /* libyaml: lib/ is only on the quote path (-iquote) */

#include "cleanup.h"
#include "yaml.h"

/* Past this many items the input is hopeless; stop rather than build a
 * megabyte of error text. */
#define MAX_ERROR_ITEMS 100

#define TAG_STR "tag:yaml.org,2002:str"
#define TAG_INT "tag:yaml.org,2002:int"
#define TAG_FLOAT "tag:yaml.org,2002:float"
#define TAG_BOOL "tag:yaml.org,2002:bool"
#define TAG_NULL "tag:yaml.org,2002:null"
#define TAG_MAP "tag:yaml.org,2002:map"
#define TAG_SEQ "tag:yaml.org,2002:seq"

void cass_yaml_limits_default(struct cass_yaml_limits *lim)
{
    lim->max_bytes = 1024 * 1024;
    lim->max_depth = 64;
    lim->max_items = 10000;
    lim->max_docs = 1000; /* a sweep of jobs in one file */
    lim->max_scalar = 65536;
    lim->max_nodes = 100000;
}

/* ---- paths ------------------------------------------------------------- */

static bool is_plain_key(const char *key)
{
    const char *p = key;
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_'))
        return false;
    for (p++; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

char *cass_yaml_path_key(const char *base, const char *key)
{
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (!f)
        return NULL;
    fputs(base ? base : "", f);
    if (is_plain_key(key)) {
        if (base && *base)
            fputc('.', f);
        fputs(key, f);
    } else {
        fputs("[\"", f);
        for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
            switch (*p) {
            case '"':
                fputs("\\\"", f);
                break;
            case '\\':
                fputs("\\\\", f);
                break;
            case '\n':
                fputs("\\n", f);
                break;
            case '\r':
                fputs("\\r", f);
                break;
            case '\t':
                fputs("\\t", f);
                break;
            default:
                if (*p < 0x20 || *p == 0x7f)
                    fprintf(f, "\\u%04x", *p);
                else
                    fputc(*p, f);
            }
        }
        fputs("\"]", f);
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

char *cass_yaml_path_index(const char *base, size_t index)
{
    char *out = NULL;
    if (asprintf(&out, "%s[%zu]", base ? base : "", index) < 0)
        return NULL;
    return out;
}

/* Ends of the successive prefixes of a path that are themselves paths:
 * "a.b[0][\"x.y\"]" -> 1, 3, 6, 14. Returns how many were found. */
static size_t path_prefix_ends(const char *path, size_t *ends, size_t max)
{
    size_t n = 0, i = 0, len = strlen(path);
    while (i < len && n < max) {
        if (path[i] == '[' && path[i + 1] == '"') {
            i += 2;
            while (i < len && path[i] != '"') {
                if (path[i] == '\\' && i + 1 < len)
                    i++;
                i++;
            }
            i++; /* the quote */
            if (i < len && path[i] == ']')
                i++;
        } else if (path[i] == '[') {
            while (i < len && path[i] != ']')
                i++;
            if (i < len)
                i++;
        } else {
            if (path[i] == '.')
                i++;
            while (i < len && path[i] != '.' && path[i] != '[')
                i++;
        }
        ends[n++] = i > len ? len : i;
    }
    return n;
}

void cass_yaml_pos_lookup(const json_t *pos, const char *path, int want_key, int *ret_line,
                          int *ret_col)
{
    size_t ends[256];
    *ret_line = 0;
    *ret_col = 0;
    if (!pos || !path)
        return;
    size_t n = path_prefix_ends(path, ends, sizeof(ends) / sizeof(ends[0]));
    /* try the path itself, then each parent, then the root "" */
    for (size_t k = n + 1; k-- > 0;) {
        size_t len = k == 0 ? 0 : ends[k - 1];
        if (k == n && n > 0 && len != strlen(path))
            len = strlen(path);
        const json_t *p = json_object_getn(pos, path, len);
        if (!json_is_array(p) || json_array_size(p) < 4)
            continue;
        int vl = (int)json_integer_value(json_array_get(p, 0));
        int vc = (int)json_integer_value(json_array_get(p, 1));
        int kl = (int)json_integer_value(json_array_get(p, 2));
        int kc = (int)json_integer_value(json_array_get(p, 3));
        if (want_key && kl > 0) {
            *ret_line = kl;
            *ret_col = kc;
        } else {
            *ret_line = vl;
            *ret_col = vc;
        }
        return;
    }
}

/* ---- positions in the raw text ------------------------------------------ */

/* 1-based line and column (in characters) of a byte offset. */
static void offset_linecol(const char *buf, size_t len, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* Offset of the first byte that is not part of valid UTF-8 (no overlongs,
 * no surrogates, nothing above U+10FFFF), or len. */
static size_t utf8_invalid_offset(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (i + n >= len)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

/* ---- the parser ------------------------------------------------------------ */

struct state {
    yaml_parser_t parser;
    const char *buf;
    size_t len;
    const struct cass_yaml_limits *lim;
    struct cass_error **err;
    size_t n_errors;
    bool fatal;                /* syntax error or limit: stop reading */
    enum cass_error_kind kind; /* of the fatal error, else INVALID */
    size_t n_nodes;
    json_t *pos; /* of the current document, borrowed */
    int no_pos;  /* > 0 while parsing keys and dropped values */
};

static void add_error(struct state *st, enum cass_error_kind kind, const char *path, int line,
                      int col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void add_error(struct state *st, enum cass_error_kind kind, const char *path, int line,
                      int col, const char *fmt, ...)
{
    va_list ap;
    _cleanup_free_ char *msg = NULL;

    if (st->fatal)
        return;
    if (kind != CASS_ERR_INVALID) {
        st->fatal = true;
        st->kind = kind;
    }
    if (st->n_errors >= MAX_ERROR_ITEMS) {
        if (st->n_errors == MAX_ERROR_ITEMS)
            cass_error_add_item(st->err, path, line, col, "too many errors; giving up");
        st->n_errors++;
        st->fatal = true;
        return;
    }
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    cass_error_add_item(st->err, path, line, col, "%s", msg ? msg : "error");
    st->n_errors++;
}

static void mark_linecol(const yaml_mark_t *m, int *line, int *col)
{
    *line = (int)m->line + 1;
    *col = (int)m->column + 1;
}

/* Reads the next event; on failure records libyaml's error. Syntax errors
 * carry the root path: a confused parser's idea of where it was is not a
 * field the author would recognise; the line and column are what matter. */
static int next_event(struct state *st, yaml_event_t *ev)
{
    const char *path = "";
    if (st->fatal)
        return -1;
    if (yaml_parser_parse(&st->parser, ev))
        return 0;

    yaml_parser_t *p = &st->parser;
    int line = 0, col = 0;
    const char *problem = p->problem ? p->problem : "cannot parse";
    switch (p->error) {
    case YAML_READER_ERROR:
        /* the reader reports an offset, not a mark */
        offset_linecol(st->buf, st->len, p->problem_offset, &line, &col);
        if (p->problem_value != -1)
            add_error(st, CASS_ERR_SYNTAX, path, line, col, "%s (byte 0x%02x)", problem,
                      (unsigned)p->problem_value & 0xff);
        else
            add_error(st, CASS_ERR_SYNTAX, path, line, col, "%s", problem);
        break;
    case YAML_MEMORY_ERROR:
        add_error(st, CASS_ERR_NOMEM, path, 0, 0, "out of memory while parsing YAML");
        break;
    default:
        /* "unexpected end of stream" points past the end; the construct
         * that was left open is where the author should look */
        if (p->context && p->problem_mark.index >= st->len)
            mark_linecol(&p->context_mark, &line, &col);
        else
            mark_linecol(&p->problem_mark, &line, &col);
        if (p->context)
            add_error(st, CASS_ERR_SYNTAX, path, line, col, "%s: %s", p->context, problem);
        else
            add_error(st, CASS_ERR_SYNTAX, path, line, col, "%s", problem);
        break;
    }
    return -1;
}

static void record_pos(struct state *st, const char *path, const yaml_mark_t *value, int key_line,
                       int key_col)
{
    int vl, vc;
    if (st->no_pos > 0 || !st->pos)
        return;
    mark_linecol(value, &vl, &vc);
    json_object_set_new(st->pos, path, json_pack("[iiii]", vl, vc, key_line, key_col));
}

/* ---- scalars: YAML 1.2 core schema ---------------------------------------- */

/* "!!foo" for "tag:yaml.org,2002:foo", as the author wrote it. */
static const char *short_tag(const char *tag, char *buf, size_t n)
{
    static const char prefix[] = "tag:yaml.org,2002:";
    if (!strncmp(tag, prefix, sizeof(prefix) - 1)) {
        snprintf(buf, n, "!!%s", tag + sizeof(prefix) - 1);
        return buf;
    }
    return tag;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static bool is_null_form(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int bool_form(const char *s)
{
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return 1;
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return 0;
    return -1;
}

static bool all_digits(const char *s, const char *set)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!strchr(set, *s))
            return false;
    return true;
}

enum num_form { NUM_NONE, NUM_INT, NUM_FLOAT, NUM_INF_NAN };

/* Which core-schema number form s has: [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+,
 * [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, [-+]?.inf, .nan */
static enum num_form number_form(const char *s)
{
    const char *p = s;
    if (!strncmp(s, "0o", 2) && all_digits(s + 2, "01234567"))
        return NUM_INT;
    if (!strncmp(s, "0x", 2) && all_digits(s + 2, "0123456789abcdefABCDEF"))
        return NUM_INT;
    if (*p == '-' || *p == '+')
        p++;
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF"))
        return NUM_INF_NAN;
    if (p == s && (!strcmp(p, ".nan") || !strcmp(p, ".NaN") || !strcmp(p, ".NAN")))
        return NUM_INF_NAN;
    if (all_digits(p, "0123456789"))
        return NUM_INT;
    size_t nd = 0;
    while (*p >= '0' && *p <= '9') {
        p++;
        nd++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            nd++;
        }
    }
    if (nd == 0)
        return NUM_NONE;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return NUM_NONE;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p ? NUM_NONE : NUM_FLOAT;
}

/* Integer of a NUM_INT form; -1 on overflow or (decimal) leading zeros. */
static int parse_int(struct state *st, const char *s, const char *path, int line, int col,
                     json_int_t *ret)
{
    const char *digits = s;
    int base = 10;
    bool neg = false;
    if (!strncmp(s, "0o", 2)) {
        base = 8;
        digits = s + 2;
    } else if (!strncmp(s, "0x", 2)) {
        base = 16;
        digits = s + 2;
    } else {
        if (*digits == '-' || *digits == '+')
            neg = *digits++ == '-';
        /* YAML 1.1 read 010 as octal 8, YAML 1.2 as decimal 10: refuse rather
         * than guess which one the author meant. */
        if (digits[0] == '0' && digits[1]) {
            const char *stripped = digits + strspn(digits, "0");
            add_error(st, CASS_ERR_INVALID, path, line, col,
                      "integer %.40s has a leading zero, which YAML 1.1 reads as octal and "
                      "YAML 1.2 as decimal: write %s%.40s, or 0o%.40s for octal, or quote it",
                      s, neg ? "-" : "", *stripped ? stripped : "0", *stripped ? stripped : "0");
            return -1;
        }
    }
    uint64_t v = 0;
    bool overflow = false;
    for (const char *p = digits; *p; p++) {
        unsigned d = (*p >= '0' && *p <= '9')   ? (unsigned)(*p - '0')
                     : (*p >= 'a' && *p <= 'f') ? (unsigned)(*p - 'a' + 10)
                                                : (unsigned)(*p - 'A' + 10);
        if (v > (UINT64_MAX - d) / (uint64_t)base) {
            overflow = true;
            break;
        }
        v = v * (uint64_t)base + d;
    }
    if (overflow || (!neg && v > (uint64_t)INT64_MAX) || (neg && v > (uint64_t)INT64_MAX + 1)) {
        add_error(st, CASS_ERR_INVALID, path, line, col,
                  "integer %.40s%s is out of range (a 64-bit signed integer)", s,
                  strlen(s) > 40 ? "..." : "");
        return -1;
    }
    *ret = neg ? (json_int_t)(0 - v) : (json_int_t)v;
    return 0;
}

static int parse_float(struct state *st, const char *s, const char *path, int line, int col,
                       double *ret)
{
    pthread_once(&c_locale_once, c_locale_init);
    errno = 0;
    char *end = NULL;
    double d = c_locale ? strtod_l(s, &end, c_locale) : strtod(s, &end);
    if (!end || *end || !isfinite(d)) {
        add_error(st, CASS_ERR_INVALID, path, line, col,
                  "number %.40s%s is out of range (a finite double)", s,
                  strlen(s) > 40 ? "..." : "");
        return -1;
    }
    *ret = d;
    return 0;
}

/* A scalar event as a new JSON value; NULL after recording an error. */
static json_t *scalar_value(struct state *st, const yaml_event_t *ev, const char *path)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    int line, col;
    mark_linecol(&ev->start_mark, &line, &col);

    if (memchr(s, '\0', len)) {
        add_error(st, CASS_ERR_INVALID, path, line, col, "strings may not contain NUL characters");
        return NULL;
    }

    const char *as = NULL; /* the type the tag or the plain form asks for */
    if (tag && strcmp(tag, "!") != 0) {
        if (!strcmp(tag, TAG_STR) || !strcmp(tag, TAG_INT) || !strcmp(tag, TAG_FLOAT) ||
            !strcmp(tag, TAG_BOOL) || !strcmp(tag, TAG_NULL)) {
            as = tag;
        } else {
            char buf[80];
            add_error(st, CASS_ERR_INVALID, path, line, col,
                      "tag %.60s is not supported on a scalar (only !!str, !!int, !!float, "
                      "!!bool and !!null)",
                      short_tag(tag, buf, sizeof(buf)));
            return NULL;
        }
    } else if (!plain || tag) {
        as = TAG_STR; /* quoted, block, or the non-specific "!" tag */
    }

    if (as && !strcmp(as, TAG_STR)) {
        json_t *v = json_stringn(s, len);
        if (!v)
            add_error(st, CASS_ERR_SYNTAX, path, line, col, "invalid UTF-8 in string");
        return v;
    }

    enum num_form nf = number_form(s);
    if (!as) {
        if (is_null_form(s))
            return json_null();
        int b = bool_form(s);
        if (b >= 0)
            return json_boolean(b);
        if (nf == NUM_NONE) {
            json_t *v = json_stringn(s, len);
            if (!v)
                add_error(st, CASS_ERR_SYNTAX, path, line, col, "invalid UTF-8 in string");
            return v;
        }
    } else if (!strcmp(as, TAG_NULL)) {
        if (is_null_form(s))
            return json_null();
        add_error(st, CASS_ERR_INVALID, path, line, col, "!!null value must be null or ~");
        return NULL;
    } else if (!strcmp(as, TAG_BOOL)) {
        int b = bool_form(s);
        if (b >= 0)
            return json_boolean(b);
        add_error(st, CASS_ERR_INVALID, path, line, col, "!!bool value must be true or false");
        return NULL;
    } else if (!strcmp(as, TAG_INT) && nf != NUM_INT) {
        add_error(st, CASS_ERR_INVALID, path, line, col,
                  "!!int value must be an integer (123, -5, 0x1f, 0o17)");
        return NULL;
    } else if (!strcmp(as, TAG_FLOAT) && nf != NUM_INT && nf != NUM_FLOAT && nf != NUM_INF_NAN) {
        add_error(st, CASS_ERR_INVALID, path, line, col, "!!float value must be a number");
        return NULL;
    }

    if (nf == NUM_INF_NAN) {
        add_error(st, CASS_ERR_INVALID, path, line, col,
                  "%s: infinity and NaN are not supported (quote it for a string)", s);
        return NULL;
    }
    if (nf == NUM_INT && !(as && !strcmp(as, TAG_FLOAT))) {
        json_int_t i;
        if (parse_int(st, s, path, line, col, &i) < 0)
            return NULL;
        return json_integer(i);
    }
    double d;
    if (nf == NUM_INT) { /* !!float 3 */
        json_int_t i;
        if (parse_int(st, s, path, line, col, &i) < 0)
            return NULL;
        d = (double)i;
    } else if (parse_float(st, s, path, line, col, &d) < 0) {
        return NULL;
    }
    return json_real(d);
}

/* ---- nodes ----------------------------------------------------------------- */

static json_t *parse_node(struct state *st, yaml_event_t *ev, const char *path, int key_line,
                          int key_col, int depth);

static bool collection_tag_ok(struct state *st, const yaml_event_t *ev, const char *tag,
                              const char *want, const char *path)
{
    if (!tag || !strcmp(tag, "!") || !strcmp(tag, want))
        return true;
    int line, col;
    char buf[80];
    mark_linecol(&ev->start_mark, &line, &col);
    add_error(st, CASS_ERR_INVALID, path, line, col,
              "tag %.60s is not supported here (a %s takes no tag or %s)",
              short_tag(tag, buf, sizeof(buf)), !strcmp(want, TAG_MAP) ? "mapping" : "sequence",
              !strcmp(want, TAG_MAP) ? "!!map" : "!!seq");
    return false;
}

static json_t *parse_sequence(struct state *st, yaml_event_t *start, const char *path, int depth)
{
    _cleanup_json_ json_t *arr = json_array();
    bool ok =
        collection_tag_ok(st, start, (const char *)start->data.sequence_start.tag, TAG_SEQ, path);
    size_t n = 0;
    for (;;) {
        yaml_event_t ev;
        if (next_event(st, &ev) < 0)
            return NULL;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (n >= st->lim->max_items) {
            int line, col;
            mark_linecol(&ev.start_mark, &line, &col);
            yaml_event_delete(&ev);
            add_error(st, CASS_ERR_TOO_LARGE, path, line, col, "sequence has more than %zu items",
                      st->lim->max_items);
            return NULL;
        }
        _cleanup_free_ char *ipath = cass_yaml_path_index(path, n);
        if (!ipath) {
            yaml_event_delete(&ev);
            add_error(st, CASS_ERR_NOMEM, path, 0, 0, "out of memory");
            return NULL;
        }
        json_t *v = parse_node(st, &ev, ipath, 0, 0, depth);
        yaml_event_delete(&ev);
        if (st->fatal) {
            json_decref(v);
            return NULL;
        }
        json_array_append_new(arr, v ? v : json_null());
        n++;
    }
    return ok ? TAKE_PTR(arr) : NULL;
}

static json_t *parse_mapping(struct state *st, yaml_event_t *start, const char *path, int depth)
{
    _cleanup_json_ json_t *obj = json_object();
    _cleanup_json_ json_t *key_lines = json_object(); /* for duplicate reports */
    bool ok =
        collection_tag_ok(st, start, (const char *)start->data.mapping_start.tag, TAG_MAP, path);
    size_t n = 0;
    for (;;) {
        yaml_event_t kev;
        if (next_event(st, &kev) < 0)
            return NULL;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            break;
        }
        int kl, kc;
        mark_linecol(&kev.start_mark, &kl, &kc);
        if (n >= st->lim->max_items) {
            yaml_event_delete(&kev);
            add_error(st, CASS_ERR_TOO_LARGE, path, kl, kc, "mapping has more than %zu entries",
                      st->lim->max_items);
            return NULL;
        }
        n++;

        /* The key: a string scalar. Anything else is reported, parsed to keep
         * the event stream in step, and dropped. */
        _cleanup_free_ char *kpath = NULL;
        _cleanup_free_ char *key = NULL;
        st->no_pos++;
        json_t *kv = parse_node(st, &kev, path, 0, 0, depth);
        st->no_pos--;
        if (kev.type == YAML_SCALAR_EVENT) {
            _cleanup_json_ json_t *k = kv;
            if (st->fatal) {
                yaml_event_delete(&kev);
                return NULL;
            }
            if (k && !json_is_string(k)) {
                _cleanup_free_ char *bad =
                    cass_yaml_path_key(path, (const char *)kev.data.scalar.value);
                add_error(st, CASS_ERR_INVALID, bad ? bad : path, kl, kc,
                          "mapping keys must be strings; quote \"%.60s\" to use it as one",
                          (const char *)kev.data.scalar.value);
                ok = false;
            } else if (k) {
                key = strdup(json_string_value(k));
            } else {
                ok = false;
            }
        } else {
            json_decref(kv);
            if (st->fatal) {
                yaml_event_delete(&kev);
                return NULL;
            }
            if (kev.type != YAML_ALIAS_EVENT)
                add_error(st, CASS_ERR_INVALID, path, kl, kc,
                          "mapping keys must be strings, not a %s",
                          kev.type == YAML_MAPPING_START_EVENT ? "mapping" : "sequence");
            ok = false;
        }
        yaml_event_delete(&kev);
        if (key) {
            kpath = cass_yaml_path_key(path, key);
            if (!kpath) {
                add_error(st, CASS_ERR_NOMEM, path, 0, 0, "out of memory");
                return NULL;
            }
        }

        bool dup = false;
        if (key && json_object_get(key_lines, key)) {
            add_error(st, CASS_ERR_INVALID, kpath, kl, kc,
                      "duplicate key \"%.60s\" (first at line %d)", key,
                      (int)json_integer_value(json_object_get(key_lines, key)));
            dup = true;
            ok = false;
        } else if (key) {
            json_object_set_new(key_lines, key, json_integer(kl));
        }

        yaml_event_t vev;
        if (next_event(st, &vev) < 0)
            return NULL;
        /* a dropped value leaves no positions, so that the first one's stay */
        bool keep = key && !dup;
        if (!keep)
            st->no_pos++;
        json_t *v = parse_node(st, &vev, kpath ? kpath : path, kl, kc, depth);
        if (!keep)
            st->no_pos--;
        yaml_event_delete(&vev);
        if (st->fatal) {
            json_decref(v);
            return NULL;
        }
        if (key && !dup)
            json_object_set_new(obj, key, v ? v : json_null());
        else
            json_decref(v);
    }
    return ok ? TAKE_PTR(obj) : NULL;
}

/* Parses the node that starts with ev (which the caller still owns and
 * deletes). Returns a new value, or NULL after recording an error. */
static json_t *parse_node(struct state *st, yaml_event_t *ev, const char *path, int key_line,
                          int key_col, int depth)
{
    int line, col;
    mark_linecol(&ev->start_mark, &line, &col);

    if (++st->n_nodes > st->lim->max_nodes) {
        add_error(st, CASS_ERR_TOO_LARGE, path, line, col, "more than %zu nodes in the input",
                  st->lim->max_nodes);
        return NULL;
    }

    const char *anchor = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        add_error(st, CASS_ERR_INVALID, path, line, col,
                  "anchors and aliases are not supported (*%.60s)",
                  (const char *)ev->data.alias.anchor);
        return NULL;
    case YAML_SCALAR_EVENT:
        anchor = (const char *)ev->data.scalar.anchor;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = (const char *)ev->data.sequence_start.anchor;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = (const char *)ev->data.mapping_start.anchor;
        break;
    default:
        add_error(st, CASS_ERR_SYNTAX, path, line, col, "unexpected YAML event");
        return NULL;
    }
    bool ok = true;
    if (anchor) {
        add_error(st, CASS_ERR_INVALID, path, line, col,
                  "anchors and aliases are not supported (&%.60s)", anchor);
        ok = false;
    }

    record_pos(st, path, &ev->start_mark, key_line, key_col);

    json_t *v = NULL;
    if (ev->type == YAML_SCALAR_EVENT) {
        if (ev->data.scalar.length > st->lim->max_scalar) {
            add_error(st, CASS_ERR_TOO_LARGE, path, line, col,
                      "scalar of %zu bytes is larger than the limit of %zu", ev->data.scalar.length,
                      st->lim->max_scalar);
            return NULL;
        }
        v = scalar_value(st, ev, path);
    } else {
        if (depth + 1 > st->lim->max_depth) {
            add_error(st, CASS_ERR_TOO_LARGE, path, line, col, "nesting is deeper than %d levels",
                      st->lim->max_depth);
            return NULL;
        }
        if (ev->type == YAML_SEQUENCE_START_EVENT)
            v = parse_sequence(st, ev, path, depth + 1);
        else
            v = parse_mapping(st, ev, path, depth + 1);
    }
    if (!ok) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* ---- documents ------------------------------------------------------------- */

static int parse_stream(struct state *st, json_t *docs)
{
    yaml_event_t ev;
    size_t n_docs = 0;

    if (next_event(st, &ev) < 0)
        return -1;
    if (ev.type != YAML_STREAM_START_EVENT) {
        yaml_event_delete(&ev);
        add_error(st, CASS_ERR_SYNTAX, "", 1, 1, "not a YAML stream");
        return -1;
    }
    yaml_event_delete(&ev);

    for (;;) {
        if (next_event(st, &ev) < 0)
            return -1;
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        int dl, dc;
        mark_linecol(&ev.start_mark, &dl, &dc);
        if (ev.type != YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            add_error(st, CASS_ERR_SYNTAX, "", dl, dc, "expected a document");
            return -1;
        }
        yaml_event_delete(&ev);
        if (++n_docs > st->lim->max_docs) {
            add_error(st, CASS_ERR_TOO_LARGE, "", dl, dc, "more than %zu documents in the input",
                      st->lim->max_docs);
            return -1;
        }

        _cleanup_json_ json_t *pos = json_object();
        st->pos = pos;
        if (next_event(st, &ev) < 0)
            return -1;
        _cleanup_json_ json_t *value = parse_node(st, &ev, "", 0, 0, 0);
        yaml_event_delete(&ev);
        st->pos = NULL;
        if (st->fatal)
            return -1;

        if (next_event(st, &ev) < 0)
            return -1;
        if (ev.type != YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            add_error(st, CASS_ERR_SYNTAX, "", dl, dc, "expected the end of a document");
            return -1;
        }
        yaml_event_delete(&ev);

        /* Empty documents (a trailing "---", a comment-only file) are dropped. */
        if (value && !json_is_null(value))
            json_array_append_new(
                docs, json_pack("{s:O,s:i,s:O}", "value", value, "line", dl, "pos", pos));
    }
}

/* Hands the collected items to the caller with the kind and a summary. */
static int give_error(struct cass_error **err, struct cass_error **e, enum cass_error_kind kind)
{
    (*e)->kind = kind;
    free((*e)->message);
    (*e)->message = strdup(kind == CASS_ERR_SYNTAX      ? "YAML syntax error"
                           : kind == CASS_ERR_TOO_LARGE ? "YAML input too large"
                           : kind == CASS_ERR_NOMEM     ? "out of memory"
                                                        : "invalid YAML");
    if (err && !*err)
        *err = TAKE_PTR(*e);
    else
        cass_error_merge(err, e);
    return -1;
}

int cass_yaml_parse(const char *buf, size_t len, const struct cass_yaml_limits *lim,
                    json_t **ret_docs, struct cass_error **err)
{
    struct cass_yaml_limits deflim;
    struct cass_error *e = NULL;
    int line, col;

    if (!lim) {
        cass_yaml_limits_default(&deflim);
        lim = &deflim;
    }
    if (!buf)
        len = 0;

    if (len > lim->max_bytes) {
        offset_linecol(buf, len, lim->max_bytes, &line, &col);
        cass_error_add_item(&e, "", line, col, "input is %zu bytes, more than the limit of %zu",
                            len, lim->max_bytes);
        return give_error(err, &e, CASS_ERR_TOO_LARGE);
    }
    size_t bad = utf8_invalid_offset((const unsigned char *)buf, len);
    if (bad < len) {
        offset_linecol(buf, len, bad, &line, &col);
        cass_error_add_item(&e, "", line, col, "invalid UTF-8 (byte 0x%02x)",
                            (unsigned char)buf[bad]);
        return give_error(err, &e, CASS_ERR_SYNTAX);
    }

    struct state st = {.buf = buf, .len = len, .lim = lim, .err = &e, .kind = CASS_ERR_INVALID};
    if (!yaml_parser_initialize(&st.parser))
        return cass_error_set(err, CASS_ERR_NOMEM, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&st.parser, (const unsigned char *)(buf ? buf : ""), len);
    yaml_parser_set_encoding(&st.parser, YAML_UTF8_ENCODING);

    _cleanup_json_ json_t *docs = json_array();
    int r = parse_stream(&st, docs);
    yaml_parser_delete(&st.parser);
    if (r < 0 || e) {
        if (!e)
            cass_error_add_item(&e, "", 0, 0, "cannot parse YAML");
        return give_error(err, &e, st.kind);
    }
    *ret_docs = TAKE_PTR(docs);
    return 0;
}
