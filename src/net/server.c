/* server: listeners, the set of open connections, the idle sweep and the graceful stop.
 * Invariant: handles_open counts every libuv handle the server owns that has not finished
 * closing; the stopped callback runs only when it reaches zero. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "net_int.h"

static void idle_sweep(uv_timer_t *timer);

/* Runs after the poll phase: every connection that got answers this iteration writes them (several
 * answers of one connection in one write). Connections queued by the flushes themselves (a write
 * callback answering more) are taken in the same pass. */
static void flush_answers(uv_check_t *check)
{
    sl_server_t *server = check->data;
    while (server->flush_head != NULL) {
        sl_conn_t *conn = server->flush_head;
        server->flush_head = conn->flush_next;
        sl__conn_flush_queued(conn);
    }
    uv_check_stop(&server->flush_check);
    uv_idle_stop(&server->flush_idle);
}

/* An active idle handle makes the loop poll with a zero timeout, so answers given before the poll
 * phase (from a timer: a Fetch whose max.wait.ms ran out) are not held back while the loop blocks
 * until the check phase. Its callback has nothing to do. */
static void flush_idle_noop(uv_idle_t *idle)
{
    (void)idle;
}

void sl__server_flush_wanted(sl_server_t *server)
{
    uv_check_start(&server->flush_check, flush_answers);
    uv_idle_start(&server->flush_idle, flush_idle_noop);
}

int sl_server_create(uv_loop_t *loop, const sl_server_limits_t *limits, sl_frame_cb on_frame,
                     void *data, sl_server_t **out)
{
    SL_ASSERT(limits->request_bytes_max > 0);
    SL_ASSERT(on_frame != NULL);
    sl_server_t *server = sl_calloc(1, sizeof(*server));
    if (server == NULL)
        return -ENOMEM;
    server->loop = loop;
    server->limits = *limits;
    server->on_frame = on_frame;
    server->data = data;
    uv_timer_init(loop, &server->idle_timer);
    uv_timer_init(loop, &server->drain_timer);
    uv_check_init(loop, &server->flush_check);
    uv_idle_init(loop, &server->flush_idle);
    server->idle_timer.data = server;
    server->drain_timer.data = server;
    server->flush_check.data = server;
    server->flush_idle.data = server;
    server->handles_open = 4;
    if (limits->idle_timeout_ms > 0) {
        uint64_t period = SL_MAX(SL_MIN(limits->idle_timeout_ms / 4, 1000), 10);
        uv_timer_start(&server->idle_timer, idle_sweep, period, period);
    }
    *out = server;
    return 0;
}

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *addr)
{
    if (host[0] == '\0')
        return uv_ip4_addr("0.0.0.0", port, (struct sockaddr_in *)addr);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)addr) == 0)
        return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)addr) == 0)
        return 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
        return -EADDRNOTAVAIL;
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    if (res->ai_family == AF_INET)
        ((struct sockaddr_in *)addr)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)addr)->sin6_port = htons(port);
    freeaddrinfo(res);
    return 0;
}

static void on_connection(uv_stream_t *stream, int status)
{
    sl_listener_t *listener = SL_CONTAINER_OF((uv_tcp_t *)stream, sl_listener_t, tcp);
    if (status != 0) {
        SL_LOG_RATELIMITED(SL_LOG_WARN, "net", "accept failed listener=%s error=\"%s\"",
                           listener->info.name, uv_strerror(status));
        return;
    }
    sl__conn_accept(listener);
}

static void listener_bound_address(sl_listener_t *listener)
{
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    int rc = uv_tcp_getsockname(&listener->tcp, (struct sockaddr *)&bound, &len);
    SL_ASSERT(rc == 0);
    if (bound.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&bound;
        uv_ip6_name(in6, listener->info.host, sizeof(listener->info.host));
        listener->info.port = ntohs(in6->sin6_port);
    } else {
        struct sockaddr_in *in4 = (struct sockaddr_in *)&bound;
        uv_ip4_name(in4, listener->info.host, sizeof(listener->info.host));
        listener->info.port = ntohs(in4->sin_port);
    }
}

int sl_server_listen(sl_server_t *server, const char *name, const char *host, uint16_t port)
{
    SL_ASSERT(!server->stopping);
    if (server->listeners_count >= SL_LISTENERS_MAX)
        return SL_ELIMIT;
    struct sockaddr_storage addr;
    int rc = resolve(host, port, &addr);
    if (rc != 0)
        return rc;
    sl_listener_t *listener = &server->listeners[server->listeners_count];
    *listener = (sl_listener_t){.server = server, .index = server->listeners_count};
    listener->info.name = name;
    uv_tcp_init(server->loop, &listener->tcp);
    server->handles_open++;
    server->listeners_count++;
    rc = uv_tcp_bind(&listener->tcp, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&listener->tcp, 1024, on_connection);
    if (rc != 0)
        return rc; /* the handle is closed by sl_server_stop like the others */
    listener_bound_address(listener);
    SL_LOG(SL_LOG_INFO, "net", "listening name=%s host=%s port=%u", name, listener->info.host,
           (unsigned)listener->info.port);
    return 0;
}

size_t sl_server_listener_count(const sl_server_t *server)
{
    return server->listeners_count;
}

const sl_listener_info_t *sl_server_listener(const sl_server_t *server, size_t index)
{
    SL_ASSERT(index < server->listeners_count);
    return &server->listeners[index].info;
}

static void idle_sweep(uv_timer_t *timer)
{
    sl_server_t *server = timer->data;
    uint64_t now = uv_now(server->loop);
    sl__payload_cache_sweep(&server->payload_cache);
    sl_conn_t *next;
    for (sl_conn_t *c = server->conns; c != NULL; c = next) {
        next = c->next;
        if (c->frames_in_flight == 0 && c->writes_pending == 0 &&
            now - c->last_active_ms >= server->limits.idle_timeout_ms) {
            SL_LOG(SL_LOG_DEBUG, "net", "closing idle connection peer=%s idle_ms=%" PRIu64, c->peer,
                   now - c->last_active_ms);
            sl__conn_close(c);
        }
    }
}

void sl__server_resume_reading(sl_server_t *server)
{
    if (server->stopping || server->bytes_in_flight >= server->limits.server_bytes_in_flight_max)
        return;
    for (sl_conn_t *c = server->conns; c != NULL; c = c->next)
        if (!c->reading && !c->closing && !c->close_when_flushed &&
            c->bytes_in_flight < server->limits.conn_bytes_in_flight_max &&
            c->frames_in_flight < SL_CONN_REQUESTS_IN_FLIGHT_MAX) {
            sl__conn_start_reading(c);
        }
}

static void server_handle_closed_cb(uv_handle_t *handle)
{
    sl__server_handle_closed(handle->data);
}

void sl__server_handle_closed(sl_server_t *server)
{
    SL_ASSERT(server->handles_open > 0);
    server->handles_open--;
    if (server->handles_open == 0 && server->stopped_cb != NULL)
        server->stopped_cb(server, server->stopped_data);
}

static void close_everything(sl_server_t *server)
{
    uv_timer_stop(&server->drain_timer);
    sl_conn_t *next;
    for (sl_conn_t *c = server->conns; c != NULL; c = next) {
        next = c->next;
        sl__conn_close(c);
    }
    uv_close((uv_handle_t *)&server->idle_timer, server_handle_closed_cb);
    uv_close((uv_handle_t *)&server->drain_timer, server_handle_closed_cb);
    uv_close((uv_handle_t *)&server->flush_check, server_handle_closed_cb);
    uv_close((uv_handle_t *)&server->flush_idle, server_handle_closed_cb);
}

static void drain_check(uv_timer_t *timer)
{
    sl_server_t *server = timer->data;
    bool drained = true;
    for (sl_conn_t *c = server->conns; c != NULL && drained; c = c->next)
        drained = sl__conn_is_drained(c);
    if (drained || uv_now(server->loop) >= server->drain_deadline_ms) {
        if (!drained)
            SL_LOG(SL_LOG_WARN, "net", "drain timed out connections=%zu", server->conns_count);
        close_everything(server);
    }
}

void sl_server_stop(sl_server_t *server, uint64_t drain_timeout_ms, sl_server_stopped_cb done_cb,
                    void *data)
{
    SL_ASSERT(!server->stopping);
    server->stopping = true;
    server->stopped_cb = done_cb;
    server->stopped_data = data;
    for (size_t i = 0; i < server->listeners_count; i++) {
        server->listeners[i].tcp.data = server;
        uv_close((uv_handle_t *)&server->listeners[i].tcp, server_handle_closed_cb);
    }
    uv_timer_stop(&server->idle_timer);
    for (sl_conn_t *c = server->conns; c != NULL; c = c->next)
        sl__conn_stop_reading(c);
    server->drain_deadline_ms = uv_now(server->loop) + drain_timeout_ms;
    uv_timer_start(&server->drain_timer, drain_check, 0, 10);
}

void sl_server_destroy(sl_server_t *server)
{
    if (server == NULL)
        return;
    SL_ASSERT(server->conns == NULL);
    sl__payload_cache_trim(&server->payload_cache);
    sl_free(server);
}
