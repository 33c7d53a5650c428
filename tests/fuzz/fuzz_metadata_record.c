/* fuzz_metadata_record: arbitrary bytes as a sequence of framed KRaft metadata records (each
 * prefixed by one length byte) decoded and applied to one image. Nothing may crash, leak or
 * assert; a record that decodes must re-encode to a size its decoder accepts again; and whatever
 * the image became must snapshot and load back into an equal image. Seeds (corpus/metadata_record/)
 * are the record values of a __cluster_metadata segment written by Kafka 4.0.0. */
#include <stdlib.h>
#include <string.h>

#include "sluice/metadata.h"

static void check_snapshot(const sl_metadata_image_t *img, sl_arena_t *arena)
{
    sl_metadata_records_t list;
    sl_metadata_records_init(&list, arena);
    if (sl_metadata_image_snapshot(img, &list) != 0)
        return; /* arena full: a size limit, not a bug */
    sl_metadata_image_t copy;
    sl_metadata_image_init(&copy);
    for (size_t i = 0; i < list.count; i++)
        if (sl_metadata_apply(&copy, &list.items[i]) != 0)
            abort();
    if (!sl_metadata_image_equal(img, &copy))
        abort();
    sl_metadata_image_deinit(&copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_arena_t arena;
    sl_arena_init(&arena, 4 * SL_MiB);
    sl_metadata_image_t img;
    sl_metadata_image_init(&img);
    size_t pos = 0;
    while (pos < size) {
        size_t len = data[pos++];
        if (len > size - pos)
            len = size - pos;
        sl_reader_t r;
        sl_reader_init(&r, data + pos, len);
        pos += len;
        sl_metadata_record_t rec;
        if (sl_metadata_record_decode(&r, &arena, &rec) != 0)
            continue;
        size_t n = sl_metadata_record_size(&rec);
        uint8_t *buf = sl_arena_alloc(&arena, n + 1);
        if (buf == NULL || n == 0)
            abort();
        sl_writer_t w;
        sl_writer_init(&w, buf, n);
        if (sl_metadata_record_encode(&w, &rec) != 0 || sl_writer_left(&w) != 0)
            abort();
        sl_metadata_record_t again;
        sl_reader_init(&r, buf, n);
        if (sl_metadata_record_decode(&r, &arena, &again) != 0)
            abort();
        (void)sl_metadata_apply(&img, &rec); /* refusals are the point: any result but a crash */
    }
    check_snapshot(&img, &arena);
    sl_metadata_image_deinit(&img);
    sl_arena_deinit(&arena);
    return 0;
}
