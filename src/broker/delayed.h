/* delayed: operations that wait (a Fetch long poll; later acks=all produces waiting for replicas,
 * JoinGroup rounds) with a deadline. One list sorted by deadline and one libuv timer armed for the
 * earliest; what completes an operation early (new data) removes it from here, never polling. */
#ifndef SLUICE_BROKER_DELAYED_H
#define SLUICE_BROKER_DELAYED_H

#include <uv.h>

#include "sluice/core.h"

typedef struct sl_delayed sl_delayed_t;
typedef void (*sl_delayed_cb)(sl_delayed_t *op);

/* Caller-owned; embed it in the waiting operation. */
struct sl_delayed {
    sl_delayed_t *prev, *next;
    uint64_t deadline_ms; /* uv_now() based */
    sl_delayed_cb expire;
    bool queued;
};

typedef struct sl_delayed_queue {
    uv_timer_t timer;
    sl_delayed_t *head; /* earliest deadline first */
    size_t count;
} sl_delayed_queue_t;

void sl__delayed_queue_init(uv_loop_t *loop, sl_delayed_queue_t *queue);
/* Expires every operation now (shutdown), then closes the timer; close_cb as for uv_close. */
void sl__delayed_queue_close(sl_delayed_queue_t *queue, uv_close_cb close_cb);
void sl__delayed_add(sl_delayed_queue_t *queue, sl_delayed_t *op, uint64_t timeout_ms,
                     sl_delayed_cb expire);
/* Removes op if queued (it completed early); its expire callback will not run. */
void sl__delayed_remove(sl_delayed_queue_t *queue, sl_delayed_t *op);

#endif
