/* replication.c: KRaft's pull replication. Followers fetch (offset, last fetched epoch); the
 * leader checks them against its epoch entries and answers with records, or with DivergingEpoch
 * when the follower's log went astray, which the follower truncates to the end of the last epoch
 * both logs share. A fetch with nothing new waits on the leader (long poll) until data arrives,
 * the high watermark moves or max wait passes.
 * Invariants: the high watermark is the largest offset a majority of voters hold durably (the
 * leader's flushed end, the followers' fetch offsets), and it moves only past an offset of the
 * leader's own epoch; it never goes backwards on a node; a follower appends only batches that
 * continue its log exactly. */
#include "raft_int.h"

static sl_raft_msg_t fetch_response_to(const sl_raft_t *raft, const sl_raft_msg_t *req,
                                       int16_t error_code)
{
    sl_raft_msg_t resp;
    sl__raft_msg_init(raft, &resp, SL_RAFT_MSG_FETCH_RESPONSE, req->source_id, req->correlation_id);
    resp.u.fetch_response.error_code = error_code;
    resp.u.fetch_response.leader_id = sl__raft_advertised_leader(raft);
    resp.u.fetch_response.leader_epoch = raft->epoch;
    resp.u.fetch_response.high_watermark = raft->high_watermark;
    resp.u.fetch_response.diverging_epoch = -1;
    resp.u.fetch_response.diverging_end_offset = -1;
    return resp;
}

/* ---- follower -------------------------------------------------------------------------------- */

/* Fetches report only durable offsets: the next fetch waits until what was appended is flushed,
 * so the leader never counts a record a crash of this node could lose. */
void sl__raft_send_fetch(sl_raft_t *raft)
{
    SL_ASSERT(raft->role == SL_RAFT_FOLLOWER);
    if (raft->flushed_offset < raft->log_end_offset) {
        raft->fetch_after_flush = true;
        sl__raft_request_flush(raft);
        return;
    }
    raft->fetch_after_flush = false;
    raft->fetch_correlation_id = sl__raft_next_correlation(raft);
    raft->fetch_sent_ms = raft->now_ms;
    sl_raft_msg_t msg;
    sl__raft_msg_init(raft, &msg, SL_RAFT_MSG_FETCH_REQUEST, raft->leader_id,
                      raft->fetch_correlation_id);
    msg.u.fetch_request.current_leader_epoch = raft->epoch;
    msg.u.fetch_request.fetch_offset = raft->log_end_offset;
    msg.u.fetch_request.last_fetched_epoch = sl__raft_last_epoch(raft);
    msg.u.fetch_request.max_wait_ms = (int32_t)raft->cfg.fetch_max_wait_ms;
    sl__raft_send(raft, &msg);
}

static void follower_truncate(sl_raft_t *raft, const sl_raft_fetch_response_t *resp)
{
    int32_t local_epoch;
    int64_t local_end;
    sl__raft_end_offset_for_epoch(raft, resp->diverging_epoch, &local_epoch, &local_end);
    int64_t offset = SL_MIN(local_end, resp->diverging_end_offset);
    if (offset < 0 || offset >= raft->log_end_offset) {
        SL_LOG(SL_LOG_WARN, "raft",
               "ignoring DivergingEpoch node=%" PRId32 " epoch=%" PRId32 " end=%" PRId64
               " log_end=%" PRId64,
               raft->cfg.node_id, resp->diverging_epoch, resp->diverging_end_offset,
               raft->log_end_offset);
        raft->fetch_retry_ms = raft->now_ms + raft->cfg.retry_backoff_ms;
        return;
    }
    if (NEVER(offset < raft->high_watermark)) {
        /* Committed records are in every later leader's log: this cannot be asked for. */
        SL_LOG(SL_LOG_ERROR, "raft",
               "refusing to truncate below the high watermark node=%" PRId32 " to=%" PRId64
               " hw=%" PRId64,
               raft->cfg.node_id, offset, raft->high_watermark);
        raft->fetch_retry_ms = raft->now_ms + raft->cfg.request_timeout_ms;
        return;
    }
    SL_LOG(SL_LOG_INFO, "raft", "truncate node=%" PRId32 " from=%" PRId64 " to=%" PRId64,
           raft->cfg.node_id, raft->log_end_offset, offset);
    sl__raft_log_truncate(raft, offset);
    sl__raft_send_fetch(raft);
}

/* Received batches must continue the log exactly, in non-decreasing epochs no newer than the
 * leader's. Anything else is dropped (and fetched again) rather than trusted. */
static bool batches_continue_log(const sl_raft_t *raft, const sl_raft_fetch_response_t *resp)
{
    int64_t next = raft->log_end_offset;
    int32_t epoch = sl__raft_last_epoch(raft);
    for (size_t i = 0; i < resp->batch_count; i++) {
        const sl_raft_batch_t *b = &resp->batches[i];
        if (b->base_offset != next || b->record_count < 1 || b->leader_epoch < epoch ||
            b->leader_epoch < 1 || b->leader_epoch > resp->leader_epoch)
            return false;
        epoch = b->leader_epoch;
        next += b->record_count;
    }
    return true;
}

static void follower_append(sl_raft_t *raft, const sl_raft_fetch_response_t *resp)
{
    if (resp->batch_count > 0) {
        if (!batches_continue_log(raft, resp) ||
            !sl__raft_log_append(raft, resp->batches, resp->batch_count)) {
            SL_LOG_RATELIMITED(SL_LOG_WARN, "raft",
                               "dropping fetched batches that do not continue the log node=%" PRId32
                               " log_end=%" PRId64,
                               raft->cfg.node_id, raft->log_end_offset);
            raft->fetch_retry_ms = raft->now_ms + raft->cfg.retry_backoff_ms;
            return;
        }
    }
    raft->leader_high_watermark = resp->high_watermark;
    raft->leader_high_watermark_epoch = raft->epoch;
    /* Kafka's follower rule: what it holds of the leader's committed prefix is committed. */
    int64_t hw = SL_MIN(resp->high_watermark, raft->log_end_offset);
    bool news = resp->batch_count > 0 || hw > raft->high_watermark;
    if (hw > raft->high_watermark)
        raft->high_watermark = hw;
    if (!news && sl__raft_voter_index(raft, raft->cfg.node_id) < 0) {
        /* an observer: the leader answers it at once (it never parks an observer's fetch), so
         * it waits out the max wait itself rather than ask again at once */
        raft->fetch_retry_ms = raft->now_ms + raft->cfg.fetch_max_wait_ms;
        return;
    }
    sl__raft_send_fetch(raft);
}

void sl__raft_handle_fetch_response(sl_raft_t *raft, const sl_raft_msg_t *msg)
{
    const sl_raft_fetch_response_t *resp = &msg->u.fetch_response;
    if (resp->leader_epoch > raft->epoch) {
        sl__raft_observe_epoch(raft, resp->leader_epoch, resp->leader_id);
        return;
    }
    if (raft->role == SL_RAFT_UNATTACHED && msg->correlation_id == raft->fetch_correlation_id &&
        raft->fetch_correlation_id != 0 && sl__raft_voter_index(raft, raft->cfg.node_id) < 0) {
        /* an observer's probe: follow the leader it names in this epoch */
        raft->fetch_correlation_id = 0;
        if (resp->leader_epoch == raft->epoch && resp->leader_id != SL_RAFT_NODE_NONE &&
            resp->leader_id != raft->cfg.node_id &&
            sl__raft_voter_index(raft, resp->leader_id) >= 0)
            sl__raft_become_follower(raft, raft->epoch, resp->leader_id);
        return;
    }
    if (raft->role != SL_RAFT_FOLLOWER || msg->source_id != raft->leader_id ||
        msg->correlation_id != raft->fetch_correlation_id || raft->fetch_correlation_id == 0)
        return; /* late, duplicated, or meant for an earlier role */
    raft->fetch_correlation_id = 0;
    if (resp->error_code != SL_RAFT_ERR_NONE) {
        if (resp->error_code == SL_RAFT_ERR_NOT_LEADER_OR_FOLLOWER &&
            resp->leader_epoch == raft->epoch)
            raft->fetch_deadline_ms = raft->now_ms; /* it resigned: elect at the next tick */
        raft->fetch_retry_ms = raft->now_ms + raft->cfg.retry_backoff_ms;
        return;
    }
    if (resp->leader_epoch != raft->epoch || resp->leader_id != raft->leader_id)
        return;
    raft->fetch_deadline_ms = raft->now_ms + raft->cfg.fetch_timeout_ms;
    raft->leader_contact_ms = raft->now_ms;
    if (resp->diverging_epoch >= 0 || resp->diverging_end_offset >= 0)
        follower_truncate(raft, resp);
    else
        follower_append(raft, resp);
}

void sl__raft_follower_tick(sl_raft_t *raft)
{
    if (raft->now_ms >= raft->fetch_deadline_ms) {
        SL_LOG(SL_LOG_INFO, "raft", "fetch timeout node=%" PRId32 " leader=%" PRId32,
               raft->cfg.node_id, raft->leader_id);
        if (sl__raft_voter_index(raft, raft->cfg.node_id) >= 0) {
            sl__raft_become_prospective(raft);
            return;
        }
        sl__raft_observer_lose_leader(raft); /* and find the current one from the voters */
        return;
    }
    if (raft->fetch_correlation_id != 0) {
        if (raft->now_ms >= raft->fetch_sent_ms + raft->cfg.request_timeout_ms)
            sl__raft_send_fetch(raft); /* lost: ask again */
    } else if (!raft->fetch_after_flush && raft->now_ms >= raft->fetch_retry_ms) {
        sl__raft_send_fetch(raft);
    }
}

/* ---- leader ---------------------------------------------------------------------------------- */

static void respond_with_records(sl_raft_t *raft, const sl_raft_msg_t *req, int64_t fetch_offset)
{
    sl_raft_msg_t resp = fetch_response_to(raft, req, SL_RAFT_ERR_NONE);
    resp.u.fetch_response.records_offset = fetch_offset;
    resp.u.fetch_response.records_end_offset = SL_MAX(fetch_offset, raft->log_end_offset);
    sl__raft_send(raft, &resp);
}

static void answer_parked(sl_raft_t *raft, raft_replica_t *r)
{
    SL_ASSERT(r->fetch_parked);
    r->fetch_parked = false;
    sl_raft_msg_t req = {.source_id = r->state.replica_id,
                         .correlation_id = r->parked_correlation_id};
    respond_with_records(raft, &req, r->parked_fetch_offset);
}

void sl__raft_complete_parked_fetches(sl_raft_t *raft)
{
    if (raft->role != SL_RAFT_LEADER)
        return;
    for (int32_t i = 0; i < raft->cfg.voter_count; i++)
        if (raft->replicas[i].fetch_parked)
            answer_parked(raft, &raft->replicas[i]);
}

bool sl_raft_answer_parked_fetch(sl_raft_t *raft, int32_t replica_id)
{
    int voter = sl__raft_voter_index(raft, replica_id);
    if (raft->role != SL_RAFT_LEADER || voter < 0 || !raft->replicas[voter].fetch_parked)
        return false;
    answer_parked(raft, &raft->replicas[voter]);
    return true;
}

void sl__raft_update_high_watermark(sl_raft_t *raft)
{
    SL_ASSERT(raft->role == SL_RAFT_LEADER);
    int64_t ends[SL_RAFT_VOTERS_MAX];
    int32_t n = raft->cfg.voter_count;
    for (int32_t i = 0; i < n; i++) {
        int64_t end = raft->cfg.voters[i] == raft->cfg.node_id
                          ? raft->flushed_offset
                          : raft->replicas[i].state.log_end_offset;
        int32_t j = i; /* insertion sort, descending */
        while (j > 0 && ends[j - 1] < end) {
            ends[j] = ends[j - 1];
            j--;
        }
        ends[j] = end;
    }
    int64_t majority_end = ends[sl__raft_majority(raft) - 1];
    SL_ASSERT(majority_end <= raft->log_end_offset);
    /* Only a record of this epoch commits what precedes it (Raft §5.4.2; KRaft's epoch start). */
    if (majority_end > raft->epoch_start_offset && majority_end > raft->high_watermark) {
        raft->high_watermark = majority_end;
        sl__raft_complete_parked_fetches(raft);
    }
}

/* Kafka's validateOffsetAndEpoch: the fetch is consistent when the leader's log has the
 * follower's last fetched epoch and that epoch reaches at least the fetch offset. */
static bool fetch_diverges(const sl_raft_t *raft, const sl_raft_fetch_request_t *req,
                           int32_t *epoch_out, int64_t *end_out)
{
    if (req->fetch_offset == 0 && req->last_fetched_epoch == 0)
        return false;
    sl__raft_end_offset_for_epoch(raft, req->last_fetched_epoch, epoch_out, end_out);
    return *epoch_out != req->last_fetched_epoch || *end_out < req->fetch_offset;
}

static int16_t fetch_error(const sl_raft_t *raft, const sl_raft_fetch_request_t *req)
{
    if (req->current_leader_epoch < raft->epoch)
        return SL_RAFT_ERR_FENCED_LEADER_EPOCH;
    if (req->current_leader_epoch > raft->epoch)
        return SL_RAFT_ERR_UNKNOWN_LEADER_EPOCH;
    if (raft->role != SL_RAFT_LEADER)
        return SL_RAFT_ERR_NOT_LEADER_OR_FOLLOWER;
    if (req->fetch_offset < 0 || req->last_fetched_epoch < 0 || req->max_wait_ms < 0)
        return SL_RAFT_ERR_INVALID_REQUEST;
    return SL_RAFT_ERR_NONE;
}

static void leader_note_fetch(sl_raft_t *raft, int voter, int64_t fetch_offset)
{
    raft_replica_t *r = &raft->replicas[voter];
    r->state.log_end_offset = fetch_offset;
    r->state.last_fetch_ms = raft->now_ms;
    if (fetch_offset >= raft->log_end_offset)
        r->state.last_caught_up_ms = raft->now_ms;
    r->begin_acked = true;
}

void sl__raft_handle_fetch_request(sl_raft_t *raft, const sl_raft_msg_t *msg)
{
    const sl_raft_fetch_request_t *req = &msg->u.fetch_request;
    int16_t error = fetch_error(raft, req);
    if (error != SL_RAFT_ERR_NONE) {
        sl_raft_msg_t resp = fetch_response_to(raft, msg, error);
        sl__raft_send(raft, &resp);
        return;
    }
    int32_t diverging_epoch;
    int64_t diverging_end;
    if (fetch_diverges(raft, req, &diverging_epoch, &diverging_end)) {
        sl_raft_msg_t resp = fetch_response_to(raft, msg, SL_RAFT_ERR_NONE);
        resp.u.fetch_response.diverging_epoch = diverging_epoch;
        resp.u.fetch_response.diverging_end_offset = diverging_end;
        sl__raft_send(raft, &resp);
        return;
    }
    int voter = sl__raft_voter_index(raft, msg->source_id);
    if (voter < 0) { /* an observer: answered at once, never counted */
        respond_with_records(raft, msg, req->fetch_offset);
        return;
    }
    int64_t hw_before = raft->high_watermark;
    raft_replica_t *r = &raft->replicas[voter];
    if (r->fetch_parked)
        answer_parked(raft, r); /* superseded: its follower has moved on */
    leader_note_fetch(raft, voter, req->fetch_offset);
    sl__raft_update_high_watermark(raft);
    if (req->fetch_offset < raft->log_end_offset || raft->high_watermark != hw_before ||
        req->max_wait_ms == 0) {
        respond_with_records(raft, msg, req->fetch_offset);
        return;
    }
    r->fetch_parked = true;
    r->parked_correlation_id = msg->correlation_id;
    r->parked_fetch_offset = req->fetch_offset;
    r->parked_deadline_ms =
        raft->now_ms + SL_MIN((uint64_t)req->max_wait_ms, (uint64_t)raft->cfg.fetch_max_wait_ms);
}

/* KIP-595's check-quorum: a leader that has not heard from a majority (itself included) within
 * 1.5 fetch timeouts resigns rather than keep a minority partition believing in it. */
static bool quorum_alive(const sl_raft_t *raft)
{
    uint64_t window_ms = (uint64_t)raft->cfg.fetch_timeout_ms * 3 / 2;
    int32_t alive = 0;
    for (int32_t i = 0; i < raft->cfg.voter_count; i++) {
        const raft_replica_t *r = &raft->replicas[i];
        if (r->state.replica_id == raft->cfg.node_id ||
            raft->now_ms <= r->state.last_fetch_ms + window_ms)
            alive++;
    }
    return alive >= sl__raft_majority(raft);
}

/* BeginQuorumEpoch goes to a voter until it answers or fetches, and again to one that has gone
 * quiet: a voter that bumped its epoch in a failed election can neither win (pre-votes are refused
 * while this leader is live) nor learn of this lower-epoch leader from anyone; its FENCED answer
 * to BeginQuorumEpoch tells the leader, which steps down so an election at a higher epoch can
 * include it (as KRaft does). */
bool sl__raft_begin_quorum_epoch_due(const sl_raft_t *raft, const raft_replica_t *r)
{
    if (r->state.replica_id == raft->cfg.node_id ||
        raft->now_ms < r->begin_sent_ms + raft->cfg.request_timeout_ms)
        return false;
    return !r->begin_acked ||
           raft->now_ms >= r->state.last_fetch_ms + raft->cfg.fetch_timeout_ms / 2;
}

void sl__raft_leader_tick(sl_raft_t *raft)
{
    if (!quorum_alive(raft)) {
        SL_LOG(SL_LOG_WARN, "raft", "lost the quorum, resigning node=%" PRId32 " epoch=%" PRId32,
               raft->cfg.node_id, raft->epoch);
        sl_raft_resign(raft);
        return;
    }
    for (int32_t i = 0; i < raft->cfg.voter_count; i++) {
        raft_replica_t *r = &raft->replicas[i];
        if (r->fetch_parked && raft->now_ms >= r->parked_deadline_ms)
            answer_parked(raft, r);
        if (sl__raft_begin_quorum_epoch_due(raft, r))
            sl__raft_send_begin_quorum_epoch(raft, (int)i);
    }
}
