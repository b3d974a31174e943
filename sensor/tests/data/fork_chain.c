/* A fork-then-parent-exits chain, as any unprivileged user can run it: each link forks the
 * next and exits, so the chain is N processes deep while at most two are alive at a time.
 *
 *   fork_chain N   prints "<pid of the last link>" once the N-th link runs, then exits
 *                  when every link has been reaped
 *
 * The first process is a child subreaper: the links' orphans are reparented to it and reaped
 * here, whatever the machine's PID 1 does with orphans (pid_max may be 32768, and 300,000
 * zombies would exhaust it). Built by sensor/tests/fork_chain.rs with the system's cc. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fork_chain N\n");
        return 2;
    }
    long links = atol(argv[1]);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        perror("prctl(PR_SET_CHILD_SUBREAPER)");
        return 1;
    }
    pid_t first = fork();
    if (first < 0) {
        perror("fork");
        return 1;
    }
    if (first == 0) {
        for (long i = 1; i < links; i++) {
            pid_t next = fork();
            if (next < 0) {
                if (errno == EAGAIN) {
                    /* The subreaper has not reaped the last links yet. */
                    usleep(100);
                    i--;
                    continue;
                }
                perror("fork");
                _exit(1);
            }
            if (next > 0)
                _exit(0);
        }
        printf("%d\n", getpid());
        fflush(stdout);
        _exit(0);
    }
    long reaped = 0;
    int failed = 0;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        reaped++;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed = 1;
    }
    if (reaped != links) {
        fprintf(stderr, "fork_chain: reaped %ld of %ld links\n", reaped, links);
        return 1;
    }
    return failed;
}
