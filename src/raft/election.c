/* election.c: Vote (with KIP-996's pre-vote), BeginQuorumEpoch and EndQuorumEpoch.
 * Invariants: a node grants at most one (real) vote per epoch, and only to a candidate whose log
 * is at least as up to date as its own (last epoch, then end offset), with the vote saved before
 * the answer leaves; a pre-vote changes no state on the voter and is refused while the voter
 * hears from a live leader, so a node that was cut off cannot depose a healthy leader. */
#include "raft_int.h"

static sl_raft_msg_t message_to(const sl_raft_t *raft, sl_raft_msg_type_t type, int32_t dest,
                                int32_t correlation_id)
{
    sl_raft_msg_t msg;
    sl__raft_msg_init(raft, &msg, type, dest, correlation_id);
    return msg;
}

void sl__raft_send_vote_requests(sl_raft_t *raft, bool pre_vote)
{
    SL_ASSERT(raft->role == SL_RAFT_PROSPECTIVE || raft->role == SL_RAFT_CANDIDATE);
    for (int32_t i = 0; i < raft->cfg.voter_count; i++) {
        int32_t voter = raft->cfg.voters[i];
        if (voter == raft->cfg.node_id)
            continue;
        sl_raft_msg_t msg =
            message_to(raft, SL_RAFT_MSG_VOTE_REQUEST, voter, sl__raft_next_correlation(raft));
        msg.u.vote_request.replica_epoch = raft->epoch;
        msg.u.vote_request.last_offset_epoch = sl__raft_last_epoch(raft);
        msg.u.vote_request.last_offset = raft->log_end_offset;
        msg.u.vote_request.pre_vote = pre_vote;
        sl__raft_send(raft, &msg);
    }
}

/* Raft's up-to-date rule, on Kafka's (LastOffsetEpoch, LastOffset). */
static bool candidate_log_ok(const sl_raft_t *raft, int32_t last_epoch, int64_t last_offset)
{
    int32_t mine = sl__raft_last_epoch(raft);
    return last_epoch > mine || (last_epoch == mine && last_offset >= raft->log_end_offset);
}

static bool hears_from_leader(const sl_raft_t *raft)
{
    return raft->role == SL_RAFT_LEADER ||
           (raft->role == SL_RAFT_FOLLOWER && raft->now_ms < raft->fetch_deadline_ms &&
            raft->leader_contact_ms != 0 &&
            raft->now_ms < raft->leader_contact_ms + raft->cfg.fetch_timeout_ms);
}

static bool decide_pre_vote(const sl_raft_t *raft, const sl_raft_msg_t *msg)
{
    const sl_raft_vote_request_t *req = &msg->u.vote_request;
    if (req->replica_epoch < raft->epoch || hears_from_leader(raft))
        return false;
    return candidate_log_ok(raft, req->last_offset_epoch, req->last_offset);
}

static bool decide_vote(sl_raft_t *raft, const sl_raft_msg_t *msg)
{
    const sl_raft_vote_request_t *req = &msg->u.vote_request;
    if (req->replica_epoch < raft->epoch)
        return false;
    if (req->replica_epoch > raft->epoch)
        sl__raft_become_unattached(raft, req->replica_epoch);
    if (raft->voted_id == msg->source_id)
        return true; /* a retried or duplicated request: the same answer */
    if (raft->voted_id != SL_RAFT_NODE_NONE || raft->leader_id != SL_RAFT_NODE_NONE)
        return false;
    if (raft->role != SL_RAFT_UNATTACHED && raft->role != SL_RAFT_PROSPECTIVE)
        return false;
    if (!candidate_log_ok(raft, req->last_offset_epoch, req->last_offset))
        return false;
    if (raft->role == SL_RAFT_PROSPECTIVE)
        raft->granted_mask = 0;
    raft->role = SL_RAFT_UNATTACHED;
    raft->voted_id = msg->source_id;
    sl__raft_persist(raft); /* durable before the answer leaves */
    raft->election_deadline_ms = raft->now_ms + sl__raft_election_timeout_ms(raft);
    return true;
}

void sl__raft_handle_vote_request(sl_raft_t *raft, const sl_raft_msg_t *msg)
{
    sl_raft_msg_t resp =
        message_to(raft, SL_RAFT_MSG_VOTE_RESPONSE, msg->source_id, msg->correlation_id);
    bool granted = false;
    if (sl__raft_voter_index(raft, msg->source_id) < 0 ||
        sl__raft_voter_index(raft, raft->cfg.node_id) < 0)
        resp.u.vote_response.error_code = SL_RAFT_ERR_INCONSISTENT_VOTER_SET;
    else if (msg->u.vote_request.pre_vote)
        granted = decide_pre_vote(raft, msg);
    else
        granted = decide_vote(raft, msg);
    resp.u.vote_response.leader_id = sl__raft_advertised_leader(raft);
    resp.u.vote_response.leader_epoch = raft->epoch;
    resp.u.vote_response.vote_granted = granted;
    sl__raft_send(raft, &resp);
}

void sl__raft_handle_vote_response(sl_raft_t *raft, const sl_raft_msg_t *msg)
{
    const sl_raft_vote_response_t *resp = &msg->u.vote_response;
    int voter = sl__raft_voter_index(raft, msg->source_id);
    if (voter < 0 || resp->error_code != SL_RAFT_ERR_NONE)
        return;
    if (resp->leader_epoch > raft->epoch) {
        sl__raft_observe_epoch(raft, resp->leader_epoch, resp->leader_id);
        return;
    }
    if (msg->correlation_id < raft->vote_round_correlation_id)
        return; /* an answer to an earlier round */
    if (raft->role == SL_RAFT_PROSPECTIVE) {
        if (resp->vote_granted) {
            raft->granted_mask |= 1u << voter;
            if (__builtin_popcount(raft->granted_mask) >= sl__raft_majority(raft))
                sl__raft_become_candidate(raft);
        } else if (resp->leader_epoch == raft->epoch && resp->leader_id != SL_RAFT_NODE_NONE &&
                   resp->leader_id != raft->cfg.node_id &&
                   sl__raft_voter_index(raft, resp->leader_id) >= 0) {
            /* A voter still hears from this epoch's leader: follow it again (KIP-996). */
            sl__raft_become_follower(raft, raft->epoch, resp->leader_id);
        }
    } else if (raft->role == SL_RAFT_CANDIDATE && resp->leader_epoch == raft->epoch &&
               resp->vote_granted) {
        raft->granted_mask |= 1u << voter;
        if (__builtin_popcount(raft->granted_mask) >= sl__raft_majority(raft))
            sl__raft_become_leader(raft);
    }
}

void sl__raft_send_begin_quorum_epoch(sl_raft_t *raft, int voter_index)
{
    SL_ASSERT(raft->role == SL_RAFT_LEADER);
    raft_replica_t *r = &raft->replicas[voter_index];
    sl_raft_msg_t msg = message_to(raft, SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_REQUEST,
                                   r->state.replica_id, sl__raft_next_correlation(raft));
    msg.u.begin_quorum_epoch_request.leader_id = raft->cfg.node_id;
    msg.u.begin_quorum_epoch_request.leader_epoch = raft->epoch;
    r->begin_sent_ms = raft->now_ms;
    sl__raft_send(raft, &msg);
}

/* KRaft's preferred successors: the other voters, most caught up first, so the best placed one
 * starts its election first. */
static int32_t preferred_successors(const sl_raft_t *raft, int32_t *out)
{
    int32_t n = 0;
    for (int32_t i = 0; i < raft->cfg.voter_count; i++) {
        const raft_replica_t *r = &raft->replicas[i];
        if (r->state.replica_id == raft->cfg.node_id)
            continue;
        int32_t j = n++;
        while (j > 0) {
            int k = sl__raft_voter_index(raft, out[j - 1]);
            if (raft->replicas[k].state.log_end_offset >= r->state.log_end_offset)
                break;
            out[j] = out[j - 1];
            j--;
        }
        out[j] = r->state.replica_id;
    }
    return n;
}

void sl__raft_send_end_quorum_epoch(sl_raft_t *raft)
{
    SL_ASSERT(raft->role == SL_RAFT_LEADER);
    sl_raft_msg_t msg = message_to(raft, SL_RAFT_MSG_END_QUORUM_EPOCH_REQUEST, 0, 0);
    msg.u.end_quorum_epoch_request.leader_id = raft->cfg.node_id;
    msg.u.end_quorum_epoch_request.leader_epoch = raft->epoch;
    msg.u.end_quorum_epoch_request.preferred_successors_count =
        preferred_successors(raft, msg.u.end_quorum_epoch_request.preferred_successors);
    for (int32_t i = 0; i < msg.u.end_quorum_epoch_request.preferred_successors_count; i++) {
        msg.destination_id = msg.u.end_quorum_epoch_request.preferred_successors[i];
        msg.correlation_id = sl__raft_next_correlation(raft);
        sl__raft_send(raft, &msg);
    }
}

static void answer_quorum_epoch(sl_raft_t *raft, const sl_raft_msg_t *req, sl_raft_msg_type_t type,
                                int16_t error_code)
{
    sl_raft_msg_t resp = message_to(raft, type, req->source_id, req->correlation_id);
    resp.u.quorum_epoch_response.error_code = error_code;
    resp.u.quorum_epoch_response.leader_id = sl__raft_advertised_leader(raft);
    resp.u.quorum_epoch_response.leader_epoch = raft->epoch;
    sl__raft_send(raft, &resp);
}

void sl__raft_handle_begin_quorum_epoch(sl_raft_t *raft, const sl_raft_msg_t *msg)
{
    const sl_raft_begin_quorum_epoch_request_t *req = &msg->u.begin_quorum_epoch_request;
    int16_t error = SL_RAFT_ERR_NONE;
    if (req->leader_id != msg->source_id || sl__raft_voter_index(raft, req->leader_id) < 0)
        error = SL_RAFT_ERR_INCONSISTENT_VOTER_SET;
    else if (req->leader_epoch < raft->epoch)
        error = SL_RAFT_ERR_FENCED_LEADER_EPOCH;
    else if (req->leader_epoch > raft->epoch)
        sl__raft_become_follower(raft, req->leader_epoch, req->leader_id);
    else if (raft->leader_id == SL_RAFT_NODE_NONE)
        sl__raft_become_follower(raft, req->leader_epoch, req->leader_id);
    else if (raft->leader_id != req->leader_id)
        error = SL_RAFT_ERR_FENCED_LEADER_EPOCH; /* two leaders in one epoch: never granted */
    else if (raft->role != SL_RAFT_FOLLOWER)
        sl__raft_become_follower(raft, req->leader_epoch, req->leader_id);
    if (error == SL_RAFT_ERR_NONE && raft->role == SL_RAFT_FOLLOWER)
        raft->leader_contact_ms = raft->now_ms;
    answer_quorum_epoch(raft, msg, SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_RESPONSE, error);
}

/* The leader resigned: stop following it and start an election after a backoff that grows with
 * this node's place in the preferred successors. */
void sl__raft_handle_end_quorum_epoch(sl_raft_t *raft, const sl_raft_msg_t *msg)
{
    const sl_raft_end_quorum_epoch_request_t *req = &msg->u.end_quorum_epoch_request;
    int16_t error = SL_RAFT_ERR_NONE;
    if (req->leader_id != msg->source_id || sl__raft_voter_index(raft, req->leader_id) < 0) {
        error = SL_RAFT_ERR_INCONSISTENT_VOTER_SET;
    } else if (req->leader_epoch < raft->epoch) {
        error = SL_RAFT_ERR_FENCED_LEADER_EPOCH;
    } else if (req->leader_epoch > raft->epoch) {
        sl__raft_become_unattached(raft, req->leader_epoch);
    } else if (raft->role == SL_RAFT_FOLLOWER && raft->leader_id == req->leader_id) {
        int32_t position = req->preferred_successors_count;
        for (int32_t i = 0; i < req->preferred_successors_count && i < SL_RAFT_VOTERS_MAX; i++)
            if (req->preferred_successors[i] == raft->cfg.node_id)
                position = i;
        raft->fetch_correlation_id = 0;
        raft->fetch_after_flush = false;
        raft->role = SL_RAFT_UNATTACHED; /* the leader id stays: no vote in this epoch */
        uint64_t step = SL_MAX(raft->cfg.retry_backoff_ms, 1u);
        uint64_t backoff = (uint64_t)position * step * 5;
        backoff = SL_MIN(backoff, (uint64_t)raft->cfg.election_backoff_max_ms);
        raft->election_deadline_ms =
            raft->now_ms + backoff + raft->env.random_u64(raft->env.data) % step;
        SL_LOG(SL_LOG_INFO, "raft",
               "leader resigned node=%" PRId32 " leader=%" PRId32 " epoch=%" PRId32
               " successor_position=%" PRId32,
               raft->cfg.node_id, req->leader_id, raft->epoch, position);
    }
    answer_quorum_epoch(raft, msg, SL_RAFT_MSG_END_QUORUM_EPOCH_RESPONSE, error);
}

void sl__raft_handle_quorum_epoch_response(sl_raft_t *raft, const sl_raft_msg_t *msg)
{
    const sl_raft_quorum_epoch_response_t *resp = &msg->u.quorum_epoch_response;
    if (resp->leader_epoch > raft->epoch) {
        sl__raft_observe_epoch(raft, resp->leader_epoch, resp->leader_id);
        return;
    }
    int voter = sl__raft_voter_index(raft, msg->source_id);
    if (msg->type == SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_RESPONSE && raft->role == SL_RAFT_LEADER &&
        voter >= 0 && resp->error_code == SL_RAFT_ERR_NONE && resp->leader_epoch == raft->epoch)
        raft->replicas[voter].begin_acked = true;
}
