/* uuid: Kafka's 128-bit ids (cluster id, topic id), printed as 22 characters of URL-safe base64
 * without padding, as Kafka's Uuid.toString() does. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "sluice/core.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool sl_uuid_is_zero(const sl_uuid_t *uuid)
{
    for (size_t i = 0; i < sizeof(uuid->bytes); i++)
        if (uuid->bytes[i] != 0)
            return false;
    return true;
}

void sl_uuid_to_base64(const sl_uuid_t *uuid, char out[23])
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < 16; i++) {
        acc = (acc << 8) | uuid->bytes[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64[(acc >> bits) & 0x3f];
        }
    }
    out[o++] = b64[(acc << (6 - bits)) & 0x3f]; /* 128 = 21*6 + 2 bits left over */
    out[o] = '\0';
    SL_ASSERT(o == 22);
}

int sl_uuid_from_base64(const char *text, sl_uuid_t *uuid)
{
    if (strlen(text) != 22)
        return SL_EMALFORMED;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < 22; i++) {
        const char *pos = memchr(b64, text[i], 64);
        if (pos == NULL || text[i] == '\0')
            return SL_EMALFORMED;
        acc = (acc << 6) | (uint32_t)(pos - b64);
        bits += 6;
        if (bits >= 8 && o < 16) {
            bits -= 8;
            uuid->bytes[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (o != 16 || (acc & ((1u << bits) - 1)) != 0)
        return SL_EMALFORMED;
    return 0;
}

int sl_uuid_random(sl_uuid_t *uuid)
{
    do {
        ssize_t n = getrandom(uuid->bytes, sizeof(uuid->bytes), 0);
        if (n < 0)
            return -errno;
        if ((size_t)n != sizeof(uuid->bytes))
            return -EIO;
        uuid->bytes[6] = (uint8_t)((uuid->bytes[6] & 0x0f) | 0x40); /* version 4 */
        uuid->bytes[8] = (uint8_t)((uuid->bytes[8] & 0x3f) | 0x80); /* IETF variant */
    } while (sl_uuid_is_zero(uuid));
    return 0;
}
