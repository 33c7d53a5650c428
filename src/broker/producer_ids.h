/* producer_ids: hands out producer ids for InitProducerId, unique for the life of the cluster's
 * data. Ids come from blocks of SL_PRODUCER_ID_BLOCK_SIZE; a block is recorded as reserved in
 * producer-ids.meta in every log dir (temp file, fsync, rename, fsync the dir) before any id of it
 * is handed out, so a restart (even after SIGKILL) starts past every id ever given. Replication
 * will later hand out blocks per broker from the metadata log in the same shape.
 * Invariants: next <= block_end; block_end is durable in at least one log dir. */
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
    int64_t block_end;      /* ids below it are reserved on disk */
} sl_producer_ids_t;

/* Reads producer-ids.meta from every log dir and starts past the highest reservation found.
 * SL_ECORRUPT when a file exists but cannot be parsed (starting anyway could reuse ids). */
int sl__producer_ids_init(sl_producer_ids_t *ids, const sl_config_t *cfg);

/* The next unused producer id in *out. Reserves a new block on disk first when the current one is
 * used up (synchronous, once per SL_PRODUCER_ID_BLOCK_SIZE ids). -EIO when no log dir took the
 * reservation, -EOVERFLOW when the id space is exhausted; nothing handed out then. */
int sl__producer_ids_next(sl_producer_ids_t *ids, int64_t *out);

#endif
