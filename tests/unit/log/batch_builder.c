/* batch_builder: see batch_builder.h. Layout per Kafka's DefaultRecordBatch (CLIENTS.md 4.3). */
#include "batch_builder.h"

#include <string.h>

static size_t put_varint(uint8_t *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (z >= 0x80) {
        p[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    p[n++] = (uint8_t)z;
    return n;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void be64(uint8_t *p, int64_t v)
{
    be32(p, (uint32_t)((uint64_t)v >> 32));
    be32(p + 4, (uint32_t)v);
}

size_t batch_build(uint8_t *out, size_t cap, int record_count, int64_t timestamp, size_t value_len,
                   uint8_t fill)
{
    if (cap < 61 || record_count < 1)
        return 0;
    size_t pos = 61;
    uint8_t rec[64];
    for (int i = 0; i < record_count; i++) {
        size_t n = 0;
        rec[n++] = 0;                 /* attributes */
        n += put_varint(rec + n, i);  /* timestamp delta */
        n += put_varint(rec + n, i);  /* offset delta */
        n += put_varint(rec + n, -1); /* null key */
        n += put_varint(rec + n, (int64_t)value_len);
        size_t body = n + value_len + 1; /* + header count */
        uint8_t lenbuf[10];
        size_t ln = put_varint(lenbuf, (int64_t)body);
        if (pos + ln + body > cap)
            return 0;
        memcpy(out + pos, lenbuf, ln);
        memcpy(out + pos + ln, rec, n);
        memset(out + pos + ln + n, fill, value_len);
        out[pos + ln + n + value_len] = 0; /* no headers */
        pos += ln + body;
    }
    memset(out, 0, 61);
    be64(out, 0);
    be32(out + 8, (uint32_t)(pos - 12));
    be32(out + 12, 0);
    out[16] = 2;
    /* attributes 0 */
    be32(out + 23, (uint32_t)(record_count - 1));
    be64(out + 27, timestamp);
    be64(out + 35, timestamp + record_count - 1);
    be64(out + 43, -1);
    out[51] = 0xff;
    out[52] = 0xff;
    be32(out + 53, 0xffffffffu);
    be32(out + 57, (uint32_t)record_count);
    be32(out + 17, sl_crc32c(0, out + 21, pos - 21));
    return pos;
}
