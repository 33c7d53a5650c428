/* deny_io_uring: runs a program the way a container with Docker's or containerd's default seccomp
 * profile would, as far as io_uring goes: io_uring_setup, io_uring_enter and io_uring_register
 * fail with EPERM (or the errno named by --errno), every other system call is allowed.
 * Usage: deny_io_uring [--errno EPERM|ENOSYS] PROGRAM [ARG...]   (the filter survives exec). */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int err = EPERM;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--errno") == 0) {
        if (strcmp(argv[2], "ENOSYS") == 0)
            err = ENOSYS;
        else if (strcmp(argv[2], "EPERM") != 0) {
            fprintf(stderr, "deny_io_uring: --errno takes EPERM or ENOSYS\n");
            return 2;
        }
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: deny_io_uring [--errno EPERM|ENOSYS] PROGRAM [ARG...]\n");
        return 2;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW); /* sets no_new_privs on load */
    if (ctx == NULL) {
        fprintf(stderr, "deny_io_uring: seccomp_init failed\n");
        return 1;
    }
    static const char *const denied[] = {"io_uring_setup", "io_uring_enter", "io_uring_register"};
    int rc = 0;
    for (size_t i = 0; i < sizeof denied / sizeof denied[0] && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO((unsigned)err),
                              seccomp_syscall_resolve_name(denied[i]), 0);
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0) {
        fprintf(stderr, "deny_io_uring: installing the filter failed: %s\n", strerror(-rc));
        return 1;
    }
    execvp(argv[first], argv + first);
    fprintf(stderr, "deny_io_uring: exec %s: %s\n", argv[first], strerror(errno));
    return 127;
}
