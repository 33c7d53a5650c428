/* topic_config.c: the one table of Kafka 3.9's topic-level configs (type, bounds, valid values, the
 * broker key each one defaults from, docs) and what walks it: Kafka-compatible validation of an
 * override, the default a topic without an override has, and the effective settings a log needs.
 * Invariants: every default_text passes its own key's validation (a unit test checks it); the
 * error texts are Kafka's (ConfigDef), since clients show them to people verbatim. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_int.h"

static const char *const tc_cleanup_values[] = {"compact", "delete", NULL};
static const char *const tc_compression_values[] = {"uncompressed", "zstd",     "lz4", "snappy",
                                                    "gzip",         "producer", NULL};
static const char *const tc_timestamp_values[] = {"CreateTime", "LogAppendTime", NULL};

#define T_LONG(lo, hi) .type = SL_CONFIG_TYPE_LONG, .min = (lo), .max = (hi)
#define T_INT(lo, hi) .type = SL_CONFIG_TYPE_INT, .min = (lo), .max = (hi)
#define T_BOOL .type = SL_CONFIG_TYPE_BOOLEAN
#define T_ENUM(values) .type = SL_CONFIG_TYPE_STRING, .valid_values = values
#define T_LIST(values) .type = SL_CONFIG_TYPE_LIST, .valid_values = values
#define L_MAX INT64_MAX
#define I_MAX INT32_MAX
#define L_MAX_TEXT "9223372036854775807"
#define SYN(name) .broker_synonym = name
#define IMP_HIGH .importance = SL_CONFIG_IMPORTANCE_HIGH
#define IMP_MEDIUM .importance = SL_CONFIG_IMPORTANCE_MEDIUM
#define IMP_LOW .importance = SL_CONFIG_IMPORTANCE_LOW

/* Sorted by name, as Kafka lists them. A throttled-replicas list has no valid_values: its items
 * are checked by throttled_replicas_valid. */
static const sl_topic_config_key_t topic_keys[] = {
    {"cleanup.policy", T_LIST(tc_cleanup_values), .default_text = "delete",
     SYN("log.cleanup.policy"), IMP_MEDIUM,
     .doc = "delete removes old segments by retention time or size; compact keeps the latest "
            "record of each key. Both may be given."},
    {"compression.type", T_ENUM(tc_compression_values), .default_text = "producer",
     SYN("compression.type"), IMP_MEDIUM,
     .doc = "Compression of the topic's stored batches; producer keeps the producer's codec."},
    {"delete.retention.ms", T_LONG(0, L_MAX), .default_text = "86400000",
     SYN("log.cleaner.delete.retention.ms"), IMP_MEDIUM,
     .doc = "How long delete tombstones are kept on compacted topics."},
    {"file.delete.delay.ms", T_LONG(0, L_MAX), .default_text = "60000",
     SYN("log.segment.delete.delay.ms"), IMP_MEDIUM,
     .doc = "How long a segment removed by retention stays on disk before its files go."},
    {"flush.messages", T_LONG(1, L_MAX), .default_text = L_MAX_TEXT,
     SYN("log.flush.interval.messages"), IMP_MEDIUM,
     .doc = "Flush the partition to disk after this many records (with storage.sync.policy "
            "interval; with ack every acknowledged write is already on disk)."},
    {"flush.ms", T_LONG(0, L_MAX), .default_text = L_MAX_TEXT, SYN("log.flush.interval.ms"),
     IMP_MEDIUM, .doc = "Flush the partition to disk when unflushed data is this old."},
    {"follower.replication.throttled.replicas", T_LIST(NULL), .default_text = "", IMP_MEDIUM,
     .doc = "Replicas (partition:broker, or *) whose follower replication is throttled."},
    {"index.interval.bytes", T_INT(0, I_MAX), .default_text = "4096",
     SYN("log.index.interval.bytes"), IMP_MEDIUM,
     .doc = "Bytes of log between two offset index entries."},
    {"leader.replication.throttled.replicas", T_LIST(NULL), .default_text = "", IMP_MEDIUM,
     .doc = "Replicas (partition:broker, or *) whose leader-side replication is throttled."},
    {"local.retention.bytes", T_LONG(-2, L_MAX), .default_text = "-2",
     SYN("log.local.retention.bytes"), IMP_MEDIUM,
     .doc = "Tiered storage: bytes kept locally; -2 means retention.bytes. Sluice has no tiered "
            "storage."},
    {"local.retention.ms", T_LONG(-2, L_MAX), .default_text = "-2", SYN("log.local.retention.ms"),
     IMP_MEDIUM,
     .doc = "Tiered storage: time kept locally; -2 means retention.ms. Sluice has no tiered "
            "storage."},
    {"max.compaction.lag.ms", T_LONG(1, L_MAX), .default_text = L_MAX_TEXT,
     SYN("log.cleaner.max.compaction.lag.ms"), IMP_MEDIUM,
     .doc = "Longest time a record stays uncompacted on a compacted topic."},
    {"max.message.bytes", T_INT(0, I_MAX), .default_text = "1048588", SYN("message.max.bytes"),
     IMP_MEDIUM, .doc = "Largest record batch the topic accepts, after compression."},
    {"message.downconversion.enable", T_BOOL, .default_text = "true",
     SYN("log.message.downconversion.enable"), IMP_LOW,
     .doc = "Down-convert batches for old fetch versions (accepted, not used: Sluice serves "
            "record batch v2 only)."},
    {"message.timestamp.after.max.ms", T_LONG(0, L_MAX), .default_text = L_MAX_TEXT,
     SYN("log.message.timestamp.after.max.ms"), IMP_MEDIUM,
     .doc = "With CreateTime, refuse batches timestamped further than this in the future."},
    {"message.timestamp.before.max.ms", T_LONG(0, L_MAX), .default_text = L_MAX_TEXT,
     SYN("log.message.timestamp.before.max.ms"), IMP_MEDIUM,
     .doc = "With CreateTime, refuse batches timestamped further than this in the past."},
    {"message.timestamp.difference.max.ms", T_LONG(0, L_MAX), .default_text = L_MAX_TEXT,
     SYN("log.message.timestamp.difference.max.ms"), IMP_MEDIUM,
     .doc = "Deprecated by Kafka in favour of the before/after pair; accepted, not used."},
    {"message.timestamp.type", T_ENUM(tc_timestamp_values), .default_text = "CreateTime",
     SYN("log.message.timestamp.type"), IMP_MEDIUM,
     .doc = "CreateTime keeps the producer's timestamp; LogAppendTime stamps the broker's."},
    {"min.cleanable.dirty.ratio", .type = SL_CONFIG_TYPE_DOUBLE, .min = 0, .max = 1,
     .default_text = "0.5", SYN("log.cleaner.min.cleanable.ratio"), IMP_MEDIUM,
     .doc = "Share of a compacted log that must be uncompacted before it is cleaned."},
    {"min.compaction.lag.ms", T_LONG(0, L_MAX), .default_text = "0",
     SYN("log.cleaner.min.compaction.lag.ms"), IMP_MEDIUM,
     .doc = "Shortest time a record stays uncompacted on a compacted topic."},
    {"min.insync.replicas", T_INT(1, I_MAX), .default_text = "1", SYN("min.insync.replicas"),
     IMP_MEDIUM, .doc = "Replicas that must have a batch before acks=all succeeds."},
    {"preallocate", T_BOOL, .default_text = "false", SYN("log.preallocate"), IMP_MEDIUM,
     .doc = "Allocate a new segment's full size on disk when it is created."},
    {"remote.storage.enable", T_BOOL, .default_text = "false", IMP_MEDIUM,
     .doc = "Tiered storage for the topic. Sluice has none: only false is useful."},
    {"retention.bytes", T_LONG(INT64_MIN, L_MAX), .default_text = "-1", SYN("log.retention.bytes"),
     IMP_MEDIUM,
     .doc = "Largest size of a partition before its oldest segments go; -1 = no limit."},
    {"retention.ms", T_LONG(-1, L_MAX), .default_text = "604800000", SYN("log.retention.ms"),
     IMP_MEDIUM, .doc = "How long closed segments are kept; -1 = forever."},
    {"segment.bytes", T_INT(14, I_MAX), .default_text = "1073741824", SYN("log.segment.bytes"),
     IMP_MEDIUM, .doc = "Size at which the active segment is rolled."},
    {"segment.index.bytes", T_INT(4, I_MAX), .default_text = "10485760",
     SYN("log.index.size.max.bytes"), IMP_MEDIUM,
     .doc = "Largest offset index of one segment; a full index rolls the segment."},
    {"segment.jitter.ms", T_LONG(0, L_MAX), .default_text = "0", SYN("log.roll.jitter.ms"),
     IMP_MEDIUM, .doc = "Random amount subtracted from segment.ms per segment."},
    {"segment.ms", T_LONG(1, L_MAX), .default_text = "604800000", SYN("log.roll.ms"), IMP_MEDIUM,
     .doc = "Age after which the active segment is rolled even if not full."},
    {"unclean.leader.election.enable", T_BOOL, .default_text = "false",
     SYN("unclean.leader.election.enable"), IMP_MEDIUM,
     .doc = "Allow a replica outside the ISR to become leader, losing acknowledged data."},
};

_Static_assert(SL_ARRAY_LEN(topic_keys) <= SL_TOPIC_CONFIG_KEYS_MAX, "bounded key table");

size_t sl_topic_config_key_count(void)
{
    return SL_ARRAY_LEN(topic_keys);
}

const sl_topic_config_key_t *sl_topic_config_key_at(size_t index)
{
    return index < SL_ARRAY_LEN(topic_keys) ? &topic_keys[index] : NULL;
}

const sl_topic_config_key_t *sl_topic_config_key_find(const char *name)
{
    SL_ASSERT(name != NULL);
    for (size_t i = 0; i < SL_ARRAY_LEN(topic_keys); i++)
        if (strcmp(topic_keys[i].name, name) == 0)
            return &topic_keys[i];
    return NULL;
}

/* ---- broker synonym chains ---- */

static const char *const retention_chain[] = {"log.retention.ms", "log.retention.minutes",
                                              "log.retention.hours", NULL};
static const char *const roll_chain[] = {"log.roll.ms", "log.roll.hours", NULL};
static const char *const roll_jitter_chain[] = {"log.roll.jitter.ms", "log.roll.jitter.hours",
                                                NULL};
static const char *const *const chains[] = {retention_chain, roll_chain, roll_jitter_chain};

size_t sl_config_key_synonyms(const char *name, const char **out, size_t max)
{
    SL_ASSERT(name != NULL && out != NULL);
    for (size_t c = 0; c < SL_ARRAY_LEN(chains); c++) {
        bool member = false;
        size_t n = 0;
        for (; chains[c][n] != NULL; n++)
            member = member || strcmp(chains[c][n], name) == 0;
        if (!member)
            continue;
        SL_ASSERT(n <= SL_CONFIG_SYNONYMS_MAX);
        for (size_t i = 0; i < n && i < max; i++)
            out[i] = chains[c][i];
        return n;
    }
    if (max > 0)
        out[0] = name;
    return 1;
}

/* ---- parsing, as Kafka's ConfigDef.parseType does it (values are trimmed first) ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Copies value without surrounding whitespace into buf; false if it does not fit. */
static bool trim_copy(const char *value, char *buf, size_t buf_len)
{
    while (is_space(*value))
        value++;
    size_t len = strlen(value);
    while (len > 0 && is_space(value[len - 1]))
        len--;
    if (len >= buf_len)
        return false;
    memcpy(buf, value, len);
    buf[len] = '\0';
    return true;
}

/* Java's Long.parseLong: optional sign, decimal digits only, no overflow. */
static bool parse_i64(const char *text, int64_t *out)
{
    if (text[0] == '\0' || ((text[0] == '+' || text[0] == '-') && text[1] == '\0'))
        return false;
    for (const char *p = text + (text[0] == '+' || text[0] == '-'); *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0')
        return false;
    *out = (int64_t)v;
    return true;
}

static bool parse_double(const char *text, double *out)
{
    if (text[0] == '\0')
        return false;
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == NULL || *end != '\0' || isnan(v) || isinf(v))
        return false;
    *out = v;
    return true;
}

/* Kafka's booleans ignore case. */
static bool parse_bool(const char *text, bool *out)
{
    if (strcasecmp(text, "true") == 0)
        *out = true;
    else if (strcasecmp(text, "false") == 0)
        *out = false;
    else
        return false;
    return true;
}

/* Index of text in values (Kafka's ValidString is case-sensitive), or -1. */
static int enum_index(const char *const *values, const char *text)
{
    for (int i = 0; values[i] != NULL; i++)
        if (strcmp(values[i], text) == 0)
            return i;
    return -1;
}

static void values_join(const char *const *values, char *out, size_t out_len)
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

/* One item of a throttled replica list: "" or digits:digits. */
static bool replica_item_valid(const char *item, size_t len)
{
    if (len == 0)
        return true;
    size_t i = 0, digits = 0;
    while (i < len && item[i] >= '0' && item[i] <= '9')
        i++, digits++;
    if (digits == 0 || i >= len || item[i] != ':')
        return false;
    i++;
    size_t after = i;
    while (i < len && item[i] >= '0' && item[i] <= '9')
        i++;
    return i == len && i > after;
}

/* Calls check(item) for each trimmed comma-separated item of text ("" has no items, as Kafka's
 * LIST parsing gives an empty list); returns the first failing item's index via *bad. */
typedef bool (*item_check_fn)(const sl_topic_config_key_t *key, const char *item, size_t len);

static bool list_item_check(const sl_topic_config_key_t *key, const char *item, size_t len)
{
    if (key->valid_values == NULL)
        return replica_item_valid(item, len);
    for (size_t i = 0; key->valid_values[i] != NULL; i++)
        if (strlen(key->valid_values[i]) == len && memcmp(key->valid_values[i], item, len) == 0)
            return true;
    return false;
}

/* Walks the items of a LIST value; on the first invalid one returns false with it in bad. */
static bool list_valid(const sl_topic_config_key_t *key, const char *text, char *bad,
                       size_t bad_len)
{
    if (text[0] == '\0')
        return true;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *item = p;
        while (len > 0 && is_space(item[0]))
            item++, len--;
        while (len > 0 && is_space(item[len - 1]))
            len--;
        if (!list_item_check(key, item, len)) {
            snprintf(bad, bad_len, "%.*s", (int)len, item);
            return false;
        }
        if (comma == NULL)
            return true;
        p = comma + 1;
    }
}

SL_PRINTF(5, 6)
static int invalid(const sl_topic_config_key_t *key, const char *shown, char *err, size_t err_len,
                   const char *fmt, ...)
{
    if (err_len == 0)
        return SL_ECONFIG;
    char why[SL_TOPIC_CONFIG_VALUE_BYTES_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(err, err_len, "Invalid value %s for configuration %s: %s", shown, key->name, why);
    return SL_ECONFIG;
}

static int validate_number(const sl_topic_config_key_t *key, const char *raw, const char *text,
                           char *err, size_t err_len)
{
    const char *type_name = key->type == SL_CONFIG_TYPE_INT ? "INT" : "LONG";
    int64_t v;
    if (!parse_i64(text, &v) ||
        (key->type == SL_CONFIG_TYPE_INT && (v < INT32_MIN || v > INT32_MAX)))
        return invalid(key, raw, err, err_len, "Not a number of type %s", type_name);
    char shown[32];
    snprintf(shown, sizeof(shown), "%" PRId64, v);
    if (v < key->min)
        return invalid(key, shown, err, err_len, "Value must be at least %" PRId64, key->min);
    if (v > key->max)
        return invalid(key, shown, err, err_len, "Value must be no more than %" PRId64, key->max);
    return 0;
}

static int validate_double(const sl_topic_config_key_t *key, const char *raw, const char *text,
                           char *err, size_t err_len)
{
    double v;
    if (!parse_double(text, &v))
        return invalid(key, raw, err, err_len, "Not a number of type DOUBLE");
    /* Kafka prints the parsed double (Java's Double.toString: 2 -> "2.0"). */
    char shown[64];
    if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v)
        snprintf(shown, sizeof(shown), "%.1f", v);
    else
        snprintf(shown, sizeof(shown), "%.60s", text);
    if (v < (double)key->min)
        return invalid(key, shown, err, err_len, "Value must be at least %" PRId64, key->min);
    if (v > (double)key->max)
        return invalid(key, shown, err, err_len, "Value must be no more than %" PRId64, key->max);
    return 0;
}

static int validate_list(const sl_topic_config_key_t *key, const char *text, char *err,
                         size_t err_len)
{
    char bad[SL_TOPIC_CONFIG_VALUE_BYTES_MAX];
    char all[SL_TOPIC_CONFIG_VALUE_BYTES_MAX + 2];
    if (key->valid_values != NULL) {
        if (list_valid(key, text, bad, sizeof(bad)))
            return 0;
        values_join(key->valid_values, all, sizeof(all));
        return invalid(key, bad, err, err_len, "String must be one of: %s", all);
    }
    if (strcmp(text, "*") == 0 || list_valid(key, text, bad, sizeof(bad)))
        return 0;
    /* Kafka prints the parsed list, as Java's List.toString does. */
    snprintf(all, sizeof(all), "[%s]", text);
    return invalid(key, all, err, err_len,
                   "%s must be the literal '*' or a list of replicas in the following format: "
                   "[partitionId]:[brokerId],[partitionId]:[brokerId],...",
                   key->name);
}

int sl_topic_config_validate(const char *name, const char *value, char *err, size_t err_len)
{
    SL_ASSERT(name != NULL && value != NULL);
    SL_ASSERT(err != NULL || err_len == 0);
    const sl_topic_config_key_t *key = sl_topic_config_key_find(name);
    if (key == NULL) {
        if (err_len > 0)
            snprintf(err, err_len, "Unknown topic config name: %s", name);
        return SL_ENOTFOUND;
    }
    return sl__topic_config_check(key, value, err, err_len);
}

int sl__topic_config_check(const sl_topic_config_key_t *key, const char *value, char *err,
                           size_t err_len)
{
    SL_ASSERT(key != NULL && value != NULL);
    char text[SL_TOPIC_CONFIG_VALUE_BYTES_MAX];
    if (!trim_copy(value, text, sizeof(text)))
        return invalid(key, "(too long)", err, err_len, "longer than %d bytes",
                       SL_TOPIC_CONFIG_VALUE_BYTES_MAX - 1);
    bool b;
    char all[SL_TOPIC_CONFIG_VALUE_BYTES_MAX];
    switch (key->type) {
    case SL_CONFIG_TYPE_INT:
    case SL_CONFIG_TYPE_LONG:
        return validate_number(key, value, text, err, err_len);
    case SL_CONFIG_TYPE_DOUBLE:
        return validate_double(key, value, text, err, err_len);
    case SL_CONFIG_TYPE_BOOLEAN:
        if (parse_bool(text, &b))
            return 0;
        return invalid(key, value, err, err_len, "Expected value to be either true or false");
    case SL_CONFIG_TYPE_STRING:
        if (key->valid_values == NULL || enum_index(key->valid_values, text) >= 0)
            return 0;
        values_join(key->valid_values, all, sizeof(all));
        return invalid(key, text, err, err_len, "String must be one of: %s", all);
    case SL_CONFIG_TYPE_LIST:
        return validate_list(key, text, err, err_len);
    default:
        sl_panic(__FILE__, __LINE__, "topic config table holds an unsupported type");
    }
    return SL_ECONFIG;
}

/* ---- defaults from the broker configuration ---- */

/* Broker keys whose sl_config_t field holds the effective value of a whole synonym chain while
 * sl_config_value_text reports null for an unset key (as Kafka's DescribeConfigs does). */
static bool effective_broker_value(const sl_config_t *broker, const char *name, int64_t *out)
{
    if (strcmp(name, "log.retention.ms") == 0)
        *out = broker->log_retention_ms;
    else if (strcmp(name, "log.roll.ms") == 0)
        *out = broker->log_roll_ms;
    else if (strcmp(name, "log.flush.interval.ms") == 0)
        *out = broker->log_flush_interval_ms;
    else
        return false;
    return true;
}

static sl_config_source_t chain_source(const sl_config_t *broker, const char *synonym)
{
    const char *chain[SL_CONFIG_SYNONYMS_MAX];
    size_t n = sl_config_key_synonyms(synonym, chain, SL_ARRAY_LEN(chain));
    SL_ASSERT(n <= SL_ARRAY_LEN(chain));
    for (size_t i = 0; i < n; i++) {
        const sl_config_key_t *bk = sl_config_key_find(chain[i]);
        if (bk != NULL && sl_config_value_source(broker, bk) != SL_CONFIG_SOURCE_DEFAULT)
            return sl_config_value_source(broker, bk);
    }
    return SL_CONFIG_SOURCE_DEFAULT;
}

int sl_topic_config_default(const sl_config_t *broker, const sl_topic_config_key_t *key, char *out,
                            size_t out_len, sl_config_source_t *source)
{
    SL_ASSERT(broker != NULL && key != NULL);
    SL_ASSERT(out != NULL && out_len > 0);
    const sl_config_key_t *bk =
        key->broker_synonym != NULL ? sl_config_key_find(key->broker_synonym) : NULL;
    if (source != NULL)
        *source = bk != NULL ? chain_source(broker, key->broker_synonym) : SL_CONFIG_SOURCE_DEFAULT;
    int64_t v;
    int n;
    if (bk == NULL) {
        n = snprintf(out, out_len, "%s", key->default_text);
    } else if (effective_broker_value(broker, bk->name, &v)) {
        n = snprintf(out, out_len, "%" PRId64, v);
    } else {
        int rc = sl_config_value_text(broker, bk, out, out_len);
        /* Every synonym Sluice has is non-nullable apart from the effective-value keys. */
        SL_ASSERT(rc != SL_ENOTFOUND);
        return rc;
    }
    return n >= 0 && (size_t)n < out_len ? 0 : SL_ELIMIT;
}

/* ---- effective settings for the log ---- */

enum { EFF_I64, EFF_I32, EFF_BOOL, EFF_TIMESTAMP, EFF_CLEANUP, EFF_COMPRESSION, EFF_DOUBLE };

typedef struct {
    const char *name;
    uint8_t kind;
    size_t offset;
} eff_field_t;

#define EFF(n, k, f)                                                                               \
    {                                                                                              \
        n, k, offsetof(sl_topic_log_settings_t, f)                                                 \
    }
static const eff_field_t eff_fields[] = {
    EFF("segment.bytes", EFF_I64, segment_bytes),
    EFF("segment.ms", EFF_I64, segment_ms),
    EFF("retention.ms", EFF_I64, retention_ms),
    EFF("retention.bytes", EFF_I64, retention_bytes),
    EFF("index.interval.bytes", EFF_I32, index_interval_bytes),
    EFF("segment.index.bytes", EFF_I32, segment_index_bytes),
    EFF("max.message.bytes", EFF_I32, max_message_bytes),
    EFF("min.insync.replicas", EFF_I32, min_insync_replicas),
    EFF("flush.messages", EFF_I64, flush_messages),
    EFF("flush.ms", EFF_I64, flush_ms),
    EFF("file.delete.delay.ms", EFF_I64, file_delete_delay_ms),
    EFF("message.timestamp.before.max.ms", EFF_I64, message_timestamp_before_max_ms),
    EFF("message.timestamp.after.max.ms", EFF_I64, message_timestamp_after_max_ms),
    EFF("message.timestamp.type", EFF_TIMESTAMP, log_append_time),
    EFF("preallocate", EFF_BOOL, preallocate),
    EFF("cleanup.policy", EFF_CLEANUP, cleanup_delete),
    EFF("compression.type", EFF_COMPRESSION, compression_type),
    EFF("delete.retention.ms", EFF_I64, delete_retention_ms),
    EFF("min.compaction.lag.ms", EFF_I64, min_compaction_lag_ms),
    EFF("max.compaction.lag.ms", EFF_I64, max_compaction_lag_ms),
    EFF("min.cleanable.dirty.ratio", EFF_DOUBLE, min_cleanable_dirty_ratio),
};

static void broker_defaults(const sl_config_t *b, sl_topic_log_settings_t *out)
{
    *out = (sl_topic_log_settings_t){
        .segment_bytes = b->log_segment_bytes,
        .segment_ms = b->log_roll_ms,
        .retention_ms = b->log_retention_ms,
        .retention_bytes = b->log_retention_bytes,
        .index_interval_bytes = b->log_index_interval_bytes,
        .segment_index_bytes = b->log_index_size_max_bytes,
        .max_message_bytes = b->message_max_bytes,
        .min_insync_replicas = b->min_insync_replicas,
        .flush_messages = b->log_flush_interval_messages,
        .flush_ms = b->log_flush_interval_ms,
        .file_delete_delay_ms = b->log_segment_delete_delay_ms,
        .message_timestamp_before_max_ms = b->log_message_timestamp_before_max_ms,
        .message_timestamp_after_max_ms = b->log_message_timestamp_after_max_ms,
        .log_append_time = b->log_message_timestamp_type == SL_CONFIG_TIMESTAMP_LOG_APPEND_TIME,
        .sync_on_ack = b->storage_sync_policy == SL_STORAGE_SYNC_ACK,
        .preallocate = b->log_preallocate,
        .compression_type = b->compression_type,
        /* Kafka's defaults: the broker-wide log.cleaner.* synonyms are accepted but not used. */
        .delete_retention_ms = 86400000,
        .min_compaction_lag_ms = 0,
        .max_compaction_lag_ms = INT64_MAX,
        .min_cleanable_dirty_ratio = 0.5,
    };
    for (size_t i = 0; i < b->log_cleanup_policy_count; i++) {
        out->cleanup_delete |= strcmp(b->log_cleanup_policy[i], "delete") == 0;
        out->cleanup_compact |= strcmp(b->log_cleanup_policy[i], "compact") == 0;
    }
}

/* Stores one validated override; text is already trimmed. */
static void eff_apply(const eff_field_t *f, const char *text, sl_topic_log_settings_t *out)
{
    char *field = (char *)out + f->offset;
    int64_t v = 0;
    bool b = false;
    switch (f->kind) {
    case EFF_I64:
        if (parse_i64(text, &v))
            memcpy(field, &v, sizeof(int64_t));
        break;
    case EFF_I32:
        if (parse_i64(text, &v) && v >= INT32_MIN && v <= INT32_MAX) {
            int32_t v32 = (int32_t)v;
            memcpy(field, &v32, sizeof(int32_t));
        }
        break;
    case EFF_BOOL:
        if (parse_bool(text, &b))
            out->preallocate = b;
        break;
    case EFF_TIMESTAMP:
        out->log_append_time = strcmp(text, "LogAppendTime") == 0;
        break;
    case EFF_CLEANUP:
        /* Item by item, as validated: "compact, delete" holds both. */
        out->cleanup_compact = strstr(text, "compact") != NULL;
        out->cleanup_delete = strstr(text, "delete") != NULL;
        break;
    case EFF_DOUBLE: {
        char *end = NULL;
        double d = strtod(text, &end);
        if (end != text && *end == 0)
            memcpy(field, &d, sizeof d);
        break;
    }
    case EFF_COMPRESSION: {
        int idx = enum_index(tc_compression_values, text);
        if (idx >= 0)
            out->compression_type = (sl_compression_config_t)idx;
        break;
    }
    default:
        sl_panic(__FILE__, __LINE__, "unknown effective field kind");
    }
}

void sl_topic_config_effective(const sl_config_t *broker, const char *const *names,
                               const char *const *values, size_t count,
                               sl_topic_log_settings_t *out)
{
    SL_ASSERT(broker != NULL && out != NULL);
    SL_ASSERT(count == 0 || (names != NULL && values != NULL));
    broker_defaults(broker, out);
    for (size_t i = 0; i < count; i++) {
        char text[SL_TOPIC_CONFIG_VALUE_BYTES_MAX];
        /* Overrides were validated when the topic was created; anything else is skipped. */
        if (sl_topic_config_validate(names[i], values[i], NULL, 0) != 0 ||
            !trim_copy(values[i], text, sizeof(text)))
            continue;
        for (size_t f = 0; f < SL_ARRAY_LEN(eff_fields); f++)
            if (strcmp(eff_fields[f].name, names[i]) == 0)
                eff_apply(&eff_fields[f], text, out);
    }
    SL_ASSERT(out->segment_bytes > 0);
}
