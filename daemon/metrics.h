/* Counters and histograms for /metrics, in Prometheus' text format.
 *
 * Each family has a fixed name, help text and label names; a series is made
 * the first time a combination of label values is counted and kept for the
 * daemon's life (label values are route patterns, kinds, statuses, codes
 * and model names, all bounded). Safe from any thread. Gauges that are read
 * when scraped (the engine, queues, the store) are written by the scrape
 * itself with cass_metrics_gauge. */
#ifndef CASS_METRICS_H
#define CASS_METRICS_H

#include <stdio.h>

enum cass_metric_id {
    CASS_M_API_REQUESTS,      /* counter {route, method, code} */
    CASS_M_API_DURATION,      /* histogram {route} */
    CASS_M_LAUNCH_DURATION,   /* histogram {kind}: launch begun to running/ready */
    CASS_M_LAUNCH_FAILURES,   /* counter {kind, reason} */
    CASS_M_GATEWAY_REQUESTS,  /* counter {model, code} */
    CASS_M_GATEWAY_DURATION,  /* histogram {model} */
    CASS_M_GATEWAY_ERRORS,    /* counter {model, reason}: the gateway's own failures */
    CASS_M_ROLLOUTS_STARTED,  /* counter {model} */
    CASS_M_ROLLOUTS_FINISHED, /* counter {model, result}: succeeded | rolled_back | interrupted */
    CASS_M_NOTEBOOKS_CULLED,  /* counter {} */
    CASS_M_COUNT
};

/* Adds v to the counter id's series of the given label values (as many as
 * the family has names, in order). */
void cass_metric_add(enum cass_metric_id id, double v, ...);

/* Counts one observation v (seconds) in histogram id's series. */
void cass_metric_observe(enum cass_metric_id id, double v, ...);

/* Writes every family that has a series, with its HELP and TYPE. */
void cass_metrics_write(FILE *f);

/* Writes a HELP and TYPE line for a family written by the caller. */
void cass_metrics_header(FILE *f, const char *name, const char *type, const char *help);

/* Writes one sample line: name{k="v",...} value, labels given as
 * NULL-terminated key, value pairs (values escaped). */
void cass_metrics_sample(FILE *f, const char *name, double value, ...);

struct cass_daemon;

#define CASS_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The page GET /metrics answers: the daemon's gauges read now (engine,
 * queues, store) and every family above. Caller owns; NULL when out of
 * memory. */
char *cass_metrics_render(struct cass_daemon *d);

/* Forgets every series (tests). */
void cass_metrics_reset(void);

#endif
