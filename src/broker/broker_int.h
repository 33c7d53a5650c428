/* broker internals: the broker struct, the request context handlers receive, and the handler
 * table that dispatch.c and ApiVersions share. */
#ifndef SLUICE_BROKER_INT_H
#define SLUICE_BROKER_INT_H

#include "broker_configs.h"
#include "cluster_metadata.h"
#include "controller.h"
#include "delayed.h"
#include "groups.h"
#include "log_cleaner.h"
#include "producer_ids.h"
#include "sluice/broker.h"
#include "sluice/io.h"
#include "sluice/log.h"
#include "sluice/metrics.h"
#include "sluice/net.h"
#include "sluice/protocol.h"
#include "sluice/replication.h"
#include "topics.h"

/* Room for every row of the handler table (checked in broker.c) and every version of an API. */
#define SL_BROKER_HANDLERS_MAX 48
#define SL_BROKER_API_VERSIONS_MAX 32

/* Kafka's RequestMetrics for one API (a row of the handler table): counted by dispatch.c on the
 * loop thread when a request is freed, read by /metrics. */
typedef struct sl_api_metrics {
    uint64_t requests[SL_BROKER_API_VERSIONS_MAX]; /* by version */
    uint64_t errors[SL_BROKER_API_VERSIONS_MAX];   /* refused: the connection was closed */
    sl_histogram_t latency;                        /* frame complete -> response handed to net */
} sl_api_metrics_t;

struct sl_http; /* http.c */

/* An endpoint as clients are told to reach it (advertised.listeners, resolved at start-up). */
typedef struct {
    char name[64];
    char host[256];
    uint16_t port;
} sl_endpoint_t;

struct sl_broker {
    uv_loop_t *loop;
    const sl_config_t *cfg;
    sl_server_t *server;
    sl_uuid_t cluster_id;
    char cluster_id_text[23];
    /* advertised[i] is what a client that connected through listener i is told to use */
    sl_endpoint_t advertised[SL_LISTENERS_MAX];
    size_t advertised_count;
    /* controller_listener[i]: listener i is named in controller.listener.names; it answers only
     * what sl__api_on_controller_listener lists and is never advertised */
    bool controller_listener[SL_LISTENERS_MAX];
    sl_broker_stopped_cb stopped_cb;
    void *stopped_data;
    /* storage: the disk backend, one sl_log_dir_t per cfg->log_dirs entry, and the topics */
    sl_disk_t disk;
    sl_disk_choice_t disk_choice; /* which backend storage.io.backend got, and why */
    bool disk_ready;
    sl_log_dir_t **log_dirs; /* owned array of cfg->log_dirs_count; NULL entries not open */
    size_t log_dirs_closing;
    sl_topic_table_t *topics;
    /* dynamic broker configs; once started, cfg is its effective configuration */
    sl_broker_configs_t *configs;
    sl_producer_ids_t producer_ids; /* InitProducerId, loaded with the log dirs */
    uv_timer_t retention_timer;     /* log.retention.check.interval.ms */
    uv_timer_t flush_timer;         /* background flush for storage.sync.policy=interval */
    size_t timers_open;
    sl_log_cleaner_t cleaner;   /* log compaction jobs (log_cleaner.c) */
    sl_delayed_queue_t delayed; /* waiting Fetches */
    struct sl_groups *groups;   /* the group coordinator (groups.c) */
    sl_buf_t records_scratch;   /* decompression buffer for Produce's record checks, reused */
    /* the metadata quorum (NULL when controller.quorum.voters is empty: a single node as ever);
     * it stops before the log dirs close, since its log lives in one of them */
    sl_metadata_quorum_t *quorum;
    /* replicated partitions (quorum mode only; NULL on a single node): their Raft groups, served
     * on the inter-broker listener; closed before the topic table and the log dirs */
    struct sl_replica_manager *replicas;
    bool replicas_stopping;
    uint64_t shutdown_started_ms; /* controlled shutdown began (loop time), for its log line */
    bool inter_broker_listener[SL_LISTENERS_MAX]; /* the listener peers' replica fetches use */
    /* quorum mode: the image, membership and forwarding (cluster_metadata.c) and, on voters, the
     * active controller's work (controller.c); NULL on a single node */
    struct sl_cluster *cluster;
    struct sl_controller *controller;
    bool cluster_stopping;
    bool quorum_stopping;
    bool log_dirs_wait_quorum; /* the cleaner is done; the log dirs close when the quorum is */
    bool stopping;
    bool ready; /* logs recovered, groups loaded, listeners up, not stopping: /readyz */
    /* observability: the HTTP endpoints and what only the broker counts */
    struct sl_http *http;
    bool http_closing;
    sl_api_metrics_t api_metrics[SL_BROKER_HANDLERS_MAX]; /* by handler table row */
    size_t produces_waiting;   /* Produce requests waiting for their appends (purgatory) */
    size_t fetches_waiting;    /* Fetch requests waiting for data (purgatory) */
    uint64_t requests_unknown; /* frames with an API key or header no handler takes */
};

/* One request being answered. Lives from frame arrival until its response is handed to net.
 * Everything decoded borrows from frame->payload or lives in arena. */
typedef struct sl_request {
    sl_broker_t *broker;
    sl_frame_t *frame;
    uint64_t arrived_ns; /* for the latency histogram */
    bool refused;        /* the connection is closed instead of answering */
    sl_request_header_t header;
    sl_arena_t arena;
    size_t listener_index;
    void *response; /* in arena, initialised to the schema's defaults */
    const struct sl_message_desc *response_desc;
    /* Set by a handler that answers later (after disk or a wait); it then calls
     * sl__request_finish exactly once. */
    bool pending;
    /* Called when the request is freed, after its response was encoded: releases what the
     * handler held outside the arena (log read buffers). */
    void (*on_free)(struct sl_request *req, void *data);
    void *on_free_data;
    /* Set by a handler whose answer is not one encoded buffer (Fetch: record bytes sent from the
     * segment files or the log's read buffers, never copied); encodes and answers req->frame. */
    int (*respond)(struct sl_request *req);
    /* Topics this request holds a reference on until it is freed (sl__request_hold). */
    sl_topic_t **held;
    size_t held_count, held_cap;
} sl_request_t;

/* Keeps topic alive (sl__topic_ref) until req is freed; once per topic. */
int sl__request_hold(sl_request_t *req, sl_topic_t *topic);

/* Completes a pending request: status 0 encodes and sends req->response, SL_ENORESPONSE sends
 * nothing, any other error closes the connection. Frees req. */
void sl__request_finish(sl_request_t *req, int status);

/* The whole answer's length on the wire (size prefix, header, body) and its encoding into w (a
 * gap writer leaves the RECORDS fields out): what dispatch does for every answer, for handlers
 * that set req->respond. */
size_t sl__response_wire_bytes(const sl_request_t *req, const struct sl_message_desc *desc,
                               int16_t body_version, const void *body);
int sl__response_encode(const sl_request_t *req, sl_writer_t *w, size_t total,
                        const struct sl_message_desc *desc, int16_t body_version, const void *body);

/* A handler fills response (already initialised to the schema defaults) from request. Returns 0
 * to send the response, or an error to close the connection (a request Kafka would refuse). */
typedef int (*sl_handler_fn)(sl_request_t *req, const void *request, void *response);

typedef struct sl_handler {
    sl_api_support_t support;
    sl_handler_fn handle;
} sl_handler_t;

const sl_handler_t *sl__handler_find(int16_t api_key);
/* The handler table's rows, for /metrics; row is < sl__handler_count(). */
size_t sl__handler_count(void);
const sl_handler_t *sl__handler_at(size_t row);
size_t sl__handler_row(const sl_handler_t *handler);

void sl__dispatch_frame(sl_frame_t *frame, void *data);

/* Replaces dir/name with data durably: temp file, fsync, rename, fsync the dir (durable_file.c). */
int sl__durable_file_replace(const char *dir, const char *name, const void *data, size_t len);
/* Appends text percent-encoded (only [A-Za-z0-9._,:/-] stay as they are) to a record line. */
int sl__record_append_encoded(sl_buf_t *buf, const char *text);
/* Decodes a percent-encoded field in place; false for a malformed escape. */
bool sl__record_decode_in_place(char *s);

/* Reads (or, for an empty dir, writes) meta.properties in every log dir and returns the cluster
 * id; refuses a dir formatted for another node or cluster. */
int sl__log_dirs_open(const sl_config_t *cfg, sl_uuid_t *cluster_id);

/* Creates topic name with num.partitions and no overrides (auto.create.topics.enable); NULL when
 * it cannot (logged). */
sl_topic_t *sl__broker_auto_create(sl_broker_t *broker, sl_slice_t name);

int sl__handle_api_versions(sl_request_t *req, const void *request, void *response);
int sl__handle_metadata(sl_request_t *req, const void *request, void *response);
int sl__handle_list_offsets(sl_request_t *req, const void *request, void *response);
int sl__handle_fetch(sl_request_t *req, const void *request, void *response);
int sl__handle_produce(sl_request_t *req, const void *request, void *response);
int sl__handle_create_topics(sl_request_t *req, const void *request, void *response);
int sl__handle_delete_topics(sl_request_t *req, const void *request, void *response);
int sl__handle_describe_configs(sl_request_t *req, const void *request, void *response);
int sl__handle_alter_configs(sl_request_t *req, const void *request, void *response);
int sl__handle_incremental_alter_configs(sl_request_t *req, const void *request, void *response);
int sl__handle_create_partitions(sl_request_t *req, const void *request, void *response);
int sl__handle_delete_records(sl_request_t *req, const void *request, void *response);
int sl__handle_init_producer_id(sl_request_t *req, const void *request, void *response);
int sl__handle_find_coordinator(sl_request_t *req, const void *request, void *response);
int sl__handle_join_group(sl_request_t *req, const void *request, void *response);
int sl__handle_sync_group(sl_request_t *req, const void *request, void *response);
int sl__handle_heartbeat(sl_request_t *req, const void *request, void *response);
int sl__handle_leave_group(sl_request_t *req, const void *request, void *response);
int sl__handle_offset_commit(sl_request_t *req, const void *request, void *response);
int sl__handle_offset_fetch(sl_request_t *req, const void *request, void *response);
int sl__handle_list_groups(sl_request_t *req, const void *request, void *response);
int sl__handle_describe_groups(sl_request_t *req, const void *request, void *response);
int sl__handle_delete_groups(sl_request_t *req, const void *request, void *response);
int sl__handle_offset_delete(sl_request_t *req, const void *request, void *response);
int sl__handle_describe_producers(sl_request_t *req, const void *request, void *response);
/* Vote, BeginQuorumEpoch, EndQuorumEpoch, DescribeQuorum and a controller listener's Fetch. */
int sl__handle_raft(sl_request_t *req, const void *request, void *response);
/* DescribeCluster as a controller answers it (KIP-919: --bootstrap-controller tools). */
int sl__handle_describe_cluster(sl_request_t *req, const void *request, void *response);
int sl__handle_offset_for_leader_epoch(sl_request_t *req, const void *request, void *response);
/* Kafka's LeaderEpochFileCache.endOffsetFor over the log's epoch entries (ascending): the answer
 * of OffsetForLeaderEpoch for requested (-1, -1 when undefined). */
void sl__epoch_end_offset(const sl_log_epoch_t *epochs, size_t count, int64_t log_end_offset,
                          int32_t requested, int32_t *epoch_out, int64_t *end_offset_out);

/* ---- leadership (leadership.c) ---- */
/* SL_KERR_NONE with the partition's current leader epoch when this broker leads it (always for an
 * unreplicated partition), else NOT_LEADER_OR_FOLLOWER (the epoch is still set: the one this
 * broker knows). */
sl_kerr_t sl__partition_leader_check(sl_broker_t *broker, const sl_partition_t *partition,
                                     int32_t *leader_epoch);
/* Every change of a partition's leader, epoch or ISR lands here (the replica manager calls it):
 * waiting fetches look again; the controller's AlterPartition report and the coordinator's move
 * hook in here. */
void sl__broker_partition_leadership_changed(sl_broker_t *broker, sl_partition_t *partition);
/* Who leads the partition as this broker knows it (-1, -1 when nobody): CurrentLeader in
 * NOT_LEADER_OR_FOLLOWER answers (KIP-951). */
void sl__partition_current_leader(sl_broker_t *broker, const sl_partition_t *partition,
                                  int32_t *leader_id, int32_t *leader_epoch);
/* Quorum mode: creates the replica manager (broker->replicas). */
int sl__replication_start(sl_broker_t *broker);
/* Makes partition a Raft group over replicas (this node among them), or changes its replicas.
 * The group opens the partition's log itself: a log the topic table opened is closed first, so
 * call it before anything reads or appends. partition->log is the replicated log afterwards. */
int sl__partition_replication_start(sl_broker_t *broker, sl_partition_t *partition,
                                    const int32_t *replicas, int32_t count);
/* Stops the partition's group (a leader resigns), fails its waiting appends and fetches; its log
 * closes (is removed when delete_log) once idle; partition->log is NULL afterwards. Call before
 * the topic table closes or deletes the partition. */
void sl__partition_replication_stop(sl_broker_t *broker, sl_partition_t *partition,
                                    bool delete_log);
/* Stops every partition's group, then the replica manager; done once all is closed. */
void sl__replication_close(sl_broker_t *broker, void (*done)(void *data), void *data);

/* ---- controlled shutdown and replication counts (controlled_shutdown.c) ---- */
typedef struct {
    size_t replicated; /* partitions hosted here as Raft groups */
    size_t led;        /* of those, led by this node now */
    size_t still_led;  /* naming this node as leader (led, or resigned with no successor yet) */
    size_t leaderless; /* no leader known (an election under way) */
} sl_replication_counts_t;
void sl__replication_counts(sl_broker_t *broker, sl_replication_counts_t *out);
/* SIGTERM in quorum mode: logs what this node leads before sl_replica_manager_resign_all, and
 * (report) what still has no other leader once its wait is over. */
void sl__controlled_shutdown_begin(sl_broker_t *broker);
void sl__controlled_shutdown_report(sl_broker_t *broker);

/* Quorum mode's route for an admin request (CreateTopics, DeleteTopics, CreatePartitions, topic
 * configs): on a controller listener the controller answers it, on a client listener it goes to
 * the active controller. false on a single node (the handler answers it itself). */
bool sl__cluster_route_admin(sl_request_t *req, const void *request, void *response, int *rc);

/* The ApiVersions answer to a version newer than any Sluice knows: a v0 body with only the
 * ApiVersions entry and UNSUPPORTED_VERSION, as Kafka sends (KIP-511). */
int sl__api_versions_unsupported(sl_request_t *req);
/* Whether api_key is served on a controller listener: ApiVersions and the Raft APIs only, as on
 * Kafka's controller listener. Anything else there closes the connection. */
bool sl__api_on_controller_listener(int16_t api_key);
/* Vote, BeginQuorumEpoch and EndQuorumEpoch of partition groups: answered on the inter-broker
 * listener (quorum mode), listed there only to other Sluice nodes (client id "sluice-<id>"). */
bool sl__api_partition_raft(const struct sl_request *req, int16_t api_key);
/* The Raft APIs no client listener serves or lists (Kafka serves them on controller listeners). */
bool sl__api_controller_only(int16_t api_key);
/* DescribeCluster on a client listener of a cluster (quorum mode): served as Kafka's brokers do. */
bool sl__api_cluster_broker(const sl_request_t *req, int16_t api_key);

#endif
