/* consume: one consumer thread on an explicit assignment (rd_kafka_assign with offsets resolved
 * up front, no group). It counts records received inside the window and, for this run's records
 * sent inside the window, the end-to-end latency from the send time in the value to receipt.
 * After the window it drains, bounded, until the consumers have seen every delivered record. */
#include <errno.h>
#include <string.h>

#include "bench.h"

#include "sluice/core.h"

static void consumer_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    sl_bench_consumer_t *c = opaque;
    c->client_errors++;
    sl_bench_error_note(c->first_error, sizeof(c->first_error), rd_kafka_err2name(err), reason);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        sl_bench_fatal(c->shared, "consumer fatal error: %s", why);
    }
}

int sl_bench_consumer_init(sl_bench_consumer_t *c, const sl_bench_opts_t *opts,
                           sl_bench_shared_t *shared, int index, int partitions, char *err,
                           size_t err_size)
{
    SL_ASSERT(index >= 0 && index < opts->consumers);
    *c = (sl_bench_consumer_t){.opts = opts, .shared = shared};
    rd_kafka_conf_t *conf = sl_bench_conf_new(opts, SL_BENCH_CONSUMER, err, err_size);
    if (conf == NULL)
        return -EINVAL;
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_error_cb(conf, consumer_error);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, err_size);
    if (c->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return -EINVAL;
    }
    rd_kafka_poll_set_consumer(c->rk); /* error callbacks then run inside consumer_poll */
    c->partitions = rd_kafka_topic_partition_list_new(partitions / opts->consumers + 1);
    for (int i = index; i < partitions; i += opts->consumers)
        rd_kafka_topic_partition_list_add(c->partitions, opts->topic, i);
    int rc = sl_bench_offsets_resolve(c->rk, opts, c->partitions, err, err_size);
    if (rc != 0)
        return rc;
    rd_kafka_resp_err_t e = rd_kafka_assign(c->rk, c->partitions);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, err_size, "assign: %s", rd_kafka_err2str(e));
        return -EINVAL;
    }
    return 0;
}

static void consumer_record(sl_bench_consumer_t *c, const rd_kafka_message_t *m)
{
    sl_bench_shared_t *s = c->shared;
    uint64_t now = sl_clock_monotonic_ns();
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        c->errors++;
        sl_bench_error_note(c->first_error, sizeof(c->first_error), "consume",
                            rd_kafka_message_errstr(m));
        return;
    }
    if (now >= s->window_start_ns && now < s->window_end_ns) {
        c->received++;
        c->received_bytes += m->len;
    }
    uint64_t run_id = 0, sent_ns = 0;
    if (m->len < SL_BENCH_HEADER_BYTES)
        return; /* not ours: --from-beginning over someone else's topic */
    memcpy(&run_id, m->payload, sizeof(run_id));
    memcpy(&sent_ns, (const uint8_t *)m->payload + 8, sizeof(sent_ns));
    if (run_id != s->run_id || sent_ns < s->window_start_ns || sent_ns >= s->window_end_ns)
        return;
    sl_bench_hist_record(&c->e2e, now > sent_ns ? now - sent_ns : 0);
    atomic_fetch_add(&s->e2e_seen, 1);
}

/* After the window: keep going while records this run delivered are still on their way. */
static bool consumer_drained(const sl_bench_consumer_t *c, uint64_t now, uint64_t last_record_ns)
{
    const sl_bench_shared_t *s = c->shared;
    if (c->opts->producers == 0 || now >= s->window_end_ns + SL_BENCH_DRAIN_MS * 1000000ull)
        return true;
    if (!atomic_load(&s->producers_done))
        return false;
    return atomic_load(&s->e2e_seen) >= atomic_load(&s->e2e_expected) ||
           now - last_record_ns >= SL_BENCH_DRAIN_IDLE_MS * 1000000ull;
}

void *sl_bench_consumer_run(void *arg)
{
    sl_bench_consumer_t *c = arg;
    uint64_t last_record_ns = sl_clock_monotonic_ns();
    while (!atomic_load(&c->shared->stop)) {
        uint64_t now = sl_clock_monotonic_ns();
        if (now >= c->shared->window_end_ns && consumer_drained(c, now, last_record_ns))
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 100);
        if (m == NULL)
            continue;
        last_record_ns = sl_clock_monotonic_ns();
        consumer_record(c, m);
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

void sl_bench_consumer_deinit(sl_bench_consumer_t *c)
{
    if (c->rk != NULL) {
        (void)rd_kafka_consumer_close(c->rk); /* no group: nothing to commit or leave */
        rd_kafka_destroy(c->rk);
    }
    if (c->partitions != NULL)
        rd_kafka_topic_partition_list_destroy(c->partitions);
    c->rk = NULL;
    c->partitions = NULL;
}
