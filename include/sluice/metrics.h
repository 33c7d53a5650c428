/* metrics: the pieces every module's counters are made of, and the Prometheus text exposition
 * format (version 0.0.4) they are written out in. Counters are plain integers in the structs that
 * own the thing counted (a topic, a listener, a log dir), bumped on the loop thread without locks;
 * only the scrape (on the same loop) walks them and formats text.
 * Invariants: a histogram's buckets are fixed at compile time (SL_HISTOGRAM_BOUNDS_US), so
 * observing is a short scan and two additions, never an allocation; label values are escaped as
 * the format requires (backslash, double quote, newline), so any topic or group name is safe. */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include "sluice/core.h"

/* Upper bounds of a latency histogram's buckets, in microseconds (then +Inf): 100 us to 10 s,
 * what a request or an fdatasync takes on anything from tmpfs to a slow network disk. */
#define SL_HISTOGRAM_BOUNDS_US                                                                     \
    {                                                                                              \
        100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,     \
            2500000, 5000000, 10000000                                                             \
    }
#define SL_HISTOGRAM_BUCKETS 16

/* A latency histogram. counts[i] is the number of observations in bucket i alone (not
 * cumulative; the writer sums), counts[SL_HISTOGRAM_BUCKETS] those above the last bound. */
typedef struct sl_histogram {
    uint64_t counts[SL_HISTOGRAM_BUCKETS + 1];
    uint64_t count;
    uint64_t sum_us;
} sl_histogram_t;

void sl_histogram_observe_us(sl_histogram_t *h, uint64_t value_us);
/* Adds every observation of from into into (per-API histograms summed over versions). */
void sl_histogram_merge(sl_histogram_t *into, const sl_histogram_t *from);

/* One label of a sample; value need not be NUL-terminated (a topic name is a slice). */
typedef struct sl_prom_label {
    const char *name;
    const char *value;
    size_t value_len; /* SIZE_MAX: value is NUL-terminated */
} sl_prom_label_t;

#define SL_PROM_LABEL(n, v) ((sl_prom_label_t){(n), (v), SIZE_MAX})
#define SL_PROM_LABELS_MAX 4

/* Writes into out (borrowed; grows up to its cap). The first error (-ENOMEM, SL_ELIMIT) sticks in
 * err and every later call does nothing, so a scrape checks once at the end. */
typedef struct sl_prom_writer {
    sl_buf_t *out;
    int err;
} sl_prom_writer_t;

typedef enum { SL_PROM_COUNTER, SL_PROM_GAUGE, SL_PROM_HISTOGRAM } sl_prom_type_t;

/* "# HELP name help" and "# TYPE name type": once per metric family, before its samples. */
void sl_prom_family(sl_prom_writer_t *w, const char *name, sl_prom_type_t type, const char *help);
/* name{labels} value, with an integer or a floating-point value. */
void sl_prom_sample_i64(sl_prom_writer_t *w, const char *name, const sl_prom_label_t *labels,
                        size_t label_count, int64_t value);
void sl_prom_sample_f64(sl_prom_writer_t *w, const char *name, const sl_prom_label_t *labels,
                        size_t label_count, double value);
/* name_bucket{labels,le="..."} (cumulative, in seconds), name_sum (seconds) and name_count. */
void sl_prom_histogram(sl_prom_writer_t *w, const char *name, const sl_prom_label_t *labels,
                       size_t label_count, const sl_histogram_t *h);
/* Appends value escaped for a label value (\\, \", \n); exposed for the unit tests. */
void sl_prom_escape(sl_prom_writer_t *w, const char *value, size_t len);

#endif
