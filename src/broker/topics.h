/* topics: the broker's table of topics and their partitions, each partition a log in one of the
 * log dirs. Persisted as a small text file (topics.meta) in every log dir, written atomically, so
 * topics, ids and configs survive restarts; replication will move this record to the metadata
 * log. Invariants: names and ids are unique; a topic's partitions are 0..partition_count-1, each
 * with an open log; topic config overrides hold only keys that validated. */
#ifndef SLUICE_BROKER_TOPICS_H
#define SLUICE_BROKER_TOPICS_H

#include "sluice/config.h"
#include "sluice/core.h"
#include "sluice/log.h"
#include "sluice/protocol.h"

#define SL_TOPICS_MAX 100000
#define SL_TOPIC_PARTITIONS_MAX 10000
#define SL_TOPIC_CONFIGS_MAX 64

typedef struct sl_topic sl_topic_t;
typedef struct sl_fetch_wait sl_fetch_wait_t;

/* A Fetch waiting for new data on a partition: a node in the partition's waiter list. */
struct sl_fetch_wait {
    sl_fetch_wait_t *prev, *next;
    struct sl_partition *partition; /* NULL when not linked */
};

typedef struct sl_partition {
    sl_topic_t *topic;
    int32_t index;
    sl_log_t *log;
    sl_log_dir_t *dir;
    int32_t leader_epoch;
    sl_fetch_wait_t *waiters; /* Fetches waiting for this partition's high watermark to move */
    /* Its Raft group when the partition is replicated (src/replication/replica_manager.h), NULL
     * when unreplicated (a single node): leadership.c asks it who leads. */
    struct sl_partition_replica *replica;
} sl_partition_t;

void sl__fetch_wait_link(sl_partition_t *partition, sl_fetch_wait_t *wait);
void sl__fetch_wait_unlink(sl_fetch_wait_t *wait);
/* Implemented by the Fetch handler: a waiter's partition moved (or is going away). */
void sl__fetch_wait_woken(sl_fetch_wait_t *wait, bool partition_closing);

/* One topic-level override (retention.ms=...), as the client gave it. Owned strings. */
typedef struct sl_topic_config_entry {
    char *name;
    char *value;
} sl_topic_config_entry_t;

/* A partition array that CreatePartitions replaced. Requests in flight (a Fetch waiting, a read)
 * may still hold pointers to its entries, so it lives until the topic is freed, and its entries'
 * waiters are woken together with the live entry's. */
struct sl_retired_partitions {
    sl_partition_t *partitions; /* owned */
    int32_t count;
};

/* Kafka's BrokerTopicMetrics for one topic: plain counters bumped on the loop thread by Produce
 * and Fetch (per partition, as Kafka's ReplicaManager counts), read by /metrics (http_metrics.c).
 */
typedef struct sl_topic_metrics {
    uint64_t bytes_in, messages_in, bytes_out;
    uint64_t produce_requests, failed_produce_requests;
    uint64_t fetch_requests, failed_fetch_requests;
} sl_topic_metrics_t;

struct sl_topic {
    char *name; /* owned */
    sl_uuid_t id;
    bool internal;
    int32_t partition_count;
    sl_partition_t *partitions; /* owned array of partition_count */
    /* Entries allocated in partitions (0: exactly partition_count); CreatePartitions grows within
     * it without moving, and beyond it retires the array (requests may hold its entries). */
    int32_t partitions_cap;
    struct sl_retired_partitions *retired; /* owned, retired_count */
    size_t retired_count;
    sl_topic_config_entry_t *configs; /* owned overrides */
    size_t configs_count;
    sl_log_config_t log_config;  /* effective: broker defaults + overrides */
    int32_t max_message_bytes;   /* effective max.message.bytes */
    int32_t min_insync_replicas; /* effective min.insync.replicas (replicated partitions) */
    bool compacted;              /* cleanup.policy contains compact: every record needs a key */
    /* message.timestamp.before/after.max.ms: how far a CreateTime timestamp may lie */
    int64_t timestamp_before_max_ms, timestamp_after_max_ms;
    uint32_t refs; /* requests in flight that hold it (sl__topic_ref) */
    bool deleted;  /* out of the table; freed with its logs when refs reaches 0 */

    sl_topic_metrics_t metrics;
    sl_topic_t *next_by_name; /* hash chains */
    sl_topic_t *next_by_id;
};

typedef struct sl_topic_table sl_topic_table_t;

sl_topic_t *sl__topics_find(sl_topic_table_t *table, sl_slice_t name);
sl_topic_t *sl__topics_find_id(sl_topic_table_t *table, const sl_uuid_t *id);
/* Calls fn for every topic (in no particular order); stops early when fn returns false. */
void sl__topics_each(sl_topic_table_t *table, bool (*fn)(sl_topic_t *, void *), void *data);
size_t sl__topics_count(const sl_topic_table_t *table);

/* Kafka's Topic.validate: 1..249 of [a-zA-Z0-9._-], and not "." or "..". */
bool sl__topic_name_valid(sl_slice_t name);

/* Loads topics.meta (the newest generation among the log dirs) and opens every partition. dirs
 * (borrowed, one per cfg->log_dirs entry, same order) must outlive the table. */
int sl__topics_open(const sl_config_t *cfg, sl_log_dir_t **dirs, sl_topic_table_t **out);
/* Closes every log and frees the table. */
void sl__topics_close(sl_topic_table_t *table);

typedef struct sl_topic_spec {
    sl_slice_t name;
    int32_t partitions;
    const sl_slice_t *config_names, *config_values; /* configs_count each, borrowed */
    size_t configs_count;
} sl_topic_spec_t;

/* Creates a topic (or only checks it, validate_only). Returns Kafka's error for the topic, with a
 * message for the client in msg; on success *out is the new topic. */
sl_kerr_t sl__topics_create(sl_topic_table_t *table, const sl_topic_spec_t *spec,
                            bool validate_only, sl_topic_t **out, char *msg, size_t msg_len);
/* Quorum mode (controller.quorum.voters set): the metadata image is the record, so topics.meta
 * keeps only the internal topics a broker makes for itself (__consumer_offsets), and
 * cluster_metadata.c creates, grows, reconfigures and deletes the other topics as the image says.
 * This creates one with the image's id (no name rules: the controller checked them). */
sl_kerr_t sl__topics_create_with_id(sl_topic_table_t *table, const sl_topic_spec_t *spec,
                                    const sl_uuid_t *id, sl_topic_t **out, char *msg,
                                    size_t msg_len);
/* Removes the topic from the table and the record, wakes its waiting fetches, and deletes its
 * partitions' logs once no request holds it any more. */
int sl__topics_delete(sl_topic_table_t *table, sl_topic_t *topic);
/* A request that keeps using a topic across I/O (a read, an append) holds a reference, so that a
 * DeleteTopics meanwhile cannot free what it uses. */
void sl__topic_ref(sl_topic_t *topic);
void sl__topic_unref(sl_topic_table_t *table, sl_topic_t *topic);
/* Removes the logs of deleted partitions that were still busy; the broker calls it from a timer. */
void sl__topics_reap(sl_topic_table_t *table);

/* AlterConfigs: replaces the topic's overrides with names[i]=values[i] (borrowed, non-NULL
 * values, no duplicate names: the caller checks those with Kafka's messages), validated like
 * CreateTopics' configs (every name, then every value), persisted in topics.meta, and applied to
 * every partition's log at once. validate_only checks only. Returns Kafka's error, message in
 * msg. */
sl_kerr_t sl__topics_set_configs(sl_topic_table_t *table, sl_topic_t *topic,
                                 const sl_slice_t *names, const sl_slice_t *values, size_t count,
                                 bool validate_only, char *msg, size_t msg_len);
/* The broker configuration changed (dynamic broker configs): every topic recomputes its effective
 * settings from the table's configuration and its overrides, and its logs take them at once. */
void sl__topics_reconfigure(sl_topic_table_t *table);
/* CreatePartitions: grows the topic to count partitions (INVALID_PARTITIONS with Kafka's messages
 * for no increase), opens their logs, persists. Existing partitions' entries never move while a
 * request may hold them. validate_only checks only. */
sl_kerr_t sl__topics_add_partitions(sl_topic_table_t *table, sl_topic_t *topic, int32_t count,
                                    bool validate_only, char *msg, size_t msg_len);

#endif
