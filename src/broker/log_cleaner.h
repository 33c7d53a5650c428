/* log_cleaner: the broker's scheduler for log compaction (Kafka's LogCleaner threads). Every
 * log.cleaner.backoff.ms, and at once after a job finished, it gives each free slot (one per
 * log.cleaner.threads) the filthiest compacted log (sl_log_clean_priority), runs the job's heavy
 * part on the slot's own thread (never on the loop, never on libuv's pool that disk I/O uses) and
 * swaps the result in on the loop when the thread signals. */
#ifndef SLUICE_BROKER_LOG_CLEANER_H
#define SLUICE_BROKER_LOG_CLEANER_H

#include <stdatomic.h>
#include <uv.h>

#include "sluice/log.h"

#define SL_LOG_CLEANER_THREADS_MAX 16
/* A finished job waits this long between tries while a reader is inside its old segments. */
#define SL_LOG_CLEANER_SWAP_RETRY_MS 10
#define SL_LOG_CLEANER_SWAP_TRIES_MAX 1000

struct sl_broker;

typedef struct {
    struct sl_log_cleaner *cleaner;
    uv_thread_t thread;
    uv_async_t done;         /* the thread finished run */
    uv_timer_t retry;        /* a swap that found readers */
    sl_log_clean_job_t *job; /* NULL: the slot is free */
    int tries;
    bool thread_running;
} sl_log_cleaner_slot_t;

typedef struct sl_log_cleaner {
    struct sl_broker *broker;
    uv_timer_t timer;
    size_t slot_count;
    sl_log_cleaner_slot_t slots[SL_LOG_CLEANER_THREADS_MAX];
    size_t handles_open;
    bool started, stopping;
    void (*closed_cb)(struct sl_log_cleaner *);
    /* totals since start, for the log line and tests */
    uint64_t jobs_done;
    int64_t bytes_read, bytes_written;
} sl_log_cleaner_t;

/* Initialises the handles (loop thread). Starts nothing when log.cleaner.enable is false. */
void sl__log_cleaner_init(sl_log_cleaner_t *c, struct sl_broker *broker, uv_loop_t *loop);
/* Starts the timer once the logs are open. */
void sl__log_cleaner_start(sl_log_cleaner_t *c);
/* Cancels running jobs (their partial files are discarded), waits for their threads, closes the
 * handles, then calls closed_cb. The log dirs must stay open until then. */
void sl__log_cleaner_close(sl_log_cleaner_t *c, void (*closed_cb)(sl_log_cleaner_t *));

#endif
