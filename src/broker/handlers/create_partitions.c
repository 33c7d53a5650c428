/* CreatePartitions (key 37, v0-3): grows topics (never shrinks), checking manual assignments as
 * Kafka's controller does against a cluster of one broker, with validate_only. A name given twice
 * is answered once, first, with INVALID_REQUEST, as Kafka does (found by sorting, as the config
 * handlers find repeated resources: sl__alter_repeated).
 * Invariants: a topic either reaches the new count (logs open, topics.meta written) or keeps its
 * old one; every answer lives in the request arena. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alter.h"

#define MESSAGE_BYTES 512

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Kafka's validateManualPartitionAssignment for one new partition (replicas sorted first). */
static sl_kerr_t check_assignment(sl_request_t *req, const sl_create_partitions_assignment_t *a,
                                  char *msg, size_t len)
{
    int32_t node = req->broker->cfg->node_id;
    size_t n = a->broker_ids_count > 0 ? (size_t)a->broker_ids_count : 0;
    if (n == 0) {
        snprintf(msg, len, "The manual partition assignment includes an empty replica list.");
        return SL_KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    int32_t *sorted = sl_arena_alloc(&req->arena, n * sizeof(*sorted));
    if (sorted == NULL)
        return SL_KERR_UNKNOWN_SERVER_ERROR;
    memcpy(sorted, a->broker_ids, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_i32);
    for (size_t i = 0; i < n; i++) {
        if (sorted[i] != node) {
            snprintf(msg, len,
                     "The manual partition assignment includes broker %d, but no such broker "
                     "is registered.",
                     (int)sorted[i]);
            return SL_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        if (i > 0 && sorted[i] == sorted[i - 1]) {
            snprintf(msg, len,
                     "The manual partition assignment includes the broker %d more than once.",
                     (int)sorted[i]);
            return SL_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    SL_ASSERT(n == 1); /* one broker, no duplicates */
    return SL_KERR_NONE;
}

static sl_kerr_t grow_one(sl_request_t *req, const sl_create_partitions_topic_t *in,
                          bool validate_only, char *msg, size_t len)
{
    sl_topic_table_t *table = req->broker->topics;
    sl_topic_t *topic = sl__topic_name_valid(in->name) ? sl__topics_find(table, in->name) : NULL;
    if (topic == NULL)
        return SL_KERR_UNKNOWN_TOPIC_OR_PARTITION; /* Kafka: no message */
    /* The count checks come first; validate_only=true makes the topic function check only. */
    sl_kerr_t err = sl__topics_add_partitions(table, topic, in->count, true, msg, len);
    if (err != SL_KERR_NONE)
        return err;
    if (in->assignments_count >= 0) {
        int32_t added = in->count - topic->partition_count;
        if (in->assignments_count != added) {
            snprintf(msg, len,
                     "Attempted to add %d additional partition(s), but only %d assignment(s) "
                     "were specified.",
                     (int)added, (int)in->assignments_count);
            return SL_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        for (int32_t i = 0; i < in->assignments_count; i++)
            if ((err = check_assignment(req, &in->assignments[i], msg, len)) != SL_KERR_NONE)
                return err;
    }
    if (validate_only)
        return SL_KERR_NONE;
    return sl__topics_add_partitions(table, topic, in->count, false, msg, len);
}

int sl__handle_create_partitions(sl_request_t *req, const void *request, void *response)
{
    int routed;
    if (sl__cluster_route_admin(req, request, response, &routed))
        return routed; /* quorum mode: the active controller decides */
    const sl_create_partitions_request_t *in = request;
    sl_create_partitions_response_t *out = response;
    size_t count = in->topics_count > 0 ? (size_t)in->topics_count : 0;
    out->throttle_time_ms = 0;
    out->results = sl_arena_alloc(&req->arena, (count + 1) * sizeof(*out->results));
    if (out->results == NULL)
        return SL_ELIMIT;
    sl_slice_t *names = sl_arena_alloc(&req->arena, (count + 1) * sizeof(*names));
    if (names == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < count; i++)
        names[i] = in->topics[i].name;
    uint8_t *repeated = sl__alter_repeated(req, NULL, names, count);
    if (repeated == NULL)
        return SL_ELIMIT;
    size_t n = 0;
    /* Kafka answers the repeated names first, once each, then the others in request order. */
    for (int pass = 0; pass < 2; pass++) {
        for (int32_t i = 0; i < (int32_t)count; i++) {
            const sl_create_partitions_topic_t *t = &in->topics[i];
            bool dup = repeated[i] != SL_ALTER_UNIQUE;
            if ((pass == 0) != dup || repeated[i] == SL_ALTER_AGAIN)
                continue;
            sl_create_partitions_topic_result_t *o = &out->results[n++];
            *o = (sl_create_partitions_topic_result_t){.name = t->name};
            char *msg = sl_arena_alloc(&req->arena, MESSAGE_BYTES);
            if (msg == NULL)
                return SL_ELIMIT;
            msg[0] = '\0';
            if (dup) {
                snprintf(msg, MESSAGE_BYTES, "Duplicate topic name.");
                o->error_code = SL_KERR_INVALID_REQUEST;
            } else {
                o->error_code = grow_one(req, t, in->validate_only, msg, MESSAGE_BYTES);
            }
            o->error_message = msg[0] != '\0' ? sl_slice_from_str(msg) : SL_SLICE_NULL;
        }
    }
    out->results_count = (int32_t)n;
    return 0;
}
