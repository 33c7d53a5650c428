/* alter: what AlterConfigs (alter_configs.c) and IncrementalAlterConfigs
 * (incremental_alter_configs.c) share: one operation on one config key, and the per-resource
 * checks and changes in Kafka's order. Private to those two handlers. */
#ifndef SLUICE_BROKER_HANDLERS_ALTER_H
#define SLUICE_BROKER_HANDLERS_ALTER_H

#include "../broker_configs.h"
#include "../broker_int.h"

/* Config operations one resource may carry; more is hostile input (a topic has ~35 keys). */
#define SL_ALTER_OPS_MAX 1024

/* Kafka's AlterConfigOp.OpType ids. */
enum { SL_ALTER_SET = 0, SL_ALTER_DELETE = 1, SL_ALTER_APPEND = 2, SL_ALTER_SUBTRACT = 3 };

typedef struct sl_alter_op {
    int8_t op;
    sl_slice_t name;  /* borrowed from the request */
    sl_slice_t value; /* borrowed; ptr NULL for a null value */
} sl_alter_op_t;

/* Checks and applies ops to one resource (replace: AlterConfigs, whose ops are the whole new set
 * of overrides; otherwise incremental). Returns Kafka's error for the resource; *message is its
 * text in the request arena, or a null slice. */
sl_kerr_t sl__alter_resource(sl_request_t *req, int8_t type, sl_slice_t name,
                             const sl_alter_op_t *ops, size_t count, bool replace,
                             bool validate_only, sl_slice_t *message);
/* Marks (in the arena, count of them) the resources a request names more than once, by type
 * (types may be NULL: names only) and name: UNIQUE, FIRST (the first of a repeated name) or AGAIN.
 * NULL when the arena is full. O(n log n). */
enum { SL_ALTER_UNIQUE = 0, SL_ALTER_FIRST = 1, SL_ALTER_AGAIN = 2 };
uint8_t *sl__alter_repeated(sl_request_t *req, const int8_t *types, const sl_slice_t *names,
                            size_t count);

/* incremental_alter_configs.c: the topic part (name checks, the resulting overrides, validation,
 * persistence through sl__topics_set_configs). msg holds len bytes for the error text. */
sl_kerr_t sl__alter_topic(sl_request_t *req, sl_slice_t name, const sl_alter_op_t *ops,
                          size_t count, bool replace, bool validate_only, char *msg, size_t len);

/* The broker part: the layer (cluster-wide "" or this broker) after ops (or, replace, exactly
 * ops), through sl__broker_configs_set, then topics and the log level re-applied. */
sl_kerr_t sl__alter_broker_layer(sl_request_t *req, sl_broker_layer_t layer,
                                 const sl_alter_op_t *ops, size_t count, bool replace,
                                 bool validate_only, char *msg, size_t len);

#endif
