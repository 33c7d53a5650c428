/* controller: the active controller's decisions as pure functions. Each reads the image, checks
 * the request as Kafka's controller (ReplicationControlManager, ClusterControlManager,
 * ProducerIdControlManager) does, and appends the records that carry the decision; it never
 * changes the image. The caller applies them (to its working image at once, to every image when
 * committed) before it decides the next thing, as Kafka's controller does. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "metadata_int.h"

static sl_metadata_result_t ok(void)
{
    return (sl_metadata_result_t){0};
}

SL_PRINTF(2, 3) static sl_metadata_result_t fail(sl_kerr_t error, const char *fmt, ...)
{
    sl_metadata_result_t r = {.error = error};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r.message, sizeof r.message, fmt, ap);
    va_end(ap);
    return r;
}

static sl_metadata_result_t out_of_room(void)
{
    return fail(SL_KERR_UNKNOWN_SERVER_ERROR, "the controller ran out of memory for records");
}

/* Copies ids into the list's arena (what a record points at); NULL only when the arena is full
 * and count > 0. */
static int32_t *arena_ids(sl_metadata_records_t *out, const int32_t *ids, int32_t count)
{
    if (count <= 0)
        return sl_arena_alloc(out->arena, 1);
    int32_t *copy = sl_arena_alloc(out->arena, sizeof(int32_t) * (size_t)count);
    if (copy != NULL)
        memcpy(copy, ids, sizeof(int32_t) * (size_t)count);
    return copy;
}

/* ---- broker sessions ------------------------------------------------------------------------- */

void sl_metadata_sessions_init(sl_metadata_sessions_t *s)
{
    memset(s, 0, sizeof *s);
}

void sl_metadata_sessions_deinit(sl_metadata_sessions_t *s)
{
    sl_free(s->items);
    memset(s, 0, sizeof *s);
}

static struct sl_metadata_session *session_find(const sl_metadata_sessions_t *s, int32_t id)
{
    for (int32_t i = 0; i < s->count; i++)
        if (s->items[i].broker_id == id)
            return &s->items[i];
    return NULL;
}

int sl_metadata_sessions_touch(sl_metadata_sessions_t *s, int32_t broker_id, int64_t now_ms)
{
    struct sl_metadata_session *found = session_find(s, broker_id);
    if (found != NULL) {
        found->last_contact_ms = now_ms;
        return 0;
    }
    int rc = sl__md_grow((void **)&s->items, s->count, &s->cap, sizeof s->items[0]);
    if (rc != 0)
        return rc;
    s->items[s->count++] = (struct sl_metadata_session){broker_id, now_ms};
    return 0;
}

int sl_metadata_sessions_reset(sl_metadata_sessions_t *s, const sl_metadata_image_t *img,
                               int64_t now_ms)
{
    s->count = 0;
    for (int32_t i = 0; i < img->broker_count; i++) {
        int rc = sl_metadata_sessions_touch(s, img->brokers[i].id, now_ms);
        if (rc != 0)
            return rc;
    }
    return 0;
}

bool sl_metadata_sessions_alive(const sl_metadata_sessions_t *s, int32_t broker_id, int64_t now_ms,
                                int64_t session_timeout_ms)
{
    const struct sl_metadata_session *found = session_find(s, broker_id);
    return found != NULL && now_ms - found->last_contact_ms <= session_timeout_ms;
}

/* ---- leadership ------------------------------------------------------------------------------ */

static bool in_list(const int32_t *ids, int32_t count, int32_t id)
{
    for (int32_t i = 0; i < count; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* May lead or join an ISR: active in the image and not among the brokers leaving in this
 * decision (whose records are not applied yet). */
static bool eligible(const sl_metadata_image_t *img, int32_t id, const int32_t *leaving,
                     int32_t leaving_count)
{
    return sl_metadata_broker_active(img, id) && !in_list(leaving, leaving_count, id);
}

/* Kafka's clean election: the first replica, in preferred order, that is in the ISR and may
 * lead. SL_METADATA_NO_LEADER when none. */
static int32_t elect_from_isr(const sl_metadata_image_t *img,
                              const sl_metadata_replicas_t *replicas, const int32_t *isr,
                              int32_t isr_count, const int32_t *leaving, int32_t leaving_count)
{
    for (int32_t i = 0; i < replicas->count; i++) {
        int32_t id = replicas->ids[i];
        if (in_list(isr, isr_count, id) && eligible(img, id, leaving, leaving_count))
            return id;
    }
    return SL_METADATA_NO_LEADER;
}

static sl_partition_change_record_t *add_change(sl_metadata_records_t *out,
                                                const sl_metadata_topic_t *t, int32_t partition_id)
{
    sl_metadata_record_t *rec = sl_metadata_records_add(out, SL_METADATA_RECORD_PARTITION_CHANGE);
    if (rec == NULL)
        return NULL;
    rec->u.partition_change.topic_id = t->id;
    rec->u.partition_change.partition_id = partition_id;
    return &rec->u.partition_change;
}

static bool same_ids(const int32_t *a, int32_t na, const int32_t *b, int32_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, sizeof(int32_t) * (size_t)na) == 0);
}

/* Takes the leaving brokers out of every ISR and leadership they hold: Kafka's
 * generateLeaderAndIsrUpdates for fencing and controlled shutdown. The last ISR member stays
 * (so it can lead again cleanly when it returns); a leader is replaced from the ISR only, unless
 * unclean election is on and the ISR has nobody left who may lead. */
static int move_away(const sl_metadata_image_t *img, const sl_metadata_policy_t *policy,
                     const int32_t *leaving, int32_t leaving_count, sl_metadata_records_t *out)
{
    int32_t isr[SL_METADATA_REPLICAS_MAX];
    for (int32_t ti = 0; ti < img->topic_count; ti++) {
        const sl_metadata_topic_t *t = img->topics[ti];
        for (int32_t pid = 0; pid < t->partition_count; pid++) {
            const sl_metadata_partition_t *p = &t->partitions[pid];
            if (!p->exists)
                continue;
            bool touched = in_list(leaving, leaving_count, p->leader);
            int32_t n = 0;
            for (int32_t i = 0; i < p->isr.count; i++) {
                if (in_list(leaving, leaving_count, p->isr.ids[i]))
                    touched = true;
                else
                    isr[n++] = p->isr.ids[i];
            }
            if (!touched)
                continue;
            if (n == 0 && p->isr.count > 0) /* never empty: keep the leader, else the first */
                isr[n++] = in_list(p->isr.ids, p->isr.count, p->leader) ? p->leader : p->isr.ids[0];
            int32_t leader = p->leader;
            int8_t recovery = -1;
            if (leader == SL_METADATA_NO_LEADER || in_list(leaving, leaving_count, leader)) {
                leader = elect_from_isr(img, &p->replicas, isr, n, leaving, leaving_count);
                if (leader == SL_METADATA_NO_LEADER && policy->unclean_leader_election_enable) {
                    for (int32_t i = 0; i < p->replicas.count; i++) {
                        if (eligible(img, p->replicas.ids[i], leaving, leaving_count)) {
                            leader = p->replicas.ids[i];
                            isr[0] = leader;
                            n = 1;
                            recovery = SL_METADATA_LEADER_RECOVERING;
                            break;
                        }
                    }
                }
            }
            bool isr_changed = !same_ids(isr, n, p->isr.ids, p->isr.count);
            if (!isr_changed && leader == p->leader)
                continue;
            sl_partition_change_record_t *c = add_change(out, t, pid);
            if (c == NULL)
                return SL_ELIMIT;
            if (isr_changed) {
                if ((c->isr = arena_ids(out, isr, n)) == NULL)
                    return SL_ELIMIT;
                c->isr_count = n;
            }
            if (leader != p->leader)
                c->leader = leader;
            c->leader_recovery_state = recovery;
        }
    }
    return 0;
}

/* A broker back from fencing leads the offline partitions whose ISR kept it (Kafka's
 * handleBrokerUnfenced). */
static int lead_offline(const sl_metadata_image_t *img, int32_t broker_id,
                        sl_metadata_records_t *out)
{
    for (int32_t ti = 0; ti < img->topic_count; ti++) {
        const sl_metadata_topic_t *t = img->topics[ti];
        for (int32_t pid = 0; pid < t->partition_count; pid++) {
            const sl_metadata_partition_t *p = &t->partitions[pid];
            if (!p->exists || p->leader != SL_METADATA_NO_LEADER ||
                !sl_metadata_replicas_contains(&p->isr, broker_id))
                continue;
            sl_partition_change_record_t *c = add_change(out, t, pid);
            if (c == NULL)
                return SL_ELIMIT;
            c->leader = broker_id;
        }
    }
    return 0;
}

int sl_metadata_elect_offline(const sl_metadata_image_t *img, const sl_metadata_policy_t *policy,
                              sl_metadata_records_t *out, int32_t *elected_count)
{
    int32_t elected = 0;
    size_t mark = out->count;
    for (int32_t ti = 0; ti < img->topic_count; ti++) {
        const sl_metadata_topic_t *t = img->topics[ti];
        for (int32_t pid = 0; pid < t->partition_count; pid++) {
            const sl_metadata_partition_t *p = &t->partitions[pid];
            if (!p->exists || p->leader != SL_METADATA_NO_LEADER)
                continue;
            int32_t leader = elect_from_isr(img, &p->replicas, p->isr.ids, p->isr.count, NULL, 0);
            bool unclean = false;
            for (int32_t i = 0; leader == SL_METADATA_NO_LEADER &&
                                policy->unclean_leader_election_enable && i < p->replicas.count;
                 i++) {
                if (sl_metadata_broker_active(img, p->replicas.ids[i])) {
                    leader = p->replicas.ids[i];
                    unclean = true;
                }
            }
            if (leader == SL_METADATA_NO_LEADER)
                continue;
            sl_partition_change_record_t *c = add_change(out, t, pid);
            if (c == NULL || (unclean && (c->isr = arena_ids(out, &leader, 1)) == NULL)) {
                out->count = mark;
                return SL_ELIMIT;
            }
            c->leader = leader;
            if (unclean) {
                c->isr_count = 1;
                c->leader_recovery_state = SL_METADATA_LEADER_RECOVERING;
            }
            elected++;
        }
    }
    if (elected_count != NULL)
        *elected_count = elected;
    return 0;
}

static sl_broker_registration_change_record_t *
add_registration_change(sl_metadata_records_t *out, const sl_metadata_broker_t *b)
{
    sl_metadata_record_t *rec =
        sl_metadata_records_add(out, SL_METADATA_RECORD_BROKER_REGISTRATION_CHANGE);
    if (rec == NULL)
        return NULL;
    rec->u.broker_registration_change.broker_id = b->id;
    rec->u.broker_registration_change.broker_epoch = b->epoch;
    return &rec->u.broker_registration_change;
}

/* ---- replica placement ----------------------------------------------------------------------- */

typedef struct {
    const char *name;     /* NULL: brokers without a rack, one group as in Kafka */
    int32_t first, count; /* into placer_t.by_rack */
    int32_t cursor;       /* rotates over the rack's brokers as they are taken */
} rack_t;

typedef struct {
    int32_t by_rack[SL_METADATA_REPLICAS_MAX * 4]; /* active broker ids grouped by rack */
    rack_t racks[SL_METADATA_REPLICAS_MAX * 4];
    int32_t rack_of[SL_METADATA_REPLICAS_MAX * 4]; /* rack index of order[i] */
    int32_t order[SL_METADATA_REPLICAS_MAX * 4];   /* racks interleaved: the leader rotation */
    int32_t broker_count, rack_count;
} placer_t;

#define PLACER_BROKERS_MAX (SL_METADATA_REPLICAS_MAX * 4)

static int rack_cmp(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == NULL ? (b == NULL ? 0 : -1) : 1;
    return strcmp(a, b);
}

/* Groups the active brokers by rack (racks sorted by name, brokers by id: the image keeps brokers
 * sorted) and interleaves the racks into the leader order. false when there are none. */
static bool placer_init(placer_t *pl, const sl_metadata_image_t *img, uint32_t seed)
{
    memset(pl, 0, sizeof *pl);
    for (int32_t i = 0; i < img->broker_count; i++) {
        const sl_metadata_broker_t *b = &img->brokers[i];
        if (!sl_metadata_broker_active(img, b->id) || pl->broker_count == PLACER_BROKERS_MAX)
            continue;
        int32_t r = 0;
        while (r < pl->rack_count && rack_cmp(pl->racks[r].name, b->rack) < 0)
            r++;
        if (r == pl->rack_count || rack_cmp(pl->racks[r].name, b->rack) != 0) {
            memmove(&pl->racks[r + 1], &pl->racks[r],
                    sizeof(rack_t) * (size_t)(pl->rack_count - r));
            pl->racks[r] = (rack_t){.name = b->rack};
            pl->rack_count++;
        }
        pl->racks[r].count++;
        pl->broker_count++;
    }
    /* Lay the brokers out rack by rack. */
    int32_t at = 0;
    for (int32_t r = 0; r < pl->rack_count; r++) {
        pl->racks[r].first = at;
        int32_t n = 0;
        for (int32_t i = 0; i < img->broker_count && n < pl->racks[r].count; i++) {
            const sl_metadata_broker_t *b = &img->brokers[i];
            if (sl_metadata_broker_active(img, b->id) && rack_cmp(b->rack, pl->racks[r].name) == 0)
                pl->by_rack[at + n++] = b->id;
        }
        pl->racks[r].count = n;
        pl->racks[r].cursor = (int32_t)(seed % (uint32_t)(n > 0 ? n : 1));
        at += n;
    }
    pl->broker_count = at;
    /* Interleave: the first broker of each rack, then the second of each, ... */
    int32_t k = 0;
    for (int32_t round = 0; k < pl->broker_count; round++) {
        for (int32_t r = 0; r < pl->rack_count; r++) {
            if (round < pl->racks[r].count) {
                pl->rack_of[k] = r;
                pl->order[k++] = pl->by_rack[pl->racks[r].first + round];
            }
        }
    }
    return pl->broker_count > 0;
}

/* Where the leader rotation starts: the position in the interleaved order that keeps the most
 * loaded broker (counting the leaderships it already has) as light as possible once `count` new
 * partitions are placed, so leaders stay even across topics, not only within one (Kafka starts
 * at random). Ties go to the first position from seed on. */
static int32_t pick_start(const placer_t *pl, const sl_metadata_image_t *img, uint32_t seed,
                          int32_t count)
{
    int32_t n = pl->broker_count;
    int64_t leads[PLACER_BROKERS_MAX] = {0};
    for (int32_t ti = 0; ti < img->topic_count; ti++) {
        const sl_metadata_topic_t *t = img->topics[ti];
        for (int32_t pid = 0; pid < t->partition_count; pid++) {
            if (!t->partitions[pid].exists)
                continue;
            for (int32_t k = 0; k < n; k++)
                if (pl->order[k] == t->partitions[pid].leader)
                    leads[k]++;
        }
    }
    int32_t base = count / n, extra = count % n;
    int32_t first = (int32_t)(seed % (uint32_t)n), best = first;
    int64_t best_max = INT64_MAX;
    for (int32_t step = 0; step < n; step++) {
        int32_t start = (first + step) % n;
        int64_t max = 0;
        for (int32_t k = 0; k < n; k++) {
            /* Partitions start, start+1, ... go to positions start, start+1, ... (mod n). */
            int32_t rank = (k - start + n) % n;
            int64_t load = leads[k] + base + (rank < extra ? 1 : 0);
            max = load > max ? load : max;
        }
        if (max < best_max) {
            best_max = max;
            best = start;
        }
    }
    return best;
}

/* The replicas of the index-th new partition: the leader from the interleaved order at
 * (start + index), then the other racks in turn after the leader's, each giving its next broker
 * not yet chosen, round after round: every rack once before any rack twice. */
static void place_partition(placer_t *pl, int32_t start, int32_t index, int32_t rf, int32_t *out)
{
    int32_t k = (int32_t)(((uint32_t)start + (uint32_t)index) % (uint32_t)pl->broker_count);
    int32_t leader_rack = pl->rack_of[k];
    int32_t n = 0;
    out[n++] = pl->order[k];
    for (int32_t step = 1; n < rf; step++) {
        rack_t *rack = &pl->racks[(leader_rack + step) % pl->rack_count];
        for (int32_t tries = 0; tries < rack->count; tries++) {
            int32_t id = pl->by_rack[rack->first + rack->cursor];
            rack->cursor = (rack->cursor + 1) % rack->count;
            if (!in_list(out, n, id)) {
                out[n++] = id;
                break;
            }
        }
    }
}

/* The log dir a new replica goes to: the broker's only one, else UNASSIGNED (zero), which the
 * broker assigns (Kafka's KIP-858). */
static sl_uuid_t replica_directory(const sl_metadata_image_t *img, int32_t broker_id)
{
    const sl_metadata_broker_t *b = sl_metadata_broker_find(img, broker_id);
    sl_uuid_t zero = {{0}};
    return b != NULL && b->log_dir_count == 1 ? b->log_dirs[0] : zero;
}

/* A new partition's record: ISR = the replicas, leader = the first active replica, epochs 0. */
static int add_new_partition(sl_metadata_records_t *out, const sl_metadata_image_t *img,
                             const sl_uuid_t *topic_id, int32_t partition_id,
                             const int32_t *replicas, int32_t rf)
{
    sl_metadata_record_t *rec = sl_metadata_records_add(out, SL_METADATA_RECORD_PARTITION);
    if (rec == NULL)
        return SL_ELIMIT;
    sl_partition_record_t *r = &rec->u.partition;
    r->partition_id = partition_id;
    r->topic_id = *topic_id;
    int32_t isr[SL_METADATA_REPLICAS_MAX];
    int32_t n = 0;
    for (int32_t i = 0; i < rf; i++)
        if (sl_metadata_broker_active(img, replicas[i]))
            isr[n++] = replicas[i];
    if (n == 0) /* a manual assignment onto fenced brokers: offline until one returns */
        for (int32_t i = 0; i < rf; i++)
            isr[n++] = replicas[i];
    r->replicas = arena_ids(out, replicas, rf);
    r->replicas_count = rf;
    r->isr = arena_ids(out, isr, n);
    r->isr_count = n;
    r->removing_replicas = arena_ids(out, NULL, 0);
    r->adding_replicas = arena_ids(out, NULL, 0);
    r->removing_replicas_count = r->adding_replicas_count = 0;
    r->leader = SL_METADATA_NO_LEADER;
    for (int32_t i = 0; i < rf && r->leader == SL_METADATA_NO_LEADER; i++)
        if (sl_metadata_broker_active(img, replicas[i]))
            r->leader = replicas[i];
    r->leader_epoch = 0;
    r->partition_epoch = 0;
    r->directories = sl_arena_alloc(out->arena, sizeof(sl_uuid_t) * (size_t)rf);
    r->directories_count = rf;
    if (r->replicas == NULL || r->isr == NULL || r->removing_replicas == NULL ||
        r->adding_replicas == NULL || r->directories == NULL)
        return SL_ELIMIT;
    for (int32_t i = 0; i < rf; i++)
        r->directories[i] = replica_directory(img, replicas[i]);
    return 0;
}

/* A manual assignment's replica list: non-empty, distinct, registered brokers. */
static sl_metadata_result_t check_assignment(const sl_metadata_image_t *img,
                                             const sl_metadata_replicas_t *a, int32_t want_rf,
                                             int32_t partition_id)
{
    if (a->count <= 0 || !sl__md_ids_valid(a->ids, a->count))
        return fail(SL_KERR_INVALID_REPLICA_ASSIGNMENT,
                    "Partition %d: the replica list must be non-empty with distinct broker ids.",
                    (int)partition_id);
    if (want_rf > 0 && a->count != want_rf)
        return fail(SL_KERR_INVALID_REPLICA_ASSIGNMENT,
                    "Partition %d has %d replicas; every partition needs the same number (%d).",
                    (int)partition_id, (int)a->count, (int)want_rf);
    for (int32_t i = 0; i < a->count; i++)
        if (sl_metadata_broker_find(img, a->ids[i]) == NULL)
            return fail(SL_KERR_INVALID_REPLICA_ASSIGNMENT,
                        "Partition %d: broker %d is not registered.", (int)partition_id,
                        (int)a->ids[i]);
    return ok();
}

/* Places partitions [from, to) of a topic, or takes the manual assignment. */
static sl_metadata_result_t add_partitions(const sl_metadata_image_t *img,
                                           const sl_uuid_t *topic_id, int32_t from, int32_t to,
                                           int32_t rf, const sl_metadata_replicas_t *assignments,
                                           uint32_t seed, sl_metadata_records_t *out)
{
    if (assignments != NULL) {
        for (int32_t p = from; p < to; p++) {
            const sl_metadata_replicas_t *a = &assignments[p - from];
            sl_metadata_result_t res = check_assignment(img, a, rf, p);
            if (res.error != 0)
                return res;
            if (add_new_partition(out, img, topic_id, p, a->ids, a->count) != 0)
                return out_of_room();
        }
        return ok();
    }
    placer_t *pl = sl_malloc(sizeof *pl);
    if (pl == NULL)
        return out_of_room();
    if (rf <= 0 || rf > SL_METADATA_REPLICAS_MAX) {
        sl_free(pl);
        return fail(SL_KERR_INVALID_REPLICATION_FACTOR,
                    "Replication factor must be between 1 and %d.", SL_METADATA_REPLICAS_MAX);
    }
    if (!placer_init(pl, img, seed) || pl->broker_count < rf) {
        int32_t active = pl->broker_count;
        sl_free(pl);
        return fail(SL_KERR_INVALID_REPLICATION_FACTOR,
                    "Unable to replicate the partition %d time(s): The target replication factor "
                    "of %d cannot be reached because only %d broker(s) are registered and "
                    "unfenced.",
                    (int)rf, (int)rf, (int)active);
    }
    int32_t replicas[SL_METADATA_REPLICAS_MAX];
    int32_t start = pick_start(pl, img, seed, to - from);
    for (int32_t p = from; p < to; p++) {
        place_partition(pl, start, p - from, rf, replicas);
        if (add_new_partition(out, img, topic_id, p, replicas, rf) != 0) {
            sl_free(pl);
            return out_of_room();
        }
    }
    sl_free(pl);
    return ok();
}

/* ---- topics ------------------------------------------------------------------------------------
 */

/* Kafka refuses a name equal to an existing one once '.' and '_' count as the same (metric names
 * would collide). */
static const sl_metadata_topic_t *colliding_topic(const sl_metadata_image_t *img, sl_slice_t name)
{
    for (int32_t i = 0; i < img->topic_count; i++) {
        const char *other = img->topics[i]->name;
        if (strlen(other) != name.len)
            continue;
        size_t k = 0;
        while (k < name.len) {
            char a = (char)name.ptr[k], b = other[k];
            if (a != b && !((a == '.' || a == '_') && (b == '.' || b == '_')))
                break;
            k++;
        }
        if (k == name.len)
            return img->topics[i];
    }
    return NULL;
}

sl_metadata_result_t sl_metadata_create_topic(const sl_metadata_image_t *img,
                                              const sl_metadata_policy_t *policy,
                                              const sl_metadata_create_topic_t *req,
                                              uint32_t placement_seed, sl_metadata_records_t *out)
{
    if (!sl_metadata_topic_name_valid(req->name))
        return fail(SL_KERR_INVALID_TOPIC_EXCEPTION,
                    "Topic name is illegal: it must be 1 to 249 of [a-zA-Z0-9._-], not '.' or "
                    "'..'.");
    if (sl_metadata_topic_find(img, req->name) != NULL)
        return fail(SL_KERR_TOPIC_ALREADY_EXISTS, "Topic '%.*s' already exists.",
                    (int)req->name.len, (const char *)req->name.ptr);
    const sl_metadata_topic_t *coll = colliding_topic(img, req->name);
    if (coll != NULL)
        return fail(SL_KERR_INVALID_TOPIC_EXCEPTION,
                    "Topic '%.*s' collides with existing topic: %s", (int)req->name.len,
                    (const char *)req->name.ptr, coll->name);
    if (sl_uuid_is_zero(&req->topic_id) || sl_metadata_topic_find_id(img, &req->topic_id) != NULL)
        return fail(SL_KERR_UNKNOWN_SERVER_ERROR, "the new topic id is zero or already taken");
    int32_t partitions = req->partition_count;
    int32_t rf = req->replication_factor;
    if (req->assignments != NULL) {
        if (partitions != -1 || rf != -1)
            return fail(SL_KERR_INVALID_REQUEST,
                        "Both numPartitions or replicationFactor and replicasAssignments were "
                        "set. Both cannot be used at the same time.");
        partitions = req->assignment_count;
        rf = req->assignment_count > 0 ? req->assignments[0].count : 0;
    } else {
        if (partitions == -1)
            partitions = policy->default_partitions;
        if (rf == -1)
            rf = policy->default_replication_factor;
    }
    if (partitions <= 0 || partitions > SL_METADATA_PARTITION_ID_MAX)
        return fail(SL_KERR_INVALID_PARTITIONS,
                    "Number of partitions was set to an invalid non-positive value.");
    if (rf <= 0)
        return fail(SL_KERR_INVALID_REPLICATION_FACTOR,
                    "Replication factor must be larger than 0, or -1 to use the default value.");
    for (int32_t i = 0; i < req->config_count; i++)
        if (req->configs[i].name == NULL || req->configs[i].name[0] == '\0')
            return fail(SL_KERR_INVALID_CONFIG, "A config has an empty name.");

    size_t mark = out->count;
    sl_metadata_record_t *rec = sl_metadata_records_add(out, SL_METADATA_RECORD_TOPIC);
    if (rec == NULL)
        return out_of_room();
    rec->u.topic.name = req->name;
    rec->u.topic.topic_id = req->topic_id;
    char *name = sl_arena_strndup(out->arena, (const char *)req->name.ptr, req->name.len);
    if (name == NULL)
        return out_of_room();
    for (int32_t i = 0; i < req->config_count; i++) {
        if (req->configs[i].value == NULL)
            continue;
        rec = sl_metadata_records_add(out, SL_METADATA_RECORD_CONFIG);
        if (rec == NULL)
            return out_of_room();
        rec->u.config = (sl_config_record_t){SL_METADATA_CONFIG_TOPIC, sl_slice_from_str(name),
                                             sl_slice_from_str(req->configs[i].name),
                                             sl_slice_from_str(req->configs[i].value)};
    }
    sl_metadata_result_t res = add_partitions(img, &req->topic_id, 0, partitions, rf,
                                              req->assignments, placement_seed, out);
    if (res.error != 0)
        out->count = mark; /* nothing of a refused topic */
    return res;
}

sl_metadata_result_t
sl_metadata_create_partitions(const sl_metadata_image_t *img, sl_slice_t name, int32_t new_count,
                              const sl_metadata_replicas_t *assignments, int32_t assignment_count,
                              uint32_t placement_seed, sl_metadata_records_t *out)
{
    const sl_metadata_topic_t *t = sl_metadata_topic_find(img, name);
    if (t == NULL)
        return fail(SL_KERR_UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic.");
    int32_t current = t->partition_count;
    if (new_count < current)
        return fail(SL_KERR_INVALID_PARTITIONS,
                    "The topic %s currently has %d partition(s); %d would not be an increase.",
                    t->name, (int)current, (int)new_count);
    if (new_count == current)
        return fail(SL_KERR_INVALID_PARTITIONS, "Topic already has %d partition(s).", (int)current);
    if (new_count > SL_METADATA_PARTITION_ID_MAX)
        return fail(SL_KERR_INVALID_PARTITIONS, "At most %d partitions.",
                    SL_METADATA_PARTITION_ID_MAX);
    if (assignments != NULL && assignment_count != new_count - current)
        return fail(SL_KERR_INVALID_REPLICA_ASSIGNMENT,
                    "Increasing the number of partitions by %d but %d assignments provided.",
                    (int)(new_count - current), (int)assignment_count);
    const sl_metadata_partition_t *first = sl_metadata_partition_find(t, 0);
    int32_t rf = first != NULL ? first->replicas.count : 0;
    size_t mark = out->count;
    sl_metadata_result_t res =
        add_partitions(img, &t->id, current, new_count, rf, assignments, placement_seed, out);
    if (res.error != 0)
        out->count = mark;
    return res;
}

sl_metadata_result_t sl_metadata_delete_topic(const sl_metadata_image_t *img, sl_slice_t name,
                                              sl_metadata_records_t *out)
{
    const sl_metadata_topic_t *t = sl_metadata_topic_find(img, name);
    if (t == NULL)
        return fail(SL_KERR_UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic.");
    sl_metadata_record_t *rec = sl_metadata_records_add(out, SL_METADATA_RECORD_REMOVE_TOPIC);
    if (rec == NULL)
        return out_of_room();
    rec->u.remove_topic.topic_id = t->id;
    return ok();
}

/* ---- brokers --------------------------------------------------------------------------------- */

sl_metadata_result_t sl_metadata_register_broker(const sl_metadata_image_t *img,
                                                 sl_metadata_sessions_t *sessions,
                                                 const sl_metadata_policy_t *policy,
                                                 const sl_metadata_broker_registration_t *reg,
                                                 int64_t now_ms, sl_metadata_records_t *out)
{
    if (reg->broker_id < 0 || reg->broker_epoch < 0 || reg->endpoint_count < 0 ||
        reg->feature_count < 0 || reg->log_dir_count < 0)
        return fail(SL_KERR_INVALID_REQUEST, "invalid broker registration");
    const sl_metadata_broker_t *old = sl_metadata_broker_find(img, reg->broker_id);
    if (old != NULL && memcmp(&old->incarnation_id, &reg->incarnation_id, 16) != 0 &&
        sl_metadata_sessions_alive(sessions, reg->broker_id, now_ms,
                                   policy->broker_session_timeout_ms))
        return fail(SL_KERR_DUPLICATE_BROKER_REGISTRATION,
                    "Another broker is registered with that broker id.");
    size_t mark = out->count;
    /* A restarted broker may have lost what it had not flushed: it leaves its ISRs and rejoins
     * them by catching up, as a fenced broker does. */
    if (old != NULL && move_away(img, policy, &reg->broker_id, 1, out) != 0)
        goto full;
    sl_metadata_record_t *rec = sl_metadata_records_add(out, SL_METADATA_RECORD_REGISTER_BROKER);
    if (rec == NULL)
        goto full;
    sl_register_broker_record_t *r = &rec->u.register_broker;
    r->broker_id = reg->broker_id;
    r->incarnation_id = reg->incarnation_id;
    r->broker_epoch = reg->broker_epoch;
    r->rack = reg->rack != NULL ? sl_slice_from_str(reg->rack) : SL_SLICE_NULL;
    r->fenced = true;
    r->end_points =
        sl_arena_alloc(out->arena, sizeof *r->end_points * (size_t)reg->endpoint_count + 1);
    r->features = sl_arena_alloc(out->arena, sizeof *r->features * (size_t)reg->feature_count + 1);
    r->log_dirs = sl_arena_alloc(out->arena, sizeof *r->log_dirs * (size_t)reg->log_dir_count + 1);
    if (r->end_points == NULL || r->features == NULL || r->log_dirs == NULL)
        goto full;
    for (int32_t i = 0; i < reg->endpoint_count; i++) {
        const sl_metadata_endpoint_t *e = &reg->endpoints[i];
        r->end_points[i] = (sl_broker_endpoint_t){
            sl_slice_from_str(e->name), sl_slice_from_str(e->host), e->port, e->security_protocol};
    }
    for (int32_t i = 0; i < reg->feature_count; i++) {
        const sl_metadata_feature_range_t *f = &reg->features[i];
        r->features[i] = (sl_broker_feature_t){sl_slice_from_str(f->name), f->min_supported_version,
                                               f->max_supported_version};
    }
    if (reg->log_dir_count > 0)
        memcpy(r->log_dirs, reg->log_dirs, sizeof *r->log_dirs * (size_t)reg->log_dir_count);
    r->end_points_count = reg->endpoint_count;
    r->features_count = reg->feature_count;
    r->log_dirs_count = reg->log_dir_count;
    if (sl_metadata_sessions_touch(sessions, reg->broker_id, now_ms) != 0)
        goto full;
    return ok();
full:
    out->count = mark;
    return out_of_room();
}

static bool leads_anything(const sl_metadata_image_t *img, int32_t broker_id)
{
    for (int32_t ti = 0; ti < img->topic_count; ti++) {
        const sl_metadata_topic_t *t = img->topics[ti];
        for (int32_t pid = 0; pid < t->partition_count; pid++)
            if (t->partitions[pid].exists && t->partitions[pid].leader == broker_id)
                return true;
    }
    return false;
}

sl_metadata_result_t sl_metadata_broker_heartbeat(const sl_metadata_image_t *img,
                                                  sl_metadata_sessions_t *sessions,
                                                  const sl_metadata_policy_t *policy,
                                                  const sl_metadata_heartbeat_t *hb, int64_t now_ms,
                                                  sl_metadata_records_t *out,
                                                  sl_metadata_heartbeat_reply_t *reply)
{
    *reply = (sl_metadata_heartbeat_reply_t){.is_fenced = true};
    const sl_metadata_broker_t *b = sl_metadata_broker_find(img, hb->broker_id);
    if (b == NULL)
        return fail(SL_KERR_BROKER_ID_NOT_REGISTERED, "Broker %d is not registered.",
                    (int)hb->broker_id);
    if (b->epoch != hb->broker_epoch)
        return fail(SL_KERR_STALE_BROKER_EPOCH, "Expected broker epoch %lld, got %lld.",
                    (long long)b->epoch, (long long)hb->broker_epoch);
    if (sl_metadata_sessions_touch(sessions, b->id, now_ms) != 0)
        return out_of_room();
    size_t mark = out->count;
    reply->is_caught_up = hb->current_metadata_offset >= b->epoch;
    reply->is_fenced = b->fenced;
    if (b->fenced && reply->is_caught_up && !hb->want_fence && !hb->want_shut_down) {
        sl_broker_registration_change_record_t *c = add_registration_change(out, b);
        if (c == NULL)
            goto full;
        c->fenced = SL_METADATA_FENCING_UNFENCE; /* before more adds, which may move the list */
        if (lead_offline(img, b->id, out) != 0)
            goto full;
        reply->is_fenced = false;
    } else if (!b->fenced && hb->want_fence) {
        sl_broker_registration_change_record_t *c = add_registration_change(out, b);
        if (c == NULL)
            goto full;
        c->fenced = SL_METADATA_FENCING_FENCE;
        if (move_away(img, policy, &b->id, 1, out) != 0)
            goto full;
        reply->is_fenced = true;
    }
    if (hb->want_shut_down) {
        if (!b->in_controlled_shutdown && !b->fenced) {
            sl_broker_registration_change_record_t *c = add_registration_change(out, b);
            if (c == NULL)
                goto full;
            c->in_controlled_shutdown = 1;
            if (move_away(img, policy, &b->id, 1, out) != 0)
                goto full;
        }
        /* A fenced broker leads nothing; one in controlled shutdown may stop once its
         * leaderships have moved (applied records). */
        reply->should_shut_down =
            b->fenced || (b->in_controlled_shutdown && !leads_anything(img, b->id));
    }
    return ok();
full:
    out->count = mark;
    return out_of_room();
}

int sl_metadata_fence_stale_brokers(const sl_metadata_image_t *img,
                                    const sl_metadata_sessions_t *sessions,
                                    const sl_metadata_policy_t *policy, int64_t now_ms,
                                    sl_metadata_records_t *out, int32_t *fenced_count)
{
    int32_t stale[PLACER_BROKERS_MAX];
    int32_t n = 0;
    size_t mark = out->count;
    for (int32_t i = 0; i < img->broker_count && n < PLACER_BROKERS_MAX; i++) {
        const sl_metadata_broker_t *b = &img->brokers[i];
        if (b->fenced ||
            sl_metadata_sessions_alive(sessions, b->id, now_ms, policy->broker_session_timeout_ms))
            continue;
        sl_broker_registration_change_record_t *c = add_registration_change(out, b);
        if (c == NULL)
            goto full;
        c->fenced = SL_METADATA_FENCING_FENCE;
        stale[n++] = b->id;
    }
    /* All at once, so one partition losing two brokers gets one consistent change. */
    if (n > 0 && move_away(img, policy, stale, n, out) != 0)
        goto full;
    if (fenced_count != NULL)
        *fenced_count = n;
    return 0;
full:
    out->count = mark;
    if (fenced_count != NULL)
        *fenced_count = 0;
    return SL_ELIMIT;
}

/* ---- partitions ------------------------------------------------------------------------------ */

/* The target of a reassignment in progress: the replicas minus the ones being removed. */
static int32_t reassignment_target(const sl_metadata_partition_t *p, int32_t *target)
{
    int32_t n = 0;
    for (int32_t i = 0; i < p->replicas.count; i++)
        if (!sl_metadata_replicas_contains(&p->removing_replicas, p->replicas.ids[i]))
            target[n++] = p->replicas.ids[i];
    return n;
}

/* Kafka completes a reassignment once every target replica is in the ISR: replicas = target,
 * ISR = ISR ∩ target, no adding or removing, and a new leader from the target if the old one
 * leaves. Fills c and returns true when that happens. */
static int complete_reassignment(sl_metadata_records_t *out, const sl_metadata_image_t *img,
                                 const sl_metadata_partition_t *p, const int32_t *isr,
                                 int32_t isr_count, sl_partition_change_record_t *c)
{
    if (p->adding_replicas.count == 0 && p->removing_replicas.count == 0)
        return 0;
    int32_t target[SL_METADATA_REPLICAS_MAX];
    int32_t n = reassignment_target(p, target);
    for (int32_t i = 0; i < n; i++)
        if (!in_list(isr, isr_count, target[i]))
            return 0;
    int32_t new_isr[SL_METADATA_REPLICAS_MAX];
    int32_t m = 0;
    for (int32_t i = 0; i < isr_count; i++)
        if (in_list(target, n, isr[i]))
            new_isr[m++] = isr[i];
    c->replicas = arena_ids(out, target, n);
    c->replicas_count = n;
    c->isr = arena_ids(out, new_isr, m);
    c->isr_count = m;
    c->removing_replicas = arena_ids(out, NULL, 0);
    c->removing_replicas_count = 0;
    c->adding_replicas = arena_ids(out, NULL, 0);
    c->adding_replicas_count = 0;
    if (c->replicas == NULL || c->isr == NULL || c->removing_replicas == NULL ||
        c->adding_replicas == NULL)
        return SL_ELIMIT;
    int32_t leader = c->leader == SL_METADATA_NO_LEADER_CHANGE ? p->leader : c->leader;
    if (!in_list(target, n, leader)) {
        sl_metadata_replicas_t t = {target, n};
        c->leader = elect_from_isr(img, &t, new_isr, m, NULL, 0);
    }
    return 1;
}

static const sl_metadata_partition_t *find_partition(const sl_metadata_image_t *img,
                                                     sl_slice_t name, int32_t partition_id,
                                                     const sl_metadata_topic_t **topic)
{
    *topic = sl_metadata_topic_find(img, name);
    return *topic != NULL ? sl_metadata_partition_find(*topic, partition_id) : NULL;
}

sl_metadata_result_t sl_metadata_alter_partition(const sl_metadata_image_t *img,
                                                 const sl_metadata_alter_partition_t *req,
                                                 sl_metadata_records_t *out)
{
    const sl_metadata_topic_t *t = sl_metadata_topic_find_id(img, &req->topic_id);
    if (t == NULL)
        return fail(SL_KERR_UNKNOWN_TOPIC_ID, "This server does not host this topic ID.");
    const sl_metadata_partition_t *p = sl_metadata_partition_find(t, req->partition_id);
    if (p == NULL)
        return fail(SL_KERR_UNKNOWN_TOPIC_OR_PARTITION,
                    "This server does not host this topic-partition.");
    const sl_metadata_broker_t *b = sl_metadata_broker_find(img, req->broker_id);
    if (b == NULL || b->epoch != req->broker_epoch)
        return fail(SL_KERR_STALE_BROKER_EPOCH, "Broker %d: unknown or stale broker epoch.",
                    (int)req->broker_id);
    if (p->leader != req->broker_id)
        return fail(SL_KERR_NOT_LEADER_OR_FOLLOWER, "Broker %d is not the leader (%d is).",
                    (int)req->broker_id, (int)p->leader);
    if (req->leader_epoch != p->leader_epoch)
        return fail(SL_KERR_FENCED_LEADER_EPOCH, "Leader epoch %d, the partition is at %d.",
                    (int)req->leader_epoch, (int)p->leader_epoch);
    if (req->partition_epoch != p->partition_epoch)
        return fail(SL_KERR_INVALID_UPDATE_VERSION, "Partition epoch %d, the partition is at %d.",
                    (int)req->partition_epoch, (int)p->partition_epoch);
    if (req->new_isr_count <= 0 || !sl__md_ids_valid(req->new_isr, req->new_isr_count) ||
        !in_list(req->new_isr, req->new_isr_count, p->leader))
        return fail(SL_KERR_INVALID_REQUEST,
                    "The new ISR must hold the leader and distinct broker ids.");
    for (int32_t i = 0; i < req->new_isr_count; i++) {
        int32_t id = req->new_isr[i];
        if (!sl_metadata_replicas_contains(&p->replicas, id))
            return fail(SL_KERR_INVALID_REQUEST, "Broker %d in the new ISR is not a replica.",
                        (int)id);
        if (id != p->leader && !sl_metadata_broker_active(img, id))
            return fail(SL_KERR_INELIGIBLE_REPLICA,
                        "Broker %d is fenced or shutting down: it cannot join the ISR.", (int)id);
    }
    if (req->leader_recovery_state != SL_METADATA_LEADER_RECOVERED &&
        req->leader_recovery_state != SL_METADATA_LEADER_RECOVERING)
        return fail(SL_KERR_INVALID_REQUEST, "Unknown leader recovery state %d.",
                    (int)req->leader_recovery_state);
    if (req->leader_recovery_state == SL_METADATA_LEADER_RECOVERING &&
        p->leader_recovery_state == SL_METADATA_LEADER_RECOVERED)
        return fail(SL_KERR_INVALID_REQUEST, "A recovered partition cannot go back to RECOVERING.");
    bool isr_changed = !same_ids(req->new_isr, req->new_isr_count, p->isr.ids, p->isr.count);
    bool recovery_changed = req->leader_recovery_state != p->leader_recovery_state;
    size_t mark = out->count;
    sl_partition_change_record_t *c = add_change(out, t, req->partition_id);
    if (c == NULL)
        return out_of_room();
    if (isr_changed) {
        if ((c->isr = arena_ids(out, req->new_isr, req->new_isr_count)) == NULL)
            goto full;
        c->isr_count = req->new_isr_count;
    }
    if (recovery_changed)
        c->leader_recovery_state = req->leader_recovery_state;
    int done = complete_reassignment(out, img, p, req->new_isr, req->new_isr_count, c);
    if (done < 0)
        goto full;
    if (!isr_changed && !recovery_changed && done == 0)
        out->count = mark; /* nothing changes: no record, still a success */
    return ok();
full:
    out->count = mark;
    return out_of_room();
}

sl_metadata_result_t sl_metadata_elect_preferred(const sl_metadata_image_t *img, sl_slice_t name,
                                                 int32_t partition_id, sl_metadata_records_t *out)
{
    const sl_metadata_topic_t *t;
    const sl_metadata_partition_t *p = find_partition(img, name, partition_id, &t);
    if (p == NULL)
        return fail(SL_KERR_UNKNOWN_TOPIC_OR_PARTITION,
                    "This server does not host this topic-partition.");
    int32_t preferred = p->replicas.ids[0];
    if (p->leader == preferred)
        return fail(SL_KERR_ELECTION_NOT_NEEDED, "Leader election not needed for topic partition.");
    if (!sl_metadata_replicas_contains(&p->isr, preferred) ||
        !sl_metadata_broker_active(img, preferred))
        return fail(SL_KERR_PREFERRED_LEADER_NOT_AVAILABLE,
                    "Failed to elect leader for partition %s-%d under strategy PREFERRED: broker "
                    "%d is not in the ISR or not available.",
                    t->name, (int)partition_id, (int)preferred);
    sl_partition_change_record_t *c = add_change(out, t, partition_id);
    if (c == NULL)
        return out_of_room();
    c->leader = preferred;
    return ok();
}

sl_metadata_result_t sl_metadata_reassign_partition(const sl_metadata_image_t *img, sl_slice_t name,
                                                    int32_t partition_id,
                                                    const sl_metadata_replicas_t *target,
                                                    sl_metadata_records_t *out)
{
    const sl_metadata_topic_t *t;
    const sl_metadata_partition_t *p = find_partition(img, name, partition_id, &t);
    if (p == NULL)
        return fail(SL_KERR_UNKNOWN_TOPIC_OR_PARTITION,
                    "This server does not host this topic-partition.");
    /* Where the partition stands without the reassignment in progress (if any). */
    int32_t original[SL_METADATA_REPLICAS_MAX];
    int32_t on = 0;
    for (int32_t i = 0; i < p->replicas.count; i++)
        if (!sl_metadata_replicas_contains(&p->adding_replicas, p->replicas.ids[i]))
            original[on++] = p->replicas.ids[i];
    bool ongoing = p->adding_replicas.count > 0 || p->removing_replicas.count > 0;
    const int32_t *goal = original;
    int32_t gn = on;
    if (target == NULL) {
        if (!ongoing)
            return fail(SL_KERR_NO_REASSIGNMENT_IN_PROGRESS,
                        "No partition reassignment is in progress for this partition.");
    } else {
        sl_metadata_result_t res = check_assignment(img, target, 0, partition_id);
        if (res.error != 0)
            return res;
        goal = target->ids;
        gn = target->count;
    }
    /* replicas = goal, then the original replicas leaving; adding = goal - original. */
    int32_t replicas[2 * SL_METADATA_REPLICAS_MAX], adding[SL_METADATA_REPLICAS_MAX],
        removing[SL_METADATA_REPLICAS_MAX];
    int32_t rn = 0, an = 0, mn = 0;
    for (int32_t i = 0; i < gn; i++) {
        replicas[rn++] = goal[i];
        if (!in_list(original, on, goal[i]))
            adding[an++] = goal[i];
    }
    for (int32_t i = 0; i < on; i++) {
        if (!in_list(goal, gn, original[i])) {
            replicas[rn++] = original[i];
            removing[mn++] = original[i];
        }
    }
    if (rn > SL_METADATA_REPLICAS_MAX)
        return fail(SL_KERR_INVALID_REPLICA_ASSIGNMENT, "Too many replicas.");
    if (!ongoing && an == 0 && mn == 0 && same_ids(goal, gn, p->replicas.ids, p->replicas.count))
        return ok(); /* already there */
    /* The ISR can only hold replicas that remain in the list. */
    int32_t isr[SL_METADATA_REPLICAS_MAX];
    int32_t in = 0;
    for (int32_t i = 0; i < p->isr.count; i++)
        if (in_list(replicas, rn, p->isr.ids[i]))
            isr[in++] = p->isr.ids[i];
    if (in == 0) /* a cancel that leaves no ISR member: Kafka's unclean revert keeps the replicas */
        for (int32_t i = 0; i < on; i++)
            isr[in++] = original[i];
    size_t mark = out->count;
    sl_partition_change_record_t *c = add_change(out, t, partition_id);
    if (c == NULL)
        return out_of_room();
    c->replicas = arena_ids(out, replicas, rn);
    c->replicas_count = rn;
    c->adding_replicas = arena_ids(out, adding, an);
    c->adding_replicas_count = an;
    c->removing_replicas = arena_ids(out, removing, mn);
    c->removing_replicas_count = mn;
    if (c->replicas == NULL || c->adding_replicas == NULL || c->removing_replicas == NULL)
        goto full;
    if (!same_ids(isr, in, p->isr.ids, p->isr.count)) {
        if ((c->isr = arena_ids(out, isr, in)) == NULL)
            goto full;
        c->isr_count = in;
    }
    if (!in_list(replicas, rn, p->leader) && p->leader != SL_METADATA_NO_LEADER) {
        sl_metadata_replicas_t r = {replicas, rn};
        c->leader = elect_from_isr(img, &r, isr, in, NULL, 0);
    }
    /* Complete at once when the whole target is already in the ISR. */
    sl_metadata_partition_t merged = *p;
    merged.replicas = (sl_metadata_replicas_t){replicas, rn};
    merged.adding_replicas = (sl_metadata_replicas_t){adding, an};
    merged.removing_replicas = (sl_metadata_replicas_t){removing, mn};
    if (complete_reassignment(out, img, &merged, isr, in, c) < 0)
        goto full;
    return ok();
full:
    out->count = mark;
    return out_of_room();
}

sl_metadata_result_t sl_metadata_allocate_producer_ids(const sl_metadata_image_t *img,
                                                       int32_t broker_id, int64_t broker_epoch,
                                                       sl_metadata_records_t *out,
                                                       int64_t *first_id)
{
    const sl_metadata_broker_t *b = sl_metadata_broker_find(img, broker_id);
    if (b == NULL)
        return fail(SL_KERR_BROKER_ID_NOT_REGISTERED, "Broker %d is not registered.",
                    (int)broker_id);
    if (b->epoch != broker_epoch)
        return fail(SL_KERR_STALE_BROKER_EPOCH, "Expected broker epoch %lld, got %lld.",
                    (long long)b->epoch, (long long)broker_epoch);
    int64_t first = img->next_producer_id;
    if (first > INT64_MAX - SL_METADATA_PRODUCER_ID_BLOCK_SIZE)
        return fail(SL_KERR_UNKNOWN_SERVER_ERROR, "Exhausted all producerIds.");
    sl_metadata_record_t *rec = sl_metadata_records_add(out, SL_METADATA_RECORD_PRODUCER_IDS);
    if (rec == NULL)
        return out_of_room();
    rec->u.producer_ids = (sl_producer_ids_record_t){broker_id, broker_epoch,
                                                     first + SL_METADATA_PRODUCER_ID_BLOCK_SIZE};
    *first_id = first;
    return ok();
}
