/* raft_int.h: the core's internal state, shared by raft.c (lifecycle, log view, roles, timers),
 * election.c (Vote, BeginQuorumEpoch, EndQuorumEpoch) and replication.c (Fetch on both sides,
 * high watermark). Nothing here is visible outside src/raft. */
#ifndef SLUICE_RAFT_INT_H
#define SLUICE_RAFT_INT_H

#include "sluice/raft.h"

/* The leader's view of one voter (KRaft's ReplicaState). */
typedef struct {
    sl_raft_replica_state_t state;
    bool begin_acked;       /* answered BeginQuorumEpoch or fetched in this epoch */
    uint64_t begin_sent_ms; /* last BeginQuorumEpoch sent */
    bool fetch_parked;      /* a fetch waits for new data or a new high watermark */
    int32_t parked_correlation_id;
    int64_t parked_fetch_offset;
    uint64_t parked_deadline_ms;
} raft_replica_t;

struct sl_raft {
    sl_raft_config_t cfg;
    sl_raft_env_t env;
    uint64_t now_ms;

    /* Quorum state (durable through env.quorum_state_save). */
    sl_raft_role_t role;
    int32_t epoch, voted_id, leader_id;

    /* The log as the core sees it: its end, what of it is durable, the epoch entries. */
    int64_t log_end_offset, flushed_offset, high_watermark;
    /* Follower: the high watermark the leader's last Fetch answer carried, and in which epoch
     * (0: none heard); the follower's own high watermark is capped at its log end, this is not. */
    int64_t leader_high_watermark;
    int32_t leader_high_watermark_epoch;
    sl_raft_epoch_entry_t *epochs; /* ascending epochs and start offsets */
    size_t epoch_count, epoch_cap;
    bool flush_in_flight, failed;
    int64_t flush_cap; /* truncations while a flush is in flight cap what it made durable */

    int32_t next_correlation_id;

    /* Unattached, Prospective, Candidate, Resigned: when to (re)start an election. */
    uint64_t election_deadline_ms;
    /* Prospective and Candidate: voters who granted, and the first request of this round. */
    uint32_t granted_mask;
    int32_t vote_round_correlation_id;

    /* Follower: the leader is lost when no fetch succeeds before fetch_deadline_ms. */
    uint64_t fetch_deadline_ms;
    /* Follower: when this epoch's leader was last heard from (a successful fetch, its
     * BeginQuorumEpoch); 0 never. Pre-votes are refused only within a fetch timeout of it, not
     * merely for being a follower: a prospective node sent back to follow a dead leader (by a
     * voter that had not timed out yet) must not refuse that voter in turn, or the two keep
     * sending each other back to the dead leader for ever (found with three real processes). */
    uint64_t leader_contact_ms;
    /* Observer (a node not among the voters): the voter the next leader probe goes to. */
    int32_t probe_next;
    int32_t fetch_correlation_id; /* the fetch in flight; 0 when none */
    uint64_t fetch_sent_ms;
    uint64_t fetch_retry_ms; /* when no fetch is in flight: when to send the next one */
    bool fetch_after_flush;  /* the next fetch waits until the appended batches are durable */

    /* Leader. */
    int64_t epoch_start_offset;                  /* offset of this epoch's LeaderChange batch */
    raft_replica_t replicas[SL_RAFT_VOTERS_MAX]; /* indexed like cfg.voters */
};

/* raft.c */
int sl__raft_voter_index(const sl_raft_t *raft, int32_t node_id);
int32_t sl__raft_majority(const sl_raft_t *raft);
int32_t sl__raft_last_epoch(const sl_raft_t *raft);
/* Kafka's endOffsetForEpoch: the largest local epoch <= epoch and where it ends; (-1, 0) when
 * every local epoch is larger (or the log is empty). */
void sl__raft_end_offset_for_epoch(const sl_raft_t *raft, int32_t epoch, int32_t *epoch_out,
                                   int64_t *end_offset_out);
int32_t sl__raft_next_correlation(sl_raft_t *raft);
/* The leader this node names in its answers: itself when leading, its leader when following;
 * otherwise none, so nobody is sent to a leader that resigned or went quiet. */
int32_t sl__raft_advertised_leader(const sl_raft_t *raft);
uint64_t sl__raft_election_timeout_ms(sl_raft_t *raft);
/* Every field zeroed (a union initializer zeroes only its first member), the header filled in. */
void sl__raft_msg_init(const sl_raft_t *raft, sl_raft_msg_t *msg, sl_raft_msg_type_t type,
                       int32_t destination_id, int32_t correlation_id);
void sl__raft_send(sl_raft_t *raft, const sl_raft_msg_t *msg);
/* Appends batches (validated by the caller) and updates the epoch entries; false when the epoch
 * table is full (nothing appended). */
bool sl__raft_log_append(sl_raft_t *raft, const sl_raft_batch_t *batches, size_t batch_count);
void sl__raft_log_truncate(sl_raft_t *raft, int64_t offset);
void sl__raft_request_flush(sl_raft_t *raft);

/* Role transitions (raft.c). Each persists the quorum state first when it changes. */
void sl__raft_become_unattached(sl_raft_t *raft, int32_t epoch);
void sl__raft_become_follower(sl_raft_t *raft, int32_t epoch, int32_t leader_id);
void sl__raft_become_prospective(sl_raft_t *raft);
void sl__raft_become_candidate(sl_raft_t *raft);
void sl__raft_become_leader(sl_raft_t *raft);
/* A message told of a newer epoch (and maybe its leader): follow it, or wait unattached. */
void sl__raft_observer_lose_leader(sl_raft_t *raft);
void sl__raft_observer_probe(sl_raft_t *raft);
void sl__raft_observe_epoch(sl_raft_t *raft, int32_t epoch, int32_t leader_id);
void sl__raft_persist(sl_raft_t *raft);

/* election.c */
void sl__raft_send_vote_requests(sl_raft_t *raft, bool pre_vote);
void sl__raft_send_begin_quorum_epoch(sl_raft_t *raft, int voter_index);
void sl__raft_send_end_quorum_epoch(sl_raft_t *raft);
void sl__raft_handle_vote_request(sl_raft_t *raft, const sl_raft_msg_t *msg);
void sl__raft_handle_vote_response(sl_raft_t *raft, const sl_raft_msg_t *msg);
void sl__raft_handle_begin_quorum_epoch(sl_raft_t *raft, const sl_raft_msg_t *msg);
void sl__raft_handle_end_quorum_epoch(sl_raft_t *raft, const sl_raft_msg_t *msg);
void sl__raft_handle_quorum_epoch_response(sl_raft_t *raft, const sl_raft_msg_t *msg);

/* replication.c */
void sl__raft_send_fetch(sl_raft_t *raft);
void sl__raft_handle_fetch_request(sl_raft_t *raft, const sl_raft_msg_t *msg);
void sl__raft_handle_fetch_response(sl_raft_t *raft, const sl_raft_msg_t *msg);
void sl__raft_update_high_watermark(sl_raft_t *raft);
void sl__raft_complete_parked_fetches(sl_raft_t *raft);
bool sl__raft_begin_quorum_epoch_due(const sl_raft_t *raft, const raft_replica_t *r);
void sl__raft_leader_tick(sl_raft_t *raft);
void sl__raft_follower_tick(sl_raft_t *raft);

#endif
