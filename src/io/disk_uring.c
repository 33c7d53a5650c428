/* disk_uring: the io_uring disk backend. pwritev, fdatasync and pread become SQEs on one ring per
 * loop; the SQEs queued during a loop iteration go to the kernel in one io_uring_enter just before
 * the loop polls (uv_prepare_t), and the ring's own fd, watched by a uv_poll_t, wakes the loop to
 * dispatch completions on the loop thread. Metadata ops are the shared syscalls of disk_meta.c.
 * Invariants: a completion never runs inside the submitting call (it comes only from the poll
 * callback); a pwritev completes only with every byte written or an error (short writes are
 * resubmitted for the rest); at most SL_DISK_URING_ENTRIES ops are in the kernel, so an SQE is
 * always free and the completion queue (twice as large) never overflows. */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io_int.h"

/* Appends queued in one loop iteration that continue each other in the same file (the Produce
 * requests of one read, each a small batch under linger.ms=0) leave as one IORING_OP_WRITEV: ext4
 * cannot take a buffered write without blocking, so the kernel hands every write SQE to an io-wq
 * worker thread, and at 100,000 small batches a second those hand-offs were most of the broker's
 * CPU (docs/performance.md, "Cost per MiB"). A merge holds at most this many writes and iovecs. */
#define MERGE_OPS_MAX 64
#define MERGE_IOV_MAX 256
#define MERGES_MAX 32

typedef struct merge {
    sl_disk_op_t *ops[MERGE_OPS_MAX]; /* in offset order */
    int ops_count;
    struct iovec iov[MERGE_IOV_MAX];
    int iov_count;
    struct merge *next_free;
} merge_t;

/* An SQE's user data is an op, or a merge tagged with the low bit (both are word-aligned). */
#define MERGE_TAG ((uintptr_t)1)

typedef struct {
    uv_loop_t *loop;
    struct io_uring ring;
    uv_poll_t poll;       /* the ring's fd: readable while completions wait to be reaped */
    uv_prepare_t prepare; /* active while SQEs wait to be submitted */
    uv_idle_t retry;      /* active while a failed submit left SQEs: the loop must not block */
    unsigned in_kernel;   /* ops holding an SQE (queued or submitted), not yet reaped */
    unsigned sqes_unsubmitted;
    sl_disk_op_t *wait_head, *wait_tail; /* ops beyond SL_DISK_URING_ENTRIES, in FIFO order */
    /* The newest SQE queued since the last submit, while it is a write another write may join:
     * the op it was made for, or the merge it became. */
    struct io_uring_sqe *tail_sqe;
    sl_disk_op_t *tail_op;
    merge_t *tail_merge;
    merge_t merges[MERGES_MAX];
    merge_t *merges_free;
    uint64_t writes_merged; /* writes that joined an earlier one's SQE (tests) */
    int handles_open;
    int dispatch_depth; /* > 0 while reap runs callbacks (deinit may be called from one) */
    bool closing;
    bool teardown_pending; /* deinit ran inside a callback: reap tears down when it unwinds */
    sl__disk_uring_result_hook hook; /* tests only: rewrites a completion's result */
    void *hook_data;
} disk_uring_t;

static void update_poll_ref(disk_uring_t *u)
{
    /* The poll stays started (no epoll_ctl per op) but keeps the loop alive only while ops are
     * outstanding, so an idle backend never holds uv_run open. */
    if (u->in_kernel > 0 || u->wait_head != NULL)
        uv_ref((uv_handle_t *)&u->poll);
    else
        uv_unref((uv_handle_t *)&u->poll);
}

static void prepare_submit(uv_prepare_t *prepare);

static size_t iov_bytes(const struct iovec *iov, int count)
{
    size_t n = 0;
    for (int i = 0; i < count; i++)
        n += iov[i].iov_len;
    return n;
}

static int64_t op_end(const sl_disk_op_t *op)
{
    return op->priv_offset + (int64_t)iov_bytes(op->priv_iov, op->priv_iov_count);
}

/* Adds a fresh write to the newest queued SQE when that is a write of the same file ending where
 * this one starts (and has not reached the kernel: SQEs are read at submit). */
static bool merge_write(disk_uring_t *u, sl_disk_op_t *op)
{
    if (u->tail_sqe == NULL || op->priv_result != 0)
        return false;
    merge_t *m = u->tail_merge;
    sl_disk_op_t *last = m != NULL ? m->ops[m->ops_count - 1] : u->tail_op;
    if (last->priv_fd != op->priv_fd || op_end(last) != op->priv_offset)
        return false;
    if (m == NULL) {
        if (u->merges_free == NULL)
            return false;
        m = u->merges_free;
        u->merges_free = m->next_free;
        m->ops[0] = last;
        m->ops_count = 1;
        memcpy(m->iov, last->priv_iov, (size_t)last->priv_iov_count * sizeof m->iov[0]);
        m->iov_count = last->priv_iov_count;
        u->tail_merge = m;
        io_uring_sqe_set_data(u->tail_sqe, (void *)((uintptr_t)m | MERGE_TAG));
    }
    if (m->ops_count == MERGE_OPS_MAX || m->iov_count + op->priv_iov_count > MERGE_IOV_MAX)
        return false;
    m->ops[m->ops_count++] = op;
    memcpy(m->iov + m->iov_count, op->priv_iov, (size_t)op->priv_iov_count * sizeof m->iov[0]);
    m->iov_count += op->priv_iov_count;
    io_uring_prep_writev(u->tail_sqe, m->ops[0]->priv_fd, m->iov, (unsigned)m->iov_count,
                         (uint64_t)m->ops[0]->priv_offset);
    io_uring_sqe_set_data(u->tail_sqe, (void *)((uintptr_t)m | MERGE_TAG));
    u->in_kernel++;
    u->writes_merged++;
    return true;
}

/* Fills an SQE for op's next (or remaining) transfer, or adds a write to the previous SQE's. A free
 * SQE exists: in_kernel (ops, merged or not) < entries. */
static void queue_sqe(disk_uring_t *u, sl_disk_op_t *op)
{
    SL_ASSERT(u->in_kernel < SL_DISK_URING_ENTRIES);
    if (op->priv_kind == SL__DISK_OP_PWRITEV && merge_write(u, op))
        return;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    SL_ASSERT(sqe != NULL); /* guaranteed by the bound on in_kernel */
    u->tail_sqe = NULL;
    u->tail_merge = NULL;
    switch (op->priv_kind) {
    case SL__DISK_OP_PWRITEV:
        io_uring_prep_writev(sqe, op->priv_fd, op->priv_iov, (unsigned)op->priv_iov_count,
                             (uint64_t)op->priv_offset);
        if (op->priv_result == 0) { /* a fresh write: later ones may join it */
            u->tail_sqe = sqe;
            u->tail_op = op;
        }
        break;
    case SL__DISK_OP_FDATASYNC:
        io_uring_prep_fsync(sqe, op->priv_fd, IORING_FSYNC_DATASYNC);
        break;
    default:
        SL_ASSERT(op->priv_kind == SL__DISK_OP_PREAD);
        io_uring_prep_read(sqe, op->priv_fd, (uint8_t *)op->priv_iov[0].iov_base + op->priv_result,
                           (unsigned)(op->priv_iov[0].iov_len - (size_t)op->priv_result),
                           (uint64_t)(op->priv_offset + op->priv_result));
        break;
    }
    io_uring_sqe_set_data(sqe, op);
    u->in_kernel++;
    if (u->sqes_unsubmitted++ == 0)
        uv_prepare_start(&u->prepare, prepare_submit);
}

/* Hands op to the kernel, or queues it behind the others when the ring is full. */
static void enqueue(disk_uring_t *u, sl_disk_op_t *op)
{
    if (u->in_kernel < SL_DISK_URING_ENTRIES && u->wait_head == NULL) {
        queue_sqe(u, op);
        return;
    }
    op->priv_next = NULL;
    if (u->wait_tail != NULL)
        u->wait_tail->priv_next = op;
    else
        u->wait_head = op;
    u->wait_tail = op;
}

static void admit_waiting(disk_uring_t *u)
{
    while (u->wait_head != NULL && (u->closing || u->in_kernel < SL_DISK_URING_ENTRIES)) {
        sl_disk_op_t *op = u->wait_head;
        u->wait_head = op->priv_next;
        if (u->wait_head == NULL)
            u->wait_tail = NULL;
        if (u->closing) {
            op->priv_cb(op, -ECANCELED, op->priv_data);
            continue;
        }
        queue_sqe(u, op);
    }
}

static void retry_noop(uv_idle_t *idle)
{
    (void)idle; /* the prepare that runs next submits */
}

static void submit_queued(disk_uring_t *u)
{
    if (u->sqes_unsubmitted == 0)
        return;
    int rc;
    do
        rc = io_uring_submit(&u->ring);
    while (rc == -EINTR);
    if (rc < 0) {
        /* -EAGAIN/-EBUSY: the kernel is short of memory. Nothing else is expected from a ring
         * this backend set up. The SQEs stay queued for the next loop iteration (below). */
        SL_LOG_RATELIMITED(SL_LOG_WARN, "io", "io_uring submit failed err=%s (retrying)",
                           sl_strerror(rc));
        rc = 0;
    }
    SL_ASSERT((unsigned)rc <= u->sqes_unsubmitted);
    u->sqes_unsubmitted -= (unsigned)rc;
    u->tail_sqe = NULL; /* the kernel may have read the SQEs: nothing joins them any more */
    u->tail_merge = NULL;
    if (u->sqes_unsubmitted == 0) {
        uv_prepare_stop(&u->prepare);
        uv_idle_stop(&u->retry);
    } else {
        /* Without completions coming the loop could block and the prepare never run again: an
         * active idle handle makes the next poll return at once. */
        uv_idle_start(&u->retry, retry_noop);
    }
}

static void prepare_submit(uv_prepare_t *prepare)
{
    disk_uring_t *u = prepare->data;
    submit_queued(u);
}

static void complete_or_continue_unhooked(disk_uring_t *u, sl_disk_op_t *op, int64_t res);

/* One completion: finishes op, or resubmits what is left of a short transfer. */
static void complete_or_continue(disk_uring_t *u, sl_disk_op_t *op, int64_t res)
{
    if (u->hook != NULL)
        res = u->hook(op, res, u->hook_data);
    complete_or_continue_unhooked(u, op, res);
}

static void complete_or_continue_unhooked(disk_uring_t *u, sl_disk_op_t *op, int64_t res)
{
    if (res == -EINTR || res == -EAGAIN) {
        enqueue(u, op); /* the same transfer again */
        return;
    }
    if (res >= 0 && op->priv_kind == SL__DISK_OP_PWRITEV) {
        if (res == 0) {
            res = -EIO; /* no progress: an I/O error rather than a spin (as disk_sync.c) */
        } else {
            op->priv_result += res;
            op->priv_offset += res;
            struct iovec *iov = op->priv_iov;
            int count = op->priv_iov_count;
            sl__disk_iov_advance(&iov, &count, (size_t)res);
            if (count > 0) { /* short write: the rest goes out from the front of priv_iov */
                memmove(op->priv_iov, iov, (size_t)count * sizeof *iov);
                op->priv_iov_count = count;
                enqueue(u, op);
                return;
            }
            res = op->priv_result;
        }
    } else if (res > 0 && op->priv_kind == SL__DISK_OP_PREAD) {
        op->priv_result += res;
        if ((size_t)op->priv_result < op->priv_iov[0].iov_len) {
            enqueue(u, op); /* fewer bytes than asked and not at end of file: read on */
            return;
        }
        res = op->priv_result;
    } else if (res == 0 && op->priv_kind == SL__DISK_OP_PREAD) {
        res = op->priv_result; /* end of file */
    } else if (op->priv_kind == SL__DISK_OP_FDATASYNC) {
        op->duration_ns = sl_clock_monotonic_ns() - op->priv_started_ns;
    }
    op->priv_cb(op, res, op->priv_data);
}

/* A merged write's completion: the writes it covered in full complete (in offset order); one cut
 * by a short write continues with its rest, and the ones after it are queued again. -EINTR and
 * -EAGAIN queue them all again; any other error, or no progress at all (-EIO, as for one write),
 * goes to every one of them (the log takes its dir offline at the first; nothing is retried). */
static void complete_merge(disk_uring_t *u, merge_t *m, int64_t res)
{
    SL_ASSERT(u->in_kernel >= (unsigned)m->ops_count);
    u->in_kernel -= (unsigned)m->ops_count;
    if (u->hook != NULL)
        res = u->hook(m->ops[0], res, u->hook_data);
    sl_disk_op_t *ops[MERGE_OPS_MAX];
    int count = m->ops_count;
    memcpy(ops, m->ops, (size_t)count * sizeof ops[0]);
    m->next_free = u->merges_free; /* free before the callbacks: they may queue new writes */
    u->merges_free = m;
    if (res == 0)
        res = -EIO;
    for (int i = 0; i < count; i++) {
        sl_disk_op_t *op = ops[i];
        if (res == -EINTR || res == -EAGAIN) {
            enqueue(u, op);
            continue;
        }
        if (res < 0) {
            op->priv_cb(op, res, op->priv_data);
            continue;
        }
        int64_t len = (int64_t)iov_bytes(op->priv_iov, op->priv_iov_count);
        if (res == 0) { /* the short write ended before this one */
            enqueue(u, op);
            continue;
        }
        int64_t mine = SL_MIN(res, len);
        res -= mine;
        complete_or_continue_unhooked(u, op, mine); /* the rest of a cut write is queued again */
    }
}

static void teardown(disk_uring_t *u);

/* Reaps every posted completion. Callbacks may submit new ops (they queue SQEs for the prepare),
 * and may deinit the backend: the ring then goes away only once this walk is done with it. */
static void reap(disk_uring_t *u)
{
    struct io_uring_cqe *cqe;
    u->dispatch_depth++;
    while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
        void *data = io_uring_cqe_get_data(cqe);
        int64_t res = cqe->res;
        io_uring_cqe_seen(&u->ring, cqe);
        SL_ASSERT(data != NULL && u->in_kernel > 0);
        if ((uintptr_t)data & MERGE_TAG) {
            complete_merge(u, (merge_t *)((uintptr_t)data & ~MERGE_TAG), res);
        } else {
            u->in_kernel--;
            complete_or_continue(u, data, res);
        }
        admit_waiting(u);
    }
    u->dispatch_depth--;
    if (u->teardown_pending && u->dispatch_depth == 0) {
        teardown(u);
        return;
    }
    update_poll_ref(u);
}

/* The ring's fd is readable while its completion queue holds entries (level-triggered: reaping
 * them all is what clears it), so no eventfd, and no read(2) per wake-up, is needed. */
static void ring_readable(uv_poll_t *poll, int status, int events)
{
    (void)events; /* only UV_READABLE is watched */
    disk_uring_t *u = poll->data;
    if (status < 0)
        SL_LOG_RATELIMITED(SL_LOG_WARN, "io", "io_uring poll err=%s", sl_strerror(status));
    reap(u);
}

static int submit(sl_disk_t *disk, sl_disk_op_t *op)
{
    disk_uring_t *u = disk->impl;
    if (u->closing)
        return SL_ECLOSED;
    enqueue(u, op);
    update_poll_ref(u);
    return 0;
}

static int uring_pwritev(sl_disk_t *disk, sl_disk_op_t *op, int fd, const struct iovec *iov,
                         int iov_count, int64_t offset, sl_disk_cb cb, void *data)
{
    int rc = sl__disk_op_fill(disk, op, SL__DISK_OP_PWRITEV, fd, iov, iov_count, offset, cb, data);
    return rc < 0 ? rc : submit(disk, op);
}

static int uring_fdatasync(sl_disk_t *disk, sl_disk_op_t *op, int fd, sl_disk_cb cb, void *data)
{
    int rc = sl__disk_op_fill(disk, op, SL__DISK_OP_FDATASYNC, fd, NULL, 0, 0, cb, data);
    return rc < 0 ? rc : submit(disk, op);
}

static int uring_pread(sl_disk_t *disk, sl_disk_op_t *op, int fd, void *buf, size_t len,
                       int64_t offset, sl_disk_cb cb, void *data)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    int rc = sl__disk_op_fill(disk, op, SL__DISK_OP_PREAD, fd, &iov, 1, offset, cb, data);
    return rc < 0 ? rc : submit(disk, op);
}

static const sl_disk_ops_t disk_uring_ops = {
    .name = "io_uring",
    .pwritev = uring_pwritev,
    .fdatasync = uring_fdatasync,
    .pread = uring_pread,
    SL__DISK_META_OPS,
};

/* The kernel must support every opcode this backend issues (io_uring_get_probe: Linux 5.6+). */
static int check_opcodes(struct io_uring *ring, char *reason, size_t reason_cap)
{
    struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
    if (probe == NULL) {
        snprintf(reason, reason_cap, "io_uring opcode probe unsupported (kernel before 5.6)");
        return -ENOSYS;
    }
    static const struct {
        int opcode;
        const char *name;
    } needed[] = {
        {IORING_OP_WRITEV, "WRITEV"}, {IORING_OP_FSYNC, "FSYNC"}, {IORING_OP_READ, "READ"}};
    int rc = 0;
    for (size_t i = 0; i < sizeof needed / sizeof needed[0] && rc == 0; i++) {
        if (!io_uring_opcode_supported(probe, needed[i].opcode)) {
            snprintf(reason, reason_cap, "io_uring opcode IORING_OP_%s unsupported",
                     needed[i].name);
            rc = -ENOTSUP;
        }
    }
    io_uring_free_probe(probe); /* liburing's own allocation */
    return rc;
}

static void handle_closed(uv_handle_t *handle)
{
    disk_uring_t *u = handle->data;
    if (--u->handles_open > 0)
        return;
    sl_free(u);
}

static int setup_ring(disk_uring_t *u, char *reason, size_t reason_cap)
{
    int rc = io_uring_queue_init(SL_DISK_URING_ENTRIES, &u->ring, 0);
    if (rc < 0) {
        snprintf(reason, reason_cap, "io_uring_setup failed: %s%s", sl_strerror(rc),
                 rc == -EPERM || rc == -ENOSYS
                     ? " (a seccomp profile or kernel.io_uring_disabled denies it)"
                     : "");
        return rc;
    }
    if (!(u->ring.features & IORING_FEAT_NODROP)) {
        snprintf(reason, reason_cap, "io_uring without IORING_FEAT_NODROP (kernel before 5.5)");
        rc = -ENOTSUP;
    }
    if (rc == 0)
        rc = check_opcodes(&u->ring, reason, reason_cap);
    if (rc < 0)
        io_uring_queue_exit(&u->ring);
    return rc;
}

int sl_disk_uring_init(uv_loop_t *loop, sl_disk_t *out, char *reason, size_t reason_cap)
{
    SL_ASSERT(loop != NULL && out != NULL);
    SL_ASSERT(reason != NULL && reason_cap > 0);
    disk_uring_t *u = sl_calloc(1, sizeof *u);
    if (u == NULL) {
        snprintf(reason, reason_cap, "out of memory");
        return -ENOMEM;
    }
    u->loop = loop;
    for (int i = MERGES_MAX; i-- > 0;) {
        u->merges[i].next_free = u->merges_free;
        u->merges_free = &u->merges[i];
    }
    int rc = setup_ring(u, reason, reason_cap);
    if (rc < 0) {
        sl_free(u);
        return rc;
    }
    /* uv_poll_init tries the fd with epoll first; a failure leaves no handle to close. */
    rc = uv_poll_init(loop, &u->poll, u->ring.ring_fd);
    if (rc != 0) {
        snprintf(reason, reason_cap, "cannot poll the io_uring fd: %s", uv_strerror(rc));
        io_uring_queue_exit(&u->ring);
        sl_free(u);
        return rc;
    }
    /* From here on nothing fails. */
    rc = uv_poll_start(&u->poll, UV_READABLE, ring_readable);
    SL_ASSERT(rc == 0); /* an initialized poll handle on an open fd */
    uv_prepare_init(loop, &u->prepare);
    uv_idle_init(loop, &u->retry);
    u->prepare.data = u;
    u->retry.data = u;
    u->poll.data = u;
    u->handles_open = 3;
    update_poll_ref(u);
    out->ops = &disk_uring_ops;
    out->impl = u;
    return 0;
}

/* Frees the ring now and the loop handles (and the state) in their close callbacks. */
static void teardown(disk_uring_t *u)
{
    SL_ASSERT(u->closing);
    SL_ASSERT(u->handles_open == 3);
    u->teardown_pending = false;
    uv_poll_stop(&u->poll); /* out of epoll before the ring's fd closes */
    io_uring_queue_exit(&u->ring);
    uv_close((uv_handle_t *)&u->prepare, handle_closed);
    uv_close((uv_handle_t *)&u->retry, handle_closed);
    uv_close((uv_handle_t *)&u->poll, handle_closed);
}

void sl_disk_uring_deinit(sl_disk_t *disk)
{
    if (disk == NULL || disk->impl == NULL)
        return;
    SL_ASSERT(disk->ops == &disk_uring_ops);
    disk_uring_t *u = disk->impl;
    SL_ASSERT(!u->closing);
    u->closing = true; /* from here on submissions (from the callbacks below) get SL_ECLOSED */
    admit_waiting(u);  /* ops the kernel never saw: -ECANCELED */
    /* The kernel may be reading the callers' buffers: wait until it is done with every op. */
    while (u->in_kernel > 0) {
        submit_queued(u);
        struct io_uring_cqe *cqe;
        int rc = io_uring_wait_cqe(&u->ring, &cqe);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN) {
            SL_LOG(SL_LOG_ERROR, "io", "io_uring wait at close failed err=%s", sl_strerror(rc));
            break; /* nothing to wait on: the ring cannot make progress */
        }
        reap(u);
        admit_waiting(u);
    }
    disk->impl = NULL;
    disk->ops = NULL;
    if (u->dispatch_depth > 0)
        u->teardown_pending = true; /* called from a completion: reap finishes the walk first */
    else
        teardown(u);
}

void sl__disk_uring_set_result_hook(sl_disk_t *disk, sl__disk_uring_result_hook hook, void *data)
{
    SL_ASSERT(disk->ops == &disk_uring_ops);
    disk_uring_t *u = disk->impl;
    u->hook = hook;
    u->hook_data = data;
}

uint64_t sl__disk_uring_writes_merged(const sl_disk_t *disk)
{
    SL_ASSERT(disk->ops == &disk_uring_ops);
    const disk_uring_t *u = disk->impl;
    return u->writes_merged;
}
