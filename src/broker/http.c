/* http: /metrics, /healthz and /readyz on libmicrohttpd, driven by the broker's libuv loop.
 * Each listener is one MHD daemon in external mode with MHD_USE_EPOLL: its epoll fd is watched by
 * a uv_poll_t (readable = some socket of the daemon has work), and a uv_timer_t fires when MHD's
 * own deadline (idle connections, data already buffered) says MHD_run is due. Nothing here runs on
 * another thread, so the handlers read broker state directly.
 * Invariants: connections, request sizes and idle time are bounded by MHD options (HTTP_*_MAX
 * below); after every MHD_run the timer is re-armed from MHD_get_timeout, as MHD requires of an
 * external loop; MHD_stop_daemon runs only once the poll handle on its epoll fd has closed. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <microhttpd.h>

#include "broker_int.h"
#include "http.h"
#include "replica_manager.h"

#define HTTP_CONNECTIONS_MAX 64               /* scrapers and probes: a handful in practice */
#define HTTP_CONNECTION_BYTES_MAX (16 * 1024) /* request line + headers; larger gets 431 */
#define HTTP_IDLE_TIMEOUT_S 10
#define HTTP_METRICS_BYTES_MAX (256u * 1024 * 1024)
#define HEARTBEAT_PERIOD_MS 1000
#define HEARTBEAT_STALE_MS 10000 /* /healthz fails when the loop missed this long a stretch */

typedef struct http_listener {
    struct MHD_Daemon *daemon;
    uv_poll_t poll;
    uv_timer_t timer;
    struct sl_http *http;
    bool poll_open;
} http_listener_t;

struct sl_http {
    sl_broker_t *broker;
    http_listener_t listeners[SL_LISTENERS_MAX];
    size_t listeners_count;
    uv_timer_t heartbeat;
    uint64_t heartbeat_ms; /* the last time the loop ran the heartbeat timer */
    size_t handles_open;
    void (*done)(void *data);
    void *done_data;
};

static void rearm(http_listener_t *l);

static void drive(http_listener_t *l)
{
    SL_ASSERT(l->daemon != NULL);
    SL_ASSERT(l->poll_open); /* runs only from its own poll, timer or the heartbeat */
    if (MHD_run(l->daemon) != MHD_YES)
        SL_LOG_RATELIMITED(SL_LOG_WARN, "http", "MHD_run failed daemons=%zu",
                           l->http->listeners_count);
    rearm(l);
}

static void on_timer(uv_timer_t *timer)
{
    drive(timer->data);
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
    (void)events; /* MHD learns which sockets are ready from its own epoll set */
    if (status < 0)
        SL_LOG_RATELIMITED(SL_LOG_WARN, "http", "poll error=\"%s\"", uv_strerror(status));
    drive(poll->data);
}

static void rearm(http_listener_t *l)
{
    MHD_UNSIGNED_LONG_LONG timeout_ms = 0;
    if (MHD_get_timeout(l->daemon, &timeout_ms) == MHD_YES)
        uv_timer_start(&l->timer, on_timer, (uint64_t)timeout_ms, 0);
    else
        uv_timer_stop(&l->timer);
}

/* Also runs every daemon once a second: MHD re-adds its listening socket to its epoll set only
 * inside a run after a connection slot freed, and when that slot freed in the last run nothing
 * else would wake it (no socket event, no MHD deadline), so the listener would stay deaf. */
static void on_heartbeat(uv_timer_t *timer)
{
    sl_http_t *http = timer->data;
    http->heartbeat_ms = sl_clock_monotonic_ms();
    for (size_t i = 0; i < http->listeners_count; i++)
        if (http->listeners[i].poll_open)
            drive(&http->listeners[i]);
}

static void free_body(void *body)
{
    sl_free(body);
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                                             MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result send_metrics(sl_http_t *http, struct MHD_Connection *c)
{
    sl_buf_t body;
    sl_buf_init(&body, HTTP_METRICS_BYTES_MAX);
    int rc = sl__http_metrics_write(http->broker, &body);
    if (rc != 0) {
        SL_LOG_RATELIMITED(SL_LOG_WARN, "http", "cannot write metrics error=\"%s\"",
                           sl_strerror(rc));
        sl_buf_deinit(&body);
        return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot write metrics\n");
    }
    /* The response takes the bytes and frees them with sl_free once written. */
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(body.len, body.ptr, free_body);
    if (r == NULL) {
        sl_buf_deinit(&body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result result = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return result;
}

/* /readyz: why the broker is not ready yet, NULL when it is. In quorum mode a started broker is
 * ready only once it has caught up: the metadata log up to the high watermark its leader told it,
 * and every partition it hosts up to what that partition's leader had committed. So a rolling
 * restart's next pod (its PodDisruptionBudget follows readiness) waits until this one is a full
 * replica again, not merely listening. */
const char *sl__http_not_ready_reason(sl_broker_t *broker)
{
    if (broker->stopping)
        return "stopping\n";
    if (!broker->ready)
        return "starting\n";
    if (broker->quorum != NULL) {
        sl_quorum_status_t q;
        sl_metadata_quorum_status(broker->quorum, &q);
        if (!q.caught_up)
            return "catching up: metadata log\n";
    }
    if (broker->replicas != NULL && !sl_replica_manager_caught_up(broker->replicas))
        return "catching up: partitions\n";
    if (broker->cluster != NULL && !sl__cluster_serving(broker->cluster))
        return "not yet registered and unfenced by the controller\n";
    return NULL;
}

/* Every route answers on the first call, before any body: GET and HEAD carry none, and any other
 * method is refused without reading what it sends. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **request_state)
{
    (void)version, (void)upload, (void)upload_size, (void)request_state; /* unused by design */
    sl_http_t *http = cls;
    sl_broker_t *broker = http->broker;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    if (strcmp(url, "/metrics") == 0)
        return send_metrics(http, c);
    if (strcmp(url, "/healthz") == 0) {
        bool turning = sl_clock_monotonic_ms() - http->heartbeat_ms < HEARTBEAT_STALE_MS;
        return turning ? send_text(c, MHD_HTTP_OK, "ok\n")
                       : send_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "event loop stalled\n");
    }
    if (strcmp(url, "/readyz") == 0) {
        const char *waiting = sl__http_not_ready_reason(broker);
        if (waiting == NULL)
            return send_text(c, MHD_HTTP_OK, "ready\n");
        return send_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, waiting);
    }
    return send_text(c, MHD_HTTP_NOT_FOUND, "not found: /metrics /healthz /readyz\n");
}

/* MHD's messages, rate limited, into our log (fmt is MHD's printf format). */
SL_PRINTF(2, 0) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls; /* one logger for every daemon */
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        msg[--len] = '\0';
    SL_LOG_RATELIMITED(SL_LOG_WARN, "http", "libmicrohttpd: %s", msg);
}

static int resolve(const sl_listener_config_t *cfg, struct sockaddr_storage *addr)
{
    memset(addr, 0, sizeof(*addr));
    if (cfg->host[0] == '\0')
        return uv_ip4_addr("0.0.0.0", cfg->port, (struct sockaddr_in *)addr);
    if (uv_ip4_addr(cfg->host, cfg->port, (struct sockaddr_in *)addr) == 0)
        return 0;
    if (uv_ip6_addr(cfg->host, cfg->port, (struct sockaddr_in6 *)addr) == 0)
        return 0;
    return -EADDRNOTAVAIL; /* a name would need a blocking lookup; listen on an address */
}

static int listener_start(sl_http_t *http, const sl_listener_config_t *cfg)
{
    struct sockaddr_storage addr;
    int rc = resolve(cfg, &addr);
    if (rc != 0)
        return rc;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    SL_ASSERT(http->listeners_count < SL_LISTENERS_MAX); /* the config's bound */
    http_listener_t *l = &http->listeners[http->listeners_count];
    *l = (http_listener_t){.http = http};
    /* The logger goes first so that even option errors reach our log. */
    l->daemon = MHD_start_daemon(
        flags, cfg->port, NULL, NULL, on_request, http, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS_MAX,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_BYTES_MAX,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S, MHD_OPTION_END);
    if (l->daemon == NULL)
        return -EADDRINUSE; /* MHD logged why (through mhd_log) */
    http->listeners_count++;
    const union MHD_DaemonInfo *epoll = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *port = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_BIND_PORT);
    SL_ASSERT(epoll != NULL && port != NULL);
    uv_timer_init(http->broker->loop, &l->timer);
    l->timer.data = l;
    http->handles_open++;
    rc = uv_poll_init(http->broker->loop, &l->poll, epoll->epoll_fd);
    if (rc != 0)
        return rc;
    l->poll.data = l;
    l->poll_open = true;
    http->handles_open++;
    rc = uv_poll_start(&l->poll, UV_READABLE, on_poll);
    if (rc != 0)
        return rc;
    rearm(l);
    SL_LOG(SL_LOG_INFO, "http", "http listening host=%s port=%u",
           cfg->host[0] ? cfg->host : "0.0.0.0", (unsigned)port->port);
    return 0;
}

int sl__http_start(sl_broker_t *broker, sl_http_t **out)
{
    const sl_config_t *cfg = broker->cfg;
    sl_http_t *http = sl_calloc(1, sizeof(*http));
    if (http == NULL)
        return -ENOMEM;
    http->broker = broker;
    uv_timer_init(broker->loop, &http->heartbeat);
    http->heartbeat.data = http;
    http->handles_open = 1;
    http->heartbeat_ms = sl_clock_monotonic_ms();
    uv_timer_start(&http->heartbeat, on_heartbeat, HEARTBEAT_PERIOD_MS, HEARTBEAT_PERIOD_MS);
    *out = http;
    for (size_t i = 0; i < cfg->http_listeners_count; i++) {
        const sl_listener_config_t *l = &cfg->http_listeners[i];
        int rc = listener_start(http, l);
        if (rc != 0) {
            SL_LOG(SL_LOG_ERROR, "http", "cannot listen host=%s port=%u error=\"%s\"", l->host,
                   (unsigned)l->port, sl_strerror(rc));
            return rc;
        }
    }
    return 0;
}

/* One more handle closed; the last one frees the server. */
static void closed_one(sl_http_t *http)
{
    SL_ASSERT(http->handles_open > 0);
    if (--http->handles_open > 0)
        return;
    for (size_t i = 0; i < http->listeners_count; i++)
        if (http->listeners[i].daemon != NULL)
            MHD_stop_daemon(http->listeners[i].daemon); /* its poll never opened */
    void (*done)(void *) = http->done;
    void *data = http->done_data;
    sl_free(http);
    done(data);
}

static void listener_poll_closed(uv_handle_t *handle)
{
    http_listener_t *l = handle->data;
    MHD_stop_daemon(l->daemon); /* its epoll fd is no longer watched */
    l->daemon = NULL;
    closed_one(l->http);
}

static void listener_timer_closed(uv_handle_t *handle)
{
    http_listener_t *l = handle->data;
    closed_one(l->http);
}

static void heartbeat_closed(uv_handle_t *handle)
{
    closed_one(handle->data);
}

void sl__http_close(sl_http_t *http, void (*done)(void *data), void *data)
{
    SL_ASSERT(done != NULL);
    SL_ASSERT(http->done == NULL && http->handles_open > 0); /* closed once */
    http->done = done;
    http->done_data = data;
    for (size_t i = 0; i < http->listeners_count; i++) {
        http_listener_t *l = &http->listeners[i];
        uv_close((uv_handle_t *)&l->timer, listener_timer_closed);
        if (l->poll_open)
            uv_close((uv_handle_t *)&l->poll, listener_poll_closed);
    }
    uv_close((uv_handle_t *)&http->heartbeat, heartbeat_closed);
}
