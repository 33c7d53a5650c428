/* produce: one producer thread. It sends opts->record_size values (run id and send time first,
 * then letters) to the topic with librdkafka's default partitioner, paced to its share of --rate,
 * until the window ends; then it flushes (bounded) and counts whatever is still undelivered as
 * errors. Latency is send to delivery report, which includes librdkafka's own queueing. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#include "sluice/core.h"

static void producer_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    sl_bench_producer_t *p = opaque;
    sl_bench_shared_t *s = p->shared;
    uint64_t now = sl_clock_monotonic_ns();
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        p->errors++;
        sl_bench_error_note(p->first_error, sizeof(p->first_error), "delivery",
                            rd_kafka_err2str(m->err));
        return;
    }
    uint64_t sent_ns = 0;
    SL_ASSERT(m->len >= SL_BENCH_HEADER_BYTES); /* our own payload, copied by librdkafka */
    memcpy(&sent_ns, (const uint8_t *)m->payload + 8, sizeof(sent_ns));
    if (now >= s->window_start_ns && now < s->window_end_ns) {
        p->acked++;
        p->acked_bytes += m->len;
    }
    if (sent_ns >= s->window_start_ns && sent_ns < s->window_end_ns) {
        sl_bench_hist_record(&p->latency, now - sent_ns);
        atomic_fetch_add(&s->e2e_expected, 1);
    }
}

static void producer_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    sl_bench_producer_t *p = opaque;
    p->client_errors++;
    sl_bench_error_note(p->first_error, sizeof(p->first_error), rd_kafka_err2name(err), reason);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        sl_bench_fatal(p->shared, "producer fatal error: %s", why);
    }
}

int sl_bench_producer_init(sl_bench_producer_t *p, const sl_bench_opts_t *opts,
                           sl_bench_shared_t *shared, uint64_t rate, char *err, size_t err_size)
{
    *p = (sl_bench_producer_t){.opts = opts, .shared = shared, .rate = rate};
    p->payload = sl_malloc(opts->record_size);
    if (p->payload == NULL) {
        snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    /* Letters, like Kafka's perf tool, so compression has something realistic to do. */
    uint64_t x = shared->run_id | 1;
    for (size_t i = 0; i < opts->record_size; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p->payload[i] = (uint8_t)('A' + x % 26);
    }
    memcpy(p->payload, &shared->run_id, sizeof(shared->run_id));
    rd_kafka_conf_t *conf = sl_bench_conf_new(opts, SL_BENCH_PRODUCER, err, err_size);
    if (conf == NULL)
        return -EINVAL;
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, producer_dr);
    rd_kafka_conf_set_error_cb(conf, producer_error);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, err_size);
    if (p->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return -EINVAL;
    }
    p->rkt = rd_kafka_topic_new(p->rk, opts->topic, NULL);
    if (p->rkt == NULL) {
        snprintf(err, err_size, "topic handle: %s", rd_kafka_err2str(rd_kafka_last_error()));
        return -EINVAL;
    }
    return 0;
}

/* Waits wait_ns while serving delivery reports. */
static void pace(sl_bench_producer_t *p, uint64_t wait_ns)
{
    if (wait_ns >= 1000 * 1000) {
        rd_kafka_poll(p->rk, 1);
        return;
    }
    rd_kafka_poll(p->rk, 0);
    nanosleep(&(struct timespec){.tv_nsec = (long)wait_ns}, NULL);
}

/* One attempt to send one record. A full local queue is not an error: it is back-pressure. */
static void produce_one(sl_bench_producer_t *p)
{
    uint64_t now = sl_clock_monotonic_ns();
    memcpy(p->payload + 8, &now, sizeof(now));
    if (rd_kafka_produce(p->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, p->payload,
                         p->opts->record_size, NULL, 0, NULL) == 0) {
        p->sent++;
        if (p->sent % 16 == 0)
            rd_kafka_poll(p->rk, 0);
        return;
    }
    rd_kafka_resp_err_t e = rd_kafka_last_error();
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(p->rk, 1);
        return;
    }
    p->errors++;
    sl_bench_error_note(p->first_error, sizeof(p->first_error), "produce", rd_kafka_err2str(e));
    if (e == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_fatal_error(p->rk, why, sizeof(why));
        sl_bench_fatal(p->shared, "producer fatal error: %s", why);
    }
    rd_kafka_poll(p->rk, 1); /* a persistent error must not spin */
}

void *sl_bench_producer_run(void *arg)
{
    sl_bench_producer_t *p = arg;
    sl_bench_shared_t *s = p->shared;
    uint64_t start = sl_clock_monotonic_ns();
    while (!atomic_load(&s->stop)) {
        uint64_t now = sl_clock_monotonic_ns();
        if (now >= s->window_end_ns)
            break;
        if (p->rate > 0) {
            uint64_t due = start + (uint64_t)((double)p->sent * 1e9 / (double)p->rate);
            if (now < due) {
                pace(p, due - now);
                continue;
            }
        }
        produce_one(p);
    }
    if (!atomic_load(&s->fatal))
        (void)rd_kafka_flush(p->rk, SL_BENCH_FLUSH_MS); /* leftovers are counted below */
    if (rd_kafka_outq_len(p->rk) > 0) {
        /* Each purged record gets a failed delivery report, counted as an error there. */
        sl_bench_error_note(p->first_error, sizeof(p->first_error), "flush",
                            "records still undelivered after the flush");
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        (void)rd_kafka_flush(p->rk, 1000);
    }
    return NULL;
}

void sl_bench_producer_deinit(sl_bench_producer_t *p)
{
    if (p->rkt != NULL)
        rd_kafka_topic_destroy(p->rkt);
    if (p->rk != NULL)
        rd_kafka_destroy(p->rk);
    sl_free(p->payload);
    p->rkt = NULL;
    p->rk = NULL;
    p->payload = NULL;
}
