/* cassinyd: the Cassiny daemon. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "auth.h"
#include "cfg.h"
#include "cleanup.h"
#include "daemon.h"
#include "engine.h"
#include "failpoint.h"
#include "gateway.h"
#include "lifecycle.h"
#include "log.h"
#include "nbgw.h"
#include "notebook.h"
#include "pin.h"
#include "protocol.h"
#include "reconcile.h"
#include "rotation.h"
#include "routes.h"
#include "server.h"
#include "store.h"

static void usage(FILE *f)
{
    /* The defaults as a config without the key has them (paths from configure). */
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *defaults = cass_cfg_parse(NULL, 0, NULL, &err);
    fprintf(f,
            "Usage: cassinyd [--config FILE] [OPTIONS]\n\n"
            "  -c, --config FILE       config file (default " CASS_DEFAULT_CONFIG " if present)\n"
            "      --check-config      validate the config, print it as JSON, and exit\n"
            "      --list-failpoints   print the steps CASS_FAILPOINT can name, and exit\n"
            "      --list-routes       print the API's routes (METHOD PATH), and exit\n"
            "      --no-gateway        serve all but the gateway, which a cassinyd\n"
            "                          --gateway-only on the same state directory serves\n"
            "      --gateway-only      serve only the gateway (models, notebooks), from the\n"
            "                          rotation a cassinyd --no-gateway keeps\n");
    for (const struct cass_cfg_flag *fl = cass_cfg_flags; fl->flag; fl++) {
        const char *def = json_string_value(json_object_get(defaults, fl->key));
        fprintf(f, "      --%-18s  %s (config key %s%s%s)\n", fl->flag, fl->help, fl->key,
                def ? ", default " : "", def ? def : "");
    }
    fprintf(f, "  -V, --version           print the version and exit\n"
               "  -h, --help              this text\n");
}

/* The listening sockets a service manager passed (socket activation,
 * LISTEN_FDS), by their FileDescriptorName=: -1 for one not passed. */
struct passed_sockets {
    int api;     /* a listening unix stream socket */
    int gateway; /* a listening TCP socket over IPv4 */
    int api_tcp; /* the API's TCP listener (listen:), IPv4 or IPv6 */
};

static void passed_sockets_close(struct passed_sockets *p)
{
    if (p->api >= 0)
        close(p->api);
    if (p->gateway >= 0)
        close(p->gateway);
    if (p->api_tcp >= 0)
        close(p->api_tcp);
    p->api = p->gateway = p->api_tcp = -1;
}

/* Takes the sockets passed to this process (the variables are unset, so
 * nothing started from here sees them). A socket with another name, or not
 * of the kind its name says, is an error: the unit files and the daemon
 * disagree. */
static int take_passed_sockets(struct passed_sockets *ret, struct cass_error **err)
{
    *ret = (struct passed_sockets){.api = -1, .gateway = -1, .api_tcp = -1};
    char **names = NULL;
    int n = sd_listen_fds_with_names(1, &names);
    if (n < 0)
        return cass_error_errno(err, -n, "sockets passed by the service manager (LISTEN_FDS)");
    int rc = 0;
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        const char *name = names && names[i] ? names[i] : "unknown";
        if (strcmp(name, "api") == 0 && ret->api < 0 &&
            sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0) {
            ret->api = fd;
        } else if (strcmp(name, "gateway") == 0 && ret->gateway < 0 &&
                   sd_is_socket_inet(fd, AF_INET, SOCK_STREAM, 1, 0) > 0) {
            ret->gateway = fd;
        } else if (strcmp(name, "api-tcp") == 0 && ret->api_tcp < 0 &&
                   (sd_is_socket_inet(fd, AF_INET, SOCK_STREAM, 1, 0) > 0 ||
                    sd_is_socket_inet(fd, AF_INET6, SOCK_STREAM, 1, 0) > 0)) {
            ret->api_tcp = fd;
        } else {
            if (rc == 0)
                cass_error_set(err, CASS_ERR_INVALID,
                               "socket %d passed by the service manager is named \"%s\": cassinyd "
                               "takes \"api\" (a listening unix stream socket), \"gateway\" "
                               "(a listening IPv4 TCP socket) and \"api-tcp\" (a listening TCP "
                               "socket for listen:), once each",
                               fd, name);
            rc = -1;
            close(fd);
        }
    }
    if (names)
        for (int i = 0; i < n; i++)
            free(names[i]);
    free(names);
    if (rc < 0)
        passed_sockets_close(ret);
    return rc;
}

/* The gateway holds thousands of connections, each a descriptor or three
 * (client, replicas): the soft limit (often 1024) goes up to the hard one. */
static void raise_nofile_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        log_warn("cannot raise the open files limit from %llu: %s", (unsigned long long)was,
                 strerror(errno));
    else
        log_debug("open files limit raised from %llu to %llu", (unsigned long long)was,
                  (unsigned long long)rl.rlim_cur);
}

static int mkdir_p(const char *path, mode_t mode, struct cass_error **err)
{
    _cleanup_free_ char *copy = strdup(path);
    if (!copy)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0755) < 0 && errno != EEXIST)
            return cass_error_errno(err, errno, "mkdir %s", copy);
        *p = '/';
    }
    if (mkdir(copy, mode) < 0 && errno != EEXIST)
        return cass_error_errno(err, errno, "mkdir %s", copy);
    return 0;
}

/* Logs each item of a config warning as FILE:LINE:COL: path: message. */
static void log_config_warnings(const struct cass_error *w)
{
    for (size_t i = 0; w && i < w->n_items; i++)
        log_warn("config %s:%d:%d: %s: %s", w->file ? w->file : "-", w->items[i].line,
                 w->items[i].column, w->items[i].path, w->items[i].message);
}

/* What the command line said about the config, kept for a reload. */
static struct {
    const char *config_path; /* --config, NULL for the default */
    enum cass_role role;     /* --no-gateway, --gateway-only */
    const char *flag_values[16];
} args;

/* The config file (args.config_path or the default) with the flags' values
 * on top: what the daemon runs with. NULL when either is invalid, with *err
 * and the error's text in *ret_why ("invalid config: FILE:LINE:COL: ...",
 * lines), which the caller owns. Caller owns the result. */
static json_t *load_config(struct cass_error **ret_warnings, char **ret_why)
{
    const char *path = args.config_path ? args.config_path : CASS_DEFAULT_CONFIG;
    _cleanup_error_ struct cass_error *err = NULL;
    size_t len = 0;
    FILE *f;
    json_t *cfg = cass_cfg_load(path, args.config_path != NULL, ret_warnings, &err);
    if (!cfg) {
        f = open_memstream(ret_why, &len);
        if (f) {
            fputs("invalid config: ", f);
            cass_error_fprint(f, err, path);
            fclose(f);
        }
        return NULL;
    }
    for (size_t i = 0; cass_cfg_flags[i].flag; i++) {
        if (!args.flag_values[i])
            continue;
        if (cass_cfg_set(&cfg, cass_cfg_flags[i].key, args.flag_values[i], &err) < 0) {
            f = open_memstream(ret_why, &len);
            if (f) {
                fprintf(f, "--%s: ", cass_cfg_flags[i].flag);
                cass_error_fprint(f, err, "--flags");
                fclose(f);
            }
            json_decref(cfg);
            return NULL;
        }
    }
    return cfg;
}

/* SIGHUP: reads the config again and applies what can change while runs
 * go on: the policy (every launch from now on is checked against it) and
 * the log level. Other keys changed are named: they take effect at the next
 * start. An invalid config changes nothing. */
static void reload(struct cass_daemon *d)
{
    _cleanup_error_ struct cass_error *warnings = NULL;
    _cleanup_free_ char *why = NULL;
    _cleanup_json_ json_t *cfg = load_config(&warnings, &why);
    if (!cfg) {
        log_error("reload: %s(nothing changed)", why ? why : "out of memory ");
        return;
    }
    log_config_warnings(warnings);
    enum cass_log_level level = CASS_LOG_INFO;
    cass_log_level_parse(json_string_value(json_object_get(cfg, "logLevel")), &level);
    cass_log_set_level(level);
    cass_daemon_policy_set(d, json_incref(json_object_get(cfg, "policy")));
    const char *key;
    json_t *v;
    json_object_foreach(cfg, key, v)
    {
        if (!strcmp(key, "policy") || !strcmp(key, "logLevel"))
            continue;
        if (!json_equal(v, json_object_get(d->config, key)))
            log_warn("reload: %s changed: it takes effect when cassinyd starts again", key);
    }
    log_info("reloaded %s: policy and logLevel (%s) in effect",
             args.config_path ? args.config_path : CASS_DEFAULT_CONFIG,
             json_string_value(json_object_get(cfg, "logLevel")));
}

static void print_route(const char *method, const char *path, void *f)
{
    fprintf(f, "%s %s\n", method, path);
}

static int parse_args(int argc, char **argv, json_t **ret_cfg, struct cass_error **ret_warnings,
                      int *ret_check_only)
{
    enum {
        OPT_CHECK = 1000,
        OPT_LIST_FAILPOINTS,
        OPT_LIST_ROUTES,
        OPT_NO_GATEWAY,
        OPT_GATEWAY_ONLY,
        OPT_FLAG_BASE = 1100
    };
    struct option opts[32];
    size_t n = 0;
    opts[n++] = (struct option){"config", required_argument, NULL, 'c'};
    opts[n++] = (struct option){"check-config", no_argument, NULL, OPT_CHECK};
    opts[n++] = (struct option){"list-failpoints", no_argument, NULL, OPT_LIST_FAILPOINTS};
    opts[n++] = (struct option){"list-routes", no_argument, NULL, OPT_LIST_ROUTES};
    opts[n++] = (struct option){"no-gateway", no_argument, NULL, OPT_NO_GATEWAY};
    opts[n++] = (struct option){"gateway-only", no_argument, NULL, OPT_GATEWAY_ONLY};
    opts[n++] = (struct option){"version", no_argument, NULL, 'V'};
    opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    size_t nflags = 0;
    for (const struct cass_cfg_flag *fl = cass_cfg_flags; fl->flag; fl++, nflags++)
        opts[n++] = (struct option){fl->flag, required_argument, NULL, OPT_FLAG_BASE + (int)nflags};
    opts[n] = (struct option){NULL, 0, NULL, 0};

    int c;
    while ((c = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            args.config_path = optarg;
            break;
        case OPT_CHECK:
            *ret_check_only = 1;
            break;
        case OPT_LIST_FAILPOINTS:
            cass_failpoint_list(stdout);
            exit(0);
        case OPT_LIST_ROUTES:
            cass_routes_foreach(print_route, stdout);
            exit(0);
        case OPT_NO_GATEWAY:
        case OPT_GATEWAY_ONLY: {
            enum cass_role role = c == OPT_NO_GATEWAY ? CASS_ROLE_CONTROL : CASS_ROLE_GATEWAY;
            if (args.role != CASS_ROLE_ALL && args.role != role) {
                fprintf(stderr, "cassinyd: --no-gateway and --gateway-only exclude each other\n");
                return -1;
            }
            args.role = role;
            break;
        }
        case 'V':
            printf("cassinyd %s (API %s)\n", PACKAGE_VERSION, CASS_API_VERSION);
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        default:
            if (c >= OPT_FLAG_BASE && c < OPT_FLAG_BASE + (int)nflags) {
                args.flag_values[c - OPT_FLAG_BASE] = optarg;
                break;
            }
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cassinyd: unexpected argument: %s\n", argv[optind]);
        return -1;
    }

    _cleanup_free_ char *why = NULL;
    *ret_cfg = load_config(ret_warnings, &why);
    if (!*ret_cfg) {
        fprintf(stderr, "cassinyd: %s", why ? why : "out of memory\n");
        return -1;
    }
    return 0;
}

/* Picks the workload backend once, asking the engine for /info when the
 * config says auto and the engine answers. */
static int choose_backend(struct cass_daemon *d, struct cass_error **err)
{
    const char *engine = cass_daemon_config_str(d, "engine");
    _cleanup_json_ json_t *info = NULL;
    if (d->engine && engine && (!strcmp(engine, "auto") || !strcmp(engine, "swarm"))) {
        _cleanup_error_ struct cass_error *ierr = NULL;
        info = cass_engine_info(d->engine, &ierr);
        if (!info)
            log_warn("engine /info: %s", ierr && ierr->message ? ierr->message : "failed");
    }
    _cleanup_free_ char *note = NULL;
    d->backend = cass_cfg_backend(d->config, info, &note, err);
    if (!d->backend)
        return -1;
    if (note)
        log_warn("%s", note);
    log_info("workloads run on backend %s (engine: %s)", d->backend, engine ? engine : "?");
    return 0;
}

/* Waits for a signal for at most ms (0: none came). */
static int wait_signal(const sigset_t *mask, long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    int sig = sigtimedwait(mask, NULL, &ts);
    return sig > 0 ? sig : 0;
}

/* What a gateway process (--gateway-only) asked of this daemon through the
 * rotation's table: a culled notebook to start again, a notebook's new
 * address to ask the engine for. */
static void serve_gateway_requests(struct cass_daemon *d)
{
    char name[64], run_id[32];
    int kind;
    while ((kind = cass_rotation_request_take(d->rotation, name, run_id)) != 0) {
        _cleanup_error_ struct cass_error *err = NULL;
        if (kind == CASS_ROTATION_WAKE) {
            _cleanup_json_ json_t *woken = cass_lifecycle_wake(d, name, run_id, &err);
            if (!woken && err && err->kind != CASS_ERR_CONFLICT)
                log_warn("gateway: notebook %s cannot be started again: %s", name, err->message);
        } else if (kind == CASS_ROTATION_ENDPOINT) {
            _cleanup_json_ json_t *run = cass_store_run_get(d->store, run_id, &err);
            char host[64] = "";
            int port = 0;
            const char *prefix = NULL;
            if (run && cass_notebook_endpoint(run, host, &port, &prefix) == 0)
                cass_nbgw_endpoint_refresh(d, run, host, &port);
        }
    }
}

/* The replicas that kept serving while no daemon ran, back in the rotation
 * (generation begun before the lifecycle started): those not found again
 * leave it. 0, or -1 while the engine does not answer (try again). */
static int restore_rotation(struct cass_daemon *d, unsigned generation)
{
    _cleanup_error_ struct cass_error *err = NULL;
    int back = cass_reconcile_restore(d, &err);
    if (back < 0) {
        log_warn("restore: %s; tried again every second", err && err->message ? err->message : "?");
        return -1;
    }
    cass_rotation_sweep(d->rotation, generation);
    if (back > 0)
        log_info("%d model replicas back in the rotation before the gateway answers", back);
    return 0;
}

/* --gateway-only: serves the gateway from the shared rotation until
 * SIGTERM or SIGINT (SIGHUP reloads the log level). The exit status. */
static int gateway_main(struct cass_daemon *d, struct passed_sockets *passed, const sigset_t *mask)
{
    _cleanup_error_ struct cass_error *err = NULL;
    if (passed->api >= 0 || passed->api_tcp >= 0) {
        log_error("--gateway-only serves the gateway only, and was passed the API's socket: give "
                  "that one to cassinyd --no-gateway");
        return 1;
    }
    struct cass_gateway *gateway = cass_gateway_start(d, passed->gateway, &err);
    if (!gateway) {
        log_error("%s", err && err->message ? err->message : "the gateway did not start");
        return 1;
    }
    passed->gateway = -1;
    d->gateway_port = cass_gateway_port(gateway);
    log_info("cassinyd %s gateway (state in %s): models at %s://%s:%d/models/", PACKAGE_VERSION,
             cass_daemon_config_str(d, "stateDir"), cass_daemon_gateway_scheme(d),
             cass_daemon_config_str(d, "gateway.address"), d->gateway_port);
    sd_notify(0, "READY=1");
    int sig;
    while ((sig = wait_signal(mask, 1000)) == 0 || sig == SIGHUP)
        if (sig == SIGHUP)
            reload(d);
    log_info("%s: shutting down", strsignal(sig));
    sd_notify(0, "STOPPING=1");
    atomic_store(&d->stopping, true);
    cass_gateway_stop(gateway);
    return 0;
}

int main(int argc, char **argv)
{
    json_t *cfg = NULL;
    int check_only = 0;
    _cleanup_error_ struct cass_error *warnings = NULL;
    if (parse_args(argc, argv, &cfg, &warnings, &check_only) < 0)
        return 2;
    if (check_only) {
        if (warnings) {
            fprintf(stderr, "cassinyd: config warnings:\n");
            cass_error_fprint(stderr, warnings, "-");
        }
        json_dumpf(cfg, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        putchar('\n');
        json_decref(cfg);
        return 0;
    }

    enum cass_log_level level = CASS_LOG_INFO;
    enum cass_log_format format = CASS_LOG_TEXT;
    cass_log_level_parse(json_string_value(json_object_get(cfg, "logLevel")), &level);
    cass_log_format_parse(json_string_value(json_object_get(cfg, "logFormat")), &format);
    cass_log_setup(level, format);
    log_config_warnings(warnings);
    raise_nofile_limit();
    {
        _cleanup_error_ struct cass_error *fperr = NULL;
        if (cass_failpoint_init(getenv("CASS_FAILPOINT"), &fperr) < 0) {
            log_error("%s", fperr->message);
            json_decref(cfg);
            return 2;
        }
        if (cass_failpoints_armed)
            log_warn("fail points armed: CASS_FAILPOINT=%s", getenv("CASS_FAILPOINT"));
    }

    struct cass_daemon *d = cass_daemon_new(cfg);
    if (!d)
        return 1;
    d->role = args.role;

    /* Every thread started from here on inherits this mask; main waits for
     * the signals synchronously. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    _cleanup_error_ struct cass_error *err = NULL;
    int rc = 1;
    struct passed_sockets passed;
    if (take_passed_sockets(&passed, &err) < 0) {
        log_error("%s", err->message);
        cass_daemon_free(d);
        return 1;
    }
    if (passed.api >= 0 || passed.gateway >= 0 || passed.api_tcp >= 0)
        log_info("socket-activated: the API socket %s, the gateway's %s%s",
                 passed.api >= 0 ? "passed" : "bound here",
                 passed.gateway >= 0            ? "passed"
                 : d->role == CASS_ROLE_CONTROL ? "another process's"
                                                : "bound here",
                 passed.api_tcp >= 0 ? ", the API's TCP socket passed" : "");
    const char *state_dir = cass_daemon_config_str(d, "stateDir");
    const char *socket_path = cass_daemon_config_str(d, "socket");
    _cleanup_free_ char *socket_copy = strdup(socket_path);
    _cleanup_free_ char *db_path = NULL, *table_path = NULL;
    if (asprintf(&db_path, "%s/cassiny.db", state_dir) < 0 ||
        asprintf(&table_path, "%s/gateway.table", state_dir) < 0)
        goto out;
    if (mkdir_p(state_dir, 0700, &err) < 0 ||
        (d->role != CASS_ROLE_GATEWAY && mkdir_p(dirname(socket_copy), 0755, &err) < 0))
        goto fail;
    if (cass_daemon_instance_load(d, &err) < 0 || cass_auth_key_load(d, &err) < 0)
        goto fail;
    /* The rotation is the state directory's, shared with a gateway process
     * and kept across restarts of either. */
    struct cass_rotation *table = cass_rotation_open(table_path, &err);
    if (!table)
        goto fail;
    cass_rotation_free(d->rotation);
    d->rotation = table;
    d->store = cass_store_open(db_path, &err);
    if (!d->store)
        goto fail;
    if (d->role == CASS_ROLE_GATEWAY) {
        rc = gateway_main(d, &passed, &mask);
        goto out;
    }
    if (d->role == CASS_ROLE_CONTROL) {
        if (passed.gateway >= 0) {
            cass_error_set(&err, CASS_ERR_INVALID,
                           "--no-gateway was passed the gateway's socket: give it to cassinyd "
                           "--gateway-only");
            goto fail;
        }
        d->gateway_port = (int)cass_daemon_config_int(d, "gateway.port");
        if (d->gateway_port <= 0) {
            cass_error_set(&err, CASS_ERR_INVALID,
                           "--no-gateway needs a fixed gateway.port (not 0): the addresses of "
                           "models and notebooks name it before the gateway process runs");
            goto fail;
        }
    }

    if (!cass_daemon_engine(d, &err)) {
        log_warn("Docker Engine not reachable yet (%s); serving anyway and retrying on use",
                 err ? err->message : "?");
        cass_error_free(TAKE_PTR(err));
    } else {
        log_info("Docker Engine at %s, API %s", cass_daemon_config_str(d, "dockerHost"),
                 cass_engine_api_version(d->engine));
    }
    if (choose_backend(d, &err) < 0)
        goto fail;
    if (cass_pin_setup(state_dir, cass_daemon_config_str(d, "dockerHost"), &err) < 0)
        goto fail;

    unsigned generation = cass_rotation_generation_begin(d->rotation);
    if (cass_lifecycle_start(d, &err) < 0)
        goto fail;
    /* Before either server accepts: the replicas that kept serving while
     * the daemon was away are in the rotation again, so that the requests
     * waiting in the sockets' backlogs are answered, not refused. */
    bool restore_pending = restore_rotation(d, generation) < 0;
    struct cass_server *server = cass_server_start(d, passed.api, passed.api_tcp, &err);
    if (!server)
        goto fail;
    passed.api = passed.api_tcp = -1;
    struct cass_gateway *gateway = NULL;
    if (d->role == CASS_ROLE_ALL) {
        gateway = cass_gateway_start(d, passed.gateway, &err);
        if (!gateway) {
            cass_server_stop(server);
            goto fail;
        }
        passed.gateway = -1;
        d->gateway_port = cass_gateway_port(gateway);
    }
    log_info("cassinyd %s serving on %s (state in %s), models at %s://%s:%d/models/%s",
             PACKAGE_VERSION, socket_path, state_dir, cass_daemon_gateway_scheme(d),
             cass_daemon_config_str(d, "gateway.address"), d->gateway_port,
             gateway ? "" : " (served by cassinyd --gateway-only)");
    sd_notify(0, "READY=1");

    for (int ticks = 0;; ticks++) {
        int sig = wait_signal(&mask, 100);
        if (sig == SIGHUP) {
            reload(d);
            continue;
        }
        if (sig) {
            log_info("%s: shutting down", strsignal(sig));
            break;
        }
        serve_gateway_requests(d);
        if (restore_pending && ticks % 10 == 0)
            restore_pending = restore_rotation(d, generation) < 0;
    }
    sd_notify(0, "STOPPING=1");
    atomic_store(&d->stopping, true);
    cass_server_stop(server);
    cass_gateway_stop(gateway);
    cass_lifecycle_stop(d);
    rc = 0;
    goto out;

fail:
    cass_lifecycle_stop(d);
    log_error("%s", err && err->message ? err->message : "start-up failed");
out:
    passed_sockets_close(&passed);
    cass_daemon_free(d);
    return rc;
}
