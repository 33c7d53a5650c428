/* topics: the table of topics, their partitions' logs, and the topics.meta record that makes them
 * survive restarts. Lookups by name and by id are hashed. The record is rewritten whole on every
 * change (create, delete, config change) into every log dir with a generation number: temp file,
 * fsync, rename, fsync the dir; at start the highest generation found wins, so losing one dir
 * loses no topic definitions. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker_int.h"
#include "replica_manager.h"
#include "sluice/metadata.h"
#include "topics.h"

#define TOPICS_FILE "topics.meta"
#define TOPICS_FILE_BYTES_MAX (64 * SL_MiB)
#define TOPICS_LINE_BYTES_MAX (8 * SL_KiB)

/* Logs of deleted partitions that could not be removed yet (I/O in flight, or deleted from inside
 * one of their own callbacks): retried by sl__topics_reap. */
#define DOOMED_LOGS_MAX 65536

struct sl_topic_table {
    const sl_config_t *cfg;
    sl_log_t **doomed;
    size_t doomed_count, doomed_cap;
    size_t dying_count;  /* deleted topics whose logs stay open until in-flight requests let go */
    sl_log_dir_t **dirs; /* borrowed, dirs_count of them, same order as cfg->log_dirs */
    size_t dirs_count;
    size_t *dir_partitions; /* partitions placed in each dir, to place new ones evenly */
    sl_topic_t **by_name, **by_id;
    size_t buckets; /* power of two */
    size_t count;
    uint64_t generation;
};

static uint64_t hash_bytes(const uint8_t *p, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static size_t name_bucket(const sl_topic_table_t *t, sl_slice_t name)
{
    return (size_t)hash_bytes(name.ptr, name.len) & (t->buckets - 1);
}

static size_t id_bucket(const sl_topic_table_t *t, const sl_uuid_t *id)
{
    return (size_t)hash_bytes(id->bytes, sizeof(id->bytes)) & (t->buckets - 1);
}

sl_topic_t *sl__topics_find(sl_topic_table_t *t, sl_slice_t name)
{
    if (name.ptr == NULL)
        return NULL;
    for (sl_topic_t *topic = t->by_name[name_bucket(t, name)]; topic; topic = topic->next_by_name)
        if (sl_slice_eq_str(name, topic->name))
            return topic;
    return NULL;
}

sl_topic_t *sl__topics_find_id(sl_topic_table_t *t, const sl_uuid_t *id)
{
    for (sl_topic_t *topic = t->by_id[id_bucket(t, id)]; topic; topic = topic->next_by_id)
        if (memcmp(topic->id.bytes, id->bytes, sizeof(id->bytes)) == 0)
            return topic;
    return NULL;
}

void sl__topics_each(sl_topic_table_t *t, bool (*fn)(sl_topic_t *, void *), void *data)
{
    for (size_t b = 0; b < t->buckets; b++) {
        sl_topic_t *next;
        for (sl_topic_t *topic = t->by_name[b]; topic; topic = next) {
            next = topic->next_by_name;
            if (!fn(topic, data))
                return;
        }
    }
}

size_t sl__topics_count(const sl_topic_table_t *t)
{
    return t->count;
}

static void link_topic(sl_topic_table_t *t, sl_topic_t *topic)
{
    sl_slice_t name = sl_slice_from_str(topic->name);
    size_t nb = name_bucket(t, name), ib = id_bucket(t, &topic->id);
    topic->next_by_name = t->by_name[nb];
    t->by_name[nb] = topic;
    topic->next_by_id = t->by_id[ib];
    t->by_id[ib] = topic;
    t->count++;
}

static void unlink_topic(sl_topic_table_t *t, sl_topic_t *topic)
{
    sl_topic_t **pp = &t->by_name[name_bucket(t, sl_slice_from_str(topic->name))];
    while (*pp != topic)
        pp = &(*pp)->next_by_name;
    *pp = topic->next_by_name;
    pp = &t->by_id[id_bucket(t, &topic->id)];
    while (*pp != topic)
        pp = &(*pp)->next_by_id;
    *pp = topic->next_by_id;
    SL_ASSERT(t->count > 0);
    t->count--;
}

/* Doubles the hash tables when they get crowded (load factor 1). */
static int maybe_grow(sl_topic_table_t *t)
{
    if (t->count < t->buckets)
        return 0;
    size_t old_buckets = t->buckets;
    sl_topic_t **old_names = t->by_name, **new_names, **new_ids;
    new_names = sl_calloc(old_buckets * 2, sizeof(*new_names));
    new_ids = sl_calloc(old_buckets * 2, sizeof(*new_ids));
    if (new_names == NULL || new_ids == NULL) {
        sl_free(new_names);
        sl_free(new_ids);
        return -ENOMEM;
    }
    sl_free(t->by_id);
    t->by_name = new_names;
    t->by_id = new_ids;
    t->buckets = old_buckets * 2;
    t->count = 0;
    for (size_t b = 0; b < old_buckets; b++) {
        sl_topic_t *next;
        for (sl_topic_t *topic = old_names[b]; topic; topic = next) {
            next = topic->next_by_name;
            link_topic(t, topic);
        }
    }
    sl_free(old_names);
    return 0;
}

/* ---- names -------------------------------------------------------------------------------- */

bool sl__topic_name_valid(sl_slice_t name)
{
    return sl_metadata_topic_name_valid(name); /* the rule lives with the metadata model */
}

/* Kafka refuses a name that equals an existing one once '.' and '_' are treated alike, since
 * both map to the same metric names. Returns the colliding topic or NULL. */
static sl_topic_t *colliding_topic(sl_topic_table_t *t, sl_slice_t name)
{
    bool has_mark = memchr(name.ptr, '.', name.len) != NULL || memchr(name.ptr, '_', name.len);
    if (!has_mark)
        return NULL;
    char alt[SL_TOPIC_NAME_BYTES_MAX + 1];
    for (size_t variant = 0; variant < 2; variant++) {
        for (size_t i = 0; i < name.len; i++) {
            char c = (char)name.ptr[i];
            alt[i] = (c == '.' || c == '_') ? (variant == 0 ? '.' : '_') : c;
        }
        sl_topic_t *other = sl__topics_find(t, (sl_slice_t){(const uint8_t *)alt, name.len});
        if (other != NULL && !sl_slice_eq_str(name, other->name))
            return other;
    }
    return NULL;
}

/* ---- configs and partitions ------------------------------------------------------------------ */

/* Recomputes what the log needs from the broker's defaults and the topic's overrides. */
static void topic_apply_config(const sl_topic_table_t *t, sl_topic_t *topic)
{
    const char *names[SL_TOPIC_CONFIGS_MAX], *values[SL_TOPIC_CONFIGS_MAX];
    SL_ASSERT(topic->configs_count <= SL_TOPIC_CONFIGS_MAX);
    for (size_t i = 0; i < topic->configs_count; i++) {
        names[i] = topic->configs[i].name;
        values[i] = topic->configs[i].value;
    }
    sl_topic_log_settings_t s;
    sl_topic_config_effective(t->cfg, names, values, topic->configs_count, &s);
    topic->log_config = (sl_log_config_t){
        .segment_bytes = s.segment_bytes,
        .segment_ms = s.segment_ms,
        .retention_ms = s.retention_ms,
        .retention_bytes = s.retention_bytes,
        .index_interval_bytes = s.index_interval_bytes,
        .segment_index_bytes = s.segment_index_bytes,
        .log_append_time = s.log_append_time,
        .sync_on_ack = s.sync_on_ack,
        .flush_interval_messages = s.flush_messages,
        .flush_interval_ms = s.flush_ms,
        .compact = s.cleanup_compact,
        .compact_delete = s.cleanup_compact && s.cleanup_delete,
        .delete_retention_ms = s.delete_retention_ms,
        .min_compaction_lag_ms = s.min_compaction_lag_ms,
        .max_compaction_lag_ms = s.max_compaction_lag_ms,
        .min_cleanable_dirty_ratio = s.min_cleanable_dirty_ratio,
    };
    /* Kafka's LogConfig.maxSegmentMs: a compacted log rolls by max.compaction.lag.ms too, so no
     * record waits longer than that in the active segment, which is never cleaned. */
    if (s.cleanup_compact && s.max_compaction_lag_ms < topic->log_config.segment_ms)
        topic->log_config.segment_ms = s.max_compaction_lag_ms;
    topic->max_message_bytes = s.max_message_bytes;
    topic->min_insync_replicas = s.min_insync_replicas;
    topic->compacted = s.cleanup_compact;
    topic->timestamp_before_max_ms = s.message_timestamp_before_max_ms;
    topic->timestamp_after_max_ms = s.message_timestamp_after_max_ms;
    for (int32_t p = 0; p < topic->partition_count; p++)
        if (topic->partitions[p].replica != NULL)
            sl_replica_manager_set_min_insync_replicas(topic->partitions[p].replica,
                                                       topic->min_insync_replicas);
        else if (topic->partitions[p].log != NULL)
            sl_log_set_config(topic->partitions[p].log, &topic->log_config);
}

static bool reconfigure_topic(sl_topic_t *topic, void *data)
{
    topic_apply_config(data, topic);
    return true;
}

void sl__topics_reconfigure(sl_topic_table_t *t)
{
    SL_ASSERT(t != NULL);
    sl__topics_each(t, reconfigure_topic, t);
}

void sl__fetch_wait_link(sl_partition_t *partition, sl_fetch_wait_t *wait)
{
    SL_ASSERT(wait->partition == NULL);
    wait->partition = partition;
    wait->prev = NULL;
    wait->next = partition->waiters;
    if (partition->waiters != NULL)
        partition->waiters->prev = wait;
    partition->waiters = wait;
}

void sl__fetch_wait_unlink(sl_fetch_wait_t *wait)
{
    sl_partition_t *partition = wait->partition;
    if (partition == NULL)
        return;
    if (wait->prev != NULL)
        wait->prev->next = wait->next;
    else
        partition->waiters = wait->next;
    if (wait->next != NULL)
        wait->next->prev = wait->prev;
    wait->prev = wait->next = NULL;
    wait->partition = NULL;
}

/* Wakes every Fetch waiting on the partition. Each woken fetch unlinks all its waits (from this
 * list too) before anything else, so the loop always takes the current head. */
static void wake_retired_waiters(sl_partition_t *partition, bool closing);

static void wake_waiters(sl_partition_t *partition, bool closing)
{
    while (partition->waiters != NULL)
        sl__fetch_wait_woken(partition->waiters, closing);
    wake_retired_waiters(partition, closing);
}

static void high_watermark_moved(sl_log_t *log, void *data)
{
    sl_partition_t *partition = data;
    SL_ASSERT(partition->log == log);
    wake_waiters(partition, false);
}

/* The dir that already holds <topic>-<p>, else the one with the fewest partitions. */
static size_t place_partition(sl_topic_table_t *t, const char *topic, int32_t p)
{
    size_t best = 0;
    for (size_t d = 0; d < t->dirs_count; d++) {
        char path[4400];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s-%d", t->cfg->log_dirs[d], topic, (int)p);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return d;
        if (t->dir_partitions[d] < t->dir_partitions[best])
            best = d;
    }
    return best;
}

static int open_partitions(sl_topic_table_t *t, sl_topic_t *topic)
{
    for (int32_t p = 0; p < topic->partition_count; p++) {
        sl_partition_t *part = &topic->partitions[p];
        part->topic = topic;
        part->index = p;
        part->leader_epoch = 0;
        size_t d = place_partition(t, topic->name, p);
        part->dir = t->dirs[d];
        int rc = sl_log_open(part->dir, topic->name, p, &topic->id, &topic->log_config, &part->log);
        if (rc != 0) {
            SL_LOG_RATELIMITED(SL_LOG_ERROR, "topics",
                               "cannot open partition topic=%s partition=%d error=\"%s\"",
                               topic->name, (int)p, sl_strerror(rc));
            return rc;
        }
        sl_log_set_hw_listener(part->log, high_watermark_moved, part);
        t->dir_partitions[d]++;
    }
    return 0;
}

static void topic_free(sl_topic_t *topic)
{
    for (size_t i = 0; i < topic->configs_count; i++) {
        sl_free(topic->configs[i].name);
        sl_free(topic->configs[i].value);
    }
    sl_free(topic->configs);
    sl_free(topic->partitions);
    for (size_t i = 0; i < topic->retired_count; i++)
        sl_free(topic->retired[i].partitions);
    sl_free(topic->retired);
    sl_free(topic->name);
    sl_free(topic);
}

static int doom(sl_topic_table_t *t, sl_log_t *log)
{
    if (t->doomed_count == t->doomed_cap) {
        size_t cap = t->doomed_cap ? t->doomed_cap * 2 : 16;
        sl_log_t **grown =
            cap <= DOOMED_LOGS_MAX ? sl_realloc(t->doomed, cap * sizeof(*grown)) : NULL;
        if (grown == NULL)
            return -ENOMEM;
        t->doomed = grown;
        t->doomed_cap = cap;
    }
    t->doomed[t->doomed_count++] = log;
    return 0;
}

void sl__topics_reap(sl_topic_table_t *t)
{
    size_t kept = 0;
    for (size_t i = 0; i < t->doomed_count; i++) {
        int rc = sl_log_delete(t->doomed[i]);
        if (rc == -EBUSY) {
            t->doomed[kept++] = t->doomed[i];
            continue;
        }
        if (rc != 0)
            SL_LOG(SL_LOG_WARN, "topics", "cannot delete a deleted partition's log error=\"%s\"",
                   sl_strerror(rc));
    }
    t->doomed_count = kept;
}

/* Closes every partition's log (or deletes it when remove). */
static void close_partitions(sl_topic_table_t *t, sl_topic_t *topic, bool remove)
{
    for (int32_t p = 0; p < topic->partition_count; p++) {
        sl_partition_t *part = &topic->partitions[p];
        if (part->log == NULL)
            continue;
        wake_waiters(part, true);
        /* the partition struct goes away now, even if the log lingers (sl__topics_reap) */
        sl_log_set_hw_listener(part->log, NULL, NULL);
        for (size_t d = 0; d < t->dirs_count; d++)
            if (t->dirs[d] == part->dir && t->dir_partitions[d] > 0)
                t->dir_partitions[d]--;
        int rc = remove ? sl_log_delete(part->log) : sl_log_close(part->log);
        if (rc == -EBUSY && remove && doom(t, part->log) == 0)
            rc = 0; /* removed by sl__topics_reap once its I/O is done */
        if (rc != 0)
            SL_LOG(SL_LOG_WARN, "topics", "%s partition topic=%s partition=%d error=\"%s\"",
                   remove ? "cannot delete" : "cannot close", topic->name, (int)p, sl_strerror(rc));
        part->log = NULL;
    }
}

static sl_topic_t *topic_alloc(sl_slice_t name, const sl_uuid_t *id, int32_t partitions)
{
    sl_topic_t *topic = sl_calloc(1, sizeof(*topic));
    if (topic == NULL)
        return NULL;
    topic->name = sl_malloc(name.len + 1);
    topic->partitions = sl_calloc((size_t)partitions, sizeof(sl_partition_t));
    if (topic->name == NULL || topic->partitions == NULL) {
        topic_free(topic);
        return NULL;
    }
    memcpy(topic->name, name.ptr, name.len);
    topic->name[name.len] = '\0';
    topic->id = *id;
    topic->partition_count = partitions;
    topic->internal = name.len > 2 && name.ptr[0] == '_' && name.ptr[1] == '_';
    return topic;
}

static int topic_add_config(sl_topic_t *topic, sl_slice_t name, sl_slice_t value)
{
    if (topic->configs_count >= SL_TOPIC_CONFIGS_MAX)
        return SL_ELIMIT;
    sl_topic_config_entry_t *grown =
        sl_realloc(topic->configs, (topic->configs_count + 1) * sizeof(*grown));
    if (grown == NULL)
        return -ENOMEM;
    topic->configs = grown;
    sl_topic_config_entry_t *e = &grown[topic->configs_count];
    e->name = sl_malloc(name.len + 1);
    e->value = sl_malloc(value.len + 1);
    if (e->name == NULL || e->value == NULL) {
        sl_free(e->name);
        sl_free(e->value);
        return -ENOMEM;
    }
    memcpy(e->name, name.ptr, name.len);
    e->name[name.len] = '\0';
    memcpy(e->value, value.ptr, value.len);
    e->value[value.len] = '\0';
    topic->configs_count++;
    return 0;
}

/* ---- the topics.meta record ------------------------------------------------------------------ */

typedef struct {
    const sl_topic_table_t *table;
    sl_buf_t *buf;
    int rc;
} record_writer_t;

/* Quorum mode: the metadata log is the record of every topic it holds (cluster_metadata.c); only
 * the internal topics a broker makes for itself (__consumer_offsets, until it is created through
 * the controller) are kept here. */
static bool recorded_here(const sl_topic_table_t *t, const sl_topic_t *topic)
{
    return t->cfg->quorum_voter_count == 0 || topic->internal;
}

static bool write_topic_line(sl_topic_t *topic, void *data)
{
    record_writer_t *w = data;
    if (!recorded_here(w->table, topic))
        return true;
    char id[23];
    sl_uuid_to_base64(&topic->id, id);
    w->rc =
        sl_buf_appendf(w->buf, "topic %s %s %d\n", topic->name, id, (int)topic->partition_count);
    for (size_t i = 0; w->rc == 0 && i < topic->configs_count; i++) {
        w->rc = sl_buf_appendf(w->buf, "config %s %s ", topic->name, topic->configs[i].name);
        if (w->rc == 0)
            w->rc = sl__record_append_encoded(w->buf, topic->configs[i].value);
        if (w->rc == 0)
            w->rc = sl_buf_append(w->buf, "\n", 1);
    }
    return w->rc == 0;
}

/* Rewrites topics.meta in every log dir. A failure in one dir is logged; the record is safe as
 * long as one dir took it, since the highest generation wins at start. */
static int persist(sl_topic_table_t *t)
{
    sl_buf_t buf;
    sl_buf_init(&buf, TOPICS_FILE_BYTES_MAX);
    t->generation++;
    int rc = sl_buf_appendf(&buf,
                            "# Sluice topics: written by the broker, do not edit\n"
                            "version 1\ngeneration %" PRIu64 "\n",
                            t->generation);
    record_writer_t writer = {.table = t, .buf = &buf, .rc = 0};
    if (rc == 0) {
        sl__topics_each(t, write_topic_line, &writer);
        rc = writer.rc;
    }
    int written = 0;
    for (size_t d = 0; rc == 0 && d < t->cfg->log_dirs_count; d++) {
        int drc = sl__durable_file_replace(t->cfg->log_dirs[d], TOPICS_FILE, buf.ptr, buf.len);
        if (drc == 0)
            written++;
        else
            SL_LOG(SL_LOG_ERROR, "topics", "cannot write %s dir=%s error=\"%s\"", TOPICS_FILE,
                   t->cfg->log_dirs[d], sl_strerror(drc));
    }
    sl_buf_deinit(&buf);
    if (rc == 0 && written == 0)
        rc = -EIO;
    return rc;
}

static uint64_t record_generation(const char *dir)
{
    char path[4400], line[128];
    snprintf(path, sizeof(path), "%s/%s", dir, TOPICS_FILE);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    uint64_t generation = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "generation ", 11) == 0) {
            generation = strtoull(line + 11, NULL, 10);
            break;
        }
    fclose(f);
    return generation;
}

/* Applies one line of the record. Returns 0, or SL_ECORRUPT naming nothing (the caller logs). */
static int load_line(sl_topic_table_t *t, char *line)
{
    char *save = NULL;
    char *kind = strtok_r(line, " \n", &save);
    if (kind == NULL || kind[0] == '#' || strcmp(kind, "version") == 0 ||
        strcmp(kind, "generation") == 0)
        return 0;
    char *name = strtok_r(NULL, " \n", &save), *a = strtok_r(NULL, " \n", &save);
    char *b = strtok_r(NULL, " \n", &save);
    if (name == NULL || a == NULL || b == NULL || !sl__topic_name_valid(sl_slice_from_str(name)))
        return SL_ECORRUPT;
    if (strcmp(kind, "topic") == 0) {
        sl_uuid_t id;
        long partitions = strtol(b, NULL, 10);
        if (sl_uuid_from_base64(a, &id) != 0 || partitions < 1 ||
            partitions > SL_TOPIC_PARTITIONS_MAX)
            return SL_ECORRUPT;
        if (sl__topics_find(t, sl_slice_from_str(name)) != NULL || maybe_grow(t) != 0)
            return SL_ECORRUPT;
        sl_topic_t *topic = topic_alloc(sl_slice_from_str(name), &id, (int32_t)partitions);
        if (topic == NULL)
            return -ENOMEM;
        if (!recorded_here(t, topic)) { /* a quorum-mode record from before: the image decides */
            topic_free(topic);
            return 0;
        }
        link_topic(t, topic);
        return 0;
    }
    if (strcmp(kind, "config") == 0) {
        sl_topic_t *topic = sl__topics_find(t, sl_slice_from_str(name));
        if (topic == NULL && t->cfg->quorum_voter_count > 0)
            return 0; /* the config of a topic the image decides (above) */
        if (topic == NULL || !sl__record_decode_in_place(b))
            return SL_ECORRUPT;
        return topic_add_config(topic, sl_slice_from_str(a), sl_slice_from_str(b));
    }
    return SL_ECORRUPT;
}

static int load_record(sl_topic_table_t *t)
{
    size_t best = 0;
    uint64_t best_generation = 0;
    for (size_t d = 0; d < t->cfg->log_dirs_count; d++) {
        uint64_t g = record_generation(t->cfg->log_dirs[d]);
        if (g > best_generation) {
            best_generation = g;
            best = d;
        }
    }
    if (best_generation == 0)
        return 0; /* a new broker: no topics yet */
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s", t->cfg->log_dirs[best], TOPICS_FILE);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -errno;
    char *line = sl_malloc(TOPICS_LINE_BYTES_MAX);
    int rc = line == NULL ? -ENOMEM : 0;
    size_t line_no = 0;
    while (rc == 0 && fgets(line, TOPICS_LINE_BYTES_MAX, f) != NULL) {
        line_no++;
        rc = load_line(t, line);
        if (rc != 0)
            SL_LOG(SL_LOG_ERROR, "topics", "cannot read %s:%zu error=\"%s\"", path, line_no,
                   sl_strerror(rc));
    }
    fclose(f);
    sl_free(line);
    t->generation = best_generation;
    return rc;
}

static bool open_loaded_topic(sl_topic_t *topic, void *data)
{
    sl_topic_table_t *t = data;
    topic_apply_config(t, topic);
    return open_partitions(t, topic) == 0;
}

int sl__topics_open(const sl_config_t *cfg, sl_log_dir_t **dirs, sl_topic_table_t **out)
{
    sl_topic_table_t *t = sl_calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    t->cfg = cfg;
    t->dirs = dirs;
    t->dirs_count = cfg->log_dirs_count;
    t->buckets = 64;
    t->dir_partitions = sl_calloc(t->dirs_count, sizeof(size_t));
    t->by_name = sl_calloc(t->buckets, sizeof(sl_topic_t *));
    t->by_id = sl_calloc(t->buckets, sizeof(sl_topic_t *));
    int rc = t->dir_partitions && t->by_name && t->by_id ? load_record(t) : -ENOMEM;
    if (rc == 0) {
        sl__topics_each(t, open_loaded_topic, t);
        /* a partition that failed to open stops the start: serving half a topic hides loss */
        for (size_t b = 0; b < t->buckets && rc == 0; b++)
            for (sl_topic_t *topic = t->by_name[b]; topic && rc == 0; topic = topic->next_by_name)
                for (int32_t p = 0; p < topic->partition_count && rc == 0; p++)
                    if (topic->partitions[p].log == NULL)
                        rc = -EIO;
    }
    if (rc != 0) {
        sl__topics_close(t);
        return rc;
    }
    SL_LOG(SL_LOG_INFO, "topics", "loaded topics=%zu generation=%" PRIu64, t->count, t->generation);
    *out = t;
    return 0;
}

static bool close_topic(sl_topic_t *topic, void *data)
{
    sl_topic_table_t *t = data;
    close_partitions(t, topic, false);
    unlink_topic(t, topic);
    topic_free(topic);
    return true;
}

void sl__topics_close(sl_topic_table_t *t)
{
    if (t == NULL)
        return;
    sl__topics_reap(t);
    for (size_t i = 0; i < t->doomed_count; i++) /* still busy: the dir's close finishes them */
        SL_LOG(SL_LOG_WARN, "topics", "deleted partition log still busy at shutdown");
    sl_free(t->doomed);
    if (t->by_name != NULL && t->by_id != NULL)
        sl__topics_each(t, close_topic, t);
    sl_free(t->by_name);
    sl_free(t->by_id);
    sl_free(t->dir_partitions);
    sl_free(t);
}

/* ---- create and delete ----------------------------------------------------------------------- */

static sl_kerr_t check_new_topic(sl_topic_table_t *t, const sl_topic_spec_t *spec, char *msg,
                                 size_t msg_len)
{
    sl_slice_t name = spec->name;
    int name_len = (int)SL_MIN(name.len, (size_t)SL_TOPIC_NAME_BYTES_MAX + 8);
    if (!sl__topic_name_valid(name)) {
        snprintf(msg, msg_len,
                 "Topic name \"%.*s\" is illegal: it must be 1 to 249 of "
                 "[a-zA-Z0-9._-] and not '.' or '..'",
                 name_len, name.ptr ? (const char *)name.ptr : "");
        return SL_KERR_INVALID_TOPIC_EXCEPTION;
    }
    if (sl__topics_find(t, name) != NULL) {
        snprintf(msg, msg_len, "Topic '%.*s' already exists.", name_len, (const char *)name.ptr);
        return SL_KERR_TOPIC_ALREADY_EXISTS;
    }
    sl_topic_t *other = colliding_topic(t, name);
    if (other != NULL) {
        snprintf(msg, msg_len, "Topic '%.*s' collides with existing topic: %s", name_len,
                 (const char *)name.ptr, other->name);
        return SL_KERR_INVALID_TOPIC_EXCEPTION;
    }
    if (spec->partitions < 1 || spec->partitions > SL_TOPIC_PARTITIONS_MAX) {
        snprintf(msg, msg_len, "Number of partitions must be between 1 and %d, got %d.",
                 SL_TOPIC_PARTITIONS_MAX, (int)spec->partitions);
        return SL_KERR_INVALID_PARTITIONS;
    }
    if (t->count >= SL_TOPICS_MAX) {
        snprintf(msg, msg_len, "This broker holds the most topics it allows (%d).", SL_TOPICS_MAX);
        return SL_KERR_POLICY_VIOLATION;
    }
    if (spec->configs_count > SL_TOPIC_CONFIGS_MAX) {
        snprintf(msg, msg_len, "Too many configs: at most %d.", SL_TOPIC_CONFIGS_MAX);
        return SL_KERR_INVALID_CONFIG;
    }
    for (size_t i = 0; i < spec->configs_count; i++) {
        char key[SL_CONFIG_NAME_BYTES_MAX], value[SL_CONFIG_VALUE_BYTES_MAX];
        sl_slice_t k = spec->config_names[i], v = spec->config_values[i];
        if (k.ptr == NULL || k.len >= sizeof(key) || v.len >= sizeof(value) ||
            memchr(k.ptr, '\0', k.len) != NULL || (v.ptr && memchr(v.ptr, '\0', v.len))) {
            snprintf(msg, msg_len, "Invalid config name or value.");
            return SL_KERR_INVALID_CONFIG;
        }
        if (v.ptr == NULL) {
            snprintf(msg, msg_len, "Null value not supported for topic configs: %.*s", (int)k.len,
                     (const char *)k.ptr);
            return SL_KERR_INVALID_REQUEST;
        }
        memcpy(key, k.ptr, k.len);
        key[k.len] = '\0';
        memcpy(value, v.ptr, v.len);
        value[v.len] = '\0';
        if (sl_topic_config_validate(key, value, msg, msg_len) != 0)
            return SL_KERR_INVALID_CONFIG;
        for (size_t j = 0; j < i; j++)
            if (sl_slice_eq(spec->config_names[j], k)) {
                snprintf(msg, msg_len, "Config %s is set more than once.", key);
                return SL_KERR_INVALID_REQUEST;
            }
    }
    return SL_KERR_NONE;
}

static sl_kerr_t create_topic(sl_topic_table_t *t, const sl_topic_spec_t *spec,
                              const sl_uuid_t *id_in, sl_topic_t **out, char *msg, size_t msg_len);

sl_kerr_t sl__topics_create(sl_topic_table_t *t, const sl_topic_spec_t *spec, bool validate_only,
                            sl_topic_t **out, char *msg, size_t msg_len)
{
    msg[0] = '\0';
    sl__topics_reap(t); /* a just-deleted topic of the same name must be gone from disk first */
    sl_kerr_t err = check_new_topic(t, spec, msg, msg_len);
    if (err != SL_KERR_NONE || validate_only)
        return err;
    sl_uuid_t id;
    do {
        if (sl_uuid_random(&id) != 0)
            return SL_KERR_UNKNOWN_SERVER_ERROR;
    } while (sl__topics_find_id(t, &id) != NULL);
    return create_topic(t, spec, &id, out, msg, msg_len);
}

sl_kerr_t sl__topics_create_with_id(sl_topic_table_t *t, const sl_topic_spec_t *spec,
                                    const sl_uuid_t *id, sl_topic_t **out, char *msg,
                                    size_t msg_len)
{
    msg[0] = '\0';
    sl__topics_reap(t);
    if (sl__topics_find(t, spec->name) != NULL || sl__topics_find_id(t, id) != NULL) {
        snprintf(msg, msg_len, "Topic '%.*s' already exists.", (int)SL_MIN(spec->name.len, 255),
                 (const char *)spec->name.ptr);
        return SL_KERR_TOPIC_ALREADY_EXISTS;
    }
    return create_topic(t, spec, id, out, msg, msg_len);
}

static sl_kerr_t create_topic(sl_topic_table_t *t, const sl_topic_spec_t *spec,
                              const sl_uuid_t *id_in, sl_topic_t **out, char *msg, size_t msg_len)
{
    sl_uuid_t id = *id_in;
    sl_topic_t *topic = topic_alloc(spec->name, &id, spec->partitions);
    if (topic == NULL || maybe_grow(t) != 0) {
        if (topic != NULL)
            topic_free(topic);
        return SL_KERR_UNKNOWN_SERVER_ERROR;
    }
    int rc = 0;
    for (size_t i = 0; i < spec->configs_count && rc == 0; i++)
        rc = topic_add_config(topic, spec->config_names[i], spec->config_values[i]);
    if (rc == 0) {
        topic_apply_config(t, topic);
        rc = open_partitions(t, topic);
    }
    if (rc == 0) {
        link_topic(t, topic);
        rc = persist(t);
        if (rc != 0)
            unlink_topic(t, topic);
    }
    if (rc != 0) {
        close_partitions(t, topic, true);
        topic_free(topic);
        if (rc == SL_EEXISTS && (t->doomed_count > 0 || t->dying_count > 0)) {
            /* The topic's previous incarnation still has reads or writes in flight; its logs go
             * within moments (sl__topics_reap), so this is worth a retry. */
            snprintf(msg, msg_len, "A deleted topic of this name is still being removed; retry.");
            return SL_KERR_REQUEST_TIMED_OUT;
        }
        snprintf(msg, msg_len, "Cannot create the topic on disk: %s", sl_strerror(rc));
        return rc == -EIO ? SL_KERR_KAFKA_STORAGE_ERROR : SL_KERR_UNKNOWN_SERVER_ERROR;
    }
    SL_LOG(SL_LOG_INFO, "topics", "created topic=%s partitions=%d configs=%zu", topic->name,
           (int)topic->partition_count, topic->configs_count);
    *out = topic;
    return SL_KERR_NONE;
}

/* The last reference to a deleted topic is gone: its partitions' logs go now. */
static void topic_finish_delete(sl_topic_table_t *t, sl_topic_t *topic)
{
    SL_ASSERT(topic->deleted);
    SL_ASSERT(topic->refs == 0);
    SL_ASSERT(t->dying_count > 0);
    t->dying_count--;
    close_partitions(t, topic, true);
    topic_free(topic);
}

void sl__topic_ref(sl_topic_t *topic)
{
    SL_ASSERT(topic->refs < UINT32_MAX);
    topic->refs++;
}

void sl__topic_unref(sl_topic_table_t *t, sl_topic_t *topic)
{
    SL_ASSERT(topic->refs > 0);
    if (--topic->refs == 0 && topic->deleted)
        topic_finish_delete(t, topic);
}

int sl__topics_delete(sl_topic_table_t *t, sl_topic_t *topic)
{
    SL_ASSERT(!topic->deleted);
    unlink_topic(t, topic);
    int rc = persist(t);
    if (rc != 0) {
        link_topic(t, topic); /* the record still names it: keep serving it */
        return rc;
    }
    SL_LOG(SL_LOG_INFO, "topics", "deleted topic=%s partitions=%d", topic->name,
           (int)topic->partition_count);
    topic->deleted = true;
    t->dying_count++;
    /* Waiting fetches answer now; requests still reading or appending hold references, and the
     * logs are removed when the last of them lets go. A woken fetch may finish (and drop its
     * reference) inside wake_waiters, so this call holds one of its own until it is done. */
    sl__topic_ref(topic);
    for (int32_t p = 0; p < topic->partition_count; p++)
        wake_waiters(&topic->partitions[p], true);
    sl__topic_unref(t, topic);
    return 0;
}

/* ---- run-time changes: configs (AlterConfigs) and partitions (CreatePartitions) ------------- */

/* Kafka checks that every name is a topic config before it looks at any value. */
static sl_kerr_t check_config_values(const sl_slice_t *names, const sl_slice_t *values,
                                     size_t count, char *msg, size_t msg_len)
{
    if (count > SL_TOPIC_CONFIGS_MAX) {
        snprintf(msg, msg_len, "Too many configs: at most %d.", SL_TOPIC_CONFIGS_MAX);
        return SL_KERR_INVALID_CONFIG;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < count; i++) {
            char key[SL_CONFIG_NAME_BYTES_MAX], value[SL_CONFIG_VALUE_BYTES_MAX];
            sl_slice_t k = names[i], v = values[i];
            SL_ASSERT(v.ptr != NULL || v.len == 0);
            if (k.ptr == NULL || k.len >= sizeof(key) || v.len >= sizeof(value) ||
                memchr(k.ptr, '\0', k.len) != NULL || (v.ptr && memchr(v.ptr, '\0', v.len))) {
                snprintf(msg, msg_len, "Invalid config name or value.");
                return SL_KERR_INVALID_CONFIG;
            }
            memcpy(key, k.ptr, k.len);
            key[k.len] = '\0';
            if (v.len > 0)
                memcpy(value, v.ptr, v.len);
            value[v.len] = '\0';
            int rc = sl_topic_config_validate(key, value, msg, msg_len);
            if ((pass == 0 && rc == SL_ENOTFOUND) || (pass == 1 && rc != 0))
                return SL_KERR_INVALID_CONFIG;
        }
    }
    return SL_KERR_NONE;
}

static void configs_free(sl_topic_config_entry_t *configs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        sl_free(configs[i].name);
        sl_free(configs[i].value);
    }
    sl_free(configs);
}

sl_kerr_t sl__topics_set_configs(sl_topic_table_t *t, sl_topic_t *topic, const sl_slice_t *names,
                                 const sl_slice_t *values, size_t count, bool validate_only,
                                 char *msg, size_t msg_len)
{
    msg[0] = '\0';
    SL_ASSERT(topic->partition_count >= 1);
    sl_kerr_t err = check_config_values(names, values, count, msg, msg_len);
    if (err != SL_KERR_NONE || validate_only)
        return err;
    sl_topic_config_entry_t *old = topic->configs;
    size_t old_count = topic->configs_count;
    topic->configs = NULL;
    topic->configs_count = 0;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = topic_add_config(topic, names[i], values[i]);
    if (rc == 0)
        rc = persist(t);
    if (rc != 0) { /* the record still holds the old set: keep serving it */
        configs_free(topic->configs, topic->configs_count);
        topic->configs = old;
        topic->configs_count = old_count;
        snprintf(msg, msg_len, "Cannot store the topic's configs: %s", sl_strerror(rc));
        return rc == -EIO ? SL_KERR_KAFKA_STORAGE_ERROR : SL_KERR_UNKNOWN_SERVER_ERROR;
    }
    configs_free(old, old_count);
    /* Every partition's log takes the new settings at once: the next append, roll and
     * retention pass see them. */
    topic_apply_config(t, topic);
    SL_LOG(SL_LOG_INFO, "topics", "altered configs topic=%s configs=%zu", topic->name,
           topic->configs_count);
    SL_ASSERT(topic->configs_count == count);
    return SL_KERR_NONE;
}

static void wake_retired_waiters(sl_partition_t *partition, bool closing)
{
    sl_topic_t *topic = partition->topic;
    if (topic == NULL || partition < topic->partitions ||
        partition >= topic->partitions + topic->partition_count)
        return; /* an entry of a retired array itself: its own waiters were woken */
    for (size_t i = 0; i < topic->retired_count; i++) {
        const struct sl_retired_partitions *r = &topic->retired[i];
        if (partition->index >= r->count)
            continue;
        sl_partition_t *old = &r->partitions[partition->index];
        while (old->waiters != NULL)
            sl__fetch_wait_woken(old->waiters, closing);
    }
}

/* Room for count partitions. Growth within the array's capacity moves nothing; beyond it the
 * array doubles (so a topic retires at most log2(SL_TOPIC_PARTITIONS_MAX) arrays) and the old
 * one is retired, never freed while the topic lives. */
static int partitions_reserve(sl_topic_t *topic, int32_t count)
{
    int32_t cap = topic->partitions_cap > 0 ? topic->partitions_cap : topic->partition_count;
    if (count <= cap)
        return 0;
    int32_t new_cap = SL_MIN(SL_MAX(count, 2 * cap), SL_TOPIC_PARTITIONS_MAX);
    SL_ASSERT(new_cap >= count);
    sl_partition_t *grown = sl_calloc((size_t)new_cap, sizeof(*grown));
    struct sl_retired_partitions *retired =
        grown ? sl_realloc(topic->retired, (topic->retired_count + 1) * sizeof(*retired)) : NULL;
    if (retired == NULL) {
        sl_free(grown);
        return -ENOMEM;
    }
    topic->retired = retired;
    memcpy(grown, topic->partitions, (size_t)topic->partition_count * sizeof(*grown));
    for (int32_t p = 0; p < topic->partition_count; p++) {
        grown[p].waiters = NULL; /* those stay linked to the retired entry */
        if (grown[p].log != NULL)
            sl_log_set_hw_listener(grown[p].log, high_watermark_moved, &grown[p]);
    }
    topic->retired[topic->retired_count++] =
        (struct sl_retired_partitions){topic->partitions, topic->partition_count};
    topic->partitions = grown;
    topic->partitions_cap = new_cap;
    return 0;
}

/* Opens the log of partition p (a new one, or one whose directory is already there). */
static int open_new_partition(sl_topic_table_t *t, sl_topic_t *topic, int32_t p)
{
    sl_partition_t *part = &topic->partitions[p];
    *part = (sl_partition_t){.topic = topic, .index = p};
    size_t d = place_partition(t, topic->name, p);
    part->dir = t->dirs[d];
    int rc = sl_log_open(part->dir, topic->name, p, &topic->id, &topic->log_config, &part->log);
    if (rc != 0) {
        SL_LOG(SL_LOG_ERROR, "topics", "cannot open partition topic=%s partition=%d error=\"%s\"",
               topic->name, (int)p, sl_strerror(rc));
        part->log = NULL;
        return rc;
    }
    sl_log_set_hw_listener(part->log, high_watermark_moved, part);
    t->dir_partitions[d]++;
    return 0;
}

/* Deletes the logs of partitions [from, to) that open_new_partition made. */
static void drop_new_partitions(sl_topic_table_t *t, sl_topic_t *topic, int32_t from, int32_t to)
{
    for (int32_t p = from; p < to; p++) {
        sl_partition_t *part = &topic->partitions[p];
        if (part->log == NULL)
            continue;
        for (size_t d = 0; d < t->dirs_count; d++)
            if (t->dirs[d] == part->dir && t->dir_partitions[d] > 0)
                t->dir_partitions[d]--;
        int rc = sl_log_delete(part->log);
        if (rc != 0)
            SL_LOG(SL_LOG_WARN, "topics",
                   "cannot delete partition topic=%s partition=%d error=\"%s\"", topic->name,
                   (int)p, sl_strerror(rc));
        part->log = NULL;
    }
}

static sl_kerr_t check_partition_count(const sl_topic_t *topic, int32_t count, char *msg,
                                       size_t msg_len)
{
    int32_t now = topic->partition_count;
    if (count == now) {
        snprintf(msg, msg_len, "Topic already has %d partition(s).", (int)now);
        return SL_KERR_INVALID_PARTITIONS;
    }
    if (count < now) {
        snprintf(msg, msg_len,
                 "The topic %s currently has %d partition(s); %d would not be an increase.",
                 topic->name, (int)now, (int)count);
        return SL_KERR_INVALID_PARTITIONS;
    }
    if (count > SL_TOPIC_PARTITIONS_MAX) {
        snprintf(msg, msg_len, "Number of partitions must be between 1 and %d, got %d.",
                 SL_TOPIC_PARTITIONS_MAX, (int)count);
        return SL_KERR_INVALID_PARTITIONS;
    }
    return SL_KERR_NONE;
}

sl_kerr_t sl__topics_add_partitions(sl_topic_table_t *t, sl_topic_t *topic, int32_t count,
                                    bool validate_only, char *msg, size_t msg_len)
{
    msg[0] = '\0';
    SL_ASSERT(topic->partition_count >= 1);
    sl_kerr_t err = check_partition_count(topic, count, msg, msg_len);
    if (err != SL_KERR_NONE || validate_only)
        return err;
    int32_t old = topic->partition_count;
    int rc = partitions_reserve(topic, count);
    int32_t opened = old;
    while (rc == 0 && opened < count && (rc = open_new_partition(t, topic, opened)) == 0)
        opened++;
    if (rc == 0) {
        topic->partition_count = count; /* visible to Metadata, Produce and Fetch from now on */
        rc = persist(t);
        if (rc != 0)
            topic->partition_count = old;
    }
    if (rc != 0) {
        drop_new_partitions(t, topic, old, opened);
        snprintf(msg, msg_len, "Cannot create the partitions on disk: %s", sl_strerror(rc));
        return rc == -EIO ? SL_KERR_KAFKA_STORAGE_ERROR : SL_KERR_UNKNOWN_SERVER_ERROR;
    }
    SL_LOG(SL_LOG_INFO, "topics", "added partitions topic=%s partitions=%d (was %d)", topic->name,
           (int)count, (int)old);
    SL_ASSERT(topic->partition_count == count);
    return SL_KERR_NONE;
}
