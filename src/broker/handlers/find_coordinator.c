/* FindCoordinator (key 10, versions 0-6): a group's coordinator is the leader of its
 * __consumer_offsets partition, reached through the listener the client used. On a single node
 * that is this node (it owns every partition; the topic is created here on first use, as Kafka
 * does). In quorum mode the topic is created through the active controller on first use, and the
 * answer names the partition's leader with its endpoint from the cluster's metadata image;
 * COORDINATOR_NOT_AVAILABLE (retriable) while the topic or a leader is not known yet.
 * v4+ batches keys. Key type 1 (transaction) answers COORDINATOR_NOT_AVAILABLE, what Kafka says
 * while its transaction coordinator is not ready: Sluice has none yet. Other key types (2: share
 * groups) are INVALID_REQUEST. */
#include <string.h>

#include "../broker_int.h"

static int16_t coordinator_error(int8_t key_type)
{
    if (key_type == 0)
        return SL_KERR_NONE;
    return key_type == 1 ? SL_KERR_COORDINATOR_NOT_AVAILABLE : SL_KERR_INVALID_REQUEST;
}

typedef struct {
    int32_t node_id;
    sl_slice_t host;
    int32_t port;
} coordinator_t;

/* The endpoint of broker node_id on the listener the client came through: this node's own
 * advertised one, another's from the metadata image (false when it has none on that listener). */
static bool endpoint_of(sl_request_t *req, int32_t node_id, coordinator_t *out)
{
    sl_broker_t *broker = req->broker;
    const sl_endpoint_t *own = &broker->advertised[req->listener_index];
    if (node_id == broker->cfg->node_id) {
        *out = (coordinator_t){node_id, sl_slice_from_str(own->host), own->port};
        return true;
    }
    if (broker->cluster == NULL)
        return false;
    const sl_metadata_image_t *img = sl__cluster_image(broker->cluster);
    for (int32_t i = 0; i < img->broker_count; i++) {
        const sl_metadata_broker_t *mb = &img->brokers[i];
        if (mb->id != node_id)
            continue;
        for (int32_t e = 0; e < mb->endpoint_count; e++)
            if (strcmp(mb->endpoints[e].name, own->name) == 0) {
                *out = (coordinator_t){node_id, sl_slice_from_str(mb->endpoints[e].host),
                                       mb->endpoints[e].port};
                return true;
            }
    }
    return false;
}

/* A group key's answer: its coordinator (the leader of the group's partition), or
 * COORDINATOR_NOT_AVAILABLE while no leader (or none reachable on this listener) is known. */
static int16_t group_coordinator(sl_request_t *req, int16_t err, sl_slice_t group_id,
                                 coordinator_t *out)
{
    *out = (coordinator_t){-1, sl_slice_from_str(""), -1};
    if (err != SL_KERR_NONE)
        return err;
    int32_t leader = sl__groups_coordinator_id(req->broker, group_id);
    if (leader < 0 || !endpoint_of(req, leader, out)) {
        *out = (coordinator_t){-1, sl_slice_from_str(""), -1};
        return SL_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    return SL_KERR_NONE;
}

int sl__handle_find_coordinator(sl_request_t *req, const void *request, void *response)
{
    const sl_find_coordinator_request_t *in = request;
    sl_find_coordinator_response_t *out = response;
    int16_t err = coordinator_error(in->key_type);
    if (err == SL_KERR_NONE && !sl__groups_available(req->broker))
        err = SL_KERR_COORDINATOR_NOT_AVAILABLE;
    out->throttle_time_ms = 0;
    coordinator_t c;
    if (req->header.api_version < 4) {
        err = group_coordinator(req, err, in->key, &c);
        /* Kafka says "NONE" on success in v1-3 */
        sl_slice_t msg = sl_slice_from_str(err != SL_KERR_NONE ? sl_kerr_message(err) : "NONE");
        out->error_code = err;
        out->error_message = msg;
        out->node_id = c.node_id;
        out->host = c.host;
        out->port = c.port;
        return 0;
    }
    size_t n = in->coordinator_keys_count > 0 ? (size_t)in->coordinator_keys_count : 0;
    sl_find_coordinator_response_coordinator_t *cs =
        sl_arena_alloc(&req->arena, (n + 1) * sizeof(*cs));
    if (cs == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < n; i++) {
        int16_t key_err = group_coordinator(req, err, in->coordinator_keys[i], &c);
        cs[i] = (sl_find_coordinator_response_coordinator_t){
            .key = in->coordinator_keys[i],
            .node_id = c.node_id,
            .host = c.host,
            .port = c.port,
            .error_code = key_err,
            .error_message = key_err != SL_KERR_NONE ? sl_slice_from_str(sl_kerr_message(key_err))
                                                     : sl_slice_from_str(""), /* as Kafka */
        };
    }
    out->coordinators = cs;
    out->coordinators_count = (int32_t)n;
    return 0;
}
