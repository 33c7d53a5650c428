/* durable_file: replaces a small record file (topics.meta, broker-configs.meta, producer-ids.meta)
 * so that a crash leaves the old contents or the new ones, never a torn mix: write a temp file,
 * fsync it, rename it over the old one, fsync the directory. */
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
