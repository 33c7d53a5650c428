/* coordinator: the group table and the classic rebalance protocol, as Kafka's GroupCoordinator
 * runs it: Empty -> PreparingRebalance (joins gather until every member rejoined or the rebalance
 * timeout) -> CompletingRebalance (the leader's SyncGroup brings the assignment) -> Stable.
 * Invariants: a member with a waiting join or sync never expires by session; every waiting join
 * and sync is answered exactly once; the generation only grows. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "group_int.h"

const char *sl_group_state_name(sl_group_state_t state)
{
    switch (state) {
    case SL_GROUP_EMPTY:
        return "Empty";
    case SL_GROUP_PREPARING_REBALANCE:
        return "PreparingRebalance";
    case SL_GROUP_COMPLETING_REBALANCE:
        return "CompletingRebalance";
    case SL_GROUP_STABLE:
        return "Stable";
    case SL_GROUP_DEAD:
        return "Dead";
    }
    return "Dead";
}

uint64_t sl__group_now(const sl_group_coordinator_t *c)
{
    return c->clock->monotonic_ms(c->clock->data);
}

static int64_t wall_now(const sl_group_coordinator_t *c)
{
    return c->clock->realtime_ms(c->clock->data);
}

char *sl__group_strdup(sl_slice_t s)
{
    char *out = sl_malloc(s.len + 1);
    if (out == NULL)
        return NULL;
    if (s.len > 0)
        memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    return out;
}

bool sl__group_eq(const char *s, sl_slice_t slice)
{
    if (s == NULL)
        return slice.ptr == NULL;
    return slice.ptr != NULL && strlen(s) == slice.len && memcmp(s, slice.ptr, slice.len) == 0;
}

sl_slice_t sl__group_slice(const char *s)
{
    return s == NULL ? SL_SLICE_NULL : (sl_slice_t){(const uint8_t *)s, strlen(s)};
}

static int bytes_set(sl_group_bytes_t *b, sl_slice_t s)
{
    uint8_t *p = NULL;
    if (s.len > 0) {
        p = sl_malloc(s.len);
        if (p == NULL)
            return -ENOMEM;
        memcpy(p, s.ptr, s.len);
    }
    sl_free(b->ptr);
    b->ptr = p;
    b->len = s.len;
    return 0;
}

static sl_slice_t bytes_slice(const sl_group_bytes_t *b)
{
    return (sl_slice_t){b->ptr != NULL ? b->ptr : (const uint8_t *)"", b->len};
}

int32_t sl_group_partition_for(sl_slice_t group_id, int32_t partitions)
{
    /* Java's String.hashCode over UTF-16 code units; group ids are ASCII in practice, and for
     * other UTF-8 we hash the code units Java would see for the BMP. */
    int32_t h = 0;
    size_t i = 0;
    while (i < group_id.len) {
        uint32_t cp = group_id.ptr[i];
        size_t n = cp < 0x80 ? 1 : cp < 0xE0 ? 2 : cp < 0xF0 ? 3 : 4;
        if (n > 1 && i + n <= group_id.len) {
            cp &= (uint32_t)(0x7F >> n);
            for (size_t k = 1; k < n; k++)
                cp = (cp << 6) | (group_id.ptr[i + k] & 0x3Fu);
        } else {
            n = 1;
        }
        i += n;
        if (cp >= 0x10000) { /* a surrogate pair */
            cp -= 0x10000;
            h = (int32_t)((uint32_t)h * 31u + (0xD800u + (cp >> 10)));
            cp = 0xDC00u + (cp & 0x3FFu);
        }
        h = (int32_t)((uint32_t)h * 31u + cp);
    }
    /* Kafka's Utils.abs: Integer.MIN_VALUE maps to 0 */
    int32_t a = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return partitions > 0 ? a % partitions : 0;
}

/* ---- the table ---- */

static size_t bucket_of(sl_slice_t id)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < id.len; i++)
        h = (h ^ id.ptr[i]) * 16777619u;
    return h % SL_GROUP_BUCKETS;
}

sl_group_t *sl__group_find(sl_group_coordinator_t *c, sl_slice_t group_id)
{
    for (sl_group_t *g = c->buckets[bucket_of(group_id)]; g != NULL; g = g->next)
        if (sl__group_eq(g->group_id, group_id))
            return g;
    return NULL;
}

sl_group_t *sl__group_get_or_create(sl_group_coordinator_t *c, sl_slice_t group_id)
{
    sl_group_t *g = sl__group_find(c, group_id);
    if (g != NULL)
        return g;
    g = sl_calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->group_id = sl__group_strdup(group_id);
    if (g->group_id == NULL) {
        sl_free(g);
        return NULL;
    }
    g->state = SL_GROUP_EMPTY;
    g->empty_since_ms = wall_now(c);
    size_t b = bucket_of(group_id);
    g->next = c->buckets[b];
    c->buckets[b] = g;
    c->groups_count++;
    return g;
}

static void member_free(sl_group_member_t *m)
{
    for (size_t i = 0; i < m->protocols_count; i++) {
        sl_free(m->protocols[i].name);
        sl_free(m->protocols[i].metadata.ptr);
    }
    sl_free(m->protocols);
    sl_free(m->assignment.ptr);
    sl_free(m->member_id);
    sl_free(m->instance_id);
    sl_free(m->client_id);
    sl_free(m->client_host);
    sl_free(m);
}

void sl__group_clear_members(sl_group_t *group)
{
    while (group->members != NULL) {
        sl_group_member_t *m = group->members;
        group->members = m->next;
        SL_ASSERT(m->join == NULL && m->sync == NULL);
        member_free(m);
    }
    group->members_count = 0;
    sl_free(group->protocol_name);
    group->protocol_name = NULL;
    sl_free(group->leader_id);
    group->leader_id = NULL;
}

void sl__group_remove(sl_group_coordinator_t *c, sl_group_t *group)
{
    sl_group_t **p = &c->buckets[bucket_of(sl__group_slice(group->group_id))];
    while (*p != group)
        p = &(*p)->next;
    *p = group->next;
    c->groups_count--;
    sl__group_clear_members(group);
    sl__group_free_offsets(group);
    sl_free(group->protocol_type);
    sl_free(group->protocol_name);
    sl_free(group->leader_id);
    sl_free(group->group_id);
    sl_free(group);
}

int sl_group_coordinator_create(const sl_group_config_t *cfg, const sl_clock_ops_t *clock,
                                sl_group_coordinator_t **out)
{
    sl_group_coordinator_t *c = sl_calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->cfg = *cfg;
    c->clock = clock;
    *out = c;
    return 0;
}

void sl_group_coordinator_destroy(sl_group_coordinator_t *c)
{
    if (c == NULL)
        return;
    for (size_t b = 0; b < SL_GROUP_BUCKETS; b++)
        while (c->buckets[b] != NULL)
            sl__group_remove(c, c->buckets[b]);
    sl_free(c->infos);
    sl_free(c->views);
    sl_free(c);
}

void sl_group_set_changed_cb(sl_group_coordinator_t *c, sl_group_changed_cb cb, void *data)
{
    c->changed_cb = cb;
    c->changed_data = data;
}

void sl_group_set_offset_expired_cb(sl_group_coordinator_t *c, sl_group_offset_expired_cb cb,
                                    void *data)
{
    c->offset_expired_cb = cb;
    c->offset_expired_data = data;
}

static void group_changed(sl_group_coordinator_t *c, sl_group_t *g, bool deleted)
{
    if (c->changed_cb != NULL)
        c->changed_cb(c, sl__group_slice(g->group_id), deleted, c->changed_data);
}

static int scratch_reserve(sl_group_coordinator_t *c, size_t n)
{
    if (n <= c->scratch_cap)
        return 0;
    sl_group_member_info_t *infos = sl_realloc(c->infos, n * sizeof(*infos));
    if (infos == NULL)
        return -ENOMEM;
    c->infos = infos;
    sl_group_member_view_t *views = sl_realloc(c->views, n * sizeof(*views));
    if (views == NULL)
        return -ENOMEM;
    c->views = views;
    c->scratch_cap = n;
    return 0;
}

/* ---- members ---- */

static sl_group_member_t *member_find(sl_group_t *g, sl_slice_t member_id)
{
    for (sl_group_member_t *m = g->members; m != NULL; m = m->next)
        if (sl__group_eq(m->member_id, member_id))
            return m;
    return NULL;
}

static sl_group_member_t *member_by_instance(sl_group_t *g, sl_slice_t instance_id)
{
    if (instance_id.ptr == NULL)
        return NULL;
    for (sl_group_member_t *m = g->members; m != NULL; m = m->next)
        if (m->instance_id != NULL && sl__group_eq(m->instance_id, instance_id))
            return m;
    return NULL;
}

static const sl_group_member_protocol_t *member_protocol(const sl_group_member_t *m,
                                                         const char *name)
{
    for (size_t i = 0; name != NULL && i < m->protocols_count; i++)
        if (strcmp(m->protocols[i].name, name) == 0)
            return &m->protocols[i];
    return NULL;
}

/* Kafka's member id: "<client id or instance id>-<uuid>". */
static char *member_id_new(sl_slice_t prefix)
{
    sl_uuid_t u;
    if (sl_uuid_random(&u) != 0)
        return NULL;
    size_t plen = SL_MIN(prefix.len, 200);
    char *out = sl_malloc(plen + 38);
    if (out == NULL)
        return NULL;
    if (plen > 0)
        memcpy(out, prefix.ptr, plen);
    char *p = out + plen;
    *p++ = '-';
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        snprintf(p, 3, "%02x", u.bytes[i]);
        p += 2;
    }
    *p = '\0';
    return out;
}

static int member_set_protocols(sl_group_member_t *m, const sl_group_join_args_t *a)
{
    sl_group_member_protocol_t *ps = sl_calloc(a->protocols_count, sizeof(*ps));
    if (ps == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < a->protocols_count; i++) {
        ps[i].name = sl__group_strdup(a->protocols[i].name);
        if (ps[i].name == NULL || bytes_set(&ps[i].metadata, a->protocols[i].metadata) != 0) {
            for (size_t k = 0; k <= i; k++) {
                sl_free(ps[k].name);
                sl_free(ps[k].metadata.ptr);
            }
            sl_free(ps);
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i < m->protocols_count; i++) {
        sl_free(m->protocols[i].name);
        sl_free(m->protocols[i].metadata.ptr);
    }
    sl_free(m->protocols);
    m->protocols = ps;
    m->protocols_count = a->protocols_count;
    m->session_timeout_ms = a->session_timeout_ms;
    m->rebalance_timeout_ms = a->rebalance_timeout_ms;
    return 0;
}

static bool protocols_same(const sl_group_member_t *m, const sl_group_join_args_t *a)
{
    if (m->protocols_count != a->protocols_count)
        return false;
    for (size_t i = 0; i < a->protocols_count; i++)
        if (!sl__group_eq(m->protocols[i].name, a->protocols[i].name) ||
            !sl_slice_eq(bytes_slice(&m->protocols[i].metadata), a->protocols[i].metadata))
            return false;
    return true;
}

static sl_group_member_t *member_new(sl_group_t *g, char *member_id, const sl_group_join_args_t *a)
{
    sl_group_member_t *m = sl_calloc(1, sizeof(*m));
    if (m == NULL) {
        sl_free(member_id);
        return NULL;
    }
    m->member_id = member_id;
    m->client_id = sl__group_strdup(a->client_id);
    m->client_host = sl__group_strdup(a->client_host);
    m->instance_id = a->instance_id.ptr != NULL ? sl__group_strdup(a->instance_id) : NULL;
    if (m->client_id == NULL || m->client_host == NULL ||
        (a->instance_id.ptr != NULL && m->instance_id == NULL) || member_set_protocols(m, a) != 0) {
        member_free(m);
        return NULL;
    }
    /* appended: the first member to join becomes the leader */
    sl_group_member_t **p = &g->members;
    while (*p != NULL)
        p = &(*p)->next;
    *p = m;
    return m;
}

/* Unlinks and frees m; answers nothing (the caller answered its waiters). */
static void member_unlink(sl_group_t *g, sl_group_member_t *m)
{
    sl_group_member_t **p = &g->members;
    while (*p != m)
        p = &(*p)->next;
    *p = m->next;
    if (!m->pending)
        g->members_count--;
    if (g->leader_id != NULL && strcmp(g->leader_id, m->member_id) == 0) {
        sl_free(g->leader_id);
        g->leader_id = NULL;
    }
    member_free(m);
}

static void session_renew(sl_group_coordinator_t *c, sl_group_member_t *m)
{
    m->session_deadline_ms = sl__group_now(c) + (uint64_t)SL_MAX(m->session_timeout_ms, 0);
}

int sl__group_member_restore(sl_group_coordinator_t *c, sl_group_t *g, sl_slice_t protocol_name,
                             const sl_group_member_view_t *v)
{
    sl_group_protocol_t proto = {protocol_name, v->metadata};
    sl_group_join_args_t a = {.instance_id = v->instance_id,
                              .client_id = v->client_id,
                              .client_host = v->client_host,
                              .protocols = &proto,
                              .protocols_count = 1,
                              .session_timeout_ms = v->session_timeout_ms,
                              .rebalance_timeout_ms = v->rebalance_timeout_ms};
    char *id = sl__group_strdup(v->member_id);
    if (id == NULL)
        return -ENOMEM;
    sl_group_member_t *m = member_new(g, id, &a);
    if (m == NULL || bytes_set(&m->assignment, v->assignment) != 0)
        return -ENOMEM; /* a member without its assignment stays; it gets an empty one */
    g->members_count++;
    session_renew(c, m);
    return 0;
}

/* ---- answering waiters ----
 * The waiter of the call in progress is answered through its result (the caller answers it when
 * the call returns); any other through its callback. */

static void join_answer(sl_group_coordinator_t *c, sl_group_member_t *m,
                        const sl_group_join_result_t *res)
{
    sl_group_waiter_t *w = m->join;
    if (w == NULL)
        return;
    m->join = NULL;
    if (w == c->current.w && c->current.join_res != NULL) {
        *c->current.join_res = *res;
        c->current.answered = true;
        return;
    }
    w->join_cb(w, res);
}

static void sync_answer(sl_group_coordinator_t *c, sl_group_t *g, sl_group_member_t *m,
                        int16_t error)
{
    sl_group_waiter_t *w = m->sync;
    if (w == NULL)
        return;
    m->sync = NULL;
    sl_group_sync_result_t res = {.error = error};
    if (error == SL_KERR_NONE) {
        res.protocol_type = sl__group_slice(g->protocol_type);
        res.protocol_name = sl__group_slice(g->protocol_name);
        res.assignment = bytes_slice(&m->assignment);
    }
    if (w == c->current.w && c->current.sync_res != NULL) {
        *c->current.sync_res = res;
        c->current.answered = true;
        return;
    }
    w->sync_cb(w, &res);
}

static sl_group_join_result_t join_error(int16_t error, sl_slice_t member_id)
{
    return (sl_group_join_result_t){.error = error,
                                    .generation = -1,
                                    .protocol_name = SL_SLICE_NULL,
                                    .leader = sl_slice_from_str(""),
                                    .member_id = member_id};
}

static void join_answer_error(sl_group_coordinator_t *c, sl_group_member_t *m, int16_t error)
{
    sl_group_join_result_t res = join_error(error, sl__group_slice(m->member_id));
    join_answer(c, m, &res);
}

/* The current generation as member m sees it; the leader also gets every member's metadata. */
static sl_group_join_result_t join_result(sl_group_coordinator_t *c, sl_group_t *g,
                                          const sl_group_member_t *m)
{
    sl_group_join_result_t res = {
        .error = SL_KERR_NONE,
        .generation = g->generation,
        .protocol_type = sl__group_slice(g->protocol_type),
        .protocol_name = sl__group_slice(g->protocol_name),
        .leader = sl__group_slice(g->leader_id != NULL ? g->leader_id : ""),
        .member_id = sl__group_slice(m->member_id),
    };
    bool leader = g->leader_id != NULL && strcmp(g->leader_id, m->member_id) == 0;
    if (!leader || scratch_reserve(c, g->members_count) != 0)
        return res;
    size_t n = 0;
    for (const sl_group_member_t *o = g->members; o != NULL; o = o->next) {
        const sl_group_member_protocol_t *p = member_protocol(o, g->protocol_name);
        if (o->pending || p == NULL)
            continue;
        c->infos[n++] =
            (sl_group_member_info_t){sl__group_slice(o->member_id), sl__group_slice(o->instance_id),
                                     bytes_slice(&p->metadata)};
    }
    res.members = c->infos;
    res.members_count = n;
    return res;
}

/* ---- the rebalance ---- */

static bool member_supports(const sl_group_member_t *m, const char *name)
{
    return member_protocol(m, name) != NULL;
}

static bool all_support(const sl_group_t *g, const char *name)
{
    for (const sl_group_member_t *m = g->members; m != NULL; m = m->next)
        if (!m->pending && !member_supports(m, name))
            return false;
    return true;
}

/* Kafka's selectProtocol: among the protocols every member supports, the one most members list
 * first among those. O(members x protocols^2); protocols per member are bounded at join. */
static const char *protocol_select(const sl_group_t *g)
{
    const sl_group_member_t *first = NULL;
    for (const sl_group_member_t *m = g->members; m != NULL && first == NULL; m = m->next)
        if (!m->pending)
            first = m;
    if (first == NULL)
        return NULL;
    bool shared[SL_GROUP_PROTOCOLS_MAX];
    size_t votes[SL_GROUP_PROTOCOLS_MAX] = {0};
    for (size_t i = 0; i < first->protocols_count; i++)
        shared[i] = all_support(g, first->protocols[i].name);
    for (const sl_group_member_t *m = g->members; m != NULL; m = m->next) {
        if (m->pending)
            continue;
        /* m's vote: its first protocol that everyone supports */
        bool voted = false;
        for (size_t k = 0; k < m->protocols_count && !voted; k++)
            for (size_t i = 0; i < first->protocols_count && !voted; i++)
                if (shared[i] && strcmp(m->protocols[k].name, first->protocols[i].name) == 0) {
                    votes[i]++;
                    voted = true;
                }
    }
    const char *best = NULL;
    size_t best_votes = 0;
    for (size_t i = 0; i < first->protocols_count; i++)
        if (shared[i] && (best == NULL || votes[i] > best_votes)) {
            best = first->protocols[i].name;
            best_votes = votes[i];
        }
    return best;
}

static void group_to_empty(sl_group_coordinator_t *c, sl_group_t *g)
{
    g->state = SL_GROUP_EMPTY;
    g->empty_since_ms = wall_now(c);
    sl_free(g->protocol_name);
    g->protocol_name = NULL;
    sl_free(g->leader_id);
    g->leader_id = NULL; /* the protocol type stays, as in Kafka's DescribeGroups */
}

/* The join round ends: members that did not rejoin leave (static ones stay, as in Kafka), a new
 * generation starts, and every waiting join is answered. */
static void join_complete(sl_group_coordinator_t *c, sl_group_t *g)
{
    for (sl_group_member_t *m = g->members, *next; m != NULL; m = next) {
        next = m->next;
        if (!m->pending && m->join == NULL && m->instance_id == NULL) {
            sync_answer(c, g, m, SL_KERR_REBALANCE_IN_PROGRESS);
            member_unlink(g, m);
        }
    }
    g->initial_delay = false;
    g->generation++;
    if (g->members_count == 0) {
        group_to_empty(c, g);
        group_changed(c, g, false);
        return;
    }
    const char *chosen = protocol_select(g);
    char *name = chosen != NULL ? sl_strdup(chosen) : NULL;
    sl_free(g->protocol_name);
    g->protocol_name = name;
    if (g->leader_id == NULL || member_find(g, sl__group_slice(g->leader_id)) == NULL) {
        sl_free(g->leader_id);
        g->leader_id = NULL;
        for (sl_group_member_t *m = g->members; m != NULL && g->leader_id == NULL; m = m->next)
            if (!m->pending && m->join != NULL)
                g->leader_id = sl_strdup(m->member_id);
        for (sl_group_member_t *m = g->members; m != NULL && g->leader_id == NULL; m = m->next)
            if (!m->pending)
                g->leader_id = sl_strdup(m->member_id);
    }
    g->state = SL_GROUP_COMPLETING_REBALANCE;
    for (sl_group_member_t *m = g->members; m != NULL; m = m->next) {
        if (m->pending || m->join == NULL)
            continue;
        m->joined_this_round = false;
        session_renew(c, m);
        sl_group_join_result_t res = join_result(c, g, m);
        join_answer(c, m, &res);
    }
}

static bool all_joined(const sl_group_t *g)
{
    for (const sl_group_member_t *m = g->members; m != NULL; m = m->next)
        if (m->pending || m->join == NULL)
            return false;
    return true;
}

static void join_try_complete(sl_group_coordinator_t *c, sl_group_t *g)
{
    if (g->state == SL_GROUP_PREPARING_REBALANCE && !g->initial_delay && all_joined(g))
        join_complete(c, g);
}

static void rebalance_prepare(sl_group_coordinator_t *c, sl_group_t *g)
{
    for (sl_group_member_t *m = g->members; m != NULL; m = m->next) {
        sync_answer(c, g, m, SL_KERR_REBALANCE_IN_PROGRESS);
        m->joined_this_round = false;
    }
    if (g->state == SL_GROUP_COMPLETING_REBALANCE)
        for (sl_group_member_t *m = g->members; m != NULL; m = m->next)
            bytes_set(&m->assignment, SL_SLICE_NULL); /* freeing cannot fail */
    int32_t timeout_ms = 0;
    for (sl_group_member_t *m = g->members; m != NULL; m = m->next)
        timeout_ms = SL_MAX(timeout_ms, m->rebalance_timeout_ms);
    g->initial_delay = g->state == SL_GROUP_EMPTY && c->cfg.initial_rebalance_delay_ms > 0;
    g->initial_delay_remaining_ms = timeout_ms;
    if (g->initial_delay) {
        int32_t delay = SL_MIN(c->cfg.initial_rebalance_delay_ms, timeout_ms);
        g->initial_delay_remaining_ms = timeout_ms - delay;
        timeout_ms = delay;
        g->joined_during_delay = false;
    }
    g->state = SL_GROUP_PREPARING_REBALANCE;
    g->join_deadline_ms = sl__group_now(c) + (uint64_t)timeout_ms;
}

/* Kafka's InitialDelayedJoin: while new members keep arriving, wait another delay (up to the
 * rebalance timeout) before completing the first round of an empty group. */
static void join_deadline(sl_group_coordinator_t *c, sl_group_t *g)
{
    if (g->initial_delay && g->joined_during_delay && g->initial_delay_remaining_ms > 0) {
        int32_t delay = SL_MIN(c->cfg.initial_rebalance_delay_ms, g->initial_delay_remaining_ms);
        g->initial_delay_remaining_ms -= delay;
        g->joined_during_delay = false;
        g->join_deadline_ms = sl__group_now(c) + (uint64_t)delay;
        return;
    }
    g->initial_delay = false;
    join_complete(c, g);
}

/* A member goes (LeaveGroup, session expiry): its waiters are answered and the rest rebalance. */
static void member_remove(sl_group_coordinator_t *c, sl_group_t *g, sl_group_member_t *m)
{
    join_answer_error(c, m, SL_KERR_UNKNOWN_MEMBER_ID);
    sync_answer(c, g, m, SL_KERR_UNKNOWN_MEMBER_ID);
    bool pending = m->pending;
    member_unlink(g, m);
    if (pending) {
        join_try_complete(c, g);
        return;
    }
    switch (g->state) {
    case SL_GROUP_STABLE:
    case SL_GROUP_COMPLETING_REBALANCE:
        rebalance_prepare(c, g);
        join_try_complete(c, g);
        break;
    case SL_GROUP_PREPARING_REBALANCE:
        join_try_complete(c, g);
        break;
    default:
        break;
    }
}

/* ---- JoinGroup ---- */

/* Kafka's supportsProtocols: an empty group takes any; otherwise the type must match and some
 * protocol must be one every member supports. */
static bool group_supports(const sl_group_t *g, const sl_group_join_args_t *a)
{
    if (g->members_count == 0)
        return true;
    if (!sl__group_eq(g->protocol_type, a->protocol_type))
        return false;
    for (size_t i = 0; i < a->protocols_count; i++) {
        bool all = true;
        char *name = sl__group_strdup(a->protocols[i].name);
        if (name == NULL)
            return false;
        for (const sl_group_member_t *m = g->members; m != NULL && all; m = m->next)
            all = m->pending || member_supports(m, name);
        sl_free(name);
        if (all)
            return true;
    }
    return false;
}

/* m (re)joins: it waits for the round, which starts now unless one is under way. */
static void join_wait(sl_group_coordinator_t *c, sl_group_t *g, sl_group_member_t *m,
                      sl_group_waiter_t *w)
{
    if (m->join != NULL)
        join_answer_error(c, m, SL_KERR_REBALANCE_IN_PROGRESS);
    m->join = w;
    m->joined_this_round = true;
    g->joined_during_delay = true;
    if (g->state != SL_GROUP_PREPARING_REBALANCE)
        rebalance_prepare(c, g);
    join_try_complete(c, g);
}

static int16_t join_new(sl_group_coordinator_t *c, sl_group_t *g, const sl_group_join_args_t *a,
                        sl_group_waiter_t *w, sl_group_join_result_t *res)
{
    bool is_static = a->instance_id.ptr != NULL;
    char *id = member_id_new(is_static ? a->instance_id : a->client_id);
    if (id == NULL)
        return SL_KERR_UNKNOWN_SERVER_ERROR;
    sl_group_member_t *m = member_new(g, id, a);
    if (m == NULL)
        return SL_KERR_UNKNOWN_SERVER_ERROR;
    if (g->protocol_type == NULL)
        g->protocol_type = sl__group_strdup(a->protocol_type);
    if (!is_static && a->require_known_member_id) {
        /* KIP-394: the client must come back with this id before it counts as a member */
        m->pending = true;
        session_renew(c, m);
        *res = join_error(SL_KERR_MEMBER_ID_REQUIRED, sl__group_slice(m->member_id));
        return SL_KERR_NONE;
    }
    g->members_count++;
    join_wait(c, g, m, w);
    return SL_KERR_NONE;
}

/* KIP-345: a static member coming back under a new member id takes the old one's place, and in a
 * stable group with unchanged metadata gets its assignment back without a rebalance. */
static int16_t join_static(sl_group_coordinator_t *c, sl_group_t *g, sl_group_member_t *m,
                           const sl_group_join_args_t *a, sl_group_waiter_t *w)
{
    char *id = member_id_new(a->instance_id);
    if (id == NULL)
        return SL_KERR_UNKNOWN_SERVER_ERROR;
    join_answer_error(c, m, SL_KERR_FENCED_INSTANCE_ID);
    sync_answer(c, g, m, SL_KERR_FENCED_INSTANCE_ID);
    bool leader = g->leader_id != NULL && strcmp(g->leader_id, m->member_id) == 0;
    if (leader) {
        sl_free(g->leader_id);
        g->leader_id = sl_strdup(id);
    }
    sl_free(m->member_id);
    m->member_id = id;
    if (member_set_protocols(m, a) != 0)
        return SL_KERR_UNKNOWN_SERVER_ERROR;
    /* as Kafka: no rebalance unless the protocol the group would choose now changes */
    const char *next = g->state == SL_GROUP_STABLE ? protocol_select(g) : NULL;
    if (next != NULL && g->protocol_name != NULL && strcmp(next, g->protocol_name) == 0) {
        session_renew(c, m);
        m->join = w;
        group_changed(c, g, false); /* the new member id must survive a restart */
        sl_group_join_result_t res = join_result(c, g, m);
        res.skip_assignment = leader; /* v9: the leader must not assign again */
        join_answer(c, m, &res);
        return SL_KERR_NONE;
    }
    join_wait(c, g, m, w);
    return SL_KERR_NONE;
}

static int16_t join_known(sl_group_coordinator_t *c, sl_group_t *g, const sl_group_join_args_t *a,
                          sl_group_waiter_t *w)
{
    sl_group_member_t *m = member_find(g, a->member_id);
    sl_group_member_t *by_instance = member_by_instance(g, a->instance_id);
    if (by_instance != NULL && by_instance != m)
        return SL_KERR_FENCED_INSTANCE_ID;
    if (m == NULL)
        return SL_KERR_UNKNOWN_MEMBER_ID;
    if (m->instance_id != NULL && !sl__group_eq(m->instance_id, a->instance_id))
        return SL_KERR_FENCED_INSTANCE_ID;
    if (m->pending) {
        m->pending = false;
        g->members_count++;
        if (member_set_protocols(m, a) != 0)
            return SL_KERR_UNKNOWN_SERVER_ERROR;
        join_wait(c, g, m, w);
        return SL_KERR_NONE;
    }
    bool leader = g->leader_id != NULL && strcmp(g->leader_id, m->member_id) == 0;
    bool settled = g->state == SL_GROUP_COMPLETING_REBALANCE || g->state == SL_GROUP_STABLE;
    if (!settled && g->state != SL_GROUP_PREPARING_REBALANCE)
        return SL_KERR_UNKNOWN_MEMBER_ID;
    if (settled && protocols_same(m, a) && (g->state == SL_GROUP_COMPLETING_REBALANCE || !leader)) {
        /* nothing changed: the current generation again */
        session_renew(c, m);
        m->join = w;
        sl_group_join_result_t res = join_result(c, g, m);
        join_answer(c, m, &res);
        return SL_KERR_NONE;
    }
    if (member_set_protocols(m, a) != 0)
        return SL_KERR_UNKNOWN_SERVER_ERROR;
    join_wait(c, g, m, w);
    return SL_KERR_NONE;
}

static int16_t join_check(const sl_group_coordinator_t *c, const sl_group_join_args_t *a)
{
    if (a->group_id.len == 0)
        return SL_KERR_INVALID_GROUP_ID;
    if (a->session_timeout_ms < c->cfg.min_session_timeout_ms ||
        a->session_timeout_ms > c->cfg.max_session_timeout_ms)
        return SL_KERR_INVALID_SESSION_TIMEOUT;
    if (a->protocol_type.len == 0 || a->protocols_count == 0 ||
        a->protocols_count > SL_GROUP_PROTOCOLS_MAX)
        return SL_KERR_INCONSISTENT_GROUP_PROTOCOL;
    return SL_KERR_NONE;
}

bool sl_group_join(sl_group_coordinator_t *c, const sl_group_join_args_t *args,
                   sl_group_waiter_t *w, sl_group_join_result_t *res)
{
    sl_group_join_args_t a = *args;
    if (a.rebalance_timeout_ms < 0) /* v0: the session timeout is both */
        a.rebalance_timeout_ms = a.session_timeout_ms;
    int16_t err = join_check(c, &a);
    sl_group_t *g = NULL;
    if (err == SL_KERR_NONE) {
        g = a.member_id.len > 0 ? sl__group_find(c, a.group_id)
                                : sl__group_get_or_create(c, a.group_id);
        if (g == NULL)
            err = a.member_id.len > 0 ? SL_KERR_UNKNOWN_MEMBER_ID : SL_KERR_UNKNOWN_SERVER_ERROR;
        else if (g->state == SL_GROUP_DEAD)
            err = SL_KERR_COORDINATOR_NOT_AVAILABLE;
        else if (!group_supports(g, &a))
            err = SL_KERR_INCONSISTENT_GROUP_PROTOCOL;
    }
    if (err != SL_KERR_NONE) {
        *res = join_error(err, a.member_id);
        return true;
    }
    c->current = (sl_group_current_t){.w = w, .join_res = res};
    *res = join_error(SL_KERR_NONE, a.member_id);
    if (a.member_id.len > 0) {
        err = join_known(c, g, &a, w);
    } else {
        sl_group_member_t *m = member_by_instance(g, a.instance_id);
        err = m != NULL ? join_static(c, g, m, &a, w) : join_new(c, g, &a, w, res);
        if (err == SL_KERR_NONE && res->error == SL_KERR_MEMBER_ID_REQUIRED)
            c->current.answered = true;
    }
    bool answered = c->current.answered;
    c->current = (sl_group_current_t){0};
    if (err != SL_KERR_NONE) {
        *res = join_error(err, a.member_id);
        return true;
    }
    return answered;
}

/* ---- SyncGroup, Heartbeat, LeaveGroup ---- */

static int16_t member_check(sl_group_t *g, sl_slice_t member_id, sl_slice_t instance_id,
                            sl_group_member_t **out)
{
    sl_group_member_t *m = g != NULL ? member_find(g, member_id) : NULL;
    sl_group_member_t *by_instance = g != NULL ? member_by_instance(g, instance_id) : NULL;
    if (by_instance != NULL && by_instance != m)
        return SL_KERR_FENCED_INSTANCE_ID;
    if (m == NULL || m->pending)
        return SL_KERR_UNKNOWN_MEMBER_ID;
    if (m->instance_id != NULL && instance_id.ptr != NULL &&
        !sl__group_eq(m->instance_id, instance_id))
        return SL_KERR_FENCED_INSTANCE_ID;
    *out = m;
    return SL_KERR_NONE;
}

/* The leader's SyncGroup: every member gets its part (none named: empty), the group is stable. */
static void sync_complete(sl_group_coordinator_t *c, sl_group_t *g, const sl_group_sync_args_t *a)
{
    for (sl_group_member_t *m = g->members; m != NULL; m = m->next) {
        sl_slice_t mine = SL_SLICE_NULL;
        for (size_t i = 0; i < a->assignments_count; i++)
            if (sl__group_eq(m->member_id, a->assignment_members[i]))
                mine = a->assignments[i];
        if (bytes_set(&m->assignment, mine) != 0)
            bytes_set(&m->assignment, SL_SLICE_NULL);
    }
    g->state = SL_GROUP_STABLE;
    group_changed(c, g, false);
    for (sl_group_member_t *m = g->members; m != NULL; m = m->next)
        sync_answer(c, g, m, SL_KERR_NONE);
}

static int16_t sync_check(sl_group_t *g, const sl_group_sync_args_t *a, sl_group_member_t **m)
{
    if (a->group_id.len == 0)
        return SL_KERR_INVALID_GROUP_ID;
    int16_t err = member_check(g, a->member_id, a->instance_id, m);
    if (err != SL_KERR_NONE)
        return err;
    if (a->generation != g->generation)
        return SL_KERR_ILLEGAL_GENERATION;
    if ((a->protocol_type.ptr != NULL && !sl__group_eq(g->protocol_type, a->protocol_type)) ||
        (a->protocol_name.ptr != NULL && !sl__group_eq(g->protocol_name, a->protocol_name)))
        return SL_KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (g->state == SL_GROUP_PREPARING_REBALANCE)
        return SL_KERR_REBALANCE_IN_PROGRESS;
    if (g->state != SL_GROUP_COMPLETING_REBALANCE && g->state != SL_GROUP_STABLE)
        return SL_KERR_UNKNOWN_MEMBER_ID;
    return SL_KERR_NONE;
}

bool sl_group_sync(sl_group_coordinator_t *c, const sl_group_sync_args_t *a, sl_group_waiter_t *w,
                   sl_group_sync_result_t *res)
{
    sl_group_t *g = sl__group_find(c, a->group_id);
    sl_group_member_t *m = NULL;
    int16_t err = sync_check(g, a, &m);
    if (err != SL_KERR_NONE) {
        *res = (sl_group_sync_result_t){.error = err};
        return true;
    }
    session_renew(c, m);
    c->current = (sl_group_current_t){.w = w, .sync_res = res};
    if (m->sync != NULL)
        sync_answer(c, g, m, SL_KERR_REBALANCE_IN_PROGRESS);
    m->sync = w;
    bool leader = g->leader_id != NULL && strcmp(g->leader_id, m->member_id) == 0;
    if (g->state == SL_GROUP_STABLE)
        sync_answer(c, g, m, SL_KERR_NONE);
    else if (leader)
        sync_complete(c, g, a);
    bool answered = c->current.answered;
    c->current = (sl_group_current_t){0};
    return answered;
}

int16_t sl_group_heartbeat(sl_group_coordinator_t *c, sl_slice_t group_id, sl_slice_t member_id,
                           sl_slice_t instance_id, int32_t generation)
{
    if (group_id.len == 0)
        return SL_KERR_INVALID_GROUP_ID;
    sl_group_t *g = sl__group_find(c, group_id);
    sl_group_member_t *m = NULL;
    int16_t err = member_check(g, member_id, instance_id, &m);
    if (err != SL_KERR_NONE)
        return err;
    if (g->state == SL_GROUP_EMPTY || g->state == SL_GROUP_DEAD)
        return SL_KERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return SL_KERR_ILLEGAL_GENERATION;
    session_renew(c, m);
    return g->state == SL_GROUP_PREPARING_REBALANCE ? SL_KERR_REBALANCE_IN_PROGRESS : SL_KERR_NONE;
}

int16_t sl_group_leave(sl_group_coordinator_t *c, sl_slice_t group_id, sl_slice_t member_id,
                       sl_slice_t instance_id)
{
    if (group_id.len == 0)
        return SL_KERR_INVALID_GROUP_ID;
    sl_group_t *g = sl__group_find(c, group_id);
    if (g == NULL)
        return SL_KERR_UNKNOWN_MEMBER_ID;
    sl_group_member_t *m = NULL;
    if (member_id.len == 0 && instance_id.ptr != NULL) {
        m = member_by_instance(g, instance_id);
        if (m == NULL)
            return SL_KERR_UNKNOWN_MEMBER_ID;
    } else {
        sl_group_member_t *by_instance = member_by_instance(g, instance_id);
        m = member_find(g, member_id);
        if (by_instance != NULL && by_instance != m)
            return SL_KERR_FENCED_INSTANCE_ID;
        if (m == NULL)
            return SL_KERR_UNKNOWN_MEMBER_ID;
        if (m->instance_id != NULL && instance_id.ptr != NULL &&
            !sl__group_eq(m->instance_id, instance_id))
            return SL_KERR_FENCED_INSTANCE_ID;
    }
    member_remove(c, g, m);
    return SL_KERR_NONE;
}

void sl_group_coordinator_abort(sl_group_coordinator_t *c, int16_t error)
{
    for (size_t b = 0; b < SL_GROUP_BUCKETS; b++)
        for (sl_group_t *g = c->buckets[b]; g != NULL; g = g->next)
            for (sl_group_member_t *m = g->members; m != NULL; m = m->next) {
                join_answer_error(c, m, error);
                sync_answer(c, g, m, error);
            }
}

/* Leadership of a __consumer_offsets partition moved away: its groups go from memory, their
 * waiting joins and syncs answered with error first (clients find the new coordinator). No
 * changed callback: the records stay in the partition's log for the next coordinator. */
size_t sl_group_coordinator_unload(sl_group_coordinator_t *c, int32_t partition, int32_t partitions,
                                   int16_t error)
{
    size_t dropped = 0;
    for (size_t b = 0; b < SL_GROUP_BUCKETS; b++)
        for (sl_group_t *g = c->buckets[b], *next; g != NULL; g = next) {
            next = g->next;
            if (sl_group_partition_for(sl__group_slice(g->group_id), partitions) != partition)
                continue;
            for (sl_group_member_t *m = g->members; m != NULL; m = m->next) {
                join_answer_error(c, m, error);
                sync_answer(c, g, m, error);
            }
            sl__group_remove(c, g);
            dropped++;
        }
    return dropped;
}

/* ---- time ---- */

#define SL_GROUP_CLEANUP_INTERVAL_MS 600000 /* offsets.retention.check.interval.ms */

static void group_expire_members(sl_group_coordinator_t *c, sl_group_t *g, uint64_t now)
{
    for (sl_group_member_t *m = g->members, *next; m != NULL; m = next) {
        next = m->next;
        if (m->join != NULL || m->sync != NULL || m->session_deadline_ms > now)
            continue;
        /* member_remove may rebalance and free members after m; restart from the head */
        member_remove(c, g, m);
        next = g->members;
    }
}

/* Empty groups go once offsets.retention.minutes passed since they emptied (offsets and all). */
static bool group_expire(sl_group_coordinator_t *c, sl_group_t *g, int64_t wall)
{
    if (g->state != SL_GROUP_EMPTY || g->members != NULL)
        return false;
    int64_t keep_ms = g->offsets_count > 0 ? c->cfg.offsets_retention_ms : 0;
    if (wall - g->empty_since_ms < SL_MAX(keep_ms, 0) ||
        (g->offsets_count == 0 && wall - g->empty_since_ms < SL_GROUP_CLEANUP_INTERVAL_MS))
        return false;
    group_changed(c, g, true);
    sl__group_remove(c, g);
    return true;
}

/* KIP-211 (Kafka's GroupMetadata.removeExpiredOffsets) for a group with members: when it is Stable
 * on the "consumer" protocol, offsets of topics no member subscribes to expire once
 * offsets.retention.minutes passed since their commit; the subscribed ones stay however old. Other
 * non-empty groups keep every offset (an Empty group expires whole, in group_expire). */
static void group_expire_unsubscribed_offsets(sl_group_coordinator_t *c, sl_group_t *g,
                                              int64_t wall)
{
    if (g->state != SL_GROUP_STABLE || g->protocol_type == NULL ||
        strcmp(g->protocol_type, "consumer") != 0 || g->protocol_name == NULL)
        return;
    for (size_t i = 0; i < g->offsets_count;) {
        sl_group_committed_t *e = &g->offsets[i];
        if (wall - e->commit_timestamp_ms < c->cfg.offsets_retention_ms ||
            sl__group_subscribed(g, sl__group_slice(e->topic))) {
            i++;
            continue;
        }
        char *topic = e->topic;
        int32_t partition = e->partition;
        e->topic = NULL; /* kept for the callback */
        sl__group_offset_remove(g, i);
        if (c->offset_expired_cb != NULL)
            c->offset_expired_cb(c, sl__group_slice(g->group_id), sl__group_slice(topic), partition,
                                 c->offset_expired_data);
        sl_free(topic);
    }
}

static uint64_t group_next_deadline(const sl_group_t *g, uint64_t next)
{
    if (g->state == SL_GROUP_PREPARING_REBALANCE)
        next = SL_MIN(next, g->join_deadline_ms);
    for (const sl_group_member_t *m = g->members; m != NULL; m = m->next)
        if (m->join == NULL && m->sync == NULL)
            next = SL_MIN(next, m->session_deadline_ms);
    return next;
}

/* The next deadline; with process, deadlines that passed are handled first. */
static uint64_t deadlines(sl_group_coordinator_t *c, bool process)
{
    uint64_t now = sl__group_now(c);
    int64_t wall = wall_now(c);
    uint64_t next = now + SL_GROUP_CLEANUP_INTERVAL_MS;
    for (size_t b = 0; b < SL_GROUP_BUCKETS; b++) {
        for (sl_group_t *g = c->buckets[b], *gnext; g != NULL; g = gnext) {
            gnext = g->next;
            if (process) {
                group_expire_members(c, g, now);
                if (g->state == SL_GROUP_PREPARING_REBALANCE && g->join_deadline_ms <= now)
                    join_deadline(c, g);
                if (group_expire(c, g, wall))
                    continue;
                group_expire_unsubscribed_offsets(c, g, wall);
            }
            next = group_next_deadline(g, next);
            if (g->state == SL_GROUP_EMPTY && g->offsets_count > 0) {
                int64_t left = g->empty_since_ms + c->cfg.offsets_retention_ms - wall;
                next = SL_MIN(next, now + (uint64_t)SL_MAX(left, 0));
            }
        }
    }
    return SL_MAX(next, now + (process ? 1 : 0));
}

uint64_t sl_group_coordinator_tick(sl_group_coordinator_t *c)
{
    return deadlines(c, true);
}

uint64_t sl_group_coordinator_next_deadline(sl_group_coordinator_t *c)
{
    return deadlines(c, false);
}
