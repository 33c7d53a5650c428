/* io internals: the synchronous half every backend shares (disk_meta.c): the metadata ops as plain
 * syscalls, and the loops that finish short transfers. A backend's vtable points its metadata
 * entries at these, so only the async data path differs between backends. */
#ifndef SLUICE_IO_INT_H
#define SLUICE_IO_INT_H

#include "sluice/io.h"

/* The async op kinds, in sl_disk_op_t.priv_kind. */
enum { SL__DISK_OP_PWRITEV = 1, SL__DISK_OP_FDATASYNC, SL__DISK_OP_PREAD };

/* Checks an async op's arguments and records them in op's private fields, result 0 (the iovec
 * array is copied, since the caller's may live on its stack; the bytes are not). pwritev takes 1 to
 * SL_DISK_IOV_MAX iovecs, pread exactly one (its buffer, at most 4 GiB), fdatasync none.
 * Returns 0 or -EINVAL. */
int sl__disk_op_fill(sl_disk_t *disk, sl_disk_op_t *op, int kind, int fd, const struct iovec *iov,
                     int iov_count, int64_t offset, sl_disk_cb cb, void *data);

/* Writes every byte of iov (modified in place as it advances) at offset: bytes written or -errno.
 */
int64_t sl__disk_pwritev_all(int fd, struct iovec *iov, int iov_count, int64_t offset);
/* Reads len bytes at offset, fewer only at end of file: bytes read or -errno. */
int64_t sl__disk_pread_full(int fd, uint8_t *buf, size_t len, int64_t offset);
/* Drops the fully transferred iovecs at the front of iov and trims the first partial one. */
void sl__disk_iov_advance(struct iovec **iov, int *iov_count, size_t bytes);

int sl__disk_meta_open(sl_disk_t *disk, const char *path, int flags);
int sl__disk_meta_close(sl_disk_t *disk, int fd);
int64_t sl__disk_meta_pread_sync(sl_disk_t *disk, int fd, void *buf, size_t len, int64_t offset);
int64_t sl__disk_meta_pwrite_sync(sl_disk_t *disk, int fd, const void *buf, size_t len,
                                  int64_t offset);
int sl__disk_meta_ftruncate(sl_disk_t *disk, int fd, int64_t size);
int64_t sl__disk_meta_file_size(sl_disk_t *disk, int fd);
int sl__disk_meta_fsync(sl_disk_t *disk, int fd);
int sl__disk_meta_mkdir(sl_disk_t *disk, const char *path);
int sl__disk_meta_rename(sl_disk_t *disk, const char *from, const char *to);
int sl__disk_meta_unlink(sl_disk_t *disk, const char *path);
int sl__disk_meta_rmdir(sl_disk_t *disk, const char *path);
int sl__disk_meta_list_dir(sl_disk_t *disk, const char *path, sl_disk_list_cb cb, void *data);
int sl__disk_meta_fsync_dir(sl_disk_t *disk, const char *path);
int sl__disk_meta_exists(sl_disk_t *disk, const char *path);

/* Tests only: called with every io_uring completion before the backend looks at it; returns the
 * result to use instead (a short count, -EIO), to inject faults through the real ring. */
typedef int64_t (*sl__disk_uring_result_hook)(sl_disk_op_t *op, int64_t result, void *data);
void sl__disk_uring_set_result_hook(sl_disk_t *disk, sl__disk_uring_result_hook hook, void *data);
/* Tests: how many writes joined an earlier write's SQE (merged appends). */
uint64_t sl__disk_uring_writes_merged(const sl_disk_t *disk);

/* The metadata half of an sl_disk_ops_t initializer, shared by every real-file backend. */
#define SL__DISK_META_OPS                                                                          \
    .open = sl__disk_meta_open, .close = sl__disk_meta_close,                                      \
    .pread_sync = sl__disk_meta_pread_sync, .pwrite_sync = sl__disk_meta_pwrite_sync,              \
    .ftruncate = sl__disk_meta_ftruncate, .file_size = sl__disk_meta_file_size,                    \
    .fsync = sl__disk_meta_fsync, .mkdir = sl__disk_meta_mkdir, .rename = sl__disk_meta_rename,    \
    .unlink = sl__disk_meta_unlink, .rmdir = sl__disk_meta_rmdir,                                  \
    .list_dir = sl__disk_meta_list_dir, .fsync_dir = sl__disk_meta_fsync_dir,                      \
    .exists = sl__disk_meta_exists

#endif
