/* schema.c: the one table of configuration keys (name, Kafka type, default, bounds, update mode,
 * importance, documentation, and where the value lives in sl_config_t), plus the functions that
 * walk it: defaults, lookup, the value as text for DescribeConfigs, and deinit.
 * Invariants: every default_text parses under its own key's rules (sl_config_init_defaults
 * asserts it); names and defaults follow Apache Kafka 3.9 unless the doc says why not. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/config_int.h"

static const char *const bool_values[] = {"true", "false", NULL};
static const char *const io_backend_values[] = {"auto", "io_uring", "sync", NULL};
static const char *const log_format_values[] = {"text", "json", NULL};
static const char *const log_level_values[] = {"debug", "info", "warn", "error", NULL};
static const char *const cleanup_policy_values[] = {"compact", "delete", NULL};
static const char *const sync_policy_values[] = {"ack", "interval", NULL};
static const char *const timestamp_type_values[] = {"CreateTime", "LogAppendTime", NULL};
static const char *const process_roles_values[] = {"broker", "controller", NULL};
static const char *const compression_values[] = {"uncompressed", "zstd",     "lz4", "snappy",
                                                 "gzip",         "producer", NULL};

#define OFF(field) .offset = offsetof(sl_config_t, field)
#define LIST_OFF(field) OFF(field), .count_offset = offsetof(sl_config_t, field##_count)
#define RO .update_mode = SL_CONFIG_READ_ONLY
#define PER_BROKER .update_mode = SL_CONFIG_PER_BROKER
#define CLUSTER .update_mode = SL_CONFIG_CLUSTER_WIDE
#define HIGH .importance = SL_CONFIG_IMPORTANCE_HIGH
#define MEDIUM .importance = SL_CONFIG_IMPORTANCE_MEDIUM
#define LOW .importance = SL_CONFIG_IMPORTANCE_LOW
#define INT_KEY(lo, hi)                                                                            \
    .type = SL_CONFIG_TYPE_INT, .storage = SL_CFG_STORE_I32, .min = (lo), .max = (hi)
#define LONG_KEY(lo, hi)                                                                           \
    .type = SL_CONFIG_TYPE_LONG, .storage = SL_CFG_STORE_I64, .min = (lo), .max = (hi)
#define BOOL_KEY                                                                                   \
    .type = SL_CONFIG_TYPE_BOOLEAN, .storage = SL_CFG_STORE_BOOL, .valid_values = bool_values
#define ENUM_KEY(values)                                                                           \
    .type = SL_CONFIG_TYPE_STRING, .storage = SL_CFG_STORE_ENUM, .valid_values = values
#define LIST_KEY .type = SL_CONFIG_TYPE_LIST, .storage = SL_CFG_STORE_STRLIST
#define I32_MAX INT32_MAX
#define I64_MAX INT64_MAX

const sl_config_key_t sl__config_keys[] = {
    {.name = "node.id",
     INT_KEY(0, I32_MAX),
     .default_text = "1",
     OFF(node_id),
     RO,
     HIGH,
     .doc = "This broker's id, unique in the cluster. Kafka requires it in KRaft mode; Sluice runs "
            "standalone for now and defaults to 1."},
    {.name = "log.dirs",
     LIST_KEY,
     .default_text = NULL,
     LIST_OFF(log_dirs),
     RO,
     HIGH,
     .doc = "Directories that hold the partition logs, as a YAML list or comma-separated. When "
            "unset, log.dir is used."},
    {.name = "log.dir",
     .type = SL_CONFIG_TYPE_STRING,
     .storage = SL_CFG_STORE_STR,
     .default_text = "/tmp/kafka-logs",
     OFF(log_dir),
     RO,
     HIGH,
     .doc = "The single log directory used when log.dirs is not set."},
    {.name = "listeners",
     .type = SL_CONFIG_TYPE_LIST,
     .storage = SL_CFG_STORE_LISTENERS,
     .default_text = "PLAINTEXT://:9092",
     LIST_OFF(listeners),
     PER_BROKER,
     HIGH,
     .doc = "Addresses to accept clients on, each NAME://host:port. An empty host binds every "
            "interface, [::1] is an IPv6 address, port 0 picks a free port. NAME must appear in "
            "listener.security.protocol.map; only PLAINTEXT listeners are implemented so far."},
    {.name = "advertised.listeners",
     .type = SL_CONFIG_TYPE_LIST,
     .storage = SL_CFG_STORE_LISTENERS,
     .default_text = NULL,
     LIST_OFF(advertised_listeners),
     RO, /* Kafka 4.0: read-only (3.9 had it per-broker) */
     HIGH,
     .doc =
         "Addresses handed to clients in metadata responses, when they differ from listeners "
         "(on Kubernetes, typically the pod's stable DNS name, e.g. "
         "PLAINTEXT://${POD_NAME}.sluice:9092). Each name must also be in listeners. When unset, "
         "listeners is advertised."},
    {.name = "listener.security.protocol.map",
     LIST_KEY,
     .default_text = "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
     LIST_OFF(listener_security_protocol_map),
     PER_BROKER,
     LOW,
     .doc = "Maps each listener name to its security protocol, as NAME:PROTOCOL pairs, where "
            "PROTOCOL is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."},
    {.name = "num.partitions",
     INT_KEY(1, I32_MAX),
     .default_text = "1",
     OFF(num_partitions),
     RO,
     MEDIUM,
     .doc = "Partitions given to a topic that is created without a partition count."},
    {.name = "default.replication.factor",
     .type = SL_CONFIG_TYPE_INT,
     .storage = SL_CFG_STORE_I16,
     .min = 1,
     .max = INT16_MAX,
     .default_text = "1",
     OFF(default_replication_factor),
     RO,
     MEDIUM,
     .doc = "Replicas given to a topic that is created without a replication factor."},
    {.name = "auto.create.topics.enable",
     BOOL_KEY,
     .default_text = "true",
     OFF(auto_create_topics_enable),
     RO,
     HIGH,
     .doc = "Create a topic on first use when a client asks for metadata of, or produces to, a "
            "topic that does not exist."},
    {.name = "log.segment.bytes",
     .type = SL_CONFIG_TYPE_INT,
     .storage = SL_CFG_STORE_I64,
     .min = 14,
     .max = I32_MAX,
     .default_text = "1073741824",
     OFF(log_segment_bytes),
     CLUSTER,
     HIGH,
     .doc = "Size at which the active segment of a partition is closed and a new one started."},
    {.name = "log.roll.ms",
     LONG_KEY(1, I64_MAX),
     .default_text = NULL,
     OFF(log_roll_ms),
     CLUSTER,
     HIGH,
     .doc = "Age after which the active segment is rolled even if it is not full. When unset, "
            "log.roll.hours applies."},
    {.name = "log.roll.hours",
     INT_KEY(1, I32_MAX),
     .default_text = "168",
     OFF(log_roll_hours),
     RO, /* Kafka: only the .ms key is dynamic */
     HIGH,
     .doc = "Like log.roll.ms, in hours; log.roll.ms wins when both are set."},
    {.name = "log.retention.ms",
     LONG_KEY(-1, I64_MAX),
     .default_text = NULL,
     OFF(log_retention_ms),
     CLUSTER,
     HIGH,
     .doc = "How long a closed segment is kept before it is deleted; -1 keeps data forever. Wins "
            "over log.retention.minutes and log.retention.hours."},
    {.name = "log.retention.minutes",
     INT_KEY(-1, I32_MAX),
     .default_text = NULL,
     OFF(log_retention_minutes),
     RO, /* Kafka: only the .ms key is dynamic */
     HIGH,
     .doc = "Retention in minutes, used when log.retention.ms is not set; wins over "
            "log.retention.hours."},
    {.name = "log.retention.hours",
     INT_KEY(-1, I32_MAX),
     .default_text = "168",
     OFF(log_retention_hours),
     RO, /* Kafka: only the .ms key is dynamic */
     HIGH,
     .doc = "Retention in hours, used when neither log.retention.ms nor log.retention.minutes is "
            "set."},
    {.name = "log.retention.bytes",
     LONG_KEY(-1, I64_MAX),
     .default_text = "-1",
     OFF(log_retention_bytes),
     CLUSTER,
     HIGH,
     .doc = "Largest size a partition may reach before its oldest segments are deleted; -1 means "
            "no size limit."},
    {.name = "log.retention.check.interval.ms",
     LONG_KEY(1, I64_MAX),
     .default_text = "300000",
     OFF(log_retention_check_interval_ms),
     RO,
     MEDIUM,
     .doc = "How often the broker looks for segments that retention allows it to delete."},
    {.name = "message.max.bytes",
     INT_KEY(0, I32_MAX),
     .default_text = "1048588",
     OFF(message_max_bytes),
     CLUSTER,
     HIGH,
     .doc = "Largest record batch the broker accepts from a producer, after compression."},
    {.name = "socket.request.max.bytes",
     INT_KEY(1, I32_MAX),
     .default_text = "104857600",
     OFF(socket_request_max_bytes),
     RO,
     HIGH,
     .doc = "Largest request frame the broker reads; a bigger size prefix closes the connection."},
    {.name = "queued.max.request.bytes",
     .type = SL_CONFIG_TYPE_LONG,
     .storage = SL_CFG_STORE_I32,
     .min = -1,
     .max = I32_MAX,
     .default_text = "-1",
     OFF(queued_max_request_bytes),
     RO,
     MEDIUM,
     .doc = "Bytes of requests read but not yet answered, across all connections, before the "
            "broker stops reading; -1 leaves only Sluice's built-in bounds."},
    {.name = "connections.max.idle.ms",
     LONG_KEY(-1, I64_MAX),
     .default_text = "600000",
     OFF(connections_max_idle_ms),
     RO,
     MEDIUM,
     .doc = "A client connection that sends nothing for this long is closed; -1 never closes "
            "idle connections."},
    {.name = "log.flush.interval.messages",
     LONG_KEY(1, I64_MAX),
     .default_text = "9223372036854775807",
     OFF(log_flush_interval_messages),
     CLUSTER,
     HIGH,
     .doc = "Force the log to disk after this many records have been appended to a partition. "
            "The default leaves durability to replication and the operating system, as Kafka "
            "does."},
    {.name = "log.flush.interval.ms",
     LONG_KEY(0, I64_MAX),
     .default_text = NULL,
     OFF(log_flush_interval_ms),
     CLUSTER,
     HIGH,
     .doc = "Force the log to disk when the oldest unflushed record is this old. When unset, "
            "the log is never flushed on a timer (9223372036854775807)."},
    {.name = "log.index.interval.bytes",
     INT_KEY(0, I32_MAX),
     .default_text = "4096",
     OFF(log_index_interval_bytes),
     CLUSTER,
     MEDIUM,
     .doc = "Bytes of log between two entries of the offset index; smaller means faster lookups "
            "and bigger indexes."},
    {.name = "log.index.size.max.bytes",
     INT_KEY(4, I32_MAX),
     .default_text = "10485760",
     OFF(log_index_size_max_bytes),
     CLUSTER,
     MEDIUM,
     .doc = "Largest size of one segment's offset index; a full index rolls the segment."},
    {.name = "log.cleanup.policy",
     LIST_KEY,
     .valid_values = cleanup_policy_values,
     .default_text = "delete",
     LIST_OFF(log_cleanup_policy),
     CLUSTER,
     MEDIUM,
     .doc = "What happens to old segments: delete (by retention time and size) and/or compact "
            "(keep the latest record per key)."},
    {.name = "log.cleaner.enable",
     BOOL_KEY,
     .default_text = "true",
     OFF(log_cleaner_enable),
     RO,
     MEDIUM,
     .doc = "Run the log cleaner, which compacts topics with cleanup.policy=compact (including "
            "__consumer_offsets). When false, compacted topics grow without bound."},
    {.name = "log.cleaner.threads",
     INT_KEY(1, 16),
     .default_text = "1",
     OFF(log_cleaner_threads),
     CLUSTER,
     MEDIUM,
     .doc = "How many logs are cleaned at once, each on its own thread (outside the network "
            "loop); at most 16."},
    {.name = "log.cleaner.backoff.ms",
     LONG_KEY(0, I64_MAX),
     .default_text = "15000",
     OFF(log_cleaner_backoff_ms),
     CLUSTER,
     MEDIUM,
     .doc = "How long the cleaner sleeps when no log needs cleaning."},
    {.name = "log.cleaner.dedupe.buffer.size",
     LONG_KEY(16 * 24, I64_MAX),
     .default_text = "134217728",
     OFF(log_cleaner_dedupe_buffer_size),
     CLUSTER,
     MEDIUM,
     .doc = "Most memory for the offset maps of all cleaner threads together (24 bytes per "
            "distinct key); a dirty part with more keys is cleaned in several passes."},
    {.name = "delete.topic.enable",
     BOOL_KEY,
     .default_text = "true",
     OFF(delete_topic_enable),
     RO,
     HIGH,
     .doc = "Allow DeleteTopics requests; when false they fail."},
    {.name = "offsets.topic.num.partitions",
     INT_KEY(1, I32_MAX),
     .default_text = "50",
     OFF(offsets_topic_num_partitions),
     RO,
     HIGH,
     .doc = "Partitions of the internal __consumer_offsets topic. Fixed once the topic exists."},
    {.name = "offsets.retention.minutes",
     INT_KEY(1, I32_MAX),
     .default_text = "10080",
     OFF(offsets_retention_minutes),
     RO,
     HIGH,
     .doc = "Committed offsets of a consumer group are kept this long after the group becomes "
            "empty; in a stable group, an offset of a topic no member subscribes to is kept this "
            "long after its commit (KIP-211)."},
    {.name = "group.initial.rebalance.delay.ms",
     INT_KEY(0, I32_MAX),
     .default_text = "3000",
     OFF(group_initial_rebalance_delay_ms),
     RO,
     MEDIUM,
     .doc = "How long the coordinator waits for more members to join a new, empty group before "
            "the first rebalance."},
    {.name = "group.min.session.timeout.ms",
     INT_KEY(0, I32_MAX),
     .default_text = "6000",
     OFF(group_min_session_timeout_ms),
     RO,
     MEDIUM,
     .doc = "Smallest session timeout a consumer may ask for when it joins a group."},
    {.name = "group.max.session.timeout.ms",
     INT_KEY(0, I32_MAX),
     .default_text = "1800000",
     OFF(group_max_session_timeout_ms),
     RO,
     MEDIUM,
     .doc = "Largest session timeout a consumer may ask for when it joins a group."},
    {.name = "producer.id.expiration.ms",
     INT_KEY(1, I32_MAX),
     .default_text = "86400000",
     OFF(producer_id_expiration_ms),
     CLUSTER,
     LOW,
     .doc = "How long a partition keeps an idempotent producer's state (its epoch and last "
            "sequences, for duplicate detection) after that producer's last write; checked on "
            "each log.retention.check.interval.ms pass."},
    {.name = "storage.io.backend",
     ENUM_KEY(io_backend_values),
     .default_text = "auto",
     OFF(storage_io_backend),
     RO,
     MEDIUM,
     .doc = "Sluice only. How segments are written: io_uring (one ring per loop, completions "
            "through the ring's own fd; start-up fails when io_uring is unavailable), sync "
            "(pwritev and "
            "fdatasync on libuv's thread pool), or auto: io_uring unless "
            "kernel.io_uring_disabled, a seccomp profile (Docker's and containerd's defaults deny "
            "io_uring_setup) or a kernel before 5.6 rules it out, otherwise sync. The choice and "
            "its reason are logged at start-up."},
    {.name = "fetch.sendfile.enable",
     BOOL_KEY,
     .default_text = "true",
     OFF(fetch_sendfile_enable),
     RO,
     LOW,
     .doc = "Sluice only. Fetch answers on plaintext listeners send record data straight from the "
            "segment files with sendfile(2) when its pages are in the page cache (no copy "
            "through the broker); false reads it into memory first, as a TLS listener must."},
    {.name = "log.format",
     ENUM_KEY(log_format_values),
     .default_text = "text",
     OFF(log_format),
     RO,
     LOW,
     .doc = "Sluice only. The broker's own log lines on stderr: text (key=value) or json."},
    {.name = "log.level",
     ENUM_KEY(log_level_values),
     .default_text = "info",
     OFF(log_level),
     CLUSTER,
     LOW,
     .doc = "Sluice only. The least severe broker log line written: debug, info, warn or "
            "error. May be changed at run time with AlterConfigs on the broker resource."},
    {.name = "storage.sync.policy",
     ENUM_KEY(sync_policy_values),
     .default_text = "ack",
     OFF(storage_sync_policy),
     RO,
     HIGH,
     .doc = "Sluice only. ack: a produce with acks=1 or acks=all is answered only after its "
            "records are on disk (fdatasync), so an acknowledged write survives a power cut even "
            "on a single broker. interval: Kafka's behaviour, where writes sit in the page cache "
            "and are flushed in the background per log.flush.interval.messages and "
            "log.flush.interval.ms (flush.messages and flush.ms per topic)."},
    {.name = "log.message.timestamp.type",
     ENUM_KEY(timestamp_type_values),
     .default_text = "CreateTime",
     OFF(log_message_timestamp_type),
     CLUSTER,
     MEDIUM,
     .doc = "Which timestamp a record keeps: CreateTime (the producer's) or LogAppendTime (the "
            "broker's clock when the batch is appended). Default of message.timestamp.type."},
    {.name = "log.message.timestamp.before.max.ms",
     LONG_KEY(0, I64_MAX),
     .default_text = "9223372036854775807",
     OFF(log_message_timestamp_before_max_ms),
     CLUSTER,
     MEDIUM,
     .doc = "With CreateTime, a batch whose timestamp is further than this in the past is "
            "refused. Default of message.timestamp.before.max.ms."},
    {.name = "log.message.timestamp.after.max.ms",
     LONG_KEY(0, I64_MAX),
     .default_text = "9223372036854775807",
     OFF(log_message_timestamp_after_max_ms),
     CLUSTER,
     MEDIUM,
     .doc = "With CreateTime, a batch whose timestamp is further than this in the future is "
            "refused. Kafka 3.9's default (no limit); Kafka 4.0 lowered it to 3600000. Default of "
            "message.timestamp.after.max.ms."},
    {.name = "min.insync.replicas",
     INT_KEY(1, I32_MAX),
     .default_text = "1",
     OFF(min_insync_replicas),
     CLUSTER,
     HIGH,
     .doc = "Replicas that must have a batch before a produce with acks=all succeeds. Default of "
            "the topic config min.insync.replicas."},
    {.name = "compression.type",
     ENUM_KEY(compression_values),
     .default_text = "producer",
     OFF(compression_type),
     CLUSTER,
     HIGH,
     .doc = "Compression of stored batches: producer keeps what the producer sent; the others "
            "name a codec. Default of the topic config compression.type."},
    {.name = "inter.broker.protocol.version",
     .type = SL_CONFIG_TYPE_STRING,
     .storage = SL_CFG_STORE_STR,
     .default_text = "3.9-IV0",
     OFF(inter_broker_protocol_version),
     RO,
     MEDIUM,
     .doc = "The Kafka protocol level Sluice speaks to clients and tools, reported for tools "
            "that read it (Kafka UI). Informational: Sluice does not change behaviour by it."},
    {.name = "log.segment.delete.delay.ms",
     LONG_KEY(0, I64_MAX),
     .default_text = "60000",
     OFF(log_segment_delete_delay_ms),
     CLUSTER,
     HIGH,
     .doc = "How long a segment removed by retention stays on disk (renamed .deleted) before its "
            "files are deleted. Default of file.delete.delay.ms."},
    {.name = "unclean.leader.election.enable",
     BOOL_KEY,
     .default_text = "false",
     OFF(unclean_leader_election_enable),
     CLUSTER,
     HIGH,
     .doc = "Whether a replica outside the in-sync set may become leader, at the cost of losing "
            "acknowledged data. Default of the topic config of the same name."},
    {.name = "log.preallocate",
     BOOL_KEY,
     .default_text = "false",
     OFF(log_preallocate),
     CLUSTER,
     MEDIUM,
     .doc = "Allocate a new segment's full size on disk when it is created. Default of the topic "
            "config preallocate."},
    {.name = "broker.rack",
     .type = SL_CONFIG_TYPE_STRING,
     .storage = SL_CFG_STORE_STR,
     .default_text = NULL,
     OFF(broker_rack),
     RO,
     MEDIUM,
     .doc = "The rack (or zone) of this broker, reported in Metadata. Unset means no rack."},
    {.name = "http.listeners",
     .type = SL_CONFIG_TYPE_LIST,
     .storage = SL_CFG_STORE_LISTENERS,
     .default_text = "http://0.0.0.0:9644",
     LIST_OFF(http_listeners),
     RO,
     MEDIUM,
     .doc =
         "Sluice only. Where the HTTP endpoints listen, each http://host:port: /metrics "
         "(Prometheus text format), /healthz (the event loop turns) and /readyz (logs recovered, "
         "groups loaded, listeners up; 503 while stopping). Port 0 picks a free port. See "
         "docs/metrics.md."},
    /* ---- the cluster: KRaft's names, so a server.properties translates key for key ---- */
    {.name = "process.roles",
     LIST_KEY,
     .valid_values = process_roles_values,
     .default_text = "broker,controller",
     LIST_OFF(process_roles),
     RO,
     HIGH,
     .doc = "The roles of this node: broker,controller (combined, as the Helm chart runs the "
            "first three pods) or broker (a broker that follows the quorum, for pods beyond the "
            "voters; needs controller.quorum.voters, and its node.id must not be among them). A "
            "dedicated controller (controller alone) is not supported yet. A controller must be "
            "one of controller.quorum.voters and have a listener named in "
            "controller.listener.names."},
    {.name = "controller.quorum.voters",
     .type = SL_CONFIG_TYPE_LIST,
     .storage = SL_CFG_STORE_VOTERS,
     .default_text = "",
     OFF(quorum_voters),
     .count_offset = offsetof(sl_config_t, quorum_voter_count),
     RO,
     HIGH,
     .doc = "The static metadata quorum, as id@host:port entries (1@sluice-0.sluice:9093,...): "
            "each voter's node.id and its controller listener. Node ids and addresses must be "
            "unique. Empty (the default) runs this node alone, as a single-node broker. Kafka's "
            "dynamic quorum (controller.quorum.bootstrap.servers, KIP-853) is refused. See "
            "docs/replication.md."},
    {.name = "controller.listener.names",
     LIST_KEY,
     .default_text = "CONTROLLER",
     LIST_OFF(controller_listener_names),
     RO,
     HIGH,
     .doc = "Names of the listeners the quorum uses. Such a listener is bound like any other but "
            "never advertised to clients and answers only ApiVersions, the Raft APIs and "
            "DescribeCluster; it may "
            "not appear in advertised.listeners. Kafka has no default; Sluice defaults to "
            "CONTROLLER, which only matters once a listener of that name exists."},
    {.name = "cluster.id",
     .type = SL_CONFIG_TYPE_STRING,
     .storage = SL_CFG_STORE_STR,
     .default_text = NULL,
     OFF(cluster_id),
     RO,
     HIGH,
     .doc = "Sluice only: the cluster id a new log dir is formatted with (Kafka's "
            "kafka-storage.sh format --cluster-id), 22 characters of Kafka's base64 uuid form. A "
            "log dir of another cluster is refused at start. Unset: a cluster with "
            "controller.quorum.voters derives it from the voters (every node configured with the "
            "same voters formats with the same id, so no separate format step is needed); a "
            "single node draws a random one. See docs/replication.md."},
    {.name = "metadata.log.dir",
     .type = SL_CONFIG_TYPE_STRING,
     .storage = SL_CFG_STORE_STR,
     .default_text = NULL,
     OFF(metadata_log_dir),
     RO,
     HIGH,
     .doc = "Where the metadata quorum keeps its log (__cluster_metadata-0, with its quorum-state "
            "file), when controller.quorum.voters is set. Must be one of log.dirs; when unset, the "
            "first of them. See docs/replication.md."},
    {.name = "inter.broker.listener.name",
     .type = SL_CONFIG_TYPE_STRING,
     .storage = SL_CFG_STORE_STR,
     .default_text = NULL,
     OFF(inter_broker_listener_name),
     RO,
     MEDIUM,
     .doc = "The listener brokers use to reach each other (replica fetches). Must be one of "
            "listeners and not a controller listener. When unset, the first listener that is not "
            "a controller listener."},
    {.name = "controller.quorum.election.timeout.ms",
     INT_KEY(1, I32_MAX),
     .default_text = "1000",
     OFF(controller_quorum_election_timeout_ms),
     RO,
     HIGH,
     .doc = "How long a voter waits without hearing from a leader before it starts an election "
            "(randomised up to twice this)."},
    {.name = "controller.quorum.election.backoff.max.ms",
     INT_KEY(1, I32_MAX),
     .default_text = "1000",
     OFF(controller_quorum_election_backoff_max_ms),
     RO,
     HIGH,
     .doc = "Longest (exponential, randomised) wait before a candidate that lost an election "
            "tries again."},
    {.name = "controller.quorum.fetch.timeout.ms",
     INT_KEY(1, I32_MAX),
     .default_text = "2000",
     OFF(controller_quorum_fetch_timeout_ms),
     RO,
     HIGH,
     .doc = "How long a follower goes without a successful fetch from the leader before it "
            "becomes a candidate (and how long a leader waits for fetches from a majority before "
            "it resigns)."},
    {.name = "controller.quorum.request.timeout.ms",
     INT_KEY(1, I32_MAX),
     .default_text = "2000",
     OFF(controller_quorum_request_timeout_ms),
     RO,
     MEDIUM,
     .doc = "How long a quorum request to another voter waits for its answer before it is "
            "retried."},
    {.name = "controller.quorum.retry.backoff.ms",
     INT_KEY(0, I32_MAX),
     .default_text = "20",
     OFF(controller_quorum_retry_backoff_ms),
     RO,
     LOW,
     .doc = "Wait before a failed quorum request to the same voter is retried."},
    {.name = "broker.session.timeout.ms",
     INT_KEY(1, I32_MAX),
     .default_text = "9000",
     OFF(broker_session_timeout_ms),
     RO,
     MEDIUM,
     .doc = "How long the active controller waits for a broker's heartbeat before it fences the "
            "broker (it leaves Metadata's brokers). Quorum mode only."},
    {.name = "broker.heartbeat.interval.ms",
     INT_KEY(1, I32_MAX),
     .default_text = "2000",
     OFF(broker_heartbeat_interval_ms),
     RO,
     MEDIUM,
     .doc = "How often a broker heartbeats to the active controller. Quorum mode only."},
    {.name = "offsets.topic.replication.factor",
     .type = SL_CONFIG_TYPE_SHORT,
     .storage = SL_CFG_STORE_I16,
     .min = 1,
     .max = INT16_MAX,
     .default_text = "3",
     OFF(offsets_topic_replication_factor),
     RO,
     HIGH,
     .doc = "Replicas of the internal __consumer_offsets topic. Unlike Kafka, which refuses to "
            "create the topic until that many brokers exist, Sluice caps it at the brokers alive "
            "when the topic is created, so a single node (or a development cluster) works with "
            "the default. In a cluster the cap is the brokers registered with the controller "
            "when the topic is created (docs/replication.md); a single node keeps one replica."},
    {.name = "replica.lag.time.max.ms",
     LONG_KEY(1, I64_MAX),
     .default_text = "30000",
     OFF(replica_lag_time_max_ms),
     RO,
     HIGH,
     .doc = "A follower that has not caught up with the leader's log end for this long leaves "
            "the in-sync replicas. Read by partition replication (not in this version)."},
    {.name = "auto.leader.rebalance.enable",
     BOOL_KEY,
     .default_text = "true",
     OFF(auto_leader_rebalance_enable),
     RO,
     HIGH,
     .doc = "Move partition leadership back to each partition's preferred replica when it is in "
            "sync. Read by partition replication (not in this version)."},
    {.name = "replica.fetch.max.bytes",
     INT_KEY(0, I32_MAX),
     .default_text = "1048576",
     OFF(replica_fetch_max_bytes),
     RO,
     MEDIUM,
     .doc = "Bytes a follower asks for per partition in one fetch (at least one batch is always "
            "sent, however large)."},
    {.name = "replica.fetch.wait.max.ms",
     INT_KEY(0, I32_MAX),
     .default_text = "500",
     OFF(replica_fetch_wait_max_ms),
     RO,
     MEDIUM,
     .doc = "Longest time a leader holds a follower's fetch that finds no new data. Kafka "
            "expects it below replica.lag.time.max.ms."},
};

const size_t sl__config_keys_count = SL_ARRAY_LEN(sl__config_keys);
_Static_assert(SL_ARRAY_LEN(sl__config_keys) <= SL_CONFIG_KEYS_MAX,
               "sl_config_t keeps one source byte per key");
_Static_assert(SL_CONFIG_QUORUM_VOTERS_MAX <= SL_CONFIG_LIST_ITEMS_MAX, "voters are list items");
_Static_assert(sizeof(sl_io_backend_t) == sizeof(int), "enum keys are stored as int");
_Static_assert(sizeof(sl_log_format_t) == sizeof(int), "enum keys are stored as int");
_Static_assert(sizeof(sl_log_level_t) == sizeof(int), "enum keys are stored as int");
_Static_assert(sizeof(sl_storage_sync_policy_t) == sizeof(int), "enum keys are stored as int");
_Static_assert(sizeof(sl_timestamp_type_t) == sizeof(int), "enum keys are stored as int");
_Static_assert(sizeof(sl_compression_config_t) == sizeof(int), "enum keys are stored as int");

size_t sl_config_key_count(void)
{
    return sl__config_keys_count;
}

const sl_config_key_t *sl_config_key_at(size_t index)
{
    if (index >= sl__config_keys_count)
        return NULL;
    return &sl__config_keys[index];
}

const sl_config_key_t *sl_config_key_find(const char *name)
{
    SL_ASSERT(name != NULL);
    for (size_t i = 0; i < sl__config_keys_count; i++) {
        if (strcmp(sl__config_keys[i].name, name) == 0)
            return &sl__config_keys[i];
    }
    return NULL;
}

size_t sl__config_key_index(const sl_config_key_t *key)
{
    SL_ASSERT(key >= sl__config_keys);
    SL_ASSERT(key < sl__config_keys + sl__config_keys_count);
    return (size_t)(key - sl__config_keys);
}

bool sl_config_listener_is_controller(const sl_config_t *cfg, const char *listener_name)
{
    SL_ASSERT(cfg != NULL && listener_name != NULL);
    for (size_t i = 0; i < cfg->controller_listener_names_count; i++)
        if (strcasecmp(cfg->controller_listener_names[i], listener_name) == 0)
            return true;
    return false;
}

const sl_quorum_voter_config_t *sl_config_quorum_voter(const sl_config_t *cfg, int32_t node_id)
{
    SL_ASSERT(cfg != NULL);
    for (size_t i = 0; i < cfg->quorum_voter_count; i++)
        if (cfg->quorum_voters[i].node_id == node_id)
            return &cfg->quorum_voters[i];
    return NULL;
}

const char *sl_security_protocol_name(sl_security_protocol_t protocol)
{
    switch (protocol) {
    case SL_SECURITY_PLAINTEXT:
        return "PLAINTEXT";
    case SL_SECURITY_SSL:
        return "SSL";
    case SL_SECURITY_SASL_PLAINTEXT:
        return "SASL_PLAINTEXT";
    case SL_SECURITY_SASL_SSL:
        return "SASL_SSL";
    }
    return "UNKNOWN";
}

static void strlist_free(char **items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        sl_free(items[i]);
    sl_free(items);
}

void sl_config_deinit(sl_config_t *cfg)
{
    SL_ASSERT(cfg != NULL);
    for (size_t i = 0; i < sl__config_keys_count; i++) {
        const sl_config_key_t *key = &sl__config_keys[i];
        char *base = (char *)cfg;
        if (key->storage == SL_CFG_STORE_STR) {
            char **slot = (char **)(void *)(base + key->offset);
            sl_free(*slot);
        } else if (key->storage == SL_CFG_STORE_STRLIST) {
            char ***slot = (char ***)(void *)(base + key->offset);
            size_t *count = (size_t *)(void *)(base + key->count_offset);
            strlist_free(*slot, *count);
        }
    }
    memset(cfg, 0, sizeof(*cfg));
}

int sl__config_defaults_apply(sl_config_t *cfg)
{
    SL_ASSERT(cfg != NULL);
    memset(cfg, 0, sizeof(*cfg));
    char why[SL_CONFIG_ERR_BYTES];
    for (size_t i = 0; i < sl__config_keys_count; i++) {
        const sl_config_key_t *key = &sl__config_keys[i];
        if (key->default_text == NULL)
            continue;
        char *items[1] = {(char *)(uintptr_t)key->default_text};
        int rc = sl__config_value_set(cfg, key, items, 1, false, why, sizeof(why));
        /* Only memory can fail here: a default that does not parse is a bug in the table. */
        SL_ASSERT(rc == 0 || rc == -ENOMEM);
        if (rc != 0) {
            sl_config_deinit(cfg);
            return rc;
        }
    }
    sl_cfg_load_t load = {.file_name = "defaults"};
    int rc = sl__config_resolve(cfg, &load, why, sizeof(why));
    SL_ASSERT(rc == 0 || rc == -ENOMEM);
    if (rc != 0) {
        sl_config_deinit(cfg);
        return rc;
    }
    SL_ASSERT(cfg->log_dirs_count >= 1);
    return 0;
}

void sl_config_init_defaults(sl_config_t *cfg)
{
    /* Out of memory before the broker has even started leaves nothing sensible to run. */
    int rc = sl__config_defaults_apply(cfg);
    SL_ASSERT(rc == 0);
}

bool sl_config_value_is_default(const sl_config_t *cfg, const sl_config_key_t *key)
{
    return sl_config_value_source(cfg, key) == SL_CONFIG_SOURCE_DEFAULT;
}

sl_config_source_t sl_config_value_source(const sl_config_t *cfg, const sl_config_key_t *key)
{
    SL_ASSERT(cfg != NULL);
    return (sl_config_source_t)cfg->sources[sl__config_key_index(key)];
}

/* Appends text to out at *pos; false once out is full (out stays terminated). */
static bool text_append(char *out, size_t out_len, size_t *pos, const char *text)
{
    size_t len = strlen(text);
    if (*pos + len >= out_len) {
        size_t room = out_len - 1 - *pos;
        memcpy(out + *pos, text, room);
        *pos += room;
        out[*pos] = '\0';
        return false;
    }
    memcpy(out + *pos, text, len + 1);
    *pos += len;
    return true;
}

static int list_text(const sl_config_t *cfg, const sl_config_key_t *key, char *out, size_t out_len)
{
    const char *base = (const char *)cfg;
    size_t count = *(const size_t *)(const void *)(base + key->count_offset);
    size_t pos = 0;
    char item[SL_LISTENER_NAME_BYTES_MAX + SL_LISTENER_HOST_BYTES_MAX + 16];
    for (size_t i = 0; i < count; i++) {
        const char *text;
        if (key->storage == SL_CFG_STORE_LISTENERS) {
            const sl_listener_config_t *l =
                (const sl_listener_config_t *)(const void *)(base + key->offset);
            int rc = sl__config_listener_format(&l[i], item, sizeof(item));
            SL_ASSERT(rc == 0);
            if (key->offset == offsetof(sl_config_t, http_listeners))
                memcpy(item, "http", 4); /* a URL scheme, written as users write it */
            text = item;
        } else if (key->storage == SL_CFG_STORE_VOTERS) {
            const sl_quorum_voter_config_t *v =
                (const sl_quorum_voter_config_t *)(const void *)(base + key->offset);
            int rc = sl__config_voter_format(&v[i], item, sizeof(item));
            SL_ASSERT(rc == 0);
            text = item;
        } else {
            text = (*(char *const *const *)(const void *)(base + key->offset))[i];
        }
        if ((i > 0 && !text_append(out, out_len, &pos, ",")) ||
            !text_append(out, out_len, &pos, text))
            return SL_ELIMIT;
    }
    return 0;
}

int sl_config_value_text(const sl_config_t *cfg, const sl_config_key_t *key, char *out,
                         size_t out_len)
{
    SL_ASSERT(cfg != NULL && key != NULL);
    SL_ASSERT(out != NULL && out_len > 0);
    out[0] = '\0';
    if (key->sensitive || (key->default_text == NULL && sl_config_value_is_default(cfg, key)))
        return SL_ENOTFOUND;
    const char *base = (const char *)cfg + key->offset;
    char num[32];
    size_t pos = 0;
    switch (key->storage) {
    case SL_CFG_STORE_BOOL:
        return text_append(out, out_len, &pos, *(const bool *)base ? "true" : "false") ? 0
                                                                                       : SL_ELIMIT;
    case SL_CFG_STORE_I16:
        snprintf(num, sizeof(num), "%d", (int)*(const int16_t *)(const void *)base);
        break;
    case SL_CFG_STORE_I32:
        snprintf(num, sizeof(num), "%" PRId32, *(const int32_t *)(const void *)base);
        break;
    case SL_CFG_STORE_I64:
        snprintf(num, sizeof(num), "%" PRId64, *(const int64_t *)(const void *)base);
        break;
    case SL_CFG_STORE_STR:
        return text_append(out, out_len, &pos, *(char *const *)(const void *)base) ? 0 : SL_ELIMIT;
    case SL_CFG_STORE_ENUM:
        return text_append(out, out_len, &pos, key->valid_values[*(const int *)(const void *)base])
                   ? 0
                   : SL_ELIMIT;
    case SL_CFG_STORE_STRLIST:
    case SL_CFG_STORE_LISTENERS:
    case SL_CFG_STORE_VOTERS:
        return list_text(cfg, key, out, out_len);
    default:
        sl_panic(__FILE__, __LINE__, "unknown storage kind in the key table");
    }
    return text_append(out, out_len, &pos, num) ? 0 : SL_ELIMIT;
}
