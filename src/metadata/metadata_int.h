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

#endif
