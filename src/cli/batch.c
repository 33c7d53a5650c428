/* batch: record batch v2 building for `sluice produce` (uncompressed, no producer id, so any
 * broker accepts it from a plain producer), and Kafka's default partitioner for keyed records
 * (murmur2, as the Java client's BuiltInPartitioner), so `produce --key-separator` puts a key on
 * the partition every Kafka client would. Invariant: a finished batch's CRC covers attributes..end.
 */
#include <string.h>

#include "cli_int.h"
#include "sluice/record_batch.h"

void sl__cli_batch_init(sl_cli_batch_t *b, int64_t timestamp_ms)
{
    sl_buf_init(&b->buf, SL_CLI_BATCH_BYTES_MAX + SL_CLI_LINE_BYTES_MAX + 64);
    b->record_count = 0;
    b->base_timestamp = timestamp_ms;
}

void sl__cli_batch_deinit(sl_cli_batch_t *b)
{
    sl_buf_deinit(&b->buf);
}

static int append_varint(sl_buf_t *buf, int64_t v)
{
    uint8_t tmp[10];
    sl_writer_t w;
    sl_writer_init(&w, tmp, sizeof tmp);
    int rc = sl_write_varlong(&w, v);
    return rc != 0 ? rc : sl_buf_append(buf, tmp, (size_t)(w.pos - tmp));
}

int sl__cli_batch_append(sl_cli_batch_t *b, sl_slice_t key, sl_slice_t value)
{
    SL_ASSERT(value.ptr != NULL);
    if (b->buf.len == 0) {
        b->base_timestamp = sl_clock_realtime_ms(); /* records carry delta 0 from here */
        uint8_t header[SL_RECORD_BATCH_HEADER_BYTES] = {0};
        int rc = sl_buf_append(&b->buf, header, sizeof header);
        if (rc != 0)
            return rc;
    }
    /* length | attributes 0 | timestampDelta 0 | offsetDelta | key | value | no headers */
    int64_t body = 1 + (int64_t)sl_varlong_size(0) + (int64_t)sl_varint_size(b->record_count) +
                   (int64_t)(key.ptr != NULL ? sl_varint_size((int32_t)key.len) + key.len
                                             : sl_varint_size(-1)) +
                   (int64_t)sl_varint_size((int32_t)value.len) + (int64_t)value.len + 1;
    size_t len_before = b->buf.len;
    int rc = append_varint(&b->buf, body);
    rc = rc != 0 ? rc : sl_buf_append(&b->buf, "\0", 1);
    rc = rc != 0 ? rc : append_varint(&b->buf, 0);
    rc = rc != 0 ? rc : append_varint(&b->buf, b->record_count);
    rc = rc != 0 ? rc : append_varint(&b->buf, key.ptr != NULL ? (int64_t)key.len : -1);
    rc = rc != 0 || key.ptr == NULL ? rc : sl_buf_append(&b->buf, key.ptr, key.len);
    rc = rc != 0 ? rc : append_varint(&b->buf, (int64_t)value.len);
    rc = rc != 0 ? rc : sl_buf_append(&b->buf, value.ptr, value.len);
    rc = rc != 0 ? rc : append_varint(&b->buf, 0);
    if (rc != 0) {
        b->buf.len = len_before;
        return rc;
    }
    SL_ASSERT(b->buf.len - len_before == (size_t)body + sl_varlong_size(body));
    b->record_count++;
    return 0;
}

void sl__cli_batch_finish(sl_cli_batch_t *b)
{
    SL_ASSERT(b->record_count > 0 && b->buf.len > SL_RECORD_BATCH_HEADER_BYTES);
    sl_writer_t w;
    sl_writer_init(&w, b->buf.ptr, SL_RECORD_BATCH_HEADER_BYTES);
    int rc = sl_write_i64(&w, 0);                                                 /* baseOffset */
    rc |= sl_write_i32(&w, (int32_t)(b->buf.len - SL_RECORD_BATCH_LOG_OVERHEAD)); /* length */
    rc |= sl_write_i32(&w, -1);                  /* partitionLeaderEpoch */
    rc |= sl_write_i8(&w, 2);                    /* magic */
    rc |= sl_write_u32(&w, 0);                   /* crc, below */
    rc |= sl_write_i16(&w, 0);                   /* attributes: no codec */
    rc |= sl_write_i32(&w, b->record_count - 1); /* lastOffsetDelta */
    rc |= sl_write_i64(&w, b->base_timestamp);   /* baseTimestamp */
    rc |= sl_write_i64(&w, b->base_timestamp);   /* maxTimestamp */
    rc |= sl_write_i64(&w, -1);                  /* producerId */
    rc |= sl_write_i16(&w, -1);                  /* producerEpoch */
    rc |= sl_write_i32(&w, -1);                  /* baseSequence */
    rc |= sl_write_i32(&w, b->record_count);     /* recordCount */
    SL_ASSERT(rc == 0 && sl_writer_left(&w) == 0);
    uint32_t crc = sl_record_batch_crc(b->buf.ptr, b->buf.len);
    sl_writer_init(&w, b->buf.ptr + SL_RECORD_BATCH_CRC_OFFSET, 4);
    rc = sl_write_u32(&w, crc);
    SL_ASSERT(rc == 0);
}

/* Kafka's Utils.murmur2 (seed 0x9747b28c), bit for bit. */
static uint32_t murmur2(const uint8_t *data, size_t len)
{
    const uint32_t m = 0x5bd1e995;
    const int r = 24;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        uint32_t k = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 | (uint32_t)data[i + 2] << 16 |
                     (uint32_t)data[i + 3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    /* the 1 to 3 tail bytes, as murmur2's fall-through switch takes them (clang's
     * -Wimplicit-fallthrough refuses a comment as the annotation) */
    size_t tail = len - i;
    if (tail == 3)
        h ^= (uint32_t)data[i + 2] << 16;
    if (tail >= 2)
        h ^= (uint32_t)data[i + 1] << 8;
    if (tail >= 1) {
        h ^= (uint32_t)data[i];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

int32_t sl__cli_partition_for_key(sl_slice_t key, int32_t partition_count)
{
    SL_ASSERT(partition_count > 0 && key.ptr != NULL);
    uint32_t positive = murmur2(key.ptr, key.len) & 0x7fffffffu; /* Utils.toPositive */
    return (int32_t)(positive % (uint32_t)partition_count);
}
