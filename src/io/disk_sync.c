/* disk_sync: the portable disk backend. pwritev, fdatasync and pread run on libuv's thread pool
 * (uv_queue_work) and complete on the loop thread; metadata ops are the shared plain syscalls
 * of disk_meta.c. Invariants: a completion never runs inside the submitting call (uv_queue_work
 * defers it); a pwritev completes only when every byte is written or an error occurred (short
 * writes loop). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "io_int.h"

typedef struct {
    uv_loop_t *loop;
} disk_sync_t;

/* Runs on a thread-pool thread: touches only the op. */
static void work_run(uv_work_t *work)
{
    sl_disk_op_t *op = SL_CONTAINER_OF(work, sl_disk_op_t, priv_u.work);
    switch (op->priv_kind) {
    case SL__DISK_OP_PWRITEV:
        op->priv_result =
            sl__disk_pwritev_all(op->priv_fd, op->priv_iov, op->priv_iov_count, op->priv_offset);
        break;
    case SL__DISK_OP_FDATASYNC: {
        uint64_t started_ns = sl_clock_monotonic_ns();
        op->priv_result = fdatasync(op->priv_fd) == 0 ? 0 : -errno;
        op->duration_ns = sl_clock_monotonic_ns() - started_ns;
        break;
    }
    case SL__DISK_OP_PREAD:
        op->priv_result = sl__disk_pread_full(op->priv_fd, op->priv_iov[0].iov_base,
                                              op->priv_iov[0].iov_len, op->priv_offset);
        break;
    default:
        op->priv_result = -EINVAL;
        break;
    }
}

/* Runs on the loop thread. */
static void work_done(uv_work_t *work, int status)
{
    sl_disk_op_t *op = SL_CONTAINER_OF(work, sl_disk_op_t, priv_u.work);
    int64_t result = status == 0 ? op->priv_result : (int64_t)status;
    op->priv_cb(op, result, op->priv_data);
}

static int submit(sl_disk_t *disk, sl_disk_op_t *op)
{
    disk_sync_t *impl = disk->impl;
    return uv_queue_work(impl->loop, &op->priv_u.work, work_run, work_done);
}

static int sync_pwritev(sl_disk_t *disk, sl_disk_op_t *op, int fd, const struct iovec *iov,
                        int iov_count, int64_t offset, sl_disk_cb cb, void *data)
{
    int rc = sl__disk_op_fill(disk, op, SL__DISK_OP_PWRITEV, fd, iov, iov_count, offset, cb, data);
    return rc < 0 ? rc : submit(disk, op);
}

static int sync_fdatasync(sl_disk_t *disk, sl_disk_op_t *op, int fd, sl_disk_cb cb, void *data)
{
    int rc = sl__disk_op_fill(disk, op, SL__DISK_OP_FDATASYNC, fd, NULL, 0, 0, cb, data);
    return rc < 0 ? rc : submit(disk, op);
}

static int sync_pread(sl_disk_t *disk, sl_disk_op_t *op, int fd, void *buf, size_t len,
                      int64_t offset, sl_disk_cb cb, void *data)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    int rc = sl__disk_op_fill(disk, op, SL__DISK_OP_PREAD, fd, &iov, 1, offset, cb, data);
    return rc < 0 ? rc : submit(disk, op);
}

static const sl_disk_ops_t disk_sync_ops = {
    .name = "sync",
    .pwritev = sync_pwritev,
    .fdatasync = sync_fdatasync,
    .pread = sync_pread,
    SL__DISK_META_OPS,
};

int sl_disk_sync_init(uv_loop_t *loop, sl_disk_t *out)
{
    SL_ASSERT(loop != NULL);
    SL_ASSERT(out != NULL);
    disk_sync_t *impl = sl_malloc(sizeof *impl);
    if (impl == NULL)
        return -ENOMEM;
    impl->loop = loop;
    out->ops = &disk_sync_ops;
    out->impl = impl;
    return 0;
}

void sl_disk_sync_deinit(sl_disk_t *disk)
{
    if (disk == NULL || disk->impl == NULL)
        return;
    SL_ASSERT(disk->ops == &disk_sync_ops);
    sl_free(disk->impl);
    disk->impl = NULL;
    disk->ops = NULL;
}
