/* raft_host: Raft groups on the loop. Three paths:
 *  - time: one uv_timer at the earliest deadline of all groups (and of held requests); its
 *    callback ticks every group.
 *  - out: the groups' env.send collects requests in the outbox; at the end of the loop turn (a
 *    uv_check, with a uv_idle active only while the outbox is non-empty so the poll in between
 *    does not block) they go out as one Kafka request per (destination, type), each group's
 *    correlation id kept beside it to restore in the answer.
 *  - in: a Raft request served here becomes a call: one slot per partition, each fed to its group
 *    under a host-unique correlation id (the Kafka header's id is per connection); the core's
 *    answers fill the slots (a Fetch slot then reads its records from the log); the call is
 *    answered when every slot is filled, or at its deadline with errors for the rest.
 * Invariants: a group is ticked with uv_now before every input; the core is never re-entered
 * from inside itself (answers and outgoing messages are only recorded during a core call and
 * acted on in the check phase); every call is answered exactly once. */
#include "raft_host.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "sluice/limits.h"

/* A held Fetch is answered by its leader within its max wait; this much longer and the host
 * answers it itself (a leader that stepped down forgets its parked fetches). */
#define HOST_HELD_GRACE_MS 1000
/* Messages one loop turn may queue before the next are dropped (Raft resends). */
#define HOST_OUTBOX_MAX 4096

struct sl_raft_group {
    sl_raft_host_t *host;
    char *topic_name;
    sl_raft_group_key_t key;
    sl_raft_t *raft;
    sl_raft_log_t *log;
    sl_raft_env_t log_env; /* raft_log's functions; the core gets the host's wrappers */
    sl_raft_group_changed_cb changed;
    sl_raft_group_control_batch_cb control_batch;
    void *data;
    sl_buf_t control; /* the LeaderChange batch being appended */
    /* what the owner last heard */
    int64_t flush_end; /* the last flush asked for: its completion reaches the core directly */
    sl_raft_role_t seen_role;
    int32_t seen_epoch, seen_leader;
    int64_t seen_high_watermark;
    int seen_log_error;
};

typedef struct {
    sl_raft_group_t *group;
    sl_raft_msg_t msg;
} outbox_entry_t;

/* One Kafka request sent: which group each partition's message came from. */
typedef struct {
    sl_raft_host_t *host;
    int16_t api_key, api_version;
    int32_t destination;
    size_t count;
    struct {
        char topic_name[SL_TOPIC_NAME_BYTES_MAX + 1];
        sl_uuid_t topic_id;
        int32_t partition;
        int32_t correlation_id;
    } entries[];
} out_request_t;

typedef struct call_slot {
    sl_quorum_call_t *call;
    size_t index;
    int32_t correlation_id; /* host-unique: what the core's answer carries */
    bool answered;
    sl_log_read_t read; /* a Fetch answer's records */
    bool reading;
    uint8_t *owned; /* records read into memory */
} call_slot_t;

struct sl_raft_host_call {
    sl_raft_host_t *host;
    struct sl_raft_host_call *next, *prev; /* host's held calls, while not answered */
    int16_t api_key, api_version;
    void *response;
    sl_arena_t *arena;
    sl_quorum_answer_cb answer;
    void *data;
    sl_raft_wire_msg_t *answers; /* one per partition, wire order */
    sl_raft_wire_records_t *records;
    call_slot_t *slots;
    size_t count;
    size_t reads_pending;
    uint64_t deadline_ms;
    bool answered, released;
};

struct sl_raft_host {
    uv_loop_t *loop;
    sl_peers_t *peers;
    sl_raft_host_config_t cfg;
    char *cluster_id;
    sl_raft_wire_ctx_t wire;
    sl_raft_group_t **groups;
    size_t group_count;
    uv_timer_t timer;
    uv_check_t check;
    uv_idle_t idle;
    bool idle_active;
    bool dirty; /* the check phase has work */
    outbox_entry_t *outbox;
    size_t outbox_count, outbox_cap;
    sl_quorum_call_t *held; /* calls not yet answered */
    int32_t next_slot_id;
    uint64_t random_state;
    sl_arena_t scratch; /* one decode or encode at a time */
    const sl_describe_quorum_response_node_t *nodes;
    int32_t nodes_count;
    /* cfg.one_fetch_per_peer: the destinations a Fetch is in flight to; the groups' next fetches
     * to one of them wait (the newest per group) and leave together when it answers */
    int32_t *fetching;
    size_t fetching_count, fetching_cap;
    size_t handles_open;
    bool closing;
    void (*closed_cb)(void *data);
    void *closed_data;
};

static void idle_noop(uv_idle_t *idle)
{
    (void)idle; /* only keeps the loop's poll from blocking until the check phase has run */
}

/* Something for the check phase to do: outgoing messages, answers, changes to report. */
static void host_dirty(sl_raft_host_t *host)
{
    host->dirty = true;
    if (host->idle_active || host->closing)
        return;
    host->idle_active = true;
    uv_idle_start(&host->idle, idle_noop);
}

static uint64_t host_now(const sl_raft_host_t *host)
{
    return uv_now(host->loop);
}

/* ---- the groups' environment: the log's functions, plus send and randomness ------------------ */

static void env_send(void *data, const sl_raft_msg_t *msg);

static void env_log_append(void *data, const sl_raft_batch_t *batches, size_t batch_count)
{
    sl_raft_group_t *group = data;
    /* The core's own LeaderChange batch comes without bytes: the owner builds Kafka's
     * LeaderChangeMessage control record for it. */
    if (batch_count == 1 && batches[0].control && batches[0].payload == NULL &&
        group->control_batch != NULL) {
        group->control.len = 0;
        int rc = group->control_batch(group, &batches[0], &group->control, group->data);
        if (rc == 0) {
            sl_raft_batch_t copy = batches[0];
            copy.payload = group->control.ptr;
            group->log_env.log_append(group->log_env.data, &copy, 1);
            return;
        }
        SL_LOG(SL_LOG_ERROR, "replication", "cannot build control batch topic=%s error=\"%s\"",
               group->topic_name, sl_strerror(rc));
    }
    group->log_env.log_append(group->log_env.data, batches, batch_count);
}

static void env_log_truncate(void *data, int64_t offset)
{
    sl_raft_group_t *group = data;
    group->log_env.log_truncate(group->log_env.data, offset);
}

static void env_log_flush(void *data, int64_t end_offset)
{
    sl_raft_group_t *group = data;
    group->flush_end = end_offset;
    group->log_env.log_flush(group->log_env.data, end_offset);
    host_dirty(group->host); /* its completion comes straight into the core: see check_run */
}

static void env_quorum_state_save(void *data, const sl_raft_quorum_state_t *state)
{
    sl_raft_group_t *group = data;
    group->log_env.quorum_state_save(group->log_env.data, state);
}

/* splitmix64: election jitter only. */
static uint64_t env_random_u64(void *data)
{
    sl_raft_group_t *group = data;
    uint64_t z = (group->host->random_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- registry -------------------------------------------------------------------------------- */

static bool key_matches(const sl_raft_group_t *group, sl_slice_t topic_name,
                        const sl_uuid_t *topic_id, int32_t partition)
{
    if (group->key.partition != partition)
        return false;
    if (topic_id != NULL && !sl_uuid_is_zero(topic_id))
        return memcmp(&group->key.topic_id, topic_id, sizeof(*topic_id)) == 0;
    return sl_slice_eq_str(topic_name, group->topic_name);
}

static sl_raft_group_t *group_find(const sl_raft_host_t *host, sl_slice_t topic_name,
                                   const sl_uuid_t *topic_id, int32_t partition)
{
    for (size_t i = 0; i < host->group_count; i++)
        if (key_matches(host->groups[i], topic_name, topic_id, partition))
            return host->groups[i];
    return NULL;
}

static sl_raft_group_t *group_of_key(const sl_raft_host_t *host, const sl_raft_group_key_t *key)
{
    sl_slice_t name = key->topic_name != NULL ? sl_slice_from_str(key->topic_name) : SL_SLICE_NULL;
    return group_find(host, name, &key->topic_id, key->partition);
}

static int16_t wire_find_group(void *data, sl_slice_t topic_name, const sl_uuid_t *topic_id,
                               int32_t partition, sl_raft_group_key_t *key)
{
    const sl_raft_host_t *host = data;
    const sl_raft_group_t *group = group_find(host, topic_name, topic_id, partition);
    if (group == NULL)
        return topic_name.len == 0 ? SL_KERR_UNKNOWN_TOPIC_ID : SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    *key = group->key;
    return SL_KERR_NONE;
}

static void timer_fire(uv_timer_t *timer);

/* The timer goes to the earliest of the groups' deadlines and the held calls' deadlines. */
static void host_arm(sl_raft_host_t *host)
{
    if (host->closing)
        return;
    uint64_t at = UINT64_MAX;
    for (size_t i = 0; i < host->group_count; i++)
        at = SL_MIN(at, sl_raft_next_deadline_ms(host->groups[i]->raft));
    for (const sl_quorum_call_t *c = host->held; c != NULL; c = c->next)
        at = SL_MIN(at, c->deadline_ms);
    if (at == UINT64_MAX) {
        uv_timer_stop(&host->timer);
        return;
    }
    uint64_t now = host_now(host);
    uv_timer_start(&host->timer, timer_fire, at > now ? at - now : 0, 0);
}

static void group_tick(sl_raft_group_t *group)
{
    sl_raft_tick(group->raft, host_now(group->host));
}

/* ---- out: requests to other nodes -------------------------------------------------------------
 */

static void env_send(void *data, const sl_raft_msg_t *msg)
{
    sl_raft_group_t *group = data;
    sl_raft_host_t *host = group->host;
    /* a state that did not become durable (a failed write) must not be acted on */
    if (host->closing || sl_raft_log_error(group->log) != 0)
        return;
    if (host->outbox_count == host->outbox_cap) {
        size_t cap = host->outbox_cap ? host->outbox_cap * 2 : 64;
        outbox_entry_t *grown =
            cap <= HOST_OUTBOX_MAX ? sl_realloc(host->outbox, cap * sizeof(*grown)) : NULL;
        if (grown == NULL) {
            SL_LOG_RATELIMITED(SL_LOG_WARN, "replication", "outbox full: dropped %s to node=%d",
                               sl_raft_msg_type_name(msg->type), (int)msg->destination_id);
            return;
        }
        host->outbox = grown;
        host->outbox_cap = cap;
    }
    host->outbox[host->outbox_count++] = (outbox_entry_t){group, *msg};
    host_dirty(host);
}

static bool is_response_type(sl_raft_msg_type_t type)
{
    return type == SL_RAFT_MSG_VOTE_RESPONSE || type == SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_RESPONSE ||
           type == SL_RAFT_MSG_END_QUORUM_EPOCH_RESPONSE || type == SL_RAFT_MSG_FETCH_RESPONSE;
}

/* The version each Raft API is sent at (what Kafka 4.0's KRaft sends; Vote v2 carries pre-vote). */
static int16_t send_version(int16_t api_key)
{
    switch (api_key) {
    case SL_API_VOTE:
        return 2;
    case SL_API_FETCH:
        return 17;
    default:
        return 0;
    }
}

static void out_answered(void *data, int status, const void *body);

/* Sends the outbox entries [first, first+n) (one destination, one type) as one request. */
static void send_batch(sl_raft_host_t *host, outbox_entry_t *entries, size_t n)
{
    int32_t destination = entries[0].msg.destination_id;
    int16_t api_key = sl_raft_wire_api_key(entries[0].msg.type);
    int16_t version = send_version(api_key);
    const sl_api_info_t *info = sl_api_info(api_key);
    out_request_t *out = sl_calloc(1, sizeof(*out) + n * sizeof(out->entries[0]));
    sl_arena_reset(&host->scratch);
    sl_raft_wire_msg_t *msgs = sl_arena_alloc(&host->scratch, n * sizeof(*msgs));
    void *request = sl_arena_alloc(&host->scratch, info->request_struct_size);
    if (out == NULL || msgs == NULL || request == NULL) {
        sl_free(out);
        return;
    }
    out->host = host;
    out->api_key = api_key;
    out->api_version = version;
    out->destination = destination;
    out->count = n;
    uint32_t timeout_ms = host->cfg.request_timeout_ms;
    for (size_t i = 0; i < n; i++) {
        const sl_raft_group_t *group = entries[i].group;
        memset(&msgs[i], 0, sizeof(msgs[i]));
        msgs[i].group = group->key;
        msgs[i].msg = entries[i].msg;
        snprintf(out->entries[i].topic_name, sizeof(out->entries[i].topic_name), "%s",
                 group->topic_name);
        out->entries[i].topic_id = group->key.topic_id;
        out->entries[i].partition = group->key.partition;
        out->entries[i].correlation_id = entries[i].msg.correlation_id;
        if (entries[i].msg.type == SL_RAFT_MSG_FETCH_REQUEST)
            timeout_ms =
                SL_MAX(timeout_ms, host->cfg.request_timeout_ms +
                                       (uint32_t)entries[i].msg.u.fetch_request.max_wait_ms);
    }
    sl_message_init(info->request, request);
    int rc = sl_raft_wire_request_encode(&host->wire, msgs, n, version, &host->scratch, request);
    if (rc == 0)
        rc = sl_peers_send(host->peers, destination, api_key, version, request, timeout_ms,
                           out_answered, out);
    if (rc != 0) {
        SL_LOG_RATELIMITED(SL_LOG_DEBUG, "replication", "not sent api=%s node=%d error=\"%s\"",
                           info->name, (int)destination, sl_strerror(rc));
        sl_free(out);
    }
}

static bool fetching_to(const sl_raft_host_t *host, int32_t node_id)
{
    for (size_t i = 0; i < host->fetching_count; i++)
        if (host->fetching[i] == node_id)
            return true;
    return false;
}

static void fetching_set(sl_raft_host_t *host, int32_t node_id, bool on)
{
    for (size_t i = 0; i < host->fetching_count; i++) {
        if (host->fetching[i] != node_id)
            continue;
        if (!on)
            host->fetching[i] = host->fetching[--host->fetching_count];
        return;
    }
    if (!on)
        return;
    if (host->fetching_count == host->fetching_cap) {
        size_t cap = host->fetching_cap ? host->fetching_cap * 2 : 8;
        int32_t *grown = sl_realloc(host->fetching, cap * sizeof(*grown));
        if (grown == NULL)
            return; /* untracked: this destination just is not held back */
        host->fetching = grown;
        host->fetching_cap = cap;
    }
    host->fetching[host->fetching_count++] = node_id;
}

/* Whether a follower of node_id is still flushing what its last fetch brought and has not asked
 * again: its next fetch comes once the flush is done, and the others wait to leave with it. */
static bool follower_flushing(const sl_raft_host_t *host, int32_t node_id,
                              const outbox_entry_t *entries, size_t n)
{
    for (size_t i = 0; i < host->group_count; i++) {
        const sl_raft_group_t *g = host->groups[i];
        /* a truncation during the flush caps what it makes durable: the log end bounds it */
        int64_t flushing_to = SL_MIN(g->flush_end, sl_raft_log_end_offset(g->raft));
        if (sl_raft_role(g->raft) != SL_RAFT_FOLLOWER || sl_raft_leader_id(g->raft) != node_id ||
            sl_raft_flushed_offset(g->raft) >= flushing_to || sl_raft_log_error(g->log) != 0)
            continue;
        bool asked = false;
        for (size_t e = 0; e < n && !asked; e++)
            asked = entries[e].group == g;
        if (!asked)
            return true;
    }
    return false;
}

/* A group's newer fetch replaces the older one still waiting (a resend after a timeout). */
static size_t fetches_dedup(outbox_entry_t *entries, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < kept && entries[k].group != entries[i].group)
            k++;
        entries[k] = entries[i];
        if (k == kept)
            kept++;
    }
    return kept;
}

/* Groups the outbox by (destination, type), keeping each group's order. With one_fetch_per_peer,
 * fetches to a destination with a Fetch in flight stay in the outbox (without waking the loop)
 * until that answer comes back: one fetch loop per broker pair carries every partition, and a
 * quiet partition's held fetch never delays another's answer on the same connection. */
static void outbox_flush(sl_raft_host_t *host)
{
    size_t n = host->outbox_count;
    if (n == 0)
        return;
    /* stable insertion sort: turns are small (a few messages per group) */
    outbox_entry_t *box = host->outbox;
    for (size_t i = 1; i < n; i++) {
        outbox_entry_t e = box[i];
        size_t j = i;
        while (j > 0 && (box[j - 1].msg.destination_id > e.msg.destination_id ||
                         (box[j - 1].msg.destination_id == e.msg.destination_id &&
                          box[j - 1].msg.type > e.msg.type))) {
            box[j] = box[j - 1];
            j--;
        }
        box[j] = e;
    }
    size_t box_cap = host->outbox_cap;
    host->outbox = NULL; /* sends below may collect nothing (peers never call back inside) */
    host->outbox_count = host->outbox_cap = 0;
    size_t waiting = 0; /* fetches kept for later, moved to the front of box */
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && box[j].msg.destination_id == box[i].msg.destination_id &&
               box[j].msg.type == box[i].msg.type)
            j++;
        if (host->cfg.one_fetch_per_peer && box[i].msg.type == SL_RAFT_MSG_FETCH_REQUEST) {
            size_t count = fetches_dedup(box + i, j - i);
            int32_t destination = box[i].msg.destination_id;
            if (fetching_to(host, destination) ||
                follower_flushing(host, destination, box + i, count)) {
                memmove(box + waiting, box + i, count * sizeof(*box));
                waiting += count;
            } else {
                send_batch(host, box + i, count);
                fetching_set(host, destination, true);
            }
        } else {
            send_batch(host, box + i, j - i);
        }
        i = j;
    }
    if (waiting == 0) {
        sl_free(box);
        return;
    }
    /* what the sends queued meanwhile (nothing: peers never call back inside) goes after */
    SL_ASSERT(host->outbox == NULL);
    host->outbox = box;
    host->outbox_count = waiting;
    host->outbox_cap = box_cap;
}

/* An answer from another node: each partition goes to its group with the group's own id. */
static void out_answered(void *data, int status, const void *body)
{
    out_request_t *out = data;
    sl_raft_host_t *host = out->host;
    if (out->api_key == SL_API_FETCH && host->cfg.one_fetch_per_peer && !host->closing) {
        fetching_set(host, out->destination, false);
        host_dirty(host); /* the fetches that waited for this answer go now */
    }
    if (status != 0 || host->closing) {
        if (status != 0 && status != SL_ECLOSED)
            SL_LOG_RATELIMITED(SL_LOG_DEBUG, "replication", "no answer api=%d node=%d error=\"%s\"",
                               (int)out->api_key, (int)out->destination, sl_strerror(status));
        sl_free(out);
        return;
    }
    sl_arena_reset(&host->scratch);
    sl_raft_wire_decoded_t decoded;
    int rc = sl_raft_wire_response_decode(&host->wire, out->api_key, out->api_version,
                                          out->destination, 0, body, &host->scratch, &decoded);
    if (rc != 0 || decoded.error_code != SL_KERR_NONE) {
        SL_LOG_RATELIMITED(
            SL_LOG_WARN, "replication", "answer refused api=%d node=%d error=\"%s\" error_code=%d",
            (int)out->api_key, (int)out->destination, sl_strerror(rc), (int)decoded.error_code);
        sl_free(out);
        return;
    }
    for (size_t i = 0; i < decoded.count; i++) {
        sl_raft_wire_msg_t *m = &decoded.msgs[i];
        sl_raft_group_t *group = group_of_key(host, &m->group);
        if (group == NULL)
            continue;
        bool known = false;
        for (size_t e = 0; e < out->count && !known; e++) {
            if (out->entries[e].partition != m->group.partition ||
                !key_matches(group, sl_slice_from_str(out->entries[e].topic_name),
                             &out->entries[e].topic_id, out->entries[e].partition))
                continue;
            m->msg.correlation_id = out->entries[e].correlation_id;
            known = true;
        }
        if (!known)
            continue; /* a partition this request did not ask about */
        if (m->status != 0)
            SL_LOG_RATELIMITED(SL_LOG_WARN, "replication",
                               "bad record batch from node=%d topic=%s partition=%d",
                               (int)out->destination, group->topic_name, (int)group->key.partition);
        group_tick(group);
        sl_raft_receive(group->raft, &m->msg);
    }
    sl_free(out);
    host_dirty(host);
}

/* ---- in: requests from other nodes --------------------------------------------------------------
 */

static void call_try_answer(sl_quorum_call_t *call);

static call_slot_t *slot_find(sl_raft_host_t *host, int32_t correlation_id)
{
    for (sl_quorum_call_t *c = host->held; c != NULL; c = c->next)
        for (size_t i = 0; i < c->count; i++)
            if (!c->slots[i].answered && c->slots[i].correlation_id == correlation_id)
                return &c->slots[i];
    return NULL;
}

static void call_unlink(sl_quorum_call_t *call)
{
    sl_raft_host_t *host = call->host;
    if (call->prev != NULL)
        call->prev->next = call->next;
    else if (host->held == call)
        host->held = call->next;
    if (call->next != NULL)
        call->next->prev = call->prev;
    call->next = call->prev = NULL;
}

static void call_destroy(sl_quorum_call_t *call)
{
    for (size_t i = 0; i < call->count; i++) {
        sl_free(call->slots[i].owned);
        if (call->records[i].fd >= 0)
            (void)close(call->records[i].fd); /* a read-only dup */
    }
    sl_free(call->slots);
    sl_free(call->records);
    sl_free(call);
}

static void records_read(sl_log_read_t *req, int status, uint8_t *bytes, size_t len, void *data)
{
    call_slot_t *slot = data;
    sl_quorum_call_t *call = slot->call;
    slot->reading = false;
    call->reads_pending--;
    sl_raft_wire_records_t *rec = &call->records[slot->index];
    if (status == 0 && bytes != NULL) {
        slot->owned = bytes;
        *rec = (sl_raft_wire_records_t){.bytes = bytes, .len = len, .fd = -1};
    } else if (status == 0 && len > 0) {
        int fd = dup(req->file_fd); /* borrowed only inside this callback */
        if (fd >= 0)
            *rec = (sl_raft_wire_records_t){.len = len, .fd = fd, .file_pos = req->file_pos};
    } else if (status != 0) {
        SL_LOG_RATELIMITED(SL_LOG_WARN, "replication",
                           "cannot read records for a replica error=\"%s\"", sl_strerror(status));
    }
    if (call->released && call->reads_pending == 0) {
        call_destroy(call);
        return;
    }
    call_try_answer(call);
}

/* The core answered one slot. A Fetch answer with records starts the read of its batches. */
static void slot_answer(call_slot_t *slot, const sl_raft_msg_t *msg)
{
    sl_quorum_call_t *call = slot->call;
    slot->answered = true;
    sl_raft_wire_msg_t *answer = &call->answers[slot->index];
    answer->msg = *msg;
    const sl_raft_fetch_response_t *f = &msg->u.fetch_response;
    if (msg->type != SL_RAFT_MSG_FETCH_RESPONSE || f->error_code != SL_RAFT_ERR_NONE ||
        f->diverging_epoch >= 0 || f->records_end_offset <= f->records_offset)
        return;
    sl_raft_group_t *group = group_of_key(call->host, &answer->group);
    if (group == NULL)
        return;
    int32_t limit = answer->records_max_bytes > 0 ? answer->records_max_bytes
                                                  : SL_RAFT_WIRE_FETCH_MAX_BYTES_DEFAULT;
    slot->reading = true;
    call->reads_pending++;
    int rc = sl_raft_log_read(group->log, &slot->read, f->records_offset, f->records_end_offset,
                              (size_t)limit, records_read, slot);
    if (rc != 0 && slot->reading) {
        slot->reading = false;
        call->reads_pending--;
        SL_LOG_RATELIMITED(SL_LOG_WARN, "replication",
                           "cannot read records for a replica error=\"%s\"", sl_strerror(rc));
    }
}

/* The answer a slot gets when its group never answered: the group's view and an error, so the
 * requester learns the epoch and leader and carries on. */
static void slot_default_answer(sl_quorum_call_t *call, size_t i, int16_t error)
{
    sl_raft_wire_msg_t *a = &call->answers[i];
    sl_raft_group_t *group = group_of_key(call->host, &a->group);
    sl_raft_msg_type_t type = (sl_raft_msg_type_t)(a->msg.type + 1); /* response follows request */
    int32_t leader = group ? sl_raft_leader_id(group->raft) : SL_RAFT_NODE_NONE;
    int32_t epoch = group ? sl_raft_epoch(group->raft) : 0;
    int32_t source = a->msg.destination_id, destination = a->msg.source_id;
    int32_t correlation_id = a->msg.correlation_id;
    memset(&a->msg, 0, sizeof(a->msg));
    a->msg.type = type;
    a->msg.source_id = source;
    a->msg.destination_id = destination;
    a->msg.correlation_id = correlation_id;
    switch (type) {
    case SL_RAFT_MSG_VOTE_RESPONSE:
        a->msg.u.vote_response = (sl_raft_vote_response_t){error, leader, epoch, false};
        break;
    case SL_RAFT_MSG_FETCH_RESPONSE:
        a->msg.u.fetch_response = (sl_raft_fetch_response_t){
            .error_code = error,
            .leader_id = leader,
            .leader_epoch = epoch,
            .high_watermark = group ? sl_raft_high_watermark(group->raft) : -1,
            .diverging_epoch = -1,
            .diverging_end_offset = -1};
        break;
    default:
        a->msg.u.quorum_epoch_response = (sl_raft_quorum_epoch_response_t){error, leader, epoch};
        break;
    }
    call->slots[i].answered = true;
}

static void call_answer(sl_quorum_call_t *call, int status)
{
    call_unlink(call);
    call->answered = true;
    if (status == 0)
        status =
            sl_raft_wire_response_encode(&call->host->wire, call->api_key, call->answers,
                                         call->records, call->count, call->arena, call->response);
    call->answer(call, status, call->data);
}

static void call_try_answer(sl_quorum_call_t *call)
{
    if (call->answered || call->reads_pending > 0)
        return;
    for (size_t i = 0; i < call->count; i++)
        if (!call->slots[i].answered)
            return;
    call_answer(call, 0);
}

static int serve_describe_quorum(sl_raft_host_t *host, const void *request, void *response,
                                 sl_arena_t *arena)
{
    sl_raft_wire_quorum_t *quorums = NULL;
    size_t count = 0;
    int rc = sl_raft_wire_describe_quorum_decode(&host->wire, request, arena, &quorums, &count);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < count; i++) {
        if (quorums[i].error_code != SL_KERR_NONE)
            continue;
        sl_raft_group_t *group = group_of_key(host, &quorums[i].group);
        if (group == NULL) {
            quorums[i].error_code = SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        group_tick(group);
        sl_raft_describe_quorum(group->raft, &quorums[i].info);
    }
    return sl_raft_wire_describe_quorum_encode(&host->wire, quorums, count, host_now(host),
                                               sl_clock_realtime_ms(), host->nodes,
                                               host->nodes_count, arena, response);
}

int sl_raft_host_serve(sl_raft_host_t *host, int16_t api_key, int16_t api_version,
                       int32_t correlation_id, const void *request, void *response,
                       sl_arena_t *arena, sl_quorum_answer_cb answer, void *data)
{
    if (host->closing)
        return SL_ECLOSED;
    sl_quorum_call_t *call = sl_calloc(1, sizeof(*call));
    if (call == NULL)
        return -ENOMEM;
    call->host = host;
    call->api_key = api_key;
    call->api_version = api_version;
    call->response = response;
    call->arena = arena;
    call->answer = answer;
    call->data = data;
    if (api_key == SL_API_DESCRIBE_QUORUM) {
        int rc = serve_describe_quorum(host, request, response, arena);
        call->answered = true;
        answer(call, rc, data);
        return 0;
    }
    sl_raft_wire_decoded_t decoded;
    int rc = sl_raft_wire_request_decode(&host->wire, api_key, api_version, correlation_id, request,
                                         arena, &decoded);
    if (rc != 0) {
        sl_free(call);
        return rc;
    }
    if (decoded.error_code != SL_KERR_NONE) {
        rc = sl_raft_wire_error_response(api_key, decoded.error_code, response);
        call->answered = true;
        answer(call, rc, data);
        return 0;
    }
    call->count = decoded.count;
    call->answers = decoded.msgs;
    /* owned, not in the arena: a read may finish after the request is freed */
    call->records = sl_calloc(SL_MAX(decoded.count, 1), sizeof(*call->records));
    call->slots = sl_calloc(SL_MAX(decoded.count, 1), sizeof(*call->slots));
    if (call->records == NULL || call->slots == NULL) {
        sl_free(call->records);
        sl_free(call->slots);
        sl_free(call);
        return -ENOMEM;
    }
    uint64_t wait_ms = 0;
    for (size_t i = 0; i < call->count; i++) {
        call->records[i] = (sl_raft_wire_records_t){.fd = -1};
        call->slots[i].call = call;
        call->slots[i].index = i;
        call->slots[i].answered = call->answers[i].answered;
        if (call->answers[i].msg.type == SL_RAFT_MSG_FETCH_REQUEST)
            wait_ms = SL_MAX(wait_ms,
                             (uint64_t)SL_MAX(call->answers[i].msg.u.fetch_request.max_wait_ms, 0));
    }
    call->deadline_ms = host_now(host) + wait_ms + HOST_HELD_GRACE_MS;
    call->next = host->held;
    if (host->held != NULL)
        host->held->prev = call;
    host->held = call;
    /* Feed each partition to its group under a host-unique id; its answers come through
     * env_send and are matched in the check phase. */
    for (size_t i = 0; i < call->count; i++) {
        if (call->slots[i].answered)
            continue;
        sl_raft_wire_msg_t *m = &call->answers[i];
        sl_raft_group_t *group = group_of_key(host, &m->group);
        call->slots[i].correlation_id = host->next_slot_id++;
        if (host->next_slot_id == INT32_MAX)
            host->next_slot_id = 1;
        if (group == NULL) {
            slot_default_answer(call, i, SL_RAFT_ERR_NOT_LEADER_OR_FOLLOWER);
            continue;
        }
        sl_raft_msg_t msg = m->msg;
        msg.correlation_id = call->slots[i].correlation_id;
        m->msg.correlation_id = msg.correlation_id;
        group_tick(group);
        sl_raft_receive(group->raft, &msg);
    }
    host_dirty(host);
    return 0;
}

bool sl_quorum_call_has_records(const sl_quorum_call_t *call)
{
    for (size_t i = 0; call->records != NULL && i < call->count; i++)
        if (call->records[i].len > 0)
            return true;
    return false;
}

int sl_quorum_call_pieces(sl_quorum_call_t *call, int16_t version, const uint8_t *head,
                          size_t head_len, size_t total, uint8_t **buffer,
                          sl_quorum_piece_t **pieces, size_t *pieces_count)
{
    SL_ASSERT(call->api_key == SL_API_FETCH && call->answered);
    size_t records_bytes = 0, gaps = 0;
    sl_raft_wire_fetch_response_records(call->response, &records_bytes, &gaps);
    SL_ASSERT(records_bytes <= total && head_len <= total - records_bytes);
    size_t cap = 2 * gaps + 1;
    uint8_t *buf = sl_malloc(SL_MAX(total - records_bytes, 1));
    sl_raft_wire_piece_t *wire = sl_calloc(cap, sizeof(*wire));
    sl_quorum_piece_t *out = sl_calloc(cap, sizeof(*out));
    if (buf == NULL || wire == NULL || out == NULL) {
        sl_free(buf);
        sl_free(wire);
        sl_free(out);
        return -ENOMEM;
    }
    memcpy(buf, head, head_len);
    sl_writer_t w;
    sl_writer_init(&w, buf + head_len, total - records_bytes - head_len);
    size_t n = 0;
    int rc = sl_raft_wire_encode_pieces(call->response, version, call->records, call->count, &w,
                                        buf, call->arena, wire, cap, &n);
    if (rc != 0) {
        sl_free(buf);
        sl_free(wire);
        sl_free(out);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = (sl_quorum_piece_t){
            .ptr = wire[i].ptr, .len = wire[i].len, .fd = wire[i].fd, .file_pos = wire[i].file_pos};
        /* records move to the piece: memory the call read, a descriptor it dup'ed */
        for (size_t r = 0; r < call->count; r++) {
            if (wire[i].fd >= 0 && call->records[r].fd == wire[i].fd) {
                call->records[r].fd = -1;
            } else if (wire[i].ptr != NULL && call->slots[r].owned != NULL &&
                       wire[i].ptr == call->slots[r].owned) {
                out[i].owned = call->slots[r].owned;
                call->slots[r].owned = NULL;
            }
        }
    }
    sl_free(wire);
    *buffer = buf;
    *pieces = out;
    *pieces_count = n;
    return 0;
}

void sl_quorum_call_free(sl_quorum_call_t *call)
{
    if (call == NULL)
        return;
    SL_ASSERT(call->answered);
    call->released = true;
    if (call->reads_pending == 0)
        call_destroy(call);
}

/* Answers from the core to calls: matched by the host-unique id (slots of a request the host
 * answered at its deadline are gone, and their late answers dropped). Outgoing requests go to
 * the outbox. */
static void route_outbox_answers(sl_raft_host_t *host)
{
    size_t kept = 0;
    for (size_t i = 0; i < host->outbox_count; i++) {
        outbox_entry_t *e = &host->outbox[i];
        if (!is_response_type(e->msg.type)) {
            host->outbox[kept++] = *e;
            continue;
        }
        call_slot_t *slot = slot_find(host, e->msg.correlation_id);
        if (slot != NULL)
            slot_answer(slot, &e->msg);
    }
    host->outbox_count = kept;
}

static void report_changes(sl_raft_host_t *host)
{
    for (size_t i = 0; i < host->group_count; i++) {
        sl_raft_group_t *g = host->groups[i];
        sl_raft_role_t role = sl_raft_role(g->raft);
        int32_t epoch = sl_raft_epoch(g->raft), leader = sl_raft_leader_id(g->raft);
        int64_t hw = sl_raft_high_watermark(g->raft);
        int log_error = sl_raft_log_error(g->log); /* a failed write stops the group */
        if (role == g->seen_role && epoch == g->seen_epoch && leader == g->seen_leader &&
            hw == g->seen_high_watermark && log_error == g->seen_log_error)
            continue;
        g->seen_log_error = log_error;
        if (hw != g->seen_high_watermark && hw >= 0)
            sl_raft_log_set_high_watermark(g->log, hw);
        g->seen_role = role;
        g->seen_epoch = epoch;
        g->seen_leader = leader;
        g->seen_high_watermark = hw;
        if (g->changed != NULL)
            g->changed(g, g->data);
    }
}

/* A held Fetch of many groups answers as soon as one of them has something (records, a new high
 * watermark, a divergence): the groups still holding their part answer now with what they have,
 * so no partition waits for the slowest one (Kafka's fetch returns when any partition has data).
 * Error answers do not count: they must not turn a follower's fetch into a busy loop. */
static bool release_held_fetches(sl_raft_host_t *host)
{
    bool released = false;
    for (sl_quorum_call_t *c = host->held; c != NULL; c = c->next) {
        if (c->api_key != SL_API_FETCH || c->answered)
            continue;
        bool news = false, waiting = false;
        for (size_t i = 0; i < c->count; i++) {
            const sl_raft_msg_t *m = &c->answers[i].msg;
            if (!c->slots[i].answered)
                waiting = true;
            else if (m->type == SL_RAFT_MSG_FETCH_RESPONSE &&
                     m->u.fetch_response.error_code == SL_RAFT_ERR_NONE)
                news = true;
        }
        if (!news || !waiting)
            continue;
        for (size_t i = 0; i < c->count; i++) {
            if (c->slots[i].answered)
                continue;
            sl_raft_group_t *group = group_of_key(host, &c->answers[i].group);
            if (group != NULL) {
                group_tick(group);
                released |= sl_raft_answer_parked_fetch(group->raft, c->answers[i].msg.source_id);
            }
        }
    }
    return released;
}

static void answer_ready_calls(sl_raft_host_t *host)
{
    route_outbox_answers(host);
    if (release_held_fetches(host))
        route_outbox_answers(host);
    for (sl_quorum_call_t *c = host->held, *next; c != NULL; c = next) {
        next = c->next;
        call_try_answer(c);
    }
}

static bool flush_pending(const sl_raft_host_t *host)
{
    for (size_t i = 0; i < host->group_count; i++)
        if (sl_raft_flushed_offset(host->groups[i]->raft) < host->groups[i]->flush_end)
            return true;
    return false;
}

/* The end of a loop turn: answers to calls, changes reported (an owner may propose then, and a
 * propose may answer parked fetches), requests out, timer re-armed. While a flush is in flight
 * the turn that completes it (the log reports it straight to the core) is looked at too. */
static void check_run(uv_check_t *check)
{
    sl_raft_host_t *host = check->data;
    if (host->idle_active) {
        uv_idle_stop(&host->idle);
        host->idle_active = false;
    }
    if (host->closing || !host->dirty)
        return;
    host->dirty = false;
    answer_ready_calls(host);
    report_changes(host);
    answer_ready_calls(host);
    outbox_flush(host);
    host_arm(host);
    if (flush_pending(host))
        host->dirty = true;
}

static void timer_fire(uv_timer_t *timer)
{
    sl_raft_host_t *host = timer->data;
    uint64_t now = host_now(host);
    for (size_t i = 0; i < host->group_count; i++)
        sl_raft_tick(host->groups[i]->raft, now);
    route_outbox_answers(host); /* what the ticks answered is not late */
    for (sl_quorum_call_t *c = host->held, *next; c != NULL; c = next) {
        next = c->next;
        if (c->deadline_ms > now || c->reads_pending > 0)
            continue;
        for (size_t i = 0; i < c->count; i++)
            if (!c->slots[i].answered)
                slot_default_answer(c, i, SL_RAFT_ERR_NOT_LEADER_OR_FOLLOWER);
        call_try_answer(c);
    }
    host_dirty(host);
    host_arm(host);
}

/* ---- lifecycle
 * ----------------------------------------------------------------------------------- */

int sl_raft_host_create(uv_loop_t *loop, sl_peers_t *peers, const sl_raft_host_config_t *cfg,
                        sl_raft_host_t **out)
{
    sl_raft_host_t *host = sl_calloc(1, sizeof(*host));
    if (host == NULL)
        return -ENOMEM;
    host->loop = loop;
    host->peers = peers;
    host->cfg = *cfg;
    if (cfg->cluster_id != NULL) {
        host->cluster_id = sl_strdup(cfg->cluster_id);
        if (host->cluster_id == NULL) {
            sl_free(host);
            return -ENOMEM;
        }
    }
    host->wire = (sl_raft_wire_ctx_t){.local_id = cfg->node_id,
                                      .cluster_id = host->cluster_id,
                                      .find_group = wire_find_group,
                                      .find_data = host,
                                      .fetch_max_bytes = cfg->fetch_max_bytes};
    sl_uuid_t seed;
    if (sl_uuid_random(&seed) == 0)
        memcpy(&host->random_state, seed.bytes, sizeof(host->random_state));
    host->random_state ^= sl_clock_monotonic_ns();
    host->next_slot_id = 1;
    sl_arena_init(&host->scratch, SL_REQUEST_ARENA_BYTES_MAX);
    uv_timer_init(loop, &host->timer);
    uv_check_init(loop, &host->check);
    uv_idle_init(loop, &host->idle);
    host->timer.data = host->check.data = host->idle.data = host;
    uv_check_start(&host->check, check_run);
    host->handles_open = 3;
    *out = host;
    return 0;
}

void sl_raft_host_set_nodes(sl_raft_host_t *host, const sl_describe_quorum_response_node_t *nodes,
                            int32_t count)
{
    host->nodes = nodes;
    host->nodes_count = count;
}

int sl_raft_host_add_group(sl_raft_host_t *host, const sl_raft_group_config_t *cfg,
                           sl_raft_group_t **out)
{
    if (host->closing)
        return SL_ECLOSED;
    sl_raft_group_t **grown = sl_realloc(host->groups, (host->group_count + 1) * sizeof(*grown));
    if (grown == NULL)
        return -ENOMEM;
    host->groups = grown;
    sl_raft_group_t *group = sl_calloc(1, sizeof(*group));
    if (group == NULL)
        return -ENOMEM;
    group->host = host;
    group->topic_name = sl_strdup(cfg->topic_name);
    if (group->topic_name == NULL) {
        sl_free(group);
        return -ENOMEM;
    }
    group->key = (sl_raft_group_key_t){group->topic_name, cfg->topic_id, cfg->partition};
    group->log = cfg->log;
    group->changed = cfg->changed;
    group->control_batch = cfg->control_batch;
    group->data = cfg->data;
    sl_buf_init(&group->control, SL_MiB);
    sl_raft_log_fill_env(cfg->log, &group->log_env);
    sl_raft_env_t env = {.data = group,
                         .send = env_send,
                         .log_append = env_log_append,
                         .log_truncate = env_log_truncate,
                         .log_flush = env_log_flush,
                         .quorum_state_save = env_quorum_state_save,
                         .random_u64 = env_random_u64};
    sl_raft_log_state_t state;
    const sl_raft_quorum_state_t *persisted = NULL;
    sl_raft_log_recovered(cfg->log, &state, &persisted);
    int rc = sl_raft_create(&cfg->raft, &env, persisted, &state, host_now(host), &group->raft);
    if (rc != 0) {
        sl_buf_deinit(&group->control);
        sl_free(group->topic_name);
        sl_free(group);
        return rc;
    }
    sl_raft_log_bind(cfg->log, group->raft);
    group->seen_role = sl_raft_role(group->raft);
    group->seen_epoch = sl_raft_epoch(group->raft);
    group->seen_leader = sl_raft_leader_id(group->raft);
    group->seen_high_watermark = -1; /* the first check reports it */
    host->groups[host->group_count++] = group;
    host_dirty(host);
    *out = group;
    return 0;
}

void sl_raft_host_remove_group(sl_raft_host_t *host, sl_raft_group_t *group)
{
    for (size_t i = 0; i < host->group_count; i++) {
        if (host->groups[i] != group)
            continue;
        host->groups[i] = host->groups[--host->group_count];
        break;
    }
    size_t kept = 0; /* its queued messages go with it */
    for (size_t i = 0; i < host->outbox_count; i++)
        if (host->outbox[i].group != group)
            host->outbox[kept++] = host->outbox[i];
    host->outbox_count = kept;
    /* a flush still in flight completes into the log alone, not into the freed core */
    sl_raft_log_bind(group->log, NULL);
    sl_raft_destroy(group->raft);
    sl_buf_deinit(&group->control);
    sl_free(group->topic_name);
    sl_free(group);
    host_arm(host);
}

sl_raft_t *sl_raft_group_raft(sl_raft_group_t *group)
{
    return group->raft;
}

sl_raft_log_t *sl_raft_group_log(sl_raft_group_t *group)
{
    return group->log;
}

int sl_raft_group_propose(sl_raft_group_t *group, int32_t record_count, const void *payload,
                          int64_t *base_offset_out)
{
    group_tick(group);
    int rc = sl_raft_propose(group->raft, record_count, payload, base_offset_out);
    host_dirty(group->host);
    return rc;
}

void sl_raft_group_resign(sl_raft_group_t *group)
{
    group_tick(group);
    sl_raft_resign(group->raft);
    host_dirty(group->host);
}

void sl_raft_group_poke(sl_raft_group_t *group)
{
    host_dirty(group->host);
}

/* Sends what is queued now (a resignation's EndQuorumEpoch), for a shutdown that cannot wait for
 * the check phase. */
void sl_raft_host_flush_now(sl_raft_host_t *host)
{
    route_outbox_answers(host);
    outbox_flush(host);
}

static void handle_closed(uv_handle_t *handle)
{
    sl_raft_host_t *host = handle->data;
    if (--host->handles_open > 0)
        return;
    void (*cb)(void *) = host->closed_cb;
    void *data = host->closed_data;
    sl_free(host->outbox);
    sl_free(host->fetching);
    sl_free(host->groups);
    sl_free(host->cluster_id);
    sl_arena_deinit(&host->scratch);
    sl_free(host);
    if (cb != NULL)
        cb(data);
}

void sl_raft_host_close(sl_raft_host_t *host, void (*closed_cb)(void *data), void *data)
{
    SL_ASSERT(!host->closing);
    host->closed_cb = closed_cb;
    host->closed_data = data;
    /* held calls get their default answers: the requester retries elsewhere or later */
    while (host->held != NULL) {
        sl_quorum_call_t *c = host->held;
        for (size_t i = 0; i < c->count; i++)
            if (!c->slots[i].answered)
                slot_default_answer(c, i, SL_RAFT_ERR_NOT_LEADER_OR_FOLLOWER);
        if (c->reads_pending > 0) { /* answered without the records still being read */
            call_unlink(c);
            c->answered = true;
            c->answer(c, SL_ECLOSED, c->data);
            continue;
        }
        call_answer(c, 0);
    }
    host->closing = true;
    while (host->group_count > 0)
        sl_raft_host_remove_group(host, host->groups[0]);
    host->outbox_count = 0;
    uv_close((uv_handle_t *)&host->timer, handle_closed);
    uv_close((uv_handle_t *)&host->check, handle_closed);
    uv_close((uv_handle_t *)&host->idle, handle_closed);
}
