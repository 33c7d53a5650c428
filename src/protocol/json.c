/* json: renders a decoded message as JSON for logs, the admin CLI and debugging, with the field
 * names of the JSON schema. Only fields present in the given version are written. Invariant: the
 * output is valid JSON for any decoded message (strings escaped, bytes base64, NaN as a string). */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "sluice/protocol.h"

static int json_struct(const sl_message_desc_t *d, int16_t version, const uint8_t *base,
                       sl_buf_t *buf);

static int json_string(sl_slice_t s, sl_buf_t *buf)
{
    if (s.ptr == NULL)
        return sl_buf_append(buf, "null", 4);
    int rc = sl_buf_append(buf, "\"", 1);
    for (size_t i = 0; i < s.len && rc == 0; i++) {
        uint8_t ch = s.ptr[i];
        if (ch == '"' || ch == '\\')
            rc = sl_buf_appendf(buf, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            rc = sl_buf_appendf(buf, "\\u%04x", ch);
        else
            rc = sl_buf_append(buf, &ch, 1);
    }
    return rc != 0 ? rc : sl_buf_append(buf, "\"", 1);
}

static int json_base64(sl_slice_t s, sl_buf_t *buf)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (s.ptr == NULL)
        return sl_buf_append(buf, "null", 4);
    int rc = sl_buf_append(buf, "\"", 1);
    for (size_t i = 0; i < s.len && rc == 0; i += 3) {
        uint32_t v = (uint32_t)s.ptr[i] << 16;
        size_t n = SL_MIN(s.len - i, (size_t)3);
        if (n > 1)
            v |= (uint32_t)s.ptr[i + 1] << 8;
        if (n > 2)
            v |= s.ptr[i + 2];
        char out[4] = {tab[v >> 18], tab[(v >> 12) & 63], n > 1 ? tab[(v >> 6) & 63] : '=',
                       n > 2 ? tab[v & 63] : '='};
        rc = sl_buf_append(buf, out, sizeof out);
    }
    return rc != 0 ? rc : sl_buf_append(buf, "\"", 1);
}

static int json_value(const sl_field_desc_t *f, int16_t version, const uint8_t *p, sl_buf_t *buf)
{
    switch ((sl_field_kind_t)f->kind) {
    case SL_FIELD_BOOL:
        return sl_buf_appendf(buf, "%s", *(const bool *)p ? "true" : "false");
    case SL_FIELD_INT8:
        return sl_buf_appendf(buf, "%d", *(const int8_t *)p);
    case SL_FIELD_INT16:
        return sl_buf_appendf(buf, "%d", *(const int16_t *)p);
    case SL_FIELD_UINT16:
        return sl_buf_appendf(buf, "%u", *(const uint16_t *)p);
    case SL_FIELD_INT32:
        return sl_buf_appendf(buf, "%" PRId32, *(const int32_t *)p);
    case SL_FIELD_UINT32:
        return sl_buf_appendf(buf, "%" PRIu32, *(const uint32_t *)p);
    case SL_FIELD_INT64:
        return sl_buf_appendf(buf, "%" PRId64, *(const int64_t *)p);
    case SL_FIELD_FLOAT64: {
        double v = *(const double *)p;
        if (!isfinite(v))
            return sl_buf_appendf(buf, "\"%s\"",
                                  isnan(v) ? "NaN"
                                  : v > 0  ? "Infinity"
                                           : "-Infinity");
        return sl_buf_appendf(buf, "%.17g", v);
    }
    case SL_FIELD_UUID: {
        char text[23];
        sl_uuid_to_base64((const sl_uuid_t *)p, text);
        return sl_buf_appendf(buf, "\"%s\"", text);
    }
    case SL_FIELD_STRING:
        return json_string(*(const sl_slice_t *)p, buf);
    case SL_FIELD_BYTES:
        return json_base64(*(const sl_slice_t *)p, buf);
    case SL_FIELD_RECORDS: {
        const sl_slice_t *s = (const sl_slice_t *)p;
        if (s->ptr == NULL)
            return sl_buf_append(buf, "null", 4);
        return sl_buf_appendf(buf, "%zu", s->len);
    }
    case SL_FIELD_STRUCT:
        return json_struct(f->nested, version, p, buf);
    }
    return 0;
}

static int json_field(const sl_field_desc_t *f, int16_t version, const uint8_t *base, sl_buf_t *buf)
{
    if (!(f->flags & SL_FIELD_F_ARRAY)) {
        if ((f->flags & SL_FIELD_F_PRESENT) && !*(const bool *)(base + f->aux_offset))
            return sl_buf_append(buf, "null", 4);
        return json_value(f, version, base + f->offset, buf);
    }
    int32_t count = *(const int32_t *)(base + f->aux_offset);
    if (count < 0)
        return sl_buf_append(buf, "null", 4);
    const uint8_t *mem = *(const uint8_t *const *)(base + f->offset);
    size_t elem = f->kind == SL_FIELD_STRUCT ? f->nested->struct_size : 0;
    if (elem == 0) {
        static const uint8_t sizes[] = {
            [SL_FIELD_BOOL] = sizeof(bool),
            [SL_FIELD_INT8] = 1,
            [SL_FIELD_INT16] = 2,
            [SL_FIELD_UINT16] = 2,
            [SL_FIELD_INT32] = 4,
            [SL_FIELD_UINT32] = 4,
            [SL_FIELD_INT64] = 8,
            [SL_FIELD_FLOAT64] = 8,
            [SL_FIELD_UUID] = sizeof(sl_uuid_t),
            [SL_FIELD_STRING] = sizeof(sl_slice_t),
            [SL_FIELD_BYTES] = sizeof(sl_slice_t),
            [SL_FIELD_RECORDS] = sizeof(sl_slice_t),
        };
        SL_ASSERT(f->kind < SL_ARRAY_LEN(sizes));
        elem = sizes[f->kind];
    }
    int rc = sl_buf_append(buf, "[", 1);
    for (int32_t i = 0; i < count && rc == 0; i++) {
        if (i > 0)
            rc = sl_buf_append(buf, ",", 1);
        rc = rc != 0 ? rc : json_value(f, version, mem + (size_t)i * elem, buf);
    }
    return rc != 0 ? rc : sl_buf_append(buf, "]", 1);
}

static int json_struct(const sl_message_desc_t *d, int16_t version, const uint8_t *base,
                       sl_buf_t *buf)
{
    int rc = sl_buf_append(buf, "{", 1);
    bool first = true;
    for (uint16_t i = 0; i < d->field_count && rc == 0; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        if (version < f->versions.min || version > f->versions.max)
            continue;
        rc = sl_buf_appendf(buf, "%s\"%s\":", first ? "" : ",", f->name);
        rc = rc != 0 ? rc : json_field(f, version, base, buf);
        first = false;
    }
    return rc != 0 ? rc : sl_buf_append(buf, "}", 1);
}

int sl_message_to_json(const sl_message_desc_t *d, int16_t version, const void *m, sl_buf_t *buf)
{
    SL_ASSERT(d != NULL && m != NULL);
    SL_ASSERT(buf != NULL);
    return json_struct(d, version, m, buf);
}
