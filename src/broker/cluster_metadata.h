/* cluster_metadata: what every node of a cluster (quorum mode: controller.quorum.voters set) knows
 * and does about the cluster, from the metadata log:
 * - the image: committed __cluster_metadata batches applied in log order (replayed from the start
 *   of the log after a restart); a record that does not apply stops the image for good, with one
 *   ERROR line, since the log and the image then disagree;
 * - the reconcile: the topic table follows the image (a topic per TopicRecord, a local log per
 *   partition, configs from ConfigRecords), and the replica manager hears which partitions this
 *   node hosts (cluster_reconcile_partition is the one place those calls go);
 * - membership: BrokerRegistration to the active controller (the quorum leader) with this node's
 *   client and inter-broker endpoints, rack, incarnation id and log dir ids, retried until
 *   answered, then BrokerHeartbeat every broker.heartbeat.interval.ms;
 * - forwarding: admin requests (CreateTopics, DeleteTopics, CreatePartitions, configs of topics)
 *   re-sent to the active controller's controller listener, the client answered with its answer.
 * Single-node brokers (no voters) never start it: broker->cluster stays NULL. */
#ifndef SLUICE_BROKER_CLUSTER_METADATA_H
#define SLUICE_BROKER_CLUSTER_METADATA_H

#include "sluice/metadata.h"

struct sl_broker;
struct sl_request;
typedef struct sl_cluster sl_cluster_t;

/* Starts the node's cluster work once the quorum runs and the listeners are bound (the
 * registration carries their ports). 0 without voters (nothing to do). */
int sl__cluster_start(struct sl_broker *broker);
/* Stops timers and connections; done runs once every handle is closed. */
void sl__cluster_stop(sl_cluster_t *cluster, void (*done)(void *data), void *data);

/* The image as applied so far (read-only). */
const sl_metadata_image_t *sl__cluster_image(const sl_cluster_t *cluster);
/* The offset after the last applied record batch: what heartbeats report. */
int64_t sl__cluster_applied_end(const sl_cluster_t *cluster);
/* Kafka's answer to clients that ask for the controller (Metadata, DescribeCluster): the quorum
 * leader when it is a live broker (combined nodes), else the live broker with the lowest id, else
 * -1. Clients send controller-bound requests there, and it forwards them. */
int32_t sl__cluster_client_controller_id(const sl_cluster_t *cluster);
/* A broker clients may use: registered and not fenced. */
bool sl__cluster_broker_live(const sl_cluster_t *cluster, int32_t broker_id);

/* Whether this node serves clients as a member of the cluster: a broker registered, unfenced by
 * the controller and listed unfenced in its own image (so its Metadata names itself); a
 * controller-only node once its image is applying. /readyz says ready only then. */
bool sl__cluster_serving(const sl_cluster_t *cluster);

/* Called after every batch applied (the controller completes its writes from here). */
void sl__cluster_set_applied_listener(sl_cluster_t *cluster, void (*applied)(void *data),
                                      void *data);

/* A partition's leader, epoch or ISR changed here (leadership.c): the partitions this node leads
 * are reported to the controller with AlterPartition (soon, coalesced). */
void sl__cluster_partition_changed(sl_cluster_t *cluster);

/* Sends the decoded request of req to the active controller and answers req (pending) with the
 * controller's response. 0 (req is pending) or an error to answer the request with at once. */
int sl__cluster_forward(struct sl_request *req, const void *request);
/* auto.create.topics.enable in quorum mode: asks the controller to create the topic with the
 * defaults, without waiting (the client retries until it shows up). */
void sl__cluster_auto_create(sl_cluster_t *cluster, sl_slice_t name);
/* Asks the active controller for __consumer_offsets (offsets.topic.num.partitions, replicas
 * capped at the registered brokers, compacted), one request at a time, without waiting: the
 * group APIs answer COORDINATOR_NOT_AVAILABLE until the image has it. */
void sl__cluster_create_offsets_topic(sl_cluster_t *cluster);

#endif
