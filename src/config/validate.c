/* validate.c: turns raw entries (text from YAML or the environment) into typed sl_config_t fields,
 * checks every value against its key's type and bounds, then applies the rules between keys.
 * Invariants: a value is written to cfg only after it fully parsed (a failed key leaves the old
 * value); every error names where the value came from; environment entries win over the file. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

sl__config_warning_fn sl__config_warning_hook;

/* ---- text helpers ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_blank(const char *text)
{
    for (const char *c = text; *c != '\0'; c++)
        if (!is_space(*c))
            return false;
    return true;
}

/* An owned copy of text[0..len) without surrounding whitespace. */
static char *trimmed_dup(const char *text, size_t len)
{
    while (len > 0 && is_space(text[0])) {
        text++;
        len--;
    }
    while (len > 0 && is_space(text[len - 1]))
        len--;
    char *copy = sl_malloc(len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, text, len);
    copy[len] = '\0';
    return copy;
}

static void strlist_free(char **items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        sl_free(items[i]);
    sl_free(items);
}

static int items_add(char ***list, size_t *count, const char *text, size_t len, size_t max,
                     char *why, size_t why_len)
{
    if (*count >= max) {
        snprintf(why, why_len, "a list may hold at most %zu items", max);
        return SL_ECONFIG;
    }
    char *item = trimmed_dup(text, len);
    if (item == NULL)
        return -ENOMEM;
    if (item[0] == '\0') {
        sl_free(item);
        snprintf(why, why_len, "list has an empty item");
        return SL_ECONFIG;
    }
    char **grown = sl_realloc(*list, (*count + 1) * sizeof(char *));
    if (grown == NULL) {
        sl_free(item);
        return -ENOMEM;
    }
    grown[(*count)++] = item;
    *list = grown;
    return 0;
}

/* Splits a value into trimmed list items: a YAML list item by item, a scalar on commas (as Kafka's
 * LIST type does). An empty list is an error: no list key of ours may be empty. */
static int items_split(char *const *items, size_t item_count, bool is_list, size_t max, char ***out,
                       size_t *out_count, char *why, size_t why_len)
{
    char **list = NULL;
    size_t count = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < item_count; i++) {
        const char *text = items[i];
        if (is_list) {
            rc = items_add(&list, &count, text, strlen(text), max, why, why_len);
            continue;
        }
        const char *p = text;
        bool blank = is_blank(text);
        while (rc == 0 && !blank) {
            const char *comma = strchr(p, ',');
            size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
            rc = items_add(&list, &count, p, len, max, why, why_len);
            if (comma == NULL)
                break;
            p = comma + 1;
        }
    }
    if (rc == 0 && count == 0) {
        snprintf(why, why_len, "must not be empty");
        rc = SL_ECONFIG;
    }
    if (rc != 0) {
        strlist_free(list, count);
        return rc;
    }
    *out = list;
    *out_count = count;
    return 0;
}

static int parse_i64(const char *text, int64_t *out)
{
    const char *p = text;
    if (*p == '+' || *p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (const char *c = p; *c != '\0'; c++) {
        if (*c < '0' || *c > '9')
            return -EINVAL;
    }
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    if (errno == ERANGE)
        return -ERANGE;
    *out = (int64_t)v;
    return 0;
}

/* Index of text in values (case-insensitive), or -1. */
static int value_index(const char *const *values, const char *text)
{
    for (int i = 0; values[i] != NULL; i++) {
        if (strcasecmp(values[i], text) == 0)
            return i;
    }
    return -1;
}

static void values_joined(const char *const *values, char *out, size_t out_len)
{
    size_t pos = 0;
    out[0] = '\0';
    for (size_t i = 0; values[i] != NULL && pos < out_len; i++) {
        int n = snprintf(out + pos, out_len - pos, "%s%s", i > 0 ? ", " : "", values[i]);
        if (n < 0)
            return;
        pos += (size_t)n;
    }
}

/* ---- typed setters ---- */

static int set_number(sl_config_t *cfg, const sl_config_key_t *key, const char *text, char *why,
                      size_t why_len)
{
    int64_t v = 0;
    int rc = parse_i64(text, &v);
    if (rc == -EINVAL) {
        snprintf(why, why_len, "must be an integer, got \"%s\"", text);
        return SL_ECONFIG;
    }
    if (rc == -ERANGE || v < key->min || v > key->max) {
        snprintf(why, why_len, "must be between %" PRId64 " and %" PRId64 ", got %s", key->min,
                 key->max, text);
        return SL_ECONFIG;
    }
    char *field = (char *)cfg + key->offset;
    if (key->storage == SL_CFG_STORE_I16) {
        SL_ASSERT(key->min >= INT16_MIN && key->max <= INT16_MAX);
        int16_t v16 = (int16_t)v;
        memcpy(field, &v16, sizeof(v16));
    } else if (key->storage == SL_CFG_STORE_I32) {
        SL_ASSERT(key->min >= INT32_MIN && key->max <= INT32_MAX);
        int32_t v32 = (int32_t)v;
        memcpy(field, &v32, sizeof(v32));
    } else {
        SL_ASSERT(key->storage == SL_CFG_STORE_I64);
        memcpy(field, &v, sizeof(v));
    }
    return 0;
}

static int set_scalar(sl_config_t *cfg, const sl_config_key_t *key, const char *text, char *why,
                      size_t why_len)
{
    char *field = (char *)cfg + key->offset;
    char allowed[256];
    int index;
    switch (key->storage) {
    case SL_CFG_STORE_BOOL:
        index = value_index(key->valid_values, text);
        if (index < 0) {
            snprintf(why, why_len, "must be true or false, got \"%s\"", text);
            return SL_ECONFIG;
        }
        *(bool *)(void *)field = index == 0;
        return 0;
    case SL_CFG_STORE_ENUM:
        index = value_index(key->valid_values, text);
        if (index < 0) {
            values_joined(key->valid_values, allowed, sizeof(allowed));
            snprintf(why, why_len, "must be one of %s; got \"%s\"", allowed, text);
            return SL_ECONFIG;
        }
        memcpy(field, &index, sizeof(index));
        return 0;
    case SL_CFG_STORE_STR: {
        if (text[0] == '\0') {
            snprintf(why, why_len, "must not be empty");
            return SL_ECONFIG;
        }
        char *copy = sl_strdup(text);
        if (copy == NULL)
            return -ENOMEM;
        char **slot = (char **)(void *)field;
        sl_free(*slot);
        *slot = copy;
        return 0;
    }
    default:
        return set_number(cfg, key, text, why, why_len);
    }
}

static int set_list(sl_config_t *cfg, const sl_config_key_t *key, char **list, size_t count,
                    char *why, size_t why_len)
{
    char *base = (char *)cfg;
    size_t *count_slot = (size_t *)(void *)(base + key->count_offset);
    if (key->storage == SL_CFG_STORE_LISTENERS) {
        sl_listener_config_t parsed[SL_LISTENERS_MAX];
        SL_ASSERT(count <= SL_LISTENERS_MAX);
        for (size_t i = 0; i < count; i++) {
            int rc = sl__config_listener_parse(list[i], &parsed[i], why, why_len);
            if (rc != 0)
                return rc;
        }
        memcpy(base + key->offset, parsed, count * sizeof(parsed[0]));
        *count_slot = count;
        strlist_free(list, count);
        return 0;
    }
    if (key->storage == SL_CFG_STORE_VOTERS) {
        sl_quorum_voter_config_t parsed[SL_CONFIG_QUORUM_VOTERS_MAX];
        SL_ASSERT(count <= SL_CONFIG_QUORUM_VOTERS_MAX);
        for (size_t i = 0; i < count; i++) {
            int rc = sl__config_voter_parse(list[i], &parsed[i], why, why_len);
            if (rc != 0)
                return rc;
            for (size_t j = 0; j < i; j++) {
                if (parsed[j].node_id == parsed[i].node_id) {
                    snprintf(why, why_len, "node id %d is listed twice", (int)parsed[i].node_id);
                    return SL_ECONFIG;
                }
                if (parsed[j].port == parsed[i].port &&
                    strcasecmp(parsed[j].host, parsed[i].host) == 0) {
                    snprintf(why, why_len, "voters %d and %d have the same address %s:%u",
                             (int)parsed[j].node_id, (int)parsed[i].node_id, parsed[i].host,
                             (unsigned)parsed[i].port);
                    return SL_ECONFIG;
                }
            }
        }
        memcpy(base + key->offset, parsed, count * sizeof(parsed[0]));
        *count_slot = count;
        strlist_free(list, count);
        return 0;
    }
    for (size_t i = 0; key->valid_values != NULL && i < count; i++) {
        int index = value_index(key->valid_values, list[i]);
        if (index < 0) {
            char allowed[256];
            values_joined(key->valid_values, allowed, sizeof(allowed));
            snprintf(why, why_len, "\"%s\" is not one of %s", list[i], allowed);
            return SL_ECONFIG;
        }
        /* Store the canonical spelling. */
        size_t len = strlen(list[i]);
        SL_ASSERT(len == strlen(key->valid_values[index]));
        memcpy(list[i], key->valid_values[index], len);
    }
    char ***slot = (char ***)(void *)(base + key->offset);
    strlist_free(*slot, *count_slot);
    *slot = list;
    *count_slot = count;
    return 0;
}

int sl__config_value_set(sl_config_t *cfg, const sl_config_key_t *key, char *const *items,
                         size_t item_count, bool is_list, char *why, size_t why_len)
{
    SL_ASSERT(cfg != NULL && key != NULL);
    SL_ASSERT(items != NULL || item_count == 0);
    why[0] = '\0';
    if (key->storage == SL_CFG_STORE_VOTERS && !is_list && item_count == 1 && is_blank(items[0])) {
        /* Kafka's default: no static quorum. */
        *(size_t *)(void *)((char *)cfg + key->count_offset) = 0;
        return 0;
    }
    if (key->storage == SL_CFG_STORE_STRLIST || key->storage == SL_CFG_STORE_LISTENERS ||
        key->storage == SL_CFG_STORE_VOTERS) {
        size_t max = key->storage == SL_CFG_STORE_LISTENERS ? SL_LISTENERS_MAX
                     : key->storage == SL_CFG_STORE_VOTERS  ? SL_CONFIG_QUORUM_VOTERS_MAX
                                                            : SL_CONFIG_LIST_ITEMS_MAX;
        char **list = NULL;
        size_t count = 0;
        int rc = items_split(items, item_count, is_list, max, &list, &count, why, why_len);
        if (rc != 0)
            return rc;
        rc = set_list(cfg, key, list, count, why, why_len);
        if (rc != 0)
            strlist_free(list, count);
        return rc;
    }
    if (is_list || item_count != 1) {
        snprintf(why, why_len, "expects a single value, got a list");
        return SL_ECONFIG;
    }
    char *text = trimmed_dup(items[0], strlen(items[0]));
    if (text == NULL)
        return -ENOMEM;
    int rc = set_scalar(cfg, key, text, why, why_len);
    sl_free(text);
    return rc;
}
