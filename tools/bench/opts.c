/* opts: sluice-bench's command line. Every number is range-checked here, so the rest of the tool
 * can rely on the bounds in bench.h (thread counts, record size, seconds). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#include "sluice/core.h"

void sl_bench_usage(FILE *out)
{
    fputs(
        "usage: sluice-bench --bootstrap HOST:PORT [options]\n"
        "  --topic NAME          topic to use (default sluice-bench)\n"
        "  --partitions N        partitions when the topic is created (default 1); an existing\n"
        "                        topic keeps its own count\n"
        "  --producers N         producer threads, one client each (default 1)\n"
        "  --consumers N         consumer threads; partitions are assigned explicitly, no groups\n"
        "                        (default 0)\n"
        "  --record-size BYTES   value size, at least 16 (default 1024)\n"
        "  --acks 0|1|all        (default 1)\n"
        "  --idempotence         enable.idempotence=true (needs InitProducerId and --acks all)\n"
        "  --compression C       none|gzip|snappy|lz4|zstd (default none)\n"
        "  --rate N              records/s over all producers, 0 = as fast as possible (default "
        "0)\n"
        "  --duration S          measured seconds (default 10)\n"
        "  --warmup S            seconds before the measurement starts (default 2)\n"
        "  --from-beginning      consumers start at the log start offset, not the end\n"
        "  --json                one JSON object on stdout instead of text\n"
        "  --mock-brokers N      run against librdkafka's in-memory mock cluster of N brokers\n"
        "                        (no disk, no broker process: what the client alone can push);\n"
        "                        --bootstrap is then not needed\n"
        "  -P, --producer-prop K=V   librdkafka producer property (repeatable)\n"
        "  -C, --consumer-prop K=V   librdkafka consumer property (repeatable)\n"
        "exit status: 0 no errors, 1 errors were counted, 2 usage or setup failure\n",
        out);
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (s[0] == '-' || s[0] == '\0')
        return -EINVAL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -EINVAL;
    *out = (uint64_t)v;
    return 0;
}

static int parse_seconds(const char *s, double lo, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < lo ||
        v > SL_BENCH_SECONDS_MAX)
        return -EINVAL;
    *out = v;
    return 0;
}

static int add_prop(const char **props, size_t *count, const char *kv)
{
    if (*count >= SL_BENCH_PROPS_MAX || strchr(kv, '=') == NULL || kv[0] == '=')
        return -EINVAL;
    props[(*count)++] = kv;
    return 0;
}

static const struct option long_options[] = {
    {"bootstrap", required_argument, NULL, 'b'},
    {"topic", required_argument, NULL, 't'},
    {"partitions", required_argument, NULL, 'p'},
    {"producers", required_argument, NULL, 'n'},
    {"consumers", required_argument, NULL, 'c'},
    {"record-size", required_argument, NULL, 's'},
    {"acks", required_argument, NULL, 'a'},
    {"idempotence", no_argument, NULL, 'i'},
    {"compression", required_argument, NULL, 'z'},
    {"rate", required_argument, NULL, 'r'},
    {"duration", required_argument, NULL, 'd'},
    {"warmup", required_argument, NULL, 'w'},
    {"from-beginning", no_argument, NULL, 'f'},
    {"json", no_argument, NULL, 'j'},
    {"mock-brokers", required_argument, NULL, 'm'},
    {"producer-prop", required_argument, NULL, 'P'},
    {"consumer-prop", required_argument, NULL, 'C'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Applies one option; returns 0 or -EINVAL. */
static int apply(sl_bench_opts_t *o, int c, const char *arg)
{
    uint64_t v = 0;
    int rc = 0;
    switch (c) {
    case 'b':
        o->bootstrap = arg;
        break;
    case 't':
        o->topic = arg;
        break;
    case 'p':
        rc = parse_u64(arg, 1, SL_BENCH_PARTITIONS_MAX, &v);
        o->partitions = (int)v;
        o->partitions_given = true;
        break;
    case 'n':
    case 'c':
        rc = parse_u64(arg, 0, SL_BENCH_THREADS_MAX, &v);
        *(c == 'n' ? &o->producers : &o->consumers) = (int)v;
        break;
    case 's':
        rc = parse_u64(arg, SL_BENCH_HEADER_BYTES, SL_BENCH_RECORD_BYTES_MAX, &v);
        o->record_size = (size_t)v;
        break;
    case 'a':
        rc = strcmp(arg, "0") && strcmp(arg, "1") && strcmp(arg, "all") ? -EINVAL : 0;
        o->acks = arg;
        break;
    case 'i':
        o->idempotence = true;
        break;
    case 'z':
        o->compression = arg;
        break;
    case 'r':
        rc = parse_u64(arg, 0, UINT64_C(100000000), &o->rate);
        break;
    case 'd':
        rc = parse_seconds(arg, 0.1, &o->duration_s);
        break;
    case 'w':
        rc = parse_seconds(arg, 0.0, &o->warmup_s);
        break;
    case 'f':
        o->from_beginning = true;
        break;
    case 'j':
        o->json = true;
        break;
    case 'm':
        rc = parse_u64(arg, 1, 16, &v);
        o->mock_brokers = (int)v;
        break;
    case 'P':
        rc = add_prop(o->producer_props, &o->producer_props_count, arg);
        break;
    case 'C':
        rc = add_prop(o->consumer_props, &o->consumer_props_count, arg);
        break;
    default:
        rc = -EINVAL;
        break;
    }
    return rc;
}

int sl_bench_opts_parse(int argc, char **argv, sl_bench_opts_t *opts, char *err, size_t err_size)
{
    *opts = (sl_bench_opts_t){.topic = "sluice-bench",
                              .partitions = 1,
                              .producers = 1,
                              .record_size = 1024,
                              .acks = "1",
                              .compression = "none",
                              .duration_s = 10.0,
                              .warmup_s = 2.0};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "P:C:h", long_options, NULL)) != -1) {
        if (c == 'h') {
            sl_bench_usage(stdout);
            return 1;
        }
        if (c == '?' || apply(opts, c, optarg) != 0) {
            snprintf(err, err_size, "bad option %s%s%s", argv[optind - 1],
                     c != '?' && optarg ? " " : "", c != '?' && optarg ? optarg : "");
            return -EINVAL;
        }
    }
    const char *why = NULL;
    if (optind != argc)
        why = "unexpected argument";
    else if (opts->bootstrap == NULL && opts->mock_brokers == 0)
        why = "--bootstrap is required";
    else if (opts->producers == 0 && opts->consumers == 0)
        why = "nothing to do: --producers and --consumers are both 0";
    else if (opts->idempotence && strcmp(opts->acks, "all") != 0)
        why = "--idempotence needs --acks all";
    if (why != NULL) {
        snprintf(err, err_size, "%s", why);
        return -EINVAL;
    }
    SL_ASSERT(opts->record_size >= SL_BENCH_HEADER_BYTES);
    return 0;
}
