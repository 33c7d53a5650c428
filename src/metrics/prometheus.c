/* prometheus: the text exposition format 0.0.4 (what /metrics answers and `promtool check metrics`
 * reads): HELP and TYPE lines, samples with escaped label values, histograms as cumulative
 * _bucket series with an le label, then _sum and _count.
 * Invariant: a label value is written only through sl_prom_escape, so no byte of a topic or group
 * name can end a value early or break a line. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sluice/metrics.h"

static const uint64_t bounds_us[SL_HISTOGRAM_BUCKETS] = SL_HISTOGRAM_BOUNDS_US;

void sl_histogram_observe_us(sl_histogram_t *h, uint64_t value_us)
{
    size_t i = 0;
    while (i < SL_HISTOGRAM_BUCKETS && value_us > bounds_us[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum_us += value_us;
}

void sl_histogram_merge(sl_histogram_t *into, const sl_histogram_t *from)
{
    for (size_t i = 0; i <= SL_HISTOGRAM_BUCKETS; i++)
        into->counts[i] += from->counts[i];
    into->count += from->count;
    into->sum_us += from->sum_us;
}

static void put(sl_prom_writer_t *w, const void *data, size_t len)
{
    if (w->err == 0)
        w->err = sl_buf_append(w->out, data, len);
}

static void puts_(sl_prom_writer_t *w, const char *s)
{
    put(w, s, strlen(s));
}

void sl_prom_escape(sl_prom_writer_t *w, const char *value, size_t len)
{
    size_t run = 0; /* bytes since the last escape, written in one append */
    for (size_t i = 0; i < len; i++) {
        const char *esc = value[i] == '\\'   ? "\\\\"
                          : value[i] == '"'  ? "\\\""
                          : value[i] == '\n' ? "\\n"
                                             : NULL;
        if (esc == NULL) {
            run++;
            continue;
        }
        put(w, value + i - run, run);
        put(w, esc, 2);
        run = 0;
    }
    put(w, value + len - run, run);
}

void sl_prom_family(sl_prom_writer_t *w, const char *name, sl_prom_type_t type, const char *help)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    SL_ASSERT(type <= SL_PROM_HISTOGRAM);
    SL_ASSERT(strchr(help, '\n') == NULL && strchr(help, '\\') == NULL);
    puts_(w, "# HELP ");
    puts_(w, name);
    put(w, " ", 1);
    puts_(w, help);
    puts_(w, "\n# TYPE ");
    puts_(w, name);
    put(w, " ", 1);
    puts_(w, type_names[type]);
    put(w, "\n", 1);
}

/* name{a="x",b="y"} — extra (may be NULL) is one more label written last (a histogram's le). */
static void series(sl_prom_writer_t *w, const char *name, const char *suffix,
                   const sl_prom_label_t *labels, size_t label_count, const char *extra_name,
                   const char *extra_value)
{
    SL_ASSERT(label_count <= SL_PROM_LABELS_MAX);
    puts_(w, name);
    puts_(w, suffix);
    if (label_count == 0 && extra_name == NULL) {
        put(w, " ", 1);
        return;
    }
    put(w, "{", 1);
    for (size_t i = 0; i < label_count; i++) {
        const sl_prom_label_t *l = &labels[i];
        if (i > 0)
            put(w, ",", 1);
        puts_(w, l->name);
        put(w, "=\"", 2);
        sl_prom_escape(w, l->value, l->value_len == SIZE_MAX ? strlen(l->value) : l->value_len);
        put(w, "\"", 1);
    }
    if (extra_name != NULL) {
        if (label_count > 0)
            put(w, ",", 1);
        puts_(w, extra_name);
        put(w, "=\"", 2);
        puts_(w, extra_value);
        put(w, "\"", 1);
    }
    put(w, "} ", 2);
}

void sl_prom_sample_i64(sl_prom_writer_t *w, const char *name, const sl_prom_label_t *labels,
                        size_t label_count, int64_t value)
{
    series(w, name, "", labels, label_count, NULL, NULL);
    char text[24];
    int n = snprintf(text, sizeof(text), "%" PRId64 "\n", value);
    put(w, text, (size_t)n);
}

static void format_f64(char *out, size_t cap, double value)
{
    if (isnan(value))
        snprintf(out, cap, "NaN");
    else if (isinf(value))
        snprintf(out, cap, value > 0 ? "+Inf" : "-Inf");
    else
        snprintf(out, cap, "%.17g", value);
}

void sl_prom_sample_f64(sl_prom_writer_t *w, const char *name, const sl_prom_label_t *labels,
                        size_t label_count, double value)
{
    series(w, name, "", labels, label_count, NULL, NULL);
    char text[40];
    format_f64(text, sizeof(text), value);
    puts_(w, text);
    put(w, "\n", 1);
}

void sl_prom_histogram(sl_prom_writer_t *w, const char *name, const sl_prom_label_t *labels,
                       size_t label_count, const sl_histogram_t *h)
{
    uint64_t cumulative = 0;
    char le[40], value[24];
    for (size_t i = 0; i <= SL_HISTOGRAM_BUCKETS; i++) {
        cumulative += h->counts[i];
        if (i < SL_HISTOGRAM_BUCKETS)
            snprintf(le, sizeof(le), "%g", (double)bounds_us[i] / 1e6); /* exact: 0.00025 */
        else
            snprintf(le, sizeof(le), "+Inf");
        series(w, name, "_bucket", labels, label_count, "le", le);
        int n = snprintf(value, sizeof(value), "%" PRIu64 "\n", cumulative);
        put(w, value, (size_t)n);
    }
    SL_ASSERT(cumulative == h->count);
    series(w, name, "_sum", labels, label_count, NULL, NULL);
    int len = snprintf(le, sizeof(le), "%" PRIu64 ".%06" PRIu64 "\n", h->sum_us / 1000000,
                       h->sum_us % 1000000);
    put(w, le, (size_t)len);
    series(w, name, "_count", labels, label_count, NULL, NULL);
    int n = snprintf(value, sizeof(value), "%" PRIu64 "\n", h->count);
    put(w, value, (size_t)n);
}
