/* protocol: the Kafka wire codecs. Bounds-checked primitive readers and writers, request and
 * response headers, the API table, and one table-driven codec for every message generated from
 * Kafka's JSON schemas (the structs and descriptors live in gen/protocol_gen.h, included below).
 * Invariants: a reader never reads past r->end and every shortfall inside a frame is SL_EMALFORMED;
 * a writer never writes past w->end (SL_ELIMIT); no function asserts on wire bytes. */
#ifndef SLUICE_PROTOCOL_H
#define SLUICE_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sluice/core.h"

/* ---- cursors ------------------------------------------------------------------------------------
 * A reader walks one complete frame (borrowed; valid while the frame is); a writer fills a buffer
 * the caller sized with the matching _size() function. */
typedef struct {
    const uint8_t *pos, *end;
} sl_reader_t;

/* A RECORDS field a gap writer left out of its output: the bytes belong at `at` (a position in the
 * output, between what was written before and after them). The caller sends them from elsewhere
 * (Fetch: from the segment file with sendfile, or from the log's read buffer), so record data is
 * never copied into the response. */
typedef struct sl_writer_gap {
    uint8_t *at;
    sl_slice_t records; /* borrowed from the encoded struct */
} sl_writer_gap_t;

typedef struct {
    uint8_t *pos, *end;
    /* Optional (NULL: every field is written): RECORDS fields of non-zero length are noted in
     * gaps[0..gaps_cap) instead of copied; the output then needs the _size() minus their bytes. */
    sl_writer_gap_t *gaps;
    size_t gaps_count, gaps_cap;
} sl_writer_t;

static inline void sl_reader_init(sl_reader_t *r, const void *data, size_t len)
{
    r->pos = (const uint8_t *)data;
    r->end = r->pos + len;
}

static inline size_t sl_reader_left(const sl_reader_t *r)
{
    return (size_t)(r->end - r->pos);
}

static inline void sl_writer_init(sl_writer_t *w, void *data, size_t len)
{
    *w = (sl_writer_t){.pos = (uint8_t *)data, .end = (uint8_t *)data + len};
}

static inline size_t sl_writer_left(const sl_writer_t *w)
{
    return (size_t)(w->end - w->pos);
}

/* ---- primitive readers: big-endian fixed width, Kafka varints; 0 or SL_EMALFORMED --------------
 */
static inline int sl_reader_skip(sl_reader_t *r, size_t n)
{
    if (n > sl_reader_left(r))
        return SL_EMALFORMED;
    r->pos += n;
    return 0;
}

/* Borrows n bytes of the frame into *out (an empty slice still has a non-NULL ptr). */
static inline int sl_read_bytes(sl_reader_t *r, size_t n, sl_slice_t *out)
{
    if (n > sl_reader_left(r))
        return SL_EMALFORMED;
    out->ptr = n > 0 ? r->pos : (const uint8_t *)"";
    out->len = n;
    r->pos += n;
    return 0;
}

static inline int sl_read_u8(sl_reader_t *r, uint8_t *out)
{
    if (sl_reader_left(r) < 1)
        return SL_EMALFORMED;
    *out = *r->pos++;
    return 0;
}

static inline int sl_read_u16(sl_reader_t *r, uint16_t *out)
{
    if (sl_reader_left(r) < 2)
        return SL_EMALFORMED;
    *out = (uint16_t)((unsigned)r->pos[0] << 8 | (unsigned)r->pos[1]);
    r->pos += 2;
    return 0;
}

static inline int sl_read_u32(sl_reader_t *r, uint32_t *out)
{
    if (sl_reader_left(r) < 4)
        return SL_EMALFORMED;
    const uint8_t *p = r->pos;
    *out = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
    r->pos += 4;
    return 0;
}

static inline int sl_read_u64(sl_reader_t *r, uint64_t *out)
{
    if (sl_reader_left(r) < 8)
        return SL_EMALFORMED;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | r->pos[i];
    *out = v;
    r->pos += 8;
    return 0;
}

static inline int sl_read_i8(sl_reader_t *r, int8_t *out)
{
    uint8_t v = 0;
    int rc = sl_read_u8(r, &v);
    *out = (int8_t)v;
    return rc;
}

static inline int sl_read_i16(sl_reader_t *r, int16_t *out)
{
    uint16_t v = 0;
    int rc = sl_read_u16(r, &v);
    *out = (int16_t)v;
    return rc;
}

static inline int sl_read_i32(sl_reader_t *r, int32_t *out)
{
    uint32_t v = 0;
    int rc = sl_read_u32(r, &v);
    *out = (int32_t)v;
    return rc;
}

static inline int sl_read_i64(sl_reader_t *r, int64_t *out)
{
    uint64_t v = 0;
    int rc = sl_read_u64(r, &v);
    *out = (int64_t)v;
    return rc;
}

static inline int sl_read_f64(sl_reader_t *r, double *out)
{
    uint64_t v = 0;
    int rc = sl_read_u64(r, &v);
    memcpy(out, &v, sizeof *out);
    return rc;
}

static inline int sl_read_uuid(sl_reader_t *r, sl_uuid_t *out)
{
    if (sl_reader_left(r) < 16)
        return SL_EMALFORMED;
    memcpy(out->bytes, r->pos, 16);
    r->pos += 16;
    return 0;
}

/* Kafka UNSIGNED_VARINT: at most 5 bytes; a 6th byte or bits past 32 are SL_EMALFORMED. */
static inline int sl_read_uvarint(sl_reader_t *r, uint32_t *out)
{
    uint32_t v = 0;
    for (unsigned shift = 0; shift <= 28; shift += 7) {
        uint8_t b;
        if (sl_read_u8(r, &b) != 0)
            return SL_EMALFORMED;
        if (shift == 28 && (b & 0xf0) != 0)
            return SL_EMALFORMED; /* overflow or a 6th byte */
        v |= (uint32_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return SL_EMALFORMED;
}

/* Kafka UNSIGNED_VARLONG: at most 10 bytes. */
static inline int sl_read_uvarlong(sl_reader_t *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift <= 63; shift += 7) {
        uint8_t b;
        if (sl_read_u8(r, &b) != 0)
            return SL_EMALFORMED;
        if (shift == 63 && (b & 0xfe) != 0)
            return SL_EMALFORMED;
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return SL_EMALFORMED;
}

/* VARINT / VARLONG: zigzag-encoded signed values (record batch v2 fields). */
static inline int sl_read_varint(sl_reader_t *r, int32_t *out)
{
    uint32_t u = 0;
    int rc = sl_read_uvarint(r, &u);
    *out = (int32_t)(u >> 1) ^ -(int32_t)(u & 1);
    return rc;
}

static inline int sl_read_varlong(sl_reader_t *r, int64_t *out)
{
    uint64_t u = 0;
    int rc = sl_read_uvarlong(r, &u);
    *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return rc;
}

/* ---- primitive writers: 0 or SL_ELIMIT when the buffer is out of room ------------------------ */
static inline int sl_write_bytes(sl_writer_t *w, const void *data, size_t len)
{
    if (len > sl_writer_left(w))
        return SL_ELIMIT;
    if (len > 0)
        memcpy(w->pos, data, len);
    w->pos += len;
    return 0;
}

static inline int sl_write_u8(sl_writer_t *w, uint8_t v)
{
    return sl_write_bytes(w, &v, 1);
}

static inline int sl_write_u16(sl_writer_t *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return sl_write_bytes(w, b, sizeof b);
}

static inline int sl_write_u32(sl_writer_t *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return sl_write_bytes(w, b, sizeof b);
}

static inline int sl_write_u64(sl_writer_t *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    return sl_write_bytes(w, b, sizeof b);
}

static inline int sl_write_i8(sl_writer_t *w, int8_t v)
{
    return sl_write_u8(w, (uint8_t)v);
}

static inline int sl_write_i16(sl_writer_t *w, int16_t v)
{
    return sl_write_u16(w, (uint16_t)v);
}

static inline int sl_write_i32(sl_writer_t *w, int32_t v)
{
    return sl_write_u32(w, (uint32_t)v);
}

static inline int sl_write_i64(sl_writer_t *w, int64_t v)
{
    return sl_write_u64(w, (uint64_t)v);
}

static inline int sl_write_f64(sl_writer_t *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return sl_write_u64(w, u);
}

static inline int sl_write_uuid(sl_writer_t *w, const sl_uuid_t *uuid)
{
    return sl_write_bytes(w, uuid->bytes, 16);
}

static inline int sl_write_uvarlong(sl_writer_t *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    return sl_write_bytes(w, b, n);
}

static inline int sl_write_uvarint(sl_writer_t *w, uint32_t v)
{
    return sl_write_uvarlong(w, v);
}

static inline int sl_write_varint(sl_writer_t *w, int32_t v)
{
    return sl_write_uvarint(w, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

static inline int sl_write_varlong(sl_writer_t *w, int64_t v)
{
    return sl_write_uvarlong(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static inline size_t sl_uvarlong_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline size_t sl_uvarint_size(uint32_t v)
{
    return sl_uvarlong_size(v);
}

static inline size_t sl_varint_size(int32_t v)
{
    return sl_uvarint_size(((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

static inline size_t sl_varlong_size(int64_t v)
{
    return sl_uvarlong_size(((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* ---- message descriptors ------------------------------------------------------------------------
 * Generated constant tables that describe one struct each; src/protocol/codec.c interprets them.
 * Read-only; exposed for introspection (fuzzers, the admin CLI, debugging). */
#define SL_VERSION_MAX INT16_MAX

/* Inclusive; empty when min > max. */
typedef struct sl_version_range {
    int16_t min, max;
} sl_version_range_t;

typedef enum sl_field_kind {
    SL_FIELD_BOOL = 1,
    SL_FIELD_INT8,
    SL_FIELD_INT16,
    SL_FIELD_UINT16,
    SL_FIELD_INT32,
    SL_FIELD_UINT32,
    SL_FIELD_INT64,
    SL_FIELD_FLOAT64,
    SL_FIELD_UUID,
    SL_FIELD_STRING,
    SL_FIELD_BYTES,
    SL_FIELD_RECORDS,
    SL_FIELD_STRUCT,
} sl_field_kind_t;

enum {
    SL_FIELD_F_ARRAY = 1,         /* T *<name> at offset, int32_t <name>_count at aux_offset */
    SL_FIELD_F_DEFAULT_NULL = 2,  /* the default is null (string, bytes, records, array, struct) */
    SL_FIELD_F_PRESENT = 4,       /* nullable struct value: bool <name>_present at aux_offset */
    SL_FIELD_F_FLEX_OVERRIDE = 8, /* compact encoding follows .flexible, not the message's */
};

typedef struct sl_field_desc {
    const char *name;                     /* as in the JSON schema */
    const struct sl_message_desc *nested; /* SL_FIELD_STRUCT: the element or value type */
    const char *default_str;              /* strings with a non-null default */
    int64_t default_int;                  /* integers and bools */
    double default_float;
    uint32_t offset, aux_offset;
    int32_t tag; /* -1: never tagged */
    uint8_t kind, flags;
    sl_version_range_t versions, nullable, tagged, flexible;
} sl_field_desc_t;

typedef struct sl_message_desc {
    const char *name; /* the JSON message or struct name */
    const sl_field_desc_t *fields;
    const uint8_t *tag_order; /* indices into fields of tagged fields, ascending tag */
    uint32_t struct_size;
    uint16_t field_count, tag_count;
    int16_t api_key;             /* -1 unless a request or response */
    sl_version_range_t valid;    /* the message's validVersions */
    sl_version_range_t flexible; /* the message's flexibleVersions */
} sl_message_desc_t;

/* One KRaft metadata record type (one schema of metadata/); the generated table
 * (gen/metadata_gen.h) holds one per type, sluice/metadata_records.h frames records with it. */
typedef struct sl_metadata_record_info {
    int16_t type;     /* the schema's apiKey: the record type in the frame */
    const char *name; /* "PartitionChangeRecord" */
    int16_t version_min, version_max;
    const struct sl_message_desc *desc; /* the record body */
    uint32_t body_offset;               /* of the body's union member in sl_metadata_record_t */
} sl_metadata_record_info_t;

/* ---- generic codec, by descriptor --------------------------------------------------------------
 * decode: initializes *out with sl_message_init, then fills it from r. Arrays come from the arena
 * (NULL from the arena: SL_ELIMIT); strings, bytes and records borrow the frame (valid while the
 * frame and the arena are). Trailing bytes after the body are left in r. Returns 0,
 * SL_EMALFORMED, SL_ELIMIT, or SL_EUNSUPPORTED for a version outside the descriptor's range.
 * size/encode: a null string or array in a version where the field is not nullable is written as
 * empty; fields absent in the version are skipped; tagged fields are written when they differ from
 * their default, in ascending tag order. encode returns 0, SL_ELIMIT (out of room, or a value too
 * long for its length prefix) or SL_EUNSUPPORTED. */
int sl_message_decode(const struct sl_message_desc *d, sl_reader_t *r, sl_arena_t *arena,
                      int16_t version, void *out);
size_t sl_message_size(const struct sl_message_desc *d, int16_t version, const void *m);
int sl_message_encode(const struct sl_message_desc *d, sl_writer_t *w, int16_t version,
                      const void *m);
/* Zeroes *m and sets every field to its JSON default (strings "" unless "null", etc.). */
void sl_message_init(const struct sl_message_desc *d, void *m);
/* Appends {"FieldName":value,...} for the fields present in version: bytes as base64, uuids in
 * Kafka's base64 form, records as their length in bytes. 0 or the sl_buf error. */
int sl_message_to_json(const struct sl_message_desc *d, int16_t version, const void *m,
                       sl_buf_t *buf);

/* ---- headers ------------------------------------------------------------------------------------
 */
typedef struct {
    int16_t api_key, api_version;
    int32_t correlation_id;
    sl_slice_t client_id; /* ptr NULL when null; borrowed from the frame */
} sl_request_header_t;

/* Parses a request header from the start of a complete frame payload (after the int32 size).
 * Chooses header v1 or v2 from (api_key, api_version) via the API table (v2 iff flexible; key 7
 * v0 -> v0). Unknown api_key or a version outside the schema's validVersions: still fills
 * api_key, api_version, correlation_id (and client_id if it parses) and returns SL_EUNSUPPORTED.
 * Truncated: SL_EMALFORMED. On success r is positioned at the body. */
int sl_request_header_decode(sl_reader_t *r, sl_request_header_t *hdr);
/* The request header version (0, 1 or 2) for a known (api_key, api_version), else -1. */
int sl_request_header_version(int16_t api_key, int16_t api_version);
/* For clients (the admin CLI): the header of a request to send. */
size_t sl_request_header_size(const sl_request_header_t *hdr);
int sl_request_header_encode(sl_writer_t *w, const sl_request_header_t *hdr);

/* Response header for (api_key, api_version): v0 = correlation id; v1 adds an empty tagged-field
 * section iff the API version is flexible; ApiVersions (key 18) always v0. */
int sl_response_header_version(int16_t api_key, int16_t api_version);
size_t sl_response_header_size(int16_t api_key, int16_t api_version);
int sl_response_header_encode(sl_writer_t *w, int16_t api_key, int16_t api_version,
                              int32_t correlation_id);
/* For clients: reads the correlation id and skips the header's tagged fields if v1. */
int sl_response_header_decode(sl_reader_t *r, int16_t api_key, int16_t api_version,
                              int32_t *correlation_id);
/* Skips one tagged-field section (uvarint count, then tag, size, bytes each). */
int sl_tagged_fields_skip(sl_reader_t *r);

/* ---- the API table (generated from the request and response schemas) ---------------------------
 */
typedef struct sl_api_info {
    int16_t api_key;
    const char *name; /* "Produce", "ApiVersions", ... */
    int16_t version_min, version_max;
    int16_t flexible_min; /* -1 none */
    const struct sl_message_desc *request, *response;
    size_t request_struct_size, response_struct_size;
    bool latest_version_unstable; /* the JSON marks version_max as unstable (not for clients) */
} sl_api_info_t;

const sl_api_info_t *sl_api_info(int16_t api_key); /* NULL if unknown */
bool sl_api_version_is_flexible(int16_t api_key, int16_t api_version);
/* Every known API in ascending key order; *count receives the number of entries. */
const sl_api_info_t *const *sl_api_list(size_t *count);

/* Kafka error codes (sl_kerr_t, SL_KERR_*) and the generated message types. */
#include "protocol_gen.h"

#endif
