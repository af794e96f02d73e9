/* The attacker of tests/integration/test_race.sh: swaps two names with
 * renameat2(RENAME_EXCHANGE) as fast as it can, so that a path that the
 * daemon checks is, a moment later, a symbolic link to somewhere else.
 * Runs until SIGTERM; prints the number of swaps.
 *
 *   swap_loop PATH OTHER */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: swap_loop PATH OTHER\n");
        return 2;
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    unsigned long long n = 0;
    while (!stop) {
        if (syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) < 0) {
            perror("renameat2");
            return 1;
        }
        n++;
    }
    /* Leave the real directory where it was. */
    if (n % 2)
        syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE);
    printf("%llu\n", n);
    return 0;
}
