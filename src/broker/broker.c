/* broker: lifecycle of a running broker: log dir identity, listeners and advertised endpoints,
 * graceful stop. The API handler table lives here too, since ApiVersions must advertise exactly
 * what dispatch answers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker_int.h"
#include "http.h"
#include "replica_manager.h"
#include "sluice/records.h"

/* Kafka 3.9.0's ranges, min 0, for every API implemented (CLIENTS.md §5). Sorted by key. */
static const sl_handler_t handlers[] = {
    {{SL_API_PRODUCE, 0, 11}, sl__handle_produce},
    {{SL_API_FETCH, 4, 17}, sl__handle_fetch},
    {{SL_API_LIST_OFFSETS, 0, 9}, sl__handle_list_offsets},
    {{SL_API_METADATA, 0, 12}, sl__handle_metadata},
    {{SL_API_OFFSET_COMMIT, 0, 9}, sl__handle_offset_commit},
    {{SL_API_OFFSET_FETCH, 0, 9}, sl__handle_offset_fetch},
    {{SL_API_FIND_COORDINATOR, 0, 6}, sl__handle_find_coordinator},
    {{SL_API_JOIN_GROUP, 0, 9}, sl__handle_join_group},
    {{SL_API_HEARTBEAT, 0, 4}, sl__handle_heartbeat},
    {{SL_API_LEAVE_GROUP, 0, 5}, sl__handle_leave_group},
    {{SL_API_SYNC_GROUP, 0, 5}, sl__handle_sync_group},
    {{SL_API_DESCRIBE_GROUPS, 0, 5}, sl__handle_describe_groups},
    {{SL_API_LIST_GROUPS, 0, 5}, sl__handle_list_groups},
    {{SL_API_API_VERSIONS, 0, 4}, sl__handle_api_versions},
    {{SL_API_CREATE_TOPICS, 0, 7}, sl__handle_create_topics},
    {{SL_API_DELETE_TOPICS, 0, 6}, sl__handle_delete_topics},
    {{SL_API_DELETE_RECORDS, 0, 2}, sl__handle_delete_records},
    {{SL_API_INIT_PRODUCER_ID, 0, 5}, sl__handle_init_producer_id},
    {{SL_API_OFFSET_FOR_LEADER_EPOCH, 0, 4}, sl__handle_offset_for_leader_epoch},
    {{SL_API_DESCRIBE_CONFIGS, 0, 4}, sl__handle_describe_configs},
    {{SL_API_ALTER_CONFIGS, 0, 2}, sl__handle_alter_configs},
    {{SL_API_CREATE_PARTITIONS, 0, 3}, sl__handle_create_partitions},
    {{SL_API_DELETE_GROUPS, 0, 2}, sl__handle_delete_groups},
    {{SL_API_INCREMENTAL_ALTER_CONFIGS, 0, 1}, sl__handle_incremental_alter_configs},
    {{SL_API_OFFSET_DELETE, 0, 0}, sl__handle_offset_delete},
    {{SL_API_VOTE, 0, 2}, sl__handle_raft},
    {{SL_API_BEGIN_QUORUM_EPOCH, 0, 1}, sl__handle_raft},
    {{SL_API_END_QUORUM_EPOCH, 0, 1}, sl__handle_raft},
    {{SL_API_DESCRIBE_QUORUM, 0, 2}, sl__handle_raft},
    {{SL_API_ALTER_PARTITION, 0, 3}, sl__controller_handle},
    {{SL_API_DESCRIBE_CLUSTER, 0, 1}, sl__handle_describe_cluster},
    {{SL_API_DESCRIBE_PRODUCERS, 0, 0}, sl__handle_describe_producers},
    {{SL_API_BROKER_REGISTRATION, 0, 4}, sl__controller_handle},
    {{SL_API_BROKER_HEARTBEAT, 0, 1}, sl__controller_handle},
    {{SL_API_ALLOCATE_PRODUCER_IDS, 0, 0}, sl__controller_handle},
};
static sl_api_support_t supports[SL_ARRAY_LEN(handlers)];

const sl_handler_t *sl__handler_find(int16_t api_key)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(handlers); i++)
        if (handlers[i].support.api_key == api_key)
            return &handlers[i];
    return NULL;
}

_Static_assert(SL_ARRAY_LEN(handlers) <= SL_BROKER_HANDLERS_MAX, "api_metrics has a row each");

size_t sl__handler_count(void)
{
    return SL_ARRAY_LEN(handlers);
}

const sl_handler_t *sl__handler_at(size_t row)
{
    SL_ASSERT(row < SL_ARRAY_LEN(handlers));
    return &handlers[row];
}

size_t sl__handler_row(const sl_handler_t *handler)
{
    SL_ASSERT(handler >= handlers && handler < handlers + SL_ARRAY_LEN(handlers));
    return (size_t)(handler - handlers);
}

const sl_api_support_t *sl_broker_api_support(size_t *count)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(handlers); i++) {
        SL_ASSERT(i == 0 || handlers[i - 1].support.api_key < handlers[i].support.api_key);
        supports[i] = handlers[i].support;
    }
    *count = SL_ARRAY_LEN(handlers);
    return supports;
}

int sl_broker_create(uv_loop_t *loop, const sl_config_t *cfg, sl_broker_t **out)
{
    sl_broker_t *broker = sl_calloc(1, sizeof(*broker));
    if (broker == NULL)
        return -ENOMEM;
    broker->loop = loop;
    broker->cfg = cfg;
    sl_server_limits_t limits = {
        .request_bytes_max = (size_t)cfg->socket_request_max_bytes,
        .idle_timeout_ms =
            cfg->connections_max_idle_ms > 0 ? (uint64_t)cfg->connections_max_idle_ms : 0,
        .conn_bytes_in_flight_max = SL_CONN_BYTES_IN_FLIGHT_MAX,
        /* queued.max.request.bytes: -1 (Kafka's default) means no setting, not no bound */
        .server_bytes_in_flight_max =
            cfg->queued_max_request_bytes > 0
                ? SL_MAX((size_t)cfg->queued_max_request_bytes, SL_CONN_BYTES_IN_FLIGHT_MAX)
                : SL_BROKER_BYTES_IN_FLIGHT_MAX,
        .connections_max = SL_CONNECTIONS_MAX,
    };
    int rc = sl_server_create(loop, &limits, sl__dispatch_frame, broker, &broker->server);
    if (rc != 0) {
        sl_free(broker);
        return rc;
    }
    uv_timer_init(loop, &broker->retention_timer);
    uv_timer_init(loop, &broker->flush_timer);
    broker->retention_timer.data = broker;
    broker->flush_timer.data = broker;
    sl__delayed_queue_init(loop, &broker->delayed);
    sl__log_cleaner_init(&broker->cleaner, broker, loop);
    sl_records_scratch_init(&broker->records_scratch);
    broker->delayed.timer.data = broker; /* timer_closed finds the broker through it */
    broker->timers_open = 3;
    *out = broker;
    return 0;
}

/* What clients connecting through listener i are told: the advertised listener of the same
 * name, with port 0 meaning "the port actually bound" and an empty host meaning this host. */
static void resolve_advertised(sl_broker_t *broker)
{
    const sl_config_t *cfg = broker->cfg;
    broker->advertised_count = sl_server_listener_count(broker->server);
    for (size_t i = 0; i < broker->advertised_count; i++) {
        const sl_listener_info_t *bound = sl_server_listener(broker->server, i);
        sl_endpoint_t *ep = &broker->advertised[i];
        snprintf(ep->name, sizeof(ep->name), "%s", bound->name);
        snprintf(ep->host, sizeof(ep->host), "%s", cfg->listeners[i].host);
        ep->port = bound->port;
        for (size_t a = 0; a < cfg->advertised_listeners_count; a++) {
            const sl_listener_config_t *adv = &cfg->advertised_listeners[a];
            if (strcmp(adv->name, bound->name) != 0)
                continue;
            snprintf(ep->host, sizeof(ep->host), "%s", adv->host);
            if (adv->port != 0)
                ep->port = adv->port;
        }
        if (ep->host[0] == '\0' || strcmp(ep->host, "0.0.0.0") == 0 || strcmp(ep->host, "::") == 0)
            if (gethostname(ep->host, sizeof(ep->host)) != 0)
                snprintf(ep->host, sizeof(ep->host), "localhost");
        if (broker->controller_listener[i])
            SL_LOG(SL_LOG_INFO, "broker", "controller listener=%s port=%u (not advertised)",
                   ep->name, (unsigned)ep->port);
        else
            SL_LOG(SL_LOG_INFO, "broker", "advertising listener=%s host=%s port=%u", ep->name,
                   ep->host, (unsigned)ep->port);
    }
}

static void retention_tick(uv_timer_t *timer);
static void flush_tick(uv_timer_t *timer);

/* Opens the disk backend, every log dir, and the topics in them. */
static int storage_open(sl_broker_t *broker)
{
    const sl_config_t *cfg = broker->cfg;
    static const sl_disk_backend_t wanted[] = {[SL_IO_BACKEND_AUTO] = SL_DISK_BACKEND_AUTO,
                                               [SL_IO_BACKEND_IO_URING] = SL_DISK_BACKEND_IO_URING,
                                               [SL_IO_BACKEND_SYNC] = SL_DISK_BACKEND_SYNC};
    int rc = sl_disk_init(broker->loop, wanted[cfg->storage_io_backend], &broker->disk,
                          &broker->disk_choice);
    if (rc != 0) {
        SL_LOG(SL_LOG_ERROR, "broker",
               "cannot open storage.io.backend=%s error=\"%s\" reason=\"%s\"",
               broker->disk_choice.backend, sl_strerror(rc), broker->disk_choice.reason);
        return rc;
    }
    SL_LOG(SL_LOG_INFO, "broker", "storage io backend=%s reason=\"%s\"",
           broker->disk_choice.backend, broker->disk_choice.reason);
    broker->disk_ready = true;
    broker->log_dirs = sl_calloc(cfg->log_dirs_count, sizeof(sl_log_dir_t *));
    if (broker->log_dirs == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->log_dirs_count; i++) {
        rc =
            sl_log_dir_open(cfg->log_dirs[i], broker->disk, &sl_clock_system, &broker->log_dirs[i]);
        if (rc != 0) {
            SL_LOG(SL_LOG_ERROR, "broker", "cannot open log dir path=%s error=\"%s\"",
                   cfg->log_dirs[i], sl_strerror(rc));
            return rc;
        }
        SL_LOG(SL_LOG_INFO, "broker", "opened log dir path=%s clean_shutdown=%s", cfg->log_dirs[i],
               sl_log_dir_was_clean(broker->log_dirs[i]) ? "yes" : "no");
    }
    rc = sl__producer_ids_init(&broker->producer_ids, cfg);
    if (rc != 0)
        return rc;
    uint64_t t0 = sl_clock_monotonic_ms();
    rc = sl__topics_open(cfg, broker->log_dirs, &broker->topics);
    if (rc != 0)
        return rc;
    SL_LOG(SL_LOG_INFO, "broker", "recovered logs topics=%zu ms=%" PRIu64,
           sl__topics_count(broker->topics), sl_clock_monotonic_ms() - t0);
    uint64_t every = (uint64_t)SL_MAX(cfg->log_retention_check_interval_ms, 1);
    uv_timer_start(&broker->retention_timer, retention_tick, every, every);
    uv_timer_start(&broker->flush_timer, flush_tick, 100, 100);
    sl__log_cleaner_start(&broker->cleaner);
    return 0;
}

/* The metadata quorum, in metadata.log.dir (one of log.dirs, checked at load), before the listeners
 * open so that the first Vote finds it. */
static int quorum_start(sl_broker_t *broker)
{
    const sl_config_t *cfg = broker->cfg;
    if (cfg->quorum_voter_count == 0)
        return 0;
    size_t dir = 0;
    const char *wanted = cfg->metadata_log_dir != NULL ? cfg->metadata_log_dir : cfg->log_dirs[0];
    while (dir < cfg->log_dirs_count && strcmp(cfg->log_dirs[dir], wanted) != 0)
        dir++;
    if (dir == cfg->log_dirs_count || broker->log_dirs[dir] == NULL) {
        SL_LOG(SL_LOG_ERROR, "broker", "metadata.log.dir=%s is not one of log.dirs", wanted);
        return SL_ECONFIG;
    }
    int rc = sl_metadata_quorum_start(broker->loop, cfg, broker->log_dirs[dir], cfg->log_dirs[dir],
                                      broker->cluster_id_text, &broker->quorum);
    if (rc != 0)
        SL_LOG(SL_LOG_ERROR, "broker", "cannot start the metadata quorum error=\"%s\"",
               sl_strerror(rc));
    return rc;
}

int sl_broker_start(sl_broker_t *broker)
{
    const sl_config_t *cfg = broker->cfg;
    int rc = sl__log_dirs_open(cfg, &broker->cluster_id);
    if (rc != 0)
        return rc;
    sl_uuid_to_base64(&broker->cluster_id, broker->cluster_id_text);
    /* Dynamic broker configs live in the log dirs: from here on everything reads the effective
     * configuration (static file and environment, overridden by AlterConfigs). */
    rc = sl__broker_configs_open(cfg, &broker->configs);
    if (rc != 0)
        return rc;
    broker->cfg = cfg = sl__broker_configs_effective(broker->configs);
    sl_log_configure(cfg->log_level, cfg->log_format);
    /* HTTP first: a port clash shows before a long recovery, and /readyz answers 503 until the
     * end of this function (the loop turns only after it returns). */
    rc = sl__http_start(broker, &broker->http);
    if (rc != 0)
        return rc;
    rc = storage_open(broker);
    if (rc != 0)
        return rc;
    rc = sl__groups_open(broker); /* __consumer_offsets replayed before anyone can connect */
    if (rc != 0)
        return rc;
    rc = quorum_start(broker);
    if (rc != 0)
        return rc;
    rc = sl__replication_start(broker);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < cfg->listeners_count; i++) {
        const sl_listener_config_t *l = &cfg->listeners[i];
        /* sl_server_listen numbers listeners in this order: index i is cfg->listeners[i] */
        broker->controller_listener[i] = sl_config_listener_is_controller(cfg, l->name);
        broker->inter_broker_listener[i] = broker->replicas != NULL &&
                                           cfg->inter_broker_listener_name != NULL &&
                                           strcmp(l->name, cfg->inter_broker_listener_name) == 0;
        rc = sl_server_listen(broker->server, l->name, l->host, l->port);
        if (rc != 0) {
            SL_LOG(SL_LOG_ERROR, "broker", "cannot listen listener=%s host=%s port=%u error=\"%s\"",
                   l->name, l->host, (unsigned)l->port, sl_strerror(rc));
            return rc;
        }
    }
    resolve_advertised(broker);
    rc = sl__cluster_start(broker); /* registers the endpoints just resolved */
    if (rc != 0) {
        SL_LOG(SL_LOG_ERROR, "broker", "cannot start cluster membership error=\"%s\"",
               sl_strerror(rc));
        return rc;
    }
    broker->ready = true;
    SL_LOG(SL_LOG_INFO, "broker", "broker started node_id=%d cluster_id=%s version=%s",
           (int)cfg->node_id, broker->cluster_id_text, SL_VERSION_STRING);
    return 0;
}

sl_topic_t *sl__broker_auto_create(sl_broker_t *broker, sl_slice_t name)
{
    if (broker->cluster != NULL) { /* the controller creates it; clients retry until it shows */
        sl__cluster_auto_create(broker->cluster, name);
        return NULL;
    }
    char msg[256];
    sl_topic_t *topic = NULL;
    sl_topic_spec_t spec = {.name = name, .partitions = broker->cfg->num_partitions};
    sl_kerr_t err = sl__topics_create(broker->topics, &spec, false, &topic, msg, sizeof(msg));
    if (err != SL_KERR_NONE) {
        SL_LOG_RATELIMITED(
            SL_LOG_WARN, "broker", "cannot auto-create topic=%.*s error=%s msg=\"%s\"",
            (int)SL_MIN(name.len, 255), (const char *)name.ptr, sl_kerr_name(err), msg);
        return NULL;
    }
    return topic;
}

typedef struct {
    int64_t now_ms;
    int64_t producer_expiration_ms;
} retention_pass_t;

/* Retention, then idempotent producers idle for producer.id.expiration.ms (read on every pass:
 * the key is dynamic in Kafka). */
static bool retain_topic(sl_topic_t *topic, void *data)
{
    const retention_pass_t *pass = data;
    for (int32_t p = 0; p < topic->partition_count; p++) {
        sl_log_t *log = topic->partitions[p].log;
        if (log == NULL)
            continue; /* its replication stopped: no log here */
        int deleted = sl_log_apply_retention(log, pass->now_ms);
        if (deleted > 0)
            SL_LOG(SL_LOG_INFO, "broker",
                   "retention deleted segments=%d topic=%s partition=%d "
                   "log_start_offset=%" PRId64,
                   deleted, topic->name, (int)p, sl_log_start_offset(log));
        sl_log_producers_expire(log, pass->now_ms, pass->producer_expiration_ms);
    }
    return true;
}

static void retention_tick(uv_timer_t *timer)
{
    sl_broker_t *broker = SL_CONTAINER_OF(timer, sl_broker_t, retention_timer);
    retention_pass_t pass = {.now_ms = sl_clock_realtime_ms(),
                             .producer_expiration_ms = broker->cfg->producer_id_expiration_ms};
    sl__topics_each(broker->topics, retain_topic, &pass);
}

static void flush_tick(uv_timer_t *timer)
{
    sl_broker_t *broker = SL_CONTAINER_OF(timer, sl_broker_t, flush_timer);
    sl__topics_reap(broker->topics);
    for (size_t i = 0; i < broker->cfg->log_dirs_count; i++)
        if (broker->log_dirs[i] != NULL)
            sl_log_dir_flush_tick(broker->log_dirs[i]);
}

static void finish_stop(sl_broker_t *broker)
{
    if (broker->timers_open > 0 || broker->log_dirs_closing > 0 || broker->http_closing ||
        broker->quorum_stopping || broker->log_dirs_wait_quorum || broker->replicas_stopping ||
        broker->cluster_stopping)
        return;
    if (broker->disk_ready) {
        sl_disk_deinit(&broker->disk);
        broker->disk_ready = false;
    }
    SL_LOG(SL_LOG_INFO, "broker", "broker stopped");
    if (broker->stopped_cb != NULL)
        broker->stopped_cb(broker, broker->stopped_data);
}

static void timer_closed(uv_handle_t *handle)
{
    sl_broker_t *broker = handle->data;
    broker->timers_open--;
    finish_stop(broker);
}

static void log_dir_closed(sl_log_dir_t *dir, void *data)
{
    (void)dir; /* freed by the log module */
    sl_broker_t *broker = data;
    broker->log_dirs_closing--;
    finish_stop(broker);
}

static void http_closed(void *data)
{
    sl_broker_t *broker = data;
    broker->http_closing = false;
    finish_stop(broker);
}

/* After the last connection is gone: close the logs cleanly (the marker that lets the next start
 * skip recovery), then the disk backend. */
static void cleaner_closed(sl_log_cleaner_t *cleaner);

/* Cleaning jobs end first (cancelled: their partial files are discarded), since they pin
 * segments that closing the logs needs. */
static void server_stopped(sl_server_t *server, void *data)
{
    (void)server; /* the broker holds the same pointer */
    sl_broker_t *broker = data;
    if (broker->http != NULL) { /* served /readyz 503 while the connections drained */
        broker->http_closing = true;
        sl__http_close(broker->http, http_closed, broker);
        broker->http = NULL;
    }
    sl__log_cleaner_close(&broker->cleaner, cleaner_closed);
}

static void close_log_dirs(sl_broker_t *broker);

/* The metadata log lives in a log dir: the dirs close once the quorum has let go of it. */
static void quorum_stopped(void *data)
{
    sl_broker_t *broker = data;
    broker->quorum = NULL;
    broker->quorum_stopping = false;
    if (broker->log_dirs_wait_quorum) {
        broker->log_dirs_wait_quorum = false;
        close_log_dirs(broker);
    }
    finish_stop(broker);
}

static void topics_close(sl_broker_t *broker);

/* The replicated partitions' logs are the replica manager's: they close before the topic table. */
static void replicas_closed(void *data)
{
    sl_broker_t *broker = data;
    broker->replicas_stopping = false;
    topics_close(broker);
    finish_stop(broker);
}

static void cleaner_closed(sl_log_cleaner_t *cleaner)
{
    sl_broker_t *broker = cleaner->broker;
    uv_close((uv_handle_t *)&broker->retention_timer, timer_closed);
    uv_close((uv_handle_t *)&broker->flush_timer, timer_closed);
    if (broker->replicas != NULL) {
        broker->replicas_stopping = true;
        sl__replication_close(broker, replicas_closed, broker);
        return;
    }
    topics_close(broker);
}

static void topics_close(sl_broker_t *broker)
{
    sl__topics_close(broker->topics);
    broker->topics = NULL;
    if (broker->quorum_stopping) {
        broker->log_dirs_wait_quorum = true;
        return;
    }
    close_log_dirs(broker);
}

static void close_log_dirs(sl_broker_t *broker)
{
    for (size_t i = 0; broker->log_dirs != NULL && i < broker->cfg->log_dirs_count; i++) {
        if (broker->log_dirs[i] == NULL)
            continue;
        broker->log_dirs_closing++;
        sl_log_dir_close(broker->log_dirs[i], log_dir_closed, broker);
        broker->log_dirs[i] = NULL;
    }
}

static void cluster_stopped(void *data)
{
    sl_broker_t *broker = data;
    broker->cluster_stopping = false;
    finish_stop(broker);
}

static void stop_serving(sl_broker_t *broker);

/* Controlled shutdown is over (every led partition has another leader, or the bounded wait
 * ended): the rest of the stop as on a single node. */
static void leaderships_moved(void *data)
{
    sl_broker_t *broker = data;
    sl__controlled_shutdown_report(broker);
    stop_serving(broker);
}

void sl_broker_stop(sl_broker_t *broker, sl_broker_stopped_cb done_cb, void *data)
{
    broker->stopped_cb = done_cb;
    broker->stopped_data = data;
    broker->stopping = true; /* /readyz: 503 from now on */
    broker->ready = false;
    uv_timer_stop(&broker->retention_timer);
    uv_timer_stop(&broker->flush_timer);
    /* Quorum mode: every partition this node leads resigns (its most caught-up in-sync replicas
     * as preferred successors) while the listeners still answer, so clients meet
     * NOT_LEADER_OR_FOLLOWER naming the new leader instead of a dead connection. */
    if (broker->replicas != NULL) {
        sl__controlled_shutdown_begin(broker);
        sl_replica_manager_resign_all(broker->replicas, leaderships_moved, broker);
        return;
    }
    stop_serving(broker);
}

static void stop_serving(sl_broker_t *broker)
{
    SL_LOG(SL_LOG_INFO, "broker", "stopping: no new connections, answering requests in flight");
    if (broker->cluster != NULL) { /* no more registrations, heartbeats or controller writes */
        broker->cluster_stopping = true;
        sl__cluster_stop(broker->cluster, cluster_stopped, broker);
        broker->cluster = NULL;
    }
    /* A leader of the metadata quorum resigns first (EndQuorumEpoch to the voters), so the
     * others elect a new one at once instead of after a fetch timeout. */
    if (broker->quorum != NULL) {
        broker->quorum_stopping = true;
        sl_metadata_quorum_stop(broker->quorum, quorum_stopped, broker);
    }
    /* Waiting fetches answer now with what they have, so the drain below is quick. */
    sl__delayed_queue_close(&broker->delayed, timer_closed);
    sl_server_stop(broker->server, 5000, server_stopped, broker);
}

void sl_broker_destroy(sl_broker_t *broker)
{
    if (broker == NULL)
        return;
    sl_server_destroy(broker->server);
    sl_buf_deinit(&broker->records_scratch);
    sl__groups_destroy(broker);
    sl_free(broker->log_dirs);
    sl__broker_configs_close(broker->configs);
    sl_free(broker);
}

const sl_disk_choice_t *sl_broker_storage_backend(const sl_broker_t *broker)
{
    SL_ASSERT(broker != NULL);
    return broker->disk_ready ? &broker->disk_choice : NULL;
}
