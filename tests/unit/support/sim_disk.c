/* sim_disk: the in-memory disk for tests (see sim_disk.h). Files are inodes (current bytes + the
 * durable image) named by namespace entries; fds index an inode table. Async ops queue in FIFO
 * order and take effect only when delivered by sim_disk_run*, exactly as a real completion would
 * report them; metadata is durable at once (documented simplification). */
#include "sim_disk.h"

#include <errno.h>
#include <string.h>

#define SIM_FDS_MAX 4096
#define SIM_FD_BASE 3

enum { OP_PWRITEV = 1, OP_FDATASYNC, OP_PREAD };

typedef struct inode {
    uint8_t *data;
    size_t len, cap;
    uint8_t *durable;
    size_t durable_len;
    bool is_dir;
    int refs; /* namespace entries + open fds */
} inode_t;

typedef struct {
    char *path;
    inode_t *ino;
} entry_t;

struct sim_disk {
    entry_t *entries;
    size_t entry_count, entry_cap;
    inode_t *fds[SIM_FDS_MAX];
    sl_disk_op_t *head, *tail;
    size_t pending;
    uint64_t writes, fsyncs;
    uint64_t fail_write_at, fail_fsync_at, tear_write_at; /* absolute counter values, 0 = off */
    int fail_write_err, fail_fsync_err;
    size_t tear_keep;
};

static void ino_unref(inode_t *ino)
{
    if (--ino->refs > 0)
        return;
    sl_free(ino->data);
    sl_free(ino->durable);
    sl_free(ino);
}

static inode_t *ino_new(bool is_dir)
{
    inode_t *ino = sl_calloc(1, sizeof *ino);
    SL_ASSERT(ino != NULL);
    ino->is_dir = is_dir;
    return ino;
}

static void ino_reserve(inode_t *ino, size_t len)
{
    if (len <= ino->cap)
        return;
    size_t cap = ino->cap ? ino->cap : 256;
    while (cap < len)
        cap *= 2;
    ino->data = sl_realloc(ino->data, cap);
    SL_ASSERT(ino->data != NULL);
    ino->cap = cap;
}

static void ino_write(inode_t *ino, const uint8_t *bytes, size_t len, size_t offset)
{
    if (len == 0)
        return;
    ino_reserve(ino, offset + len);
    if (offset > ino->len)
        memset(ino->data + ino->len, 0, offset - ino->len);
    memcpy(ino->data + offset, bytes, len);
    if (offset + len > ino->len)
        ino->len = offset + len;
}

static void ino_sync(inode_t *ino)
{
    sl_free(ino->durable);
    ino->durable = sl_malloc(ino->len ? ino->len : 1);
    SL_ASSERT(ino->durable != NULL);
    if (ino->len)
        memcpy(ino->durable, ino->data, ino->len);
    ino->durable_len = ino->len;
}

static entry_t *lookup(const sim_disk_t *sim, const char *path)
{
    for (size_t i = 0; i < sim->entry_count; i++)
        if (strcmp(sim->entries[i].path, path) == 0)
            return &sim->entries[i];
    return NULL;
}

static void entry_add(sim_disk_t *sim, const char *path, inode_t *ino)
{
    if (sim->entry_count == sim->entry_cap) {
        sim->entry_cap = sim->entry_cap ? sim->entry_cap * 2 : 32;
        sim->entries = sl_realloc(sim->entries, sim->entry_cap * sizeof *sim->entries);
        SL_ASSERT(sim->entries != NULL);
    }
    sim->entries[sim->entry_count].path = sl_strdup(path);
    sim->entries[sim->entry_count].ino = ino;
    sim->entry_count++;
    ino->refs++;
}

static void entry_remove(sim_disk_t *sim, entry_t *e)
{
    sl_free(e->path);
    ino_unref(e->ino);
    *e = sim->entries[--sim->entry_count];
}

static inode_t *fd_get(const sim_disk_t *sim, int fd)
{
    if (fd < SIM_FD_BASE || fd >= SIM_FD_BASE + SIM_FDS_MAX)
        return NULL;
    return sim->fds[fd - SIM_FD_BASE];
}

static sim_disk_t *sim_of(sl_disk_t *disk)
{
    return disk->impl;
}

/* ---- async ops ---- */

static void enqueue(sim_disk_t *sim, sl_disk_op_t *op)
{
    op->priv_next = NULL;
    if (sim->tail)
        sim->tail->priv_next = op;
    else
        sim->head = op;
    sim->tail = op;
    sim->pending++;
}

static int submit(sl_disk_t *disk, sl_disk_op_t *op, int kind, int fd, sl_disk_cb cb, void *data)
{
    SL_ASSERT(cb != NULL);
    op->priv_disk = disk;
    op->priv_kind = kind;
    op->priv_fd = fd;
    op->priv_cb = cb;
    op->priv_data = data;
    op->priv_result = 0;
    op->priv_u.words[0] = NULL; /* fault marker: NULL = none */
    enqueue(sim_of(disk), op);
    return 0;
}

static int sim_pwritev(sl_disk_t *disk, sl_disk_op_t *op, int fd, const struct iovec *iov,
                       int iov_count, int64_t offset, sl_disk_cb cb, void *data)
{
    sim_disk_t *sim = sim_of(disk);
    if (iov_count <= 0 || iov_count > SL_DISK_IOV_MAX || offset < 0)
        return -EINVAL;
    memcpy(op->priv_iov, iov, (size_t)iov_count * sizeof *iov);
    op->priv_iov_count = iov_count;
    op->priv_offset = offset;
    int rc = submit(disk, op, OP_PWRITEV, fd, cb, data);
    sim->writes++;
    if (sim->writes == sim->fail_write_at)
        op->priv_result = sim->fail_write_err;
    if (sim->writes == sim->tear_write_at)
        op->priv_u.words[0] = op; /* torn */
    return rc;
}

static int sim_fdatasync(sl_disk_t *disk, sl_disk_op_t *op, int fd, sl_disk_cb cb, void *data)
{
    sim_disk_t *sim = sim_of(disk);
    int rc = submit(disk, op, OP_FDATASYNC, fd, cb, data);
    sim->fsyncs++;
    if (sim->fsyncs == sim->fail_fsync_at)
        op->priv_result = sim->fail_fsync_err;
    return rc;
}

static int sim_pread(sl_disk_t *disk, sl_disk_op_t *op, int fd, void *buf, size_t len,
                     int64_t offset, sl_disk_cb cb, void *data)
{
    if (offset < 0)
        return -EINVAL;
    op->priv_iov[0] = (struct iovec){.iov_base = buf, .iov_len = len};
    op->priv_iov_count = 1;
    op->priv_offset = offset;
    return submit(disk, op, OP_PREAD, fd, cb, data);
}

static int64_t apply_write(sim_disk_t *sim, sl_disk_op_t *op, inode_t *ino)
{
    size_t keep = op->priv_u.words[0] != NULL ? sim->tear_keep : SIZE_MAX;
    size_t pos = (size_t)op->priv_offset;
    int64_t total = 0;
    for (int i = 0; i < op->priv_iov_count && keep > 0; i++) {
        size_t n = SL_MIN(op->priv_iov[i].iov_len, keep);
        ino_write(ino, op->priv_iov[i].iov_base, n, pos);
        pos += n;
        keep -= n;
        total += (int64_t)n;
    }
    return op->priv_u.words[0] != NULL ? -EIO : total;
}

static int64_t apply(sim_disk_t *sim, sl_disk_op_t *op)
{
    inode_t *ino = fd_get(sim, op->priv_fd);
    if (op->priv_result < 0)
        return op->priv_result; /* injected failure: nothing lands */
    if (ino == NULL)
        return -EBADF;
    switch (op->priv_kind) {
    case OP_PWRITEV:
        return apply_write(sim, op, ino);
    case OP_FDATASYNC:
        ino_sync(ino);
        return 0;
    case OP_PREAD: {
        size_t off = (size_t)op->priv_offset;
        size_t n = off >= ino->len ? 0 : SL_MIN(op->priv_iov[0].iov_len, ino->len - off);
        if (n)
            memcpy(op->priv_iov[0].iov_base, ino->data + off, n);
        return (int64_t)n;
    }
    default:
        return -EINVAL;
    }
}

bool sim_disk_run_at(sim_disk_t *sim, size_t index)
{
    sl_disk_op_t *prev = NULL, *op = sim->head;
    for (size_t i = 0; op != NULL && i < index; i++) {
        prev = op;
        op = op->priv_next;
    }
    if (op == NULL)
        return false;
    if (prev)
        prev->priv_next = op->priv_next;
    else
        sim->head = op->priv_next;
    if (sim->tail == op)
        sim->tail = prev;
    sim->pending--;
    int64_t result = apply(sim, op);
    op->priv_cb(op, result, op->priv_data);
    return true;
}

size_t sim_disk_run(sim_disk_t *sim)
{
    size_t n = 0;
    while (sim_disk_run_at(sim, 0))
        n++;
    return n;
}

size_t sim_disk_pending(const sim_disk_t *sim)
{
    return sim->pending;
}

/* ---- sync ops ---- */

static int sim_open(sl_disk_t *disk, const char *path, int flags)
{
    sim_disk_t *sim = sim_of(disk);
    entry_t *e = lookup(sim, path);
    if (e != NULL && (flags & SL_DISK_OPEN_CREATE) && (flags & SL_DISK_OPEN_EXCL))
        return -EEXIST;
    if (e == NULL && !(flags & SL_DISK_OPEN_CREATE))
        return -ENOENT;
    if (e != NULL && e->ino->is_dir && !(flags & SL_DISK_OPEN_READONLY))
        return -EISDIR;
    int slot = -1;
    for (int i = 0; i < SIM_FDS_MAX && slot < 0; i++)
        if (sim->fds[i] == NULL)
            slot = i;
    if (slot < 0)
        return -EMFILE;
    if (e == NULL) {
        entry_add(sim, path, ino_new(false));
        e = &sim->entries[sim->entry_count - 1];
    }
    if ((flags & SL_DISK_OPEN_TRUNCATE) && !e->ino->is_dir)
        e->ino->len = 0;
    sim->fds[slot] = e->ino;
    e->ino->refs++;
    return slot + SIM_FD_BASE;
}

static int sim_close(sl_disk_t *disk, int fd)
{
    sim_disk_t *sim = sim_of(disk);
    inode_t *ino = fd_get(sim, fd);
    if (ino == NULL)
        return -EBADF;
    sim->fds[fd - SIM_FD_BASE] = NULL;
    ino_unref(ino);
    return 0;
}

static int64_t sim_pread_sync(sl_disk_t *disk, int fd, void *buf, size_t len, int64_t offset)
{
    inode_t *ino = fd_get(sim_of(disk), fd);
    if (ino == NULL)
        return -EBADF;
    if (offset < 0)
        return -EINVAL;
    size_t off = (size_t)offset;
    size_t n = off >= ino->len ? 0 : SL_MIN(len, ino->len - off);
    if (n)
        memcpy(buf, ino->data + off, n);
    return (int64_t)n;
}

static int64_t sim_pwrite_sync(sl_disk_t *disk, int fd, const void *buf, size_t len, int64_t offset)
{
    inode_t *ino = fd_get(sim_of(disk), fd);
    if (ino == NULL || ino->is_dir)
        return -EBADF;
    if (offset < 0)
        return -EINVAL;
    ino_write(ino, buf, len, (size_t)offset);
    return (int64_t)len;
}

static int sim_ftruncate(sl_disk_t *disk, int fd, int64_t size)
{
    inode_t *ino = fd_get(sim_of(disk), fd);
    if (ino == NULL || ino->is_dir)
        return -EBADF;
    if (size < 0)
        return -EINVAL;
    ino_reserve(ino, (size_t)size);
    if ((size_t)size > ino->len)
        memset(ino->data + ino->len, 0, (size_t)size - ino->len);
    ino->len = (size_t)size;
    return 0;
}

static int64_t sim_file_size(sl_disk_t *disk, int fd)
{
    inode_t *ino = fd_get(sim_of(disk), fd);
    return ino == NULL ? -EBADF : (int64_t)ino->len;
}

static int sim_fsync(sl_disk_t *disk, int fd)
{
    inode_t *ino = fd_get(sim_of(disk), fd);
    if (ino == NULL)
        return -EBADF;
    ino_sync(ino);
    return 0;
}

static int sim_mkdir(sl_disk_t *disk, const char *path)
{
    sim_disk_t *sim = sim_of(disk);
    if (lookup(sim, path) != NULL)
        return -EEXIST;
    entry_add(sim, path, ino_new(true));
    return 0;
}

static bool under(const char *path, const char *dir, size_t dir_len)
{
    return strncmp(path, dir, dir_len) == 0 && path[dir_len] == '/';
}

static int sim_rename(sl_disk_t *disk, const char *from, const char *to)
{
    sim_disk_t *sim = sim_of(disk);
    entry_t *e = lookup(sim, from);
    if (e == NULL)
        return -ENOENT;
    entry_t *old = lookup(sim, to);
    if (old != NULL && old != e) {
        if (old->ino->is_dir)
            return -EEXIST; /* keep it simple: no replacing directories */
        entry_remove(sim, old);
    }
    size_t from_len = strlen(from);
    for (size_t i = 0; i < sim->entry_count; i++) {
        entry_t *x = &sim->entries[i];
        if (strcmp(x->path, from) != 0 && !under(x->path, from, from_len))
            continue;
        size_t n = strlen(to) + strlen(x->path + from_len) + 1;
        char *p = sl_malloc(n);
        SL_ASSERT(p != NULL);
        memcpy(p, to, strlen(to));
        memcpy(p + strlen(to), x->path + from_len, strlen(x->path + from_len) + 1);
        sl_free(x->path);
        x->path = p;
    }
    return 0;
}

static int sim_unlink(sl_disk_t *disk, const char *path)
{
    sim_disk_t *sim = sim_of(disk);
    entry_t *e = lookup(sim, path);
    if (e == NULL)
        return -ENOENT;
    if (e->ino->is_dir)
        return -EISDIR;
    entry_remove(sim, e);
    return 0;
}

static int sim_rmdir(sl_disk_t *disk, const char *path)
{
    sim_disk_t *sim = sim_of(disk);
    entry_t *e = lookup(sim, path);
    if (e == NULL)
        return -ENOENT;
    if (!e->ino->is_dir)
        return -ENOTDIR;
    size_t len = strlen(path);
    for (size_t i = 0; i < sim->entry_count; i++)
        if (under(sim->entries[i].path, path, len))
            return -ENOTEMPTY;
    entry_remove(sim, e);
    return 0;
}

static int sim_list_dir(sl_disk_t *disk, const char *path, sl_disk_list_cb cb, void *data)
{
    sim_disk_t *sim = sim_of(disk);
    entry_t *d = lookup(sim, path);
    if (d == NULL)
        return -ENOENT;
    if (!d->ino->is_dir)
        return -ENOTDIR;
    size_t len = strlen(path);
    /* Collect names first: the callback may unlink entries. */
    size_t count = 0;
    char **names = sl_calloc(sim->entry_count + 1, sizeof *names);
    SL_ASSERT(names != NULL);
    for (size_t i = 0; i < sim->entry_count; i++) {
        const char *p = sim->entries[i].path;
        if (under(p, path, len) && strchr(p + len + 1, '/') == NULL)
            names[count++] = sl_strdup(p + len + 1);
    }
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        if (rc == 0)
            rc = cb(names[i], data);
        sl_free(names[i]);
    }
    sl_free(names);
    return rc;
}

static int sim_fsync_dir(sl_disk_t *disk, const char *path)
{
    entry_t *e = lookup(sim_of(disk), path);
    if (e == NULL)
        return -ENOENT;
    return e->ino->is_dir ? 0 : -ENOTDIR;
}

static int sim_exists(sl_disk_t *disk, const char *path)
{
    return lookup(sim_of(disk), path) != NULL;
}

static const sl_disk_ops_t sim_ops = {
    .name = "sim",
    .pwritev = sim_pwritev,
    .fdatasync = sim_fdatasync,
    .pread = sim_pread,
    .open = sim_open,
    .close = sim_close,
    .pread_sync = sim_pread_sync,
    .pwrite_sync = sim_pwrite_sync,
    .ftruncate = sim_ftruncate,
    .file_size = sim_file_size,
    .fsync = sim_fsync,
    .mkdir = sim_mkdir,
    .rename = sim_rename,
    .unlink = sim_unlink,
    .rmdir = sim_rmdir,
    .list_dir = sim_list_dir,
    .fsync_dir = sim_fsync_dir,
    .exists = sim_exists,
};

/* ---- lifecycle, faults, crash ---- */

sim_disk_t *sim_disk_create(void)
{
    sim_disk_t *sim = sl_calloc(1, sizeof *sim);
    SL_ASSERT(sim != NULL);
    return sim;
}

void sim_disk_destroy(sim_disk_t *sim)
{
    if (sim == NULL)
        return;
    for (int i = 0; i < SIM_FDS_MAX; i++)
        if (sim->fds[i] != NULL)
            ino_unref(sim->fds[i]);
    while (sim->entry_count > 0)
        entry_remove(sim, &sim->entries[sim->entry_count - 1]);
    sl_free(sim->entries);
    sl_free(sim);
}

sl_disk_t sim_disk_seam(sim_disk_t *sim)
{
    return (sl_disk_t){.ops = &sim_ops, .impl = sim};
}

void sim_disk_fail_write(sim_disk_t *sim, uint32_t nth, int err)
{
    sim->fail_write_at = sim->writes + nth;
    sim->fail_write_err = err;
}

void sim_disk_fail_fsync(sim_disk_t *sim, uint32_t nth, int err)
{
    sim->fail_fsync_at = sim->fsyncs + nth;
    sim->fail_fsync_err = err;
}

void sim_disk_tear_write(sim_disk_t *sim, uint32_t nth, size_t keep_bytes)
{
    sim->tear_write_at = sim->writes + nth;
    sim->tear_keep = keep_bytes;
}

uint64_t sim_disk_fdatasync_count(const sim_disk_t *sim)
{
    return sim->fsyncs;
}

uint64_t sim_disk_write_count(const sim_disk_t *sim)
{
    return sim->writes;
}

static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

sim_disk_t *sim_disk_crash(const sim_disk_t *sim, int64_t keep_unsynced, uint64_t seed)
{
    sim_disk_t *out = sim_disk_create();
    uint64_t rng = seed;
    for (size_t i = 0; i < sim->entry_count; i++) {
        const inode_t *src = sim->entries[i].ino;
        inode_t *ino = ino_new(src->is_dir);
        if (src->durable_len > 0)
            ino_write(ino, src->durable, src->durable_len, 0);
        size_t extra = src->len > src->durable_len ? src->len - src->durable_len : 0;
        size_t keep = 0;
        if (keep_unsynced == SIM_DISK_TEAR_RANDOM)
            keep = extra ? (size_t)(splitmix(&rng) % (extra + 1)) : 0;
        else if (keep_unsynced > 0)
            keep = SL_MIN(extra, (size_t)keep_unsynced);
        if (keep)
            ino_write(ino, src->data + src->durable_len, keep, src->durable_len);
        ino_sync(ino);
        entry_add(out, sim->entries[i].path, ino);
    }
    return out;
}

int sim_disk_write_file(sim_disk_t *sim, const char *path, const void *bytes, size_t len)
{
    entry_t *e = lookup(sim, path);
    if (e == NULL) {
        entry_add(sim, path, ino_new(false));
        e = &sim->entries[sim->entry_count - 1];
    }
    if (e->ino->is_dir)
        return -EISDIR;
    e->ino->len = 0;
    if (len)
        ino_write(e->ino, bytes, len, 0);
    ino_sync(e->ino);
    return 0;
}

const uint8_t *sim_disk_file(const sim_disk_t *sim, const char *path, size_t *len)
{
    entry_t *e = lookup(sim, path);
    if (e == NULL || e->ino->is_dir)
        return NULL;
    *len = e->ino->len;
    return e->ino->data ? e->ino->data : (const uint8_t *)"";
}

int sim_disk_corrupt(sim_disk_t *sim, const char *path, size_t pos, uint8_t xor_mask)
{
    entry_t *e = lookup(sim, path);
    if (e == NULL || pos >= e->ino->len)
        return -ENOENT;
    e->ino->data[pos] ^= xor_mask;
    ino_sync(e->ino);
    return 0;
}

/* ---- sim_clock ---- */

static uint64_t clock_monotonic(void *data)
{
    return ((sim_clock_t *)data)->monotonic_ms;
}

static int64_t clock_realtime(void *data)
{
    return ((sim_clock_t *)data)->realtime_ms;
}

void sim_clock_init(sim_clock_t *clock, int64_t realtime_ms)
{
    clock->monotonic_ms = 1000;
    clock->realtime_ms = realtime_ms;
    clock->ops = (sl_clock_ops_t){
        .monotonic_ms = clock_monotonic, .realtime_ms = clock_realtime, .data = clock};
}

void sim_clock_advance(sim_clock_t *clock, uint64_t ms)
{
    clock->monotonic_ms += ms;
    clock->realtime_ms += (int64_t)ms;
}
