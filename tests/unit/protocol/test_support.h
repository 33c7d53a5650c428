/* test_support: shared includes and helpers for the protocol unit tests (one cmocka binary,
 * test_protocol, made of the test_*.c files here; test_main.c runs every group). */
#ifndef SL_TEST_PROTOCOL_SUPPORT_H
#define SL_TEST_PROTOCOL_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sluice/protocol.h"

#define TEST_ARENA_BYTES (8 * SL_MiB)

int test_codec_run(void);
int test_api_run(void);
int test_fixtures_run(void);
int test_record_batch_run(void);
int test_records_run(void);

/* Copies len bytes into a heap block of exactly len bytes, so ASan catches any over-read. */
uint8_t *test_exact_copy(const uint8_t *data, size_t len);
void test_exact_free(uint8_t *copy);

#endif
