/* controller: the active controller (see controller.h). A request becomes an op in a queue; the
 * queue runs one op at a time when this node leads and has applied its whole log: the op's
 * decision reads the image, fills the response as if accepted, and its records go to the log as
 * one batch; the response leaves once that batch is applied here. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "broker_int.h"
#include "cluster_metadata.h"
#include "controller.h"
#include "handlers/alter.h"

/* Ops waiting for the controller: past it a request is answered with THROTTLING_QUOTA_EXCEEDED's
 * cousin, REQUEST_TIMED_OUT, at once rather than piling up memory. */
#define CONTROLLER_QUEUE_MAX 4096
/* How often sessions are checked for brokers to fence. */
#define FENCE_CHECK_MS 250
/* Records of one decision (a CreateTopics of many partitions). */
#define DECISION_ARENA_BYTES (32 * SL_MiB)
#define MESSAGE_BYTES 256

typedef struct op op_t;
struct op {
    op_t *next;
    sl_request_t *req; /* NULL: a write of sl__controller_propose or the fencer */
    const void *request;
    void *response;
    sl_buf_t batch; /* a write's records, encoded when queued */
    int32_t record_count;
    sl_controller_write_cb cb;
    void *cb_data;
    int64_t end_offset; /* in flight: applied once the image reaches it */
    int32_t epoch;
};

typedef struct sl_controller {
    sl_broker_t *broker;
    op_t *head, *tail;
    size_t queued;
    op_t *in_flight;
    sl_metadata_sessions_t sessions;
    int32_t sessions_epoch; /* the epoch whose sessions were started; -1 none */
    sl_arena_t arena;       /* the running decision's records */
    uv_timer_t fence_timer;
    bool stopping;
    void (*stopped)(void *data);
    void *stopped_data;
} sl_controller_t;

static sl_controller_t *controller_of(const sl_broker_t *broker)
{
    return broker->controller;
}

/* ---- leadership ---------------------------------------------------------------------------- */

static bool leads(const sl_controller_t *ctl, sl_quorum_status_t *st)
{
    sl_metadata_quorum_status(ctl->broker->quorum, st);
    return st->role == SL_RAFT_LEADER && !st->offline;
}

/* Leads, and has applied everything in its log: decisions see the whole committed past. */
static bool ready(sl_controller_t *ctl, sl_quorum_status_t *st)
{
    if (!leads(ctl, st))
        return false;
    const sl_cluster_t *cluster = ctl->broker->cluster;
    if (sl__cluster_applied_end(cluster) < st->log_end_offset)
        return false;
    if (ctl->sessions_epoch != st->epoch) {
        /* A new controller: every registered broker gets a full session from now (Kafka's
         * BrokerHeartbeatManager starts them at election), then stale ones are fenced. */
        if (sl_metadata_sessions_reset(&ctl->sessions, sl__cluster_image(cluster),
                                       (int64_t)uv_now(ctl->broker->loop)) != 0)
            return false;
        ctl->sessions_epoch = st->epoch;
        SL_LOG(SL_LOG_INFO, "controller", "active controller node=%d epoch=%d brokers=%d",
               (int)ctl->broker->cfg->node_id, (int)st->epoch,
               (int)sl__cluster_image(cluster)->broker_count);
    }
    return true;
}

static sl_metadata_policy_t policy_of(const sl_config_t *cfg)
{
    return (sl_metadata_policy_t){.default_partitions = cfg->num_partitions,
                                  .default_replication_factor = cfg->default_replication_factor,
                                  .unclean_leader_election_enable =
                                      cfg->unclean_leader_election_enable,
                                  .broker_session_timeout_ms = cfg->broker_session_timeout_ms};
}

/* ---- error answers --------------------------------------------------------------------------- */

static sl_slice_t message_of(sl_request_t *req, const char *text)
{
    if (text == NULL || text[0] == '\0')
        return SL_SLICE_NULL;
    return sl_slice_from_str(sl_arena_strndup(&req->arena, text, strlen(text)));
}

int sl__controller_fill_error(sl_request_t *req, const void *request, void *response,
                              sl_kerr_t error)
{
    sl_slice_t msg = sl_slice_from_str(sl_kerr_message(error));
    switch (req->header.api_key) {
    case SL_API_BROKER_REGISTRATION:
        ((sl_broker_registration_response_t *)response)->error_code = error;
        return 0;
    case SL_API_BROKER_HEARTBEAT:
        ((sl_broker_heartbeat_response_t *)response)->error_code = error;
        return 0;
    case SL_API_ALLOCATE_PRODUCER_IDS:
        ((sl_allocate_producer_ids_response_t *)response)->error_code = error;
        return 0;
    case SL_API_ALTER_PARTITION:
        ((sl_alter_partition_response_t *)response)->error_code = error;
        ((sl_alter_partition_response_t *)response)->topics_count = 0;
        return 0;
    case SL_API_CREATE_TOPICS: {
        const sl_create_topics_request_t *in = request;
        sl_create_topics_response_t *out = response;
        int32_t n = SL_MAX(in->topics_count, 0);
        out->topics = sl_arena_alloc(&req->arena, sizeof(*out->topics) * ((size_t)n + 1));
        if (out->topics == NULL)
            return SL_ELIMIT;
        for (int32_t i = 0; i < n; i++)
            out->topics[i] = (sl_creatable_topic_result_t){.name = in->topics[i].name,
                                                           .error_code = error,
                                                           .error_message = msg,
                                                           .num_partitions = -1,
                                                           .replication_factor = -1};
        out->topics_count = n;
        return 0;
    }
    case SL_API_DELETE_TOPICS: {
        const sl_delete_topics_request_t *in = request;
        sl_delete_topics_response_t *out = response;
        bool by_state = req->header.api_version >= 6;
        int32_t n = SL_MAX(by_state ? in->topics_count : in->topic_names_count, 0);
        out->responses = sl_arena_alloc(&req->arena, sizeof(*out->responses) * ((size_t)n + 1));
        if (out->responses == NULL)
            return SL_ELIMIT;
        for (int32_t i = 0; i < n; i++) {
            out->responses[i] = (sl_deletable_topic_result_t){.name = by_state ? in->topics[i].name
                                                                               : in->topic_names[i],
                                                              .error_code = error,
                                                              .error_message = msg};
            if (by_state)
                out->responses[i].topic_id = in->topics[i].topic_id;
        }
        out->responses_count = n;
        return 0;
    }
    case SL_API_CREATE_PARTITIONS: {
        const sl_create_partitions_request_t *in = request;
        sl_create_partitions_response_t *out = response;
        int32_t n = SL_MAX(in->topics_count, 0);
        out->results = sl_arena_alloc(&req->arena, sizeof(*out->results) * ((size_t)n + 1));
        if (out->results == NULL)
            return SL_ELIMIT;
        for (int32_t i = 0; i < n; i++)
            out->results[i] = (sl_create_partitions_topic_result_t){
                .name = in->topics[i].name, .error_code = error, .error_message = msg};
        out->results_count = n;
        return 0;
    }
    case SL_API_INCREMENTAL_ALTER_CONFIGS: {
        const sl_incremental_alter_configs_request_t *in = request;
        sl_incremental_alter_configs_response_t *out = response;
        int32_t n = SL_MAX(in->resources_count, 0);
        out->responses = sl_arena_alloc(&req->arena, sizeof(*out->responses) * ((size_t)n + 1));
        if (out->responses == NULL)
            return SL_ELIMIT;
        for (int32_t i = 0; i < n; i++)
            out->responses[i] =
                (sl_incremental_alter_configs_response_alter_configs_resource_response_t){
                    .error_code = error,
                    .error_message = msg,
                    .resource_type = in->resources[i].resource_type,
                    .resource_name = in->resources[i].resource_name};
        out->responses_count = n;
        return 0;
    }
    case SL_API_ALTER_CONFIGS: {
        const sl_alter_configs_request_t *in = request;
        sl_alter_configs_response_t *out = response;
        int32_t n = SL_MAX(in->resources_count, 0);
        out->responses = sl_arena_alloc(&req->arena, sizeof(*out->responses) * ((size_t)n + 1));
        if (out->responses == NULL)
            return SL_ELIMIT;
        for (int32_t i = 0; i < n; i++)
            out->responses[i] = (sl_alter_configs_response_alter_configs_resource_response_t){
                .error_code = error,
                .error_message = msg,
                .resource_type = in->resources[i].resource_type,
                .resource_name = in->resources[i].resource_name};
        out->responses_count = n;
        return 0;
    }
    default:
        return SL_EUNSUPPORTED;
    }
}

/* ---- the decisions, one per API -------------------------------------------------------------- */

typedef struct {
    sl_controller_t *ctl;
    sl_request_t *req;
    const sl_metadata_image_t *img;
    sl_metadata_policy_t policy;
    sl_metadata_records_t *out;
    int64_t now_ms;
    int64_t log_end_offset;
    bool validate_only;
} decide_t;

static uint32_t random_seed(void)
{
    sl_uuid_t u;
    if (sl_uuid_random(&u) != 0)
        return 0;
    uint32_t seed;
    memcpy(&seed, u.bytes, sizeof(seed));
    return seed;
}

/* Partition leaders and ISRs come from the partitions' Raft groups (AlterPartition) only: the
 * PartitionChangeRecords a registration or heartbeat decision adds (a re-registered broker leaving
 * its ISRs, an unfenced one taking offline partitions) are dropped, since a leader epoch the
 * controller bumps on its own would run ahead of the Raft term clients must send. */
static void keep_broker_records(sl_metadata_records_t *out, size_t from)
{
    size_t kept = from;
    for (size_t i = from; i < out->count; i++)
        if (out->items[i].type != SL_METADATA_RECORD_PARTITION_CHANGE)
            out->items[kept++] = out->items[i];
    out->count = kept;
}

static int decide_registration(decide_t *d, const sl_broker_registration_request_t *in,
                               sl_broker_registration_response_t *out)
{
    sl_request_t *req = d->req;
    int32_t ne = SL_MAX(in->listeners_count, 0), nf = SL_MAX(in->features_count, 0);
    sl_metadata_endpoint_t *eps = sl_arena_alloc(&req->arena, sizeof(*eps) * ((size_t)ne + 1));
    sl_metadata_feature_range_t *fs = sl_arena_alloc(&req->arena, sizeof(*fs) * ((size_t)nf + 1));
    if (eps == NULL || fs == NULL)
        return SL_ELIMIT;
    for (int32_t i = 0; i < ne; i++) {
        const sl_broker_registration_request_listener_t *l = &in->listeners[i];
        eps[i] = (sl_metadata_endpoint_t){
            .name = sl_arena_strndup(&req->arena, (const char *)l->name.ptr, l->name.len),
            .host = sl_arena_strndup(&req->arena, (const char *)l->host.ptr, l->host.len),
            .port = l->port,
            .security_protocol = l->security_protocol};
        if (eps[i].name == NULL || eps[i].host == NULL)
            return SL_ELIMIT;
    }
    for (int32_t i = 0; i < nf; i++) {
        const sl_broker_registration_request_feature_t *f = &in->features[i];
        fs[i] = (sl_metadata_feature_range_t){
            .name = sl_arena_strndup(&req->arena, (const char *)f->name.ptr, f->name.len),
            .min_supported_version = f->min_supported_version,
            .max_supported_version = f->max_supported_version};
        if (fs[i].name == NULL)
            return SL_ELIMIT;
    }
    char *rack = in->rack.ptr != NULL
                     ? sl_arena_strndup(&req->arena, (const char *)in->rack.ptr, in->rack.len)
                     : NULL;
    sl_metadata_broker_registration_t reg = {
        .broker_id = in->broker_id,
        .incarnation_id = in->incarnation_id,
        .endpoints = eps,
        .endpoint_count = ne,
        .features = fs,
        .feature_count = nf,
        .rack = rack,
        .log_dirs = in->log_dirs,
        .log_dir_count = SL_MAX(in->log_dirs_count, 0),
        .broker_epoch = d->log_end_offset,
    };
    size_t mark = d->out->count;
    sl_metadata_result_t r =
        sl_metadata_register_broker(d->img, &d->ctl->sessions, &d->policy, &reg, d->now_ms, d->out);
    keep_broker_records(d->out, mark);
    out->error_code = r.error;
    out->broker_epoch = r.error == SL_KERR_NONE ? d->log_end_offset : -1;
    if (r.error != SL_KERR_NONE)
        SL_LOG_RATELIMITED(SL_LOG_INFO, "controller", "registration refused broker=%d error=%s %s",
                           (int)in->broker_id, sl_kerr_name(r.error), r.message);
    else
        SL_LOG(SL_LOG_INFO, "controller", "registering broker=%d broker_epoch=%" PRId64,
               (int)in->broker_id, d->log_end_offset);
    return 0;
}

static int decide_heartbeat(decide_t *d, const sl_broker_heartbeat_request_t *in,
                            sl_broker_heartbeat_response_t *out)
{
    sl_metadata_heartbeat_t hb = {.broker_id = in->broker_id,
                                  .broker_epoch = in->broker_epoch,
                                  .current_metadata_offset = in->current_metadata_offset,
                                  .want_fence = in->want_fence,
                                  .want_shut_down = in->want_shut_down};
    sl_metadata_heartbeat_reply_t reply;
    size_t mark = d->out->count;
    sl_metadata_result_t r = sl_metadata_broker_heartbeat(d->img, &d->ctl->sessions, &d->policy,
                                                          &hb, d->now_ms, d->out, &reply);
    keep_broker_records(d->out, mark);
    out->error_code = r.error;
    out->is_caught_up = reply.is_caught_up;
    out->is_fenced = reply.is_fenced;
    out->should_shut_down = reply.should_shut_down;
    return 0;
}

static int decide_producer_ids(decide_t *d, const sl_allocate_producer_ids_request_t *in,
                               sl_allocate_producer_ids_response_t *out)
{
    int64_t first = -1;
    sl_metadata_result_t r =
        sl_metadata_allocate_producer_ids(d->img, in->broker_id, in->broker_epoch, d->out, &first);
    out->error_code = r.error;
    out->producer_id_start = r.error == SL_KERR_NONE ? first : -1;
    out->producer_id_len = r.error == SL_KERR_NONE ? SL_METADATA_PRODUCER_ID_BLOCK_SIZE : 0;
    return 0;
}

/* AlterPartition from a partition's Raft leader (our partitions are Raft groups: the leader is
 * whoever the group elected, its Raft term is the partition leader epoch clients must use). A
 * report in a newer term makes the sender the leader, and brings the image's leader epoch up to
 * that term (replay bumps it by one per leader change, so term - epoch changes are written in one
 * batch); a report in the current term from the current leader changes the ISR; anything older
 * is FENCED_LEADER_EPOCH. The ISR must hold the leader and only replicas. */
static sl_kerr_t decide_raft_leader(decide_t *d, int32_t sender, const sl_metadata_topic_t *t,
                                    int32_t pid,
                                    const sl_alter_partition_request_partition_data_t *in,
                                    sl_alter_partition_response_partition_data_t *o)
{
    const sl_metadata_partition_t *p = sl_metadata_partition_find(t, pid);
    if (p == NULL)
        return SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (!sl_metadata_replicas_contains(&p->replicas, sender))
        return SL_KERR_NOT_LEADER_OR_FOLLOWER;
    int32_t n = SL_MAX(in->new_isr_count, 0);
    bool has_leader = false;
    for (int32_t i = 0; i < n; i++) {
        if (!sl_metadata_replicas_contains(&p->replicas, in->new_isr[i]))
            return SL_KERR_INVALID_REQUEST;
        for (int32_t j = 0; j < i; j++)
            if (in->new_isr[j] == in->new_isr[i])
                return SL_KERR_INVALID_REQUEST;
        has_leader |= in->new_isr[i] == sender;
    }
    if (!has_leader)
        return SL_KERR_INVALID_REQUEST;
    int32_t term = in->leader_epoch, epoch = p->leader_epoch;
    if (term < epoch || (term == epoch && p->leader != sender))
        return SL_KERR_FENCED_LEADER_EPOCH;
    bool same_isr = n == p->isr.count;
    for (int32_t i = 0; i < n && same_isr; i++)
        same_isr = sl_metadata_replicas_contains(&p->isr, in->new_isr[i]);
    int32_t changes = term > epoch ? term - epoch : (same_isr ? 0 : 1);
    if (changes > SL_METADATA_REPLICAS_MAX * 16)
        return SL_KERR_INVALID_REQUEST; /* an epoch jump no election makes */
    for (int32_t k = 0; k < changes; k++) {
        sl_metadata_record_t *rec =
            sl_metadata_records_add(d->out, SL_METADATA_RECORD_PARTITION_CHANGE);
        if (rec == NULL)
            return SL_KERR_REQUEST_TIMED_OUT;
        sl_partition_change_record_t *c = &rec->u.partition_change;
        c->topic_id = t->id;
        c->partition_id = pid;
        c->leader = term > epoch ? sender : SL_METADATA_NO_LEADER_CHANGE;
        if (k == changes - 1) {
            c->isr = in->new_isr;
            c->isr_count = n;
        }
    }
    o->leader_id = sender;
    o->leader_epoch = term;
    o->isr = in->new_isr;
    o->isr_count = n;
    o->partition_epoch = p->partition_epoch + changes;
    return SL_KERR_NONE;
}

static int decide_alter_partition(decide_t *d, const sl_alter_partition_request_t *in,
                                  sl_alter_partition_response_t *out)
{
    sl_request_t *req = d->req;
    const sl_metadata_broker_t *b = sl_metadata_broker_find(d->img, in->broker_id);
    out->error_code = SL_KERR_NONE;
    if (b == NULL || b->epoch != in->broker_epoch) {
        out->error_code = b == NULL ? SL_KERR_BROKER_ID_NOT_REGISTERED : SL_KERR_STALE_BROKER_EPOCH;
        out->topics_count = 0;
        return 0;
    }
    size_t nt = (size_t)SL_MAX(in->topics_count, 0);
    out->topics = sl_arena_alloc(&req->arena, (nt + 1) * sizeof(*out->topics));
    if (out->topics == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < nt; i++) {
        const sl_alter_partition_request_topic_data_t *ti = &in->topics[i];
        const sl_metadata_topic_t *t = req->header.api_version >= 2
                                           ? sl_metadata_topic_find_id(d->img, &ti->topic_id)
                                           : sl_metadata_topic_find(d->img, ti->topic_name);
        size_t np = (size_t)SL_MAX(ti->partitions_count, 0);
        sl_alter_partition_response_topic_data_t *to = &out->topics[i];
        *to = (sl_alter_partition_response_topic_data_t){.topic_name = ti->topic_name,
                                                         .topic_id = ti->topic_id};
        to->partitions = sl_arena_alloc(&req->arena, (np + 1) * sizeof(*to->partitions));
        if (to->partitions == NULL)
            return SL_ELIMIT;
        for (size_t j = 0; j < np; j++) {
            const sl_alter_partition_request_partition_data_t *pi = &ti->partitions[j];
            sl_alter_partition_response_partition_data_t *po = &to->partitions[j];
            *po = (sl_alter_partition_response_partition_data_t){
                .partition_index = pi->partition_index, .leader_id = -1, .leader_epoch = -1};
            bool repeated = false; /* one change per partition and request */
            for (size_t k = 0; k < j && !repeated; k++)
                repeated = ti->partitions[k].partition_index == pi->partition_index;
            size_t mark = d->out->count;
            po->error_code =
                t == NULL  ? (req->header.api_version >= 2 ? SL_KERR_UNKNOWN_TOPIC_ID
                                                           : SL_KERR_UNKNOWN_TOPIC_OR_PARTITION)
                : repeated ? SL_KERR_INVALID_REQUEST
                           : decide_raft_leader(d, in->broker_id, t, pi->partition_index, pi, po);
            if (po->error_code != SL_KERR_NONE)
                d->out->count = mark;
        }
        to->partitions_count = (int32_t)np;
    }
    out->topics_count = (int32_t)nt;
    return 0;
}

/* Kafka's '.'/'_' collision between two names of one request (the image's are the decision's). */
static bool names_collide(sl_slice_t a, sl_slice_t b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        uint8_t x = a.ptr[i] == '.' ? '_' : a.ptr[i], y = b.ptr[i] == '.' ? '_' : b.ptr[i];
        if (x != y)
            return false;
    }
    return true;
}

static sl_kerr_t check_topic_configs(const sl_creatable_topic_t *t, char *msg, size_t len)
{
    for (int32_t i = 0; i < t->configs_count; i++) {
        char key[SL_CONFIG_NAME_BYTES_MAX], value[SL_CONFIG_VALUE_BYTES_MAX];
        sl_slice_t k = t->configs[i].name, v = t->configs[i].value;
        if (v.ptr == NULL) {
            snprintf(msg, len, "Null value not supported for topic configs: %.*s",
                     (int)SL_MIN(k.len, 200), (const char *)k.ptr);
            return SL_KERR_INVALID_REQUEST;
        }
        if (k.len >= sizeof(key) || v.len >= sizeof(value) || memchr(k.ptr, '\0', k.len) ||
            memchr(v.ptr, '\0', v.len)) {
            snprintf(msg, len, "Invalid config name or value.");
            return SL_KERR_INVALID_CONFIG;
        }
        memcpy(key, k.ptr, k.len);
        key[k.len] = '\0';
        memcpy(value, v.ptr, v.len);
        value[v.len] = '\0';
        if (sl_topic_config_validate(key, value, msg, len) != 0)
            return SL_KERR_INVALID_CONFIG;
        for (int32_t j = 0; j < i; j++)
            if (sl_slice_eq(t->configs[j].name, k)) {
                snprintf(msg, len, "Config %.200s is set more than once.", key);
                return SL_KERR_INVALID_REQUEST;
            }
    }
    return SL_KERR_NONE;
}

static int decide_create_topics(decide_t *d, const sl_create_topics_request_t *in,
                                sl_create_topics_response_t *out)
{
    sl_request_t *req = d->req;
    size_t count = (size_t)SL_MAX(in->topics_count, 0);
    sl_creatable_topic_result_t *results =
        sl_arena_alloc(&req->arena, (count + 1) * sizeof(*results));
    sl_slice_t *names = sl_arena_alloc(&req->arena, (count + 1) * sizeof(*names));
    sl_slice_t *accepted = sl_arena_alloc(&req->arena, (count + 1) * sizeof(*accepted));
    if (results == NULL || names == NULL || accepted == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < count; i++)
        names[i] = in->topics[i].name;
    const uint8_t *repeats = sl__alter_repeated(req, NULL, names, count);
    if (repeats == NULL)
        return SL_ELIMIT;
    size_t answered = 0, accepted_count = 0;
    for (size_t i = 0; i < count; i++) {
        if (repeats[i] == SL_ALTER_AGAIN)
            continue;
        const sl_creatable_topic_t *t = &in->topics[i];
        sl_creatable_topic_result_t *o = &results[answered++];
        *o = (sl_creatable_topic_result_t){.name = t->name,
                                           .num_partitions = -1,
                                           .replication_factor = -1,
                                           .error_message = SL_SLICE_NULL};
        char msg[MESSAGE_BYTES] = "";
        sl_kerr_t err = SL_KERR_NONE;
        if (repeats[i] == SL_ALTER_FIRST) {
            snprintf(msg, sizeof(msg), "Duplicate topic name.");
            err = SL_KERR_INVALID_REQUEST;
        }
        for (size_t a = 0; err == SL_KERR_NONE && a < accepted_count; a++)
            if (names_collide(accepted[a], t->name)) {
                snprintf(msg, sizeof(msg), "Topic '%.*s' collides with existing topic: %.*s",
                         (int)SL_MIN(t->name.len, 249), (const char *)t->name.ptr,
                         (int)SL_MIN(accepted[a].len, 249), (const char *)accepted[a].ptr);
                err = SL_KERR_INVALID_TOPIC_EXCEPTION;
            }
        if (err == SL_KERR_NONE && t->assignments_count > 0 &&
            (t->num_partitions != -1 || t->replication_factor != -1)) {
            snprintf(msg, sizeof(msg),
                     "Both numPartitions or replicationFactor and replicasAssignments were set. "
                     "Both cannot be used at the same time.");
            err = SL_KERR_INVALID_REQUEST;
        }
        if (err == SL_KERR_NONE)
            err = check_topic_configs(t, msg, sizeof(msg));
        int32_t na = SL_MAX(t->assignments_count, 0);
        sl_metadata_replicas_t *assign =
            sl_arena_alloc(&req->arena, sizeof(*assign) * ((size_t)na + 1));
        sl_metadata_config_entry_t *configs = sl_arena_alloc(
            &req->arena, sizeof(*configs) * ((size_t)SL_MAX(t->configs_count, 0) + 1));
        if (assign == NULL || configs == NULL)
            return SL_ELIMIT;
        for (int32_t a = 0; err == SL_KERR_NONE && a < na; a++) {
            if (t->assignments[a].partition_index != a) {
                snprintf(msg, sizeof(msg),
                         "Partitions must be numbered 0.. in order in replicasAssignments.");
                err = SL_KERR_INVALID_REPLICA_ASSIGNMENT;
            }
            assign[a] =
                (sl_metadata_replicas_t){.ids = t->assignments[a].broker_ids,
                                         .count = SL_MAX(t->assignments[a].broker_ids_count, 0)};
        }
        for (int32_t c = 0; err == SL_KERR_NONE && c < t->configs_count; c++) {
            configs[c].name = sl_arena_strndup(&req->arena, (const char *)t->configs[c].name.ptr,
                                               t->configs[c].name.len);
            configs[c].value = sl_arena_strndup(&req->arena, (const char *)t->configs[c].value.ptr,
                                                t->configs[c].value.len);
            if (configs[c].name == NULL || configs[c].value == NULL)
                return SL_ELIMIT;
        }
        if (err == SL_KERR_NONE) {
            sl_metadata_create_topic_t ct = {.name = t->name,
                                             .partition_count = na > 0 ? -1 : t->num_partitions,
                                             .replication_factor =
                                                 na > 0 ? -1 : t->replication_factor,
                                             .assignments = na > 0 ? assign : NULL,
                                             .assignment_count = na,
                                             .configs = configs,
                                             .config_count = SL_MAX(t->configs_count, 0)};
            if (sl_uuid_random(&ct.topic_id) != 0)
                return -EIO;
            size_t mark = d->out->count;
            sl_metadata_result_t r =
                sl_metadata_create_topic(d->img, &d->policy, &ct, random_seed(), d->out);
            err = r.error;
            snprintf(msg, sizeof(msg), "%s", r.message);
            if (err == SL_KERR_NONE) {
                accepted[accepted_count++] = t->name;
                o->topic_id = ct.topic_id;
                /* the shape as decided: the PartitionRecords just written */
                int32_t parts = 0;
                int16_t rf = -1;
                for (size_t k = mark; k < d->out->count; k++)
                    if (d->out->items[k].type == SL_METADATA_RECORD_PARTITION) {
                        parts++;
                        rf = (int16_t)d->out->items[k].u.partition.replicas_count;
                    }
                o->num_partitions = parts;
                o->replication_factor = rf;
                if (d->validate_only)
                    d->out->count = mark;
            } else {
                d->out->count = mark;
            }
        }
        o->error_code = err;
        if (err != SL_KERR_NONE)
            o->error_message = message_of(req, msg);
        else if (req->header.api_version >= 5)
            o->configs_count = 0; /* the created configs: DescribeConfigs gives them */
    }
    out->throttle_time_ms = 0;
    out->topics = results;
    out->topics_count = (int32_t)answered;
    return 0;
}

static int decide_delete_topics(decide_t *d, const sl_delete_topics_request_t *in,
                                sl_delete_topics_response_t *out)
{
    sl_request_t *req = d->req;
    bool by_state = req->header.api_version >= 6;
    size_t n = (size_t)SL_MAX(by_state ? in->topics_count : in->topic_names_count, 0);
    sl_deletable_topic_result_t *results = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*results));
    const sl_metadata_topic_t **deleted = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*deleted));
    if (results == NULL || deleted == NULL)
        return SL_ELIMIT;
    size_t deleted_count = 0;
    for (size_t i = 0; i < n; i++) {
        sl_slice_t name = by_state ? in->topics[i].name : in->topic_names[i];
        sl_deletable_topic_result_t *o = &results[i];
        *o = (sl_deletable_topic_result_t){.name = name, .error_message = SL_SLICE_NULL};
        const sl_metadata_topic_t *t =
            name.ptr != NULL ? sl_metadata_topic_find(d->img, name)
                             : sl_metadata_topic_find_id(d->img, &in->topics[i].topic_id);
        if (by_state)
            o->topic_id = in->topics[i].topic_id;
        if (!req->broker->cfg->delete_topic_enable) {
            o->error_code = SL_KERR_TOPIC_DELETION_DISABLED;
            continue;
        }
        if (t == NULL) {
            o->error_code =
                name.ptr != NULL ? SL_KERR_UNKNOWN_TOPIC_OR_PARTITION : SL_KERR_UNKNOWN_TOPIC_ID;
            o->error_message = sl_slice_from_str(sl_kerr_message(o->error_code));
            continue;
        }
        o->name = message_of(req, t->name);
        o->topic_id = t->id;
        bool again = false; /* named twice: one RemoveTopicRecord */
        for (size_t k = 0; k < deleted_count && !again; k++)
            again = deleted[k] == t;
        if (again)
            continue;
        sl_metadata_result_t r =
            sl_metadata_delete_topic(d->img, sl_slice_from_str(t->name), d->out);
        o->error_code = r.error;
        if (r.error == SL_KERR_NONE)
            deleted[deleted_count++] = t;
        else
            o->error_message = message_of(req, r.message);
    }
    out->throttle_time_ms = 0;
    out->responses = results;
    out->responses_count = (int32_t)n;
    return 0;
}

static int decide_create_partitions(decide_t *d, const sl_create_partitions_request_t *in,
                                    sl_create_partitions_response_t *out)
{
    sl_request_t *req = d->req;
    size_t n = (size_t)SL_MAX(in->topics_count, 0);
    sl_create_partitions_topic_result_t *results =
        sl_arena_alloc(&req->arena, (n + 1) * sizeof(*results));
    sl_slice_t *names = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*names));
    if (results == NULL || names == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < n; i++)
        names[i] = in->topics[i].name;
    const uint8_t *repeats = sl__alter_repeated(req, NULL, names, n);
    if (repeats == NULL)
        return SL_ELIMIT;
    size_t answered = 0;
    for (size_t i = 0; i < n; i++) {
        if (repeats[i] == SL_ALTER_AGAIN)
            continue;
        const sl_create_partitions_topic_t *t = &in->topics[i];
        sl_create_partitions_topic_result_t *o = &results[answered++];
        *o = (sl_create_partitions_topic_result_t){.name = t->name, .error_message = SL_SLICE_NULL};
        if (repeats[i] == SL_ALTER_FIRST) {
            o->error_code = SL_KERR_INVALID_REQUEST;
            o->error_message = sl_slice_from_str("Duplicate topic in request.");
            continue;
        }
        int32_t na = SL_MAX(t->assignments_count, 0);
        sl_metadata_replicas_t *assign =
            sl_arena_alloc(&req->arena, sizeof(*assign) * ((size_t)na + 1));
        if (assign == NULL)
            return SL_ELIMIT;
        for (int32_t a = 0; a < na; a++)
            assign[a] =
                (sl_metadata_replicas_t){.ids = t->assignments[a].broker_ids,
                                         .count = SL_MAX(t->assignments[a].broker_ids_count, 0)};
        size_t mark = d->out->count;
        sl_metadata_result_t r = sl_metadata_create_partitions(
            d->img, t->name, t->count, na > 0 ? assign : NULL, na, random_seed(), d->out);
        o->error_code = r.error;
        if (r.error != SL_KERR_NONE) {
            o->error_message = message_of(req, r.message);
            d->out->count = mark;
        } else if (d->validate_only) {
            d->out->count = mark;
        }
    }
    out->throttle_time_ms = 0;
    out->results = results;
    out->results_count = (int32_t)answered;
    return 0;
}

/* One topic's config change: ConfigRecords for what changes, after every check. replace: the
 * given entries are the whole new set (AlterConfigs); else SET/DELETE (IncrementalAlterConfigs;
 * APPEND and SUBTRACT of list configs are refused in quorum mode for now). */
typedef struct {
    sl_slice_t name, value; /* value.ptr NULL: delete */
    int8_t op;
} config_change_t;

static sl_kerr_t decide_topic_configs(decide_t *d, sl_slice_t topic, const config_change_t *ch,
                                      size_t n, bool replace, char *msg, size_t len)
{
    const sl_metadata_topic_t *t = sl_metadata_topic_find(d->img, topic);
    if (t == NULL) {
        snprintf(msg, len, "Topic %.*s does not exist.", (int)SL_MIN(topic.len, 249),
                 (const char *)topic.ptr);
        return SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    for (size_t i = 0; i < n; i++) {
        char key[SL_CONFIG_NAME_BYTES_MAX], value[SL_CONFIG_VALUE_BYTES_MAX];
        if (ch[i].op == SL_ALTER_APPEND || ch[i].op == SL_ALTER_SUBTRACT) {
            snprintf(msg, len, "APPEND and SUBTRACT are not supported for topic configs yet.");
            return SL_KERR_INVALID_REQUEST;
        }
        if (ch[i].op != SL_ALTER_SET && ch[i].op != SL_ALTER_DELETE) {
            snprintf(msg, len, "Unknown config operation %d.", (int)ch[i].op);
            return SL_KERR_INVALID_REQUEST;
        }
        if (ch[i].name.len >= sizeof(key) || ch[i].value.len >= sizeof(value) ||
            memchr(ch[i].name.ptr, '\0', ch[i].name.len) != NULL) {
            snprintf(msg, len, "Invalid config name or value.");
            return SL_KERR_INVALID_CONFIG;
        }
        memcpy(key, ch[i].name.ptr, ch[i].name.len);
        key[ch[i].name.len] = '\0';
        if (sl_topic_config_key_find(key) == NULL) {
            snprintf(msg, len, "Unknown topic config name: %.200s", key);
            return SL_KERR_INVALID_CONFIG;
        }
        if (ch[i].op == SL_ALTER_SET) {
            if (ch[i].value.ptr == NULL) {
                snprintf(msg, len, "Null value not supported for : %.200s", key);
                return SL_KERR_INVALID_REQUEST;
            }
            memcpy(value, ch[i].value.ptr, ch[i].value.len);
            value[ch[i].value.len] = '\0';
            if (sl_topic_config_validate(key, value, msg, len) != 0)
                return SL_KERR_INVALID_CONFIG;
        }
        for (size_t j = 0; j < i; j++)
            if (sl_slice_eq(ch[j].name, ch[i].name)) {
                snprintf(msg, len, "Config %.200s is set more than once.", key);
                return SL_KERR_INVALID_REQUEST;
            }
    }
    if (d->validate_only)
        return SL_KERR_NONE;
    size_t mark = d->out->count;
    /* AlterConfigs: every override not named goes */
    for (int32_t i = 0; replace && i < d->img->config_count; i++) {
        const sl_metadata_config_t *cf = &d->img->configs[i];
        if (cf->resource_type != SL_METADATA_CONFIG_TOPIC ||
            !sl_slice_eq_str(topic, cf->resource_name))
            continue;
        bool kept = false;
        for (size_t j = 0; j < n && !kept; j++)
            kept = sl_slice_eq_str(ch[j].name, cf->name);
        if (kept)
            continue;
        sl_metadata_record_t *rec = sl_metadata_records_add(d->out, SL_METADATA_RECORD_CONFIG);
        if (rec == NULL)
            goto full;
        rec->u.config.resource_type = SL_METADATA_CONFIG_TOPIC;
        rec->u.config.resource_name = sl_slice_from_str(cf->resource_name);
        rec->u.config.name = sl_slice_from_str(cf->name);
        rec->u.config.value = SL_SLICE_NULL;
    }
    for (size_t i = 0; i < n; i++) {
        sl_metadata_record_t *rec = sl_metadata_records_add(d->out, SL_METADATA_RECORD_CONFIG);
        if (rec == NULL)
            goto full;
        rec->u.config.resource_type = SL_METADATA_CONFIG_TOPIC;
        rec->u.config.resource_name = sl_slice_from_str(t->name);
        rec->u.config.name = ch[i].name;
        rec->u.config.value = ch[i].op == SL_ALTER_DELETE ? SL_SLICE_NULL : ch[i].value;
    }
    return SL_KERR_NONE;
full:
    d->out->count = mark;
    snprintf(msg, len, "Too many config changes at once.");
    return SL_KERR_POLICY_VIOLATION;
}

/* One resource of AlterConfigs or IncrementalAlterConfigs, and what the decision answers. */
typedef struct {
    int8_t type;
    sl_slice_t name;
    config_change_t *changes;
    size_t change_count;
    sl_kerr_t error;
    sl_slice_t message;
} config_resource_t;

/* Both config APIs once their resources are in one form: topics decided, broker resources
 * refused (in a cluster a broker's own configs are changed through that broker). */
static int decide_config_resources(decide_t *d, config_resource_t *res, size_t n, bool replace)
{
    sl_request_t *req = d->req;
    int8_t *types = sl_arena_alloc(&req->arena, n + 1);
    sl_slice_t *names = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*names));
    if (types == NULL || names == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < n; i++) {
        types[i] = res[i].type;
        names[i] = res[i].name;
    }
    const uint8_t *repeats = sl__alter_repeated(req, types, names, n);
    if (repeats == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < n; i++) {
        char msg[MESSAGE_BYTES] = "";
        if (repeats[i] != SL_ALTER_UNIQUE) {
            res[i].error = SL_KERR_INVALID_REQUEST;
            snprintf(msg, sizeof(msg), "Duplicate resource in request.");
        } else if (res[i].type != SL_METADATA_CONFIG_TOPIC) {
            res[i].error = SL_KERR_INVALID_REQUEST;
            snprintf(msg, sizeof(msg),
                     "In a cluster, broker configs are changed through the broker itself.");
        } else {
            res[i].error = decide_topic_configs(d, res[i].name, res[i].changes, res[i].change_count,
                                                replace, msg, sizeof(msg));
        }
        res[i].message = res[i].error != SL_KERR_NONE ? message_of(req, msg) : SL_SLICE_NULL;
    }
    return 0;
}

static config_resource_t *config_resources(sl_request_t *req, size_t n)
{
    config_resource_t *res = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*res));
    if (res != NULL)
        memset(res, 0, (n + 1) * sizeof(*res));
    return res;
}

static config_change_t *config_changes(sl_request_t *req, int32_t count, size_t *n)
{
    *n = (size_t)SL_MAX(count, 0);
    if (*n > SL_ALTER_OPS_MAX)
        return NULL;
    return sl_arena_alloc(&req->arena, (*n + 1) * sizeof(config_change_t));
}

static int decide_incremental_configs(decide_t *d, const sl_incremental_alter_configs_request_t *in,
                                      sl_incremental_alter_configs_response_t *out)
{
    size_t n = (size_t)SL_MAX(in->resources_count, 0);
    config_resource_t *res = config_resources(d->req, n);
    out->responses = sl_arena_alloc(&d->req->arena, (n + 1) * sizeof(*out->responses));
    if (res == NULL || out->responses == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < n; i++) {
        const sl_incremental_alter_configs_request_alter_configs_resource_t *r = &in->resources[i];
        res[i].type = r->resource_type;
        res[i].name = r->resource_name;
        res[i].changes = config_changes(d->req, r->configs_count, &res[i].change_count);
        if (res[i].changes == NULL)
            return SL_EMALFORMED;
        for (size_t c = 0; c < res[i].change_count; c++)
            res[i].changes[c] = (config_change_t){.name = r->configs[c].name,
                                                  .value = r->configs[c].value,
                                                  .op = r->configs[c].config_operation};
    }
    int rc = decide_config_resources(d, res, n, false);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        out->responses[i] =
            (sl_incremental_alter_configs_response_alter_configs_resource_response_t){
                .error_code = res[i].error,
                .error_message = res[i].message,
                .resource_type = res[i].type,
                .resource_name = res[i].name};
    out->responses_count = (int32_t)n;
    return 0;
}

static int decide_alter_configs(decide_t *d, const sl_alter_configs_request_t *in,
                                sl_alter_configs_response_t *out)
{
    size_t n = (size_t)SL_MAX(in->resources_count, 0);
    config_resource_t *res = config_resources(d->req, n);
    out->responses = sl_arena_alloc(&d->req->arena, (n + 1) * sizeof(*out->responses));
    if (res == NULL || out->responses == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < n; i++) {
        const sl_alter_configs_request_alter_configs_resource_t *r = &in->resources[i];
        res[i].type = r->resource_type;
        res[i].name = r->resource_name;
        res[i].changes = config_changes(d->req, r->configs_count, &res[i].change_count);
        if (res[i].changes == NULL)
            return SL_EMALFORMED;
        for (size_t c = 0; c < res[i].change_count; c++)
            res[i].changes[c] = (config_change_t){
                .name = r->configs[c].name, .value = r->configs[c].value, .op = SL_ALTER_SET};
    }
    int rc = decide_config_resources(d, res, n, true);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        out->responses[i] = (sl_alter_configs_response_alter_configs_resource_response_t){
            .error_code = res[i].error,
            .error_message = res[i].message,
            .resource_type = res[i].type,
            .resource_name = res[i].name};
    out->responses_count = (int32_t)n;
    return 0;
}

static int decide(decide_t *d, const void *request, void *response)
{
    switch (d->req->header.api_key) {
    case SL_API_BROKER_REGISTRATION:
        return decide_registration(d, request, response);
    case SL_API_BROKER_HEARTBEAT:
        return decide_heartbeat(d, request, response);
    case SL_API_ALLOCATE_PRODUCER_IDS:
        return decide_producer_ids(d, request, response);
    case SL_API_ALTER_PARTITION:
        return decide_alter_partition(d, request, response);
    case SL_API_CREATE_TOPICS:
        d->validate_only = ((const sl_create_topics_request_t *)request)->validate_only;
        return decide_create_topics(d, request, response);
    case SL_API_DELETE_TOPICS:
        return decide_delete_topics(d, request, response);
    case SL_API_CREATE_PARTITIONS:
        d->validate_only = ((const sl_create_partitions_request_t *)request)->validate_only;
        return decide_create_partitions(d, request, response);
    case SL_API_INCREMENTAL_ALTER_CONFIGS:
        d->validate_only = ((const sl_incremental_alter_configs_request_t *)request)->validate_only;
        return decide_incremental_configs(d, request, response);
    case SL_API_ALTER_CONFIGS:
        d->validate_only = ((const sl_alter_configs_request_t *)request)->validate_only;
        return decide_alter_configs(d, request, response);
    default:
        return SL_EUNSUPPORTED;
    }
}

/* ---- the queue ------------------------------------------------------------------------------- */

static void op_finish(sl_controller_t *ctl, op_t *op, int status)
{
    (void)ctl;
    if (op->req != NULL) {
        int rc = status;
        if (status != 0)
            rc = sl__controller_fill_error(op->req, op->request, op->response,
                                           status == SL_ENOTLEADER ? SL_KERR_NOT_CONTROLLER
                                                                   : SL_KERR_REQUEST_TIMED_OUT);
        sl__request_finish(op->req, rc);
        return;
    }
    sl_buf_deinit(&op->batch);
    sl_controller_write_cb cb = op->cb;
    void *data = op->cb_data;
    sl_free(op);
    if (cb != NULL)
        cb(data, status);
}

static op_t *pop(sl_controller_t *ctl)
{
    op_t *op = ctl->head;
    if (op != NULL) {
        ctl->head = op->next;
        if (ctl->head == NULL)
            ctl->tail = NULL;
        ctl->queued--;
    }
    return op;
}

static void push(sl_controller_t *ctl, op_t *op)
{
    op->next = NULL;
    if (ctl->tail != NULL)
        ctl->tail->next = op;
    else
        ctl->head = op;
    ctl->tail = op;
    ctl->queued++;
}

/* Runs one op: 1 when its batch is in flight, 0 when it finished at once. */
static int run(sl_controller_t *ctl, op_t *op, const sl_quorum_status_t *st)
{
    sl_broker_t *broker = ctl->broker;
    sl_buf_t encoded;
    sl_buf_init(&encoded, 64 * SL_MiB);
    const sl_buf_t *batch = &op->batch;
    int32_t record_count = op->record_count;
    int rc = 0;
    if (op->req != NULL) {
        sl_arena_reset(&ctl->arena);
        sl_metadata_records_t records;
        sl_metadata_records_init(&records, &ctl->arena);
        decide_t d = {.ctl = ctl,
                      .req = op->req,
                      .img = sl__cluster_image(broker->cluster),
                      .policy = policy_of(broker->cfg),
                      .out = &records,
                      .now_ms = (int64_t)uv_now(broker->loop),
                      .log_end_offset = st->log_end_offset};
        rc = decide(&d, op->request, op->response);
        if (rc != 0 || records.count == 0) {
            sl_buf_deinit(&encoded);
            sl__request_finish(op->req, rc);
            return 0;
        }
        rc = sl_metadata_records_encode_batch(&records, 0, sl_clock_realtime_ms(), &encoded);
        batch = &encoded;
        record_count = (int32_t)records.count;
    }
    int64_t base = -1;
    if (rc == 0)
        rc = sl_metadata_quorum_propose(broker->quorum, record_count, batch->ptr, &base);
    sl_buf_deinit(&encoded);
    if (rc != 0) {
        SL_LOG_RATELIMITED(SL_LOG_WARN, "controller", "cannot write metadata records error=\"%s\"",
                           sl_strerror(rc));
        op_finish(ctl, op, rc);
        return 0;
    }
    if (op->req != NULL && op->req->header.api_key == SL_API_BROKER_REGISTRATION &&
        base != st->log_end_offset)
        SL_LOG(SL_LOG_ERROR, "controller",
               "registration written at offset=%" PRId64 " but promised epoch=%" PRId64, base,
               st->log_end_offset);
    op->end_offset = base + record_count;
    op->epoch = st->epoch;
    ctl->in_flight = op;
    return 1;
}

static void pump(sl_controller_t *ctl)
{
    if (ctl->stopping)
        return;
    sl_quorum_status_t st;
    if (ctl->in_flight != NULL) {
        op_t *op = ctl->in_flight;
        bool led = leads(ctl, &st) && st.epoch == op->epoch;
        if (!led) {
            ctl->in_flight = NULL;
            op_finish(ctl, op, SL_ENOTLEADER);
        } else if (sl__cluster_applied_end(ctl->broker->cluster) >= op->end_offset) {
            ctl->in_flight = NULL;
            op_finish(ctl, op, 0);
        } else {
            return;
        }
    }
    while (ctl->head != NULL) {
        if (!leads(ctl, &st)) {
            op_t *op;
            while ((op = pop(ctl)) != NULL)
                op_finish(ctl, op, SL_ENOTLEADER);
            return;
        }
        if (!ready(ctl, &st))
            return;
        if (run(ctl, pop(ctl), &st) == 1)
            return;
    }
}

void sl__controller_quorum_changed(sl_broker_t *broker)
{
    sl_controller_t *ctl = controller_of(broker);
    if (ctl != NULL)
        pump(ctl);
}

static void applied(void *data)
{
    pump(data);
}

int sl__controller_handle(sl_request_t *req, const void *request, void *response)
{
    sl_controller_t *ctl = controller_of(req->broker);
    sl_quorum_status_t st;
    if (ctl == NULL || ctl->stopping || !leads(ctl, &st))
        return sl__controller_fill_error(req, request, response, SL_KERR_NOT_CONTROLLER);
    if (ctl->queued >= CONTROLLER_QUEUE_MAX)
        return sl__controller_fill_error(req, request, response, SL_KERR_REQUEST_TIMED_OUT);
    op_t *op = sl_arena_alloc(&req->arena, sizeof(*op));
    if (op == NULL)
        return SL_ELIMIT;
    *op = (op_t){.req = req, .request = request, .response = response};
    req->pending = true;
    push(ctl, op);
    pump(ctl);
    return 0;
}

int sl__controller_propose(sl_broker_t *broker, const sl_metadata_records_t *records,
                           sl_controller_write_cb cb, void *data)
{
    sl_controller_t *ctl = controller_of(broker);
    sl_quorum_status_t st;
    if (ctl == NULL || ctl->stopping || !leads(ctl, &st))
        return SL_ENOTLEADER;
    if (records->count == 0)
        return -EINVAL;
    op_t *op = sl_calloc(1, sizeof(*op));
    if (op == NULL)
        return -ENOMEM;
    sl_buf_init(&op->batch, 64 * SL_MiB);
    int rc = sl_metadata_records_encode_batch(records, 0, sl_clock_realtime_ms(), &op->batch);
    if (rc != 0) {
        sl_buf_deinit(&op->batch);
        sl_free(op);
        return rc;
    }
    op->record_count = (int32_t)records->count;
    op->cb = cb;
    op->cb_data = data;
    push(ctl, op);
    pump(ctl);
    return 0;
}

/* ---- fencing --------------------------------------------------------------------------------- */

static void fence_empty_done(void *data, int status)
{
    (void)data;
    if (status != 0 && status != SL_ENOTLEADER)
        SL_LOG_RATELIMITED(SL_LOG_WARN, "controller", "fencing not written error=\"%s\"",
                           sl_strerror(status));
}

/* Brokers silent for broker.session.timeout.ms are fenced: they leave Metadata's brokers. Their
 * partitions' leadership moves with the partitions' own Raft groups (AlterPartition), not here. */
static void fence_tick(uv_timer_t *timer)
{
    sl_controller_t *ctl = timer->data;
    sl_quorum_status_t st;
    if (ctl->stopping || ctl->in_flight != NULL || ctl->head != NULL || !ready(ctl, &st))
        return;
    const sl_metadata_image_t *img = sl__cluster_image(ctl->broker->cluster);
    int64_t now = (int64_t)uv_now(ctl->broker->loop);
    sl_arena_reset(&ctl->arena);
    sl_metadata_records_t records;
    sl_metadata_records_init(&records, &ctl->arena);
    for (int32_t i = 0; i < img->broker_count; i++) {
        const sl_metadata_broker_t *b = &img->brokers[i];
        if (b->fenced || sl_metadata_sessions_alive(&ctl->sessions, b->id, now,
                                                    ctl->broker->cfg->broker_session_timeout_ms))
            continue;
        sl_metadata_record_t *rec =
            sl_metadata_records_add(&records, SL_METADATA_RECORD_BROKER_REGISTRATION_CHANGE);
        if (rec == NULL)
            break;
        rec->u.broker_registration_change.broker_id = b->id;
        rec->u.broker_registration_change.broker_epoch = b->epoch;
        rec->u.broker_registration_change.fenced = SL_METADATA_FENCING_FENCE;
        SL_LOG(SL_LOG_INFO, "controller", "fencing broker=%d: no heartbeat for %d ms", (int)b->id,
               (int)ctl->broker->cfg->broker_session_timeout_ms);
    }
    if (records.count > 0)
        (void)sl__controller_propose(ctl->broker, &records, fence_empty_done, ctl);
}

/* ---- start and stop -------------------------------------------------------------------------- */

int sl__controller_start(sl_broker_t *broker)
{
    if (!broker->cfg->process_role_controller)
        return 0;
    sl_controller_t *ctl = sl_calloc(1, sizeof(*ctl));
    if (ctl == NULL)
        return -ENOMEM;
    ctl->broker = broker;
    ctl->sessions_epoch = -1;
    sl_metadata_sessions_init(&ctl->sessions);
    sl_arena_init(&ctl->arena, DECISION_ARENA_BYTES);
    uv_timer_init(broker->loop, &ctl->fence_timer);
    ctl->fence_timer.data = ctl;
    uv_timer_start(&ctl->fence_timer, fence_tick, FENCE_CHECK_MS, FENCE_CHECK_MS);
    broker->controller = ctl;
    sl__cluster_set_applied_listener(broker->cluster, applied, ctl);
    return 0;
}

static void fence_timer_closed(uv_handle_t *handle)
{
    sl_controller_t *ctl = handle->data;
    void (*done)(void *) = ctl->stopped;
    void *data = ctl->stopped_data;
    sl_metadata_sessions_deinit(&ctl->sessions);
    sl_arena_deinit(&ctl->arena);
    sl_free(ctl);
    if (done != NULL)
        done(data);
}

void sl__controller_stop(sl_broker_t *broker, void (*done)(void *data), void *data)
{
    sl_controller_t *ctl = controller_of(broker);
    if (ctl == NULL) {
        done(data);
        return;
    }
    broker->controller = NULL;
    ctl->stopping = true;
    if (ctl->in_flight != NULL) {
        op_t *op = ctl->in_flight;
        ctl->in_flight = NULL;
        op_finish(ctl, op, SL_ENOTLEADER);
    }
    op_t *op;
    while ((op = pop(ctl)) != NULL)
        op_finish(ctl, op, SL_ENOTLEADER);
    ctl->stopped = done;
    ctl->stopped_data = data;
    uv_close((uv_handle_t *)&ctl->fence_timer, fence_timer_closed);
}
