/* records: the records inside a record batch v2, one at a time, for the few places the broker
 * must look inside a batch (exact ListOffsets by timestamp, the offset of the max timestamp).
 * Compressed batches (gzip, snappy in xerial framing or raw, lz4 frame, zstd) are decompressed
 * into a caller-owned, bounded scratch buffer first. Part of the protocol module.
 * Invariants: every length and varint is checked against the bytes left before use; hostile input
 * gives SL_EMALFORMED / SL_ELIMIT / SL_EUNSUPPORTED, never an assertion or an unbounded loop. */
#ifndef SLUICE_RECORDS_H
#define SLUICE_RECORDS_H

#include "sluice/core.h"

/* Bytes a batch may decompress to. A producer closes a batch by its (estimated) compressed size
 * (batch.size, at most message.max.bytes = 1 MiB by default), so text that compresses 10:1 gives
 * ~10 MiB; 32 MiB leaves room for that and refuses decompression bombs. Only one such buffer
 * exists per loop at a time: lookups decompress inside one disk completion and free before
 * returning. */
#define SL_RECORDS_DECOMPRESSED_BYTES_MAX (32 * SL_MiB)
/* A zstd frame may ask for a window up to 2^windowLog bytes; none larger than the whole output
 * bound is ever needed (2^25 = 32 MiB). */
#define SL_RECORDS_ZSTD_WINDOW_LOG_MAX 25
/* First allocation for a decompression (grown by doubling up to the bound above). */
#define SL_RECORDS_SCRATCH_BYTES_MIN (64 * SL_KiB)
_Static_assert(((size_t)1 << SL_RECORDS_ZSTD_WINDOW_LOG_MAX) == SL_RECORDS_DECOMPRESSED_BYTES_MAX,
               "the zstd window bound matches the output bound");

/* Attributes bits 0-2 of a batch (Kafka's CompressionType ids). */
typedef enum {
    SL_COMPRESSION_NONE = 0,
    SL_COMPRESSION_GZIP = 1,
    SL_COMPRESSION_SNAPPY = 2,
    SL_COMPRESSION_LZ4 = 3,
    SL_COMPRESSION_ZSTD = 4,
} sl_compression_t;

/* One record. Slices borrow from the batch (uncompressed) or from the scratch buffer
 * (compressed): valid until the scratch buffer is used again or freed. A NULL ptr is a null key or
 * value (length -1); an empty one has a non-NULL ptr and len 0. */
typedef struct sl_record {
    int64_t offset;    /* batch base offset + offset delta */
    int64_t timestamp; /* base timestamp + delta; the batch's MaxTimestamp for LogAppendTime */
    int64_t timestamp_delta;
    int32_t offset_delta;
    int32_t index; /* 0 for the batch's first record */
    int8_t attributes;
    sl_slice_t key, value;
    int32_t header_count;
    sl_slice_t headers; /* header_count headers, already checked: walk with sl_record_header_next */
} sl_record_t;

typedef struct {
    sl_slice_t key;   /* never null */
    sl_slice_t value; /* ptr NULL when null */
} sl_record_header_t;

/* Returns 0 to go on, > 0 to stop (sl_records_iterate returns it), < 0 for an error (returned). */
typedef int (*sl_records_cb)(const sl_record_t *rec, void *data);

/* A scratch buffer bounded by SL_RECORDS_DECOMPRESSED_BYTES_MAX (caller-owned; sl_buf_deinit it).
 * It can be reused across batches so that a walk over many batches allocates once. */
void sl_records_scratch_init(sl_buf_t *scratch);

/* Calls fn for each record of the v2 batch at batch (len bytes, at least the batch's declared
 * size; bytes past it are ignored), in order, decompressing into scratch (borrowed; emptied first)
 * when the batch is compressed. fn may see records before a later one turns out malformed (as a
 * streaming reader would). Does not check the CRC (the caller decides whether to pay for it).
 * Returns 0 when every record was delivered and exactly filled the batch, fn's value when it
 * stopped early, SL_EMALFORMED for anything inconsistent (truncated header, lengths, varints,
 * trailing bytes, a corrupt compressed stream), SL_EUNSUPPORTED for magic != 2 or an unknown codec,
 * SL_ELIMIT when decompression would exceed the bound, -ENOMEM. */
int sl_records_iterate(const uint8_t *batch, size_t len, sl_buf_t *scratch, sl_records_cb fn,
                       void *data);

/* Decompresses in (one batch's records bytes) with codec, appending to out (borrowed; never past
 * SL_RECORDS_DECOMPRESSED_BYTES_MAX nor out->cap_max). Errors as above. */
int sl_records_decompress(sl_compression_t codec, sl_slice_t in, sl_buf_t *out);

/* Compresses in (a batch's records bytes) with codec (not NONE), appending to out (borrowed):
 * gzip, snappy in Kafka's xerial framing, an lz4 frame, a zstd frame; what sl_records_decompress
 * reads back. SL_EUNSUPPORTED for another codec, -ENOMEM, SL_ELIMIT past out->cap_max. The log
 * cleaner uses it to re-encode the records it keeps of a compressed batch. */
int sl_records_compress(sl_compression_t codec, sl_slice_t in, sl_buf_t *out);

/* Reads the next header from *headers (a record's headers slice, advanced past it). 0, or
 * SL_EMALFORMED (never for the headers of a record sl_records_iterate delivered). */
int sl_record_header_next(sl_slice_t *headers, sl_record_header_t *out);

#endif
