/* Server-sent events: lines end with CR LF, LF or CR; "field: value" lines
 * build a frame, an empty line dispatches it, ":" starts a comment. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "sse.h"

void ctl_sse_init(struct ctl_sse *p, ctl_sse_fn fn, void *userdata)
{
    memset(p, 0, sizeof(*p));
    p->fn = fn;
    p->userdata = userdata;
    p->retry_ms = -1;
}

void ctl_sse_clear(struct ctl_sse *p)
{
    free(p->line);
    free(p->data);
    free(p->event);
    free(p->id);
    memset(p, 0, sizeof(*p));
}

void ctl_sse_restart(struct ctl_sse *p)
{
    p->line_len = 0;
    p->data_len = 0;
    free(p->event);
    p->event = NULL;
    p->after_cr = 0;
    p->retry_ms = -1;
}

const char *ctl_sse_last_id(const struct ctl_sse *p)
{
    return p->id;
}

/* Appends n bytes to a NUL-terminated buffer of at most CTL_SSE_MAX_BYTES. */
static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n > CTL_SSE_MAX_BYTES)
        return -1;
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        char *b = realloc(*buf, c);
        if (!b)
            return -1;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static int replace(char **dst, const char *v, size_t n)
{
    char *s = strndup(v, n);
    if (!s)
        return -1;
    free(*dst);
    *dst = s;
    return 0;
}

static int dispatch(struct ctl_sse *p)
{
    if (p->data_len == 0) {
        free(p->event);
        p->event = NULL;
        return 0;
    }
    p->data[--p->data_len] = '\0'; /* the "\n" of the last data line */
    struct ctl_sse_event ev = {
        .id = p->id ? p->id : "",
        .event = p->event && *p->event ? p->event : "message",
        .data = p->data,
        .data_len = p->data_len,
    };
    int r = p->fn(&ev, p->userdata);
    p->data_len = 0;
    free(p->event);
    p->event = NULL;
    return r;
}

static int field_is(const char *f, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(f, name, n) == 0;
}

static int process_line(struct ctl_sse *p)
{
    const char *l = p->line ? p->line : "";
    size_t n = p->line_len;
    p->line_len = 0;
    if (n == 0)
        return dispatch(p);
    if (l[0] == ':')
        return 0;
    const char *colon = memchr(l, ':', n);
    size_t flen = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    size_t vlen = colon ? n - flen - 1 : 0;
    if (vlen > 0 && *v == ' ')
        v++, vlen--;
    if (field_is(l, flen, "data")) {
        if (append(&p->data, &p->data_len, &p->data_cap, v, vlen) < 0 ||
            append(&p->data, &p->data_len, &p->data_cap, "\n", 1) < 0)
            return -1;
    } else if (field_is(l, flen, "event")) {
        if (replace(&p->event, v, vlen) < 0)
            return -1;
    } else if (field_is(l, flen, "id")) {
        if (!memchr(v, '\0', vlen) && replace(&p->id, v, vlen) < 0)
            return -1;
    } else if (field_is(l, flen, "retry")) {
        /* ASCII digits only, as the standard says; anything else is ignored. */
        long ms = vlen && vlen < 10 ? 0 : -1;
        for (size_t i = 0; ms >= 0 && i < vlen; i++)
            ms = v[i] >= '0' && v[i] <= '9' ? ms * 10 + (v[i] - '0') : -1;
        if (ms >= 0)
            p->retry_ms = ms;
    }
    /* Unknown fields are ignored. */
    return 0;
}

int ctl_sse_feed(struct ctl_sse *p, const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (p->after_cr) {
            p->after_cr = 0;
            if (buf[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < len && buf[j] != '\r' && buf[j] != '\n')
            j++;
        if (append(&p->line, &p->line_len, &p->line_cap, buf + i, j - i) < 0)
            return -1;
        if (j == len)
            break;
        p->after_cr = buf[j] == '\r';
        i = j + 1;
        int r = process_line(p);
        if (r != 0)
            return r;
    }
    return 0;
}
