/* What cassinyd and cassinyctl agree on. Bump CASS_API_VERSION together
 * with any incompatible change of a path, body or status. */
#ifndef CASS_PROTOCOL_H
#define CASS_PROTOCOL_H

#define CASS_API_VERSION "v1"
/* The paths follow configure's --runstatedir, --localstatedir and
 * --sysconfdir (Makefile.am passes them): /run, /var and /etc for a Debian
 * build, ${prefix}/var/run, ${prefix}/var and ${prefix}/etc by default. */
#if !defined(RUNSTATEDIR) || !defined(LOCALSTATEDIR) || !defined(SYSCONFDIR)
#error "RUNSTATEDIR, LOCALSTATEDIR and SYSCONFDIR come from configure (see Makefile.am)"
#endif
#define CASS_DEFAULT_SOCKET RUNSTATEDIR "/cassiny/cassiny.sock"
#define CASS_DEFAULT_STATE_DIR LOCALSTATEDIR "/lib/cassiny"
#define CASS_DEFAULT_CONFIG SYSCONFDIR "/cassiny/cassinyd.yaml"
#define CASS_DEFAULT_DOCKER_HOST "unix:///var/run/docker.sock"
#define CASS_MAX_BODY_BYTES (1024 * 1024)

#define CASS_MEDIA_JSON "application/json"
#define CASS_MEDIA_YAML "application/yaml"
#define CASS_MEDIA_PROBLEM "application/problem+json"

/* On replies to state-changing requests: the last event id before the
 * request, so that a client can follow what the request caused without a
 * race (GET /v1/events?since=ID). */
#define CASS_HEADER_EVENT_ID "X-Cassiny-Event-Id"

/* Labels on everything the daemon creates. */
#define CASS_LABEL_NAME "io.cassiny.name"
#define CASS_LABEL_KIND "io.cassiny.kind"
#define CASS_LABEL_RUN "io.cassiny.run"
#define CASS_LABEL_REVISION "io.cassiny.revision"
/* Which replica of a model a container is (0, 1, ...). */
#define CASS_LABEL_REPLICA "io.cassiny.replica"
/* Which daemon (state directory) owns it: daemons sharing an engine never
 * touch each other's containers. */
#define CASS_LABEL_INSTANCE "io.cassiny.instance"

/* The bridge network notebooks and model replicas are attached to: shared
 * by every daemon on an engine, Cassiny's by this label, with traffic
 * between its containers off (a notebook cannot reach a replica directly;
 * the gateway and Jupyter are reached through published ports). Jobs have
 * no network at all. */
#define CASS_NETWORK "cassiny"
#define CASS_LABEL_NETWORK "io.cassiny.network"

/* cassinyctl exit codes. */
enum {
    CASS_EXIT_OK = 0,
    CASS_EXIT_FAILURE = 1,
    CASS_EXIT_USAGE = 2, /* bad usage or an invalid spec */
};

#endif
