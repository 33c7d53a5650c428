/* image: the metadata image and sl_metadata_apply, Kafka's replay of each metadata record
 * (ClusterControlManager, ReplicationControlManager, ConfigurationControlManager,
 * ProducerIdControlManager and FeatureControlManager on the controller; MetadataDelta on brokers).
 * Every apply validates the whole record against the image first and builds what it adds before
 * it changes anything, so a refused record leaves the image as it was. */
#include <stdlib.h>
#include <string.h>

#include "metadata_int.h"

void sl_metadata_image_init(sl_metadata_image_t *img)
{
    memset(img, 0, sizeof *img);
    img->producer_ids_broker_id = -1;
    img->producer_ids_broker_epoch = -1;
}

/* ---- small owned values ---------------------------------------------------------------------- */

char *sl__md_strdup(sl_slice_t s)
{
    if (s.ptr == NULL)
        return NULL;
    char *out = sl_malloc(s.len + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    return out;
}

int sl__md_ids_dup(const int32_t *ids, int32_t count, sl_metadata_replicas_t *out)
{
    out->ids = NULL;
    out->count = 0;
    if (count <= 0)
        return 0;
    out->ids = sl_malloc(sizeof(int32_t) * (size_t)count);
    if (out->ids == NULL)
        return -ENOMEM;
    memcpy(out->ids, ids, sizeof(int32_t) * (size_t)count);
    out->count = count;
    return 0;
}

static void ids_free(sl_metadata_replicas_t *r)
{
    sl_free(r->ids);
    r->ids = NULL;
    r->count = 0;
}

bool sl_metadata_replicas_contains(const sl_metadata_replicas_t *r, int32_t id)
{
    for (int32_t i = 0; i < r->count; i++)
        if (r->ids[i] == id)
            return true;
    return false;
}

/* Broker ids as records carry them: non-negative, distinct, a bounded count. */
bool sl__md_ids_valid(const int32_t *ids, int32_t count)
{
    if (count < 0 || count > SL_METADATA_REPLICAS_MAX)
        return false;
    for (int32_t i = 0; i < count; i++) {
        if (ids[i] < 0)
            return false;
        for (int32_t j = 0; j < i; j++)
            if (ids[j] == ids[i])
                return false;
    }
    return true;
}

/* Every id of sub is in set. */
static bool ids_subset(const int32_t *sub, int32_t sub_count, const int32_t *set, int32_t count)
{
    for (int32_t i = 0; i < sub_count; i++) {
        int32_t j = 0;
        while (j < count && set[j] != sub[i])
            j++;
        if (j == count)
            return false;
    }
    return true;
}

static void endpoints_free(sl_metadata_endpoint_t *e, int32_t count)
{
    for (int32_t i = 0; i < count; i++) {
        sl_free(e[i].name);
        sl_free(e[i].host);
    }
    sl_free(e);
}

static void features_free(sl_metadata_feature_range_t *f, int32_t count)
{
    for (int32_t i = 0; i < count; i++)
        sl_free(f[i].name);
    sl_free(f);
}

static void broker_free(sl_metadata_broker_t *b)
{
    endpoints_free(b->endpoints, b->endpoint_count);
    features_free(b->features, b->feature_count);
    sl_free(b->rack);
    sl_free(b->log_dirs);
    memset(b, 0, sizeof *b);
}

static void controller_free(sl_metadata_controller_t *c)
{
    endpoints_free(c->endpoints, c->endpoint_count);
    features_free(c->features, c->feature_count);
    memset(c, 0, sizeof *c);
}

static void partition_free(sl_metadata_partition_t *p)
{
    ids_free(&p->replicas);
    ids_free(&p->isr);
    ids_free(&p->removing_replicas);
    ids_free(&p->adding_replicas);
    ids_free(&p->elr);
    ids_free(&p->last_known_elr);
    sl_free(p->directories);
    memset(p, 0, sizeof *p);
}

static void topic_free(sl_metadata_topic_t *t)
{
    for (int32_t i = 0; i < t->partition_count; i++)
        partition_free(&t->partitions[i]);
    sl_free(t->partitions);
    sl_free(t->name);
    sl_free(t);
}

static void config_free(sl_metadata_config_t *c)
{
    sl_free(c->resource_name);
    sl_free(c->name);
    sl_free(c->value);
}

void sl_metadata_image_deinit(sl_metadata_image_t *img)
{
    for (int32_t i = 0; i < img->broker_count; i++)
        broker_free(&img->brokers[i]);
    sl_free(img->brokers);
    for (int32_t i = 0; i < img->controller_count; i++)
        controller_free(&img->controllers[i]);
    sl_free(img->controllers);
    for (int32_t i = 0; i < img->topic_count; i++)
        topic_free(img->topics[i]);
    sl_free(img->topics);
    for (int32_t i = 0; i < img->config_count; i++)
        config_free(&img->configs[i]);
    sl_free(img->configs);
    for (int32_t i = 0; i < img->feature_count; i++)
        sl_free(img->features[i].name);
    sl_free(img->features);
    sl_metadata_image_init(img);
}

/* Grows *items (of elem bytes each) to hold one more; 0 or -ENOMEM. */
int sl__md_grow(void **items, int32_t count, int32_t *cap, size_t elem)
{
    if (count < *cap)
        return 0;
    int32_t new_cap = *cap > 0 ? *cap * 2 : 8;
    void *p = sl_realloc(*items, elem * (size_t)new_cap);
    if (p == NULL)
        return -ENOMEM;
    *items = p;
    *cap = new_cap;
    return 0;
}

/* ---- lookups ------------------------------------------------------------------------------------
 */

sl_metadata_broker_t *sl_metadata_broker_find(const sl_metadata_image_t *img, int32_t id)
{
    for (int32_t i = 0; i < img->broker_count; i++)
        if (img->brokers[i].id == id)
            return &img->brokers[i];
    return NULL;
}

bool sl_metadata_broker_active(const sl_metadata_image_t *img, int32_t id)
{
    const sl_metadata_broker_t *b = sl_metadata_broker_find(img, id);
    return b != NULL && !b->fenced && !b->in_controlled_shutdown;
}

sl_metadata_topic_t *sl_metadata_topic_find(const sl_metadata_image_t *img, sl_slice_t name)
{
    for (int32_t i = 0; i < img->topic_count; i++) {
        const char *n = img->topics[i]->name;
        if (strlen(n) == name.len && memcmp(n, name.ptr, name.len) == 0)
            return img->topics[i];
    }
    return NULL;
}

sl_metadata_topic_t *sl_metadata_topic_find_id(const sl_metadata_image_t *img, const sl_uuid_t *id)
{
    for (int32_t i = 0; i < img->topic_count; i++)
        if (memcmp(img->topics[i]->id.bytes, id->bytes, 16) == 0)
            return img->topics[i];
    return NULL;
}

sl_metadata_partition_t *sl_metadata_partition_find(const sl_metadata_topic_t *topic,
                                                    int32_t partition_id)
{
    if (partition_id < 0 || partition_id >= topic->partition_count ||
        !topic->partitions[partition_id].exists)
        return NULL;
    return &topic->partitions[partition_id];
}

static int32_t config_index(const sl_metadata_image_t *img, int8_t type, sl_slice_t resource,
                            sl_slice_t name)
{
    for (int32_t i = 0; i < img->config_count; i++) {
        const sl_metadata_config_t *c = &img->configs[i];
        if (c->resource_type == type && sl_slice_eq_str(resource, c->resource_name) &&
            sl_slice_eq_str(name, c->name))
            return i;
    }
    return -1;
}

const char *sl_metadata_config_find(const sl_metadata_image_t *img, int8_t resource_type,
                                    const char *resource_name, const char *name)
{
    int32_t i =
        config_index(img, resource_type, sl_slice_from_str(resource_name), sl_slice_from_str(name));
    return i < 0 ? NULL : img->configs[i].value;
}

int16_t sl_metadata_feature_level(const sl_metadata_image_t *img, const char *name)
{
    for (int32_t i = 0; i < img->feature_count; i++)
        if (strcmp(img->features[i].name, name) == 0)
            return img->features[i].level;
    return 0;
}

bool sl_metadata_topic_name_valid(sl_slice_t name)
{
    if (name.ptr == NULL || name.len == 0 || name.len > SL_TOPIC_NAME_BYTES_MAX)
        return false;
    if ((name.len == 1 && name.ptr[0] == '.') ||
        (name.len == 2 && name.ptr[0] == '.' && name.ptr[1] == '.'))
        return false;
    for (size_t i = 0; i < name.len; i++) {
        uint8_t c = name.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* ---- brokers and controllers -------------------------------------------------------------------
 */

static int endpoints_copy(const sl_broker_endpoint_t *in, int32_t count,
                          sl_metadata_endpoint_t **out, int32_t *out_count)
{
    *out = NULL;
    *out_count = 0;
    if (count <= 0)
        return 0;
    sl_metadata_endpoint_t *e = sl_calloc((size_t)count, sizeof *e);
    if (e == NULL)
        return -ENOMEM;
    for (int32_t i = 0; i < count; i++) {
        if (in[i].name.ptr == NULL || in[i].host.ptr == NULL) {
            endpoints_free(e, count);
            return SL_EMALFORMED;
        }
        e[i].name = sl__md_strdup(in[i].name);
        e[i].host = sl__md_strdup(in[i].host);
        e[i].port = in[i].port;
        e[i].security_protocol = in[i].security_protocol;
        if (e[i].name == NULL || e[i].host == NULL) {
            endpoints_free(e, count);
            return -ENOMEM;
        }
    }
    *out = e;
    *out_count = count;
    return 0;
}

static int features_copy(const sl_broker_feature_t *in, int32_t count,
                         sl_metadata_feature_range_t **out, int32_t *out_count)
{
    *out = NULL;
    *out_count = 0;
    if (count <= 0)
        return 0;
    sl_metadata_feature_range_t *f = sl_calloc((size_t)count, sizeof *f);
    if (f == NULL)
        return -ENOMEM;
    for (int32_t i = 0; i < count; i++) {
        if (in[i].name.ptr == NULL || in[i].min_supported_version > in[i].max_supported_version) {
            features_free(f, count);
            return SL_EMALFORMED;
        }
        f[i].name = sl__md_strdup(in[i].name);
        f[i].min_supported_version = in[i].min_supported_version;
        f[i].max_supported_version = in[i].max_supported_version;
        if (f[i].name == NULL) {
            features_free(f, count);
            return -ENOMEM;
        }
    }
    *out = f;
    *out_count = count;
    return 0;
}

static int uuids_copy(const sl_uuid_t *in, int32_t count, sl_uuid_t **out, int32_t *out_count)
{
    *out = NULL;
    *out_count = 0;
    if (count <= 0)
        return 0;
    *out = sl_malloc(sizeof(sl_uuid_t) * (size_t)count);
    if (*out == NULL)
        return -ENOMEM;
    memcpy(*out, in, sizeof(sl_uuid_t) * (size_t)count);
    *out_count = count;
    return 0;
}

/* Replaces (or adds) a broker's registration: Kafka's replay of RegisterBrokerRecord. */
static int apply_register_broker(sl_metadata_image_t *img, const sl_register_broker_record_t *r)
{
    if (r->broker_id < 0 || r->broker_epoch < 0)
        return SL_EMALFORMED;
    sl_metadata_broker_t b = {
        .id = r->broker_id,
        .incarnation_id = r->incarnation_id,
        .epoch = r->broker_epoch,
        .fenced = r->fenced,
        .in_controlled_shutdown = r->in_controlled_shutdown,
        .is_migrating_zk_broker = r->is_migrating_zk_broker,
    };
    int rc = endpoints_copy(r->end_points, r->end_points_count, &b.endpoints, &b.endpoint_count);
    if (rc == 0)
        rc = features_copy(r->features, r->features_count, &b.features, &b.feature_count);
    if (rc == 0)
        rc = uuids_copy(r->log_dirs, r->log_dirs_count, &b.log_dirs, &b.log_dir_count);
    if (rc == 0 && r->rack.ptr != NULL && (b.rack = sl__md_strdup(r->rack)) == NULL)
        rc = -ENOMEM;
    sl_metadata_broker_t *old = sl_metadata_broker_find(img, r->broker_id);
    if (rc == 0 && old == NULL)
        rc = sl__md_grow((void **)&img->brokers, img->broker_count, &img->broker_cap, sizeof b);
    if (rc != 0) {
        broker_free(&b);
        return rc;
    }
    if (old != NULL) {
        broker_free(old);
        *old = b;
        return 0;
    }
    int32_t at = img->broker_count;
    while (at > 0 && img->brokers[at - 1].id > b.id)
        at--;
    memmove(&img->brokers[at + 1], &img->brokers[at], sizeof b * (size_t)(img->broker_count - at));
    img->brokers[at] = b;
    img->broker_count++;
    return 0;
}

/* The broker a record names, refused when its epoch is not the registered one (Kafka throws). */
static sl_metadata_broker_t *broker_at_epoch(sl_metadata_image_t *img, int32_t id, int64_t epoch)
{
    sl_metadata_broker_t *b = sl_metadata_broker_find(img, id);
    return b != NULL && b->epoch == epoch ? b : NULL;
}

static int apply_unregister_broker(sl_metadata_image_t *img, const sl_unregister_broker_record_t *r)
{
    sl_metadata_broker_t *b = broker_at_epoch(img, r->broker_id, r->broker_epoch);
    if (b == NULL)
        return SL_EMALFORMED;
    int32_t at = (int32_t)(b - img->brokers);
    broker_free(b);
    memmove(&img->brokers[at], &img->brokers[at + 1],
            sizeof *b * (size_t)(img->broker_count - at - 1));
    img->broker_count--;
    return 0;
}

static int apply_fencing(sl_metadata_image_t *img, int32_t id, int64_t epoch, bool fenced)
{
    sl_metadata_broker_t *b = broker_at_epoch(img, id, epoch);
    if (b == NULL)
        return SL_EMALFORMED;
    b->fenced = fenced;
    return 0;
}

static int apply_registration_change(sl_metadata_image_t *img,
                                     const sl_broker_registration_change_record_t *r)
{
    sl_metadata_broker_t *b = broker_at_epoch(img, r->broker_id, r->broker_epoch);
    if (b == NULL || r->fenced < SL_METADATA_FENCING_UNFENCE ||
        r->fenced > SL_METADATA_FENCING_FENCE || r->in_controlled_shutdown < 0 ||
        r->in_controlled_shutdown > 1)
        return SL_EMALFORMED;
    /* An absent or empty list means "unchanged" (the field only exists from v2, and Kafka's
     * replay ignores an empty one). */
    if (r->log_dirs_count > 0) {
        sl_uuid_t *dirs = NULL;
        int32_t count = 0;
        int rc = uuids_copy(r->log_dirs, r->log_dirs_count, &dirs, &count);
        if (rc != 0)
            return rc;
        sl_free(b->log_dirs);
        b->log_dirs = dirs;
        b->log_dir_count = count;
    }
    if (r->fenced != SL_METADATA_FENCING_NONE)
        b->fenced = r->fenced == SL_METADATA_FENCING_FENCE;
    if (r->in_controlled_shutdown == 1)
        b->in_controlled_shutdown = true;
    return 0;
}

static int apply_register_controller(sl_metadata_image_t *img,
                                     const sl_register_controller_record_t *r)
{
    if (r->controller_id < 0)
        return SL_EMALFORMED;
    sl_metadata_controller_t c = {.id = r->controller_id,
                                  .incarnation_id = r->incarnation_id,
                                  .zk_migration_ready = r->zk_migration_ready};
    /* The controller endpoint and feature structs have the broker ones' layout. */
    _Static_assert(sizeof(sl_controller_endpoint_t) == sizeof(sl_broker_endpoint_t), "layout");
    _Static_assert(sizeof(sl_controller_feature_t) == sizeof(sl_broker_feature_t), "layout");
    int rc = endpoints_copy((const sl_broker_endpoint_t *)(const void *)r->end_points,
                            r->end_points_count, &c.endpoints, &c.endpoint_count);
    if (rc == 0)
        rc = features_copy((const sl_broker_feature_t *)(const void *)r->features,
                           r->features_count, &c.features, &c.feature_count);
    sl_metadata_controller_t *old = NULL;
    for (int32_t i = 0; i < img->controller_count; i++)
        if (img->controllers[i].id == c.id)
            old = &img->controllers[i];
    if (rc == 0 && old == NULL)
        rc = sl__md_grow((void **)&img->controllers, img->controller_count, &img->controller_cap,
                         sizeof c);
    if (rc != 0) {
        controller_free(&c);
        return rc;
    }
    if (old != NULL) {
        controller_free(old);
        *old = c;
    } else {
        img->controllers[img->controller_count++] = c;
    }
    return 0;
}

/* ---- topics and partitions ----------------------------------------------------------------------
 */

static int apply_topic(sl_metadata_image_t *img, const sl_topic_record_t *r)
{
    if (!sl_metadata_topic_name_valid(r->name) || sl_uuid_is_zero(&r->topic_id) ||
        sl_metadata_topic_find(img, r->name) != NULL ||
        sl_metadata_topic_find_id(img, &r->topic_id) != NULL)
        return SL_EMALFORMED;
    int rc = sl__md_grow((void **)&img->topics, img->topic_count, &img->topic_cap,
                         sizeof(sl_metadata_topic_t *));
    if (rc != 0)
        return rc;
    sl_metadata_topic_t *t = sl_calloc(1, sizeof *t);
    if (t == NULL || (t->name = sl__md_strdup(r->name)) == NULL) {
        sl_free(t);
        return -ENOMEM;
    }
    t->id = r->topic_id;
    img->topics[img->topic_count++] = t;
    return 0;
}

static void remove_configs_of(sl_metadata_image_t *img, int8_t type, const char *resource)
{
    int32_t kept = 0;
    for (int32_t i = 0; i < img->config_count; i++) {
        sl_metadata_config_t *c = &img->configs[i];
        if (c->resource_type == type && strcmp(c->resource_name, resource) == 0)
            config_free(c);
        else
            img->configs[kept++] = *c;
    }
    img->config_count = kept;
}

static int apply_remove_topic(sl_metadata_image_t *img, const sl_remove_topic_record_t *r)
{
    sl_metadata_topic_t *t = sl_metadata_topic_find_id(img, &r->topic_id);
    if (t == NULL)
        return SL_EMALFORMED;
    /* Kafka's MetadataDelta drops the topic's configs with it. */
    remove_configs_of(img, SL_METADATA_CONFIG_TOPIC, t->name);
    int32_t at = 0;
    while (img->topics[at] != t)
        at++;
    topic_free(t);
    memmove(&img->topics[at], &img->topics[at + 1],
            sizeof(sl_metadata_topic_t *) * (size_t)(img->topic_count - at - 1));
    img->topic_count--;
    return 0;
}

/* The checks every partition state must pass, whether it came whole or merged from a change. */
static bool partition_valid(const sl_metadata_partition_t *p)
{
    const sl_metadata_replicas_t *r = &p->replicas;
    if (r->count == 0 || !sl__md_ids_valid(r->ids, r->count) ||
        !sl__md_ids_valid(p->isr.ids, p->isr.count) ||
        !ids_subset(p->isr.ids, p->isr.count, r->ids, r->count) ||
        !sl__md_ids_valid(p->removing_replicas.ids, p->removing_replicas.count) ||
        !ids_subset(p->removing_replicas.ids, p->removing_replicas.count, r->ids, r->count) ||
        !sl__md_ids_valid(p->adding_replicas.ids, p->adding_replicas.count) ||
        !ids_subset(p->adding_replicas.ids, p->adding_replicas.count, r->ids, r->count) ||
        !sl__md_ids_valid(p->elr.ids, p->elr.count) ||
        !sl__md_ids_valid(p->last_known_elr.ids, p->last_known_elr.count))
        return false;
    for (int32_t i = 0; i < p->adding_replicas.count; i++)
        if (sl_metadata_replicas_contains(&p->removing_replicas, p->adding_replicas.ids[i]))
            return false;
    if (p->leader != SL_METADATA_NO_LEADER && !sl_metadata_replicas_contains(r, p->leader))
        return false;
    if (p->leader_epoch < 0 || p->partition_epoch < 0)
        return false;
    return p->leader_recovery_state == SL_METADATA_LEADER_RECOVERED ||
           p->leader_recovery_state == SL_METADATA_LEADER_RECOVERING;
}

/* Kafka's DirectoryId values: UNASSIGNED is the zero uuid, MIGRATING is (0, 2): what a replica
 * gets from a record version without directories. */
static void directory_migrating(sl_uuid_t *d)
{
    memset(d->bytes, 0, 16);
    d->bytes[15] = 2;
}

static int partition_from_record(const sl_partition_record_t *r, sl_metadata_partition_t *p)
{
    memset(p, 0, sizeof *p);
    p->exists = true;
    p->leader = r->leader;
    p->leader_epoch = r->leader_epoch;
    p->partition_epoch = r->partition_epoch;
    p->leader_recovery_state = r->leader_recovery_state;
    int rc = sl__md_ids_dup(r->replicas, r->replicas_count, &p->replicas);
    if (rc == 0)
        rc = sl__md_ids_dup(r->isr, r->isr_count, &p->isr);
    if (rc == 0)
        rc =
            sl__md_ids_dup(r->removing_replicas, r->removing_replicas_count, &p->removing_replicas);
    if (rc == 0)
        rc = sl__md_ids_dup(r->adding_replicas, r->adding_replicas_count, &p->adding_replicas);
    if (rc == 0)
        rc =
            sl__md_ids_dup(r->eligible_leader_replicas, r->eligible_leader_replicas_count, &p->elr);
    if (rc == 0)
        rc = sl__md_ids_dup(r->last_known_elr, r->last_known_elr_count, &p->last_known_elr);
    if (rc == 0 && p->replicas.count > 0) {
        p->directories = sl_calloc((size_t)p->replicas.count, sizeof(sl_uuid_t));
        if (p->directories == NULL)
            rc = -ENOMEM;
        else if (r->directories_count <= 0)
            for (int32_t i = 0; i < p->replicas.count; i++)
                directory_migrating(&p->directories[i]);
        else if (r->directories_count == p->replicas.count)
            memcpy(p->directories, r->directories,
                   sizeof(sl_uuid_t) * (size_t)r->directories_count);
        else
            rc = SL_EMALFORMED;
    }
    if (rc == 0 && !partition_valid(p))
        rc = SL_EMALFORMED;
    if (rc != 0)
        partition_free(p);
    return rc;
}

/* Makes room for partition_id in t (holes become !exists). */
static int partitions_reach(sl_metadata_topic_t *t, int32_t partition_id)
{
    if (partition_id < t->partition_count)
        return 0;
    sl_metadata_partition_t *p = sl_realloc(t->partitions, sizeof *p * (size_t)(partition_id + 1));
    if (p == NULL)
        return -ENOMEM;
    memset(&p[t->partition_count], 0, sizeof *p * (size_t)(partition_id + 1 - t->partition_count));
    t->partitions = p;
    t->partition_count = partition_id + 1;
    return 0;
}

/* A PartitionRecord creates the partition or, as in Kafka's replay, replaces it whole. */
static int apply_partition(sl_metadata_image_t *img, const sl_partition_record_t *r)
{
    sl_metadata_topic_t *t = sl_metadata_topic_find_id(img, &r->topic_id);
    if (t == NULL || r->partition_id < 0 || r->partition_id > SL_METADATA_PARTITION_ID_MAX)
        return SL_EMALFORMED;
    sl_metadata_partition_t p;
    int rc = partition_from_record(r, &p);
    if (rc == 0 && (rc = partitions_reach(t, r->partition_id)) != 0)
        partition_free(&p);
    if (rc != 0)
        return rc;
    partition_free(&t->partitions[r->partition_id]);
    t->partitions[r->partition_id] = p;
    return 0;
}

/* Directories after a replica change without new directories (Kafka's
 * DirectoryId.createDirectoriesFrom): a replica that stays keeps its directory, a new one is
 * UNASSIGNED. */
static sl_uuid_t *directories_follow(const sl_metadata_partition_t *old, const int32_t *replicas,
                                     int32_t count)
{
    sl_uuid_t *d = sl_calloc((size_t)count, sizeof *d);
    if (d == NULL)
        return NULL;
    for (int32_t i = 0; i < count; i++)
        for (int32_t j = 0; j < old->replicas.count; j++)
            if (old->replicas.ids[j] == replicas[i])
                d[i] = old->directories[j];
    return d;
}

/* A list field of a PartitionChangeRecord: null (count -1) keeps the old one. */
static int change_ids(const int32_t *ids, int32_t count, const sl_metadata_replicas_t *old,
                      sl_metadata_replicas_t *out)
{
    return count < 0 ? sl__md_ids_dup(old->ids, old->count, out) : sl__md_ids_dup(ids, count, out);
}

/* Kafka's PartitionRegistration.merge: -2 leader keeps leader and epoch; any other value sets
 * the leader and bumps the leader epoch; the partition epoch always goes up by one. */
static int apply_partition_change(sl_metadata_image_t *img, const sl_partition_change_record_t *r)
{
    sl_metadata_topic_t *t = sl_metadata_topic_find_id(img, &r->topic_id);
    sl_metadata_partition_t *old =
        t != NULL ? sl_metadata_partition_find(t, r->partition_id) : NULL;
    if (old == NULL || r->leader < SL_METADATA_NO_LEADER_CHANGE || r->leader_recovery_state < -1 ||
        r->leader_recovery_state > SL_METADATA_LEADER_RECOVERING ||
        old->leader_epoch == INT32_MAX || old->partition_epoch == INT32_MAX)
        return SL_EMALFORMED;
    sl_metadata_partition_t p = {.exists = true};
    int rc = change_ids(r->replicas, r->replicas_count, &old->replicas, &p.replicas);
    if (rc == 0)
        rc = change_ids(r->isr, r->isr_count, &old->isr, &p.isr);
    if (rc == 0)
        rc = change_ids(r->removing_replicas, r->removing_replicas_count, &old->removing_replicas,
                        &p.removing_replicas);
    if (rc == 0)
        rc = change_ids(r->adding_replicas, r->adding_replicas_count, &old->adding_replicas,
                        &p.adding_replicas);
    if (rc == 0)
        rc = change_ids(r->eligible_leader_replicas, r->eligible_leader_replicas_count, &old->elr,
                        &p.elr);
    if (rc == 0)
        rc = change_ids(r->last_known_elr, r->last_known_elr_count, &old->last_known_elr,
                        &p.last_known_elr);
    if (rc == 0 && p.replicas.count > 0) {
        if (r->directories_count > 0) {
            if (r->directories_count != p.replicas.count)
                rc = SL_EMALFORMED;
            else if ((p.directories = sl_malloc(sizeof(sl_uuid_t) * (size_t)p.replicas.count)) ==
                     NULL)
                rc = -ENOMEM;
            else
                memcpy(p.directories, r->directories,
                       sizeof(sl_uuid_t) * (size_t)r->directories_count);
        } else if ((p.directories = directories_follow(old, p.replicas.ids, p.replicas.count)) ==
                   NULL) {
            rc = -ENOMEM;
        }
    }
    if (r->leader == SL_METADATA_NO_LEADER_CHANGE) {
        p.leader = old->leader;
        p.leader_epoch = old->leader_epoch;
    } else {
        p.leader = r->leader;
        p.leader_epoch = old->leader_epoch + 1;
    }
    p.partition_epoch = old->partition_epoch + 1;
    p.leader_recovery_state =
        r->leader_recovery_state == -1 ? old->leader_recovery_state : r->leader_recovery_state;
    if (rc == 0 && !partition_valid(&p))
        rc = SL_EMALFORMED;
    if (rc != 0) {
        partition_free(&p);
        return rc;
    }
    partition_free(old);
    *old = p;
    return 0;
}

/* ---- configs, producer ids, features -----------------------------------------------------------
 */

/* A null value deletes the config (Kafka's ConfigurationControlManager replay). */
static int apply_config(sl_metadata_image_t *img, const sl_config_record_t *r)
{
    if (r->resource_name.ptr == NULL || r->name.ptr == NULL || r->name.len == 0 ||
        memchr(r->resource_name.ptr, 0, r->resource_name.len) != NULL ||
        memchr(r->name.ptr, 0, r->name.len) != NULL ||
        (r->value.ptr != NULL && memchr(r->value.ptr, 0, r->value.len) != NULL))
        return SL_EMALFORMED;
    int32_t at = config_index(img, r->resource_type, r->resource_name, r->name);
    if (r->value.ptr == NULL) {
        if (at >= 0) {
            config_free(&img->configs[at]);
            memmove(&img->configs[at], &img->configs[at + 1],
                    sizeof img->configs[0] * (size_t)(img->config_count - at - 1));
            img->config_count--;
        }
        return 0;
    }
    char *value = sl__md_strdup(r->value);
    if (value == NULL)
        return -ENOMEM;
    if (at >= 0) {
        sl_free(img->configs[at].value);
        img->configs[at].value = value;
        return 0;
    }
    sl_metadata_config_t c = {.resource_type = r->resource_type,
                              .resource_name = sl__md_strdup(r->resource_name),
                              .name = sl__md_strdup(r->name),
                              .value = value};
    int rc = c.resource_name == NULL || c.name == NULL ? -ENOMEM : 0;
    if (rc == 0)
        rc = sl__md_grow((void **)&img->configs, img->config_count, &img->config_cap, sizeof c);
    if (rc != 0) {
        config_free(&c);
        return rc;
    }
    img->configs[img->config_count++] = c;
    return 0;
}

/* Blocks only move forward: Kafka's ProducerIdControlManager refuses a next id at or below the
 * current one, which would hand out ids twice. */
static int apply_producer_ids(sl_metadata_image_t *img, const sl_producer_ids_record_t *r)
{
    if (r->next_producer_id <= img->next_producer_id || r->broker_id < 0)
        return SL_EMALFORMED;
    img->next_producer_id = r->next_producer_id;
    img->producer_ids_broker_id = r->broker_id;
    img->producer_ids_broker_epoch = r->broker_epoch;
    return 0;
}

/* Level 0 removes the feature (Kafka: "0 means feature not supported"). */
static int apply_feature_level(sl_metadata_image_t *img, const sl_feature_level_record_t *r)
{
    if (r->name.ptr == NULL || r->name.len == 0 || r->feature_level < 0 ||
        memchr(r->name.ptr, 0, r->name.len) != NULL)
        return SL_EMALFORMED;
    for (int32_t i = 0; i < img->feature_count; i++) {
        if (!sl_slice_eq_str(r->name, img->features[i].name))
            continue;
        if (r->feature_level > 0) {
            img->features[i].level = r->feature_level;
            return 0;
        }
        sl_free(img->features[i].name);
        memmove(&img->features[i], &img->features[i + 1],
                sizeof img->features[0] * (size_t)(img->feature_count - i - 1));
        img->feature_count--;
        return 0;
    }
    if (r->feature_level == 0)
        return 0;
    int rc = sl__md_grow((void **)&img->features, img->feature_count, &img->feature_cap,
                         sizeof img->features[0]);
    if (rc != 0)
        return rc;
    char *name = sl__md_strdup(r->name);
    if (name == NULL)
        return -ENOMEM;
    img->features[img->feature_count++] = (sl_metadata_feature_t){name, r->feature_level};
    return 0;
}

int sl_metadata_apply(sl_metadata_image_t *img, const sl_metadata_record_t *rec)
{
    const sl_metadata_record_info_t *info = sl_metadata_record_info(rec->type);
    if (info == NULL || rec->version < info->version_min || rec->version > info->version_max)
        return SL_EMALFORMED;
    switch (rec->type) {
    case SL_METADATA_RECORD_REGISTER_BROKER:
        return apply_register_broker(img, &rec->u.register_broker);
    case SL_METADATA_RECORD_UNREGISTER_BROKER:
        return apply_unregister_broker(img, &rec->u.unregister_broker);
    case SL_METADATA_RECORD_FENCE_BROKER:
        return apply_fencing(img, rec->u.fence_broker.id, rec->u.fence_broker.epoch, true);
    case SL_METADATA_RECORD_UNFENCE_BROKER:
        return apply_fencing(img, rec->u.unfence_broker.id, rec->u.unfence_broker.epoch, false);
    case SL_METADATA_RECORD_BROKER_REGISTRATION_CHANGE:
        return apply_registration_change(img, &rec->u.broker_registration_change);
    case SL_METADATA_RECORD_REGISTER_CONTROLLER:
        return apply_register_controller(img, &rec->u.register_controller);
    case SL_METADATA_RECORD_TOPIC:
        return apply_topic(img, &rec->u.topic);
    case SL_METADATA_RECORD_PARTITION:
        return apply_partition(img, &rec->u.partition);
    case SL_METADATA_RECORD_PARTITION_CHANGE:
        return apply_partition_change(img, &rec->u.partition_change);
    case SL_METADATA_RECORD_REMOVE_TOPIC:
        return apply_remove_topic(img, &rec->u.remove_topic);
    case SL_METADATA_RECORD_CONFIG:
        return apply_config(img, &rec->u.config);
    case SL_METADATA_RECORD_PRODUCER_IDS:
        return apply_producer_ids(img, &rec->u.producer_ids);
    case SL_METADATA_RECORD_FEATURE_LEVEL:
        return apply_feature_level(img, &rec->u.feature_level);
    default:
        /* NoOp, and the kinds Sluice does not model yet (ACLs, quotas, SCRAM, delegation tokens,
         * ZK migration, transaction markers): valid records, nothing to keep. */
        return 0;
    }
}
