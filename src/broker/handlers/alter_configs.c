/* AlterConfigs (key 33, v0-2): replaces a topic's whole set of overrides, and the resource checks
 * it shares with IncrementalAlterConfigs (sl__alter_resource): Kafka's order of errors (resource
 * type, operation, duplicate keys, null values, then the resource itself), its messages, and
 * validate_only. Broker resources: Sluice has no dynamic broker configs, so setting any key answers
 * Kafka's INVALID_REQUEST "Cannot update these configs dynamically" (docs/compatibility.md).
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

/* The checks Kafka's broker makes before the resource itself is looked at. */
static sl_kerr_t check_ops(const sl_alter_op_t *ops, size_t count, char *msg, size_t len)
{
    for (size_t i = 0; i < count; i++)
        if (ops[i].op < SL_ALTER_SET || ops[i].op > SL_ALTER_SUBTRACT)
            return SL_KERR_UNKNOWN_SERVER_ERROR; /* Kafka: a null operation, no message */
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < i; j++)
            if (sl_slice_eq(ops[i].name, ops[j].name)) {
                snprintf(msg, len, "Error due to duplicate config keys");
                return SL_KERR_INVALID_REQUEST;
            }
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

/* No broker key is dynamic in Sluice: setting any answers Kafka's read-only error; deleting one
 * succeeds (there is no dynamic value to delete), as in Kafka. */
static sl_kerr_t alter_broker(sl_request_t *req, sl_slice_t name, const sl_alter_op_t *ops,
                              size_t count, char *msg, size_t len)
{
    sl_kerr_t err = check_broker_name(req->broker->cfg, name, msg, len);
    if (err != SL_KERR_NONE)
        return err;
    bool any = false;
    snprintf(msg, len, "Cannot update these configs dynamically: Set(");
    for (size_t i = 0; i < count; i++)
        if (ops[i].op != SL_ALTER_DELETE) {
            append_name(msg, len, !any, ops[i].name);
            any = true;
        }
    if (!any) {
        msg[0] = '\0';
        return SL_KERR_NONE;
    }
    size_t used = strlen(msg);
    if (used + 1 < len)
        snprintf(msg + used, len - used, ")");
    return SL_KERR_INVALID_REQUEST;
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
        err = check_ops(ops, count, msg, MESSAGE_BYTES);
    if (err == SL_KERR_NONE && type == RES_BROKER)
        err = alter_broker(req, name, ops, count, msg, MESSAGE_BYTES);
    else if (err == SL_KERR_NONE)
        err = sl__alter_topic(req, name, ops, count, replace, validate_only, msg, MESSAGE_BYTES);
    *message = err == SL_KERR_NONE || msg[0] == '\0' ? SL_SLICE_NULL : sl_slice_from_str(msg);
    return err;
}

/* Whether resource i appears again in the request (Kafka refuses every copy). */
bool sl__alter_resource_repeated(const int8_t *types, const sl_slice_t *names, size_t count,
                                 size_t i)
{
    for (size_t j = 0; j < count; j++)
        if (j != i && types[j] == types[i] && sl_slice_eq(names[j], names[i]))
            return true;
    return false;
}

int sl__handle_alter_configs(sl_request_t *req, const void *request, void *response)
{
    const sl_alter_configs_request_t *in = request;
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
    out->responses_count = (int32_t)count;
    for (size_t i = 0; i < count; i++) {
        const sl_alter_configs_request_alter_configs_resource_t *res = &in->resources[i];
        sl_alter_configs_response_alter_configs_resource_response_t *o = &out->responses[i];
        *o = (sl_alter_configs_response_alter_configs_resource_response_t){
            .resource_type = res->resource_type, .resource_name = res->resource_name};
        if (sl__alter_resource_repeated(types, names, count, i)) {
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
