/* metadata_records: the KRaft metadata-log records (part of the protocol module). Each record is
 * one Kafka schema from metadata/ (generated into gen/metadata_gen.h: the structs, the
 * SL_METADATA_RECORD_* types and sl_metadata_record_t); on __cluster_metadata it is the value of
 * one record of a v2 batch, framed as Kafka's MetadataRecordSerde frames an ApiMessageAndVersion:
 *
 *     frame version (unsigned varint, always 1) | type (unsigned varint) | version (unsigned
 *     varint) | body (the schema's encoding at that version; every record version is flexible)
 *
 * Kafka refuses frame version 0 (the 2.8 KRaft preview), any other frame version, a type or
 * version above 32767, an unknown type and trailing bytes after the body; so does the decoder
 * here, with SL_EMALFORMED (SL_EUNSUPPORTED for a known type at a version this build lacks). */
#ifndef SLUICE_METADATA_RECORDS_H
#define SLUICE_METADATA_RECORDS_H

#include "sluice/protocol.h"

#include "metadata_gen.h"

#define SL_METADATA_FRAME_VERSION 1

/* The type's schema, or NULL for a type no schema has. */
const sl_metadata_record_info_t *sl_metadata_record_info(int16_t type);

/* Sets rec to type at version with the body at its schema defaults. SL_EUNSUPPORTED for an
 * unknown type or a version outside the schema's range. */
int sl_metadata_record_init(sl_metadata_record_t *rec, int16_t type, int16_t version);

/* The body's union member (borrowed from rec). */
static inline void *sl_metadata_record_body(sl_metadata_record_t *rec)
{
    return &rec->u;
}

/* Decodes one framed record filling all of r (a record's value). Arrays come from arena; strings
 * and bytes borrow r's bytes. 0, SL_EMALFORMED (bad frame, unknown type, bad body, trailing
 * bytes), SL_EUNSUPPORTED (known type, version outside the schema) or SL_ELIMIT (arena). */
int sl_metadata_record_decode(sl_reader_t *r, sl_arena_t *arena, sl_metadata_record_t *out);

/* Framed size of rec, or 0 when its type or version is unknown. */
size_t sl_metadata_record_size(const sl_metadata_record_t *rec);

/* Writes the framed record. 0, SL_ELIMIT or SL_EUNSUPPORTED. */
int sl_metadata_record_encode(sl_writer_t *w, const sl_metadata_record_t *rec);

/* Appends {"type":"PartitionChangeRecord","version":0,"data":{...}} (logs, debugging, tests). */
int sl_metadata_record_to_json(const sl_metadata_record_t *rec, sl_buf_t *buf);

#endif
