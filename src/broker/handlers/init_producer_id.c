/* InitProducerId (key 22, v0-5) for idempotent producers: a null transactional id gets a fresh
 * producer id with epoch 0, as Kafka's TransactionCoordinator answers whatever producer id and
 * epoch the request carries (KIP-360: an idempotent client bumps its epoch itself; only
 * transactional producers get a bump from the coordinator). A producer id without an epoch, or
 * the reverse, is INVALID_REQUEST, as Kafka checks before anything else. Transactions are not
 * implemented: a non-empty transactional id is answered as by a Kafka broker that is not that
 * id's coordinator (NOT_COORDINATOR); FindCoordinator finds no transaction coordinator either.
 * Invariants: an id is handed out only after its block is durable (producer_ids.c). */
#include "../broker_int.h"

/* Kafka's transaction.max.timeout.ms default: the bound it checks TransactionTimeoutMs against. */
#define TRANSACTION_TIMEOUT_MS_MAX 900000

static void fail(sl_init_producer_id_response_t *out, sl_kerr_t error)
{
    out->error_code = error;
    out->producer_id = -1;
    out->producer_epoch = -1;
}

int sl__handle_init_producer_id(sl_request_t *req, const void *request, void *response)
{
    const sl_init_producer_id_request_t *in = request;
    sl_init_producer_id_response_t *out = response;
    out->throttle_time_ms = 0;
    /* v0-2 carry no producer id or epoch: the decoder leaves the schema's -1 defaults. */
    if ((in->producer_id == -1) != (in->producer_epoch == -1)) {
        fail(out, SL_KERR_INVALID_REQUEST);
        return 0;
    }
    if (in->transactional_id.ptr != NULL) {
        if (in->transactional_id.len == 0)
            fail(out, SL_KERR_INVALID_REQUEST);
        else if (in->transaction_timeout_ms <= 0 ||
                 in->transaction_timeout_ms > TRANSACTION_TIMEOUT_MS_MAX)
            fail(out, SL_KERR_INVALID_TRANSACTION_TIMEOUT);
        else
            fail(out, SL_KERR_NOT_COORDINATOR);
        return 0;
    }
    int64_t id = -1;
    int rc = sl__producer_ids_next(&req->broker->producer_ids, &id);
    if (rc != 0) {
        SL_LOG_RATELIMITED(SL_LOG_ERROR, "broker", "cannot allocate a producer id error=\"%s\"",
                           sl_strerror(rc));
        /* retriable for clients: the next attempt tries the disk again */
        fail(out, SL_KERR_COORDINATOR_NOT_AVAILABLE);
        return 0;
    }
    SL_ASSERT(id >= 0);
    out->error_code = SL_KERR_NONE;
    out->producer_id = id;
    out->producer_epoch = 0;
    return 0;
}
