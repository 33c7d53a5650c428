/* cluster_metadata: every node's part of the cluster in quorum mode (see cluster_metadata.h):
 * the image applied from the committed metadata log, the topic table reconciled from it, this
 * broker's registration and heartbeats, and admin requests forwarded to the active controller.
 * Everything runs on the loop thread. Quorum changes are never handled inside the quorum's own
 * callback: they arm a zero timer (the "kick"), so the work runs in a fresh loop turn and may call
 * back into the quorum. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "broker_int.h"
#include "cluster_metadata.h"
#include "controller.h"
#include "sluice/record_batch.h"
/* the connections to other nodes, shared with the metadata quorum's implementation */
#include "peer.h"
#include "replica_manager.h"

/* One read of the committed log: large enough for many batches, small enough to bound memory. */
#define APPLY_READ_BYTES (1 * SL_MiB)
/* Scratch for decoding one batch's records (its arrays). */
#define APPLY_ARENA_BYTES (8 * SL_MiB)
/* Wait before reading committed batches again that were not readable yet. */
#define APPLY_RETRY_MS 10
/* Wait before retrying a registration that failed or found no controller. */
#define MEMBERSHIP_RETRY_MS 250
/* A fenced broker heartbeats at most this far apart, so it is unfenced soon after catching up. */
#define FENCED_HEARTBEAT_MS 250
/* How long a forwarded request or a membership request waits for the controller. */
#define CONTROLLER_REQUEST_TIMEOUT_MS 30000
/* Kafka's metadata.version for 3.9 (IBP_3_9_IV0 = 21): what this broker says it supports. */
#define METADATA_VERSION_MIN 1
#define METADATA_VERSION_MAX 21

/* The inter-broker address last given to the replica manager for a node. */
typedef struct {
    int32_t node_id;
    char host[256];
    uint16_t port;
} known_address_t;

struct sl_cluster {
    sl_broker_t *broker;
    sl_metadata_quorum_t *quorum;
    sl_metadata_image_t image;
    sl_arena_t arena; /* one batch's decoded records */
    int64_t applied_end;
    bool reading;
    bool failed; /* a committed record did not apply: the image stopped there */
    sl_log_read_t read;
    uv_timer_t kick;      /* quorum changes handled in a fresh loop turn */
    uv_timer_t heartbeat; /* registration retries and heartbeats */
    sl_peers_t *peers;    /* to the voters' controller listeners */
    sl_uuid_t incarnation_id;
    int64_t broker_epoch; /* -1 until registered */
    bool fenced;
    bool member_in_flight;
    bool stopping;
    size_t closing;
    void (*stopped)(void *data);
    void *stopped_data;
    void (*applied)(void *data);
    void *applied_data;
    known_address_t addresses[256];
    size_t address_count;
    uv_timer_t alter_timer; /* AlterPartition reports of the partitions this node leads */
    bool alter_in_flight;
    sl_arena_t alter_arena;      /* the report in flight */
    bool offsets_create_pending; /* a CreateTopics for __consumer_offsets is out */
};

static void kick_fired(uv_timer_t *timer);
static void close_when_idle(uv_timer_t *timer);
static void alter_check(uv_timer_t *timer);
static void alter_schedule(sl_cluster_t *c, uint64_t ms);

/* Work after a quorum change (or, once stopping, the close) in a fresh loop turn. */
static void kick_soon(sl_cluster_t *c)
{
    uv_timer_start(&c->kick, c->stopping ? close_when_idle : kick_fired, 0, 0);
}

const sl_metadata_image_t *sl__cluster_image(const sl_cluster_t *c)
{
    return &c->image;
}

int64_t sl__cluster_applied_end(const sl_cluster_t *c)
{
    return c->applied_end;
}

void sl__cluster_set_applied_listener(sl_cluster_t *c, void (*applied)(void *data), void *data)
{
    c->applied = applied;
    c->applied_data = data;
}

bool sl__cluster_broker_live(const sl_cluster_t *c, int32_t broker_id)
{
    const sl_metadata_broker_t *b = sl_metadata_broker_find(&c->image, broker_id);
    return b != NULL && !b->fenced;
}

bool sl__cluster_serving(const sl_cluster_t *c)
{
    if (c->failed)
        return false;
    if (!c->broker->cfg->process_role_broker)
        return c->applied_end > 0;
    return c->broker_epoch >= 0 && !c->fenced &&
           sl__cluster_broker_live(c, c->broker->cfg->node_id);
}

int32_t sl__cluster_client_controller_id(const sl_cluster_t *c)
{
    sl_quorum_status_t st;
    sl_metadata_quorum_status(c->quorum, &st);
    if (st.leader_id >= 0 && sl__cluster_broker_live(c, st.leader_id))
        return st.leader_id;
    for (int32_t i = 0; i < c->image.broker_count; i++) /* sorted by id */
        if (!c->image.brokers[i].fenced)
            return c->image.brokers[i].id;
    return -1;
}

/* ---- the reconcile: the topic table follows the image ---------------------------------------- */

/* The one place where a partition's replication follows the image: a partition with this node
 * among its replicas is a Raft group over them (started, or given new replicas after a
 * reassignment); one this node no longer hosts, or whose topic is gone (p == NULL), stops and its
 * log goes. Partitions this node does not host keep the table's plain local log, never written:
 * clients are sent to the partition's leader. On a single node (no replica manager) nothing. */
static void replica_partition_changed(sl_cluster_t *c, sl_topic_t *topic, int32_t index,
                                      const sl_metadata_partition_t *p)
{
    sl_broker_t *broker = c->broker;
    sl_partition_t *part = &topic->partitions[index];
    if (broker->replicas == NULL)
        return;
    bool hosted = p != NULL && sl_metadata_replicas_contains(&p->replicas, broker->cfg->node_id);
    if (!hosted) {
        if (part->replica != NULL)
            sl__partition_replication_stop(broker, part, true);
        return;
    }
    int rc = sl__partition_replication_start(broker, part, p->replicas.ids, p->replicas.count);
    if (rc != 0)
        SL_LOG_RATELIMITED(SL_LOG_ERROR, "cluster",
                           "cannot replicate partition topic=%s partition=%d error=\"%s\"",
                           topic->name, (int)index, sl_strerror(rc));
}

/* Every registered broker's inter-broker endpoint goes to the replica manager (the partitions'
 * Raft traffic), set again only when it changed. */
static void update_broker_addresses(sl_cluster_t *c)
{
    sl_broker_t *broker = c->broker;
    const char *listener = broker->cfg->inter_broker_listener_name;
    if (broker->replicas == NULL || listener == NULL)
        return;
    for (int32_t i = 0; i < c->image.broker_count; i++) {
        const sl_metadata_broker_t *b = &c->image.brokers[i];
        const sl_metadata_endpoint_t *ep = NULL;
        for (int32_t e = 0; e < b->endpoint_count && ep == NULL; e++)
            if (strcmp(b->endpoints[e].name, listener) == 0)
                ep = &b->endpoints[e];
        if (ep == NULL || b->id == broker->cfg->node_id)
            continue;
        known_address_t *k = NULL;
        for (size_t j = 0; j < c->address_count && k == NULL; j++)
            if (c->addresses[j].node_id == b->id)
                k = &c->addresses[j];
        if (k != NULL && k->port == ep->port && strcmp(k->host, ep->host) == 0)
            continue;
        if (k == NULL) {
            if (c->address_count == SL_ARRAY_LEN(c->addresses))
                continue;
            k = &c->addresses[c->address_count++];
            k->node_id = b->id;
        }
        snprintf(k->host, sizeof(k->host), "%s", ep->host);
        k->port = ep->port;
        int rc = sl_replica_manager_set_broker_address(broker->replicas, b->id, ep->host, ep->port);
        SL_LOG(rc == 0 ? SL_LOG_INFO : SL_LOG_WARN, "cluster",
               "broker address node=%d listener=%s host=%s port=%u%s%s", (int)b->id, listener,
               ep->host, (unsigned)ep->port,
               rc == 0 ? "" : " error=", rc == 0 ? "" : sl_strerror(rc));
    }
}

/* The image's overrides of one topic as two arrays (borrowed from the image). */
static size_t image_topic_configs(const sl_cluster_t *c, const char *topic, sl_slice_t *names,
                                  sl_slice_t *values, size_t max)
{
    size_t n = 0;
    for (int32_t i = 0; i < c->image.config_count && n < max; i++) {
        const sl_metadata_config_t *cf = &c->image.configs[i];
        if (cf->resource_type != SL_METADATA_CONFIG_TOPIC || cf->value == NULL ||
            strcmp(cf->resource_name, topic) != 0)
            continue;
        names[n] = sl_slice_from_str(cf->name);
        values[n] = sl_slice_from_str(cf->value);
        n++;
    }
    return n;
}

static bool configs_equal(const sl_topic_t *topic, const sl_slice_t *names,
                          const sl_slice_t *values, size_t n)
{
    if (topic->configs_count != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = 0; j < topic->configs_count && !found; j++)
            found = sl_slice_eq_str(names[i], topic->configs[j].name) &&
                    sl_slice_eq_str(values[i], topic->configs[j].value);
        if (!found)
            return false;
    }
    return true;
}

typedef struct {
    sl_cluster_t *c;
    sl_topic_t *gone[256];
    size_t gone_count;
    bool more;
} stale_topics_t;

static bool find_stale(sl_topic_t *topic, void *data)
{
    stale_topics_t *s = data;
    const sl_metadata_topic_t *t = sl_metadata_topic_find_id(&s->c->image, &topic->id);
    if (t != NULL && strcmp(t->name, topic->name) == 0)
        return true;
    /* An internal topic the broker made for itself (__consumer_offsets, until it is created
     * through the controller) stays, unless the image has one of that name. */
    if (topic->internal && t == NULL &&
        sl_metadata_topic_find(&s->c->image, sl_slice_from_str(topic->name)) == NULL)
        return true;
    if (s->gone_count == SL_ARRAY_LEN(s->gone)) {
        s->more = true;
        return false;
    }
    s->gone[s->gone_count++] = topic;
    return true;
}

static void reconcile_topic(sl_cluster_t *c, const sl_metadata_topic_t *t)
{
    sl_topic_table_t *table = c->broker->topics;
    char msg[256];
    sl_slice_t names[SL_TOPIC_CONFIGS_MAX], values[SL_TOPIC_CONFIGS_MAX];
    size_t n = image_topic_configs(c, t->name, names, values, SL_TOPIC_CONFIGS_MAX);
    sl_topic_t *topic = sl__topics_find_id(table, &t->id);
    if (topic == NULL) {
        sl_topic_spec_t spec = {.name = sl_slice_from_str(t->name),
                                .partitions = SL_MAX(t->partition_count, 1),
                                .config_names = names,
                                .config_values = values,
                                .configs_count = n};
        sl_kerr_t err = sl__topics_create_with_id(table, &spec, &t->id, &topic, msg, sizeof(msg));
        if (err != SL_KERR_NONE) {
            SL_LOG_RATELIMITED(SL_LOG_ERROR, "cluster",
                               "cannot open topic from the metadata image topic=%s error=%s "
                               "msg=\"%s\"",
                               t->name, sl_kerr_name(err), msg);
            return;
        }
        for (int32_t p = 0; p < topic->partition_count; p++)
            replica_partition_changed(c, topic, p, sl_metadata_partition_find(t, p));
        return;
    }
    if (t->partition_count > topic->partition_count) {
        sl_kerr_t err =
            sl__topics_add_partitions(table, topic, t->partition_count, false, msg, sizeof(msg));
        if (err != SL_KERR_NONE)
            SL_LOG_RATELIMITED(SL_LOG_ERROR, "cluster",
                               "cannot add partitions from the metadata image topic=%s error=%s "
                               "msg=\"%s\"",
                               t->name, sl_kerr_name(err), msg);
    }
    for (int32_t p = 0; p < topic->partition_count; p++) /* replicas may have moved */
        replica_partition_changed(c, topic, p, sl_metadata_partition_find(t, p));
    if (!configs_equal(topic, names, values, n)) {
        sl_kerr_t err =
            sl__topics_set_configs(table, topic, names, values, n, false, msg, sizeof(msg));
        if (err != SL_KERR_NONE)
            SL_LOG_RATELIMITED(SL_LOG_WARN, "cluster",
                               "topic configs from the metadata image not applied topic=%s "
                               "error=%s msg=\"%s\"",
                               t->name, sl_kerr_name(err), msg);
    }
}

static void reconcile(sl_cluster_t *c)
{
    update_broker_addresses(c);
    sl_topic_table_t *table = c->broker->topics;
    if (table == NULL)
        return;
    stale_topics_t stale = {.c = c};
    do { /* deleted (or deleted and re-created under a new id) topics go first */
        stale.gone_count = 0;
        stale.more = false;
        sl__topics_each(table, find_stale, &stale);
        for (size_t i = 0; i < stale.gone_count; i++) {
            sl_topic_t *topic = stale.gone[i];
            for (int32_t p = 0; p < topic->partition_count; p++)
                replica_partition_changed(c, topic, p, NULL);
            int rc = sl__topics_delete(table, topic);
            if (rc != 0) {
                SL_LOG(SL_LOG_ERROR, "cluster", "cannot delete topic topic=%s error=\"%s\"",
                       topic->name, sl_strerror(rc));
                return;
            }
        }
    } while (stale.more);
    for (int32_t i = 0; i < c->image.topic_count; i++)
        reconcile_topic(c, c->image.topics[i]);
}

/* ---- applying the committed log -------------------------------------------------------------- */

static void read_more(sl_cluster_t *c);

static void apply_bytes(sl_cluster_t *c, const uint8_t *bytes, size_t len, bool *changed)
{
    size_t pos = 0;
    while (pos < len && !c->failed) {
        sl_record_batch_t b;
        int rc = sl_record_batch_parse(bytes + pos, len - pos, &b);
        if (rc != 0) {
            SL_LOG(SL_LOG_ERROR, "cluster",
                   "metadata log unreadable at offset=%" PRId64 " error=\"%s\"; the metadata "
                   "image stops here",
                   c->applied_end, sl_strerror(rc));
            c->failed = true;
            return;
        }
        size_t size = sl_record_batch_size(&b);
        int64_t last = b.base_offset + b.last_offset_delta;
        if (last >= c->applied_end) {
            sl_arena_reset(&c->arena);
            int32_t applied = 0;
            rc = sl_metadata_apply_batch(&c->image, bytes + pos, size, &c->arena, &applied);
            if (rc != 0) {
                /* The log and the image disagree: skipping would serve a wrong cluster. */
                SL_LOG(SL_LOG_ERROR, "cluster",
                       "a committed metadata record does not apply: batch offset=%" PRId64
                       " record=%d error=\"%s\"; this node stops applying metadata (it is fenced "
                       "once its heartbeats stop); restart it after inspecting "
                       "__cluster_metadata-0",
                       b.base_offset, (int)applied, sl_strerror(rc));
                c->failed = true;
                return;
            }
            if ((b.attributes & SL_RECORD_BATCH_CONTROL) == 0)
                *changed = true;
            c->applied_end = last + 1;
        }
        pos += size;
    }
}

static void read_done(sl_log_read_t *req, int status, uint8_t *bytes, size_t len, void *data)
{
    (void)req;
    sl_cluster_t *c = data;
    c->reading = false;
    bool changed = false;
    if (status == 0 && !c->stopping)
        apply_bytes(c, bytes, len, &changed);
    else if (status != 0 && status != SL_ECLOSED)
        SL_LOG_RATELIMITED(SL_LOG_WARN, "cluster", "reading the metadata log error=\"%s\"",
                           sl_strerror(status));
    sl_free(bytes);
    if (c->stopping) {
        kick_soon(c);
        return;
    }
    if (changed) {
        reconcile(c);
        alter_schedule(c, 0);
    }
    if (c->applied != NULL)
        c->applied(c->applied_data);
    if (status == 0 && len > 0) {
        read_more(c);
    } else if (status == 0) {
        /* Committed but not yet readable: a follower learns the high watermark in the answer
         * that carries the batches, before its own write of them completes. Try again soon. */
        sl_quorum_status_t st;
        sl_metadata_quorum_status(c->quorum, &st);
        if (st.high_watermark > c->applied_end)
            uv_timer_start(&c->kick, kick_fired, APPLY_RETRY_MS, 0);
    }
}

static void read_more(sl_cluster_t *c)
{
    if (c->reading || c->failed || c->stopping)
        return;
    sl_quorum_status_t st;
    sl_metadata_quorum_status(c->quorum, &st);
    if (st.high_watermark <= c->applied_end)
        return;
    c->reading = true;
    int rc = sl_metadata_quorum_read(c->quorum, &c->read, c->applied_end, APPLY_READ_BYTES,
                                     read_done, c);
    if (rc != 0) {
        c->reading = false;
        SL_LOG_RATELIMITED(SL_LOG_WARN, "cluster",
                           "cannot read the metadata log offset=%" PRId64 " error=\"%s\"",
                           c->applied_end, sl_strerror(rc));
        uv_timer_start(&c->kick, kick_fired, 10 * APPLY_RETRY_MS, 0);
    }
}

static void quorum_changed(void *data)
{
    kick_soon(data);
}

/* ---- membership: registration and heartbeats -------------------------------------------------
 */

static void member_schedule(sl_cluster_t *c, uint64_t ms);

static int32_t controller_target(const sl_cluster_t *c)
{
    sl_quorum_status_t st;
    sl_metadata_quorum_status(c->quorum, &st);
    if (st.leader_id >= 0)
        return st.leader_id;
    /* No leader known: any voter answers NOT_CONTROLLER in the API's own form. */
    return c->broker->cfg->quorum_voters[0].node_id;
}

static void registration_answered(void *data, int status, const void *body)
{
    sl_cluster_t *c = data;
    c->member_in_flight = false;
    if (c->stopping)
        return;
    const sl_broker_registration_response_t *r = body;
    if (status != 0 || r->error_code != SL_KERR_NONE) {
        /* NOT_CONTROLLER: no leader yet, or a stale one; the quorum says who next time */
        if (status != 0 || r->error_code != SL_KERR_NOT_CONTROLLER)
            SL_LOG_RATELIMITED(SL_LOG_INFO, "cluster", "broker registration not accepted: %s",
                               status != 0 ? sl_strerror(status) : sl_kerr_name(r->error_code));
        member_schedule(c, MEMBERSHIP_RETRY_MS);
        return;
    }
    c->broker_epoch = r->broker_epoch;
    c->fenced = true;
    SL_LOG(SL_LOG_INFO, "cluster", "registered with the controller node=%d broker_epoch=%" PRId64,
           (int)c->broker->cfg->node_id, c->broker_epoch);
    member_schedule(c, 0);
}

static int send_registration(sl_cluster_t *c)
{
    const sl_broker_t *broker = c->broker;
    const sl_config_t *cfg = broker->cfg;
    sl_broker_registration_request_listener_t listeners[SL_LISTENERS_MAX];
    int32_t n = 0;
    for (size_t i = 0; i < broker->advertised_count; i++) {
        if (broker->controller_listener[i])
            continue;
        const sl_endpoint_t *ep = &broker->advertised[i];
        listeners[n++] = (sl_broker_registration_request_listener_t){
            .name = sl_slice_from_str(ep->name),
            .host = sl_slice_from_str(ep->host),
            .port = ep->port,
            .security_protocol = (int16_t)cfg->listeners[i].security};
    }
    sl_broker_registration_request_feature_t feature = {
        .name = sl_slice_from_str("metadata.version"),
        .min_supported_version = METADATA_VERSION_MIN,
        .max_supported_version = METADATA_VERSION_MAX};
    sl_broker_registration_request_t req;
    sl_broker_registration_request_init(&req);
    req.broker_id = cfg->node_id;
    req.cluster_id = sl_slice_from_str(broker->cluster_id_text);
    req.incarnation_id = c->incarnation_id;
    req.listeners = listeners;
    req.listeners_count = n;
    req.features = &feature;
    req.features_count = 1;
    req.rack = cfg->broker_rack != NULL ? sl_slice_from_str(cfg->broker_rack) : SL_SLICE_NULL;
    req.log_dirs_count = 0;
    return sl_peers_send(c->peers, controller_target(c), SL_API_BROKER_REGISTRATION, 3, &req,
                         CONTROLLER_REQUEST_TIMEOUT_MS, registration_answered, c);
}

static void heartbeat_answered(void *data, int status, const void *body)
{
    sl_cluster_t *c = data;
    c->member_in_flight = false;
    if (c->stopping)
        return;
    const sl_broker_heartbeat_response_t *r = body;
    uint64_t next = (uint64_t)c->broker->cfg->broker_heartbeat_interval_ms;
    if (status != 0 || r->error_code == SL_KERR_NOT_CONTROLLER) {
        next = MEMBERSHIP_RETRY_MS; /* another controller: found through the quorum */
    } else if (r->error_code == SL_KERR_STALE_BROKER_EPOCH ||
               r->error_code == SL_KERR_BROKER_ID_NOT_REGISTERED) {
        SL_LOG(SL_LOG_INFO, "cluster", "heartbeat refused (%s): registering again",
               sl_kerr_name(r->error_code));
        c->broker_epoch = -1;
        next = 0;
    } else if (r->error_code != SL_KERR_NONE) {
        SL_LOG_RATELIMITED(SL_LOG_WARN, "cluster", "heartbeat refused error=%s",
                           sl_kerr_name(r->error_code));
    } else {
        if (c->fenced != r->is_fenced)
            SL_LOG(SL_LOG_INFO, "cluster", "broker %s by the controller node=%d",
                   r->is_fenced ? "fenced" : "unfenced", (int)c->broker->cfg->node_id);
        c->fenced = r->is_fenced;
    }
    if (c->fenced && next > FENCED_HEARTBEAT_MS)
        next = FENCED_HEARTBEAT_MS;
    member_schedule(c, next);
}

static int send_heartbeat(sl_cluster_t *c)
{
    sl_broker_heartbeat_request_t req;
    sl_broker_heartbeat_request_init(&req);
    req.broker_id = c->broker->cfg->node_id;
    req.broker_epoch = c->broker_epoch;
    req.current_metadata_offset = c->applied_end - 1;
    req.want_fence = c->failed; /* a node whose image stopped must not serve */
    req.want_shut_down = false;
    return sl_peers_send(c->peers, controller_target(c), SL_API_BROKER_HEARTBEAT, 1, &req,
                         CONTROLLER_REQUEST_TIMEOUT_MS, heartbeat_answered, c);
}

static void member_tick(uv_timer_t *timer)
{
    sl_cluster_t *c = timer->data;
    if (c->stopping || c->member_in_flight)
        return;
    int rc = c->broker_epoch < 0 ? send_registration(c) : send_heartbeat(c);
    if (rc == 0) {
        c->member_in_flight = true;
        return;
    }
    SL_LOG_RATELIMITED(SL_LOG_WARN, "cluster", "cannot reach the controller error=\"%s\"",
                       sl_strerror(rc));
    member_schedule(c, MEMBERSHIP_RETRY_MS);
}

static void member_schedule(sl_cluster_t *c, uint64_t ms)
{
    if (!c->stopping)
        uv_timer_start(&c->heartbeat, member_tick, ms, 0);
}

/* ---- AlterPartition: the partitions this node leads, reported to the controller --------------
 * Our partition leaders are elected by the partitions' Raft groups; the image learns of them (and
 * of their ISR) from the leader's AlterPartition. The report is a reconcile: every partition this
 * node leads whose image entry disagrees (leader, epoch = the Raft term, ISR) goes into one
 * request; after an answer, an error or a new image it is checked again, so nothing is lost to a
 * dropped request or a controller change. */

static void alter_schedule(sl_cluster_t *c, uint64_t ms)
{
    if (!c->stopping && !c->alter_in_flight)
        uv_timer_start(&c->alter_timer, alter_check, ms, 0);
}

void sl__cluster_partition_changed(sl_cluster_t *c)
{
    alter_schedule(c, 0);
}

static bool isr_equal(const sl_metadata_replicas_t *isr, const int32_t *ids, int32_t n)
{
    if (isr->count != n)
        return false;
    for (int32_t i = 0; i < n; i++)
        if (!sl_metadata_replicas_contains(isr, ids[i]))
            return false;
    return true;
}

static void alter_answered(void *data, int status, const void *body)
{
    sl_cluster_t *c = data;
    c->alter_in_flight = false;
    if (c->stopping)
        return;
    const sl_alter_partition_response_t *r = body;
    int16_t refused = status == 0 ? r->error_code : SL_KERR_NONE;
    for (int32_t i = 0; status == 0 && refused == SL_KERR_NONE && i < r->topics_count; i++)
        for (int32_t j = 0; refused == SL_KERR_NONE && j < r->topics[i].partitions_count; j++)
            refused = r->topics[i].partitions[j].error_code;
    bool retry = status != 0 || refused != SL_KERR_NONE;
    if (retry)
        SL_LOG_RATELIMITED(SL_LOG_INFO, "cluster", "partition leadership report not taken: %s",
                           status != 0 ? sl_strerror(status) : sl_kerr_name(refused));
    /* accepted: the next image shows it (and triggers a check); refused: look again soon */
    alter_schedule(c, retry ? MEMBERSHIP_RETRY_MS
                            : (uint64_t)c->broker->cfg->broker_heartbeat_interval_ms);
}

static void alter_check(uv_timer_t *timer)
{
    sl_cluster_t *c = timer->data;
    sl_broker_t *broker = c->broker;
    if (c->stopping || c->alter_in_flight || c->broker_epoch < 0 || broker->replicas == NULL ||
        broker->topics == NULL)
        return;
    sl_arena_reset(&c->alter_arena);
    sl_arena_t *a = &c->alter_arena;
    int32_t topics = 0;
    sl_alter_partition_request_topic_data_t *td =
        sl_arena_alloc(a, sizeof(*td) * ((size_t)c->image.topic_count + 1));
    if (td == NULL)
        return;
    for (int32_t i = 0; i < c->image.topic_count; i++) {
        const sl_metadata_topic_t *t = c->image.topics[i];
        sl_topic_t *topic = sl__topics_find_id(broker->topics, &t->id);
        if (topic == NULL)
            continue;
        sl_alter_partition_request_partition_data_t *pd = NULL;
        int32_t n = 0;
        for (int32_t pid = 0; pid < topic->partition_count && pid < t->partition_count; pid++) {
            const sl_partition_t *part = &topic->partitions[pid];
            const sl_metadata_partition_t *mp = sl_metadata_partition_find(t, pid);
            if (part->replica == NULL || mp == NULL)
                continue;
            sl_partition_replica_state_t st;
            sl_partition_replica_state(part->replica, &st);
            if (!st.leader || st.offline ||
                (mp->leader == broker->cfg->node_id && mp->leader_epoch == st.leader_epoch &&
                 isr_equal(&mp->isr, st.isr, st.isr_count)))
                continue;
            if (pd == NULL) {
                pd = sl_arena_alloc(a, sizeof(*pd) * (size_t)topic->partition_count);
                if (pd == NULL)
                    return;
            }
            int32_t *isr = sl_arena_alloc(a, sizeof(int32_t) * (size_t)SL_MAX(st.isr_count, 1));
            if (isr == NULL)
                return;
            memcpy(isr, st.isr, sizeof(int32_t) * (size_t)st.isr_count);
            sl_alter_partition_request_partition_data_init(&pd[n]);
            pd[n].partition_index = pid;
            pd[n].leader_epoch = st.leader_epoch;
            pd[n].new_isr = isr;
            pd[n].new_isr_count = st.isr_count;
            pd[n].partition_epoch = mp->partition_epoch;
            n++;
        }
        if (n == 0)
            continue;
        sl_alter_partition_request_topic_data_init(&td[topics]);
        td[topics].topic_id = t->id;
        td[topics].topic_name = sl_slice_from_str(t->name);
        td[topics].partitions = pd;
        td[topics].partitions_count = n;
        topics++;
    }
    if (topics == 0)
        return;
    sl_alter_partition_request_t req;
    sl_alter_partition_request_init(&req);
    req.broker_id = broker->cfg->node_id;
    req.broker_epoch = c->broker_epoch;
    req.topics = td;
    req.topics_count = topics;
    int rc = sl_peers_send(c->peers, controller_target(c), SL_API_ALTER_PARTITION, 2, &req,
                           CONTROLLER_REQUEST_TIMEOUT_MS, alter_answered, c);
    if (rc == 0)
        c->alter_in_flight = true;
    else
        alter_schedule(c, MEMBERSHIP_RETRY_MS);
}

/* ---- forwarding admin requests to the active controller --------------------------------------
 */

typedef struct {
    sl_request_t *req;
    const void *request; /* decoded, in the request's frame and arena */
} forward_t;

static void forward_answered(void *data, int status, const void *body)
{
    forward_t *f = data;
    sl_request_t *req = f->req;
    int16_t key = req->header.api_key, version = req->header.api_version;
    if (status != 0) {
        SL_LOG_RATELIMITED(SL_LOG_WARN, "cluster",
                           "forwarding %s to the controller failed error=\"%s\"",
                           sl_api_info(key)->name, sl_strerror(status));
        int rc =
            sl__controller_fill_error(req, f->request, req->response, SL_KERR_REQUEST_TIMED_OUT);
        sl__request_finish(req, rc);
        return;
    }
    /* The answer's memory is the peer's until this returns: a copy, through the codec, into the
     * request's arena (which lives until the client's answer is sent). */
    const sl_message_desc_t *desc = sl_api_info(key)->response;
    size_t size = sl_message_size(desc, version, body);
    uint8_t *copy = sl_arena_alloc(&req->arena, SL_MAX(size, 1));
    int rc = copy != NULL ? 0 : SL_ELIMIT;
    sl_writer_t w;
    if (rc == 0) {
        sl_writer_init(&w, copy, size);
        rc = sl_message_encode(desc, &w, version, body);
    }
    if (rc == 0) {
        sl_reader_t r;
        sl_reader_init(&r, copy, size);
        rc = sl_message_decode(desc, &r, &req->arena, version, req->response);
    }
    sl__request_finish(req, rc);
}

int sl__cluster_forward(sl_request_t *req, const void *request)
{
    sl_cluster_t *c = req->broker->cluster;
    forward_t *f = sl_arena_alloc(&req->arena, sizeof(*f));
    if (f == NULL)
        return SL_ELIMIT;
    f->req = req;
    f->request = request;
    int rc =
        sl_peers_send(c->peers, controller_target(c), req->header.api_key, req->header.api_version,
                      request, CONTROLLER_REQUEST_TIMEOUT_MS, forward_answered, f);
    if (rc != 0)
        return rc;
    req->pending = true;
    return 0;
}

bool sl__cluster_route_admin(sl_request_t *req, const void *request, void *response, int *rc)
{
    if (req->broker->controller_listener[req->listener_index]) {
        *rc = sl__controller_handle(req, request, response);
        return true;
    }
    if (req->broker->cluster == NULL)
        return false;
    *rc = sl__cluster_forward(req, request);
    if (*rc != 0) { /* not even queued: the client retries */
        SL_LOG_RATELIMITED(SL_LOG_WARN, "cluster", "cannot forward %s to the controller: %s",
                           sl_api_info(req->header.api_key)->name, sl_strerror(*rc));
        *rc = sl__controller_fill_error(req, request, response, SL_KERR_NOT_CONTROLLER);
    }
    return true;
}

static void auto_create_answered(void *data, int status, const void *body)
{
    (void)data;
    const sl_create_topics_response_t *r = body;
    if (status != 0 || r->topics_count < 1)
        return;
    if (r->topics[0].error_code != SL_KERR_NONE &&
        r->topics[0].error_code != SL_KERR_TOPIC_ALREADY_EXISTS)
        SL_LOG_RATELIMITED(SL_LOG_WARN, "cluster", "cannot auto-create topic=%.*s error=%s",
                           (int)SL_MIN(r->topics[0].name.len, 255),
                           (const char *)r->topics[0].name.ptr,
                           sl_kerr_name(r->topics[0].error_code));
}

/* A CreateTopics of one topic to the active controller, answered through answered(c). */
static int create_topic_send(sl_cluster_t *c, sl_creatable_topic_t *topic,
                             void (*answered)(void *data, int status, const void *body))
{
    sl_create_topics_request_t req;
    sl_create_topics_request_init(&req);
    req.topics = topic;
    req.topics_count = 1;
    req.timeout_ms = CONTROLLER_REQUEST_TIMEOUT_MS;
    return sl_peers_send(c->peers, controller_target(c), SL_API_CREATE_TOPICS, 5, &req,
                         CONTROLLER_REQUEST_TIMEOUT_MS, answered, c);
}

void sl__cluster_auto_create(sl_cluster_t *c, sl_slice_t name)
{
    sl_creatable_topic_t topic;
    sl_creatable_topic_init(&topic);
    topic.name = name;
    topic.num_partitions = -1;
    topic.replication_factor = -1;
    topic.assignments_count = 0;
    topic.configs_count = 0;
    int rc = create_topic_send(c, &topic, auto_create_answered);
    if (rc != 0)
        SL_LOG_RATELIMITED(SL_LOG_WARN, "cluster", "cannot ask for auto-created topic=%.*s: %s",
                           (int)SL_MIN(name.len, 255), (const char *)name.ptr, sl_strerror(rc));
}

static void offsets_create_answered(void *data, int status, const void *body)
{
    sl_cluster_t *c = data;
    c->offsets_create_pending = false;
    auto_create_answered(data, status, body);
}

void sl__cluster_create_offsets_topic(sl_cluster_t *c)
{
    if (c->offsets_create_pending || c->stopping)
        return;
    const sl_config_t *cfg = c->broker->cfg;
    /* As Kafka's broker asks: offsets.topic.replication.factor, capped at the brokers registered
     * (so a development cluster of fewer brokers still gets the topic). */
    int32_t registered = SL_MAX(c->image.broker_count, 1);
    sl_creatable_topic_config_t compact;
    sl_creatable_topic_config_init(&compact);
    compact.name = sl_slice_from_str("cleanup.policy");
    compact.value = sl_slice_from_str("compact");
    sl_creatable_topic_t topic;
    sl_creatable_topic_init(&topic);
    topic.name = sl_slice_from_str(SL_OFFSETS_TOPIC);
    topic.num_partitions = cfg->offsets_topic_num_partitions;
    topic.replication_factor =
        (int16_t)SL_MIN((int32_t)cfg->offsets_topic_replication_factor, registered);
    topic.assignments_count = 0;
    topic.configs = &compact;
    topic.configs_count = 1;
    int rc = create_topic_send(c, &topic, offsets_create_answered);
    if (rc != 0) {
        SL_LOG_RATELIMITED(SL_LOG_WARN, "cluster", "cannot ask for %s: %s", SL_OFFSETS_TOPIC,
                           sl_strerror(rc));
        return;
    }
    c->offsets_create_pending = true;
    SL_LOG(SL_LOG_INFO, "cluster", "asked the controller for %s partitions=%d rf=%d",
           SL_OFFSETS_TOPIC, (int)topic.num_partitions, (int)topic.replication_factor);
}

/* ---- start and stop -------------------------------------------------------------------------- */

static void kick_fired(uv_timer_t *timer)
{
    sl_cluster_t *c = timer->data;
    read_more(c);
    sl__controller_quorum_changed(c->broker);
}

int sl__cluster_start(sl_broker_t *broker)
{
    const sl_config_t *cfg = broker->cfg;
    if (cfg->quorum_voter_count == 0 || broker->quorum == NULL)
        return 0;
    sl_cluster_t *c = sl_calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->broker = broker;
    c->quorum = broker->quorum;
    c->broker_epoch = -1;
    c->fenced = true;
    sl_metadata_image_init(&c->image);
    sl_arena_init(&c->arena, APPLY_ARENA_BYTES);
    int rc = sl_uuid_random(&c->incarnation_id);
    sl_peers_config_t pcfg = {.node_id = cfg->node_id,
                              .reconnect_backoff_ms =
                                  (uint32_t)SL_MAX(cfg->controller_quorum_retry_backoff_ms, 1),
                              .reconnect_backoff_max_ms = 1000};
    if (rc == 0)
        rc = sl_peers_create(broker->loop, &pcfg, &c->peers);
    for (size_t i = 0; rc == 0 && i < cfg->quorum_voter_count; i++)
        rc = sl_peers_set_address(c->peers, cfg->quorum_voters[i].node_id,
                                  cfg->quorum_voters[i].host, cfg->quorum_voters[i].port);
    if (rc != 0) {
        if (c->peers != NULL)
            sl_peers_close(c->peers, NULL, NULL);
        sl_arena_deinit(&c->arena);
        sl_metadata_image_deinit(&c->image);
        sl_free(c);
        return rc;
    }
    uv_timer_init(broker->loop, &c->kick);
    uv_timer_init(broker->loop, &c->heartbeat);
    uv_timer_init(broker->loop, &c->alter_timer);
    c->kick.data = c;
    c->heartbeat.data = c;
    c->alter_timer.data = c;
    sl_arena_init(&c->alter_arena, APPLY_ARENA_BYTES);
    broker->cluster = c;
    sl_metadata_quorum_set_listener(c->quorum, quorum_changed, c);
    rc = sl__controller_start(broker);
    if (rc != 0)
        return rc;
    kick_soon(c);
    if (cfg->process_role_broker)
        member_schedule(c, 0);
    char incarnation[23];
    sl_uuid_to_base64(&c->incarnation_id, incarnation);
    SL_LOG(SL_LOG_INFO, "cluster", "cluster metadata started node=%d incarnation=%s",
           (int)cfg->node_id, incarnation);
    return 0;
}

static void cluster_part_closed(sl_cluster_t *c)
{
    if (--c->closing > 0)
        return;
    void (*done)(void *) = c->stopped;
    void *data = c->stopped_data;
    sl_arena_deinit(&c->arena);
    sl_arena_deinit(&c->alter_arena);
    sl_metadata_image_deinit(&c->image);
    sl_free(c);
    if (done != NULL)
        done(data);
}

static void handle_closed(uv_handle_t *handle)
{
    cluster_part_closed(handle->data);
}

static void peers_closed(void *data)
{
    cluster_part_closed(data);
}

static void controller_stopped(void *data)
{
    cluster_part_closed(data);
}

/* The read in flight (if any) completes first: its request lives in the cluster. */
static void close_when_idle(uv_timer_t *timer)
{
    sl_cluster_t *c = timer->data;
    if (c->reading)
        return;     /* read_done kicks again */
    c->closing = 5; /* kick, heartbeat, alter timer, peers, controller */
    uv_close((uv_handle_t *)&c->kick, handle_closed);
    uv_close((uv_handle_t *)&c->alter_timer, handle_closed);
    uv_close((uv_handle_t *)&c->heartbeat, handle_closed);
    sl_peers_close(c->peers, peers_closed, c);
    sl__controller_stop(c->broker, controller_stopped, c);
}

void sl__cluster_stop(sl_cluster_t *c, void (*done)(void *data), void *data)
{
    c->stopped = done;
    c->stopped_data = data;
    if (c->quorum != NULL)
        sl_metadata_quorum_set_listener(c->quorum, NULL, NULL);
    c->stopping = true;
    uv_timer_stop(&c->heartbeat);
    uv_timer_stop(&c->alter_timer);
    uv_timer_start(&c->kick, close_when_idle, 0, 0);
}
