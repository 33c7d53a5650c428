/* config: the broker's configuration, loaded from YAML (a Kubernetes ConfigMap) with Kafka's broker
 * key names, overridden by SLUICE_CFG_* environment variables, with ${VAR} expansion.
 * Invariants: one table (src/config/schema.c) describes every key and drives parsing, validation,
 * docs/configuration.md and DescribeConfigs; a loaded sl_config_t is always fully validated, and
 * bad input is an error naming file:line:column, never a crash or a silent default. */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sluice/core.h"
#include "sluice/limits.h"

/* ---- bounds on configuration input (hostile or careless files cannot grow memory unbounded) ----
 */
/* A config file larger than this is refused before parsing. */
#define SL_CONFIG_FILE_BYTES_MAX (1 * SL_MiB)
/* Keys (after flattening) one file may set. */
#define SL_CONFIG_ENTRIES_MAX 1024
/* Nested mappings below the top level. */
#define SL_CONFIG_DEPTH_MAX 16
/* A flattened key name, including its NUL. */
#define SL_CONFIG_NAME_BYTES_MAX 256
/* One value after ${VAR} expansion, including its NUL. */
#define SL_CONFIG_VALUE_BYTES_MAX (64 * SL_KiB)
/* Items in one list value (log.dirs, listeners, ...). */
#define SL_CONFIG_LIST_ITEMS_MAX 256
/* Keys the table may hold (sl_config_t keeps one source byte per key). */
#define SL_CONFIG_KEYS_MAX 96
/* A comfortable size for the err buffer of the load functions. */
#define SL_CONFIG_ERR_BYTES 512
/* A listener's name and host, including their NULs. */
#define SL_LISTENER_NAME_BYTES_MAX 64
#define SL_LISTENER_HOST_BYTES_MAX 256
/* Entries of controller.quorum.voters (Kafka quorums have 3 or 5 voters; this is generous). */
#define SL_CONFIG_QUORUM_VOTERS_MAX 32

_Static_assert(SL_CONFIG_ENTRIES_MAX *SL_CONFIG_NAME_BYTES_MAX <= SL_CONFIG_FILE_BYTES_MAX,
               "the entry table of a maximal file stays small");

typedef enum {
    SL_SECURITY_PLAINTEXT,
    SL_SECURITY_SSL,
    SL_SECURITY_SASL_PLAINTEXT,
    SL_SECURITY_SASL_SSL
} sl_security_protocol_t;

/* One entry of listeners or advertised.listeners: NAME://host:port. The name is upper case (Kafka
 * normalises listener names); host "" means every interface; an IPv6 host is stored without its
 * brackets; port 0 asks the kernel for an ephemeral port. */
typedef struct {
    char name[SL_LISTENER_NAME_BYTES_MAX];
    char host[SL_LISTENER_HOST_BYTES_MAX];
    uint16_t port;
    sl_security_protocol_t security;
} sl_listener_config_t;

/* One entry of controller.quorum.voters: id@host:port (an IPv6 host is stored without brackets). */
typedef struct {
    int32_t node_id;
    char host[SL_LISTENER_HOST_BYTES_MAX];
    uint16_t port;
} sl_quorum_voter_config_t;

typedef enum { SL_IO_BACKEND_AUTO, SL_IO_BACKEND_IO_URING, SL_IO_BACKEND_SYNC } sl_io_backend_t;

/* storage.sync.policy: ack = a produce with acks=1/all is answered only after fdatasync; interval =
 * Kafka's page-cache behaviour, flushed in the background per flush.messages / flush.ms. */
typedef enum { SL_STORAGE_SYNC_ACK, SL_STORAGE_SYNC_INTERVAL } sl_storage_sync_policy_t;

/* log.message.timestamp.type / message.timestamp.type, in valid_values order. */
typedef enum {
    SL_CONFIG_TIMESTAMP_CREATE_TIME,
    SL_CONFIG_TIMESTAMP_LOG_APPEND_TIME
} sl_timestamp_type_t;

/* compression.type, in Kafka's valid_values order; PRODUCER keeps what the producer sent. */
typedef enum {
    SL_CONFIG_COMPRESSION_UNCOMPRESSED,
    SL_CONFIG_COMPRESSION_ZSTD,
    SL_CONFIG_COMPRESSION_LZ4,
    SL_CONFIG_COMPRESSION_SNAPPY,
    SL_CONFIG_COMPRESSION_GZIP,
    SL_CONFIG_COMPRESSION_PRODUCER
} sl_compression_config_t;

/* Value types, numbered as Kafka's DescribeConfigs ConfigType so they go on the wire unchanged.
 * An "enum" key is a STRING with valid_values; a size is a LONG or INT in bytes. */
typedef enum {
    SL_CONFIG_TYPE_BOOLEAN = 1,
    SL_CONFIG_TYPE_STRING = 2,
    SL_CONFIG_TYPE_INT = 3,
    SL_CONFIG_TYPE_SHORT = 4,
    SL_CONFIG_TYPE_LONG = 5,
    SL_CONFIG_TYPE_DOUBLE = 6,
    SL_CONFIG_TYPE_LIST = 7,
    SL_CONFIG_TYPE_CLASS = 8,
    SL_CONFIG_TYPE_PASSWORD = 9
} sl_config_type_t;

/* Kafka's "update mode": whether AlterConfigs may change the key at run time, and for whom. */
typedef enum {
    SL_CONFIG_READ_ONLY,
    SL_CONFIG_PER_BROKER,
    SL_CONFIG_CLUSTER_WIDE
} sl_config_update_mode_t;

typedef enum {
    SL_CONFIG_IMPORTANCE_HIGH,
    SL_CONFIG_IMPORTANCE_MEDIUM,
    SL_CONFIG_IMPORTANCE_LOW
} sl_config_importance_t;

/* Where a key's value came from (DescribeConfigs maps FILE and ENV to STATIC_BROKER_CONFIG). The
 * dynamic sources exist only in the effective configuration sl_config_dynamic_apply builds. */
typedef enum {
    SL_CONFIG_SOURCE_DEFAULT = 0,
    SL_CONFIG_SOURCE_FILE,
    SL_CONFIG_SOURCE_ENV,
    SL_CONFIG_SOURCE_DYNAMIC_DEFAULT, /* AlterConfigs on the cluster-wide "" broker resource */
    SL_CONFIG_SOURCE_DYNAMIC_BROKER   /* AlterConfigs on this broker's own id */
} sl_config_source_t;

/* One row of the key table. The fields up to doc are public; the rest belong to src/config. */
typedef struct sl_config_key {
    const char *name;
    sl_config_type_t type;
    /* Kafka's default as text; NULL when Kafka's default is null (the doc says what applies). */
    const char *default_text;
    /* Inclusive bounds of numeric keys (INT, SHORT, LONG); unused otherwise. */
    int64_t min, max;
    /* NULL-terminated list of accepted values (enums; each item of a list); NULL = any. */
    const char *const *valid_values;
    sl_config_update_mode_t update_mode;
    sl_config_importance_t importance;
    /* Never printed or returned (passwords). */
    bool sensitive;
    const char *doc;
    /* private: how the value is stored in sl_config_t */
    uint8_t storage;
    size_t offset, count_offset;
} sl_config_key_t;

/* The whole configuration, every field typed. Strings and lists are owned by the struct and freed
 * by sl_config_deinit. Fields hold effective values: log_dirs falls back to log_dir,
 * log_retention_ms and log_roll_ms already apply Kafka's ms > minutes > hours precedence, and
 * advertised_listeners falls back to listeners. */
typedef struct sl_config {
    int32_t node_id;
    char *log_dir; /* owned */
    /* owned; metadata.log.dir, effective: one of log_dirs (the first when unset) */
    char *metadata_log_dir;
    char *cluster_id; /* cluster.id; owned, NULL when unset */
    char **log_dirs;  /* owned, log_dirs_count >= 1 */
    size_t log_dirs_count;
    sl_listener_config_t listeners[SL_LISTENERS_MAX];
    size_t listeners_count;
    sl_listener_config_t advertised_listeners[SL_LISTENERS_MAX];
    size_t advertised_listeners_count;
    char **listener_security_protocol_map; /* owned, items "NAME:PROTOCOL" */
    size_t listener_security_protocol_map_count;
    int32_t num_partitions;
    int16_t default_replication_factor;
    bool auto_create_topics_enable;
    int64_t log_segment_bytes;
    int64_t log_roll_ms;
    int32_t log_roll_hours;
    int64_t log_retention_ms; /* -1 = unlimited */
    int32_t log_retention_minutes;
    int32_t log_retention_hours;
    int64_t log_retention_bytes; /* -1 = unlimited */
    int64_t log_retention_check_interval_ms;
    int64_t log_flush_interval_messages;
    int64_t log_flush_interval_ms;
    int32_t log_index_interval_bytes;
    int32_t log_index_size_max_bytes;
    char **log_cleanup_policy; /* owned, items "delete" or "compact" */
    size_t log_cleanup_policy_count;
    bool log_cleaner_enable;
    int32_t log_cleaner_threads;
    int64_t log_cleaner_backoff_ms;
    int64_t log_cleaner_dedupe_buffer_size;
    bool delete_topic_enable;
    int32_t message_max_bytes;
    int32_t socket_request_max_bytes;
    int32_t queued_max_request_bytes; /* -1 = unbounded */
    int64_t connections_max_idle_ms;
    int32_t offsets_topic_num_partitions;
    int32_t offsets_retention_minutes;
    int32_t group_initial_rebalance_delay_ms;
    int32_t group_min_session_timeout_ms;
    int32_t group_max_session_timeout_ms;
    int32_t producer_id_expiration_ms;
    sl_io_backend_t storage_io_backend;
    bool fetch_sendfile_enable;
    sl_log_format_t log_format;
    sl_log_level_t log_level;
    sl_storage_sync_policy_t storage_sync_policy;
    sl_timestamp_type_t log_message_timestamp_type;
    int64_t log_message_timestamp_before_max_ms;
    int64_t log_message_timestamp_after_max_ms;
    int32_t min_insync_replicas;
    sl_compression_config_t compression_type;
    char *inter_broker_protocol_version; /* owned; informational, read-only */
    int64_t log_segment_delete_delay_ms;
    bool unclean_leader_election_enable;
    bool log_preallocate;
    char *broker_rack; /* owned; NULL when unset (Kafka: null) */
    /* http.listeners: /metrics, /healthz, /readyz (name "HTTP", the URL scheme upper-cased) */
    sl_listener_config_t http_listeners[SL_LISTENERS_MAX];
    size_t http_listeners_count;
    /* ---- the cluster (KRaft names; see docs/replication.md) ---- */
    char **process_roles; /* owned, items "broker" and/or "controller" */
    size_t process_roles_count;
    bool process_role_broker;     /* derived from process_roles */
    bool process_role_controller; /* derived from process_roles */
    /* controller.quorum.voters; quorum_voter_count == 0 means no quorum is configured: this node
     * runs alone, exactly as a single-node broker always has. */
    sl_quorum_voter_config_t quorum_voters[SL_CONFIG_QUORUM_VOTERS_MAX];
    size_t quorum_voter_count;
    char **controller_listener_names; /* owned, upper case like listener names */
    size_t controller_listener_names_count;
    /* owned; the effective name: when unset, the first listener that is not a controller one */
    char *inter_broker_listener_name;
    int32_t controller_quorum_election_timeout_ms;
    int32_t controller_quorum_election_backoff_max_ms;
    int32_t controller_quorum_fetch_timeout_ms;
    int32_t controller_quorum_request_timeout_ms;
    int32_t controller_quorum_retry_backoff_ms;
    int32_t broker_session_timeout_ms;    /* broker.session.timeout.ms: fenced after this silence */
    int32_t broker_heartbeat_interval_ms; /* broker.heartbeat.interval.ms */
    int16_t offsets_topic_replication_factor;
    int64_t replica_lag_time_max_ms;
    bool auto_leader_rebalance_enable;
    int32_t replica_fetch_max_bytes;
    int32_t replica_fetch_wait_max_ms;
    /* sl_config_source_t of each key, by table index. */
    uint8_t sources[SL_CONFIG_KEYS_MAX];
} sl_config_t;

/* Fills cfg with every default (allocates the default log_dirs and friends; sl_config_deinit frees
 * them). cfg need not be initialised; anything it held is overwritten, not freed. */
void sl_config_init_defaults(sl_config_t *cfg);

/* Reads a YAML file and then applies SLUICE_CFG_* overrides from the environment. Initialises cfg
 * itself (like sl_config_init_defaults: do not pass a cfg that owns memory). On failure cfg is
 * left zeroed, owning nothing (sl_config_deinit on it is harmless).
 * Returns 0, -errno when the file cannot be read, or SL_ECONFIG; on failure writes one line
 * "file:line:column: key: reason" (no newline) to err. Kafka broker keys Sluice ignores are
 * logged as warnings and do not fail. */
int sl_config_load_file(sl_config_t *cfg, const char *path, char *err, size_t err_len);
/* The same for YAML text in memory; name is used in messages as the file name. */
int sl_config_load_string(sl_config_t *cfg, const char *name, const char *yaml, size_t len,
                          char *err, size_t err_len);
/* Frees what cfg owns; cfg is left zeroed. Safe to call twice. */
void sl_config_deinit(sl_config_t *cfg);

/* Writes the markdown reference of every key (docs/configuration.md). Returns 0 or -EIO. */
int sl_config_write_docs(FILE *out);

/* ---- the key table, for DescribeConfigs/AlterConfigs ---- */
size_t sl_config_key_count(void);
/* Returns NULL when index >= sl_config_key_count(). */
const sl_config_key_t *sl_config_key_at(size_t index);
/* Returns NULL when no key has that exact name. */
const sl_config_key_t *sl_config_key_find(const char *name);
/* Writes key's current value as Kafka would print it (lists comma-separated, listeners as
 * NAME://host:port). Returns 0; SL_ENOTFOUND when the value is null (a nullable key that was not
 * set, or a sensitive one), with out set to ""; SL_ELIMIT when out_len is too small (out then holds
 * a truncated, terminated prefix). */
int sl_config_value_text(const sl_config_t *cfg, const sl_config_key_t *key, char *out,
                         size_t out_len);
/* True when neither the file nor the environment set key. */
bool sl_config_value_is_default(const sl_config_t *cfg, const sl_config_key_t *key);
sl_config_source_t sl_config_value_source(const sl_config_t *cfg, const sl_config_key_t *key);

/* The broker keys that stand for one setting, in Kafka's precedence order (log.retention.ms,
 * log.retention.minutes, log.retention.hours; log.roll.ms, log.roll.hours): writes up to max names
 * (the one given is always among them) and returns how many there are; a key without synonyms is
 * its own chain of one. DescribeConfigs reports synonyms from this chain. */
size_t sl_config_key_synonyms(const char *name, const char **out, size_t max);

/* ---- dynamic broker configuration (src/config/dynamic.c) ----
 * Kafka's AlterConfigs on a broker resource: values set for this broker ("1") win over values set
 * for every broker (""), which win over the static file/environment, which win over the defaults.
 * The broker keeps the layers (and persists them); this module checks values and builds the
 * effective configuration from a static one and the layers. */

/* One layer of dynamic values: names[i]=values[i], borrowed, count of them. Names that are not
 * keys of the table (Kafka keys Sluice ignores, custom keys) are kept by the caller, skipped here.
 */
typedef struct sl_config_layer {
    const char *const *names;
    const char *const *values;
    size_t count;
} sl_config_layer_t;

/* Whether Sluice applies key at run time: Kafka's update mode is not read-only and Sluice can act
 * on a change without a restart (not the listeners, which would need their sockets re-bound). */
bool sl_config_key_runtime_dynamic(const sl_config_key_t *key);

/* A deep copy of src into dst (dst need not be initialised). Returns 0 or -ENOMEM (dst zeroed). */
int sl_config_copy(sl_config_t *dst, const sl_config_t *src);

/* Checks value for key as Kafka's ConfigDef parses a broker value (trimmed; Java's number, boolean
 * and valid-string rules, the table's bounds). Returns 0 or SL_ECONFIG with Kafka's text in err:
 * "Invalid value abc for configuration log.retention.ms: Not a number of type LONG". */
int sl_config_value_check(const sl_config_key_t *key, const char *value, char *err, size_t err_len);

/* Rebuilds every non-read-only key of eff (made from static_cfg by sl_config_copy, and rebuilt
 * only by this function since) from the layers: broker's value, else cluster's, else static_cfg's,
 * with the source recorded (SL_CONFIG_SOURCE_DYNAMIC_BROKER / _DYNAMIC_DEFAULT / static's).
 * Read-only keys and their memory are never touched, so pointers into them stay valid. Returns 0,
 * -ENOMEM, or SL_ECONFIG when a value the check passed is still refused (an empty list); err says
 * why, and eff is then left with the keys done so far (call again with valid layers). */
int sl_config_dynamic_apply(sl_config_t *eff, const sl_config_t *static_cfg,
                            const sl_config_layer_t *cluster, const sl_config_layer_t *broker,
                            char *err, size_t err_len);

/* ---- topic-level configuration (src/config/topic_config.c) ----
 * Kafka 3.9's topic configs: what CreateTopics may set per topic, what DescribeConfigs reports for
 * a topic, and what the log of each partition needs. A topic without an override takes its value
 * from a broker key, its "synonym" (retention.ms <- log.retention.ms, ...). */

/* A synonym chain holds at most this many names. */
#define SL_CONFIG_SYNONYMS_MAX 3
/* The longest text of any topic config value Sluice prints (numbers, enums, short lists). */
#define SL_TOPIC_CONFIG_VALUE_BYTES_MAX 256
/* Rows the topic config table may hold. */
#define SL_TOPIC_CONFIG_KEYS_MAX 64

typedef struct sl_topic_config_key {
    const char *name;
    sl_config_type_t type;
    /* Kafka's default when the broker synonym is not a Sluice key (or there is none). */
    const char *default_text;
    /* Inclusive bounds of INT and LONG keys (DOUBLE keys: min and max as whole numbers). */
    int64_t min, max;
    /* NULL-terminated accepted values (STRING enums and each item of a LIST); NULL = any. */
    const char *const *valid_values;
    /* The broker key the default comes from; NULL for keys without one. */
    const char *broker_synonym;
    sl_config_importance_t importance;
    const char *doc;
} sl_topic_config_key_t;

size_t sl_topic_config_key_count(void);
/* Returns NULL when index >= sl_topic_config_key_count(). */
const sl_topic_config_key_t *sl_topic_config_key_at(size_t index);
/* Returns NULL when no topic config has that exact name. */
const sl_topic_config_key_t *sl_topic_config_key_find(const char *name);

/* Checks one override as Kafka's CreateTopics/AlterConfigs would. Returns 0; SL_ENOTFOUND for an
 * unknown name (err: "Unknown topic config name: x"); SL_ECONFIG for a bad value (err, Kafka's
 * text: "Invalid value abc for configuration retention.ms: Not a number of type LONG"). err may be
 * NULL when err_len is 0. */
int sl_topic_config_validate(const char *name, const char *value, char *err, size_t err_len);

/* The value a topic without an override has for key, derived from the broker configuration, and
 * where it came from (SL_CONFIG_SOURCE_DEFAULT, or FILE/ENV when a broker key of the synonym chain
 * was set). Returns 0 or SL_ELIMIT when out_len is too small (SL_TOPIC_CONFIG_VALUE_BYTES_MAX is
 * always enough). source may be NULL. */
int sl_topic_config_default(const sl_config_t *broker, const sl_topic_config_key_t *key, char *out,
                            size_t out_len, sl_config_source_t *source);

/* What a partition log and the produce path need of a topic's effective configuration. The log
 * module has its own config struct; the broker converts (config must not depend on log). */
typedef struct sl_topic_log_settings {
    int64_t segment_bytes;
    int64_t segment_ms;
    int64_t retention_ms;    /* -1 = unlimited */
    int64_t retention_bytes; /* -1 = unlimited */
    int32_t index_interval_bytes;
    int32_t segment_index_bytes;
    int32_t max_message_bytes;
    int32_t min_insync_replicas;
    int64_t flush_messages; /* INT64_MAX = never by count */
    int64_t flush_ms;       /* INT64_MAX = never by time */
    int64_t file_delete_delay_ms;
    int64_t message_timestamp_before_max_ms;
    int64_t message_timestamp_after_max_ms;
    bool log_append_time; /* message.timestamp.type=LogAppendTime */
    bool sync_on_ack;     /* storage.sync.policy=ack (broker-wide) */
    bool preallocate;
    bool cleanup_delete;  /* cleanup.policy contains delete */
    bool cleanup_compact; /* cleanup.policy contains compact */
    sl_compression_config_t compression_type;
    int64_t delete_retention_ms;
    int64_t min_compaction_lag_ms;
    int64_t max_compaction_lag_ms;
    double min_cleanable_dirty_ratio;
} sl_topic_log_settings_t;

/* Fills out from the broker defaults, then applies the overrides names[i]=values[i] (borrowed,
 * count of them). Overrides are expected to have passed sl_topic_config_validate; one that does
 * not (or a key with no field here) is ignored. */
void sl_topic_config_effective(const sl_config_t *broker, const char *const *names,
                               const char *const *values, size_t count,
                               sl_topic_log_settings_t *out);

/* True when listener_name is one of controller.listener.names: such a listener is never
 * advertised to clients and serves only ApiVersions and the Raft APIs. */
bool sl_config_listener_is_controller(const sl_config_t *cfg, const char *listener_name);

/* The voter entry of node_id in controller.quorum.voters, or NULL. */
const sl_quorum_voter_config_t *sl_config_quorum_voter(const sl_config_t *cfg, int32_t node_id);

/* Names used in messages and docs. */
const char *sl_security_protocol_name(sl_security_protocol_t protocol);

#endif
