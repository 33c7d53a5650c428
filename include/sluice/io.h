/* io: the disk seam. Every byte the log store reads or writes goes through an sl_disk_t, a vtable
 * plus its backend state: disk_uring.c (io_uring, completions through an eventfd on the loop) or
 * disk_sync.c (pwritev/fdatasync/pread on libuv's thread pool) in production, chosen by probe.c;
 * tests/unit/support/sim_disk.c in tests.
 * Invariants: an async op that returns 0 calls its callback exactly once, on the loop thread, never
 * inside the call; one that returns an error never calls it. The caller owns each sl_disk_op_t and
 * keeps it (and the buffers it names) alive and untouched until the callback has run. */
#ifndef SLUICE_IO_H
#define SLUICE_IO_H

#include <sys/uio.h>
#include <uv.h>

#include "sluice/core.h"

/* Most iovecs one pwritev may carry (the log writes one per batch). */
#define SL_DISK_IOV_MAX 16
/* Submission queue entries of the io_uring backend's ring, and so the most ops in the kernel at
 * once (the completion queue is twice as large, so it never overflows); further ops wait in a
 * FIFO inside the backend until completions make room. */
#define SL_DISK_URING_ENTRIES 256

typedef struct sl_disk sl_disk_t;
typedef struct sl_disk_op sl_disk_op_t;

/* result: bytes transferred (pwritev: always all of them) or 0 (fdatasync), or -errno. */
typedef void (*sl_disk_cb)(sl_disk_op_t *op, int64_t result, void *data);

/* Caller-owned and embedded in the caller's objects. Every field is private to the backend. */
struct sl_disk_op {
    union {
        uv_work_t work;  /* disk_sync.c; disk_uring.c keeps the bytes done in priv_result */
        void *words[16]; /* room for other backends (sim_disk queues through next) */
    } priv_u;
    sl_disk_t *priv_disk;
    sl_disk_op_t *priv_next;
    int priv_kind;
    int priv_fd;
    struct iovec priv_iov[SL_DISK_IOV_MAX];
    int priv_iov_count;
    int64_t priv_offset;
    int64_t priv_result;
    sl_disk_cb priv_cb;
    void *priv_data;
    uint64_t priv_started_ns; /* an fdatasync's submission (disk_meta.c) */
    /* Set by the backend before the callback runs: how long the device took (fdatasync only;
     * the fsync latency histogram of /metrics). 0 when the backend does not measure. */
    uint64_t duration_ns;
};

/* Flags for open(): the file is always opened read-write unless SL_DISK_OPEN_READONLY. */
enum {
    SL_DISK_OPEN_CREATE = 1,   /* create if missing */
    SL_DISK_OPEN_EXCL = 2,     /* with CREATE: fail -EEXIST if it exists */
    SL_DISK_OPEN_TRUNCATE = 4, /* truncate to 0 bytes */
    SL_DISK_OPEN_READONLY = 8, /* read only; also how a directory is opened (for async syncs) */
};

/* list_dir calls this once per entry other than "." and ".."; a nonzero return stops the listing
 * and is returned by list_dir. */
typedef int (*sl_disk_list_cb)(const char *name, void *data);

typedef struct sl_disk_ops {
    const char *name; /* "sync", "io_uring", "sim": logged at start-up */
    /* ---- async data path: completion on the loop thread ---- */
    int (*pwritev)(sl_disk_t *disk, sl_disk_op_t *op, int fd, const struct iovec *iov,
                   int iov_count, int64_t offset, sl_disk_cb cb, void *data);
    int (*fdatasync)(sl_disk_t *disk, sl_disk_op_t *op, int fd, sl_disk_cb cb, void *data);
    int (*pread)(sl_disk_t *disk, sl_disk_op_t *op, int fd, void *buf, size_t len, int64_t offset,
                 sl_disk_cb cb, void *data);
    /* ---- synchronous metadata ops (start-up, roll, retention, recovery): 0/fd/bytes or -errno */
    int (*open)(sl_disk_t *disk, const char *path, int flags);
    int (*close)(sl_disk_t *disk, int fd);
    /* Returns bytes read: fewer than len only at end of file. */
    int64_t (*pread_sync)(sl_disk_t *disk, int fd, void *buf, size_t len, int64_t offset);
    /* Writes all len bytes or fails. */
    int64_t (*pwrite_sync)(sl_disk_t *disk, int fd, const void *buf, size_t len, int64_t offset);
    int (*ftruncate)(sl_disk_t *disk, int fd, int64_t size);
    int64_t (*file_size)(sl_disk_t *disk, int fd);
    int (*fsync)(sl_disk_t *disk, int fd);
    int (*mkdir)(sl_disk_t *disk, const char *path);
    int (*rename)(sl_disk_t *disk, const char *from, const char *to);
    int (*unlink)(sl_disk_t *disk, const char *path);
    int (*rmdir)(sl_disk_t *disk, const char *path);
    int (*list_dir)(sl_disk_t *disk, const char *path, sl_disk_list_cb cb, void *data);
    int (*fsync_dir)(sl_disk_t *disk, const char *path);
    /* 1 when path exists, 0 when it does not, -errno on another error. */
    int (*exists)(sl_disk_t *disk, const char *path);
} sl_disk_ops_t;

struct sl_disk {
    const sl_disk_ops_t *ops;
    void *impl;
};

/* The production backend. Borrows loop (it must outlive the disk). The caller runs the loop until
 * every op has completed before sl_disk_sync_deinit. */
int sl_disk_sync_init(uv_loop_t *loop, sl_disk_t *out);
void sl_disk_sync_deinit(sl_disk_t *disk);

/* The io_uring backend: one ring per loop, its eventfd watched by a uv_poll_t; SQEs queued during a
 * loop iteration are submitted together just before the loop polls (uv_prepare_t), completions are
 * dispatched from the poll callback. Borrows loop. On failure returns -errno and writes why into
 * reason (one line), e.g. io_uring_setup denied by seccomp or a missing opcode. */
int sl_disk_uring_init(uv_loop_t *loop, sl_disk_t *out, char *reason, size_t reason_cap);
/* Ops still in flight finish first: the call waits for the kernel and runs their callbacks (with
 * the kernel's results) before it returns; ops not yet handed to the kernel complete with
 * -ECANCELED, and ops submitted from those callbacks are refused (SL_ECLOSED). The ring's loop
 * handles close asynchronously: run the loop once more before uv_loop_close. */
void sl_disk_uring_deinit(sl_disk_t *disk);

/* ---- choosing a backend (probe.c): storage.io.backend ---- */
typedef enum {
    SL_DISK_BACKEND_AUTO,     /* io_uring when the kernel and the seccomp profile allow it */
    SL_DISK_BACKEND_IO_URING, /* io_uring or fail */
    SL_DISK_BACKEND_SYNC,     /* the thread pool */
} sl_disk_backend_t;

/* What sl_disk_init chose and why, for the start-up log line and the metrics. */
typedef struct {
    const char *backend; /* "io_uring" or "sync" (static string) */
    char reason[192];    /* one line, no newline */
} sl_disk_choice_t;

/* Opens the backend want asks for. With AUTO it probes io_uring (kernel.io_uring_disabled,
 * io_uring_setup, the opcodes the log uses) and falls back to sync. With IO_URING a failed probe
 * is an error (-errno; choice->reason says why). Borrows loop. */
int sl_disk_init(uv_loop_t *loop, sl_disk_backend_t want, sl_disk_t *out, sl_disk_choice_t *choice);
/* Deinits whichever backend sl_disk_init opened (see the backend's own deinit). */
void sl_disk_deinit(sl_disk_t *disk);

/* Thin wrappers so callers read as sl_disk_<verb>(disk, ...). */
static inline int sl_disk_pwritev(sl_disk_t *d, sl_disk_op_t *op, int fd, const struct iovec *iov,
                                  int iov_count, int64_t offset, sl_disk_cb cb, void *data)
{
    return d->ops->pwritev(d, op, fd, iov, iov_count, offset, cb, data);
}
static inline int sl_disk_fdatasync(sl_disk_t *d, sl_disk_op_t *op, int fd, sl_disk_cb cb,
                                    void *data)
{
    return d->ops->fdatasync(d, op, fd, cb, data);
}
static inline int sl_disk_pread(sl_disk_t *d, sl_disk_op_t *op, int fd, void *buf, size_t len,
                                int64_t offset, sl_disk_cb cb, void *data)
{
    return d->ops->pread(d, op, fd, buf, len, offset, cb, data);
}

#endif
