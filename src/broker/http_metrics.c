/* http_metrics: what /metrics says about the broker, read from its own structures on the loop
 * thread at scrape time (nothing is copied or locked on the data path).
 * Names: topic, partition and consumer-group series are exactly kafka_exporter's (names, labels,
 * gauge semantics), so the dashboards built on it (Grafana 7589) work unchanged; broker internals
 * carry the names the Strimzi/Bitnami JMX-exporter rules give Kafka's MBeans (lower-cased
 * kafka_<domain>_<type>_<name>, meters as _total counters); what Kafka has no meter for is
 * sluice_*. docs/metrics.md lists every family and its mapping.
 * Invariant: the samples of one family are contiguous (the format requires it), so each family is
 * one pass over the topics or groups. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "broker_int.h"
#include "http.h"
#include "replica_manager.h"

#define LABEL_SLICE(n, s) ((sl_prom_label_t){(n), (const char *)(s).ptr, (s).len})

/* ---- per-partition gauges (kafka_exporter, and Kafka's kafka.log:type=Log) ---- */

typedef int64_t (*partition_value_fn)(const sl_broker_t *broker, const sl_partition_t *p);

static int64_t high_watermark(const sl_broker_t *b, const sl_partition_t *p)
{
    (void)b; /* the log alone knows */
    return sl_log_high_watermark(p->log);
}
static int64_t log_start(const sl_broker_t *b, const sl_partition_t *p)
{
    (void)b; /* the log alone knows */
    return sl_log_start_offset(p->log);
}
static int64_t log_end(const sl_broker_t *b, const sl_partition_t *p)
{
    (void)b; /* the log alone knows */
    return sl_log_end_offset(p->log);
}
static int64_t log_size(const sl_broker_t *b, const sl_partition_t *p)
{
    (void)b; /* the log alone knows */
    return sl_log_size_bytes(p->log);
}
static int64_t log_segments(const sl_broker_t *b, const sl_partition_t *p)
{
    (void)b; /* the log alone knows */
    return (int64_t)sl_log_segment_count(p->log);
}
/* A replicated partition's state as its Raft group knows it; an unreplicated one (a single node)
 * is led here in its own epoch. */
static bool replica_state(const sl_partition_t *p, sl_partition_replica_state_t *st)
{
    if (p->replica == NULL)
        return false;
    sl_partition_replica_state(p->replica, st);
    return true;
}

/* Only a leader knows the ISR (its followers' fetch positions): a follower writes no sample, so
 * exactly one broker (the leader) reports the partition, as kafka_exporter's single view does. */
#define NO_SAMPLE INT64_MIN

static int64_t in_sync_replicas(const sl_broker_t *b, const sl_partition_t *p)
{
    (void)b; /* the partition's own state */
    sl_partition_replica_state_t st;
    if (!replica_state(p, &st))
        return sl_log_dir_is_offline(p->dir) ? 0 : 1;
    return st.leader ? st.isr_count : NO_SAMPLE;
}
static int64_t leader(const sl_broker_t *b, const sl_partition_t *p)
{
    sl_partition_replica_state_t st;
    if (!replica_state(p, &st))
        return sl_log_dir_is_offline(p->dir) ? -1 : (int64_t)b->cfg->node_id;
    return st.offline ? -1 : st.leader_id;
}
static int64_t leader_is_preferred(const sl_broker_t *b, const sl_partition_t *p)
{
    (void)b; /* the partition's own state */
    sl_partition_replica_state_t st;
    if (!replica_state(p, &st))
        return 1;
    return st.replica_count > 0 && st.leader_id == st.replicas[0];
}
static int64_t replicas(const sl_broker_t *b, const sl_partition_t *p)
{
    (void)b; /* the partition's own state */
    sl_partition_replica_state_t st;
    return replica_state(p, &st) ? st.replica_count : 1;
}
static int64_t under_replicated(const sl_broker_t *b, const sl_partition_t *p)
{
    (void)b; /* the partition's own state */
    sl_partition_replica_state_t st;
    if (!replica_state(p, &st))
        return 0;
    return st.leader ? st.isr_count < st.replica_count : NO_SAMPLE;
}

static const struct partition_gauge {
    const char *name, *help;
    partition_value_fn value;
} partition_gauges[] = {
    {"kafka_topic_partition_current_offset", "Current Offset of a Broker at Topic/Partition",
     high_watermark},
    {"kafka_topic_partition_oldest_offset", "Oldest Offset of a Broker at Topic/Partition",
     log_start},
    {"kafka_topic_partition_in_sync_replica", "Number of In-Sync Replicas for this Topic/Partition",
     in_sync_replicas},
    {"kafka_topic_partition_leader", "Leader Broker ID of this Topic/Partition", leader},
    {"kafka_topic_partition_leader_is_preferred",
     "1 if Topic/Partition is using the Preferred Broker", leader_is_preferred},
    {"kafka_topic_partition_replicas", "Number of Replicas for this Topic/Partition", replicas},
    {"kafka_topic_partition_under_replicated_partition", "1 if Topic/Partition is under Replicated",
     under_replicated},
    {"kafka_log_log_size", "Bytes in the partition's segment files (Kafka Log Size)", log_size},
    {"kafka_log_log_numlogsegments", "Segments of the partition (Kafka Log NumLogSegments)",
     log_segments},
    {"kafka_log_log_logendoffset", "Next offset the partition assigns (Kafka Log LogEndOffset)",
     log_end},
    {"kafka_log_log_logstartoffset", "First offset the partition holds (Kafka Log LogStartOffset)",
     log_start},
};

/* ---- per-topic counters (Kafka's BrokerTopicMetrics) ---- */

static const struct topic_counter {
    const char *name, *help;
    size_t offset; /* in sl_topic_metrics_t */
} topic_counters[] = {
    {"kafka_server_brokertopicmetrics_bytesin_total", "Record bytes appended by producers",
     offsetof(sl_topic_metrics_t, bytes_in)},
    {"kafka_server_brokertopicmetrics_messagesin_total", "Records appended by producers",
     offsetof(sl_topic_metrics_t, messages_in)},
    {"kafka_server_brokertopicmetrics_bytesout_total", "Record bytes sent to fetchers",
     offsetof(sl_topic_metrics_t, bytes_out)},
    {"kafka_server_brokertopicmetrics_totalproducerequests_total",
     "Partition appends requested by Produce", offsetof(sl_topic_metrics_t, produce_requests)},
    {"kafka_server_brokertopicmetrics_failedproducerequests_total",
     "Partition appends refused or failed", offsetof(sl_topic_metrics_t, failed_produce_requests)},
    {"kafka_server_brokertopicmetrics_totalfetchrequests_total",
     "Partition reads requested by Fetch", offsetof(sl_topic_metrics_t, fetch_requests)},
    {"kafka_server_brokertopicmetrics_failedfetchrequests_total",
     "Partition reads answered with an error", offsetof(sl_topic_metrics_t, failed_fetch_requests)},
};

typedef struct scrape {
    sl_broker_t *broker;
    sl_prom_writer_t w;
    const struct partition_gauge *gauge;
    const struct topic_counter *counter;
    size_t partitions, offline_partitions, unreplicated_led, unreplicated_offline;
    /* consumer-group passes */
    int pass;
    sl_slice_t group_id;
    sl_slice_t sum_topic;
    int64_t sum;
    bool sum_open;
} scrape_t;

static void write_partition_gauge(scrape_t *s, sl_topic_t *topic, const sl_partition_t *p)
{
    char partition[12];
    snprintf(partition, sizeof(partition), "%" PRId32, p->index);
    sl_prom_label_t labels[] = {SL_PROM_LABEL("topic", topic->name),
                                SL_PROM_LABEL("partition", partition)};
    int64_t value = s->gauge->value(s->broker, p);
    if (value != NO_SAMPLE)
        sl_prom_sample_i64(&s->w, s->gauge->name, labels, 2, value);
}

static bool partition_gauge_topic(sl_topic_t *topic, void *data)
{
    scrape_t *s = data;
    for (int32_t i = 0; i < topic->partition_count; i++)
        write_partition_gauge(s, topic, &topic->partitions[i]);
    return s->w.err == 0;
}

static bool topic_counter_topic(sl_topic_t *topic, void *data)
{
    scrape_t *s = data;
    const uint64_t *value = (const uint64_t *)((const char *)&topic->metrics + s->counter->offset);
    sl_prom_label_t label = SL_PROM_LABEL("topic", topic->name);
    sl_prom_sample_i64(&s->w, s->counter->name, &label, 1, (int64_t)*value);
    return s->w.err == 0;
}

static bool topic_partitions_topic(sl_topic_t *topic, void *data)
{
    scrape_t *s = data;
    sl_prom_label_t label = SL_PROM_LABEL("topic", topic->name);
    sl_prom_sample_i64(&s->w, "kafka_topic_partitions", &label, 1, topic->partition_count);
    s->partitions += (size_t)topic->partition_count;
    for (int32_t i = 0; i < topic->partition_count; i++) {
        const sl_partition_t *p = &topic->partitions[i];
        bool offline = sl_log_dir_is_offline(p->dir);
        s->offline_partitions += offline;
        s->unreplicated_led += p->replica == NULL && !offline;
        s->unreplicated_offline += p->replica == NULL && offline;
    }
    return s->w.err == 0;
}

static void write_topics(scrape_t *s)
{
    sl_topic_table_t *topics = s->broker->topics;
    sl_prom_family(&s->w, "kafka_topic_partitions", SL_PROM_GAUGE,
                   "Number of partitions for this Topic");
    if (topics != NULL)
        sl__topics_each(topics, topic_partitions_topic, s);
    for (size_t i = 0; i < SL_ARRAY_LEN(partition_gauges); i++) {
        s->gauge = &partition_gauges[i];
        sl_prom_family(&s->w, s->gauge->name, SL_PROM_GAUGE, s->gauge->help);
        if (topics != NULL)
            sl__topics_each(topics, partition_gauge_topic, s);
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(topic_counters); i++) {
        s->counter = &topic_counters[i];
        sl_prom_family(&s->w, s->counter->name, SL_PROM_COUNTER, s->counter->help);
        if (topics != NULL)
            sl__topics_each(topics, topic_counter_topic, s);
    }
}

/* ---- consumer groups (kafka_exporter) ---- */

enum { PASS_MEMBERS, PASS_OFFSET, PASS_OFFSET_SUM, PASS_LAG, PASS_LAG_SUM, PASS_COUNT };

static const struct {
    const char *name, *help;
} group_families[PASS_COUNT] = {
    {"kafka_consumergroup_members", "Amount of members in a consumer group"},
    {"kafka_consumergroup_current_offset", "Current Offset of a ConsumerGroup at Topic/Partition"},
    {"kafka_consumergroup_current_offset_sum",
     "Current Offset of a ConsumerGroup at Topic for all partitions"},
    {"kafka_consumergroup_lag", "Current Approximate Lag of a ConsumerGroup at Topic/Partition"},
    {"kafka_consumergroup_lag_sum",
     "Current Approximate Lag of a ConsumerGroup at Topic for all partitions"},
};

/* The committed offset's lag behind the partition's high watermark; false when the partition is
 * gone (no lag to report). */
static bool offset_lag(scrape_t *s, sl_slice_t topic_name, int32_t partition, int64_t offset,
                       int64_t *lag)
{
    sl_topic_t *topic = sl__topics_find(s->broker->topics, topic_name);
    if (topic == NULL || partition < 0 || partition >= topic->partition_count || offset < 0 ||
        topic->partitions[partition].log == NULL)
        return false;
    *lag = SL_MAX(sl_log_high_watermark(topic->partitions[partition].log) - offset, 0);
    return true;
}

static void sum_flush(scrape_t *s)
{
    if (!s->sum_open)
        return;
    sl_prom_label_t labels[] = {LABEL_SLICE("consumergroup", s->group_id),
                                LABEL_SLICE("topic", s->sum_topic)};
    sl_prom_sample_i64(&s->w, group_families[s->pass].name, labels, 2, s->sum);
    s->sum_open = false;
}

/* Offsets come sorted by topic, so a per-topic sum closes when the topic changes. */
static bool group_offset(sl_slice_t topic, int32_t partition, const sl_group_offset_t *offset,
                         void *data)
{
    scrape_t *s = data;
    int64_t value = offset->offset;
    if ((s->pass == PASS_LAG || s->pass == PASS_LAG_SUM) &&
        !offset_lag(s, topic, partition, offset->offset, &value))
        return true;
    if (s->pass == PASS_OFFSET || s->pass == PASS_LAG) {
        char part[12];
        snprintf(part, sizeof(part), "%" PRId32, partition);
        sl_prom_label_t labels[] = {LABEL_SLICE("consumergroup", s->group_id),
                                    LABEL_SLICE("topic", topic), SL_PROM_LABEL("partition", part)};
        sl_prom_sample_i64(&s->w, group_families[s->pass].name, labels, 3, value);
        return s->w.err == 0;
    }
    if (s->sum_open && !sl_slice_eq(s->sum_topic, topic))
        sum_flush(s);
    if (!s->sum_open) {
        s->sum_open = true;
        s->sum_topic = topic;
        s->sum = 0;
    }
    s->sum += value;
    return s->w.err == 0;
}

static bool group_pass(const sl_group_view_t *group, void *data)
{
    scrape_t *s = data;
    s->group_id = group->group_id;
    if (s->pass == PASS_MEMBERS) {
        sl_prom_label_t label = LABEL_SLICE("consumergroup", group->group_id);
        sl_prom_sample_i64(&s->w, group_families[PASS_MEMBERS].name, &label, 1,
                           (int64_t)group->members_count);
        return s->w.err == 0;
    }
    sl_group_offsets_each(s->broker->groups->coord, group->group_id, group_offset, s);
    sum_flush(s);
    return s->w.err == 0;
}

static bool group_count(const sl_group_view_t *group, void *data)
{
    (void)group; /* only counted */
    (*(size_t *)data)++;
    return true;
}

static void write_groups(scrape_t *s)
{
    sl_group_coordinator_t *coord =
        s->broker->groups != NULL && s->broker->topics != NULL ? s->broker->groups->coord : NULL;
    size_t groups = 0;
    if (coord != NULL)
        sl_group_each(coord, group_count, &groups);
    sl_prom_family(&s->w, "sluice_consumer_groups", SL_PROM_GAUGE,
                   "Consumer groups the coordinator knows (Kafka GroupMetadataManager NumGroups)");
    sl_prom_sample_i64(&s->w, "sluice_consumer_groups", NULL, 0, (int64_t)groups);
    for (s->pass = 0; s->pass < PASS_COUNT; s->pass++) {
        sl_prom_family(&s->w, group_families[s->pass].name, SL_PROM_GAUGE,
                       group_families[s->pass].help);
        if (coord != NULL)
            sl_group_each(coord, group_pass, s);
    }
}

/* ---- requests (Kafka's RequestMetrics) ---- */

static void write_requests(scrape_t *s)
{
    static const char *const names[] = {"kafka_network_requestmetrics_requests_total",
                                        "sluice_request_errors_total"};
    static const char *const helps[] = {
        "Requests answered, by API and version (Kafka RequestMetrics RequestsPerSec)",
        "Requests refused by closing the connection (unsupported version, undecodable body)"};
    for (size_t kind = 0; kind < 2; kind++) {
        sl_prom_family(&s->w, names[kind], SL_PROM_COUNTER, helps[kind]);
        for (size_t row = 0; row < sl__handler_count(); row++) {
            const sl_handler_t *h = sl__handler_at(row);
            const sl_api_metrics_t *m = &s->broker->api_metrics[row];
            const uint64_t *counts = kind == 0 ? m->requests : m->errors;
            for (int16_t v = h->support.version_min; v <= h->support.version_max; v++) {
                char version[8];
                snprintf(version, sizeof(version), "%d", (int)v);
                sl_prom_label_t labels[] = {
                    SL_PROM_LABEL("request", sl_api_info(h->support.api_key)->name),
                    SL_PROM_LABEL("version", version)};
                sl_prom_sample_i64(&s->w, names[kind], labels, 2, (int64_t)counts[v]);
            }
        }
    }
    sl_prom_family(&s->w, "sluice_request_duration_seconds", SL_PROM_HISTOGRAM,
                   "From a request's last byte read to its answer handed to the socket, by API "
                   "(Kafka RequestMetrics TotalTimeMs)");
    for (size_t row = 0; row < sl__handler_count(); row++) {
        const sl_handler_t *h = sl__handler_at(row);
        sl_prom_label_t label = SL_PROM_LABEL("request", sl_api_info(h->support.api_key)->name);
        sl_prom_histogram(&s->w, "sluice_request_duration_seconds", &label, 1,
                          &s->broker->api_metrics[row].latency);
    }
    sl_prom_family(&s->w, "sluice_requests_unknown_total", SL_PROM_COUNTER,
                   "Frames with an unknown API key or an unreadable header (connection closed)");
    sl_prom_sample_i64(&s->w, "sluice_requests_unknown_total", NULL, 0,
                       (int64_t)s->broker->requests_unknown);
}

/* ---- broker, network, storage ---- */

static void gauge(scrape_t *s, const char *name, const char *help, int64_t value)
{
    sl_prom_family(&s->w, name, SL_PROM_GAUGE, help);
    sl_prom_sample_i64(&s->w, name, NULL, 0, value);
}

static void write_broker(scrape_t *s)
{
    sl_broker_t *b = s->broker;
    char id[12], address[300];
    snprintf(id, sizeof(id), "%d", (int)b->cfg->node_id);
    address[0] = '\0';
    for (size_t i = 0; i < b->advertised_count; i++) {
        if (b->controller_listener[i])
            continue; /* the address clients use, never the quorum's */
        snprintf(address, sizeof(address), "%s:%u", b->advertised[i].host,
                 (unsigned)b->advertised[i].port);
        break;
    }
    gauge(s, "kafka_brokers", "Number of Brokers in the Kafka Cluster.", 1);
    sl_prom_family(&s->w, "kafka_broker_info", SL_PROM_GAUGE,
                   "Information about the Kafka Broker.");
    sl_prom_label_t info[] = {SL_PROM_LABEL("id", id), SL_PROM_LABEL("address", address)};
    sl_prom_sample_i64(&s->w, "kafka_broker_info", info, 2, 1);
    sl_prom_family(&s->w, "sluice_build_info", SL_PROM_GAUGE, "Sluice version, always 1");
    sl_prom_label_t version = SL_PROM_LABEL("version", SL_VERSION_STRING);
    sl_prom_sample_i64(&s->w, "sluice_build_info", &version, 1, 1);
    gauge(s, "sluice_ready",
          "1 when /readyz answers 200 (serving and, in a cluster, caught up), 0 otherwise",
          sl__http_not_ready_reason(b) == NULL);
    sl_quorum_status_t quorum;
    sl_metadata_quorum_status(b->quorum, &quorum);
    gauge(s, "kafka_controller_kafkacontroller_activecontrollercount",
          "1: this node leads the metadata quorum (or runs alone without one)",
          b->quorum == NULL || quorum.role == SL_RAFT_LEADER);
    /* Quorum mode: the replicated partitions' groups (led here, ISR, who has no leader). */
    sl_replication_counts_t counts = {0};
    int64_t under_replicated = 0, leaderless = 0;
    uint64_t isr_shrinks = 0, isr_expands = 0;
    if (b->replicas != NULL) {
        sl__replication_counts(b, &counts);
        sl_replica_manager_stats(b->replicas, &under_replicated, &leaderless, &isr_shrinks,
                                 &isr_expands);
    }
    gauge(s, "kafka_server_replicamanager_partitioncount", "Partitions on this broker",
          (int64_t)s->partitions);
    gauge(s, "kafka_server_replicamanager_leadercount", "Partitions this broker leads",
          (int64_t)(s->unreplicated_led + counts.led));
    gauge(s, "kafka_server_replicamanager_underreplicatedpartitions",
          "Partitions led here with fewer in-sync replicas than replicas", under_replicated);
    gauge(s, "kafka_server_replicamanager_offlinereplicacount", "Partitions whose log dir failed",
          (int64_t)s->offline_partitions);
    sl_prom_family(&s->w, "kafka_server_replicamanager_isrshrinks_total", SL_PROM_COUNTER,
                   "Replicas dropped from the ISR of a partition led here (IsrShrinksPerSec)");
    sl_prom_sample_i64(&s->w, "kafka_server_replicamanager_isrshrinks_total", NULL, 0,
                       (int64_t)isr_shrinks);
    sl_prom_family(&s->w, "kafka_server_replicamanager_isrexpands_total", SL_PROM_COUNTER,
                   "Replicas added back to the ISR of a partition led here (IsrExpandsPerSec)");
    sl_prom_sample_i64(&s->w, "kafka_server_replicamanager_isrexpands_total", NULL, 0,
                       (int64_t)isr_expands);
    gauge(s, "kafka_controller_kafkacontroller_offlinepartitionscount",
          "Partitions hosted here without a leader (a failed log dir, or no replica elected)",
          (int64_t)s->unreplicated_offline + leaderless);
    sl_prom_family(&s->w, "kafka_server_delayedoperationpurgatory_purgatorysize", SL_PROM_GAUGE,
                   "Requests waiting: Produce for their appends to be synced, Fetch for data");
    sl_prom_label_t produce = SL_PROM_LABEL("delayedoperation", "Produce");
    sl_prom_label_t fetch = SL_PROM_LABEL("delayedoperation", "Fetch");
    sl_prom_sample_i64(&s->w, "kafka_server_delayedoperationpurgatory_purgatorysize", &produce, 1,
                       (int64_t)b->produces_waiting);
    sl_prom_sample_i64(&s->w, "kafka_server_delayedoperationpurgatory_purgatorysize", &fetch, 1,
                       (int64_t)b->fetches_waiting);
}

/* Kafka's raft-metrics (kafka.server:type=raft-metrics as a JMX exporter names them), for the
 * metadata quorum; absent on a node without one. */
static void write_quorum(scrape_t *s)
{
    if (s->broker->quorum == NULL)
        return;
    sl_quorum_status_t q;
    sl_metadata_quorum_status(s->broker->quorum, &q);
    gauge(s, "kafka_server_raft_metrics_current_leader",
          "The metadata quorum's leader as this node knows it (-1: none)", q.leader_id);
    gauge(s, "kafka_server_raft_metrics_current_epoch", "The metadata quorum's leader epoch",
          q.epoch);
    gauge(s, "kafka_server_raft_metrics_high_watermark",
          "The metadata log's high watermark (-1 until known)", q.high_watermark);
    gauge(s, "kafka_server_raft_metrics_log_end_offset", "The metadata log's end offset",
          q.log_end_offset);
    sl_prom_family(&s->w, "kafka_server_raft_metrics_current_state", SL_PROM_GAUGE,
                   "1 for this node's role in the metadata quorum");
    sl_prom_label_t state = SL_PROM_LABEL("state", sl_raft_role_name(q.role));
    sl_prom_sample_i64(&s->w, "kafka_server_raft_metrics_current_state", &state, 1, 1);
    gauge(s, "sluice_metadata_log_offline", "1 when a failed write took the metadata log offline",
          q.offline);
}

static void write_network(scrape_t *s)
{
    /* Kafka's socket-server-metrics connection-count would become ..._connection_count under the
     * JMX rules, a gauge promtool refuses for its _count suffix: so a sluice_ name. */
    static const char *const count = "sluice_connections";
    static const char *const accepted = "sluice_connections_accepted_total";
    size_t n = s->broker->server != NULL ? sl_server_listener_count(s->broker->server) : 0;
    sl_prom_family(&s->w, count, SL_PROM_GAUGE, "Open client connections per listener");
    for (size_t i = 0; i < n; i++) {
        const sl_listener_info_t *l = sl_server_listener(s->broker->server, i);
        sl_prom_label_t label = SL_PROM_LABEL("listener", l->name);
        sl_prom_sample_i64(&s->w, count, &label, 1, (int64_t)l->connections);
    }
    sl_prom_family(&s->w, accepted, SL_PROM_COUNTER, "Client connections accepted per listener");
    for (size_t i = 0; i < n; i++) {
        const sl_listener_info_t *l = sl_server_listener(s->broker->server, i);
        sl_prom_label_t label = SL_PROM_LABEL("listener", l->name);
        sl_prom_sample_i64(&s->w, accepted, &label, 1, (int64_t)l->connections_accepted);
    }
}

static void write_storage(scrape_t *s)
{
    sl_broker_t *b = s->broker;
    sl_prom_family(&s->w, "sluice_storage_backend", SL_PROM_GAUGE,
                   "The disk backend in use (storage.io.backend), always 1");
    sl_prom_label_t backend = SL_PROM_LABEL("backend", b->disk_ready ? b->disk.ops->name : "none");
    sl_prom_sample_i64(&s->w, "sluice_storage_backend", &backend, 1, 1);
    sl_prom_family(&s->w, "sluice_log_dir_offline", SL_PROM_GAUGE,
                   "1 when a log dir failed (an I/O error took it offline)");
    for (size_t i = 0; b->log_dirs != NULL && i < b->cfg->log_dirs_count; i++) {
        if (b->log_dirs[i] == NULL)
            continue;
        sl_prom_label_t dir = SL_PROM_LABEL("log_dir", b->cfg->log_dirs[i]);
        sl_prom_sample_i64(&s->w, "sluice_log_dir_offline", &dir, 1,
                           sl_log_dir_is_offline(b->log_dirs[i]));
    }
    sl_prom_family(&s->w, "sluice_log_fsync_duration_seconds", SL_PROM_HISTOGRAM,
                   "fdatasync of a segment by the group commit (Kafka LogFlushStats "
                   "LogFlushRateAndTimeMs)");
    for (size_t i = 0; b->log_dirs != NULL && i < b->cfg->log_dirs_count; i++) {
        if (b->log_dirs[i] == NULL)
            continue;
        sl_prom_label_t dir = SL_PROM_LABEL("log_dir", b->cfg->log_dirs[i]);
        sl_prom_histogram(&s->w, "sluice_log_fsync_duration_seconds", &dir, 1,
                          sl_log_dir_fsync_latency(b->log_dirs[i]));
    }
}

int sl__http_metrics_write(sl_broker_t *broker, sl_buf_t *out)
{
    scrape_t s = {.broker = broker, .w = {.out = out}};
    write_topics(&s); /* first: counts the partitions write_broker reports */
    write_broker(&s);
    write_quorum(&s);
    write_requests(&s);
    write_network(&s);
    write_storage(&s);
    write_groups(&s);
    return s.w.err;
}
