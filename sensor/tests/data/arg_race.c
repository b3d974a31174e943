/* A process racing its own syscalls: a second thread keeps rewriting a string argument
 * while the main thread passes it to the kernel, and after each call the main thread finds
 * out what the kernel really acted on and prints it, one line per call:
 *
 *   arg_race chmod DIR N   fchmodat(DIR/a or DIR/b, 04755); prints "a" or "b", the file
 *                          whose mode changed
 *   arg_race chmod-plain DIR N   the same with mode 0640, which no setuid rule reads: only
 *                          the changed argument can make the call an alert
 *   arg_race mount DIR N   in a private mount namespace, mount(SRC, DIR/m1 or DIR/m2,
 *                          "proc" or "tmpfs") with source "src-one" or "src-two"; prints
 *                          "<type> <source> <target>" as the kernel mounted it, then
 *                          unmounts it; "failed" when a half-rewritten buffer made the
 *                          call fail
 *   arg_race exec DIR N    N children, each exec'ing DIR/a (a copy of true) or DIR/b (of
 *                          false) through a path its second thread flips; prints
 *                          "<pid> a" or "<pid> b" from how the child exited
 *   arg_race open DIR N    open(DIR/a or DIR/b, O_RDONLY); prints "a" or "b", the file the
 *                          returned fd refers to (by inode)
 *
 * Built by sensor/tests/arg_truth.rs with the system's cc. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROC_MAGIC 0x9fa0
static char path[256], path_a[256], path_b[256];
static char fstype[16], source[16];
static atomic_int stop, flips;

/* A short pause, so each value stays in place about as long as the other. The barrier
 * keeps the compiler from dropping the first of two stores to a buffer as dead. */
static void hold(void) {
    __asm__ volatile("" ::: "memory");
    for (volatile int i = 0; i < 100; i++) {
    }
    __asm__ volatile("" ::: "memory");
}

/* Flip every racing buffer between its two values, over and over. */
static void *flip(void *unused) {
    (void)unused;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        memcpy(path, path_b, strlen(path_b) + 1);
        memcpy(fstype, "tmpfs", 6);
        memcpy(source, "src-two", 8);
        hold();
        memcpy(path, path_a, strlen(path_a) + 1);
        memcpy(fstype, "proc", 5);
        memcpy(source, "src-one", 8);
        hold();
        atomic_fetch_add_explicit(&flips, 1, memory_order_relaxed);
    }
    return NULL;
}

static int race_chmod(const char *dir, int n, mode_t new_mode) {
    snprintf(path_a, sizeof path_a, "%s/a", dir);
    snprintf(path_b, sizeof path_b, "%s/b", dir);
    int fa = open(path_a, O_RDONLY | O_CREAT, 0644), fb = open(path_b, O_RDONLY | O_CREAT, 0644);
    if (fa < 0 || fb < 0) return perror("open"), 1;
    strcpy(path, path_a);
    pthread_t t;
    pthread_create(&t, NULL, flip, NULL);
    for (int i = 0; i < n; i++) {
        fchmod(fa, 0644);
        fchmod(fb, 0644);
        if (syscall(SYS_fchmodat, AT_FDCWD, path, new_mode) != 0) return perror("fchmodat"), 1;
        struct stat sa, sb;
        fstat(fa, &sa);
        fstat(fb, &sb);
        printf("%s\n", (sa.st_mode & 07777) == new_mode ? "a"
                       : (sb.st_mode & 07777) == new_mode ? "b" : "?");
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    return 0;
}

static int race_open(const char *dir, int n) {
    snprintf(path_a, sizeof path_a, "%s/a", dir);
    snprintf(path_b, sizeof path_b, "%s/b", dir);
    int fa = open(path_a, O_RDONLY | O_CREAT, 0644), fb = open(path_b, O_RDONLY | O_CREAT, 0644);
    if (fa < 0 || fb < 0) return perror("open"), 1;
    struct stat sa, sb;
    fstat(fa, &sa);
    fstat(fb, &sb);
    strcpy(path, path_a);
    pthread_t t;
    pthread_create(&t, NULL, flip, NULL);
    for (int i = 0; i < n; i++) {
        int fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
        if (fd < 0) return perror("openat"), 1;
        struct stat s;
        fstat(fd, &s);
        printf("%s\n", s.st_ino == sa.st_ino ? "a" : s.st_ino == sb.st_ino ? "b" : "?");
        close(fd);
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    return 0;
}

/* The source the kernel recorded for the mount on `target`, from /proc/self/mounts. */
static void mounted_source(const char *target, char *out, size_t len) {
    FILE *f = fopen("/proc/self/mounts", "r");
    char line[1024], src[256], dir[256];
    snprintf(out, len, "?");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%255s %255s", src, dir) == 2 && strcmp(dir, target) == 0)
            snprintf(out, len, "%s", src);
    if (f) fclose(f);
}

static int race_mount(const char *dir, int n) {
    if (unshare(CLONE_NEWNS) != 0) return perror("unshare"), 1;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return perror("private"), 1;
    snprintf(path_a, sizeof path_a, "%s/m1", dir);
    snprintf(path_b, sizeof path_b, "%s/m2", dir);
    mkdir(path_a, 0755);
    mkdir(path_b, 0755);
    strcpy(path, path_a);
    strcpy(fstype, "proc");
    strcpy(source, "src-one");
    pthread_t t;
    pthread_create(&t, NULL, flip, NULL);
    for (int i = 0; i < n; i++) {
        if (syscall(SYS_mount, source, path, fstype, 0, NULL) != 0) {
            /* A buffer caught half rewritten names no filesystem type or directory. */
            printf("failed\n");
            continue;
        }
        /* The directory now on another device than DIR is the one mounted on. */
        struct stat parent, st1;
        stat(dir, &parent);
        stat(path_a, &st1);
        const char *target = st1.st_dev != parent.st_dev ? path_a : path_b;
        struct statfs s;
        statfs(target, &s);
        char src[256];
        mounted_source(target, src, sizeof src);
        printf("%s %s %s\n", s.f_type == PROC_MAGIC ? "proc" : "tmpfs", src, target);
        if (umount2(target, 0) != 0) return perror("umount"), 1;
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    return 0;
}

static int race_exec(const char *dir, int n) {
    snprintf(path_a, sizeof path_a, "%s/a", dir);
    snprintf(path_b, sizeof path_b, "%s/b", dir);
    for (int i = 0; i < n; i++) {
        pid_t child = fork();
        if (child < 0) return perror("fork"), 1;
        if (child == 0) {
            strcpy(path, path_a);
            pthread_t t;
            pthread_create(&t, NULL, flip, NULL);
            while (atomic_load(&flips) < 3) {
            }
            char *argv[] = {"racer", NULL};
            syscall(SYS_execve, path, argv, NULL);
            _exit(127);
        }
        int status;
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status)) return perror("wait"), 1;
        int code = WEXITSTATUS(status);
        printf("%d %s\n", child, code == 0 ? "a" : code == 1 ? "b" : "failed");
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) return fprintf(stderr, "usage: arg_race chmod|chmod-plain|mount|exec|open DIR N\n"), 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    int n = atoi(argv[3]);
    if (strcmp(argv[1], "chmod") == 0) return race_chmod(argv[2], n, 04755);
    if (strcmp(argv[1], "chmod-plain") == 0) return race_chmod(argv[2], n, 0640);
    if (strcmp(argv[1], "mount") == 0) return race_mount(argv[2], n);
    if (strcmp(argv[1], "exec") == 0) return race_exec(argv[2], n);
    if (strcmp(argv[1], "open") == 0) return race_open(argv[2], n);
    return 2;
}
