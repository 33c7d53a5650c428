/* producer_ids: hands out producer ids for InitProducerId, unique for the life of the cluster's
 * data. Ids come from blocks of SL_PRODUCER_ID_BLOCK_SIZE.
 * - A single node reserves its own blocks: a block is recorded as reserved in producer-ids.meta in
 *   every log dir (temp file, fsync, rename, fsync the dir) before any id of it is handed out, so a
 *   restart (even after SIGKILL) starts past every id ever given.
 * - In a cluster (quorum mode) the active controller hands blocks out (AllocateProducerIds, a
 *   ProducerIdsRecord in the metadata log, so they are unique across brokers and restarts). As
 *   Kafka's RPCProducerIdManager: the next block is asked for once 90% of the current one is used,
 *   so InitProducerId rarely waits; with no block at hand it answers COORDINATOR_LOAD_IN_PROGRESS
 *   (retriable) while the request is out.
 * Invariants: next <= block_end; single node: block_end is durable in at least one log dir;
 * quorum mode: [next, block_end) and [prefetched_start, prefetched_end) were given to this broker
 * by the controller, and the prefetched block lies above the current one. */
#ifndef SLUICE_BROKER_PRODUCER_IDS_H
#define SLUICE_BROKER_PRODUCER_IDS_H

#include "sluice/config.h"
#include "sluice/core.h"

/* Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE. */
#define SL_PRODUCER_ID_BLOCK_SIZE 1000
#define SL_PRODUCER_IDS_FILE "producer-ids.meta"

typedef struct sl_producer_ids {
    const sl_config_t *cfg; /* borrowed: the log dirs */
    int64_t next;           /* the next id to hand out */
    int64_t block_end;      /* ids below it are reserved on disk (or given by the controller) */
    /* quorum mode */
    bool from_controller;
    bool block_requested; /* an AllocateProducerIds is out */
    int64_t block_start;  /* of the current block: the 90% mark is measured from it */
    int64_t prefetched_start, prefetched_end; /* the next block; empty when equal */
} sl_producer_ids_t;

/* Reads producer-ids.meta from every log dir and starts past the highest reservation found.
 * SL_ECORRUPT when a file exists but cannot be parsed (starting anyway could reuse ids). */
int sl__producer_ids_init(sl_producer_ids_t *ids, const sl_config_t *cfg);

/* The next unused producer id in *out. Single node: reserves a new block on disk first when the
 * current one is used up (synchronous, once per SL_PRODUCER_ID_BLOCK_SIZE ids); -EIO when no log
 * dir took the reservation, -EOVERFLOW when the id space is exhausted. Quorum mode: moves to the
 * prefetched block when the current one is used up; -EAGAIN when there is none (yet). Nothing is
 * handed out on an error. */
int sl__producer_ids_next(sl_producer_ids_t *ids, int64_t *out);

/* Quorum mode: no block until the controller gives one (nothing is read from or written to the
 * log dirs; the metadata log records the blocks). */
void sl__producer_ids_init_from_controller(sl_producer_ids_t *ids, const sl_config_t *cfg);
/* Whether an AllocateProducerIds should go to the controller now: none is out, no block is
 * waiting, and the current one is gone or 90% used. The caller sends it and calls
 * sl__producer_ids_block_requested. */
bool sl__producer_ids_block_wanted(const sl_producer_ids_t *ids);
void sl__producer_ids_block_requested(sl_producer_ids_t *ids);
/* The controller's answer: [start, start + len) for this broker, or error (anything but NONE:
 * asked again on the next InitProducerId). A block that is empty, overflows, or is not above
 * every id held is refused (logged) and asked for again. */
void sl__producer_ids_block_received(sl_producer_ids_t *ids, int16_t error, int64_t start,
                                     int32_t len);

#endif
