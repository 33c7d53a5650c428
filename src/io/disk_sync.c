/* disk_sync: the portable disk backend. pwritev, fdatasync and pread run on libuv's thread pool
 * (uv_queue_work) and complete on the loop thread; metadata ops are plain syscalls on the caller's
 * thread. Invariants: a completion never runs inside the submitting call (uv_queue_work defers it);
 * a pwritev completes only when every byte is written or an error occurred (short writes loop). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/io.h"

enum { OP_PWRITEV = 1, OP_FDATASYNC, OP_PREAD };

typedef struct {
    uv_loop_t *loop;
} disk_sync_t;

static int64_t do_pwritev(sl_disk_op_t *op)
{
    struct iovec *iov = op->priv_iov;
    int count = op->priv_iov_count;
    int64_t offset = op->priv_offset;
    int64_t total = 0;
    while (count > 0) {
        ssize_t n = pwritev(op->priv_fd, iov, count, (off_t)offset);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO; /* no progress: treat as an I/O error rather than spin */
        total += n;
        offset += n;
        size_t left = (size_t)n;
        /* Drop the iovecs that were fully written and trim the first partial one. */
        while (count > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            count--;
        }
        if (count > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return total;
}

static int64_t do_pread(sl_disk_op_t *op)
{
    uint8_t *buf = op->priv_iov[0].iov_base;
    size_t len = op->priv_iov[0].iov_len;
    size_t done = 0;
    while (done < len) {
        ssize_t n =
            pread(op->priv_fd, buf + done, len - done, (off_t)(op->priv_offset + (int64_t)done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break; /* end of file */
        done += (size_t)n;
    }
    return (int64_t)done;
}

/* Runs on a thread-pool thread: touches only the op. */
static void work_run(uv_work_t *work)
{
    sl_disk_op_t *op = SL_CONTAINER_OF(work, sl_disk_op_t, priv_u.work);
    switch (op->priv_kind) {
    case OP_PWRITEV:
        op->priv_result = do_pwritev(op);
        break;
    case OP_FDATASYNC:
        op->priv_result = fdatasync(op->priv_fd) == 0 ? 0 : -errno;
        break;
    case OP_PREAD:
        op->priv_result = do_pread(op);
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

static int submit(sl_disk_t *disk, sl_disk_op_t *op, int kind, int fd, sl_disk_cb cb, void *data)
{
    disk_sync_t *impl = disk->impl;
    SL_ASSERT(cb != NULL);
    op->priv_disk = disk;
    op->priv_kind = kind;
    op->priv_fd = fd;
    op->priv_cb = cb;
    op->priv_data = data;
    op->priv_result = 0;
    return uv_queue_work(impl->loop, &op->priv_u.work, work_run, work_done);
}

static int sync_pwritev(sl_disk_t *disk, sl_disk_op_t *op, int fd, const struct iovec *iov,
                        int iov_count, int64_t offset, sl_disk_cb cb, void *data)
{
    if (iov_count <= 0 || iov_count > SL_DISK_IOV_MAX || offset < 0)
        return -EINVAL;
    memcpy(op->priv_iov, iov, (size_t)iov_count * sizeof *iov);
    op->priv_iov_count = iov_count;
    op->priv_offset = offset;
    return submit(disk, op, OP_PWRITEV, fd, cb, data);
}

static int sync_fdatasync(sl_disk_t *disk, sl_disk_op_t *op, int fd, sl_disk_cb cb, void *data)
{
    return submit(disk, op, OP_FDATASYNC, fd, cb, data);
}

static int sync_pread(sl_disk_t *disk, sl_disk_op_t *op, int fd, void *buf, size_t len,
                      int64_t offset, sl_disk_cb cb, void *data)
{
    if (offset < 0)
        return -EINVAL;
    op->priv_iov[0] = (struct iovec){.iov_base = buf, .iov_len = len};
    op->priv_iov_count = 1;
    op->priv_offset = offset;
    return submit(disk, op, OP_PREAD, fd, cb, data);
}

static int sync_open(sl_disk_t *disk, const char *path, int flags)
{
    (void)disk; /* plain syscall */
    int oflags = O_CLOEXEC | ((flags & SL_DISK_OPEN_READONLY) ? O_RDONLY : O_RDWR);
    if (flags & SL_DISK_OPEN_CREATE)
        oflags |= O_CREAT;
    if (flags & SL_DISK_OPEN_EXCL)
        oflags |= O_EXCL;
    if (flags & SL_DISK_OPEN_TRUNCATE)
        oflags |= O_TRUNC;
    int fd;
    do
        fd = open(path, oflags, 0644);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

static int sync_close(sl_disk_t *disk, int fd)
{
    (void)disk; /* plain syscall */
    /* Linux releases the fd even when close reports EINTR: never retry. */
    return close(fd) == 0 ? 0 : -errno;
}

static int64_t sync_pread_sync(sl_disk_t *disk, int fd, void *buf, size_t len, int64_t offset)
{
    (void)disk; /* plain syscall */
    sl_disk_op_t op;
    op.priv_fd = fd;
    op.priv_iov[0] = (struct iovec){.iov_base = buf, .iov_len = len};
    op.priv_offset = offset;
    return offset < 0 ? -EINVAL : do_pread(&op);
}

static int64_t sync_pwrite_sync(sl_disk_t *disk, int fd, const void *buf, size_t len,
                                int64_t offset)
{
    (void)disk; /* plain syscall */
    if (len == 0)
        return 0;
    sl_disk_op_t op;
    op.priv_fd = fd;
    op.priv_iov[0] = (struct iovec){.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
    op.priv_iov_count = 1;
    op.priv_offset = offset;
    return offset < 0 ? -EINVAL : do_pwritev(&op);
}

static int sync_ftruncate(sl_disk_t *disk, int fd, int64_t size)
{
    (void)disk; /* plain syscall */
    return ftruncate(fd, (off_t)size) == 0 ? 0 : -errno;
}

static int64_t sync_file_size(sl_disk_t *disk, int fd)
{
    (void)disk; /* plain syscall */
    struct stat st;
    return fstat(fd, &st) == 0 ? (int64_t)st.st_size : -errno;
}

static int sync_fsync(sl_disk_t *disk, int fd)
{
    (void)disk; /* plain syscall */
    return fsync(fd) == 0 ? 0 : -errno;
}

static int sync_mkdir(sl_disk_t *disk, const char *path)
{
    (void)disk; /* plain syscall */
    return mkdir(path, 0755) == 0 ? 0 : -errno;
}

static int sync_rename(sl_disk_t *disk, const char *from, const char *to)
{
    (void)disk; /* plain syscall */
    return rename(from, to) == 0 ? 0 : -errno;
}

static int sync_unlink(sl_disk_t *disk, const char *path)
{
    (void)disk; /* plain syscall */
    return unlink(path) == 0 ? 0 : -errno;
}

static int sync_rmdir(sl_disk_t *disk, const char *path)
{
    (void)disk; /* plain syscall */
    return rmdir(path) == 0 ? 0 : -errno;
}

static int sync_list_dir(sl_disk_t *disk, const char *path, sl_disk_list_cb cb, void *data)
{
    (void)disk; /* plain syscall */
    DIR *d = opendir(path);
    if (d == NULL)
        return -errno;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            rc = errno != 0 ? -errno : 0;
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        rc = cb(e->d_name, data);
        if (rc != 0)
            break;
    }
    closedir(d);
    return rc;
}

static int sync_fsync_dir(sl_disk_t *disk, const char *path)
{
    (void)disk; /* plain syscall */
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

static int sync_exists(sl_disk_t *disk, const char *path)
{
    (void)disk; /* plain syscall */
    struct stat st;
    if (stat(path, &st) == 0)
        return 1;
    return errno == ENOENT ? 0 : -errno;
}

static const sl_disk_ops_t disk_sync_ops = {
    .name = "sync",
    .pwritev = sync_pwritev,
    .fdatasync = sync_fdatasync,
    .pread = sync_pread,
    .open = sync_open,
    .close = sync_close,
    .pread_sync = sync_pread_sync,
    .pwrite_sync = sync_pwrite_sync,
    .ftruncate = sync_ftruncate,
    .file_size = sync_file_size,
    .fsync = sync_fsync,
    .mkdir = sync_mkdir,
    .rename = sync_rename,
    .unlink = sync_unlink,
    .rmdir = sync_rmdir,
    .list_dir = sync_list_dir,
    .fsync_dir = sync_fsync_dir,
    .exists = sync_exists,
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
