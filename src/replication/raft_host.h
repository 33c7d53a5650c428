/* raft_host: runs Raft groups on the broker's libuv loop. It owns the one timer of all groups
 * (armed at the earliest sl_raft_next_deadline_ms), ticks a group with uv_now before every input,
 * gathers what the groups send during one loop turn and sends it coalesced (one Kafka request per
 * destination and message type, through raft_wire and the peer connections), maps the answers
 * back to each group's own correlation id, and serves the Raft APIs other nodes send here: it
 * feeds each partition to its group and answers the Kafka request when every group it named has
 * answered (a leader holds a Fetch up to its max wait; a request the core drops is answered with
 * an error at its deadline). Fetch answers carry the log's bytes or file ranges, never copies.
 * Used by the metadata quorum now and by partition replication next (one group per partition,
 * many groups per broker pair, one request per pair and turn). */
#ifndef SLUICE_REPLICATION_RAFT_HOST_H
#define SLUICE_REPLICATION_RAFT_HOST_H

#include <uv.h>

#include "peer.h"
#include "raft_log.h"
#include "raft_wire.h"
#include "sluice/raft.h"
#include "sluice/replication.h"

typedef struct sl_raft_host sl_raft_host_t;
typedef struct sl_raft_group sl_raft_group_t;

typedef struct {
    int32_t node_id;
    const char *cluster_id;      /* carried in requests and checked in requests received */
    uint32_t request_timeout_ms; /* controller.quorum.request.timeout.ms */
    int32_t fetch_max_bytes;     /* what one Fetch asks for; <= 0: KRaft's 8 MiB */
    /* at most one Fetch in flight per destination: the groups' next fetches wait and leave
     * together in one request when it answers (partition groups: one fetch loop per broker
     * pair, so one quiet partition's held fetch never delays another's answer) */
    bool one_fetch_per_peer;
} sl_raft_host_config_t;

/* What a group's owner hears after the host has fed the group an input: anything observable may
 * have changed (role, epoch, leader, high watermark). */
typedef void (*sl_raft_group_changed_cb)(sl_raft_group_t *group, void *data);
/* Builds the LeaderChange control batch a new leader writes first (the core passes no payload):
 * a complete v2 batch in out. Without it such a batch is refused by the log. */
typedef int (*sl_raft_group_control_batch_cb)(sl_raft_group_t *group, const sl_raft_batch_t *batch,
                                              sl_buf_t *out, void *data);

typedef struct {
    const char *topic_name; /* copied */
    sl_uuid_t topic_id;
    int32_t partition;
    sl_raft_config_t raft; /* node id, voters, timeouts */
    sl_raft_log_t *log;    /* borrowed; the caller closes it after removing the group */
    sl_raft_group_changed_cb changed;
    sl_raft_group_control_batch_cb control_batch;
    void *data;
} sl_raft_group_config_t;

/* peers: the node's connections (borrowed; closed by the caller after the host). */
int sl_raft_host_create(uv_loop_t *loop, sl_peers_t *peers, const sl_raft_host_config_t *cfg,
                        sl_raft_host_t **out);
/* DescribeQuorum v2's Nodes (the voters' controller endpoints); borrowed, may be NULL. */
void sl_raft_host_set_nodes(sl_raft_host_t *host, const sl_describe_quorum_response_node_t *nodes,
                            int32_t count);
/* Sends what the groups queued now instead of at the end of the turn (a shutdown's resignation). */
void sl_raft_host_flush_now(sl_raft_host_t *host);
/* Creates the group's sl_raft_t over its log (recovered state and quorum state). */
int sl_raft_host_add_group(sl_raft_host_t *host, const sl_raft_group_config_t *cfg,
                           sl_raft_group_t **out);
void sl_raft_host_remove_group(sl_raft_host_t *host, sl_raft_group_t *group);
sl_raft_t *sl_raft_group_raft(sl_raft_group_t *group);
sl_raft_log_t *sl_raft_group_log(sl_raft_group_t *group);

/* Calls into the core from outside the host (propose, resign, a flush completion) go through
 * these, so the group is ticked first and the timer and outgoing messages follow. */
int sl_raft_group_propose(sl_raft_group_t *group, int32_t record_count, const void *payload,
                          int64_t *base_offset_out);
void sl_raft_group_resign(sl_raft_group_t *group);
/* After any other direct call into the group's sl_raft_t (sl_raft_on_log_flushed by the log). */
void sl_raft_group_poke(sl_raft_group_t *group);

/* ---- serving the Raft APIs (the controller listener) ------------------------------------------
 */

/* Takes one decoded Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch (from a replica) or
 * DescribeQuorum request; see sl_metadata_quorum_serve for the call's life (sluice/replication.h).
 */
int sl_raft_host_serve(sl_raft_host_t *host, int16_t api_key, int16_t api_version,
                       int32_t correlation_id, const void *request, void *response,
                       sl_arena_t *arena, sl_quorum_answer_cb answer, void *data);

/* Answers every held request with an error, stops the timer; closed_cb once its handles closed. */
void sl_raft_host_close(sl_raft_host_t *host, void (*closed_cb)(void *data), void *data);

#endif
