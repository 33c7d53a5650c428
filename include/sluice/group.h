/* group: the classic consumer group coordinator (JoinGroup/SyncGroup/Heartbeat/LeaveGroup) and the
 * committed offsets, as a state machine driven by calls and a clock (sl_clock_ops_t): no sockets,
 * no disk. The broker feeds it requests, answers the waiting ones from its callbacks, calls
 * sl_group_coordinator_tick at the deadline it returns, and makes offsets durable itself.
 * Invariants: a group's members all share its protocol type and support its protocol; a pending
 * join or sync is answered exactly once (by its callback, or at once through the result). */
#ifndef SLUICE_GROUP_H
#define SLUICE_GROUP_H

#include "sluice/core.h"

typedef struct sl_group_coordinator sl_group_coordinator_t;

typedef enum {
    SL_GROUP_EMPTY,
    SL_GROUP_PREPARING_REBALANCE,
    SL_GROUP_COMPLETING_REBALANCE,
    SL_GROUP_STABLE,
    SL_GROUP_DEAD,
} sl_group_state_t;

/* Kafka's state names ("Empty", "PreparingRebalance", ...). */
const char *sl_group_state_name(sl_group_state_t state);

typedef struct sl_group_config {
    int32_t initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms */
    int32_t min_session_timeout_ms;     /* group.min.session.timeout.ms */
    int32_t max_session_timeout_ms;     /* group.max.session.timeout.ms */
    int64_t offsets_retention_ms;       /* offsets.retention.minutes, in ms */
    int32_t offset_metadata_max_bytes;  /* offset.metadata.max.bytes */
} sl_group_config_t;

/* clock: borrowed, outlives the coordinator. */
int sl_group_coordinator_create(const sl_group_config_t *cfg, const sl_clock_ops_t *clock,
                                sl_group_coordinator_t **out);
/* Pending joins and syncs must have been answered first (sl_group_coordinator_abort). */
void sl_group_coordinator_destroy(sl_group_coordinator_t *c);

/* Processes every deadline that passed (session expiry, rebalance timeout, initial delay, empty
 * group expiry). Returns the next deadline (monotonic ms) the caller must call it again at. */
uint64_t sl_group_coordinator_tick(sl_group_coordinator_t *c);
/* The next deadline, handling nothing: safe while a request is being handled (a tick could answer
 * that very request's waiter through its callback). */
uint64_t sl_group_coordinator_next_deadline(sl_group_coordinator_t *c);
/* Answers every pending join and sync with error (the coordinator is going away). */
void sl_group_coordinator_abort(sl_group_coordinator_t *c, int16_t error);

/* ---- JoinGroup ---- */
typedef struct sl_group_protocol {
    sl_slice_t name, metadata;
} sl_group_protocol_t;

typedef struct sl_group_join_args {
    sl_slice_t group_id, member_id, instance_id; /* instance_id.ptr NULL: dynamic member */
    sl_slice_t client_id, client_host, protocol_type;
    const sl_group_protocol_t *protocols;
    size_t protocols_count;
    int32_t session_timeout_ms, rebalance_timeout_ms;
    bool require_known_member_id; /* JoinGroup v4+: MEMBER_ID_REQUIRED handshake */
} sl_group_join_args_t;

typedef struct sl_group_member_info {
    sl_slice_t member_id, instance_id, metadata;
} sl_group_member_info_t;

/* Slices borrow the coordinator's memory: valid until the next call into it. */
typedef struct sl_group_join_result {
    int16_t error;
    int32_t generation;
    sl_slice_t protocol_type, protocol_name, leader, member_id;
    const sl_group_member_info_t *members; /* only for the leader */
    size_t members_count;
    bool skip_assignment; /* a static leader rejoining a stable group (v9+) */
} sl_group_join_result_t;

typedef struct sl_group_waiter sl_group_waiter_t;
typedef void (*sl_group_join_cb)(sl_group_waiter_t *w, const sl_group_join_result_t *res);

typedef struct sl_group_sync_result {
    int16_t error;
    sl_slice_t protocol_type, protocol_name, assignment;
} sl_group_sync_result_t;
typedef void (*sl_group_sync_cb)(sl_group_waiter_t *w, const sl_group_sync_result_t *res);

/* A join or sync waiting for the rest of the group. Caller-owned; embed it; set the callback and
 * data before the call. */
struct sl_group_waiter {
    sl_group_join_cb join_cb;
    sl_group_sync_cb sync_cb;
    void *data;
};

/* Returns true when answered now (*res filled, the callback will not run), false when w's
 * callback runs later, exactly once. */
bool sl_group_join(sl_group_coordinator_t *c, const sl_group_join_args_t *args,
                   sl_group_waiter_t *w, sl_group_join_result_t *res);

typedef struct sl_group_sync_args {
    sl_slice_t group_id, member_id, instance_id, protocol_type, protocol_name;
    int32_t generation;
    const sl_slice_t *assignment_members, *assignments; /* assignments_count each */
    size_t assignments_count;
} sl_group_sync_args_t;

bool sl_group_sync(sl_group_coordinator_t *c, const sl_group_sync_args_t *args,
                   sl_group_waiter_t *w, sl_group_sync_result_t *res);

int16_t sl_group_heartbeat(sl_group_coordinator_t *c, sl_slice_t group_id, sl_slice_t member_id,
                           sl_slice_t instance_id, int32_t generation);
/* One member leaving (LeaveGroup; v3+ sends several). member_id may be empty for a static member
 * named by instance_id. */
int16_t sl_group_leave(sl_group_coordinator_t *c, sl_slice_t group_id, sl_slice_t member_id,
                       sl_slice_t instance_id);

/* ---- committed offsets ---- */
typedef struct sl_group_offset {
    int64_t offset;
    int32_t leader_epoch;
    sl_slice_t metadata; /* borrowed from the coordinator; never null (empty) */
    int64_t commit_timestamp_ms;
} sl_group_offset_t;

/* Whether a member may commit now (OffsetCommit's group checks). generation < 0 with an empty
 * member id is a commit from outside the group protocol, allowed while the group has no members. */
int16_t sl_group_commit_check(sl_group_coordinator_t *c, sl_slice_t group_id, int32_t generation,
                              sl_slice_t member_id, sl_slice_t instance_id);
/* Stores a committed offset (creating an Empty group if needed). Returns 0 or -ENOMEM. */
int sl_group_offset_put(sl_group_coordinator_t *c, sl_slice_t group_id, sl_slice_t topic,
                        int32_t partition, const sl_group_offset_t *offset);
/* Removes one committed offset; true if there was one. */
bool sl_group_offset_delete(sl_group_coordinator_t *c, sl_slice_t group_id, sl_slice_t topic,
                            int32_t partition);
bool sl_group_offset_get(sl_group_coordinator_t *c, sl_slice_t group_id, sl_slice_t topic,
                         int32_t partition, sl_group_offset_t *out);
typedef bool (*sl_group_offset_fn)(sl_slice_t topic, int32_t partition,
                                   const sl_group_offset_t *offset, void *data);
/* Calls fn for every committed offset of the group, sorted by topic then partition. */
void sl_group_offsets_each(sl_group_coordinator_t *c, sl_slice_t group_id, sl_group_offset_fn fn,
                           void *data);

/* ---- ListGroups, DescribeGroups, DeleteGroups, OffsetDelete ---- */
typedef struct sl_group_member_view {
    sl_slice_t member_id, instance_id, client_id, client_host, metadata, assignment;
    int32_t session_timeout_ms, rebalance_timeout_ms;
} sl_group_member_view_t;

typedef struct sl_group_view {
    sl_slice_t group_id, protocol_type, protocol_name, leader; /* leader: empty when none */
    sl_group_state_t state;
    int32_t generation;
    const sl_group_member_view_t *members; /* valid until the next call into the coordinator */
    size_t members_count;
} sl_group_view_t;

/* False when no such group. Members carry metadata and assignment only when Stable. */
bool sl_group_describe(sl_group_coordinator_t *c, sl_slice_t group_id, sl_group_view_t *out);
typedef bool (*sl_group_fn)(const sl_group_view_t *group, void *data);
/* Calls fn for every group (members_count set, members not filled). */
void sl_group_each(sl_group_coordinator_t *c, sl_group_fn fn, void *data);
/* DeleteGroups: NONE, GROUP_ID_NOT_FOUND or NON_EMPTY_GROUP. */
int16_t sl_group_delete(sl_group_coordinator_t *c, sl_slice_t group_id);
/* Whether a member of the group's consumer protocol subscribes to topic (OffsetDelete). */
bool sl_group_subscribed(sl_group_coordinator_t *c, sl_slice_t group_id, sl_slice_t topic);

/* Drops every group whose coordinator partition (of partitions) is partition, answering its
 * waiting JoinGroup and SyncGroup calls with error (NOT_COORDINATOR), without the changed
 * callback: the partition's leadership moved to another broker. Returns how many went. */
size_t sl_group_coordinator_unload(sl_group_coordinator_t *c, int32_t partition, int32_t partitions,
                                   int16_t error);

/* Kafka's coordinator partition for a group: abs(Java String.hashCode) % partitions. */
int32_t sl_group_partition_for(sl_slice_t group_id, int32_t partitions);

/* ---- durability hooks ---- */
/* Called after a rebalance completes or a group empties or goes away, so the broker can write the
 * group's metadata record (deleted: a tombstone). Optional. */
typedef void (*sl_group_changed_cb)(sl_group_coordinator_t *c, sl_slice_t group_id, bool deleted,
                                    void *data);
void sl_group_set_changed_cb(sl_group_coordinator_t *c, sl_group_changed_cb cb, void *data);
/* Called for each committed offset the coordinator expires while its group lives on (KIP-211: in
 * a Stable group of the "consumer" protocol, an offset of a topic no member subscribes to expires
 * offsets.retention.minutes after its commit), so the broker can write its tombstone. Optional. */
typedef void (*sl_group_offset_expired_cb)(sl_group_coordinator_t *c, sl_slice_t group_id,
                                           sl_slice_t topic, int32_t partition, void *data);
void sl_group_set_offset_expired_cb(sl_group_coordinator_t *c, sl_group_offset_expired_cb cb,
                                    void *data);
/* Restores a group from its metadata record at load: generation, protocol type, and (members
 * given) a Stable group with that protocol, leader and members, whose sessions start now. A later
 * record for the same group replaces an earlier one. */
int sl_group_restore(sl_group_coordinator_t *c, sl_slice_t group_id, sl_slice_t protocol_type,
                     sl_slice_t protocol_name, sl_slice_t leader, int32_t generation,
                     const sl_group_member_view_t *members, size_t members_count);

#endif
