/* batch_builder: builds real, uncompressed Kafka record batches v2 with a correct CRC-32C, for
 * unit tests of anything that takes client batches. */
#ifndef SL_TEST_BATCH_BUILDER_H
#define SL_TEST_BATCH_BUILDER_H

#include "sluice/core.h"

/* Builds a batch of record_count records whose values are "value-<i>" and keys "key-<i>", with
 * timestamps base_timestamp + i. Returns an sl_malloc'd buffer and its size in *len. */
uint8_t *test_batch_build(int32_t record_count, int64_t base_timestamp, size_t *len);
/* Recomputes the CRC field after a test changed bytes it covers. */
void test_batch_fix_crc(uint8_t *batch, size_t len);

#endif
