/* metadata_record: frames KRaft metadata records (sluice/metadata_records.h) around the generated
 * record bodies, as Kafka's MetadataRecordSerde (AbstractApiMessageSerde) does. */
#include "sluice/metadata_records.h"

const sl_metadata_record_info_t *sl_metadata_record_info(int16_t type)
{
    if (type < 0 || type > SL_METADATA_RECORD_TYPE_MAX)
        return NULL;
    return sl__metadata_record_table[type];
}

static bool version_known(const sl_metadata_record_info_t *info, int16_t version)
{
    return version >= info->version_min && version <= info->version_max;
}

int sl_metadata_record_init(sl_metadata_record_t *rec, int16_t type, int16_t version)
{
    const sl_metadata_record_info_t *info = sl_metadata_record_info(type);
    if (info == NULL || !version_known(info, version))
        return SL_EUNSUPPORTED;
    memset(rec, 0, sizeof *rec);
    rec->type = type;
    rec->version = version;
    sl_message_init(info->desc, (uint8_t *)rec + info->body_offset);
    return 0;
}

/* Kafka reads each frame field as an unsigned varint and refuses values above Short.MAX_VALUE. */
static int read_frame_short(sl_reader_t *r, int16_t *out)
{
    uint32_t v = 0;
    if (sl_read_uvarint(r, &v) != 0 || v > INT16_MAX)
        return SL_EMALFORMED;
    *out = (int16_t)v;
    return 0;
}

int sl_metadata_record_decode(sl_reader_t *r, sl_arena_t *arena, sl_metadata_record_t *out)
{
    int16_t frame_version = 0, type = 0, version = 0;
    if (read_frame_short(r, &frame_version) != 0 || frame_version != SL_METADATA_FRAME_VERSION)
        return SL_EMALFORMED;
    if (read_frame_short(r, &type) != 0 || read_frame_short(r, &version) != 0)
        return SL_EMALFORMED;
    const sl_metadata_record_info_t *info = sl_metadata_record_info(type);
    if (info == NULL)
        return SL_EMALFORMED;
    if (!version_known(info, version))
        return SL_EUNSUPPORTED;
    memset(out, 0, sizeof *out);
    out->type = type;
    out->version = version;
    int rc = sl_message_decode(info->desc, r, arena, version, (uint8_t *)out + info->body_offset);
    if (rc != 0)
        return rc;
    return sl_reader_left(r) == 0 ? 0 : SL_EMALFORMED;
}

size_t sl_metadata_record_size(const sl_metadata_record_t *rec)
{
    const sl_metadata_record_info_t *info = sl_metadata_record_info(rec->type);
    if (info == NULL || !version_known(info, rec->version))
        return 0;
    return sl_uvarint_size(SL_METADATA_FRAME_VERSION) + sl_uvarint_size((uint32_t)rec->type) +
           sl_uvarint_size((uint32_t)rec->version) +
           sl_message_size(info->desc, rec->version, (const uint8_t *)rec + info->body_offset);
}

int sl_metadata_record_encode(sl_writer_t *w, const sl_metadata_record_t *rec)
{
    const sl_metadata_record_info_t *info = sl_metadata_record_info(rec->type);
    if (info == NULL || !version_known(info, rec->version))
        return SL_EUNSUPPORTED;
    int rc = sl_write_uvarint(w, SL_METADATA_FRAME_VERSION);
    if (rc == 0)
        rc = sl_write_uvarint(w, (uint32_t)rec->type);
    if (rc == 0)
        rc = sl_write_uvarint(w, (uint32_t)rec->version);
    if (rc == 0)
        rc = sl_message_encode(info->desc, w, rec->version,
                               (const uint8_t *)rec + info->body_offset);
    return rc;
}

int sl_metadata_record_to_json(const sl_metadata_record_t *rec, sl_buf_t *buf)
{
    const sl_metadata_record_info_t *info = sl_metadata_record_info(rec->type);
    if (info == NULL || !version_known(info, rec->version))
        return SL_EUNSUPPORTED;
    int rc = sl_buf_appendf(buf, "{\"type\":\"%s\",\"version\":%d,\"data\":", info->name,
                            (int)rec->version);
    if (rc == 0)
        rc = sl_message_to_json(info->desc, rec->version, (const uint8_t *)rec + info->body_offset,
                                buf);
    if (rc == 0)
        rc = sl_buf_append(buf, "}", 1);
    return rc;
}
