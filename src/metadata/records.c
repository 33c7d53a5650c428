/* records: lists of metadata records (what decisions and snapshots produce), their encoding as
 * one Kafka v2 record batch for __cluster_metadata and the reverse (apply a committed batch),
 * the image written as a snapshot, and image equality. */
#include <string.h>

#include "metadata_int.h"
#include "sluice/record_batch.h"
#include "sluice/records.h"

void sl_metadata_records_init(sl_metadata_records_t *list, sl_arena_t *arena)
{
    *list = (sl_metadata_records_t){.arena = arena};
}

sl_metadata_record_t *sl_metadata_records_add(sl_metadata_records_t *list, int16_t type)
{
    const sl_metadata_record_info_t *info = sl_metadata_record_info(type);
    if (info == NULL)
        return NULL;
    if (list->count == list->cap) {
        size_t cap = list->cap > 0 ? list->cap * 2 : 16;
        sl_metadata_record_t *items = sl_arena_alloc(list->arena, sizeof *items * cap);
        if (items == NULL)
            return NULL;
        if (list->count > 0)
            memcpy(items, list->items, sizeof *items * list->count);
        list->items = items;
        list->cap = cap;
    }
    sl_metadata_record_t *rec = &list->items[list->count];
    if (sl_metadata_record_init(rec, type, info->version_max) != 0)
        return NULL;
    list->count++;
    return rec;
}

/* ---- one v2 record batch ------------------------------------------------------------------------
 * Kafka's layout: baseOffset(8) batchLength(4) partitionLeaderEpoch(4) magic(1) crc(4) |
 * attributes(2) lastOffsetDelta(4) baseTimestamp(8) maxTimestamp(8) producerId(8)
 * producerEpoch(2) baseSequence(4) recordCount(4) records; the CRC-32C covers from attributes. */
#define BATCH_HEADER_BYTES 61

static size_t record_body_size(int32_t offset_delta, sl_slice_t key, size_t value_len)
{
    size_t key_bytes =
        key.ptr == NULL ? sl_varint_size(-1) : sl_varint_size((int32_t)key.len) + key.len;
    return 1 /* attributes */ + sl_varlong_size(0) + sl_varint_size(offset_delta) + key_bytes +
           sl_varint_size((int32_t)value_len) + value_len + sl_varint_size(0) /* headers */;
}

int sl__md_batch_write(sl_buf_t *out, int64_t base_offset, int16_t attributes, int64_t timestamp_ms,
                       const sl_slice_t *keys, const sl_slice_t *values, int32_t count)
{
    if (count <= 0)
        return SL_ELIMIT;
    size_t total = BATCH_HEADER_BYTES;
    for (int32_t i = 0; i < count; i++) {
        sl_slice_t key = keys != NULL ? keys[i] : SL_SLICE_NULL;
        if (values[i].len > INT32_MAX / 4 || key.len > INT32_MAX / 4 || total > INT32_MAX / 4)
            return SL_ELIMIT;
        size_t body = record_body_size(i, key, values[i].len);
        total += sl_varint_size((int32_t)body) + body;
    }
    if (total > INT32_MAX / 2)
        return SL_ELIMIT;
    int rc = sl_buf_reserve(out, total);
    if (rc != 0)
        return rc;
    uint8_t *start = out->ptr + out->len;
    sl_writer_t w;
    sl_writer_init(&w, start, total);
    rc = sl_write_i64(&w, base_offset);
    rc |= sl_write_i32(&w, (int32_t)(total - SL_RECORD_BATCH_LOG_OVERHEAD));
    rc |= sl_write_i32(&w, 0); /* partition leader epoch: stamped when appended */
    rc |= sl_write_i8(&w, 2);
    rc |= sl_write_u32(&w, 0); /* crc, below */
    rc |= sl_write_i16(&w, attributes);
    rc |= sl_write_i32(&w, count - 1);
    rc |= sl_write_i64(&w, timestamp_ms);
    rc |= sl_write_i64(&w, timestamp_ms);
    rc |= sl_write_i64(&w, -1); /* no producer id */
    rc |= sl_write_i16(&w, -1);
    rc |= sl_write_i32(&w, -1);
    rc |= sl_write_i32(&w, count);
    for (int32_t i = 0; i < count && rc == 0; i++) {
        sl_slice_t key = keys != NULL ? keys[i] : SL_SLICE_NULL;
        rc |= sl_write_varint(&w, (int32_t)record_body_size(i, key, values[i].len));
        rc |= sl_write_i8(&w, 0);
        rc |= sl_write_varlong(&w, 0);
        rc |= sl_write_varint(&w, i);
        if (key.ptr == NULL) {
            rc |= sl_write_varint(&w, -1);
        } else {
            rc |= sl_write_varint(&w, (int32_t)key.len);
            rc |= sl_write_bytes(&w, key.ptr, key.len);
        }
        rc |= sl_write_varint(&w, (int32_t)values[i].len);
        rc |= sl_write_bytes(&w, values[i].ptr, values[i].len);
        rc |= sl_write_varint(&w, 0);
    }
    if (rc != 0 || sl_writer_left(&w) != 0)
        return SL_ELIMIT; /* the writes fail only with SL_ELIMIT, and the sizes were checked */
    uint32_t crc = sl_record_batch_crc(start, total);
    sl_writer_init(&w, start + SL_RECORD_BATCH_CRC_OFFSET, 4);
    (void)sl_write_u32(&w, crc); /* 4 bytes inside what was just written: cannot fail */
    out->len += total;
    return 0;
}

int sl__md_encode_values(const sl_metadata_records_t *list, size_t from, size_t to,
                         sl_slice_t **values)
{
    *values = sl_arena_alloc(list->arena, sizeof **values * (to - from) + 1);
    if (*values == NULL)
        return SL_ELIMIT;
    for (size_t i = from; i < to; i++) {
        size_t n = sl_metadata_record_size(&list->items[i]);
        if (n == 0)
            return SL_EUNSUPPORTED;
        uint8_t *buf = sl_arena_alloc(list->arena, n);
        if (buf == NULL)
            return SL_ELIMIT;
        sl_writer_t w;
        sl_writer_init(&w, buf, n);
        int rc = sl_metadata_record_encode(&w, &list->items[i]);
        if (rc != 0)
            return rc;
        (*values)[i - from] = (sl_slice_t){buf, n};
    }
    return 0;
}

int sl_metadata_records_encode_batch(const sl_metadata_records_t *list, size_t from,
                                     int64_t timestamp_ms, sl_buf_t *out)
{
    if (from >= list->count || list->count - from > INT32_MAX)
        return SL_ELIMIT;
    sl_slice_t *values = NULL;
    int rc = sl__md_encode_values(list, from, list->count, &values);
    if (rc != 0)
        return rc;
    return sl__md_batch_write(out, 0, 0, timestamp_ms, NULL, values, (int32_t)(list->count - from));
}

typedef struct {
    sl_metadata_image_t *img;
    sl_arena_t *arena;
    int32_t applied;
} apply_state_t;

static int apply_one(const sl_record_t *r, void *data)
{
    apply_state_t *s = data;
    if (r->value.ptr == NULL)
        return SL_EMALFORMED;
    sl_reader_t rd;
    sl_reader_init(&rd, r->value.ptr, r->value.len);
    sl_metadata_record_t rec;
    int rc = sl_metadata_record_decode(&rd, s->arena, &rec);
    if (rc == 0)
        rc = sl_metadata_apply(s->img, &rec);
    if (rc == 0)
        s->applied++;
    return rc < 0 ? rc : 0;
}

int sl_metadata_apply_batch(sl_metadata_image_t *img, const uint8_t *batch, size_t len,
                            sl_arena_t *arena, int32_t *applied)
{
    apply_state_t s = {img, arena, 0};
    sl_record_batch_t b;
    int rc = sl_record_batch_parse(batch, len, &b);
    if (rc == 0 && sl_record_batch_crc(batch, sl_record_batch_size(&b)) != b.crc)
        rc = SL_EMALFORMED;
    if (rc == 0 && (b.attributes & SL_RECORD_BATCH_CONTROL) == 0) {
        sl_buf_t scratch;
        sl_records_scratch_init(&scratch);
        rc = sl_records_iterate(batch, len, &scratch, apply_one, &s);
        sl_buf_deinit(&scratch);
    }
    if (applied != NULL)
        *applied = s.applied;
    return rc == SL_EINCOMPLETE ? SL_EMALFORMED : rc;
}

/* ---- snapshot ----------------------------------------------------------------------------------
 * Records borrow the image's strings and arrays (the structs want non-const pointers: the codec
 * only reads them when encoding). */
static sl_slice_t str_slice(const char *s)
{
    return s == NULL ? SL_SLICE_NULL : sl_slice_from_str(s);
}

static void *arena_array(sl_arena_t *arena, size_t count, size_t elem)
{
    return count == 0 ? NULL : sl_arena_alloc(arena, count * elem);
}

static int snapshot_endpoints(sl_arena_t *arena, const sl_metadata_endpoint_t *e, int32_t count,
                              sl_broker_endpoint_t **out)
{
    *out = arena_array(arena, (size_t)count, sizeof **out);
    if (count > 0 && *out == NULL)
        return SL_ELIMIT;
    for (int32_t i = 0; i < count; i++)
        (*out)[i] = (sl_broker_endpoint_t){str_slice(e[i].name), str_slice(e[i].host), e[i].port,
                                           e[i].security_protocol};
    return 0;
}

static int snapshot_features(sl_arena_t *arena, const sl_metadata_feature_range_t *f, int32_t count,
                             sl_broker_feature_t **out)
{
    *out = arena_array(arena, (size_t)count, sizeof **out);
    if (count > 0 && *out == NULL)
        return SL_ELIMIT;
    for (int32_t i = 0; i < count; i++)
        (*out)[i] = (sl_broker_feature_t){str_slice(f[i].name), f[i].min_supported_version,
                                          f[i].max_supported_version};
    return 0;
}

static int snapshot_broker(sl_metadata_records_t *out, const sl_metadata_broker_t *b)
{
    sl_metadata_record_t *rec = sl_metadata_records_add(out, SL_METADATA_RECORD_REGISTER_BROKER);
    if (rec == NULL)
        return SL_ELIMIT;
    sl_register_broker_record_t *r = &rec->u.register_broker;
    r->broker_id = b->id;
    r->incarnation_id = b->incarnation_id;
    r->broker_epoch = b->epoch;
    r->rack = str_slice(b->rack);
    r->fenced = b->fenced;
    r->in_controlled_shutdown = b->in_controlled_shutdown;
    r->is_migrating_zk_broker = b->is_migrating_zk_broker;
    r->log_dirs = b->log_dirs;
    r->log_dirs_count = b->log_dir_count;
    r->end_points_count = b->endpoint_count;
    r->features_count = b->feature_count;
    int rc = snapshot_endpoints(out->arena, b->endpoints, b->endpoint_count, &r->end_points);
    return rc != 0 ? rc
                   : snapshot_features(out->arena, b->features, b->feature_count, &r->features);
}

static int snapshot_controller(sl_metadata_records_t *out, const sl_metadata_controller_t *c)
{
    sl_metadata_record_t *rec =
        sl_metadata_records_add(out, SL_METADATA_RECORD_REGISTER_CONTROLLER);
    if (rec == NULL)
        return SL_ELIMIT;
    sl_register_controller_record_t *r = &rec->u.register_controller;
    r->controller_id = c->id;
    r->incarnation_id = c->incarnation_id;
    r->zk_migration_ready = c->zk_migration_ready;
    r->end_points_count = c->endpoint_count;
    r->features_count = c->feature_count;
    sl_broker_endpoint_t *e = NULL;
    sl_broker_feature_t *f = NULL;
    int rc = snapshot_endpoints(out->arena, c->endpoints, c->endpoint_count, &e);
    if (rc == 0)
        rc = snapshot_features(out->arena, c->features, c->feature_count, &f);
    r->end_points = (sl_controller_endpoint_t *)(void *)e;
    r->features = (sl_controller_feature_t *)(void *)f;
    return rc;
}

static int snapshot_partition(sl_metadata_records_t *out, const sl_metadata_topic_t *t, int32_t id,
                              const sl_metadata_partition_t *p)
{
    sl_metadata_record_t *rec = sl_metadata_records_add(out, SL_METADATA_RECORD_PARTITION);
    if (rec == NULL)
        return SL_ELIMIT;
    sl_partition_record_t *r = &rec->u.partition;
    r->partition_id = id;
    r->topic_id = t->id;
    r->replicas = p->replicas.ids;
    r->replicas_count = p->replicas.count;
    r->isr = p->isr.ids;
    r->isr_count = p->isr.count;
    r->removing_replicas = p->removing_replicas.ids;
    r->removing_replicas_count = p->removing_replicas.count;
    r->adding_replicas = p->adding_replicas.ids;
    r->adding_replicas_count = p->adding_replicas.count;
    r->leader = p->leader;
    r->leader_recovery_state = p->leader_recovery_state;
    r->leader_epoch = p->leader_epoch;
    r->partition_epoch = p->partition_epoch;
    r->directories = p->directories;
    r->directories_count = p->replicas.count;
    /* Tagged, null by default: written only when there is something (as Kafka does). */
    if (p->elr.count > 0) {
        r->eligible_leader_replicas = p->elr.ids;
        r->eligible_leader_replicas_count = p->elr.count;
    }
    if (p->last_known_elr.count > 0) {
        r->last_known_elr = p->last_known_elr.ids;
        r->last_known_elr_count = p->last_known_elr.count;
    }
    return 0;
}

int sl_metadata_image_snapshot(const sl_metadata_image_t *img, sl_metadata_records_t *out)
{
    int rc = 0;
    for (int32_t i = 0; i < img->feature_count && rc == 0; i++) {
        sl_metadata_record_t *rec = sl_metadata_records_add(out, SL_METADATA_RECORD_FEATURE_LEVEL);
        if (rec == NULL)
            return SL_ELIMIT;
        rec->u.feature_level.name = str_slice(img->features[i].name);
        rec->u.feature_level.feature_level = img->features[i].level;
    }
    for (int32_t i = 0; i < img->broker_count && rc == 0; i++)
        rc = snapshot_broker(out, &img->brokers[i]);
    for (int32_t i = 0; i < img->controller_count && rc == 0; i++)
        rc = snapshot_controller(out, &img->controllers[i]);
    for (int32_t i = 0; i < img->topic_count && rc == 0; i++) {
        const sl_metadata_topic_t *t = img->topics[i];
        sl_metadata_record_t *rec = sl_metadata_records_add(out, SL_METADATA_RECORD_TOPIC);
        if (rec == NULL)
            return SL_ELIMIT;
        rec->u.topic.name = str_slice(t->name);
        rec->u.topic.topic_id = t->id;
        for (int32_t p = 0; p < t->partition_count && rc == 0; p++)
            if (t->partitions[p].exists)
                rc = snapshot_partition(out, t, p, &t->partitions[p]);
    }
    for (int32_t i = 0; i < img->config_count && rc == 0; i++) {
        const sl_metadata_config_t *c = &img->configs[i];
        sl_metadata_record_t *rec = sl_metadata_records_add(out, SL_METADATA_RECORD_CONFIG);
        if (rec == NULL)
            return SL_ELIMIT;
        rec->u.config = (sl_config_record_t){c->resource_type, str_slice(c->resource_name),
                                             str_slice(c->name), str_slice(c->value)};
    }
    if (rc == 0 && img->producer_ids_broker_id >= 0) {
        sl_metadata_record_t *rec = sl_metadata_records_add(out, SL_METADATA_RECORD_PRODUCER_IDS);
        if (rec == NULL)
            return SL_ELIMIT;
        rec->u.producer_ids = (sl_producer_ids_record_t){
            img->producer_ids_broker_id, img->producer_ids_broker_epoch, img->next_producer_id};
    }
    return rc;
}

/* ---- equality -------------------------------------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool ids_eq(const sl_metadata_replicas_t *a, const sl_metadata_replicas_t *b)
{
    return a->count == b->count &&
           (a->count == 0 || memcmp(a->ids, b->ids, sizeof(int32_t) * (size_t)a->count) == 0);
}

static bool endpoints_eq(const sl_metadata_endpoint_t *a, const sl_metadata_endpoint_t *b,
                         int32_t count)
{
    for (int32_t i = 0; i < count; i++)
        if (!str_eq(a[i].name, b[i].name) || !str_eq(a[i].host, b[i].host) ||
            a[i].port != b[i].port || a[i].security_protocol != b[i].security_protocol)
            return false;
    return true;
}

static bool features_eq(const sl_metadata_feature_range_t *a, const sl_metadata_feature_range_t *b,
                        int32_t count)
{
    for (int32_t i = 0; i < count; i++)
        if (!str_eq(a[i].name, b[i].name) ||
            a[i].min_supported_version != b[i].min_supported_version ||
            a[i].max_supported_version != b[i].max_supported_version)
            return false;
    return true;
}

static bool broker_eq(const sl_metadata_broker_t *a, const sl_metadata_broker_t *b)
{
    return a->id == b->id && memcmp(&a->incarnation_id, &b->incarnation_id, 16) == 0 &&
           a->epoch == b->epoch && a->fenced == b->fenced &&
           a->in_controlled_shutdown == b->in_controlled_shutdown &&
           a->is_migrating_zk_broker == b->is_migrating_zk_broker && str_eq(a->rack, b->rack) &&
           a->endpoint_count == b->endpoint_count &&
           endpoints_eq(a->endpoints, b->endpoints, a->endpoint_count) &&
           a->feature_count == b->feature_count &&
           features_eq(a->features, b->features, a->feature_count) &&
           a->log_dir_count == b->log_dir_count &&
           (a->log_dir_count == 0 ||
            memcmp(a->log_dirs, b->log_dirs, sizeof(sl_uuid_t) * (size_t)a->log_dir_count) == 0);
}

static bool controller_eq(const sl_metadata_controller_t *a, const sl_metadata_controller_t *b)
{
    return a->id == b->id && memcmp(&a->incarnation_id, &b->incarnation_id, 16) == 0 &&
           a->zk_migration_ready == b->zk_migration_ready &&
           a->endpoint_count == b->endpoint_count &&
           endpoints_eq(a->endpoints, b->endpoints, a->endpoint_count) &&
           a->feature_count == b->feature_count &&
           features_eq(a->features, b->features, a->feature_count);
}

static bool partition_eq(const sl_metadata_partition_t *a, const sl_metadata_partition_t *b)
{
    if (a->exists != b->exists)
        return false;
    if (!a->exists)
        return true;
    return ids_eq(&a->replicas, &b->replicas) && ids_eq(&a->isr, &b->isr) &&
           ids_eq(&a->removing_replicas, &b->removing_replicas) &&
           ids_eq(&a->adding_replicas, &b->adding_replicas) && ids_eq(&a->elr, &b->elr) &&
           ids_eq(&a->last_known_elr, &b->last_known_elr) && a->leader == b->leader &&
           a->leader_epoch == b->leader_epoch && a->partition_epoch == b->partition_epoch &&
           a->leader_recovery_state == b->leader_recovery_state &&
           memcmp(a->directories, b->directories, sizeof(sl_uuid_t) * (size_t)a->replicas.count) ==
               0;
}

static bool topic_eq(const sl_metadata_topic_t *a, const sl_metadata_topic_t *b)
{
    if (!str_eq(a->name, b->name) || memcmp(&a->id, &b->id, 16) != 0)
        return false;
    /* Trailing holes do not count: a snapshot cannot carry them. */
    int32_t na = a->partition_count, nb = b->partition_count;
    while (na > 0 && !a->partitions[na - 1].exists)
        na--;
    while (nb > 0 && !b->partitions[nb - 1].exists)
        nb--;
    if (na != nb)
        return false;
    for (int32_t p = 0; p < na; p++)
        if (!partition_eq(&a->partitions[p], &b->partitions[p]))
            return false;
    return true;
}

bool sl_metadata_image_equal(const sl_metadata_image_t *a, const sl_metadata_image_t *b)
{
    if (a->broker_count != b->broker_count || a->controller_count != b->controller_count ||
        a->topic_count != b->topic_count || a->config_count != b->config_count ||
        a->feature_count != b->feature_count || a->next_producer_id != b->next_producer_id ||
        a->producer_ids_broker_id != b->producer_ids_broker_id ||
        a->producer_ids_broker_epoch != b->producer_ids_broker_epoch)
        return false;
    for (int32_t i = 0; i < a->broker_count; i++)
        if (!broker_eq(&a->brokers[i], &b->brokers[i]))
            return false;
    for (int32_t i = 0; i < a->controller_count; i++)
        if (!controller_eq(&a->controllers[i], &b->controllers[i]))
            return false;
    for (int32_t i = 0; i < a->topic_count; i++) {
        const sl_metadata_topic_t *other = sl_metadata_topic_find_id(b, &a->topics[i]->id);
        if (other == NULL || !topic_eq(a->topics[i], other))
            return false;
    }
    for (int32_t i = 0; i < a->config_count; i++) {
        const sl_metadata_config_t *c = &a->configs[i];
        if (!str_eq(sl_metadata_config_find(b, c->resource_type, c->resource_name, c->name),
                    c->value))
            return false;
    }
    for (int32_t i = 0; i < a->feature_count; i++)
        if (sl_metadata_feature_level(b, a->features[i].name) != a->features[i].level)
            return false;
    return true;
}
