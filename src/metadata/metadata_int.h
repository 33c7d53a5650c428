/* metadata_int: helpers shared by the metadata module's files (image.c, records.c,
 * controller.c). Owned values use sl_malloc; ids lists are sl_metadata_replicas_t. */
#ifndef SLUICE_METADATA_INT_H
#define SLUICE_METADATA_INT_H

#include <errno.h>

#include "sluice/limits.h"
#include "sluice/metadata.h"

/* A NUL-terminated sl_malloc'd copy of s, NULL for a null slice or when out of memory. */
char *sl__md_strdup(sl_slice_t s);
/* An owned copy of count ids (count <= 0: empty). 0 or -ENOMEM. */
int sl__md_ids_dup(const int32_t *ids, int32_t count, sl_metadata_replicas_t *out);
/* Non-negative, distinct, at most SL_METADATA_REPLICAS_MAX. */
bool sl__md_ids_valid(const int32_t *ids, int32_t count);
/* Grows an array of elem-sized items so one more fits. 0 or -ENOMEM. */
int sl__md_grow(void **items, int32_t count, int32_t *cap, size_t elem);

/* Appends one uncompressed v2 record batch of count records (keys may be NULL: null keys) with
 * the CRC set. 0, SL_ELIMIT or -ENOMEM. */
int sl__md_batch_write(sl_buf_t *out, int64_t base_offset, int16_t attributes, int64_t timestamp_ms,
                       const sl_slice_t *keys, const sl_slice_t *values, int32_t count);
/* Encodes list->items[from..to) as framed records into list->arena (*values, one per record). */
int sl__md_encode_values(const sl_metadata_records_t *list, size_t from, size_t to,
                         sl_slice_t **values);

#endif
