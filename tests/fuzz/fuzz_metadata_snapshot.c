/* fuzz_metadata_snapshot: arbitrary bytes as a Kafka metadata snapshot file through
 * sl_metadata_snapshot_read. Nothing may crash, leak or assert; a file that loads must write back
 * to a file that loads into an equal image. Seed: the bootstrap.checkpoint of Kafka 4.0.0. */
#include <stdlib.h>

#include "sluice/metadata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_arena_t arena;
    sl_arena_init(&arena, 4 * SL_MiB);
    sl_metadata_image_t img;
    sl_metadata_image_init(&img);
    int64_t last_ms = 0;
    if (sl_metadata_snapshot_read(&img, data, size, &arena, &last_ms) == 0) {
        sl_buf_t again;
        sl_buf_init(&again, 0);
        if (sl_metadata_snapshot_write(&img, last_ms, 0, &arena, &again) == 0) {
            sl_metadata_image_t copy;
            sl_metadata_image_init(&copy);
            int64_t copy_ms = 0;
            if (sl_metadata_snapshot_read(&copy, again.ptr, again.len, &arena, &copy_ms) != 0 ||
                copy_ms != last_ms || !sl_metadata_image_equal(&img, &copy))
                abort();
            sl_metadata_image_deinit(&copy);
        }
        sl_buf_deinit(&again);
    }
    sl_metadata_image_deinit(&img);
    sl_arena_deinit(&arena);
    return 0;
}
