/* sluice-bench: a Kafka load generator in the spirit of kafka-producer-perf-test and the
 * OpenMessaging Benchmark, on librdkafka. main sets up (topic, clients, assignments) before any
 * thread starts, runs producer and consumer threads over one shared time window, joins them all,
 * and reports. Nothing is measured during --warmup; everything waits are bounded (bench.h). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#include <librdkafka/rdkafka_mock.h>

#include "sluice/core.h"

/* Static so the SIGINT handler can reach the stop flag. */
static sl_bench_shared_t shared;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&shared.stop, true);
}

/* Creates the topic if missing and returns its partition count, or a negative error. */
static int setup_topic(const sl_bench_opts_t *opts, char *err, size_t err_size)
{
    if (opts->mock_brokers > 0) /* created with the mock cluster (it has no CreateTopics) */
        return opts->partitions;
    rd_kafka_conf_t *conf = sl_bench_conf_new(opts, SL_BENCH_ADMIN, err, err_size);
    if (conf == NULL)
        return -EINVAL;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, err_size);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return -EINVAL;
    }
    int partitions = 0;
    int rc = sl_bench_topic_ensure(rk, opts, &partitions, err, err_size);
    rd_kafka_destroy(rk);
    if (rc != 0)
        return rc;
    if (opts->partitions_given && partitions != opts->partitions)
        fprintf(stderr, "sluice-bench: topic %s exists with %d partitions; using them\n",
                opts->topic, partitions);
    return partitions;
}

typedef struct {
    sl_bench_producer_t *producers; /* owned, opts->producers entries */
    sl_bench_consumer_t *consumers; /* owned, opts->consumers entries */
} clients_t;

static int clients_init(clients_t *cl, const sl_bench_opts_t *o, int partitions, char *err,
                        size_t err_size)
{
    cl->producers = sl_calloc((size_t)o->producers + 1, sizeof(sl_bench_producer_t));
    cl->consumers = sl_calloc((size_t)o->consumers + 1, sizeof(sl_bench_consumer_t));
    if (cl->producers == NULL || cl->consumers == NULL) {
        snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    for (int i = 0; i < o->consumers; i++) {
        int rc =
            sl_bench_consumer_init(&cl->consumers[i], o, &shared, i, partitions, err, err_size);
        if (rc != 0)
            return rc;
    }
    for (int i = 0; i < o->producers; i++) {
        uint64_t n = (uint64_t)o->producers;
        uint64_t rate = o->rate / n + ((uint64_t)i < o->rate % n ? 1u : 0u);
        if (o->rate > 0 && rate == 0)
            rate = 1; /* more producers than records/s: each still paces, slowly */
        int rc = sl_bench_producer_init(&cl->producers[i], o, &shared, rate, err, err_size);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void clients_deinit(clients_t *cl, const sl_bench_opts_t *o)
{
    for (int i = 0; cl->producers != NULL && i < o->producers; i++)
        sl_bench_producer_deinit(&cl->producers[i]);
    for (int i = 0; cl->consumers != NULL && i < o->consumers; i++)
        sl_bench_consumer_deinit(&cl->consumers[i]);
    sl_free(cl->producers);
    sl_free(cl->consumers);
}

/* Runs every thread over the window; consumers start first so they are fetching when the first
 * record lands. */
static int clients_run(clients_t *cl, const sl_bench_opts_t *o, char *err, size_t err_size)
{
    uint64_t now = sl_clock_monotonic_ns();
    shared.window_start_ns = now + (uint64_t)(o->warmup_s * 1e9);
    shared.window_end_ns = shared.window_start_ns + (uint64_t)(o->duration_s * 1e9);
    int started_c = 0, started_p = 0, rc = 0;
    for (; started_c < o->consumers && rc == 0; started_c++)
        rc = pthread_create(&cl->consumers[started_c].thread, NULL, sl_bench_consumer_run,
                            &cl->consumers[started_c]);
    for (; started_p < o->producers && rc == 0; started_p++)
        rc = pthread_create(&cl->producers[started_p].thread, NULL, sl_bench_producer_run,
                            &cl->producers[started_p]);
    if (rc != 0) {
        snprintf(err, err_size, "pthread_create: %s", strerror(rc));
        atomic_store(&shared.stop, true);
        started_c -= started_p == 0 ? 1 : 0; /* the failed create is not joined */
        started_p -= started_p > 0 ? 1 : 0;
    }
    for (int i = 0; i < started_p; i++)
        pthread_join(cl->producers[i].thread, NULL);
    atomic_store(&shared.producers_done, true);
    for (int i = 0; i < started_c; i++)
        pthread_join(cl->consumers[i].thread, NULL);
    return rc == 0 ? 0 : -rc;
}

/* --mock-brokers: librdkafka's mock cluster lives inside a client handle of this process and
 * listens on loopback, so every client of the run (admin, producers, consumers) can share it.
 * Returns the owning handle (rd_kafka_destroy ends the cluster) and points opts at it. */
static rd_kafka_mock_cluster_t *mock_cluster;

static void mock_cluster_stop(rd_kafka_t *rk)
{
    if (rk == NULL)
        return;
    rd_kafka_mock_cluster_destroy(mock_cluster);
    rd_kafka_destroy(rk);
}

static rd_kafka_t *mock_cluster_start(sl_bench_opts_t *opts, char *err, size_t err_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, err_size);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, opts->mock_brokers);
    if (mc == NULL) {
        snprintf(err, err_size, "rd_kafka_mock_cluster_new failed");
        rd_kafka_destroy(rk);
        return NULL;
    }
    mock_cluster = mc;
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, opts->topic, opts->partitions, 1);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, err_size, "mock topic: %s", rd_kafka_err2str(e));
        mock_cluster_stop(rk);
        return NULL;
    }
    opts->bootstrap = rd_kafka_mock_cluster_bootstraps(mc); /* valid while rk lives */
    return rk;
}

int main(int argc, char **argv)
{
    sl_bench_opts_t opts;
    char err[512] = "";
    int rc = sl_bench_opts_parse(argc, argv, &opts, err, sizeof(err));
    if (rc != 0) {
        if (rc > 0)
            return 0;
        fprintf(stderr, "sluice-bench: %s\n", err);
        sl_bench_usage(stderr);
        return 2;
    }
    shared.run_id = sl_clock_monotonic_ns() ^ ((uint64_t)getpid() << 40) ^
                    (uint64_t)sl_clock_realtime_ms() << 20;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    rd_kafka_t *mock = NULL;
    if (opts.mock_brokers > 0 && (mock = mock_cluster_start(&opts, err, sizeof(err))) == NULL) {
        fprintf(stderr, "sluice-bench: mock cluster: %s\n", err);
        return 2;
    }
    int partitions = setup_topic(&opts, err, sizeof(err));
    if (partitions < 0) {
        fprintf(stderr, "sluice-bench: setup: %s\n", err);
        mock_cluster_stop(mock);
        return 2;
    }
    clients_t cl = {0};
    rc = clients_init(&cl, &opts, partitions, err, sizeof(err));
    if (rc == 0)
        rc = clients_run(&cl, &opts, err, sizeof(err));
    uint64_t errors = 0;
    if (rc == 0) {
        sl_bench_result_t res = {partitions, cl.producers, cl.consumers, &shared};
        errors = sl_bench_report(stdout, &opts, &res);
        fflush(stdout);
    } else {
        fprintf(stderr, "sluice-bench: setup: %s\n", err);
    }
    clients_deinit(&cl, &opts);
    mock_cluster_stop(mock);
    if (atomic_load(&shared.fatal)) {
        fprintf(stderr, "sluice-bench: %s%s\n", shared.fatal_msg,
                opts.idempotence ? " (--idempotence needs a broker that answers InitProducerId)"
                                 : "");
        return 2;
    }
    return rc != 0 ? 2 : errors > 0 ? 1 : 0;
}
