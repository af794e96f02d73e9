/* Engine client pieces that need no engine: the log demultiplexer and the
 * JSON-lines splitter across every chunking, parsing of recorded engine
 * replies (tests/data/engine) good and malformed, error mapping, filters. */
#include "config.h"

#include "check_run.h"

#include <check.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend.h"
#include "cleanup.h"
#include "engine.h"
#include "protocol.h"

/* ---- helpers ----------------------------------------------------------------- */

static char *data_path(const char *name)
{
    const char *dir = getenv("CASS_TEST_DATA");
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/engine/%s", dir ? dir : "tests/data", name), 0);
    return p;
}

static char *slurp(const char *name, size_t *ret_len)
{
    _cleanup_free_ char *p = data_path(name);
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (set CASS_TEST_DATA)", p);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    buf[len] = '\0';
    *ret_len = len;
    return buf;
}

static json_t *load(const char *name)
{
    size_t len;
    _cleanup_free_ char *s = slurp(name, &len);
    json_error_t jerr;
    json_t *j = json_loadb(s, len, JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_msg(j != NULL, "%s: %s", name, jerr.text);
    return j;
}

/* ---- demultiplexer ------------------------------------------------------------ */

struct collected {
    char *out[3];
    size_t len[3];
    int calls;
    int stop_after; /* stop after this many calls; 0 never */
};

static int collect(int stream, const char *data, size_t len, void *ud)
{
    struct collected *c = ud;
    ck_assert(stream == 1 || stream == 2);
    c->out[stream] = realloc(c->out[stream], c->len[stream] + len + 1);
    ck_assert_ptr_nonnull(c->out[stream]);
    memcpy(c->out[stream] + c->len[stream], data, len);
    c->len[stream] += len;
    c->out[stream][c->len[stream]] = '\0';
    c->calls++;
    return c->stop_after && c->calls >= c->stop_after;
}

static void collected_clear(struct collected *c)
{
    for (int i = 0; i < 3; i++)
        free(c->out[i]);
    memset(c, 0, sizeof(*c));
}

static void frame(char **buf, size_t *len, int stream, const char *data, size_t n)
{
    *buf = realloc(*buf, *len + 8 + n);
    ck_assert_ptr_nonnull(*buf);
    unsigned char *h = (unsigned char *)*buf + *len;
    h[0] = (unsigned char)stream;
    h[1] = h[2] = h[3] = 0;
    h[4] = (unsigned char)(n >> 24);
    h[5] = (unsigned char)(n >> 16);
    h[6] = (unsigned char)(n >> 8);
    h[7] = (unsigned char)n;
    memcpy(*buf + *len + 8, data, n);
    *len += 8 + n;
}

/* A stream with both outputs, an empty frame, a stdin-typed frame (written
 * on stdout by the engine) and a frame larger than any curl chunk. */
struct sample {
    char *stream;
    size_t len;
    char *want_out, *want_err;
    size_t want_out_len, want_err_len;
};

static void sample_build(struct sample *s)
{
    memset(s, 0, sizeof(*s));
    static char big[70000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    frame(&s->stream, &s->len, 1, "hello\n", 6);
    frame(&s->stream, &s->len, 2, "oops\n", 5);
    frame(&s->stream, &s->len, 1, "", 0);
    frame(&s->stream, &s->len, 1, "a\0b", 3);
    frame(&s->stream, &s->len, 0, "in", 2);
    frame(&s->stream, &s->len, 2, big, sizeof(big));
    frame(&s->stream, &s->len, 1, "bye", 3);
    s->want_out_len = 6 + 3 + 2 + 3;
    s->want_out = malloc(s->want_out_len);
    memcpy(s->want_out, "hello\na\0binbye", s->want_out_len);
    s->want_err_len = 5 + sizeof(big);
    s->want_err = malloc(s->want_err_len);
    memcpy(s->want_err, "oops\n", 5);
    memcpy(s->want_err + 5, big, sizeof(big));
}

static void sample_clear(struct sample *s)
{
    free(s->stream);
    free(s->want_out);
    free(s->want_err);
}

/* Feeds s->stream cut at the given points and checks what came out. */
static void feed_split(const struct sample *s, const size_t *cuts, size_t n_cuts)
{
    struct collected c = {0};
    struct cass_engine_demux d;
    cass_engine_demux_init(&d, false, collect, &c);
    _cleanup_error_ struct cass_error *err = NULL;
    size_t pos = 0;
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t end = i < n_cuts ? cuts[i] : s->len;
        ck_assert_int_eq(cass_engine_demux_feed(&d, s->stream + pos, end - pos, &err), 0);
        pos = end;
    }
    ck_assert_int_eq(cass_engine_demux_finish(&d, &err), 0);
    ck_assert_ptr_null(err);
    ck_assert_uint_eq(c.len[1], s->want_out_len);
    ck_assert_uint_eq(c.len[2], s->want_err_len);
    ck_assert(memcmp(c.out[1], s->want_out, s->want_out_len) == 0);
    ck_assert(memcmp(c.out[2], s->want_err, s->want_err_len) == 0);
    collected_clear(&c);
}

START_TEST(demux_whole)
{
    struct sample s;
    sample_build(&s);
    feed_split(&s, NULL, 0);
    sample_clear(&s);
}
END_TEST

START_TEST(demux_one_byte_at_a_time)
{
    struct sample s;
    sample_build(&s);
    size_t *cuts = malloc(s.len * sizeof(size_t));
    for (size_t i = 0; i + 1 < s.len; i++)
        cuts[i] = i + 1;
    feed_split(&s, cuts, s.len - 1);
    free(cuts);
    sample_clear(&s);
}
END_TEST

START_TEST(demux_every_single_split)
{
    struct sample s;
    sample_build(&s);
    /* Every cut inside the first frames and headers, and around the big one. */
    for (size_t i = 0; i <= s.len; i++) {
        if (i > 80 && i < s.len - 80 && i % 997 != 0)
            continue;
        size_t cut = i;
        feed_split(&s, &cut, 1);
    }
    sample_clear(&s);
}
END_TEST

START_TEST(demux_every_pair_of_splits_in_headers)
{
    struct sample s;
    sample_build(&s);
    /* The first 60 bytes hold five headers: cut twice at every pair of points. */
    for (size_t i = 0; i <= 60; i++)
        for (size_t j = i; j <= 60; j++) {
            size_t cuts[2] = {i, j};
            feed_split(&s, cuts, 2);
        }
    sample_clear(&s);
}
END_TEST

START_TEST(demux_random_splits)
{
    struct sample s;
    sample_build(&s);
    unsigned seed = 12345;
    size_t cuts[64];
    for (int round = 0; round < 300; round++) {
        size_t n = (size_t)(rand_r(&seed) % 64);
        for (size_t i = 0; i < n; i++)
            cuts[i] = (size_t)rand_r(&seed) % (s.len + 1);
        /* sort */
        for (size_t i = 1; i < n; i++)
            for (size_t k = i; k > 0 && cuts[k - 1] > cuts[k]; k--) {
                size_t t = cuts[k];
                cuts[k] = cuts[k - 1];
                cuts[k - 1] = t;
            }
        feed_split(&s, cuts, n);
    }
    sample_clear(&s);
}
END_TEST

START_TEST(demux_recorded_stream)
{
    size_t len;
    _cleanup_free_ char *raw = slurp("logs-multiplexed.bin", &len);
    for (size_t step = 1; step <= len; step++) {
        struct collected c = {0};
        struct cass_engine_demux d;
        cass_engine_demux_init(&d, false, collect, &c);
        for (size_t pos = 0; pos < len; pos += step) {
            size_t n = pos + step > len ? len - pos : step;
            ck_assert_int_eq(cass_engine_demux_feed(&d, raw + pos, n, NULL), 0);
        }
        ck_assert_int_eq(cass_engine_demux_finish(&d, NULL), 0);
        ck_assert_str_eq(c.out[1], "out1\nout2\nno newline");
        ck_assert_str_eq(c.out[2], "err1\nerr2\n");
        collected_clear(&c);
    }
}
END_TEST

START_TEST(demux_raw_tty)
{
    struct collected c = {0};
    struct cass_engine_demux d;
    cass_engine_demux_init(&d, true, collect, &c);
    /* Bytes that would be an invalid header pass through untouched. */
    ck_assert_int_eq(cass_engine_demux_feed(&d, "\x07\x01tty-out\r\n", 11, NULL), 0);
    ck_assert_int_eq(cass_engine_demux_feed(&d, "", 0, NULL), 0);
    ck_assert_int_eq(cass_engine_demux_finish(&d, NULL), 0);
    ck_assert_uint_eq(c.len[1], 11);
    ck_assert(memcmp(c.out[1], "\x07\x01tty-out\r\n", 11) == 0);
    ck_assert_ptr_null(c.out[2]);
    collected_clear(&c);
}
END_TEST

static void expect_demux_error(const char *bytes, size_t len)
{
    struct collected c = {0};
    struct cass_engine_demux d;
    cass_engine_demux_init(&d, false, collect, &c);
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_engine_demux_feed(&d, bytes, len, &err), -1);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(err->kind, CASS_ERR_ENGINE);
    /* Once failed, it stays failed. */
    _cleanup_error_ struct cass_error *err2 = NULL;
    ck_assert_int_eq(cass_engine_demux_feed(&d, "\x01\0\0\0\0\0\0\x01x", 9, &err2), -1);
    ck_assert_ptr_nonnull(err2);
    ck_assert_int_eq(c.calls, 0);
    collected_clear(&c);
}

START_TEST(demux_invalid_frames)
{
    expect_demux_error("\x04\0\0\0\0\0\0\x01x", 9);          /* stream byte 4 */
    expect_demux_error("\xff\0\0\0\0\0\0\x01x", 9);          /* stream byte 255 */
    expect_demux_error("\x01\x01\0\0\0\0\0\x01x", 9);        /* non-zero padding */
    expect_demux_error("\x01\0\0\0\x01\0\0\x01", 8);         /* 16 MiB + 1 */
    expect_demux_error("\x02\0\0\0\xff\xff\xff\xff", 8);     /* 4 GiB */
    expect_demux_error("\x03\0\0\0\0\0\0\x05oops!", 13);     /* engine error frame */
    expect_demux_error("{\"message\":\"not a frame\"}", 25); /* a JSON error body */

    /* Exactly the limit is fine (header only here). */
    struct collected c = {0};
    struct cass_engine_demux d;
    cass_engine_demux_init(&d, false, collect, &c);
    ck_assert_int_eq(cass_engine_demux_feed(&d, "\x01\0\0\0\x01\0\0\0", 8, NULL), 0);
    collected_clear(&c);
}
END_TEST

START_TEST(demux_truncated)
{
    struct collected c = {0};
    struct cass_engine_demux d;
    _cleanup_error_ struct cass_error *err = NULL;
    /* Inside a header. */
    cass_engine_demux_init(&d, false, collect, &c);
    ck_assert_int_eq(cass_engine_demux_feed(&d, "\x01\0\0", 3, NULL), 0);
    ck_assert_int_eq(cass_engine_demux_finish(&d, &err), -1);
    ck_assert_ptr_nonnull(err);
    cass_error_free(TAKE_PTR(err));
    /* Inside a payload: what arrived was delivered. */
    cass_engine_demux_init(&d, false, collect, &c);
    ck_assert_int_eq(cass_engine_demux_feed(&d,
                                            "\x02\0\0\0\0\0\0\x05"
                                            "ab",
                                            10, NULL),
                     0);
    ck_assert_int_eq(cass_engine_demux_finish(&d, &err), -1);
    ck_assert_str_eq(c.out[2], "ab");
    collected_clear(&c);
}
END_TEST

START_TEST(demux_callback_stops)
{
    struct collected c = {.stop_after = 2};
    struct cass_engine_demux d;
    cass_engine_demux_init(&d, false, collect, &c);
    char *buf = NULL;
    size_t len = 0;
    frame(&buf, &len, 1, "one", 3);
    frame(&buf, &len, 2, "two", 3);
    frame(&buf, &len, 1, "three", 5);
    ck_assert_int_eq(cass_engine_demux_feed(&d, buf, len, NULL), 1);
    ck_assert_int_eq(c.calls, 2);
    ck_assert_str_eq(c.out[1], "one");
    ck_assert_str_eq(c.out[2], "two");
    free(buf);
    collected_clear(&c);
}
END_TEST

/* ---- JSON lines ----------------------------------------------------------------- */

struct lines {
    char actions[64][16];
    int n;
    int stop_after;
};

static int on_event(json_t *obj, void *ud)
{
    struct lines *l = ud;
    ck_assert(json_is_object(obj));
    const char *a = json_string_value(json_object_get(obj, "Action"));
    ck_assert_int_lt(l->n, 64);
    snprintf(l->actions[l->n++], sizeof(l->actions[0]), "%s", a ? a : "?");
    return l->stop_after && l->n >= l->stop_after;
}

START_TEST(jsonl_recorded_events_every_split)
{
    size_t len;
    _cleanup_free_ char *raw = slurp("events.jsonl", &len);
    struct lines whole = {0};
    struct cass_engine_jsonl j;
    cass_engine_jsonl_init(&j, on_event, &whole);
    ck_assert_int_eq(cass_engine_jsonl_feed(&j, raw, len, NULL), 0);
    ck_assert_int_eq(cass_engine_jsonl_finish(&j, NULL), 0);
    cass_engine_jsonl_clear(&j);
    ck_assert_int_eq(whole.n, 17);
    ck_assert_str_eq(whole.actions[0], "create");
    ck_assert_str_eq(whole.actions[1], "start");

    /* Fixed chunk sizes, including one byte at a time. */
    for (size_t step = 1; step < 700; step += (step < 20 ? 1 : 37)) {
        struct lines l = {0};
        cass_engine_jsonl_init(&j, on_event, &l);
        for (size_t pos = 0; pos < len; pos += step)
            ck_assert_int_eq(
                cass_engine_jsonl_feed(&j, raw + pos, pos + step > len ? len - pos : step, NULL),
                0);
        ck_assert_int_eq(cass_engine_jsonl_finish(&j, NULL), 0);
        cass_engine_jsonl_clear(&j);
        ck_assert_int_eq(l.n, whole.n);
        for (int i = 0; i < l.n; i++)
            ck_assert_str_eq(l.actions[i], whole.actions[i]);
    }
    /* Random cuts. */
    unsigned seed = 7;
    for (int round = 0; round < 200; round++) {
        struct lines l = {0};
        cass_engine_jsonl_init(&j, on_event, &l);
        size_t pos = 0;
        while (pos < len) {
            size_t n = 1 + (size_t)rand_r(&seed) % 900;
            if (n > len - pos)
                n = len - pos;
            ck_assert_int_eq(cass_engine_jsonl_feed(&j, raw + pos, n, NULL), 0);
            pos += n;
        }
        ck_assert_int_eq(cass_engine_jsonl_finish(&j, NULL), 0);
        cass_engine_jsonl_clear(&j);
        ck_assert_int_eq(l.n, whole.n);
    }
}
END_TEST

START_TEST(jsonl_blank_crlf_and_last_line)
{
    struct lines l = {0};
    struct cass_engine_jsonl j;
    cass_engine_jsonl_init(&j, on_event, &l);
    const char *s = "\n  \r\n{\"Action\":\"a\"}\r\n\n{\"Action\":\"b\"}\n{\"Action\":\"c\"}";
    ck_assert_int_eq(cass_engine_jsonl_feed(&j, s, strlen(s), NULL), 0);
    ck_assert_int_eq(l.n, 2);
    ck_assert_int_eq(cass_engine_jsonl_finish(&j, NULL), 0);
    ck_assert_int_eq(l.n, 3);
    ck_assert_str_eq(l.actions[2], "c");
    cass_engine_jsonl_clear(&j);
}
END_TEST

static void expect_jsonl_error(const char *s, enum cass_error_kind kind, int good_before)
{
    struct lines l = {0};
    struct cass_engine_jsonl j;
    cass_engine_jsonl_init(&j, on_event, &l);
    _cleanup_error_ struct cass_error *err = NULL;
    int r = cass_engine_jsonl_feed(&j, s, strlen(s), &err);
    if (r == 0)
        r = cass_engine_jsonl_finish(&j, &err);
    ck_assert_int_eq(r, -1);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(err->kind, kind);
    ck_assert_int_eq(l.n, good_before);
    /* Stays failed. */
    ck_assert_int_eq(cass_engine_jsonl_feed(&j, "{}\n", 3, NULL), -1);
    cass_engine_jsonl_clear(&j);
}

START_TEST(jsonl_malformed)
{
    expect_jsonl_error("{\"Action\":\"a\"}\n{\"Action\":\n", CASS_ERR_ENGINE, 1);
    expect_jsonl_error("[1,2]\n", CASS_ERR_ENGINE, 0);
    expect_jsonl_error("\"str\"\n", CASS_ERR_ENGINE, 0);
    expect_jsonl_error("{\"Action\":\"a\",\"Action\":\"b\"}\n", CASS_ERR_ENGINE, 0);
    expect_jsonl_error("{\"Action\":\"a\"} {\"Action\":\"b\"}\n", CASS_ERR_ENGINE, 0);
    expect_jsonl_error("{\"Action\":\"a\"}\n{\"Act", CASS_ERR_ENGINE, 1); /* cut at the end */
    expect_jsonl_error("{\"a\":\"\\u0000\"}\n", CASS_ERR_ENGINE, 0);

    size_t len;
    _cleanup_free_ char *raw = slurp("bad-events.jsonl", &len);
    struct lines l = {0};
    struct cass_engine_jsonl j;
    cass_engine_jsonl_init(&j, on_event, &l);
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_engine_jsonl_feed(&j, raw, len, &err), -1);
    ck_assert_int_eq(l.n, 1);
    cass_engine_jsonl_clear(&j);
}
END_TEST

START_TEST(jsonl_line_too_long)
{
    struct lines l = {0};
    struct cass_engine_jsonl j;
    cass_engine_jsonl_init(&j, on_event, &l);
    char chunk[4096];
    memset(chunk, ' ', sizeof(chunk));
    _cleanup_error_ struct cass_error *err = NULL;
    int r = 0;
    for (size_t total = 0; r == 0 && total <= CASS_ENGINE_MAX_LINE + sizeof(chunk);
         total += sizeof(chunk))
        r = cass_engine_jsonl_feed(&j, chunk, sizeof(chunk), &err);
    ck_assert_int_eq(r, -1);
    ck_assert_int_eq(err->kind, CASS_ERR_TOO_LARGE);
    cass_engine_jsonl_clear(&j);

    /* The same in one chunk with its newline. */
    size_t n = CASS_ENGINE_MAX_LINE + 2;
    char *big = malloc(n);
    memset(big, ' ', n);
    big[n - 1] = '\n';
    cass_engine_jsonl_init(&j, on_event, &l);
    _cleanup_error_ struct cass_error *err2 = NULL;
    ck_assert_int_eq(cass_engine_jsonl_feed(&j, big, n, &err2), -1);
    ck_assert_int_eq(err2->kind, CASS_ERR_TOO_LARGE);
    cass_engine_jsonl_clear(&j);
    free(big);
}
END_TEST

START_TEST(jsonl_callback_stops)
{
    struct lines l = {.stop_after = 1};
    struct cass_engine_jsonl j;
    cass_engine_jsonl_init(&j, on_event, &l);
    const char *s = "{\"Action\":\"a\"}\n{\"Action\":\"b\"}\n";
    ck_assert_int_eq(cass_engine_jsonl_feed(&j, s, strlen(s), NULL), 1);
    ck_assert_int_eq(l.n, 1);
    cass_engine_jsonl_clear(&j);
}
END_TEST

/* ---- recorded replies ------------------------------------------------------------ */

static int parse_image_file(const char *name, struct cass_engine_image *img,
                            struct cass_error **err)
{
    size_t len;
    _cleanup_free_ char *s = slurp(name, &len);
    return cass_engine_image_parse(s, len, img, err);
}

START_TEST(image_inspect_replies)
{
    static const char *const empty[] = {"image-inspect.json", "image-inspect-digests-null.json",
                                        "image-inspect-digests-missing.json"};
    for (size_t i = 0; i < 3; i++) {
        struct cass_engine_image img = {0};
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_msg(parse_image_file(empty[i], &img, &err) == 0, "%s: %s", empty[i],
                      err ? err->message : "");
        ck_assert_str_eq(img.id,
                         "sha256:317d5dcd70e1e549c14e24f2f16f4982e4aaa6a019701f6356f01963151cb1cc");
        ck_assert_uint_eq(img.n_repo_digests, 0);
        ck_assert_ptr_nonnull(img.repo_digests);
        ck_assert_str_eq(img.user, "1000:1000");
        ck_assert_ptr_nonnull(img.working_dir);
        cass_engine_image_clear(&img);
    }
    struct cass_engine_image img = {0};
    ck_assert_int_eq(parse_image_file("image-inspect-digests-one.json", &img, NULL), 0);
    ck_assert_uint_eq(img.n_repo_digests, 1);
    ck_assert(strncmp(img.repo_digests[0], "registry.example/cassiny/test-busybox@sha256:", 45) ==
              0);
    cass_engine_image_clear(&img);
}
END_TEST

START_TEST(image_inspect_malformed)
{
    static const char *const bad[] = {
        "bad-image-digests-string.json",
        "bad-image-digests-number.json",
        "bad-image-id-number.json",
        "bad-image-id-missing.json",
        "bad-image-truncated.json",
        "bad-image-duplicate-id.json",
        "bad-image-array.json",
        "error-not-json.txt",
        "bad-image-config-user-number.json",
        "bad-image-config-string.json",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cass_engine_image img = {.id = (char *)"untouched"};
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_msg(parse_image_file(bad[i], &img, &err) == -1, "%s parsed", bad[i]);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(err->kind, CASS_ERR_ENGINE);
        ck_assert_str_eq(img.id, "untouched");
    }
    /* Empty body. */
    struct cass_engine_image img = {0};
    ck_assert_int_eq(cass_engine_image_parse("", 0, &img, NULL), -1);
}
END_TEST

START_TEST(distribution_replies)
{
    size_t len;
    _cleanup_free_ char *s = slurp("distribution.json", &len);
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_free_ char *d = cass_engine_distribution_parse(s, len, &err);
    ck_assert_msg(d != NULL, "%s", err ? err->message : "");
    ck_assert_str_eq(d, "sha256:9a4c84d800617af079eba01e953f898d62fb77e24e6b91735e87ede7f6023829");
    static const char *const bad[] = {
        "bad-distribution-digest.json", "bad-distribution-no-descriptor.json",
        "bad-distribution-duplicate.json", "error-not-json.txt", "bad-image-array.json"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        _cleanup_free_ char *b = slurp(bad[i], &len);
        _cleanup_error_ struct cass_error *berr = NULL;
        ck_assert_msg(cass_engine_distribution_parse(b, len, &berr) == NULL, "%s parsed", bad[i]);
        ck_assert_int_eq(berr->kind, CASS_ERR_ENGINE);
    }
    ck_assert(cass_engine_digest_valid(
        "sha256:9a4c84d800617af079eba01e953f898d62fb77e24e6b91735e87ede7f6023829"));
    ck_assert(!cass_engine_digest_valid(
        "sha256:9A4C84D800617AF079EBA01E953F898D62FB77E24E6B91735E87EDE7F6023829"));
    ck_assert(!cass_engine_digest_valid("sha256:9a4c"));
    ck_assert(!cass_engine_digest_valid(NULL));
}
END_TEST

START_TEST(container_state_replies)
{
    struct {
        const char *file, *status;
        bool running, oom;
        int exit_code;
    } cases[] = {
        {"container-running.json", "running", true, false, 0},
        {"container-exited.json", "exited", false, false, 3},
        {"container-oom.json", "exited", false, true, 137},
        {"container-port.json", "running", true, false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        _cleanup_json_ json_t *j = load(cases[i].file);
        struct cass_container_state st;
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_msg(cass_engine_container_state(j, &st, &err) == 0, "%s: %s", cases[i].file,
                      err ? err->message : "");
        ck_assert_str_eq(st.status, cases[i].status);
        ck_assert_int_eq(st.running, cases[i].running);
        ck_assert_int_eq(st.oom_killed, cases[i].oom);
        ck_assert_int_eq(st.exit_code, cases[i].exit_code);
        ck_assert_int_eq(st.tty, false);
        ck_assert_ptr_nonnull(st.started_at);
        ck_assert_ptr_nonnull(st.finished_at);
        ck_assert_ptr_null(st.error);
        if (!cases[i].running)
            ck_assert_str_ne(st.finished_at, "0001-01-01T00:00:00Z");
        cass_container_state_clear(&st);
    }
}
END_TEST

START_TEST(container_host_port)
{
    _cleanup_json_ json_t *j = load("container-port.json");
    _cleanup_free_ char *ip = NULL;
    int port = 0;
    ck_assert_int_eq(cass_engine_container_host_port(j, 8080, NULL, &ip, &port, NULL), 0);
    ck_assert_str_eq(ip, "127.0.0.1");
    ck_assert_int_gt(port, 0);
    ck_assert_int_le(port, 65535);

    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_engine_container_host_port(j, 8080, "udp", NULL, &port, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);

    /* Not published on a container without ports (and an exited one). */
    _cleanup_json_ json_t *ex = load("container-exited.json");
    _cleanup_error_ struct cass_error *err2 = NULL;
    ck_assert_int_eq(cass_engine_container_host_port(ex, 8080, NULL, NULL, &port, &err2), -1);
    ck_assert_int_eq(err2->kind, CASS_ERR_NOT_FOUND);

    static const char *const bad[] = {"bad-container-hostport.json",
                                      "bad-container-ports-string.json"};
    for (size_t i = 0; i < 2; i++) {
        _cleanup_json_ json_t *b = load(bad[i]);
        _cleanup_error_ struct cass_error *e3 = NULL;
        ck_assert_int_eq(cass_engine_container_host_port(b, 8080, NULL, NULL, &port, &e3), -1);
        ck_assert_int_eq(e3->kind, CASS_ERR_ENGINE);
    }
}
END_TEST

START_TEST(container_ip)
{
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_free_ char *ip = NULL;
    _cleanup_json_ json_t *j = json_loads(
        "{\"NetworkSettings\": {\"Networks\": {\"cassiny\": {\"IPAddress\": \"172.20.0.5\"}}}}", 0,
        NULL);
    ck_assert_int_eq(cass_engine_container_ip(j, &ip, &err), 0);
    ck_assert_str_eq(ip, "172.20.0.5");
    /* Stopped: no address. */
    _cleanup_json_ json_t *none = json_loads(
        "{\"NetworkSettings\": {\"Networks\": {\"cassiny\": {\"IPAddress\": \"\"}}}}", 0, NULL);
    ck_assert_int_eq(cass_engine_container_ip(none, &ip, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);
    cass_error_free(TAKE_PTR(err));
    /* From the engine, so untrusted: not an address, a wrong type. */
    static const char *const bad[] = {
        "{\"NetworkSettings\": {\"Networks\": {\"n\": {\"IPAddress\": \"1.2.3.4; rm\"}}}}",
        "{\"NetworkSettings\": {\"Networks\": []}}",
        "{\"NetworkSettings\": 3}",
    };
    for (size_t i = 0; i < 3; i++) {
        _cleanup_json_ json_t *b = json_loads(bad[i], 0, NULL);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(cass_engine_container_ip(b, &ip, &err), -1);
        ck_assert_int_eq(err->kind, CASS_ERR_ENGINE);
        cass_error_free(TAKE_PTR(err));
    }
}
END_TEST

START_TEST(image_cmd)
{
    struct cass_engine_image img = {0};
    static const char ok[] = "{\"Id\": \"sha256:ab\", \"Config\": {\"Cmd\": [\"python3\", \"-m\", "
                             "\"notebook\"]}}";
    ck_assert_int_eq(cass_engine_image_parse(ok, strlen(ok), &img, NULL), 0);
    ck_assert_int_eq(json_array_size(img.cmd), 3);
    cass_engine_image_clear(&img);
    static const char none[] = "{\"Id\": \"sha256:ab\", \"Config\": {\"Cmd\": null}}";
    ck_assert_int_eq(cass_engine_image_parse(none, strlen(none), &img, NULL), 0);
    ck_assert_ptr_null(img.cmd);
    cass_engine_image_clear(&img);
    static const char *const bad[] = {"{\"Id\": \"sha256:ab\", \"Config\": {\"Cmd\": [1]}}",
                                      "{\"Id\": \"sha256:ab\", \"Config\": {\"Cmd\": \"sh\"}}"};
    for (size_t i = 0; i < 2; i++) {
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_int_eq(cass_engine_image_parse(bad[i], strlen(bad[i]), &img, &err), -1);
        ck_assert_int_eq(err->kind, CASS_ERR_ENGINE);
    }
}
END_TEST

START_TEST(container_state_malformed)
{
    static const char *const bad[] = {
        "bad-container-running-string.json", "bad-container-exitcode-float.json",
        "bad-container-state-array.json",    "bad-container-state-missing.json",
        "bad-container-exitcode-huge.json",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        _cleanup_json_ json_t *j = load(bad[i]);
        struct cass_container_state st = {.exit_code = -42};
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_msg(cass_engine_container_state(j, &st, &err) == -1, "%s parsed", bad[i]);
        ck_assert_int_eq(err->kind, CASS_ERR_ENGINE);
        ck_assert_int_eq(st.exit_code, -42);
    }
    /* Duplicate keys never reach the helper: the reply parser refuses them. */
    size_t len;
    _cleanup_free_ char *s = slurp("bad-container-duplicate-state.json", &len);
    ck_assert_ptr_null(json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL));
    /* Not an object at all. */
    _cleanup_json_ json_t *arr = json_array();
    struct cass_container_state st;
    ck_assert_int_eq(cass_engine_container_state(arr, &st, NULL), -1);
}
END_TEST

START_TEST(info_swarm)
{
    struct {
        const char *file;
        bool active, manager;
    } cases[] = {
        {"info.json", false, false},
        {"info-swarm-manager.json", true, true},
        {"info-swarm-worker.json", true, false},
    };
    for (size_t i = 0; i < 3; i++) {
        _cleanup_json_ json_t *j = load(cases[i].file);
        bool active = !cases[i].active, manager = !cases[i].manager;
        ck_assert_int_eq(cass_engine_info_swarm(j, &active, &manager, NULL), 0);
        ck_assert_int_eq(active, cases[i].active);
        ck_assert_int_eq(manager, cases[i].manager);
    }
    _cleanup_json_ json_t *none = json_object();
    bool active = true, manager = true;
    ck_assert_int_eq(cass_engine_info_swarm(none, &active, &manager, NULL), 0);
    ck_assert(!active && !manager);

    static const char *const bad[] = {"bad-info-swarm-control-string.json",
                                      "bad-info-swarm-string.json"};
    for (size_t i = 0; i < 2; i++) {
        _cleanup_json_ json_t *j = load(bad[i]);
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_int_eq(cass_engine_info_swarm(j, &active, &manager, &err), -1);
        ck_assert_int_eq(err->kind, CASS_ERR_ENGINE);
    }
}
END_TEST

static int choose_from_file(const char *name, struct cass_error **err)
{
    _cleanup_json_ json_t *j = load(name);
    return cass_engine_version_choose(j, NULL, err);
}

START_TEST(version_negotiation)
{
    ck_assert_int_eq(choose_from_file("version.json", NULL), 41);
    ck_assert_int_eq(choose_from_file("version-newer.json", NULL), 43);
    static const char *const refused[] = {"version-too-old.json", "version-min-too-new.json",
                                          "bad-version-number.json"};
    for (size_t i = 0; i < 3; i++) {
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_int_eq(choose_from_file(refused[i], &err), -1);
        ck_assert_ptr_nonnull(err);
    }
    /* Without ApiVersion, the /_ping header says it. */
    _cleanup_json_ json_t *empty = json_object();
    ck_assert_int_eq(cass_engine_version_choose(empty, "1.42", NULL), 42);
    ck_assert_int_eq(cass_engine_version_choose(empty, NULL, NULL), -1);
    ck_assert_int_eq(cass_engine_choose_api_version("1.42", NULL, NULL), 42);
    ck_assert_int_eq(cass_engine_choose_api_version("1.43", "1.43", NULL), 43);
    ck_assert_int_eq(cass_engine_choose_api_version("1.41", "x", NULL), -1);
    ck_assert_int_eq(cass_engine_choose_api_version(NULL, NULL, NULL), -1);

    ck_assert_int_eq(cass_engine_parse_api_version("1.41"), 41);
    ck_assert_int_eq(cass_engine_parse_api_version("1.9"), 9);
    ck_assert_int_eq(cass_engine_parse_api_version("2.1"), -1);
    ck_assert_int_eq(cass_engine_parse_api_version("1."), -1);
    ck_assert_int_eq(cass_engine_parse_api_version("1.41a"), -1);
    ck_assert_int_eq(cass_engine_parse_api_version("1.-4"), -1);
    ck_assert_int_eq(cass_engine_parse_api_version("1.99999999999"), -1);
    ck_assert_int_eq(cass_engine_parse_api_version(""), -1);
}
END_TEST

START_TEST(wait_replies)
{
    struct {
        const char *body;
        int rc, code;
    } cases[] = {
        {"{\"Error\":null,\"StatusCode\":3}", 0, 3},
        {"{\"StatusCode\":0,\"Error\":{\"Message\":\"\"}}", 0, 0},
        {"{\"Error\":{\"Message\":\"failed to create endpoint\"},\"StatusCode\":128}", -1, -7},
        {"{\"StatusCode\":1.5}", -1, -7},
        {"{\"StatusCode\":9999999999}", -1, -7},
        {"{\"StatusCode\":0,\"Error\":{\"Message\":7}}", -1, -7},
        {"{\"StatusCode\":1,\"StatusCode\":2}", -1, -7},
        {"[]", -1, -7},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        _cleanup_error_ struct cass_error *err = NULL;
        int code = -7;
        ck_assert_int_eq(cass_engine_wait_parse(cases[i].body, strlen(cases[i].body), &code, &err),
                         cases[i].rc);
        ck_assert_int_eq(code, cases[i].code);
        ck_assert(cases[i].rc == 0 ? err == NULL : err != NULL);
    }
}
END_TEST

/* The tasks of one service among a recorded /tasks reply (caller owns). */
static json_t *service_tasks(const json_t *all, const char *id)
{
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(all, i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "ServiceID")), id) == 0)
            json_array_append(out, t);
    }
    return out;
}

START_TEST(backend_swarm_tasks)
{
    _cleanup_json_ json_t *all = load("swarm-tasks.json");
    struct cass_workload_state st;

    /* a replaced task (shutdown) and its successor: the one wanted counts */
    _cleanup_json_ json_t *svc1 = service_tasks(all, "svc1");
    const json_t *cur = cass_backend_swarm_current_task(svc1);
    ck_assert_str_eq(json_string_value(json_object_get(cur, "ID")), "t2run");
    ck_assert_int_eq(cass_backend_swarm_state_parse(cur, &st, NULL), 0);
    ck_assert(st.exists && st.running && st.started);
    ck_assert_str_eq(st.status, "running");
    ck_assert_str_eq(st.started_at, "2026-12-02T06:41:02.999Z");
    int port = 0;
    ck_assert_int_eq(cass_backend_swarm_task_port(cur, 8080, &port, NULL), 0);
    ck_assert_int_eq(port, 30001);
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_backend_swarm_task_port(cur, 8888, &port, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);
    cass_error_free(TAKE_PTR(err));

    /* a job that failed: its exit code, when it ended */
    _cleanup_json_ json_t *svc2 = service_tasks(all, "svc2");
    ck_assert_int_eq(
        cass_backend_swarm_state_parse(cass_backend_swarm_current_task(svc2), &st, NULL), 0);
    ck_assert(st.exists && !st.running && st.started);
    ck_assert_int_eq(st.exit_code, 3);
    ck_assert_str_eq(st.status, "exited");
    ck_assert_str_eq(st.finished_at, "2026-12-02T06:42:09Z");

    /* refused by its node: never started, and why */
    _cleanup_json_ json_t *svc3 = service_tasks(all, "svc3");
    ck_assert_int_eq(
        cass_backend_swarm_state_parse(cass_backend_swarm_current_task(svc3), &st, NULL), 0);
    ck_assert(st.exists && !st.running && !st.started);
    ck_assert_str_eq(st.status, "exited");
    ck_assert_ptr_nonnull(strstr(st.error, "bind source path does not exist"));

    /* waiting for a node, and no task at all yet: made, not started, not ended */
    _cleanup_json_ json_t *svc4 = service_tasks(all, "svc4");
    ck_assert_int_eq(
        cass_backend_swarm_state_parse(cass_backend_swarm_current_task(svc4), &st, NULL), 0);
    ck_assert(st.exists && !st.running && !st.started);
    ck_assert_str_eq(st.status, "created");
    ck_assert_ptr_null(cass_backend_swarm_current_task(NULL));
    ck_assert_int_eq(cass_backend_swarm_state_parse(NULL, &st, NULL), 0);
    ck_assert_str_eq(st.status, "created");

    /* malformed: no state, an exit code that is no integer */
    _cleanup_json_ json_t *bad = json_pack("{s:{s:s}}", "Status", "Message", "x");
    ck_assert_int_eq(cass_backend_swarm_state_parse(bad, &st, &err), -1);
    cass_error_free(TAKE_PTR(err));
    _cleanup_json_ json_t *bad2 = json_pack("{s:{s:s,s:{s:s}}}", "Status", "State", "failed",
                                            "ContainerStatus", "ExitCode", "1");
    ck_assert_int_eq(cass_backend_swarm_state_parse(bad2, &st, &err), -1);
}
END_TEST

START_TEST(backend_swarm_nodes_and_list)
{
    _cleanup_json_ json_t *nodes = load("swarm-nodes.json");
    char addr[64], host[64];
    /* a manager that says 0.0.0.0 is reached at its manager address */
    ck_assert_int_eq(cass_backend_swarm_node_parse(json_array_get(nodes, 0), addr, host, NULL), 0);
    ck_assert_str_eq(addr, "172.30.0.2");
    ck_assert_str_eq(host, "node1");
    ck_assert_int_eq(cass_backend_swarm_node_parse(json_array_get(nodes, 2), addr, host, NULL), 0);
    ck_assert_str_eq(addr, "172.30.0.4");
    _cleanup_json_ json_t *evil = json_pack("{s:{s:s}}", "Status", "Addr", "1.2.3.4/../../x");
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_backend_swarm_node_parse(evil, addr, host, &err), -1);
    _cleanup_json_ json_t *v6 = json_pack("{s:{s:s}}", "Status", "Addr", "fd00::3");
    ck_assert_int_eq(cass_backend_swarm_node_parse(v6, addr, host, NULL), 0);
    ck_assert_str_eq(addr, "[fd00::3]");

    ck_assert_str_eq(cass_backend_swarm_gpu_kind(nodes), "NVIDIA-GPU");
    json_array_remove(nodes, 1);
    ck_assert_ptr_null(cass_backend_swarm_gpu_kind(nodes));

    _cleanup_json_ json_t *svcs = load("swarm-services.json");
    _cleanup_json_ json_t *tasks = load("swarm-tasks.json");
    struct cass_workload_ref *refs = NULL;
    size_t n = 0;
    ck_assert_int_eq(cass_backend_swarm_list_parse(svcs, tasks, &refs, &n, NULL), 3);
    ck_assert_str_eq(refs[0].id, "svc1");
    ck_assert_str_eq(refs[0].run, "r-1");
    ck_assert_str_eq(refs[0].name, "iris");
    ck_assert(refs[0].running);
    ck_assert_str_eq(refs[1].status, "exited");
    ck_assert(!refs[1].running);
    ck_assert_str_eq(refs[2].status, "created");
    free(refs);
}
END_TEST

START_TEST(backend_swarm_service_body)
{
    const char *const env[] = {"A=1", NULL};
    const char *const cmd[] = {"sh", "-c", "exit 0", NULL};
    struct cass_container_label labels[] = {{CASS_LABEL_KIND, "Job"}, {CASS_LABEL_RUN, "r-1"}};
    struct cass_container_mount mounts[] = {
        {.type = CASS_MOUNT_BIND, .source = "/srv/in", .target = "/in", .read_only = true}};
    struct cass_container_tmpfs tmpfs[] = {{"/tmp", "rw,noexec,size=1048576"}};
    struct cass_container_spec s = {
        .name = "cassiny-a-very-long-spec-name-that-goes-on-and-on-and-on-01jd000000",
        .image = "sha256:nope",
        .cmd = cmd,
        .env = env,
        .labels = labels,
        .n_labels = 2,
        .mounts = mounts,
        .n_mounts = 1,
        .tmpfs = tmpfs,
        .n_tmpfs = 1,
        .nano_cpus = 1500000000,
        .memory = 1 << 20,
        .pids_limit = 100,
        .network_mode = "none",
        .init = true,
        .readonly_rootfs = true,
    };
    _cleanup_json_ json_t *job =
        cass_backend_swarm_service_body(&s, "reg:5000/a@sha256:ab", 0, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(job);
    const char *name = json_string_value(json_object_get(job, "Name"));
    ck_assert_uint_le(strlen(name), 63);
    ck_assert_ptr_nonnull(strstr(name, "01jd000000"));
    json_t *mode = json_object_get(job, "Mode");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(mode, "ReplicatedJob"),
                                                        "TotalCompletions")),
                     1);
    json_t *task = json_object_get(job, "TaskTemplate");
    json_t *cs = json_object_get(task, "ContainerSpec");
    ck_assert_str_eq(json_string_value(json_object_get(cs, "Image")), "reg:5000/a@sha256:ab");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(cs, "Args"), 2)), "exit 0");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(cs, "Labels"), CASS_LABEL_RUN)), "r-1");
    json_t *m1 = json_array_get(json_object_get(cs, "Mounts"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(m1, "Type")), "tmpfs");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(m1, "TmpfsOptions"), "SizeBytes")),
        1048576);
    json_t *res = json_object_get(task, "Resources");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(res, "Limits"), "NanoCPUs")),
        1500000000);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(res, "Reservations"), "MemoryBytes")),
        1 << 20);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(task, "RestartPolicy"), "Condition")),
        "none");
    /* no null network for services on these engines: none asked */
    ck_assert_ptr_null(json_object_get(task, "Networks"));

    /* a model replica: replicated, a host-mode port, pinned when asked */
    labels[0].value = "Model";
    struct cass_container_port ports[] = {{.container_port = 8080}};
    s.ports = ports;
    s.n_ports = 1;
    s.network_mode = NULL;
    _cleanup_json_ json_t *rep =
        cass_backend_swarm_service_body(&s, "x@sha256:ab", 0, "node1id", NULL, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(json_object_get(rep, "Mode"), "Replicated"), "Replicas")),
                     0);
    json_t *p0 = json_array_get(json_object_get(json_object_get(rep, "EndpointSpec"), "Ports"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(p0, "PublishMode")), "host");
    ck_assert_int_eq(json_integer_value(json_object_get(p0, "TargetPort")), 8080);
    ck_assert_ptr_null(json_object_get(p0, "PublishedPort"));
    ck_assert_str_eq(
        json_string_value(json_array_get(
            json_object_get(json_object_get(json_object_get(rep, "TaskTemplate"), "Placement"),
                            "Constraints"),
            0)),
        "node.id==node1id");

    /* GPUs: a reservation of the kind the nodes advertise, refused when none does */
    s.gpus = 1;
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_ptr_null(cass_backend_swarm_service_body(&s, "x", 0, NULL, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err->message, "no node of this Swarm advertises GPUs"));
    cass_error_free(TAKE_PTR(err));
    _cleanup_json_ json_t *gpu = cass_backend_swarm_service_body(&s, "x", 0, NULL, "gpu", NULL);
    json_t *gr = json_array_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(gpu, "TaskTemplate"), "Resources"),
                            "Reservations"),
            "GenericResources"),
        0);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(gr, "DiscreteResourceSpec"), "Value")),
        1);
    s.gpus = -1;
    ck_assert_ptr_null(cass_backend_swarm_service_body(&s, "x", 0, NULL, "gpu", &err));
    cass_error_free(TAKE_PTR(err));
    s.gpus = 0;
    ports[0].container_port = 0;
    ck_assert_ptr_null(cass_backend_swarm_service_body(&s, "x", 0, NULL, NULL, &err));
}
END_TEST

START_TEST(backend_docker_parsers)
{
    _cleanup_json_ json_t *ex = load("container-exited.json");
    struct cass_workload_state st;
    ck_assert_int_eq(cass_backend_docker_state_parse(ex, &st, NULL), 0);
    ck_assert(st.exists && !st.running && st.started);
    ck_assert_str_eq(st.status, "exited");
    _cleanup_json_ json_t *missing = load("bad-container-state-missing.json");
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_backend_docker_state_parse(missing, &st, &err), -1);
    ck_assert(err && !st.exists);

    static const char list[] =
        "[{\"Id\":\"abc\",\"State\":\"running\",\"Labels\":"
        "{\"" CASS_LABEL_RUN "\":\"r-1\"}},{\"Id\":7},{\"State\":\"x\"},{\"Id\":\"\"}]";
    _cleanup_json_ json_t *all = cass_engine_reply_parse(list, strlen(list), JSON_ARRAY, "t", NULL);
    struct cass_workload_ref *refs = NULL;
    size_t n = 0;
    ck_assert_int_eq(cass_backend_docker_list_parse(all, &refs, &n, NULL), 1);
    ck_assert(n == 1 && refs[0].running);
    ck_assert_str_eq(refs[0].run, "r-1");
    free(refs);

    _cleanup_json_ json_t *ev =
        json_pack("{s:s,s:{s:s,s:{s:s,s:s}}}", "Action", "die", "Actor", "ID", "abc", "Attributes",
                  CASS_LABEL_RUN, "r-1", "exitCode", "137");
    struct cass_backend_event be;
    ck_assert(cass_backend_docker_event_parse(ev, &be));
    ck_assert_str_eq(be.exit_code, "137");
    json_object_del(json_object_get(json_object_get(ev, "Actor"), "Attributes"), CASS_LABEL_RUN);
    ck_assert(!cass_backend_docker_event_parse(ev, &be));
}
END_TEST

/* ---- errors, URLs, bodies ---------------------------------------------------------- */

START_TEST(error_mapping)
{
    struct {
        const char *file;
        long status;
        enum cass_error_kind kind;
        const char *contains;
    } cases[] = {
        {"error-404.json", 404, CASS_ERR_NOT_FOUND, "No such image: nope:latest"},
        {"error-409.json", 409, CASS_ERR_CONFLICT, "is already in use"},
        {"error-409-kill.json", 409, CASS_ERR_CONFLICT, "is not running"},
        {"error-404.json", 500, CASS_ERR_ENGINE, "No such image"},
        {"error-not-json.txt", 502, CASS_ERR_ENGINE, "HTTP 502"},
        {"error-message-number.json", 400, CASS_ERR_ENGINE, "HTTP 400"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        _cleanup_free_ char *body = slurp(cases[i].file, &len);
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_int_eq(cass_engine_error_from_reply(cases[i].status, body, len, "do thing", &err),
                         -1);
        ck_assert_int_eq(err->kind, cases[i].kind);
        ck_assert_int_eq(err->status, cases[i].status);
        ck_assert_msg(strstr(err->message, cases[i].contains) != NULL, "%s", err->message);
        ck_assert(strncmp(err->message, "do thing: ", 10) == 0);
    }
    /* No body; an error already set is kept; NULL err is fine. */
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_engine_error_from_reply(503, NULL, 0, "x", &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_ENGINE);
    ck_assert_int_eq(cass_engine_error_from_reply(404, NULL, 0, "y", &err), -1);
    ck_assert_int_eq(err->status, 503);
    ck_assert_int_eq(cass_engine_error_from_reply(404, NULL, 0, "z", NULL), -1);
}
END_TEST

START_TEST(engine_unreachable)
{
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_ptr_null(cass_engine_new("unix:///nonexistent-dir/cassiny-test.sock", &err));
    ck_assert_int_eq(err->kind, CASS_ERR_UNAVAILABLE);
    _cleanup_error_ struct cass_error *err2 = NULL;
    ck_assert_ptr_null(cass_engine_new("ftp://1.2.3.4:2375", &err2));
    ck_assert_int_eq(err2->kind, CASS_ERR_INVALID);
    /* tcp:// is Docker's plain-HTTP address: accepted, and nothing listens. */
    _cleanup_error_ struct cass_error *err3 = NULL;
    ck_assert_ptr_null(cass_engine_new("tcp://127.0.0.1:1", &err3));
    ck_assert_int_eq(err3->kind, CASS_ERR_UNAVAILABLE);
}
END_TEST

START_TEST(filters_query)
{
    const char *name[] = {"io.cassiny.name", NULL};
    _cleanup_free_ char *q = cass_engine_filters_query(name, NULL, NULL, NULL);
    ck_assert_str_eq(q, "%7B%22label%22%3A%5B%22io.cassiny.name%22%5D%7D");

    const char *labels[] = {"io.cassiny.run=r-1 2&x", "io.cassiny.kind=Job", NULL};
    const char *types[] = {"container", NULL};
    const char *events[] = {"create", "die", NULL};
    _cleanup_free_ char *q2 = cass_engine_filters_query(labels, types, events, NULL);
    ck_assert_str_eq(q2, "%7B%22event%22%3A%5B%22create%22%2C%22die%22%5D%2C%22label%22%3A%5B%"
                         "22io.cassiny.run%3Dr-1%202%26x%22%2C%22io.cassiny.kind%3DJob%22%5D%2C%"
                         "22type%22%3A%5B%22container%22%5D%7D");
    /* Empty lists are left out; nothing at all is NULL without an error. */
    const char *empty[] = {NULL};
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_ptr_null(cass_engine_filters_query(empty, NULL, empty, &err));
    ck_assert_ptr_null(err);
    /* Invalid UTF-8 is refused, not dropped. */
    const char *bad[] = {"io.cassiny.name=\xff", NULL};
    ck_assert_ptr_null(cass_engine_filters_query(bad, NULL, NULL, &err));
    ck_assert_int_eq(err->kind, CASS_ERR_INVALID);
}
END_TEST

START_TEST(container_body_full)
{
    const char *cmd[] = {"sh", "-c", "echo hi", NULL};
    const char *env[] = {"A=1", NULL};
    const char *drop[] = {"ALL", NULL};
    const char *sec[] = {"no-new-privileges", NULL};
    struct cass_container_label labels[] = {{"io.cassiny.name", "nb"}, {"io.cassiny.kind", "Job"}};
    struct cass_container_mount mounts[] = {{CASS_MOUNT_BIND, "/srv/data", "/data", true, NULL},
                                            {CASS_MOUNT_VOLUME, "ws", "/ws", false, NULL}};
    struct cass_container_port ports[] = {
        {8888, NULL, "127.0.0.1", 0}, {8888, NULL, "::1", 0}, {53, "udp", NULL, 5353}};
    struct cass_container_tmpfs tmpfs[] = {{"/tmp", "rw,noexec,size=1048576"}, {"/run", NULL}};
    struct cass_container_spec spec = {
        .image = "sha256:abc",
        .cmd = cmd,
        .env = env,
        .user = "1000:1000",
        .working_dir = "/home/nb",
        .labels = labels,
        .n_labels = 2,
        .mounts = mounts,
        .n_mounts = 2,
        .ports = ports,
        .n_ports = 3,
        .nano_cpus = 1500000000,
        .memory = 64 << 20,
        .gpus = 2,
        .pids_limit = 512,
        .cap_drop = drop,
        .security_opt = sec,
        .readonly_rootfs = true,
        .tmpfs = tmpfs,
        .n_tmpfs = 2,
        .init = true,
        .restart_policy = "on-failure",
        .restart_max_retries = 3,
        .network_mode = "bridge",
    };
    _cleanup_json_ json_t *b = cass_engine_container_body(&spec, NULL);
    ck_assert_ptr_nonnull(b);
    json_t *hc = json_object_get(b, "HostConfig");
    ck_assert_str_eq(json_string_value(json_object_get(b, "Image")), "sha256:abc");
    ck_assert_int_eq(json_array_size(json_object_get(b, "Cmd")), 3);
    ck_assert(json_object_get(b, "Entrypoint") == NULL);
    ck_assert_str_eq(json_string_value(json_object_get(b, "User")), "1000:1000");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(b, "Labels"), "io.cassiny.kind")), "Job");
    ck_assert(json_is_false(json_object_get(b, "Tty")));
    ck_assert_int_eq(json_integer_value(json_object_get(hc, "NanoCpus")), 1500000000);
    ck_assert_int_eq(json_integer_value(json_object_get(hc, "Memory")), 64 << 20);
    ck_assert_int_eq(json_integer_value(json_object_get(hc, "PidsLimit")), 512);
    ck_assert(json_is_true(json_object_get(hc, "ReadonlyRootfs")));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(hc, "Tmpfs"), "/tmp")),
                     "rw,noexec,size=1048576");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(hc, "Tmpfs"), "/run")), "");
    ck_assert(json_is_true(json_object_get(hc, "Init")));
    ck_assert_str_eq(json_string_value(json_object_get(hc, "NetworkMode")), "bridge");

    json_t *m = json_object_get(hc, "Mounts");
    ck_assert_int_eq(json_array_size(m), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 0), "Type")), "bind");
    ck_assert(json_is_true(json_object_get(json_array_get(m, 0), "ReadOnly")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 1), "Type")), "volume");

    json_t *pb = json_object_get(hc, "PortBindings");
    json_t *p8888 = json_object_get(pb, "8888/tcp");
    ck_assert_int_eq(json_array_size(p8888), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(p8888, 0), "HostPort")), "");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(p8888, 1), "HostIp")), "::1");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(pb, "53/udp"), 0), "HostPort")),
                     "5353");
    ck_assert_int_eq(json_object_size(json_object_get(b, "ExposedPorts")), 2);

    json_t *dr = json_array_get(json_object_get(hc, "DeviceRequests"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(dr, "Count")), 2);
    ck_assert_str_eq(json_string_value(
                         json_array_get(json_array_get(json_object_get(dr, "Capabilities"), 0), 0)),
                     "gpu");
    json_t *rp = json_object_get(hc, "RestartPolicy");
    ck_assert_str_eq(json_string_value(json_object_get(rp, "Name")), "on-failure");
    ck_assert_int_eq(json_integer_value(json_object_get(rp, "MaximumRetryCount")), 3);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(hc, "CapDrop"), 0)), "ALL");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(hc, "SecurityOpt"), 0)),
                     "no-new-privileges");

    /* A minimal spec: defaults, no limits, no GPUs. */
    struct cass_container_spec min = {.image = "busybox"};
    _cleanup_json_ json_t *b2 = cass_engine_container_body(&min, NULL);
    json_t *hc2 = json_object_get(b2, "HostConfig");
    ck_assert(json_object_get(hc2, "DeviceRequests") == NULL);
    ck_assert(json_object_get(hc2, "Memory") == NULL);
    ck_assert(json_object_get(hc2, "Tmpfs") == NULL);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(hc2, "RestartPolicy"), "Name")), "no");
}
END_TEST

START_TEST(container_body_invalid)
{
    struct cass_container_label dup[] = {{"a", "1"}, {"a", "2"}};
    struct cass_container_mount rel[] = {{CASS_MOUNT_BIND, "srv", "/data", true, NULL}};
    struct cass_container_mount reltarget[] = {{CASS_MOUNT_BIND, "/srv", "data", true, NULL}};
    struct cass_container_mount badvol[] = {{CASS_MOUNT_VOLUME, "../etc", "/data", true, NULL}};
    struct cass_container_port p0[] = {{0, NULL, NULL, 0}};
    struct cass_container_port phigh[] = {{80, NULL, NULL, 70000}};
    struct cass_container_port pproto[] = {{80, "icmp", NULL, 0}};
    const char *badutf[] = {"A=\xc3", NULL};
    struct cass_container_tmpfs tmprel[] = {{"tmp", NULL}};
    struct cass_container_tmpfs tmpdup[] = {{"/tmp", NULL}, {"/tmp", "size=1"}};
    struct cass_container_spec cases[] = {
        {.image = NULL},
        {.image = ""},
        {.image = "x", .labels = dup, .n_labels = 2},
        {.image = "x", .mounts = rel, .n_mounts = 1},
        {.image = "x", .mounts = reltarget, .n_mounts = 1},
        {.image = "x", .mounts = badvol, .n_mounts = 1},
        {.image = "x", .ports = p0, .n_ports = 1},
        {.image = "x", .ports = phigh, .n_ports = 1},
        {.image = "x", .ports = pproto, .n_ports = 1},
        {.image = "x", .memory = -1},
        {.image = "x", .gpus = -2},
        {.image = "x", .restart_policy = "sometimes"},
        {.image = "x", .env = badutf},
        {.image = "x", .tmpfs = tmprel, .n_tmpfs = 1},
        {.image = "x", .tmpfs = tmpdup, .n_tmpfs = 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_msg(cass_engine_container_body(&cases[i], &err) == NULL, "case %zu built", i);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(err->kind, CASS_ERR_INVALID);
    }
}
END_TEST

/* ---- a fake engine on a unix socket ------------------------------------------ */

/* Answers requests whose "METHOD /path?query" starts with prefix with a raw
 * HTTP response, written a few bytes at a time so that curl hands the client
 * arbitrary chunks; the connection closes after each answer. */
struct route {
    const char *prefix;
    const char *response;
    size_t len; /* 0: strlen(response) */
};

struct fake {
    int fd;
    char dir[128];
    char sock[160];
    char host[180];
    const struct route *routes;
    size_t n_routes;
    atomic_int stop;
    pthread_t thread;
};

static void fake_answer(struct fake *f, int c)
{
    char req[8192];
    size_t n = 0;
    while (n < sizeof(req) - 1) {
        ssize_t r = read(c, req + n, sizeof(req) - 1 - n);
        if (r <= 0)
            return;
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    const char *resp = "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n"
                       "Content-Type: application/json\r\n\r\n{\"message\":\"no route\"}";
    size_t len = strlen(resp);
    for (size_t i = 0; i < f->n_routes; i++)
        if (strncmp(req, f->routes[i].prefix, strlen(f->routes[i].prefix)) == 0) {
            resp = f->routes[i].response;
            len = f->routes[i].len ? f->routes[i].len : strlen(resp);
            break;
        }
    size_t step = 7;
    for (size_t off = 0; off < len;) {
        size_t k = len - off < step ? len - off : step;
        if (send(c, resp + off, k, MSG_NOSIGNAL) != (ssize_t)k)
            return;
        off += k;
        step = step == 7 ? 1 : step == 1 ? 13 : 7;
    }
}

static void *fake_thread(void *ud)
{
    struct fake *f = ud;
    while (!atomic_load(&f->stop)) {
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            continue;
        fake_answer(f, c);
        close(c);
    }
    return NULL;
}

static void fake_start(struct fake *f, const struct route *routes, size_t n)
{
    memset(f, 0, sizeof(*f));
    f->routes = routes;
    f->n_routes = n;
    snprintf(f->dir, sizeof(f->dir), "%s/cass-engine-unit-XXXXXX", P_tmpdir);
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    snprintf(f->sock, sizeof(f->sock), "%s/e.sock", f->dir);
    snprintf(f->host, sizeof(f->host), "unix://%s", f->sock);
    f->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(f->fd, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(f->sock), sizeof(a.sun_path));
    memcpy(a.sun_path, f->sock, strlen(f->sock) + 1);
    ck_assert_int_eq(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(f->fd, 16), 0);
    ck_assert_int_eq(pthread_create(&f->thread, NULL, fake_thread, f), 0);
}

static void fake_stop(struct fake *f)
{
    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    close(f->fd);
    unlink(f->sock);
    rmdir(f->dir);
}

#define OK_JSON "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\n\r\n"
#define PING_143                                                                                   \
    "HTTP/1.1 200 OK\r\nApi-Version: 1.43\r\nConnection: close\r\n"                                \
    "Content-Type: text/plain\r\n\r\nOK"

static const struct route good_routes[] = {
    {"GET /_ping", PING_143, 0},
    {"GET /version", OK_JSON "{\"ApiVersion\":\"1.45\",\"MinAPIVersion\":\"1.24\"}", 0},
    {"GET /v1.43/containers/bad/json", OK_JSON "{\"State\":{\"Status\":\"run", 0},
    {"GET /v1.43/containers/dup/json", OK_JSON "{\"Id\":\"a\",\"Id\":\"b\"}", 0},
    {"GET /v1.43/containers/arr/json", OK_JSON "[]", 0},
    {"GET /v1.43/containers/json?all=1&filters=%7B%22label%22%3A%5B%22io.cassiny.run%3Dr1%22%5D%"
     "7D ",
     OK_JSON "[{\"Id\":\"abc\"}]", 0},
    {"POST /v1.43/images/create?fromImage=cassiny%2Fbroken&tag=1 ",
     OK_JSON "{\"status\":\"Pulling from cassiny/broken\",\"id\":\"1\"}\r\n"
             "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1,\"total\":2}}\r\n"
             "{\"errorDetail\":{\"message\":\"unexpected EOF\"},\"error\":\"unexpected EOF\"}\r\n"
             "{\"status\":\"never seen\"}\r\n",
     0},
    {"POST /v1.43/images/create?fromImage=registry.example%3A5000%2Fcassiny%2Fok&tag=latest ",
     OK_JSON "{\"status\":\"Pulling from cassiny/ok\",\"id\":\"latest\"}\r\n"
             "{\"status\":\"Digest: sha256:00\"}\r\n"
             "{\"status\":\"Status: Downloaded newer image for cassiny/ok:latest\"}",
     0},
    {"POST /v1.43/images/create?fromImage=cassiny%2Fgarbled&tag=sha256%3Aab ",
     OK_JSON "{\"status\":\"ok\"}\n{\"status\":", 0},
    {"POST /v1.43/containers/w/wait?condition=next-exit ",
     OK_JSON "{\"StatusCode\":7,\"Error\":null}", 0},
    {"POST /v1.43/containers/werr/wait?condition=not-running ",
     OK_JSON "{\"StatusCode\":0,\"Error\":{\"Message\":\"container removed\"}}", 0},
    {"POST /v1.43/containers/wbad/wait", OK_JSON "{\"StatusCode\":\"7\"}", 0},
    {"GET /v1.43/events?since=10&until=20&filters=", NULL, 0}, /* filled at run time */
    {"GET /v1.43/containers/mux/json",
     OK_JSON "{\"State\":{\"Status\":\"exited\",\"Running\":false},"
             "\"Config\":{\"Tty\":false}}",
     0},
    {"GET /v1.43/containers/mux/logs?stdout=1&stderr=1&follow=0&timestamps=0&tail=all&since=0 ",
     NULL, 0}, /* filled at run time */
};
#define N_GOOD (sizeof(good_routes) / sizeof(good_routes[0]))

static int count_json(json_t *obj, void *ud)
{
    (void)obj;
    (*(int *)ud)++;
    return 0;
}

START_TEST(fake_engine_round_trips)
{
    struct route routes[N_GOOD];
    memcpy(routes, good_routes, sizeof(routes));
    size_t ev_len, logs_len;
    _cleanup_free_ char *ev = slurp("events.jsonl", &ev_len);
    _cleanup_free_ char *logs = slurp("logs-multiplexed.bin", &logs_len);
    const char *logs_head = "HTTP/1.1 200 OK\r\nConnection: close\r\n"
                            "Content-Type: application/vnd.docker.raw-stream\r\n\r\n";
    _cleanup_free_ char *ev_resp = NULL, *logs_resp = NULL;
    ck_assert_int_ge(asprintf(&ev_resp, OK_JSON "%s", ev), 0);
    logs_resp = malloc(strlen(logs_head) + logs_len);
    memcpy(logs_resp, logs_head, strlen(logs_head));
    memcpy(logs_resp + strlen(logs_head), logs, logs_len);
    routes[N_GOOD - 3].response = ev_resp;
    routes[N_GOOD - 1].response = logs_resp;
    routes[N_GOOD - 1].len = strlen(logs_head) + logs_len;

    struct fake f;
    fake_start(&f, routes, N_GOOD);
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_engine *e = cass_engine_new(f.host, &err);
    ck_assert_msg(e != NULL, "%s", err ? err->message : "");
    /* The engine speaks 1.45: we use our newest. */
    ck_assert_str_eq(cass_engine_api_version(e), "1.43");
    ck_assert_int_eq(cass_engine_ping(e, NULL), 0);

    /* Malformed replies are errors, never crashes. */
    static const char *const bad[] = {"bad", "dup", "arr"};
    for (size_t i = 0; i < 3; i++) {
        _cleanup_error_ struct cass_error *e2 = NULL;
        ck_assert_ptr_null(cass_engine_container_inspect(e, bad[i], &e2));
        ck_assert_int_eq(e2->kind, CASS_ERR_ENGINE);
    }
    /* An unknown path: the engine's 500 and its message. */
    ck_assert_ptr_null(cass_engine_container_inspect(e, "nothing", &err));
    ck_assert_int_eq(err->kind, CASS_ERR_ENGINE);
    ck_assert_int_eq(err->status, 500);
    ck_assert_str_eq(err->message, "inspect container: no route");
    cass_error_free(TAKE_PTR(err));

    /* The list URL with its escaped filter. */
    const char *labels[] = {"io.cassiny.run=r1", NULL};
    _cleanup_json_ json_t *list = cass_engine_container_list(e, labels, true, &err);
    ck_assert_msg(list != NULL, "%s", err ? err->message : "");
    ck_assert_int_eq(json_array_size(list), 1);

    /* Pull: progress, then an error line inside the 200. */
    int progress = 0;
    ck_assert_int_eq(
        cass_engine_image_pull(e, "cassiny/broken:1", count_json, &progress, NULL, &err), -1);
    ck_assert_int_eq(progress, 2);
    ck_assert_int_eq(err->kind, CASS_ERR_ENGINE);
    ck_assert_int_eq(err->status, 200);
    ck_assert_msg(strstr(err->message, "unexpected EOF") != NULL, "%s", err->message);
    cass_error_free(TAKE_PTR(err));
    progress = 0;
    ck_assert_int_eq(cass_engine_image_pull(e, "registry.example:5000/cassiny/ok", count_json,
                                            &progress, NULL, &err),
                     0);
    ck_assert_int_eq(progress, 3);
    ck_assert_int_eq(cass_engine_image_pull(e, "cassiny/garbled@sha256:ab", NULL, NULL, NULL, &err),
                     -1);
    ck_assert_int_eq(err->kind, CASS_ERR_ENGINE);
    cass_error_free(TAKE_PTR(err));

    /* Wait. */
    int code = -1;
    ck_assert_int_eq(cass_engine_container_wait(e, "w", CASS_WAIT_NEXT_EXIT, NULL, &code, &err), 0);
    ck_assert_int_eq(code, 7);
    ck_assert_int_eq(
        cass_engine_container_wait(e, "werr", CASS_WAIT_NOT_RUNNING, NULL, &code, &err), -1);
    ck_assert_msg(strstr(err->message, "container removed") != NULL, "%s", err->message);
    cass_error_free(TAKE_PTR(err));
    ck_assert_int_eq(
        cass_engine_container_wait(e, "wbad", CASS_WAIT_NOT_RUNNING, NULL, &code, &err), -1);
    cass_error_free(TAKE_PTR(err));

    /* Events, arriving in small pieces, until the engine ends the stream. */
    int events = 0;
    const char *types[] = {"container", NULL};
    struct cass_engine_events_opts eo = {
        .labels = labels, .types = types, .since = "10", .until = "20"};
    ck_assert_int_eq(cass_engine_events(e, &eo, count_json, &events, &err), 0);
    ck_assert_int_eq(events, 17);

    /* Logs through curl in small pieces, demultiplexed. */
    struct collected c = {0};
    ck_assert_int_eq(cass_engine_container_logs(e, "mux", NULL, collect, &c, &err), 0);
    ck_assert_str_eq(c.out[1], "out1\nout2\nno newline");
    ck_assert_str_eq(c.out[2], "err1\nerr2\n");
    collected_clear(&c);

    cass_engine_free(e);
    fake_stop(&f);
}
END_TEST

START_TEST(fake_engine_too_old_or_odd)
{
    static const struct route old[] = {
        {"GET /_ping", "HTTP/1.1 200 OK\r\nApi-Version: 1.40\r\nConnection: close\r\n\r\nOK", 0},
        {"GET /version", OK_JSON "{\"ApiVersion\":\"1.40\",\"MinAPIVersion\":\"1.12\"}", 0},
    };
    struct fake f;
    fake_start(&f, old, 2);
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_ptr_null(cass_engine_new(f.host, &err));
    ck_assert_int_eq(err->kind, CASS_ERR_ENGINE);
    ck_assert_msg(strstr(err->message, "1.40") != NULL, "%s", err->message);
    fake_stop(&f);

    /* No ApiVersion in /version: the ping header decides. */
    static const struct route header_only[] = {
        {"GET /_ping", PING_143, 0},
        {"GET /version", OK_JSON "{\"Version\":\"x\"}", 0},
    };
    fake_start(&f, header_only, 2);
    struct cass_engine *e = cass_engine_new(f.host, NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(cass_engine_api_version(e), "1.43");
    cass_engine_free(e);
    fake_stop(&f);

    /* Wrong types, a failing ping, and a server that is not HTTP. */
    static const struct route odd[][2] = {
        {{"GET /_ping", PING_143, 0}, {"GET /version", OK_JSON "{\"ApiVersion\":141}", 0}},
        {{"GET /_ping", PING_143, 0}, {"GET /version", OK_JSON "not json", 0}},
        {{"GET /_ping", "HTTP/1.1 503 Unavailable\r\nConnection: close\r\n\r\n", 0},
         {"GET /version", OK_JSON "{}", 0}},
        {{"GET /_ping", "garbage\r\n\r\n", 0}, {"GET /version", "garbage", 0}},
    };
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        fake_start(&f, odd[i], 2);
        _cleanup_error_ struct cass_error *e2 = NULL;
        ck_assert_ptr_null(cass_engine_new(f.host, &e2));
        ck_assert_ptr_nonnull(e2);
        fake_stop(&f);
    }
}
END_TEST

static Suite *engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *demux = tcase_create("demux");
    tcase_set_timeout(demux, 120);
    tcase_add_test(demux, demux_whole);
    tcase_add_test(demux, demux_one_byte_at_a_time);
    tcase_add_test(demux, demux_every_single_split);
    tcase_add_test(demux, demux_every_pair_of_splits_in_headers);
    tcase_add_test(demux, demux_random_splits);
    tcase_add_test(demux, demux_recorded_stream);
    tcase_add_test(demux, demux_raw_tty);
    tcase_add_test(demux, demux_invalid_frames);
    tcase_add_test(demux, demux_truncated);
    tcase_add_test(demux, demux_callback_stops);
    suite_add_tcase(s, demux);

    TCase *lines = tcase_create("jsonl");
    tcase_add_test(lines, jsonl_recorded_events_every_split);
    tcase_add_test(lines, jsonl_blank_crlf_and_last_line);
    tcase_add_test(lines, jsonl_malformed);
    tcase_add_test(lines, jsonl_line_too_long);
    tcase_add_test(lines, jsonl_callback_stops);
    suite_add_tcase(s, lines);

    TCase *replies = tcase_create("replies");
    tcase_add_test(replies, image_inspect_replies);
    tcase_add_test(replies, image_inspect_malformed);
    tcase_add_test(replies, distribution_replies);
    tcase_add_test(replies, container_state_replies);
    tcase_add_test(replies, container_host_port);
    tcase_add_test(replies, container_ip);
    tcase_add_test(replies, image_cmd);
    tcase_add_test(replies, container_state_malformed);
    tcase_add_test(replies, info_swarm);
    tcase_add_test(replies, version_negotiation);
    tcase_add_test(replies, wait_replies);
    tcase_add_test(replies, backend_docker_parsers);
    tcase_add_test(replies, backend_swarm_tasks);
    tcase_add_test(replies, backend_swarm_nodes_and_list);
    tcase_add_test(replies, backend_swarm_service_body);
    suite_add_tcase(s, replies);

    TCase *misc = tcase_create("requests");
    tcase_add_test(misc, error_mapping);
    tcase_add_test(misc, engine_unreachable);
    tcase_add_test(misc, filters_query);
    tcase_add_test(misc, container_body_full);
    tcase_add_test(misc, container_body_invalid);
    suite_add_tcase(s, misc);

    TCase *fake = tcase_create("fake-engine");
    tcase_set_timeout(fake, 60);
    tcase_add_test(fake, fake_engine_round_trips);
    tcase_add_test(fake, fake_engine_too_old_or_odd);
    suite_add_tcase(s, fake);
    return s;
}

int main(void)
{
    return cass_check_run(engine_suite());
}
