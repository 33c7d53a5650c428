/* test_main: runs every protocol test group; the exit status is the number of failed groups. */
#include "test_support.h"

uint8_t *test_exact_copy(const uint8_t *data, size_t len)
{
    uint8_t *copy = sl_malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, data, len);
    return copy;
}

void test_exact_free(uint8_t *copy)
{
    sl_free(copy);
}

int main(void)
{
    int failed = 0;
    failed += test_api_run() != 0;
    failed += test_codec_run() != 0;
    failed += test_fixtures_run() != 0;
    failed += test_record_batch_run() != 0;
    failed += test_records_run() != 0;
    return failed;
}
