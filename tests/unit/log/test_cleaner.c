/* test_cleaner: log compaction on sim_disk with a hand-driven clock: the latest record per key
 * survives at its offset, tombstones live until their delete horizon, a small offset map cleans in
 * several passes, an idempotent producer's last batch stays (as an empty header when emptied),
 * compressed batches keep their codec, and a crash after any disk step of the swap recovers to
 * the old or the new segments, never losing or duplicating a record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log/cleaner_int.h"
#include "sim_disk.h"
#include "sluice/records.h"

#define NOW0 1700000000000LL
#define KEYS_MAX 512

static sl_uuid_t topic_id = {{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6}};

/* ---- a keyed batch builder ---- */

typedef struct {
    const char *key;   /* NULL: no key */
    const char *value; /* NULL: a tombstone */
} kv_t;

typedef struct {
    int64_t producer_id;
    int16_t epoch;
    int32_t base_sequence;
    sl_compression_t codec;
} batch_opts_t;

static void put_varlong(sl_buf_t *b, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    uint8_t tmp[10];
    size_t n = 0;
    while (u >= 0x80) {
        tmp[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    tmp[n++] = (uint8_t)u;
    assert_int_equal(sl_buf_append(b, tmp, n), 0);
}

static void put_record(sl_buf_t *out, int32_t delta, const kv_t *kv)
{
    sl_buf_t body;
    sl_buf_init(&body, 0);
    uint8_t attrs = 0;
    assert_int_equal(sl_buf_append(&body, &attrs, 1), 0);
    put_varlong(&body, delta); /* timestamp delta */
    put_varlong(&body, delta); /* offset delta */
    put_varlong(&body, kv->key ? (int64_t)strlen(kv->key) : -1);
    if (kv->key)
        assert_int_equal(sl_buf_append(&body, kv->key, strlen(kv->key)), 0);
    put_varlong(&body, kv->value ? (int64_t)strlen(kv->value) : -1);
    if (kv->value)
        assert_int_equal(sl_buf_append(&body, kv->value, strlen(kv->value)), 0);
    put_varlong(&body, 0); /* headers */
    put_varlong(out, (int64_t)body.len);
    assert_int_equal(sl_buf_append(out, body.ptr, body.len), 0);
    sl_buf_deinit(&body);
}

/* An sl_malloc'd batch as a client sends it (base offset 0). */
static uint8_t *build(const kv_t *kvs, int n, int64_t ts, const batch_opts_t *o, size_t *len)
{
    sl_buf_t recs, payload;
    sl_buf_init(&recs, 0);
    sl_buf_init(&payload, 0);
    for (int i = 0; i < n; i++)
        put_record(&recs, i, &kvs[i]);
    sl_compression_t codec = o ? o->codec : SL_COMPRESSION_NONE;
    if (codec != SL_COMPRESSION_NONE)
        assert_int_equal(sl_records_compress(codec, (sl_slice_t){recs.ptr, recs.len}, &payload), 0);
    else
        assert_int_equal(sl_buf_append(&payload, recs.ptr, recs.len), 0);
    size_t total = SL_BATCH_HEADER_BYTES + payload.len;
    uint8_t *b = sl_calloc(1, total);
    sl__put_be32(b + SL_BATCH_OFF_LENGTH, (uint32_t)(total - SL_BATCH_LOG_OVERHEAD));
    b[SL_BATCH_OFF_MAGIC] = 2;
    b[SL_BATCH_OFF_ATTRIBUTES + 1] = (uint8_t)codec;
    sl__put_be32(b + SL_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(n - 1));
    sl__put_be64(b + SL_BATCH_OFF_BASE_TIMESTAMP, ts);
    sl__put_be64(b + SL_BATCH_OFF_MAX_TIMESTAMP, ts + n - 1);
    sl__put_be64(b + SL_BATCH_OFF_PRODUCER_ID, o && o->producer_id >= 0 ? o->producer_id : -1);
    b[SL_BATCH_OFF_PRODUCER_EPOCH] = o && o->producer_id >= 0 ? (uint8_t)(o->epoch >> 8) : 0xff;
    b[SL_BATCH_OFF_PRODUCER_EPOCH + 1] = o && o->producer_id >= 0 ? (uint8_t)o->epoch : 0xff;
    sl__put_be32(b + SL_BATCH_OFF_BASE_SEQUENCE,
                 o && o->producer_id >= 0 ? (uint32_t)o->base_sequence : UINT32_MAX);
    sl__put_be32(b + SL_BATCH_OFF_RECORD_COUNT, (uint32_t)n);
    memcpy(b + SL_BATCH_HEADER_BYTES, payload.ptr, payload.len);
    sl__put_be32(b + SL_BATCH_OFF_CRC,
                 sl_crc32c(0, b + SL_BATCH_OFF_ATTRIBUTES, total - SL_BATCH_OFF_ATTRIBUTES));
    sl_buf_deinit(&recs);
    sl_buf_deinit(&payload);
    *len = total;
    return b;
}

/* ---- environment ---- */

typedef struct {
    sim_disk_t *sim;
    sim_clock_t clock;
    sl_log_dir_t *dir;
    sl_log_t *log;
    sl_log_config_t cfg;
} env_t;

static void env_open_on(env_t *e, sim_disk_t *sim)
{
    e->sim = sim;
    sl_disk_t d = sim_disk_seam(sim);
    if (d.ops->exists(&d, "/data") == 0)
        assert_int_equal(d.ops->mkdir(&d, "/data"), 0);
    assert_int_equal(sl_log_dir_open("/data", d, &e->clock.ops, &e->dir), 0);
    assert_int_equal(sl_log_open(e->dir, "t", 0, &topic_id, &e->cfg, &e->log), 0);
}

static void env_init(env_t *e)
{
    memset(e, 0, sizeof *e);
    sim_clock_init(&e->clock, NOW0);
    sl_log_config_default(&e->cfg);
    e->cfg.compact = true;
    e->cfg.segment_bytes =
        SL_BATCH_HEADER_BYTES; /* every batch gets its own segment: all but the last are closed */
    e->cfg.index_interval_bytes = 0;
    e->cfg.min_cleanable_dirty_ratio = 0;
    e->cfg.delete_retention_ms = 1000;
    env_open_on(e, sim_disk_create());
}

static void on_dir_closed(sl_log_dir_t *dir, void *data)
{
    (void)dir; /* freed by the log module */
    *(bool *)data = true;
}

static void env_close_dir(env_t *e)
{
    bool closed = false;
    sl_log_dir_close(e->dir, on_dir_closed, &closed);
    sim_disk_run(e->sim);
    assert_true(closed);
    e->dir = NULL;
    e->log = NULL;
}

static void env_destroy(env_t *e)
{
    if (e->dir != NULL)
        env_close_dir(e);
    sim_disk_destroy(e->sim);
}

typedef struct {
    sl_log_append_t req;
    uint8_t *batch;
    bool done;
    int status;
} app_t;

static void on_append(sl_log_append_t *req, int status, void *data)
{
    (void)req; /* in data */
    app_t *a = data;
    a->done = true;
    a->status = status;
}

/* Appends and waits for the sync; returns the base offset. */
static int64_t append(env_t *e, const kv_t *kvs, int n, const batch_opts_t *o)
{
    app_t a = {0};
    size_t len;
    a.batch = build(kvs, n, e->clock.realtime_ms, o, &len);
    int64_t base = -1;
    assert_int_equal(
        sl_log_append(e->log, &a.req, a.batch, len, 0, true, on_append, &a, &base, NULL), 0);
    sim_disk_run(e->sim);
    assert_true(a.done);
    assert_int_equal(a.status, 0);
    sl_free(a.batch);
    return base;
}

static void put1(env_t *e, const char *key, const char *value)
{
    kv_t kv = {key, value};
    append(e, &kv, 1, NULL);
}

/* Runs one whole job inline (begin, run, end); false when there was nothing to clean. */
static bool clean_once(env_t *e, size_t dedupe_bytes, sl_log_clean_stats_t *stats)
{
    sl_log_cleaner_config_t cc = {.dedupe_buffer_bytes = dedupe_bytes};
    sl_log_clean_job_t *job = NULL;
    int rc = sl_log_clean_begin(e->log, &cc, e->clock.realtime_ms, &job);
    if (rc == SL_ENOTFOUND)
        return false;
    assert_int_equal(rc, 0);
    sl_log_clean_run(job);
    sl_log_clean_stats_t s;
    assert_int_equal(sl_log_clean_end(job, &s), 0);
    assert_true(s.swapped);
    if (stats != NULL)
        *stats = s;
    return true;
}

/* ---- reading everything back ---- */

typedef struct {
    int64_t offset;
    char key[32], value[32];
    bool has_key, has_value;
} rec_t;

typedef struct {
    rec_t recs[KEYS_MAX * 4];
    size_t count;
    int64_t empty_batches, empty_batch_producer, empty_batch_last_offset;
    int codecs_seen; /* bit per codec */
    int64_t horizon_batches;
} dump_t;

static int collect(const sl_record_t *rec, void *data)
{
    dump_t *d = data;
    assert_true(d->count < SL_ARRAY_LEN(d->recs));
    rec_t *r = &d->recs[d->count++];
    memset(r, 0, sizeof *r);
    r->offset = rec->offset;
    r->has_key = rec->key.ptr != NULL;
    r->has_value = rec->value.ptr != NULL;
    if (r->has_key)
        snprintf(r->key, sizeof r->key, "%.*s", (int)rec->key.len, (const char *)rec->key.ptr);
    if (r->has_value)
        snprintf(r->value, sizeof r->value, "%.*s", (int)rec->value.len,
                 (const char *)rec->value.ptr);
    return 0;
}

typedef struct {
    bool done;
    int status;
    uint8_t *bytes;
    size_t len;
} read_t;

static void on_read(sl_log_read_t *req, int status, uint8_t *bytes, size_t len, void *data)
{
    (void)req; /* in data */
    read_t *r = data;
    r->done = true;
    r->status = status;
    r->bytes = bytes;
    r->len = len;
}

/* Fetches from the log start to the high watermark like a consumer, checking every CRC. */
static void dump(env_t *e, dump_t *d)
{
    memset(d, 0, sizeof *d);
    int64_t offset = sl_log_start_offset(e->log);
    sl_buf_t scratch;
    sl_records_scratch_init(&scratch);
    while (offset < sl_log_high_watermark(e->log)) {
        sl_log_read_t req;
        read_t r = {0};
        assert_int_equal(sl_log_read(e->log, &req, offset, 1 << 20, true, on_read, &r), 0);
        sim_disk_run(e->sim);
        assert_true(r.done);
        assert_int_equal(r.status, 0);
        if (r.len == 0)
            break; /* the rest was compacted away */
        for (size_t pos = 0; pos < r.len;) {
            sl_batch_info_t info;
            assert_int_equal(sl__batch_check(r.bytes + pos, r.len - pos, true, &info), 0);
            const uint8_t *p = r.bytes + pos;
            d->codecs_seen |= 1 << (p[SL_BATCH_OFF_ATTRIBUTES + 1] & 7);
            if (p[SL_BATCH_OFF_ATTRIBUTES + 1] & SL_BATCH_ATTR_DELETE_HORIZON)
                d->horizon_batches++;
            if (sl__be32(p + SL_BATCH_OFF_RECORD_COUNT) == 0) {
                d->empty_batches++;
                d->empty_batch_producer = sl__be64(p + SL_BATCH_OFF_PRODUCER_ID);
                d->empty_batch_last_offset = info.last_offset;
            }
            assert_int_equal(sl_records_iterate(p, (size_t)info.batch_bytes, &scratch, collect, d),
                             0);
            offset = info.last_offset + 1;
            pos += (size_t)info.batch_bytes;
        }
        sl_free(r.bytes);
    }
    sl_buf_deinit(&scratch);
    for (size_t i = 1; i < d->count; i++)
        assert_true(d->recs[i].offset > d->recs[i - 1].offset); /* no duplicates, in order */
}

static const rec_t *find_key(const dump_t *d, const char *key, size_t *count)
{
    const rec_t *last = NULL;
    *count = 0;
    for (size_t i = 0; i < d->count; i++) {
        if (d->recs[i].has_key && strcmp(d->recs[i].key, key) == 0) {
            last = &d->recs[i];
            (*count)++;
        }
    }
    return last;
}

/* ---- tests ---- */

static void test_latest_per_key(void **state)
{
    (void)state; /* no fixture */
    env_t e;
    env_init(&e);
    put1(&e, "a", "a1"); /* 0 */
    put1(&e, "b", "b1"); /* 1 */
    put1(&e, "a", "a2"); /* 2 */
    put1(&e, "c", "c1"); /* 3 */
    put1(&e, "a", "a3"); /* 4 */
    kv_t keyless = {NULL, "x"};
    append(&e, &keyless, 1, NULL); /* 5: a keyless record (the broker refuses these) */
    put1(&e, "b", "b2");           /* 6: in the active segment: never cleaned */
    dump_t d;
    dump(&e, &d);
    assert_int_equal(d.count, 7);
    sl_log_clean_stats_t stats;
    assert_true(clean_once(&e, 1 << 20, &stats));
    assert_int_equal(stats.records_removed, 3); /* a1, a2, the keyless record */
    assert_true(stats.bytes_written < stats.bytes_read);
    dump(&e, &d);
    assert_int_equal(d.count, 4);
    int64_t want_offsets[] = {1, 3, 4, 6};
    const char *want_values[] = {"b1", "c1", "a3", "b2"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(d.recs[i].offset, want_offsets[i]);
        assert_string_equal(d.recs[i].value, want_values[i]);
    }
    assert_int_equal(sl_log_end_offset(e.log), 7);
    assert_false(clean_once(&e, 1 << 20, NULL)); /* nothing dirty left */
    /* b1 (offset 1) goes once b2's segment is closed and cleaned. */
    put1(&e, "d", "d1");
    assert_true(clean_once(&e, 1 << 20, NULL));
    dump(&e, &d);
    size_t n;
    assert_string_equal(find_key(&d, "b", &n)->value, "b2");
    assert_int_equal(n, 1);
    /* A restart reads the same log back (gaps and all). */
    env_close_dir(&e);
    env_open_on(&e, e.sim);
    dump_t again;
    dump(&e, &again);
    assert_int_equal(again.count, d.count);
    for (size_t i = 0; i < d.count; i++)
        assert_int_equal(again.recs[i].offset, d.recs[i].offset);
    assert_int_equal(sl_log_end_offset(e.log), 8);
    env_destroy(&e);
}

static void test_tombstone_lifetime(void **state)
{
    (void)state; /* no fixture */
    env_t e;
    env_init(&e);
    put1(&e, "a", "a1");
    put1(&e, "b", "b1");
    put1(&e, "a", NULL); /* tombstone for a at offset 2 */
    put1(&e, "c", "c1"); /* active */
    assert_true(clean_once(&e, 1 << 20, NULL));
    dump_t d;
    dump(&e, &d);
    size_t n;
    const rec_t *a = find_key(&d, "a", &n);
    assert_int_equal(n, 1); /* the tombstone, a1 gone */
    assert_false(a->has_value);
    assert_int_equal(a->offset, 2);
    assert_int_equal(d.horizon_batches, 1); /* cleaned: its delete horizon is set */
    /* Before delete.retention.ms passes the tombstone stays, however often the log is cleaned. */
    sim_clock_advance(&e.clock, 999);
    put1(&e, "d", "d1");
    assert_true(clean_once(&e, 1 << 20, NULL));
    dump(&e, &d);
    assert_non_null(find_key(&d, "a", &n));
    /* Past the horizon, the next cleaning removes it (the horizon alone makes the log due). */
    sim_clock_advance(&e.clock, 2);
    assert_true(sl_log_clean_priority(e.log, e.clock.realtime_ms) >= 1);
    assert_true(clean_once(&e, 1 << 20, NULL));
    dump(&e, &d);
    assert_null(find_key(&d, "a", &n));
    assert_non_null(find_key(&d, "b", &n));
    env_destroy(&e);
}

static void test_offset_map_bounded(void **state)
{
    (void)state; /* no fixture */
    env_t e;
    env_init(&e);
    e.cfg.segment_bytes = 4096; /* several batches per segment */
    sl_log_set_config(e.log, &e.cfg);
    char key[32], value[32];
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 40; k++) {
            snprintf(key, sizeof key, "k%02d", k);
            snprintf(value, sizeof value, "v%d-%02d", round, k);
            put1(&e, key, value);
        }
    }
    e.cfg.segment_bytes = SL_BATCH_HEADER_BYTES;
    sl_log_set_config(e.log, &e.cfg);
    put1(&e, "z", "active");
    put1(&e, "z", "active2"); /* rolls: everything before is closed */
    /* 16 slots: 14 keys per pass, so the dirty part takes several passes. */
    int passes = 0;
    sl_log_clean_stats_t stats;
    while (clean_once(&e, 16 * sizeof(sl_offset_map_slot_t), &stats)) {
        passes++;
        assert_true(passes < 50);
    }
    assert_true(passes >= 5);
    dump_t d;
    dump(&e, &d);
    for (int k = 0; k < 40; k++) {
        size_t n;
        snprintf(key, sizeof key, "k%02d", k);
        snprintf(value, sizeof value, "v2-%02d", k);
        const rec_t *r = find_key(&d, key, &n);
        assert_non_null(r);
        assert_int_equal(n, 1);
        assert_string_equal(r->value, value);
        assert_int_equal(r->offset, 80 + k); /* offsets unchanged */
    }
    env_destroy(&e);
}

static void test_idempotent_producer_batch_kept(void **state)
{
    (void)state; /* no fixture */
    env_t e;
    env_init(&e);
    kv_t two[] = {{"a", "a1"}, {"b", "b1"}};
    batch_opts_t p = {.producer_id = 42, .epoch = 3, .base_sequence = 0};
    append(&e, two, 2, &p); /* 0-1, seq 0-1 */
    kv_t one = {"a", "a2"};
    p.base_sequence = 2;
    append(&e, &one, 1, &p); /* 2, seq 2: the producer's last batch */
    put1(&e, "a", "a3");     /* 3: supersedes a2 (no producer) */
    put1(&e, "b", "b2");     /* 4: supersedes b1 */
    put1(&e, "c", "c1");     /* 5: active */
    assert_true(clean_once(&e, 1 << 20, NULL));
    dump_t d;
    dump(&e, &d);
    /* The first batch went entirely; the producer's last one stays as an empty header. */
    assert_int_equal(d.empty_batches, 1);
    assert_int_equal(d.empty_batch_producer, 42);
    assert_int_equal(d.empty_batch_last_offset, 2);
    assert_int_equal(d.count, 3);
    /* Its sequence survives a restart that rebuilds producer state from the batch headers alone
     * (no snapshot files): the next batch at seq 3 is in order, seq 2 a duplicate. */
    env_close_dir(&e);
    sl_disk_t disk = sim_disk_seam(e.sim);
    for (int i = 0; i <= 6; i++) {
        char path[64];
        snprintf(path, sizeof path, "/data/t-0/%020d.snapshot", i);
        (void)disk.ops->unlink(&disk, path); /* most do not exist */
    }
    env_open_on(&e, e.sim);
    size_t len;
    p.base_sequence = 2;
    uint8_t *dup = build(&one, 1, NOW0, &p, &len);
    sl_record_batch_t parsed;
    assert_int_equal(sl_record_batch_parse(dup, len, &parsed), 0);
    int64_t dup_base = -1;
    assert_int_equal(sl_log_producer_check(e.log, &parsed, &dup_base, NULL), SL_PRODUCER_DUPLICATE);
    assert_int_equal(dup_base, 2);
    sl_free(dup);
    p.base_sequence = 3;
    uint8_t *next = build(&one, 1, NOW0, &p, &len);
    assert_int_equal(sl_record_batch_parse(next, len, &parsed), 0);
    assert_int_equal(sl_log_producer_check(e.log, &parsed, NULL, NULL), SL_PRODUCER_OK);
    sl_free(next);
    env_destroy(&e);
}

static void test_compressed_batches_keep_codec(void **state)
{
    (void)state; /* no fixture */
    sl_compression_t codecs[] = {SL_COMPRESSION_GZIP, SL_COMPRESSION_SNAPPY, SL_COMPRESSION_LZ4,
                                 SL_COMPRESSION_ZSTD};
    for (size_t c = 0; c < SL_ARRAY_LEN(codecs); c++) {
        env_t e;
        env_init(&e);
        kv_t kvs[] = {{"a", "a1"}, {"b", "b1"}, {"a", "a2"}, {"c", NULL}};
        batch_opts_t o = {.producer_id = -1, .codec = codecs[c]};
        append(&e, kvs, 4, &o); /* 0-3 */
        put1(&e, "z", "z1");    /* active */
        sl_log_clean_stats_t stats;
        assert_true(clean_once(&e, 1 << 20, &stats));
        assert_int_equal(stats.records_removed, 1);
        dump_t d;
        dump(&e, &d);
        assert_int_equal(d.count, 4);
        assert_int_equal(d.recs[0].offset, 1);
        assert_string_equal(d.recs[0].value, "b1");
        assert_int_equal(d.recs[1].offset, 2);
        assert_string_equal(d.recs[1].value, "a2");
        assert_int_equal(d.recs[2].offset, 3);
        assert_false(d.recs[2].has_value);
        assert_true(d.codecs_seen & (1 << codecs[c])); /* re-encoded with the same codec */
        assert_int_equal(d.horizon_batches, 1);
        env_destroy(&e);
    }
}

static void test_corrupt_batch_makes_log_uncleanable(void **state)
{
    (void)state; /* no fixture */
    env_t e;
    env_init(&e);
    put1(&e, "a", "a1");
    put1(&e, "a", "a2");
    put1(&e, "b", "b1");
    /* A byte of the first record flipped on disk: its CRC no longer matches. */
    assert_int_equal(sim_disk_corrupt(e.sim, "/data/t-0/00000000000000000000.log",
                                      SL_BATCH_HEADER_BYTES + 2, 0x40),
                     0);
    sl_log_cleaner_config_t cc = {.dedupe_buffer_bytes = 1 << 20};
    sl_log_clean_job_t *job = NULL;
    assert_int_equal(sl_log_clean_begin(e.log, &cc, e.clock.realtime_ms, &job), 0);
    sl_log_clean_run(job);
    sl_log_clean_stats_t stats;
    assert_int_equal(sl_log_clean_end(job, &stats), 0);
    assert_false(stats.swapped);
    /* Not retried over and over: the log is left alone until a restart. */
    assert_true(sl_log_clean_priority(e.log, e.clock.realtime_ms) < 0);
    assert_null(sim_disk_file(e.sim, "/data/t-0/00000000000000000000.log.cleaned", &(size_t){0}));
    env_destroy(&e);
}

/* ---- crash at every disk step of the swap ---- */

/* A disk that forwards to sim_disk and, from step crash_at on, first takes a crash image (once)
 * and then fails every mutating call: what is on the image is exactly what the steps before it
 * made durable. */
typedef struct {
    sim_disk_t *sim;
    int steps, crash_at;
    sim_disk_t *image;
} crashing_t;

static crashing_t crashing;
static sl_disk_ops_t crashing_ops;

static sl_disk_t inner(void)
{
    return sim_disk_seam(crashing.sim);
}

static bool step(void)
{
    if (crashing.crash_at > 0 && ++crashing.steps >= crashing.crash_at) {
        if (crashing.image == NULL)
            crashing.image = sim_disk_crash(crashing.sim, 0, 1);
        return false;
    }
    return true;
}

static int c_rename(sl_disk_t *d, const char *from, const char *to)
{
    (void)d; /* forwards */
    sl_disk_t s = inner();
    return step() ? s.ops->rename(&s, from, to) : -EIO;
}

static int c_unlink(sl_disk_t *d, const char *path)
{
    (void)d; /* forwards */
    sl_disk_t s = inner();
    return step() ? s.ops->unlink(&s, path) : -EIO;
}

static int c_fsync_dir(sl_disk_t *d, const char *path)
{
    (void)d; /* forwards */
    sl_disk_t s = inner();
    return step() ? s.ops->fsync_dir(&s, path) : -EIO;
}

static int c_fsync(sl_disk_t *d, int fd)
{
    (void)d; /* forwards */
    sl_disk_t s = inner();
    return step() ? s.ops->fsync(&s, fd) : -EIO;
}

static int64_t c_pwrite_sync(sl_disk_t *d, int fd, const void *buf, size_t len, int64_t off)
{
    (void)d; /* forwards */
    sl_disk_t s = inner();
    return step() ? s.ops->pwrite_sync(&s, fd, buf, len, off) : -EIO;
}

static void crashing_install(sl_disk_t *d)
{
    crashing_ops = *sim_disk_seam(crashing.sim).ops;
    crashing_ops.rename = c_rename;
    crashing_ops.unlink = c_unlink;
    crashing_ops.fsync_dir = c_fsync_dir;
    crashing_ops.fsync = c_fsync;
    crashing_ops.pwrite_sync = c_pwrite_sync;
    d->ops = &crashing_ops;
}

/* Builds the same dirty log every time; returns its records by key for comparison. */
static void fill(env_t *e)
{
    char key[32], value[32];
    for (int i = 0; i < 24; i++) {
        snprintf(key, sizeof key, "k%d", i % 5);
        snprintf(value, sizeof value, "v%d", i);
        put1(e, key, i % 7 == 6 ? NULL : value);
    }
}

static void check_latest(const dump_t *d, const dump_t *original)
{
    /* Every key's latest record (by offset) is the original's, and every surviving record is one
     * of the original's at the same offset. */
    for (int k = 0; k < 5; k++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", k);
        size_t n1, n2;
        const rec_t *a = find_key(d, key, &n1);
        const rec_t *b = find_key(original, key, &n2);
        if (b->has_value) {
            assert_non_null(a);
            assert_int_equal(a->offset, b->offset);
            assert_string_equal(a->value, b->value);
        } else if (a != NULL) {
            assert_int_equal(a->offset, b->offset); /* tombstone, or gone */
        }
    }
    size_t j = 0;
    for (size_t i = 0; i < d->count; i++) {
        while (j < original->count && original->recs[j].offset < d->recs[i].offset)
            j++;
        assert_true(j < original->count);
        assert_int_equal(original->recs[j].offset, d->recs[i].offset);
        assert_string_equal(original->recs[j].value, d->recs[i].value);
    }
}

static void test_crash_at_each_swap_step(void **state)
{
    (void)state; /* no fixture */
    dump_t *original = calloc(1, sizeof *original), *after = calloc(1, sizeof *after);
    /* Count the steps of a whole job first. */
    int total = 0;
    for (int crash_at = 0;; crash_at++) {
        env_t e;
        env_init(&e);
        fill(&e);
        dump(&e, original);
        crashing = (crashing_t){.sim = e.sim, .crash_at = crash_at};
        sl_disk_t *disk = &e.dir->disk;
        const sl_disk_ops_t *saved = disk->ops;
        crashing_install(disk);
        sl_log_cleaner_config_t cc = {.dedupe_buffer_bytes = 1 << 20};
        sl_log_clean_job_t *job = NULL;
        assert_int_equal(sl_log_clean_begin(e.log, &cc, e.clock.realtime_ms, &job), 0);
        sl_log_clean_run(job);
        int rc = sl_log_clean_end(job, NULL);
        disk->ops = saved;
        if (crash_at == 0) {
            assert_int_equal(rc, 0);
            total = crashing.steps;
            (void)total;
            env_destroy(&e);
            continue;
        }
        if (crashing.image == NULL) { /* crash_at is past the last step: done */
            assert_int_equal(rc, 0);
            env_destroy(&e);
            break;
        }
        /* Restart on what survived the crash. */
        sim_disk_t *image = crashing.image;
        env_destroy(&e);
        env_t r;
        memset(&r, 0, sizeof r);
        sim_clock_init(&r.clock, NOW0);
        sl_log_config_default(&r.cfg);
        r.cfg.compact = true;
        r.cfg.segment_bytes = SL_BATCH_HEADER_BYTES;
        r.cfg.min_cleanable_dirty_ratio = 0;
        env_open_on(&r, image);
        dump(&r, after);
        check_latest(after, original);
        /* No leftovers: the next cleaning works and nothing stays half-swapped. */
        assert_null(sim_disk_file(image, "/data/t-0/00000000000000000000.log.swap", &(size_t){0}));
        assert_null(
            sim_disk_file(image, "/data/t-0/00000000000000000000.log.cleaned", &(size_t){0}));
        while (clean_once(&r, 1 << 20, NULL)) {
        }
        dump(&r, after);
        check_latest(after, original);
        env_destroy(&r);
    }
    free(original);
    free(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latest_per_key),
        cmocka_unit_test(test_tombstone_lifetime),
        cmocka_unit_test(test_offset_map_bounded),
        cmocka_unit_test(test_idempotent_producer_batch_kept),
        cmocka_unit_test(test_compressed_batches_keep_codec),
        cmocka_unit_test(test_corrupt_batch_makes_log_uncleanable),
        cmocka_unit_test(test_crash_at_each_swap_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
