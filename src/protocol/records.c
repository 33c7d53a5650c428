/* records: walks the records of a record batch v2, decompressing gzip, snappy (xerial or raw),
 * lz4 (frame) and zstd batches into a bounded scratch buffer first. Every input byte is hostile:
 * lengths are checked against what is left before they are used, each decompression loop must
 * consume input or produce output on every step (so it ends), and the output never exceeds
 * SL_RECORDS_DECOMPRESSED_BYTES_MAX. The codecs allocate through sl_malloc where they allow it. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#define LZ4F_STATIC_LINKING_ONLY
#define ZSTD_STATIC_LINKING_ONLY
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "sluice/protocol.h"
#include "sluice/record_batch.h"
#include "sluice/records.h"

void sl_records_scratch_init(sl_buf_t *scratch)
{
    sl_buf_init(scratch, SL_RECORDS_DECOMPRESSED_BYTES_MAX);
}

/* ---- output space ---------------------------------------------------------------------------- */

static size_t out_limit(const sl_buf_t *out)
{
    return SL_MIN(out->cap_max, (size_t)SL_RECORDS_DECOMPRESSED_BYTES_MAX);
}

/* Makes free space at the end of out: as much again as it holds (at least the minimum), within
 * the bound. SL_ELIMIT when out is already at the bound. */
static int out_grow(sl_buf_t *out)
{
    size_t limit = out_limit(out);
    if (out->len >= limit)
        return SL_ELIMIT;
    size_t extra = SL_MAX(out->len, (size_t)SL_RECORDS_SCRATCH_BYTES_MIN);
    int rc = sl_buf_reserve(out, SL_MIN(extra, limit - out->len));
    SL_ASSERT(rc != 0 || out->cap > out->len);
    return rc;
}

/* Bytes out may still take in all. */
static size_t out_room(const sl_buf_t *out)
{
    return out_limit(out) > out->len ? out_limit(out) - out->len : 0;
}

/* Free bytes at the end of out, never beyond the bound (cap may exceed it after reuse). */
static size_t out_free(const sl_buf_t *out)
{
    size_t limit = SL_MIN(out->cap, out_limit(out));
    return limit > out->len ? limit - out->len : 0;
}

/* ---- gzip (zlib with gzip framing; Java reads concatenated members, so do we) ---------------- */

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return sl_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    sl_free(p);
}

static int gzip_step(z_stream *zs, sl_buf_t *out, bool *done)
{
    if (out_free(out) == 0) {
        int rc = out_grow(out);
        if (rc != 0)
            return rc;
    }
    uInt room = (uInt)SL_MIN(out_free(out), (size_t)UINT_MAX);
    uInt in_before = zs->avail_in;
    zs->next_out = out->ptr + out->len;
    zs->avail_out = room;
    int zr = inflate(zs, Z_NO_FLUSH);
    out->len += room - zs->avail_out;
    bool progress = zs->avail_out != room || zs->avail_in != in_before;
    if (zr == Z_STREAM_END) {
        *done = zs->avail_in == 0;
        return *done || inflateReset(zs) == Z_OK ? 0 : SL_EMALFORMED; /* next member */
    }
    if (zr == Z_MEM_ERROR)
        return -ENOMEM;
    if ((zr != Z_OK && zr != Z_BUF_ERROR) || !progress)
        return SL_EMALFORMED; /* corrupt, or input ended inside the stream */
    return 0;
}

static int decompress_gzip(sl_slice_t in, sl_buf_t *out)
{
    z_stream zs = {.zalloc = z_alloc, .zfree = z_free, .opaque = Z_NULL};
    if (in.len > UINT_MAX)
        return SL_ELIMIT;
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) /* 16: gzip header and trailer only */
        return -ENOMEM;
    zs.next_in = (Bytef *)(uintptr_t)in.ptr; /* zlib's API is not const; it never writes input */
    zs.avail_in = (uInt)in.len;
    bool done = false;
    int rc = 0;
    while (rc == 0 && !done)
        rc = gzip_step(&zs, out, &done);
    inflateEnd(&zs);
    return rc;
}

/* ---- snappy: Kafka's xerial framing (magic, version, compat, then int32-length chunks of raw
 * snappy), or one raw snappy block as some clients send ---------------------------------------- */

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER_BYTES 16 /* magic + int32 version + int32 compatible version */

static int snappy_block(const uint8_t *block, size_t len, sl_buf_t *out)
{
    size_t ulen = 0;
    if (snappy_uncompressed_length((const char *)block, len, &ulen) != SNAPPY_OK)
        return SL_EMALFORMED;
    if (ulen > out_room(out))
        return SL_ELIMIT;
    int rc = sl_buf_reserve(out, ulen);
    if (rc != 0)
        return rc;
    size_t got = ulen;
    if (snappy_uncompress((const char *)block, len, (char *)out->ptr + out->len, &got) !=
            SNAPPY_OK ||
        got != ulen)
        return SL_EMALFORMED;
    out->len += ulen;
    return 0;
}

static int decompress_snappy(sl_slice_t in, sl_buf_t *out)
{
    if (in.len < XERIAL_HEADER_BYTES || memcmp(in.ptr, xerial_magic, sizeof xerial_magic) != 0)
        return snappy_block(in.ptr, in.len, out);
    sl_reader_t r;
    sl_reader_init(&r, in.ptr + XERIAL_HEADER_BYTES, in.len - XERIAL_HEADER_BYTES);
    while (sl_reader_left(&r) > 0) { /* each chunk consumes at least its 4-byte length */
        uint32_t n;
        sl_slice_t chunk;
        if (sl_read_u32(&r, &n) != 0 || sl_read_bytes(&r, n, &chunk) != 0)
            return SL_EMALFORMED;
        if (n == 0)
            continue;
        int rc = snappy_block(chunk.ptr, chunk.len, out);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- lz4 frame format ------------------------------------------------------------------------ */

static void *lz4_alloc(void *opaque, size_t size)
{
    (void)opaque;
    return sl_malloc(size);
}

static void *lz4_calloc(void *opaque, size_t size)
{
    (void)opaque;
    return sl_calloc(1, size);
}

static void lz4_free(void *opaque, void *p)
{
    (void)opaque;
    sl_free(p);
}

static int lz4_run(LZ4F_dctx *dctx, sl_slice_t in, sl_buf_t *out)
{
    size_t pos = 0;
    for (;;) { /* every step consumes input or produces output, both bounded */
        if (out_free(out) == 0) {
            int rc = out_grow(out);
            if (rc != 0)
                return rc;
        }
        size_t src = in.len - pos, dst = out_free(out);
        size_t hint = LZ4F_decompress(dctx, out->ptr + out->len, &dst, in.ptr + pos, &src, NULL);
        if (LZ4F_isError(hint))
            return SL_EMALFORMED;
        pos += src;
        out->len += dst;
        if (hint == 0 && pos == in.len)
            return 0; /* the last frame ended with the input */
        if (src == 0 && dst == 0)
            return SL_EMALFORMED; /* no progress: the input ended inside a frame */
    }
}

static int decompress_lz4(sl_slice_t in, sl_buf_t *out)
{
    LZ4F_CustomMem mem = {lz4_alloc, lz4_calloc, lz4_free, NULL};
    LZ4F_dctx *dctx = LZ4F_createDecompressionContext_advanced(mem, LZ4F_VERSION);
    if (dctx == NULL)
        return -ENOMEM;
    int rc = in.len == 0 ? SL_EMALFORMED : lz4_run(dctx, in, out);
    LZ4F_freeDecompressionContext(dctx);
    return rc;
}

/* ---- zstd (streaming: frames may omit their content size) ------------------------------------ */

static void *zstd_alloc(void *opaque, size_t size)
{
    (void)opaque;
    return sl_malloc(size);
}

static void zstd_free(void *opaque, void *p)
{
    (void)opaque;
    sl_free(p);
}

static int zstd_run(ZSTD_DStream *ds, sl_slice_t in, sl_buf_t *out)
{
    ZSTD_inBuffer src = {in.ptr, in.len, 0};
    for (;;) { /* every step consumes input or produces output, both bounded */
        if (out_free(out) == 0) {
            int rc = out_grow(out);
            if (rc != 0)
                return rc;
        }
        ZSTD_outBuffer dst = {out->ptr + out->len, out_free(out), 0};
        size_t in_before = src.pos;
        size_t hint = ZSTD_decompressStream(ds, &dst, &src);
        if (ZSTD_isError(hint))
            return ZSTD_getErrorCode(hint) == ZSTD_error_frameParameter_windowTooLarge
                       ? SL_ELIMIT
                       : SL_EMALFORMED;
        out->len += dst.pos;
        if (hint == 0 && src.pos == src.size)
            return 0; /* the last frame ended with the input */
        if (dst.pos == 0 && src.pos == in_before)
            return SL_EMALFORMED; /* no progress: the input ended inside a frame */
    }
}

static int decompress_zstd(sl_slice_t in, sl_buf_t *out)
{
    ZSTD_customMem mem = {zstd_alloc, zstd_free, NULL};
    ZSTD_DStream *ds = ZSTD_createDStream_advanced(mem);
    if (ds == NULL)
        return -ENOMEM;
    int rc = SL_EMALFORMED;
    if (!ZSTD_isError(
            ZSTD_DCtx_setParameter(ds, ZSTD_d_windowLogMax, SL_RECORDS_ZSTD_WINDOW_LOG_MAX)) &&
        in.len > 0)
        rc = zstd_run(ds, in, out);
    ZSTD_freeDStream(ds);
    return rc;
}

int sl_records_decompress(sl_compression_t codec, sl_slice_t in, sl_buf_t *out)
{
    SL_ASSERT(out != NULL);
    SL_ASSERT(in.ptr != NULL || in.len == 0);
    size_t len_before = out->len;
    int rc;
    switch (codec) {
    case SL_COMPRESSION_NONE:
        rc = in.len <= out_room(out) ? sl_buf_append(out, in.ptr, in.len) : SL_ELIMIT;
        break;
    case SL_COMPRESSION_GZIP:
        rc = decompress_gzip(in, out);
        break;
    case SL_COMPRESSION_SNAPPY:
        rc = decompress_snappy(in, out);
        break;
    case SL_COMPRESSION_LZ4:
        rc = decompress_lz4(in, out);
        break;
    case SL_COMPRESSION_ZSTD:
        rc = decompress_zstd(in, out);
        break;
    default:
        rc = SL_EUNSUPPORTED;
        break;
    }
    SL_ASSERT(out->len >= len_before && out->len <= SL_MAX(out_limit(out), len_before));
    return rc;
}

/* ---- records --------------------------------------------------------------------------------- */

static int read_nullable_bytes(sl_reader_t *r, sl_slice_t *out)
{
    int32_t n;
    if (sl_read_varint(r, &n) != 0 || n < -1)
        return SL_EMALFORMED;
    if (n == -1) {
        *out = SL_SLICE_NULL;
        return 0;
    }
    return sl_read_bytes(r, (size_t)n, out);
}

int sl_record_header_next(sl_slice_t *headers, sl_record_header_t *out)
{
    SL_ASSERT(headers != NULL && out != NULL);
    sl_reader_t r;
    sl_reader_init(&r, headers->ptr, headers->len);
    /* Kafka refuses a null header key ("Invalid negative header key size"). */
    if (read_nullable_bytes(&r, &out->key) != 0 || out->key.ptr == NULL ||
        read_nullable_bytes(&r, &out->value) != 0)
        return SL_EMALFORMED;
    headers->len = sl_reader_left(&r);
    headers->ptr = r.pos;
    return 0;
}

/* Checks the headers that start at r and leaves r after them. */
static int read_headers(sl_reader_t *r, sl_record_t *rec)
{
    if (sl_read_varint(r, &rec->header_count) != 0 || rec->header_count < 0 ||
        (size_t)rec->header_count > sl_reader_left(r) / 2) /* a header takes >= 2 bytes */
        return SL_EMALFORMED;
    sl_slice_t rest = {r->pos, sl_reader_left(r)};
    for (int32_t i = 0; i < rec->header_count; i++) {
        sl_record_header_t h;
        if (sl_record_header_next(&rest, &h) != 0)
            return SL_EMALFORMED;
    }
    rec->headers = (sl_slice_t){r->pos, (size_t)(rest.ptr - r->pos)};
    r->pos = rest.ptr;
    return 0;
}

/* One record at r: its varint length first, then exactly that many bytes. */
static int read_record(sl_reader_t *r, const sl_record_batch_t *b, sl_record_t *rec)
{
    int32_t size;
    sl_slice_t body;
    if (sl_read_varint(r, &size) != 0 || size < 0 || sl_read_bytes(r, (size_t)size, &body) != 0)
        return SL_EMALFORMED;
    sl_reader_t in;
    sl_reader_init(&in, body.ptr, body.len);
    if (sl_read_i8(&in, &rec->attributes) != 0 ||
        sl_read_varlong(&in, &rec->timestamp_delta) != 0 ||
        sl_read_varint(&in, &rec->offset_delta) != 0 || read_nullable_bytes(&in, &rec->key) != 0 ||
        read_nullable_bytes(&in, &rec->value) != 0 || read_headers(&in, rec) != 0 ||
        sl_reader_left(&in) != 0)
        return SL_EMALFORMED;
    /* Hostile deltas may overflow: wrap like Java's long arithmetic instead of undefined C. */
    rec->offset = (int64_t)((uint64_t)b->base_offset + (uint64_t)(int64_t)rec->offset_delta);
    if ((b->attributes & SL_RECORD_BATCH_TIMESTAMP_LOG_APPEND) != 0)
        rec->timestamp = b->max_timestamp;
    else
        rec->timestamp = (int64_t)((uint64_t)b->base_timestamp + (uint64_t)rec->timestamp_delta);
    return 0;
}

static int walk_records(const sl_record_batch_t *b, sl_slice_t body, sl_records_cb fn, void *data)
{
    sl_reader_t r;
    sl_reader_init(&r, body.ptr, body.len);
    /* Each record takes >= 7 bytes, so a lying count ends at the bytes, not at INT32_MAX. */
    for (int32_t i = 0; i < b->record_count; i++) {
        sl_record_t rec = {.index = i};
        if (read_record(&r, b, &rec) != 0)
            return SL_EMALFORMED;
        int rc = fn(&rec, data);
        if (rc != 0)
            return rc;
    }
    return sl_reader_left(&r) == 0 ? 0 : SL_EMALFORMED; /* Kafka: "records still remaining" */
}

int sl_records_iterate(const uint8_t *batch, size_t len, sl_buf_t *scratch, sl_records_cb fn,
                       void *data)
{
    SL_ASSERT(batch != NULL || len == 0);
    SL_ASSERT(scratch != NULL && fn != NULL);
    sl_record_batch_t b;
    int rc = sl_record_batch_parse(batch, len, &b);
    if (rc == SL_EINCOMPLETE)
        return SL_EMALFORMED; /* the caller gave the whole input: a shortfall is malformed */
    if (rc != 0)
        return rc;
    if (b.record_count < 0)
        return SL_EMALFORMED;
    size_t size = sl_record_batch_size(&b);
    SL_ASSERT(size >= SL_RECORD_BATCH_HEADER_BYTES && size <= len);
    sl_slice_t body = {batch + SL_RECORD_BATCH_HEADER_BYTES, size - SL_RECORD_BATCH_HEADER_BYTES};
    int codec = b.attributes & SL_RECORD_BATCH_COMPRESSION_MASK;
    if (codec != SL_COMPRESSION_NONE) {
        scratch->len = 0;
        rc = sl_records_decompress((sl_compression_t)codec, body, scratch);
        if (rc != 0)
            return rc;
        body =
            (sl_slice_t){scratch->ptr != NULL ? scratch->ptr : (const uint8_t *)"", scratch->len};
    }
    return walk_records(&b, body, fn, data);
}

/* ---- compression: the encoding side, for the one place the broker writes records of its own
 * (the log cleaner re-encodes the records it keeps of a compressed batch with the batch's codec,
 * as Kafka's cleaner does). gzip is one member, snappy uses Kafka's xerial framing (what the Java
 * producer writes; every client reads it), lz4 and zstd are single frames. -----------------------
 */

#define XERIAL_BLOCK_BYTES (32 * 1024) /* the Java client's default xerial block size */

static int compress_gzip(sl_slice_t in, sl_buf_t *out)
{
    z_stream zs = {.zalloc = z_alloc, .zfree = z_free};
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    size_t bound = deflateBound(&zs, (uLong)in.len) + 32;
    int rc = sl_buf_reserve(out, bound);
    if (rc == 0) {
        zs.next_in = (Bytef *)(uintptr_t)in.ptr;
        zs.avail_in = (uInt)in.len;
        zs.next_out = out->ptr + out->len;
        zs.avail_out = (uInt)bound;
        rc = deflate(&zs, Z_FINISH) == Z_STREAM_END ? 0 : SL_ELIMIT;
        if (rc == 0)
            out->len += bound - zs.avail_out;
    }
    deflateEnd(&zs);
    return rc;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int compress_snappy(sl_slice_t in, sl_buf_t *out)
{
    static const uint8_t header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
                                       0,    0,   0,   1,   0,   0,   0,   1};
    size_t start = out->len;
    int rc = sl_buf_append(out, header, sizeof header);
    for (size_t pos = 0; rc == 0 && pos < in.len; pos += XERIAL_BLOCK_BYTES) {
        size_t n = SL_MIN((size_t)XERIAL_BLOCK_BYTES, in.len - pos);
        size_t bound = snappy_max_compressed_length(n);
        rc = sl_buf_reserve(out, 4 + bound);
        if (rc != 0)
            break;
        size_t got = bound;
        if (snappy_compress((const char *)in.ptr + pos, n, (char *)out->ptr + out->len + 4, &got) !=
            SNAPPY_OK) {
            rc = SL_EMALFORMED;
            break;
        }
        put_be32(out->ptr + out->len, (uint32_t)got);
        out->len += 4 + got;
    }
    if (rc != 0)
        out->len = start;
    return rc;
}

static int compress_lz4(sl_slice_t in, sl_buf_t *out)
{
    LZ4F_preferences_t prefs = {0};
    size_t bound = LZ4F_compressFrameBound(in.len, &prefs);
    int rc = sl_buf_reserve(out, bound);
    if (rc != 0)
        return rc;
    size_t n = LZ4F_compressFrame(out->ptr + out->len, bound, in.ptr, in.len, &prefs);
    if (LZ4F_isError(n))
        return SL_ELIMIT;
    out->len += n;
    return 0;
}

static int compress_zstd(sl_slice_t in, sl_buf_t *out)
{
    size_t bound = ZSTD_compressBound(in.len);
    int rc = sl_buf_reserve(out, bound);
    if (rc != 0)
        return rc;
    size_t n = ZSTD_compress(out->ptr + out->len, bound, in.ptr, in.len, 3);
    if (ZSTD_isError(n))
        return SL_ELIMIT;
    out->len += n;
    return 0;
}

int sl_records_compress(sl_compression_t codec, sl_slice_t in, sl_buf_t *out)
{
    switch (codec) {
    case SL_COMPRESSION_GZIP:
        return compress_gzip(in, out);
    case SL_COMPRESSION_SNAPPY:
        return compress_snappy(in, out);
    case SL_COMPRESSION_LZ4:
        return compress_lz4(in, out);
    case SL_COMPRESSION_ZSTD:
        return compress_zstd(in, out);
    default:
        return SL_EUNSUPPORTED;
    }
}
