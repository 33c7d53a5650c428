/* test_metadata: the KRaft metadata records codec, the metadata image and the controller's
 * decisions. Each test_*.c file is one cmocka group; a failing group fails the binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

void test_apply_all(sl_metadata_image_t *img, const sl_metadata_records_t *list)
{
    for (size_t i = 0; i < list->count; i++) {
        int rc = sl_metadata_apply(img, &list->items[i]);
        if (rc != 0)
            fail_msg("record %zu (type %d): %s", i, list->items[i].type, sl_strerror(rc));
    }
}

void test_add_broker(sl_metadata_image_t *img, int32_t id, const char *rack)
{
    sl_arena_t arena;
    sl_arena_init(&arena, TEST_ARENA_BYTES);
    sl_metadata_records_t list;
    sl_metadata_records_init(&list, &arena);
    sl_metadata_record_t *rec = sl_metadata_records_add(&list, SL_METADATA_RECORD_REGISTER_BROKER);
    assert_non_null(rec);
    sl_register_broker_record_t *r = &rec->u.register_broker;
    r->broker_id = id;
    r->broker_epoch = id * 100;
    memset(r->incarnation_id.bytes, id + 1, 16);
    r->rack = rack != NULL ? sl_slice_from_str(rack) : SL_SLICE_NULL;
    sl_broker_endpoint_t *ep = sl_arena_alloc(&arena, sizeof *ep);
    *ep = (sl_broker_endpoint_t){sl_slice_from_str("PLAINTEXT"), sl_slice_from_str("127.0.0.11"),
                                 (uint16_t)(9000 + id), 0};
    r->end_points = ep;
    r->end_points_count = 1;
    rec = sl_metadata_records_add(&list, SL_METADATA_RECORD_UNFENCE_BROKER);
    rec->u.unfence_broker.id = id;
    rec->u.unfence_broker.epoch = id * 100;
    test_apply_all(img, &list);
    sl_arena_deinit(&arena);
}

uint8_t *test_read_fixture(const char *name, size_t *len)
{
    const char *src = getenv("SL_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/unit/metadata/%s", src != NULL ? src : ".", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (SL_SOURCE_DIR)", path);
    uint8_t *data = test_malloc(1 << 16);
    *len = fread(data, 1, 1 << 16, f);
    fclose(f);
    assert_true(*len > 0 && *len < (1 << 16));
    return data;
}

void test_image_copy(const sl_metadata_image_t *img, sl_metadata_image_t *copy)
{
    sl_arena_t arena;
    sl_arena_init(&arena, TEST_ARENA_BYTES);
    sl_metadata_records_t list;
    sl_metadata_records_init(&list, &arena);
    assert_int_equal(sl_metadata_image_snapshot(img, &list), 0);
    sl_metadata_image_init(copy);
    test_apply_all(copy, &list);
    sl_arena_deinit(&arena);
}

int main(void)
{
    int failed = 0;
    failed |= test_records_run();
    failed |= test_image_run();
    failed |= test_controller_run();
    return failed ? 1 : 0;
}
