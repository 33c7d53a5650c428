/* client: what every librdkafka client of sluice-bench shares: its configuration, creating the
 * topic through the admin API (CreateTopics) and waiting until every partition has a leader, and
 * the explicit start offsets the consumers are assigned (there are no consumer groups). */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#include "sluice/core.h"

void sl_bench_fatal(sl_bench_shared_t *shared, const char *fmt, ...)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&shared->fatal, &expected, 1)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(shared->fatal_msg, sizeof(shared->fatal_msg), fmt, ap);
        va_end(ap);
    }
    atomic_store(&shared->stop, true);
}

void sl_bench_error_note(char *first_error, size_t size, const char *what, const char *reason)
{
    if (first_error[0] == '\0')
        snprintf(first_error, size, "%s: %s", what, reason);
}

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                    size_t err_size)
{
    if (rd_kafka_conf_set(conf, key, value, err, err_size) != RD_KAFKA_CONF_OK)
        return -EINVAL;
    return 0;
}

/* Applies "key=value" strings. */
static int conf_props(rd_kafka_conf_t *conf, const char *const *props, size_t count, char *err,
                      size_t err_size)
{
    for (size_t i = 0; i < count; i++) {
        char key[256];
        const char *eq = strchr(props[i], '=');
        SL_ASSERT(eq != NULL);
        size_t len = (size_t)(eq - props[i]);
        if (len >= sizeof(key)) {
            snprintf(err, err_size, "property name too long: %s", props[i]);
            return -EINVAL;
        }
        memcpy(key, props[i], len);
        key[len] = '\0';
        if (conf_set(conf, key, eq + 1, err, err_size) != 0)
            return -EINVAL;
    }
    return 0;
}

/* The role's settings; queue bounds keep the client's memory bounded at any rate. */
static int conf_role(rd_kafka_conf_t *conf, const sl_bench_opts_t *opts, sl_bench_role_t role,
                     char *err, size_t err_size)
{
    if (role == SL_BENCH_PRODUCER) {
        if (conf_set(conf, "acks", opts->acks, err, err_size) != 0 ||
            conf_set(conf, "compression.codec", opts->compression, err, err_size) != 0 ||
            conf_set(conf, "enable.idempotence", opts->idempotence ? "true" : "false", err,
                     err_size) != 0 ||
            conf_set(conf, "queue.buffering.max.kbytes", "65536", err, err_size) != 0)
            return -EINVAL;
        return conf_props(conf, opts->producer_props, opts->producer_props_count, err, err_size);
    }
    if (role == SL_BENCH_CONSUMER) {
        /* librdkafka's assign() wants a group.id, but no group is ever joined (no subscribe) and
         * nothing is committed, so a broker without group APIs (Sluice today) serves it. */
        char group[64];
        snprintf(group, sizeof(group), "sluice-bench-%d", (int)getpid());
        if (conf_set(conf, "group.id", group, err, err_size) != 0 ||
            conf_set(conf, "enable.auto.commit", "false", err, err_size) != 0 ||
            conf_set(conf, "enable.partition.eof", "false", err, err_size) != 0 ||
            conf_set(conf, "queued.max.messages.kbytes", "32768", err, err_size) != 0)
            return -EINVAL;
        return conf_props(conf, opts->consumer_props, opts->consumer_props_count, err, err_size);
    }
    return 0;
}

rd_kafka_conf_t *sl_bench_conf_new(const sl_bench_opts_t *opts, sl_bench_role_t role, char *err,
                                   size_t err_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf_set(conf, "bootstrap.servers", opts->bootstrap, err, err_size) != 0 ||
        conf_set(conf, "client.id", "sluice-bench", err, err_size) != 0 ||
        conf_role(conf, opts, role, err, err_size) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* CreateTopics for opts->topic; an existing topic is fine. */
static int topic_create(rd_kafka_t *rk, const sl_bench_opts_t *opts, char *err, size_t err_size)
{
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(opts->topic, opts->partitions, 1, err, err_size);
    if (nt == NULL)
        return -EINVAL;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    (void)rd_kafka_AdminOptions_set_request_timeout(ao, SL_BENCH_SETUP_MS, err, err_size);
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, SL_BENCH_SETUP_MS + 1000);
    int rc = 0;
    if (ev == NULL) {
        snprintf(err, err_size, "CreateTopics: no answer within %d ms", SL_BENCH_SETUP_MS);
        rc = -ETIMEDOUT;
    } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, err_size, "CreateTopics: %s", rd_kafka_event_error_string(ev));
        rc = -EIO;
    } else {
        size_t n = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rd_kafka_resp_err_t e =
            n == 1 ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            const char *msg = n == 1 ? rd_kafka_topic_result_error_string(res[0]) : NULL;
            snprintf(err, err_size, "CreateTopics %s: %s (%s)", opts->topic, rd_kafka_err2name(e),
                     msg ? msg : rd_kafka_err2str(e));
            rc = -EIO;
        }
    }
    if (ev != NULL)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* The partition count once every partition has a leader, 0 while not yet, or a negative error. */
static int topic_ready(rd_kafka_t *rk, rd_kafka_topic_t *rkt, char *err, size_t err_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, err_size, "Metadata: %s", rd_kafka_err2str(e));
        return 0;
    }
    int count = 0;
    if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        count = md->topics[0].partition_cnt;
        for (int i = 0; i < md->topics[0].partition_cnt; i++)
            if (md->topics[0].partitions[i].leader < 0)
                count = 0;
    } else if (md->topic_cnt == 1) {
        snprintf(err, err_size, "Metadata %s: %s", rd_kafka_topic_name(rkt),
                 rd_kafka_err2str(md->topics[0].err));
    }
    rd_kafka_metadata_destroy(md);
    return count;
}

int sl_bench_topic_ensure(rd_kafka_t *rk, const sl_bench_opts_t *opts, int *partitions_out,
                          char *err, size_t err_size)
{
    int rc = topic_create(rk, opts, err, err_size);
    if (rc != 0)
        return rc;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, opts->topic, NULL);
    if (rkt == NULL) {
        snprintf(err, err_size, "topic handle: %s", rd_kafka_err2str(rd_kafka_last_error()));
        return -EINVAL;
    }
    snprintf(err, err_size, "no leader for every partition");
    int count = 0;
    uint64_t deadline = sl_clock_monotonic_ms() + SL_BENCH_SETUP_MS;
    while (count == 0 && sl_clock_monotonic_ms() < deadline) {
        count = topic_ready(rk, rkt, err, err_size);
        if (count == 0)
            nanosleep(&(struct timespec){.tv_nsec = 200 * 1000 * 1000}, NULL);
    }
    rd_kafka_topic_destroy(rkt);
    if (count <= 0) {
        size_t len = strlen(err);
        snprintf(err + len, err_size - len, " (after %d ms)", SL_BENCH_SETUP_MS);
        return -ETIMEDOUT;
    }
    *partitions_out = count;
    return 0;
}

/* ListOffsets for one partition, retried until the deadline: right after CreateTopics, Kafka
 * can list a leader in Metadata before that leader answers ListOffsets (NOT_LEADER_OR_FOLLOWER). */
static rd_kafka_resp_err_t watermarks(rd_kafka_t *rk, const rd_kafka_topic_partition_t *tp,
                                      int64_t *lo, int64_t *hi)
{
    uint64_t deadline = sl_clock_monotonic_ms() + SL_BENCH_SETUP_MS;
    rd_kafka_resp_err_t e;
    do {
        e = rd_kafka_query_watermark_offsets(rk, tp->topic, tp->partition, lo, hi, 5000);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 200 * 1000 * 1000}, NULL);
    } while (sl_clock_monotonic_ms() < deadline);
    return e;
}

int sl_bench_offsets_resolve(rd_kafka_t *rk, const sl_bench_opts_t *opts,
                             rd_kafka_topic_partition_list_t *list, char *err, size_t err_size)
{
    for (int i = 0; i < list->cnt; i++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_topic_partition_t *tp = &list->elems[i];
        rd_kafka_resp_err_t e = watermarks(rk, tp, &lo, &hi);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, err_size, "ListOffsets %s-%d: %s (for %d ms)", tp->topic,
                     (int)tp->partition, rd_kafka_err2str(e), SL_BENCH_SETUP_MS);
            return -EIO;
        }
        tp->offset = opts->from_beginning ? lo : hi;
    }
    return 0;
}
