/* hist: a fixed-size log-bucket latency histogram (HDR-like). Values below 128 ns are exact; above,
 * each power of two has 64 sub-buckets, so a reported percentile is within 1.6 % of the truth and
 * the histogram is 30 KiB whatever the run length. The maximum is kept exactly. */
#include "bench.h"

#include "sluice/core.h"

static size_t bucket_index(uint64_t v)
{
    if (v < SL_BENCH_HIST_EXACT)
        return (size_t)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
    unsigned shift = msb - 6u;                         /* >= 1: sub lands in [64, 128) */
    uint64_t sub = v >> shift;
    SL_ASSERT(sub >= SL_BENCH_HIST_SUB && sub < 2 * SL_BENCH_HIST_SUB);
    size_t i = SL_BENCH_HIST_EXACT + (size_t)(shift - 1u) * SL_BENCH_HIST_SUB +
               (size_t)(sub - SL_BENCH_HIST_SUB);
    SL_ASSERT(i < SL_BENCH_HIST_BUCKETS);
    return i;
}

/* The middle of bucket i. */
static uint64_t bucket_value(size_t i)
{
    SL_ASSERT(i < SL_BENCH_HIST_BUCKETS);
    if (i < SL_BENCH_HIST_EXACT)
        return (uint64_t)i;
    size_t shift = (i - SL_BENCH_HIST_EXACT) / SL_BENCH_HIST_SUB + 1;
    uint64_t sub = (uint64_t)((i - SL_BENCH_HIST_EXACT) % SL_BENCH_HIST_SUB) + SL_BENCH_HIST_SUB;
    return (sub << shift) + ((UINT64_C(1) << shift) >> 1);
}

void sl_bench_hist_record(sl_bench_hist_t *h, uint64_t value_ns)
{
    h->counts[bucket_index(value_ns)]++;
    h->total++;
    if (value_ns > h->max_ns)
        h->max_ns = value_ns;
}

void sl_bench_hist_merge(sl_bench_hist_t *into, const sl_bench_hist_t *from)
{
    for (size_t i = 0; i < SL_BENCH_HIST_BUCKETS; i++)
        into->counts[i] += from->counts[i];
    into->total += from->total;
    if (from->max_ns > into->max_ns)
        into->max_ns = from->max_ns;
}

uint64_t sl_bench_hist_percentile(const sl_bench_hist_t *h, double pct)
{
    SL_ASSERT(pct > 0.0 && pct <= 100.0);
    if (h->total == 0)
        return 0;
    /* The smallest value with at least ceil(pct% of total) values at or below it. */
    double exact = pct / 100.0 * (double)h->total;
    uint64_t rank = (uint64_t)exact;
    if ((double)rank < exact)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < SL_BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = bucket_value(i);
            return v < h->max_ns ? v : h->max_ns;
        }
    }
    return h->max_ns;
}
