/* events [--name NAME] [--run RUN] [--since ID]: the daemon's events as
 * they happen, one line each (or one JSON object per line), until
 * interrupted; a dropped stream is resumed after the last event seen. */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

#define EVENTS_USAGE "Usage: cassinyctl events [--name NAME] [--run RUN] [--since ID]\n"

static atomic_int interrupted;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&interrupted, 1);
}

struct printer {
    const struct ctl *c;
    int header_done;
    int failed; /* stdout went away */
};

/* One line for people; text from the daemon is cleaned of control characters. */
static void print_line(struct printer *p, const struct ctl_sse_event *ev, const json_t *data)
{
    char line[1024];
    const char *time = ctl_str(data, "time", "");
    if (!p->header_done) {
        printf("%-24s  %-28s  %-20s  %-8s  %-10s  %s\n", "TIME", "RUN", "NAME", "KIND", "STATUS",
               "REASON");
        p->header_done = 1;
    }
    if (strcmp(ev->event, "run") == 0) {
        snprintf(line, sizeof(line), "%-24.40s  %-28.40s  %-20.63s  %-8.16s  %-10.16s  %.200s",
                 time, ctl_str(data, "id", "?"), ctl_str(data, "name", "?"),
                 ctl_str(data, "kind", "?"), ctl_str(data, "status", "?"),
                 ctl_str(data, "reason", "-"));
    } else if (strcmp(ev->event, "request") == 0) {
        snprintf(line, sizeof(line), "%-24.40s  %-28s  %.16s %.300s -> %lld  %.64s", time,
                 "request", ctl_str(data, "action", "?"), ctl_str(data, "target", "?"),
                 (long long)json_integer_value(json_object_get(data, "status")),
                 ctl_str(data, "actor", "?"));
    } else {
        snprintf(line, sizeof(line), "%-24.40s  %-28.40s  %.600s", time, ev->event, ev->data);
    }
    ctl_fputs_clean(line, stdout);
    putchar('\n');
}

static int print_event(const struct ctl_sse_event *ev, void *userdata)
{
    struct printer *p = userdata;
    _cleanup_json_ json_t *data = json_loadb(ev->data, ev->data_len, 0, NULL);
    if (p->c->output == CASS_OUTPUT_TABLE) {
        print_line(p, ev, data);
    } else {
        long long id = -1;
        ctl_parse_event_id(ev->id, &id);
        _cleanup_json_ json_t *o = json_pack("{s:I,s:s,s:O}", "id", (json_int_t)id, "event",
                                             ev->event, "data", data ? data : json_null());
        if (o && p->c->output == CASS_OUTPUT_JSON) {
            _cleanup_free_ char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
            if (text)
                puts(text);
        } else if (o) {
            fputs("---\n", stdout);
            cass_output_yaml(stdout, o);
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        p->failed = 1;
        return 1;
    }
    return 0;
}

int ctl_cmd_events(struct ctl *c, int argc, char **argv)
{
    const char *name = NULL, *run = NULL;
    long since = -1;
    int ch;
    while ((ch = ctl_getopt(c, argc, argv)) != -1) {
        switch (ch) {
        case 'n':
            name = optarg;
            if (ctl_check_target("events --name", name, 0))
                return CASS_EXIT_USAGE;
            break;
        case 'r':
            run = optarg;
            if (!ctl_run_id_valid(run)) {
                fprintf(stderr, "cassinyctl events: --run must be a run id (r- and 26 "
                                "characters)\n");
                return CASS_EXIT_USAGE;
            }
            break;
        case 's':
            if (ctl_parse_long("events", "--since", optarg, 0, LONG_MAX, &since) < 0)
                return CASS_EXIT_USAGE;
            break;
        default:
            fputs(EVENTS_USAGE, stderr);
            return CASS_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fputs(EVENTS_USAGE, stderr);
        return CASS_EXIT_USAGE;
    }
    /* Names and run ids need no escaping: both are checked above. */
    char filter[160];
    snprintf(filter, sizeof(filter), "%s%s%s%s%s", name ? "name=" : "", name ? name : "",
             name && run ? "&" : "", run ? "run=" : "", run ? run : "");

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct printer p = {.c = c};
    struct ctl_follow f = {.filter = filter,
                           .since = since,
                           .cancel = &interrupted,
                           .fn = print_event,
                           .userdata = &p};
    switch (ctl_follow_events(c, &f)) {
    case CTL_FOLLOW_CANCELLED:
        return CASS_EXIT_OK;
    case CTL_FOLLOW_STOPPED:
        return p.failed ? CASS_EXIT_FAILURE : CASS_EXIT_OK;
    case CTL_FOLLOW_FAILED:
        return f.exit_code ? f.exit_code : CASS_EXIT_FAILURE;
    default:
        return CASS_EXIT_FAILURE;
    }
}
