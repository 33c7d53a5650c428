/* message_fill: fills any generated struct with pseudo-random values through its descriptor, for
 * the codecs' fill-encode-decode-encode checks (test_protocol, test_metadata). */
#include "message_fill.h"

#include <stdbool.h>
#include <string.h>

typedef struct {
    uint64_t state;
    sl_arena_t *arena;
} fill_t;

static uint32_t fill_next(fill_t *f)
{
    f->state = f->state * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(f->state >> 33);
}

static void fill_struct(fill_t *f, const sl_message_desc_t *d, uint8_t *base, int depth);

static void fill_value(fill_t *f, const sl_field_desc_t *fd, uint8_t *p, int depth)
{
    uint32_t x = fill_next(f);
    switch ((sl_field_kind_t)fd->kind) {
    case SL_FIELD_BOOL:
        *(bool *)p = x & 1;
        break;
    case SL_FIELD_INT8:
        *(int8_t *)p = (int8_t)x;
        break;
    case SL_FIELD_INT16:
    case SL_FIELD_UINT16:
        *(uint16_t *)p = (uint16_t)x;
        break;
    case SL_FIELD_INT32:
    case SL_FIELD_UINT32:
        *(uint32_t *)p = x;
        break;
    case SL_FIELD_INT64:
    case SL_FIELD_FLOAT64: /* any bit pattern round-trips through the wire */
        *(uint64_t *)p = (uint64_t)x << 32 | fill_next(f);
        break;
    case SL_FIELD_UUID:
        memset(p, (int)(x & 0xff), sizeof(sl_uuid_t));
        break;
    case SL_FIELD_STRING:
    case SL_FIELD_BYTES:
    case SL_FIELD_RECORDS:
        *(sl_slice_t *)p =
            (x % 4 == 0) ? SL_SLICE_NULL : (sl_slice_t){(const uint8_t *)"payload", x % 8};
        break;
    case SL_FIELD_STRUCT:
        fill_struct(f, fd->nested, p, depth + 1);
        break;
    }
}

/* The C size of one array element (what the codec allocates per element). */
static size_t elem_size(const sl_field_desc_t *fd)
{
    switch ((sl_field_kind_t)fd->kind) {
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
    case SL_FIELD_STRUCT:
        return fd->nested->struct_size;
    default:
        return 16; /* sl_uuid_t, sl_slice_t */
    }
}

static void fill_struct(fill_t *f, const sl_message_desc_t *d, uint8_t *base, int depth)
{
    sl_message_init(d, base);
    for (uint16_t i = 0; i < d->field_count; i++) {
        const sl_field_desc_t *fd = &d->fields[i];
        uint32_t x = fill_next(f);
        if (x % 5 == 0)
            continue; /* keep the default */
        if (fd->flags & SL_FIELD_F_ARRAY) {
            int32_t count = depth > 3 ? 0 : (int32_t)(x % 4) - 1;
            size_t elem = elem_size(fd);
            uint8_t *mem = count > 0 ? sl_arena_alloc(f->arena, elem * (size_t)count) : NULL;
            for (int32_t j = 0; j < count; j++)
                fill_value(f, fd, mem + elem * (size_t)j, depth);
            *(void **)(base + fd->offset) = mem;
            *(int32_t *)(base + fd->aux_offset) = count;
            continue;
        }
        fill_value(f, fd, base + fd->offset, depth);
        if (fd->flags & SL_FIELD_F_PRESENT)
            *(bool *)(base + fd->aux_offset) = x & 2;
    }
}

void test_message_fill(const sl_message_desc_t *d, void *m, uint64_t seed, sl_arena_t *arena)
{
    fill_t f = {seed, arena};
    fill_struct(&f, d, m, 0);
}
