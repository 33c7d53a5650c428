/* probe: which disk backend storage.io.backend gets. auto takes io_uring when the kernel and the
 * seccomp profile allow it (Docker's and containerd's default profiles deny io_uring_setup with
 * EPERM; Linux 6.6+ has kernel.io_uring_disabled) and the opcodes the log issues exist; otherwise
 * the thread pool. The probe is the real ring set-up, so what was probed is what runs.
 * Invariant: choice->reason always says why, in one line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io_int.h"

/* Linux 6.6+: 0 allows io_uring, 1 only for the io_uring_group, 2 denies it. -1 when unknown. */
static int read_io_uring_disabled(void)
{
    int fd = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1; /* older kernel, or /proc not mounted */
    char text[8] = {0};
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    return n > 0 && text[0] >= '0' && text[0] <= '2' ? text[0] - '0' : -1;
}

static int open_uring(uv_loop_t *loop, sl_disk_t *out, sl_disk_choice_t *choice)
{
    char why[sizeof choice->reason - 64];
    int disabled = read_io_uring_disabled();
    int rc;
    if (disabled == 2) {
        snprintf(why, sizeof why, "kernel.io_uring_disabled=2");
        rc = -EPERM;
    } else {
        /* With io_uring_disabled=1 only the set-up itself tells whether this process may. */
        rc = sl_disk_uring_init(loop, out, why, sizeof why);
    }
    if (rc == 0)
        snprintf(why, sizeof why, "io_uring_setup allowed, WRITEV/FSYNC/READ supported");
    snprintf(choice->reason, sizeof choice->reason, "%s", why);
    return rc;
}

int sl_disk_init(uv_loop_t *loop, sl_disk_backend_t want, sl_disk_t *out, sl_disk_choice_t *choice)
{
    SL_ASSERT(loop != NULL && out != NULL && choice != NULL);
    SL_ASSERT(want == SL_DISK_BACKEND_AUTO || want == SL_DISK_BACKEND_IO_URING ||
              want == SL_DISK_BACKEND_SYNC);
    if (want != SL_DISK_BACKEND_SYNC) {
        int rc = open_uring(loop, out, choice);
        if (rc == 0 || want == SL_DISK_BACKEND_IO_URING) {
            choice->backend = "io_uring";
            return rc;
        }
        static const char prefix[] = "io_uring unusable: ";
        size_t len = strnlen(choice->reason, sizeof choice->reason - sizeof prefix);
        memmove(choice->reason + sizeof prefix - 1, choice->reason, len);
        memcpy(choice->reason, prefix, sizeof prefix - 1);
        choice->reason[sizeof prefix - 1 + len] = '\0';
    } else {
        snprintf(choice->reason, sizeof choice->reason, "configured");
    }
    choice->backend = "sync";
    return sl_disk_sync_init(loop, out);
}

void sl_disk_deinit(sl_disk_t *disk)
{
    if (disk == NULL || disk->ops == NULL)
        return;
    if (strcmp(disk->ops->name, "io_uring") == 0)
        sl_disk_uring_deinit(disk);
    else
        sl_disk_sync_deinit(disk);
}
