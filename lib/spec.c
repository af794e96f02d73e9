#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "hash.h"
#include "schema.h"
#include "spec.h"
#include "vocab.h"
#include "yaml.h"

char *cass_spec_canonical(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII | JSON_ENCODE_ANY |
                             JSON_REAL_PRECISION(15));
}

char *cass_spec_revision(const json_t *v)
{
    _cleanup_free_ char *text = cass_spec_canonical(v);
    char hex[CASS_SHA256_HEX_LEN + 1];
    char *out = NULL;
    if (!text)
        return NULL;
    cass_hash_sha256_hex(text, strlen(text), hex);
    if (asprintf(&out, "sha256:%s", hex) < 0)
        return NULL;
    return out;
}

static void item_at(struct cass_error **err, const json_t *pos, const char *path, int want_key,
                    const char *msg)
{
    int line, col;
    cass_yaml_pos_lookup(pos, path, want_key, &line, &col);
    cass_error_add_item(err, path, line, col, "%s", msg);
}

/* Checks apiVersion and kind of one document and finds its schema file name
 * (static string), or returns NULL after adding items to *err. */
static const char *document_schema(const json_t *value, const json_t *pos, struct cass_error **err)
{
    const json_t *api = json_object_get(value, "apiVersion");
    const json_t *kind = json_object_get(value, "kind");
    const char *schema = NULL;

    if (!api)
        item_at(err, pos, "apiVersion", 1, "required field \"apiVersion\" is missing");
    else if (!json_is_string(api) || strcmp(json_string_value(api), CASS_SPEC_API_VERSION))
        item_at(err, pos, "apiVersion", 0, "must be \"" CASS_SPEC_API_VERSION "\"");

    if (!kind) {
        item_at(err, pos, "kind", 1, "required field \"kind\" is missing");
        return NULL;
    }
    const struct cass_vocab_kind *k = cass_vocab_kind(json_string_value(kind));
    if (k)
        schema = k->schema;
    if (!schema)
        item_at(err, pos, "kind", 0, "must be one of: Notebook, Job, Model");
    /* another apiVersion could mean another format: no point checking it */
    return api && json_is_string(api) && !strcmp(json_string_value(api), CASS_SPEC_API_VERSION)
               ? schema
               : NULL;
}

/* Validates one parsed document (an element of cass_yaml_parse's array) and
 * returns the result object of cass_spec_load (new) or NULL with items. */
static json_t *load_document(const json_t *doc, struct cass_error **err)
{
    const json_t *value = json_object_get(doc, "value");
    const json_t *pos = json_object_get(doc, "pos");
    int line = (int)json_integer_value(json_object_get(doc, "line"));

    if (!json_is_object(value)) {
        item_at(err, pos, "", 0,
                "a spec must be a mapping with apiVersion, kind, metadata and spec");
        return NULL;
    }
    const char *schema_name = document_schema(value, pos, err);
    if (!schema_name)
        return NULL;
    const json_t *schema = cass_schema_get(schema_name);
    if (!schema) {
        cass_error_set(err, CASS_ERR_INTERNAL,
                       "embedded schema %s cannot be used (not JSON, or uses a keyword the "
                       "validator does not support)",
                       schema_name);
        return NULL;
    }
    struct cass_error *verr = NULL;
    _cleanup_json_ json_t *spec = cass_schema_apply(schema, value, pos, "", &verr);
    if (!spec) {
        cass_error_merge(err, &verr);
        return NULL;
    }
    const json_t *name = json_object_get(json_object_get(spec, "metadata"), "name");
    if (!json_is_string(name)) {
        item_at(err, pos, "metadata.name", 1, "required field \"name\" is missing");
        return NULL;
    }
    _cleanup_free_ char *canonical = cass_spec_canonical(spec);
    if (!canonical) {
        cass_error_set(err, CASS_ERR_NOMEM, "cannot encode the spec as JSON");
        return NULL;
    }
    char hex[CASS_SHA256_HEX_LEN + 1];
    cass_hash_sha256_hex(canonical, strlen(canonical), hex);
    _cleanup_free_ char *revision = NULL;
    if (asprintf(&revision, "sha256:%s", hex) < 0) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    /* pos goes along so that later checks (the daemon's policy) can name
     * lines too. */
    return json_pack("{s:O,s:O,s:i,s:O,s:s,s:s,s:O}", "kind", json_object_get(spec, "kind"), "name",
                     name, "line", line, "spec", spec, "canonical", canonical, "revision", revision,
                     "pos", pos ? (json_t *)pos : json_null());
}

/* Hands e to the caller, with a message that counts the items. */
static void finish_error(struct cass_error **err, struct cass_error *e)
{
    if (!e)
        return;
    if (e->kind == CASS_ERR_INVALID && e->n_items > 0) {
        free(e->message);
        if (asprintf(&e->message, "invalid spec: %zu error%s", e->n_items,
                     e->n_items == 1 ? "" : "s") < 0)
            e->message = NULL;
    }
    if (err && !*err)
        *err = e;
    else
        cass_error_merge(err, &e);
}

json_t *cass_spec_load(const char *buf, size_t len, struct cass_error **err)
{
    struct cass_yaml_limits lim;
    _cleanup_json_ json_t *docs = NULL;
    _cleanup_json_ json_t *out = json_array();
    struct cass_error *e = NULL;

    cass_yaml_limits_default(&lim);
    if (cass_yaml_parse(buf, len, &lim, &docs, err) < 0)
        return NULL;
    if (json_array_size(docs) == 0) {
        cass_error_add_item(&e, "", 1, 1, "no document in the input");
        finish_error(err, e);
        return NULL;
    }

    /* every document is checked, so that one answer lists all the errors */
    size_t i;
    const json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        struct cass_error *de = NULL;
        json_t *r = load_document(doc, &de);
        if (r) {
            /* names identify specs: two documents may not claim the same one */
            const char *name = json_string_value(json_object_get(r, "name"));
            size_t j;
            const json_t *prev;
            json_array_foreach(out, j, prev)
            {
                if (strcmp(json_string_value(json_object_get(prev, "name")), name))
                    continue;
                char *msg = NULL;
                if (asprintf(&msg, "duplicate name \"%s\" (also used by the document at line %d)",
                             name, (int)json_integer_value(json_object_get(prev, "line"))) >= 0) {
                    item_at(&de, json_object_get(doc, "pos"), "metadata.name", 0, msg);
                    free(msg);
                }
                break;
            }
        }
        if (de && de->kind != CASS_ERR_INVALID) {
            /* our own trouble (a broken embedded schema): nothing else matters */
            json_decref(r);
            cass_error_free(e);
            finish_error(err, de);
            return NULL;
        }
        if (de) {
            json_decref(r);
            cass_error_merge(&e, &de);
            continue;
        }
        json_array_append_new(out, r);
    }
    if (e) {
        finish_error(err, e);
        return NULL;
    }
    return TAKE_PTR(out);
}

json_t *cass_spec_load_as(const char *buf, size_t len, const char *schema_name,
                          struct cass_error **err)
{
    return cass_spec_load_as_pos(buf, len, schema_name, NULL, err);
}

json_t *cass_spec_load_as_pos(const char *buf, size_t len, const char *schema_name,
                              json_t **ret_pos, struct cass_error **err)
{
    struct cass_yaml_limits lim;
    _cleanup_json_ json_t *docs = NULL;
    struct cass_error *e = NULL;

    const json_t *schema = cass_schema_get(schema_name);
    if (!schema) {
        cass_error_set(err, CASS_ERR_INTERNAL, "embedded schema %s cannot be used",
                       schema_name ? schema_name : "(null)");
        return NULL;
    }
    cass_yaml_limits_default(&lim);
    if (cass_yaml_parse(buf, len, &lim, &docs, err) < 0)
        return NULL;
    if (json_array_size(docs) > 1) {
        int line = (int)json_integer_value(json_object_get(json_array_get(docs, 1), "line"));
        cass_error_add_item(&e, "", line, 1, "expected one document, found %zu",
                            json_array_size(docs));
        finish_error(err, e);
        return NULL;
    }
    /* a file of comments only is an empty mapping: all defaults */
    const json_t *doc = json_array_get(docs, 0);
    _cleanup_json_ json_t *empty = json_object();
    const json_t *value = doc ? json_object_get(doc, "value") : empty;
    const json_t *pos = doc ? json_object_get(doc, "pos") : NULL;
    json_t *r = cass_schema_apply(schema, value, pos, "", &e);
    if (!r) {
        finish_error(err, e);
        return NULL;
    }
    if (ret_pos)
        *ret_pos = pos ? json_incref((json_t *)pos) : json_object();
    return r;
}
