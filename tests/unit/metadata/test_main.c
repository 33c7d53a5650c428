/* test_metadata: the KRaft metadata records codec, the metadata image and the controller's
 * decisions. Each test_*.c file is one cmocka group; a failing group fails the binary. */
#include "test_support.h"

int main(void)
{
    int failed = 0;
    failed |= test_records_run();
    return failed ? 1 : 0;
}
