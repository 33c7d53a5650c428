/* fuzz_records: arbitrary bytes through sl_records_iterate and sl_records_decompress. Nothing may
 * crash, over-read or loop; delivered records must lie inside the input or the scratch buffer,
 * their headers must walk exactly, and a 0 result means every declared record was delivered.
 * Input: byte 0 = mode (bit 3: replace the batch's codec bits with bits 0-2; bit 4: set the
 * length field to the input's length, so mutations inside the records are reached), the rest is
 * a record batch v2 (the seeds in corpus/records/ are real clients' batches, every codec). */
#include <stdlib.h>
#include <string.h>

#include "sluice/record_batch.h"
#include "sluice/records.h"

/* Small enough to keep runs fast and to reach SL_ELIMIT often. */
#define FUZZ_SCRATCH_BYTES_MAX (1 * SL_MiB)

typedef struct {
    const uint8_t *in, *in_end;
    const sl_buf_t *scratch;
    int32_t delivered;
    int64_t base_offset;
} state_t;

static void check_slice(const state_t *s, sl_slice_t v)
{
    if (v.ptr == NULL)
        return;
    bool in_input = v.ptr >= s->in && v.ptr + v.len <= s->in_end;
    bool in_scratch = s->scratch->ptr != NULL && v.ptr >= s->scratch->ptr &&
                      v.ptr + v.len <= s->scratch->ptr + s->scratch->len;
    if (!in_input && !in_scratch && v.len > 0)
        abort();
}

static int on_record(const sl_record_t *rec, void *data)
{
    state_t *s = data;
    if (rec->index != s->delivered++ ||
        rec->offset != (int64_t)((uint64_t)s->base_offset + (uint64_t)(int64_t)rec->offset_delta))
        abort();
    check_slice(s, rec->key);
    check_slice(s, rec->value);
    check_slice(s, rec->headers);
    sl_slice_t rest = rec->headers;
    for (int32_t i = 0; i < rec->header_count; i++) {
        sl_record_header_t h;
        if (sl_record_header_next(&rest, &h) != 0 || h.key.ptr == NULL)
            abort();
        check_slice(s, h.key);
        check_slice(s, h.value);
    }
    if (rest.len != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    size_t len = size - 1;
    uint8_t *batch = malloc(len > 0 ? len : 1); /* exact size: ASan sees any over-read */
    if (batch == NULL)
        return 0;
    memcpy(batch, data + 1, len);
    if ((mode & 0x08) != 0 && len > SL_RECORD_BATCH_ATTRIBUTES_OFFSET + 1)
        batch[SL_RECORD_BATCH_ATTRIBUTES_OFFSET + 1] =
            (uint8_t)((batch[SL_RECORD_BATCH_ATTRIBUTES_OFFSET + 1] & ~7) | (mode & 7));
    if ((mode & 0x10) != 0 && len >= SL_RECORD_BATCH_HEADER_BYTES && len < INT32_MAX) {
        uint32_t l = (uint32_t)(len - SL_RECORD_BATCH_LOG_OVERHEAD);
        batch[8] = (uint8_t)(l >> 24);
        batch[9] = (uint8_t)(l >> 16);
        batch[10] = (uint8_t)(l >> 8);
        batch[11] = (uint8_t)l;
    }
    sl_buf_t scratch;
    sl_buf_init(&scratch, FUZZ_SCRATCH_BYTES_MAX);
    state_t s = {.in = batch, .in_end = batch + len, .scratch = &scratch};
    sl_record_batch_t b;
    bool parsed = sl_record_batch_parse(batch, len, &b) == 0;
    s.base_offset = parsed ? b.base_offset : 0;
    int rc = sl_records_iterate(batch, len, &scratch, on_record, &s);
    if (rc == 0 && (!parsed || s.delivered != b.record_count))
        abort();
    if (rc > 0 || scratch.len > FUZZ_SCRATCH_BYTES_MAX)
        abort();
    /* The decompressors alone, on the raw bytes (no batch header to get past). */
    scratch.len = 0;
    rc = sl_records_decompress((sl_compression_t)(mode & 7), (sl_slice_t){batch, len}, &scratch);
    if (rc > 0 || scratch.len > FUZZ_SCRATCH_BYTES_MAX)
        abort();
    sl_buf_deinit(&scratch);
    free(batch);
    return 0;
}
