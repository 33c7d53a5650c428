/* log_dir: one log dir: the clean-shutdown marker, the offline state and group commit.
 * Group commit: at most one round per dir at a time; a round captures each log's contiguous written
 * end, fdatasyncs every segment with unsynced bytes, and when all syncs completed moves each log's
 * synced end to what it captured. Appends written meanwhile wait for the next round.
 * Invariants: once offline, never online again, and no sync or write is issued. */
#include <stdio.h>
#include <string.h>

#include "log_int.h"

static void round_start(sl_log_dir_t *dir);

static int join_path(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s/%s", a, b);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

typedef struct {
    sl_log_dir_t *dir;
    const char *path;
    int rc;
} remove_ctx_t;

static int remove_entry(const char *name, void *data)
{
    remove_ctx_t *ctx = data;
    char p[SL_LOG_PATH_BYTES_MAX];
    int rc = join_path(p, sizeof p, ctx->path, name);
    if (rc == 0)
        rc = ctx->dir->disk.ops->unlink(&ctx->dir->disk, p);
    if (rc != 0 && ctx->rc == 0)
        ctx->rc = rc; /* keep going: remove what can be removed */
    return 0;
}

int sl__dir_remove_tree(sl_log_dir_t *dir, const char *path)
{
    remove_ctx_t ctx = {dir, path, 0};
    int rc = dir->disk.ops->list_dir(&dir->disk, path, remove_entry, &ctx);
    if (rc == 0)
        rc = ctx.rc;
    if (rc == 0)
        rc = dir->disk.ops->rmdir(&dir->disk, path);
    return rc;
}

static int remove_leftover(const char *name, void *data)
{
    sl_log_dir_t *dir = data;
    size_t len = strlen(name);
    if (len < 7 || strcmp(name + len - 7, "-delete") != 0)
        return 0;
    char p[SL_LOG_PATH_BYTES_MAX];
    int rc = join_path(p, sizeof p, dir->path, name);
    if (rc == 0)
        rc = sl__dir_remove_tree(dir, p);
    SL_LOG(SL_LOG_INFO, "log", "removed deleted partition dir=%s name=%s rc=%d", dir->path, name,
           rc);
    return 0; /* a leftover that cannot be removed now is retried at the next start */
}

static int take_clean_marker(sl_log_dir_t *dir)
{
    char p[SL_LOG_PATH_BYTES_MAX];
    int rc = join_path(p, sizeof p, dir->path, SL_LOG_CLEAN_SHUTDOWN_FILE);
    if (rc < 0)
        return rc;
    rc = dir->disk.ops->exists(&dir->disk, p);
    if (rc <= 0)
        return rc;
    dir->was_clean = true;
    /* Removed (durably) now, so a crash from here on is seen as unclean at the next start. */
    rc = dir->disk.ops->unlink(&dir->disk, p);
    if (rc == 0)
        rc = dir->disk.ops->fsync_dir(&dir->disk, dir->path);
    return rc;
}

int sl_log_dir_open(const char *path, sl_disk_t disk, const sl_clock_ops_t *clock,
                    sl_log_dir_t **out)
{
    SL_ASSERT(path != NULL && clock != NULL && out != NULL);
    SL_ASSERT(disk.ops != NULL);
    sl_log_dir_t *dir = sl_calloc(1, sizeof *dir);
    if (dir == NULL)
        return -ENOMEM;
    dir->disk = disk;
    dir->clock = clock;
    dir->dir_fd = -1;
    int rc = -ENOMEM;
    if ((dir->path = sl_strdup(path)) == NULL)
        goto fail;
    rc = disk.ops->exists(&dir->disk, path);
    if (rc == 0)
        rc = -ENOENT;
    if (rc < 0)
        goto fail;
    /* Kept open so close can finish with an async sync on it (completion never inline). */
    rc = dir->dir_fd = disk.ops->open(&dir->disk, path, SL_DISK_OPEN_READONLY);
    if (rc < 0)
        goto fail;
    if ((rc = take_clean_marker(dir)) < 0)
        goto fail;
    if ((rc = disk.ops->list_dir(&dir->disk, path, remove_leftover, dir)) < 0)
        goto fail;
    SL_LOG(SL_LOG_INFO, "log", "log dir open path=%s backend=%s clean=%d", path, disk.ops->name,
           dir->was_clean);
    *out = dir;
    return 0;
fail:
    if (dir->dir_fd >= 0)
        (void)disk.ops->close(&dir->disk, dir->dir_fd); /* read-only */
    sl_free(dir->path);
    sl_free(dir);
    return rc;
}

bool sl_log_dir_was_clean(const sl_log_dir_t *dir)
{
    return dir->was_clean;
}

bool sl_log_dir_is_offline(const sl_log_dir_t *dir)
{
    return dir->offline;
}

const sl_histogram_t *sl_log_dir_fsync_latency(const sl_log_dir_t *dir)
{
    return &dir->fsync_latency;
}

void sl__dir_add_log(sl_log_dir_t *dir, sl_log_t *log)
{
    log->next_in_dir = dir->logs;
    dir->logs = log;
}

void sl__dir_remove_log(sl_log_dir_t *dir, sl_log_t *log)
{
    for (sl_log_t **p = &dir->logs; *p != NULL; p = &(*p)->next_in_dir) {
        if (*p == log) {
            *p = log->next_in_dir;
            return;
        }
    }
    SL_ASSERT(log == NULL); /* unreachable: every open log is in its dir's list */
}

void sl__dir_go_offline(sl_log_dir_t *dir, int err, const char *what, const sl_log_t *log)
{
    SL_ASSERT(err < 0);
    if (dir->offline)
        return;
    dir->offline = true;
    dir->offline_err = err;
    SL_LOG(SL_LOG_ERROR, "log",
           "log dir offline dir=%s op=%s topic=%s partition=%" PRId32 " err=%s (never retried)",
           dir->path, what, log ? log->topic : "-", log ? log->partition : -1, sl_strerror(err));
    for (sl_log_t *l = dir->logs; l != NULL; l = l->next_in_dir) {
        sl__log_complete_ready(l);
        sl__log_settle_flushes(l);
    }
}

void sl__dir_want_sync(sl_log_dir_t *dir)
{
    if (dir->offline || dir->round_pending)
        return; /* a pending round captures whatever is written when it starts */
    if (dir->round_active) {
        dir->sync_wanted = true;
        return;
    }
    dir->barrier_seq = dir->write_seq;
    dir->barrier_waiting = dir->writes_in_flight;
    if (dir->barrier_waiting == 0)
        round_start(dir);
    else
        dir->round_pending = true;
}

uint64_t sl__dir_write_submitted(sl_log_dir_t *dir)
{
    dir->writes_in_flight++;
    return ++dir->write_seq;
}

void sl__dir_write_completed(sl_log_dir_t *dir, uint64_t seq)
{
    SL_ASSERT(dir->writes_in_flight > 0);
    dir->writes_in_flight--;
    if (!dir->round_pending || seq > dir->barrier_seq)
        return;
    SL_ASSERT(dir->barrier_waiting > 0);
    if (--dir->barrier_waiting == 0) {
        dir->round_pending = false;
        if (!dir->round_active)
            round_start(dir);
        else
            dir->sync_wanted = true;
    }
}

static void close_finish(sl_log_dir_t *dir);

void sl__dir_op_done(sl_log_dir_t *dir)
{
    SL_ASSERT(dir->ops_in_flight > 0);
    dir->ops_in_flight--;
    if (dir->closing && dir->ops_in_flight == 0 && !dir->round_active)
        close_finish(dir);
}

/* ---- group commit ---- */

static bool segment_settled(const sl_log_segment_t *seg)
{
    return !seg->in_round && seg->size > 0 && seg->synced_pos == seg->size;
}

static void round_sync_callback(sl_disk_op_t *op, int64_t result, void *data);

static int round_add_log(sl_log_dir_t *dir, sl_log_t *log)
{
    int issued = 0;
    log->sync_target_offset = log->written_offset;
    log->in_sync_round = true;
    log->unflushed_messages = 0;
    log->last_flush_ms = dir->clock->monotonic_ms(dir->clock->data);
    for (size_t i = log->seg_count; i-- > 0;) {
        sl_log_segment_t *seg = log->segs[i];
        if (segment_settled(seg))
            break; /* older segments were synced by earlier rounds */
        if (seg->written_pos <= seg->synced_pos)
            continue;
        int rc = sl_disk_fdatasync(&dir->disk, &seg->sync_op, seg->fd, round_sync_callback, log);
        if (rc < 0) {
            sl__dir_go_offline(dir, rc, "fdatasync", log);
            break;
        }
        seg->sync_target_pos = seg->written_pos;
        seg->in_round = true;
        seg->sync_in_flight = true;
        seg->ops_in_flight++;
        log->ops_in_flight++;
        dir->ops_in_flight++;
        issued++;
    }
    return issued;
}

static void round_finish(sl_log_dir_t *dir);

static void round_start(sl_log_dir_t *dir)
{
    SL_ASSERT(!dir->round_active);
    dir->sync_wanted = false;
    int issued = 0;
    for (sl_log_t *log = dir->logs; log != NULL && !dir->offline; log = log->next_in_dir) {
        if (log->written_offset > log->synced_offset)
            issued += round_add_log(dir, log);
    }
    dir->round_syncs_in_flight = issued;
    dir->round_active = true;
    if (issued == 0)
        round_finish(dir); /* nothing to sync after all (or offline): settle at once */
}

static void round_sync_callback(sl_disk_op_t *op, int64_t result, void *data)
{
    sl_log_t *log = data;
    sl_log_dir_t *dir = log->dir;
    sl_log_segment_t *seg = SL_CONTAINER_OF(op, sl_log_segment_t, sync_op);
    seg->sync_in_flight = false;
    seg->ops_in_flight--;
    log->ops_in_flight--;
    sl_histogram_observe_us(&dir->fsync_latency, op->duration_ns / 1000);
    if (result < 0)
        sl__dir_go_offline(dir, (int)result, "fdatasync", log);
    SL_ASSERT(dir->round_syncs_in_flight > 0);
    if (--dir->round_syncs_in_flight == 0)
        round_finish(dir);
    sl__dir_op_done(dir);
}

/* Moves the synced ends of the round's logs and segments, then (second pass, since callbacks may
 * append and start the next round) wakes readers and completes appends. */
static void round_finish(sl_log_dir_t *dir)
{
    for (sl_log_t *log = dir->logs; log != NULL; log = log->next_in_dir) {
        if (!log->in_sync_round)
            continue;
        log->in_sync_round = false;
        log->round_done = true;
        for (size_t i = log->seg_count; i-- > 0;) {
            sl_log_segment_t *seg = log->segs[i];
            if (!seg->in_round)
                continue;
            seg->in_round = false;
            if (!dir->offline)
                seg->synced_pos = seg->sync_target_pos;
        }
        if (!dir->offline)
            log->synced_offset = log->sync_target_offset;
    }
    dir->round_active = false;
    dir->ops_in_flight++; /* hold the dir open across the callbacks below */
    for (sl_log_t *log = dir->logs; log != NULL; log = log->next_in_dir) {
        if (!log->round_done)
            continue;
        log->round_done = false;
        /* Rolled segments that are now fully synced get their index files (newest first; the
         * first one already written ends the walk, older ones were written before it). */
        for (size_t i = log->seg_count - 1; i-- > 0 && !dir->offline;) {
            sl_log_segment_t *seg = log->segs[i];
            if (seg->index_flushed)
                break;
            if (seg->synced_pos != seg->size)
                continue;
            int rc = sl__segment_write_indexes(log, seg);
            if (rc < 0)
                sl__dir_go_offline(dir, rc, "index write", log);
        }
        if (sl__log_syncs_on_ack(log) && !dir->offline)
            sl__log_set_hw(log, log->synced_offset);
        sl__log_complete_ready(log);
        sl__log_settle_flushes(log);
        if (log->flush_head != NULL && log->written_offset > log->synced_offset)
            dir->sync_wanted = true; /* written during this round: the next one covers it */
    }
    if (dir->sync_wanted && !dir->round_active && !dir->offline) {
        dir->sync_wanted = false;
        sl__dir_want_sync(dir);
    }
    sl__dir_op_done(dir);
}

void sl_log_dir_flush_tick(sl_log_dir_t *dir)
{
    uint64_t now = dir->clock->monotonic_ms(dir->clock->data);
    bool want = false;
    for (sl_log_t *log = dir->logs; log != NULL; log = log->next_in_dir) {
        if (log->cfg.sync_on_ack || log->replicated || log->written_offset <= log->synced_offset)
            continue;
        if (log->cfg.flush_interval_ms >= 0 &&
            now - log->last_flush_ms >= (uint64_t)log->cfg.flush_interval_ms)
            want = true;
    }
    if (want && !dir->closing)
        sl__dir_want_sync(dir);
}

/* ---- close ---- */

static void close_sync_callback(sl_disk_op_t *op, int64_t result, void *data)
{
    sl_log_dir_t *dir = data;
    SL_ASSERT(op == &dir->close_op);
    if (result < 0)
        SL_LOG(SL_LOG_WARN, "log", "log dir sync at close failed dir=%s err=%s", dir->path,
               sl_strerror((int)result));
    (void)dir->disk.ops->close(&dir->disk, dir->dir_fd); /* read-only directory fd */
    void (*done)(sl_log_dir_t *, void *) = dir->close_done;
    void *done_data = dir->close_data;
    if (done != NULL)
        done(dir, done_data);
    sl_free(dir->path);
    sl_free(dir);
}

static int write_clean_marker(sl_log_dir_t *dir)
{
    char p[SL_LOG_PATH_BYTES_MAX];
    int rc = join_path(p, sizeof p, dir->path, SL_LOG_CLEAN_SHUTDOWN_FILE);
    if (rc < 0)
        return rc;
    int fd = dir->disk.ops->open(&dir->disk, p, SL_DISK_OPEN_CREATE | SL_DISK_OPEN_TRUNCATE);
    if (fd < 0)
        return fd;
    rc = dir->disk.ops->fsync(&dir->disk, fd);
    int crc = dir->disk.ops->close(&dir->disk, fd);
    return rc != 0 ? rc : crc;
}

static void close_finish(sl_log_dir_t *dir)
{
    bool all_closed = true;
    while (dir->logs != NULL) {
        sl_log_t *log = dir->logs;
        int rc = sl_log_close(log);
        if (rc == -EBUSY) {
            all_closed = false; /* cannot happen with no ops in flight; keep the marker off */
            sl__dir_remove_log(dir, log);
        }
    }
    if (!dir->offline && all_closed) {
        int rc = write_clean_marker(dir);
        if (rc < 0)
            SL_LOG(SL_LOG_WARN, "log", "clean-shutdown marker not written dir=%s err=%s", dir->path,
                   sl_strerror(rc));
    }
    /* The async sync of the dir fd makes the marker durable and defers done out of this call. */
    int rc = sl_disk_fdatasync(&dir->disk, &dir->close_op, dir->dir_fd, close_sync_callback, dir);
    if (rc < 0)
        close_sync_callback(&dir->close_op, rc, dir); /* no other way to finish: done runs now */
}

void sl_log_dir_close(sl_log_dir_t *dir, void (*done)(sl_log_dir_t *, void *), void *data)
{
    SL_ASSERT(dir != NULL);
    SL_ASSERT(!dir->closing);
    dir->closing = true;
    dir->close_done = done;
    dir->close_data = data;
    if (dir->ops_in_flight == 0 && !dir->round_active)
        close_finish(dir);
}
