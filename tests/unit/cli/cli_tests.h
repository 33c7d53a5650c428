/* The admin CLI's unit test groups; test_main.c runs them all. */
#ifndef SLUICE_TEST_CLI_TESTS_H
#define SLUICE_TEST_CLI_TESTS_H

int run_args_tests(void);
int run_output_tests(void);
int run_batch_tests(void);

#endif
