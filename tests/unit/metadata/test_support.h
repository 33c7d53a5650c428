/* test_support: shared includes for the metadata unit tests (one cmocka binary, test_metadata,
 * made of the test_*.c files here; test_main.c runs every group). */
#ifndef SL_TEST_METADATA_SUPPORT_H
#define SL_TEST_METADATA_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sluice/metadata.h"
#include "sluice/metadata_records.h"

#define TEST_ARENA_BYTES (8 * SL_MiB)

int test_records_run(void);
int test_image_run(void);
int test_controller_run(void);

/* Applies every record of list to img, failing the test on any error. */
void test_apply_all(sl_metadata_image_t *img, const sl_metadata_records_t *list);
/* Registers broker id (rack may be NULL) at epoch id * 100, unfenced, through records. */
void test_add_broker(sl_metadata_image_t *img, int32_t id, const char *rack);
/* The bytes of tests/unit/metadata/<name> (under $SL_SOURCE_DIR); test_free them. */
uint8_t *test_read_fixture(const char *name, size_t *len);
/* A copy of img made through its snapshot (so it is also a snapshot round trip). */
void test_image_copy(const sl_metadata_image_t *img, sl_metadata_image_t *copy);

#endif
