/* replica_manager: partitions as Raft groups (see replica_manager.h). Three paths:
 *  - the groups: one Raft host with its own peer connections (the inter-broker listeners of the
 *    other brokers), each partition a group over its replicated log and its quorum-state file.
 *  - appends: acks=all appends wait in a per-partition FIFO (offsets ascending) and complete in
 *    group_changed, which the host calls after any input that moved the high watermark, role,
 *    leader or epoch; acks=1 appends wait for their own sl_log_flush (the dir's group commit).
 *  - the ISR: recomputed from the leader's view of its voters on every change and on a timer
 *    (lag expires with time alone); a change is counted and reported to the owner.
 * Invariants: an acks=all append completes only while its epoch is still led here; leadership
 * lost fails every waiting acks=all append at once (NOT_ENOUGH_REPLICAS_AFTER_APPEND); a stopped
 * partition's log closes only after its last I/O. */
#include "replica_manager.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "raft_host.h"
#include "sluice/record_batch.h"

/* A resigning leader waits at most this long for others to lead before shutdown goes on. */
#define RESIGN_WAIT_MS 3000
#define RESIGN_POLL_MS 50
/* Kafka's client reconnect.backoff.max.ms: the cap of a peer connection's retry backoff. */
#define RECONNECT_BACKOFF_MAX_MS 1000
/* Retries of a stopped partition's log close while its last I/O completes. */
#define CLOSE_RETRY_MS 10

struct sl_partition_replica {
    sl_replica_manager_t *mgr;
    char *topic;
    sl_uuid_t topic_id;
    int32_t partition;
    sl_log_dir_t *dir;
    char *state_path;
    void *owner;
    sl_raft_log_t *log;
    sl_raft_group_t *group;
    int32_t voters[SL_RAFT_VOTERS_MAX];
    int32_t voter_count;
    int32_t min_insync_replicas;
    /* acks=all appends waiting for the high watermark, oldest first */
    sl_replica_append_t *waiting_head, *waiting_tail;
    size_t flushes_pending; /* acks=1 appends waiting for their flush */
    /* what the owner last heard */
    sl_raft_role_t seen_role;
    int32_t seen_leader, seen_epoch;
    int32_t isr[SL_RAFT_VOTERS_MAX];
    int32_t isr_count;
    bool offline_seen;
    /* stopping: out of the table, the log closes once idle */
    bool delete_log;
    sl_partition_replica_t *next_closing;
};

struct sl_replica_manager {
    uv_loop_t *loop;
    const sl_config_t *cfg;
    sl_partition_replica_changed_cb changed;
    void *changed_data;
    sl_peers_t *peers;
    sl_raft_host_t *host;
    sl_partition_replica_t **partitions;
    size_t partition_count, partition_cap;
    sl_partition_replica_t *closing; /* stopped partitions whose log is not closed yet */
    uv_timer_t isr_timer;            /* ISR expiry */
    uv_timer_t close_timer;          /* retries of closing logs */
    uv_timer_t resign_timer;         /* controlled shutdown's wait */
    uint64_t resign_deadline_ms;
    void (*resigned)(void *data);
    void *resigned_data;
    uint64_t isr_shrinks, isr_expands;
    size_t handles_open;
    bool closing_all;
    void (*closed)(void *data);
    void *closed_data;
};

/* ---- pure parts ------------------------------------------------------------------------------ */

int32_t sl__replica_isr(const sl_raft_quorum_info_t *info, int32_t self_id, uint64_t now_ms,
                        int64_t lag_max_ms, int32_t *isr)
{
    int32_t n = 0;
    for (int32_t i = 0; i < info->voter_count; i++) {
        const sl_raft_replica_state_t *v = &info->voters[i];
        bool caught_up = v->replica_id == self_id ||
                         (v->last_caught_up_ms != 0 && now_ms >= v->last_caught_up_ms &&
                          (int64_t)(now_ms - v->last_caught_up_ms) <= lag_max_ms);
        if (caught_up)
            isr[n++] = v->replica_id;
    }
    return n;
}

int32_t sl__replica_durable_count(const sl_raft_quorum_info_t *info, int32_t self_id,
                                  int64_t self_flushed_offset, int64_t end_offset)
{
    int32_t n = 0;
    for (int32_t i = 0; i < info->voter_count; i++) {
        const sl_raft_replica_state_t *v = &info->voters[i];
        int64_t durable = v->replica_id == self_id ? self_flushed_offset : v->log_end_offset;
        n += durable >= end_offset;
    }
    return n;
}

/* ---- one partition's state ------------------------------------------------------------------- */

static uint64_t mgr_now(const sl_replica_manager_t *mgr)
{
    return uv_now(mgr->loop);
}

static sl_raft_t *replica_raft(const sl_partition_replica_t *r)
{
    return sl_raft_group_raft(r->group);
}

static bool replica_leads(const sl_partition_replica_t *r)
{
    return r->group != NULL && sl_raft_role(replica_raft(r)) == SL_RAFT_LEADER &&
           sl_raft_log_error(r->log) == 0;
}

sl_log_t *sl_partition_replica_log(const sl_partition_replica_t *replica)
{
    return sl_raft_log_log(replica->log);
}

void *sl_partition_replica_owner(const sl_partition_replica_t *replica)
{
    return replica->owner;
}

void sl_partition_replica_state(const sl_partition_replica_t *r, sl_partition_replica_state_t *out)
{
    memset(out, 0, sizeof(*out));
    out->leader_id = SL_RAFT_NODE_NONE;
    out->high_watermark = -1;
    memcpy(out->replicas, r->voters, sizeof(out->replicas));
    out->replica_count = r->voter_count;
    out->offline = r->log == NULL || sl_raft_log_error(r->log) != 0;
    if (r->group == NULL)
        return;
    const sl_raft_t *raft = replica_raft(r);
    out->leader = replica_leads(r);
    out->leader_id = sl_raft_leader_id(raft);
    out->leader_epoch = sl_raft_epoch(raft);
    out->high_watermark = sl_raft_high_watermark(raft);
    if (out->leader) {
        memcpy(out->isr, r->isr, sizeof(out->isr));
        out->isr_count = r->isr_count;
    }
}

/* ---- appends ----------------------------------------------------------------------------------
 */

static int32_t isr_now(const sl_partition_replica_t *r, int32_t *isr);

static sl_replica_append_t *waiting_pop(sl_partition_replica_t *r)
{
    sl_replica_append_t *a = r->waiting_head;
    r->waiting_head = a->priv_next;
    if (r->waiting_head == NULL)
        r->waiting_tail = NULL;
    a->priv_next = NULL;
    return a;
}

static void fail_waiting(sl_partition_replica_t *r, sl_kerr_t error)
{
    while (r->waiting_head != NULL) {
        sl_replica_append_t *a = waiting_pop(r);
        a->priv_cb(a, error, a->priv_data);
    }
}

/* acks=all appends whose batch the high watermark passed, with min.insync.replicas copies. */
static void complete_waiting(sl_partition_replica_t *r)
{
    if (r->waiting_head == NULL)
        return;
    sl_raft_t *raft = replica_raft(r);
    if (!replica_leads(r)) {
        fail_waiting(r, sl_raft_log_error(r->log) != 0 ? SL_KERR_KAFKA_STORAGE_ERROR
                                                       : SL_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
        return;
    }
    int64_t hw = sl_raft_high_watermark(raft);
    int32_t epoch = sl_raft_epoch(raft);
    sl_raft_quorum_info_t info;
    bool described = false;
    int32_t needed = SL_MIN(r->min_insync_replicas, r->voter_count);
    while (r->waiting_head != NULL) {
        sl_replica_append_t *a = r->waiting_head;
        if (a->priv_epoch != epoch) { /* proposed in an epoch this node no longer leads */
            waiting_pop(r);
            a->priv_cb(a, SL_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, a->priv_data);
            continue;
        }
        if (hw < a->priv_end_offset)
            return;
        /* a majority has it; min.insync.replicas may ask for more than a majority */
        if (needed > r->voter_count / 2 + 1) {
            if (!described)
                sl_raft_describe_quorum(raft, &info);
            described = true;
            if (sl__replica_durable_count(&info, r->mgr->cfg->node_id, sl_raft_flushed_offset(raft),
                                          a->priv_end_offset) < needed)
                return;
        }
        waiting_pop(r);
        a->priv_cb(a, SL_KERR_NONE, a->priv_data);
    }
}

static void append_flushed(sl_log_flush_t *flush, int status, int64_t synced_offset, void *data)
{
    (void)synced_offset;
    sl_replica_append_t *a = data;
    SL_ASSERT(flush == &a->priv_flush);
    sl_partition_replica_t *r = a->priv_replica;
    r->flushes_pending--;
    a->priv_flushing = false;
    a->priv_cb(a, status == 0 ? SL_KERR_NONE : SL_KERR_KAFKA_STORAGE_ERROR, a->priv_data);
}

sl_kerr_t sl_partition_replica_append(sl_partition_replica_t *r, sl_replica_append_t *req,
                                      const uint8_t *batch, size_t len, int16_t acks,
                                      sl_replica_append_cb cb, void *data, int64_t *base_offset_out)
{
    if (r->group == NULL || r->mgr->closing_all)
        return SL_KERR_NOT_LEADER_OR_FOLLOWER;
    if (sl_raft_log_error(r->log) != 0)
        return SL_KERR_KAFKA_STORAGE_ERROR;
    if (!replica_leads(r))
        return SL_KERR_NOT_LEADER_OR_FOLLOWER;
    if (len < SL_RECORD_BATCH_HEADER_BYTES)
        return SL_KERR_CORRUPT_MESSAGE;
    int32_t isr[SL_RAFT_VOTERS_MAX]; /* as of now: the last report may predate a lag expiry */
    if (acks == -1 && isr_now(r, isr) < SL_MIN(r->min_insync_replicas, r->voter_count))
        return SL_KERR_NOT_ENOUGH_REPLICAS;
    sl_record_batch_t hdr;
    if (sl_record_batch_parse(batch, len, &hdr) != 0)
        return SL_KERR_CORRUPT_MESSAGE;
    int64_t base_offset = -1;
    int rc = sl_raft_group_propose(r->group, hdr.last_offset_delta + 1, batch, &base_offset);
    if (rc != 0)
        return SL_KERR_NOT_LEADER_OR_FOLLOWER;
    if (sl_raft_log_error(r->log) != 0)
        return SL_KERR_KAFKA_STORAGE_ERROR; /* the append failed: the group stops */
    *req = (sl_replica_append_t){.priv_replica = r,
                                 .priv_end_offset = base_offset + hdr.last_offset_delta + 1,
                                 .priv_epoch = sl_raft_epoch(replica_raft(r)),
                                 .priv_all = acks == -1,
                                 .priv_cb = cb,
                                 .priv_data = data};
    *base_offset_out = base_offset;
    if (req->priv_all) {
        if (r->waiting_tail != NULL)
            r->waiting_tail->priv_next = req;
        else
            r->waiting_head = req;
        r->waiting_tail = req;
        return SL_KERR_NONE; /* group_changed completes it */
    }
    rc = sl_log_flush(sl_raft_log_log(r->log), &req->priv_flush, append_flushed, req);
    if (rc != 0)
        return SL_KERR_KAFKA_STORAGE_ERROR;
    req->priv_flushing = true;
    r->flushes_pending++;
    return SL_KERR_NONE;
}

/* ---- changes ------------------------------------------------------------------------------- */

/* Recomputes the ISR (leader only; empty elsewhere); counts and returns whether it changed. */
static int32_t isr_now(const sl_partition_replica_t *r, int32_t *isr)
{
    if (!replica_leads(r))
        return 0;
    sl_raft_quorum_info_t info;
    sl_raft_describe_quorum(replica_raft(r), &info);
    return sl__replica_isr(&info, r->mgr->cfg->node_id, mgr_now(r->mgr),
                           r->mgr->cfg->replica_lag_time_max_ms, isr);
}

static bool isr_update(sl_partition_replica_t *r)
{
    int32_t isr[SL_RAFT_VOTERS_MAX];
    int32_t n = isr_now(r, isr);
    if (n == r->isr_count && memcmp(isr, r->isr, (size_t)n * sizeof(isr[0])) == 0)
        return false;
    if (n > 0 && r->isr_count > 0) { /* the same leadership: Kafka's IsrShrinks/IsrExpands */
        if (n < r->isr_count)
            r->mgr->isr_shrinks++;
        else
            r->mgr->isr_expands++;
    }
    memcpy(r->isr, isr, sizeof(isr));
    r->isr_count = n;
    return true;
}

static void group_changed(sl_raft_group_t *group, void *data)
{
    sl_partition_replica_t *r = data;
    (void)group;
    sl_raft_t *raft = replica_raft(r);
    sl_raft_role_t role = sl_raft_role(raft);
    int32_t leader = sl_raft_leader_id(raft), epoch = sl_raft_epoch(raft);
    bool offline = sl_raft_log_error(r->log) != 0;
    bool leadership = role != r->seen_role || leader != r->seen_leader || epoch != r->seen_epoch ||
                      offline != r->offline_seen;
    if (leadership) {
        SL_LOG(SL_LOG_INFO, "replication",
               "partition topic=%s partition=%d role=%s leader=%d epoch=%d high_watermark=%" PRId64
               "%s",
               r->topic, (int)r->partition, sl_raft_role_name(role), (int)leader, (int)epoch,
               sl_raft_high_watermark(raft), offline ? " offline" : "");
        r->seen_role = role;
        r->seen_leader = leader;
        r->seen_epoch = epoch;
        r->offline_seen = offline;
    }
    bool isr_changed = isr_update(r);
    complete_waiting(r);
    if ((leadership || isr_changed) && r->mgr->changed != NULL)
        r->mgr->changed(r, r->owner, r->mgr->changed_data);
}

static void isr_tick(uv_timer_t *timer)
{
    sl_replica_manager_t *mgr = timer->data;
    for (size_t i = 0; i < mgr->partition_count; i++) {
        sl_partition_replica_t *r = mgr->partitions[i];
        if (r->group == NULL)
            continue;
        bool changed = isr_update(r);
        complete_waiting(r);
        if (changed && mgr->changed != NULL)
            mgr->changed(r, r->owner, mgr->changed_data);
    }
}

/* ---- lifecycle of partitions ----------------------------------------------------------------- */

static void raft_config_for(const sl_replica_manager_t *mgr, const int32_t *replicas, int32_t count,
                            sl_raft_config_t *rc)
{
    const sl_config_t *cfg = mgr->cfg;
    sl_raft_config_default(rc, cfg->node_id);
    for (int32_t i = 0; i < count && i < SL_RAFT_VOTERS_MAX; i++)
        rc->voters[rc->voter_count++] = replicas[i];
    rc->election_timeout_ms = (uint32_t)cfg->controller_quorum_election_timeout_ms;
    rc->election_backoff_max_ms = (uint32_t)cfg->controller_quorum_election_backoff_max_ms;
    rc->fetch_timeout_ms = (uint32_t)cfg->controller_quorum_fetch_timeout_ms;
    rc->request_timeout_ms = (uint32_t)cfg->controller_quorum_request_timeout_ms;
    rc->retry_backoff_ms = (uint32_t)cfg->controller_quorum_retry_backoff_ms;
    rc->fetch_max_wait_ms = (uint32_t)SL_MAX(cfg->replica_fetch_wait_max_ms, 0);
}

static int group_start(sl_partition_replica_t *r)
{
    sl_raft_config_t rcfg;
    raft_config_for(r->mgr, r->voters, r->voter_count, &rcfg);
    sl_raft_log_set_voters(r->log, r->voters, r->voter_count);
    sl_raft_group_config_t gcfg = {.topic_name = r->topic,
                                   .topic_id = r->topic_id,
                                   .partition = r->partition,
                                   .raft = rcfg,
                                   .log = r->log,
                                   .changed = group_changed,
                                   .control_batch = NULL, /* raft_log builds LeaderChange */
                                   .data = r};
    int rc = sl_raft_host_add_group(r->mgr->host, &gcfg, &r->group);
    if (rc != 0)
        return rc;
    r->seen_role = sl_raft_role(replica_raft(r));
    r->seen_leader = sl_raft_leader_id(replica_raft(r));
    r->seen_epoch = sl_raft_epoch(replica_raft(r));
    (void)isr_update(r); /* the owner reads the state after start: no report for this one */
    return 0;
}

static void replica_free(sl_partition_replica_t *r)
{
    sl_free(r->topic);
    sl_free(r->state_path);
    sl_free(r);
}

static bool voters_valid(const sl_replica_manager_t *mgr, const int32_t *replicas, int32_t count)
{
    if (count < 1 || count > SL_RAFT_VOTERS_MAX)
        return false;
    bool self = false;
    for (int32_t i = 0; i < count; i++)
        self = self || replicas[i] == mgr->cfg->node_id;
    return self;
}

int sl_replica_manager_start_partition(sl_replica_manager_t *mgr,
                                       const sl_partition_replica_spec_t *spec,
                                       const int32_t *replicas, int32_t count,
                                       sl_partition_replica_t **out)
{
    if (mgr->closing_all)
        return SL_ECLOSED;
    if (!voters_valid(mgr, replicas, count))
        return -EINVAL;
    if (mgr->partition_count == mgr->partition_cap) {
        size_t cap = mgr->partition_cap ? mgr->partition_cap * 2 : 16;
        sl_partition_replica_t **grown = sl_realloc(mgr->partitions, cap * sizeof(*grown));
        if (grown == NULL)
            return -ENOMEM;
        mgr->partitions = grown;
        mgr->partition_cap = cap;
    }
    sl_partition_replica_t *r = sl_calloc(1, sizeof(*r));
    if (r == NULL)
        return -ENOMEM;
    r->mgr = mgr;
    r->topic = sl_strdup(spec->topic);
    r->topic_id = spec->topic_id;
    r->partition = spec->partition;
    r->dir = spec->dir;
    r->owner = spec->owner;
    r->min_insync_replicas = SL_MAX(spec->min_insync_replicas, 1);
    r->voter_count = count;
    memcpy(r->voters, replicas, (size_t)count * sizeof(replicas[0]));
    sl_buf_t path;
    sl_buf_init(&path, 8192);
    int rc = r->topic == NULL ? -ENOMEM
                              : sl_buf_appendf(&path, "%s/%s-%d/%s", spec->dir_path, spec->topic,
                                               (int)spec->partition, SL_RAFT_QUORUM_STATE_FILE);
    r->state_path = rc == 0 ? sl_strdup((const char *)path.ptr) : NULL;
    sl_buf_deinit(&path);
    if (r->state_path == NULL) {
        replica_free(r);
        return rc != 0 ? rc : -ENOMEM;
    }
    const sl_uuid_t *id = sl_uuid_is_zero(&spec->topic_id) ? NULL : &spec->topic_id;
    rc = sl_raft_log_open(spec->dir, spec->topic, spec->partition, id, r->state_path, &r->log);
    if (rc == 0) {
        rc = group_start(r);
        if (rc != 0)
            (void)sl_raft_log_close(r->log); /* nothing was appended: cannot be busy */
    }
    if (rc != 0) {
        SL_LOG(SL_LOG_ERROR, "replication",
               "cannot start partition topic=%s partition=%d error=\"%s\"", spec->topic,
               (int)spec->partition, sl_strerror(rc));
        replica_free(r);
        return rc;
    }
    mgr->partitions[mgr->partition_count++] = r;
    SL_LOG(SL_LOG_INFO, "replication",
           "partition started topic=%s partition=%d replicas=%d epoch=%d log_end_offset=%" PRId64,
           r->topic, (int)r->partition, (int)count, (int)sl_raft_epoch(replica_raft(r)),
           sl_raft_log_end_offset(replica_raft(r)));
    *out = r;
    return 0;
}

void sl_replica_manager_set_min_insync_replicas(sl_partition_replica_t *replica, int32_t count)
{
    replica->min_insync_replicas = SL_MAX(count, 1);
}

/* Takes the group out of the host (a leader resigns first, so the others elect at once). */
static void group_stop(sl_partition_replica_t *r)
{
    if (r->group == NULL)
        return;
    if (sl_raft_role(replica_raft(r)) == SL_RAFT_LEADER) {
        sl_raft_group_resign(r->group);
        sl_raft_host_flush_now(r->mgr->host);
    }
    fail_waiting(r, SL_KERR_NOT_LEADER_OR_FOLLOWER);
    sl_raft_host_remove_group(r->mgr->host, r->group);
    r->group = NULL;
    r->isr_count = 0;
}

int sl_replica_manager_update_replicas(sl_replica_manager_t *mgr, sl_partition_replica_t *r,
                                       const int32_t *replicas, int32_t count)
{
    if (!voters_valid(mgr, replicas, count))
        return -EINVAL;
    bool same = count == r->voter_count;
    for (int32_t i = 0; same && i < count; i++) {
        bool found = false;
        for (int32_t j = 0; j < r->voter_count && !found; j++)
            found = r->voters[j] == replicas[i];
        same = found;
    }
    if (same)
        return 0;
    group_stop(r);
    r->voter_count = count;
    memcpy(r->voters, replicas, (size_t)count * sizeof(replicas[0]));
    int rc = group_start(r);
    if (mgr->changed != NULL)
        mgr->changed(r, r->owner, mgr->changed_data);
    return rc;
}

static void close_retry(uv_timer_t *timer);

/* Closes the logs of stopped partitions whose I/O is done; retries the others shortly. */
static void closing_run(sl_replica_manager_t *mgr)
{
    sl_partition_replica_t **link = &mgr->closing;
    while (*link != NULL) {
        sl_partition_replica_t *r = *link;
        int rc = r->flushes_pending > 0 ? -EBUSY : sl_raft_log_close(r->log);
        if (rc == -EBUSY) {
            link = &r->next_closing;
            continue;
        }
        if (rc != 0)
            SL_LOG(SL_LOG_WARN, "replication",
                   "closing partition topic=%s partition=%d "
                   "error=\"%s\"",
                   r->topic, (int)r->partition, sl_strerror(rc));
        if (r->delete_log) {
            sl_log_config_t lcfg;
            sl_log_config_default(&lcfg);
            sl_log_t *log = NULL;
            const sl_uuid_t *id = sl_uuid_is_zero(&r->topic_id) ? NULL : &r->topic_id;
            rc = sl_log_open(r->dir, r->topic, r->partition, id, &lcfg, &log);
            if (rc == 0)
                rc = sl_log_delete(log);
            if (rc != 0)
                SL_LOG(SL_LOG_WARN, "replication",
                       "cannot delete partition topic=%s partition=%d error=\"%s\"", r->topic,
                       (int)r->partition, sl_strerror(rc));
        }
        *link = r->next_closing;
        replica_free(r);
    }
    if (mgr->closing != NULL)
        uv_timer_start(&mgr->close_timer, close_retry, CLOSE_RETRY_MS, 0);
}

static void close_retry(uv_timer_t *timer)
{
    closing_run(timer->data);
}

void sl_replica_manager_stop_partition(sl_replica_manager_t *mgr, sl_partition_replica_t *r,
                                       bool delete_log)
{
    for (size_t i = 0; i < mgr->partition_count; i++) {
        if (mgr->partitions[i] != r)
            continue;
        mgr->partitions[i] = mgr->partitions[--mgr->partition_count];
        break;
    }
    group_stop(r);
    r->delete_log = delete_log;
    r->next_closing = mgr->closing;
    mgr->closing = r;
    closing_run(mgr);
}

/* ---- serving, shutdown, observability ----------------------------------------------------- */

int sl_replica_manager_serve(sl_replica_manager_t *mgr, int16_t api_key, int16_t api_version,
                             int32_t correlation_id, const void *request, void *response,
                             sl_arena_t *arena, sl_quorum_answer_cb answer, void *data)
{
    if (mgr->host == NULL || mgr->closing_all)
        return SL_ECLOSED;
    return sl_raft_host_serve(mgr->host, api_key, api_version, correlation_id, request, response,
                              arena, answer, data);
}

static bool resign_settled(const sl_replica_manager_t *mgr)
{
    for (size_t i = 0; i < mgr->partition_count; i++) {
        const sl_partition_replica_t *r = mgr->partitions[i];
        if (r->group == NULL || r->voter_count < 2)
            continue;
        int32_t leader = sl_raft_leader_id(replica_raft(r));
        if (sl_raft_role(replica_raft(r)) == SL_RAFT_RESIGNED || leader == mgr->cfg->node_id)
            return false; /* nobody else leads yet */
    }
    return true;
}

static void resign_poll(uv_timer_t *timer)
{
    sl_replica_manager_t *mgr = timer->data;
    if (!resign_settled(mgr) && mgr_now(mgr) < mgr->resign_deadline_ms) {
        uv_timer_start(&mgr->resign_timer, resign_poll, RESIGN_POLL_MS, 0);
        return;
    }
    void (*done)(void *) = mgr->resigned;
    mgr->resigned = NULL;
    if (done != NULL)
        done(mgr->resigned_data);
}

void sl_replica_manager_resign_all(sl_replica_manager_t *mgr, void (*done)(void *data), void *data)
{
    size_t resigned = 0;
    for (size_t i = 0; i < mgr->partition_count; i++) {
        sl_partition_replica_t *r = mgr->partitions[i];
        if (r->group == NULL || sl_raft_role(replica_raft(r)) != SL_RAFT_LEADER)
            continue;
        sl_raft_group_resign(r->group);
        fail_waiting(r, SL_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
        resigned++;
    }
    if (mgr->host != NULL)
        sl_raft_host_flush_now(mgr->host);
    SL_LOG(SL_LOG_INFO, "replication", "resigned partition leaderships count=%zu", resigned);
    mgr->resigned = done;
    mgr->resigned_data = data;
    mgr->resign_deadline_ms = mgr_now(mgr) + RESIGN_WAIT_MS;
    uv_timer_start(&mgr->resign_timer, resign_poll, resigned > 0 ? RESIGN_POLL_MS : 0, 0);
}

bool sl_replica_manager_caught_up(const sl_replica_manager_t *mgr)
{
    for (size_t i = 0; i < mgr->partition_count; i++) {
        const sl_partition_replica_t *r = mgr->partitions[i];
        if (r->group == NULL)
            return false;
        const sl_raft_t *raft = replica_raft(r);
        if (!sl_raft_caught_up(raft)) /* a follower's own high watermark never passes its end */
            return false;
    }
    return true;
}

void sl_replica_manager_stats(const sl_replica_manager_t *mgr, int64_t *under_replicated,
                              int64_t *offline, uint64_t *isr_shrinks, uint64_t *isr_expands)
{
    *under_replicated = *offline = 0;
    for (size_t i = 0; i < mgr->partition_count; i++) {
        const sl_partition_replica_t *r = mgr->partitions[i];
        sl_partition_replica_state_t st;
        sl_partition_replica_state(r, &st);
        *offline += st.offline || st.leader_id == SL_RAFT_NODE_NONE;
        *under_replicated += st.leader && st.isr_count < st.replica_count;
    }
    *isr_shrinks = mgr->isr_shrinks;
    *isr_expands = mgr->isr_expands;
}

/* ---- lifecycle of the manager ---------------------------------------------------------------- */

static void create_failed(void *data)
{
    sl_free(data); /* the peers closed: nothing else was opened */
}

int sl_replica_manager_create(uv_loop_t *loop, const sl_config_t *cfg,
                              sl_partition_replica_changed_cb changed, void *data,
                              sl_replica_manager_t **out)
{
    sl_replica_manager_t *mgr = sl_calloc(1, sizeof(*mgr));
    if (mgr == NULL)
        return -ENOMEM;
    mgr->loop = loop;
    mgr->cfg = cfg;
    mgr->changed = changed;
    mgr->changed_data = data;
    sl_peers_config_t pcfg = {.node_id = cfg->node_id,
                              .reconnect_backoff_ms =
                                  (uint32_t)SL_MAX(cfg->controller_quorum_retry_backoff_ms, 1),
                              .reconnect_backoff_max_ms = RECONNECT_BACKOFF_MAX_MS};
    int rc = sl_peers_create(loop, &pcfg, &mgr->peers);
    if (rc != 0) {
        sl_free(mgr);
        return rc;
    }
    sl_raft_host_config_t hcfg = {
        .node_id = cfg->node_id,
        .cluster_id = NULL, /* as the metadata quorum: per-node cluster ids until one is shared */
        .request_timeout_ms = (uint32_t)cfg->controller_quorum_request_timeout_ms,
        .fetch_max_bytes = cfg->replica_fetch_max_bytes,
        .one_fetch_per_peer = true,
    };
    rc = sl_raft_host_create(loop, mgr->peers, &hcfg, &mgr->host);
    if (rc != 0) {
        sl_peers_close(mgr->peers, create_failed, mgr);
        return rc;
    }
    uv_timer_init(loop, &mgr->isr_timer);
    uv_timer_init(loop, &mgr->close_timer);
    uv_timer_init(loop, &mgr->resign_timer);
    mgr->isr_timer.data = mgr->close_timer.data = mgr->resign_timer.data = mgr;
    /* the ISR can only change at the lag's granularity: look a few times per lag */
    uint64_t every = (uint64_t)SL_MAX(SL_MIN(cfg->replica_lag_time_max_ms / 4, 1000), 10);
    uv_timer_start(&mgr->isr_timer, isr_tick, every, every);
    *out = mgr;
    return 0;
}

int sl_replica_manager_set_broker_address(sl_replica_manager_t *mgr, int32_t node_id,
                                          const char *host, uint16_t port)
{
    if (node_id == mgr->cfg->node_id)
        return 0; /* never a peer of itself */
    return mgr->peers == NULL ? SL_ECLOSED : sl_peers_set_address(mgr->peers, node_id, host, port);
}

static void handle_closed(uv_handle_t *handle)
{
    sl_replica_manager_t *mgr = handle->data;
    if (--mgr->handles_open > 0)
        return;
    void (*done)(void *) = mgr->closed;
    void *data = mgr->closed_data;
    sl_free(mgr->partitions);
    sl_free(mgr);
    if (done != NULL)
        done(data);
}

static void final_close_poll(uv_timer_t *timer);

/* The logs close once their I/O is done; then the timers, then the manager. */
static void final_close_poll(uv_timer_t *timer)
{
    sl_replica_manager_t *mgr = timer->data;
    closing_run(mgr);
    if (mgr->closing != NULL) {
        uv_timer_start(&mgr->close_timer, final_close_poll, CLOSE_RETRY_MS, 0);
        return;
    }
    mgr->handles_open = 3;
    uv_close((uv_handle_t *)&mgr->isr_timer, handle_closed);
    uv_close((uv_handle_t *)&mgr->close_timer, handle_closed);
    uv_close((uv_handle_t *)&mgr->resign_timer, handle_closed);
}

static void peers_closed(void *data)
{
    sl_replica_manager_t *mgr = data;
    mgr->peers = NULL;
    uv_timer_stop(&mgr->close_timer);
    final_close_poll(&mgr->close_timer);
}

static void host_closed(void *data)
{
    sl_replica_manager_t *mgr = data;
    mgr->host = NULL;
    sl_peers_close(mgr->peers, peers_closed, mgr); /* nothing sends any more */
}

void sl_replica_manager_close(sl_replica_manager_t *mgr, void (*done)(void *data), void *data)
{
    SL_ASSERT(!mgr->closing_all);
    mgr->closed = done;
    mgr->closed_data = data;
    while (mgr->partition_count > 0)
        sl_replica_manager_stop_partition(mgr, mgr->partitions[0], false);
    mgr->closing_all = true;
    uv_timer_stop(&mgr->isr_timer);
    uv_timer_stop(&mgr->resign_timer);
    if (mgr->resigned != NULL) { /* a shutdown waiting for handovers goes on */
        void (*resigned)(void *) = mgr->resigned;
        mgr->resigned = NULL;
        resigned(mgr->resigned_data);
    }
    sl_raft_host_close(mgr->host, host_closed, mgr);
}
