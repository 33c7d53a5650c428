/* AlterConfigs (key 33, v0-2): replaces a topic's whole set of overrides, and the resource checks
 * it shares with IncrementalAlterConfigs (sl__alter_resource): Kafka's order of errors (resource
 * type, operation, duplicate keys, null values, then the resource itself), its messages, and
 * validate_only. Broker resources ("" for every broker, or this broker's id) set the dynamic layers
 * of broker_configs.c, with Kafka's errors for keys that cannot change at run time.
 * Invariants: everything in the response lives in the request arena; a resource either changes
 * completely (validated, persisted, applied) or not at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alter.h"

#define MESSAGE_BYTES 1024

enum { RES_TOPIC = 2, RES_BROKER = 4 };

static sl_slice_t arena_msg(sl_request_t *req, const char *text)
{
    char *copy = sl_arena_strndup(&req->arena, text, strlen(text));
    return copy != NULL ? sl_slice_from_str(copy) : SL_SLICE_NULL;
}

/* Appends "a, b" style names to msg (bounded; a long list is cut). */
static void append_name(char *msg, size_t len, bool first, sl_slice_t name)
{
    size_t used = strlen(msg);
    if (used + 1 < len)
        snprintf(msg + used, len - used, "%s%.*s", first ? "" : ", ",
                 (int)SL_MIN(name.len, (size_t)SL_CONFIG_NAME_BYTES_MAX), (const char *)name.ptr);
}

typedef struct {
    int8_t type;
    sl_slice_t name;
    size_t index;
} resource_key_t;

static int resource_key_cmp(const void *a, const void *b)
{
    const resource_key_t *x = a, *y = b;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    size_t n = SL_MIN(x->name.len, y->name.len);
    int c = n > 0 ? memcmp(x->name.ptr, y->name.ptr, n) : 0;
    if (c != 0)
        return c;
    return (x->name.len > y->name.len) - (x->name.len < y->name.len);
}

uint8_t *sl__alter_repeated(sl_request_t *req, const int8_t *types, const sl_slice_t *names,
                            size_t count)
{
    /* Sorted, not compared pairwise: a request may name millions of resources. */
    resource_key_t *keys = sl_arena_alloc(&req->arena, (count + 1) * sizeof(*keys));
    uint8_t *marks = sl_arena_alloc(&req->arena, count + 1);
    if (keys == NULL || marks == NULL)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        keys[i] = (resource_key_t){types != NULL ? types[i] : 0, names[i], i};
        marks[i] = SL_ALTER_UNIQUE;
    }
    qsort(keys, count, sizeof(*keys), resource_key_cmp);
    for (size_t run = 0, end = 0; run < count; run = end) {
        size_t first = keys[run].index;
        for (end = run + 1; end < count && resource_key_cmp(&keys[run], &keys[end]) == 0; end++)
            first = SL_MIN(first, keys[end].index);
        for (size_t k = run; end - run > 1 && k < end; k++)
            marks[keys[k].index] = keys[k].index == first ? SL_ALTER_FIRST : SL_ALTER_AGAIN;
    }
    return marks;
}

/* The checks Kafka's broker makes before the resource itself is looked at. */
static sl_kerr_t check_ops(sl_request_t *req, const sl_alter_op_t *ops, size_t count, char *msg,
                           size_t len)
{
    if (count > SL_ALTER_OPS_MAX) { /* hostile input: no topic has that many keys */
        snprintf(msg, len, "Too many configs in one resource: at most %d.", SL_ALTER_OPS_MAX);
        return SL_KERR_INVALID_REQUEST;
    }
    for (size_t i = 0; i < count; i++)
        if (ops[i].op < SL_ALTER_SET || ops[i].op > SL_ALTER_SUBTRACT)
            return SL_KERR_UNKNOWN_SERVER_ERROR; /* Kafka: a null operation, no message */
    sl_slice_t *names = sl_arena_alloc(&req->arena, (count + 1) * sizeof(*names));
    if (names == NULL)
        return SL_KERR_UNKNOWN_SERVER_ERROR;
    for (size_t i = 0; i < count; i++)
        names[i] = ops[i].name;
    const uint8_t *repeated = sl__alter_repeated(req, NULL, names, count);
    for (size_t i = 0; repeated != NULL && i < count; i++)
        if (repeated[i] != SL_ALTER_UNIQUE) {
            snprintf(msg, len, "Error due to duplicate config keys");
            return SL_KERR_INVALID_REQUEST;
        }
    if (repeated == NULL)
        return SL_KERR_UNKNOWN_SERVER_ERROR;
    bool any_null = false;
    snprintf(msg, len, "Null value not supported for : ");
    for (size_t i = 0; i < count; i++)
        if (ops[i].op != SL_ALTER_DELETE && ops[i].value.ptr == NULL) {
            append_name(msg, len, !any_null, ops[i].name);
            any_null = true;
        }
    if (any_null)
        return SL_KERR_INVALID_REQUEST;
    msg[0] = '\0';
    return SL_KERR_NONE;
}

/* Kafka's resourceNameToBrokerId and the check that it names this broker ("" = every broker). */
static sl_kerr_t check_broker_name(const sl_config_t *cfg, sl_slice_t name, char *msg, size_t len)
{
    if (name.len == 0)
        return SL_KERR_NONE;
    char text[16];
    char *end = NULL;
    long id = 0;
    bool ok = name.len < sizeof(text);
    if (ok) {
        memcpy(text, name.ptr, name.len);
        text[name.len] = '\0';
        id = strtol(text, &end, 10);
        ok = *end == '\0' && text[0] != ' ' && text[0] != '+' && id >= INT32_MIN && id <= INT32_MAX;
    }
    int shown = (int)SL_MIN(name.len, (size_t)64);
    if (!ok) {
        snprintf(msg, len, "Node id must be an integer, but it is: %.*s", shown,
                 (const char *)name.ptr);
        return SL_KERR_INVALID_REQUEST;
    }
    if (id != cfg->node_id) {
        snprintf(msg, len, "Unexpected broker id, expected %d, but received %.*s",
                 (int)cfg->node_id, shown, (const char *)name.ptr);
        return SL_KERR_INVALID_REQUEST;
    }
    return SL_KERR_NONE;
}

sl_kerr_t sl__alter_resource(sl_request_t *req, int8_t type, sl_slice_t name,
                             const sl_alter_op_t *ops, size_t count, bool replace,
                             bool validate_only, sl_slice_t *message)
{
    char *msg = sl_arena_alloc(&req->arena, MESSAGE_BYTES);
    if (msg == NULL)
        return SL_KERR_UNKNOWN_SERVER_ERROR;
    msg[0] = '\0';
    sl_kerr_t err = SL_KERR_NONE;
    if (type != RES_TOPIC && type != RES_BROKER) {
        snprintf(msg, MESSAGE_BYTES, "Unknown resource type %d", (int)type);
        err = SL_KERR_INVALID_REQUEST;
    }
    if (err == SL_KERR_NONE)
        err = check_ops(req, ops, count, msg, MESSAGE_BYTES);
    if (err == SL_KERR_NONE && type == RES_BROKER)
        err = check_broker_name(req->broker->cfg, name, msg, MESSAGE_BYTES);
    if (err == SL_KERR_NONE && type == RES_BROKER)
        err = sl__alter_broker_layer(
            req, name.len == 0 ? SL_BROKER_LAYER_CLUSTER : SL_BROKER_LAYER_BROKER, ops, count,
            replace, validate_only, msg, MESSAGE_BYTES);
    else if (err == SL_KERR_NONE)
        err = sl__alter_topic(req, name, ops, count, replace, validate_only, msg, MESSAGE_BYTES);
    *message = err == SL_KERR_NONE || msg[0] == '\0' ? SL_SLICE_NULL : sl_slice_from_str(msg);
    return err;
}

int sl__handle_alter_configs(sl_request_t *req, const void *request, void *response)
{
    const sl_alter_configs_request_t *in = request;
    /* Quorum mode: topic configs live in the metadata log, so a request naming a topic goes to
     * the active controller (broker configs of this broker alone stay here). */
    bool names_topic = req->broker->controller_listener[req->listener_index];
    for (int32_t i = 0; i < in->resources_count && !names_topic; i++)
        names_topic = in->resources[i].resource_type == SL_METADATA_CONFIG_TOPIC;
    int routed;
    if (names_topic && sl__cluster_route_admin(req, request, response, &routed))
        return routed;
    sl_alter_configs_response_t *out = response;
    size_t count = in->resources_count > 0 ? (size_t)in->resources_count : 0;
    out->throttle_time_ms = 0;
    out->responses = sl_arena_alloc(&req->arena, (count + 1) * sizeof(*out->responses));
    int8_t *types = sl_arena_alloc(&req->arena, count + 1);
    sl_slice_t *names = sl_arena_alloc(&req->arena, (count + 1) * sizeof(*names));
    if (out->responses == NULL || types == NULL || names == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < count; i++) {
        types[i] = in->resources[i].resource_type;
        names[i] = in->resources[i].resource_name;
    }
    uint8_t *repeated = sl__alter_repeated(req, types, names, count);
    if (repeated == NULL)
        return SL_ELIMIT;
    out->responses_count = (int32_t)count;
    for (size_t i = 0; i < count; i++) {
        const sl_alter_configs_request_alter_configs_resource_t *res = &in->resources[i];
        sl_alter_configs_response_alter_configs_resource_response_t *o = &out->responses[i];
        *o = (sl_alter_configs_response_alter_configs_resource_response_t){
            .resource_type = res->resource_type, .resource_name = res->resource_name};
        if (repeated[i] != SL_ALTER_UNIQUE) {
            o->error_code = SL_KERR_INVALID_REQUEST;
            o->error_message = arena_msg(req, "Each resource must appear at most once.");
            continue;
        }
        size_t n = res->configs_count > 0 ? (size_t)res->configs_count : 0;
        sl_alter_op_t *ops = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*ops));
        if (ops == NULL)
            return SL_ELIMIT;
        /* AlterConfigs sets the whole set: every entry is a SET, and what is not named goes. */
        for (size_t c = 0; c < n; c++)
            ops[c] = (sl_alter_op_t){SL_ALTER_SET, res->configs[c].name, res->configs[c].value};
        o->error_code = sl__alter_resource(req, res->resource_type, res->resource_name, ops, n,
                                           true, in->validate_only, &o->error_message);
    }
    return 0;
}
