/* log_start: moving a partition's log start offset on request (Kafka's DeleteRecords) and keeping
 * it across restarts in the partition's own log-start-offset-checkpoint (Kafka's text format).
 * Invariants: the log start offset only grows, never past the high watermark; the checkpoint is
 * durable (tmp + fsync + rename) before the new start is visible to readers; segments wholly below
 * the start are deleted by the retention pass this triggers, or by a later one. */
#include <stdio.h>
#include <string.h>

#include "log_int.h"
#include "sluice/limits.h"

#define CHECKPOINT_FILE "log-start-offset-checkpoint"
#define CHECKPOINT_BYTES_MAX (SL_TOPIC_NAME_BYTES_MAX + 64)

static int checkpoint_path(const sl_log_t *log, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", log->path, name);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Kafka's OffsetCheckpointFile: version 0, an entry count, "<topic> <partition> <offset>" lines.
 * Kafka keeps one file per log dir; Sluice keeps one per partition (docs/formats.md), holding the
 * partition's one entry, so it goes with the partition when the partition is deleted. */
int sl__checkpoint_write(sl_log_t *log, const char *name, int64_t offset)
{
    char text[CHECKPOINT_BYTES_MAX], path[SL_LOG_PATH_BYTES_MAX];
    int n = snprintf(text, sizeof text, "0\n1\n%s %" PRId32 " %" PRId64 "\n", log->topic,
                     log->partition, offset);
    SL_ASSERT(n > 0 && (size_t)n < sizeof text);
    int rc = checkpoint_path(log, name, path, sizeof path);
    if (rc == 0)
        rc = sl__write_file_atomic(log, path, (const uint8_t *)text, (size_t)n);
    return rc;
}

/* The offset the checkpoint names for this partition; -1 when there is no usable file. */
int64_t sl__checkpoint_read(sl_log_t *log, const char *name)
{
    char path[SL_LOG_PATH_BYTES_MAX];
    uint8_t *text = NULL;
    size_t len = 0;
    if (checkpoint_path(log, name, path, sizeof path) != 0 ||
        sl__read_file(log, path, &text, &len) != 0)
        return -1;
    int version = -1, used = 0;
    long long count = -1;
    int64_t found = -1;
    const char *p = (const char *)text;
    bool ok = sscanf(p, "%d\n%lld\n%n", &version, &count, &used) == 2 && version == 0 &&
              count >= 0 && count <= 1;
    for (long long i = 0; ok && i < count; i++) {
        char topic[SL_TOPIC_NAME_BYTES_MAX + 1];
        int32_t partition;
        int64_t offset;
        p += used;
        ok = sscanf(p, "%249s %" SCNd32 " %" SCNd64 "\n%n", topic, &partition, &offset, &used) ==
                 3 &&
             offset >= 0;
        if (ok && partition == log->partition && strcmp(topic, log->topic) == 0)
            found = offset;
    }
    if (!ok)
        SL_LOG(SL_LOG_WARN, "log", "ignoring damaged %s dir=%s", name, log->path);
    sl_free(text);
    return ok ? found : -1;
}

void sl__log_load_start_offset(sl_log_t *log)
{
    SL_ASSERT(log->seg_count > 0);
    int64_t checkpoint = sl__checkpoint_read(log, CHECKPOINT_FILE);
    if (checkpoint <= log->log_start_offset)
        return; /* none, or retention already deleted past it */
    if (checkpoint > log->log_end_offset) {
        /* Records the checkpoint was written for are gone (a crash took unsynced data under
         * storage.sync.policy=interval): start at the end, never past it. */
        SL_LOG(SL_LOG_WARN, "log",
               "log start offset checkpoint beyond the log end topic=%s partition=%" PRId32
               " checkpoint=%" PRId64 " log_end_offset=%" PRId64,
               log->topic, log->partition, checkpoint, log->log_end_offset);
        checkpoint = log->log_end_offset;
    }
    log->log_start_offset = checkpoint;
    SL_ASSERT(log->log_start_offset >= log->segs[0]->base_offset);
}

int sl_log_delete_records(sl_log_t *log, int64_t offset)
{
    SL_ASSERT(log != NULL);
    if (log->dir->closing)
        return SL_ECLOSED;
    if (log->dir->offline)
        return -EIO;
    if (offset < 0 || offset > log->high_watermark)
        return SL_LOG_EOUTOFRANGE;
    if (offset <= log->log_start_offset)
        return 0; /* Kafka: a request below the start changes nothing */
    int rc = sl__checkpoint_write(log, CHECKPOINT_FILE, offset);
    if (rc < 0) {
        sl__dir_go_offline(log->dir, rc, "log start offset checkpoint", log);
        return rc;
    }
    log->log_start_offset = offset;
    SL_LOG(SL_LOG_INFO, "log",
           "log start offset moved topic=%s partition=%" PRId32 " log_start_offset=%" PRId64,
           log->topic, log->partition, offset);
    rc = sl__log_trim_epochs_front(log);
    if (rc < 0) {
        sl__dir_go_offline(log->dir, rc, "leader-epoch-checkpoint", log);
        return rc;
    }
    /* Segments wholly below the new start go now (retention deletes what lies below the log
     * start offset); one with a read in flight waits for the next pass. */
    rc = sl_log_apply_retention(log, log->dir->clock->realtime_ms(log->dir->clock->data));
    SL_ASSERT(log->log_start_offset >= offset);
    return rc < 0 ? rc : 0;
}
