/* log_cleaner: schedules log compaction jobs (log_cleaner.h). Invariants: a slot has a job from
 * sl_log_clean_begin to sl_log_clean_end; its thread runs only sl_log_clean_run (which touches no
 * shared state) and signals through its uv_async_t; everything else runs on the loop thread. */
#include "log_cleaner.h"

#include "broker_int.h"
#include "topics.h"

typedef struct {
    int64_t now_ms;
    sl_log_t *best;
    double best_priority;
} pick_t;

static bool pick_topic(sl_topic_t *topic, void *data)
{
    pick_t *pick = data;
    for (int32_t p = 0; p < topic->partition_count; p++) {
        sl_log_t *log = topic->partitions[p].log;
        if (log == NULL)
            continue;
        double priority = sl_log_clean_priority(log, pick->now_ms);
        if (priority >= 0 && priority > pick->best_priority) {
            pick->best = log;
            pick->best_priority = priority;
        }
    }
    return true;
}

static void clean_thread(void *arg)
{
    sl_log_cleaner_slot_t *slot = arg;
    sl_log_clean_run(slot->job);
    uv_async_send(&slot->done);
}

static void tick(uv_timer_t *timer);
static void retry_swap(uv_timer_t *timer);

/* Gives free slots the filthiest logs. */
static void schedule(sl_log_cleaner_t *c)
{
    sl_broker_t *broker = c->broker;
    if (c->stopping || broker->topics == NULL)
        return;
    /* Read on every pass: the three keys are dynamic (cluster-wide), as in Kafka. */
    size_t threads =
        (size_t)SL_MIN(SL_MAX(broker->cfg->log_cleaner_threads, 1), SL_LOG_CLEANER_THREADS_MAX);
    size_t dedupe_per_slot =
        (size_t)(broker->cfg->log_cleaner_dedupe_buffer_size / (int64_t)threads);
    sl_log_cleaner_config_t cc = {.dedupe_buffer_bytes = dedupe_per_slot};
    for (size_t i = 0; i < threads; i++) {
        sl_log_cleaner_slot_t *slot = &c->slots[i];
        if (slot->job != NULL)
            continue;
        pick_t pick = {.now_ms = sl_clock_realtime_ms(), .best_priority = -1};
        sl__topics_each(broker->topics, pick_topic, &pick);
        if (pick.best == NULL)
            return;
        int rc = sl_log_clean_begin(pick.best, &cc, pick.now_ms, &slot->job);
        if (rc != 0) {
            slot->job = NULL;
            if (rc != SL_ENOTFOUND)
                SL_LOG(SL_LOG_WARN, "cleaner", "cannot start cleaning topic=%s partition=%d err=%s",
                       sl_log_topic(pick.best), (int)sl_log_partition(pick.best), sl_strerror(rc));
            return;
        }
        slot->tries = 0;
        rc = uv_thread_create(&slot->thread, clean_thread, slot);
        if (rc != 0) {
            SL_LOG(SL_LOG_ERROR, "cleaner", "cannot start a cleaner thread err=%s",
                   uv_strerror(rc));
            sl_log_clean_cancel(slot->job);
            (void)sl_log_clean_end(slot->job, NULL); /* cancelled: discards, cannot fail */
            slot->job = NULL;
            return;
        }
        slot->thread_running = true;
    }
}

static void close_slot_handles(sl_log_cleaner_slot_t *slot);

/* The swap, retried while readers use the old segments; given up (discarded) after many tries
 * or when stopping. */
static void finish_job(sl_log_cleaner_slot_t *slot)
{
    sl_log_cleaner_t *c = slot->cleaner;
    if (c->stopping || ++slot->tries > SL_LOG_CLEANER_SWAP_TRIES_MAX)
        sl_log_clean_cancel(slot->job);
    sl_log_clean_stats_t stats;
    int rc = sl_log_clean_end(slot->job, &stats);
    if (rc == -EAGAIN) {
        uv_timer_start(&slot->retry, retry_swap, SL_LOG_CLEANER_SWAP_RETRY_MS, 0);
        return;
    }
    slot->job = NULL;
    if (stats.swapped) {
        c->jobs_done++;
        c->bytes_read += stats.bytes_read;
        c->bytes_written += stats.bytes_written;
    }
    if (c->stopping) {
        close_slot_handles(slot);
        return;
    }
    /* More may be waiting (a log cleaned in passes, or another dirty log): look again now. */
    uv_timer_start(&c->timer, tick, 0, (uint64_t)SL_MAX(c->broker->cfg->log_cleaner_backoff_ms, 1));
}

static void retry_swap(uv_timer_t *timer)
{
    finish_job(timer->data);
}

static void thread_done(uv_async_t *async)
{
    sl_log_cleaner_slot_t *slot = async->data;
    if (!slot->thread_running)
        return;                    /* a stray wake-up */
    uv_thread_join(&slot->thread); /* it has sent, so it is exiting */
    slot->thread_running = false;
    finish_job(slot);
}

static void tick(uv_timer_t *timer)
{
    schedule(timer->data);
}

static void handle_closed(sl_log_cleaner_t *c)
{
    SL_ASSERT(c->handles_open > 0);
    if (--c->handles_open == 0 && c->closed_cb != NULL)
        c->closed_cb(c);
}

static void timer_closed(uv_handle_t *handle)
{
    handle_closed(handle->data);
}

static void slot_handle_closed(uv_handle_t *handle)
{
    handle_closed(((sl_log_cleaner_slot_t *)handle->data)->cleaner);
}

static void close_slot_handles(sl_log_cleaner_slot_t *slot)
{
    uv_close((uv_handle_t *)&slot->done, slot_handle_closed);
    uv_close((uv_handle_t *)&slot->retry, slot_handle_closed);
}

void sl__log_cleaner_init(sl_log_cleaner_t *c, struct sl_broker *broker, uv_loop_t *loop)
{
    *c = (sl_log_cleaner_t){.broker = broker};
    if (!broker->cfg->log_cleaner_enable)
        return;
    c->slot_count = SL_LOG_CLEANER_THREADS_MAX; /* log.cleaner.threads of them are used */
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->handles_open = 1;
    for (size_t i = 0; i < c->slot_count; i++) {
        sl_log_cleaner_slot_t *slot = &c->slots[i];
        slot->cleaner = c;
        uv_async_init(loop, &slot->done, thread_done);
        uv_timer_init(loop, &slot->retry);
        slot->done.data = slot;
        slot->retry.data = slot;
        c->handles_open += 2;
    }
    c->started = true;
}

void sl__log_cleaner_start(sl_log_cleaner_t *c)
{
    if (!c->started)
        return;
    uint64_t every = (uint64_t)SL_MAX(c->broker->cfg->log_cleaner_backoff_ms, 1);
    uv_timer_start(&c->timer, tick, every, every);
    SL_LOG(SL_LOG_INFO, "cleaner", "log cleaner started threads=%d backoff_ms=%" PRId64,
           (int)c->broker->cfg->log_cleaner_threads, c->broker->cfg->log_cleaner_backoff_ms);
}

void sl__log_cleaner_close(sl_log_cleaner_t *c, void (*closed_cb)(sl_log_cleaner_t *))
{
    c->closed_cb = closed_cb;
    if (!c->started) {
        closed_cb(c);
        return;
    }
    c->stopping = true;
    uv_close((uv_handle_t *)&c->timer, timer_closed);
    for (size_t i = 0; i < c->slot_count; i++) {
        sl_log_cleaner_slot_t *slot = &c->slots[i];
        if (slot->job == NULL) {
            close_slot_handles(slot);
        } else if (slot->thread_running) {
            sl_log_clean_cancel(slot->job); /* thread_done ends it, then closes */
        } else {
            uv_timer_stop(&slot->retry);
            finish_job(slot); /* a swap waiting for readers: discarded now */
        }
    }
}
