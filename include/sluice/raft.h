/* raft: the consensus core, pull-based as Kafka's KRaft (KIP-595) with pre-vote (KIP-996), as a
 * pure state machine. Inputs are messages (sl_raft_receive), time (sl_raft_tick) and I/O
 * completions (sl_raft_on_log_flushed); outputs are messages and I/O requests made through the
 * caller's sl_raft_env_t. No sockets, files, clocks or randomness inside, so the simulator
 * (tests/sim/) and the broker run the same code.
 * Invariants: term = Kafka leader epoch, commit index = high watermark; a leader counts its own log
 * only up to what is flushed and a follower reports only flushed offsets, so the high watermark
 * never covers a record that a crash of a majority could lose; the quorum state (epoch, vote,
 * leader) is durable before any message that depends on it leaves; a follower truncates only on
 * the leader's DivergingEpoch, at the end of the last epoch both logs share, never below its high
 * watermark. See src/raft/README.md and docs/architecture.md ("Replication"). */
#ifndef SLUICE_RAFT_H
#define SLUICE_RAFT_H

#include "sluice/core.h"
#include "sluice/limits.h"

#define SL_RAFT_NODE_NONE (-1)

/* Kafka's error codes as they appear in the Raft messages' ErrorCode fields (the same numbers as
 * sl_kerr_t; raft depends on core only, so they are repeated here). */
#define SL_RAFT_ERR_NONE ((int16_t)0)
#define SL_RAFT_ERR_NOT_LEADER_OR_FOLLOWER ((int16_t)6)
#define SL_RAFT_ERR_INVALID_REQUEST ((int16_t)42)
#define SL_RAFT_ERR_FENCED_LEADER_EPOCH ((int16_t)74)
#define SL_RAFT_ERR_UNKNOWN_LEADER_EPOCH ((int16_t)75)
#define SL_RAFT_ERR_INCONSISTENT_VOTER_SET ((int16_t)78)

/* The roles of KRaft's QuorumState, plus KIP-996's Prospective (asking for pre-votes). */
typedef enum {
    SL_RAFT_UNATTACHED = 0, /* no leader known in this epoch (may have voted) */
    SL_RAFT_FOLLOWER,       /* fetching from a known leader */
    SL_RAFT_PROSPECTIVE,    /* asking for pre-votes; the epoch is not bumped yet */
    SL_RAFT_CANDIDATE,      /* bumped the epoch, voted for itself, asking for votes */
    SL_RAFT_LEADER,
    SL_RAFT_RESIGNED, /* was leader in this epoch, gave it up (check-quorum or shutdown) */
} sl_raft_role_t;

const char *sl_raft_role_name(sl_raft_role_t role);

/* What KRaft keeps in its quorum-state file; written (durably, synchronously) before any message
 * that depends on it is sent. */
typedef struct {
    int32_t leader_epoch;
    int32_t voted_id;  /* SL_RAFT_NODE_NONE when no vote was cast in leader_epoch */
    int32_t leader_id; /* SL_RAFT_NODE_NONE when unknown */
} sl_raft_quorum_state_t;

/* One record batch as the core sees it: offsets and epoch; the bytes stay with the caller.
 * payload is borrowed (valid for the call it is passed in) and never read by the core. */
typedef struct {
    int64_t base_offset;
    int32_t record_count; /* >= 1 */
    int32_t leader_epoch;
    bool control; /* KRaft's LeaderChange control batch a new leader writes first */
    const void *payload;
} sl_raft_batch_t;

typedef enum {
    SL_RAFT_MSG_VOTE_REQUEST = 0,
    SL_RAFT_MSG_VOTE_RESPONSE,
    SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_REQUEST,
    SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_RESPONSE,
    SL_RAFT_MSG_END_QUORUM_EPOCH_REQUEST,
    SL_RAFT_MSG_END_QUORUM_EPOCH_RESPONSE,
    SL_RAFT_MSG_FETCH_REQUEST,
    SL_RAFT_MSG_FETCH_RESPONSE,
    SL_RAFT_MSG_TYPE_COUNT
} sl_raft_msg_type_t;

const char *sl_raft_msg_type_name(sl_raft_msg_type_t type);

/* The fields of Kafka's messages the core uses, one partition's worth (the broker maps them onto
 * the generated codecs; names follow the JSON schemas). */
typedef struct {           /* VoteRequest v2 */
    int32_t replica_epoch; /* candidate: its bumped epoch; pre-vote: its current epoch */
    int32_t last_offset_epoch;
    int64_t last_offset; /* the log end offset */
    bool pre_vote;
} sl_raft_vote_request_t;

typedef struct {
    int16_t error_code;
    int32_t leader_id, leader_epoch; /* the voter's view */
    bool vote_granted;
} sl_raft_vote_response_t;

typedef struct {
    int32_t leader_id, leader_epoch;
} sl_raft_begin_quorum_epoch_request_t;

typedef struct {
    int32_t leader_id, leader_epoch;
    int32_t preferred_successors[SL_RAFT_VOTERS_MAX]; /* most caught up first */
    int32_t preferred_successors_count;
} sl_raft_end_quorum_epoch_request_t;

typedef struct { /* Begin/EndQuorumEpoch responses */
    int16_t error_code;
    int32_t leader_id, leader_epoch;
} sl_raft_quorum_epoch_response_t;

typedef struct { /* Fetch v17 with ReplicaState */
    int32_t current_leader_epoch;
    int64_t fetch_offset;
    int32_t last_fetched_epoch; /* 0 for an empty log */
    int32_t max_wait_ms;
} sl_raft_fetch_request_t;

typedef struct {
    int16_t error_code;
    int32_t leader_id, leader_epoch; /* CurrentLeader */
    int64_t high_watermark;
    int32_t diverging_epoch; /* DivergingEpoch: -1 unless the fetch diverged */
    int64_t diverging_end_offset;
    /* Outgoing: the core asks for the batches of [records_offset, records_end_offset), whole
     * batches, as many as the transport's byte limit allows; the transport attaches them from the
     * log (zero copy in the broker). Incoming: batches/batch_count are what arrived, borrowed for
     * the call. */
    int64_t records_offset, records_end_offset;
    const sl_raft_batch_t *batches;
    size_t batch_count;
} sl_raft_fetch_response_t;

/* One message. A response carries the correlation id of its request, so duplicated, late and
 * reordered answers are recognised and dropped. */
typedef struct {
    sl_raft_msg_type_t type;
    int32_t source_id, destination_id;
    int32_t correlation_id;
    union {
        sl_raft_vote_request_t vote_request;
        sl_raft_vote_response_t vote_response;
        sl_raft_begin_quorum_epoch_request_t begin_quorum_epoch_request;
        sl_raft_end_quorum_epoch_request_t end_quorum_epoch_request;
        sl_raft_quorum_epoch_response_t quorum_epoch_response;
        sl_raft_fetch_request_t fetch_request;
        sl_raft_fetch_response_t fetch_response;
    } u;
} sl_raft_msg_t;

/* The outside world. Every call is synchronous; the core never calls back into itself from one. */
typedef struct {
    void *data;
    /* Sends msg (borrowed for the call). Delivery is best effort: messages may be lost. */
    void (*send)(void *data, const sl_raft_msg_t *msg);
    /* Writes batches at the log end, in order; durable only after a flush. */
    void (*log_append)(void *data, const sl_raft_batch_t *batches, size_t batch_count);
    /* Removes every batch at or above offset, durably, before returning. */
    void (*log_truncate)(void *data, int64_t offset);
    /* Starts making the log durable up to end_offset; sl_raft_on_log_flushed reports completion
     * (never inside this call). At most one flush is in flight. */
    void (*log_flush)(void *data, int64_t end_offset);
    /* Writes the quorum state durably before returning (KRaft's quorum-state file). */
    void (*quorum_state_save)(void *data, const sl_raft_quorum_state_t *state);
    /* Uniform random bits, for election timeouts (seeded in tests). */
    uint64_t (*random_u64)(void *data);
} sl_raft_env_t;

/* KRaft's controller.quorum.* settings. */
typedef struct {
    int32_t node_id;
    int32_t voters[SL_RAFT_VOTERS_MAX]; /* controller.quorum.voters (static) */
    int32_t voter_count;
    uint32_t election_timeout_ms;     /* controller.quorum.election.timeout.ms (1000) */
    uint32_t election_backoff_max_ms; /* controller.quorum.election.backoff.max.ms (1000) */
    uint32_t fetch_timeout_ms;        /* controller.quorum.fetch.timeout.ms (2000) */
    uint32_t request_timeout_ms;      /* controller.quorum.request.timeout.ms (2000) */
    uint32_t retry_backoff_ms;        /* controller.quorum.retry.backoff.ms (20) */
    uint32_t fetch_max_wait_ms;       /* how long a leader holds a fetch with nothing new (500) */
} sl_raft_config_t;

/* KRaft's defaults; voters empty. */
void sl_raft_config_default(sl_raft_config_t *cfg, int32_t node_id);

/* One epoch's first offset: the log's leader-epoch-checkpoint entries. */
typedef struct {
    int32_t leader_epoch;
    int64_t start_offset;
} sl_raft_epoch_entry_t;

/* What recovery found in the local log: its durable end and epoch entries (ascending epochs and
 * start offsets; entries at or past the end are ignored: a crash took their batches). */
typedef struct {
    int64_t log_end_offset;
    const sl_raft_epoch_entry_t *epochs; /* borrowed for sl_raft_create */
    size_t epoch_count;
} sl_raft_log_state_t;

typedef struct {
    int32_t replica_id;
    int64_t log_end_offset;     /* -1 until it fetched in this epoch */
    uint64_t last_fetch_ms;     /* local clock; 0 = never */
    uint64_t last_caught_up_ms; /* when it last fetched at the leader's log end */
} sl_raft_replica_state_t;

/* DescribeQuorum's answer, as this node sees it (voters filled only on the leader). */
typedef struct {
    int32_t leader_id, leader_epoch;
    int64_t high_watermark;
    sl_raft_replica_state_t voters[SL_RAFT_VOTERS_MAX];
    int32_t voter_count;
} sl_raft_quorum_info_t;

typedef struct sl_raft sl_raft_t;

/* Validates cfg (SL_ECONFIG: no voters, too many, duplicates, zero timeouts), takes copies of cfg
 * and env, restores the persisted quorum state (NULL: a fresh node) and the log view. A node that
 * was leader restarts Resigned; one that knew a leader restarts as its follower. */
int sl_raft_create(const sl_raft_config_t *cfg, const sl_raft_env_t *env,
                   const sl_raft_quorum_state_t *persisted, const sl_raft_log_state_t *log,
                   uint64_t now_ms, sl_raft_t **out);
void sl_raft_destroy(sl_raft_t *raft);

/* Advances time (now_ms is the caller's monotonic clock; going backwards is treated as no time
 * passing) and fires what is due: elections, fetches, resends, check-quorum. */
void sl_raft_tick(sl_raft_t *raft, uint64_t now_ms);
/* The earliest time sl_raft_tick has something to do. */
uint64_t sl_raft_next_deadline_ms(const sl_raft_t *raft);
/* Handles one message addressed to this node (borrowed). Malformed or stale input is dropped. */
void sl_raft_receive(sl_raft_t *raft, const sl_raft_msg_t *msg);
/* The flush asked for by log_flush finished: the log is durable up to end_offset. status < 0 is a
 * failed fsync: the caller must stop this node (Kafka takes the log dir offline); the core makes
 * no further progress. */
void sl_raft_on_log_flushed(sl_raft_t *raft, int64_t end_offset, int status);

/* Leader only: appends one batch of record_count records at the log end in the current epoch
 * (payload borrowed for the call, passed to log_append). Returns 0 and its base offset, or
 * SL_ENOTLEADER. The batch is committed once the high watermark passes it. */
int sl_raft_propose(sl_raft_t *raft, int32_t record_count, const void *payload,
                    int64_t *base_offset_out);
/* Leader only: answers the fetch replica_id has parked here now, with whatever it may carry (maybe
 * nothing), instead of waiting for news or its max wait. A host that carries many groups' fetches
 * in one Kafka Fetch calls it once one group has news, so the answer goes out at once and no group
 * waits for the slowest (Kafka's fetch returns when any partition has data). Returns whether a
 * fetch was parked. */
bool sl_raft_answer_parked_fetch(sl_raft_t *raft, int32_t replica_id);
/* Gives up leadership (controlled shutdown): EndQuorumEpoch to the voters, Resigned. */
void sl_raft_resign(sl_raft_t *raft);

sl_raft_role_t sl_raft_role(const sl_raft_t *raft);
int32_t sl_raft_epoch(const sl_raft_t *raft);
int32_t sl_raft_leader_id(const sl_raft_t *raft);
int64_t sl_raft_high_watermark(const sl_raft_t *raft);
/* A leader; or a follower (a voter or an observer) whose log reaches the high watermark the
 * leader's last Fetch answer in the current epoch carried: it holds everything committed when it
 * last heard. */
bool sl_raft_caught_up(const sl_raft_t *raft);
int64_t sl_raft_log_end_offset(const sl_raft_t *raft);
int64_t sl_raft_flushed_offset(const sl_raft_t *raft);
void sl_raft_describe_quorum(const sl_raft_t *raft, sl_raft_quorum_info_t *out);

#endif
