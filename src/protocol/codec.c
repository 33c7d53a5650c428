/* codec: the one interpreter that initializes, decodes, sizes and encodes every Kafka message from
 * the constant descriptor tables in gen/. Invariants: a decoder never reads past r->end, checks
 * every length and count against the bytes left before using it, and never asserts on input;
 * message_size() returns exactly the number of bytes message_encode() writes. Recursion follows
 * the schema's struct nesting (a fixed, small depth), never anything the input controls. */
#include <string.h>

#include "sluice/protocol.h"

/* Where the per-call state lives: the version and whether it is a flexible version. */
typedef struct {
    sl_arena_t *arena;
    int16_t version;
    bool flexible;
} ctx_t;

static bool vr_has(sl_version_range_t r, int16_t v)
{
    return v >= r.min && v <= r.max;
}

static bool field_present(const sl_field_desc_t *f, const ctx_t *c)
{
    return vr_has(f->versions, c->version);
}

static bool field_tagged(const sl_field_desc_t *f, const ctx_t *c)
{
    return f->tag >= 0 && c->flexible && vr_has(f->tagged, c->version);
}

static bool field_compact(const sl_field_desc_t *f, const ctx_t *c)
{
    if (f->flags & SL_FIELD_F_FLEX_OVERRIDE)
        return vr_has(f->flexible, c->version);
    return c->flexible;
}

static bool field_nullable(const sl_field_desc_t *f, const ctx_t *c)
{
    return vr_has(f->nullable, c->version);
}

/* C bytes of one value (an array element) of the field's kind. */
static size_t kind_c_size(const sl_field_desc_t *f)
{
    switch ((sl_field_kind_t)f->kind) {
    case SL_FIELD_BOOL:
        return sizeof(bool);
    case SL_FIELD_INT8:
        return 1;
    case SL_FIELD_INT16:
    case SL_FIELD_UINT16:
        return 2;
    case SL_FIELD_INT32:
    case SL_FIELD_UINT32:
        return 4;
    case SL_FIELD_INT64:
    case SL_FIELD_FLOAT64:
        return 8;
    case SL_FIELD_UUID:
        return sizeof(sl_uuid_t);
    case SL_FIELD_STRING:
    case SL_FIELD_BYTES:
    case SL_FIELD_RECORDS:
        return sizeof(sl_slice_t);
    case SL_FIELD_STRUCT:
        return f->nested->struct_size;
    }
    SL_ASSERT(false && "unknown field kind");
    return 0;
}

/* The fewest wire bytes one array element can take: bounds a count before allocating for it
 * (Kafka itself only demands one byte per struct element, so do we). */
static size_t kind_wire_min(const sl_field_desc_t *f, bool compact)
{
    switch ((sl_field_kind_t)f->kind) {
    case SL_FIELD_STRING:
        return compact ? 1 : 2;
    case SL_FIELD_BYTES:
    case SL_FIELD_RECORDS:
        return compact ? 1 : 4;
    case SL_FIELD_STRUCT:
        return 1;
    case SL_FIELD_BOOL:
        return 1;
    default:
        return kind_c_size(f);
    }
}

/* ---- init
 * ---------------------------------------------------------------------------------------- */
static void init_value(const sl_field_desc_t *f, uint8_t *dst)
{
    switch ((sl_field_kind_t)f->kind) {
    case SL_FIELD_BOOL:
        *(bool *)dst = f->default_int != 0;
        break;
    case SL_FIELD_INT8:
        *(int8_t *)dst = (int8_t)f->default_int;
        break;
    case SL_FIELD_INT16:
        *(int16_t *)dst = (int16_t)f->default_int;
        break;
    case SL_FIELD_UINT16:
        *(uint16_t *)dst = (uint16_t)f->default_int;
        break;
    case SL_FIELD_INT32:
        *(int32_t *)dst = (int32_t)f->default_int;
        break;
    case SL_FIELD_UINT32:
        *(uint32_t *)dst = (uint32_t)f->default_int;
        break;
    case SL_FIELD_INT64:
        *(int64_t *)dst = f->default_int;
        break;
    case SL_FIELD_FLOAT64:
        *(double *)dst = f->default_float;
        break;
    case SL_FIELD_UUID:
        memset(dst, 0, sizeof(sl_uuid_t));
        break;
    case SL_FIELD_STRING:
    case SL_FIELD_BYTES:
    case SL_FIELD_RECORDS: {
        const char *s = f->default_str != NULL ? f->default_str : "";
        *(sl_slice_t *)dst = (f->flags & SL_FIELD_F_DEFAULT_NULL)
                                 ? SL_SLICE_NULL
                                 : (sl_slice_t){(const uint8_t *)s, strlen(s)};
        break;
    }
    case SL_FIELD_STRUCT:
        sl_message_init(f->nested, dst);
        break;
    }
}

void sl_message_init(const sl_message_desc_t *d, void *m)
{
    SL_ASSERT(d != NULL);
    SL_ASSERT(m != NULL);
    uint8_t *base = m;
    memset(base, 0, d->struct_size);
    for (uint16_t i = 0; i < d->field_count; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        if (f->flags & SL_FIELD_F_ARRAY) {
            *(int32_t *)(base + f->aux_offset) = (f->flags & SL_FIELD_F_DEFAULT_NULL) ? -1 : 0;
            continue;
        }
        init_value(f, base + f->offset);
        if (f->flags & SL_FIELD_F_PRESENT)
            *(bool *)(base + f->aux_offset) = !(f->flags & SL_FIELD_F_DEFAULT_NULL);
    }
}

/* ---- decode
 * -------------------------------------------------------------------------------------- */
static int decode_struct(const sl_message_desc_t *d, sl_reader_t *r, const ctx_t *c, uint8_t *base);

/* A length or count prefix: classic int16/int32 or compact uvarint (n + 1); -1 means null. */
static int read_length(sl_reader_t *r, bool compact, bool is_int16, int32_t *len)
{
    if (compact) {
        uint32_t n;
        if (sl_read_uvarint(r, &n) != 0 || n > (uint32_t)INT32_MAX)
            return SL_EMALFORMED;
        *len = (int32_t)n - 1;
        return 0;
    }
    if (is_int16) {
        int16_t n;
        if (sl_read_i16(r, &n) != 0)
            return SL_EMALFORMED;
        *len = n;
    } else if (sl_read_i32(r, len) != 0) {
        return SL_EMALFORMED;
    }
    return *len < -1 ? SL_EMALFORMED : 0;
}

static int decode_slice(const sl_field_desc_t *f, sl_reader_t *r, bool compact, bool nullable,
                        sl_slice_t *out)
{
    int32_t len;
    if (read_length(r, compact, f->kind == SL_FIELD_STRING, &len) != 0)
        return SL_EMALFORMED;
    if (len == -1) {
        if (!nullable)
            return SL_EMALFORMED; /* Kafka: non-nullable field serialized as null */
        *out = SL_SLICE_NULL;
        return 0;
    }
    return sl_read_bytes(r, (size_t)len, out);
}

static int decode_fixed(const sl_field_desc_t *f, sl_reader_t *r, uint8_t *dst)
{
    switch ((sl_field_kind_t)f->kind) {
    case SL_FIELD_BOOL: {
        uint8_t b = 0;
        int rc = sl_read_u8(r, &b);
        *(bool *)dst = rc == 0 && b != 0;
        return rc;
    }
    case SL_FIELD_INT8:
        return sl_read_i8(r, (int8_t *)dst);
    case SL_FIELD_INT16:
        return sl_read_i16(r, (int16_t *)dst);
    case SL_FIELD_UINT16:
        return sl_read_u16(r, (uint16_t *)dst);
    case SL_FIELD_INT32:
        return sl_read_i32(r, (int32_t *)dst);
    case SL_FIELD_UINT32:
        return sl_read_u32(r, (uint32_t *)dst);
    case SL_FIELD_INT64:
        return sl_read_i64(r, (int64_t *)dst);
    case SL_FIELD_FLOAT64:
        return sl_read_f64(r, (double *)dst);
    case SL_FIELD_UUID:
        return sl_read_uuid(r, (sl_uuid_t *)dst);
    default:
        SL_ASSERT(false && "not a fixed-width kind");
        return SL_EMALFORMED;
    }
}

/* One value (a field or an array element); nullable is false for array elements. */
static int decode_value(const sl_field_desc_t *f, sl_reader_t *r, const ctx_t *c, bool nullable,
                        uint8_t *dst, uint8_t *present)
{
    switch ((sl_field_kind_t)f->kind) {
    case SL_FIELD_STRING:
    case SL_FIELD_BYTES:
    case SL_FIELD_RECORDS:
        return decode_slice(f, r, field_compact(f, c), nullable, (sl_slice_t *)dst);
    case SL_FIELD_STRUCT:
        if (nullable && present != NULL) {
            int8_t marker;
            if (sl_read_i8(r, &marker) != 0)
                return SL_EMALFORMED;
            *(bool *)present = marker >= 0;
            if (marker < 0)
                return 0;
        }
        return decode_struct(f->nested, r, c, dst);
    default:
        return decode_fixed(f, r, dst);
    }
}

static int decode_array(const sl_field_desc_t *f, sl_reader_t *r, const ctx_t *c, uint8_t *base)
{
    bool compact = field_compact(f, c);
    int32_t count;
    if (read_length(r, compact, false, &count) != 0)
        return SL_EMALFORMED;
    void **ptr = (void **)(base + f->offset);
    int32_t *count_out = (int32_t *)(base + f->aux_offset);
    *ptr = NULL;
    *count_out = 0;
    if (count == -1) {
        if (!field_nullable(f, c))
            return SL_EMALFORMED;
        *count_out = -1;
        return 0;
    }
    /* style.md 11.2: a count of N needs at least N * (fewest bytes per element) bytes left. */
    if ((size_t)count > sl_reader_left(r) / kind_wire_min(f, compact))
        return SL_EMALFORMED;
    if (count == 0)
        return 0;
    size_t elem = kind_c_size(f);
    if (c->arena == NULL || (size_t)count > SIZE_MAX / elem)
        return SL_ELIMIT;
    uint8_t *mem = sl_arena_alloc(c->arena, (size_t)count * elem);
    if (mem == NULL)
        return SL_ELIMIT;
    for (int32_t i = 0; i < count; i++) {
        uint8_t *dst = mem + (size_t)i * elem;
        if (f->kind == SL_FIELD_STRUCT)
            sl_message_init(f->nested, dst);
        int rc = decode_value(f, r, c, false, dst, NULL);
        if (rc != 0)
            return rc;
    }
    *ptr = mem;
    *count_out = count;
    return 0;
}

static int decode_field(const sl_field_desc_t *f, sl_reader_t *r, const ctx_t *c, uint8_t *base)
{
    if (f->flags & SL_FIELD_F_ARRAY)
        return decode_array(f, r, c, base);
    uint8_t *present = (f->flags & SL_FIELD_F_PRESENT) ? base + f->aux_offset : NULL;
    return decode_value(f, r, c, field_nullable(f, c), base + f->offset, present);
}

static const sl_field_desc_t *find_tagged(const sl_message_desc_t *d, uint32_t tag, const ctx_t *c)
{
    for (uint16_t i = 0; i < d->tag_count; i++) {
        const sl_field_desc_t *f = &d->fields[d->tag_order[i]];
        if ((uint32_t)f->tag == tag && field_present(f, c) && field_tagged(f, c))
            return f;
    }
    return NULL;
}

/* The tagged-field section: known tags decode into the struct and must fill their size exactly;
 * unknown tags are skipped. Order is not enforced (a repeated tag: the last one wins). */
static int decode_tagged(const sl_message_desc_t *d, sl_reader_t *r, const ctx_t *c, uint8_t *base)
{
    uint32_t n;
    if (sl_read_uvarint(r, &n) != 0 || n > sl_reader_left(r) / 2)
        return SL_EMALFORMED;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t tag, size;
        if (sl_read_uvarint(r, &tag) != 0 || sl_read_uvarint(r, &size) != 0)
            return SL_EMALFORMED;
        if (size > sl_reader_left(r))
            return SL_EMALFORMED;
        const sl_field_desc_t *f = find_tagged(d, tag, c);
        if (f != NULL) {
            sl_reader_t sub = {r->pos, r->pos + size};
            int rc = decode_field(f, &sub, c, base);
            if (rc != 0)
                return rc;
            if (sub.pos != sub.end)
                return SL_EMALFORMED;
        }
        r->pos += size;
    }
    return 0;
}

static int decode_struct(const sl_message_desc_t *d, sl_reader_t *r, const ctx_t *c, uint8_t *base)
{
    for (uint16_t i = 0; i < d->field_count; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        if (!field_present(f, c) || field_tagged(f, c))
            continue;
        int rc = decode_field(f, r, c, base);
        if (rc != 0)
            return rc;
    }
    return c->flexible ? decode_tagged(d, r, c, base) : 0;
}

int sl_message_decode(const sl_message_desc_t *d, sl_reader_t *r, sl_arena_t *arena,
                      int16_t version, void *out)
{
    SL_ASSERT(d != NULL);
    SL_ASSERT(r != NULL && out != NULL);
    sl_message_init(d, out);
    if (!vr_has(d->valid, version))
        return SL_EUNSUPPORTED;
    ctx_t c = {arena, version, vr_has(d->flexible, version)};
    const uint8_t *end = r->end;
    int rc = decode_struct(d, r, &c, out);
    SL_ASSERT(r->pos <= end);
    return rc;
}

/* ---- size and encode ----------------------------------------------------------------------------
 */
static bool struct_is_default(const sl_message_desc_t *d, const ctx_t *c, const uint8_t *base);

static bool slice_is_default(const sl_field_desc_t *f, const ctx_t *c, const sl_slice_t *s)
{
    /* Compare what would be written: a null where the version cannot carry one is "". */
    bool is_null = s->ptr == NULL && field_nullable(f, c);
    if (f->flags & SL_FIELD_F_DEFAULT_NULL)
        return is_null;
    const char *def = f->default_str != NULL ? f->default_str : "";
    size_t len = s->ptr == NULL ? 0 : s->len;
    return !is_null && len == strlen(def) && (len == 0 || memcmp(s->ptr, def, len) == 0);
}

/* Tagged fields are written only when they differ from their default (Kafka's rule), judged on
 * what the version would put on the wire so that decode(encode(x)) encodes the same again. */
static bool value_is_default(const sl_field_desc_t *f, const ctx_t *c, const uint8_t *base)
{
    const uint8_t *p = base + f->offset;
    if (f->flags & SL_FIELD_F_ARRAY) {
        int32_t count = *(const int32_t *)(base + f->aux_offset);
        bool is_null = count < 0 && field_nullable(f, c);
        return (f->flags & SL_FIELD_F_DEFAULT_NULL) ? is_null : !is_null && count <= 0;
    }
    switch ((sl_field_kind_t)f->kind) {
    case SL_FIELD_BOOL:
        return *(const bool *)p == (f->default_int != 0);
    case SL_FIELD_INT8:
        return *(const int8_t *)p == f->default_int;
    case SL_FIELD_INT16:
        return *(const int16_t *)p == f->default_int;
    case SL_FIELD_UINT16:
        return *(const uint16_t *)p == f->default_int;
    case SL_FIELD_INT32:
        return *(const int32_t *)p == f->default_int;
    case SL_FIELD_UINT32:
        return *(const uint32_t *)p == f->default_int;
    case SL_FIELD_INT64:
        return *(const int64_t *)p == f->default_int;
    case SL_FIELD_FLOAT64:
        return memcmp(p, &f->default_float, sizeof(double)) == 0;
    case SL_FIELD_UUID:
        return sl_uuid_is_zero((const sl_uuid_t *)p);
    case SL_FIELD_STRING:
    case SL_FIELD_BYTES:
    case SL_FIELD_RECORDS:
        return slice_is_default(f, c, (const sl_slice_t *)p);
    case SL_FIELD_STRUCT:
        if ((f->flags & SL_FIELD_F_PRESENT) && field_nullable(f, c)) {
            bool present = *(const bool *)(base + f->aux_offset);
            if (f->flags & SL_FIELD_F_DEFAULT_NULL)
                return !present;
            if (!present)
                return false;
        }
        return struct_is_default(f->nested, c, p);
    }
    return false;
}

/* Only the fields this version carries count: the others never reach the wire. */
static bool struct_is_default(const sl_message_desc_t *d, const ctx_t *c, const uint8_t *base)
{
    for (uint16_t i = 0; i < d->field_count; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        if (field_present(f, c) && !value_is_default(f, c, base))
            return false;
    }
    return true;
}

static size_t size_struct(const sl_message_desc_t *d, const ctx_t *c, const uint8_t *base);

static size_t size_length(bool compact, size_t classic_bytes, int64_t len)
{
    return compact ? sl_uvarlong_size((uint64_t)(len + 1)) : classic_bytes;
}

static size_t size_value(const sl_field_desc_t *f, const ctx_t *c, bool nullable, const uint8_t *p,
                         const bool *present)
{
    switch ((sl_field_kind_t)f->kind) {
    case SL_FIELD_STRING:
    case SL_FIELD_BYTES:
    case SL_FIELD_RECORDS: {
        const sl_slice_t *s = (const sl_slice_t *)p;
        size_t classic = f->kind == SL_FIELD_STRING ? 2 : 4;
        if (s->ptr == NULL && nullable)
            return size_length(field_compact(f, c), classic, -1);
        size_t len = s->ptr == NULL ? 0 : s->len;
        return size_length(field_compact(f, c), classic, (int64_t)len) + len;
    }
    case SL_FIELD_STRUCT:
        if (nullable && present != NULL)
            return 1 + (*present ? size_struct(f->nested, c, p) : 0);
        return size_struct(f->nested, c, p);
    default:
        return kind_wire_min(f, false);
    }
}

static size_t size_field(const sl_field_desc_t *f, const ctx_t *c, const uint8_t *base)
{
    if (!(f->flags & SL_FIELD_F_ARRAY)) {
        const bool *present =
            (f->flags & SL_FIELD_F_PRESENT) ? (const bool *)(base + f->aux_offset) : NULL;
        return size_value(f, c, field_nullable(f, c), base + f->offset, present);
    }
    bool compact = field_compact(f, c);
    int32_t count = *(const int32_t *)(base + f->aux_offset);
    if (count < 0 && field_nullable(f, c))
        return size_length(compact, 4, -1);
    count = count < 0 ? 0 : count;
    const uint8_t *mem = *(const uint8_t *const *)(base + f->offset);
    SL_ASSERT(count == 0 || mem != NULL);
    size_t total = size_length(compact, 4, count);
    size_t elem = kind_c_size(f);
    for (int32_t i = 0; i < count; i++)
        total += size_value(f, c, false, mem + (size_t)i * elem, NULL);
    return total;
}

/* Fields to put in the tagged section for this version: present, tagged, not default. */
static bool tagged_written(const sl_field_desc_t *f, const ctx_t *c, const uint8_t *base)
{
    return field_present(f, c) && field_tagged(f, c) && !value_is_default(f, c, base);
}

static size_t size_struct(const sl_message_desc_t *d, const ctx_t *c, const uint8_t *base)
{
    size_t total = 0;
    for (uint16_t i = 0; i < d->field_count; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        if (field_present(f, c) && !field_tagged(f, c))
            total += size_field(f, c, base);
    }
    if (!c->flexible)
        return total;
    uint32_t n = 0;
    for (uint16_t i = 0; i < d->tag_count; i++) {
        const sl_field_desc_t *f = &d->fields[d->tag_order[i]];
        if (!tagged_written(f, c, base))
            continue;
        size_t sz = size_field(f, c, base);
        total += sl_uvarint_size((uint32_t)f->tag) + sl_uvarlong_size(sz) + sz;
        n++;
    }
    return total + sl_uvarint_size(n);
}

size_t sl_message_size(const sl_message_desc_t *d, int16_t version, const void *m)
{
    SL_ASSERT(d != NULL && m != NULL);
    ctx_t c = {NULL, version, vr_has(d->flexible, version)};
    return size_struct(d, &c, m);
}

static int encode_struct(const sl_message_desc_t *d, sl_writer_t *w, const ctx_t *c,
                         const uint8_t *base);

static int write_length(sl_writer_t *w, bool compact, size_t classic_bytes, int64_t len)
{
    if (compact) {
        if (len + 1 > (int64_t)UINT32_MAX)
            return SL_ELIMIT;
        return sl_write_uvarint(w, (uint32_t)(len + 1));
    }
    if (classic_bytes == 2) {
        if (len > INT16_MAX)
            return SL_ELIMIT;
        return sl_write_i16(w, (int16_t)len);
    }
    if (len > INT32_MAX)
        return SL_ELIMIT;
    return sl_write_i32(w, (int32_t)len);
}

static int encode_fixed(const sl_field_desc_t *f, sl_writer_t *w, const uint8_t *p)
{
    switch ((sl_field_kind_t)f->kind) {
    case SL_FIELD_BOOL:
        return sl_write_u8(w, *(const bool *)p ? 1 : 0);
    case SL_FIELD_INT8:
        return sl_write_i8(w, *(const int8_t *)p);
    case SL_FIELD_INT16:
        return sl_write_i16(w, *(const int16_t *)p);
    case SL_FIELD_UINT16:
        return sl_write_u16(w, *(const uint16_t *)p);
    case SL_FIELD_INT32:
        return sl_write_i32(w, *(const int32_t *)p);
    case SL_FIELD_UINT32:
        return sl_write_u32(w, *(const uint32_t *)p);
    case SL_FIELD_INT64:
        return sl_write_i64(w, *(const int64_t *)p);
    case SL_FIELD_FLOAT64:
        return sl_write_f64(w, *(const double *)p);
    case SL_FIELD_UUID:
        return sl_write_uuid(w, (const sl_uuid_t *)p);
    default:
        SL_ASSERT(false && "not a fixed-width kind");
        return SL_ELIMIT;
    }
}

static int encode_value(const sl_field_desc_t *f, sl_writer_t *w, const ctx_t *c, bool nullable,
                        const uint8_t *p, const bool *present)
{
    switch ((sl_field_kind_t)f->kind) {
    case SL_FIELD_STRING:
    case SL_FIELD_BYTES:
    case SL_FIELD_RECORDS: {
        const sl_slice_t *s = (const sl_slice_t *)p;
        size_t classic = f->kind == SL_FIELD_STRING ? 2 : 4;
        if (s->ptr == NULL && nullable)
            return write_length(w, field_compact(f, c), classic, -1);
        size_t len = s->ptr == NULL ? 0 : s->len;
        int rc = write_length(w, field_compact(f, c), classic, (int64_t)len);
        if (rc != 0)
            return rc;
        if (w->gaps != NULL && f->kind == SL_FIELD_RECORDS && len > 0) {
            if (w->gaps_count == w->gaps_cap)
                return SL_ELIMIT;
            w->gaps[w->gaps_count++] = (sl_writer_gap_t){.at = w->pos, .records = *s};
            return 0;
        }
        return sl_write_bytes(w, s->ptr, len);
    }
    case SL_FIELD_STRUCT:
        if (nullable && present != NULL) {
            int rc = sl_write_i8(w, *present ? 1 : -1);
            if (rc != 0 || !*present)
                return rc;
        }
        return encode_struct(f->nested, w, c, p);
    default:
        return encode_fixed(f, w, p);
    }
}

static int encode_field(const sl_field_desc_t *f, sl_writer_t *w, const ctx_t *c,
                        const uint8_t *base)
{
    if (!(f->flags & SL_FIELD_F_ARRAY)) {
        const bool *present =
            (f->flags & SL_FIELD_F_PRESENT) ? (const bool *)(base + f->aux_offset) : NULL;
        return encode_value(f, w, c, field_nullable(f, c), base + f->offset, present);
    }
    bool compact = field_compact(f, c);
    int32_t count = *(const int32_t *)(base + f->aux_offset);
    if (count < 0 && field_nullable(f, c))
        return write_length(w, compact, 4, -1);
    count = count < 0 ? 0 : count;
    const uint8_t *mem = *(const uint8_t *const *)(base + f->offset);
    SL_ASSERT(count == 0 || mem != NULL);
    int rc = write_length(w, compact, 4, count);
    size_t elem = kind_c_size(f);
    for (int32_t i = 0; i < count && rc == 0; i++)
        rc = encode_value(f, w, c, false, mem + (size_t)i * elem, NULL);
    return rc;
}

static int encode_tagged(const sl_message_desc_t *d, sl_writer_t *w, const ctx_t *c,
                         const uint8_t *base)
{
    uint32_t n = 0;
    for (uint16_t i = 0; i < d->tag_count; i++)
        n += tagged_written(&d->fields[d->tag_order[i]], c, base) ? 1 : 0;
    int rc = sl_write_uvarint(w, n);
    for (uint16_t i = 0; i < d->tag_count && rc == 0; i++) {
        const sl_field_desc_t *f = &d->fields[d->tag_order[i]];
        if (!tagged_written(f, c, base))
            continue;
        size_t sz = size_field(f, c, base);
        if (sz > UINT32_MAX)
            return SL_ELIMIT;
        rc = sl_write_uvarint(w, (uint32_t)f->tag);
        rc = rc != 0 ? rc : sl_write_uvarint(w, (uint32_t)sz);
        const uint8_t *start = w->pos;
        rc = rc != 0 ? rc : encode_field(f, w, c, base);
        SL_ASSERT(rc != 0 || (size_t)(w->pos - start) == sz);
    }
    return rc;
}

static int encode_struct(const sl_message_desc_t *d, sl_writer_t *w, const ctx_t *c,
                         const uint8_t *base)
{
    for (uint16_t i = 0; i < d->field_count; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        if (!field_present(f, c) || field_tagged(f, c))
            continue;
        int rc = encode_field(f, w, c, base);
        if (rc != 0)
            return rc;
    }
    return c->flexible ? encode_tagged(d, w, c, base) : 0;
}

int sl_message_encode(const sl_message_desc_t *d, sl_writer_t *w, int16_t version, const void *m)
{
    SL_ASSERT(d != NULL);
    SL_ASSERT(w != NULL && m != NULL);
    if (!vr_has(d->valid, version))
        return SL_EUNSUPPORTED;
    ctx_t c = {NULL, version, vr_has(d->flexible, version)};
    uint8_t *start = w->pos;
    int rc = encode_struct(d, w, &c, m);
    SL_ASSERT(w->pos <= w->end && w->pos >= start);
    return rc;
}
