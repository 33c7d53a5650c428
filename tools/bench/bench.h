/* sluice-bench: the load generator's shared types (options, histograms, per-thread state).
 * Invariants: every per-thread struct is written only by its own thread until it is joined (its
 * librdkafka callbacks run on that thread, inside rd_kafka_poll/consumer_poll); the only state
 * shared while threads run is sl_bench_shared_t, through atomics. All memory is allocated with
 * sl_malloc before the first thread starts and freed after the last one is joined (sl_malloc's
 * counters are not thread-safe), so memory is bounded by the options alone. */
#ifndef SL_BENCH_H
#define SL_BENCH_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Log buckets: values below 128 exact, above that 64 sub-buckets per power of two (< 1.6 % error).
 * 128 + 57 * 64 buckets cover every uint64_t nanosecond value. */
#define SL_BENCH_HIST_EXACT 128
#define SL_BENCH_HIST_SUB 64
#define SL_BENCH_HIST_BUCKETS (SL_BENCH_HIST_EXACT + 57 * SL_BENCH_HIST_SUB)
#define SL_BENCH_PROPS_MAX 16
#define SL_BENCH_THREADS_MAX 64
#define SL_BENCH_PARTITIONS_MAX 100000
/* Each value starts with the run id and the send time (CLOCK_MONOTONIC ns, native order). */
#define SL_BENCH_HEADER_BYTES 16
#define SL_BENCH_RECORD_BYTES_MAX (900 * 1000)
#define SL_BENCH_SECONDS_MAX 86400.0
/* Bounds on the waits after the measured window: delivery of what is queued, consumers catching
 * up with what was delivered, and metadata after a topic is created. */
#define SL_BENCH_FLUSH_MS 30000
#define SL_BENCH_DRAIN_MS 15000
#define SL_BENCH_DRAIN_IDLE_MS 2000
#define SL_BENCH_SETUP_MS 15000

typedef struct {
    uint64_t counts[SL_BENCH_HIST_BUCKETS];
    uint64_t total;
    uint64_t max_ns;
} sl_bench_hist_t;

void sl_bench_hist_record(sl_bench_hist_t *h, uint64_t value_ns);
void sl_bench_hist_merge(sl_bench_hist_t *into, const sl_bench_hist_t *from);
/* The value at percentile pct (0 < pct <= 100), a bucket's midpoint capped at the maximum; 0 for
 * an empty histogram. */
uint64_t sl_bench_hist_percentile(const sl_bench_hist_t *h, double pct);

typedef struct {
    const char *bootstrap; /* borrows argv, or the mock cluster's (--mock-brokers) */
    int mock_brokers;      /* > 0: librdkafka's in-process mock cluster instead of a broker */
    const char *topic;
    int partitions;
    bool partitions_given; /* --partitions was on the command line */
    int producers;
    int consumers;
    size_t record_size;
    const char *acks; /* "0", "1" or "all" */
    bool idempotence;
    const char *compression;
    uint64_t rate; /* records/s over all producers; 0 = as fast as possible */
    double duration_s;
    double warmup_s;
    bool from_beginning; /* consumers start at the log start instead of the end */
    bool json;
    const char *producer_props[SL_BENCH_PROPS_MAX]; /* "key=value", borrows argv */
    size_t producer_props_count;
    const char *consumer_props[SL_BENCH_PROPS_MAX];
    size_t consumer_props_count;
} sl_bench_opts_t;

/* Fills opts from argv. Returns 0, 1 for --help (usage printed), or -EINVAL with err set. */
int sl_bench_opts_parse(int argc, char **argv, sl_bench_opts_t *opts, char *err, size_t err_size);
void sl_bench_usage(FILE *out);

typedef struct {
    atomic_bool stop;           /* SIGINT or a fatal client error */
    atomic_bool producers_done; /* every producer has flushed */
    /* Records sent inside the window and delivered, and those of them the consumers have seen:
     * consumers drain until seen >= expected. */
    atomic_uint_fast64_t e2e_expected;
    atomic_uint_fast64_t e2e_seen;
    atomic_int fatal;    /* 0, then 1 once; the thread that sets it writes fatal_msg first */
    char fatal_msg[512]; /* read only after every thread is joined */
    uint64_t run_id;
    uint64_t window_start_ns; /* CLOCK_MONOTONIC */
    uint64_t window_end_ns;
} sl_bench_shared_t;

/* Records a fatal error once; later calls are ignored. Sets stop. */
void sl_bench_fatal(sl_bench_shared_t *shared, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

typedef struct {
    const sl_bench_opts_t *opts; /* borrows */
    sl_bench_shared_t *shared;   /* borrows */
    rd_kafka_t *rk;              /* owned */
    rd_kafka_topic_t *rkt;       /* owned */
    uint8_t *payload;            /* owned, opts->record_size bytes */
    uint64_t rate;               /* this producer's share of opts->rate */
    uint64_t sent;
    uint64_t acked;       /* delivered with the delivery report inside the window */
    uint64_t acked_bytes; /* value bytes of those */
    uint64_t errors;      /* failed deliveries and produce calls */
    uint64_t client_errors;
    char first_error[256];
    sl_bench_hist_t latency; /* send to delivery report, for records sent inside the window */
    pthread_t thread;
} sl_bench_producer_t;

typedef struct {
    const sl_bench_opts_t *opts;
    sl_bench_shared_t *shared;
    rd_kafka_t *rk;                              /* owned */
    rd_kafka_topic_partition_list_t *partitions; /* owned; explicit start offsets */
    uint64_t received;                           /* records received inside the window */
    uint64_t received_bytes;
    uint64_t errors;
    uint64_t client_errors;
    char first_error[256];
    sl_bench_hist_t e2e; /* send to receipt, for this run's records sent inside the window */
    pthread_t thread;
} sl_bench_consumer_t;

/* client.c: configuration, the topic, start offsets. */
typedef enum { SL_BENCH_ADMIN, SL_BENCH_PRODUCER, SL_BENCH_CONSUMER } sl_bench_role_t;

/* Returns owned configuration for one client of the given role, or NULL with err set. */
rd_kafka_conf_t *sl_bench_conf_new(const sl_bench_opts_t *opts, sl_bench_role_t role, char *err,
                                   size_t err_size);
int sl_bench_topic_ensure(rd_kafka_t *rk, const sl_bench_opts_t *opts, int *partitions_out,
                          char *err, size_t err_size);
int sl_bench_offsets_resolve(rd_kafka_t *rk, const sl_bench_opts_t *opts,
                             rd_kafka_topic_partition_list_t *list, char *err, size_t err_size);
void sl_bench_error_note(char *first_error, size_t size, const char *what, const char *reason);

/* produce.c, consume.c */
int sl_bench_producer_init(sl_bench_producer_t *p, const sl_bench_opts_t *opts,
                           sl_bench_shared_t *shared, uint64_t rate, char *err, size_t err_size);
void *sl_bench_producer_run(void *arg);
void sl_bench_producer_deinit(sl_bench_producer_t *p);
/* Consumer index of count gets partitions index, index + count, ... of the topic's partitions. */
int sl_bench_consumer_init(sl_bench_consumer_t *c, const sl_bench_opts_t *opts,
                           sl_bench_shared_t *shared, int index, int partitions, char *err,
                           size_t err_size);
void *sl_bench_consumer_run(void *arg);
void sl_bench_consumer_deinit(sl_bench_consumer_t *c);

/* report.c: the totals and percentiles, as text or JSON. */
typedef struct {
    int partitions;
    const sl_bench_producer_t *producers;
    const sl_bench_consumer_t *consumers;
    const sl_bench_shared_t *shared;
} sl_bench_result_t;

/* Prints the report; returns the total error count. */
uint64_t sl_bench_report(FILE *out, const sl_bench_opts_t *opts, const sl_bench_result_t *r);

#endif
