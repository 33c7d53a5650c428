/* raft.c: the core's lifecycle, its view of the local log (end, flushed end, epoch entries), the
 * role transitions and the timers. Every transition that changes the epoch, the vote or the leader
 * saves the quorum state before anything else happens, so no message sent afterwards can claim
 * more than what a crash would keep. */
#include <errno.h>
#include <string.h>

#include "raft_int.h"

static const char *const role_names[] = {
    [SL_RAFT_UNATTACHED] = "unattached",   [SL_RAFT_FOLLOWER] = "follower",
    [SL_RAFT_PROSPECTIVE] = "prospective", [SL_RAFT_CANDIDATE] = "candidate",
    [SL_RAFT_LEADER] = "leader",           [SL_RAFT_RESIGNED] = "resigned",
};

const char *sl_raft_role_name(sl_raft_role_t role)
{
    return (size_t)role < SL_ARRAY_LEN(role_names) ? role_names[role] : "?";
}

static const char *const msg_type_names[] = {
    [SL_RAFT_MSG_VOTE_REQUEST] = "Vote",
    [SL_RAFT_MSG_VOTE_RESPONSE] = "VoteResponse",
    [SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_REQUEST] = "BeginQuorumEpoch",
    [SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_RESPONSE] = "BeginQuorumEpochResponse",
    [SL_RAFT_MSG_END_QUORUM_EPOCH_REQUEST] = "EndQuorumEpoch",
    [SL_RAFT_MSG_END_QUORUM_EPOCH_RESPONSE] = "EndQuorumEpochResponse",
    [SL_RAFT_MSG_FETCH_REQUEST] = "Fetch",
    [SL_RAFT_MSG_FETCH_RESPONSE] = "FetchResponse",
};

const char *sl_raft_msg_type_name(sl_raft_msg_type_t type)
{
    return (size_t)type < SL_ARRAY_LEN(msg_type_names) ? msg_type_names[type] : "?";
}

void sl_raft_config_default(sl_raft_config_t *cfg, int32_t node_id)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->node_id = node_id;
    cfg->election_timeout_ms = 1000;
    cfg->election_backoff_max_ms = 1000;
    cfg->fetch_timeout_ms = 2000;
    cfg->request_timeout_ms = 2000;
    cfg->retry_backoff_ms = 20;
    cfg->fetch_max_wait_ms = 500;
}

static int config_check(const sl_raft_config_t *cfg)
{
    if (cfg->voter_count < 1 || cfg->voter_count > SL_RAFT_VOTERS_MAX)
        return SL_ECONFIG;
    for (int32_t i = 0; i < cfg->voter_count; i++) {
        if (cfg->voters[i] < 0)
            return SL_ECONFIG;
        for (int32_t j = 0; j < i; j++)
            if (cfg->voters[j] == cfg->voters[i])
                return SL_ECONFIG;
    }
    if (cfg->node_id < 0 || cfg->election_timeout_ms == 0 || cfg->fetch_timeout_ms == 0 ||
        cfg->request_timeout_ms == 0 || cfg->fetch_max_wait_ms == 0)
        return SL_ECONFIG;
    return 0;
}

/* Entries at or past the log end are dropped: they name epochs whose batches a crash took (the
 * checkpoint can be durable while the batches were not), as Kafka truncates its epoch cache to the
 * log end at recovery. */
static int restore_log(sl_raft_t *raft, const sl_raft_log_state_t *log)
{
    if (log == NULL)
        return 0;
    if (log->log_end_offset < 0 || log->epoch_count > SL_RAFT_EPOCH_ENTRIES_MAX)
        return SL_EMALFORMED;
    size_t count = 0;
    for (size_t i = 0; i < log->epoch_count; i++) {
        const sl_raft_epoch_entry_t *e = &log->epochs[i];
        if (e->leader_epoch < 1 || e->start_offset < 0)
            return SL_EMALFORMED;
        if (i > 0 && (e->leader_epoch <= log->epochs[i - 1].leader_epoch ||
                      e->start_offset <= log->epochs[i - 1].start_offset))
            return SL_EMALFORMED;
        if (e->start_offset < log->log_end_offset)
            count = i + 1;
    }
    if (count == 0 && log->log_end_offset > 0)
        return SL_EMALFORMED; /* every batch carries an epoch */
    if (count > 0) {
        raft->epochs = sl_malloc(count * sizeof *raft->epochs);
        if (raft->epochs == NULL)
            return -ENOMEM;
        memcpy(raft->epochs, log->epochs, count * sizeof *raft->epochs);
        raft->epoch_count = raft->epoch_cap = count;
    }
    raft->log_end_offset = raft->flushed_offset = log->log_end_offset;
    return 0;
}

/* Where a restarted node stands: a leader cannot resume (its followers' state is gone), a node
 * that knew a leader fetches from it, anyone else waits for an election timeout. */
static void restore_role(sl_raft_t *raft, const sl_raft_quorum_state_t *persisted)
{
    if (persisted != NULL && persisted->leader_epoch > 0) {
        raft->epoch = persisted->leader_epoch;
        raft->voted_id = persisted->voted_id;
        raft->leader_id = persisted->leader_id;
    }
    if (raft->leader_id == raft->cfg.node_id) {
        raft->role = SL_RAFT_RESIGNED;
        raft->election_deadline_ms = raft->now_ms + sl__raft_election_timeout_ms(raft);
    } else if (raft->leader_id != SL_RAFT_NODE_NONE) {
        raft->role = SL_RAFT_FOLLOWER;
        raft->fetch_deadline_ms = raft->now_ms + raft->cfg.fetch_timeout_ms;
        raft->leader_contact_ms = raft->now_ms; /* given a fetch timeout, as if just heard */
        sl__raft_send_fetch(raft);
    } else {
        raft->role = SL_RAFT_UNATTACHED;
        raft->election_deadline_ms = raft->now_ms + sl__raft_election_timeout_ms(raft);
    }
}

int sl_raft_create(const sl_raft_config_t *cfg, const sl_raft_env_t *env,
                   const sl_raft_quorum_state_t *persisted, const sl_raft_log_state_t *log,
                   uint64_t now_ms, sl_raft_t **out)
{
    SL_ASSERT(cfg != NULL && env != NULL && out != NULL);
    int rc = config_check(cfg);
    if (rc != 0)
        return rc;
    sl_raft_t *raft = sl_calloc(1, sizeof *raft);
    if (raft == NULL)
        return -ENOMEM;
    raft->cfg = *cfg;
    raft->env = *env;
    raft->now_ms = now_ms;
    raft->voted_id = raft->leader_id = SL_RAFT_NODE_NONE;
    raft->flush_cap = INT64_MAX;
    /* A random start keeps answers meant for an earlier life of this node from matching. */
    raft->next_correlation_id = (int32_t)(env->random_u64(env->data) & 0x3fffffff) + 1;
    rc = restore_log(raft, log);
    if (rc != 0) {
        sl_free(raft);
        return rc;
    }
    restore_role(raft, persisted);
    *out = raft;
    return 0;
}

void sl_raft_destroy(sl_raft_t *raft)
{
    if (raft == NULL)
        return;
    sl_free(raft->epochs);
    sl_free(raft);
}

/* ---- small helpers ----------------------------------------------------------------------------
 */

int sl__raft_voter_index(const sl_raft_t *raft, int32_t node_id)
{
    for (int32_t i = 0; i < raft->cfg.voter_count; i++)
        if (raft->cfg.voters[i] == node_id)
            return (int)i;
    return -1;
}

int32_t sl__raft_majority(const sl_raft_t *raft)
{
    return raft->cfg.voter_count / 2 + 1;
}

int32_t sl__raft_last_epoch(const sl_raft_t *raft)
{
    return raft->epoch_count == 0 ? 0 : raft->epochs[raft->epoch_count - 1].leader_epoch;
}

void sl__raft_end_offset_for_epoch(const sl_raft_t *raft, int32_t epoch, int32_t *epoch_out,
                                   int64_t *end_offset_out)
{
    *epoch_out = -1;
    *end_offset_out = 0;
    for (size_t i = raft->epoch_count; i-- > 0;) {
        if (raft->epochs[i].leader_epoch <= epoch) {
            *epoch_out = raft->epochs[i].leader_epoch;
            *end_offset_out =
                i + 1 < raft->epoch_count ? raft->epochs[i + 1].start_offset : raft->log_end_offset;
            return;
        }
    }
}

int32_t sl__raft_advertised_leader(const sl_raft_t *raft)
{
    if (raft->role == SL_RAFT_LEADER || raft->role == SL_RAFT_FOLLOWER)
        return raft->leader_id;
    return SL_RAFT_NODE_NONE;
}

int32_t sl__raft_next_correlation(sl_raft_t *raft)
{
    int32_t id = raft->next_correlation_id;
    raft->next_correlation_id = id >= INT32_MAX - 1 ? 1 : id + 1;
    return id;
}

/* KRaft's randomized election timeout: [timeout, 2 * timeout). */
uint64_t sl__raft_election_timeout_ms(sl_raft_t *raft)
{
    uint64_t base = raft->cfg.election_timeout_ms;
    return base + raft->env.random_u64(raft->env.data) % base;
}

void sl__raft_msg_init(const sl_raft_t *raft, sl_raft_msg_t *msg, sl_raft_msg_type_t type,
                       int32_t destination_id, int32_t correlation_id)
{
    memset(msg, 0, sizeof *msg);
    msg->type = type;
    msg->source_id = raft->cfg.node_id;
    msg->destination_id = destination_id;
    msg->correlation_id = correlation_id;
}

void sl__raft_send(sl_raft_t *raft, const sl_raft_msg_t *msg)
{
    SL_ASSERT(msg->source_id == raft->cfg.node_id);
    SL_ASSERT(msg->destination_id != raft->cfg.node_id);
    raft->env.send(raft->env.data, msg);
}

void sl__raft_persist(sl_raft_t *raft)
{
    sl_raft_quorum_state_t state = {
        .leader_epoch = raft->epoch, .voted_id = raft->voted_id, .leader_id = raft->leader_id};
    raft->env.quorum_state_save(raft->env.data, &state);
}

/* ---- the log view ------------------------------------------------------------------------------
 */

static bool epoch_push(sl_raft_t *raft, int32_t epoch, int64_t start_offset)
{
    if (raft->epoch_count == raft->epoch_cap) {
        if (raft->epoch_cap >= SL_RAFT_EPOCH_ENTRIES_MAX)
            return false;
        size_t cap = raft->epoch_cap == 0 ? 16 : raft->epoch_cap * 2;
        cap = SL_MIN(cap, (size_t)SL_RAFT_EPOCH_ENTRIES_MAX);
        sl_raft_epoch_entry_t *grown = sl_realloc(raft->epochs, cap * sizeof *grown);
        if (grown == NULL)
            return false;
        raft->epochs = grown;
        raft->epoch_cap = cap;
    }
    raft->epochs[raft->epoch_count++] =
        (sl_raft_epoch_entry_t){.leader_epoch = epoch, .start_offset = start_offset};
    return true;
}

bool sl__raft_log_append(sl_raft_t *raft, const sl_raft_batch_t *batches, size_t batch_count)
{
    size_t epochs_before = raft->epoch_count;
    int64_t end = raft->log_end_offset;
    for (size_t i = 0; i < batch_count; i++) {
        SL_ASSERT(batches[i].base_offset == end);
        SL_ASSERT(batches[i].record_count >= 1);
        if (batches[i].leader_epoch > sl__raft_last_epoch(raft) &&
            !epoch_push(raft, batches[i].leader_epoch, end)) {
            raft->epoch_count = epochs_before;
            return false;
        }
        end += batches[i].record_count;
    }
    raft->env.log_append(raft->env.data, batches, batch_count);
    raft->log_end_offset = end;
    return true;
}

void sl__raft_log_truncate(sl_raft_t *raft, int64_t offset)
{
    SL_ASSERT(offset >= raft->high_watermark);
    SL_ASSERT(offset <= raft->log_end_offset);
    while (raft->epoch_count > 0 && raft->epochs[raft->epoch_count - 1].start_offset >= offset)
        raft->epoch_count--;
    raft->log_end_offset = offset;
    raft->flushed_offset = SL_MIN(raft->flushed_offset, offset);
    raft->flush_cap = SL_MIN(raft->flush_cap, offset);
    raft->env.log_truncate(raft->env.data, offset);
}

void sl__raft_request_flush(sl_raft_t *raft)
{
    if (raft->failed || raft->flush_in_flight || raft->flushed_offset >= raft->log_end_offset)
        return;
    raft->flush_in_flight = true;
    raft->flush_cap = INT64_MAX;
    raft->env.log_flush(raft->env.data, raft->log_end_offset);
}

void sl_raft_on_log_flushed(sl_raft_t *raft, int64_t end_offset, int status)
{
    SL_ASSERT(raft->flush_in_flight);
    raft->flush_in_flight = false;
    if (status < 0) {
        SL_LOG(SL_LOG_ERROR, "raft", "log flush failed node=%" PRId32 " err=%s", raft->cfg.node_id,
               sl_strerror(status));
        raft->failed = true;
        return;
    }
    int64_t durable = SL_MIN(SL_MIN(end_offset, raft->flush_cap), raft->log_end_offset);
    if (durable > raft->flushed_offset)
        raft->flushed_offset = durable;
    if (raft->role == SL_RAFT_LEADER)
        sl__raft_update_high_watermark(raft);
    if (raft->role == SL_RAFT_FOLLOWER && raft->fetch_after_flush &&
        raft->flushed_offset == raft->log_end_offset)
        sl__raft_send_fetch(raft);
    sl__raft_request_flush(raft);
}

/* ---- role transitions ------------------------------------------------------------------------ */

static void leave_role(sl_raft_t *raft)
{
    raft->granted_mask = 0;
    raft->fetch_correlation_id = 0;
    raft->fetch_after_flush = false;
    for (int32_t i = 0; i < raft->cfg.voter_count; i++)
        raft->replicas[i].fetch_parked = false;
}

static void log_transition(const sl_raft_t *raft)
{
    SL_LOG(SL_LOG_INFO, "raft",
           "role node=%" PRId32 " role=%s epoch=%" PRId32 " leader=%" PRId32 " voted=%" PRId32
           " log_end=%" PRId64 " hw=%" PRId64,
           raft->cfg.node_id, sl_raft_role_name(raft->role), raft->epoch, raft->leader_id,
           raft->voted_id, raft->log_end_offset, raft->high_watermark);
}

void sl__raft_become_unattached(sl_raft_t *raft, int32_t epoch)
{
    SL_ASSERT(epoch > raft->epoch);
    leave_role(raft);
    raft->epoch = epoch;
    raft->voted_id = raft->leader_id = SL_RAFT_NODE_NONE;
    raft->role = SL_RAFT_UNATTACHED;
    sl__raft_persist(raft);
    raft->election_deadline_ms = raft->now_ms + sl__raft_election_timeout_ms(raft);
    log_transition(raft);
}

void sl__raft_become_follower(sl_raft_t *raft, int32_t epoch, int32_t leader_id)
{
    SL_ASSERT(epoch >= raft->epoch);
    SL_ASSERT(leader_id != raft->cfg.node_id && leader_id != SL_RAFT_NODE_NONE);
    if (epoch != raft->epoch || leader_id != raft->leader_id)
        raft->leader_contact_ms = 0; /* a new leader: not heard from yet */
    leave_role(raft);
    if (epoch > raft->epoch)
        raft->voted_id = SL_RAFT_NODE_NONE;
    raft->epoch = epoch;
    raft->leader_id = leader_id;
    raft->role = SL_RAFT_FOLLOWER;
    sl__raft_persist(raft);
    raft->fetch_deadline_ms = raft->now_ms + raft->cfg.fetch_timeout_ms;
    log_transition(raft);
    sl__raft_send_fetch(raft);
}

/* An observer whose leader went quiet forgets it (same epoch) and probes the voters again. */
void sl__raft_observer_lose_leader(sl_raft_t *raft)
{
    SL_ASSERT(raft->role == SL_RAFT_FOLLOWER);
    leave_role(raft);
    raft->leader_id = SL_RAFT_NODE_NONE;
    raft->role = SL_RAFT_UNATTACHED;
    sl__raft_persist(raft);
    raft->election_deadline_ms = raft->now_ms; /* probe at once */
    log_transition(raft);
}

/* An observer without a leader asks the voters in turn with a Fetch, as Kafka's observers do:
 * the answer names the leader (CurrentLeader) and its epoch, which it then follows. */
void sl__raft_observer_probe(sl_raft_t *raft)
{
    int32_t voter = raft->cfg.voters[raft->probe_next++ % raft->cfg.voter_count];
    raft->fetch_correlation_id = sl__raft_next_correlation(raft);
    raft->fetch_sent_ms = raft->now_ms;
    sl_raft_msg_t msg;
    sl__raft_msg_init(raft, &msg, SL_RAFT_MSG_FETCH_REQUEST, voter, raft->fetch_correlation_id);
    msg.u.fetch_request.current_leader_epoch = raft->epoch;
    msg.u.fetch_request.fetch_offset = raft->log_end_offset;
    msg.u.fetch_request.last_fetched_epoch = sl__raft_last_epoch(raft);
    msg.u.fetch_request.max_wait_ms = 0;
    raft->election_deadline_ms = raft->now_ms + sl__raft_election_timeout_ms(raft) / 2;
    sl__raft_send(raft, &msg);
}

void sl__raft_observe_epoch(sl_raft_t *raft, int32_t epoch, int32_t leader_id)
{
    if (epoch <= raft->epoch)
        return;
    if (leader_id != SL_RAFT_NODE_NONE && leader_id != raft->cfg.node_id &&
        sl__raft_voter_index(raft, leader_id) >= 0)
        sl__raft_become_follower(raft, epoch, leader_id);
    else
        sl__raft_become_unattached(raft, epoch);
}

static bool majority_granted(const sl_raft_t *raft)
{
    return __builtin_popcount(raft->granted_mask) >= sl__raft_majority(raft);
}

static void start_vote_round(sl_raft_t *raft, bool pre_vote)
{
    int self = sl__raft_voter_index(raft, raft->cfg.node_id);
    SL_ASSERT(self >= 0);
    raft->granted_mask = 1u << self;
    raft->election_deadline_ms = raft->now_ms + sl__raft_election_timeout_ms(raft);
    raft->vote_round_correlation_id = raft->next_correlation_id;
    sl__raft_send_vote_requests(raft, pre_vote);
}

/* KIP-996: ask for pre-votes at the current epoch, which changes nothing on the voters; only a
 * majority of them, none hearing from a live leader, lets this node bump the epoch. */
void sl__raft_become_prospective(sl_raft_t *raft)
{
    SL_ASSERT(sl__raft_voter_index(raft, raft->cfg.node_id) >= 0);
    leave_role(raft);
    raft->role = SL_RAFT_PROSPECTIVE;
    log_transition(raft);
    start_vote_round(raft, true);
    if (majority_granted(raft))
        sl__raft_become_candidate(raft);
}

void sl__raft_become_candidate(sl_raft_t *raft)
{
    SL_ASSERT(raft->role == SL_RAFT_PROSPECTIVE);
    leave_role(raft);
    raft->epoch++;
    raft->voted_id = raft->cfg.node_id;
    raft->leader_id = SL_RAFT_NODE_NONE;
    raft->role = SL_RAFT_CANDIDATE;
    sl__raft_persist(raft);
    log_transition(raft);
    start_vote_round(raft, false);
    if (majority_granted(raft))
        sl__raft_become_leader(raft);
}

/* The new leader writes a LeaderChange control batch in its epoch: the high watermark may only
 * move once a batch of the current epoch is committed (Raft's rule for earlier terms' entries). */
void sl__raft_become_leader(sl_raft_t *raft)
{
    SL_ASSERT(raft->role == SL_RAFT_CANDIDATE);
    SL_ASSERT(raft->voted_id == raft->cfg.node_id);
    leave_role(raft);
    raft->role = SL_RAFT_LEADER;
    raft->leader_id = raft->cfg.node_id;
    sl__raft_persist(raft);
    raft->epoch_start_offset = raft->log_end_offset;
    for (int32_t i = 0; i < raft->cfg.voter_count; i++) {
        raft_replica_t *r = &raft->replicas[i];
        memset(r, 0, sizeof *r);
        r->state.replica_id = raft->cfg.voters[i];
        r->state.log_end_offset = -1;
        r->state.last_fetch_ms = raft->now_ms; /* check-quorum grace for a new epoch */
        r->begin_acked = raft->cfg.voters[i] == raft->cfg.node_id;
    }
    log_transition(raft);
    sl_raft_batch_t leader_change = {.base_offset = raft->log_end_offset,
                                     .record_count = 1,
                                     .leader_epoch = raft->epoch,
                                     .control = true};
    if (!sl__raft_log_append(raft, &leader_change, 1)) {
        SL_LOG(SL_LOG_ERROR, "raft", "epoch table full node=%" PRId32, raft->cfg.node_id);
        sl_raft_resign(raft);
        return;
    }
    sl__raft_request_flush(raft);
    for (int32_t i = 0; i < raft->cfg.voter_count; i++)
        if (!raft->replicas[i].begin_acked)
            sl__raft_send_begin_quorum_epoch(raft, (int)i);
}

void sl_raft_resign(sl_raft_t *raft)
{
    if (raft->role != SL_RAFT_LEADER)
        return;
    sl__raft_send_end_quorum_epoch(raft);
    leave_role(raft);
    raft->role = SL_RAFT_RESIGNED;
    raft->election_deadline_ms = raft->now_ms + sl__raft_election_timeout_ms(raft);
    log_transition(raft);
}

/* ---- inputs ------------------------------------------------------------------------------------
 */

void sl_raft_tick(sl_raft_t *raft, uint64_t now_ms)
{
    if (now_ms > raft->now_ms)
        raft->now_ms = now_ms;
    if (raft->failed)
        return;
    bool voter = sl__raft_voter_index(raft, raft->cfg.node_id) >= 0;
    switch (raft->role) {
    case SL_RAFT_LEADER:
        sl__raft_leader_tick(raft);
        break;
    case SL_RAFT_FOLLOWER:
        sl__raft_follower_tick(raft);
        break;
    case SL_RAFT_UNATTACHED:
    case SL_RAFT_PROSPECTIVE:
    case SL_RAFT_CANDIDATE:
    case SL_RAFT_RESIGNED:
        if (voter && raft->now_ms >= raft->election_deadline_ms)
            sl__raft_become_prospective(raft);
        else if (!voter && raft->role == SL_RAFT_UNATTACHED &&
                 raft->now_ms >= raft->election_deadline_ms)
            sl__raft_observer_probe(raft);
        break;
    }
}

static uint64_t leader_deadline(const sl_raft_t *raft)
{
    uint64_t next = UINT64_MAX;
    uint64_t check_quorum_ms = (uint64_t)raft->cfg.fetch_timeout_ms * 3 / 2;
    for (int32_t i = 0; i < raft->cfg.voter_count; i++) {
        const raft_replica_t *r = &raft->replicas[i];
        if (r->state.replica_id == raft->cfg.node_id)
            continue;
        /* check-quorum: when this voter's silence would start to count; a voter already past it
         * (dead) changes nothing until it fetches again, and must not pin the deadline in the
         * past (a host arming its timer at it would spin) */
        uint64_t silent_at = r->state.last_fetch_ms + check_quorum_ms + 1;
        if (silent_at > raft->now_ms)
            next = SL_MIN(next, silent_at);
        if (r->fetch_parked)
            next = SL_MIN(next, r->parked_deadline_ms);
        uint64_t begin_next_ms = r->begin_sent_ms + raft->cfg.request_timeout_ms;
        if (!r->begin_acked)
            next = SL_MIN(next, begin_next_ms);
        else
            next = SL_MIN(next, SL_MAX(begin_next_ms,
                                       r->state.last_fetch_ms + raft->cfg.fetch_timeout_ms / 2));
    }
    return next;
}

uint64_t sl_raft_next_deadline_ms(const sl_raft_t *raft)
{
    if (raft->failed)
        return UINT64_MAX;
    switch (raft->role) {
    case SL_RAFT_LEADER:
        return leader_deadline(raft);
    case SL_RAFT_FOLLOWER: {
        uint64_t next = raft->fetch_deadline_ms;
        if (raft->fetch_correlation_id != 0)
            next = SL_MIN(next, raft->fetch_sent_ms + raft->cfg.request_timeout_ms);
        else if (!raft->fetch_after_flush)
            next = SL_MIN(next, raft->fetch_retry_ms);
        return next;
    }
    case SL_RAFT_UNATTACHED:
    case SL_RAFT_PROSPECTIVE:
    case SL_RAFT_CANDIDATE:
    case SL_RAFT_RESIGNED:
        /* a voter's next election, an observer's next probe for the leader */
        return sl__raft_voter_index(raft, raft->cfg.node_id) >= 0 ||
                       raft->role == SL_RAFT_UNATTACHED
                   ? raft->election_deadline_ms
                   : UINT64_MAX;
    }
    return UINT64_MAX;
}

void sl_raft_receive(sl_raft_t *raft, const sl_raft_msg_t *msg)
{
    if (raft->failed || msg->destination_id != raft->cfg.node_id ||
        msg->source_id == raft->cfg.node_id)
        return;
    switch (msg->type) {
    case SL_RAFT_MSG_VOTE_REQUEST:
        sl__raft_handle_vote_request(raft, msg);
        break;
    case SL_RAFT_MSG_VOTE_RESPONSE:
        sl__raft_handle_vote_response(raft, msg);
        break;
    case SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_REQUEST:
        sl__raft_handle_begin_quorum_epoch(raft, msg);
        break;
    case SL_RAFT_MSG_END_QUORUM_EPOCH_REQUEST:
        sl__raft_handle_end_quorum_epoch(raft, msg);
        break;
    case SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_RESPONSE:
    case SL_RAFT_MSG_END_QUORUM_EPOCH_RESPONSE:
        sl__raft_handle_quorum_epoch_response(raft, msg);
        break;
    case SL_RAFT_MSG_FETCH_REQUEST:
        sl__raft_handle_fetch_request(raft, msg);
        break;
    case SL_RAFT_MSG_FETCH_RESPONSE:
        sl__raft_handle_fetch_response(raft, msg);
        break;
    case SL_RAFT_MSG_TYPE_COUNT:
        break;
    }
}

int sl_raft_propose(sl_raft_t *raft, int32_t record_count, const void *payload,
                    int64_t *base_offset_out)
{
    SL_ASSERT(record_count >= 1);
    if (raft->role != SL_RAFT_LEADER || raft->failed)
        return SL_ENOTLEADER;
    sl_raft_batch_t batch = {.base_offset = raft->log_end_offset,
                             .record_count = record_count,
                             .leader_epoch = raft->epoch,
                             .payload = payload};
    if (!sl__raft_log_append(raft, &batch, 1))
        return SL_ELIMIT;
    if (base_offset_out != NULL)
        *base_offset_out = batch.base_offset;
    sl__raft_request_flush(raft);
    sl__raft_complete_parked_fetches(raft);
    return 0;
}

/* ---- observers ---------------------------------------------------------------------------------
 */

sl_raft_role_t sl_raft_role(const sl_raft_t *raft)
{
    return raft->role;
}
int32_t sl_raft_epoch(const sl_raft_t *raft)
{
    return raft->epoch;
}
int32_t sl_raft_leader_id(const sl_raft_t *raft)
{
    return raft->leader_id;
}
bool sl_raft_caught_up(const sl_raft_t *raft)
{
    if (raft->role == SL_RAFT_LEADER)
        return true;
    /* a prospective voter still names the leader it lost: only a follower is caught up */
    return raft->role == SL_RAFT_FOLLOWER && raft->epoch > 0 &&
           raft->leader_high_watermark_epoch == raft->epoch &&
           raft->log_end_offset >= raft->leader_high_watermark;
}

int64_t sl_raft_high_watermark(const sl_raft_t *raft)
{
    return raft->high_watermark;
}
int64_t sl_raft_log_end_offset(const sl_raft_t *raft)
{
    return raft->log_end_offset;
}
int64_t sl_raft_flushed_offset(const sl_raft_t *raft)
{
    return raft->flushed_offset;
}

void sl_raft_describe_quorum(const sl_raft_t *raft, sl_raft_quorum_info_t *out)
{
    memset(out, 0, sizeof *out);
    out->leader_id = sl__raft_advertised_leader(raft);
    out->leader_epoch = raft->epoch;
    out->high_watermark = raft->high_watermark;
    if (raft->role != SL_RAFT_LEADER)
        return;
    out->voter_count = raft->cfg.voter_count;
    for (int32_t i = 0; i < raft->cfg.voter_count; i++) {
        out->voters[i] = raft->replicas[i].state;
        if (raft->cfg.voters[i] == raft->cfg.node_id) {
            out->voters[i].log_end_offset = raft->log_end_offset;
            out->voters[i].last_fetch_ms = raft->now_ms;
            out->voters[i].last_caught_up_ms = raft->now_ms;
        }
    }
}
