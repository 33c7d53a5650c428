/* yaml_load.c: reads YAML with libyaml's event parser and flattens nested mappings into dotted
 * entries (log: {retention: {ms: 5}} is log.retention.ms = "5"), without typing anything.
 * Invariants: iterative (no recursion), nesting bounded by SL_CONFIG_DEPTH_MAX, entries by
 * SL_CONFIG_ENTRIES_MAX, list items by SL_CONFIG_LIST_ITEMS_MAX; a duplicate flattened name is an
 * error; aliases are refused (anchors alone are harmless); positions are libyaml's marks + 1. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "config/config_int.h"

typedef struct {
    yaml_parser_t parser;
    const char *file; /* borrowed, for messages */
    const char *yaml; /* borrowed, to turn a reader error's offset into line:column */
    size_t yaml_len;
    sl_cfg_entries_t *out;
    char *err;
    size_t err_len;
    char name[SL_CONFIG_NAME_BYTES_MAX]; /* the dotted prefix of the current mapping */
    size_t prefix_len[SL_CONFIG_DEPTH_MAX + 1];
    size_t depth; /* open mappings; prefix_len[depth - 1] is the current prefix */
} yaml_ctx_t;

void sl__config_entries_deinit(sl_cfg_entries_t *entries)
{
    for (size_t i = 0; i < entries->count; i++) {
        sl_cfg_entry_t *e = &entries->entries[i];
        for (size_t j = 0; j < e->item_count; j++)
            sl_free(e->items[j]);
        sl_free(e->items);
        sl_free(e->name);
        sl_free(e->env_name);
    }
    sl_free(entries->entries);
    memset(entries, 0, sizeof(*entries));
}

static void entry_free(sl_cfg_entry_t *e)
{
    for (size_t j = 0; j < e->item_count; j++)
        sl_free(e->items[j]);
    sl_free(e->items);
    sl_free(e->name);
    sl_free(e->env_name);
    memset(e, 0, sizeof(*e));
}

int sl__config_entries_push(sl_cfg_entries_t *entries, sl_cfg_entry_t *entry)
{
    SL_ASSERT(entries->count <= entries->cap);
    if (entries->count >= SL_CONFIG_ENTRIES_MAX) {
        entry_free(entry);
        return SL_ELIMIT;
    }
    if (entries->count == entries->cap) {
        size_t cap = entries->cap == 0 ? 16 : entries->cap * 2;
        sl_cfg_entry_t *grown = sl_realloc(entries->entries, cap * sizeof(*grown));
        if (grown == NULL) {
            entry_free(entry);
            return -ENOMEM;
        }
        entries->entries = grown;
        entries->cap = cap;
    }
    entries->entries[entries->count++] = *entry;
    memset(entry, 0, sizeof(*entry));
    return 0;
}

SL_PRINTF(3, 4) static int error_at(yaml_ctx_t *ctx, yaml_mark_t mark, const char *fmt, ...)
{
    char why[SL_CONFIG_ERR_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(ctx->err, ctx->err_len, "%s:%zu:%zu: %s", ctx->file, mark.line + 1, mark.column + 1,
             why);
    return SL_ECONFIG;
}

/* libyaml's own error. Reader errors (bad encoding) carry only a byte offset. */
static int parser_error(yaml_ctx_t *ctx)
{
    yaml_parser_t *p = &ctx->parser;
    if (p->error == YAML_MEMORY_ERROR)
        return -ENOMEM;
    const char *problem = p->problem != NULL ? p->problem : "invalid YAML";
    if (p->error == YAML_READER_ERROR) {
        yaml_mark_t mark = {0};
        for (size_t i = 0; i < p->problem_offset && i < ctx->yaml_len; i++) {
            mark.column++;
            if (ctx->yaml[i] == '\n') {
                mark.line++;
                mark.column = 0;
            }
        }
        return error_at(ctx, mark, "%s", problem);
    }
    char why[SL_CONFIG_ERR_BYTES];
    if (p->context != NULL)
        snprintf(why, sizeof(why), "%s %s (started at %zu:%zu)", problem, p->context,
                 p->context_mark.line + 1, p->context_mark.column + 1);
    else
        snprintf(why, sizeof(why), "%s", problem);
    return error_at(ctx, p->problem_mark, "%s", why);
}

static int next_event(yaml_ctx_t *ctx, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&ctx->parser, ev))
        return parser_error(ctx);
    return 0;
}

static bool scalar_is_null(const yaml_event_t *ev)
{
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)ev->data.scalar.value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static int scalar_dup(yaml_ctx_t *ctx, const yaml_event_t *ev, char **out)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (memchr(v, '\0', len) != NULL)
        return error_at(ctx, ev->start_mark, "%s", "a value must not contain a NUL character");
    *out = sl_strdup(v);
    return *out == NULL ? -ENOMEM : 0;
}

static int alias_error(yaml_ctx_t *ctx, const yaml_event_t *ev)
{
    return error_at(ctx, ev->start_mark, "alias *%s is not supported; write the value out in full",
                    (const char *)ev->data.alias.anchor);
}

/* Refuses a second entry with the same flattened name. */
static int check_duplicate(yaml_ctx_t *ctx, const sl_cfg_entry_t *entry)
{
    for (size_t i = 0; i < ctx->out->count; i++) {
        const sl_cfg_entry_t *other = &ctx->out->entries[i];
        if (strcmp(other->name, entry->name) != 0)
            continue;
        snprintf(ctx->err, ctx->err_len, "%s:%u:%u: %s: duplicate key (first set at %u:%u)",
                 ctx->file, entry->key_line, entry->key_column, entry->name, other->key_line,
                 other->key_column);
        return SL_ECONFIG;
    }
    return 0;
}

/* Reads the items of a sequence whose SEQUENCE_START was just consumed. */
static int read_sequence(yaml_ctx_t *ctx, sl_cfg_entry_t *entry)
{
    entry->is_list = true;
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(ctx, &ev);
        if (rc != 0)
            return rc;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (ev.type == YAML_ALIAS_EVENT)
            rc = alias_error(ctx, &ev);
        else if (ev.type != YAML_SCALAR_EVENT)
            rc = error_at(ctx, ev.start_mark, "%s: list items must be plain values", entry->name);
        else if (entry->item_count >= SL_CONFIG_LIST_ITEMS_MAX)
            rc = error_at(ctx, ev.start_mark, "%s: list has too many items", entry->name);
        if (rc == 0) {
            char **grown = sl_realloc(entry->items, (entry->item_count + 1) * sizeof(char *));
            rc = grown == NULL ? -ENOMEM : 0;
            if (grown != NULL) {
                entry->items = grown;
                rc = scalar_dup(ctx, &ev, &entry->items[entry->item_count]);
                if (rc == 0)
                    entry->item_count++;
            }
        }
        yaml_event_delete(&ev);
        if (rc != 0)
            return rc;
    }
}

/* Appends key to the current prefix in ctx->name; returns the new length or an error. */
static int name_push(yaml_ctx_t *ctx, const yaml_event_t *key, size_t *len_out)
{
    size_t prefix = ctx->prefix_len[ctx->depth - 1];
    const char *k = (const char *)key->data.scalar.value;
    size_t klen = key->data.scalar.length;
    if (klen == 0)
        return error_at(ctx, key->start_mark, "%s", "empty key");
    if (memchr(k, '\0', klen) != NULL)
        return error_at(ctx, key->start_mark, "%s", "a key must not contain a NUL character");
    size_t len = prefix + (prefix > 0 ? 1 : 0) + klen;
    if (len >= SL_CONFIG_NAME_BYTES_MAX)
        return error_at(ctx, key->start_mark, "key is longer than %d bytes",
                        SL_CONFIG_NAME_BYTES_MAX - 1);
    if (prefix > 0)
        ctx->name[prefix] = '.';
    memcpy(ctx->name + len - klen, k, klen);
    ctx->name[len] = '\0';
    *len_out = len;
    return 0;
}

/* Handles the value that follows key (already consumed): a scalar or list becomes an entry, a
 * mapping opens a new level. */
static int read_value(yaml_ctx_t *ctx, const yaml_event_t *key)
{
    size_t len = 0;
    int rc = name_push(ctx, key, &len);
    if (rc != 0)
        return rc;
    yaml_event_t ev;
    rc = next_event(ctx, &ev);
    if (rc != 0)
        return rc;
    if (ev.type == YAML_MAPPING_START_EVENT) {
        if (ctx->depth > SL_CONFIG_DEPTH_MAX)
            rc = error_at(ctx, ev.start_mark, "mappings are nested deeper than %d levels",
                          SL_CONFIG_DEPTH_MAX);
        else
            ctx->prefix_len[ctx->depth++] = len;
        yaml_event_delete(&ev);
        return rc;
    }
    sl_cfg_entry_t entry = {
        .source = SL_CONFIG_SOURCE_FILE,
        .key_line = (uint32_t)key->start_mark.line + 1,
        .key_column = (uint32_t)key->start_mark.column + 1,
        .value_line = (uint32_t)ev.start_mark.line + 1,
        .value_column = (uint32_t)ev.start_mark.column + 1,
    };
    entry.name = sl_strdup(ctx->name);
    if (entry.name == NULL)
        rc = -ENOMEM;
    else if (ev.type == YAML_ALIAS_EVENT)
        rc = alias_error(ctx, &ev);
    else if (ev.type == YAML_SEQUENCE_START_EVENT)
        rc = read_sequence(ctx, &entry);
    else if (scalar_is_null(&ev))
        entry.is_null = true;
    else if ((entry.items = sl_calloc(1, sizeof(char *))) == NULL)
        rc = -ENOMEM;
    else if ((rc = scalar_dup(ctx, &ev, &entry.items[0])) == 0)
        entry.item_count = 1;
    if (rc == 0)
        rc = check_duplicate(ctx, &entry);
    if (rc == 0) {
        rc = sl__config_entries_push(ctx->out, &entry);
        if (rc == SL_ELIMIT)
            rc = error_at(ctx, key->start_mark, "more than %d keys", SL_CONFIG_ENTRIES_MAX);
    }
    entry_free(&entry);
    yaml_event_delete(&ev);
    return rc;
}

/* Reads mappings until the top-level one ends; its MAPPING_START was just consumed. */
static int read_mappings(yaml_ctx_t *ctx)
{
    ctx->depth = 1;
    ctx->prefix_len[0] = 0;
    while (ctx->depth > 0) {
        yaml_event_t ev;
        int rc = next_event(ctx, &ev);
        if (rc != 0)
            return rc;
        if (ev.type == YAML_MAPPING_END_EVENT)
            ctx->depth--;
        else if (ev.type == YAML_SCALAR_EVENT)
            rc = read_value(ctx, &ev);
        else if (ev.type == YAML_ALIAS_EVENT)
            rc = alias_error(ctx, &ev);
        else
            rc = error_at(ctx, ev.start_mark, "%s", "a key must be a plain value");
        yaml_event_delete(&ev);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* One document: a mapping, or nothing at all (an empty file means every default). */
static int read_document(yaml_ctx_t *ctx)
{
    yaml_event_t ev;
    int rc = next_event(ctx, &ev);
    if (rc != 0)
        return rc;
    if (ev.type == YAML_MAPPING_START_EVENT)
        rc = read_mappings(ctx);
    else if (ev.type == YAML_SCALAR_EVENT && scalar_is_null(&ev))
        rc = 0;
    else if (ev.type == YAML_SCALAR_EVENT)
        rc = error_at(ctx, ev.start_mark,
                      "the top level must be a mapping of keys to values, got %s", "a scalar");
    else if (ev.type == YAML_SEQUENCE_START_EVENT)
        rc = error_at(ctx, ev.start_mark,
                      "the top level must be a mapping of keys to values, got %s", "a list");
    else if (ev.type == YAML_ALIAS_EVENT)
        rc = alias_error(ctx, &ev);
    else
        rc = error_at(ctx, ev.start_mark, "%s", "unexpected YAML event");
    yaml_event_delete(&ev);
    return rc;
}

static int read_stream(yaml_ctx_t *ctx)
{
    size_t documents = 0;
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(ctx, &ev);
        if (rc != 0)
            return rc;
        yaml_event_type_t type = ev.type;
        yaml_mark_t mark = ev.start_mark;
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT)
            return 0;
        if (type == YAML_STREAM_START_EVENT || type == YAML_DOCUMENT_END_EVENT)
            continue;
        if (type != YAML_DOCUMENT_START_EVENT)
            return error_at(ctx, mark, "%s", "unexpected YAML event");
        if (++documents > 1)
            return error_at(ctx, mark, "%s", "only one YAML document is allowed");
        rc = read_document(ctx);
        if (rc != 0)
            return rc;
    }
}

int sl__config_yaml_parse(const char *name, const char *yaml, size_t len, sl_cfg_entries_t *out,
                          char *err, size_t err_len)
{
    SL_ASSERT(name != NULL && out != NULL);
    SL_ASSERT(yaml != NULL || len == 0);
    yaml_ctx_t *ctx = sl_calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return -ENOMEM;
    ctx->file = name;
    ctx->yaml = yaml;
    ctx->yaml_len = len;
    ctx->out = out;
    ctx->err = err;
    ctx->err_len = err_len;
    if (!yaml_parser_initialize(&ctx->parser)) {
        sl_free(ctx);
        return -ENOMEM;
    }
    static const unsigned char empty[1] = {0};
    yaml_parser_set_input_string(&ctx->parser, len > 0 ? (const unsigned char *)yaml : empty, len);
    int rc = read_stream(ctx);
    yaml_parser_delete(&ctx->parser);
    sl_free(ctx);
    SL_ASSERT(rc != 0 || out->count <= SL_CONFIG_ENTRIES_MAX);
    return rc;
}
