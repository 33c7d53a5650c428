/* broker: the Kafka API handlers and the glue that owns a running broker: its log dirs' identity
 * (cluster id, node id), its listeners, and the table of APIs and versions it answers.
 * Invariant: ApiVersions advertises exactly the entries of the handler table, nothing else. */
#ifndef SLUICE_BROKER_H
#define SLUICE_BROKER_H

#include <uv.h>

#include "sluice/config.h"
#include "sluice/core.h"
#include "sluice/io.h"

typedef struct sl_broker sl_broker_t;

/* Creates a broker for cfg (borrowed; must outlive the broker) on loop. Returns owned. */
int sl_broker_create(uv_loop_t *loop, const sl_config_t *cfg, sl_broker_t **out);
/* Opens (or formats) the log dirs and starts every listener. On error logs what failed. */
int sl_broker_start(sl_broker_t *broker);
/* Stops accepting, answers what is in flight, closes everything; done_cb runs once all is closed
 * (never synchronously). */
typedef void (*sl_broker_stopped_cb)(sl_broker_t *broker, void *data);
void sl_broker_stop(sl_broker_t *broker, sl_broker_stopped_cb done_cb, void *data);
void sl_broker_destroy(sl_broker_t *broker);

/* The disk backend storage.io.backend got ("io_uring" or "sync") and why, in one line; NULL before
 * the storage is open. Borrowed: valid until the broker is destroyed. For metrics and admin. */
const sl_disk_choice_t *sl_broker_storage_backend(const sl_broker_t *broker);

/* One implemented API: the versions advertised in ApiVersions and answered. */
typedef struct sl_api_support {
    int16_t api_key;
    int16_t version_min, version_max;
} sl_api_support_t;
/* The table ApiVersions advertises, sorted by api key. */
const sl_api_support_t *sl_broker_api_support(size_t *count);

#endif
