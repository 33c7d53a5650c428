/* test_cli: runs the admin CLI's unit test groups (args, output, batch). */
#include "cli_tests.h"

int main(void)
{
    int failed = run_args_tests();
    failed += run_output_tests();
    failed += run_batch_tests();
    return failed == 0 ? 0 : 1;
}
