/* Fuzz target: every Kafka request (and response) body through the generated descriptors.
 * Input: int16 selector (the api key; bit 15 set = the response instead of the request), int16
 * version (mapped into the API's range), then the body. A body that decodes must re-encode to
 * exactly size() bytes, and decoding that encoding must encode to the same bytes again. The raw
 * input is also parsed as a request header. Nothing may crash, leak, assert or over-read. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/protocol.h"

#define FUZZ_ARENA_BYTES (1 * SL_MiB)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const sl_api_info_t *pick_api(uint16_t selector)
{
    size_t count = 0;
    const sl_api_info_t *const *list = sl_api_list(&count);
    const sl_api_info_t *info = sl_api_info((int16_t)(selector & 0x7fff));
    return info != NULL ? info : list[(selector & 0x7fff) % count];
}

static int16_t pick_version(const sl_api_info_t *info, uint16_t raw)
{
    int16_t v = (int16_t)raw;
    if (v >= info->version_min && v <= info->version_max)
        return v;
    int range = info->version_max - info->version_min + 1;
    return (int16_t)(info->version_min + (int)(raw % (unsigned)range));
}

/* Encodes m into a fresh heap block of exactly size() bytes; aborts on any inconsistency. */
static uint8_t *encode_exact(const sl_message_desc_t *d, int16_t version, const void *m,
                             size_t *len)
{
    *len = sl_message_size(d, version, m);
    uint8_t *out = sl_malloc(*len + 1);
    if (out == NULL)
        abort();
    sl_writer_t w;
    sl_writer_init(&w, out, *len);
    if (sl_message_encode(d, &w, version, m) != 0 || sl_writer_left(&w) != 0)
        abort(); /* size() and encode() disagree, or a decoded message does not encode */
    return out;
}

static void check_body(const sl_message_desc_t *d, int16_t version, const uint8_t *body, size_t len)
{
    sl_arena_t arena;
    sl_arena_init(&arena, FUZZ_ARENA_BYTES);
    void *m1 = sl_arena_alloc(&arena, d->struct_size);
    void *m2 = sl_arena_alloc(&arena, d->struct_size);
    if (m1 == NULL || m2 == NULL)
        abort();
    sl_reader_t r;
    sl_reader_init(&r, body, len);
    if (sl_message_decode(d, &r, &arena, version, m1) == 0) {
        size_t n1, n2;
        uint8_t *e1 = encode_exact(d, version, m1, &n1);
        sl_reader_init(&r, e1, n1);
        if (sl_message_decode(d, &r, &arena, version, m2) != 0 || sl_reader_left(&r) != 0)
            abort(); /* our own encoding must decode completely */
        uint8_t *e2 = encode_exact(d, version, m2, &n2);
        if (n1 != n2 || memcmp(e1, e2, n1) != 0)
            abort();
        sl_buf_t json;
        sl_buf_init(&json, 0);
        (void)sl_message_to_json(d, version, m2, &json); /* only checked for memory errors */
        sl_buf_deinit(&json);
        sl_free(e2);
        sl_free(e1);
    }
    sl_arena_deinit(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_reader_t r;
    sl_request_header_t hdr;
    sl_reader_init(&r, data, size);
    (void)sl_request_header_decode(&r, &hdr); /* any result is fine; it must not misbehave */
    if (size < 4)
        return 0;
    uint16_t selector = (uint16_t)(data[0] << 8 | data[1]);
    uint16_t raw_version = (uint16_t)(data[2] << 8 | data[3]);
    const sl_api_info_t *info = pick_api(selector);
    int16_t version = pick_version(info, raw_version);
    const sl_message_desc_t *d = (selector & 0x8000) ? info->response : info->request;
    /* An exact-size copy so that ASan sees a read one byte past the body. */
    uint8_t *body = sl_malloc(size - 4 + 1);
    if (body == NULL)
        abort();
    memcpy(body, data + 4, size - 4);
    check_body(d, version, body, size - 4);
    sl_free(body);
    return 0;
}
