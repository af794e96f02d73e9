/* The server-sent events parser of cassinyctl: frames, fields, line ends,
 * and the same events however the stream is cut into pieces. */
#include "config.h"

#include "check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

/* Every event as "id|event|data\n", for comparing whole streams. */
struct record {
    char *text;
    size_t len;
    FILE *f;
    int stop_after; /* stop (return 7) after this many events; 0: never */
    int count;
};

static int on_event(const struct ctl_sse_event *ev, void *userdata)
{
    struct record *r = userdata;
    fprintf(r->f, "%s|%s|", ev->id, ev->event);
    fwrite(ev->data, 1, ev->data_len, r->f);
    fputc('\n', r->f);
    ck_assert_uint_eq(strlen(ev->data), ev->data_len);
    r->count++;
    return r->stop_after && r->count >= r->stop_after ? 7 : 0;
}

static void record_open(struct record *r)
{
    memset(r, 0, sizeof(*r));
    r->f = open_memstream(&r->text, &r->len);
    ck_assert_ptr_nonnull(r->f);
}

static char *record_close(struct record *r)
{
    fclose(r->f);
    return r->text;
}

/* Parses s fed in pieces of at most step bytes (0: whole). Caller frees. */
static char *parse_in_steps(const char *s, size_t step)
{
    struct record r;
    record_open(&r);
    struct ctl_sse p;
    ctl_sse_init(&p, on_event, &r);
    size_t n = strlen(s);
    if (step == 0)
        step = n ? n : 1;
    for (size_t i = 0; i < n; i += step)
        ck_assert_int_eq(ctl_sse_feed(&p, s + i, n - i < step ? n - i : step), 0);
    ctl_sse_clear(&p);
    return record_close(&r);
}

/* Parses s cut once at every position. */
static void assert_every_cut(const char *s, const char *want)
{
    size_t n = strlen(s);
    for (size_t cut = 0; cut <= n; cut++) {
        struct record r;
        record_open(&r);
        struct ctl_sse p;
        ctl_sse_init(&p, on_event, &r);
        ck_assert_int_eq(ctl_sse_feed(&p, s, cut), 0);
        ck_assert_int_eq(ctl_sse_feed(&p, s + cut, n - cut), 0);
        ctl_sse_clear(&p);
        char *got = record_close(&r);
        ck_assert_msg(strcmp(got, want) == 0, "cut at %zu: got\n%s\nwant\n%s", cut, got, want);
        free(got);
    }
}

/* What cassinyd sends: ids, event types, one JSON data line, keep-alives. */
static const char daemon_stream[] =
    "id: 1\nevent: run\ndata: {\"id\":\"r-1\",\"status\":\"pending\"}\n\n"
    ": keep-alive\n\n"
    "id: 2\nevent: request\ndata: {\"action\":\"POST\",\"status\":202}\n\n"
    "id: 3\nevent: run\ndata: {\"id\":\"r-1\",\"status\":\"succeeded\"}\n\n";
static const char daemon_events[] = "1|run|{\"id\":\"r-1\",\"status\":\"pending\"}\n"
                                    "2|request|{\"action\":\"POST\",\"status\":202}\n"
                                    "3|run|{\"id\":\"r-1\",\"status\":\"succeeded\"}\n";

START_TEST(daemon_frames)
{
    char *got = parse_in_steps(daemon_stream, 0);
    ck_assert_str_eq(got, daemon_events);
    free(got);
}
END_TEST

START_TEST(split_anywhere)
{
    assert_every_cut(daemon_stream, daemon_events);
    for (size_t step = 1; step <= 7; step++) {
        char *got = parse_in_steps(daemon_stream, step);
        ck_assert_str_eq(got, daemon_events);
        free(got);
    }
}
END_TEST

START_TEST(line_ends)
{
    /* CR LF, CR alone and LF alone all end lines, also split between CR and LF. */
    const char *s = "id: 5\r\nevent: a\r\ndata: x\r\n\r\n"
                    "data: y\rdata: z\r\r"
                    "data: w\n\n";
    const char *want = "5|a|x\n5|message|y\nz\n5|message|w\n";
    assert_every_cut(s, want);
    char *got = parse_in_steps(s, 1);
    ck_assert_str_eq(got, want);
    free(got);
}
END_TEST

START_TEST(fields)
{
    /* No space after the colon; only one space is dropped; a bare field
     * name has an empty value; unknown fields and retry are ignored;
     * "data:" alone is an empty line of data. */
    const char *s = "data:a\ndata:  b\nretry: 10\nfoo: bar\ndata\n\n"
                    "event\ndata:\n\n";
    char *got = parse_in_steps(s, 0);
    ck_assert_str_eq(got, "|message|a\n b\n\n|message|\n");
    free(got);
}
END_TEST

START_TEST(empty_frames_and_comments)
{
    /* Frames without data dispatch nothing, but an id in them still counts. */
    const char *s = ":hello\n\nevent: x\n\nid: 9\n\n\n\ndata: after\n\n";
    char *got = parse_in_steps(s, 0);
    ck_assert_str_eq(got, "9|message|after\n");
    free(got);
}
END_TEST

START_TEST(unterminated)
{
    /* A frame is only dispatched by its empty line. */
    struct record r;
    record_open(&r);
    struct ctl_sse p;
    ctl_sse_init(&p, on_event, &r);
    ck_assert_int_eq(ctl_sse_feed(&p, "id: 4\ndata: half\n", 17), 0);
    ck_assert_int_eq(r.count, 0);
    ck_assert_str_eq(ctl_sse_last_id(&p), "4");
    /* After a reconnect the partial frame is gone; the id stays. */
    ctl_sse_restart(&p);
    ck_assert_int_eq(ctl_sse_feed(&p, "data: new\n\n", 11), 0);
    ck_assert_int_eq(r.count, 1);
    ctl_sse_clear(&p);
    char *got = record_close(&r);
    ck_assert_str_eq(got, "4|message|new\n");
    free(got);
}
END_TEST

START_TEST(stop_from_callback)
{
    struct record r;
    record_open(&r);
    r.stop_after = 2;
    struct ctl_sse p;
    ctl_sse_init(&p, on_event, &r);
    ck_assert_int_eq(ctl_sse_feed(&p, daemon_stream, strlen(daemon_stream)), 7);
    ck_assert_int_eq(r.count, 2);
    ck_assert_str_eq(ctl_sse_last_id(&p), "2");
    ctl_sse_clear(&p);
    free(record_close(&r));
}
END_TEST

START_TEST(too_long)
{
    struct record r;
    record_open(&r);
    struct ctl_sse p;
    ctl_sse_init(&p, on_event, &r);
    size_t n = 64 * 1024;
    char *chunk = malloc(n);
    ck_assert_ptr_nonnull(chunk);
    memset(chunk, 'x', n);
    memcpy(chunk, "data: ", 6);
    int rc = 0;
    for (size_t sent = 0; rc == 0 && sent <= CTL_SSE_MAX_BYTES + n; sent += n) {
        rc = ctl_sse_feed(&p, chunk, n);
        memset(chunk, 'x', 6);
    }
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(r.count, 0);
    free(chunk);
    ctl_sse_clear(&p);
    free(record_close(&r));
}
END_TEST

START_TEST(no_id)
{
    struct record r;
    record_open(&r);
    struct ctl_sse p;
    ctl_sse_init(&p, on_event, &r);
    ck_assert_ptr_null(ctl_sse_last_id(&p));
    ck_assert_int_eq(ctl_sse_feed(&p, "data: x\n\n", 9), 0);
    ctl_sse_clear(&p);
    char *got = record_close(&r);
    ck_assert_str_eq(got, "|message|x\n");
    free(got);
}
END_TEST

/* The hint a stream ends with (its lifetime is over): digits only. */
START_TEST(retry_hint)
{
    struct record r;
    record_open(&r);
    struct ctl_sse p;
    ctl_sse_init(&p, on_event, &r);
    ck_assert_int_eq(p.retry_ms, -1);
    static const char end[] = "id: 4\ndata: x\n\nretry: 1000\n: lifetime reached\n\n";
    ck_assert_int_eq(ctl_sse_feed(&p, end, strlen(end)), 0);
    ck_assert_int_eq(p.retry_ms, 1000);
    ck_assert_int_eq(ctl_sse_feed(&p, "retry: 5x\nretry:\n", 18), 0);
    ck_assert_int_eq(p.retry_ms, 1000);
    ctl_sse_restart(&p);
    ck_assert_int_eq(p.retry_ms, -1);
    ck_assert_str_eq(ctl_sse_last_id(&p), "4");
    ctl_sse_clear(&p);
    char *got = record_close(&r);
    ck_assert_str_eq(got, "4|message|x\n");
    free(got);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sse");
    TCase *tc = tcase_create("parser");
    tcase_add_test(tc, daemon_frames);
    tcase_add_test(tc, split_anywhere);
    tcase_add_test(tc, line_ends);
    tcase_add_test(tc, fields);
    tcase_add_test(tc, empty_frames_and_comments);
    tcase_add_test(tc, unterminated);
    tcase_add_test(tc, stop_from_callback);
    tcase_add_test(tc, too_long);
    tcase_add_test(tc, no_id);
    tcase_add_test(tc, retry_hint);
    suite_add_tcase(s, tc);
    return cass_check_run(s);
}
