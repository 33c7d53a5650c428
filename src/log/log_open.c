/* log_open: a partition's lifecycle: open (create or recover <dir>/<topic>-<partition>/ with its
 * partition.metadata and leader-epoch-checkpoint), close (fsync, write indexes, free) and delete
 * (rename to *-delete, then remove). Invariants: a log is in its dir's list exactly while open;
 * close refuses while any of its I/O is in flight. */
#include <stdio.h>
#include <string.h>

#include "log_int.h"
#include "sluice/limits.h"

static int metadata_path(const sl_log_t *log, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", log->path, name);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int write_partition_metadata(sl_log_t *log, const sl_uuid_t *topic_id)
{
    char id[23], text[64], path[SL_LOG_PATH_BYTES_MAX];
    sl_uuid_to_base64(topic_id, id);
    int n = snprintf(text, sizeof text, "version: 0\ntopic_id: %s\n", id);
    SL_ASSERT(n > 0 && (size_t)n < sizeof text);
    int rc = metadata_path(log, "partition.metadata", path, sizeof path);
    if (rc == 0)
        rc = sl__write_file_atomic(log, path, (const uint8_t *)text, (size_t)n);
    return rc;
}

/* 0 when the file names topic_id (or is missing: then it is written), SL_EEXISTS when it names
 * another id, SL_ECORRUPT when it cannot be parsed. */
static int check_partition_metadata(sl_log_t *log, const sl_uuid_t *topic_id)
{
    char path[SL_LOG_PATH_BYTES_MAX], id[23];
    uint8_t *text = NULL;
    size_t len = 0;
    int rc = metadata_path(log, "partition.metadata", path, sizeof path);
    if (rc == 0)
        rc = sl__read_file(log, path, &text, &len);
    if (rc == -ENOENT)
        return write_partition_metadata(log, topic_id);
    if (rc < 0)
        return rc;
    sl_uuid_t found;
    const char *p = strstr((const char *)text, "topic_id: ");
    if (strncmp((const char *)text, "version: 0\n", 11) != 0 || p == NULL || strlen(p + 10) < 22) {
        rc = SL_ECORRUPT;
    } else {
        memcpy(id, p + 10, 22);
        id[22] = 0;
        rc = sl_uuid_from_base64(id, &found) == 0 ? 0 : SL_ECORRUPT;
    }
    if (rc == 0 && memcmp(found.bytes, topic_id->bytes, sizeof found.bytes) != 0) {
        SL_LOG(SL_LOG_ERROR, "log", "partition.metadata names another topic id dir=%s found=%s",
               log->path, id);
        rc = SL_EEXISTS;
    }
    sl_free(text);
    return rc;
}

/* Kafka's text format: "0\n<count>\n" then "<epoch> <start offset>\n" lines. A damaged file is
 * dropped with a warning (the epochs are rebuilt by later appends). */
static void load_epochs(sl_log_t *log)
{
    char path[SL_LOG_PATH_BYTES_MAX];
    uint8_t *text = NULL;
    size_t len = 0;
    if (metadata_path(log, "leader-epoch-checkpoint", path, sizeof path) != 0 ||
        sl__read_file(log, path, &text, &len) != 0)
        return;
    const char *p = (const char *)text;
    int version = -1, used = 0;
    long long count = -1;
    bool ok = sscanf(p, "%d\n%lld\n%n", &version, &count, &used) == 2 && version == 0 &&
              count >= 0 && count <= SL_LOG_EPOCHS_MAX;
    if (ok && count > 0) {
        log->epochs = sl_calloc((size_t)count, sizeof *log->epochs);
        ok = log->epochs != NULL;
        log->epoch_cap = ok ? (size_t)count : 0;
    }
    for (long long i = 0; ok && i < count; i++) {
        p += used;
        int32_t epoch;
        int64_t start;
        ok = sscanf(p, "%" SCNd32 " %" SCNd64 "\n%n", &epoch, &start, &used) == 2 && epoch >= 0 &&
             start >= 0 &&
             (i == 0 ||
              (epoch > log->epochs[i - 1].epoch && start >= log->epochs[i - 1].start_offset));
        if (ok)
            log->epochs[log->epoch_count++] = (sl_epoch_entry_t){epoch, start};
    }
    if (!ok) {
        SL_LOG(SL_LOG_WARN, "log", "ignoring damaged leader-epoch-checkpoint dir=%s", log->path);
        log->epoch_count = 0;
    }
    sl_free(text);
}

/* After recovery cut the log, epochs that start past its end are gone too. */
static int trim_epochs(sl_log_t *log)
{
    size_t n = log->epoch_count;
    while (n > 0 && log->epochs[n - 1].start_offset >= log->log_end_offset)
        n--;
    if (n == log->epoch_count)
        return 0;
    log->epoch_count = n;
    return sl__log_write_epochs(log);
}

static void log_free(sl_log_t *log)
{
    for (size_t i = 0; i < log->seg_count; i++)
        sl__segment_free(log->dir, log->segs[i]);
    sl_free(log->segs);
    sl_free(log->epochs);
    sl__producers_deinit(log);
    sl_free(log->topic);
    sl_free(log->path);
    sl_free(log);
}

static int prepare_dir(sl_log_t *log, const sl_uuid_t *topic_id)
{
    sl_disk_t *disk = &log->dir->disk;
    int rc = disk->ops->exists(disk, log->path);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return topic_id != NULL ? check_partition_metadata(log, topic_id) : 0;
    rc = disk->ops->mkdir(disk, log->path);
    if (rc == 0 && topic_id != NULL)
        rc = write_partition_metadata(log, topic_id);
    if (rc == 0)
        rc = disk->ops->fsync_dir(disk, log->dir->path);
    return rc;
}

static bool name_valid(const char *topic)
{
    size_t len = strlen(topic);
    return len > 0 && len <= SL_TOPIC_NAME_BYTES_MAX && strchr(topic, '/') == NULL &&
           strcmp(topic, ".") != 0 && strcmp(topic, "..") != 0;
}

int sl_log_open(sl_log_dir_t *dir, const char *topic, int32_t partition, const sl_uuid_t *topic_id,
                const sl_log_config_t *cfg, sl_log_t **out)
{
    SL_ASSERT(dir != NULL && topic != NULL && cfg != NULL && out != NULL);
    if (dir->closing)
        return SL_ECLOSED;
    if (dir->offline)
        return -EIO;
    if (!sl__log_config_valid(cfg) || partition < 0 || !name_valid(topic))
        return SL_ECONFIG;
    for (sl_log_t *l = dir->logs; l != NULL; l = l->next_in_dir)
        if (l->partition == partition && strcmp(l->topic, topic) == 0)
            return SL_EEXISTS;
    sl_log_t *log = sl_calloc(1, sizeof *log);
    if (log == NULL)
        return -ENOMEM;
    log->dir = dir;
    log->partition = partition;
    log->cfg = *cfg;
    log->max_timestamp = log->offset_of_max_timestamp = -1;
    log->cleaner_checkpoint = -1;
    log->clean_due_ms = INT64_MAX;
    log->topic = sl_strdup(topic);
    size_t plen = strlen(dir->path) + strlen(topic) + 16;
    log->path = sl_malloc(plen);
    int rc = -ENOMEM;
    if (log->topic == NULL || log->path == NULL)
        goto fail;
    snprintf(log->path, plen, "%s/%s-%" PRId32, dir->path, topic, partition);
    if ((rc = prepare_dir(log, topic_id)) < 0)
        goto fail;
    load_epochs(log);
    if ((rc = sl__log_recover(log)) < 0 || (rc = trim_epochs(log)) < 0)
        goto fail;
    sl__log_load_start_offset(log);
    if ((rc = sl__producers_load(log)) < 0)
        goto fail;
    log->written_offset = log->synced_offset = log->high_watermark = log->log_end_offset;
    log->last_flush_ms = dir->clock->monotonic_ms(dir->clock->data);
    sl__dir_add_log(dir, log);
    *out = log;
    return 0;
fail:
    SL_LOG(SL_LOG_ERROR, "log", "cannot open log topic=%s partition=%" PRId32 " err=%s", topic,
           partition, sl_strerror(rc));
    log_free(log);
    return rc;
}

/* fsyncs what is not yet synced and writes index files that are stale. */
static int flush_for_close(sl_log_t *log)
{
    sl_disk_t *disk = &log->dir->disk;
    int rc = 0;
    for (size_t i = 0; i < log->seg_count && rc == 0; i++) {
        sl_log_segment_t *seg = log->segs[i];
        if (seg->synced_pos < seg->size) {
            rc = disk->ops->fsync(disk, seg->fd);
            if (rc == 0)
                seg->synced_pos = seg->size;
        }
        if (rc == 0 && i + 1 == log->seg_count && seg->size > 0)
            (void)sl__segment_index_add(seg, seg->next_offset - 1, 0, seg->max_timestamp,
                                        seg->offset_of_max_timestamp, true); /* memory only */
        if (rc == 0 && !seg->index_flushed)
            rc = sl__segment_write_indexes(log, seg);
    }
    /* Kafka snapshots producer state at clean close, so the next open replays nothing. */
    bool have =
        log->snapshot_count > 0 && log->snapshots[log->snapshot_count - 1] == log->log_end_offset;
    if (rc == 0 && !have && log->log_end_offset > log->log_start_offset)
        rc = sl__producers_snapshot_write(log, log->log_end_offset);
    return rc;
}

int sl_log_close(sl_log_t *log)
{
    SL_ASSERT(log != NULL);
    if (log->busy > 0 || log->ops_in_flight > 0 || log->q_head != NULL || log->in_sync_round ||
        log->flush_head != NULL)
        return -EBUSY;
    sl_log_dir_t *dir = log->dir;
    int rc = 0;
    if (!dir->offline) {
        rc = flush_for_close(log);
        if (rc < 0)
            sl__dir_go_offline(dir, rc, "close", log);
    }
    sl__dir_remove_log(dir, log);
    log_free(log);
    return rc;
}

int sl_log_delete(sl_log_t *log)
{
    SL_ASSERT(log != NULL);
    if (log->busy > 0 || log->ops_in_flight > 0 || log->q_head != NULL || log->in_sync_round ||
        log->flush_head != NULL)
        return -EBUSY;
    sl_log_dir_t *dir = log->dir;
    char from[SL_LOG_PATH_BYTES_MAX], to[SL_LOG_PATH_BYTES_MAX];
    int n = snprintf(from, sizeof from, "%s", log->path);
    int m = snprintf(to, sizeof to, "%s.%016" PRIx64 "-delete", log->path,
                     dir->clock->monotonic_ms(dir->clock->data));
    if (n < 0 || (size_t)n >= sizeof from || m < 0 || (size_t)m >= sizeof to)
        return -ENAMETOOLONG;
    int rc = sl_log_close(log);
    if (rc == 0)
        rc = dir->disk.ops->rename(&dir->disk, from, to);
    if (rc == 0)
        rc = dir->disk.ops->fsync_dir(&dir->disk, dir->path);
    if (rc == 0)
        rc = sl__dir_remove_tree(dir, to); /* a crash here is finished at the next dir open */
    return rc;
}
