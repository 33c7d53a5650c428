/* api: the API table lookups and the request/response headers. Header versions follow Kafka's
 * ApiMessageType rules: request header v2 iff the API version is flexible (v0 only for
 * ControlledShutdown v0), response header v1 iff flexible except ApiVersions, which always answers
 * with v0 so that a client with a too-new version can still parse the error. */
#include <string.h>

#include "sluice/protocol.h"

#define API_KEY_CONTROLLED_SHUTDOWN 7

const sl_api_info_t *sl_api_info(int16_t api_key)
{
    if (api_key < 0 || api_key > SL_API_KEY_MAX)
        return NULL;
    const sl_api_info_t *info = sl__api_table[api_key];
    SL_ASSERT(info == NULL || info->api_key == api_key);
    return info;
}

const sl_api_info_t *const *sl_api_list(size_t *count)
{
    SL_ASSERT(count != NULL);
    *count = SL__API_COUNT;
    return sl__api_list;
}

static bool version_known(const sl_api_info_t *info, int16_t api_version)
{
    return info != NULL && api_version >= info->version_min && api_version <= info->version_max;
}

bool sl_api_version_is_flexible(int16_t api_key, int16_t api_version)
{
    const sl_api_info_t *info = sl_api_info(api_key);
    return info != NULL && info->flexible_min >= 0 && api_version >= info->flexible_min;
}

int sl_request_header_version(int16_t api_key, int16_t api_version)
{
    if (!version_known(sl_api_info(api_key), api_version))
        return -1;
    if (api_key == API_KEY_CONTROLLED_SHUTDOWN && api_version == 0)
        return 0;
    return sl_api_version_is_flexible(api_key, api_version) ? 2 : 1;
}

int sl_tagged_fields_skip(sl_reader_t *r)
{
    uint32_t n;
    if (sl_read_uvarint(r, &n) != 0 || n > sl_reader_left(r) / 2)
        return SL_EMALFORMED;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t tag, size;
        if (sl_read_uvarint(r, &tag) != 0 || sl_read_uvarint(r, &size) != 0)
            return SL_EMALFORMED;
        if (sl_reader_skip(r, size) != 0)
            return SL_EMALFORMED;
    }
    return 0;
}

/* ClientId is always a classic nullable string, even in header v2 (so that any broker can read
 * the header of an ApiVersions request of any version). */
static int read_client_id(sl_reader_t *r, sl_slice_t *out)
{
    int16_t len;
    if (sl_read_i16(r, &len) != 0 || len < -1)
        return SL_EMALFORMED;
    if (len == -1) {
        *out = SL_SLICE_NULL;
        return 0;
    }
    return sl_read_bytes(r, (size_t)len, out);
}

int sl_request_header_decode(sl_reader_t *r, sl_request_header_t *hdr)
{
    SL_ASSERT(r != NULL && hdr != NULL);
    memset(hdr, 0, sizeof *hdr);
    if (sl_read_i16(r, &hdr->api_key) != 0 || sl_read_i16(r, &hdr->api_version) != 0 ||
        sl_read_i32(r, &hdr->correlation_id) != 0)
        return SL_EMALFORMED;
    int hv = sl_request_header_version(hdr->api_key, hdr->api_version);
    if (hv < 0) {
        sl_slice_t id;
        if (read_client_id(r, &id) == 0)
            hdr->client_id = id;
        return SL_EUNSUPPORTED;
    }
    if (hv >= 1 && read_client_id(r, &hdr->client_id) != 0)
        return SL_EMALFORMED;
    if (hv >= 2 && sl_tagged_fields_skip(r) != 0)
        return SL_EMALFORMED;
    return 0;
}

size_t sl_request_header_size(const sl_request_header_t *hdr)
{
    int hv = sl_request_header_version(hdr->api_key, hdr->api_version);
    size_t n = 8;
    if (hv != 0)
        n += 2 + (hdr->client_id.ptr != NULL ? hdr->client_id.len : 0);
    return n + (hv == 2 ? 1 : 0);
}

/* Writes header v1 for unknown versions (the best guess a client can make). */
int sl_request_header_encode(sl_writer_t *w, const sl_request_header_t *hdr)
{
    SL_ASSERT(w != NULL && hdr != NULL);
    int hv = sl_request_header_version(hdr->api_key, hdr->api_version);
    int rc = sl_write_i16(w, hdr->api_key);
    rc = rc != 0 ? rc : sl_write_i16(w, hdr->api_version);
    rc = rc != 0 ? rc : sl_write_i32(w, hdr->correlation_id);
    if (rc != 0 || hv == 0)
        return rc;
    if (hdr->client_id.ptr == NULL) {
        rc = sl_write_i16(w, -1);
    } else {
        if (hdr->client_id.len > INT16_MAX)
            return SL_ELIMIT;
        rc = sl_write_i16(w, (int16_t)hdr->client_id.len);
        rc = rc != 0 ? rc : sl_write_bytes(w, hdr->client_id.ptr, hdr->client_id.len);
    }
    return rc != 0 || hv != 2 ? rc : sl_write_uvarint(w, 0);
}

int sl_response_header_version(int16_t api_key, int16_t api_version)
{
    if (api_key == SL_API_API_VERSIONS)
        return 0;
    return sl_api_version_is_flexible(api_key, api_version) ? 1 : 0;
}

size_t sl_response_header_size(int16_t api_key, int16_t api_version)
{
    return sl_response_header_version(api_key, api_version) == 1 ? 5 : 4;
}

int sl_response_header_encode(sl_writer_t *w, int16_t api_key, int16_t api_version,
                              int32_t correlation_id)
{
    SL_ASSERT(w != NULL);
    int rc = sl_write_i32(w, correlation_id);
    if (rc == 0 && sl_response_header_version(api_key, api_version) == 1)
        rc = sl_write_uvarint(w, 0);
    return rc;
}

int sl_response_header_decode(sl_reader_t *r, int16_t api_key, int16_t api_version,
                              int32_t *correlation_id)
{
    SL_ASSERT(r != NULL && correlation_id != NULL);
    if (sl_read_i32(r, correlation_id) != 0)
        return SL_EMALFORMED;
    if (sl_response_header_version(api_key, api_version) == 1)
        return sl_tagged_fields_skip(r);
    return 0;
}
