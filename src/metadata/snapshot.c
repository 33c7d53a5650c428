/* snapshot: the image as a Kafka snapshot file (what KRaft writes as
 * <offset>-<epoch>.checkpoint in __cluster_metadata-0, and `kafka-storage format` as
 * bootstrap.checkpoint): a control batch holding one SnapshotHeaderRecord, the image's records in
 * data batches, a control batch holding one SnapshotFooterRecord; offsets count from 0 across the
 * file. A control record's key is (version int16 = 0, type int16); its value is the schema body. */
#include <string.h>

#include "metadata_int.h"
#include "sluice/record_batch.h"
#include "sluice/records.h"

/* Kafka's ControlRecordType ids. */
#define CONTROL_SNAPSHOT_HEADER 3
#define CONTROL_SNAPSHOT_FOOTER 4
#define CONTROL_KRAFT_VERSION 5
#define CONTROL_KRAFT_VOTERS 6
/* Records per data batch: bounded batches, as Kafka's snapshot writer keeps them. */
#define SNAPSHOT_BATCH_RECORDS 500

static sl_slice_t control_key(sl_arena_t *arena, int16_t type)
{
    uint8_t *k = sl_arena_alloc(arena, 4);
    if (k == NULL)
        return SL_SLICE_NULL;
    k[0] = 0;
    k[1] = 0;
    k[2] = (uint8_t)((uint16_t)type >> 8);
    k[3] = (uint8_t)type;
    return (sl_slice_t){k, 4};
}

static int control_batch(sl_buf_t *out, sl_arena_t *arena, int64_t offset, int64_t now_ms,
                         int16_t type, const sl_message_desc_t *desc, const void *body)
{
    size_t n = sl_message_size(desc, 0, body);
    uint8_t *buf = sl_arena_alloc(arena, n + 1);
    sl_slice_t key = control_key(arena, type);
    if (buf == NULL || key.ptr == NULL)
        return SL_ELIMIT;
    sl_writer_t w;
    sl_writer_init(&w, buf, n);
    int rc = sl_message_encode(desc, &w, 0, body);
    if (rc != 0)
        return rc;
    sl_slice_t value = {buf, n};
    return sl__md_batch_write(out, offset, SL_RECORD_BATCH_CONTROL, now_ms, &key, &value, 1);
}

int sl_metadata_snapshot_write(const sl_metadata_image_t *img, int64_t last_contained_log_time_ms,
                               int64_t now_ms, sl_arena_t *arena, sl_buf_t *out)
{
    size_t mark = out->len;
    sl_metadata_records_t list;
    sl_metadata_records_init(&list, arena);
    sl_snapshot_header_record_t header;
    sl_snapshot_header_record_init(&header);
    header.version = 0;
    header.last_contained_log_timestamp = last_contained_log_time_ms;
    int rc = sl_metadata_image_snapshot(img, &list);
    int64_t offset = 0;
    if (rc == 0)
        rc = control_batch(out, arena, offset++, now_ms, CONTROL_SNAPSHOT_HEADER,
                           &sl_snapshot_header_record_desc, &header);
    for (size_t from = 0; rc == 0 && from < list.count; from += SNAPSHOT_BATCH_RECORDS) {
        size_t to =
            from + SNAPSHOT_BATCH_RECORDS < list.count ? from + SNAPSHOT_BATCH_RECORDS : list.count;
        sl_slice_t *values = NULL;
        rc = sl__md_encode_values(&list, from, to, &values);
        if (rc == 0)
            rc = sl__md_batch_write(out, offset, 0, now_ms, NULL, values, (int32_t)(to - from));
        offset += (int64_t)(to - from);
    }
    sl_snapshot_footer_record_t footer;
    sl_snapshot_footer_record_init(&footer);
    footer.version = 0;
    if (rc == 0)
        rc = control_batch(out, arena, offset, now_ms, CONTROL_SNAPSHOT_FOOTER,
                           &sl_snapshot_footer_record_desc, &footer);
    if (rc != 0)
        out->len = mark;
    return rc;
}

typedef struct {
    sl_arena_t *arena;
    int16_t type;
    int64_t header_time_ms;
} control_t;

/* One control record: its type, and the header's timestamp when it is a header. */
static int read_control(const sl_record_t *r, void *data)
{
    control_t *c = data;
    if (r->index != 0 || r->key.ptr == NULL || r->key.len != 4 || r->value.ptr == NULL ||
        r->key.ptr[0] != 0 || r->key.ptr[1] != 0)
        return SL_EMALFORMED;
    c->type = (int16_t)((uint16_t)r->key.ptr[2] << 8 | r->key.ptr[3]);
    if (c->type == CONTROL_SNAPSHOT_HEADER) {
        sl_snapshot_header_record_t h;
        sl_reader_t rd;
        sl_reader_init(&rd, r->value.ptr, r->value.len);
        int rc = sl_snapshot_header_record_decode(&rd, c->arena, 0, &h);
        if (rc != 0 || sl_reader_left(&rd) != 0)
            return SL_EMALFORMED;
        c->header_time_ms = h.last_contained_log_timestamp;
    }
    return 0;
}

int sl_metadata_snapshot_read(sl_metadata_image_t *img, const uint8_t *data, size_t len,
                              sl_arena_t *arena, int64_t *last_contained_log_time_ms)
{
    size_t pos = 0;
    int64_t next_offset = 0;
    bool header = false, footer = false;
    sl_buf_t scratch;
    sl_records_scratch_init(&scratch);
    int rc = 0;
    while (rc == 0 && pos < len) {
        sl_record_batch_t b;
        rc = sl_record_batch_parse(data + pos, len - pos, &b);
        if (rc != 0)
            break;
        size_t size = sl_record_batch_size(&b);
        /* Nothing may follow the footer; offsets run on from 0 without gaps; the CRC holds. */
        if (footer || b.base_offset != next_offset || b.last_offset_delta != b.record_count - 1 ||
            sl_record_batch_crc(data + pos, size) != b.crc) {
            rc = SL_EMALFORMED;
            break;
        }
        next_offset += b.record_count;
        if (b.attributes & SL_RECORD_BATCH_CONTROL) {
            control_t c = {.arena = arena, .type = -1};
            if (b.record_count != 1 ||
                sl_records_iterate(data + pos, size, &scratch, read_control, &c) != 0)
                rc = SL_EMALFORMED;
            else if (c.type == CONTROL_SNAPSHOT_HEADER && !header && pos == 0)
                header = true, *last_contained_log_time_ms = c.header_time_ms;
            else if (c.type == CONTROL_SNAPSHOT_FOOTER && header)
                footer = true;
            else if ((c.type != CONTROL_KRAFT_VERSION && c.type != CONTROL_KRAFT_VOTERS) || !header)
                rc = SL_EMALFORMED; /* the quorum's own records (KIP-853) are the host's */
        } else if (!header) {
            rc = SL_EMALFORMED;
        } else {
            rc = sl_metadata_apply_batch(img, data + pos, size, arena, NULL);
        }
        pos += size;
    }
    sl_buf_deinit(&scratch);
    if (rc == SL_EINCOMPLETE || (rc == 0 && !footer))
        rc = SL_EMALFORMED; /* a snapshot without its footer was not finished */
    return rc;
}
