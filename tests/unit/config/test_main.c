/* The config unit test binary: one cmocka group per file of src/config. */
#include "test_config.h"

int main(void)
{
    int failed = 0;
    failed += test_yaml_load_run();
    failed += test_validate_run();
    failed += test_env_run();
    failed += test_listener_run();
    failed += test_schema_run();
    failed += test_kafka_keys_run();
    failed += test_quorum_run();
    return failed == 0 ? 0 : 1;
}
