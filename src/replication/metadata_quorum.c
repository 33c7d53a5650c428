/* metadata_quorum: KRaft's __cluster_metadata-0 as one Raft group in the broker. Started when
 * controller.quorum.voters is set: the log in metadata.log.dir (the first log dir by default)
 * with Kafka's quorum-state file beside its segments, peer connections to the other voters'
 * controller listeners, the group in a Raft host. A new leader's first batch is Kafka's
 * LeaderChangeMessage control record (built here: the core hands over no bytes for it). On stop a
 * leader resigns and the EndQuorumEpoch requests get a short, bounded time to leave.
 * Until metadata records exist the leader proposes nothing else. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "raft_host.h"
#include "sluice/record_batch.h"
#include "sluice/replication.h"

/* How long a resigning leader waits for its EndQuorumEpoch to go out before closing. */
#define QUORUM_RESIGN_WAIT_MS 300
/* Kafka's client reconnect.backoff.max.ms: the cap of a peer connection's retry backoff. */
#define QUORUM_RECONNECT_BACKOFF_MAX_MS 1000

struct sl_metadata_quorum {
    uv_loop_t *loop;
    const sl_config_t *cfg;
    sl_log_dir_t *dir;
    sl_peers_t *peers;
    sl_raft_host_t *host;
    sl_raft_log_t *log;
    sl_raft_group_t *group;
    int32_t voters[SL_RAFT_VOTERS_MAX];
    int32_t voter_count;
    bool voter;
    bool offline;
    /* DescribeQuorum v2's Nodes: each voter's controller endpoint */
    sl_describe_quorum_response_node_t nodes[SL_RAFT_VOTERS_MAX];
    sl_describe_quorum_response_listener_t listeners[SL_RAFT_VOTERS_MAX];
    char listener_name[64];
    uv_timer_t stop_timer; /* the resignation's wait, then retries of the log's close */
    size_t closing;        /* host, peers, timer */
    void (*stopped)(void *data);
    void *stopped_data;
    void (*listener)(void *data); /* sl_metadata_quorum_set_listener */
    void *listener_data;
};

/* ---- the LeaderChange control batch ------------------------------------------------------------
 */

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* Kafka's control batch: attributes CONTROL, no producer, one record whose key is the
 * ControlRecordType (version 0, type 2 = LEADER_CHANGE) and whose value is LeaderChangeMessage
 * v0 (leader, voters, the voters that granted: the core does not say which, so all voters are
 * listed as Kafka lists them when it cannot tell). Offsets and epoch are stamped by the log. */
static int leader_change_batch(sl_raft_group_t *group, const sl_raft_batch_t *batch, sl_buf_t *out,
                               void *data)
{
    (void)group;
    sl_metadata_quorum_t *q = data;
    sl_leader_change_message_voter_t voters[SL_RAFT_VOTERS_MAX];
    for (int32_t i = 0; i < q->voter_count; i++) {
        sl_leader_change_message_voter_init(&voters[i]);
        voters[i].voter_id = q->voters[i];
    }
    sl_leader_change_message_t msg;
    sl_leader_change_message_init(&msg);
    msg.version = 0;
    msg.leader_id = q->cfg->node_id;
    msg.voters = voters;
    msg.voters_count = q->voter_count;
    msg.granting_voters = voters;
    msg.granting_voters_count = q->voter_count;
    size_t value_len = sl_message_size(&sl_leader_change_message_desc, 0, &msg);
    const size_t key_len = 4;
    /* record body: attributes, timestampDelta, offsetDelta, key, value, headers */
    size_t body = 1 + 1 + 1 + sl_varint_size((int32_t)key_len) + key_len +
                  sl_varint_size((int32_t)value_len) + value_len + 1;
    size_t record = sl_varint_size((int32_t)body) + body;
    size_t total = 61 + record;
    int rc = sl_buf_reserve(out, total);
    if (rc != 0)
        return rc;
    uint8_t *b = out->ptr;
    memset(b, 0, 61);
    int64_t now = sl_clock_realtime_ms();
    put_u64(b + 0, (uint64_t)batch->base_offset);
    put_u32(b + 8, (uint32_t)(total - SL_RECORD_BATCH_LOG_OVERHEAD));
    put_u32(b + 12, (uint32_t)batch->leader_epoch);
    b[16] = 2; /* magic */
    put_u16(b + 21, SL_RECORD_BATCH_CONTROL);
    put_u32(b + 23, 0); /* lastOffsetDelta */
    put_u64(b + 27, (uint64_t)now);
    put_u64(b + 35, (uint64_t)now);
    put_u64(b + 43, UINT64_MAX); /* producerId -1 */
    put_u16(b + 51, UINT16_MAX); /* producerEpoch -1 */
    put_u32(b + 53, UINT32_MAX); /* baseSequence -1 */
    put_u32(b + 57, 1);          /* records */
    sl_writer_t w;
    sl_writer_init(&w, b + 61, record);
    rc = sl_write_varint(&w, (int32_t)body);
    rc = rc ? rc : sl_write_i8(&w, 0);      /* attributes */
    rc = rc ? rc : sl_write_varlong(&w, 0); /* timestampDelta */
    rc = rc ? rc : sl_write_varint(&w, 0);  /* offsetDelta */
    rc = rc ? rc : sl_write_varint(&w, (int32_t)key_len);
    rc = rc ? rc : sl_write_i16(&w, 0); /* ControlRecordType version */
    rc = rc ? rc : sl_write_i16(&w, 2); /* LEADER_CHANGE */
    rc = rc ? rc : sl_write_varint(&w, (int32_t)value_len);
    rc = rc ? rc : sl_message_encode(&sl_leader_change_message_desc, &w, 0, &msg);
    rc = rc ? rc : sl_write_varint(&w, 0); /* headers */
    if (rc != 0)
        return rc;
    SL_ASSERT(sl_writer_left(&w) == 0);
    put_u32(b + SL_RECORD_BATCH_CRC_OFFSET, sl_record_batch_crc(b, total));
    out->len = total;
    return 0;
}

/* ---- state
 * ---------------------------------------------------------------------------------------- */

static void quorum_changed(sl_raft_group_t *group, void *data)
{
    sl_metadata_quorum_t *q = data;
    sl_raft_t *raft = sl_raft_group_raft(group);
    int err = sl_raft_log_error(sl_raft_group_log(group));
    if (!q->offline && err != 0) {
        q->offline = true;
        SL_LOG(SL_LOG_ERROR, "replication",
               "metadata log offline: a write or flush of %s-%d failed error=\"%s\"; this node no "
               "longer takes part in the metadata quorum (Kafka takes the log dir offline)",
               SL_METADATA_TOPIC, SL_METADATA_PARTITION, sl_strerror(err));
    }
    SL_LOG(SL_LOG_DEBUG, "replication",
           "metadata quorum node=%d role=%s epoch=%d leader=%d high_watermark=%" PRId64,
           (int)q->cfg->node_id, sl_raft_role_name(sl_raft_role(raft)), (int)sl_raft_epoch(raft),
           (int)sl_raft_leader_id(raft), sl_raft_high_watermark(raft));
    if (q->listener != NULL)
        q->listener(q->listener_data);
}

void sl_metadata_quorum_set_listener(sl_metadata_quorum_t *q, void (*changed)(void *data),
                                     void *data)
{
    q->listener = changed;
    q->listener_data = data;
}

int sl_metadata_quorum_read(sl_metadata_quorum_t *q, sl_log_read_t *req, int64_t offset,
                            size_t max_bytes, sl_log_read_cb cb, void *data)
{
    if (q->log == NULL || q->group == NULL)
        return SL_ECLOSED;
    return sl_log_read(sl_raft_log_log(q->log), req, offset, max_bytes, true, cb, data);
}

int sl_metadata_quorum_propose(sl_metadata_quorum_t *q, int32_t record_count, const void *batch,
                               int64_t *base_offset)
{
    if (q->group == NULL || q->offline)
        return SL_ECLOSED;
    return sl_raft_group_propose(q->group, record_count, batch, base_offset);
}

void sl_metadata_quorum_status(const sl_metadata_quorum_t *q, sl_quorum_status_t *out)
{
    memset(out, 0, sizeof(*out));
    out->leader_id = SL_RAFT_NODE_NONE;
    out->voted_id = SL_RAFT_NODE_NONE;
    out->high_watermark = -1;
    if (q == NULL || q->group == NULL)
        return;
    const sl_raft_t *raft = sl_raft_group_raft(q->group);
    out->voter = q->voter;
    out->role = sl_raft_role(raft);
    out->leader_id = sl_raft_leader_id(raft);
    out->epoch = sl_raft_epoch(raft);
    out->high_watermark = sl_raft_high_watermark(raft);
    out->log_end_offset = sl_raft_log_end_offset(raft);
    out->offline = q->offline || sl_raft_log_error(q->log) != 0;
    out->caught_up = sl_raft_caught_up(raft);
}

int sl_metadata_quorum_serve(sl_metadata_quorum_t *q, int16_t api_key, int16_t api_version,
                             int32_t correlation_id, const void *request, void *response,
                             sl_arena_t *arena, sl_quorum_answer_cb answer, void *data)
{
    if (q->host == NULL)
        return SL_ECLOSED;
    return sl_raft_host_serve(q->host, api_key, api_version, correlation_id, request, response,
                              arena, answer, data);
}

/* ---- start and stop
 * ------------------------------------------------------------------------------- */

static void raft_config_from(const sl_config_t *cfg, sl_raft_config_t *rc)
{
    sl_raft_config_default(rc, cfg->node_id);
    for (size_t i = 0; i < cfg->quorum_voter_count && i < SL_RAFT_VOTERS_MAX; i++)
        rc->voters[rc->voter_count++] = cfg->quorum_voters[i].node_id;
    rc->election_timeout_ms = (uint32_t)cfg->controller_quorum_election_timeout_ms;
    rc->election_backoff_max_ms = (uint32_t)cfg->controller_quorum_election_backoff_max_ms;
    rc->fetch_timeout_ms = (uint32_t)cfg->controller_quorum_fetch_timeout_ms;
    rc->request_timeout_ms = (uint32_t)cfg->controller_quorum_request_timeout_ms;
    rc->retry_backoff_ms = (uint32_t)cfg->controller_quorum_retry_backoff_ms;
}

static void log_close_retry(uv_timer_t *timer);

static void log_timer_closed(uv_handle_t *handle)
{
    sl_metadata_quorum_t *q = handle->data;
    void (*stopped)(void *) = q->stopped;
    void *stopped_data = q->stopped_data;
    SL_LOG(SL_LOG_INFO, "replication", "metadata quorum stopped node=%d", (int)q->cfg->node_id);
    sl_free(q);
    if (stopped != NULL)
        stopped(stopped_data);
}

/* The log closes once its last append or flush has completed (-EBUSY until then). */
static void log_close_retry(uv_timer_t *timer)
{
    sl_metadata_quorum_t *q = timer->data;
    if (q->log != NULL) {
        int rc = sl_raft_log_close(q->log);
        if (rc == -EBUSY) {
            uv_timer_start(&q->stop_timer, log_close_retry, 10, 0);
            return;
        }
        if (rc != 0)
            SL_LOG(SL_LOG_WARN, "replication", "closing the metadata log error=\"%s\"",
                   sl_strerror(rc));
        q->log = NULL;
    }
    uv_close((uv_handle_t *)&q->stop_timer, log_timer_closed);
}

static void part_closed(void *data)
{
    sl_metadata_quorum_t *q = data;
    if (--q->closing > 0)
        return;
    log_close_retry(&q->stop_timer);
}

static void host_closed(void *data)
{
    sl_metadata_quorum_t *q = data;
    q->host = NULL;
    q->group = NULL;
    /* the host is gone: nothing sends any more, so the connections can go */
    sl_peers_close(q->peers, part_closed, q);
    q->peers = NULL;
}

static void stop_now(uv_timer_t *timer)
{
    sl_metadata_quorum_t *q = timer->data;
    sl_raft_host_close(q->host, host_closed, q);
}

int sl_metadata_quorum_start(uv_loop_t *loop, const sl_config_t *cfg, sl_log_dir_t *dir,
                             const char *dir_path, const char *cluster_id,
                             sl_metadata_quorum_t **out)
{
    *out = NULL;
    if (cfg->quorum_voter_count == 0)
        return 0; /* a single node as always: no quorum */
    sl_metadata_quorum_t *q = sl_calloc(1, sizeof(*q));
    if (q == NULL)
        return -ENOMEM;
    q->loop = loop;
    q->cfg = cfg;
    q->dir = dir;
    sl_raft_config_t rcfg;
    raft_config_from(cfg, &rcfg);
    q->voter_count = rcfg.voter_count;
    memcpy(q->voters, rcfg.voters, sizeof(q->voters));
    q->voter = sl_config_quorum_voter(cfg, cfg->node_id) != NULL;
    snprintf(q->listener_name, sizeof(q->listener_name), "%s",
             cfg->controller_listener_names_count > 0 ? cfg->controller_listener_names[0]
                                                      : "CONTROLLER");

    sl_peers_config_t pcfg = {.node_id = cfg->node_id,
                              .reconnect_backoff_ms =
                                  (uint32_t)SL_MAX(cfg->controller_quorum_retry_backoff_ms, 1),
                              .reconnect_backoff_max_ms = QUORUM_RECONNECT_BACKOFF_MAX_MS};
    int rc = sl_peers_create(loop, &pcfg, &q->peers);
    if (rc != 0) {
        sl_free(q);
        return rc;
    }
    uv_timer_init(loop, &q->stop_timer); /* open until the quorum is freed */
    q->stop_timer.data = q;
    for (size_t i = 0; i < cfg->quorum_voter_count && i < SL_RAFT_VOTERS_MAX; i++) {
        const sl_quorum_voter_config_t *v = &cfg->quorum_voters[i];
        q->listeners[i] =
            (sl_describe_quorum_response_listener_t){.name = sl_slice_from_str(q->listener_name),
                                                     .host = sl_slice_from_str(v->host),
                                                     .port = v->port};
        q->nodes[i] = (sl_describe_quorum_response_node_t){
            .node_id = v->node_id, .listeners = &q->listeners[i], .listeners_count = 1};
        if (v->node_id != cfg->node_id && rc == 0)
            rc = sl_peers_set_address(q->peers, v->node_id, v->host, v->port);
    }
    /* Every node of the quorum formats its log dirs with the same cluster id (cluster.id, or
     * derived from the voters), so ClusterId is sent and checked as KRaft does: a node of another
     * cluster gets INCONSISTENT_CLUSTER_ID. */
    sl_raft_host_config_t hcfg = {
        .node_id = cfg->node_id,
        .cluster_id = cluster_id,
        .request_timeout_ms = (uint32_t)cfg->controller_quorum_request_timeout_ms,
    };
    if (rc == 0)
        rc = sl_raft_host_create(loop, q->peers, &hcfg, &q->host);
    if (rc != 0) { /* the peers and the timer are open: closed on the loop, then freed */
        q->closing = 1;
        sl_peers_close(q->peers, part_closed, q);
        return rc;
    }
    sl_raft_host_set_nodes(q->host, q->nodes,
                           (int32_t)SL_MIN(cfg->quorum_voter_count, (size_t)SL_RAFT_VOTERS_MAX));
    char state_path[4096];
    snprintf(state_path, sizeof(state_path), "%s/%s-%d/quorum-state", dir_path, SL_METADATA_TOPIC,
             SL_METADATA_PARTITION);
    rc = sl_raft_log_open(dir, SL_METADATA_TOPIC, SL_METADATA_PARTITION,
                          &sl_raft_wire_metadata_topic_id, state_path, &q->log);
    if (rc == 0) {
        sl_raft_log_set_voters(q->log, q->voters, q->voter_count);
        sl_raft_group_config_t gcfg = {.topic_name = SL_METADATA_TOPIC,
                                       .topic_id = sl_raft_wire_metadata_topic_id,
                                       .partition = SL_METADATA_PARTITION,
                                       .raft = rcfg,
                                       .log = q->log,
                                       .changed = quorum_changed,
                                       .control_batch = leader_change_batch,
                                       .data = q};
        rc = sl_raft_host_add_group(q->host, &gcfg, &q->group);
    }
    if (rc != 0) {
        SL_LOG(SL_LOG_ERROR, "replication", "cannot start the metadata quorum error=\"%s\"",
               sl_strerror(rc));
        /* handles are open: close them on the loop, then free */
        q->closing = 1;
        q->stopped = NULL;
        sl_raft_host_close(q->host, host_closed, q);
        return rc;
    }
    sl_quorum_status_t st;
    sl_metadata_quorum_status(q, &st);
    SL_LOG(
        SL_LOG_INFO, "replication",
        "metadata quorum started node=%d %s voters=%d epoch=%d leader=%d log_end_offset=%" PRId64,
        (int)cfg->node_id, q->voter ? "voter" : "observer", (int)q->voter_count, (int)st.epoch,
        (int)st.leader_id, st.log_end_offset);
    *out = q;
    return 0;
}

void sl_metadata_quorum_stop(sl_metadata_quorum_t *q, void (*done)(void *data), void *data)
{
    q->listener = NULL;
    q->stopped = done;
    q->stopped_data = data;
    q->closing = 1; /* the host, then the peers: then the log, then the timer */
    uint64_t wait_ms = 0;
    if (sl_raft_role(sl_raft_group_raft(q->group)) == SL_RAFT_LEADER) {
        SL_LOG(SL_LOG_INFO, "replication", "resigning metadata quorum leadership node=%d epoch=%d",
               (int)q->cfg->node_id, (int)sl_raft_epoch(sl_raft_group_raft(q->group)));
        sl_raft_group_resign(q->group);
        sl_raft_host_flush_now(q->host);
        wait_ms = QUORUM_RESIGN_WAIT_MS; /* the EndQuorumEpoch requests leave meanwhile */
    }
    uv_timer_start(&q->stop_timer, stop_now, wait_ms, 0);
}
