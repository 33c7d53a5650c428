/* durable_file: the broker's small record files (topics.meta, broker-configs.meta,
 * producer-ids.meta): replaced so that a crash leaves the old contents or the new ones, never a
 * torn mix (temp file, fsync, rename, fsync the directory), and their values percent-encoded so a
 * line never holds a space, a newline or an '=' of its own. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "broker_int.h"

#define DURABLE_PATH_BYTES_MAX 4400

int sl__durable_file_replace(const char *dir, const char *name, const void *data, size_t len)
{
    char tmp[DURABLE_PATH_BYTES_MAX], path[DURABLE_PATH_BYTES_MAX];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name) >= sizeof(tmp) ||
        (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    const uint8_t *p = data;
    size_t done = 0;
    int rc = 0;
    while (done < len && rc == 0) { /* bounded: every pass writes bytes or fails */
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0 && errno != EINTR)
            rc = -errno;
        else if (n > 0)
            done += (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        return rc;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    if (fsync(dfd) != 0)
        rc = -errno;
    close(dfd);
    return rc;
}

static bool plain_byte(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == ',' || c == ':' || c == '/';
}

int sl__record_append_encoded(sl_buf_t *buf, const char *text)
{
    for (const uint8_t *p = (const uint8_t *)text; *p != '\0'; p++) {
        int rc = plain_byte(*p) ? sl_buf_append(buf, p, 1) : sl_buf_appendf(buf, "%%%02X", *p);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool sl__record_decode_in_place(char *s)
{
    char *out = s;
    for (char *p = s; *p != '\0'; p++) {
        if (*p != '%') {
            *out++ = *p;
            continue;
        }
        int hi = hex_value(p[1]), lo = hi < 0 ? -1 : hex_value(p[2]);
        if (lo < 0)
            return false;
        *out++ = (char)(hi << 4 | lo);
        p += 2;
    }
    *out = '\0';
    return true;
}
