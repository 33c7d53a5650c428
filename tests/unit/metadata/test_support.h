/* test_support: shared includes for the metadata unit tests (one cmocka binary, test_metadata,
 * made of the test_*.c files here; test_main.c runs every group). */
#ifndef SL_TEST_METADATA_SUPPORT_H
#define SL_TEST_METADATA_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sluice/metadata_records.h"

#define TEST_ARENA_BYTES (8 * SL_MiB)

int test_records_run(void);

#endif
