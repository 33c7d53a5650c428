/* replica_manager: every replicated partition this broker hosts, each one Raft group over its
 * replicas (voters = the replica list, term = the partition leader epoch), run by one Raft host
 * with its own peer connections to the other brokers' inter-broker listeners (so one connection
 * and one coalesced request per broker pair and loop turn carries every partition they share).
 * The data path: a Produce to the leader is proposed to the group and answered at the high
 * watermark (acks=all) or after the leader's own flush (acks=1); consumers read up to the high
 * watermark, which the group sets as the log's visible end. The ISR is the leader's view of who
 * is caught up within replica.lag.time.max.ms.
 * Invariants: everything runs on the loop thread; an append callback runs exactly once, never
 * inside the call; a partition's owner hears about every change of role, leader, epoch or ISR
 * (changed callback) before any append of the new epoch is answered. */
#ifndef SLUICE_REPLICATION_REPLICA_MANAGER_H
#define SLUICE_REPLICATION_REPLICA_MANAGER_H

#include <uv.h>

#include "sluice/config.h"
#include "sluice/log.h"
#include "sluice/protocol.h"
#include "sluice/replication.h"

typedef struct sl_replica_manager sl_replica_manager_t;
typedef struct sl_partition_replica sl_partition_replica_t;

/* The partition's leader, epoch or ISR changed (or its log failed): owner is what the partition
 * was started with. */
typedef void (*sl_partition_replica_changed_cb)(sl_partition_replica_t *replica, void *owner,
                                                void *data);

/* cfg (borrowed, outlives the manager): node.id, controller.quorum.* timeouts for the groups,
 * replica.fetch.max.bytes, replica.fetch.wait.max.ms, replica.lag.time.max.ms. */
int sl_replica_manager_create(uv_loop_t *loop, const sl_config_t *cfg,
                              sl_partition_replica_changed_cb changed, void *data,
                              sl_replica_manager_t **out);
/* Where node_id's inter-broker listener is (from its RegisterBrokerRecord). */
int sl_replica_manager_set_broker_address(sl_replica_manager_t *mgr, int32_t node_id,
                                          const char *host, uint16_t port);

typedef struct {
    sl_log_dir_t *dir;    /* the log dir that holds (or will hold) <topic>-<partition> */
    const char *dir_path; /* its path: the group's quorum-state file goes in the partition dir */
    const char *topic;
    sl_uuid_t topic_id;
    int32_t partition;
    int32_t min_insync_replicas; /* the topic's min.insync.replicas */
    void *owner;                 /* given back to changed (the broker's sl_partition_t) */
} sl_partition_replica_spec_t;

/* Opens the partition's log as a replicated log (created when absent; the log must not be open
 * elsewhere) and starts its group with replicas as voters (this node among them). The log is
 * sl_partition_replica_log until the partition is stopped. */
int sl_replica_manager_start_partition(sl_replica_manager_t *mgr,
                                       const sl_partition_replica_spec_t *spec,
                                       const int32_t *replicas, int32_t count,
                                       sl_partition_replica_t **out);
/* A new replica list (reassignment). Static voters: a different set restarts the group over the
 * same log with the new voters (no joint consensus: safe only while a majority of both sets is
 * up, which the reassignment steps keep); the same set changes nothing. */
int sl_replica_manager_update_replicas(sl_replica_manager_t *mgr, sl_partition_replica_t *replica,
                                       const int32_t *replicas, int32_t count);
void sl_replica_manager_set_min_insync_replicas(sl_partition_replica_t *replica, int32_t count);
/* Stops the group (a leader resigns first), fails its waiting appends with
 * NOT_LEADER_OR_FOLLOWER, then closes the log (and removes its directory when delete) once its
 * I/O is done; the log pointer is invalid from this call on. */
void sl_replica_manager_stop_partition(sl_replica_manager_t *mgr, sl_partition_replica_t *replica,
                                       bool delete_log);

/* Serves one Raft request (Vote, BeginQuorumEpoch, EndQuorumEpoch, a replica's Fetch,
 * DescribeQuorum) for partition groups that arrived on the inter-broker listener; the call's life
 * is sl_metadata_quorum_serve's (sluice/replication.h). */
int sl_replica_manager_serve(sl_replica_manager_t *mgr, int16_t api_key, int16_t api_version,
                             int32_t correlation_id, const void *request, void *response,
                             sl_arena_t *arena, sl_quorum_answer_cb answer, void *data);

/* Controlled shutdown: every led partition resigns (EndQuorumEpoch to its replicas); done runs
 * once each has another leader or after a bounded wait. */
void sl_replica_manager_resign_all(sl_replica_manager_t *mgr, void (*done)(void *data), void *data);
/* Whether every hosted partition knows its leader and this replica has what the leader had
 * committed when it last heard (/readyz). */
bool sl_replica_manager_caught_up(const sl_replica_manager_t *mgr);
/* Kafka's ReplicaManager gauges and meters: led partitions with an ISR smaller than their
 * replicas, hosted partitions without a known leader, ISR shrinks and expands seen as leader. */
void sl_replica_manager_stats(const sl_replica_manager_t *mgr, int64_t *under_replicated,
                              int64_t *offline, uint64_t *isr_shrinks, uint64_t *isr_expands);
/* Stops every group, then the connections; done once every handle and log is closed. */
void sl_replica_manager_close(sl_replica_manager_t *mgr, void (*done)(void *data), void *data);

/* ---- one partition ----------------------------------------------------------------------------
 */

sl_log_t *sl_partition_replica_log(const sl_partition_replica_t *replica);
void *sl_partition_replica_owner(const sl_partition_replica_t *replica);

typedef struct {
    bool leader;          /* this node leads the partition now */
    int32_t leader_id;    /* -1 when not known */
    int32_t leader_epoch; /* the group's epoch */
    int64_t high_watermark;
    int32_t isr[SL_RAFT_VOTERS_MAX]; /* leader only: itself and the replicas caught up */
    int32_t isr_count;
    int32_t replicas[SL_RAFT_VOTERS_MAX];
    int32_t replica_count;
    bool offline; /* a failed write or flush stopped the group */
} sl_partition_replica_state_t;

void sl_partition_replica_state(const sl_partition_replica_t *replica,
                                sl_partition_replica_state_t *out);

/* ---- appends (Produce, the coordinator's writes) ----------------------------------------------
 */

typedef struct sl_replica_append sl_replica_append_t;
/* error: NONE, NOT_ENOUGH_REPLICAS_AFTER_APPEND (leadership lost before commit: the batch may
 * still commit, as Kafka says), KAFKA_STORAGE_ERROR, NOT_LEADER_OR_FOLLOWER (stopped). */
typedef void (*sl_replica_append_cb)(sl_replica_append_t *req, sl_kerr_t error, void *data);

/* Caller-owned; the fields are private. */
struct sl_replica_append {
    sl_replica_append_t *priv_next;
    sl_partition_replica_t *priv_replica;
    sl_log_flush_t priv_flush;
    int64_t priv_end_offset; /* last offset + 1 */
    int32_t priv_epoch;
    bool priv_all; /* acks=all: at the high watermark; else after the leader's flush */
    bool priv_flushing;
    sl_replica_append_cb priv_cb;
    void *priv_data;
};

/* Leader only: proposes batch (a complete v2 RecordBatch, borrowed for the call: the log keeps
 * a copy) to the group. acks=-1 (all) is answered once the high watermark passes the batch and
 * at least min.insync.replicas replicas (the leader included) have it durably; any other acks
 * once the leader's own log has it durably. Returns SL_KERR_NONE with *base_offset_out and cb
 * pending, or the error to answer now: NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS (acks=all
 * with fewer than min.insync.replicas in the ISR), KAFKA_STORAGE_ERROR. */
sl_kerr_t sl_partition_replica_append(sl_partition_replica_t *replica, sl_replica_append_t *req,
                                      const uint8_t *batch, size_t len, int16_t acks,
                                      sl_replica_append_cb cb, void *data,
                                      int64_t *base_offset_out);

/* ---- pure parts (unit-tested) -----------------------------------------------------------------
 */

/* The ISR as a leader sees it at now_ms: itself, and every other voter that was at the leader's
 * log end within lag_max_ms (Kafka's replica.lag.time.max.ms rule). Returns the count written to
 * isr (voter order). */
int32_t sl__replica_isr(const sl_raft_quorum_info_t *info, int32_t self_id, uint64_t now_ms,
                        int64_t lag_max_ms, int32_t *isr);
/* How many voters have [.., end_offset) durably as the leader sees it: itself by its flushed
 * offset, the others by the offset they last fetched from (a follower fetches only what it has
 * flushed). */
int32_t sl__replica_durable_count(const sl_raft_quorum_info_t *info, int32_t self_id,
                                  int64_t self_flushed_offset, int64_t end_offset);

#endif
