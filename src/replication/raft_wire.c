/* raft_wire: sl_raft_msg_t <-> Kafka's Raft requests and responses, many groups per message.
 * The Topics[].Partitions[] skeleton of every message is built and walked through the generated
 * descriptors (one place, whatever the message), and only the per-partition fields are written
 * out by type. Invariants: everything allocated comes from the caller's arena; wire input is
 * judged, never asserted on; Fetch records are referenced, never copied. */
#include "raft_wire.h"

#include <string.h>

#include "sluice/record_batch.h"

const sl_uuid_t sl_raft_wire_metadata_topic_id = {.bytes = {[15] = 1}};

int16_t sl_raft_wire_api_key(sl_raft_msg_type_t type)
{
    switch (type) {
    case SL_RAFT_MSG_VOTE_REQUEST:
    case SL_RAFT_MSG_VOTE_RESPONSE:
        return SL_API_VOTE;
    case SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_REQUEST:
    case SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_RESPONSE:
        return SL_API_BEGIN_QUORUM_EPOCH;
    case SL_RAFT_MSG_END_QUORUM_EPOCH_REQUEST:
    case SL_RAFT_MSG_END_QUORUM_EPOCH_RESPONSE:
        return SL_API_END_QUORUM_EPOCH;
    case SL_RAFT_MSG_FETCH_REQUEST:
    case SL_RAFT_MSG_FETCH_RESPONSE:
        return SL_API_FETCH;
    case SL_RAFT_MSG_TYPE_COUNT:
        break;
    }
    return -1;
}

bool sl_raft_wire_is_raft_api(int16_t api_key)
{
    return api_key == SL_API_VOTE || api_key == SL_API_BEGIN_QUORUM_EPOCH ||
           api_key == SL_API_END_QUORUM_EPOCH || api_key == SL_API_FETCH;
}

static sl_raft_msg_type_t request_type(int16_t api_key)
{
    switch (api_key) {
    case SL_API_VOTE:
        return SL_RAFT_MSG_VOTE_REQUEST;
    case SL_API_BEGIN_QUORUM_EPOCH:
        return SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_REQUEST;
    case SL_API_END_QUORUM_EPOCH:
        return SL_RAFT_MSG_END_QUORUM_EPOCH_REQUEST;
    default:
        SL_ASSERT(api_key == SL_API_FETCH);
        return SL_RAFT_MSG_FETCH_REQUEST;
    }
}

/* Request types are even, each response follows its request (raft.h's order). */
static sl_raft_msg_type_t response_type(int16_t api_key)
{
    return (sl_raft_msg_type_t)(request_type(api_key) + 1);
}

static void *arena_array(sl_arena_t *arena, size_t count, size_t size)
{
    if (count > SIZE_MAX / size - 1)
        return NULL;
    return sl_arena_alloc(arena, (count + 1) * size); /* + 1: never a zero-byte request */
}

/* ---- the Topics[].Partitions[] skeleton, through the descriptors ---------------------------- */

static const sl_field_desc_t *field_named(const sl_message_desc_t *d, const char *name)
{
    for (uint16_t i = 0; i < d->field_count; i++)
        if (strcmp(d->fields[i].name, name) == 0)
            return &d->fields[i];
    return NULL;
}

/* Where a message keeps its topics and, in each topic, its name, id and partitions. */
typedef struct {
    const sl_field_desc_t *topics, *name, *id, *partitions, *index;
} skeleton_t;

static void skeleton_of(const sl_message_desc_t *d, skeleton_t *s)
{
    s->topics = field_named(d, "Topics");
    if (s->topics == NULL)
        s->topics = field_named(d, "Responses"); /* FetchResponse */
    SL_ASSERT(s->topics != NULL && s->topics->nested != NULL);
    const sl_message_desc_t *t = s->topics->nested;
    s->name = field_named(t, "TopicName");
    if (s->name == NULL)
        s->name = field_named(t, "Topic"); /* Fetch */
    s->id = field_named(t, "TopicId");     /* Fetch only */
    s->partitions = field_named(t, "Partitions");
    SL_ASSERT(s->name != NULL && s->partitions != NULL && s->partitions->nested != NULL);
    s->index = field_named(s->partitions->nested, "PartitionIndex");
    if (s->index == NULL)
        s->index = field_named(s->partitions->nested, "Partition"); /* FetchRequest */
    SL_ASSERT(s->index != NULL && s->index->kind == SL_FIELD_INT32);
}

#define AT(base, off, type) ((type *)(void *)((uint8_t *)(base) + (off)))
typedef const uint8_t *bytes_ptr_t; /* a member that points at bytes, for AT_CONST */
#define AT_CONST(base, off, type) ((const type *)(const void *)((const uint8_t *)(base) + (off)))

static const sl_raft_group_key_t *key_at(const void *base, size_t stride, size_t i)
{
    return (const sl_raft_group_key_t *)(const void *)((const uint8_t *)base + i * stride);
}

static bool same_topic(const sl_raft_group_key_t *a, const sl_raft_group_key_t *b)
{
    return strcmp(a->topic_name, b->topic_name) == 0 &&
           memcmp(a->topic_id.bytes, b->topic_id.bytes, sizeof a->topic_id.bytes) == 0;
}

/* Builds body's topics from count group keys (the first member of elements stride bytes apart),
 * one partition element per key, topics in order of first appearance; parts[i] receives key i's
 * element, initialized to the schema's defaults with its index set. */
static int skeleton_build(const sl_message_desc_t *d, void *body, const void *keys, size_t stride,
                          size_t count, sl_arena_t *arena, void **parts)
{
    skeleton_t s;
    skeleton_of(d, &s);
    size_t *topic_of = arena_array(arena, count, sizeof(size_t));
    size_t *first = arena_array(arena, count, sizeof(size_t));
    int32_t *filled = arena_array(arena, count, sizeof(int32_t));
    if (topic_of == NULL || first == NULL || filled == NULL)
        return SL_ELIMIT;
    size_t topics = 0;
    for (size_t i = 0; i < count; i++) {
        size_t t = 0;
        while (t < topics && !same_topic(key_at(keys, stride, first[t]), key_at(keys, stride, i)))
            t++;
        if (t == topics) {
            first[topics] = i;
            filled[topics++] = 0;
        }
        topic_of[i] = t;
        filled[t]++;
    }
    const sl_message_desc_t *td = s.topics->nested, *pd = s.partitions->nested;
    uint8_t *tarr = arena_array(arena, topics, td->struct_size);
    if (tarr == NULL)
        return SL_ELIMIT;
    *AT(body, s.topics->offset, void *) = tarr;
    *AT(body, s.topics->aux_offset, int32_t) = (int32_t)topics;
    for (size_t t = 0; t < topics; t++) {
        void *topic = tarr + t * td->struct_size;
        const sl_raft_group_key_t *key = key_at(keys, stride, first[t]);
        sl_message_init(td, topic);
        *AT(topic, s.name->offset, sl_slice_t) = sl_slice_from_str(key->topic_name);
        if (s.id != NULL)
            *AT(topic, s.id->offset, sl_uuid_t) = key->topic_id;
        uint8_t *parr = arena_array(arena, (size_t)filled[t], pd->struct_size);
        if (parr == NULL)
            return SL_ELIMIT;
        *AT(topic, s.partitions->offset, void *) = parr;
        *AT(topic, s.partitions->aux_offset, int32_t) = filled[t];
        filled[t] = 0;
    }
    for (size_t i = 0; i < count; i++) {
        void *topic = tarr + topic_of[i] * td->struct_size;
        uint8_t *parr = *AT(topic, s.partitions->offset, uint8_t *);
        void *part = parr + (size_t)filled[topic_of[i]]++ * pd->struct_size;
        sl_message_init(pd, part);
        *AT(part, s.index->offset, int32_t) = key_at(keys, stride, i)->partition;
        parts[i] = part;
    }
    return 0;
}

/* One partition element of a decoded message, with its topic's name and id. */
typedef struct {
    sl_slice_t topic_name;
    sl_uuid_t topic_id;
    int32_t partition;
    const void *elem;
} wire_part_t;

/* Lists the partition elements of a decoded body, in wire order (arena memory). */
static int skeleton_walk(const sl_message_desc_t *d, const void *body, sl_arena_t *arena,
                         wire_part_t **out, size_t *count)
{
    skeleton_t s;
    skeleton_of(d, &s);
    const sl_message_desc_t *td = s.topics->nested, *pd = s.partitions->nested;
    const uint8_t *tarr = *AT_CONST(body, s.topics->offset, bytes_ptr_t);
    int32_t topics = *AT_CONST(body, s.topics->aux_offset, int32_t);
    size_t total = 0;
    for (int32_t t = 0; t < topics; t++) {
        int32_t n =
            *AT_CONST(tarr + (size_t)t * td->struct_size, s.partitions->aux_offset, int32_t);
        total += n > 0 ? (size_t)n : 0;
    }
    wire_part_t *parts = arena_array(arena, total, sizeof(*parts));
    if (parts == NULL)
        return SL_ELIMIT;
    size_t k = 0;
    for (int32_t t = 0; t < topics; t++) {
        const uint8_t *topic = tarr + (size_t)t * td->struct_size;
        const uint8_t *parr = *AT_CONST(topic, s.partitions->offset, bytes_ptr_t);
        int32_t n = *AT_CONST(topic, s.partitions->aux_offset, int32_t);
        for (int32_t p = 0; p < n; p++) {
            const uint8_t *elem = parr + (size_t)p * pd->struct_size;
            parts[k] = (wire_part_t){.topic_name = *AT_CONST(topic, s.name->offset, sl_slice_t),
                                     .partition = *AT_CONST(elem, s.index->offset, int32_t),
                                     .elem = elem};
            if (s.id != NULL)
                parts[k].topic_id = *AT_CONST(topic, s.id->offset, sl_uuid_t);
            k++;
        }
    }
    SL_ASSERT(k == total);
    *out = parts;
    *count = total;
    return 0;
}

static const sl_message_desc_t *request_desc(int16_t api_key)
{
    const sl_api_info_t *api = sl_api_info(api_key);
    SL_ASSERT(api != NULL && sl_raft_wire_is_raft_api(api_key));
    return api->request;
}

static const sl_message_desc_t *response_desc(int16_t api_key)
{
    const sl_api_info_t *api = sl_api_info(api_key);
    SL_ASSERT(api != NULL && sl_raft_wire_is_raft_api(api_key));
    return api->response;
}

static sl_slice_t cluster_id_slice(const sl_raft_wire_ctx_t *ctx)
{
    return ctx->cluster_id != NULL ? sl_slice_from_str(ctx->cluster_id) : SL_SLICE_NULL;
}

/* ---- requests: encode ---------------------------------------------------------------------- */

static void vote_request_part(const sl_raft_msg_t *m, void *elem)
{
    sl_vote_request_partition_data_t *p = elem;
    p->replica_epoch = m->u.vote_request.replica_epoch;
    p->replica_id = m->source_id;
    p->last_offset_epoch = m->u.vote_request.last_offset_epoch;
    p->last_offset = m->u.vote_request.last_offset;
    p->pre_vote = m->u.vote_request.pre_vote;
}

static int end_quorum_epoch_request_part(const sl_raft_msg_t *m, void *elem, sl_arena_t *arena)
{
    const sl_raft_end_quorum_epoch_request_t *in = &m->u.end_quorum_epoch_request;
    sl_end_quorum_epoch_request_partition_data_t *p = elem;
    p->leader_id = in->leader_id;
    p->leader_epoch = in->leader_epoch;
    size_t n = (size_t)SL_MAX(in->preferred_successors_count, 0);
    SL_ASSERT(n <= SL_RAFT_VOTERS_MAX);
    p->preferred_successors = arena_array(arena, n, sizeof(int32_t));
    p->preferred_candidates = arena_array(arena, n, sizeof(sl_replica_info_t));
    if (p->preferred_successors == NULL || p->preferred_candidates == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < n; i++) { /* v0 carries ids, v1 ids with (unknown) directories */
        p->preferred_successors[i] = in->preferred_successors[i];
        sl_replica_info_init(&p->preferred_candidates[i]);
        p->preferred_candidates[i].candidate_id = in->preferred_successors[i];
    }
    p->preferred_successors_count = (int32_t)n;
    p->preferred_candidates_count = (int32_t)n;
    return 0;
}

static void fetch_request_part(const sl_raft_msg_t *m, int32_t max_bytes, void *elem)
{
    sl_fetch_request_fetch_partition_t *p = elem;
    p->current_leader_epoch = m->u.fetch_request.current_leader_epoch;
    p->fetch_offset = m->u.fetch_request.fetch_offset;
    p->last_fetched_epoch = m->u.fetch_request.last_fetched_epoch;
    p->partition_max_bytes = max_bytes;
}

/* The top-level fields: who asks (Fetch), whom (VoterId), in which cluster. */
static void request_top(const sl_raft_wire_ctx_t *ctx, int16_t api_key,
                        const sl_raft_wire_msg_t *msgs, size_t count, int32_t max_bytes,
                        void *request)
{
    const sl_raft_msg_t *first = &msgs[0].msg;
    if (api_key == SL_API_VOTE) {
        sl_vote_request_t *r = request;
        r->cluster_id = cluster_id_slice(ctx);
        r->voter_id = first->destination_id;
    } else if (api_key == SL_API_BEGIN_QUORUM_EPOCH) {
        sl_begin_quorum_epoch_request_t *r = request;
        r->cluster_id = cluster_id_slice(ctx);
        r->voter_id = first->destination_id;
    } else if (api_key == SL_API_END_QUORUM_EPOCH) {
        ((sl_end_quorum_epoch_request_t *)request)->cluster_id = cluster_id_slice(ctx);
    } else {
        sl_fetch_request_t *r = request;
        r->cluster_id = cluster_id_slice(ctx);
        r->replica_id = first->source_id; /* v14 and older */
        r->replica_state.replica_id = first->source_id;
        r->replica_state.replica_epoch = -1;
        r->min_bytes = 0; /* as KRaft: the leader answers at once when it has anything new */
        r->max_bytes = max_bytes;
        r->max_wait_ms = first->u.fetch_request.max_wait_ms;
        for (size_t i = 1; i < count; i++) /* the most impatient group sets the wait */
            r->max_wait_ms = SL_MIN(r->max_wait_ms, msgs[i].msg.u.fetch_request.max_wait_ms);
    }
}

int sl_raft_wire_request_encode(const sl_raft_wire_ctx_t *ctx, const sl_raft_wire_msg_t *msgs,
                                size_t count, int16_t version, sl_arena_t *arena, void *request)
{
    SL_ASSERT(count >= 1);
    sl_raft_msg_type_t type = msgs[0].msg.type;
    int16_t api_key = sl_raft_wire_api_key(type);
    SL_ASSERT(api_key >= 0 && request_type(api_key) == type);
    for (size_t i = 0; i < count; i++) {
        SL_ASSERT(msgs[i].msg.type == type);
        SL_ASSERT(msgs[i].msg.destination_id == msgs[0].msg.destination_id);
        if (type == SL_RAFT_MSG_VOTE_REQUEST && msgs[i].msg.u.vote_request.pre_vote &&
            version < SL_RAFT_WIRE_PRE_VOTE_VERSION_MIN)
            return SL_EUNSUPPORTED;
    }
    if (type == SL_RAFT_MSG_FETCH_REQUEST && version < SL_RAFT_WIRE_FETCH_VERSION_MIN)
        return SL_EUNSUPPORTED;
    const sl_message_desc_t *d = request_desc(api_key);
    sl_message_init(d, request);
    int32_t max_bytes =
        ctx->fetch_max_bytes > 0 ? ctx->fetch_max_bytes : SL_RAFT_WIRE_FETCH_MAX_BYTES_DEFAULT;
    request_top(ctx, api_key, msgs, count, max_bytes, request);
    void **parts = arena_array(arena, count, sizeof(void *));
    if (parts == NULL)
        return SL_ELIMIT;
    int rc = skeleton_build(d, request, msgs, sizeof(*msgs), count, arena, parts);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const sl_raft_msg_t *m = &msgs[i].msg;
        switch (type) {
        case SL_RAFT_MSG_VOTE_REQUEST:
            vote_request_part(m, parts[i]);
            break;
        case SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_REQUEST: {
            sl_begin_quorum_epoch_request_partition_data_t *p = parts[i];
            p->leader_id = m->u.begin_quorum_epoch_request.leader_id;
            p->leader_epoch = m->u.begin_quorum_epoch_request.leader_epoch;
            break;
        }
        case SL_RAFT_MSG_END_QUORUM_EPOCH_REQUEST:
            rc = end_quorum_epoch_request_part(m, parts[i], arena);
            break;
        default:
            fetch_request_part(m, max_bytes, parts[i]);
            break;
        }
    }
    return rc;
}

/* ---- requests: decode ---------------------------------------------------------------------- */

/* The wire's own answer to one partition it cannot hand to a core. */
static void answer_here(sl_raft_wire_msg_t *w, int16_t api_key, int16_t error_code)
{
    sl_raft_msg_t *m = &w->msg;
    int32_t source = m->source_id;
    m->type = response_type(api_key);
    m->source_id = m->destination_id;
    m->destination_id = source;
    memset(&m->u, 0, sizeof m->u);
    switch (m->type) {
    case SL_RAFT_MSG_VOTE_RESPONSE:
        m->u.vote_response = (sl_raft_vote_response_t){error_code, SL_RAFT_NODE_NONE, -1, false};
        break;
    case SL_RAFT_MSG_FETCH_RESPONSE:
        m->u.fetch_response = (sl_raft_fetch_response_t){.error_code = error_code,
                                                         .leader_id = SL_RAFT_NODE_NONE,
                                                         .leader_epoch = -1,
                                                         .high_watermark = -1,
                                                         .diverging_epoch = -1,
                                                         .diverging_end_offset = -1,
                                                         .records_offset = -1,
                                                         .records_end_offset = -1};
        break;
    default:
        m->u.quorum_epoch_response =
            (sl_raft_quorum_epoch_response_t){error_code, SL_RAFT_NODE_NONE, -1};
        break;
    }
    w->answered = true;
}

static void end_quorum_epoch_request_read(const sl_end_quorum_epoch_request_partition_data_t *p,
                                          int16_t version, sl_raft_end_quorum_epoch_request_t *out)
{
    out->leader_id = p->leader_id;
    out->leader_epoch = p->leader_epoch;
    out->preferred_successors_count = 0;
    int32_t n = version >= 1 ? p->preferred_candidates_count : p->preferred_successors_count;
    for (int32_t i = 0; i < n && out->preferred_successors_count < SL_RAFT_VOTERS_MAX; i++)
        out->preferred_successors[out->preferred_successors_count++] =
            version >= 1 ? p->preferred_candidates[i].candidate_id : p->preferred_successors[i];
}

/* Reads one partition element into m (type, fields, source); the caller set destination and
 * correlation id. */
static void request_part_read(int16_t api_key, int16_t version, const void *request,
                              const void *elem, sl_raft_wire_msg_t *w)
{
    sl_raft_msg_t *m = &w->msg;
    m->type = request_type(api_key);
    if (api_key == SL_API_VOTE) {
        const sl_vote_request_partition_data_t *p = elem;
        m->source_id = p->replica_id;
        m->u.vote_request = (sl_raft_vote_request_t){.replica_epoch = p->replica_epoch,
                                                     .last_offset_epoch = p->last_offset_epoch,
                                                     .last_offset = p->last_offset,
                                                     .pre_vote = p->pre_vote};
    } else if (api_key == SL_API_BEGIN_QUORUM_EPOCH) {
        const sl_begin_quorum_epoch_request_partition_data_t *p = elem;
        m->source_id = p->leader_id;
        m->u.begin_quorum_epoch_request =
            (sl_raft_begin_quorum_epoch_request_t){p->leader_id, p->leader_epoch};
    } else if (api_key == SL_API_END_QUORUM_EPOCH) {
        const sl_end_quorum_epoch_request_partition_data_t *p = elem;
        m->source_id = p->leader_id;
        end_quorum_epoch_request_read(p, version, &m->u.end_quorum_epoch_request);
    } else {
        const sl_fetch_request_t *r = request;
        const sl_fetch_request_fetch_partition_t *p = elem;
        m->source_id = version >= 15 ? r->replica_state.replica_id : r->replica_id;
        m->u.fetch_request = (sl_raft_fetch_request_t){
            .current_leader_epoch = p->current_leader_epoch,
            .fetch_offset = p->fetch_offset,
            .last_fetched_epoch = p->last_fetched_epoch,
            .max_wait_ms = r->max_wait_ms,
        };
        int32_t limit = r->max_bytes > 0 ? r->max_bytes : 0;
        if (p->partition_max_bytes > 0 && (limit == 0 || p->partition_max_bytes < limit))
            limit = p->partition_max_bytes;
        w->records_max_bytes = limit;
    }
}

/* Whole-request checks: KRaft accepts a request without a cluster id, refuses a different one. */
static int16_t request_refusal(const sl_raft_wire_ctx_t *ctx, int16_t api_key, int16_t version,
                               const void *request, int32_t *voter_id)
{
    sl_slice_t cluster = SL_SLICE_NULL;
    *voter_id = -1;
    if (api_key == SL_API_VOTE) {
        cluster = ((const sl_vote_request_t *)request)->cluster_id;
        *voter_id = version >= 1 ? ((const sl_vote_request_t *)request)->voter_id : -1;
    } else if (api_key == SL_API_BEGIN_QUORUM_EPOCH) {
        cluster = ((const sl_begin_quorum_epoch_request_t *)request)->cluster_id;
        *voter_id =
            version >= 1 ? ((const sl_begin_quorum_epoch_request_t *)request)->voter_id : -1;
    } else if (api_key == SL_API_END_QUORUM_EPOCH) {
        cluster = ((const sl_end_quorum_epoch_request_t *)request)->cluster_id;
    } else {
        if (version < SL_RAFT_WIRE_FETCH_VERSION_MIN)
            return SL_KERR_UNSUPPORTED_VERSION;
        cluster = ((const sl_fetch_request_t *)request)->cluster_id;
    }
    if (cluster.ptr != NULL && ctx->cluster_id != NULL &&
        !sl_slice_eq_str(cluster, ctx->cluster_id))
        return SL_KERR_INCONSISTENT_CLUSTER_ID;
    return SL_KERR_NONE;
}

/* A key for a partition no group answers to, so the answer can name it back. */
static int unknown_key(const wire_part_t *wp, sl_arena_t *arena, sl_raft_group_key_t *key)
{
    const uint8_t *name = wp->topic_name.ptr != NULL ? wp->topic_name.ptr : (const uint8_t *)"";
    char *copy = sl_arena_strndup(arena, (const char *)name, wp->topic_name.len);
    if (copy == NULL)
        return SL_ELIMIT;
    *key = (sl_raft_group_key_t){copy, wp->topic_id, wp->partition};
    return 0;
}

/* The partitions of a decoded message, and room for one core message each. */
static int decode_begin(const sl_message_desc_t *d, const void *body, sl_arena_t *arena,
                        wire_part_t **parts, size_t *count, sl_raft_wire_decoded_t *out)
{
    int rc = skeleton_walk(d, body, arena, parts, count);
    if (rc != 0)
        return rc;
    out->msgs = arena_array(arena, *count, sizeof(*out->msgs));
    return out->msgs != NULL ? 0 : SL_ELIMIT;
}

/* Asks the host for a partition's group, by id where the message names topics by id. */
static int16_t find_part(const sl_raft_wire_ctx_t *ctx, int16_t api_key, int16_t version,
                         const wire_part_t *wp, sl_raft_group_key_t *key)
{
    bool by_id = api_key == SL_API_FETCH && version >= 13;
    sl_slice_t name = by_id ? sl_slice_from_str("") : wp->topic_name;
    sl_uuid_t id = by_id ? wp->topic_id : (sl_uuid_t){0};
    return ctx->find_group(ctx->find_data, name, &id, wp->partition, key);
}

int sl_raft_wire_request_decode(const sl_raft_wire_ctx_t *ctx, int16_t api_key, int16_t version,
                                int32_t correlation_id, const void *request, sl_arena_t *arena,
                                sl_raft_wire_decoded_t *out)
{
    SL_ASSERT(ctx->find_group != NULL);
    *out = (sl_raft_wire_decoded_t){0};
    int32_t voter_id;
    out->error_code = request_refusal(ctx, api_key, version, request, &voter_id);
    if (out->error_code != SL_KERR_NONE)
        return 0;
    wire_part_t *parts;
    size_t count;
    int rc = decode_begin(request_desc(api_key), request, arena, &parts, &count, out);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < count; i++) {
        sl_raft_wire_msg_t *w = &out->msgs[i];
        *w = (sl_raft_wire_msg_t){
            .msg = {.destination_id = ctx->local_id, .correlation_id = correlation_id}};
        request_part_read(api_key, version, request, parts[i].elem, w);
        int16_t error = find_part(ctx, api_key, version, &parts[i], &w->group);
        if (error == SL_KERR_NONE && voter_id >= 0 && voter_id != ctx->local_id)
            error = SL_KERR_INVALID_VOTER_KEY; /* as Kafka 4.0: meant for another voter */
        if (error != SL_KERR_NONE) {
            rc = unknown_key(&parts[i], arena, &w->group);
            if (rc != 0)
                return rc;
            answer_here(w, api_key, error);
        }
    }
    out->count = count;
    return 0;
}

/* ---- responses: encode --------------------------------------------------------------------- */

static void fetch_response_part(const sl_raft_msg_t *m, const sl_raft_wire_records_t *records,
                                void *elem)
{
    const sl_raft_fetch_response_t *in = &m->u.fetch_response;
    sl_fetch_response_partition_data_t *p = elem;
    p->error_code = in->error_code;
    p->high_watermark = in->high_watermark;
    p->log_start_offset = 0; /* no snapshots yet: every Raft log starts at 0 */
    p->diverging_epoch.epoch = in->diverging_epoch;
    p->diverging_epoch.end_offset = in->diverging_end_offset;
    p->current_leader.leader_id = in->leader_id;
    p->current_leader.leader_epoch = in->leader_epoch;
    p->aborted_transactions_count = 0;
    p->records = (sl_slice_t){(const uint8_t *)"", 0}; /* empty, not null, as Kafka's EMPTY */
    if (records == NULL || records->len == 0)
        return;
    /* In-memory bytes encode as they are; a file range is only a length here, which the
     * gap writer of sl_raft_wire_encode_pieces leaves out and sends from the file. */
    p->records.ptr = records->bytes != NULL ? records->bytes : (const uint8_t *)records;
    p->records.len = records->len;
}

int sl_raft_wire_response_encode(const sl_raft_wire_ctx_t *ctx, int16_t api_key,
                                 const sl_raft_wire_msg_t *msgs,
                                 const sl_raft_wire_records_t *records, size_t count,
                                 sl_arena_t *arena, void *response)
{
    (void)ctx; /* responses carry nothing of this node's beyond what the core put in them */
    const sl_message_desc_t *d = response_desc(api_key);
    sl_message_init(d, response);
    void **parts = arena_array(arena, count, sizeof(void *));
    if (parts == NULL)
        return SL_ELIMIT;
    int rc = skeleton_build(d, response, msgs, sizeof(*msgs), count, arena, parts);
    if (rc != 0)
        return rc;
    sl_raft_msg_type_t type = response_type(api_key);
    for (size_t i = 0; i < count; i++) {
        const sl_raft_msg_t *m = &msgs[i].msg;
        SL_ASSERT(m->type == type);
        if (type == SL_RAFT_MSG_VOTE_RESPONSE) {
            sl_vote_response_partition_data_t *p = parts[i];
            p->error_code = m->u.vote_response.error_code;
            p->leader_id = m->u.vote_response.leader_id;
            p->leader_epoch = m->u.vote_response.leader_epoch;
            p->vote_granted = m->u.vote_response.vote_granted;
        } else if (type == SL_RAFT_MSG_FETCH_RESPONSE) {
            fetch_response_part(m, records != NULL ? &records[i] : NULL, parts[i]);
        } else { /* Begin/EndQuorumEpoch answers share one layout */
            _Static_assert(sizeof(sl_begin_quorum_epoch_response_partition_data_t) ==
                               sizeof(sl_end_quorum_epoch_response_partition_data_t),
                           "same layout");
            sl_begin_quorum_epoch_response_partition_data_t *p = parts[i];
            p->error_code = m->u.quorum_epoch_response.error_code;
            p->leader_id = m->u.quorum_epoch_response.leader_id;
            p->leader_epoch = m->u.quorum_epoch_response.leader_epoch;
        }
    }
    return 0;
}

int sl_raft_wire_error_response(int16_t api_key, int16_t error_code, void *response)
{
    const sl_message_desc_t *d = response_desc(api_key);
    sl_message_init(d, response);
    const sl_field_desc_t *f = field_named(d, "ErrorCode");
    SL_ASSERT(f != NULL && f->kind == SL_FIELD_INT16);
    *AT(response, f->offset, int16_t) = error_code;
    return 0;
}

/* ---- responses: decode --------------------------------------------------------------------- */

int sl_raft_wire_batches_parse(sl_slice_t records, sl_raft_batch_t *batches, size_t batches_cap,
                               size_t *count)
{
    *count = 0;
    const uint8_t *pos = records.ptr;
    size_t left = records.ptr != NULL ? records.len : 0;
    while (left > 0) {
        sl_record_batch_t b;
        int rc = sl_record_batch_parse(pos, left, &b);
        if (rc == SL_EINCOMPLETE)
            return 0; /* a batch cut by the byte limit: the next fetch starts at it */
        if (rc != 0)
            return SL_EMALFORMED;
        size_t size = sl_record_batch_size(&b);
        /* Offsets covered = lastOffsetDelta + 1 (a compacted batch may hold fewer records). */
        if (b.last_offset_delta < 0 || b.record_count < 0 ||
            (int64_t)b.record_count > (int64_t)b.last_offset_delta + 1 ||
            sl_record_batch_crc(pos, size) != b.crc)
            return SL_EMALFORMED;
        bool control = (b.attributes & SL_RECORD_BATCH_CONTROL) != 0;
        if (control && b.last_offset_delta != 0)
            return SL_EMALFORMED; /* a control batch is one record */
        if (*count == batches_cap)
            return 0;
        batches[(*count)++] = (sl_raft_batch_t){.base_offset = b.base_offset,
                                                .record_count = b.last_offset_delta + 1,
                                                .leader_epoch = b.partition_leader_epoch,
                                                .control = control,
                                                .payload = pos};
        pos += size;
        left -= size;
    }
    return 0;
}

/* An upper bound on the batches in records, from their headers alone: it stops where parsing
 * will (a length no batch can have, a wrong magic), so the array is at most about half the size
 * of the records (a 61-byte header per 32-byte entry), however hostile the bytes. */
static size_t batches_upper_bound(sl_slice_t records)
{
    size_t n = 0, left = records.ptr != NULL ? records.len : 0;
    const uint8_t *pos = records.ptr;
    while (left > SL_RECORD_BATCH_MAGIC_OFFSET) {
        uint32_t length = (uint32_t)pos[8] << 24 | (uint32_t)pos[9] << 16 | (uint32_t)pos[10] << 8 |
                          (uint32_t)pos[11];
        if (length < SL_RECORD_BATCH_HEADER_BYTES - SL_RECORD_BATCH_LOG_OVERHEAD ||
            pos[SL_RECORD_BATCH_MAGIC_OFFSET] != 2)
            return n + 1; /* the parser reaches it and reports it */
        n++;
        if (length > left - SL_RECORD_BATCH_LOG_OVERHEAD)
            break;
        pos += length + SL_RECORD_BATCH_LOG_OVERHEAD;
        left -= length + SL_RECORD_BATCH_LOG_OVERHEAD;
    }
    return n;
}

static int fetch_response_read(const sl_fetch_response_partition_data_t *p, sl_arena_t *arena,
                               sl_raft_wire_msg_t *w)
{
    sl_raft_fetch_response_t *out = &w->msg.u.fetch_response;
    *out = (sl_raft_fetch_response_t){.error_code = p->error_code,
                                      .leader_id = p->current_leader.leader_id,
                                      .leader_epoch = p->current_leader.leader_epoch,
                                      .high_watermark = p->high_watermark,
                                      .diverging_epoch = p->diverging_epoch.epoch,
                                      .diverging_end_offset = p->diverging_epoch.end_offset,
                                      .records_offset = -1,
                                      .records_end_offset = -1};
    size_t cap = batches_upper_bound(p->records);
    if (cap == 0)
        return 0;
    sl_raft_batch_t *batches = arena_array(arena, cap, sizeof(*batches));
    if (batches == NULL)
        return SL_ELIMIT;
    size_t n = 0;
    w->status = sl_raft_wire_batches_parse(p->records, batches, cap, &n);
    out->batches = batches;
    out->batch_count = n;
    if (n > 0) {
        out->records_offset = batches[0].base_offset;
        out->records_end_offset = batches[n - 1].base_offset + batches[n - 1].record_count;
    }
    return 0;
}

static int response_part_read(int16_t api_key, const void *elem, sl_arena_t *arena,
                              sl_raft_wire_msg_t *w)
{
    sl_raft_msg_t *m = &w->msg;
    m->type = response_type(api_key);
    if (api_key == SL_API_VOTE) {
        const sl_vote_response_partition_data_t *p = elem;
        m->u.vote_response = (sl_raft_vote_response_t){p->error_code, p->leader_id, p->leader_epoch,
                                                       p->vote_granted};
    } else if (api_key == SL_API_FETCH) {
        return fetch_response_read(elem, arena, w);
    } else {
        const sl_begin_quorum_epoch_response_partition_data_t *p = elem;
        m->u.quorum_epoch_response =
            (sl_raft_quorum_epoch_response_t){p->error_code, p->leader_id, p->leader_epoch};
    }
    return 0;
}

int sl_raft_wire_response_decode(const sl_raft_wire_ctx_t *ctx, int16_t api_key, int16_t version,
                                 int32_t source_id, int32_t correlation_id, const void *response,
                                 sl_arena_t *arena, sl_raft_wire_decoded_t *out)
{
    SL_ASSERT(ctx->find_group != NULL);
    *out = (sl_raft_wire_decoded_t){0};
    const sl_message_desc_t *d = response_desc(api_key);
    const sl_field_desc_t *f = field_named(d, "ErrorCode");
    SL_ASSERT(f != NULL);
    /* Fetch's top-level ErrorCode exists from v7; below, it reads as its default, 0. */
    out->error_code = *AT_CONST(response, f->offset, int16_t);
    if (out->error_code != SL_KERR_NONE)
        return 0;
    wire_part_t *parts;
    size_t count;
    int rc = decode_begin(d, response, arena, &parts, &count, out);
    if (rc != 0)
        return rc;
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        sl_raft_wire_msg_t *w = &out->msgs[kept];
        *w = (sl_raft_wire_msg_t){.msg = {.source_id = source_id,
                                          .destination_id = ctx->local_id,
                                          .correlation_id = correlation_id}};
        if (find_part(ctx, api_key, version, &parts[i], &w->group) != SL_KERR_NONE)
            continue; /* an answer for a group this node does not host (any more) */
        rc = response_part_read(api_key, parts[i].elem, arena, w);
        if (rc != 0)
            return rc;
        kept++;
    }
    out->count = kept;
    return 0;
}

/* ---- writing a Fetch answer without copying records ---------------------------------------- */

void sl_raft_wire_fetch_response_records(const sl_fetch_response_t *response, size_t *records_bytes,
                                         size_t *gaps)
{
    *records_bytes = 0;
    *gaps = 0;
    for (int32_t t = 0; t < response->responses_count; t++) {
        const sl_fetchable_topic_response_t *topic = &response->responses[t];
        for (int32_t p = 0; p < topic->partitions_count; p++) {
            const sl_slice_t *r = &topic->partitions[p].records;
            if (r->ptr != NULL && r->len > 0) {
                *records_bytes += r->len;
                (*gaps)++;
            }
        }
    }
}

/* The attached records a gap stands for: a file range's slice points at its descriptor. */
static sl_raft_wire_piece_t gap_piece(const sl_writer_gap_t *gap,
                                      const sl_raft_wire_records_t *records, size_t records_count)
{
    uintptr_t at = (uintptr_t)gap->records.ptr, first = (uintptr_t)records;
    if (records != NULL && at >= first && at < first + records_count * sizeof(*records) &&
        (at - first) % sizeof(*records) == 0) {
        const sl_raft_wire_records_t *r = &records[(at - first) / sizeof(*records)];
        if (r->bytes == NULL) {
            SL_ASSERT(r->len == gap->records.len && r->fd >= 0);
            return (sl_raft_wire_piece_t){.len = r->len, .fd = r->fd, .file_pos = r->file_pos};
        }
    }
    return (sl_raft_wire_piece_t){.ptr = gap->records.ptr, .len = gap->records.len, .fd = -1};
}

int sl_raft_wire_encode_pieces(const sl_fetch_response_t *response, int16_t version,
                               const sl_raft_wire_records_t *records, size_t records_count,
                               sl_writer_t *w, const uint8_t *from, sl_arena_t *arena,
                               sl_raft_wire_piece_t *pieces, size_t pieces_cap,
                               size_t *pieces_count)
{
    SL_ASSERT(w->gaps == NULL && from <= w->pos);
    size_t bytes, gaps_count;
    sl_raft_wire_fetch_response_records(response, &bytes, &gaps_count);
    if (pieces_cap < 2 * gaps_count + 1)
        return SL_ELIMIT;
    sl_writer_gap_t *gaps = arena_array(arena, gaps_count, sizeof(*gaps));
    if (gaps == NULL)
        return SL_ELIMIT;
    w->gaps = gaps;
    w->gaps_cap = gaps_count;
    w->gaps_count = 0;
    int rc = sl_fetch_response_encode(w, version, response);
    w->gaps = NULL;
    if (rc != 0)
        return rc;
    SL_ASSERT(w->gaps_count == gaps_count);
    size_t n = 0;
    const uint8_t *run = from;
    for (size_t g = 0; g < gaps_count; g++) {
        if (gaps[g].at > run)
            pieces[n++] =
                (sl_raft_wire_piece_t){.ptr = run, .len = (size_t)(gaps[g].at - run), .fd = -1};
        pieces[n++] = gap_piece(&gaps[g], records, records_count);
        run = gaps[g].at;
    }
    if (w->pos > run)
        pieces[n++] = (sl_raft_wire_piece_t){.ptr = run, .len = (size_t)(w->pos - run), .fd = -1};
    *pieces_count = n;
    return 0;
}

/* ---- DescribeQuorum ------------------------------------------------------------------------- */

int sl_raft_wire_describe_quorum_decode(const sl_raft_wire_ctx_t *ctx,
                                        const sl_describe_quorum_request_t *request,
                                        sl_arena_t *arena, sl_raft_wire_quorum_t **out,
                                        size_t *count)
{
    SL_ASSERT(ctx->find_group != NULL);
    wire_part_t *parts;
    size_t n;
    int rc = skeleton_walk(&sl_describe_quorum_request_desc, request, arena, &parts, &n);
    if (rc != 0)
        return rc;
    sl_raft_wire_quorum_t *q = arena_array(arena, n, sizeof(*q));
    if (q == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < n; i++) {
        q[i] = (sl_raft_wire_quorum_t){0};
        sl_uuid_t zero = {0};
        q[i].error_code = ctx->find_group(ctx->find_data, parts[i].topic_name, &zero,
                                          parts[i].partition, &q[i].group);
        if (q[i].error_code != SL_KERR_NONE && (rc = unknown_key(&parts[i], arena, &q[i].group)))
            return rc;
    }
    *out = q;
    *count = n;
    return 0;
}

static int64_t wall_ms(uint64_t mono_ms, uint64_t now_ms, int64_t wall_now_ms)
{
    if (mono_ms == 0)
        return -1; /* never */
    uint64_t ago = now_ms > mono_ms ? now_ms - mono_ms : 0;
    return ago > (uint64_t)INT64_MAX ? -1 : wall_now_ms - (int64_t)ago;
}

static int describe_partition(const sl_raft_wire_ctx_t *ctx, const sl_raft_wire_quorum_t *q,
                              uint64_t now_ms, int64_t wall_now_ms, sl_arena_t *arena,
                              sl_describe_quorum_response_partition_data_t *p)
{
    const sl_raft_quorum_info_t *info = &q->info;
    p->error_code = q->error_code;
    if (p->error_code == SL_KERR_NONE && info->leader_id != ctx->local_id)
        p->error_code = SL_KERR_NOT_LEADER_OR_FOLLOWER; /* only the leader knows the voters */
    p->error_message = p->error_code == SL_KERR_NONE
                           ? SL_SLICE_NULL
                           : sl_slice_from_str(sl_kerr_message(p->error_code));
    p->observers_count = 0;
    p->current_voters_count = 0;
    if (p->error_code != SL_KERR_NONE)
        return 0;
    p->leader_id = info->leader_id;
    p->leader_epoch = info->leader_epoch;
    p->high_watermark = info->high_watermark;
    size_t n = (size_t)SL_MAX(info->voter_count, 0);
    SL_ASSERT(n <= SL_RAFT_VOTERS_MAX);
    p->current_voters = arena_array(arena, n, sizeof(*p->current_voters));
    if (p->current_voters == NULL)
        return SL_ELIMIT;
    for (size_t v = 0; v < n; v++) {
        const sl_raft_replica_state_t *r = &info->voters[v];
        sl_describe_quorum_response_replica_state_t *o = &p->current_voters[v];
        sl_describe_quorum_response_replica_state_init(o);
        o->replica_id = r->replica_id;
        o->log_end_offset = r->log_end_offset;
        bool self = r->replica_id == info->leader_id;
        o->last_fetch_timestamp =
            self ? wall_now_ms : wall_ms(r->last_fetch_ms, now_ms, wall_now_ms);
        o->last_caught_up_timestamp =
            self ? wall_now_ms : wall_ms(r->last_caught_up_ms, now_ms, wall_now_ms);
    }
    p->current_voters_count = (int32_t)n;
    return 0;
}

int sl_raft_wire_describe_quorum_encode(const sl_raft_wire_ctx_t *ctx,
                                        const sl_raft_wire_quorum_t *quorums, size_t count,
                                        uint64_t now_ms, int64_t wall_now_ms,
                                        const sl_describe_quorum_response_node_t *nodes,
                                        int32_t nodes_count, sl_arena_t *arena,
                                        sl_describe_quorum_response_t *response)
{
    sl_describe_quorum_response_init(response);
    response->error_message = SL_SLICE_NULL; /* as Kafka: null unless the whole request failed */
    void **parts = arena_array(arena, count, sizeof(void *));
    if (parts == NULL)
        return SL_ELIMIT;
    int rc = skeleton_build(&sl_describe_quorum_response_desc, response, quorums, sizeof(*quorums),
                            count, arena, parts);
    for (size_t i = 0; rc == 0 && i < count; i++)
        rc = describe_partition(ctx, &quorums[i], now_ms, wall_now_ms, arena, parts[i]);
    if (rc != 0)
        return rc;
    /* Only v2 has Nodes; the cast drops const for a struct the encoder only reads. */
    response->nodes = (sl_describe_quorum_response_node_t *)(uintptr_t)nodes;
    response->nodes_count = nodes != NULL ? nodes_count : 0;
    return 0;
}
