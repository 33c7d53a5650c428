/* dynamic.c: the configuration's dynamic side: a deep copy of a loaded configuration, Kafka's
 * checks of a broker value set at run time, and the effective configuration rebuilt from the static
 * one plus the two dynamic layers (this broker's values over the cluster-wide ones over static).
 * Invariants: only keys whose update_mode is not read-only are ever rewritten, so the memory of a
 * read-only key (log dirs, listeners) never moves while the broker runs; every key rewritten gets
 * the source of the layer it came from. */
#include <errno.h>
#include <string.h>

#include "config/config_int.h"

static char *strdup_or_null(const char *s, bool *failed)
{
    if (s == NULL)
        return NULL;
    char *copy = sl_strdup(s);
    *failed = *failed || copy == NULL;
    return copy;
}

static char **strlist_dup(char *const *items, size_t count, bool *failed)
{
    if (items == NULL)
        return NULL;
    char **copy = sl_calloc(count + 1, sizeof(char *));
    if (copy == NULL) {
        *failed = true;
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        copy[i] = strdup_or_null(items[i], failed);
    return copy;
}

int sl_config_copy(sl_config_t *dst, const sl_config_t *src)
{
    SL_ASSERT(dst != NULL && src != NULL);
    SL_ASSERT(dst != src);
    *dst = *src;
    bool failed = false;
    /* Replace every owned pointer by a copy first (deinit then frees only copies). */
    for (size_t i = 0; i < sl__config_keys_count; i++) {
        const sl_config_key_t *key = &sl__config_keys[i];
        char *base = (char *)dst;
        if (key->storage == SL_CFG_STORE_STR) {
            char **slot = (char **)(void *)(base + key->offset);
            *slot = strdup_or_null(*slot, &failed);
        } else if (key->storage == SL_CFG_STORE_STRLIST) {
            char ***slot = (char ***)(void *)(base + key->offset);
            size_t count = *(size_t *)(void *)(base + key->count_offset);
            *slot = strlist_dup(*slot, count, &failed);
            if (*slot == NULL)
                *(size_t *)(void *)(base + key->count_offset) = 0;
        }
    }
    if (failed) {
        sl_config_deinit(dst);
        return -ENOMEM;
    }
    SL_ASSERT(dst->log_dirs_count == src->log_dirs_count);
    return 0;
}

int sl_config_value_check(const sl_config_key_t *key, const char *value, char *err, size_t err_len)
{
    SL_ASSERT(key != NULL && value != NULL);
    SL_ASSERT(err != NULL || err_len == 0);
    /* A LIST without valid values (listeners, log.dirs) is free text to Kafka's parser. */
    if (key->type == SL_CONFIG_TYPE_LIST && key->valid_values == NULL)
        return 0;
    if (key->type == SL_CONFIG_TYPE_STRING && key->valid_values == NULL)
        return 0;
    sl_config_type_t type = key->type;
    if (key->storage == SL_CFG_STORE_I16)
        type = SL_CONFIG_TYPE_INT;
    sl_topic_config_key_t view = {
        .name = key->name,
        .type = type,
        .min = key->min,
        .max = key->max,
        .valid_values = type == SL_CONFIG_TYPE_BOOLEAN ? NULL : key->valid_values,
    };
    return sl__topic_config_check(&view, value, err, err_len);
}

bool sl_config_key_runtime_dynamic(const sl_config_key_t *key)
{
    SL_ASSERT(key != NULL);
    if (key->update_mode == SL_CONFIG_READ_ONLY)
        return false;
    /* Listeners would need sockets re-bound; their memory also must not move under the server. */
    if (key->storage == SL_CFG_STORE_STR || key->storage == SL_CFG_STORE_LISTENERS)
        return false;
    return strcmp(key->name, "listener.security.protocol.map") != 0;
}

/* The layer's value of name, or NULL. */
static const char *layer_find(const sl_config_layer_t *layer, const char *name)
{
    for (size_t i = 0; layer != NULL && i < layer->count; i++)
        if (strcmp(layer->names[i], name) == 0)
            return layer->values[i];
    return NULL;
}

/* Gives key in eff static_cfg's value (numbers and enums by bytes; lists copied). */
static int key_revert(sl_config_t *eff, const sl_config_t *static_cfg, const sl_config_key_t *key)
{
    char *dst = (char *)eff + key->offset;
    const char *src = (const char *)static_cfg + key->offset;
    size_t size = 0;
    switch (key->storage) {
    case SL_CFG_STORE_BOOL:
        size = sizeof(bool);
        break;
    case SL_CFG_STORE_I16:
        size = sizeof(int16_t);
        break;
    case SL_CFG_STORE_I32:
        size = sizeof(int32_t);
        break;
    case SL_CFG_STORE_I64:
        size = sizeof(int64_t);
        break;
    case SL_CFG_STORE_ENUM:
        size = sizeof(int);
        break;
    case SL_CFG_STORE_STRLIST: {
        bool failed = false;
        size_t count =
            *(const size_t *)(const void *)((const char *)static_cfg + key->count_offset);
        char **copy = strlist_dup(*(char *const *const *)(const void *)src, count, &failed);
        if (failed) {
            if (copy != NULL)
                for (size_t i = 0; i < count; i++)
                    sl_free(copy[i]);
            sl_free(copy);
            return -ENOMEM;
        }
        char ***slot = (char ***)(void *)dst;
        size_t *count_slot = (size_t *)(void *)((char *)eff + key->count_offset);
        for (size_t i = 0; i < *count_slot; i++)
            sl_free((*slot)[i]);
        sl_free(*slot);
        *slot = copy;
        *count_slot = count;
        return 0;
    }
    default:
        /* Strings and listeners are never dynamic in Sluice (their memory must not move). */
        sl_panic(__FILE__, __LINE__, "a dynamic key with a storage kind that cannot move");
    }
    memcpy(dst, src, size);
    return 0;
}

int sl_config_dynamic_apply(sl_config_t *eff, const sl_config_t *static_cfg,
                            const sl_config_layer_t *cluster, const sl_config_layer_t *broker,
                            char *err, size_t err_len)
{
    SL_ASSERT(eff != NULL && static_cfg != NULL);
    SL_ASSERT(err != NULL && err_len > 0);
    err[0] = '\0';
    for (size_t i = 0; i < sl__config_keys_count; i++) {
        const sl_config_key_t *key = &sl__config_keys[i];
        if (!sl_config_key_runtime_dynamic(key))
            continue;
        const char *value = layer_find(broker, key->name);
        sl_config_source_t source = SL_CONFIG_SOURCE_DYNAMIC_BROKER;
        if (value == NULL) {
            value = layer_find(cluster, key->name);
            source = SL_CONFIG_SOURCE_DYNAMIC_DEFAULT;
        }
        int rc;
        if (value == NULL) {
            rc = key_revert(eff, static_cfg, key);
            source = sl_config_value_source(static_cfg, key);
        } else {
            char why[SL_CONFIG_ERR_BYTES];
            char *items[1] = {(char *)(uintptr_t)value};
            rc = sl__config_value_set(eff, key, items, 1, false, why, sizeof(why));
            if (rc == SL_ECONFIG)
                snprintf(err, err_len, "Invalid value %s for configuration %s: %s", value,
                         key->name, why);
        }
        if (rc != 0)
            return rc;
        eff->sources[i] = (uint8_t)source;
    }
    /* Kafka: a negative log.retention.ms means unlimited, as at load. */
    if (eff->log_retention_ms < 0)
        eff->log_retention_ms = -1;
    return 0;
}
