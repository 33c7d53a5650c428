/* Unit tests for src/metrics/prometheus.c: label values escaped as the text format requires,
 * families and samples laid out line by line, histograms cumulative with le labels, _sum in
 * seconds and _count, and a full buffer reported once instead of a torn exposition. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/metrics.h"

/* The writer's output as a NUL-terminated string (owned by the static buffer). */
static const char *text_of(sl_buf_t *buf)
{
    static char text[8192];
    assert_true(buf->len < sizeof(text));
    memcpy(text, buf->ptr, buf->len);
    text[buf->len] = '\0';
    return text;
}

static void test_escape_label_values(void **state)
{
    (void)state;
    sl_buf_t buf;
    sl_buf_init(&buf, 4096);
    sl_prom_writer_t w = {.out = &buf};
    const char *nasty = "a\\b\"c\nd";
    sl_prom_label_t labels[] = {SL_PROM_LABEL("topic", nasty), SL_PROM_LABEL("partition", "0")};
    sl_prom_sample_i64(&w, "kafka_topic_partition_current_offset", labels, 2, 42);
    assert_int_equal(w.err, 0);
    assert_string_equal(text_of(&buf),
                        "kafka_topic_partition_current_offset{topic=\"a\\\\b\\\"c\\nd\","
                        "partition=\"0\"} 42\n");
    sl_buf_deinit(&buf);
}

static void test_escape_runs_and_edges(void **state)
{
    (void)state;
    sl_buf_t buf;
    sl_buf_init(&buf, 4096);
    sl_prom_writer_t w = {.out = &buf};
    sl_prom_escape(&w, "\"x\"", 3); /* escapes at both ends */
    sl_prom_escape(&w, "", 0);
    sl_prom_escape(&w, "plain", 5);
    sl_prom_escape(&w, "t\\", 2);
    assert_string_equal(text_of(&buf), "\\\"x\\\"plaint\\\\");
    /* a value that is a slice, not NUL-terminated, stops at its length */
    sl_buf_deinit(&buf);
    sl_buf_init(&buf, 4096);
    w = (sl_prom_writer_t){.out = &buf};
    sl_prom_label_t label = {"consumergroup", "groupXXXX", 5};
    sl_prom_sample_i64(&w, "kafka_consumergroup_members", &label, 1, -1);
    assert_string_equal(text_of(&buf), "kafka_consumergroup_members{consumergroup=\"group\"} -1\n");
    sl_buf_deinit(&buf);
}

static void test_family_and_plain_samples(void **state)
{
    (void)state;
    sl_buf_t buf;
    sl_buf_init(&buf, 4096);
    sl_prom_writer_t w = {.out = &buf};
    sl_prom_family(&w, "kafka_brokers", SL_PROM_GAUGE, "Number of Brokers in the Kafka Cluster.");
    sl_prom_sample_i64(&w, "kafka_brokers", NULL, 0, 1);
    sl_prom_family(&w, "x_total", SL_PROM_COUNTER, "h");
    sl_prom_sample_i64(&w, "x_total", NULL, 0, INT64_MAX);
    sl_prom_sample_f64(&w, "g", NULL, 0, 0.5);
    sl_prom_sample_f64(&w, "g", NULL, 0, 1.0 / 0.0);
    assert_int_equal(w.err, 0);
    assert_string_equal(text_of(&buf),
                        "# HELP kafka_brokers Number of Brokers in the Kafka Cluster.\n"
                        "# TYPE kafka_brokers gauge\n"
                        "kafka_brokers 1\n"
                        "# HELP x_total h\n"
                        "# TYPE x_total counter\n"
                        "x_total 9223372036854775807\n"
                        "g 0.5\n"
                        "g +Inf\n");
    sl_buf_deinit(&buf);
}

static void test_histogram_buckets(void **state)
{
    (void)state;
    sl_histogram_t h = {0};
    sl_histogram_observe_us(&h, 0);        /* first bucket */
    sl_histogram_observe_us(&h, 100);      /* on a bound: le is inclusive */
    sl_histogram_observe_us(&h, 101);      /* next bucket */
    sl_histogram_observe_us(&h, 3000000);  /* 3 s: the 5 s bucket */
    sl_histogram_observe_us(&h, 60000000); /* beyond 10 s: only +Inf */
    assert_int_equal(h.count, 5);
    assert_int_equal(h.counts[0], 2);
    assert_int_equal(h.counts[1], 1);
    assert_int_equal(h.counts[SL_HISTOGRAM_BUCKETS], 1);
    sl_histogram_t merged = {0};
    sl_histogram_merge(&merged, &h);
    sl_histogram_merge(&merged, &h);
    assert_int_equal(merged.count, 10);
    assert_int_equal(merged.sum_us, 2 * h.sum_us);

    sl_buf_t buf;
    sl_buf_init(&buf, 8192);
    sl_prom_writer_t w = {.out = &buf};
    sl_prom_label_t label = SL_PROM_LABEL("request", "Produce");
    sl_prom_histogram(&w, "lat_seconds", &label, 1, &h);
    assert_int_equal(w.err, 0);
    const char *t = text_of(&buf);
    assert_non_null(strstr(t, "lat_seconds_bucket{request=\"Produce\",le=\"0.0001\"} 2\n"));
    assert_non_null(strstr(t, "lat_seconds_bucket{request=\"Produce\",le=\"0.00025\"} 3\n"));
    assert_non_null(strstr(t, "lat_seconds_bucket{request=\"Produce\",le=\"2.5\"} 3\n"));
    assert_non_null(strstr(t, "lat_seconds_bucket{request=\"Produce\",le=\"5\"} 4\n"));
    assert_non_null(strstr(t, "lat_seconds_bucket{request=\"Produce\",le=\"10\"} 4\n"));
    assert_non_null(strstr(t, "lat_seconds_bucket{request=\"Produce\",le=\"+Inf\"} 5\n"));
    assert_non_null(strstr(t, "lat_seconds_sum{request=\"Produce\"} 63.000201\n"));
    assert_non_null(strstr(t, "lat_seconds_count{request=\"Produce\"} 5\n"));
    /* one line per bucket, then sum and count */
    size_t lines = 0;
    for (const char *p = t; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, SL_HISTOGRAM_BUCKETS + 1 + 2);
    sl_buf_deinit(&buf);
}

static void test_histogram_without_labels(void **state)
{
    (void)state;
    sl_histogram_t h = {0};
    sl_buf_t buf;
    sl_buf_init(&buf, 8192);
    sl_prom_writer_t w = {.out = &buf};
    sl_prom_histogram(&w, "fsync_seconds", NULL, 0, &h);
    const char *t = text_of(&buf);
    assert_non_null(strstr(t, "fsync_seconds_bucket{le=\"0.0001\"} 0\n"));
    assert_non_null(strstr(t, "fsync_seconds_sum 0.000000\n"));
    assert_non_null(strstr(t, "fsync_seconds_count 0\n"));
    sl_buf_deinit(&buf);
}

static void test_full_buffer_sticks(void **state)
{
    (void)state;
    sl_buf_t buf;
    sl_buf_init(&buf, 1024);
    sl_prom_writer_t w = {.out = &buf};
    for (int i = 0; i < 100 && w.err == 0; i++)
        sl_prom_family(&w, "a_metric_with_a_long_name", SL_PROM_GAUGE, "more than a few bytes");
    int err = w.err;
    assert_int_equal(err, SL_ELIMIT);
    size_t len = buf.len;
    assert_true(len <= 1024);
    sl_prom_sample_i64(&w, "x", NULL, 0, 1); /* ignored after the first error */
    assert_int_equal(w.err, err);
    assert_int_equal(buf.len, len);
    sl_buf_deinit(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_label_values),
        cmocka_unit_test(test_escape_runs_and_edges),
        cmocka_unit_test(test_family_and_plain_samples),
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_histogram_without_labels),
        cmocka_unit_test(test_full_buffer_sticks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
