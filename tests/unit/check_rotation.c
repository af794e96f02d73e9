#include "config.h"

#include "check_run.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "rotation.h"

static char table_path[256];

static void setup(void)
{
    snprintf(table_path, sizeof(table_path), "%s/cassiny-rotation-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(table_path));
    strcat(table_path, "/gateway.table");
}

static void teardown(void)
{
    unlink(table_path);
    *strrchr(table_path, '/') = '\0';
    rmdir(table_path);
}

static struct cass_replica replica(const char *id, int port)
{
    struct cass_replica r = {.port = port};
    snprintf(r.id, sizeof(r.id), "%s", id);
    snprintf(r.host, sizeof(r.host), "127.0.0.1");
    return r;
}

static struct cass_rotation *open_table(void)
{
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_rotation *r = cass_rotation_open(table_path, &err);
    ck_assert_msg(r != NULL, "%s", err ? err->message : "?");
    return r;
}

START_TEST(round_robin_and_drain)
{
    struct cass_rotation *r = cass_rotation_new();
    struct cass_replica a = replica("a", 1), b = replica("b", 2), got;
    cass_rotation_add(r, "iris", "run1", &a);
    cass_rotation_add(r, "iris", "run1", &b);
    ck_assert_int_eq(cass_rotation_count(r, "iris"), 2);
    ck_assert_int_eq(cass_rotation_pick(r, "iris", NULL, 0, &got), 0);
    char first[72];
    snprintf(first, sizeof(first), "%s", got.id);
    ck_assert_int_eq(cass_rotation_pick(r, "iris", NULL, 0, &got), 0);
    ck_assert_str_ne(first, got.id);
    /* Removed while a request is in flight: no new picks, counted until done. */
    cass_rotation_remove(r, "iris", "a");
    ck_assert_int_eq(cass_rotation_inflight(r, "a"), 1);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(cass_rotation_pick(r, "iris", NULL, 0, &got), 0);
        ck_assert_str_eq(got.id, "b");
        cass_rotation_release(r, "iris", "b");
    }
    cass_rotation_release(r, "iris", "a");
    ck_assert_int_eq(cass_rotation_inflight(r, "a"), 0);
    const char *skip[] = {"b"};
    ck_assert_int_eq(cass_rotation_pick(r, "iris", skip, 1, &got), -1);
    cass_rotation_free(r);
}
END_TEST

/* Two processes, one table: what one adds the other picks, and the counts
 * of requests in flight are the same for both. */
START_TEST(shared_between_processes)
{
    struct cass_rotation *r = open_table();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct cass_rotation *c = open_table();
        struct cass_replica a = replica("a", 8080);
        cass_rotation_add(c, "iris", "run1", &a);
        struct cass_replica got;
        int rc = cass_rotation_pick(c, "iris", NULL, 0, &got); /* one in flight */
        _exit(rc == 0 ? 0 : 1);
    }
    int ws = 0;
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(ws), 0);
    struct cass_replica got;
    ck_assert_int_eq(cass_rotation_pick(r, "iris", NULL, 0, &got), 0);
    ck_assert_int_eq(got.port, 8080);
    ck_assert_int_eq(cass_rotation_inflight(r, "a"), 2); /* the child's and this one */
    cass_rotation_free(r);
    /* Opened again later (a restart): the table is still there. */
    r = open_table();
    ck_assert_int_eq(cass_rotation_count(r, "iris"), 1);
    cass_rotation_free(r);
}
END_TEST

/* A process killed while it holds the lock does not stop the others. */
START_TEST(lock_holder_killed)
{
    struct cass_rotation *r = open_table();
    struct cass_replica a = replica("a", 1);
    cass_rotation_add(r, "iris", "run1", &a);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct cass_rotation *c = open_table();
        cass_rotation_test_abandon_lock(c);
        pause();
        _exit(0);
    }
    usleep(200 * 1000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    struct cass_replica got;
    ck_assert_int_eq(cass_rotation_pick(r, "iris", NULL, 0, &got), 0);
    ck_assert_str_eq(got.id, "a");
    cass_rotation_free(r);
}
END_TEST

/* A new daemon's rebuild: what it adds again stays, the rest leaves; a new
 * gateway forgets the requests its predecessor had in flight. */
START_TEST(generation_sweep_and_attach)
{
    struct cass_rotation *r = open_table();
    struct cass_replica a = replica("a", 1), b = replica("b", 2), got;
    cass_rotation_add(r, "iris", "run1", &a);
    cass_rotation_add(r, "iris", "run1", &b);
    ck_assert_int_eq(cass_rotation_pick(r, "iris", NULL, 0, &got), 0);
    unsigned g = cass_rotation_generation_begin(r);
    cass_rotation_add(r, "iris", "run1", &a);
    cass_rotation_sweep(r, g);
    ck_assert(cass_rotation_has(r, "iris", "a"));
    ck_assert(!cass_rotation_has(r, "iris", "b"));
    cass_rotation_gateway_attach(r, 8480);
    ck_assert_int_eq(cass_rotation_gateway_port(r), 8480);
    ck_assert_int_eq(cass_rotation_inflight(r, got.id), 0);
    cass_rotation_free(r);
}
END_TEST

START_TEST(requests_queue)
{
    struct cass_rotation *r = open_table();
    char name[64], run[32];
    ck_assert_int_eq(cass_rotation_request_take(r, name, run), 0);
    ck_assert_int_eq(cass_rotation_request(r, CASS_ROTATION_WAKE, "nb", "r1"), 0);
    ck_assert_int_eq(cass_rotation_request(r, CASS_ROTATION_WAKE, "nb", "r1"), 0); /* same */
    ck_assert_int_eq(cass_rotation_request(r, CASS_ROTATION_ENDPOINT, "nb", "r1"), 0);
    ck_assert_int_eq(cass_rotation_request_take(r, name, run), CASS_ROTATION_WAKE);
    ck_assert_str_eq(name, "nb");
    ck_assert_str_eq(run, "r1");
    ck_assert_int_eq(cass_rotation_request_take(r, name, run), CASS_ROTATION_ENDPOINT);
    ck_assert_int_eq(cass_rotation_request_take(r, name, run), 0);
    for (int i = 0; i < CASS_ROTATION_REQUESTS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "r%d", i);
        ck_assert_int_eq(cass_rotation_request(r, CASS_ROTATION_WAKE, "nb", id), 0);
    }
    ck_assert_int_eq(cass_rotation_request(r, CASS_ROTATION_WAKE, "nb", "one-more"), -1);
    cass_rotation_free(r);
}
END_TEST

/* A full table takes no more (and says so in the log), and the rest works. */
START_TEST(full_table)
{
    struct cass_rotation *r = cass_rotation_new();
    for (int i = 0; i <= CASS_ROTATION_SLOTS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "r%d", i);
        struct cass_replica rep = replica(id, i);
        cass_rotation_add(r, "iris", "run1", &rep);
    }
    ck_assert_int_eq(cass_rotation_count(r, "iris"), CASS_ROTATION_SLOTS);
    ck_assert(!cass_rotation_has(r, "iris", "r2048"));
    cass_rotation_remove(r, "iris", "r0");
    struct cass_replica rep = replica("r2048", 1);
    cass_rotation_add(r, "iris", "run1", &rep);
    ck_assert(cass_rotation_has(r, "iris", "r2048"));
    cass_rotation_free(r);
}
END_TEST

/* A file of another layout (an older daemon's, or garbage) is made again. */
START_TEST(foreign_file_remade)
{
    FILE *f = fopen(table_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("not a table", f);
    fclose(f);
    struct cass_rotation *r = open_table();
    ck_assert_int_eq(cass_rotation_count(r, "iris"), 0);
    struct cass_replica a = replica("a", 1);
    cass_rotation_add(r, "iris", "run1", &a);
    ck_assert_int_eq(cass_rotation_count(r, "iris"), 1);
    cass_rotation_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rotation");
    TCase *tc = tcase_create("rotation");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, round_robin_and_drain);
    tcase_add_test(tc, shared_between_processes);
    tcase_add_test(tc, lock_holder_killed);
    tcase_add_test(tc, generation_sweep_and_attach);
    tcase_add_test(tc, requests_queue);
    tcase_add_test(tc, foreign_file_remade);
    tcase_add_test(tc, full_table);
    suite_add_tcase(s, tc);
    return cass_check_run(s);
}
