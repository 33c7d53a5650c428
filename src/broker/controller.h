/* controller: the active controller of a cluster (quorum mode), which is the metadata quorum's
 * leader. It serves BrokerRegistration, BrokerHeartbeat, AllocateProducerIds and the admin
 * requests brokers forward (CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs and
 * IncrementalAlterConfigs of topics) on the controller listener, fences brokers whose session
 * expired, and writes what the sl_metadata_* decisions return to the metadata log. A node that
 * does not lead answers NOT_CONTROLLER.
 *
 * Writes are serialized: one batch in flight at a time, each decided against the image with every
 * earlier write applied, so a decision never races another. A request is answered once its batch
 * is committed and applied here (or NOT_CONTROLLER when leadership goes first). A new leader
 * decides nothing until it has applied its whole log (its own LeaderChange batch included), and
 * starts every registered broker's session at that moment, as Kafka's controller does. */
#ifndef SLUICE_BROKER_CONTROLLER_H
#define SLUICE_BROKER_CONTROLLER_H

#include "sluice/metadata.h"

struct sl_broker;
struct sl_request;

int sl__controller_start(struct sl_broker *broker);
/* Answers what waits with NOT_CONTROLLER, stops the timer; done once closed. */
void sl__controller_stop(struct sl_broker *broker, void (*done)(void *data), void *data);
/* The quorum moved (role, epoch, leader, high watermark) or a batch was applied. */
void sl__controller_quorum_changed(struct sl_broker *broker);

/* The handler for the controller's APIs on a controller listener (the handler table's entry
 * for BrokerRegistration, BrokerHeartbeat, AllocateProducerIds; the admin handlers call it when
 * their request came in on a controller listener). */
int sl__controller_handle(struct sl_request *req, const void *request, void *response);
/* Fills response (of req's API, for request) with error on every item, as the controller's
 * NOT_CONTROLLER answer or a forwarding broker's answer when the controller cannot be reached. */
int sl__controller_fill_error(struct sl_request *req, const void *request, void *response,
                              sl_kerr_t error);

/* For other controller features (ElectLeaders, reassignments): writes records (decided by the
 * caller against sl__cluster_image) as one batch after the writes already queued; cb gets 0 once
 * it is committed and applied, SL_ENOTLEADER when this node does not lead (or lost leadership
 * first), or another error. The records are encoded before this returns (borrowed). 0 or an
 * error (cb is then not called). */
typedef void (*sl_controller_write_cb)(void *data, int status);
int sl__controller_propose(struct sl_broker *broker, const sl_metadata_records_t *records,
                           sl_controller_write_cb cb, void *data);

#endif
