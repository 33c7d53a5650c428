/* ApiVersions (key 18): the list of APIs and versions Sluice answers, straight from the handler
 * table, so what is advertised is exactly what is served. Served before authentication; a too-new
 * version is answered in dispatch.c (sl__api_versions_unsupported). */
#include <string.h>

#include "../broker_int.h"

/* metadata.version levels: 21 is 3.9-IV0, the protocol release Sluice's schemas come from. */
#define METADATA_VERSION_MIN 1
#define METADATA_VERSION_LEVEL 21

/* Kafka's rule for ClientSoftwareName/Version (KIP-511):
 * [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? */
static bool software_field_valid(sl_slice_t s)
{
    if (s.ptr == NULL || s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        bool inner = alnum || c == '-' || c == '.';
        bool edge = i == 0 || i == s.len - 1;
        if (edge ? !alnum : !inner)
            return false;
    }
    return true;
}

static int add_features(sl_request_t *req, sl_api_versions_response_t *resp)
{
    sl_supported_feature_key_t *supported = sl_arena_alloc(&req->arena, sizeof(*supported));
    sl_finalized_feature_key_t *finalized = sl_arena_alloc(&req->arena, sizeof(*finalized));
    if (supported == NULL || finalized == NULL)
        return SL_ELIMIT;
    *supported = (sl_supported_feature_key_t){.name = sl_slice_from_str("metadata.version"),
                                              .min_version = METADATA_VERSION_MIN,
                                              .max_version = METADATA_VERSION_LEVEL};
    *finalized = (sl_finalized_feature_key_t){.name = sl_slice_from_str("metadata.version"),
                                              .max_version_level = METADATA_VERSION_LEVEL,
                                              .min_version_level = METADATA_VERSION_LEVEL};
    resp->supported_features = supported;
    resp->supported_features_count = 1;
    resp->finalized_features = finalized;
    resp->finalized_features_count = 1;
    resp->finalized_features_epoch = 0;
    return 0;
}

int sl__handle_api_versions(sl_request_t *req, const void *request, void *response)
{
    const sl_api_versions_request_t *in = request;
    sl_api_versions_response_t *out = response;
    int16_t version = req->header.api_version;
    out->throttle_time_ms = 0;
    if (version >= 3 && (!software_field_valid(in->client_software_name) ||
                         !software_field_valid(in->client_software_version))) {
        out->error_code = SL_KERR_INVALID_REQUEST;
        out->api_keys_count = 0;
        return 0;
    }
    size_t count;
    const sl_api_support_t *support = sl_broker_api_support(&count);
    sl_api_version_t *keys = sl_arena_alloc(&req->arena, count * sizeof(*keys));
    if (keys == NULL)
        return SL_ELIMIT;
    bool controller = req->broker->controller_listener[req->listener_index];
    /* another Sluice node's peer connection (src/replication/peer.c names itself so) checks that
     * the partition groups' Raft APIs are served before sending them; clients never see them */
    sl_slice_t client = req->header.client_id;
    bool peer = client.ptr != NULL && client.len > 7 && memcmp(client.ptr, "sluice-", 7) == 0;
    size_t listed = 0;
    for (size_t i = 0; i < count; i++) {
        int16_t key = support[i].api_key;
        if (controller
                ? !sl__api_on_controller_listener(key)
                : sl__api_controller_only(key) && !(peer && sl__api_partition_raft(req, key)) &&
                      !sl__api_cluster_broker(req, key))
            continue; /* a listener lists only what it answers */
        keys[listed++] = (sl_api_version_t){.api_key = key,
                                            .min_version = support[i].version_min,
                                            .max_version = support[i].version_max};
    }
    out->error_code = SL_KERR_NONE;
    out->api_keys = keys;
    out->api_keys_count = (int32_t)listed;
    return version >= 3 ? add_features(req, out) : 0;
}
