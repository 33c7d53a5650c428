/* report: sums the per-thread counters and histograms after every thread is joined, and prints
 * them as text or as one JSON object. Throughput counts what completed inside the measured window
 * (delivery reports for produce, receipts for consume) divided by its length; MiB is 2^20 bytes. */
#include <inttypes.h>
#include <string.h>

#include "bench.h"

#include "sluice/core.h"

typedef struct {
    uint64_t records;
    uint64_t bytes;
    uint64_t errors;
    uint64_t client_errors;
    const char *first_error; /* borrows a thread's buffer, or NULL */
    sl_bench_hist_t hist;
} totals_t;

static void totals_sum(const sl_bench_result_t *r, const sl_bench_opts_t *o, totals_t *prod,
                       totals_t *cons)
{
    for (int i = 0; i < o->producers; i++) {
        const sl_bench_producer_t *p = &r->producers[i];
        prod->records += p->acked;
        prod->bytes += p->acked_bytes;
        prod->errors += p->errors;
        prod->client_errors += p->client_errors;
        if (prod->first_error == NULL && p->first_error[0] != '\0')
            prod->first_error = p->first_error;
        sl_bench_hist_merge(&prod->hist, &p->latency);
    }
    for (int i = 0; i < o->consumers; i++) {
        const sl_bench_consumer_t *c = &r->consumers[i];
        cons->records += c->received;
        cons->bytes += c->received_bytes;
        cons->errors += c->errors;
        cons->client_errors += c->client_errors;
        if (cons->first_error == NULL && c->first_error[0] != '\0')
            cons->first_error = c->first_error;
        sl_bench_hist_merge(&cons->hist, &c->e2e);
    }
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static void json_string(FILE *out, const char *s)
{
    if (s == NULL) {
        fputs("null", out);
        return;
    }
    fputc('"', out);
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

static void json_section(FILE *out, const char *name, const char *hist_name, const totals_t *t,
                         double seconds)
{
    const sl_bench_hist_t *h = &t->hist;
    fprintf(out,
            "\"%s\":{\"records\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"records_per_s\":%.1f,"
            "\"mib_per_s\":%.3f,\"%s\":{\"count\":%" PRIu64 ",\"p50\":%.3f,\"p99\":%.3f,"
            "\"p999\":%.3f,\"max\":%.3f},\"errors\":%" PRIu64 ",\"client_errors\":%" PRIu64
            ",\"first_error\":",
            name, t->records, t->bytes, (double)t->records / seconds,
            (double)t->bytes / seconds / 1048576.0, hist_name, h->total,
            ms(sl_bench_hist_percentile(h, 50.0)), ms(sl_bench_hist_percentile(h, 99.0)),
            ms(sl_bench_hist_percentile(h, 99.9)), ms(h->max_ns), t->errors, t->client_errors);
    json_string(out, t->first_error);
    fputc('}', out);
}

static void text_section(FILE *out, const char *name, const char *hist_name, const totals_t *t,
                         double seconds)
{
    const sl_bench_hist_t *h = &t->hist;
    fprintf(out, "%-8s %" PRIu64 " records in %.1f s: %.1f records/s, %.2f MiB/s\n", name,
            t->records, seconds, (double)t->records / seconds,
            (double)t->bytes / seconds / 1048576.0);
    fprintf(out, "%-8s %s ms (%" PRIu64 " samples): p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", "",
            hist_name, h->total, ms(sl_bench_hist_percentile(h, 50.0)),
            ms(sl_bench_hist_percentile(h, 99.0)), ms(sl_bench_hist_percentile(h, 99.9)),
            ms(h->max_ns));
    fprintf(out, "%-8s errors %" PRIu64 ", client errors %" PRIu64 "%s%s\n", "", t->errors,
            t->client_errors, t->first_error ? ", first: " : "",
            t->first_error ? t->first_error : "");
}

static void json_report(FILE *out, const sl_bench_opts_t *o, const sl_bench_result_t *r,
                        const totals_t *prod, const totals_t *cons, uint64_t errors)
{
    fputs("{\"topic\":", out);
    json_string(out, o->topic);
    fprintf(out,
            ",\"partitions\":%d,\"producers\":%d,\"consumers\":%d,\"record_size\":%zu,"
            "\"acks\":\"%s\",\"idempotence\":%s,\"compression\":",
            r->partitions, o->producers, o->consumers, o->record_size, o->acks,
            o->idempotence ? "true" : "false");
    json_string(out, o->compression);
    fprintf(out, ",\"rate\":%" PRIu64 ",\"duration_s\":%.3f,\"warmup_s\":%.3f,", o->rate,
            o->duration_s, o->warmup_s);
    if (o->producers > 0)
        json_section(out, "produce", "latency_ms", prod, o->duration_s);
    else
        fputs("\"produce\":null", out);
    fputc(',', out);
    if (o->consumers > 0)
        json_section(out, "consume", "e2e_latency_ms", cons, o->duration_s);
    else
        fputs("\"consume\":null", out);
    fputs(",\"fatal\":", out);
    json_string(out, atomic_load(&r->shared->fatal) ? r->shared->fatal_msg : NULL);
    fprintf(out, ",\"errors\":%" PRIu64 "}\n", errors);
}

uint64_t sl_bench_report(FILE *out, const sl_bench_opts_t *o, const sl_bench_result_t *r)
{
    totals_t *t = sl_calloc(2, sizeof(totals_t)); /* 60 KiB of histograms: not on the stack */
    SL_ASSERT(t != NULL);
    totals_sum(r, o, &t[0], &t[1]);
    uint64_t errors = t[0].errors + t[0].client_errors + t[1].errors + t[1].client_errors +
                      (atomic_load(&r->shared->fatal) ? 1u : 0u);
    if (o->json) {
        json_report(out, o, r, &t[0], &t[1], errors);
    } else {
        fprintf(out,
                "sluice-bench: topic=%s partitions=%d producers=%d consumers=%d record_size=%zu "
                "acks=%s idempotence=%s compression=%s rate=%" PRIu64 " duration=%.1fs "
                "warmup=%.1fs\n",
                o->topic, r->partitions, o->producers, o->consumers, o->record_size, o->acks,
                o->idempotence ? "true" : "false", o->compression, o->rate, o->duration_s,
                o->warmup_s);
        if (o->producers > 0)
            text_section(out, "produce", "latency", &t[0], o->duration_s);
        if (o->consumers > 0)
            text_section(out, "consume", "end-to-end latency", &t[1], o->duration_s);
        if (atomic_load(&r->shared->fatal))
            fprintf(out, "fatal: %s\n", r->shared->fatal_msg);
        fprintf(out, "errors   %" PRIu64 "\n", errors);
    }
    sl_free(t);
    return errors;
}
