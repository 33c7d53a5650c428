/* record_batch: Kafka's record batch v2 (magic 2) header, read and checked without touching the
 * records, which stay opaque bytes on the produce path. Part of the protocol module.
 * Layout (big-endian, 61 bytes): baseOffset i64 | length i32 | partitionLeaderEpoch i32 | magic i8
 * | crc u32 | attributes i16 | lastOffsetDelta i32 | baseTimestamp i64 | maxTimestamp i64 |
 * producerId i64 | producerEpoch i16 | baseSequence i32 | recordCount i32, then the records.
 * The CRC-32C covers attributes..end, so baseOffset and partitionLeaderEpoch can be patched in
 * place without recomputing it. */
#ifndef SLUICE_RECORD_BATCH_H
#define SLUICE_RECORD_BATCH_H

#include "sluice/core.h"

#define SL_RECORD_BATCH_HEADER_BYTES 61
/* Bytes before the length field's end: baseOffset + length. A batch is length + 12 bytes long. */
#define SL_RECORD_BATCH_LOG_OVERHEAD 12
#define SL_RECORD_BATCH_MAGIC_OFFSET 16
#define SL_RECORD_BATCH_CRC_OFFSET 17
#define SL_RECORD_BATCH_ATTRIBUTES_OFFSET 21
#define SL_RECORD_BATCH_MAX_TIMESTAMP_OFFSET 35
#define SL_RECORD_BATCH_PARTITION_LEADER_EPOCH_OFFSET 12

/* Attributes bits. */
#define SL_RECORD_BATCH_COMPRESSION_MASK 0x07
#define SL_RECORD_BATCH_TIMESTAMP_LOG_APPEND 0x08
#define SL_RECORD_BATCH_TRANSACTIONAL 0x10
#define SL_RECORD_BATCH_CONTROL 0x20

typedef struct sl_record_batch {
    int64_t base_offset;
    int32_t length; /* bytes after the length field */
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} sl_record_batch_t;

/* Reads the header of the batch at data. Returns 0; SL_EINCOMPLETE when fewer than the declared
 * bytes are present (a torn tail when reading a log); SL_EMALFORMED when the length cannot be a
 * batch; SL_EUNSUPPORTED when magic is not 2 (only the fields up to magic are filled then). */
int sl_record_batch_parse(const uint8_t *data, size_t len, sl_record_batch_t *out);
/* Total bytes of a parsed batch (length + 12). */
static inline size_t sl_record_batch_size(const sl_record_batch_t *b)
{
    return (size_t)b->length + SL_RECORD_BATCH_LOG_OVERHEAD;
}
/* CRC-32C of attributes..end of a complete batch of size bytes, as stored in its crc field. */
uint32_t sl_record_batch_crc(const uint8_t *batch, size_t size);

/* Why a client's batch was refused: each maps to one Kafka error in the broker. */
typedef enum {
    SL_BATCH_OK = 0,
    SL_BATCH_CORRUPT,       /* lengths or CRC do not hold: CORRUPT_MESSAGE */
    SL_BATCH_INVALID,       /* well-formed but not acceptable: INVALID_RECORD */
    SL_BATCH_OLD_MAGIC,     /* magic 0 or 1: INVALID_RECORD, as Kafka 3.9/4.0 answer it */
    SL_BATCH_NOT_ONE_BATCH, /* Produce v3+ carries exactly one batch: INVALID_RECORD */
} sl_batch_verdict_t;

/* Checks a producer's records field as Produce v3+ requires: exactly one v2 batch filling the
 * field, a correct CRC, record count == lastOffsetDelta + 1 > 0, no control batch, and a sequence
 * for an idempotent producer. Fills out when the header could be read. */
sl_batch_verdict_t sl_record_batch_validate_produce(const uint8_t *records, size_t len,
                                                    sl_record_batch_t *out);

/* Writes base_offset and partition_leader_epoch into the batch in place (outside the CRC). */
void sl_record_batch_patch_offsets(uint8_t *batch, int64_t base_offset, int32_t leader_epoch);

#endif
