/* IncrementalAlterConfigs (key 44, v0-1): SET, DELETE, APPEND and SUBTRACT on a topic's overrides
 * or a broker layer (APPEND/SUBTRACT only on LIST keys such as cleanup.policy, from the current
 * value or else the key's default, as Kafka does), and the topic and broker parts AlterConfigs
 * shares. A broker layer is checked, persisted and applied by sl__broker_configs_set. The resulting
 * set of overrides is validated as a whole, persisted and applied by sl__topics_set_configs.
 * Invariants: the overrides are computed in the request arena; the topic changes only through
 * sl__topics_set_configs, all or nothing. */
#include <stdio.h>
#include <string.h>

#include "alter.h"

/* APPEND/SUBTRACT work on values up to this long (the cost is their product); topic LIST values
 * are short ("compact,delete"). */
#define LIST_VALUE_BYTES_MAX 4096

static sl_slice_t arena_copy(sl_request_t *req, const char *text, size_t len)
{
    char *copy = sl_arena_strndup(&req->arena, text, len);
    return copy != NULL ? (sl_slice_t){(const uint8_t *)copy, len} : SL_SLICE_NULL;
}

/* Kafka's Topic.validate messages. */
static void invalid_topic_message(sl_slice_t n, char *msg, size_t len)
{
    if (n.len > SL_TOPIC_NAME_BYTES_MAX)
        snprintf(msg, len, "Topic name is illegal, it can't be longer than %d characters",
                 SL_TOPIC_NAME_BYTES_MAX);
    else if (sl_slice_eq_str(n, ".") || sl_slice_eq_str(n, ".."))
        snprintf(msg, len, "Topic name cannot be \".\" or \"..\"");
    else
        snprintf(msg, len,
                 "Topic name is invalid: '%.*s' contains one or more characters other than "
                 "ASCII alphanumerics, '.', '_' and '-'",
                 (int)n.len, (const char *)n.ptr);
}

static sl_topic_t *find_topic(sl_request_t *req, sl_slice_t name, sl_kerr_t *err, char *msg,
                              size_t len)
{
    *err = SL_KERR_NONE;
    if (name.len == 0) {
        snprintf(msg, len, "Default topic resources are not allowed.");
        *err = SL_KERR_INVALID_REQUEST;
        return NULL;
    }
    if (!sl__topic_name_valid(name)) {
        invalid_topic_message(name, msg, len);
        *err = SL_KERR_INVALID_TOPIC_EXCEPTION;
        return NULL;
    }
    sl_topic_t *topic = sl__topics_find(req->broker->topics, name);
    if (topic == NULL) {
        snprintf(msg, len, "The topic '%.*s' does not exist.", (int)name.len,
                 (const char *)name.ptr);
        *err = SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    return topic;
}

/* The overrides being built: names[i]=values[i], in the arena. */
typedef struct {
    sl_slice_t *names, *values;
    size_t count;
} overrides_t;

static size_t overrides_find(const overrides_t *o, sl_slice_t name)
{
    for (size_t i = 0; i < o->count; i++)
        if (sl_slice_eq(o->names[i], name))
            return i;
    return o->count;
}

static void overrides_set(overrides_t *o, sl_slice_t name, sl_slice_t value)
{
    size_t i = overrides_find(o, name);
    if (i == o->count) {
        o->names[o->count] = name;
        o->count++;
    }
    o->values[i] = value;
}

static void overrides_delete(overrides_t *o, sl_slice_t name)
{
    size_t i = overrides_find(o, name);
    if (i == o->count)
        return;
    memmove(&o->names[i], &o->names[i + 1], (o->count - i - 1) * sizeof(sl_slice_t));
    memmove(&o->values[i], &o->values[i + 1], (o->count - i - 1) * sizeof(sl_slice_t));
    o->count--;
}

/* Whether item (one comma-separated part) is among the parts of list. */
static bool list_has(sl_slice_t list, const uint8_t *item, size_t item_len)
{
    size_t start = 0;
    for (size_t i = 0; i <= list.len; i++) {
        if (i < list.len && list.ptr[i] != ',')
            continue;
        if (i - start == item_len && item_len > 0 && memcmp(list.ptr + start, item, item_len) == 0)
            return true;
        start = i + 1;
    }
    return false;
}

/* Kafka's controller: the parts of the current value (the override, else the key's default),
 * empty parts dropped, then APPEND adds each new part not already there, SUBTRACT removes the
 * first occurrence of each part given. Writes the joined result into out (cap bytes). */
static bool list_apply(sl_slice_t current, sl_slice_t arg, bool append, char *out, size_t cap)
{
    size_t used = 0, start = 0;
    bool removed_done[SL_CONFIG_LIST_ITEMS_MAX] = {false};
    size_t arg_parts = 0;
    out[0] = '\0';
    for (size_t i = 0; i <= current.len; i++) { /* the kept parts of the current value */
        if (i < current.len && current.ptr[i] != ',')
            continue;
        const uint8_t *part = current.ptr + start;
        size_t part_len = i - start;
        start = i + 1;
        if (part_len == 0)
            continue;
        bool drop = false;
        if (!append) { /* remove the first occurrence of each part of arg */
            size_t a_start = 0, a_index = 0;
            for (size_t j = 0; j <= arg.len && !drop; j++) {
                if (j < arg.len && arg.ptr[j] != ',')
                    continue;
                bool same =
                    j - a_start == part_len && memcmp(arg.ptr + a_start, part, part_len) == 0;
                if (same && a_index < SL_CONFIG_LIST_ITEMS_MAX && !removed_done[a_index]) {
                    removed_done[a_index] = true;
                    drop = true;
                }
                a_index++;
                a_start = j + 1;
            }
        }
        if (drop)
            continue;
        if (used + part_len + 2 > cap)
            return false;
        used += (size_t)snprintf(out + used, cap - used, "%s%.*s", used ? "," : "", (int)part_len,
                                 (const char *)part);
    }
    for (size_t j = 0, a_start = 0; append && j <= arg.len; j++) {
        if (j < arg.len && arg.ptr[j] != ',')
            continue;
        const uint8_t *part = arg.ptr + a_start;
        size_t part_len = j - a_start;
        a_start = j + 1;
        if (part_len == 0 || ++arg_parts > SL_CONFIG_LIST_ITEMS_MAX ||
            list_has((sl_slice_t){(const uint8_t *)out, used}, part, part_len))
            continue;
        if (used + part_len + 2 > cap)
            return false;
        used += (size_t)snprintf(out + used, cap - used, "%s%.*s", used ? "," : "", (int)part_len,
                                 (const char *)part);
    }
    return true;
}

/* APPEND or SUBTRACT op on the overrides: only for LIST keys. */
static sl_kerr_t apply_list_op(sl_request_t *req, overrides_t *o, const sl_alter_op_t *op,
                               char *msg, size_t len)
{
    char key_name[SL_CONFIG_NAME_BYTES_MAX];
    const sl_topic_config_key_t *key = NULL;
    if (op->name.len < sizeof(key_name)) {
        memcpy(key_name, op->name.ptr, op->name.len);
        key_name[op->name.len] = '\0';
        key = sl_topic_config_key_find(key_name);
    }
    const char *verb = op->op == SL_ALTER_APPEND ? "APPEND" : "SUBTRACT";
    if (key == NULL || key->type != SL_CONFIG_TYPE_LIST) {
        snprintf(msg, len, "Can't %s to key %.*s because its type is not LIST.", verb,
                 (int)SL_MIN(op->name.len, (size_t)SL_CONFIG_NAME_BYTES_MAX),
                 (const char *)op->name.ptr);
        return SL_KERR_INVALID_CONFIG;
    }
    size_t i = overrides_find(o, op->name);
    if (op->value.len > LIST_VALUE_BYTES_MAX ||
        (i < o->count && o->values[i].len > LIST_VALUE_BYTES_MAX)) {
        snprintf(msg, len, "The value of %s is too long for %s (at most %d bytes).", key_name, verb,
                 LIST_VALUE_BYTES_MAX);
        return SL_KERR_INVALID_CONFIG;
    }
    sl_slice_t current = i < o->count                ? o->values[i]
                         : key->default_text != NULL ? sl_slice_from_str(key->default_text)
                                                     : (sl_slice_t){(const uint8_t *)"", 0};
    size_t cap = current.len + op->value.len + 2;
    char *out = sl_arena_alloc(&req->arena, cap);
    if (out == NULL || !list_apply(current, op->value, op->op == SL_ALTER_APPEND, out, cap)) {
        snprintf(msg, len, "The value of %s is too long.", key_name);
        return SL_KERR_INVALID_CONFIG;
    }
    overrides_set(o, op->name, (sl_slice_t){(const uint8_t *)out, strlen(out)});
    return SL_KERR_NONE;
}

/* APPEND or SUBTRACT on a broker layer: only for LIST keys (Kafka's ConfigAdminManager text),
 * from the layer's value, else the key's default. */
static sl_kerr_t apply_broker_list_op(sl_request_t *req, overrides_t *o, const sl_alter_op_t *op,
                                      char *msg, size_t len)
{
    char key_name[SL_CONFIG_NAME_BYTES_MAX];
    snprintf(key_name, sizeof(key_name), "%.*s", (int)SL_MIN(op->name.len, sizeof(key_name) - 1),
             (const char *)op->name.ptr);
    const sl_config_key_t *key = sl_config_key_find(key_name);
    if (key == NULL || key->type != SL_CONFIG_TYPE_LIST) {
        snprintf(msg, len, "Config value %s is not allowed for config key: %s",
                 op->op == SL_ALTER_APPEND ? "append" : "subtract", key_name);
        return SL_KERR_INVALID_CONFIG;
    }
    size_t i = overrides_find(o, op->name);
    sl_slice_t current = i < o->count                ? o->values[i]
                         : key->default_text != NULL ? sl_slice_from_str(key->default_text)
                                                     : (sl_slice_t){(const uint8_t *)"", 0};
    if (op->value.len > LIST_VALUE_BYTES_MAX || current.len > LIST_VALUE_BYTES_MAX) {
        snprintf(msg, len, "The value of %s is too long (at most %d bytes).", key_name,
                 LIST_VALUE_BYTES_MAX);
        return SL_KERR_INVALID_CONFIG;
    }
    size_t cap = current.len + op->value.len + 2;
    char *out = sl_arena_alloc(&req->arena, cap);
    if (out == NULL || !list_apply(current, op->value, op->op == SL_ALTER_APPEND, out, cap)) {
        snprintf(msg, len, "The value of %s is too long.", key_name);
        return SL_KERR_INVALID_CONFIG;
    }
    overrides_set(o, op->name, (sl_slice_t){(const uint8_t *)out, strlen(out)});
    return SL_KERR_NONE;
}

sl_kerr_t sl__alter_broker_layer(sl_request_t *req, sl_broker_layer_t layer,
                                 const sl_alter_op_t *ops, size_t count, bool replace,
                                 bool validate_only, char *msg, size_t len)
{
    sl_broker_configs_t *bc = req->broker->configs;
    size_t current = sl__broker_configs_count(bc, layer);
    size_t cap = current + count + 1;
    overrides_t o = {.names = sl_arena_alloc(&req->arena, cap * sizeof(sl_slice_t)),
                     .values = sl_arena_alloc(&req->arena, cap * sizeof(sl_slice_t))};
    if (o.names == NULL || o.values == NULL)
        return SL_KERR_UNKNOWN_SERVER_ERROR;
    for (size_t i = 0; !replace && i < current; i++) {
        const char *name, *value;
        sl__broker_configs_at(bc, layer, i, &name, &value);
        /* copies: the layer's strings are freed when it is replaced */
        overrides_set(&o, arena_copy(req, name, strlen(name)),
                      arena_copy(req, value, strlen(value)));
    }
    sl_kerr_t err;
    for (size_t i = 0; i < count; i++) {
        const sl_alter_op_t *op = &ops[i];
        if (op->op == SL_ALTER_SET)
            overrides_set(&o, op->name, op->value);
        else if (op->op == SL_ALTER_DELETE)
            overrides_delete(&o, op->name);
        else if ((err = apply_broker_list_op(req, &o, op, msg, len)) != SL_KERR_NONE)
            return err;
    }
    SL_ASSERT(o.count < cap);
    err = sl__broker_configs_set(bc, layer, o.names, o.values, o.count, validate_only, msg, len);
    if (err != SL_KERR_NONE || validate_only)
        return err;
    /* Topics without an override take the new broker values at once; so does the log level. */
    sl__topics_reconfigure(req->broker->topics);
    const sl_config_t *cfg = sl__broker_configs_effective(bc);
    sl_log_configure(cfg->log_level, cfg->log_format);
    return SL_KERR_NONE;
}

sl_kerr_t sl__alter_topic(sl_request_t *req, sl_slice_t name, const sl_alter_op_t *ops,
                          size_t count, bool replace, bool validate_only, char *msg, size_t len)
{
    sl_kerr_t err;
    sl_topic_t *topic = find_topic(req, name, &err, msg, len);
    if (topic == NULL)
        return err;
    size_t cap = topic->configs_count + count + 1;
    overrides_t o = {.names = sl_arena_alloc(&req->arena, cap * sizeof(sl_slice_t)),
                     .values = sl_arena_alloc(&req->arena, cap * sizeof(sl_slice_t))};
    if (o.names == NULL || o.values == NULL)
        return SL_KERR_UNKNOWN_SERVER_ERROR;
    for (size_t i = 0; !replace && i < topic->configs_count; i++) {
        /* copies: the topic's strings are freed when the set is replaced */
        const sl_topic_config_entry_t *e = &topic->configs[i];
        overrides_set(&o, arena_copy(req, e->name, strlen(e->name)),
                      arena_copy(req, e->value, strlen(e->value)));
    }
    for (size_t i = 0; i < count; i++) {
        const sl_alter_op_t *op = &ops[i];
        if (op->op == SL_ALTER_SET)
            overrides_set(&o, op->name, op->value);
        else if (op->op == SL_ALTER_DELETE)
            overrides_delete(&o, op->name);
        else if ((err = apply_list_op(req, &o, op, msg, len)) != SL_KERR_NONE)
            return err;
    }
    SL_ASSERT(o.count < cap);
    return sl__topics_set_configs(req->broker->topics, topic, o.names, o.values, o.count,
                                  validate_only, msg, len);
}

int sl__handle_incremental_alter_configs(sl_request_t *req, const void *request, void *response)
{
    const sl_incremental_alter_configs_request_t *in = request;
    /* Quorum mode: topic configs live in the metadata log, so a request naming a topic goes to
     * the active controller (broker configs of this broker alone stay here). */
    bool names_topic = req->broker->controller_listener[req->listener_index];
    for (int32_t i = 0; i < in->resources_count && !names_topic; i++)
        names_topic = in->resources[i].resource_type == SL_METADATA_CONFIG_TOPIC;
    int routed;
    if (names_topic && sl__cluster_route_admin(req, request, response, &routed))
        return routed;
    sl_incremental_alter_configs_response_t *out = response;
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
        const sl_incremental_alter_configs_request_alter_configs_resource_t *res =
            &in->resources[i];
        sl_incremental_alter_configs_response_alter_configs_resource_response_t *o =
            &out->responses[i];
        *o = (sl_incremental_alter_configs_response_alter_configs_resource_response_t){
            .resource_type = res->resource_type, .resource_name = res->resource_name};
        if (repeated[i] != SL_ALTER_UNIQUE) {
            o->error_code = SL_KERR_INVALID_REQUEST;
            o->error_message = arena_copy(req, "Each resource must appear at most once.", 39);
            continue;
        }
        size_t n = res->configs_count > 0 ? (size_t)res->configs_count : 0;
        sl_alter_op_t *ops = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*ops));
        if (ops == NULL)
            return SL_ELIMIT;
        for (size_t c = 0; c < n; c++)
            ops[c] = (sl_alter_op_t){res->configs[c].config_operation, res->configs[c].name,
                                     res->configs[c].value};
        o->error_code = sl__alter_resource(req, res->resource_type, res->resource_name, ops, n,
                                           false, in->validate_only, &o->error_message);
    }
    return 0;
}
