/* offsets: committed offsets per group (sorted by topic, then partition, for binary search and
 * ordered listing) and the read-side views (ListGroups, DescribeGroups), DeleteGroups, the
 * OffsetCommit member checks and the consumer-protocol subscription parse OffsetDelete needs.
 * Invariant: a group's offsets array is sorted and holds each (topic, partition) once. */
#include <errno.h>
#include <string.h>

#include "group_int.h"

void sl__group_free_offsets(sl_group_t *group)
{
    for (size_t i = 0; i < group->offsets_count; i++) {
        sl_free(group->offsets[i].topic);
        sl_free(group->offsets[i].metadata);
    }
    sl_free(group->offsets);
    group->offsets = NULL;
    group->offsets_count = group->offsets_cap = 0;
}

static int key_cmp(const sl_group_committed_t *e, sl_slice_t topic, int32_t partition)
{
    size_t n = strlen(e->topic);
    int r =
        memcmp(e->topic, topic.ptr != NULL ? (const char *)topic.ptr : "", SL_MIN(n, topic.len));
    if (r == 0 && n != topic.len)
        r = n < topic.len ? -1 : 1;
    if (r == 0 && e->partition != partition)
        r = e->partition < partition ? -1 : 1;
    return r;
}

/* Index of the entry, or of where it would go; *found says which. */
static size_t offset_search(const sl_group_t *g, sl_slice_t topic, int32_t partition, bool *found)
{
    size_t lo = 0, hi = g->offsets_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = key_cmp(&g->offsets[mid], topic, partition);
        if (r == 0) {
            *found = true;
            return mid;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

int sl_group_offset_put(sl_group_coordinator_t *c, sl_slice_t group_id, sl_slice_t topic,
                        int32_t partition, const sl_group_offset_t *o)
{
    sl_group_t *g = sl__group_get_or_create(c, group_id);
    if (g == NULL)
        return -ENOMEM;
    char *metadata = sl__group_strdup(o->metadata);
    if (metadata == NULL)
        return -ENOMEM;
    bool found;
    size_t i = offset_search(g, topic, partition, &found);
    if (!found) {
        if (g->offsets_count == g->offsets_cap) {
            size_t cap = g->offsets_cap == 0 ? 8 : g->offsets_cap * 2;
            sl_group_committed_t *grown = sl_realloc(g->offsets, cap * sizeof(*grown));
            if (grown == NULL) {
                sl_free(metadata);
                return -ENOMEM;
            }
            g->offsets = grown;
            g->offsets_cap = cap;
        }
        char *name = sl__group_strdup(topic);
        if (name == NULL) {
            sl_free(metadata);
            return -ENOMEM;
        }
        memmove(&g->offsets[i + 1], &g->offsets[i], (g->offsets_count - i) * sizeof(*g->offsets));
        g->offsets_count++;
        g->offsets[i] = (sl_group_committed_t){.topic = name, .partition = partition};
    } else {
        sl_free(g->offsets[i].metadata);
    }
    sl_group_committed_t *e = &g->offsets[i];
    e->offset = o->offset;
    e->leader_epoch = o->leader_epoch;
    e->metadata = metadata;
    e->commit_timestamp_ms = o->commit_timestamp_ms;
    return 0;
}

bool sl_group_offset_delete(sl_group_coordinator_t *c, sl_slice_t group_id, sl_slice_t topic,
                            int32_t partition)
{
    sl_group_t *g = sl__group_find(c, group_id);
    bool found = false;
    size_t i = g != NULL ? offset_search(g, topic, partition, &found) : 0;
    if (!found)
        return false;
    sl__group_offset_remove(g, i);
    return true;
}

void sl__group_offset_remove(sl_group_t *g, size_t i)
{
    SL_ASSERT(i < g->offsets_count);
    sl_free(g->offsets[i].topic);
    sl_free(g->offsets[i].metadata);
    memmove(&g->offsets[i], &g->offsets[i + 1], (g->offsets_count - i - 1) * sizeof(*g->offsets));
    g->offsets_count--;
}

static sl_group_offset_t offset_view(const sl_group_committed_t *e)
{
    return (sl_group_offset_t){e->offset, e->leader_epoch, sl__group_slice(e->metadata),
                               e->commit_timestamp_ms};
}

bool sl_group_offset_get(sl_group_coordinator_t *c, sl_slice_t group_id, sl_slice_t topic,
                         int32_t partition, sl_group_offset_t *out)
{
    sl_group_t *g = sl__group_find(c, group_id);
    bool found = false;
    size_t i = g != NULL ? offset_search(g, topic, partition, &found) : 0;
    if (found)
        *out = offset_view(&g->offsets[i]);
    return found;
}

void sl_group_offsets_each(sl_group_coordinator_t *c, sl_slice_t group_id, sl_group_offset_fn fn,
                           void *data)
{
    sl_group_t *g = sl__group_find(c, group_id);
    for (size_t i = 0; g != NULL && i < g->offsets_count; i++) {
        sl_group_offset_t o = offset_view(&g->offsets[i]);
        if (!fn(sl__group_slice(g->offsets[i].topic), g->offsets[i].partition, &o, data))
            return;
    }
}

int16_t sl_group_commit_check(sl_group_coordinator_t *c, sl_slice_t group_id, int32_t generation,
                              sl_slice_t member_id, sl_slice_t instance_id)
{
    /* an empty group id is valid for the offset APIs (Kafka's rule for old clients) */
    sl_group_t *g = sl__group_find(c, group_id);
    if (g == NULL || g->state == SL_GROUP_EMPTY) {
        /* a commit from outside the group protocol (admin tools, manual assignment) */
        if (generation < 0 && member_id.len == 0)
            return SL_KERR_NONE;
        return g == NULL ? SL_KERR_ILLEGAL_GENERATION : SL_KERR_UNKNOWN_MEMBER_ID;
    }
    if (g->state == SL_GROUP_DEAD)
        return SL_KERR_COORDINATOR_NOT_AVAILABLE;
    if (g->state == SL_GROUP_COMPLETING_REBALANCE)
        return SL_KERR_REBALANCE_IN_PROGRESS;
    sl_group_member_t *m = NULL, *by_instance = NULL;
    for (sl_group_member_t *x = g->members; x != NULL; x = x->next) {
        if (!x->pending && sl__group_eq(x->member_id, member_id))
            m = x;
        if (instance_id.ptr != NULL && x->instance_id != NULL &&
            sl__group_eq(x->instance_id, instance_id))
            by_instance = x;
    }
    if (by_instance != NULL && by_instance != m)
        return SL_KERR_FENCED_INSTANCE_ID;
    if (m == NULL)
        return SL_KERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return SL_KERR_ILLEGAL_GENERATION;
    return SL_KERR_NONE;
}

static sl_group_view_t group_view(const sl_group_t *g)
{
    size_t members = 0; /* joined ones: what DescribeGroups lists */
    for (const sl_group_member_t *m = g->members; m != NULL; m = m->next)
        members += !m->pending;
    return (sl_group_view_t){
        .members_count = members,
        .group_id = sl__group_slice(g->group_id),
        .protocol_type = sl__group_slice(g->protocol_type != NULL ? g->protocol_type : ""),
        .protocol_name = sl__group_slice(
            g->state == SL_GROUP_STABLE && g->protocol_name != NULL ? g->protocol_name : ""),
        .leader = sl__group_slice(g->leader_id != NULL ? g->leader_id : ""),
        .state = g->state,
        .generation = g->generation};
}

bool sl_group_describe(sl_group_coordinator_t *c, sl_slice_t group_id, sl_group_view_t *out)
{
    sl_group_t *g = sl__group_find(c, group_id);
    if (g == NULL)
        return false;
    *out = group_view(g);
    out->members_count = 0; /* until members is filled below */
    size_t n = 0;
    for (const sl_group_member_t *m = g->members; m != NULL; m = m->next)
        n += !m->pending;
    if (n > c->scratch_cap) {
        sl_group_member_view_t *views = sl_realloc(c->views, n * sizeof(*views));
        if (views == NULL)
            return true; /* described without members rather than not at all */
        c->views = views;
        sl_group_member_info_t *infos = sl_realloc(c->infos, n * sizeof(*infos));
        if (infos != NULL)
            c->infos = infos;
        c->scratch_cap = infos != NULL ? n : c->scratch_cap;
        if (infos == NULL)
            return true;
    }
    sl_slice_t empty = sl_slice_from_str("");
    size_t i = 0;
    for (const sl_group_member_t *m = g->members; m != NULL; m = m->next) {
        if (m->pending)
            continue;
        sl_group_member_view_t *v = &c->views[i++];
        *v = (sl_group_member_view_t){sl__group_slice(m->member_id),
                                      sl__group_slice(m->instance_id),
                                      sl__group_slice(m->client_id),
                                      sl__group_slice(m->client_host),
                                      empty,
                                      empty,
                                      m->session_timeout_ms,
                                      m->rebalance_timeout_ms};
        if (g->state != SL_GROUP_STABLE)
            continue;
        for (size_t k = 0; k < m->protocols_count; k++)
            if (g->protocol_name != NULL && strcmp(m->protocols[k].name, g->protocol_name) == 0)
                v->metadata =
                    (sl_slice_t){m->protocols[k].metadata.ptr, m->protocols[k].metadata.len};
        v->assignment = (sl_slice_t){m->assignment.ptr, m->assignment.len};
        if (v->metadata.ptr == NULL)
            v->metadata = empty;
        if (v->assignment.ptr == NULL)
            v->assignment = empty;
    }
    out->members = c->views;
    out->members_count = i;
    return true;
}

void sl_group_each(sl_group_coordinator_t *c, sl_group_fn fn, void *data)
{
    for (size_t b = 0; b < SL_GROUP_BUCKETS; b++)
        for (sl_group_t *g = c->buckets[b]; g != NULL; g = g->next) {
            sl_group_view_t v = group_view(g);
            if (!fn(&v, data))
                return;
        }
}

int16_t sl_group_delete(sl_group_coordinator_t *c, sl_slice_t group_id)
{
    sl_group_t *g = sl__group_find(c, group_id);
    if (g == NULL)
        return SL_KERR_GROUP_ID_NOT_FOUND;
    if (g->state != SL_GROUP_EMPTY || g->members != NULL)
        return SL_KERR_NON_EMPTY_GROUP;
    if (c->changed_cb != NULL)
        c->changed_cb(c, group_id, true, c->changed_data);
    sl__group_remove(c, g);
    return SL_KERR_NONE;
}

/* ConsumerProtocolSubscription (every version starts the same): int16 version, then an int32
 * count of int16-length topic names. 1: topic is there, 0: it is not, -1: not a subscription. */
static int subscription_has(sl_slice_t meta, sl_slice_t topic)
{
    const uint8_t *p = meta.ptr, *end = meta.ptr + meta.len;
    if (meta.len < 6 || (p[0] & 0x80) != 0)
        return -1;
    p += 2;
    uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    p += 4;
    if (n > meta.len)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        if (end - p < 2)
            return -1;
        size_t len = (size_t)(p[0] << 8 | p[1]);
        p += 2;
        if ((size_t)(end - p) < len)
            return -1;
        if (len == topic.len && memcmp(p, topic.ptr, len) == 0)
            return 1;
        p += len;
    }
    return 0;
}

/* As Kafka's ClassicGroup: a group with members is subscribed to a topic when a member's
 * subscription names it, or when the subscriptions are not known (no protocol chosen yet, or
 * metadata that does not parse). */
bool sl_group_subscribed(sl_group_coordinator_t *c, sl_slice_t group_id, sl_slice_t topic)
{
    const sl_group_t *g = sl__group_find(c, group_id);
    return g != NULL && sl__group_subscribed(g, topic);
}

bool sl__group_subscribed(const sl_group_t *g, sl_slice_t topic)
{
    if (g->members_count == 0)
        return false;
    if (g->protocol_type == NULL || strcmp(g->protocol_type, "consumer") != 0)
        return false;
    if (g->protocol_name == NULL)
        return true;
    for (const sl_group_member_t *m = g->members; m != NULL; m = m->next)
        for (size_t k = 0; k < m->protocols_count; k++)
            if (!m->pending && strcmp(m->protocols[k].name, g->protocol_name) == 0 &&
                subscription_has(
                    (sl_slice_t){m->protocols[k].metadata.ptr, m->protocols[k].metadata.len},
                    topic) != 0)
                return true;
    return false;
}

int sl_group_restore(sl_group_coordinator_t *c, sl_slice_t group_id, sl_slice_t protocol_type,
                     sl_slice_t protocol_name, sl_slice_t leader, int32_t generation,
                     const sl_group_member_view_t *members, size_t members_count)
{
    sl_group_t *g = sl__group_get_or_create(c, group_id);
    if (g == NULL)
        return -ENOMEM;
    sl__group_clear_members(g);
    g->generation = generation;
    g->state = SL_GROUP_EMPTY;
    char *type = protocol_type.len > 0 ? sl__group_strdup(protocol_type) : NULL;
    sl_free(g->protocol_type);
    g->protocol_type = type;
    if (members_count == 0 || protocol_name.len == 0 || protocol_name.ptr == NULL)
        return 0;
    g->protocol_name = sl__group_strdup(protocol_name);
    g->leader_id = leader.len > 0 ? sl__group_strdup(leader) : NULL;
    for (size_t i = 0; i < members_count; i++) {
        int rc = sl__group_member_restore(c, g, protocol_name, &members[i]);
        if (rc != 0)
            return rc;
    }
    g->state = SL_GROUP_STABLE;
    return 0;
}
