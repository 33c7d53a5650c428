/* broker_configs: the dynamic broker configuration Kafka's AlterConfigs sets on broker resources:
 * a cluster-wide layer (resource "") and this broker's layer (resource "<node.id>"), persisted as
 * broker-configs.meta in every log dir (temp file, fsync, rename, highest generation wins), and
 * the effective configuration built from the static one plus both layers.
 * Invariants: every stored value of a Sluice key passed Kafka's checks; the effective config's
 * address and its read-only keys' memory never change while the broker runs. */
#ifndef SLUICE_BROKER_CONFIGS_H
#define SLUICE_BROKER_CONFIGS_H

#include "sluice/config.h"
#include "sluice/core.h"
#include "sluice/protocol.h"

/* Entries one layer may hold (Sluice keys, Kafka keys Sluice ignores, custom keys). */
#define SL_BROKER_CONFIGS_MAX 256
/* A stored value, including its NUL. */
#define SL_BROKER_CONFIG_VALUE_BYTES_MAX 4096

typedef enum { SL_BROKER_LAYER_CLUSTER = 0, SL_BROKER_LAYER_BROKER = 1 } sl_broker_layer_t;

typedef struct sl_broker_configs sl_broker_configs_t;

/* Loads the newest broker-configs.meta among static_cfg's log dirs (borrowed; it must outlive
 * the result) and builds the effective configuration. A stored value that no longer passes the
 * checks is logged and dropped. Returns 0 or -ENOMEM/-errno. */
int sl__broker_configs_open(const sl_config_t *static_cfg, sl_broker_configs_t **out);
void sl__broker_configs_close(sl_broker_configs_t *bc);

/* The configuration in force (borrowed; valid until close). */
const sl_config_t *sl__broker_configs_effective(const sl_broker_configs_t *bc);
/* The configuration from the file and environment (borrowed). */
const sl_config_t *sl__broker_configs_static(const sl_broker_configs_t *bc);

/* The entries of a layer, in the order they were set (borrowed; valid until the next set). */
size_t sl__broker_configs_count(const sl_broker_configs_t *bc, sl_broker_layer_t layer);
void sl__broker_configs_at(const sl_broker_configs_t *bc, sl_broker_layer_t layer, size_t index,
                           const char **name, const char **value);
/* The layer's value of name, or NULL. */
const char *sl__broker_configs_find(const sl_broker_configs_t *bc, sl_broker_layer_t layer,
                                    const char *name);

/* Replaces a layer with names[i]=values[i] (borrowed slices, non-NULL values, no duplicates),
 * checked as Kafka does (keys that cannot change at run time, values, per-broker keys at the
 * cluster level), then persisted and applied to the effective configuration. validate_only
 * checks only. Returns Kafka's error with its message in msg. The caller re-applies what
 * depends on the effective configuration (topics, the log level). */
sl_kerr_t sl__broker_configs_set(sl_broker_configs_t *bc, sl_broker_layer_t layer,
                                 const sl_slice_t *names, const sl_slice_t *values, size_t count,
                                 bool validate_only, char *msg, size_t msg_len);

#endif
