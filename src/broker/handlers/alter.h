/* alter: what AlterConfigs (alter_configs.c) and IncrementalAlterConfigs
 * (incremental_alter_configs.c) share: one operation on one config key, and the per-resource
 * checks and changes in Kafka's order. Private to those two handlers. */
#ifndef SLUICE_BROKER_HANDLERS_ALTER_H
#define SLUICE_BROKER_HANDLERS_ALTER_H

#include "../broker_int.h"

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
/* Whether resource i of the request appears more than once (Kafka refuses every copy). */
bool sl__alter_resource_repeated(const int8_t *types, const sl_slice_t *names, size_t count,
                                 size_t i);

/* incremental_alter_configs.c: the topic part (name checks, the resulting overrides, validation,
 * persistence through sl__topics_set_configs). msg holds len bytes for the error text. */
sl_kerr_t sl__alter_topic(sl_request_t *req, sl_slice_t name, const sl_alter_op_t *ops,
                          size_t count, bool replace, bool validate_only, char *msg, size_t len);

#endif
