/* config_int.h: what the files of src/config share and unit tests may reach: the raw entries read
 * from YAML and the environment before they are typed, the key table, and the helpers that parse
 * listeners, expand ${VAR} and suggest key names.
 * Invariants: an entry always has at least one item unless it is a list or null; every string an
 * entry holds is owned by it; the key table is sorted by nothing but is searched by exact name. */
#ifndef SLUICE_CONFIG_INT_H
#define SLUICE_CONFIG_INT_H

#include "sluice/config.h"

/* How a key's value is stored in sl_config_t (sl_config_key_t.storage). */
enum {
    SL_CFG_STORE_BOOL = 1,  /* bool */
    SL_CFG_STORE_I16,       /* int16_t */
    SL_CFG_STORE_I32,       /* int32_t */
    SL_CFG_STORE_I64,       /* int64_t */
    SL_CFG_STORE_STR,       /* char *, owned */
    SL_CFG_STORE_STRLIST,   /* char ** at offset, size_t count at count_offset, all owned */
    SL_CFG_STORE_LISTENERS, /* sl_listener_config_t[SL_LISTENERS_MAX], size_t at count_offset */
    SL_CFG_STORE_ENUM,      /* an enum (int-sized); the value is the index in valid_values */
    SL_CFG_STORE_VOTERS /* sl_quorum_voter_config_t[SL_CONFIG_QUORUM_VOTERS_MAX], size_t count */
};

/* One key = value found in the file or the environment, before it is typed. */
typedef struct {
    char *name;   /* owned, the flattened dotted name */
    char **items; /* owned; a scalar has exactly one item, a YAML list has item_count items */
    size_t item_count;
    bool is_list; /* written as a YAML sequence */
    bool is_null; /* a plain empty, "~" or "null" scalar */
    sl_config_source_t source;
    uint32_t key_line, key_column;     /* 1-based; 0 for the environment */
    uint32_t value_line, value_column; /* 1-based; 0 for the environment */
    char *env_name;                    /* owned; the variable, for SL_CONFIG_SOURCE_ENV */
} sl_cfg_entry_t;

typedef struct {
    sl_cfg_entry_t *entries; /* owned */
    size_t count, cap;
} sl_cfg_entries_t;

void sl__config_entries_deinit(sl_cfg_entries_t *entries);
/* Appends an entry, taking name and items (freed here on failure). Returns 0 or SL_ELIMIT/-ENOMEM.
 */
int sl__config_entries_push(sl_cfg_entries_t *entries, sl_cfg_entry_t *entry);

/* Parses YAML text into flattened entries, rejecting duplicates. On failure writes
 * "name:line:column: reason" to err and returns SL_ECONFIG (or -ENOMEM). */
int sl__config_yaml_parse(const char *name, const char *yaml, size_t len, sl_cfg_entries_t *out,
                          char *err, size_t err_len);
/* Appends one entry per SLUICE_CFG_* variable in the environment. */
int sl__config_env_collect(sl_cfg_entries_t *out, char *err, size_t err_len);
/* "SLUICE_CFG_LOG_RETENTION_MS" for "log.retention.ms"; returns SL_ELIMIT if out is too small. */
int sl__config_env_name(const char *key, char *out, size_t out_len);
/* Expands ${VAR} from the environment and $$ to $. *out is owned by the caller. On failure writes
 * the reason (naming the variable) to why and returns SL_ECONFIG or -ENOMEM. */
int sl__config_expand(const char *in, char **out, char *why, size_t why_len);

/* The key table. */
extern const sl_config_key_t sl__config_keys[];
extern const size_t sl__config_keys_count;
/* Index of key in the table. */
size_t sl__config_key_index(const sl_config_key_t *key);
/* sl_config_init_defaults that returns -ENOMEM (cfg then zeroed) instead of asserting. */
int sl__config_defaults_apply(sl_config_t *cfg);
/* Converts text items into key's field in cfg (replacing, and freeing, the old value). is_list says
 * whether the items came as a YAML sequence. On failure writes the reason to why. */
int sl__config_value_set(sl_config_t *cfg, const sl_config_key_t *key, char *const *items,
                         size_t item_count, bool is_list, char *why, size_t why_len);

/* What a load knows while it validates: which entry set each key, for error locations. */
typedef struct {
    const char *file_name;                            /* borrowed */
    const sl_cfg_entry_t *set_by[SL_CONFIG_KEYS_MAX]; /* borrowed; NULL = default */
} sl_cfg_load_t;

/* Writes "where: key: reason" for key (where is file:line:column of the entry that set it, the
 * environment variable, or the file name for a default). Returns SL_ECONFIG. */
SL_PRINTF(5, 6)
int sl__config_key_error(const sl_cfg_load_t *load, const sl_config_key_t *key, char *err,
                         size_t err_len, const char *fmt, ...);
/* Applies the rules between keys (log.dir/log.dirs, ms > minutes > hours, listeners against the
 * protocol map, advertised listeners, session timeouts). load may have no entries (defaults). */
int sl__config_resolve(sl_config_t *cfg, const sl_cfg_load_t *load, char *err, size_t err_len);

/* True for a real Apache Kafka broker key (or key family) that Sluice accepts and ignores. */
bool sl__config_kafka_key_known(const char *name);
/* The known key (Sluice's or Kafka's) closest to name by edit distance, or NULL if none is close.
 */
const char *sl__config_suggest(const char *name);
size_t sl__config_edit_distance(const char *a, const char *b);
/* The ignored Kafka keys and key families ("ssl."), for the docs; NULL past the end. */
const char *sl__config_kafka_key_at(size_t index);
const char *sl__config_kafka_prefix_at(size_t index);
/* For tests: kafka_keys must stay sorted for bsearch. */
bool sl__config_kafka_keys_sorted(void);

/* Kafka keys Sluice refuses (rather than ignores) because ignoring them would run something else
 * than the user asked for: the reason for name, or NULL when name is not refused. */
const char *sl__config_kafka_key_refusal(const char *name);
/* The refused keys, for the docs; NULL past the end (reason may be NULL). */
const char *sl__config_kafka_refused_at(size_t index, const char **reason);

/* Parses one controller.quorum.voters entry id@host:port ([v6]:port), port 1..65535. */
int sl__config_voter_parse(const char *text, sl_quorum_voter_config_t *out, char *why,
                           size_t why_len);
/* Formats a voter back into id@host:port (IPv6 hosts bracketed). */
int sl__config_voter_format(const sl_quorum_voter_config_t *voter, char *out, size_t out_len);

/* Parses NAME://host:port (security is left PLAINTEXT; the protocol map decides it later). */
int sl__config_listener_parse(const char *text, sl_listener_config_t *out, char *why,
                              size_t why_len);
/* Parses one listener.security.protocol.map item NAME:PROTOCOL. */
int sl__config_protocol_map_item_parse(const char *text, char *name, size_t name_len,
                                       sl_security_protocol_t *protocol, char *why, size_t why_len);
/* Formats a listener back into NAME://host:port (IPv6 hosts bracketed). */
int sl__config_listener_format(const sl_listener_config_t *listener, char *out, size_t out_len);

/* sl_topic_config_validate for a key already found (or a broker key viewed as one, whose LIST
 * items must then have valid_values): Kafka's ConfigDef parse and its messages. */
int sl__topic_config_check(const sl_topic_config_key_t *key, const char *value, char *err,
                           size_t err_len);

/* Tests replace this to see warnings; production leaves it NULL (warnings go to SL_LOG only). */
typedef void (*sl__config_warning_fn)(const char *key, const char *where);
extern sl__config_warning_fn sl__config_warning_hook;

#endif
