/* peer: one outbound Kafka connection per remote node, shared by every Raft group.
 * A peer's life: DOWN -> RESOLVING (uv_getaddrinfo) -> CONNECTING -> HANDSHAKE (ApiVersions v3)
 * -> READY; any failure -> BACKOFF (doubling up to the cap) -> DOWN, and the next waiting request
 * connects again. Invariants: a request is in exactly one of the peer's waiting queue (not yet
 * written) or its connection's sent queue (written, answer due in that order); every request's
 * callback runs exactly once, never inside sl_peers_send; a connection being closed is detached
 * (conn->peer == NULL) and nothing reaches it again; peers is freed only when every handle it
 * opened has closed. */
#include "peer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sluice/limits.h"

typedef struct peer_request {
    struct peer_request *next;
    int16_t api_key, api_version;
    int32_t correlation_id;
    uint64_t deadline_ms;
    sl_peer_response_cb cb;
    void *data;
    sl_buf_t frame; /* the encoded request until it is written */
} peer_request_t;

typedef struct {
    uv_write_t req;
    sl_buf_t frame;
} peer_write_t;

typedef enum {
    PEER_DOWN = 0,
    PEER_RESOLVING,
    PEER_CONNECTING,
    PEER_HANDSHAKE,
    PEER_READY,
    PEER_BACKOFF,
} peer_state_t;

struct sl_peer;

typedef struct peer_conn {
    struct sl_peer *peer; /* NULL once detached: closing, nothing reaches it */
    sl_peers_t *peers;
    uv_tcp_t tcp;
    uv_connect_t connect;
    sl_buf_t rbuf;
    peer_request_t *sent_head, *sent_tail;
    int32_t handshake_correlation_id;
} peer_conn_t;

typedef struct {
    uv_getaddrinfo_t req;
    struct sl_peer *peer; /* NULL once the peer stopped waiting for it */
    sl_peers_t *peers;
} peer_resolve_t;

typedef struct sl_peer {
    sl_peers_t *peers;
    int32_t node_id;
    char host[256];
    uint16_t port;
    peer_state_t state;
    peer_conn_t *conn;
    peer_resolve_t *resolve;
    uv_timer_t timer; /* reconnect backoff and request deadlines */
    peer_request_t *wait_head, *wait_tail;
    size_t requests; /* waiting + sent */
    uint32_t backoff_ms;
    uint64_t retry_at_ms;
    int fail_status; /* a write failed inside sl_peers_send: the timer fails the connection */
    struct {
        int16_t min, max; /* max < 0: not served */
    } versions[SL_API_KEY_MAX + 1];
} sl_peer_t;

struct sl_peers {
    uv_loop_t *loop;
    sl_peers_config_t cfg;
    char client_id[32];
    sl_peer_t **nodes;
    size_t node_count;
    int32_t next_correlation_id;
    sl_arena_t arena; /* one decoded answer at a time */
    size_t handles_open;
    bool closing;
    void (*closed_cb)(void *data);
    void *closed_data;
};

/* ---- framing -----------------------------------------------------------------------------------
 */

int sl__peer_frame_request(sl_buf_t *out, int16_t api_key, int16_t api_version,
                           int32_t correlation_id, const char *client_id, const void *request)
{
    const sl_api_info_t *info = sl_api_info(api_key);
    if (info == NULL || api_version < info->version_min || api_version > info->version_max)
        return SL_EUNSUPPORTED;
    sl_request_header_t hdr = {.api_key = api_key,
                               .api_version = api_version,
                               .correlation_id = correlation_id,
                               .client_id = sl_slice_from_str(client_id)};
    size_t body = sl_message_size(info->request, api_version, request);
    size_t total = 4 + sl_request_header_size(&hdr) + body;
    if (total - 4 > INT32_MAX)
        return SL_ELIMIT;
    int rc = sl_buf_reserve(out, total);
    if (rc != 0)
        return rc;
    sl_writer_t w;
    sl_writer_init(&w, out->ptr + out->len, total);
    uint32_t size = (uint32_t)(total - 4);
    uint8_t prefix[4] = {(uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8),
                         (uint8_t)size};
    rc = sl_write_bytes(&w, prefix, 4);
    if (rc == 0)
        rc = sl_request_header_encode(&w, &hdr);
    if (rc == 0)
        rc = sl_message_encode(info->request, &w, api_version, request);
    if (rc != 0)
        return rc;
    SL_ASSERT(w.pos == out->ptr + out->len + total);
    out->len += total;
    return 0;
}

int64_t sl__peer_frame_complete(const uint8_t *data, size_t len, size_t max_bytes)
{
    if (len < 4)
        return 0;
    uint32_t size = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 |
                    (uint32_t)data[3];
    if (size < 4) /* not even a correlation id */
        return SL_EMALFORMED;
    if ((uint64_t)size + 4 > max_bytes)
        return SL_ELIMIT;
    return len >= (size_t)size + 4 ? (int64_t)size + 4 : 0;
}

int sl__peer_decode_response(const uint8_t *frame, size_t len, int16_t api_key, int16_t api_version,
                             int32_t expected_correlation_id, sl_arena_t *arena, void **body_out)
{
    const sl_api_info_t *info = sl_api_info(api_key);
    if (info == NULL || len < 4)
        return SL_EMALFORMED;
    sl_reader_t r;
    sl_reader_init(&r, frame + 4, len - 4);
    int32_t correlation_id;
    int rc = sl_response_header_decode(&r, api_key, api_version, &correlation_id);
    if (rc != 0)
        return rc;
    if (correlation_id != expected_correlation_id)
        return SL_EMALFORMED;
    void *body = sl_arena_alloc(arena, info->response_struct_size);
    if (body == NULL)
        return SL_ELIMIT;
    rc = sl_message_decode(info->response, &r, arena, api_version, body);
    if (rc != 0)
        return rc;
    *body_out = body;
    return 0;
}

/* ---- requests and timers -----------------------------------------------------------------------
 */

static void request_complete(peer_request_t *rq, int status, const void *body)
{
    sl_peer_response_cb cb = rq->cb;
    void *data = rq->data;
    sl_buf_deinit(&rq->frame);
    sl_free(rq);
    cb(data, status, body);
}

/* One handle (timer, socket) or resolver request finished closing; the last one frees peers. */
static void peers_release(sl_peers_t *peers)
{
    SL_ASSERT(peers->handles_open > 0);
    peers->handles_open--;
    if (!peers->closing || peers->handles_open > 0)
        return;
    void (*cb)(void *) = peers->closed_cb;
    void *data = peers->closed_data;
    sl_arena_deinit(&peers->arena);
    sl_free(peers->nodes);
    sl_free(peers);
    if (cb != NULL)
        cb(data);
}

static void peer_timer_cb(uv_timer_t *timer);

/* Arms the peer's one timer at its earliest deadline: the retry time in BACKOFF, a failure to
 * report, or the first request deadline. */
static void peer_arm(sl_peer_t *peer)
{
    if (peer->peers->closing)
        return;
    uint64_t at = UINT64_MAX;
    if (peer->state == PEER_BACKOFF)
        at = peer->retry_at_ms;
    if (peer->fail_status != 0)
        at = 0;
    for (peer_request_t *rq = peer->wait_head; rq != NULL; rq = rq->next)
        at = SL_MIN(at, rq->deadline_ms);
    if (peer->conn != NULL)
        for (peer_request_t *rq = peer->conn->sent_head; rq != NULL; rq = rq->next)
            at = SL_MIN(at, rq->deadline_ms);
    if (at == UINT64_MAX) {
        uv_timer_stop(&peer->timer);
        return;
    }
    uint64_t now = uv_now(peer->peers->loop);
    uv_timer_start(&peer->timer, peer_timer_cb, at > now ? at - now : 0, 0);
}

static void conn_closed(uv_handle_t *handle)
{
    peer_conn_t *conn = handle->data;
    sl_peers_t *peers = conn->peers;
    sl_buf_deinit(&conn->rbuf);
    sl_free(conn);
    peers_release(peers);
}

/* Detaches the peer's connection and closes it; its sent requests fail with status. The state is
 * set before any callback runs, so a callback that sends again only queues. */
static void conn_drop(sl_peer_t *peer, int status, peer_state_t next_state)
{
    peer_conn_t *conn = peer->conn;
    peer->conn = NULL;
    peer->state = next_state;
    if (next_state == PEER_BACKOFF) {
        peer->retry_at_ms = uv_now(peer->peers->loop) + peer->backoff_ms;
        uint32_t cap = SL_MAX(peer->peers->cfg.reconnect_backoff_max_ms, 1u);
        peer->backoff_ms = SL_MIN(peer->backoff_ms * 2, cap);
    }
    peer_request_t *sent = NULL;
    if (conn != NULL) {
        sent = conn->sent_head;
        conn->sent_head = conn->sent_tail = NULL;
        conn->peer = NULL;
        uv_close((uv_handle_t *)&conn->tcp, conn_closed);
    }
    while (sent != NULL) {
        peer_request_t *next = sent->next;
        SL_ASSERT(peer->requests > 0);
        peer->requests--;
        request_complete(sent, status, NULL);
        sent = next;
    }
}

static void peer_fail(sl_peer_t *peer, int status, const char *what)
{
    SL_LOG_RATELIMITED(SL_LOG_WARN, "replication",
                       "peer connection lost node=%d address=%s:%u during=%s error=\"%s\" "
                       "retry_ms=%u",
                       (int)peer->node_id, peer->host, (unsigned)peer->port, what,
                       sl_strerror(status), (unsigned)peer->backoff_ms);
    conn_drop(peer, status, PEER_BACKOFF);
    peer_arm(peer);
}

static void write_done(uv_write_t *req, int status)
{
    peer_write_t *w = SL_CONTAINER_OF(req, peer_write_t, req);
    peer_conn_t *conn = req->handle->data;
    sl_buf_deinit(&w->frame);
    sl_free(w);
    if (status < 0 && conn->peer != NULL)
        peer_fail(conn->peer, status, "write");
}

/* Hands a frame to the socket (ownership of its bytes moves to the write). */
static int conn_write(peer_conn_t *conn, sl_buf_t *frame)
{
    peer_write_t *w = sl_calloc(1, sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    w->frame = *frame;
    *frame = (sl_buf_t){0};
    uv_buf_t buf = uv_buf_init((char *)w->frame.ptr, (unsigned)w->frame.len);
    int rc = uv_write(&w->req, (uv_stream_t *)&conn->tcp, &buf, 1, write_done);
    if (rc != 0) {
        sl_buf_deinit(&w->frame);
        sl_free(w);
    }
    return rc;
}

static bool version_served(const sl_peer_t *peer, int16_t api_key, int16_t api_version)
{
    return api_key >= 0 && api_key <= SL_API_KEY_MAX && peer->versions[api_key].max >= 0 &&
           api_version >= peer->versions[api_key].min && api_version <= peer->versions[api_key].max;
}

/* READY: writes every waiting request in order. A request the peer does not serve fails (only
 * after the handshake, so never inside sl_peers_send: there the check is synchronous). */
static void peer_flush(sl_peer_t *peer)
{
    while (peer->state == PEER_READY && peer->wait_head != NULL && peer->fail_status == 0) {
        peer_request_t *rq = peer->wait_head;
        peer->wait_head = rq->next;
        if (peer->wait_head == NULL)
            peer->wait_tail = NULL;
        rq->next = NULL;
        if (!version_served(peer, rq->api_key, rq->api_version)) {
            peer->requests--;
            request_complete(rq, SL_EUNSUPPORTED, NULL);
            continue;
        }
        peer_conn_t *conn = peer->conn;
        int rc = conn_write(conn, &rq->frame);
        if (conn->sent_tail != NULL)
            conn->sent_tail->next = rq;
        else
            conn->sent_head = rq;
        conn->sent_tail = rq;
        if (rc != 0) /* reported from the timer: this may run inside sl_peers_send */
            peer->fail_status = rc;
    }
    peer_arm(peer);
}

/* ---- connecting --------------------------------------------------------------------------------
 */

static void conn_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    peer_conn_t *conn = handle->data;
    if (sl_buf_reserve(&conn->rbuf, 64 * SL_KiB) != 0) {
        *buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
        return;
    }
    *buf = uv_buf_init((char *)conn->rbuf.ptr + conn->rbuf.len,
                       (unsigned)SL_MIN(conn->rbuf.cap - conn->rbuf.len, (size_t)UINT32_MAX));
}

static void handshake_done(sl_peer_t *peer, const sl_api_versions_response_t *resp)
{
    for (size_t k = 0; k <= SL_API_KEY_MAX; k++)
        peer->versions[k].max = -1;
    for (int32_t i = 0; i < resp->api_keys_count; i++) {
        const sl_api_version_t *v = &resp->api_keys[i];
        if (v->api_key < 0 || v->api_key > SL_API_KEY_MAX)
            continue;
        peer->versions[v->api_key].min = v->min_version;
        peer->versions[v->api_key].max = v->max_version;
    }
    peer->state = PEER_READY;
    peer->backoff_ms = SL_MAX(peer->peers->cfg.reconnect_backoff_ms, 1u);
    SL_LOG(SL_LOG_INFO, "replication", "peer connected node=%d address=%s:%u", (int)peer->node_id,
           peer->host, (unsigned)peer->port);
    peer_flush(peer);
}

/* One complete answer: the handshake's, or the oldest sent request's. false: the connection was
 * dropped (by an error or by the callback). */
static bool conn_answer(peer_conn_t *conn, const uint8_t *frame, size_t len)
{
    sl_peer_t *peer = conn->peer;
    sl_peers_t *peers = conn->peers;
    sl_arena_reset(&peers->arena);
    void *body = NULL;
    if (peer->state == PEER_HANDSHAKE) {
        int rc = sl__peer_decode_response(frame, len, SL_API_API_VERSIONS, 3,
                                          conn->handshake_correlation_id, &peers->arena, &body);
        const sl_api_versions_response_t *resp = body;
        if (rc == 0 && resp->error_code != SL_KERR_NONE)
            rc = SL_EUNSUPPORTED;
        if (rc != 0) {
            peer_fail(peer, rc, "ApiVersions");
            return false;
        }
        handshake_done(peer, resp);
        return peer->conn == conn;
    }
    peer_request_t *rq = conn->sent_head;
    if (rq == NULL) {
        peer_fail(peer, SL_EMALFORMED, "answer to no request");
        return false;
    }
    int rc = sl__peer_decode_response(frame, len, rq->api_key, rq->api_version, rq->correlation_id,
                                      &peers->arena, &body);
    if (rc != 0) {
        peer_fail(peer, rc, "decoding an answer");
        return false;
    }
    conn->sent_head = rq->next;
    if (conn->sent_head == NULL)
        conn->sent_tail = NULL;
    peer->requests--;
    request_complete(rq, 0, body);
    if (peer->conn != conn || peers->closing)
        return false;
    peer_arm(peer);
    return true;
}

static void conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    peer_conn_t *conn = stream->data;
    if (conn->peer == NULL)
        return;
    if (nread < 0) {
        peer_fail(conn->peer, nread == UV_EOF ? -ECONNRESET : (int)nread, "read");
        return;
    }
    conn->rbuf.len += (size_t)nread;
    size_t used = 0;
    for (;;) {
        int64_t n = sl__peer_frame_complete(conn->rbuf.ptr + used, conn->rbuf.len - used,
                                            SL_PEER_RESPONSE_BYTES_MAX);
        if (n < 0) {
            peer_fail(conn->peer, (int)n, "reading an answer");
            return;
        }
        if (n == 0)
            break;
        if (!conn_answer(conn, conn->rbuf.ptr + used, (size_t)n))
            return; /* dropped: its buffer goes with it */
        used += (size_t)n;
    }
    sl_buf_consume(&conn->rbuf, used);
}

static void conn_connected(uv_connect_t *req, int status)
{
    peer_conn_t *conn = req->handle->data;
    sl_peer_t *peer = conn->peer;
    if (peer == NULL)
        return; /* dropped while connecting */
    if (status < 0) {
        peer_fail(peer, status, "connect");
        return;
    }
    (void)uv_tcp_nodelay(&conn->tcp, 1);
    sl_api_versions_request_t hs;
    sl_api_versions_request_init(&hs);
    hs.client_software_name = sl_slice_from_str("sluice");
    hs.client_software_version = sl_slice_from_str(SL_VERSION_STRING);
    conn->handshake_correlation_id = peer->peers->next_correlation_id++;
    sl_buf_t frame;
    sl_buf_init(&frame, 0);
    int rc = sl__peer_frame_request(&frame, SL_API_API_VERSIONS, 3, conn->handshake_correlation_id,
                                    peer->peers->client_id, &hs);
    if (rc == 0)
        rc = conn_write(conn, &frame);
    sl_buf_deinit(&frame);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&conn->tcp, conn_alloc, conn_read);
    if (rc != 0) {
        peer_fail(peer, rc, "handshake");
        return;
    }
    peer->state = PEER_HANDSHAKE;
}

static void resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    peer_resolve_t *resolve = SL_CONTAINER_OF(req, peer_resolve_t, req);
    sl_peer_t *peer = resolve->peer;
    sl_peers_t *peers = resolve->peers;
    sl_free(resolve);
    if (peer == NULL || peers->closing) {
        uv_freeaddrinfo(res);
        peers_release(peers);
        return;
    }
    peers->handles_open--; /* still open: the peer's timer */
    peer->resolve = NULL;
    if (status < 0 || res == NULL) {
        uv_freeaddrinfo(res);
        peer_fail(peer, status < 0 ? status : -EHOSTUNREACH, "resolve");
        return;
    }
    peer_conn_t *conn = sl_calloc(1, sizeof(*conn));
    if (conn == NULL) {
        uv_freeaddrinfo(res);
        peer_fail(peer, -ENOMEM, "connect");
        return;
    }
    conn->peers = peers;
    conn->peer = peer;
    sl_buf_init(&conn->rbuf, SL_PEER_RESPONSE_BYTES_MAX + 64 * SL_KiB);
    uv_tcp_init(peers->loop, &conn->tcp);
    conn->tcp.data = conn;
    peers->handles_open++;
    peer->conn = conn;
    peer->state = PEER_CONNECTING;
    int rc = uv_tcp_connect(&conn->connect, &conn->tcp, res->ai_addr, conn_connected);
    uv_freeaddrinfo(res);
    if (rc != 0)
        peer_fail(peer, rc, "connect");
}

static void peer_connect(sl_peer_t *peer)
{
    sl_peers_t *peers = peer->peers;
    SL_ASSERT(peer->state == PEER_DOWN && peer->conn == NULL);
    peer_resolve_t *resolve = sl_calloc(1, sizeof(*resolve));
    if (resolve == NULL) {
        peer_fail(peer, -ENOMEM, "resolve");
        return;
    }
    resolve->peer = peer;
    resolve->peers = peers;
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)peer->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    peer->state = PEER_RESOLVING;
    peer->resolve = resolve;
    int rc = uv_getaddrinfo(peers->loop, &resolve->req, resolved, peer->host, port, &hints);
    if (rc != 0) {
        peer->resolve = NULL;
        sl_free(resolve);
        peer_fail(peer, rc, "resolve");
        return;
    }
    peers->handles_open++;
}

static void peer_timer_cb(uv_timer_t *timer)
{
    sl_peer_t *peer = timer->data;
    uint64_t now = uv_now(peer->peers->loop);
    if (peer->fail_status != 0) {
        int status = peer->fail_status;
        peer->fail_status = 0;
        peer_fail(peer, status, "write");
    }
    /* A sent request past its deadline: answers come in order, so the connection is stuck (or
     * the peer is), and it is dropped as Kafka's NetworkClient drops it. */
    if (peer->conn != NULL && peer->conn->sent_head != NULL) {
        for (peer_request_t *rq = peer->conn->sent_head; rq != NULL; rq = rq->next) {
            if (rq->deadline_ms <= now) {
                peer_fail(peer, -ETIMEDOUT, "waiting for an answer");
                break;
            }
        }
    }
    /* Waiting requests past their deadline fail one by one (unlinked first: callbacks may send). */
    peer_request_t *expired = NULL, **link = &peer->wait_head;
    peer->wait_tail = NULL;
    while (*link != NULL) {
        peer_request_t *rq = *link;
        if (rq->deadline_ms <= now) {
            *link = rq->next;
            rq->next = expired;
            expired = rq;
            peer->requests--;
        } else {
            peer->wait_tail = rq;
            link = &rq->next;
        }
    }
    while (expired != NULL) {
        peer_request_t *next = expired->next;
        request_complete(expired, -ETIMEDOUT, NULL);
        expired = next;
    }
    if (peer->state == PEER_BACKOFF && now >= peer->retry_at_ms)
        peer->state = PEER_DOWN;
    if (peer->state == PEER_DOWN && peer->wait_head != NULL)
        peer_connect(peer);
    peer_arm(peer);
}

/* ---- the public side ---------------------------------------------------------------------------
 */

int sl_peers_create(uv_loop_t *loop, const sl_peers_config_t *cfg, sl_peers_t **out)
{
    sl_peers_t *peers = sl_calloc(1, sizeof(*peers));
    if (peers == NULL)
        return -ENOMEM;
    peers->loop = loop;
    peers->cfg = *cfg;
    snprintf(peers->client_id, sizeof(peers->client_id), "sluice-%d", (int)cfg->node_id);
    /* Random start: answers meant for a previous life of this node never match. */
    peers->next_correlation_id = (int32_t)(sl_clock_monotonic_ns() & 0x3fffffff);
    sl_arena_init(&peers->arena, SL_REQUEST_ARENA_BYTES_MAX);
    *out = peers;
    return 0;
}

static sl_peer_t *peer_find(const sl_peers_t *peers, int32_t node_id)
{
    for (size_t i = 0; i < peers->node_count; i++)
        if (peers->nodes[i]->node_id == node_id)
            return peers->nodes[i];
    return NULL;
}

int sl_peers_set_address(sl_peers_t *peers, int32_t node_id, const char *host, uint16_t port)
{
    if (peers->closing)
        return SL_ECLOSED;
    if (strlen(host) >= sizeof(((sl_peer_t *)0)->host))
        return SL_ELIMIT;
    sl_peer_t *peer = peer_find(peers, node_id);
    if (peer != NULL) {
        if (strcmp(peer->host, host) == 0 && peer->port == port)
            return 0;
        snprintf(peer->host, sizeof(peer->host), "%s", host);
        peer->port = port;
        if (peer->resolve != NULL) {
            peer->resolve->peer = NULL; /* its answer is for the old address */
            peer->resolve = NULL;
            peer->state = PEER_DOWN;
        }
        if (peer->conn != NULL)
            conn_drop(peer, -ECONNRESET, PEER_DOWN);
        peer_arm(peer);
        return 0;
    }
    sl_peer_t **grown = sl_realloc(peers->nodes, (peers->node_count + 1) * sizeof(*grown));
    if (grown == NULL)
        return -ENOMEM;
    peers->nodes = grown;
    peer = sl_calloc(1, sizeof(*peer));
    if (peer == NULL)
        return -ENOMEM;
    peer->peers = peers;
    peer->node_id = node_id;
    snprintf(peer->host, sizeof(peer->host), "%s", host);
    peer->port = port;
    peer->backoff_ms = SL_MAX(peers->cfg.reconnect_backoff_ms, 1u);
    uv_timer_init(peers->loop, &peer->timer);
    peer->timer.data = peer;
    peers->handles_open++;
    peers->nodes[peers->node_count++] = peer;
    return 0;
}

int sl_peers_send(sl_peers_t *peers, int32_t node_id, int16_t api_key, int16_t api_version,
                  const void *request, uint32_t timeout_ms, sl_peer_response_cb cb, void *data)
{
    if (peers->closing)
        return SL_ECLOSED;
    sl_peer_t *peer = peer_find(peers, node_id);
    if (peer == NULL)
        return SL_ENOTFOUND;
    if (peer->requests >= SL_PEER_REQUESTS_MAX)
        return SL_ELIMIT;
    if (peer->state == PEER_READY && !version_served(peer, api_key, api_version))
        return SL_EUNSUPPORTED;
    peer_request_t *rq = sl_calloc(1, sizeof(*rq));
    if (rq == NULL)
        return -ENOMEM;
    rq->api_key = api_key;
    rq->api_version = api_version;
    rq->correlation_id = peers->next_correlation_id++;
    if (peers->next_correlation_id == INT32_MAX)
        peers->next_correlation_id = 0;
    rq->deadline_ms = uv_now(peers->loop) + timeout_ms;
    rq->cb = cb;
    rq->data = data;
    sl_buf_init(&rq->frame, 0);
    int rc = sl__peer_frame_request(&rq->frame, api_key, api_version, rq->correlation_id,
                                    peers->client_id, request);
    if (rc != 0) {
        sl_buf_deinit(&rq->frame);
        sl_free(rq);
        return rc;
    }
    if (peer->wait_tail != NULL)
        peer->wait_tail->next = rq;
    else
        peer->wait_head = rq;
    peer->wait_tail = rq;
    peer->requests++;
    if (peer->state == PEER_READY)
        peer_flush(peer);
    else if (peer->state == PEER_DOWN)
        uv_timer_start(&peer->timer, peer_timer_cb, 0, 0); /* connects from the loop */
    else
        peer_arm(peer);
    return 0;
}

bool sl_peers_connected(const sl_peers_t *peers, int32_t node_id)
{
    const sl_peer_t *peer = peer_find(peers, node_id);
    return peer != NULL && peer->state == PEER_READY;
}

static void timer_closed(uv_handle_t *handle)
{
    sl_peer_t *peer = handle->data;
    sl_peers_t *peers = peer->peers;
    sl_free(peer);
    peers_release(peers);
}

void sl_peers_close(sl_peers_t *peers, void (*closed_cb)(void *data), void *data)
{
    SL_ASSERT(!peers->closing);
    peers->closed_cb = closed_cb;
    peers->closed_data = data;
    peers->closing = true; /* callbacks below that send again are refused */
    for (size_t i = 0; i < peers->node_count; i++) {
        sl_peer_t *peer = peers->nodes[i];
        if (peer->resolve != NULL) {
            peer->resolve->peer = NULL;
            (void)uv_cancel((uv_req_t *)&peer->resolve->req);
            peer->resolve = NULL;
        }
        conn_drop(peer, SL_ECLOSED, PEER_DOWN);
        peer_request_t *rq = peer->wait_head;
        peer->wait_head = peer->wait_tail = NULL;
        while (rq != NULL) {
            peer_request_t *next = rq->next;
            peer->requests--;
            request_complete(rq, SL_ECLOSED, NULL);
            rq = next;
        }
    }
    size_t count = peers->node_count;
    peers->node_count = 0; /* no lookups while the timers close */
    for (size_t i = 0; i < count; i++)
        uv_close((uv_handle_t *)&peers->nodes[i]->timer, timer_closed);
    if (count == 0 && peers->handles_open == 0) {
        sl_arena_deinit(&peers->arena);
        sl_free(peers->nodes);
        sl_free(peers);
        if (closed_cb != NULL)
            closed_cb(data);
    }
}
