/* Helpers that several cassinyctl verbs share: argument checks, kind and
 * status words, times for tables, and fetching one spec or run. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"
#include "vocab.h"

int ctl_name_valid(const char *s)
{
    return cass_vocab_name_valid(s);
}

int ctl_run_id_valid(const char *s)
{
    return cass_vocab_run_id_valid(s);
}

int ctl_check_target(const char *verb, const char *arg, int allow_run)
{
    if (ctl_name_valid(arg) || (allow_run && ctl_run_id_valid(arg)))
        return 0;
    /* Not echoed raw: the argument may hold anything. */
    fprintf(stderr, "cassinyctl %s: \"", verb);
    ctl_fputs_clean(arg, stderr);
    if (allow_run)
        fprintf(stderr, "\" is neither a name (a DNS label such as churn-analysis) nor a run id "
                        "(r- and 26 characters)\n");
    else
        fprintf(stderr, "\" is not a name (a DNS label such as churn-analysis)\n");
    return CASS_EXIT_USAGE;
}

const char *ctl_kind_parse(const char *word)
{
    if (!word)
        return NULL;
    size_t n = strlen(word);
    for (const struct cass_vocab_kind *kind = cass_vocab_kinds; kind->name; kind++) {
        size_t k = strlen(kind->name);
        if (strncasecmp(word, kind->name, k) == 0 &&
            (n == k || (n == k + 1 && (word[k] == 's' || word[k] == 'S'))))
            return kind->name;
    }
    return NULL;
}

void ctl_short_digest(const char *digest, char out[20])
{
    const char *hex = digest && strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
    snprintf(out, 20, "%.12s", hex ? hex : "");
}

/* Seconds since the epoch of "YYYY-MM-DDTHH:MM:SS[.fff]Z"; -1 if it does not parse. */
static time_t parse_utc(const char *ts)
{
    struct tm tm = {0};
    const char *end = ts ? strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!end)
        return -1;
    return timegm(&tm);
}

void ctl_format_age(const char *ts, char *out, size_t n)
{
    time_t t = parse_utc(ts);
    if (t < 0) {
        snprintf(out, n, "%s", "");
        return;
    }
    long long d = (long long)(time(NULL) - t);
    if (d < 0)
        d = 0;
    if (d < 120)
        snprintf(out, n, "%llds", d);
    else if (d < 120 * 60)
        snprintf(out, n, "%lldm", d / 60);
    else if (d < 48 * 3600)
        snprintf(out, n, "%lldh", d / 3600);
    else
        snprintf(out, n, "%lldd", d / 86400);
}

void ctl_format_time(const struct ctl *c, const char *ts, char *out, size_t n)
{
    if (!c->tty || parse_utc(ts) < 0) {
        snprintf(out, n, "%s", ts ? ts : "");
        return;
    }
    char age[32];
    ctl_format_age(ts, age, sizeof(age));
    snprintf(out, n, "%s ago", age);
}

int ctl_parse_long(const char *verb, const char *opt, const char *s, long min, long max, long *ret)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "cassinyctl %s: %s must be a number from %ld to %ld\n", verb, opt, min,
                max);
        return -1;
    }
    *ret = v;
    return 0;
}

int ctl_parse_event_id(const char *s, long long *ret)
{
    char *end = NULL;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : -1;
    if (!s || errno || end == s || *end || v < 0)
        return -1;
    *ret = v;
    return 0;
}

int ctl_act(struct ctl *c, const char *method, const char *path, const char *not_found,
            const char *done)
{
    int code = CASS_EXIT_OK;
    _cleanup_json_ json_t *reply = ctl_call_json(c, method, path, not_found, &code);
    if (!reply)
        return code;
    if (c->output != CASS_OUTPUT_TABLE)
        cass_output_value(stdout, c->output, reply);
    else
        puts(done);
    return CASS_EXIT_OK;
}

const char *ctl_str(const json_t *o, const char *key, const char *fallback)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : fallback;
}

void ctl_fputs_clean(const char *s, FILE *f)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}

json_t *ctl_fetch_spec(struct ctl *c, const char *name, int *ret_exit)
{
    char path[128], missing[128];
    snprintf(path, sizeof(path), "/v1/specs/%s", name);
    snprintf(missing, sizeof(missing), "no spec named %s", name);
    return ctl_call_json(c, "GET", path, missing, ret_exit);
}

json_t *ctl_fetch_run(struct ctl *c, const char *id, int *ret_exit)
{
    char path[128], missing[128];
    snprintf(path, sizeof(path), "/v1/runs/%s", id);
    snprintf(missing, sizeof(missing), "no run %s", id);
    return ctl_call_json(c, "GET", path, missing, ret_exit);
}

const char *ctl_status_word(const char *kind, const char *status)
{
    if (status && strcmp(status, "starting") == 0 && kind) {
        if (strcmp(kind, "Notebook") == 0)
            return "waiting for Jupyter";
        if (strcmp(kind, "Model") == 0)
            return "waiting for the health check";
    }
    static const char *const words[][2] = {
        {"pending", "accepted"},
        {"queued", "queued (over the concurrency limit)"},
        {"creating", "creating container"},
    };
    for (size_t i = 0; status && i < sizeof(words) / sizeof(words[0]); i++)
        if (strcmp(status, words[i][0]) == 0)
            return words[i][1];
    return status ? status : "unknown";
}

int ctl_status_final(const char *status)
{
    return cass_vocab_status_final(status);
}

int ctl_status_settled(const char *status)
{
    return status && (strcmp(status, "ready") == 0 || strcmp(status, "running") == 0 ||
                      ctl_status_final(status));
}

int ctl_run_settled(const json_t *run)
{
    const char *status = ctl_str(run, "status", NULL);
    if (strcmp(ctl_str(run, "kind", ""), "Job") == 0)
        return ctl_status_final(status);
    return ctl_status_settled(status);
}
