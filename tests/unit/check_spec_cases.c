/* Data-driven spec cases: every folder under $CASS_TEST_DATA/specs and
 * $CASS_TEST_DATA/config is one case, so adding a case needs no code.
 *
 *   specs/valid/<case>/{input.yaml,expected.json}   loads; "spec" of each
 *       document equals expected.json (an array), and the returned
 *       "canonical" and "revision" are those of the expected document
 *   specs/invalid/<case>/{input.yaml,errors.txt}    refused; every line
 *       "LINE PATH [message substring]" of errors.txt is a reported item
 *       (PATH "." is the document itself; blank lines and lines starting
 *       with # are ignored; other items reported are printed as info)
 *   specs/equivalent/<group>/<file>.yaml            all files, same revisions
 *   specs/different/<group>/<file>.yaml             all files, distinct revisions
 *   config/valid/<case>.yaml [+ <case>.json]        loads as cassinyd loads its
 *       config (cass_cfg_parse: config.schema.json, then the keys this build
 *       refuses and the deprecated names resolved); in the .json,
 *       @RUNSTATEDIR@ and @LOCALSTATEDIR@ stand for this build's paths
 *   config/invalid/<case>/{input.yaml,errors.txt}   refused as for specs
 *
 * Outside tests/data: every .yaml file of examples/ must load, and
 * packaging/cassinyd.yaml must load to exactly config/valid/defaults.json.
 *
 * The minimum counts below keep cases from disappearing unnoticed. */
#include "config.h"

#include "check_run.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "cleanup.h"
#include "error.h"
#include "spec.h"

#define MIN_VALID 20
#define MIN_INVALID 50
#define MIN_EQUIVALENT 4
#define MIN_DIFFERENT 1
#define MIN_CONFIG_VALID 6
#define MIN_CONFIG_INVALID 11

/* Over the 1 MiB input limit of cass_yaml_limits_default. */
#define OVERSIZED_BYTES (1024 * 1024 + 4096)

struct names {
    char **v;
    size_t n;
};

static void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
    ns->v = NULL;
    ns->n = 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *data_dir(void)
{
    const char *d = getenv("CASS_TEST_DATA");
    if (!d || !*d)
        ck_abort_msg("CASS_TEST_DATA is not set: run through `make check` or set it to "
                     "the tests/data folder of the source tree");
    return d;
}

static char *join(const char *a, const char *b)
{
    char *s = NULL;
    if (asprintf(&s, "%s/%s", a, b) < 0)
        ck_abort_msg("out of memory");
    return s;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* Sorted entries of dir: subfolders when want_dirs, else files ending in
 * suffix. A missing folder is a test failure, not an empty list. */
static void list_dir(const char *dir, int want_dirs, const char *suffix, struct names *ret)
{
    DIR *d = opendir(dir);
    if (!d)
        ck_abort_msg("cannot open %s: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        _cleanup_free_ char *p = join(dir, de->d_name);
        if (want_dirs ? !is_dir(p) : (is_dir(p) || !ends_with(de->d_name, suffix)))
            continue;
        char **v = realloc(ret->v, (ret->n + 1) * sizeof(*v));
        if (!v)
            ck_abort_msg("out of memory");
        ret->v = v;
        ret->v[ret->n] = strdup(de->d_name);
        if (!ret->v[ret->n])
            ck_abort_msg("out of memory");
        ret->n++;
    }
    closedir(d);
    if (ret->n > 1)
        qsort(ret->v, ret->n, sizeof(*ret->v), cmp_names);
}

/* Whole file, NUL-terminated (inputs may hold any bytes; len is exact).
 * NULL when it cannot be read. */
static char *read_file(const char *path, size_t *ret_len)
{
    _cleanup_fclose_ FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    _cleanup_free_ char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (len + 1 >= cap) {
            char *b = realloc(buf, cap * 2);
            if (!b)
                return NULL;
            buf = b;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        if (n == 0)
            break;
        len += n;
    }
    if (ferror(f))
        return NULL;
    buf[len] = '\0';
    *ret_len = len;
    return TAKE_PTR(buf);
}

static void print_error(const char *label, const struct cass_error *e)
{
    if (!e) {
        fprintf(stderr, "    %s: (no error)\n", label);
        return;
    }
    fprintf(stderr, "    %s: %s: %s (%zu items)\n", label, cass_error_kind_name(e->kind),
            e->message ? e->message : "", e->n_items);
    for (size_t i = 0; i < e->n_items; i++) {
        const struct cass_error_item *it = &e->items[i];
        fprintf(stderr, "      %d:%d %s: %s\n", it->line, it->column,
                it->path && *it->path ? it->path : ".", it->message ? it->message : "");
    }
}

static void print_json(const char *label, const json_t *v)
{
    _cleanup_free_ char *s = v ? json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    fprintf(stderr, "    %s:\n%s\n", label, s ? s : "(null)");
}

static const char *str_or_empty(const json_t *v)
{
    const char *s = json_string_value(v);
    return s ? s : "";
}

/* How a folder's inputs are loaded: as specs, or as the daemon loads its
 * config (the schema, then what cass_cfg_parse refuses or resolves). */
typedef json_t *(*loader)(const char *buf, size_t len, struct cass_error **err);

static json_t *load_config(const char *buf, size_t len, struct cass_error **err)
{
    return cass_cfg_parse(buf, len, NULL, err);
}

/* --- valid ------------------------------------------------------------- */

/* Compares what cass_spec_load returned with expected.json; 0 when equal. */
static int compare_valid(const char *name, const json_t *got, const json_t *expected)
{
    if (!json_is_array(expected)) {
        fprintf(stderr, "FAIL valid/%s: expected.json is not an array\n", name);
        return -1;
    }
    _cleanup_json_ json_t *specs = json_array();
    size_t i;
    json_t *doc;
    json_array_foreach(got, i, doc) json_array_append(specs, json_object_get(doc, "spec"));
    if (!json_equal(specs, expected)) {
        fprintf(stderr, "FAIL valid/%s: documents differ from expected.json\n", name);
        print_json("actual", specs);
        print_json("expected", expected);
        return -1;
    }
    json_array_foreach(got, i, doc)
    {
        const json_t *want = json_array_get(expected, i);
        _cleanup_free_ char *canon = cass_spec_canonical(want);
        _cleanup_free_ char *rev = cass_spec_revision(want);
        const char *got_canon = json_string_value(json_object_get(doc, "canonical"));
        const char *got_rev = json_string_value(json_object_get(doc, "revision"));
        if (!canon || !got_canon || strcmp(canon, got_canon) != 0) {
            fprintf(stderr,
                    "FAIL valid/%s: document %zu: canonical text differs\n    actual:   %s\n"
                    "    expected: %s\n",
                    name, i + 1, got_canon ? got_canon : "(none)", canon ? canon : "(none)");
            return -1;
        }
        if (!rev || !got_rev || strcmp(rev, got_rev) != 0) {
            fprintf(stderr, "FAIL valid/%s: document %zu: revision %s, expected %s\n", name, i + 1,
                    got_rev ? got_rev : "(none)", rev ? rev : "(none)");
            return -1;
        }
    }
    return 0;
}

static int run_valid_case(const char *dir, const char *name)
{
    _cleanup_free_ char *cdir = join(dir, name);
    _cleanup_free_ char *in_path = join(cdir, "input.yaml");
    _cleanup_free_ char *exp_path = join(cdir, "expected.json");
    size_t len = 0;
    _cleanup_free_ char *buf = read_file(in_path, &len);
    if (!buf) {
        fprintf(stderr, "FAIL valid/%s: cannot read input.yaml\n", name);
        return -1;
    }
    json_error_t jerr;
    _cleanup_json_ json_t *expected = json_load_file(exp_path, JSON_REJECT_DUPLICATES, &jerr);
    if (!expected) {
        fprintf(stderr, "FAIL valid/%s: expected.json: %d: %s\n", name, jerr.line, jerr.text);
        return -1;
    }
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *got = cass_spec_load(buf, len, &err);
    if (!got) {
        fprintf(stderr, "FAIL valid/%s: refused\n", name);
        print_error("errors", err);
        return -1;
    }
    return compare_valid(name, got, expected);
}

START_TEST(valid_cases)
{
    _cleanup_free_ char *dir = join(data_dir(), "specs/valid");
    _cleanup_(names_free) struct names cases = {0};
    list_dir(dir, 1, NULL, &cases);
    int failed = 0;
    for (size_t i = 0; i < cases.n; i++)
        if (run_valid_case(dir, cases.v[i]) < 0)
            failed++;
    ck_assert_msg(cases.n >= MIN_VALID, "only %zu valid cases in %s (at least %d)", cases.n, dir,
                  MIN_VALID);
    ck_assert_msg(failed == 0, "%d of %zu valid cases failed (details on stderr)", failed, cases.n);
}
END_TEST

/* --- invalid ------------------------------------------------------------ */

/* End of the PATH field of an errors.txt line: the first space outside a
 * quoted key (metadata.labels["a b"] is one path). */
static char *path_end(char *s)
{
    int quoted = 0;
    for (; *s; s++) {
        if (quoted && *s == '\\' && s[1])
            s++;
        else if (*s == '"')
            quoted = !quoted;
        else if (*s == ' ' && !quoted)
            break;
    }
    return s;
}

static int item_matches(const struct cass_error_item *it, int line, const char *path,
                        const char *msg)
{
    const char *ipath = it->path ? it->path : "";
    return it->line == line && strcmp(ipath, path) == 0 &&
           (!msg || (it->message && strstr(it->message, msg)));
}

/* Checks err against errors.txt; prints what is missing. 0 when every
 * expected line matched an item. */
static int check_errors(const char *label, const char *expected_text, const struct cass_error *err)
{
    int missing = 0, lines = 0;
    _cleanup_free_ char *copy = strdup(expected_text);
    _cleanup_free_ unsigned char *used = calloc(err->n_items + 1, 1);
    if (!copy || !used)
        ck_abort_msg("out of memory");
    char *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        while (*l == ' ' || *l == '\t')
            l++;
        if (!*l || *l == '#')
            continue;
        lines++;
        char *end = NULL;
        long line = strtol(l, &end, 10);
        if (end == l || *end != ' ' || line < 0) {
            fprintf(stderr, "FAIL %s: errors.txt: malformed line \"%s\"\n", label, l);
            missing++;
            continue;
        }
        char *path = end + 1;
        char *msg = path_end(path);
        if (*msg)
            *msg++ = '\0';
        if (!*msg)
            msg = NULL;
        if (strcmp(path, ".") == 0)
            path = "";
        int found = 0;
        for (size_t i = 0; i < err->n_items; i++) {
            if (item_matches(&err->items[i], (int)line, path, msg)) {
                used[i] = 1;
                found = 1;
            }
        }
        if (!found) {
            fprintf(stderr, "FAIL %s: no error item %ld %s%s%s%s\n", label, line,
                    *path ? path : ".", msg ? " containing \"" : "", msg ? msg : "",
                    msg ? "\"" : "");
            missing++;
        }
    }
    if (lines == 0) {
        fprintf(stderr, "FAIL %s: errors.txt lists no error\n", label);
        return -1;
    }
    if (missing) {
        print_error("actual errors", err);
        return -1;
    }
    for (size_t i = 0; i < err->n_items; i++) {
        const struct cass_error_item *it = &err->items[i];
        if (!used[i])
            printf("info %s: also reported %d:%d %s: %s\n", label, it->line, it->column,
                   it->path && *it->path ? it->path : ".", it->message ? it->message : "");
    }
    return 0;
}

static int run_invalid_case(const char *dir, const char *name, const char *kind, loader load)
{
    _cleanup_free_ char *label = NULL;
    if (asprintf(&label, "%s/%s", kind, name) < 0)
        ck_abort_msg("out of memory");
    _cleanup_free_ char *cdir = join(dir, name);
    _cleanup_free_ char *in_path = join(cdir, "input.yaml");
    _cleanup_free_ char *exp_path = join(cdir, "errors.txt");
    size_t len = 0, elen = 0;
    _cleanup_free_ char *buf = read_file(in_path, &len);
    _cleanup_free_ char *expected = read_file(exp_path, &elen);
    if (!buf || !expected) {
        fprintf(stderr, "FAIL %s: cannot read input.yaml or errors.txt\n", label);
        return -1;
    }
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *got = load(buf, len, &err);
    if (got || !err) {
        fprintf(stderr, "FAIL %s: accepted, expected errors:\n%s", label, expected);
        print_json("result", got);
        return -1;
    }
    return check_errors(label, expected, err);
}

static void run_invalid_dir(const char *sub, loader load, size_t min, size_t *ret_n,
                            int *ret_failed)
{
    _cleanup_free_ char *dir = join(data_dir(), sub);
    _cleanup_(names_free) struct names cases = {0};
    list_dir(dir, 1, NULL, &cases);
    for (size_t i = 0; i < cases.n; i++)
        if (run_invalid_case(dir, cases.v[i], sub, load) < 0)
            (*ret_failed)++;
    ck_assert_msg(cases.n >= min, "only %zu cases in %s (at least %zu)", cases.n, dir, min);
    *ret_n = cases.n;
}

/* Generated rather than committed: a 1 MiB file in the tree helps nobody. */
static int run_oversized_case(void)
{
    static const char head[] = "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: big}\n"
                               "spec:\n  image: cassiny/notebook:bookworm\n";
    size_t len = OVERSIZED_BYTES;
    _cleanup_free_ char *buf = malloc(len + 1);
    if (!buf)
        ck_abort_msg("out of memory");
    memcpy(buf, head, sizeof(head) - 1);
    for (size_t i = sizeof(head) - 1; i < len; i++)
        buf[i] = (i % 64 == 63) ? '\n' : '#';
    buf[len] = '\0';
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *got = cass_spec_load(buf, len, &err);
    if (got || !err || err->kind != CASS_ERR_TOO_LARGE) {
        fprintf(stderr, "FAIL invalid/(generated oversized input): expected a too-large error\n");
        print_error("actual", err);
        return -1;
    }
    return 0;
}

START_TEST(invalid_cases)
{
    size_t n = 0;
    int failed = 0;
    run_invalid_dir("specs/invalid", cass_spec_load, MIN_INVALID, &n, &failed);
    if (run_oversized_case() < 0)
        failed++;
    ck_assert_msg(failed == 0, "%d of %zu invalid cases failed (details on stderr)", failed, n + 1);
}
END_TEST

/* --- equivalent and different ------------------------------------------- */

/* Revisions of every document of a file, joined by spaces (caller owns);
 * NULL (and a message) when the file is refused. */
static char *file_revisions(const char *label, const char *path)
{
    size_t len = 0;
    _cleanup_free_ char *buf = read_file(path, &len);
    if (!buf) {
        fprintf(stderr, "FAIL %s: cannot read\n", label);
        return NULL;
    }
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *got = cass_spec_load(buf, len, &err);
    if (!got) {
        fprintf(stderr, "FAIL %s: refused\n", label);
        print_error("errors", err);
        return NULL;
    }
    size_t total = 1, i;
    json_t *doc;
    json_array_foreach(got, i, doc) total +=
        strlen(str_or_empty(json_object_get(doc, "revision"))) + 1;
    char *s = calloc(total, 1);
    if (!s)
        ck_abort_msg("out of memory");
    json_array_foreach(got, i, doc)
    {
        if (i)
            strcat(s, " ");
        strcat(s, str_or_empty(json_object_get(doc, "revision")));
    }
    return s;
}

static void canonical_of_file(const char *path)
{
    size_t len = 0;
    _cleanup_free_ char *buf = read_file(path, &len);
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *got = buf ? cass_spec_load(buf, len, &err) : NULL;
    size_t i;
    json_t *doc;
    json_array_foreach(got, i, doc)
        fprintf(stderr, "      %s\n", str_or_empty(json_object_get(doc, "canonical")));
}

/* Loads every file of every group; want_same: all revisions equal, else all
 * distinct. Returns the number of failed groups. */
static int run_groups(const char *sub, int want_same, size_t min, size_t *ret_groups)
{
    _cleanup_free_ char *dir = join(data_dir(), sub);
    _cleanup_(names_free) struct names groups = {0};
    list_dir(dir, 1, NULL, &groups);
    ck_assert_msg(groups.n >= min, "only %zu groups in %s (at least %zu)", groups.n, dir, min);
    int failed = 0;
    for (size_t g = 0; g < groups.n; g++) {
        _cleanup_free_ char *gdir = join(dir, groups.v[g]);
        _cleanup_(names_free) struct names files = {0};
        list_dir(gdir, 0, ".yaml", &files);
        if (files.n < 2) {
            fprintf(stderr, "FAIL %s/%s: fewer than 2 files\n", sub, groups.v[g]);
            failed++;
            continue;
        }
        char **revs = calloc(files.n, sizeof(*revs));
        if (!revs)
            ck_abort_msg("out of memory");
        int bad = 0;
        for (size_t f = 0; f < files.n; f++) {
            _cleanup_free_ char *label = NULL;
            if (asprintf(&label, "%s/%s/%s", sub, groups.v[g], files.v[f]) < 0)
                ck_abort_msg("out of memory");
            _cleanup_free_ char *path = join(gdir, files.v[f]);
            revs[f] = file_revisions(label, path);
            if (!revs[f])
                bad = 1;
        }
        for (size_t a = 0; !bad && a < files.n; a++) {
            for (size_t b = a + 1; !bad && b < files.n; b++) {
                if ((strcmp(revs[a], revs[b]) == 0) == want_same)
                    continue;
                fprintf(stderr, "FAIL %s/%s: %s and %s give %s revisions\n", sub, groups.v[g],
                        files.v[a], files.v[b], want_same ? "different" : "the same");
                _cleanup_free_ char *pa = join(gdir, files.v[a]);
                _cleanup_free_ char *pb = join(gdir, files.v[b]);
                fprintf(stderr, "    %s:\n", files.v[a]);
                canonical_of_file(pa);
                fprintf(stderr, "    %s:\n", files.v[b]);
                canonical_of_file(pb);
                bad = 1;
            }
        }
        for (size_t f = 0; f < files.n; f++)
            free(revs[f]);
        free(revs);
        failed += bad;
    }
    *ret_groups = groups.n;
    return failed;
}

START_TEST(equivalent_groups)
{
    size_t n = 0;
    int failed = run_groups("specs/equivalent", 1, MIN_EQUIVALENT, &n);
    ck_assert_msg(failed == 0, "%d of %zu equivalent groups failed (details on stderr)", failed, n);
}
END_TEST

START_TEST(different_groups)
{
    size_t n = 0;
    int failed = run_groups("specs/different", 0, MIN_DIFFERENT, &n);
    ck_assert_msg(failed == 0, "%d of %zu different groups failed (details on stderr)", failed, n);
}
END_TEST

/* --- examples ------------------------------------------------------------ */

/* The examples shipped with the source must load, one kind each at least. */
START_TEST(examples_validate)
{
    _cleanup_free_ char *dir = join(data_dir(), "../../examples");
    _cleanup_(names_free) struct names files = {0};
    list_dir(dir, 0, ".yaml", &files);
    int failed = 0, notebooks = 0, jobs = 0, models = 0;
    for (size_t i = 0; i < files.n; i++) {
        _cleanup_free_ char *path = join(dir, files.v[i]);
        _cleanup_free_ char *label = join("examples", files.v[i]);
        size_t len = 0;
        _cleanup_free_ char *buf = read_file(path, &len);
        _cleanup_error_ struct cass_error *err = NULL;
        _cleanup_json_ json_t *got = buf ? cass_spec_load(buf, len, &err) : NULL;
        if (!got) {
            fprintf(stderr, "FAIL %s: refused\n", label);
            print_error("errors", err);
            failed++;
            continue;
        }
        size_t j;
        json_t *doc;
        json_array_foreach(got, j, doc)
        {
            const char *kind = str_or_empty(json_object_get(doc, "kind"));
            notebooks += !strcmp(kind, "Notebook");
            jobs += !strcmp(kind, "Job");
            models += !strcmp(kind, "Model");
        }
    }
    ck_assert_msg(failed == 0, "%d examples refused (details on stderr)", failed);
    ck_assert_msg(notebooks && jobs && models,
                  "examples lack a kind: %d notebooks, %d jobs, %d models", notebooks, jobs,
                  models);
}
END_TEST

/* --- config ------------------------------------------------------------- */

static json_t *load_config_file(const char *label, const char *path)
{
    size_t len = 0;
    _cleanup_free_ char *buf = read_file(path, &len);
    if (!buf) {
        fprintf(stderr, "FAIL %s: cannot read %s\n", label, path);
        return NULL;
    }
    _cleanup_error_ struct cass_error *err = NULL;
    json_t *got = load_config(buf, len, &err);
    if (!got) {
        fprintf(stderr, "FAIL %s: refused\n", label);
        print_error("errors", err);
    }
    return got;
}

/* An expected config: its text with @RUNSTATEDIR@ and @LOCALSTATEDIR@
 * replaced by this build's (configure's --runstatedir, --localstatedir),
 * which the path defaults follow. New reference, or NULL. */
static json_t *load_expected_config(const char *path)
{
    static const struct {
        const char *name;
        const char *value;
    } vars[] = {{"@RUNSTATEDIR@", RUNSTATEDIR}, {"@LOCALSTATEDIR@", LOCALSTATEDIR}};
    size_t len = 0;
    _cleanup_free_ char *text = read_file(path, &len);
    for (size_t i = 0; text && i < sizeof(vars) / sizeof(vars[0]); i++) {
        char *at;
        while ((at = strstr(text, vars[i].name))) {
            char *next = NULL;
            *at = '\0';
            if (asprintf(&next, "%s%s%s", text, vars[i].value, at + strlen(vars[i].name)) < 0)
                return NULL;
            free(text);
            text = next;
        }
    }
    json_error_t jerr;
    return text ? json_loads(text, JSON_REJECT_DUPLICATES, &jerr) : NULL;
}

/* Returns 0 when the config at path loads (and equals <case>.json when that
 * file exists). */
static int run_config_valid(const char *dir, const char *file)
{
    _cleanup_free_ char *label = join("config/valid", file);
    _cleanup_free_ char *path = join(dir, file);
    _cleanup_json_ json_t *got = load_config_file(label, path);
    if (!got)
        return -1;
    _cleanup_free_ char *exp_path = strdup(path);
    if (!exp_path)
        ck_abort_msg("out of memory");
    strcpy(exp_path + strlen(exp_path) - strlen(".yaml"), ".json");
    if (access(exp_path, F_OK) != 0)
        return 0;
    _cleanup_json_ json_t *expected = load_expected_config(exp_path);
    if (!expected || !json_equal(got, expected)) {
        fprintf(stderr, "FAIL %s: differs from its .json\n", label);
        print_json("actual", got);
        print_json("expected", expected);
        return -1;
    }
    return 0;
}

START_TEST(config_valid_cases)
{
    _cleanup_free_ char *dir = join(data_dir(), "config/valid");
    _cleanup_(names_free) struct names files = {0};
    list_dir(dir, 0, ".yaml", &files);
    int failed = 0;
    for (size_t i = 0; i < files.n; i++)
        if (run_config_valid(dir, files.v[i]) < 0)
            failed++;

    /* The shipped default config must say exactly what the defaults are. */
    _cleanup_free_ char *pkg = join(data_dir(), "../../packaging/cassinyd.yaml");
    _cleanup_free_ char *defaults_path = join(dir, "defaults.json");
    _cleanup_json_ json_t *shipped = load_config_file("packaging/cassinyd.yaml", pkg);
    _cleanup_json_ json_t *defaults = load_expected_config(defaults_path);
    if (!shipped || !defaults || !json_equal(shipped, defaults)) {
        fprintf(stderr, "FAIL packaging/cassinyd.yaml: differs from config/valid/defaults.json\n");
        print_json("actual", shipped);
        print_json("expected", defaults);
        failed++;
    }
    ck_assert_msg(files.n >= MIN_CONFIG_VALID, "only %zu cases in %s (at least %d)", files.n, dir,
                  MIN_CONFIG_VALID);
    ck_assert_msg(failed == 0, "%d valid config cases failed (details on stderr)", failed);
}
END_TEST

START_TEST(config_invalid_cases)
{
    size_t n = 0;
    int failed = 0;
    run_invalid_dir("config/invalid", load_config, MIN_CONFIG_INVALID, &n, &failed);
    ck_assert_msg(failed == 0, "%d of %zu invalid config cases failed (details on stderr)", failed,
                  n);
}
END_TEST

static Suite *spec_cases_suite(void)
{
    Suite *s = suite_create("spec_cases");
    TCase *tc = tcase_create("cases");
    tcase_add_test(tc, valid_cases);
    tcase_add_test(tc, invalid_cases);
    tcase_add_test(tc, equivalent_groups);
    tcase_add_test(tc, different_groups);
    tcase_add_test(tc, examples_validate);
    tcase_add_test(tc, config_valid_cases);
    tcase_add_test(tc, config_invalid_cases);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cass_check_run(spec_cases_suite());
}
