/* metadata: the cluster metadata model of KRaft, as pure functions over memory (no I/O, clocks or
 * randomness: the caller passes time, seeds and ids in).
 *
 * - The image (sl_metadata_image_t): brokers, controllers, topics and their partitions (replicas,
 *   ISR, leader, epochs, reassignment and ELR state), configs, producer id blocks and feature
 *   levels: what every node knows after applying the committed records of __cluster_metadata.
 *   sl_metadata_apply() applies one record with Kafka's replay semantics; a record that does not
 *   fit the image is refused with an error and changes nothing. A snapshot is the image written
 *   as records (sl_metadata_image_snapshot), which applied to an empty image give it back.
 * - The controller's decisions (create/delete topics, create partitions, broker registration,
 *   heartbeats and fencing, AlterPartition, preferred leader election, reassignment, producer id
 *   blocks): functions that read the image and append the records that carry the decision to an
 *   sl_metadata_records_t. They never change the image: the active controller proposes the
 *   records through Raft, and every node (the controller included) applies them once committed.
 *
 * Records use sluice/metadata_records.h (the generated codec). Errors: functions return 0 or a
 * negative SL_E* code (SL_EMALFORMED: a record that cannot apply; SL_ENOTFOUND, SL_EEXISTS;
 * -ENOMEM); controller decisions return a Kafka error code (sl_kerr_t, 0 = accepted) and a
 * message. */
#ifndef SLUICE_METADATA_H
#define SLUICE_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/core.h"
#include "sluice/metadata_records.h"

/* Kafka's sentinels in PartitionRecord / PartitionChangeRecord. */
#define SL_METADATA_NO_LEADER (-1)        /* leader: the partition is offline */
#define SL_METADATA_NO_LEADER_CHANGE (-2) /* PartitionChangeRecord.Leader: unchanged */
/* LeaderRecoveryState (PartitionChangeRecord: -1 = unchanged). */
#define SL_METADATA_LEADER_RECOVERED 0
#define SL_METADATA_LEADER_RECOVERING 1
/* BrokerRegistrationChangeRecord.Fenced. */
#define SL_METADATA_FENCING_UNFENCE (-1)
#define SL_METADATA_FENCING_NONE 0
#define SL_METADATA_FENCING_FENCE 1
/* ConfigRecord.ResourceType (Kafka's ConfigResource.Type ids). */
#define SL_METADATA_CONFIG_TOPIC 2
#define SL_METADATA_CONFIG_BROKER 4
#define SL_METADATA_CONFIG_BROKER_LOGGER 8
/* Producer ids per ProducerIdsRecord block (Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE). */
#define SL_METADATA_PRODUCER_ID_BLOCK_SIZE 1000
/* Bounds on hostile records: the highest partition id and the longest replica list accepted. */
#define SL_METADATA_PARTITION_ID_MAX 100000
#define SL_METADATA_REPLICAS_MAX 256

/* A list of broker ids (replicas, ISR, ...). In the image: owned by the image. */
typedef struct sl_metadata_replicas {
    int32_t *ids;
    int32_t count;
} sl_metadata_replicas_t;

typedef struct sl_metadata_endpoint {
    char *name; /* listener name */
    char *host;
    uint16_t port;
    int16_t security_protocol;
} sl_metadata_endpoint_t;

typedef struct sl_metadata_feature_range {
    char *name;
    int16_t min_supported_version, max_supported_version;
} sl_metadata_feature_range_t;

typedef struct sl_metadata_broker {
    int32_t id;
    sl_uuid_t incarnation_id;
    int64_t epoch; /* the offset of its RegisterBrokerRecord */
    sl_metadata_endpoint_t *endpoints;
    int32_t endpoint_count;
    sl_metadata_feature_range_t *features;
    int32_t feature_count;
    char *rack; /* NULL: none */
    sl_uuid_t *log_dirs;
    int32_t log_dir_count;
    bool fenced;
    bool in_controlled_shutdown;
    bool is_migrating_zk_broker;
} sl_metadata_broker_t;

typedef struct sl_metadata_controller {
    int32_t id;
    sl_uuid_t incarnation_id;
    bool zk_migration_ready;
    sl_metadata_endpoint_t *endpoints;
    int32_t endpoint_count;
    sl_metadata_feature_range_t *features;
    int32_t feature_count;
} sl_metadata_controller_t;

typedef struct sl_metadata_partition {
    bool exists; /* false: a hole below the topic's highest partition id */
    sl_metadata_replicas_t replicas, isr, removing_replicas, adding_replicas;
    sl_metadata_replicas_t elr, last_known_elr;
    sl_uuid_t *directories; /* one per replica (Kafka's DirectoryId: zero = UNASSIGNED) */
    int32_t leader;         /* SL_METADATA_NO_LEADER: offline */
    int32_t leader_epoch;
    int32_t partition_epoch;
    int8_t leader_recovery_state;
} sl_metadata_partition_t;

typedef struct sl_metadata_topic {
    char *name;
    sl_uuid_t id;
    sl_metadata_partition_t *partitions; /* indexed by partition id */
    int32_t partition_count;             /* highest partition id + 1 */
} sl_metadata_topic_t;

typedef struct sl_metadata_config {
    int8_t resource_type; /* SL_METADATA_CONFIG_* */
    char *resource_name;  /* topic name, broker id as text, "" for the cluster default */
    char *name;
    char *value;
} sl_metadata_config_t;

typedef struct sl_metadata_feature {
    char *name;
    int16_t level;
} sl_metadata_feature_t;

/* Read the fields directly; change the image only through sl_metadata_apply. Arrays are in the
 * order records created them (brokers sorted by id). */
typedef struct sl_metadata_image {
    sl_metadata_broker_t *brokers;
    int32_t broker_count, broker_cap;
    sl_metadata_controller_t *controllers;
    int32_t controller_count, controller_cap;
    sl_metadata_topic_t **topics;
    int32_t topic_count, topic_cap;
    sl_metadata_config_t *configs;
    int32_t config_count, config_cap;
    sl_metadata_feature_t *features;
    int32_t feature_count, feature_cap;
    /* From the last ProducerIdsRecord: the first id of the next block to hand out. */
    int64_t next_producer_id;
    int32_t producer_ids_broker_id;    /* -1 until a block was handed out */
    int64_t producer_ids_broker_epoch; /* -1 until a block was handed out */
} sl_metadata_image_t;

void sl_metadata_image_init(sl_metadata_image_t *img);
void sl_metadata_image_deinit(sl_metadata_image_t *img);

/* Applies one committed record with Kafka's replay semantics. 0; SL_EMALFORMED for a record
 * that cannot apply (bad values, an unknown topic, partition or broker, an epoch mismatch, a
 * duplicate topic): the image is unchanged then; -ENOMEM. Records the image does not model (ACLs,
 * quotas, SCRAM credentials, delegation tokens, ZK migration and transaction markers) are accepted
 * and ignored. */
int sl_metadata_apply(sl_metadata_image_t *img, const sl_metadata_record_t *rec);

/* Decodes and applies every record of one v2 record batch from __cluster_metadata (control
 * batches are skipped). Stops at the first failure: *applied (may be NULL) says how many records
 * went in before it. arena holds decoded arrays (reset by the caller). */
int sl_metadata_apply_batch(sl_metadata_image_t *img, const uint8_t *batch, size_t len,
                            sl_arena_t *arena, int32_t *applied);

/* ---- lookups (NULL when absent; borrowed from the image until it next changes) ----------------
 */
sl_metadata_broker_t *sl_metadata_broker_find(const sl_metadata_image_t *img, int32_t id);
sl_metadata_topic_t *sl_metadata_topic_find(const sl_metadata_image_t *img, sl_slice_t name);
sl_metadata_topic_t *sl_metadata_topic_find_id(const sl_metadata_image_t *img, const sl_uuid_t *id);
sl_metadata_partition_t *sl_metadata_partition_find(const sl_metadata_topic_t *topic,
                                                    int32_t partition_id);
/* The value of a config, or NULL. */
const char *sl_metadata_config_find(const sl_metadata_image_t *img, int8_t resource_type,
                                    const char *resource_name, const char *name);
/* A feature's level, 0 when not set (Kafka: 0 = not supported). */
int16_t sl_metadata_feature_level(const sl_metadata_image_t *img, const char *name);
/* A broker that may lead and join ISRs: registered, unfenced, not in controlled shutdown. */
bool sl_metadata_broker_active(const sl_metadata_image_t *img, int32_t id);
bool sl_metadata_replicas_contains(const sl_metadata_replicas_t *r, int32_t id);
/* Kafka's topic name rule: 1..249 of [a-zA-Z0-9._-], not "." or "..". */
bool sl_metadata_topic_name_valid(sl_slice_t name);

/* ---- record lists ------------------------------------------------------------------------------
 * What decisions and snapshots produce: records in an arena (borrowed: valid until the arena
 * resets; their arrays and strings may also borrow the image, valid until it next changes). */
typedef struct sl_metadata_records {
    sl_metadata_record_t *items;
    size_t count, cap;
    sl_arena_t *arena;
} sl_metadata_records_t;

void sl_metadata_records_init(sl_metadata_records_t *list, sl_arena_t *arena);
/* Appends a record of type at its newest version with schema defaults; NULL when the arena is
 * full (the list is unchanged). The pointer is valid until the next add (the list may move). */
sl_metadata_record_t *sl_metadata_records_add(sl_metadata_records_t *list, int16_t type);
/* Encodes list->items[from..count) as one uncompressed Kafka v2 record batch (base offset 0,
 * null keys, values = framed records, CRC-32C set), appended to out: what sl_raft_propose takes.
 * 0, SL_EUNSUPPORTED (a record of unknown type), SL_ELIMIT or -ENOMEM. */
int sl_metadata_records_encode_batch(const sl_metadata_records_t *list, size_t from,
                                     int64_t timestamp_ms, sl_buf_t *out);

/* The image as records (Kafka's snapshot content): feature levels, brokers, controllers, topics
 * with their partitions, configs, the producer id block. Applying them in order to an empty image
 * gives an image sl_metadata_image_equal to this one. 0 or SL_ELIMIT (arena). */
int sl_metadata_image_snapshot(const sl_metadata_image_t *img, sl_metadata_records_t *out);
bool sl_metadata_image_equal(const sl_metadata_image_t *a, const sl_metadata_image_t *b);

/* Kafka's snapshot file (<offset>-<epoch>.checkpoint; bootstrap.checkpoint): a control batch with
 * a SnapshotHeaderRecord (last_contained_log_time_ms), the image's records in data batches of at
 * most 500, a control batch with a SnapshotFooterRecord; batch offsets from 0. Appended to out
 * (unchanged on error); record bytes go through arena. 0, SL_ELIMIT or -ENOMEM. */
int sl_metadata_snapshot_write(const sl_metadata_image_t *img, int64_t last_contained_log_time_ms,
                               int64_t now_ms, sl_arena_t *arena, sl_buf_t *out);
/* Loads a snapshot file into img (empty: the caller's fresh image): the header first, data
 * batches applied in order, the footer last with nothing after it; KRaftVersion and Voters
 * control records (KIP-853, the quorum's business) are skipped. Every batch's CRC is checked.
 * SL_EMALFORMED for anything else (img then holds what applied before: discard it). */
int sl_metadata_snapshot_read(sl_metadata_image_t *img, const uint8_t *data, size_t len,
                              sl_arena_t *arena, int64_t *last_contained_log_time_ms);

/* ---- the controller's decisions -------------------------------------------------------------- */

/* Broker sessions as the active controller sees them: the last heartbeat of each broker (time
 * from the caller's clock). Owned by the controller, not replicated (a new controller starts every
 * session at its election, as Kafka's BrokerHeartbeatManager does). */
typedef struct sl_metadata_sessions {
    struct sl_metadata_session {
        int32_t broker_id;
        int64_t last_contact_ms;
    } * items;
    int32_t count, cap;
} sl_metadata_sessions_t;

void sl_metadata_sessions_init(sl_metadata_sessions_t *s);
void sl_metadata_sessions_deinit(sl_metadata_sessions_t *s);
int sl_metadata_sessions_touch(sl_metadata_sessions_t *s, int32_t broker_id, int64_t now_ms);
/* Starts a session at now_ms for every registered broker: what a newly elected controller does
 * before it judges anyone stale. 0 or -ENOMEM. */
int sl_metadata_sessions_reset(sl_metadata_sessions_t *s, const sl_metadata_image_t *img,
                               int64_t now_ms);
/* true when the broker heartbeated within session_timeout_ms of now_ms. */
bool sl_metadata_sessions_alive(const sl_metadata_sessions_t *s, int32_t broker_id, int64_t now_ms,
                                int64_t session_timeout_ms);

/* A decision's outcome: error 0 = accepted (its records are in the list); otherwise the Kafka
 * error and a message for the response's ErrorMessage. */
typedef struct sl_metadata_result {
    sl_kerr_t error;
    char message[200];
} sl_metadata_result_t;

/* Cluster-wide settings the decisions follow (Kafka's names). */
typedef struct sl_metadata_policy {
    int32_t default_partitions;          /* num.partitions */
    int16_t default_replication_factor;  /* default.replication.factor */
    bool unclean_leader_election_enable; /* unclean.leader.election.enable */
    int64_t broker_session_timeout_ms;   /* broker.session.timeout.ms */
} sl_metadata_policy_t;

typedef struct sl_metadata_config_entry {
    const char *name;
    const char *value; /* NULL: delete */
} sl_metadata_config_entry_t;

typedef struct sl_metadata_create_topic {
    sl_slice_t name;
    sl_uuid_t topic_id;         /* the caller draws it (Kafka: Uuid.randomUuid) */
    int32_t partition_count;    /* -1: policy default (ignored with assignments) */
    int16_t replication_factor; /* -1: policy default (ignored with assignments) */
    /* Manual assignment (CreateTopics' Assignments): one replica list per partition, or NULL. */
    const sl_metadata_replicas_t *assignments;
    int32_t assignment_count;
    const sl_metadata_config_entry_t *configs;
    int32_t config_count;
} sl_metadata_create_topic_t;

/* TopicRecord, ConfigRecords, PartitionRecords. Replicas go to active brokers only, spread over
 * racks (every rack once before any rack twice) and over brokers, leaders (the first replica)
 * rotating so each broker leads within one of the same number of the new partitions;
 * placement_seed picks where the rotation starts (the caller draws it). Errors as Kafka:
 * INVALID_TOPIC_EXCEPTION, TOPIC_ALREADY_EXISTS (also for a '.'/'_' collision),
 * INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR (too few active brokers),
 * INVALID_REPLICA_ASSIGNMENT, INVALID_CONFIG. */
sl_metadata_result_t sl_metadata_create_topic(const sl_metadata_image_t *img,
                                              const sl_metadata_policy_t *policy,
                                              const sl_metadata_create_topic_t *req,
                                              uint32_t placement_seed, sl_metadata_records_t *out);

/* PartitionRecords for partitions [current, new_count), replication factor of partition 0.
 * UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS (new_count not above the current count),
 * INVALID_REPLICATION_FACTOR, INVALID_REPLICA_ASSIGNMENT (assignments given for the new ones). */
sl_metadata_result_t
sl_metadata_create_partitions(const sl_metadata_image_t *img, sl_slice_t name, int32_t new_count,
                              const sl_metadata_replicas_t *assignments, int32_t assignment_count,
                              uint32_t placement_seed, sl_metadata_records_t *out);

/* RemoveTopicRecord (applying it drops the topic's configs too, as Kafka's replay does).
 * UNKNOWN_TOPIC_OR_PARTITION. */
sl_metadata_result_t sl_metadata_delete_topic(const sl_metadata_image_t *img, sl_slice_t name,
                                              sl_metadata_records_t *out);

typedef struct sl_metadata_broker_registration {
    int32_t broker_id;
    sl_uuid_t incarnation_id;
    const sl_metadata_endpoint_t *endpoints;
    int32_t endpoint_count;
    const sl_metadata_feature_range_t *features;
    int32_t feature_count;
    const char *rack; /* NULL: none */
    const sl_uuid_t *log_dirs;
    int32_t log_dir_count;
    /* The broker epoch: the offset the RegisterBrokerRecord will have in the log (Kafka uses that
     * offset); the controller knows its log end. */
    int64_t broker_epoch;
} sl_metadata_broker_registration_t;

/* RegisterBrokerRecord (fenced until its first heartbeat that has caught up). A live session of
 * another incarnation of the same id: DUPLICATE_BROKER_REGISTRATION. Starts the session. */
sl_metadata_result_t sl_metadata_register_broker(const sl_metadata_image_t *img,
                                                 sl_metadata_sessions_t *sessions,
                                                 const sl_metadata_policy_t *policy,
                                                 const sl_metadata_broker_registration_t *reg,
                                                 int64_t now_ms, sl_metadata_records_t *out);

typedef struct sl_metadata_heartbeat {
    int32_t broker_id;
    int64_t broker_epoch;
    int64_t current_metadata_offset; /* what the broker has applied */
    bool want_fence;
    bool want_shut_down;
} sl_metadata_heartbeat_t;

typedef struct sl_metadata_heartbeat_reply {
    bool is_caught_up;
    bool is_fenced;
    bool should_shut_down;
} sl_metadata_heartbeat_reply_t;

/* BrokerHeartbeat: renews the session; unfences a fenced broker once it has caught up with its
 * own registration (and elects it for offline partitions whose ISR holds it); fences on
 * want_fence; on want_shut_down marks controlled shutdown and moves its leaderships and ISR
 * memberships to others (should_shut_down once it leads nothing). BROKER_ID_NOT_REGISTERED,
 * STALE_BROKER_EPOCH. */
sl_metadata_result_t sl_metadata_broker_heartbeat(const sl_metadata_image_t *img,
                                                  sl_metadata_sessions_t *sessions,
                                                  const sl_metadata_policy_t *policy,
                                                  const sl_metadata_heartbeat_t *hb, int64_t now_ms,
                                                  sl_metadata_records_t *out,
                                                  sl_metadata_heartbeat_reply_t *reply);

/* Fences every unfenced broker whose session is older than broker.session.timeout.ms: a
 * BrokerRegistrationChangeRecord, and for its partitions a PartitionChangeRecord that removes it
 * from the ISR (never emptying it: the last ISR member stays, as in Kafka) and, where it led,
 * a new leader from the ISR (first active one in replica order), else with unclean election the
 * first active replica (ISR = it, RECOVERING), else no leader (-1). *fenced_count may be NULL. */
int sl_metadata_fence_stale_brokers(const sl_metadata_image_t *img,
                                    const sl_metadata_sessions_t *sessions,
                                    const sl_metadata_policy_t *policy, int64_t now_ms,
                                    sl_metadata_records_t *out, int32_t *fenced_count);

/* Elects leaders for offline partitions (leader -1): the first active ISR member in replica
 * order, else, with unclean.leader.election.enable, the first active replica (ISR = it,
 * RECOVERING: it may lack acknowledged records). What Kafka's controller runs when unclean
 * election is switched on and periodically. *elected_count may be NULL. 0 or SL_ELIMIT. */
int sl_metadata_elect_offline(const sl_metadata_image_t *img, const sl_metadata_policy_t *policy,
                              sl_metadata_records_t *out, int32_t *elected_count);

/* AlterPartition from a partition leader (one partition). */
typedef struct sl_metadata_alter_partition {
    sl_uuid_t topic_id;
    int32_t partition_id;
    int32_t broker_id; /* the leader sending it */
    int64_t broker_epoch;
    int32_t leader_epoch;
    int32_t partition_epoch;
    const int32_t *new_isr;
    int32_t new_isr_count;
    int8_t leader_recovery_state;
} sl_metadata_alter_partition_t;

/* A PartitionChangeRecord with the new ISR (and recovery state), completing a reassignment once
 * every target replica is in the ISR. UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION,
 * STALE_BROKER_EPOCH, NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION,
 * INVALID_REQUEST (an ISR without the leader, not a subset of the replicas, duplicates, or
 * RECOVERED -> RECOVERING), INELIGIBLE_REPLICA (an ISR member fenced or shutting down). */
sl_metadata_result_t sl_metadata_alter_partition(const sl_metadata_image_t *img,
                                                 const sl_metadata_alter_partition_t *req,
                                                 sl_metadata_records_t *out);

/* ElectLeaders (preferred) for one partition: leader = the first replica when it is in the ISR
 * and active. ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION. */
sl_metadata_result_t sl_metadata_elect_preferred(const sl_metadata_image_t *img, sl_slice_t name,
                                                 int32_t partition_id, sl_metadata_records_t *out);

/* AlterPartitionReassignments for one partition: target != NULL starts (or replaces) a
 * reassignment to those replicas (replicas = target then the ones leaving; adding/removing set;
 * completes at once when every target replica is already in the ISR); target == NULL cancels
 * (NO_REASSIGNMENT_IN_PROGRESS when none). UNKNOWN_TOPIC_OR_PARTITION,
 * INVALID_REPLICA_ASSIGNMENT (empty, duplicates, unregistered brokers). */
sl_metadata_result_t sl_metadata_reassign_partition(const sl_metadata_image_t *img, sl_slice_t name,
                                                    int32_t partition_id,
                                                    const sl_metadata_replicas_t *target,
                                                    sl_metadata_records_t *out);

/* AllocateProducerIds: a ProducerIdsRecord handing [*first_id, *first_id + 1000) to the broker.
 * BROKER_ID_NOT_REGISTERED, STALE_BROKER_EPOCH, UNKNOWN_SERVER_ERROR when ids ran out. */
sl_metadata_result_t sl_metadata_allocate_producer_ids(const sl_metadata_image_t *img,
                                                       int32_t broker_id, int64_t broker_epoch,
                                                       sl_metadata_records_t *out,
                                                       int64_t *first_id);

#endif
