/* Fuzz target: the configuration loader (YAML parse, flattening, ${VAR} expansion, typing,
 * validation, listener rules) on arbitrary bytes. Any input must give 0 or SL_ECONFIG with an
 * error line, never a crash, a leak or an assert; a loaded config must print every value. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Kafka-key warnings would flood stderr; variables let ${POD_NAME} take the success path. */
    sl_log_configure(SL_LOG_ERROR, SL_LOG_FORMAT_TEXT);
    setenv("POD_NAME", "sluice-0", 1);
    setenv("POD_NAMESPACE", "default", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t before = sl_alloc_bytes_in_use();
    sl_config_t cfg;
    char err[SL_CONFIG_ERR_BYTES];
    int rc = sl_config_load_string(&cfg, "fuzz.yaml", (const char *)data, size, err, sizeof(err));
    SL_ASSERT(rc == 0 || rc == SL_ECONFIG);
    SL_ASSERT(rc == 0 || strlen(err) > 0);
    if (rc == 0) {
        SL_ASSERT(cfg.log_dirs_count >= 1);
        SL_ASSERT(cfg.listeners_count >= 1 && cfg.listeners_count <= SL_LISTENERS_MAX);
        for (size_t i = 0; i < sl_config_key_count(); i++) {
            char text[128];
            int trc = sl_config_value_text(&cfg, sl_config_key_at(i), text, sizeof(text));
            SL_ASSERT(trc == 0 || trc == SL_ENOTFOUND || trc == SL_ELIMIT);
        }
    }
    sl_config_deinit(&cfg);
    SL_ASSERT(sl_alloc_bytes_in_use() == before);
    return 0;
}
