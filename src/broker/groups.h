/* groups: the broker's side of the group coordinator (src/group): one coordinator for this node,
 * its clock (the loop's), its deadline in the delayed queue, the requests waiting on it, and the
 * __consumer_offsets topic that makes offsets and group metadata durable. */
#ifndef SLUICE_BROKER_GROUPS_H
#define SLUICE_BROKER_GROUPS_H

#include "delayed.h"
#include "sluice/group.h"
#include "sluice/protocol.h"

#define SL_OFFSETS_TOPIC "__consumer_offsets"

struct sl_broker;
struct sl_request;
struct sl_partition;

/* Whether this broker coordinates the groups of one replicated __consumer_offsets partition: it
 * does while it leads the partition, once the partition's log is loaded (Kafka's coordinator
 * moves with the partition's leadership). Unreplicated partitions (a single node) are always
 * owned and never tracked here. */
typedef enum sl_offsets_ownership_state {
    SL_OFFSETS_UNOWNED = 0,
    SL_OFFSETS_LOADING, /* led here, its log being replayed: COORDINATOR_LOAD_IN_PROGRESS */
    SL_OFFSETS_OWNED,
} sl_offsets_ownership_state_t;

typedef struct sl_offsets_ownership {
    sl_offsets_ownership_state_t state;
    int32_t leader_epoch;         /* the epoch it was loaded in (LOADING, OWNED) */
    struct sl_offsets_load *load; /* the replay in flight (LOADING) */
} sl_offsets_ownership_t;

typedef struct sl_groups {
    sl_group_coordinator_t *coord;
    bool loading;                  /* replaying __consumer_offsets at start */
    sl_offsets_ownership_t *owned; /* per __consumer_offsets partition, replicated only */
    int32_t owned_count;
    sl_clock_ops_t clock;
    sl_delayed_t tick;
    uint64_t tick_deadline_ms;
    struct sl_broker *broker;
} sl_groups_t;

/* Creates the coordinator (and __consumer_offsets, replayed); called once the topics are open. */
int sl__groups_open(struct sl_broker *broker);
/* Frees the coordinator; after the server stopped. */
void sl__groups_destroy(struct sl_broker *broker);
/* Re-arms the coordinator's deadline after a call into it. */
void sl__groups_arm(struct sl_broker *broker);
/* Whether __consumer_offsets exists (creating it on first use: here on a single node, through
 * the active controller in quorum mode): FindCoordinator answers COORDINATOR_NOT_AVAILABLE
 * otherwise. */
bool sl__groups_available(struct sl_broker *broker);
/* Whether this broker is the coordinator of group_id now: NONE, NOT_COORDINATOR (another broker
 * leads its __consumer_offsets partition), COORDINATOR_LOAD_IN_PROGRESS (led here, still
 * replaying) or COORDINATOR_NOT_AVAILABLE (quorum mode, no __consumer_offsets yet). Every group API
 * asks it first; a single node (unreplicated partitions) is always the coordinator. */
sl_kerr_t sl__groups_coordinator_error(struct sl_broker *broker, sl_slice_t group_id);
/* The broker that coordinates group_id as this broker knows it: itself while its
 * __consumer_offsets partition is unreplicated (or __consumer_offsets does not exist yet), else the
 * partition's Raft leader as its replica here knows it, or the image's leader when this broker
 * holds no replica of it (-1 when unknown). */
int32_t sl__groups_coordinator_id(struct sl_broker *broker, sl_slice_t group_id);
/* leadership.c's call on every leadership change of a partition: for a replicated
 * __consumer_offsets partition, gaining it starts replaying its log into the coordinator
 * (COORDINATOR_LOAD_IN_PROGRESS until done), losing it drops its groups (NOT_COORDINATOR to their
 * waiting joins and syncs; the members rejoin on the new coordinator). */
void sl__groups_partition_leadership_changed(struct sl_broker *broker,
                                             struct sl_partition *partition);
/* Kafka's client host for a member: "/<peer ip>", in req's arena. */
sl_slice_t sl__groups_client_host(struct sl_request *req);

/* One OffsetCommit's accepted offsets: written to the group's __consumer_offsets partition, then
 * stored in the coordinator, then the request is answered. Lives in the request's arena. */
typedef struct sl__offsets_commit sl__offsets_commit_t;
sl__offsets_commit_t *sl__offsets_commit_new(struct sl_request *req, sl_slice_t group_id);
/* out's error_code is set if the write fails. offset's slices borrow the request. */
int sl__offsets_commit_add(sl__offsets_commit_t *commit, sl_slice_t topic, int32_t partition,
                           const sl_group_offset_t *offset,
                           sl_offset_commit_response_partition_t *out);
/* Returns 0 with the request answered now (nothing to write) or pending (req->pending set). */
int sl__offsets_commit_submit(sl__offsets_commit_t *commit);
/* Tombstones for a group's offsets (OffsetDelete) are written by the caller through this:
 * appends the records without waiting for them (best effort, logged on failure). */
void sl__offsets_delete_write(struct sl_broker *broker, sl_slice_t group_id, sl_slice_t topic,
                              int32_t partition);

#endif
