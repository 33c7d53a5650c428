/* conn: the CLI's byte stream to one broker: a blocking-style TCP socket driven by poll() so every
 * connect, write and read ends by the command's deadline. The transport sits behind
 * sl_cli_transport_ops_t: TLS (and a SASL exchange after open) become another ops table, and the
 * request path above does not change. Invariant: fd is -1 whenever the stream is not open. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli_int.h"

volatile sig_atomic_t sl__cli_interrupted;

/* Waits for events on fd until deadline_ms; 0 when ready, -ETIMEDOUT, -EINTR on SIGINT. */
static int wait_fd(int fd, short events, uint64_t deadline_ms)
{
    for (;;) {
        uint64_t now = sl_clock_monotonic_ms();
        if (now >= deadline_ms)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        uint64_t wait_ms = SL_MIN(deadline_ms - now, (uint64_t)INT32_MAX);
        int n = poll(&p, 1, (int)wait_ms);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n < 0 && sl__cli_interrupted)
            return -EINTR;
    }
}

static int connect_one(const struct addrinfo *ai, uint64_t deadline_ms)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        rc = errno == EINPROGRESS ? wait_fd(fd, POLLOUT, deadline_ms) : -errno;
        int so_error = 0;
        socklen_t len = sizeof so_error;
        if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
            rc = -errno;
        else if (rc == 0 && so_error != 0)
            rc = -so_error;
    }
    if (rc != 0) {
        close(fd);
        return rc;
    }
    int one = 1;
    /* Requests are single writes; waiting for Nagle only adds latency to a CLI. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        SL_LOG(SL_LOG_DEBUG, "cli", "TCP_NODELAY failed errno=%d", errno);
    return fd;
}

static int plaintext_open(sl_cli_conn_t *conn, const sl_cli_address_t *addr, uint64_t deadline_ms)
{
    SL_ASSERT(conn->fd < 0);
    char port[8];
    snprintf(port, sizeof port, "%" PRId32, addr->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    int gai = getaddrinfo(addr->host, port, &hints, &list);
    if (gai != 0)
        return gai == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
    int rc = -ECONNREFUSED;
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        rc = connect_one(ai, deadline_ms);
        if (rc >= 0 || rc == -ETIMEDOUT || rc == -EINTR)
            break;
    }
    freeaddrinfo(list);
    if (rc < 0)
        return rc;
    conn->fd = rc;
    conn->addr = *addr;
    return 0;
}

static int plaintext_write_all(sl_cli_conn_t *conn, const uint8_t *data, size_t len,
                               uint64_t deadline_ms)
{
    SL_ASSERT(conn->fd >= 0);
    while (len > 0) {
        ssize_t n = send(conn->fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        int rc = wait_fd(conn->fd, POLLOUT, deadline_ms);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static ssize_t plaintext_read_some(sl_cli_conn_t *conn, uint8_t *data, size_t len,
                                   uint64_t deadline_ms)
{
    SL_ASSERT(conn->fd >= 0 && len > 0);
    for (;;) {
        ssize_t n = recv(conn->fd, data, len, 0);
        if (n > 0)
            return n;
        if (n == 0)
            return -ECONNRESET; /* the broker closed the connection */
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
        int rc = wait_fd(conn->fd, POLLIN, deadline_ms);
        if (rc != 0)
            return rc;
    }
}

static void plaintext_close(sl_cli_conn_t *conn)
{
    if (conn->fd >= 0)
        close(conn->fd);
    conn->fd = -1;
}

const sl_cli_transport_ops_t sl__cli_plaintext_ops = {
    .open = plaintext_open,
    .write_all = plaintext_write_all,
    .read_some = plaintext_read_some,
    .close = plaintext_close,
};
