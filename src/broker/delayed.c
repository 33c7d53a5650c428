/* delayed: see delayed.h. The list is sorted on insert (a waiting fetch is rare next to the
 * requests answered at once, and the list is bounded by the connections' in-flight limits). */
#include "delayed.h"

static void on_timer(uv_timer_t *timer);

static void arm(sl_delayed_queue_t *q)
{
    if (q->head == NULL) {
        uv_timer_stop(&q->timer);
        return;
    }
    uint64_t now = uv_now(q->timer.loop);
    uint64_t due = q->head->deadline_ms > now ? q->head->deadline_ms - now : 0;
    uv_timer_start(&q->timer, on_timer, due, 0);
}

static void unlink_op(sl_delayed_queue_t *q, sl_delayed_t *op)
{
    if (op->prev != NULL)
        op->prev->next = op->next;
    else
        q->head = op->next;
    if (op->next != NULL)
        op->next->prev = op->prev;
    op->prev = op->next = NULL;
    op->queued = false;
    SL_ASSERT(q->count > 0);
    q->count--;
}

static void on_timer(uv_timer_t *timer)
{
    sl_delayed_queue_t *q = SL_CONTAINER_OF(timer, sl_delayed_queue_t, timer);
    uint64_t now = uv_now(timer->loop);
    /* Bounded by the queue's length: each pass removes the head. */
    while (q->head != NULL && q->head->deadline_ms <= now) {
        sl_delayed_t *op = q->head;
        unlink_op(q, op);
        op->expire(op); /* may add or remove others */
    }
    arm(q);
}

void sl__delayed_queue_init(uv_loop_t *loop, sl_delayed_queue_t *queue)
{
    *queue = (sl_delayed_queue_t){.head = NULL, .count = 0};
    uv_timer_init(loop, &queue->timer);
}

void sl__delayed_add(sl_delayed_queue_t *q, sl_delayed_t *op, uint64_t timeout_ms,
                     sl_delayed_cb expire)
{
    SL_ASSERT(!op->queued);
    SL_ASSERT(expire != NULL);
    op->deadline_ms = uv_now(q->timer.loop) + timeout_ms;
    op->expire = expire;
    op->queued = true;
    sl_delayed_t **pp = &q->head, *prev = NULL;
    while (*pp != NULL && (*pp)->deadline_ms <= op->deadline_ms) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    op->next = *pp;
    op->prev = prev;
    if (*pp != NULL)
        (*pp)->prev = op;
    *pp = op;
    q->count++;
    if (q->head == op)
        uv_timer_start(&q->timer, on_timer, timeout_ms, 0);
}

void sl__delayed_remove(sl_delayed_queue_t *q, sl_delayed_t *op)
{
    if (!op->queued)
        return;
    bool was_head = q->head == op;
    unlink_op(q, op);
    if (was_head)
        arm(q);
}

void sl__delayed_queue_close(sl_delayed_queue_t *q, uv_close_cb close_cb)
{
    while (q->head != NULL) {
        sl_delayed_t *op = q->head;
        unlink_op(q, op);
        op->expire(op);
    }
    uv_close((uv_handle_t *)&q->timer, close_cb);
}
