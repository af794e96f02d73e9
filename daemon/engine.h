/* Docker Engine API client over libcurl (unix socket or TCP).
 *
 * One struct cass_engine is shared by all daemon threads: buffered calls take
 * an HTTP handle from a small pool behind a mutex, streaming calls (pull, logs,
 * events, wait) open their own. The API version is negotiated from /_ping and
 * /version and every later path carries it ("/v1.41/containers/json").
 *
 * Everything the engine says is untrusted: replies are parsed with
 * JSON_REJECT_DUPLICATES and every field read is type-checked; a malformed
 * reply is an error. Engine errors keep the HTTP status in err->status and
 * the engine's "message" text: 404 -> CASS_ERR_NOT_FOUND, 409 ->
 * CASS_ERR_CONFLICT, unreachable -> CASS_ERR_UNAVAILABLE, others
 * CASS_ERR_ENGINE. Nothing here logs. */
#ifndef CASS_ENGINE_H
#define CASS_ENGINE_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The range of API versions this client speaks. */
#define CASS_ENGINE_API_MIN_MINOR 41
#define CASS_ENGINE_API_MAX_MINOR 43

/* Largest multiplexed log frame accepted; the engine sends at most 32 KiB. */
#define CASS_ENGINE_MAX_FRAME (16u << 20)
/* Largest line of a JSON-lines stream (events, pull progress). */
#define CASS_ENGINE_MAX_LINE (1u << 20)

struct cass_engine;

/* ---- connection --------------------------------------------------------- */

/* Connects to host ("unix:///var/run/docker.sock", "http://host:port") and
 * negotiates the API version. Caller owns the result (cass_engine_free). */
struct cass_engine *cass_engine_new(const char *host, struct cass_error **err);
void cass_engine_free(struct cass_engine *e);

/* Re-negotiates the API version, e.g. after the engine restarted (possibly
 * upgraded). Safe while other threads use e. */
int cass_engine_negotiate(struct cass_engine *e, struct cass_error **err);

/* Negotiated API version, "1.41".."1.43". Borrowed, static storage: stays
 * valid for the life of the program even across re-negotiation. */
const char *cass_engine_api_version(const struct cass_engine *e);
/* The host e was created with. Borrowed, lives as long as e. */
const char *cass_engine_host(const struct cass_engine *e);

/* GET /_ping: 0 when the engine answers "OK". */
int cass_engine_ping(struct cass_engine *e, struct cass_error **err);
/* GET /version and /info. Caller owns the object. */
json_t *cass_engine_version(struct cass_engine *e, struct cass_error **err);
json_t *cass_engine_info(struct cass_engine *e, struct cass_error **err);

/* From an /info object: Swarm.LocalNodeState == "active", and whether this
 * node is a manager (Swarm.ControlAvailable). A missing Swarm section means
 * inactive; a field of the wrong type is an error. */
int cass_engine_info_swarm(const json_t *info, bool *ret_active, bool *ret_manager,
                           struct cass_error **err);

/* ---- images ------------------------------------------------------------- */

struct cass_engine_image {
    char *id;            /* "sha256:...", owned */
    char **repo_digests; /* owned, n_repo_digests entries (0 when null/missing) */
    size_t n_repo_digests;
    char *user;        /* Config.User, owned, NULL when unset or empty */
    char *working_dir; /* Config.WorkingDir, owned, NULL when unset or empty */
    json_t *cmd;       /* Config.Cmd, an array of strings, owned, NULL when unset */
};
void cass_engine_image_clear(struct cass_engine_image *img);

/* GET /images/{ref}/json. 404 -> CASS_ERR_NOT_FOUND. ret is untouched on
 * failure, cleared with cass_engine_image_clear. */
int cass_engine_image_inspect(struct cass_engine *e, const char *ref, struct cass_engine_image *ret,
                              struct cass_error **err);
/* The parsing half of image_inspect, for replies already in hand. */
int cass_engine_image_parse(const char *body, size_t len, struct cass_engine_image *ret,
                            struct cass_error **err);

/* One JSON object of a progress stream (pull). Borrowed: valid during the
 * call only. Return non-zero to stop the stream. */
typedef int (*cass_engine_json_fn)(json_t *obj, void *userdata);

/* POST /images/create?fromImage=...&tag=... (tag "latest" when ref has none).
 * progress may be NULL. An "error"/"errorDetail" line inside a 200 is an
 * error (CASS_ERR_ENGINE). cancel may be NULL. */
int cass_engine_image_pull(struct cass_engine *e, const char *ref, cass_engine_json_fn progress,
                           void *userdata, const atomic_int *cancel, struct cass_error **err);

/* POST /images/{name}/push?tag=TAG for ref (a name with its registry and a
 * tag, "latest" when none), with an empty X-Registry-Auth. progress as for
 * a pull. *ret_digest (caller owns; may be NULL) is the manifest digest the
 * registry stored, NULL when the engine did not say. */
int cass_engine_image_push(struct cass_engine *e, const char *ref, cass_engine_json_fn progress,
                           void *userdata, const atomic_int *cancel, char **ret_digest,
                           struct cass_error **err);
/* POST /images/{ref}/tag: the image ref names also as target (name:tag). */
int cass_engine_image_tag(struct cass_engine *e, const char *ref, const char *target,
                          struct cass_error **err);
/* DELETE /images/{ref}?noprune=1: removes the name ref, not the image's
 * layers; the image stays while another name or a container holds it. */
int cass_engine_image_untag(struct cass_engine *e, const char *ref, struct cass_error **err);

/* GET /distribution/{ref}/json: the digest of the manifest (or manifest
 * list) the registry holds for ref now, "sha256:<64 hex>" (caller owns). The
 * engine asks the registry; the image need not be local. */
char *cass_engine_distribution_digest(struct cass_engine *e, const char *ref,
                                      struct cass_error **err);
/* The parsing half: Descriptor.digest of a reply (caller owns). */
char *cass_engine_distribution_parse(const char *body, size_t len, struct cass_error **err);
/* "sha256:" and 64 lower-case hex digits. */
bool cass_engine_digest_valid(const char *s);

/* ---- containers --------------------------------------------------------- */

enum cass_container_mount_type {
    CASS_MOUNT_BIND = 0,
    CASS_MOUNT_VOLUME,
};

struct cass_container_mount {
    enum cass_container_mount_type type;
    const char *source; /* host path (bind) or volume name */
    const char *target; /* absolute container path */
    bool read_only;
    /* The spec field a bind's source came from ("spec.inputs[0].source"),
     * policed again when it is pinned at launch; NULL for the daemon's own
     * paths. Not sent to the engine. */
    const char *field;
};

/* A tmpfs (HostConfig.Tmpfs): target and mount options ("rw,nosuid,size=1m"). */
struct cass_container_tmpfs {
    const char *target;  /* absolute container path */
    const char *options; /* NULL: the engine's defaults */
};

struct cass_container_port {
    int container_port;  /* 1..65535 */
    const char *proto;   /* "tcp" (NULL) or "udp" */
    const char *host_ip; /* NULL: all addresses */
    int host_port;       /* 0: the engine chooses */
};

struct cass_container_label {
    const char *key;
    const char *value;
};

/* What to create. All pointers are borrowed for the call; arrays of strings
 * are NULL-terminated and may be NULL (image default / none). */
struct cass_container_spec {
    const char *name;  /* NULL: the engine names it */
    const char *image; /* required; pass an image ID to pin it */
    const char *const *cmd;
    const char *const *entrypoint;
    const char *const *env; /* "KEY=value" */
    const char *user;
    const char *working_dir;
    const struct cass_container_label *labels;
    size_t n_labels;
    const struct cass_container_mount *mounts;
    size_t n_mounts;
    const struct cass_container_port *ports;
    size_t n_ports;
    int64_t nano_cpus;  /* 0: no limit */
    int64_t memory;     /* bytes, 0: no limit */
    int gpus;           /* 0: none, -1: all, n: that many */
    int64_t pids_limit; /* 0: the engine's default (unlimited) */
    const char *const *cap_drop;
    const char *const *cap_add;
    const char *const *security_opt; /* e.g. "no-new-privileges" */
    bool readonly_rootfs;
    const struct cass_container_tmpfs *tmpfs;
    size_t n_tmpfs;
    bool tty;
    bool init;
    const char *restart_policy; /* NULL/"no", "on-failure", "always", "unless-stopped" */
    int restart_max_retries;    /* on-failure only */
    const char *network_mode;   /* NULL: engine default */
};

/* The body of POST /containers/create for spec. Caller owns it. Exposed for
 * tests; validates ports, mounts and restart policy. */
json_t *cass_engine_container_body(const struct cass_container_spec *spec, struct cass_error **err);

/* POST /containers/create. Returns the new container's id (caller owns). */
char *cass_engine_container_create(struct cass_engine *e, const struct cass_container_spec *spec,
                                   struct cass_error **err);
/* Start; starting a running container is not an error. */
int cass_engine_container_start(struct cass_engine *e, const char *id, struct cass_error **err);
/* Stop with SIGTERM, then SIGKILL after timeout_s seconds (< 0: the
 * container's own default). Stopping a stopped container is not an error. */
int cass_engine_container_stop(struct cass_engine *e, const char *id, int timeout_s,
                               struct cass_error **err);
/* Sends signal ("SIGKILL", "TERM", "9"; NULL: SIGKILL). 409 if not running. */
int cass_engine_container_kill(struct cass_engine *e, const char *id, const char *signal,
                               struct cass_error **err);
int cass_engine_container_remove(struct cass_engine *e, const char *id, bool force, bool volumes,
                                 struct cass_error **err);
/* GET /containers/{id}/json. Caller owns the object. */
json_t *cass_engine_container_inspect(struct cass_engine *e, const char *id,
                                      struct cass_error **err);

/* GET /containers/json?all=..&filters={"label":[...]}. labels are "key" or
 * "key=value", NULL-terminated, may be NULL. Caller owns the array. */
json_t *cass_engine_container_list(struct cass_engine *e, const char *const *labels, bool all,
                                   struct cass_error **err);

/* The state of a container, from an inspect object. */
struct cass_container_state {
    char *status; /* "created", "running", "exited", ... owned */
    bool running;
    bool oom_killed;
    bool tty; /* Config.Tty */
    int exit_code;
    int pid;
    char *started_at;  /* RFC 3339 as the engine wrote it, owned, may be NULL */
    char *finished_at; /* owned, may be NULL ("0001-01-01T00:00:00Z" when never) */
    char *error;       /* State.Error, owned, NULL when empty */
};
int cass_engine_container_state(const json_t *inspect, struct cass_container_state *ret,
                                struct cass_error **err);
void cass_container_state_clear(struct cass_container_state *s);

/* The container's address on its first network that gives it one (the
 * daemon's own bridge network), for ports it does not publish. *ret_ip
 * gets it (caller owns); CASS_ERR_NOT_FOUND when it has none (not running). */
int cass_engine_container_ip(const json_t *inspect, char **ret_ip, struct cass_error **err);

/* The host port published for container_port/proto (proto NULL: "tcp") in an
 * inspect object. CASS_ERR_NOT_FOUND when not published (yet). *ret_host_ip
 * (may be NULL) gets the address, caller owns. */
int cass_engine_container_host_port(const json_t *inspect, int container_port, const char *proto,
                                    char **ret_host_ip, int *ret_host_port,
                                    struct cass_error **err);

enum cass_engine_wait_condition {
    CASS_WAIT_NOT_RUNNING = 0, /* returns at once if it is not running */
    CASS_WAIT_NEXT_EXIT,       /* the next exit, even of a container not started yet */
};

/* POST /containers/{id}/wait; *ret_exit_code gets the exit status. Blocks
 * until then or until *cancel (may be NULL) is set, which is an error of kind
 * CASS_ERR_UNAVAILABLE with message "cancelled". */
int cass_engine_container_wait(struct cass_engine *e, const char *id,
                               enum cass_engine_wait_condition cond, const atomic_int *cancel,
                               int *ret_exit_code, struct cass_error **err);

/* ---- logs ----------------------------------------------------------------- */

/* Log bytes of one stream (1 stdout, 2 stderr). Frames may arrive in several
 * pieces; data is borrowed. Return non-zero to stop. */
typedef int (*cass_engine_log_fn)(int stream, const char *data, size_t len, void *userdata);

/* Stateful demultiplexer of the engine's stream format: frames of an 8-byte
 * header {stream, 0, 0, 0, size big-endian u32} and size bytes, split across
 * arbitrary chunks. raw (a TTY container) passes bytes through as stdout. */
struct cass_engine_demux {
    cass_engine_log_fn fn;
    void *userdata;
    bool raw;
    bool failed;
    unsigned char header[8];
    size_t header_len; /* bytes of the current header seen */
    size_t remaining;  /* payload bytes left in the current frame */
    int stream;
};
void cass_engine_demux_init(struct cass_engine_demux *d, bool raw, cass_engine_log_fn fn,
                            void *userdata);
/* Returns 0 to go on, 1 when fn asked to stop, -1 on an invalid frame (bad
 * stream byte, non-zero padding, size > CASS_ENGINE_MAX_FRAME) or an engine
 * error frame (stream 3); after -1 every call fails. */
int cass_engine_demux_feed(struct cass_engine_demux *d, const char *data, size_t len,
                           struct cass_error **err);
/* At the end of the stream: -1 if it stopped inside a frame. */
int cass_engine_demux_finish(struct cass_engine_demux *d, struct cass_error **err);

struct cass_engine_logs_opts {
    bool follow;
    bool timestamps;
    bool no_stdout; /* both streams unless told */
    bool no_stderr;
    int tail;                 /* last N lines; < 0: all */
    int64_t since;            /* UNIX seconds, 0: from the start */
    const atomic_int *cancel; /* may be NULL */
};

/* GET /containers/{id}/logs, demultiplexed (raw when the container has a
 * TTY, found by inspecting it) into fn. opts may be NULL. Returns 0 at the
 * end of the logs, when fn stops or when cancelled. */
int cass_engine_container_logs(struct cass_engine *e, const char *id,
                               const struct cass_engine_logs_opts *opts, cass_engine_log_fn fn,
                               void *userdata, struct cass_error **err);

/* ---- JSON-lines streams (events, pull) ------------------------------------- */

/* Splits a byte stream into lines across chunks and parses each non-blank
 * line as a JSON object (duplicates rejected) handed to fn (borrowed). */
struct cass_engine_jsonl {
    cass_engine_json_fn fn;
    void *userdata;
    char *buf; /* the partial line, owned */
    size_t len, cap;
    bool failed;
};
void cass_engine_jsonl_init(struct cass_engine_jsonl *j, cass_engine_json_fn fn, void *userdata);
/* 0 to go on, 1 when fn asked to stop, -1 on a malformed or too long line. */
int cass_engine_jsonl_feed(struct cass_engine_jsonl *j, const char *data, size_t len,
                           struct cass_error **err);
/* Parses a last line without newline; -1 if it is malformed. */
int cass_engine_jsonl_finish(struct cass_engine_jsonl *j, struct cass_error **err);
void cass_engine_jsonl_clear(struct cass_engine_jsonl *j);

/* ---- events --------------------------------------------------------------- */

struct cass_engine_events_opts {
    const char *const *labels; /* "key" or "key=value", NULL-terminated, may be NULL */
    const char *const *types;  /* "container", "image", "volume", ... */
    const char *const *events; /* "create", "start", "die", ... */
    const char *since;         /* UNIX time or engine duration; NULL: now */
    const char *until;         /* NULL: follow forever */
    const atomic_int *cancel;  /* may be NULL */
};

/* GET /events, each event object handed to fn (borrowed). Returns 0 when the
 * engine ends the stream (until reached), fn returns non-zero, or *cancel is
 * set; -1 on errors, including a malformed event and losing the engine. */
int cass_engine_events(struct cass_engine *e, const struct cass_engine_events_opts *opts,
                       cass_engine_json_fn fn, void *userdata, struct cass_error **err);

/* ---- volumes -------------------------------------------------------------- */

/* POST /volumes/create. Returns the volume's name (caller owns). name may be
 * NULL for an engine-chosen one. */
char *cass_engine_volume_create(struct cass_engine *e, const char *name,
                                const struct cass_container_label *labels, size_t n_labels,
                                struct cass_error **err);
/* GET /volumes/{name}. Caller owns the object. */
/* The id of the bridge network `name` that is Cassiny's own: labelled
 * label, with traffic between its containers off
 * (com.docker.network.bridge.enable_icc=false); made when missing. When
 * several daemons made one at once, all pick the smallest id. With only
 * networks of that name that are not Cassiny's: CASS_ERR_FORBIDDEN. Caller
 * owns the id. */
char *cass_engine_network_ensure(struct cass_engine *e, const char *name, const char *label,
                                 struct cass_error **err);
json_t *cass_engine_volume_inspect(struct cass_engine *e, const char *name,
                                   struct cass_error **err);
int cass_engine_volume_remove(struct cass_engine *e, const char *name, bool force,
                              struct cass_error **err);
/* GET /volumes?filters={"label":[...]}: the "Volumes" array (caller owns;
 * empty when the engine says null). */
json_t *cass_engine_volume_list(struct cass_engine *e, const char *const *labels,
                                struct cass_error **err);

/* ---- swarm (a manager's engine) --------------------------------------------- */

/* POST /services/create with spec (a ServiceSpec). Returns the new
 * service's ID (caller owns). */
char *cass_engine_service_create(struct cass_engine *e, const json_t *spec,
                                 struct cass_error **err);
/* GET /services/{id}. Caller owns the object. */
json_t *cass_engine_service_inspect(struct cass_engine *e, const char *id, struct cass_error **err);
/* POST /services/{id}/update?version=N with the whole new spec. */
int cass_engine_service_update(struct cass_engine *e, const char *id, json_int_t version,
                               const json_t *spec, struct cass_error **err);
/* DELETE /services/{id}. 404 -> CASS_ERR_NOT_FOUND. */
int cass_engine_service_remove(struct cass_engine *e, const char *id, struct cass_error **err);
/* GET /services?filters={"label":[...]}. Caller owns the array. */
json_t *cass_engine_service_list(struct cass_engine *e, const char *const *labels,
                                 struct cass_error **err);
/* GET /tasks, of one service when service_id is not NULL. Caller owns the array. */
json_t *cass_engine_task_list(struct cass_engine *e, const char *service_id,
                              struct cass_error **err);
/* GET /nodes. Caller owns the array. */
json_t *cass_engine_node_list(struct cass_engine *e, struct cass_error **err);
/* GET /services/{id}/logs (every task's output), demultiplexed unless tty
 * (the service's ContainerSpec.TTY), as cass_engine_container_logs. */
int cass_engine_service_logs(struct cass_engine *e, const char *id, bool tty,
                             const struct cass_engine_logs_opts *opts, cass_engine_log_fn fn,
                             void *userdata, struct cass_error **err);

/* ---- pieces exposed for tests ---------------------------------------------- */

/* Maps an engine reply with a non-2xx status to *err: kind by status, the
 * engine's "message" text (or a note that the body was not the usual one),
 * and err->status. what names the call ("create container"). Returns -1. */
int cass_engine_error_from_reply(long status, const char *body, size_t len, const char *what,
                                 struct cass_error **err);

/* The value of a filters= query parameter: {"label":[...],"type":[...],
 * "event":[...]} with the empty lists left out, percent-encoded; NULL
 * (and no error) when every list is empty. Caller owns the result. */
char *cass_engine_filters_query(const char *const *labels, const char *const *types,
                                const char *const *events, struct cass_error **err);

/* A reply body as a JSON value of type (JSON_OBJECT or JSON_ARRAY), parsed
 * with duplicates rejected; what names the call in the error. Caller owns. */
json_t *cass_engine_reply_parse(const char *body, size_t len, json_type type, const char *what,
                                struct cass_error **err);

/* The parsing half of container_wait: the exit status of a 2xx reply of
 * POST /containers/{id}/wait; an Error.Message in it is an error. */
int cass_engine_wait_parse(const char *body, size_t len, int *ret_exit_code,
                           struct cass_error **err);

/* The API minor version to speak, from a /version object and the /_ping
 * API-Version header (may be NULL, used when the object has no ApiVersion);
 * -1 with *err when it is missing, malformed or out of range. */
int cass_engine_version_choose(const json_t *version, const char *header, struct cass_error **err);

/* Parses "1.41" into its minor number (major must be 1); -1 if malformed. */
int cass_engine_parse_api_version(const char *s);

/* Picks the version to speak from the engine's ApiVersion and MinAPIVersion
 * (min_version may be NULL): min(server, ours), refused below ours. Returns
 * the minor number or -1 with *err set. */
int cass_engine_choose_api_version(const char *server_version, const char *min_version,
                                   struct cass_error **err);

#endif
