/* record_batch: reads and checks record batch v2 headers without decompressing or parsing the
 * records: the produce path keeps the client's bytes as they came. */
#include "sluice/record_batch.h"

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int sl_record_batch_parse(const uint8_t *data, size_t len, sl_record_batch_t *out)
{
    /* Enough to read the length and magic of any format before judging it. */
    if (len < SL_RECORD_BATCH_MAGIC_OFFSET + 1)
        return SL_EINCOMPLETE;
    out->base_offset = (int64_t)be64(data);
    out->length = (int32_t)be32(data + 8);
    out->partition_leader_epoch = (int32_t)be32(data + 12);
    out->magic = (int8_t)data[SL_RECORD_BATCH_MAGIC_OFFSET];
    if (out->magic != 2)
        return SL_EUNSUPPORTED;
    if (out->length < SL_RECORD_BATCH_HEADER_BYTES - SL_RECORD_BATCH_LOG_OVERHEAD)
        return SL_EMALFORMED;
    if ((size_t)out->length > len - SL_RECORD_BATCH_LOG_OVERHEAD)
        return SL_EINCOMPLETE;
    out->crc = be32(data + 17);
    out->attributes = (int16_t)be16(data + 21);
    out->last_offset_delta = (int32_t)be32(data + 23);
    out->base_timestamp = (int64_t)be64(data + 27);
    out->max_timestamp = (int64_t)be64(data + 35);
    out->producer_id = (int64_t)be64(data + 43);
    out->producer_epoch = (int16_t)be16(data + 51);
    out->base_sequence = (int32_t)be32(data + 53);
    out->record_count = (int32_t)be32(data + 57);
    return 0;
}

uint32_t sl_record_batch_crc(const uint8_t *batch, size_t size)
{
    SL_ASSERT(size >= SL_RECORD_BATCH_HEADER_BYTES);
    return sl_crc32c(0, batch + SL_RECORD_BATCH_ATTRIBUTES_OFFSET,
                     size - SL_RECORD_BATCH_ATTRIBUTES_OFFSET);
}

sl_batch_verdict_t sl_record_batch_validate_produce(const uint8_t *records, size_t len,
                                                    sl_record_batch_t *out)
{
    *out = (sl_record_batch_t){0};
    if (records == NULL || len == 0)
        return SL_BATCH_NOT_ONE_BATCH;
    int rc = sl_record_batch_parse(records, len, out);
    if (rc == SL_EUNSUPPORTED)
        return out->magic == 0 || out->magic == 1 ? SL_BATCH_OLD_MAGIC : SL_BATCH_CORRUPT;
    /* As Kafka judges them: a batch that claims more bytes than it has is an invalid record; one
     * whose bytes fail the CRC is corrupt; bytes left over after the batch are a second batch. */
    if (rc == SL_EINCOMPLETE)
        return SL_BATCH_INVALID;
    if (rc != 0)
        return SL_BATCH_CORRUPT;
    size_t size = sl_record_batch_size(out);
    if (sl_record_batch_crc(records, size) != out->crc)
        return SL_BATCH_CORRUPT;
    if (size < len)
        return SL_BATCH_NOT_ONE_BATCH;
    if (out->record_count <= 0 || out->last_offset_delta < 0 ||
        (int64_t)out->record_count != (int64_t)out->last_offset_delta + 1)
        return SL_BATCH_INVALID;
    if ((out->attributes & SL_RECORD_BATCH_CONTROL) != 0)
        return SL_BATCH_INVALID;
    if (out->producer_id >= 0 && out->base_sequence < 0)
        return SL_BATCH_INVALID;
    return SL_BATCH_OK;
}

void sl_record_batch_patch_offsets(uint8_t *batch, int64_t base_offset, int32_t leader_epoch)
{
    put_be64(batch, (uint64_t)base_offset);
    put_be32(batch + SL_RECORD_BATCH_PARTITION_LEADER_EPOCH_OFFSET, (uint32_t)leader_epoch);
}
