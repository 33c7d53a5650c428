/* group internals: groups, members and committed offsets as the coordinator keeps them in memory.
 * Every string is owned (sl_malloc'd, NUL-terminated) by the struct that holds it. A member is in
 * its group's list from join (or the MEMBER_ID_REQUIRED handshake, as pending) until it leaves or
 * expires; at most one join and one sync of a member wait at a time. */
#ifndef SLUICE_GROUP_INT_H
#define SLUICE_GROUP_INT_H

#include "sluice/group.h"
#include "sluice/protocol.h"

typedef struct sl_group_bytes {
    uint8_t *ptr; /* owned; NULL when len is 0 */
    size_t len;
} sl_group_bytes_t;

typedef struct sl_group_member_protocol {
    char *name;
    sl_group_bytes_t metadata;
} sl_group_member_protocol_t;

typedef struct sl_group_member {
    struct sl_group_member *next;
    char *member_id;
    char *instance_id; /* NULL: dynamic */
    char *client_id, *client_host;
    int32_t session_timeout_ms, rebalance_timeout_ms;
    sl_group_member_protocol_t *protocols;
    size_t protocols_count;
    sl_group_bytes_t assignment;
    uint64_t session_deadline_ms;
    sl_group_waiter_t *join; /* waiting JoinGroup */
    sl_group_waiter_t *sync; /* waiting SyncGroup */
    bool pending;            /* given an id by MEMBER_ID_REQUIRED, not joined yet */
    bool joined_this_round;  /* joined (or rejoined) since the rebalance began */
} sl_group_member_t;

typedef struct sl_group_committed {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata; /* never NULL */
    int64_t commit_timestamp_ms;
} sl_group_committed_t;

typedef struct sl_group {
    struct sl_group *next; /* hash chain */
    char *group_id;
    sl_group_state_t state;
    int32_t generation;
    char *protocol_type; /* NULL until the first member joins (or a restore) */
    char *protocol_name; /* chosen at the end of a join round */
    char *leader_id;     /* NULL when no leader */
    sl_group_member_t *members;
    size_t members_count; /* joined members (not pending) */
    uint64_t join_deadline_ms;
    bool initial_delay; /* the join round began from Empty: wait group.initial.rebalance.delay */
    bool joined_during_delay;
    int32_t initial_delay_remaining_ms;
    int64_t empty_since_ms;        /* realtime; for offsets.retention.minutes */
    sl_group_committed_t *offsets; /* sorted by (topic, partition) */
    size_t offsets_count, offsets_cap;
} sl_group_t;

#define SL_GROUP_BUCKETS 1024
/* Protocols one member may offer (clients send 1-3); bounds protocol selection's work. */
#define SL_GROUP_PROTOCOLS_MAX 64

/* The waiter of the call in progress: answered through the call's result, not its callback. */
typedef struct sl_group_current {
    sl_group_waiter_t *w;
    sl_group_join_result_t *join_res;
    sl_group_sync_result_t *sync_res;
    bool answered;
} sl_group_current_t;

struct sl_group_coordinator {
    sl_group_config_t cfg;
    const sl_clock_ops_t *clock;
    sl_group_t *buckets[SL_GROUP_BUCKETS];
    size_t groups_count;
    sl_group_current_t current;
    sl_group_changed_cb changed_cb;
    void *changed_data;
    sl_group_offset_expired_cb offset_expired_cb;
    void *offset_expired_data;
    /* scratch for results and views; valid until the next call */
    sl_group_member_info_t *infos;
    sl_group_member_view_t *views;
    size_t scratch_cap;
};

uint64_t sl__group_now(const sl_group_coordinator_t *c);
sl_group_t *sl__group_find(sl_group_coordinator_t *c, sl_slice_t group_id);
sl_group_t *sl__group_get_or_create(sl_group_coordinator_t *c, sl_slice_t group_id);
void sl__group_remove(sl_group_coordinator_t *c, sl_group_t *group);
void sl__group_free_offsets(sl_group_t *group);
char *sl__group_strdup(sl_slice_t s);
/* Frees every member (none may have a waiter: only at load). */
void sl__group_clear_members(sl_group_t *group);
/* Adds a member from a group metadata record: one protocol (name) with its subscription, its
 * assignment and timeouts; its session starts now. */
int sl__group_member_restore(sl_group_coordinator_t *c, sl_group_t *g, sl_slice_t protocol_name,
                             const sl_group_member_view_t *v);
bool sl__group_eq(const char *s, sl_slice_t slice);
/* sl_group_subscribed on a group in hand. */
bool sl__group_subscribed(const sl_group_t *g, sl_slice_t topic);
/* Drops g->offsets[i]. */
void sl__group_offset_remove(sl_group_t *g, size_t i);
sl_slice_t sl__group_slice(const char *s);

#endif
