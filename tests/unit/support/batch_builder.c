/* batch_builder: see batch_builder.h. Records are encoded by hand from the v2 record layout:
 * varint length, attributes, varlong timestamp delta, varint offset delta, varint-prefixed key and
 * value, varint header count. */
#include "batch_builder.h"

#include <stdio.h>
#include <string.h>

#include "sluice/protocol.h"
#include "sluice/record_batch.h"

static size_t record_encode(uint8_t *out, size_t cap, int32_t i)
{
    char key[32], value[32];
    int key_len = snprintf(key, sizeof(key), "key-%d", (int)i);
    int value_len = snprintf(value, sizeof(value), "value-%d", (int)i);
    uint8_t body[128];
    sl_writer_t w;
    sl_writer_init(&w, body, sizeof(body));
    sl_write_i8(&w, 0);
    sl_write_varlong(&w, i);
    sl_write_varint(&w, i);
    sl_write_varint(&w, key_len);
    sl_write_bytes(&w, key, (size_t)key_len);
    sl_write_varint(&w, value_len);
    sl_write_bytes(&w, value, (size_t)value_len);
    sl_write_varint(&w, 0);
    size_t body_len = (size_t)(w.pos - body);
    sl_writer_init(&w, out, cap);
    sl_write_varint(&w, (int32_t)body_len);
    sl_write_bytes(&w, body, body_len);
    return (size_t)(w.pos - out);
}

uint8_t *test_batch_build(int32_t record_count, int64_t base_timestamp, size_t *len)
{
    size_t cap = SL_RECORD_BATCH_HEADER_BYTES + (size_t)record_count * 128;
    uint8_t *batch = sl_calloc(1, cap);
    size_t pos = SL_RECORD_BATCH_HEADER_BYTES;
    for (int32_t i = 0; i < record_count; i++)
        pos += record_encode(batch + pos, cap - pos, i);
    sl_writer_t w;
    sl_writer_init(&w, batch, SL_RECORD_BATCH_HEADER_BYTES);
    sl_write_i64(&w, 0);                                             /* base offset */
    sl_write_i32(&w, (int32_t)(pos - SL_RECORD_BATCH_LOG_OVERHEAD)); /* length */
    sl_write_i32(&w, -1);                                            /* leader epoch */
    sl_write_i8(&w, 2);                                              /* magic */
    sl_write_u32(&w, 0);                                             /* crc, below */
    sl_write_i16(&w, 0);                                             /* attributes */
    sl_write_i32(&w, record_count - 1);                              /* last offset delta */
    sl_write_i64(&w, base_timestamp);                                /* base timestamp */
    sl_write_i64(&w, base_timestamp + (record_count > 0 ? record_count - 1 : 0)); /* max */
    sl_write_i64(&w, -1);                                                         /* producer id */
    sl_write_i16(&w, -1);           /* producer epoch */
    sl_write_i32(&w, -1);           /* base sequence */
    sl_write_i32(&w, record_count); /* record count */
    test_batch_fix_crc(batch, pos);
    *len = pos;
    return batch;
}

void test_batch_fix_crc(uint8_t *batch, size_t len)
{
    uint32_t crc = sl_record_batch_crc(batch, len);
    batch[17] = (uint8_t)(crc >> 24);
    batch[18] = (uint8_t)(crc >> 16);
    batch[19] = (uint8_t)(crc >> 8);
    batch[20] = (uint8_t)crc;
}
