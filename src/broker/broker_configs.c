/* broker_configs: the two dynamic layers of the broker configuration (cluster-wide "" and this
 * broker's id), Kafka's checks on a new layer, the broker-configs.meta record that makes them
 * survive restarts, and the effective configuration rebuilt after every change.
 * Invariants: a layer changes only after its record is on disk in at least one log dir; the
 * effective configuration is rebuilt in place (sl_config_dynamic_apply), so the pointer the broker
 * and the topic table hold stays valid; at most SL_BROKER_CONFIGS_MAX entries per layer. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_configs.h"
#include "broker_int.h"

#define RECORD_FILE "broker-configs.meta"
#define RECORD_BYTES_MAX (4 * SL_MiB)
#define RECORD_LINE_BYTES_MAX (4 * SL_CONFIG_VALUE_BYTES_MAX)

_Static_assert(SL_BROKER_CONFIG_VALUE_BYTES_MAX * 3 + SL_CONFIG_NAME_BYTES_MAX + 64 <
                   RECORD_LINE_BYTES_MAX,
               "an encoded entry fits one record line");

typedef struct {
    char **names, **values; /* owned, count of each */
    size_t count;
} layer_t;

struct sl_broker_configs {
    const sl_config_t *static_cfg; /* borrowed */
    sl_config_t effective;         /* owned */
    layer_t layers[2];
    uint64_t generation;
};

static const char *const layer_tags[2] = {"cluster", "broker"};

static void layer_clear(layer_t *l)
{
    for (size_t i = 0; i < l->count; i++) {
        sl_free(l->names[i]);
        sl_free(l->values[i]);
    }
    sl_free(l->names);
    sl_free(l->values);
    *l = (layer_t){0};
}

/* Appends copies of name and value; SL_ELIMIT past SL_BROKER_CONFIGS_MAX. */
static int layer_add(layer_t *l, sl_slice_t name, sl_slice_t value)
{
    if (l->count >= SL_BROKER_CONFIGS_MAX)
        return SL_ELIMIT;
    if (l->names == NULL) {
        l->names = sl_calloc(SL_BROKER_CONFIGS_MAX, sizeof(char *));
        l->values = sl_calloc(SL_BROKER_CONFIGS_MAX, sizeof(char *));
        if (l->names == NULL || l->values == NULL)
            return -ENOMEM;
    }
    char *n = sl_malloc(name.len + 1), *v = sl_malloc(value.len + 1);
    if (n == NULL || v == NULL) {
        sl_free(n);
        sl_free(v);
        return -ENOMEM;
    }
    memcpy(n, name.ptr, name.len);
    n[name.len] = '\0';
    if (value.len > 0)
        memcpy(v, value.ptr, value.len);
    v[value.len] = '\0';
    l->names[l->count] = n;
    l->values[l->count] = v;
    l->count++;
    return 0;
}

static sl_config_layer_t layer_view(const layer_t *l)
{
    return (sl_config_layer_t){(const char *const *)l->names, (const char *const *)l->values,
                               l->count};
}

/* ---- accessors ---- */

const sl_config_t *sl__broker_configs_effective(const sl_broker_configs_t *bc)
{
    return &bc->effective;
}

const sl_config_t *sl__broker_configs_static(const sl_broker_configs_t *bc)
{
    return bc->static_cfg;
}

size_t sl__broker_configs_count(const sl_broker_configs_t *bc, sl_broker_layer_t layer)
{
    SL_ASSERT(layer == SL_BROKER_LAYER_CLUSTER || layer == SL_BROKER_LAYER_BROKER);
    return bc->layers[layer].count;
}

void sl__broker_configs_at(const sl_broker_configs_t *bc, sl_broker_layer_t layer, size_t index,
                           const char **name, const char **value)
{
    SL_ASSERT(index < bc->layers[layer].count);
    *name = bc->layers[layer].names[index];
    *value = bc->layers[layer].values[index];
}

const char *sl__broker_configs_find(const sl_broker_configs_t *bc, sl_broker_layer_t layer,
                                    const char *name)
{
    const layer_t *l = &bc->layers[layer];
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->names[i], name) == 0)
            return l->values[i];
    return NULL;
}

/* ---- the record ---- */

/* "config <layer> <name> =<value>": the '=' keeps an empty value a field of its own. */
static int record_text(const layer_t layers[2], uint64_t generation, sl_buf_t *buf)
{
    int rc = sl_buf_appendf(buf,
                            "# Sluice dynamic broker configs: written by the broker, do not edit\n"
                            "version 1\ngeneration %" PRIu64 "\n",
                            generation);
    for (int l = 0; l < 2 && rc == 0; l++)
        for (size_t i = 0; i < layers[l].count && rc == 0; i++) {
            rc = sl_buf_appendf(buf, "config %s ", layer_tags[l]);
            if (rc == 0)
                rc = sl__record_append_encoded(buf, layers[l].names[i]);
            if (rc == 0)
                rc = sl_buf_append(buf, " =", 2);
            if (rc == 0)
                rc = sl__record_append_encoded(buf, layers[l].values[i]);
            if (rc == 0)
                rc = sl_buf_append(buf, "\n", 1);
        }
    return rc;
}

/* Writes the record of layers into every log dir; safe once one dir took it. */
static int persist(sl_broker_configs_t *bc, const layer_t layers[2])
{
    sl_buf_t buf;
    sl_buf_init(&buf, RECORD_BYTES_MAX);
    uint64_t generation = bc->generation + 1;
    int rc = record_text(layers, generation, &buf);
    int written = 0;
    const sl_config_t *cfg = bc->static_cfg;
    for (size_t d = 0; rc == 0 && d < cfg->log_dirs_count; d++) {
        int drc = sl__durable_file_replace(cfg->log_dirs[d], RECORD_FILE, buf.ptr, buf.len);
        if (drc == 0)
            written++;
        else
            SL_LOG(SL_LOG_ERROR, "broker_configs", "cannot write %s dir=%s error=\"%s\"",
                   RECORD_FILE, cfg->log_dirs[d], sl_strerror(drc));
    }
    sl_buf_deinit(&buf);
    if (rc == 0 && written == 0)
        rc = -EIO;
    if (rc == 0)
        bc->generation = generation;
    return rc;
}

static uint64_t record_generation(const char *dir)
{
    char path[4400], line[128];
    snprintf(path, sizeof(path), "%s/%s", dir, RECORD_FILE);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    uint64_t generation = 0;
    for (int i = 0; i < 8 && fgets(line, sizeof(line), f) != NULL; i++)
        if (strncmp(line, "generation ", 11) == 0) {
            generation = strtoull(line + 11, NULL, 10);
            break;
        }
    fclose(f);
    return generation;
}

/* One "config" line into the layers; a value Sluice's checks refuse is logged and dropped. */
static int load_line(sl_broker_configs_t *bc, char *line)
{
    char *save = NULL;
    char *kind = strtok_r(line, " \n", &save);
    if (kind == NULL || kind[0] == '#' || strcmp(kind, "version") == 0 ||
        strcmp(kind, "generation") == 0)
        return 0;
    char *tag = strtok_r(NULL, " \n", &save), *name = strtok_r(NULL, " \n", &save);
    char *value = strtok_r(NULL, " \n", &save);
    if (strcmp(kind, "config") != 0 || tag == NULL || name == NULL || value == NULL ||
        value[0] != '=' || !sl__record_decode_in_place(name) ||
        !sl__record_decode_in_place(++value))
        return SL_ECORRUPT;
    int layer = strcmp(tag, layer_tags[0]) == 0 ? 0 : strcmp(tag, layer_tags[1]) == 0 ? 1 : -1;
    if (layer < 0 || name[0] == '\0')
        return SL_ECORRUPT;
    const sl_config_key_t *key = sl_config_key_find(name);
    char why[SL_CONFIG_ERR_BYTES];
    if (key != NULL && (!sl_config_key_runtime_dynamic(key) ||
                        sl_config_value_check(key, value, why, sizeof(why)) != 0)) {
        SL_LOG(SL_LOG_WARN, "broker_configs", "dropping a stored dynamic config key=%s value=%s",
               name, value);
        return 0;
    }
    return layer_add(&bc->layers[layer], sl_slice_from_str(name), sl_slice_from_str(value));
}

static int load_record(sl_broker_configs_t *bc)
{
    const sl_config_t *cfg = bc->static_cfg;
    size_t best = 0;
    uint64_t best_generation = 0;
    for (size_t d = 0; d < cfg->log_dirs_count; d++) {
        uint64_t g = record_generation(cfg->log_dirs[d]);
        if (g > best_generation) {
            best_generation = g;
            best = d;
        }
    }
    bc->generation = best_generation;
    if (best_generation == 0)
        return 0; /* nothing was ever set */
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s", cfg->log_dirs[best], RECORD_FILE);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -errno;
    char *line = sl_malloc(RECORD_LINE_BYTES_MAX);
    int rc = line == NULL ? -ENOMEM : 0;
    size_t line_no = 0;
    while (rc == 0 && fgets(line, RECORD_LINE_BYTES_MAX, f) != NULL) {
        line_no++;
        rc = load_line(bc, line);
        if (rc != 0)
            SL_LOG(SL_LOG_ERROR, "broker_configs", "cannot read %s:%zu error=\"%s\"", path, line_no,
                   sl_strerror(rc));
    }
    fclose(f);
    sl_free(line);
    return rc;
}

int sl__broker_configs_open(const sl_config_t *static_cfg, sl_broker_configs_t **out)
{
    SL_ASSERT(static_cfg != NULL && out != NULL);
    sl_broker_configs_t *bc = sl_calloc(1, sizeof(*bc));
    if (bc == NULL)
        return -ENOMEM;
    bc->static_cfg = static_cfg;
    int rc = sl_config_copy(&bc->effective, static_cfg);
    if (rc != 0) {
        sl_free(bc);
        return rc;
    }
    rc = load_record(bc);
    char err[SL_CONFIG_ERR_BYTES];
    sl_config_layer_t cluster = layer_view(&bc->layers[0]), broker = layer_view(&bc->layers[1]);
    if (rc == 0)
        rc = sl_config_dynamic_apply(&bc->effective, static_cfg, &cluster, &broker, err,
                                     sizeof(err));
    if (rc == SL_ECONFIG)
        SL_LOG(SL_LOG_ERROR, "broker_configs", "stored dynamic configs refused error=\"%s\"", err);
    if (rc != 0) {
        sl__broker_configs_close(bc);
        return rc;
    }
    SL_LOG(SL_LOG_INFO, "broker_configs", "loaded dynamic configs cluster=%zu broker=%zu",
           bc->layers[0].count, bc->layers[1].count);
    *out = bc;
    return 0;
}

void sl__broker_configs_close(sl_broker_configs_t *bc)
{
    if (bc == NULL)
        return;
    layer_clear(&bc->layers[0]);
    layer_clear(&bc->layers[1]);
    sl_config_deinit(&bc->effective);
    sl_free(bc);
}

/* ---- changes ---- */

/* "Set(a, b)" of the names for which pick(key) holds, after prefix; false if none. */
static bool names_message(const sl_slice_t *names, size_t count, bool (*pick)(const char *, int),
                          int layer, const char *prefix, char *msg, size_t len)
{
    bool any = false;
    size_t used = (size_t)snprintf(msg, len, "%s: Set(", prefix);
    for (size_t i = 0; i < count && used + 1 < len; i++) {
        char name[SL_CONFIG_NAME_BYTES_MAX];
        snprintf(name, sizeof(name), "%.*s", (int)names[i].len, (const char *)names[i].ptr);
        if (!pick(name, layer))
            continue;
        used += (size_t)snprintf(msg + used, len - used, "%s%s", any ? ", " : "", name);
        any = true;
    }
    if (used + 1 < len)
        snprintf(msg + used, len - used, ")");
    return any;
}

/* Kafka's read-only keys, Sluice's own keys it cannot change at run time, and (for this broker's
 * layer) the per-broker keys Sluice cannot apply without a restart (listeners). */
static bool pick_not_dynamic(const char *name, int layer)
{
    const sl_config_key_t *key = sl_config_key_find(name);
    if (key == NULL || key->update_mode == SL_CONFIG_READ_ONLY)
        return key != NULL;
    return layer == SL_BROKER_LAYER_BROKER && !sl_config_key_runtime_dynamic(key);
}

static bool pick_per_broker(const char *name, int layer)
{
    (void)layer; /* asked only for the cluster layer */
    const sl_config_key_t *key = sl_config_key_find(name);
    return key != NULL && key->update_mode == SL_CONFIG_PER_BROKER;
}

/* Kafka's DynamicBrokerConfig.validate order: keys that cannot change, then values, then
 * per-broker keys on the cluster-wide resource. */
static sl_kerr_t check_layer(sl_broker_layer_t layer, const sl_slice_t *names,
                             const sl_slice_t *values, size_t count, char *msg, size_t len)
{
    if (count > SL_BROKER_CONFIGS_MAX) {
        snprintf(msg, len, "Too many dynamic broker configs: at most %d.", SL_BROKER_CONFIGS_MAX);
        return SL_KERR_INVALID_REQUEST;
    }
    for (size_t i = 0; i < count; i++) {
        sl_slice_t n = names[i], v = values[i];
        if (n.ptr == NULL || n.len == 0 || n.len >= SL_CONFIG_NAME_BYTES_MAX ||
            v.len >= SL_BROKER_CONFIG_VALUE_BYTES_MAX || memchr(n.ptr, '\0', n.len) != NULL ||
            (v.ptr != NULL && memchr(v.ptr, '\0', v.len) != NULL)) {
            snprintf(msg, len, "Invalid config name or value.");
            return SL_KERR_INVALID_REQUEST;
        }
    }
    if (names_message(names, count, pick_not_dynamic, (int)layer,
                      "Cannot update these configs dynamically", msg, len))
        return SL_KERR_INVALID_REQUEST;
    for (size_t i = 0; i < count; i++) {
        char name[SL_CONFIG_NAME_BYTES_MAX], value[SL_BROKER_CONFIG_VALUE_BYTES_MAX];
        snprintf(name, sizeof(name), "%.*s", (int)names[i].len, (const char *)names[i].ptr);
        snprintf(value, sizeof(value), "%.*s", (int)values[i].len,
                 values[i].len ? (const char *)values[i].ptr : "");
        const sl_config_key_t *key = sl_config_key_find(name);
        if (key != NULL && sl_config_value_check(key, value, msg, len) != 0)
            return SL_KERR_INVALID_REQUEST;
    }
    if (layer == SL_BROKER_LAYER_CLUSTER &&
        names_message(names, count, pick_per_broker, (int)layer,
                      "Cannot update these configs at default cluster level, broker id must be "
                      "specified",
                      msg, len))
        return SL_KERR_INVALID_REQUEST;
    msg[0] = '\0';
    return SL_KERR_NONE;
}

/* Builds the effective configuration the layers would give on a scratch copy: what the typed
 * setters still refuse (an empty list) fails here, before anything is stored. */
static sl_kerr_t check_apply(const sl_broker_configs_t *bc, const layer_t layers[2], char *msg,
                             size_t len)
{
    sl_config_t trial;
    if (sl_config_copy(&trial, bc->static_cfg) != 0)
        return SL_KERR_UNKNOWN_SERVER_ERROR;
    sl_config_layer_t cluster = layer_view(&layers[0]), broker = layer_view(&layers[1]);
    int rc = sl_config_dynamic_apply(&trial, bc->static_cfg, &cluster, &broker, msg, len);
    sl_config_deinit(&trial);
    if (rc == SL_ECONFIG)
        return SL_KERR_INVALID_REQUEST;
    return rc == 0 ? SL_KERR_NONE : SL_KERR_UNKNOWN_SERVER_ERROR;
}

sl_kerr_t sl__broker_configs_set(sl_broker_configs_t *bc, sl_broker_layer_t layer,
                                 const sl_slice_t *names, const sl_slice_t *values, size_t count,
                                 bool validate_only, char *msg, size_t msg_len)
{
    SL_ASSERT(bc != NULL && msg != NULL && msg_len > 0);
    SL_ASSERT(layer == SL_BROKER_LAYER_CLUSTER || layer == SL_BROKER_LAYER_BROKER);
    msg[0] = '\0';
    sl_kerr_t err = check_layer(layer, names, values, count, msg, msg_len);
    if (err != SL_KERR_NONE)
        return err;
    layer_t next = {0};
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = layer_add(&next, names[i], values[i]);
    layer_t layers[2] = {bc->layers[0], bc->layers[1]};
    layers[layer] = next;
    err = rc != 0 ? SL_KERR_UNKNOWN_SERVER_ERROR : check_apply(bc, layers, msg, msg_len);
    if (err == SL_KERR_NONE && !validate_only && (rc = persist(bc, layers)) != 0) {
        snprintf(msg, msg_len, "Cannot store the broker's configs: %s", sl_strerror(rc));
        err = rc == -EIO ? SL_KERR_KAFKA_STORAGE_ERROR : SL_KERR_UNKNOWN_SERVER_ERROR;
    }
    if (err != SL_KERR_NONE || validate_only) {
        layer_clear(&next);
        return err;
    }
    layer_clear(&bc->layers[layer]);
    bc->layers[layer] = next;
    char why[SL_CONFIG_ERR_BYTES];
    sl_config_layer_t cluster = layer_view(&bc->layers[0]), broker = layer_view(&bc->layers[1]);
    rc = sl_config_dynamic_apply(&bc->effective, bc->static_cfg, &cluster, &broker, why,
                                 sizeof(why));
    /* The same layers just built a scratch copy; only memory can fail now. */
    SL_ASSERT(rc == 0 || rc == -ENOMEM);
    if (rc != 0)
        SL_LOG(SL_LOG_ERROR, "broker_configs", "cannot apply dynamic configs error=\"%s\"",
               sl_strerror(rc));
    SL_LOG(SL_LOG_INFO, "broker_configs", "altered dynamic configs layer=%s configs=%zu",
           layer_tags[layer], count);
    return SL_KERR_NONE;
}
