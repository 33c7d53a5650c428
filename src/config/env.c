/* env.c: the environment's part of the configuration: SLUICE_CFG_<NAME> overrides (dots become
 * underscores, upper case) and ${VAR} expansion inside values, with $$ for a literal dollar.
 * Invariants: an expanded value is never expanded again (no recursion, no loops); an undefined
 * variable is an error naming it; a lone '$' not followed by '{' or '$' stays as it is. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_int.h"

#define ENV_PREFIX "SLUICE_CFG_"

int sl__config_env_name(const char *key, char *out, size_t out_len)
{
    SL_ASSERT(key != NULL && out != NULL);
    size_t prefix = strlen(ENV_PREFIX);
    size_t len = strlen(key);
    if (prefix + len + 1 > out_len)
        return SL_ELIMIT;
    memcpy(out, ENV_PREFIX, prefix);
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (c == '.')
            c = '_';
        else if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        out[prefix + i] = c;
    }
    out[prefix + len] = '\0';
    return 0;
}

/* One SLUICE_CFG_ variable ("NAME=value") as an entry. */
static int env_entry(const char *var, sl_cfg_entries_t *out, char *err, size_t err_len)
{
    const char *eq = strchr(var, '=');
    size_t var_len = eq != NULL ? (size_t)(eq - var) : strlen(var);
    size_t prefix = strlen(ENV_PREFIX);
    size_t key_len = var_len - prefix;
    if (key_len == 0 || key_len >= SL_CONFIG_NAME_BYTES_MAX) {
        snprintf(err, err_len, "environment %.*s: not a configuration key name", (int)var_len, var);
        return SL_ECONFIG;
    }
    sl_cfg_entry_t entry = {.source = SL_CONFIG_SOURCE_ENV, .item_count = 1};
    entry.name = sl_malloc(key_len + 1);
    entry.env_name = sl_malloc(var_len + 1);
    entry.items = sl_calloc(1, sizeof(char *));
    if (entry.items != NULL)
        entry.items[0] = sl_strdup(eq != NULL ? eq + 1 : "");
    if (entry.name == NULL || entry.env_name == NULL || entry.items == NULL ||
        entry.items[0] == NULL) {
        sl_free(entry.name);
        sl_free(entry.env_name);
        if (entry.items != NULL)
            sl_free(entry.items[0]);
        sl_free(entry.items);
        return -ENOMEM;
    }
    memcpy(entry.env_name, var, var_len);
    entry.env_name[var_len] = '\0';
    for (size_t i = 0; i < key_len; i++) {
        char c = var[prefix + i];
        if (c == '_')
            c = '.';
        else if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        entry.name[i] = c;
    }
    entry.name[key_len] = '\0';
    for (size_t i = 0; i < out->count; i++) {
        const sl_cfg_entry_t *other = &out->entries[i];
        if (other->source == SL_CONFIG_SOURCE_ENV && strcmp(other->name, entry.name) == 0) {
            snprintf(err, err_len, "environment %s: %s: also set by %s", entry.env_name, entry.name,
                     other->env_name);
            sl_free(entry.name);
            sl_free(entry.env_name);
            sl_free(entry.items[0]);
            sl_free(entry.items);
            return SL_ECONFIG;
        }
    }
    int rc = sl__config_entries_push(out, &entry);
    if (rc == SL_ELIMIT) {
        snprintf(err, err_len, "environment: more than %d configuration keys",
                 SL_CONFIG_ENTRIES_MAX);
        return SL_ECONFIG;
    }
    return rc;
}

int sl__config_env_collect(sl_cfg_entries_t *out, char *err, size_t err_len)
{
    SL_ASSERT(out != NULL && err != NULL);
    size_t prefix = strlen(ENV_PREFIX);
    for (char **var = environ; var != NULL && *var != NULL; var++) {
        if (strncmp(*var, ENV_PREFIX, prefix) != 0)
            continue;
        int rc = env_entry(*var, out, err, err_len);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- ${VAR} expansion ---- */

typedef struct {
    char *ptr;
    size_t len, cap;
} text_t;

static int text_append(text_t *t, const char *s, size_t len)
{
    if (t->len + len + 1 > SL_CONFIG_VALUE_BYTES_MAX)
        return SL_ELIMIT;
    if (t->len + len + 1 > t->cap) {
        size_t cap = SL_MAX(t->cap * 2, t->len + len + 1);
        cap = SL_MIN(cap, (size_t)SL_CONFIG_VALUE_BYTES_MAX);
        char *grown = sl_realloc(t->ptr, cap);
        if (grown == NULL)
            return -ENOMEM;
        t->ptr = grown;
        t->cap = cap;
    }
    memcpy(t->ptr + t->len, s, len);
    t->len += len;
    t->ptr[t->len] = '\0';
    return 0;
}

static bool var_name_valid(const char *name, size_t len)
{
    if (len == 0 || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

/* Appends the value of the variable named by ${...} at *p; advances *p past the '}'. */
static int expand_var(text_t *t, const char **p, char *why, size_t why_len)
{
    const char *start = *p + 2;
    const char *end = strchr(start, '}');
    if (end == NULL) {
        snprintf(why, why_len, "unterminated ${ (write $$ for a literal dollar sign)");
        return SL_ECONFIG;
    }
    size_t len = (size_t)(end - start);
    char name[SL_CONFIG_NAME_BYTES_MAX];
    if (!var_name_valid(start, len) || len >= sizeof(name)) {
        snprintf(why, why_len, "invalid variable name in ${%.*s}", (int)SL_MIN(len, 64), start);
        return SL_ECONFIG;
    }
    memcpy(name, start, len);
    name[len] = '\0';
    const char *value = getenv(name);
    if (value == NULL) {
        snprintf(why, why_len, "environment variable %s is not set (used as ${%s})", name, name);
        return SL_ECONFIG;
    }
    *p = end + 1;
    return text_append(t, value, strlen(value));
}

int sl__config_expand(const char *in, char **out, char *why, size_t why_len)
{
    SL_ASSERT(in != NULL && out != NULL);
    text_t t = {0};
    int rc = text_append(&t, "", 0);
    const char *p = in;
    while (rc == 0 && *p != '\0') {
        const char *dollar = strchr(p, '$');
        size_t plain = dollar != NULL ? (size_t)(dollar - p) : strlen(p);
        rc = text_append(&t, p, plain);
        p += plain;
        if (rc != 0 || dollar == NULL)
            break;
        if (p[1] == '$') {
            rc = text_append(&t, "$", 1);
            p += 2;
        } else if (p[1] == '{') {
            rc = expand_var(&t, &p, why, why_len);
        } else {
            rc = text_append(&t, "$", 1);
            p += 1;
        }
    }
    if (rc == SL_ELIMIT) {
        snprintf(why, why_len, "value is longer than %zu bytes after expansion",
                 (size_t)SL_CONFIG_VALUE_BYTES_MAX - 1);
        rc = SL_ECONFIG;
    }
    if (rc != 0) {
        sl_free(t.ptr);
        return rc;
    }
    *out = t.ptr;
    SL_ASSERT(*out != NULL);
    return 0;
}
