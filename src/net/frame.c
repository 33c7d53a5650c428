/* frame: splits a connection's byte stream into Kafka frames (int32 size + payload). The size is
 * checked against socket.request.max.bytes before anything is allocated for it, so a lying prefix
 * costs nothing but its own connection. */
#include <errno.h>
#include <string.h>

#include "net_int.h"

void sl__splitter_init(sl__splitter_t *s, size_t request_bytes_max, sl__payload_cache_t *cache)
{
    *s = (sl__splitter_t){.request_bytes_max = request_bytes_max, .cache = cache};
}

void sl__splitter_deinit(sl__splitter_t *s)
{
    sl__payload_cache_give(s->cache, s->payload, s->payload_cap);
    s->payload = NULL;
    s->size_have = s->len = s->have = s->payload_cap = 0;
}

static int start_payload(sl__splitter_t *s)
{
    uint32_t raw = (uint32_t)s->size_bytes[0] << 24 | (uint32_t)s->size_bytes[1] << 16 |
                   (uint32_t)s->size_bytes[2] << 8 | (uint32_t)s->size_bytes[3];
    int32_t size = (int32_t)raw;
    if (size < 0)
        return SL_EMALFORMED;
    if ((size_t)size > s->request_bytes_max)
        return SL_ELIMIT;
    /* A zero-length frame still gets a real (1-byte) allocation so that payload != NULL marks
     * "inside a frame". */
    s->payload = sl__payload_cache_take(s->cache, (size_t)size, &s->payload_cap);
    if (s->payload == NULL)
        return -ENOMEM;
    s->len = (size_t)size;
    s->have = 0;
    return 0;
}

int sl__splitter_feed(sl__splitter_t *s, const uint8_t **data, size_t *len)
{
    while (*len > 0 || (s->payload != NULL && s->have == s->len)) {
        if (s->payload == NULL) {
            size_t take = SL_MIN(4 - s->size_have, *len);
            memcpy(s->size_bytes + s->size_have, *data, take);
            s->size_have += take;
            *data += take;
            *len -= take;
            if (s->size_have < 4)
                return SL__SPLIT_NEED_MORE;
            int rc = start_payload(s);
            if (rc != 0)
                return rc;
            continue;
        }
        size_t take = SL_MIN(s->len - s->have, *len);
        if (take > 0 && *data != s->payload + s->have) /* a direct read already placed them */
            memcpy(s->payload + s->have, *data, take);
        s->have += take;
        *data += take;
        *len -= take;
        if (s->have == s->len)
            return SL__SPLIT_FRAME;
    }
    return SL__SPLIT_NEED_MORE;
}

uint8_t *sl__splitter_direct(sl__splitter_t *s, size_t *room)
{
    if (s->payload == NULL || s->have == s->len)
        return NULL;
    *room = s->len - s->have;
    return s->payload + s->have;
}

uint8_t *sl__splitter_take(sl__splitter_t *s, size_t *len, size_t *cap)
{
    SL_ASSERT(s->payload != NULL);
    SL_ASSERT(s->have == s->len);
    uint8_t *payload = s->payload;
    *len = s->len;
    *cap = s->payload_cap;
    s->payload = NULL;
    s->size_have = s->len = s->have = s->payload_cap = 0;
    return payload;
}
