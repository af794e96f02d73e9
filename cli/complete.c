/* __complete: candidates for the shell completion scripts (packaging/
 * completion/), one per line, so that no shell script parses JSON or
 * restates the verbs and their flags: everything comes from ctl_verbs.
 *
 *   __complete verbs             the verbs
 *   __complete flags [VERB]      the options before a verb, or a verb's
 *   __complete names [KIND]      spec names, from the daemon
 *   __complete runs [NAME]       run ids, newest first, from the daemon
 *   __complete line WORD...      the words after "cassinyctl" up to the one
 *                                being completed (the last, maybe empty):
 *                                what fits there, filtered by that word's
 *                                prefix; the single line ":file" when it
 *                                is a file name (the shell completes those)
 *
 * Daemon lookups have a short timeout and print nothing when the daemon
 * cannot be reached or refuses: completion must never hang or chatter. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"
#include "vocab.h"

#define COMPLETE_TIMEOUT_MS 1500
#define COMPLETE_MAX_RUNS 100
#define FILE_DIRECTIVE ":file"

/* Prints word when it starts with prefix (NULL: any), after lead (may be
 * NULL): "--kind=" for a value given in the same word. */
static void offer(const char *lead, const char *prefix, const char *word)
{
    size_t ln = lead ? strlen(lead) : 0;
    if (prefix && strncmp(prefix, lead ? lead : "", ln) == 0)
        prefix += ln;
    if (prefix && strncmp(word, prefix, strlen(prefix)) != 0)
        return;
    printf("%s%s\n", lead ? lead : "", word);
}

static void offer_flags(const struct ctl_flag *flags, const char *prefix, bool after_verb_only)
{
    for (const struct ctl_flag *f = flags; f && f->name; f++) {
        if (after_verb_only && !f->after_verb)
            continue;
        char word[64];
        snprintf(word, sizeof(word), "--%s", f->name);
        offer(NULL, prefix, word);
        if (f->short_too) {
            snprintf(word, sizeof(word), "-%c", f->val);
            offer(NULL, prefix, word);
        }
    }
}

static void offer_verb_flags(const struct ctl_verb *v, const char *prefix)
{
    offer_flags(v->flags, prefix, false);
    offer_flags(ctl_global_flags, prefix, true);
}

/* Set once a request failed: the next lookups of this completion (names,
 * then runs) are not tried, so a mute daemon costs one timeout, not two. */
static bool daemon_away;

/* A GET of the daemon's JSON, quietly: NULL on any failure. Caller owns. */
static json_t *quiet_get(struct ctl *c, const char *path)
{
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_http *h = daemon_away ? NULL : ctl_http_new(c, COMPLETE_TIMEOUT_MS, &err);
    if (!h)
        return NULL;
    struct cass_http_response r = {0};
    json_t *v = NULL;
    if (cass_http_request(h, "GET", path, NULL, NULL, 0, &r, &err) < 0)
        daemon_away = true;
    else if (r.status == 200)
        v = json_loadb(r.body, r.len, JSON_REJECT_DUPLICATES, NULL);
    cass_http_response_clear(&r);
    cass_http_free(h);
    return v;
}

/* Names of the specs (of kind, "Notebook", when not NULL). */
static void offer_names(struct ctl *c, const char *lead, const char *prefix, const char *kind)
{
    _cleanup_json_ json_t *reply = quiet_get(c, "/v1/specs");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(reply, "specs"), i, s)
    {
        const char *name = ctl_str(s, "name", NULL);
        if (name && ctl_name_valid(name) && (!kind || strcmp(ctl_str(s, "kind", ""), kind) == 0))
            offer(lead, prefix, name);
    }
}

static void offer_runs(struct ctl *c, const char *lead, const char *prefix, const char *name)
{
    char path[160];
    if (name && !ctl_name_valid(name))
        return;
    snprintf(path, sizeof(path), "/v1/runs?limit=%d%s%s", COMPLETE_MAX_RUNS, name ? "&name=" : "",
             name ? name : "");
    _cleanup_json_ json_t *reply = quiet_get(c, path);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(reply, "runs"), i, r)
    {
        const char *id = ctl_str(r, "id", NULL);
        if (id && ctl_run_id_valid(id))
            offer(lead, prefix, id);
    }
}

static void offer_kinds(const char *lead, const char *prefix)
{
    for (const struct cass_vocab_kind *k = cass_vocab_kinds; k->name; k++) {
        char word[32];
        snprintf(word, sizeof(word), "%s", k->name);
        for (char *p = word; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        offer(lead, prefix, word);
    }
}

/* Candidates for a value of kind v; lead as for offer. */
static void offer_value(struct ctl *c, enum ctl_value v, const char *lead, const char *prefix)
{
    static const char *const outputs[] = {"table", "json", "yaml", NULL};
    switch (v) {
    case CTL_VALUE_FILE:
        puts(FILE_DIRECTIVE);
        break;
    case CTL_VALUE_NAME:
        offer_names(c, lead, prefix, NULL);
        break;
    case CTL_VALUE_RUN:
        offer_runs(c, lead, prefix, NULL);
        break;
    case CTL_VALUE_TARGET:
        offer_names(c, lead, prefix, NULL);
        offer_runs(c, lead, prefix, NULL);
        break;
    case CTL_VALUE_KIND_OR_NAME:
        offer_kinds(lead, prefix);
        offer_names(c, lead, prefix, NULL);
        break;
    case CTL_VALUE_KIND:
        offer_kinds(lead, prefix);
        break;
    case CTL_VALUE_STATUS:
        for (const char *const *s = cass_vocab_statuses; *s; s++)
            offer(lead, prefix, *s);
        break;
    case CTL_VALUE_OUTPUT:
        for (const char *const *o = outputs; *o; o++)
            offer(lead, prefix, *o);
        break;
    case CTL_VALUE_IMAGE_ACTION:
        offer(lead, prefix, "push");
        break;
    case CTL_VALUE_NONE:
    case CTL_VALUE_TEXT:
        break;
    }
}

/* The flag word names in flags ("--kind", "--kind=x", "-o", "-ojson"), or
 * NULL; *ret_inline points at a value given in the same word, else NULL. */
static const struct ctl_flag *flag_of(const struct ctl_flag *flags, bool after_verb_only,
                                      const char *word, const char **ret_inline)
{
    *ret_inline = NULL;
    for (const struct ctl_flag *f = flags; f && f->name; f++) {
        if (after_verb_only && !f->after_verb)
            continue;
        size_t n = strlen(f->name);
        if (word[0] == '-' && word[1] == '-' && strncmp(word + 2, f->name, n) == 0) {
            if (word[2 + n] == '\0')
                return f;
            if (word[2 + n] == '=' && f->value != CTL_VALUE_NONE) {
                *ret_inline = word + 3 + n;
                return f;
            }
        }
        if (f->short_too && word[0] == '-' && word[1] == f->val) {
            if (word[2] == '\0')
                return f;
            if (f->value != CTL_VALUE_NONE) {
                *ret_inline = word + 2;
                return f;
            }
        }
    }
    return NULL;
}

/* A verb's flag, or a global one it also takes (-o). */
static const struct ctl_flag *verb_flag_of(const struct ctl_verb *v, const char *word,
                                           const char **ret_inline)
{
    const struct ctl_flag *f = flag_of(v->flags, false, word, ret_inline);
    return f ? f : flag_of(ctl_global_flags, true, word, ret_inline);
}

/* Completes words[n-1] given the words before it. */
static int complete_line(struct ctl *c, int n, char **words)
{
    const char *cur = words[n - 1], *inl = NULL;
    int i = 0;
    /* Options before the verb; a --host, --token or --cacert typed there is used. */
    for (; i < n - 1 && words[i][0] == '-' && strcmp(words[i], "--") != 0; i++) {
        const struct ctl_flag *f = flag_of(ctl_global_flags, false, words[i], &inl);
        if (!f || f->value == CTL_VALUE_NONE)
            continue;
        const char *val = inl;
        if (!val) {
            if (i + 1 == n - 1) {
                offer_value(c, f->value, NULL, cur);
                return CASS_EXIT_OK;
            }
            val = words[++i];
        }
        if (f->val == 'H')
            c->host = val;
        else if (f->val == 't')
            c->token = val;
        else if (f->val == 'C')
            c->cacert = val;
    }
    if (i < n - 1 && strcmp(words[i], "--") == 0)
        i++;
    if (i == n - 1) {
        const struct ctl_flag *f = cur[0] == '-' ? flag_of(ctl_global_flags, false, cur, &inl) : 0;
        if (f && inl) {
            char lead[64];
            snprintf(lead, sizeof(lead), "%.*s", (int)(inl - cur), cur);
            offer_value(c, f->value, lead, cur);
        } else if (cur[0] == '-') {
            offer_flags(ctl_global_flags, cur, false);
        } else {
            for (const struct ctl_verb *v = ctl_verbs; v->name; v++)
                if (v->usage)
                    offer(NULL, cur, v->name);
        }
        return CASS_EXIT_OK;
    }
    const struct ctl_verb *verb = ctl_verb_find(words[i]);
    if (!verb || !verb->usage)
        return CASS_EXIT_OK;

    /* The verb's words before the current one: flags and their values,
     * and the positional arguments given so far. */
    size_t npos = 0;
    const char *kind = NULL;
    bool only_positional = false;
    for (i++; i < n - 1; i++) {
        const char *w = words[i];
        if (!only_positional && strcmp(w, "--") == 0) {
            only_positional = true;
            continue;
        }
        const struct ctl_flag *f =
            only_positional || w[0] != '-' ? NULL : verb_flag_of(verb, w, &inl);
        if (f) {
            if (f->value == CTL_VALUE_NONE || inl)
                continue;
            if (i + 1 == n - 1) {
                offer_value(c, f->value, NULL, cur);
                return CASS_EXIT_OK;
            }
            i++;
            continue;
        }
        if (w[0] == '-' && !only_positional)
            continue; /* unknown: the verb will say so */
        if (npos == 0 && verb->args[0] == CTL_VALUE_KIND_OR_NAME)
            kind = ctl_kind_parse(w);
        npos++;
    }
    if (!only_positional && cur[0] == '-') {
        const struct ctl_flag *f = verb_flag_of(verb, cur, &inl);
        if (f && inl) {
            char lead[64];
            snprintf(lead, sizeof(lead), "%.*s", (int)(inl - cur), cur);
            offer_value(c, f->value, lead, cur);
        } else {
            offer_verb_flags(verb, cur);
        }
        return CASS_EXIT_OK;
    }
    /* get KIND NAME: a second argument only after a kind, and of that kind. */
    if (npos == 1 && verb->args[0] == CTL_VALUE_KIND_OR_NAME) {
        if (kind)
            offer_names(c, NULL, cur, kind);
        return CASS_EXIT_OK;
    }
    if (npos < sizeof(verb->args) / sizeof(verb->args[0]))
        offer_value(c, verb->args[npos], NULL, cur);
    return CASS_EXIT_OK;
}

int ctl_cmd_complete(struct ctl *c, int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    if (strcmp(what, "verbs") == 0 && argc == 2) {
        for (const struct ctl_verb *v = ctl_verbs; v->name; v++)
            if (v->usage)
                puts(v->name);
        return CASS_EXIT_OK;
    }
    if (strcmp(what, "flags") == 0 && argc <= 3) {
        if (argc == 2) {
            offer_flags(ctl_global_flags, NULL, false);
            return CASS_EXIT_OK;
        }
        const struct ctl_verb *v = ctl_verb_find(argv[2]);
        if (!v || !v->usage)
            return CASS_EXIT_USAGE;
        offer_verb_flags(v, NULL);
        return CASS_EXIT_OK;
    }
    if (strcmp(what, "names") == 0 && argc <= 3) {
        const char *kind = argc == 3 ? ctl_kind_parse(argv[2]) : NULL;
        if (argc == 3 && !kind)
            return CASS_EXIT_USAGE;
        offer_names(c, NULL, NULL, kind);
        return CASS_EXIT_OK;
    }
    if (strcmp(what, "runs") == 0 && argc <= 3) {
        offer_runs(c, NULL, NULL, argc == 3 ? argv[2] : NULL);
        return CASS_EXIT_OK;
    }
    if (strcmp(what, "line") == 0 && argc >= 3)
        return complete_line(c, argc - 2, argv + 2);
    fprintf(stderr, "Usage: cassinyctl __complete verbs | flags [VERB] | names [KIND] | runs "
                    "[NAME] | line WORD...\n");
    return CASS_EXIT_USAGE;
}
