/* cleaner_int: the log cleaner's internals shared by cleaner.c (jobs, swap), cleaner_map.c (the
 * offset map) and recovery.c (finishing a swap a crash interrupted). */
#ifndef SLUICE_CLEANER_INT_H
#define SLUICE_CLEANER_INT_H

#include "log_int.h"

#define SL_CLEANER_CHECKPOINT_FILE "cleaner-offset-checkpoint"
#define SL_CLEANER_CLEANED_SUFFIX ".cleaned" /* being written: discarded by recovery */
#define SL_CLEANER_SWAP_SUFFIX ".swap"       /* complete: recovery finishes the swap */
#define SL_BATCH_ATTR_COMPRESSION_MASK 0x07
#define SL_BATCH_ATTR_DELETE_HORIZON 0x40 /* KIP-534: BaseTimestamp holds the delete horizon */

typedef struct {
    uint64_t h1, h2;
    int64_t offset; /* -1: empty */
} sl_offset_map_slot_t;
_Static_assert(sizeof(sl_offset_map_slot_t) == 24, "Kafka's 24 bytes per key (16 hash + 8)");

typedef struct {
    sl_offset_map_slot_t *slots;
    size_t cap, count, max_count;
    int64_t latest_offset; /* the last offset the map covers (records past it are all kept) */
} sl_offset_map_t;

/* cleaner_map.c: bytes of memory at most (at least 16 slots). */
int sl__offset_map_init(sl_offset_map_t *map, size_t bytes);
void sl__offset_map_deinit(sl_offset_map_t *map);
/* false when the key is new and the map is full (nothing changed). */
bool sl__offset_map_put(sl_offset_map_t *map, sl_slice_t key, int64_t offset);
/* The latest offset put for key, -1 when none. */
int64_t sl__offset_map_get(const sl_offset_map_t *map, sl_slice_t key);

/* cleaner.c, from recovery before the segments are listed: drops *.cleaned files and finishes
 * swaps that reached *.swap (docs/formats.md). */
int sl__cleaner_recover_files(sl_log_t *log);

#endif
