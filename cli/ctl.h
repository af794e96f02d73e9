/* cassinyctl: shared state of one invocation and the verbs. */
#ifndef CASS_CTL_H
#define CASS_CTL_H

#include <getopt.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "http.h"
#include "output.h"
#include "protocol.h"
#include "sse.h"

/* Sent by cassinyd on replies to state-changing requests and on event
 * streams: the id of the last event recorded before the request was
 * handled, so that following GET /v1/events?since=N misses nothing the
 * request caused. */
#define CTL_EVENT_ID_HEADER CASS_HEADER_EVENT_ID

/* What a flag's value or a positional argument is: shell completion offers
 * candidates by it. */
enum ctl_value {
    CTL_VALUE_NONE,         /* no value (a flag), or no argument */
    CTL_VALUE_TEXT,         /* free text: a number, a revision, an address */
    CTL_VALUE_FILE,         /* a file name */
    CTL_VALUE_NAME,         /* a spec name, from the daemon */
    CTL_VALUE_RUN,          /* a run id, from the daemon */
    CTL_VALUE_TARGET,       /* a spec name or a run id */
    CTL_VALUE_KIND,         /* notebook, job, model */
    CTL_VALUE_KIND_OR_NAME, /* a kind, or a spec name */
    CTL_VALUE_STATUS,       /* a run status */
    CTL_VALUE_OUTPUT,       /* table, json, yaml */
    CTL_VALUE_IMAGE_ACTION, /* what image does: push */
};

/* One option of cassinyctl or of a verb. The verbs' getopt tables are built
 * from these (ctl_getopt), and so is the shell completion: what is parsed
 * and what is offered cannot differ. */
struct ctl_flag {
    const char *name;     /* long name, without "--"; NULL ends a table */
    int val;              /* what ctl_getopt returns for it */
    bool short_too;       /* val is also its one-letter form (-f) */
    enum ctl_value value; /* CTL_VALUE_NONE: takes no value */
    bool after_verb;      /* a global option also taken after the verb (-o) */
};

#define CTL_MAX_FLAGS 8

struct ctl;

struct ctl_verb {
    const char *name; /* NULL ends the table */
    int (*fn)(struct ctl *c, int argc, char **argv);
    const struct ctl_flag *flags; /* NULL: none */
    enum ctl_value args[2];       /* its positional arguments, in order */
    const char *usage;            /* NULL: hidden (not in the usage, not completed) */
};

/* Every verb, then {NULL}; and the options before the verb, then {NULL}. */
extern const struct ctl_verb ctl_verbs[];
extern const struct ctl_flag ctl_global_flags[];

/* The verb called name, hidden ones included, or NULL. */
const struct ctl_verb *ctl_verb_find(const char *name);

struct ctl {
    const char *host;
    const char *token;
    /* --cacert / $CASSINY_CACERT: CA file for https:// hosts; NULL: the system's */
    const char *cacert;
    enum cass_output_format output;
    int tty;                     /* stdout is a terminal */
    const struct ctl_verb *verb; /* the verb being run */
    /* getopt_long's tables for the verb, built from verb->flags. */
    struct option longopts[CTL_MAX_FLAGS + 1];
    char shortopts[2 * CTL_MAX_FLAGS + 2];
};

/* getopt_long over the running verb's flags: returns each flag's val, '?'
 * for an unknown one, -1 at the end (optind and optarg as getopt's). */
int ctl_getopt(struct ctl *c, int argc, char **argv);

/* One request to the daemon. ret is filled for any HTTP status; -1 only when
 * the daemon cannot be reached. *ret_event_id (may be NULL) gets the reply's
 * CTL_EVENT_ID_HEADER, -1 when it had none. */
int ctl_request(struct ctl *c, const char *method, const char *path, const char *content_type,
                const char *body, size_t len, struct cass_http_response *ret,
                long long *ret_event_id, struct cass_error **err);

/* A new HTTP handle to the daemon with the token set and a whole-request
 * timeout (0: none). Caller owns; NULL with *err set on failure. */
struct cass_http *ctl_http_new(struct ctl *c, long timeout_ms, struct cass_error **err);

/* Words the error of a transfer on h (may be NULL) that did not reach the
 * daemon: an untrusted certificate says to pass --cacert, anything else
 * "cannot reach cassinyd at HOST: ...". */
void ctl_unreachable(const struct ctl *c, const struct cass_http *h, struct cass_error **err);

/* A GET whose 2xx JSON body is returned (caller owns); otherwise the problem
 * is printed and NULL returned with *ret_exit set. */
json_t *ctl_get_json(struct ctl *c, const char *path, int *ret_exit);

/* Like ctl_get_json for any method without a body. When not_found is given,
 * a 404 prints "cassinyctl: NOT_FOUND" instead of the daemon's problem. */
json_t *ctl_call_json(struct ctl *c, const char *method, const char *path, const char *not_found,
                      int *ret_exit);
/* ctl_call_json that also returns the reply's event id (see ctl_request). */
json_t *ctl_call_json_event(struct ctl *c, const char *method, const char *path,
                            const char *not_found, long long *ret_event_id, int *ret_exit);

/* Prints a non-2xx reply (problem+json or plain) to stderr, with spec errors
 * as FILE:LINE:COL lines, and returns the exit code for it. */
int ctl_print_problem(const struct cass_http_response *r, const char *file);

/* Reads a spec file ("-" is stdin), at most max bytes. Caller owns. */
char *ctl_read_file(const char *path, size_t max, size_t *ret_len, struct cass_error **err);

/* The exit code for an error from this process (not from the daemon). */
int ctl_exit_for(const struct cass_error *e);

/* ---- util.c: helpers shared by the verbs ---- */

/* DNS label (^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$), as metadata.name. */
int ctl_name_valid(const char *s);
/* "r-" and a 26-character ULID in Crockford base 32. */
int ctl_run_id_valid(const char *s);
/* Checks a NAME (and, when allow_run, a RUN) argument; prints why not and
 * returns CASS_EXIT_USAGE when it is neither, else 0. */
int ctl_check_target(const char *verb, const char *arg, int allow_run);

/* "Notebook", "Job" or "Model" for a kind word in any case, singular or
 * plural ("notebooks"); NULL for anything else. */
const char *ctl_kind_parse(const char *word);

/* First 12 hex digits of a "sha256:..." digest, for tables. */
void ctl_short_digest(const char *digest, char out[20]);

/* Seconds since an RFC 3339 UTC time ("5s", "3m", "2h", "4d"); "" when
 * ts is NULL or does not parse. */
void ctl_format_age(const char *ts, char *out, size_t n);
/* A time for a table: "5m ago" on a terminal, else ts itself ("" if NULL). */
void ctl_format_time(const struct ctl *c, const char *ts, char *out, size_t n);

/* Parses a whole decimal number in [min, max] for option opt of verb; says
 * what is wrong and returns -1 otherwise. */
int ctl_parse_long(const char *verb, const char *opt, const char *s, long min, long max, long *ret);

/* An event id ("12"): 0 and *ret set, else -1 (s may be NULL). */
int ctl_parse_event_id(const char *s, long long *ret);

/* Sends a request without a body that changes something; prints the reply
 * with -o json|yaml, else done (one line). A 404 prints not_found. Returns
 * the exit code. */
int ctl_act(struct ctl *c, const char *method, const char *path, const char *not_found,
            const char *done);

/* String member of o, or fallback when absent, null or not a string. */
const char *ctl_str(const json_t *o, const char *key, const char *fallback);

/* Writes s with control characters shown as '?' (text that came from a
 * container must not drive the terminal). */
void ctl_fputs_clean(const char *s, FILE *f);

/* GET /v1/specs/{name} and GET /v1/runs/{id}: the object (caller owns) or
 * NULL with the problem printed and *ret_exit set. */
json_t *ctl_fetch_spec(struct ctl *c, const char *name, int *ret_exit);
json_t *ctl_fetch_run(struct ctl *c, const char *id, int *ret_exit);

/* Status words for people: "queued", "creating container", "waiting for
 * Jupyter" (a starting Notebook), ...; others as they are. */
const char *ctl_status_word(const char *kind, const char *status);
/* Whether a run in this status is done being launched (ready, running or final). */
int ctl_status_settled(const char *status);
int ctl_status_final(const char *status);
/* Whether a wait for this run is over: a Job when it has ended, others when
 * their status is settled. */
int ctl_run_settled(const json_t *run);

/* ---- follow.c: GET /v1/events ---- */

struct ctl_follow {
    const char *filter;       /* query parameters ("run=r-..."), escaped; may be NULL */
    long long since;          /* in: follow events after this id, -1: from now;
                                 out: the last event id seen */
    const atomic_int *cancel; /* stops the follow once non-zero; may be NULL */
    int fallback_on_404;      /* a daemon without events: CTL_FOLLOW_NO_ENDPOINT */
    ctl_sse_fn fn;            /* each event; non-zero stops the follow */
    void *userdata;
    int exit_code; /* out: with CTL_FOLLOW_FAILED after a refusal */
};

enum {
    CTL_FOLLOW_STOPPED,     /* fn returned non-zero */
    CTL_FOLLOW_CANCELLED,   /* *cancel was set */
    CTL_FOLLOW_UNREACHABLE, /* the first connection failed (said on stderr) */
    CTL_FOLLOW_NO_ENDPOINT, /* 404 with fallback_on_404 */
    CTL_FOLLOW_FAILED,      /* refused or malformed (said on stderr) */
};

/* Follows the daemon's events, calling f->fn for each, until it stops or is
 * cancelled. A stream that drops after the first connection is resumed
 * after the last event seen, with a bounded backoff, for as long as it
 * takes. Returns one of CTL_FOLLOW_*. */
int ctl_follow_events(struct ctl *c, struct ctl_follow *f);

/* ---- wait.c ---- */

/* Follows each run in runs (an array of run objects, replaced in place by
 * their latest state) until it is ready or running (a Job: until it ended)
 * or final, showing progress on progress (NULL: none); tty says whether
 * progress is a terminal. since is the event id from the reply that made
 * the runs (CTL_EVENT_ID_HEADER): their events are followed from there; -1
 * (an older daemon) polls instead. Returns CASS_EXIT_OK, or
 * CASS_EXIT_FAILURE on a failed or stopped run, a timeout or an unreachable
 * daemon (after saying so on stderr). */
int ctl_wait_runs(struct ctl *c, json_t *runs, double timeout_s, long long since, FILE *progress,
                  int tty);
/* Where progress goes: stdout in table form, else a terminal's stderr, else
 * nowhere (NULL); *ret_tty says whether it is a terminal. */
FILE *ctl_progress_stream(const struct ctl *c, int *ret_tty);
/* The closing line for a settled run: "NAME is ready: URL" and the like. */
void ctl_print_run_outcome(const json_t *run, FILE *f);

int ctl_cmd_token(struct ctl *c, int argc, char **argv);
int ctl_cmd_image(struct ctl *c, int argc, char **argv);
int ctl_cmd_audit(struct ctl *c, int argc, char **argv);
int ctl_cmd_version(struct ctl *c, int argc, char **argv);
int ctl_cmd_validate(struct ctl *c, int argc, char **argv);
int ctl_cmd_apply(struct ctl *c, int argc, char **argv);
int ctl_cmd_get(struct ctl *c, int argc, char **argv);
int ctl_cmd_describe(struct ctl *c, int argc, char **argv);
int ctl_cmd_open(struct ctl *c, int argc, char **argv);
int ctl_cmd_logs(struct ctl *c, int argc, char **argv);
int ctl_cmd_delete(struct ctl *c, int argc, char **argv);
int ctl_cmd_runs(struct ctl *c, int argc, char **argv);
int ctl_cmd_stop(struct ctl *c, int argc, char **argv);
int ctl_cmd_reproduce(struct ctl *c, int argc, char **argv);
int ctl_cmd_events(struct ctl *c, int argc, char **argv);
int ctl_cmd_rollback(struct ctl *c, int argc, char **argv);
/* __complete (hidden): candidates for shell completion, see complete.c. */
int ctl_cmd_complete(struct ctl *c, int argc, char **argv);

#endif
