/* A parser of server-sent events (the text/event-stream format of the HTML
 * standard), fed the bytes of a stream in pieces of any size: a frame, a
 * line or a CR LF may be split anywhere. */
#ifndef CTL_SSE_H
#define CTL_SSE_H

#include <stddef.h>

/* The longest line and the largest data of one event; longer is an error. */
#define CTL_SSE_MAX_BYTES (4u << 20)

struct ctl_sse_event {
    const char *id;    /* the last event id of the stream so far, "" when none */
    const char *event; /* "message" when the frame named none */
    const char *data;  /* the data lines joined with "\n" */
    size_t data_len;
};

/* Called once per dispatched event; the strings live until it returns.
 * Non-zero stops the parser, which returns that value from ctl_sse_feed. */
typedef int (*ctl_sse_fn)(const struct ctl_sse_event *ev, void *userdata);

struct ctl_sse {
    ctl_sse_fn fn;
    void *userdata;
    char *line; /* the line being read */
    size_t line_len, line_cap;
    char *data; /* data lines of the frame being read, each with its "\n" */
    size_t data_len, data_cap;
    char *event;   /* event type of the frame being read, NULL: none */
    char *id;      /* last event id, NULL: none */
    int after_cr;  /* the last byte was a CR: a LF right after it ends no line */
    long retry_ms; /* the last "retry:" of the stream (ms), -1 when none */
};

void ctl_sse_init(struct ctl_sse *p, ctl_sse_fn fn, void *userdata);
/* Frees what the parser holds; it may be initialised again. */
void ctl_sse_clear(struct ctl_sse *p);
/* Forgets a partly read frame (after the connection dropped) and starts a
 * new stream; keeps the last event id, forgets the retry hint. */
void ctl_sse_restart(struct ctl_sse *p);

/* Parses len bytes. Returns 0, the non-zero value of the callback that
 * stopped it, or -1 when a line or an event's data exceeds
 * CTL_SSE_MAX_BYTES or memory runs out. */
int ctl_sse_feed(struct ctl_sse *p, const char *buf, size_t len);

/* The last event id seen, NULL when none. */
const char *ctl_sse_last_id(const struct ctl_sse *p);

#endif
