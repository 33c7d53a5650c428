/* DescribeConfigs (key 32, v0-4): the broker's keys (from the config table), a topic's configs
 * (overrides, else the broker default they come from), and the broker's one logger, with Kafka's
 * sources, synonym chains, types, documentation and error answers.
 * Invariants: everything in the response lives in the request arena; synonyms are computed as
 * Kafka's ConfigHelper does (static values, then defaults, from the described key on), and the
 * config source is always the head of that list, whether or not synonyms were asked for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../broker_configs.h"
#include "../broker_int.h"

enum { RES_TOPIC = 2, RES_BROKER = 4, RES_BROKER_LOGGER = 8, RES_CLIENT_METRICS = 16 };
/* Kafka's ConfigSource ids. */
enum {
    SRC_TOPIC = 1,
    SRC_DYNAMIC_BROKER = 2,
    SRC_DYNAMIC_DEFAULT = 3,
    SRC_STATIC = 4,
    SRC_DEFAULT = 5,
    SRC_LOGGER = 6
};
/* A synonym list: a chain of at most SL_CONFIG_SYNONYMS_MAX keys, each from two dynamic layers,
 * static and default, plus a topic override. */
#define SYNONYMS_MAX (4 * SL_CONFIG_SYNONYMS_MAX + 1)
/* A broker value longer than this (a huge log.dirs) is refused rather than grown further. */
#define VALUE_BYTES_MAX (1024 * 1024)

typedef struct {
    sl_request_t *req;
    bool synonyms, docs;
    const sl_describe_configs_resource_t *res;
    sl_describe_configs_result_t *out;
} describe_t;

typedef struct {
    sl_describe_configs_synonym_t items[SYNONYMS_MAX];
    size_t count;
} synonyms_t;

static sl_slice_t arena_str(sl_request_t *req, const char *s)
{
    char *copy = sl_arena_strndup(&req->arena, s, strlen(s));
    return copy != NULL ? sl_slice_from_str(copy) : SL_SLICE_NULL;
}

/* key's value as Kafka prints it, in the arena; SL_SLICE_NULL for a null value. */
static int broker_value(sl_request_t *req, const sl_config_t *cfg, const sl_config_key_t *key,
                        sl_slice_t *out)
{
    for (size_t len = 256; len <= VALUE_BYTES_MAX; len *= 2) {
        char *buf = sl_arena_alloc(&req->arena, len);
        if (buf == NULL)
            return SL_ELIMIT;
        int rc = sl_config_value_text(cfg, key, buf, len);
        if (rc == SL_ENOTFOUND) {
            *out = SL_SLICE_NULL;
            return 0;
        }
        if (rc == 0) {
            *out = sl_slice_from_str(buf);
            return 0;
        }
        SL_ASSERT(rc == SL_ELIMIT);
    }
    return SL_ELIMIT;
}

static bool synonym_add(synonyms_t *s, sl_slice_t name, sl_slice_t value, int8_t source)
{
    if (s->count >= SYNONYMS_MAX)
        return false;
    s->items[s->count++] = (sl_describe_configs_synonym_t){name, value, source};
    return true;
}

/* The configuration from the file and environment (the effective one before start-up). */
static const sl_config_t *static_config(const sl_request_t *req)
{
    const sl_broker_configs_t *bc = req->broker->configs;
    return bc != NULL ? sl__broker_configs_static(bc) : req->broker->cfg;
}

/* The value a dynamic layer holds for name, as it was given, or NULL. */
static const char *layer_value(const sl_request_t *req, sl_broker_layer_t layer, const char *name)
{
    const sl_broker_configs_t *bc = req->broker->configs;
    return bc != NULL ? sl__broker_configs_find(bc, layer, name) : NULL;
}

/* Kafka's configSynonyms: the chain's values set for this broker, then for every broker, then in
 * the file or environment, then its defaults, dropping entries before the first named `from`. */
static int chain_synonyms(sl_request_t *req, const char *from, synonyms_t *s)
{
    static const int8_t layer_sources[2] = {SRC_DYNAMIC_BROKER, SRC_DYNAMIC_DEFAULT};
    static const sl_broker_layer_t layers[2] = {SL_BROKER_LAYER_BROKER, SL_BROKER_LAYER_CLUSTER};
    const char *chain[SL_CONFIG_SYNONYMS_MAX];
    size_t n = sl_config_key_synonyms(from, chain, SL_ARRAY_LEN(chain));
    SL_ASSERT(n <= SL_ARRAY_LEN(chain));
    synonyms_t all = {.count = 0};
    for (int pass = 0; pass < 4; pass++) {
        for (size_t i = 0; i < n; i++) {
            const sl_config_key_t *k = sl_config_key_find(chain[i]);
            if (k == NULL)
                continue;
            sl_slice_t value = SL_SLICE_NULL;
            const char *dynamic = pass < 2 ? layer_value(req, layers[pass], k->name) : NULL;
            if (dynamic != NULL) {
                value = k->sensitive ? SL_SLICE_NULL : arena_str(req, dynamic);
                synonym_add(&all, sl_slice_from_str(k->name), value, layer_sources[pass]);
            } else if (pass == 2 && !sl_config_value_is_default(static_config(req), k)) {
                int rc = broker_value(req, static_config(req), k, &value);
                if (rc != 0)
                    return rc;
                synonym_add(&all, sl_slice_from_str(k->name), value, SRC_STATIC);
            } else if (pass == 3 && k->default_text != NULL) {
                value = k->sensitive ? SL_SLICE_NULL : sl_slice_from_str(k->default_text);
                synonym_add(&all, sl_slice_from_str(k->name), value, SRC_DEFAULT);
            }
        }
    }
    size_t first = 0;
    while (first < all.count && !sl_slice_eq_str(all.items[first].name, from))
        first++;
    for (size_t i = first; i < all.count; i++)
        if (!synonym_add(s, all.items[i].name, all.items[i].value, all.items[i].source))
            return SL_ELIMIT;
    return 0;
}

/* Fills one config entry; source is the head of the synonym list (Kafka), DEFAULT if empty. */
static int entry_fill(describe_t *d, sl_describe_configs_resource_result_t *o, const char *name,
                      sl_slice_t value, bool read_only, sl_config_type_t type, const char *doc,
                      const synonyms_t *s)
{
    *o = (sl_describe_configs_resource_result_t){0};
    o->name = sl_slice_from_str(name);
    o->value = value;
    o->read_only = read_only;
    o->config_source = s->count > 0 ? s->items[0].source : SRC_DEFAULT;
    o->is_default = o->config_source == SRC_DEFAULT;
    o->is_sensitive = type == SL_CONFIG_TYPE_PASSWORD;
    o->config_type = (int8_t)type;
    o->documentation = d->docs && doc != NULL ? sl_slice_from_str(doc) : SL_SLICE_NULL;
    o->synonyms_count = 0;
    if (!d->synonyms || s->count == 0)
        return 0;
    o->synonyms = sl_arena_alloc(&d->req->arena, s->count * sizeof(*o->synonyms));
    if (o->synonyms == NULL)
        return SL_ELIMIT;
    memcpy(o->synonyms, s->items, s->count * sizeof(*o->synonyms));
    o->synonyms_count = (int32_t)s->count;
    return 0;
}

/* Whether the request's ConfigurationKeys (null = all) names name. */
static bool wanted(const sl_describe_configs_resource_t *res, const char *name)
{
    if (res->configuration_keys_count < 0)
        return true;
    for (int32_t i = 0; i < res->configuration_keys_count; i++)
        if (sl_slice_eq_str(res->configuration_keys[i], name))
            return true;
    return false;
}

static int configs_alloc(describe_t *d, size_t count)
{
    d->out->configs =
        sl_arena_alloc(&d->req->arena, (count > 0 ? count : 1) * sizeof(*d->out->configs));
    d->out->configs_count = 0;
    return d->out->configs != NULL ? 0 : SL_ELIMIT;
}

static void set_error(describe_t *d, sl_kerr_t code, const char *message)
{
    d->out->error_code = code;
    d->out->error_message = arena_str(d->req, message);
    d->out->configs_count = 0;
}

/* Kafka's resourceNameToBrokerId: a Java int, or an INVALID_REQUEST error. */
static bool broker_id_parse(describe_t *d, int32_t *id)
{
    sl_slice_t name = d->res->resource_name;
    char text[16];
    char *end = NULL;
    long v = 0;
    bool ok = name.len > 0 && name.len < sizeof(text);
    if (ok) {
        memcpy(text, name.ptr, name.len);
        text[name.len] = '\0';
        v = strtol(text, &end, 10);
        ok = *end == '\0' && text[0] != ' ' && v >= INT32_MIN && v <= INT32_MAX;
    }
    if (!ok) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Broker id must be an integer, but it is: %.*s",
                 (int)SL_MIN(name.len, 64), (const char *)name.ptr);
        set_error(d, SL_KERR_INVALID_REQUEST, msg);
        return false;
    }
    *id = (int32_t)v;
    return true;
}

/* The cluster-wide resource "": Kafka lists exactly the values set on it, each its own only
 * synonym; a key the broker does not know has a null value and an unknown type, read-only and
 * sensitive (Kafka cannot tell). */
static int describe_cluster_default(describe_t *d)
{
    const sl_broker_configs_t *bc = d->req->broker->configs;
    size_t count = bc != NULL ? sl__broker_configs_count(bc, SL_BROKER_LAYER_CLUSTER) : 0;
    int rc = configs_alloc(d, count);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const char *name, *text;
        sl__broker_configs_at(bc, SL_BROKER_LAYER_CLUSTER, i, &name, &text);
        if (!wanted(d->res, name))
            continue;
        const sl_config_key_t *k = sl_config_key_find(name);
        sl_slice_t value = k != NULL && !k->sensitive ? arena_str(d->req, text) : SL_SLICE_NULL;
        char *own_name = sl_arena_strndup(&d->req->arena, name, strlen(name));
        if (own_name == NULL)
            return SL_ELIMIT;
        synonyms_t s = {.count = 0};
        synonym_add(&s, sl_slice_from_str(own_name), value, SRC_DYNAMIC_DEFAULT);
        sl_describe_configs_resource_result_t *o = &d->out->configs[d->out->configs_count++];
        rc = entry_fill(d, o, own_name, value, k == NULL || k->update_mode == SL_CONFIG_READ_ONLY,
                        k != NULL ? k->type : (sl_config_type_t)0, k != NULL ? k->doc : NULL, &s);
        o->is_sensitive = o->is_sensitive || k == NULL;
    }
    return rc;
}

static int describe_broker(describe_t *d)
{
    const sl_config_t *cfg = d->req->broker->cfg;
    if (d->res->resource_name.len == 0)
        return describe_cluster_default(d);
    int32_t id;
    if (!broker_id_parse(d, &id))
        return 0;
    if (id != cfg->node_id) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "Unexpected broker id, expected %d or empty string, but received %.*s",
                 (int)cfg->node_id, (int)SL_MIN(d->res->resource_name.len, 64),
                 (const char *)d->res->resource_name.ptr);
        set_error(d, SL_KERR_INVALID_REQUEST, msg);
        return 0;
    }
    int rc = configs_alloc(d, sl_config_key_count());
    for (size_t i = 0; rc == 0 && i < sl_config_key_count(); i++) {
        const sl_config_key_t *k = sl_config_key_at(i);
        if (!wanted(d->res, k->name))
            continue;
        synonyms_t s = {.count = 0};
        sl_slice_t value;
        rc = broker_value(d->req, cfg, k, &value);
        if (rc == 0)
            rc = chain_synonyms(d->req, k->name, &s);
        if (rc == 0)
            rc = entry_fill(d, &d->out->configs[d->out->configs_count++], k->name, value,
                            k->update_mode == SL_CONFIG_READ_ONLY, k->type, k->doc, &s);
    }
    return rc;
}

/* Kafka's Topic.validate messages for a name Metadata would refuse. */
static void invalid_topic(describe_t *d)
{
    sl_slice_t n = d->res->resource_name;
    char msg[SL_TOPIC_NAME_BYTES_MAX + 160];
    if (n.len == 0)
        snprintf(msg, sizeof(msg), "Topic name is illegal, it can't be empty");
    else if (n.len > SL_TOPIC_NAME_BYTES_MAX)
        snprintf(msg, sizeof(msg), "Topic name is illegal, it can't be longer than %d characters",
                 SL_TOPIC_NAME_BYTES_MAX);
    else if (sl_slice_eq_str(n, ".") || sl_slice_eq_str(n, ".."))
        snprintf(msg, sizeof(msg), "Topic name cannot be \".\" or \"..\"");
    else
        snprintf(msg, sizeof(msg),
                 "Topic name is invalid: '%.*s' contains one or more characters other than "
                 "ASCII alphanumerics, '.', '_' and '-'",
                 (int)n.len, (const char *)n.ptr);
    set_error(d, SL_KERR_INVALID_TOPIC_EXCEPTION, msg);
}

/* The topic's override of key, or NULL. */
static const char *topic_override(const sl_topic_t *topic, const char *name)
{
    for (size_t i = 0; i < topic->configs_count; i++)
        if (strcmp(topic->configs[i].name, name) == 0)
            return topic->configs[i].value;
    return NULL;
}

static int topic_entry(describe_t *d, const sl_topic_t *topic, const sl_topic_config_key_t *k)
{
    synonyms_t s = {.count = 0};
    const char *chain[1];
    const char *override = topic_override(topic, k->name);
    sl_slice_t value;
    if (override != NULL) {
        value = sl_slice_from_str(override);
        synonym_add(&s, sl_slice_from_str(k->name), value, SRC_TOPIC);
    } else {
        char *buf = sl_arena_alloc(&d->req->arena, SL_TOPIC_CONFIG_VALUE_BYTES_MAX);
        if (buf == NULL)
            return SL_ELIMIT;
        int rc = sl_topic_config_default(d->req->broker->cfg, k, buf,
                                         SL_TOPIC_CONFIG_VALUE_BYTES_MAX, NULL);
        if (rc != 0)
            return rc;
        value = sl_slice_from_str(buf);
    }
    if (k->broker_synonym != NULL && sl_config_key_find(k->broker_synonym) != NULL) {
        int rc = chain_synonyms(d->req, k->broker_synonym, &s);
        if (rc != 0)
            return rc;
    } else if (k->broker_synonym != NULL &&
               sl_config_key_synonyms(k->broker_synonym, chain, 1) == 1) {
        /* A Kafka broker key Sluice does not have: its default is the topic's. (In a chain,
         * log.roll.jitter.ms, Kafka's default is null and the hours key is dropped: none.) */
        synonym_add(&s, sl_slice_from_str(k->broker_synonym), sl_slice_from_str(k->default_text),
                    SRC_DEFAULT);
    }
    return entry_fill(d, &d->out->configs[d->out->configs_count++], k->name, value, false, k->type,
                      k->doc, &s);
}

static int describe_topic(describe_t *d)
{
    if (!sl__topic_name_valid(d->res->resource_name)) {
        invalid_topic(d);
        return 0;
    }
    const sl_topic_t *topic = sl__topics_find(d->req->broker->topics, d->res->resource_name);
    if (topic == NULL) {
        set_error(d, SL_KERR_UNKNOWN_TOPIC_OR_PARTITION, "");
        return 0;
    }
    int rc = configs_alloc(d, sl_topic_config_key_count());
    for (size_t i = 0; rc == 0 && i < sl_topic_config_key_count(); i++) {
        const sl_topic_config_key_t *k = sl_topic_config_key_at(i);
        if (wanted(d->res, k->name))
            rc = topic_entry(d, topic, k);
    }
    return rc;
}

/* Kafka lists its log4j loggers; Sluice has one logger, reported as "root" at log.level. */
static int describe_logger(describe_t *d)
{
    static const char *const levels[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    const sl_config_t *cfg = d->req->broker->cfg;
    if (d->res->resource_name.len == 0) {
        set_error(d, SL_KERR_INVALID_REQUEST, "Broker id must not be empty");
        return 0;
    }
    int32_t id;
    if (!broker_id_parse(d, &id))
        return 0;
    if (id != cfg->node_id) {
        char msg[160];
        snprintf(msg, sizeof(msg), "Unexpected broker id, expected %d but received %.*s",
                 (int)cfg->node_id, (int)SL_MIN(d->res->resource_name.len, 64),
                 (const char *)d->res->resource_name.ptr);
        set_error(d, SL_KERR_INVALID_REQUEST, msg);
        return 0;
    }
    int rc = configs_alloc(d, 1);
    if (rc != 0 || !wanted(d->res, "root"))
        return rc;
    size_t level = (size_t)cfg->log_level < SL_ARRAY_LEN(levels) ? (size_t)cfg->log_level : 1;
    sl_describe_configs_resource_result_t *o = &d->out->configs[d->out->configs_count++];
    *o = (sl_describe_configs_resource_result_t){0};
    o->name = sl_slice_from_str("root");
    o->value = sl_slice_from_str(levels[level]);
    o->read_only = true; /* follows log.level; IncrementalAlterConfigs cannot change it */
    o->config_source = SRC_LOGGER;
    o->config_type = 0; /* Kafka: UNKNOWN for loggers */
    o->documentation = d->docs ? sl_slice_from_str("") : SL_SLICE_NULL;
    return 0;
}

static bool type_known(int8_t type)
{
    return type == RES_TOPIC || type == RES_BROKER || type == RES_BROKER_LOGGER ||
           type == RES_CLIENT_METRICS;
}

static int describe_one(describe_t *d)
{
    switch (d->res->resource_type) {
    case RES_BROKER:
        return describe_broker(d);
    case RES_TOPIC:
        return describe_topic(d);
    case RES_BROKER_LOGGER:
        return describe_logger(d);
    case RES_CLIENT_METRICS:
        /* Kafka answers a named subscription with its (here: no) configs. */
        if (d->res->resource_name.len == 0)
            set_error(d, SL_KERR_INVALID_REQUEST,
                      "Client metrics subscription name must not be empty");
        return configs_alloc(d, 0);
    default:
        SL_ASSERT(!type_known(d->res->resource_type));
        return 0;
    }
}

int sl__handle_describe_configs(sl_request_t *req, const void *request, void *response)
{
    const sl_describe_configs_request_t *in = request;
    sl_describe_configs_response_t *out = response;
    size_t count = in->resources_count > 0 ? (size_t)in->resources_count : 0;
    out->throttle_time_ms = 0;
    out->results = sl_arena_alloc(&req->arena, (count > 0 ? count : 1) * sizeof(*out->results));
    if (out->results == NULL)
        return SL_ELIMIT;
    out->results_count = (int32_t)count;
    /* Kafka checks every resource type before describing anything: one it does not know fails
     * the whole request, every resource with the generic INVALID_REQUEST text. */
    bool all_known = true;
    for (size_t i = 0; i < count; i++)
        all_known = all_known && type_known(in->resources[i].resource_type);
    for (size_t i = 0; i < count; i++) {
        const sl_describe_configs_resource_t *res = &in->resources[i];
        sl_describe_configs_result_t *o = &out->results[i];
        *o = (sl_describe_configs_result_t){0};
        o->resource_type = res->resource_type;
        o->resource_name = res->resource_name;
        o->error_message = sl_slice_from_str(""); /* Kafka's default, not null */
        describe_t d = {.req = req,
                        .synonyms = req->header.api_version >= 1 && in->include_synonyms,
                        .docs = req->header.api_version >= 3 && in->include_documentation,
                        .res = res,
                        .out = o};
        if (!all_known) {
            set_error(&d, SL_KERR_INVALID_REQUEST,
                      "This most likely occurs because of a request being malformed by the "
                      "client library or the message was sent to an incompatible broker. See "
                      "the broker logs for more details.");
            continue;
        }
        int rc = describe_one(&d);
        if (rc != 0)
            return rc;
    }
    return 0;
}
