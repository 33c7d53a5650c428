/* batch_builder: builds real record batch v2 bytes (uncompressed records, correct CRC32C) for the
 * log tests and the recovery fuzzer. */
#ifndef SLUICE_TESTS_BATCH_BUILDER_H
#define SLUICE_TESTS_BATCH_BUILDER_H

#include "sluice/core.h"

/* Writes a batch of record_count records (value_len bytes of value each, timestamps ts, ts+1, ...)
 * into out (cap bytes); returns its length, or 0 when it does not fit. BaseOffset is 0, like a
 * client's. */
size_t batch_build(uint8_t *out, size_t cap, int record_count, int64_t timestamp, size_t value_len,
                   uint8_t fill);

#endif
