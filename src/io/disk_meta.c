/* disk_meta: the synchronous half shared by every real-file backend (disk_sync.c, disk_uring.c):
 * metadata ops as plain syscalls on the caller's thread, and the loops that finish short writes
 * and reads. Invariants: a write returns only when every byte is written or an error occurred;
 * a read returns fewer bytes than asked only at end of file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_int.h"

int sl__disk_op_fill(sl_disk_t *disk, sl_disk_op_t *op, int kind, int fd, const struct iovec *iov,
                     int iov_count, int64_t offset, sl_disk_cb cb, void *data)
{
    SL_ASSERT(disk != NULL && op != NULL && cb != NULL);
    SL_ASSERT(kind >= SL__DISK_OP_PWRITEV && kind <= SL__DISK_OP_PREAD);
    int count_min = kind == SL__DISK_OP_FDATASYNC ? 0 : 1;
    int count_max = kind == SL__DISK_OP_PWRITEV ? SL_DISK_IOV_MAX : count_min;
    if (iov_count < count_min || iov_count > count_max || offset < 0)
        return -EINVAL;
    if (kind == SL__DISK_OP_PREAD && iov[0].iov_len > UINT32_MAX)
        return -EINVAL; /* io_uring's read length is 32 bits; the log reads far less */
    if (iov_count > 0)
        memcpy(op->priv_iov, iov, (size_t)iov_count * sizeof *iov);
    op->priv_iov_count = iov_count;
    op->priv_offset = offset;
    op->priv_disk = disk;
    op->priv_kind = kind;
    op->priv_fd = fd;
    op->priv_cb = cb;
    op->priv_data = data;
    op->priv_result = 0;
    op->duration_ns = 0;
    /* fdatasync latency (a metric): the sync backend times the syscall itself; io_uring from
     * here, its submission, to the completion */
    op->priv_started_ns = kind == SL__DISK_OP_FDATASYNC ? sl_clock_monotonic_ns() : 0;
    return 0;
}

void sl__disk_iov_advance(struct iovec **iov, int *iov_count, size_t bytes)
{
    struct iovec *v = *iov;
    int count = *iov_count;
    while (count > 0 && bytes >= v->iov_len) {
        bytes -= v->iov_len;
        v++;
        count--;
    }
    if (count > 0) {
        v->iov_base = (uint8_t *)v->iov_base + bytes;
        v->iov_len -= bytes;
    } else {
        SL_ASSERT(bytes == 0); /* never more bytes than the iovecs carry */
    }
    *iov = v;
    *iov_count = count;
}

int64_t sl__disk_pwritev_all(int fd, struct iovec *iov, int iov_count, int64_t offset)
{
    SL_ASSERT(iov_count >= 0 && iov_count <= SL_DISK_IOV_MAX);
    int64_t total = 0;
    while (iov_count > 0) {
        ssize_t n = pwritev(fd, iov, iov_count, (off_t)offset);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO; /* no progress: treat as an I/O error rather than spin */
        total += n;
        offset += n;
        sl__disk_iov_advance(&iov, &iov_count, (size_t)n);
    }
    return total;
}

int64_t sl__disk_pread_full(int fd, uint8_t *buf, size_t len, int64_t offset)
{
    SL_ASSERT(buf != NULL || len == 0);
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)(offset + (int64_t)done));
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

int sl__disk_meta_open(sl_disk_t *disk, const char *path, int flags)
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

int sl__disk_meta_close(sl_disk_t *disk, int fd)
{
    (void)disk; /* plain syscall */
    /* Linux releases the fd even when close reports EINTR: never retry. */
    return close(fd) == 0 ? 0 : -errno;
}

int64_t sl__disk_meta_pread_sync(sl_disk_t *disk, int fd, void *buf, size_t len, int64_t offset)
{
    (void)disk; /* plain syscall */
    return offset < 0 ? -EINVAL : sl__disk_pread_full(fd, buf, len, offset);
}

int64_t sl__disk_meta_pwrite_sync(sl_disk_t *disk, int fd, const void *buf, size_t len,
                                  int64_t offset)
{
    (void)disk; /* plain syscall */
    if (len == 0)
        return 0;
    struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
    return offset < 0 ? -EINVAL : sl__disk_pwritev_all(fd, &iov, 1, offset);
}

int sl__disk_meta_ftruncate(sl_disk_t *disk, int fd, int64_t size)
{
    (void)disk; /* plain syscall */
    return ftruncate(fd, (off_t)size) == 0 ? 0 : -errno;
}

int64_t sl__disk_meta_file_size(sl_disk_t *disk, int fd)
{
    (void)disk; /* plain syscall */
    struct stat st;
    return fstat(fd, &st) == 0 ? (int64_t)st.st_size : -errno;
}

int sl__disk_meta_fsync(sl_disk_t *disk, int fd)
{
    (void)disk; /* plain syscall */
    return fsync(fd) == 0 ? 0 : -errno;
}

int sl__disk_meta_mkdir(sl_disk_t *disk, const char *path)
{
    (void)disk; /* plain syscall */
    return mkdir(path, 0755) == 0 ? 0 : -errno;
}

int sl__disk_meta_rename(sl_disk_t *disk, const char *from, const char *to)
{
    (void)disk; /* plain syscall */
    return rename(from, to) == 0 ? 0 : -errno;
}

int sl__disk_meta_unlink(sl_disk_t *disk, const char *path)
{
    (void)disk; /* plain syscall */
    return unlink(path) == 0 ? 0 : -errno;
}

int sl__disk_meta_rmdir(sl_disk_t *disk, const char *path)
{
    (void)disk; /* plain syscall */
    return rmdir(path) == 0 ? 0 : -errno;
}

int sl__disk_meta_list_dir(sl_disk_t *disk, const char *path, sl_disk_list_cb cb, void *data)
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

int sl__disk_meta_fsync_dir(sl_disk_t *disk, const char *path)
{
    (void)disk; /* plain syscall */
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

int sl__disk_meta_exists(sl_disk_t *disk, const char *path)
{
    (void)disk; /* plain syscall */
    struct stat st;
    if (stat(path, &st) == 0)
        return 1;
    return errno == ENOENT ? 0 : -errno;
}
