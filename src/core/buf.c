/* buf: an owned, growable byte buffer with a hard capacity limit, and slice helpers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sluice/core.h"

bool sl_slice_eq(sl_slice_t a, sl_slice_t b)
{
    if ((a.ptr == NULL) != (b.ptr == NULL) || a.len != b.len)
        return false;
    return a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0;
}

bool sl_slice_eq_str(sl_slice_t a, const char *s)
{
    return a.ptr != NULL && sl_slice_eq(a, sl_slice_from_str(s));
}

void sl_buf_init(sl_buf_t *buf, size_t cap_max)
{
    *buf = (sl_buf_t){.ptr = NULL, .len = 0, .cap = 0, .cap_max = cap_max ? cap_max : SIZE_MAX / 2};
}

void sl_buf_deinit(sl_buf_t *buf)
{
    sl_free(buf->ptr);
    buf->ptr = NULL;
    buf->len = buf->cap = 0;
}

int sl_buf_reserve(sl_buf_t *buf, size_t extra_bytes)
{
    SL_ASSERT(buf->len <= buf->cap);
    if (extra_bytes <= buf->cap - buf->len)
        return 0;
    if (extra_bytes > buf->cap_max - buf->len)
        return SL_ELIMIT;
    size_t need = buf->len + extra_bytes;
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap < need)
        cap = cap > buf->cap_max / 2 ? buf->cap_max : cap * 2;
    uint8_t *p = sl_realloc(buf->ptr, cap);
    if (p == NULL)
        return -ENOMEM;
    buf->ptr = p;
    buf->cap = cap;
    return 0;
}

int sl_buf_append(sl_buf_t *buf, const void *data, size_t len)
{
    int rc = sl_buf_reserve(buf, len);
    if (rc != 0)
        return rc;
    if (len > 0)
        memcpy(buf->ptr + buf->len, data, len);
    buf->len += len;
    return 0;
}

int sl_buf_appendf(sl_buf_t *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return SL_EMALFORMED;
    int rc = sl_buf_reserve(buf, (size_t)n + 1);
    if (rc != 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)buf->ptr + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
    return 0;
}

void sl_buf_consume(sl_buf_t *buf, size_t n)
{
    SL_ASSERT(n <= buf->len);
    memmove(buf->ptr, buf->ptr + n, buf->len - n);
    buf->len -= n;
}
