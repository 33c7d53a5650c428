/* groups: runs the group coordinator inside the broker. Time is the loop's (uv_now), so the
 * coordinator's deadlines and the delayed queue agree; after every call into the coordinator the
 * one delayed entry is re-armed for its next deadline. At shutdown the delayed queue expires the
 * entry, and every waiting JoinGroup and SyncGroup is answered with NOT_COORDINATOR (clients look
 * the coordinator up again). */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "broker_int.h"
#include "replica_manager.h"
#include "sluice/record_batch.h"
#include "sluice/records.h"

static sl_topic_t *offsets_topic_open(sl_broker_t *broker);

static void groups_tick(sl_delayed_t *op);
static void offsets_loads_cancel(sl_groups_t *groups);

static uint64_t loop_now(void *data)
{
    return uv_now(data);
}

static int64_t wall_now(void *data)
{
    (void)data; /* the system clock */
    return sl_clock_realtime_ms();
}

static void rearm(sl_broker_t *broker, uint64_t next)
{
    sl_groups_t *groups = broker->groups;
    if (groups->tick.queued && groups->tick_deadline_ms == next)
        return;
    sl__delayed_remove(&broker->delayed, &groups->tick);
    uint64_t now = uv_now(broker->loop);
    groups->tick_deadline_ms = next;
    sl__delayed_add(&broker->delayed, &groups->tick, next > now ? next - now : 0, groups_tick);
}

/* The only place deadlines are handled: from the timer, never inside a handler (a tick may answer
 * waiting requests through their callbacks). */
static void groups_tick(sl_delayed_t *op)
{
    sl_groups_t *groups = SL_CONTAINER_OF(op, sl_groups_t, tick);
    if (groups->broker->stopping) {
        sl_group_coordinator_abort(groups->coord, SL_KERR_NOT_COORDINATOR);
        return;
    }
    rearm(groups->broker, sl_group_coordinator_tick(groups->coord));
}

void sl__groups_arm(sl_broker_t *broker)
{
    if (broker->groups == NULL || broker->stopping)
        return;
    rearm(broker, sl_group_coordinator_next_deadline(broker->groups->coord));
}

void sl__groups_destroy(sl_broker_t *broker)
{
    if (broker->groups == NULL)
        return;
    sl_group_coordinator_destroy(broker->groups->coord);
    offsets_loads_cancel(broker->groups);
    sl_free(broker->groups->owned);
    sl_free(broker->groups);
    broker->groups = NULL;
}

bool sl__groups_available(sl_broker_t *broker)
{
    return broker->groups != NULL && offsets_topic_open(broker) != NULL;
}

sl_slice_t sl__groups_client_host(sl_request_t *req)
{
    const char *peer = req->frame->conn != NULL ? sl_conn_peer(req->frame->conn) : "";
    const char *colon = strrchr(peer, ':');
    size_t n = colon != NULL ? (size_t)(colon - peer) : strlen(peer);
    if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') { /* [::1]:port */
        peer++;
        n -= 2;
    }
    char *out = sl_arena_alloc(&req->arena, n + 2);
    if (out == NULL)
        return sl_slice_from_str("");
    out[0] = '/';
    memcpy(out + 1, peer, n);
    return (sl_slice_t){(const uint8_t *)out, n + 1};
}

/* ---- __consumer_offsets records (Kafka's key and value schemas, hand-encoded) ---- */

static void put16(sl_buf_t *b, int16_t v)
{
    uint8_t x[2] = {(uint8_t)((uint16_t)v >> 8), (uint8_t)v};
    sl_buf_append(b, x, 2);
}

static void put32(sl_buf_t *b, int32_t v)
{
    uint32_t u = (uint32_t)v;
    uint8_t x[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    sl_buf_append(b, x, 4);
}

static void put64(sl_buf_t *b, int64_t v)
{
    put32(b, (int32_t)((uint64_t)v >> 32));
    put32(b, (int32_t)(uint32_t)v);
}

static void put_str(sl_buf_t *b, sl_slice_t s)
{
    if (s.ptr == NULL) {
        put16(b, -1);
        return;
    }
    put16(b, (int16_t)SL_MIN(s.len, 32767));
    sl_buf_append(b, s.ptr, SL_MIN(s.len, 32767));
}

static void put_varlong(sl_buf_t *b, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    uint8_t x[10];
    size_t n = 0;
    while (z >= 0x80) {
        x[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    x[n++] = (uint8_t)z;
    sl_buf_append(b, x, n);
}

/* OffsetCommitKey v1: group, topic, partition. */
static void offset_key(sl_buf_t *b, sl_slice_t group, sl_slice_t topic, int32_t partition)
{
    put16(b, 1);
    put_str(b, group);
    put_str(b, topic);
    put32(b, partition);
}

/* OffsetCommitValue v3: offset, leaderEpoch, metadata, commitTimestamp. */
static void offset_value(sl_buf_t *b, const sl_group_offset_t *o)
{
    put16(b, 3);
    put64(b, o->offset);
    put32(b, o->leader_epoch);
    put_str(b, o->metadata);
    put64(b, o->commit_timestamp_ms);
}

/* GroupMetadataKey v2: group. */
static void group_key(sl_buf_t *b, sl_slice_t group)
{
    put16(b, 2);
    put_str(b, group);
}

static void put_bytes(sl_buf_t *b, sl_slice_t s)
{
    put32(b, (int32_t)s.len);
    sl_buf_append(b, s.ptr, s.len);
}

/* GroupMetadataValue v3: the generation, protocol, leader and (when Stable) every member with its
 * subscription and assignment, so a restart keeps a stable group stable. */
static void group_value(sl_buf_t *b, const sl_group_view_t *g, int64_t now_ms)
{
    bool stable = g->state == SL_GROUP_STABLE;
    put16(b, 3);
    put_str(b, g->protocol_type);
    put32(b, g->generation);
    put_str(b, stable && g->protocol_name.len > 0 ? g->protocol_name : SL_SLICE_NULL);
    put_str(b, stable && g->leader.len > 0 ? g->leader : SL_SLICE_NULL);
    put64(b, now_ms);
    put32(b, stable ? (int32_t)g->members_count : 0);
    for (size_t i = 0; stable && i < g->members_count; i++) {
        const sl_group_member_view_t *m = &g->members[i];
        put_str(b, m->member_id);
        put_str(b, m->instance_id);
        put_str(b, m->client_id);
        put_str(b, m->client_host);
        put32(b, m->rebalance_timeout_ms);
        put32(b, m->session_timeout_ms);
        put_bytes(b, m->metadata);
        put_bytes(b, m->assignment);
    }
}

/* Records being gathered into one batch: each record encoded as it is added. */
typedef struct record_list {
    sl_buf_t recs;
    int32_t count;
    bool failed; /* out of memory on the way */
} record_list_t;

static void record_add(record_list_t *rl, const sl_buf_t *key, const sl_buf_t *value)
{
    sl_buf_t r;
    sl_buf_init(&r, 0);
    uint8_t zero = 0;
    int rc = sl_buf_append(&r, &zero, 1); /* attributes */
    put_varlong(&r, 0);                   /* timestamp delta */
    put_varlong(&r, rl->count);           /* offset delta */
    put_varlong(&r, (int64_t)key->len);
    sl_buf_append(&r, key->ptr, key->len);
    put_varlong(&r, value != NULL ? (int64_t)value->len : -1);
    if (value != NULL)
        sl_buf_append(&r, value->ptr, value->len);
    put_varlong(&r, 0); /* no headers */
    size_t before = rl->recs.len;
    put_varlong(&rl->recs, (int64_t)r.len);
    if (rc != 0 || r.ptr == NULL || sl_buf_append(&rl->recs, r.ptr, r.len) != 0 ||
        rl->recs.len == before)
        rl->failed = true;
    sl_buf_deinit(&r);
    rl->count++;
}

/* An uncompressed v2 batch of rl's records (base offset 0, patched by the log). sl_malloc'd. */
static uint8_t *batch_build(const record_list_t *rl, int64_t now_ms, size_t *len_out)
{
    if (rl->failed || rl->count == 0)
        return NULL;
    sl_buf_t out;
    sl_buf_init(&out, 0);
    put64(&out, 0);                            /* base offset */
    put32(&out, (int32_t)(49 + rl->recs.len)); /* batch length */
    put32(&out, 0);                            /* partition leader epoch */
    uint8_t magic = 2;
    sl_buf_append(&out, &magic, 1);
    put32(&out, 0); /* crc, below */
    put16(&out, 0); /* attributes */
    put32(&out, rl->count - 1);
    put64(&out, now_ms);
    put64(&out, now_ms);
    put64(&out, -1); /* producer id */
    put16(&out, -1);
    put32(&out, -1);
    put32(&out, rl->count);
    sl_buf_append(&out, rl->recs.ptr, rl->recs.len);
    if (out.ptr == NULL || out.len != 61 + rl->recs.len) {
        sl_buf_deinit(&out);
        return NULL;
    }
    uint32_t crc = sl_crc32c(0, out.ptr + 21, out.len - 21);
    out.ptr[17] = (uint8_t)(crc >> 24);
    out.ptr[18] = (uint8_t)(crc >> 16);
    out.ptr[19] = (uint8_t)(crc >> 8);
    out.ptr[20] = (uint8_t)crc;
    *len_out = out.len;
    return out.ptr; /* the buffer's memory, now the caller's */
}

/* ---- writes ---- */

static sl_partition_t *offsets_partition(sl_broker_t *broker, sl_slice_t group_id)
{
    sl_topic_t *topic = broker->groups != NULL ? offsets_topic_open(broker) : NULL;
    if (topic == NULL || topic->partition_count <= 0)
        return NULL;
    return &topic->partitions[sl_group_partition_for(group_id, topic->partition_count)];
}

/* A write nobody waits for (group metadata, tombstones). */
typedef struct bg_write {
    sl_log_append_t append;
    sl_replica_append_t replica_append;
    uint8_t *batch;
} bg_write_t;

static void bg_write_done(sl_log_append_t *append, int status, void *data)
{
    bg_write_t *w = data;
    (void)append; /* inside w */
    if (status != 0)
        SL_LOG_RATELIMITED(SL_LOG_WARN, "group", "cannot write to %s error=\"%s\"",
                           SL_OFFSETS_TOPIC, sl_strerror(status));
    sl_free(w->batch);
    sl_free(w);
}

static void bg_write_replicated(sl_replica_append_t *append, sl_kerr_t error, void *data)
{
    bg_write_t *w = data;
    (void)append; /* inside w */
    if (error != SL_KERR_NONE)
        SL_LOG_RATELIMITED(SL_LOG_WARN, "group", "cannot write to %s error=%s", SL_OFFSETS_TOPIC,
                           sl_kerr_name(error));
    sl_free(w->batch);
    sl_free(w);
}

static void bg_write(sl_broker_t *broker, sl_slice_t group_id, record_list_t *rl)
{
    sl_partition_t *p = offsets_partition(broker, group_id);
    size_t len = 0;
    uint8_t *batch = p != NULL ? batch_build(rl, sl_clock_realtime_ms(), &len) : NULL;
    sl_buf_deinit(&rl->recs);
    bg_write_t *w = batch != NULL ? sl_calloc(1, sizeof(*w)) : NULL;
    if (w == NULL) {
        sl_free(batch);
        return;
    }
    w->batch = batch;
    if (p->replica != NULL) { /* through the partition's Raft group, from its leader */
        int64_t base_offset = -1;
        sl_kerr_t err = sl_partition_replica_append(p->replica, &w->replica_append, batch, len, 1,
                                                    bg_write_replicated, w, &base_offset);
        if (err != SL_KERR_NONE)
            bg_write_replicated(&w->replica_append, err, w);
        return;
    }
    int rc = sl_log_append(p->log, &w->append, batch, len, p->leader_epoch, false, bg_write_done, w,
                           NULL, NULL);
    if (rc != 0)
        bg_write_done(&w->append, rc, w);
}

void sl__offsets_delete_write(sl_broker_t *broker, sl_slice_t group_id, sl_slice_t topic,
                              int32_t partition)
{
    record_list_t rl = {0};
    sl_buf_init(&rl.recs, 0);
    sl_buf_t key;
    sl_buf_init(&key, 0);
    offset_key(&key, group_id, topic, partition);
    record_add(&rl, &key, NULL);
    sl_buf_deinit(&key);
    bg_write(broker, group_id, &rl);
}

typedef struct tombstones {
    record_list_t *rl;
    sl_slice_t group;
} tombstones_t;

static bool offset_tombstone(sl_slice_t topic, int32_t partition, const sl_group_offset_t *o,
                             void *data)
{
    (void)o; /* only its key matters */
    tombstones_t *t = data;
    sl_buf_t key;
    sl_buf_init(&key, 0);
    offset_key(&key, t->group, topic, partition);
    record_add(t->rl, &key, NULL);
    sl_buf_deinit(&key);
    return true;
}

/* The coordinator's hook: a group's metadata record after each rebalance, a tombstone (and its
 * offsets' tombstones) when it goes. */
/* KIP-211: an offset the coordinator expired in a live group leaves a tombstone. */
static void offset_expired(sl_group_coordinator_t *coord, sl_slice_t group_id, sl_slice_t topic,
                           int32_t partition, void *data)
{
    (void)coord; /* the broker's one coordinator */
    sl_broker_t *broker = data;
    if (broker->groups != NULL && !broker->groups->loading)
        sl__offsets_delete_write(broker, group_id, topic, partition);
}

static void group_changed(sl_group_coordinator_t *coord, sl_slice_t group_id, bool deleted,
                          void *data)
{
    sl_broker_t *broker = data;
    if (broker->groups == NULL || broker->groups->loading)
        return;
    record_list_t rl = {0};
    sl_buf_init(&rl.recs, 0);
    sl_buf_t key, value;
    sl_buf_init(&key, 0);
    sl_buf_init(&value, 0);
    sl_group_view_t view;
    if (deleted) {
        tombstones_t t = {&rl, group_id};
        sl_group_offsets_each(coord, group_id, offset_tombstone, &t);
        group_key(&key, group_id);
        record_add(&rl, &key, NULL);
    } else if (sl_group_describe(coord, group_id, &view)) {
        group_key(&key, group_id);
        group_value(&value, &view, sl_clock_realtime_ms());
        record_add(&rl, &key, &value);
    }
    sl_buf_deinit(&key);
    sl_buf_deinit(&value);
    if (rl.count > 0)
        bg_write(broker, group_id, &rl);
    else
        sl_buf_deinit(&rl.recs);
}

/* ---- OffsetCommit ---- */

typedef struct commit_entry {
    sl_slice_t topic;
    int32_t partition;
    sl_group_offset_t offset;
    sl_offset_commit_response_partition_t *out;
} commit_entry_t;

struct sl__offsets_commit {
    sl_request_t *req;
    sl_slice_t group_id;
    commit_entry_t *entries;
    size_t count, cap;
    sl_log_append_t append;
    sl_replica_append_t replica_append;
    int64_t base_offset;
    uint8_t *batch; /* owned until the request is freed */
    sl_partition_t *partition;
    int32_t owned_epoch; /* replicated: the leader epoch the partition was owned in at submit */
};

static void commit_on_free(sl_request_t *req, void *data)
{
    (void)req; /* the commit lives in its arena */
    sl__offsets_commit_t *commit = data;
    sl_free(commit->batch);
}

sl__offsets_commit_t *sl__offsets_commit_new(sl_request_t *req, sl_slice_t group_id)
{
    sl__offsets_commit_t *commit = sl_arena_alloc(&req->arena, sizeof(*commit));
    if (commit == NULL)
        return NULL;
    *commit = (sl__offsets_commit_t){.req = req, .group_id = group_id};
    return commit;
}

int sl__offsets_commit_add(sl__offsets_commit_t *commit, sl_slice_t topic, int32_t partition,
                           const sl_group_offset_t *offset,
                           sl_offset_commit_response_partition_t *out)
{
    if (commit->count == commit->cap) {
        size_t cap = commit->cap == 0 ? 16 : commit->cap * 2;
        commit_entry_t *grown = sl_arena_alloc(&commit->req->arena, cap * sizeof(*grown));
        if (grown == NULL)
            return SL_ELIMIT;
        if (commit->count > 0)
            memcpy(grown, commit->entries, commit->count * sizeof(*grown));
        commit->entries = grown;
        commit->cap = cap;
    }
    commit->entries[commit->count++] = (commit_entry_t){topic, partition, *offset, out};
    return 0;
}

static bool owned_in_epoch(sl_broker_t *broker, const sl_partition_t *partition, int32_t epoch);

/* error: NONE once the records are durable (committed by the partition's Raft group when
 * replicated), else what each partition of the OffsetCommit answers. */
static void commit_apply(sl__offsets_commit_t *commit, sl_kerr_t error)
{
    sl_broker_t *broker = commit->req->broker;
    sl_group_coordinator_t *coord = broker->groups->coord;
    /* Leadership moved while the write was in flight: the group lives on another coordinator now,
     * which replays the record if it committed; this one must not keep the group in memory. */
    bool moved = commit->partition != NULL && commit->partition->replica != NULL &&
                 !owned_in_epoch(broker, commit->partition, commit->owned_epoch);
    for (size_t i = 0; i < commit->count; i++) {
        commit_entry_t *e = &commit->entries[i];
        if (moved) {
            e->out->error_code = SL_KERR_NOT_COORDINATOR;
            continue;
        }
        if (error == SL_KERR_NONE &&
            sl_group_offset_put(coord, commit->group_id, e->topic, e->partition, &e->offset) == 0)
            continue;
        e->out->error_code = error != SL_KERR_NONE ? error : SL_KERR_COORDINATOR_NOT_AVAILABLE;
    }
}

/* A single node's own log write. */
static sl_kerr_t kerr_from_write(int status)
{
    if (status == 0)
        return SL_KERR_NONE;
    return status == SL_ECLOSED ? SL_KERR_COORDINATOR_NOT_AVAILABLE : SL_KERR_KAFKA_STORAGE_ERROR;
}

/* The replicated write's answer as Kafka's coordinator maps it for OffsetCommit: leadership gone
 * (or the replica offline) is NOT_COORDINATOR, too few replicas or a commit left unsure is
 * COORDINATOR_NOT_AVAILABLE; both make the client retry (after FindCoordinator). */
static sl_kerr_t kerr_from_replicated(sl_kerr_t error)
{
    switch (error) {
    case SL_KERR_NONE:
        return SL_KERR_NONE;
    case SL_KERR_NOT_LEADER_OR_FOLLOWER:
    case SL_KERR_KAFKA_STORAGE_ERROR:
        return SL_KERR_NOT_COORDINATOR;
    default:
        return SL_KERR_COORDINATOR_NOT_AVAILABLE;
    }
}

static void commit_done(sl__offsets_commit_t *commit, sl_kerr_t error)
{
    commit_apply(commit, error);
    sl__groups_arm(commit->req->broker);
    sl__request_finish(commit->req, 0);
}

static void commit_written(sl_log_append_t *append, int status, void *data)
{
    (void)append; /* inside the commit */
    commit_done(data, kerr_from_write(status));
}

static void commit_replicated(sl_replica_append_t *append, sl_kerr_t error, void *data)
{
    (void)append; /* inside the commit */
    commit_done(data, kerr_from_replicated(error));
}

int sl__offsets_commit_submit(sl__offsets_commit_t *commit)
{
    sl_request_t *req = commit->req;
    if (commit->count == 0)
        return 0;
    sl_partition_t *p = offsets_partition(req->broker, commit->group_id);
    if (p == NULL) { /* __consumer_offsets cannot be created (logged) */
        commit_apply(commit, SL_KERR_COORDINATOR_NOT_AVAILABLE);
        return 0;
    }
    commit->partition = p;
    const sl_groups_t *groups = req->broker->groups;
    if (p->replica != NULL) /* the handler checked ownership: the entry exists */
        commit->owned_epoch =
            p->index < groups->owned_count ? groups->owned[p->index].leader_epoch : -1;
    record_list_t rl = {0};
    sl_buf_init(&rl.recs, 0);
    sl_buf_t key, value;
    sl_buf_init(&key, 0);
    sl_buf_init(&value, 0);
    for (size_t i = 0; i < commit->count; i++) {
        const commit_entry_t *e = &commit->entries[i];
        key.len = value.len = 0;
        offset_key(&key, commit->group_id, e->topic, e->partition);
        offset_value(&value, &e->offset);
        record_add(&rl, &key, &value);
    }
    sl_buf_deinit(&key);
    sl_buf_deinit(&value);
    size_t len = 0;
    commit->batch = batch_build(&rl, sl_clock_realtime_ms(), &len);
    sl_buf_deinit(&rl.recs);
    req->on_free = commit_on_free;
    req->on_free_data = commit;
    int rc = commit->batch != NULL ? sl__request_hold(req, p->topic) : -ENOMEM;
    if (rc == 0 && p->replica != NULL) {
        /* acks=all: answered once the partition's Raft group committed it, so the offsets survive
         * this broker */
        sl_kerr_t err =
            sl_partition_replica_append(p->replica, &commit->replica_append, commit->batch, len, -1,
                                        commit_replicated, commit, &commit->base_offset);
        if (err != SL_KERR_NONE) {
            commit_apply(commit, kerr_from_replicated(err));
            return 0;
        }
        req->pending = true;
        return 0;
    }
    if (rc == 0)
        rc = sl_log_append(p->log, &commit->append, commit->batch, len, p->leader_epoch, true,
                           commit_written, commit, NULL, NULL);
    if (rc != 0) {
        SL_LOG_RATELIMITED(SL_LOG_WARN, "group", "cannot write offsets group=%.*s error=\"%s\"",
                           (int)SL_MIN(commit->group_id.len, 255),
                           (const char *)commit->group_id.ptr, sl_strerror(rc));
        commit_apply(commit, kerr_from_write(rc));
        return 0;
    }
    req->pending = true;
    return 0;
}

static bool count_group(const sl_group_view_t *g, void *data)
{
    (void)g; /* counted only */
    ++*(size_t *)data;
    return true;
}

/* ---- loading: replay every __consumer_offsets partition at start ---- */

typedef struct rd {
    const uint8_t *p;
    size_t left;
    bool bad;
} rd_t;

static int64_t rd_int(rd_t *r, size_t n)
{
    if (r->left < n) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | r->p[i];
    r->p += n;
    r->left -= n;
    if (n == 2)
        return (int16_t)v;
    if (n == 4)
        return (int32_t)v;
    return (int64_t)v;
}

static sl_slice_t rd_str(rd_t *r)
{
    int64_t n = rd_int(r, 2);
    if (n == -1)
        return SL_SLICE_NULL; /* a null string */
    if (n < 0 || (size_t)n > r->left) {
        r->bad = true;
        return SL_SLICE_NULL;
    }
    sl_slice_t s = {r->p, (size_t)n};
    r->p += n;
    r->left -= (size_t)n;
    return s;
}

static void load_offset(sl_group_coordinator_t *coord, rd_t *k, sl_slice_t value)
{
    sl_slice_t group = rd_str(k), topic = rd_str(k);
    int32_t partition = (int32_t)rd_int(k, 4);
    if (k->bad)
        return;
    if (value.ptr == NULL) {
        sl_group_offset_delete(coord, group, topic, partition);
        return;
    }
    rd_t v = {value.ptr, value.len, false};
    int16_t version = (int16_t)rd_int(&v, 2);
    sl_group_offset_t o = {.leader_epoch = -1};
    o.offset = rd_int(&v, 8);
    if (version >= 3)
        o.leader_epoch = (int32_t)rd_int(&v, 4);
    o.metadata = rd_str(&v);
    o.commit_timestamp_ms = rd_int(&v, 8);
    if (!v.bad && version >= 0 && version <= 3) {
        if (o.metadata.ptr == NULL)
            o.metadata = sl_slice_from_str("");
        (void)sl_group_offset_put(coord, group, topic, partition,
                                  &o); /* ENOMEM: logged by caller */
    }
}

static sl_slice_t rd_bytes(rd_t *r)
{
    int64_t n = rd_int(r, 4);
    if (n < 0 || (size_t)n > r->left) {
        r->bad = true;
        return SL_SLICE_NULL;
    }
    sl_slice_t s = {r->p, (size_t)n};
    r->p += n;
    r->left -= (size_t)n;
    return s;
}

#define SL_GROUP_RESTORE_MEMBERS_MAX 4096

/* GroupMetadataValue v0-3 (v4, flexible, is never written by Sluice and is skipped). */
static void load_group(sl_broker_t *broker, rd_t *k, sl_slice_t value)
{
    sl_group_coordinator_t *coord = broker->groups->coord;
    sl_slice_t group = rd_str(k);
    if (k->bad)
        return;
    if (value.ptr == NULL) {
        (void)sl_group_delete(coord, group); /* not there: nothing to do */
        return;
    }
    rd_t v = {value.ptr, value.len, false};
    int16_t version = (int16_t)rd_int(&v, 2);
    sl_slice_t type = rd_str(&v);
    int32_t generation = (int32_t)rd_int(&v, 4);
    sl_slice_t protocol = rd_str(&v), leader = rd_str(&v);
    if (version >= 2)
        (void)rd_int(&v, 8); /* currentStateTimestamp */
    int32_t n = (int32_t)rd_int(&v, 4);
    if (v.bad || version < 0 || version > 3 || n < 0 || n > SL_GROUP_RESTORE_MEMBERS_MAX)
        return;
    sl_group_member_view_t *ms = sl_calloc((size_t)n + 1, sizeof(*ms));
    if (ms == NULL)
        return;
    for (int32_t i = 0; i < n && !v.bad; i++) {
        sl_group_member_view_t *m = &ms[i];
        m->member_id = rd_str(&v);
        m->instance_id = version >= 3 ? rd_str(&v) : SL_SLICE_NULL;
        m->client_id = rd_str(&v);
        m->client_host = rd_str(&v);
        m->rebalance_timeout_ms = version >= 1 ? (int32_t)rd_int(&v, 4) : -1;
        m->session_timeout_ms = (int32_t)rd_int(&v, 4);
        if (m->rebalance_timeout_ms < 0)
            m->rebalance_timeout_ms = m->session_timeout_ms;
        m->metadata = rd_bytes(&v);
        m->assignment = rd_bytes(&v);
    }
    if (!v.bad) /* ENOMEM: the group is restored partly, its members rejoin */
        (void)sl_group_restore(coord, group, type, protocol, leader, generation, ms, (size_t)n);
    sl_free(ms);
}

static int load_record(const sl_record_t *rec, void *data)
{
    sl_broker_t *broker = data;
    sl_group_coordinator_t *coord = broker->groups->coord;
    rd_t k = {rec->key.ptr, rec->key.len, false};
    int16_t version = (int16_t)rd_int(&k, 2);
    if (version == 0 || version == 1)
        load_offset(coord, &k, rec->value);
    else if (version == 2)
        load_group(broker, &k, rec->value);
    return 0;
}

typedef struct load_read {
    sl_log_read_t read;
    bool done;
    int status;
    uint8_t *bytes;
    size_t len;
} load_read_t;

static void load_read_done(sl_log_read_t *read, int status, uint8_t *bytes, size_t len, void *data)
{
    (void)read; /* inside data */
    load_read_t *lr = data;
    lr->done = true;
    lr->status = status;
    lr->bytes = bytes;
    lr->len = len;
}

/* Applies the batches in bytes; returns the offset after the last whole one. */
static int64_t load_batches(sl_broker_t *broker, const uint8_t *bytes, size_t len, int64_t offset)
{
    size_t pos = 0;
    while (pos < len) {
        sl_record_batch_t b;
        if (sl_record_batch_parse(bytes + pos, len - pos, &b) != 0)
            break;
        size_t size = sl_record_batch_size(&b);
        if ((b.attributes & SL_RECORD_BATCH_CONTROL) == 0)
            (void)sl_records_iterate(bytes + pos, size, &broker->records_scratch, load_record,
                                     broker); /* a bad batch: skipped */
        offset = b.base_offset + b.last_offset_delta + 1;
        pos += size;
    }
    return offset;
}

/* Reads one partition to its end, running the loop until each read completes (start-up only:
 * nothing else is listening yet). */
static int load_partition(sl_broker_t *broker, sl_log_t *log)
{
    int64_t offset = sl_log_start_offset(log), end = sl_log_high_watermark(log);
    while (offset < end) {
        load_read_t lr = {0};
        int rc = sl_log_read(log, &lr.read, offset, 1 << 20, true, load_read_done, &lr);
        if (rc != 0)
            return rc;
        while (!lr.done)
            uv_run(broker->loop, UV_RUN_ONCE);
        if (lr.status != 0) {
            sl_free(lr.bytes);
            return lr.status;
        }
        if (lr.len == 0)
            break; /* nothing visible past offset: the cleaner removed the tail's last records */
        int64_t next = load_batches(broker, lr.bytes, lr.len, offset);
        sl_free(lr.bytes);
        if (next <= offset)
            return SL_ECORRUPT;
        offset = next;
    }
    return 0;
}

/* __consumer_offsets as Kafka makes it: offsets.topic.num.partitions partitions, compacted, on
 * first use of the group APIs (as Kafka: a broker nobody used for groups lists no topics); in
 * quorum mode through the active controller, on a single node here. It is looked up by name each
 * time, so nothing dangles if an admin deletes it. */
static sl_topic_t *offsets_topic_open(sl_broker_t *broker)
{
    sl_slice_t name = sl_slice_from_str(SL_OFFSETS_TOPIC);
    sl_topic_t *topic = sl__topics_find(broker->topics, name);
    if (topic != NULL)
        return topic;
    if (broker->cluster != NULL) {
        /* Quorum mode: only the active controller creates it (replicated, on every broker's
         * image); until it shows up here the group APIs answer COORDINATOR_NOT_AVAILABLE. */
        sl__cluster_create_offsets_topic(broker->cluster);
        return NULL;
    }
    sl_slice_t cfg_name = sl_slice_from_str("cleanup.policy");
    sl_slice_t cfg_value = sl_slice_from_str("compact");
    sl_topic_spec_t spec = {.name = name,
                            .partitions = broker->cfg->offsets_topic_num_partitions,
                            .config_names = &cfg_name,
                            .config_values = &cfg_value,
                            .configs_count = 1};
    char msg[256];
    sl_kerr_t err = sl__topics_create(broker->topics, &spec, false, &topic, msg, sizeof(msg));
    if (err != SL_KERR_NONE) {
        SL_LOG(SL_LOG_ERROR, "group", "cannot create %s error=%s msg=\"%s\"", SL_OFFSETS_TOPIC,
               sl_kerr_name(err), msg);
        return NULL;
    }
    SL_LOG(SL_LOG_INFO, "group", "created %s partitions=%d", SL_OFFSETS_TOPIC,
           (int)topic->partition_count);
    return topic;
}

static int groups_load(sl_broker_t *broker)
{
    sl_groups_t *groups = broker->groups;
    sl_topic_t *topic = sl__topics_find(broker->topics, sl_slice_from_str(SL_OFFSETS_TOPIC));
    uint64_t t0 = sl_clock_monotonic_ms();
    groups->loading = true;
    for (int32_t p = 0; topic != NULL && p < topic->partition_count; p++) {
        int rc = load_partition(broker, topic->partitions[p].log);
        if (rc != 0) {
            SL_LOG(SL_LOG_ERROR, "group", "cannot load %s partition=%d error=\"%s\"",
                   SL_OFFSETS_TOPIC, (int)p, sl_strerror(rc));
            groups->loading = false;
            return rc;
        }
    }
    groups->loading = false;
    size_t count = 0;
    sl_group_each(groups->coord, count_group, &count);
    SL_LOG(SL_LOG_INFO, "group", "loaded groups=%zu ms=%" PRIu64, count,
           sl_clock_monotonic_ms() - t0);
    return 0;
}

/* ---- coordinator moves: replicated __consumer_offsets partitions (quorum mode) ---- */

static bool is_offsets_topic(const sl_topic_t *topic)
{
    return strcmp(topic->name, SL_OFFSETS_TOPIC) == 0;
}

/* The ownership entry of partition index (of count), the table grown to count first; NULL when out
 * of memory. */
static sl_offsets_ownership_t *ownership(sl_groups_t *groups, int32_t index, int32_t count)
{
    SL_ASSERT(index >= 0 && index < count);
    if (count > groups->owned_count) {
        sl_offsets_ownership_t *grown = sl_realloc(groups->owned, (size_t)count * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        memset(grown + groups->owned_count, 0,
               (size_t)(count - groups->owned_count) * sizeof(*grown));
        groups->owned = grown;
        groups->owned_count = count;
    }
    return &groups->owned[index];
}

static bool owned_in_epoch(sl_broker_t *broker, const sl_partition_t *partition, int32_t epoch)
{
    const sl_groups_t *groups = broker->groups;
    if (partition->index >= groups->owned_count)
        return false;
    const sl_offsets_ownership_t *o = &groups->owned[partition->index];
    return o->state == SL_OFFSETS_OWNED && o->leader_epoch == epoch;
}

/* One partition's replay on gaining its leadership: reads [start, end) batch by batch through the
 * loop (clients of other groups are served meanwhile). end is the log end when leadership came:
 * a Raft leader's log holds every committed record, and its uncommitted tail from earlier epochs
 * commits under it, so that tail is part of the state too. */
typedef struct sl_offsets_load {
    sl_log_read_t read;
    sl_broker_t *broker;
    sl_partition_t *partition;
    int64_t offset, end;
    uint64_t started_ms;
    bool cancelled; /* leadership went first: the read's completion frees it */
} sl_offsets_load_t;

static void offsets_load_next(sl_offsets_load_t *load);

/* At destroy: a replay's read still out completes into a freed broker otherwise. */
static void offsets_loads_cancel(sl_groups_t *groups)
{
    for (int32_t i = 0; i < groups->owned_count; i++)
        if (groups->owned[i].load != NULL)
            groups->owned[i].load->cancelled = true;
}

static void offsets_load_finish(sl_offsets_load_t *load, int status)
{
    sl_broker_t *broker = load->broker;
    sl_offsets_ownership_t *o = &broker->groups->owned[load->partition->index];
    SL_ASSERT(o->load == load);
    o->load = NULL;
    if (status != 0) {
        /* What was replayed goes; the next group request of the partition starts over (clients
         * got COORDINATOR_LOAD_IN_PROGRESS meanwhile and retry). */
        SL_LOG_RATELIMITED(SL_LOG_ERROR, "group", "cannot load %s partition=%d error=\"%s\"",
                           SL_OFFSETS_TOPIC, (int)load->partition->index, sl_strerror(status));
        (void)sl_group_coordinator_unload(broker->groups->coord, load->partition->index,
                                          load->partition->topic->partition_count,
                                          SL_KERR_NOT_COORDINATOR);
        *o = (sl_offsets_ownership_t){.state = SL_OFFSETS_UNOWNED, .leader_epoch = -1};
    } else {
        o->state = SL_OFFSETS_OWNED;
        SL_LOG(SL_LOG_INFO, "group", "coordinator for %s partition=%d epoch=%d loaded ms=%" PRIu64,
               SL_OFFSETS_TOPIC, (int)load->partition->index, (int)o->leader_epoch,
               sl_clock_monotonic_ms() - load->started_ms);
    }
    sl_free(load);
    sl__groups_arm(broker); /* restored members' sessions run from now */
}

static void offsets_load_read(sl_log_read_t *read, int status, uint8_t *bytes, size_t len,
                              void *data)
{
    (void)read; /* inside load */
    sl_offsets_load_t *load = data;
    if (load->cancelled || load->broker->stopping) {
        sl_free(bytes);
        if (!load->cancelled)
            load->broker->groups->owned[load->partition->index].load = NULL;
        sl_free(load);
        return;
    }
    if (status != 0 || len == 0) {
        sl_free(bytes);
        /* len 0: nothing readable past offset (the cleaner removed the tail's last records) */
        offsets_load_finish(load, status);
        return;
    }
    sl_groups_t *groups = load->broker->groups;
    groups->loading = true; /* replayed records are not written again */
    int64_t next = load_batches(load->broker, bytes, len, load->offset);
    groups->loading = false;
    sl_free(bytes);
    if (next <= load->offset) {
        offsets_load_finish(load, SL_ECORRUPT);
        return;
    }
    load->offset = next;
    offsets_load_next(load);
}

static void offsets_load_next(sl_offsets_load_t *load)
{
    if (load->partition->log == NULL) { /* the partition stopped here (its log closes) */
        offsets_load_finish(load, SL_ECLOSED);
        return;
    }
    if (load->offset >= load->end) {
        offsets_load_finish(load, 0);
        return;
    }
    int rc = sl_log_read_upto(load->partition->log, &load->read, load->offset, load->end, 1 << 20,
                              true, offsets_load_read, load);
    if (rc != 0)
        offsets_load_finish(load, rc);
}

static void offsets_load_start(sl_broker_t *broker, sl_partition_t *partition,
                               sl_offsets_ownership_t *o, int32_t epoch)
{
    sl_offsets_load_t *load = sl_calloc(1, sizeof(*load));
    if (load == NULL) {
        SL_LOG_RATELIMITED(SL_LOG_ERROR, "group", "cannot load %s partition=%d error=\"%s\"",
                           SL_OFFSETS_TOPIC, (int)partition->index, sl_strerror(-ENOMEM));
        return; /* stays UNOWNED: the next group request tries again */
    }
    *load = (sl_offsets_load_t){.broker = broker,
                                .partition = partition,
                                .offset = sl_log_start_offset(partition->log),
                                .end = sl_log_end_offset(partition->log),
                                .started_ms = sl_clock_monotonic_ms()};
    *o = (sl_offsets_ownership_t){.state = SL_OFFSETS_LOADING, .leader_epoch = epoch, .load = load};
    SL_LOG(SL_LOG_INFO, "group",
           "loading %s partition=%d epoch=%d offsets=[%" PRId64 ",%" PRId64 ")", SL_OFFSETS_TOPIC,
           (int)partition->index, (int)epoch, load->offset, load->end);
    offsets_load_next(load);
}

static void offsets_unload(sl_broker_t *broker, sl_partition_t *partition,
                           sl_offsets_ownership_t *o)
{
    if (o->load != NULL)
        o->load->cancelled = true;
    size_t dropped =
        sl_group_coordinator_unload(broker->groups->coord, partition->index,
                                    partition->topic->partition_count, SL_KERR_NOT_COORDINATOR);
    SL_LOG(SL_LOG_INFO, "group", "no longer coordinator for %s partition=%d groups_dropped=%zu",
           SL_OFFSETS_TOPIC, (int)partition->index, dropped);
    *o = (sl_offsets_ownership_t){.state = SL_OFFSETS_UNOWNED, .leader_epoch = -1};
    sl__groups_arm(broker);
}

void sl__groups_partition_leadership_changed(sl_broker_t *broker, sl_partition_t *partition)
{
    sl_groups_t *groups = broker->groups;
    if (groups == NULL || broker->stopping || partition->replica == NULL ||
        partition->log == NULL || !is_offsets_topic(partition->topic))
        return;
    sl_offsets_ownership_t *o =
        ownership(groups, partition->index, partition->topic->partition_count);
    if (o == NULL)
        return; /* out of memory: the next group request asks again */
    int32_t epoch = -1;
    bool leads = sl__partition_leader_check(broker, partition, &epoch) == SL_KERR_NONE;
    /* A new epoch, even led here again, may follow another leader's writes: replay afresh. */
    if (o->state != SL_OFFSETS_UNOWNED && (!leads || epoch != o->leader_epoch))
        offsets_unload(broker, partition, o);
    if (leads && o->state == SL_OFFSETS_UNOWNED)
        offsets_load_start(broker, partition, o, epoch);
}

int32_t sl__groups_coordinator_id(sl_broker_t *broker, sl_slice_t group_id)
{
    sl_topic_t *topic = sl__topics_find(broker->topics, sl_slice_from_str(SL_OFFSETS_TOPIC));
    if (topic == NULL || topic->partition_count <= 0)
        return broker->cfg->node_id;
    int32_t index = sl_group_partition_for(group_id, topic->partition_count);
    sl_partition_t *p = &topic->partitions[index];
    int32_t leader_id = -1, leader_epoch = -1;
    sl__partition_current_leader(broker, p, &leader_id, &leader_epoch);
    if (broker->cluster != NULL && p->replica == NULL) {
        /* Not a replica here: the image's leader. A replica here answers what its Raft group
         * knows (-1 while electing), which the image only learns later (AlterPartition). */
        const sl_metadata_topic_t *t = sl_metadata_topic_find(sl__cluster_image(broker->cluster),
                                                              sl_slice_from_str(topic->name));
        leader_id = t != NULL && index < t->partition_count && t->partitions[index].exists
                        ? t->partitions[index].leader
                        : -1;
    }
    return leader_id >= 0 ? leader_id : -1;
}

sl_kerr_t sl__groups_coordinator_error(sl_broker_t *broker, sl_slice_t group_id)
{
    sl_groups_t *groups = broker->groups;
    if (groups == NULL)
        return SL_KERR_COORDINATOR_NOT_AVAILABLE;
    sl_topic_t *topic = sl__topics_find(broker->topics, sl_slice_from_str(SL_OFFSETS_TOPIC));
    if (topic == NULL || topic->partition_count <= 0) /* quorum mode: created by the controller */
        return broker->cluster != NULL ? SL_KERR_COORDINATOR_NOT_AVAILABLE
                                       : SL_KERR_NONE; /* a single node before first use: groups
                                                          live in memory until then */
    sl_partition_t *p =
        &topic->partitions[sl_group_partition_for(group_id, topic->partition_count)];
    if (p->replica == NULL) /* in quorum mode: not a replica here */
        return broker->cluster != NULL ? SL_KERR_NOT_COORDINATOR : SL_KERR_NONE;
    int32_t epoch = -1;
    if (sl__partition_leader_check(broker, p, &epoch) != SL_KERR_NONE)
        return SL_KERR_NOT_COORDINATOR;
    if (!owned_in_epoch(broker, p, epoch))
        sl__groups_partition_leadership_changed(broker, p); /* the hook may not have run yet */
    const sl_offsets_ownership_t *o =
        p->index < groups->owned_count ? &groups->owned[p->index] : NULL;
    if (o == NULL || o->state == SL_OFFSETS_UNOWNED)
        return SL_KERR_COORDINATOR_NOT_AVAILABLE;
    return o->state == SL_OFFSETS_OWNED ? SL_KERR_NONE : SL_KERR_COORDINATOR_LOAD_IN_PROGRESS;
}

int sl__groups_open(sl_broker_t *broker)
{
    const sl_config_t *cfg = broker->cfg;
    sl_groups_t *groups = sl_calloc(1, sizeof(*groups));
    if (groups == NULL)
        return -ENOMEM;
    groups->broker = broker;
    groups->clock = (sl_clock_ops_t){loop_now, wall_now, broker->loop};
    sl_group_config_t gcfg = {
        .initial_rebalance_delay_ms = cfg->group_initial_rebalance_delay_ms,
        .min_session_timeout_ms = cfg->group_min_session_timeout_ms,
        .max_session_timeout_ms = cfg->group_max_session_timeout_ms,
        .offsets_retention_ms = (int64_t)cfg->offsets_retention_minutes * 60000,
        .offset_metadata_max_bytes = 4096,
    };
    int rc = sl_group_coordinator_create(&gcfg, &groups->clock, &groups->coord);
    if (rc != 0) {
        sl_free(groups);
        return rc;
    }
    broker->groups = groups;
    sl_group_set_changed_cb(groups->coord, group_changed, broker);
    sl_group_set_offset_expired_cb(groups->coord, offset_expired, broker);
    rc = groups_load(broker);
    if (rc != 0)
        return rc;
    sl__groups_arm(broker);
    return 0;
}
