/* conn: one client connection. Reads frames, hands them to the owner in arrival order, writes the
 * answers back in that same order, and stops reading while too many bytes are unanswered.
 * Answers come whole (one buffer, uv_write) or in pieces: memory pieces go out with uv_try_write
 * and uv_write, file ranges with sendfile(2) from the loop thread once every earlier byte is out.
 * Invariants: queue_head..queue_tail holds every frame read and not yet handed to the socket, in
 * arrival order; at most one frame (sending) is being written piece by piece, and nothing later is
 * written before it is done; a frame the owner still holds when the connection closes is orphaned
 * (conn == NULL) and freed when the owner completes it; memory is freed only once both handles
 * (the socket and the writability watcher) have closed. */
#include <errno.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "net_int.h"

typedef struct {
    uv_write_t req;
    sl_frame_t *frames; /* the answers this write carries, chained by next; NULL for memory pieces
                           of conn->sending */
} conn_write_t;

static void conn_flush(sl_conn_t *conn);

/* cache: where the payload buffer goes back to; NULL for a frame orphaned by its connection (the
 * server may be gone by the time its owner answers). */
static void frame_free(sl__payload_cache_t *cache, sl_frame_t *frame)
{
    for (size_t i = 0; i < frame->pieces_count; i++) {
        sl_response_piece_t *piece = &frame->pieces[i];
        if (piece->fd >= 0)
            (void)close(piece->fd); /* read-only descriptor: nothing to lose */
        sl_free(piece->owned);
    }
    sl_free(frame->pieces);
    sl__payload_cache_give(cache, frame->payload, frame->payload_cap);
    sl_free(frame->response);
    sl_free(frame);
}

static void frame_done(sl_conn_t *conn, sl_frame_t *frame);

/* Runs once both the socket and the writability watcher have closed. */
static void conn_free(sl_conn_t *conn)
{
    sl_server_t *server = conn->server;
    if (conn->sending != NULL) { /* closed mid-send: the rest is never written */
        SL_ASSERT(server->bytes_in_flight >= conn->sending->len);
        server->bytes_in_flight -= conn->sending->len;
        frame_free(&server->payload_cache, conn->sending);
        conn->sending = NULL;
    }
    sl_frame_t *next;
    for (sl_frame_t *f = conn->queue_head; f != NULL; f = next) {
        next = f->next;
        SL_ASSERT(server->bytes_in_flight >= f->len);
        server->bytes_in_flight -= f->len;
        if (f->answered) {
            frame_free(&server->payload_cache, f);
        } else {
            f->conn = NULL; /* the owner still holds it; freed when it completes */
            f->next = NULL;
        }
    }
    sl__splitter_deinit(&conn->splitter);
    sl_free(conn);
    sl__server_handle_closed(server);
    sl__server_resume_reading(server);
}

static void conn_handle_closed(sl_conn_t *conn)
{
    SL_ASSERT(conn->closes_pending > 0);
    if (--conn->closes_pending == 0)
        conn_free(conn);
}

static void conn_on_close(uv_handle_t *handle)
{
    conn_handle_closed(SL_CONTAINER_OF((uv_tcp_t *)handle, sl_conn_t, tcp));
}

static void conn_writable_on_close(uv_handle_t *handle)
{
    sl_conn_t *conn = SL_CONTAINER_OF((uv_poll_t *)handle, sl_conn_t, writable);
    (void)close(conn->writable_fd); /* a dup of the socket: the socket itself stays open */
    conn->writable_fd = -1;
    conn_handle_closed(conn);
}

void sl__conn_close(sl_conn_t *conn)
{
    if (conn->closing)
        return;
    conn->closing = true;
    conn->reading = false;
    sl_server_t *server = conn->server;
    if (conn->flush_queued) { /* never flushed now: take it off the server's list */
        for (sl_conn_t **p = &server->flush_head; *p != NULL; p = &(*p)->flush_next) {
            if (*p == conn) {
                *p = conn->flush_next;
                break;
            }
        }
        conn->flush_queued = false;
        conn->flush_next = NULL;
    }
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        server->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
    server->conns_count--;
    server->listeners[conn->listener_index].info.connections--;
    conn->closes_pending = 1;
    if (conn->writable_fd >= 0) {
        conn->closes_pending++;
        uv_close((uv_handle_t *)&conn->writable, conn_writable_on_close);
    }
    uv_close((uv_handle_t *)&conn->tcp, conn_on_close);
}

void sl__conn_stop_reading(sl_conn_t *conn)
{
    if (conn->reading && !conn->closing) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = false;
    }
}

bool sl__conn_is_drained(const sl_conn_t *conn)
{
    return conn->queue_head == NULL && conn->writes_pending == 0 && conn->sending == NULL;
}

static bool conn_over_limits(const sl_conn_t *conn)
{
    const sl_server_t *server = conn->server;
    return conn->bytes_in_flight >= server->limits.conn_bytes_in_flight_max ||
           conn->frames_in_flight >= SL_CONN_REQUESTS_IN_FLIGHT_MAX ||
           server->bytes_in_flight >= server->limits.server_bytes_in_flight_max;
}

static void conn_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested; /* sizes come from the frame being read or the shared scratch buffer */
    sl_conn_t *conn = SL_CONTAINER_OF((uv_tcp_t *)handle, sl_conn_t, tcp);
    size_t room = 0;
    uint8_t *direct = sl__splitter_direct(&conn->splitter, &room);
    if (direct != NULL && room >= SL_CONN_DIRECT_READ_BYTES_MIN) {
        /* A large frame: read straight into its payload, no copy. */
        *buf = uv_buf_init((char *)direct, (unsigned)SL_MIN(room, (size_t)UINT32_MAX));
        return;
    }
    /* Between frames of a connection sending large ones (a producer's batches), read only the
     * start of the next: its size prefix and a little, copied, and the rest straight into its
     * payload. A full scratch read would take most of a 50 KB frame through the scratch buffer
     * and a memcpy. Small frames keep the full read: many of them per system call. */
    size_t len = sizeof(conn->server->scratch);
    if (direct == NULL &&
        conn->last_frame_len >= SL_CONN_FRAME_START_READ_BYTES + SL_CONN_DIRECT_READ_BYTES_MIN)
        len = SL_CONN_FRAME_START_READ_BYTES;
    *buf = uv_buf_init((char *)conn->server->scratch, (unsigned)len);
}

static void conn_enqueue(sl_conn_t *conn, uint8_t *payload, size_t len, size_t cap)
{
    sl_frame_t *frame = sl_calloc(1, sizeof(*frame));
    if (frame == NULL) {
        sl__payload_cache_give(&conn->server->payload_cache, payload, cap);
        SL_LOG_RATELIMITED(SL_LOG_WARN, "net", "out of memory peer=%s len=%zu", conn->peer, len);
        sl__conn_close(conn);
        return;
    }
    frame->conn = conn;
    frame->payload = payload;
    frame->len = len;
    frame->payload_cap = cap;
    if (conn->queue_tail != NULL)
        conn->queue_tail->next = frame;
    else
        conn->queue_head = frame;
    conn->queue_tail = frame;
    conn->frames_in_flight++;
    conn->bytes_in_flight += len;
    conn->server->bytes_in_flight += len;
    conn->server->on_frame(frame, conn->server->data);
}

static void conn_read_error(sl_conn_t *conn, int rc)
{
    if (rc == SL_ELIMIT)
        SL_LOG_RATELIMITED(SL_LOG_WARN, "net",
                           "closing connection peer=%s reason=\"request size over "
                           "socket.request.max.bytes=%zu\"",
                           conn->peer, conn->server->limits.request_bytes_max);
    else
        SL_LOG_RATELIMITED(SL_LOG_WARN, "net", "closing connection peer=%s reason=\"%s\"",
                           conn->peer, sl_strerror(rc));
    sl__conn_close(conn);
}

static void conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    sl_conn_t *conn = SL_CONTAINER_OF((uv_tcp_t *)stream, sl_conn_t, tcp);
    if (nread < 0) {
        if (nread != UV_EOF)
            SL_LOG(SL_LOG_DEBUG, "net", "read failed peer=%s error=\"%s\"", conn->peer,
                   uv_strerror((int)nread));
        sl__conn_close(conn);
        return;
    }
    conn->last_active_ms = uv_now(conn->server->loop);
    const uint8_t *data = (const uint8_t *)buf->base;
    size_t len = (size_t)nread;
    while (!conn->closing && !conn->close_when_flushed) {
        int rc = sl__splitter_feed(&conn->splitter, &data, &len);
        if (rc < 0) {
            conn_read_error(conn, rc);
            return;
        }
        if (rc == SL__SPLIT_NEED_MORE)
            break;
        size_t frame_len, cap;
        uint8_t *payload = sl__splitter_take(&conn->splitter, &frame_len, &cap);
        conn->last_frame_len = frame_len;
        conn_enqueue(conn, payload, frame_len, cap);
    }
    if (!conn->closing && conn_over_limits(conn))
        sl__conn_stop_reading(conn);
}

void sl__conn_start_reading(sl_conn_t *conn)
{
    SL_ASSERT(!conn->closing);
    if (conn->reading)
        return;
    int rc = uv_read_start((uv_stream_t *)&conn->tcp, conn_alloc, conn_read);
    if (rc != 0) {
        SL_LOG(SL_LOG_WARN, "net", "read start failed peer=%s error=\"%s\"", conn->peer,
               uv_strerror(rc));
        sl__conn_close(conn);
        return;
    }
    conn->reading = true;
}

static void peer_name(sl_conn_t *conn)
{
    struct sockaddr_storage addr;
    int len = sizeof(addr);
    char host[48] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&addr, &len) == 0) {
        if (addr.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&addr, host, sizeof(host));
            port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&addr, host, sizeof(host));
            port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
        }
    }
    snprintf(conn->peer, sizeof(conn->peer), "%s:%d", host, port);
}

void sl__conn_accept(sl_listener_t *listener)
{
    sl_server_t *server = listener->server;
    sl_conn_t *conn = sl_calloc(1, sizeof(*conn));
    if (conn == NULL)
        return; /* the pending connection stays in the backlog; the next accept retries */
    conn->server = server;
    conn->writable_fd = -1;
    conn->listener_index = listener->index;
    sl__splitter_init(&conn->splitter, server->limits.request_bytes_max, &server->payload_cache);
    uv_tcp_init(server->loop, &conn->tcp);
    server->handles_open++;
    conn->next = server->conns;
    if (server->conns != NULL)
        server->conns->prev = conn;
    server->conns = conn;
    server->conns_count++;
    listener->info.connections++;
    listener->info.connections_accepted++;
    if (uv_accept((uv_stream_t *)&listener->tcp, (uv_stream_t *)&conn->tcp) != 0) {
        sl__conn_close(conn);
        return;
    }
    peer_name(conn);
    if (server->conns_count > server->limits.connections_max) {
        SL_LOG_RATELIMITED(SL_LOG_WARN, "net", "too many connections peer=%s max=%zu", conn->peer,
                           server->limits.connections_max);
        sl__conn_close(conn);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    conn->last_active_ms = uv_now(server->loop);
    sl__conn_start_reading(conn);
}

size_t sl_conn_listener_index(const sl_conn_t *conn)
{
    return conn->listener_index;
}

const char *sl_conn_peer(const sl_conn_t *conn)
{
    return conn->peer;
}

static void frame_done(sl_conn_t *conn, sl_frame_t *frame)
{
    SL_ASSERT(conn->bytes_in_flight >= frame->len + frame->response_len);
    conn->bytes_in_flight -= frame->len + frame->response_len;
    conn->server->bytes_in_flight -= frame->len;
    conn->frames_in_flight--;
    frame_free(&conn->server->payload_cache, frame);
}

/* Reading stopped at a limit of bytes or requests in flight resumes once answers are out. */
static void conn_resume_reading(sl_conn_t *conn)
{
    if (!conn->reading && !conn_over_limits(conn) && !conn->server->stopping &&
        !conn->close_when_flushed)
        sl__conn_start_reading(conn);
    sl__server_resume_reading(conn->server);
}

static void conn_write_done(uv_write_t *req, int status)
{
    conn_write_t *w = SL_CONTAINER_OF(req, conn_write_t, req);
    sl_conn_t *conn = SL_CONTAINER_OF((uv_tcp_t *)req->handle, sl_conn_t, tcp);
    sl_frame_t *next;
    for (sl_frame_t *f = w->frames; f != NULL; f = next) { /* none: pieces of conn->sending */
        next = f->next;
        frame_done(conn, f);
    }
    sl_free(w);
    conn->writes_pending--;
    if (conn->closing)
        return;
    if (status != 0) {
        SL_LOG(SL_LOG_DEBUG, "net", "write failed peer=%s error=\"%s\"", conn->peer,
               uv_strerror(status));
        sl__conn_close(conn);
        return;
    }
    conn->last_active_ms = uv_now(conn->server->loop);
    if (conn->sending != NULL && conn->writes_pending == 0) {
        conn_flush(conn); /* the next piece waited for these bytes to be out */
        if (conn->closing)
            return;
    }
    if (conn->close_when_flushed && conn->writes_pending == 0 && conn->queue_head == NULL &&
        conn->sending == NULL) {
        sl__conn_close(conn);
        return;
    }
    conn_resume_reading(conn);
}

static bool frame_has_file(const sl_frame_t *frame)
{
    for (size_t i = 0; i < frame->pieces_count; i++)
        if (frame->pieces[i].fd >= 0)
            return true;
    return false;
}

/* Queues bufs with uv_write; frames (chained by next, done when the write is) is NULL for the
 * memory pieces of conn->sending. */
static int conn_write(sl_conn_t *conn, sl_frame_t *frames, const uv_buf_t *bufs, size_t count)
{
    conn_write_t *w = sl_malloc(sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    w->frames = frames;
    int rc = uv_write(&w->req, (uv_stream_t *)&conn->tcp, bufs, (unsigned)count, conn_write_done);
    if (rc != 0) {
        sl_free(w);
        return rc;
    }
    conn->writes_pending++;
    return 0;
}

static void conn_on_writable(uv_poll_t *poll, int status, int events)
{
    (void)events; /* only UV_WRITABLE is asked for */
    sl_conn_t *conn = SL_CONTAINER_OF(poll, sl_conn_t, writable);
    uv_poll_stop(poll);
    if (conn->closing)
        return;
    if (status != 0) {
        SL_LOG(SL_LOG_DEBUG, "net", "writable watch failed peer=%s error=\"%s\"", conn->peer,
               uv_strerror(status));
        sl__conn_close(conn);
        return;
    }
    conn_flush(conn);
}

/* Asks to hear when the socket has room again. libuv's watcher owns the socket fd, so the
 * uv_poll_t watches a dup of it (epoll registers each descriptor of the one socket apart). */
static int conn_wait_writable(sl_conn_t *conn, int sock)
{
    if (conn->writable_fd < 0) {
        int fd = dup(sock);
        if (fd < 0)
            return -errno;
        int rc = uv_poll_init(conn->server->loop, &conn->writable, fd);
        if (rc != 0) {
            (void)close(fd); /* never used */
            return rc;
        }
        conn->writable_fd = fd;
    }
    return uv_poll_start(&conn->writable, UV_WRITABLE, conn_on_writable);
}

/* Memory pieces from frame->piece_next on, up to the next file range: whatever the socket takes
 * now is written at once (uv_try_write), the rest is queued with uv_write. */
static int send_memory_pieces(sl_conn_t *conn, sl_frame_t *frame)
{
    uv_buf_t bufs[SL_CONN_WRITE_BUFS_MAX];
    size_t count = 0;
    for (size_t i = frame->piece_next; i < frame->pieces_count && count < SL_ARRAY_LEN(bufs); i++) {
        const sl_response_piece_t *piece = &frame->pieces[i];
        if (piece->fd >= 0)
            break;
        bufs[count++] = uv_buf_init((char *)(uintptr_t)piece->ptr, (unsigned)piece->len);
    }
    SL_ASSERT(count > 0);
    int written = uv_try_write((uv_stream_t *)&conn->tcp, bufs, (unsigned)count);
    if (written == UV_EAGAIN)
        written = 0;
    if (written < 0)
        return written;
    size_t left = (size_t)written, first = 0;
    while (first < count && left >= bufs[first].len)
        left -= bufs[first++].len;
    if (first < count) {
        bufs[first].base += left;
        bufs[first].len -= left;
        int rc = conn_write(conn, NULL, &bufs[first], count - first);
        if (rc != 0)
            return rc;
    }
    frame->piece_next += count;
    return 0;
}

/* Sends the file range at frame->piece_next. Returns 1 when all of it is out, 0 when the socket is
 * full (the writable watcher resumes), or an error. */
static int send_file_piece(sl_conn_t *conn, sl_frame_t *frame)
{
    sl_response_piece_t *piece = &frame->pieces[frame->piece_next];
    uv_os_fd_t sock;
    int rc = uv_fileno((const uv_handle_t *)&conn->tcp, &sock);
    if (rc != 0)
        return rc;
    while (piece->len > 0) {
        off_t pos = (off_t)piece->pos;
        ssize_t n = sendfile(sock, piece->fd, &pos, SL_MIN(piece->len, SL_CONN_SENDFILE_BYTES_MAX));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return conn_wait_writable(conn, sock);
        if (n < 0)
            return -errno;
        if (n == 0) /* the file is shorter than the range promised: nothing else can fill it */
            return SL_ECORRUPT;
        piece->pos += n;
        piece->len -= (size_t)n;
        conn->last_active_ms = uv_now(conn->server->loop);
    }
    frame->piece_next++;
    return 1;
}

/* Writes conn->sending piece after piece. Returns true once all of it is handed to the socket;
 * false while it waits (earlier uv_writes, or room in the socket) or when the connection closed. */
static bool send_pieces(sl_conn_t *conn)
{
    sl_frame_t *frame = conn->sending;
    while (frame->piece_next < frame->pieces_count) {
        int rc;
        if (frame->pieces[frame->piece_next].fd < 0) {
            rc = send_memory_pieces(conn, frame);
        } else if (conn->writes_pending > 0) {
            return false; /* conn_write_done resumes once the bytes before the range are out */
        } else {
            rc = send_file_piece(conn, frame);
            if (rc == 0)
                return false;
        }
        if (rc < 0) {
            SL_LOG(SL_LOG_DEBUG, "net", "send failed peer=%s error=\"%s\"", conn->peer,
                   sl_strerror(rc));
            sl__conn_close(conn);
            return false;
        }
    }
    return conn->writes_pending == 0;
}

/* Answers gathered into one uv_write (one writev), in queue order. */
typedef struct {
    uv_buf_t bufs[SL_CONN_WRITE_BUFS_MAX];
    size_t count;
    sl_frame_t *head, *tail;
} write_batch_t;

static size_t frame_bufs_count(const sl_frame_t *frame)
{
    return frame->pieces == NULL ? 1 : frame->pieces_count;
}

/* Writes what the batch holds: as much as the socket takes now with uv_try_write (no write request,
 * no watcher change: libuv re-arms the socket's epoll registration after every uv_write), the rest
 * with uv_write. Frames whose bytes are all out are done at once. Returns false when the
 * connection had to be closed. */
static bool write_batch_flush(sl_conn_t *conn, write_batch_t *batch)
{
    if (batch->head == NULL)
        return true;
    int rc = uv_try_write((uv_stream_t *)&conn->tcp, batch->bufs, (unsigned)batch->count);
    if (rc == UV_EAGAIN)
        rc = 0;
    size_t first = 0; /* the first buffer not entirely written */
    if (rc >= 0) {
        size_t left = (size_t)rc;
        while (first < batch->count && left >= batch->bufs[first].len)
            left -= batch->bufs[first++].len;
        if (first < batch->count) {
            batch->bufs[first].base += left;
            batch->bufs[first].len -= left;
        }
        /* Frames whose buffers are all written are done now. */
        size_t done_bufs = 0;
        while (batch->head != NULL && done_bufs + frame_bufs_count(batch->head) <= first) {
            sl_frame_t *f = batch->head;
            done_bufs += frame_bufs_count(f);
            batch->head = f->next;
            frame_done(conn, f);
        }
        rc = batch->head == NULL
                 ? 0
                 : conn_write(conn, batch->head, batch->bufs + first, batch->count - first);
    }
    if (rc != 0) {
        sl_frame_t *next;
        for (sl_frame_t *f = batch->head; f != NULL; f = next) {
            next = f->next;
            frame_done(conn, f);
        }
    }
    batch->head = batch->tail = NULL;
    batch->count = 0;
    if (rc != 0)
        sl__conn_close(conn);
    return rc == 0;
}

static void write_batch_add(write_batch_t *batch, sl_frame_t *frame)
{
    if (frame->pieces == NULL)
        batch->bufs[batch->count++] =
            uv_buf_init((char *)frame->response, (unsigned)frame->response_len);
    for (size_t i = 0; i < frame->pieces_count; i++)
        batch->bufs[batch->count++] =
            uv_buf_init((char *)(uintptr_t)frame->pieces[i].ptr, (unsigned)frame->pieces[i].len);
    frame->next = NULL;
    if (batch->tail != NULL)
        batch->tail->next = frame;
    else
        batch->head = frame;
    batch->tail = frame;
}

/* Writes every answered frame at the head of the queue; stops at the first unanswered one, and
 * behind a frame still being sent piece by piece. Consecutive answers in memory leave in one
 * uv_write (a group commit answers a dozen Produce requests at once: one writev, not a dozen). */
static void conn_flush(sl_conn_t *conn)
{
    if (conn->sending != NULL) {
        if (!send_pieces(conn))
            return;
        frame_done(conn, conn->sending);
        conn->sending = NULL;
    }
    write_batch_t batch;
    batch.count = 0;
    batch.head = batch.tail = NULL;
    while (conn->queue_head != NULL && conn->queue_head->answered && !conn->closing) {
        sl_frame_t *frame = conn->queue_head;
        conn->queue_head = frame->next;
        if (conn->queue_head == NULL)
            conn->queue_tail = NULL;
        frame->next = NULL;
        if (frame->close_after) {
            if (!write_batch_flush(conn, &batch)) {
                frame_done(conn, frame);
                return;
            }
            frame_done(conn, frame);
            conn->close_when_flushed = true;
            sl__conn_stop_reading(conn);
            break;
        }
        if (frame->response == NULL) { /* acks=0: nothing to write */
            frame_done(conn, frame);
            continue;
        }
        if (frame->pieces != NULL &&
            (frame_has_file(frame) || frame->pieces_count > SL_CONN_WRITE_BUFS_MAX)) {
            if (!write_batch_flush(conn, &batch)) {
                frame_done(conn, frame);
                return;
            }
            conn->sending = frame;
            if (!send_pieces(conn))
                return;
            conn->sending = NULL;
            frame_done(conn, frame);
            continue;
        }
        if (batch.count + frame_bufs_count(frame) > SL_CONN_WRITE_BUFS_MAX &&
            !write_batch_flush(conn, &batch)) {
            frame_done(conn, frame);
            return;
        }
        write_batch_add(&batch, frame);
    }
    if (!write_batch_flush(conn, &batch))
        return;
    if (conn->close_when_flushed && conn->writes_pending == 0 && !conn->closing &&
        conn->sending == NULL) {
        sl__conn_close(conn);
        return;
    }
    if (!conn->closing)
        conn_resume_reading(conn); /* answers written at once have no write callback to do it */
}

/* Answers are written at the end of the loop iteration that produced them
 * (sl__server_flush_answers, from a uv_check_t), so that every answer a burst of completions
 * produced goes out in one write. */
static void conn_schedule_flush(sl_conn_t *conn)
{
    if (conn->flush_queued || conn->closing)
        return;
    conn->flush_queued = true;
    sl_server_t *server = conn->server;
    conn->flush_next = server->flush_head;
    server->flush_head = conn;
    if (conn->flush_next == NULL)
        sl__server_flush_wanted(server);
}

void sl__conn_flush_queued(sl_conn_t *conn)
{
    SL_ASSERT(conn->flush_queued);
    conn->flush_queued = false;
    conn->flush_next = NULL;
    if (!conn->closing)
        conn_flush(conn);
}

static bool frame_orphaned(sl_frame_t *frame)
{
    if (frame->conn != NULL)
        return false;
    frame_free(NULL, frame);
    return true;
}

void sl_frame_respond(sl_frame_t *frame, uint8_t *response, size_t response_len)
{
    SL_ASSERT(!frame->answered);
    SL_ASSERT(response != NULL);
    frame->response = response;
    frame->response_len = response_len;
    frame->answered = true;
    if (frame_orphaned(frame))
        return;
    frame->conn->bytes_in_flight += response_len;
    conn_schedule_flush(frame->conn);
}

#ifndef NDEBUG
static size_t pieces_len(const sl_response_piece_t *pieces, size_t count)
{
    size_t sum = 0;
    for (size_t i = 0; i < count; i++)
        sum += pieces[i].len;
    return sum;
}
#endif

void sl_frame_respond_pieces(sl_frame_t *frame, uint8_t *response, sl_response_piece_t *pieces,
                             size_t pieces_count, size_t response_len)
{
    SL_ASSERT(!frame->answered);
    SL_ASSERT(response != NULL && pieces != NULL && pieces_count > 0);
    SL_DASSERT(pieces_len(pieces, pieces_count) == response_len);
    frame->pieces = pieces;
    frame->pieces_count = pieces_count;
    sl_frame_respond(frame, response, response_len);
}

void sl_frame_respond_none(sl_frame_t *frame)
{
    SL_ASSERT(!frame->answered);
    frame->answered = true;
    if (frame_orphaned(frame))
        return;
    conn_schedule_flush(frame->conn);
}

void sl_frame_close_connection(sl_frame_t *frame)
{
    SL_ASSERT(!frame->answered);
    frame->answered = true;
    frame->close_after = true;
    if (frame_orphaned(frame))
        return;
    conn_schedule_flush(frame->conn);
}
