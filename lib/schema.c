#include "config.h"

#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "quantity.h"
#include "schema.h"
#include "yaml.h"

/* Caps that keep a hostile instance (or a recursive schema) from turning
 * validation into a long computation or a long error list. */
#define MAX_SCHEMA_DEPTH 256
#define MAX_STEPS 1000000
#define MAX_ERROR_ITEMS 100
#define MAX_CACHED_REGEX 256

/* ---- regex cache ------------------------------------------------------------ */

struct regex_entry {
    struct regex_entry *next;
    char *pattern;
    int status; /* of regcomp */
    regex_t re;
};

static pthread_mutex_t regex_lock = PTHREAD_MUTEX_INITIALIZER;
static struct regex_entry *regex_cache;
static size_t regex_cached;

/* Matches s against the POSIX ERE pattern; 1 match, 0 no match, -1 when the
 * pattern does not compile (msg gets regerror's text). Compiled patterns are
 * kept for the process lifetime; regexec on a shared regex_t is thread-safe. */
static int regex_match(const char *pattern, const char *s, char *msg, size_t msgsz)
{
    struct regex_entry *e;
    regex_t tmp;
    int r;

    pthread_mutex_lock(&regex_lock);
    for (e = regex_cache; e; e = e->next)
        if (!strcmp(e->pattern, pattern))
            break;
    if (!e && regex_cached < MAX_CACHED_REGEX) {
        e = calloc(1, sizeof(*e));
        if (e && !(e->pattern = strdup(pattern))) {
            free(e);
            e = NULL;
        }
        if (e) {
            e->status = regcomp(&e->re, pattern, REG_EXTENDED | REG_NOSUB);
            e->next = regex_cache;
            regex_cache = e;
            regex_cached++;
        }
    }
    pthread_mutex_unlock(&regex_lock);

    if (e) {
        if (e->status != 0) {
            regerror(e->status, &e->re, msg, msgsz);
            return -1;
        }
        return regexec(&e->re, s, 0, NULL, 0) == 0;
    }
    /* cache full (only with ad-hoc schemas): compile for this call */
    r = regcomp(&tmp, pattern, REG_EXTENDED | REG_NOSUB);
    if (r != 0) {
        regerror(r, &tmp, msg, msgsz);
        return -1;
    }
    r = regexec(&tmp, s, 0, NULL, 0) == 0;
    regfree(&tmp);
    return r;
}

/* ---- validation context --------------------------------------------------- */

struct ctx {
    const json_t *pos;
    struct cass_error **err;
    size_t *n_errors; /* shared by speculative branches so the cap holds */
    size_t *steps;
};

static void report(struct ctx *c, const char *path, bool at_key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Where an error about a value points: the key for a mapping or a sequence
 * ("spec:" rather than the first line inside it), else the value itself. */
static bool key_for(const json_t *v)
{
    return json_is_object(v) || json_is_array(v);
}

static void report(struct ctx *c, const char *path, bool at_key, const char *fmt, ...)
{
    va_list ap;
    _cleanup_free_ char *msg = NULL;
    int line = 0, col = 0;

    if (*c->err && (*c->err)->n_items > MAX_ERROR_ITEMS)
        return;
    cass_yaml_pos_lookup(c->pos, path, at_key, &line, &col);
    if (*c->err && (*c->err)->n_items == MAX_ERROR_ITEMS) {
        cass_error_add_item(c->err, path, line, col, "too many errors; not reporting more");
        return;
    }
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    cass_error_add_item(c->err, path, line, col, "%s", msg ? msg : "invalid");
    (*c->n_errors)++;
}

/* Re-reports the items of a trial, keeping their positions. */
static void forward(struct ctx *c, const struct cass_error *e)
{
    for (size_t i = 0; e && i < e->n_items; i++) {
        if (*c->err && (*c->err)->n_items > MAX_ERROR_ITEMS)
            return;
        cass_error_add_item(c->err, e->items[i].path, e->items[i].line, e->items[i].column, "%s",
                            e->items[i].message);
        (*c->n_errors)++;
    }
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "value";
}

static const char *article(const char *type)
{
    return strchr("aeiou", type[0]) ? "an" : "a";
}

static bool integral_real(const json_t *v)
{
    double d = json_real_value(v);
    return json_is_real(v) && d == floor(d) && fabs(d) < 9007199254740992.0;
}

static bool type_matches(const char *type, const json_t *v)
{
    if (!strcmp(type, "object"))
        return json_is_object(v);
    if (!strcmp(type, "array"))
        return json_is_array(v);
    if (!strcmp(type, "string"))
        return json_is_string(v);
    if (!strcmp(type, "integer"))
        return json_is_integer(v) || integral_real(v);
    if (!strcmp(type, "number"))
        return json_is_number(v);
    if (!strcmp(type, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(type, "null"))
        return json_is_null(v);
    return false;
}

static bool type_allows(const json_t *type, const char *name)
{
    size_t i;
    const json_t *t;
    if (json_is_string(type))
        return !strcmp(json_string_value(type), name);
    json_array_foreach(type, i,
                       t) if (json_is_string(t) && !strcmp(json_string_value(t), name)) return true;
    return false;
}

/* Short text of a value for messages: strings bare, others as JSON. Caller owns. */
static char *value_text(const json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

static double num(const json_t *v)
{
    return json_number_value(v);
}

/* %g loses nothing for the bounds people write in schemas (1, 0.5, 65535). */
static void num_text(const json_t *v, char *buf, size_t n)
{
    if (json_is_integer(v))
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(buf, n, "%.15g", json_real_value(v));
}

static size_t utf8_length(const char *s, size_t bytes)
{
    size_t n = 0;
    for (size_t i = 0; i < bytes; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* ---- $ref ------------------------------------------------------------------ */

/* Resolves a JSON pointer fragment ("/$defs/x") in doc; borrowed or NULL. */
static const json_t *resolve_pointer(const json_t *doc, const char *frag)
{
    const json_t *cur = doc;
    if (!*frag)
        return doc;
    if (*frag != '/')
        return NULL;
    while (cur && *frag == '/') {
        frag++;
        size_t n = strcspn(frag, "/");
        _cleanup_free_ char *tok = malloc(n + 1);
        if (!tok)
            return NULL;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (frag[i] == '~' && i + 1 < n && (frag[i + 1] == '0' || frag[i + 1] == '1')) {
                tok[k++] = frag[i + 1] == '0' ? '~' : '/';
                i++;
            } else {
                tok[k++] = frag[i];
            }
        }
        tok[k] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long idx = strtoul(tok, &end, 10);
            cur = *tok && !*end ? json_array_get(cur, idx) : NULL;
        } else {
            cur = NULL;
        }
        frag += n;
    }
    return cur;
}

/* Target of a $ref and the root document it lives in (both borrowed). */
static const json_t *resolve_ref(const char *ref, const json_t *root, const json_t **ret_root)
{
    const char *hash = strchr(ref, '#');
    const json_t *doc = root;
    if (hash != ref) {
        size_t n = hash ? (size_t)(hash - ref) : strlen(ref);
        _cleanup_free_ char *file = strndup(ref, n);
        if (!file)
            return NULL;
        doc = cass_schema_get(file);
        if (!doc)
            return NULL;
    }
    *ret_root = doc;
    return resolve_pointer(doc, hash ? hash + 1 : "");
}

/* ---- the validator -------------------------------------------------------- */

static json_t *apply(struct ctx *c, const json_t *schema, const json_t *root, const json_t *inst,
                     const char *path, int depth);

/* The default of a property schema, looking through $ref chains. Borrowed. */
static const json_t *find_default(const json_t *schema, const json_t *root, int depth)
{
    while (json_is_object(schema) && depth++ < 16) {
        const json_t *d = json_object_get(schema, "default");
        if (d)
            return d;
        const json_t *ref = json_object_get(schema, "$ref");
        if (!json_is_string(ref))
            return NULL;
        const json_t *nroot = root;
        schema = resolve_ref(json_string_value(ref), root, &nroot);
        root = nroot;
    }
    return NULL;
}

static void join_keys(FILE *f, const json_t *obj)
{
    /* sorted, so that the message does not depend on the schema's layout */
    size_t n = json_object_size(obj), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    const char *k;
    const json_t *v;
    if (!keys)
        return;
    json_object_foreach((json_t *)obj, k, v) keys[i++] = k;
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
            const char *t = keys[b];
            keys[b] = keys[b - 1];
            keys[b - 1] = t;
        }
    for (i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? ", " : "", keys[i]);
    free(keys);
}

static json_t *apply_object(struct ctx *c, const json_t *schema, const json_t *root,
                            const json_t *inst, const char *path, int depth)
{
    const json_t *props = json_object_get(schema, "properties");
    const json_t *addl = json_object_get(schema, "additionalProperties");
    const json_t *names = json_object_get(schema, "propertyNames");
    const json_t *required = json_object_get(schema, "required");
    const json_t *v;
    const char *key;
    json_t *out = json_object();

    json_object_foreach((json_t *)inst, key, v)
    {
        _cleanup_free_ char *kpath = cass_yaml_path_key(path, key);
        if (!kpath)
            continue;
        if (names) {
            /* key errors name the key, at the key's position */
            struct cass_error *kerr = NULL;
            size_t kn = 0;
            struct ctx kc = {.pos = NULL, .err = &kerr, .n_errors = &kn, .steps = c->steps};
            json_t *kv = json_string(key);
            json_decref(apply(&kc, names, root, kv, kpath, depth + 1));
            json_decref(kv);
            for (size_t i = 0; kerr && i < kerr->n_items; i++)
                report(c, kpath, true, "invalid field name \"%s\": %s", key,
                       kerr->items[i].message);
            cass_error_free(kerr);
        }
        const json_t *sub = props ? json_object_get(props, key) : NULL;
        json_t *r;
        if (sub) {
            r = apply(c, sub, root, v, kpath, depth + 1);
        } else if (json_is_false(addl)) {
            char *allowed = NULL;
            size_t an = 0;
            FILE *f = open_memstream(&allowed, &an);
            if (f) {
                join_keys(f, props);
                fclose(f);
            }
            if (allowed && *allowed)
                report(c, kpath, true, "unknown field \"%s\" (allowed: %s)", key, allowed);
            else
                report(c, kpath, true, "unknown field \"%s\" (no fields allowed here)", key);
            free(allowed);
            continue;
        } else if (addl && !json_is_true(addl)) {
            r = apply(c, addl, root, v, kpath, depth + 1);
        } else {
            r = json_incref((json_t *)v);
        }
        json_object_set_new(out, key, r ? r : json_null());
    }

    json_t *req;
    size_t i;
    json_array_foreach(required, i, req)
    {
        if (!json_is_string(req) || json_object_get(inst, json_string_value(req)))
            continue;
        _cleanup_free_ char *rpath = cass_yaml_path_key(path, json_string_value(req));
        report(c, rpath ? rpath : path, true, "required field \"%s\" is missing",
               json_string_value(req));
    }

    /* Defaults: a missing property whose schema has a default gets that
     * default, itself validated and processed (quantities converted, the
     * nested defaults of a default object filled). */
    const json_t *sub;
    json_object_foreach((json_t *)props, key, sub)
    {
        if (json_object_get(inst, key))
            continue;
        const json_t *def = find_default(sub, root, 0);
        if (!def)
            continue;
        _cleanup_free_ char *kpath = cass_yaml_path_key(path, key);
        if (!kpath)
            continue;
        json_t *r = apply(c, sub, root, def, kpath, depth + 1);
        if (r)
            json_object_set_new(out, key, r);
    }

    const json_t *minp = json_object_get(schema, "minProperties");
    const json_t *maxp = json_object_get(schema, "maxProperties");
    size_t n = json_object_size(inst);
    if (json_is_integer(minp) && (json_int_t)n < json_integer_value(minp))
        report(c, path, true, "must have at least %" JSON_INTEGER_FORMAT " field%s",
               json_integer_value(minp), json_integer_value(minp) == 1 ? "" : "s");
    if (json_is_integer(maxp) && (json_int_t)n > json_integer_value(maxp))
        report(c, path, true, "must have at most %" JSON_INTEGER_FORMAT " field%s",
               json_integer_value(maxp), json_integer_value(maxp) == 1 ? "" : "s");
    return out;
}

static json_t *apply_array(struct ctx *c, const json_t *schema, const json_t *root,
                           const json_t *inst, const char *path, int depth)
{
    const json_t *items = json_object_get(schema, "items");
    const json_t *mini = json_object_get(schema, "minItems");
    const json_t *maxi = json_object_get(schema, "maxItems");
    size_t n = json_array_size(inst);
    json_t *out = json_array();

    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(inst, i);
        json_t *r;
        if (items) {
            _cleanup_free_ char *ipath = cass_yaml_path_index(path, i);
            r = ipath ? apply(c, items, root, v, ipath, depth + 1) : NULL;
        } else {
            r = json_incref((json_t *)v);
        }
        json_array_append_new(out, r ? r : json_null());
    }
    if (json_is_integer(mini) && (json_int_t)n < json_integer_value(mini))
        report(c, path, true, "must have at least %" JSON_INTEGER_FORMAT " item%s",
               json_integer_value(mini), json_integer_value(mini) == 1 ? "" : "s");
    if (json_is_integer(maxi) && (json_int_t)n > json_integer_value(maxi))
        report(c, path, true, "must have at most %" JSON_INTEGER_FORMAT " item%s",
               json_integer_value(maxi), json_integer_value(maxi) == 1 ? "" : "s");
    return out;
}

static void check_string(struct ctx *c, const json_t *schema, const json_t *inst, const char *path)
{
    const char *s = json_string_value(inst);
    size_t bytes = json_string_length(inst);
    const json_t *pattern = json_object_get(schema, "pattern");
    const json_t *minl = json_object_get(schema, "minLength");
    const json_t *maxl = json_object_get(schema, "maxLength");
    const json_t *isp = json_object_get(schema, "x-cassiny-path");
    size_t len = utf8_length(s, bytes);

    if (json_is_integer(minl) && (json_int_t)len < json_integer_value(minl)) {
        if (json_integer_value(minl) == 1)
            report(c, path, false, "must not be empty");
        else
            report(c, path, false, "must be at least %" JSON_INTEGER_FORMAT " characters long",
                   json_integer_value(minl));
    }
    if (json_is_integer(maxl) && (json_int_t)len > json_integer_value(maxl))
        report(c, path, false, "must be at most %" JSON_INTEGER_FORMAT " characters long",
               json_integer_value(maxl));
    if (json_is_string(pattern)) {
        char rmsg[128] = "";
        /* an embedded NUL would hide the rest of the string from regexec */
        int m =
            strlen(s) == bytes ? regex_match(json_string_value(pattern), s, rmsg, sizeof(rmsg)) : 0;
        const json_t *em = json_object_get(schema, "errorMessage");
        if (m < 0)
            report(c, path, false, "schema error: pattern %s does not compile: %s",
                   json_string_value(pattern), rmsg);
        else if (m == 0 && json_is_string(em))
            report(c, path, false, "%s", json_string_value(em));
        else if (m == 0)
            report(c, path, false, "must match %s", json_string_value(pattern));
    }
    if (json_is_true(isp)) {
        const char *why = NULL;
        if (s[0] != '/')
            why = "must be an absolute path (starting with /)";
        else if (strlen(s) != bytes)
            why = "must not contain NUL characters";
        else if (strstr(s, "//"))
            why = "must not contain \"//\"";
        else if (bytes > 1 && s[bytes - 1] == '/')
            why = "must not end with \"/\"";
        else {
            for (const char *p = s; p && *p; p = strchr(p + 1, '/')) {
                const char *seg = p + 1;
                size_t n = strcspn(seg, "/");
                if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) {
                    why = "must not contain \".\" or \"..\" components";
                    break;
                }
            }
        }
        if (why)
            report(c, path, false, "%s", why);
    }
}

static void check_number(struct ctx *c, const json_t *schema, const json_t *inst, const char *path)
{
    static const struct {
        const char *kw;
        const char *text;
        int sign; /* value must compare to the bound like this */
        bool strict;
    } rules[] = {
        {"minimum", "at least", 1, false},
        {"maximum", "at most", -1, false},
        {"exclusiveMinimum", "greater than", 1, true},
        {"exclusiveMaximum", "less than", -1, true},
    };
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        const json_t *b = json_object_get(schema, rules[i].kw);
        if (!json_is_number(b))
            continue;
        bool ok;
        if (json_is_integer(b) && json_is_integer(inst)) {
            json_int_t x = json_integer_value(inst), y = json_integer_value(b);
            ok = rules[i].sign > 0 ? (rules[i].strict ? x > y : x >= y)
                                   : (rules[i].strict ? x < y : x <= y);
        } else {
            double x = num(inst), y = num(b);
            ok = rules[i].sign > 0 ? (rules[i].strict ? x > y : x >= y)
                                   : (rules[i].strict ? x < y : x <= y);
        }
        if (!ok) {
            char t[64];
            num_text(b, t, sizeof(t));
            report(c, path, false, "must be %s %s", rules[i].text, t);
        }
    }
}

/* Converts a quantity (string or number) to its canonical number; NULL after
 * reporting. New reference. */
static json_t *convert_quantity(struct ctx *c, const char *kind, const json_t *inst,
                                const char *path)
{
    char buf[64];
    const char *s;
    int64_t v;
    if (json_is_string(inst)) {
        s = json_string_value(inst);
    } else if (json_is_integer(inst)) {
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(inst));
        s = buf;
    } else if (json_is_real(inst)) {
        snprintf(buf, sizeof(buf), "%.15g", json_real_value(inst));
        s = buf;
    } else {
        s = NULL;
    }
    if (!strcmp(kind, "memory")) {
        if (s && cass_quantity_memory(s, &v) == 0)
            return json_integer(v);
        report(c, path, false, "must be a memory size: %s", cass_quantity_memory_forms);
    } else if (!strcmp(kind, "cpus")) {
        if (s && cass_quantity_cpus(s, &v) == 0)
            return json_real((double)v / 1000.0);
        report(c, path, false, "must be a CPU count: %s", cass_quantity_cpus_forms);
    } else if (!strcmp(kind, "duration")) {
        if (s && cass_quantity_duration(s, &v) == 0)
            return json_integer(v);
        report(c, path, false, "must be a duration: %s", cass_quantity_duration_forms);
    } else {
        report(c, path, false, "schema error: unknown x-cassiny-quantity \"%s\"", kind);
    }
    return NULL;
}

/* Runs one subschema as a trial: its errors go to *ret_err, not to c. */
static json_t *trial(struct ctx *c, const json_t *schema, const json_t *root, const json_t *inst,
                     const char *path, int depth, struct cass_error **ret_err)
{
    size_t n = 0;
    struct ctx t = {.pos = c->pos, .err = ret_err, .n_errors = &n, .steps = c->steps};
    return apply(&t, schema, root, inst, path, depth);
}

/* How bad a failed branch is: a branch that fails on the type of the
 * instance itself is a worse match than one that fails deeper down. */
static size_t branch_badness(const struct cass_error *e, const char *path)
{
    size_t bad = e->n_items;
    for (size_t i = 0; i < e->n_items; i++)
        if (!strcmp(e->items[i].path, path) && strstr(e->items[i].message, ", not a"))
            bad += 1000;
    return bad;
}

static json_t *apply_combinators(struct ctx *c, const json_t *schema, const json_t *root,
                                 json_t *value, const char *path, int depth)
{
    const json_t *one = json_object_get(schema, "oneOf");
    const json_t *any = json_object_get(schema, "anyOf");
    const json_t *not = json_object_get(schema, "not");

    for (int pass = 0; pass < 2; pass++) {
        const json_t *branches = pass == 0 ? one : any;
        if (!json_is_array(branches) || json_array_size(branches) == 0)
            continue;
        size_t nb = json_array_size(branches);
        size_t matched = 0, first = 0, second = 0;
        json_t *result = NULL;
        struct cass_error **errs = calloc(nb, sizeof(*errs));
        if (!errs)
            break;
        for (size_t i = 0; i < nb; i++) {
            json_t *r =
                trial(c, json_array_get(branches, i), root, value, path, depth + 1, &errs[i]);
            if (!errs[i]) {
                if (matched == 0)
                    first = i;
                else if (matched == 1)
                    second = i;
                matched++;
                if (!result)
                    result = r;
                else
                    json_decref(r);
                if (pass == 1)
                    break; /* anyOf: the first match decides */
            } else {
                json_decref(r);
            }
        }
        if (matched == 0) {
            /* the best branch's errors when one stands out, else a summary */
            size_t best = 0, best_bad = SIZE_MAX, ties = 0;
            for (size_t i = 0; i < nb; i++) {
                size_t b = branch_badness(errs[i], path);
                if (b < best_bad) {
                    best_bad = b;
                    best = i;
                    ties = 1;
                } else if (b == best_bad) {
                    ties++;
                }
            }
            if (ties == 1) {
                forward(c, errs[best]);
            } else {
                char *text = NULL;
                size_t tn = 0;
                FILE *f = open_memstream(&text, &tn);
                if (f) {
                    fprintf(f, "must match %s of %zu forms, but matches none:",
                            pass == 0 ? "exactly one" : "at least one", nb);
                    for (size_t i = 0; i < nb; i++) {
                        const json_t *title = json_object_get(json_array_get(branches, i), "title");
                        const struct cass_error_item *it = &errs[i]->items[0];
                        fprintf(f, " (%zu) ", i + 1);
                        if (json_is_string(title))
                            fprintf(f, "%s: ", json_string_value(title));
                        /* "required field" messages name their field already */
                        if (*it->path && strcmp(it->path, path) &&
                            strncmp(it->message, "required field", 14))
                            fprintf(f, "%s: ", it->path);
                        fprintf(f, "%s%s", it->message, i + 1 < nb ? ";" : "");
                    }
                    fclose(f);
                }
                report(c, path, key_for(value), "%s",
                       text ? text : "matches none of the allowed forms");
                free(text);
            }
        } else if (pass == 0 && matched > 1) {
            const json_t *t1 = json_object_get(json_array_get(branches, first), "title");
            const json_t *t2 = json_object_get(json_array_get(branches, second), "title");
            if (json_is_string(t1) && json_is_string(t2))
                report(c, path, key_for(value),
                       "must match exactly one form, but matches both \"%s\" and "
                       "\"%s\"",
                       json_string_value(t1), json_string_value(t2));
            else
                report(c, path, key_for(value),
                       "must match exactly one of %zu forms, but matches %zu (forms %zu and %zu)",
                       nb, matched, first + 1, second + 1);
        }
        for (size_t i = 0; i < nb; i++)
            cass_error_free(errs[i]);
        free(errs);
        if (result) {
            json_decref(value);
            value = result;
        }
    }

    if (not ) {
        struct cass_error *e = NULL;
        json_decref(trial(c, not, root, value, path, depth + 1, &e));
        if (!e) {
            const json_t *title = json_object_get(not, "title");
            if (json_is_string(title))
                report(c, path, key_for(value), "must not be %s", json_string_value(title));
            else
                report(c, path, key_for(value), "must not match the excluded form");
        }
        cass_error_free(e);
    }
    return value;
}

/* Validates inst against schema (root: the document $ref "#..." refers to).
 * Reports into c and returns a new value with defaults and conversions
 * (meaningful only when nothing was reported). */
static json_t *apply(struct ctx *c, const json_t *schema, const json_t *root, const json_t *inst,
                     const char *path, int depth)
{
    if (++*c->steps > MAX_STEPS) {
        if (*c->steps == MAX_STEPS + 1)
            report(c, path, false, "too complex to validate");
        return json_incref((json_t *)inst);
    }
    if (depth > MAX_SCHEMA_DEPTH) {
        report(c, path, false, "schema error: nesting deeper than %d (a $ref loop?)",
               MAX_SCHEMA_DEPTH);
        return json_incref((json_t *)inst);
    }
    if (json_is_true(schema))
        return json_incref((json_t *)inst);
    if (json_is_false(schema)) {
        report(c, path, false, "is not allowed here");
        return json_incref((json_t *)inst);
    }
    if (!json_is_object(schema)) {
        report(c, path, false, "schema error: a schema must be an object or a boolean");
        return json_incref((json_t *)inst);
    }

    json_t *value;
    const json_t *ref = json_object_get(schema, "$ref");
    if (json_is_string(ref)) {
        const json_t *nroot = root;
        const json_t *target = resolve_ref(json_string_value(ref), root, &nroot);
        if (!target) {
            report(c, path, false, "schema error: cannot resolve $ref \"%s\"",
                   json_string_value(ref));
            return json_incref((json_t *)inst);
        }
        value = apply(c, target, nroot, inst, path, depth + 1);
    } else {
        value = json_incref((json_t *)inst);
    }

    const json_t *q = json_object_get(schema, "x-cassiny-quantity");
    if (json_is_string(q)) {
        json_t *conv = convert_quantity(c, json_string_value(q), value, path);
        if (!conv)
            return value;
        json_decref(value);
        value = conv;
    }

    /* The type decides whether the rest makes sense; after a mismatch only
     * one error is reported. A quantity was already checked by conversion. */
    const json_t *type = json_object_get(schema, "type");
    if (type && !json_is_string(q)) {
        bool ok = false;
        if (json_is_string(type)) {
            ok = type_matches(json_string_value(type), value);
        } else {
            size_t i;
            const json_t *t;
            json_array_foreach(type, i, t) ok =
                ok || (json_is_string(t) && type_matches(json_string_value(t), value));
        }
        if (!ok) {
            char *want = NULL;
            size_t wn = 0;
            FILE *f = open_memstream(&want, &wn);
            if (f) {
                if (json_is_string(type)) {
                    fprintf(f, "%s %s", article(json_string_value(type)), json_string_value(type));
                } else {
                    size_t i, n = json_array_size(type);
                    const json_t *t;
                    json_array_foreach(type, i, t)
                        fprintf(f, "%s%s %s",
                                i == 0       ? ""
                                : i + 1 == n ? " or "
                                             : ", ",
                                article(json_string_value(t) ? json_string_value(t) : "x"),
                                json_string_value(t) ? json_string_value(t) : "?");
                }
                fclose(f);
            }
            report(c, path, key_for(value), "must be %s, not %s %s", want ? want : "another type",
                   article(type_name(value)), type_name(value));
            free(want);
            return value;
        }
        /* canonical form: 2.0 where only an integer will do is the integer 2 */
        if (integral_real(value) && !type_allows(type, "number")) {
            json_t *iv = json_integer((json_int_t)json_real_value(value));
            json_decref(value);
            value = iv;
        }
    }

    const json_t *en = json_object_get(schema, "enum");
    if (json_is_array(en)) {
        bool found = false;
        size_t i;
        const json_t *e;
        json_array_foreach(en, i, e) found = found || json_equal(e, value);
        if (!found) {
            char *text = NULL;
            size_t tn = 0;
            FILE *f = open_memstream(&text, &tn);
            if (f) {
                json_array_foreach(en, i, e)
                {
                    _cleanup_free_ char *t = value_text(e);
                    fprintf(f, "%s%s", i ? ", " : "", t ? t : "?");
                }
                fclose(f);
            }
            report(c, path, key_for(value), "must be one of: %s", text ? text : "");
            free(text);
        }
    }
    const json_t *cn = json_object_get(schema, "const");
    if (cn && !json_equal(cn, value)) {
        _cleanup_free_ char *t = json_dumps(cn, JSON_ENCODE_ANY | JSON_COMPACT);
        report(c, path, key_for(value), "must be %s", t ? t : "a fixed value");
    }

    if (json_is_string(value)) {
        check_string(c, schema, value, path);
    } else if (json_is_number(value)) {
        check_number(c, schema, value, path);
    } else if (json_is_object(value)) {
        json_t *o = apply_object(c, schema, root, value, path, depth);
        json_decref(value);
        value = o;
    } else if (json_is_array(value)) {
        json_t *a = apply_array(c, schema, root, value, path, depth);
        json_decref(value);
        value = a;
    }

    return apply_combinators(c, schema, root, value, path, depth);
}

json_t *cass_schema_apply(const json_t *schema, const json_t *instance, const json_t *pos,
                          const char *base_path, struct cass_error **err)
{
    struct cass_error *e = NULL;
    size_t n_errors = 0, steps = 0;
    struct ctx c = {.pos = pos, .err = &e, .n_errors = &n_errors, .steps = &steps};

    if (!schema || !instance) {
        cass_error_set(err, CASS_ERR_INTERNAL, "no schema or no instance to validate");
        return NULL;
    }
    json_t *out = apply(&c, schema, schema, instance, base_path ? base_path : "", 0);
    if (e) {
        json_decref(out);
        if (err && !*err)
            *err = e;
        else
            cass_error_merge(err, &e);
        return NULL;
    }
    return out;
}

/* ---- schema checking and the embedded files -------------------------------- */

static const char *const annotation_keywords[] = {
    "$schema", "$id",        "$comment", "title",     "description",  "examples",
    "default", "deprecated", "readOnly", "writeOnly", "errorMessage", NULL,
};
static const char *const value_keywords[] = {
    "type",
    "required",
    "enum",
    "const",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "$ref",
    "x-cassiny-quantity",
    "x-cassiny-path",
    NULL,
};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s))
            return true;
    return false;
}

static int check_schema(const json_t *schema, const char *where, struct cass_error **err, int depth)
{
    const char *key;
    const json_t *v;
    int r = 0;

    if (json_is_boolean(schema))
        return 0;
    if (!json_is_object(schema) || depth > 64) {
        cass_error_add_item(err, where, 0, 0, "a schema must be an object or a boolean");
        return -1;
    }
    json_object_foreach((json_t *)schema, key, v)
    {
        _cleanup_free_ char *sub = cass_yaml_path_key(where, key);
        if (in_list(annotation_keywords, key)) {
            continue;
        } else if (in_list(value_keywords, key)) {
            if (!strcmp(key, "pattern")) {
                char msg[128];
                if (!json_is_string(v) ||
                    regex_match(json_string_value(v), "", msg, sizeof(msg)) < 0) {
                    cass_error_add_item(err, sub, 0, 0, "pattern does not compile as POSIX ERE");
                    r = -1;
                }
            } else if (!strcmp(key, "x-cassiny-quantity")) {
                const char *q = json_string_value(v);
                if (!q || (strcmp(q, "memory") && strcmp(q, "cpus") && strcmp(q, "duration"))) {
                    cass_error_add_item(err, sub, 0, 0,
                                        "must be \"memory\", \"cpus\" or \"duration\"");
                    r = -1;
                }
            } else if (!strcmp(key, "$ref") && !json_is_string(v)) {
                cass_error_add_item(err, sub, 0, 0, "$ref must be a string");
                r = -1;
            }
        } else if (!strcmp(key, "properties") || !strcmp(key, "$defs")) {
            const char *k2;
            const json_t *v2;
            if (!json_is_object(v)) {
                cass_error_add_item(err, sub, 0, 0, "must be an object of schemas");
                r = -1;
                continue;
            }
            json_object_foreach((json_t *)v, k2, v2)
            {
                _cleanup_free_ char *sub2 = cass_yaml_path_key(sub, k2);
                if (check_schema(v2, sub2 ? sub2 : sub, err, depth + 1) < 0)
                    r = -1;
            }
        } else if (!strcmp(key, "items") || !strcmp(key, "additionalProperties") ||
                   !strcmp(key, "propertyNames") || !strcmp(key, "not")) {
            if (check_schema(v, sub ? sub : where, err, depth + 1) < 0)
                r = -1;
        } else if (!strcmp(key, "oneOf") || !strcmp(key, "anyOf")) {
            size_t i;
            const json_t *b;
            if (!json_is_array(v) || json_array_size(v) == 0) {
                cass_error_add_item(err, sub, 0, 0, "must be a non-empty array of schemas");
                r = -1;
                continue;
            }
            json_array_foreach(v, i, b)
            {
                _cleanup_free_ char *sub2 = cass_yaml_path_index(sub, i);
                if (check_schema(b, sub2 ? sub2 : sub, err, depth + 1) < 0)
                    r = -1;
            }
        } else {
            cass_error_add_item(err, sub, 0, 0, "keyword \"%s\" is not supported", key);
            r = -1;
        }
    }
    return r;
}

int cass_schema_check(const json_t *schema, struct cass_error **err)
{
    struct cass_error *e = NULL;
    if (check_schema(schema, "", &e, 0) < 0) {
        free(e->message);
        e->message = strdup("schema uses something the validator does not support");
        e->kind = CASS_ERR_INTERNAL;
        if (err && !*err)
            *err = e;
        else
            cass_error_merge(err, &e);
        return -1;
    }
    return 0;
}

static pthread_once_t files_once = PTHREAD_ONCE_INIT;
static json_t **files_parsed;
static size_t files_count;

static void files_load(void)
{
    size_t n = 0;
    while (cass_schema_files[n].name)
        n++;
    files_parsed = calloc(n ? n : 1, sizeof(*files_parsed));
    if (!files_parsed)
        return;
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_loads(cass_schema_files[i].text, JSON_REJECT_DUPLICATES, NULL);
        if (s && cass_schema_check(s, NULL) < 0) {
            json_decref(s);
            s = NULL;
        }
        files_parsed[i] = s;
    }
    files_count = n;
}

const json_t *cass_schema_get(const char *name)
{
    pthread_once(&files_once, files_load);
    if (!name)
        return NULL;
    for (size_t i = 0; i < files_count; i++)
        if (!strcmp(cass_schema_files[i].name, name))
            return files_parsed[i];
    return NULL;
}
