/* dispatch: turns a frame into an answer. Parses the request header, checks the API and version
 * against the handler table, decodes the body into the request's arena, runs the handler and
 * encodes the response with its header and size prefix.
 * What Kafka does with bytes it cannot take, Sluice does too: an ApiVersions request of an unknown
 * version gets a v0 answer; any other unknown API, unsupported version or undecodable body closes
 * the connection (after the answers to earlier requests) with one rate-limited log line. */
#include <errno.h>
#include <string.h>

#include "broker_int.h"

static void reject(sl_request_t *req, const char *reason, int rc)
{
    SL_LOG_RATELIMITED(SL_LOG_WARN, "broker",
                       "closing connection peer=%s api_key=%d api_version=%d reason=\"%s: %s\"",
                       sl_conn_peer(req->frame->conn), (int)req->header.api_key,
                       (int)req->header.api_version, reason, sl_strerror(rc));
    req->refused = true;
    sl_frame_close_connection(req->frame);
}

size_t sl__response_wire_bytes(const sl_request_t *req, const struct sl_message_desc *desc,
                               int16_t body_version, const void *body)
{
    size_t header_len = sl_response_header_size(req->header.api_key, req->header.api_version);
    return 4 + header_len + sl_message_size(desc, body_version, body);
}

int sl__response_encode(const sl_request_t *req, sl_writer_t *w, size_t total,
                        const struct sl_message_desc *desc, int16_t body_version, const void *body)
{
    if (total - 4 > INT32_MAX)
        return SL_ELIMIT;
    uint32_t size = (uint32_t)(total - 4);
    uint8_t prefix[4] = {(uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8),
                         (uint8_t)size};
    int rc = sl_write_bytes(w, prefix, 4);
    if (rc == 0)
        rc = sl_response_header_encode(w, req->header.api_key, req->header.api_version,
                                       req->header.correlation_id);
    if (rc == 0)
        rc = sl_message_encode(desc, w, body_version, body);
    return rc;
}

/* Encodes header + body behind a size prefix into one owned buffer and hands it to net. */
static int respond(sl_request_t *req, const struct sl_message_desc *desc, int16_t body_version,
                   const void *body)
{
    if (req->respond != NULL)
        return req->respond(req);
    size_t total = sl__response_wire_bytes(req, desc, body_version, body);
    if (total - 4 > INT32_MAX)
        return SL_ELIMIT;
    uint8_t *out = sl_malloc(total);
    if (out == NULL)
        return -ENOMEM;
    sl_writer_t w = {.pos = out, .end = out + total};
    int rc = sl__response_encode(req, &w, total, desc, body_version, body);
    if (rc != 0) {
        sl_free(out);
        return rc;
    }
    SL_ASSERT(w.pos == out + total);
    sl_frame_respond(req->frame, out, total);
    return 0;
}

int sl__api_versions_unsupported(sl_request_t *req)
{
    const sl_api_info_t *info = sl_api_info(SL_API_API_VERSIONS);
    sl_api_versions_response_t *resp = sl_arena_alloc(&req->arena, sizeof(*resp));
    sl_api_version_t *entry = sl_arena_alloc(&req->arena, sizeof(*entry));
    if (resp == NULL || entry == NULL)
        return -ENOMEM;
    sl_api_versions_response_init(resp);
    const sl_handler_t *h = sl__handler_find(SL_API_API_VERSIONS);
    *entry = (sl_api_version_t){.api_key = SL_API_API_VERSIONS,
                                .min_version = h->support.version_min,
                                .max_version = h->support.version_max};
    resp->error_code = SL_KERR_UNSUPPORTED_VERSION;
    resp->api_keys = entry;
    resp->api_keys_count = 1;
    return respond(req, info->response, 0, resp);
}

bool sl__api_on_controller_listener(int16_t api_key)
{
    switch (api_key) {
    case SL_API_API_VERSIONS:
    case SL_API_FETCH:               /* a replica's: sl__handle_fetch hands it to the quorum */
    case SL_API_DESCRIBE_CLUSTER:    /* KIP-919: what --bootstrap-controller tools ask first */
    case SL_API_BROKER_REGISTRATION: /* the active controller's (controller.c) */
    case SL_API_ALTER_PARTITION:
    case SL_API_BROKER_HEARTBEAT:
    case SL_API_ALLOCATE_PRODUCER_IDS:
    case SL_API_CREATE_TOPICS: /* forwarded by brokers, as Kafka 4.0's do */
    case SL_API_DELETE_TOPICS:
    case SL_API_CREATE_PARTITIONS:
    case SL_API_ALTER_CONFIGS:
    case SL_API_INCREMENTAL_ALTER_CONFIGS:
    case SL_API_VOTE:
    case SL_API_BEGIN_QUORUM_EPOCH:
    case SL_API_END_QUORUM_EPOCH:
    case SL_API_DESCRIBE_QUORUM:
    case SL_API_FETCH_SNAPSHOT:
        return true;
    default:
        return false;
    }
}

bool sl__api_partition_raft(const sl_request_t *req, int16_t api_key)
{
    return req->broker->inter_broker_listener[req->listener_index] &&
           (api_key == SL_API_VOTE || api_key == SL_API_BEGIN_QUORUM_EPOCH ||
            api_key == SL_API_END_QUORUM_EPOCH);
}

bool sl__api_cluster_broker(const sl_request_t *req, int16_t api_key)
{
    return api_key == SL_API_DESCRIBE_CLUSTER && req->broker->cluster != NULL;
}

bool sl__api_controller_only(int16_t api_key)
{
    return api_key == SL_API_VOTE || api_key == SL_API_BEGIN_QUORUM_EPOCH ||
           api_key == SL_API_END_QUORUM_EPOCH || api_key == SL_API_DESCRIBE_QUORUM ||
           api_key == SL_API_FETCH_SNAPSHOT || api_key == SL_API_DESCRIBE_CLUSTER ||
           api_key == SL_API_BROKER_REGISTRATION || api_key == SL_API_BROKER_HEARTBEAT ||
           api_key == SL_API_ALLOCATE_PRODUCER_IDS || api_key == SL_API_ALTER_PARTITION;
}

static int handle(sl_request_t *req, sl_reader_t *body)
{
    int16_t key = req->header.api_key;
    int16_t version = req->header.api_version;
    const sl_handler_t *h = sl__handler_find(key);
    if (h == NULL)
        return SL_EUNSUPPORTED;
    bool controller = req->broker->controller_listener[req->listener_index];
    /* The inter-broker listener also answers the elections of partition groups (their Fetch is
     * sl__handle_fetch's). */
    if (controller ? !sl__api_on_controller_listener(key)
                   : sl__api_controller_only(key) && !sl__api_partition_raft(req, key) &&
                         !sl__api_cluster_broker(req, key))
        return SL_EUNSUPPORTED; /* clients never reach the quorum, nor it their listeners */
    if (version < h->support.version_min || version > h->support.version_max)
        return key == SL_API_API_VERSIONS ? sl__api_versions_unsupported(req) : SL_EUNSUPPORTED;
    const sl_api_info_t *info = sl_api_info(key);
    SL_ASSERT(info != NULL);
    void *request = sl_arena_alloc(&req->arena, info->request_struct_size);
    req->response = sl_arena_alloc(&req->arena, info->response_struct_size);
    if (request == NULL || req->response == NULL)
        return -ENOMEM;
    int rc = sl_message_decode(info->request, body, &req->arena, version, request);
    if (rc != 0)
        return rc;
    sl_message_init(info->response, req->response);
    req->response_desc = info->response;
    rc = h->handle(req, request, req->response);
    if (rc != 0 || req->pending)
        return rc;
    return respond(req, info->response, version, req->response);
}

int sl__request_hold(sl_request_t *req, sl_topic_t *topic)
{
    for (size_t i = 0; i < req->held_count; i++)
        if (req->held[i] == topic)
            return 0;
    if (req->held_count == req->held_cap) {
        size_t cap = req->held_cap ? req->held_cap * 2 : 8;
        sl_topic_t **grown = sl_arena_alloc(&req->arena, cap * sizeof(*grown));
        if (grown == NULL)
            return SL_ELIMIT;
        for (size_t i = 0; i < req->held_count; i++)
            grown[i] = req->held[i];
        req->held = grown;
        req->held_cap = cap;
    }
    sl__topic_ref(topic);
    req->held[req->held_count++] = topic;
    return 0;
}

/* Kafka's RequestsPerSec, errors and TotalTimeMs, per API and version. */
static void request_count(sl_request_t *req)
{
    const sl_handler_t *h = sl__handler_find(req->header.api_key);
    int16_t version = req->header.api_version;
    if (h == NULL || version < 0 || version >= SL_BROKER_API_VERSIONS_MAX) {
        req->broker->requests_unknown++;
        return;
    }
    sl_api_metrics_t *m = &req->broker->api_metrics[sl__handler_row(h)];
    m->requests[version]++;
    if (req->refused)
        m->errors[version]++;
    sl_histogram_observe_us(&m->latency, (sl_clock_monotonic_ns() - req->arrived_ns) / 1000);
}

static void request_free(sl_request_t *req)
{
    request_count(req);
    if (req->on_free != NULL)
        req->on_free(req, req->on_free_data);
    for (size_t i = 0; i < req->held_count; i++)
        sl__topic_unref(req->broker->topics, req->held[i]);
    sl_arena_deinit(&req->arena);
    sl_free(req);
}

void sl__request_finish(sl_request_t *req, int status)
{
    SL_ASSERT(req->pending);
    if (status == 0)
        status = respond(req, req->response_desc, req->header.api_version, req->response);
    if (status == SL_ENORESPONSE)
        sl_frame_respond_none(req->frame);
    else if (status != 0)
        reject(req, "cannot answer request", status);
    request_free(req);
}

void sl__dispatch_frame(sl_frame_t *frame, void *data)
{
    sl_broker_t *broker = data;
    sl_request_t *req = sl_calloc(1, sizeof(*req));
    if (req == NULL) {
        SL_LOG_RATELIMITED(SL_LOG_WARN, "broker", "out of memory peer=%s",
                           sl_conn_peer(frame->conn));
        sl_frame_close_connection(frame);
        return;
    }
    req->broker = broker;
    req->frame = frame;
    req->arrived_ns = sl_clock_monotonic_ns();
    req->listener_index = sl_conn_listener_index(frame->conn);
    sl_arena_init(&req->arena, SL_REQUEST_ARENA_BYTES_MAX);
    sl_reader_t r;
    sl_reader_init(&r, frame->payload, frame->len);
    int rc = sl_request_header_decode(&r, &req->header);
    if (rc == SL_EUNSUPPORTED && req->header.api_key == SL_API_API_VERSIONS) {
        /* Newer than any schema we know: still answer, so the client can step down (KIP-511). */
        rc = sl__api_versions_unsupported(req);
        if (rc != 0)
            reject(req, "cannot answer ApiVersions", rc);
    } else if (rc == SL_EUNSUPPORTED) {
        reject(req, "unknown api key or version", rc);
    } else if (rc != 0) {
        reject(req, "bad request header", rc);
    } else {
        rc = handle(req, &r);
        if (req->pending && rc == 0)
            return; /* the handler finishes it (sl__request_finish) */
        SL_ASSERT(!req->pending);
        if (rc == SL_ENORESPONSE)
            sl_frame_respond_none(frame);
        else if (rc == SL_EUNSUPPORTED)
            reject(req,
                   req->broker->controller_listener[req->listener_index]
                       ? "api not served on a controller listener"
                       : "api or version not served",
                   rc);
        else if (rc != 0)
            reject(req, "cannot decode or answer request", rc);
    }
    request_free(req);
}
