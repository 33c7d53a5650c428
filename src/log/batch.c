/* batch: checks a record batch v2 header as it sits in a segment (length, magic, offsets and,
 * when asked, the CRC32C over attributes..end). Bytes read from disk are untrusted: every problem
 * is an error code, never an assertion. */
#include "log_int.h"

int sl__batch_check(const uint8_t *p, size_t avail, bool check_crc, sl_batch_info_t *info)
{
    SL_ASSERT(p != NULL || avail == 0);
    SL_ASSERT(info != NULL);
    if (avail < SL_BATCH_LOG_OVERHEAD)
        return SL_EINCOMPLETE;
    int64_t length = (int32_t)sl__be32(p + SL_BATCH_OFF_LENGTH);
    if (length < SL_BATCH_HEADER_BYTES - SL_BATCH_LOG_OVERHEAD || length > SL_LOG_BATCH_BYTES_MAX)
        return SL_ECORRUPT;
    if (avail < SL_BATCH_HEADER_BYTES)
        return SL_EINCOMPLETE;
    if (p[SL_BATCH_OFF_MAGIC] != 2)
        return SL_ECORRUPT;
    int64_t base = sl__be64(p + SL_BATCH_OFF_BASE_OFFSET);
    int32_t last_delta = (int32_t)sl__be32(p + SL_BATCH_OFF_LAST_OFFSET_DELTA);
    if (base < 0 || last_delta < 0 || base > INT64_MAX - last_delta - 1)
        return SL_ECORRUPT;
    int64_t batch_bytes = length + SL_BATCH_LOG_OVERHEAD;
    if (check_crc) {
        if (avail < (uint64_t)batch_bytes)
            return SL_EINCOMPLETE;
        uint32_t crc = sl_crc32c(0, p + SL_BATCH_OFF_ATTRIBUTES,
                                 (size_t)batch_bytes - SL_BATCH_OFF_ATTRIBUTES);
        if (crc != sl__be32(p + SL_BATCH_OFF_CRC))
            return SL_ECORRUPT;
    }
    info->base_offset = base;
    info->last_offset = base + last_delta;
    info->max_timestamp = sl__be64(p + SL_BATCH_OFF_MAX_TIMESTAMP);
    info->batch_bytes = batch_bytes;
    info->leader_epoch = (int32_t)sl__be32(p + SL_BATCH_OFF_LEADER_EPOCH);
    return 0;
}
