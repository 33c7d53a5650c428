/* client: the CLI's view of a cluster. It bootstraps from the first --bootstrap-server that
 * answers, negotiates versions with ApiVersions on every connection it opens, learns the brokers
 * from Metadata and the group coordinator from FindCoordinator, and sends one request at a time,
 * waiting for its answer (a CLI needs no pipelining). Invariants: a request is sent only at a
 * version both sides support; every wait ends by c->deadline_ms; decoded responses live in
 * c->arena (frames included, since decoded strings borrow them). */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "cli_int.h"

#define CLIENT_ID "sluice-cli"

static void conn_init(sl_cli_conn_t *conn, int32_t node_id)
{
    memset(conn, 0, sizeof *conn);
    conn->ops = &sl__cli_plaintext_ops;
    conn->fd = -1;
    conn->node_id = node_id;
}

int sl__cli_client_init(sl_cli_client_t *c, const sl_cli_args_t *args)
{
    SL_ASSERT(c != NULL && args != NULL && args->bootstrap_count > 0);
    memset(c, 0, sizeof *c);
    c->args = args;
    sl_arena_init(&c->arena, SL_CLI_ARENA_BYTES_MAX);
    conn_init(&c->bootstrap, -1);
    c->conns = sl_calloc(SL_CLI_NODES_MAX, sizeof *c->conns);
    if (c->conns == NULL) {
        sl_arena_deinit(&c->arena);
        return -ENOMEM;
    }
    for (size_t i = 0; i < SL_CLI_NODES_MAX; i++)
        conn_init(&c->conns[i], -1);
    sl__cli_client_restart_deadline(c);
    return 0;
}

void sl__cli_client_deinit(sl_cli_client_t *c)
{
    c->bootstrap.ops->close(&c->bootstrap);
    for (size_t i = 0; i < SL_CLI_NODES_MAX; i++)
        c->conns[i].ops->close(&c->conns[i]);
    sl_free(c->conns);
    sl_arena_deinit(&c->arena);
}

void sl__cli_client_restart_deadline(sl_cli_client_t *c)
{
    c->deadline_ms = sl_clock_monotonic_ms() + (uint64_t)c->args->timeout_ms;
}

int sl__cli_fail(sl_cli_client_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    return SL_CLI_EXIT_ERROR;
}

int sl__cli_fail_kerr(sl_cli_client_t *c, int16_t kerr, sl_slice_t message)
{
    if (message.ptr != NULL && message.len > 0)
        return sl__cli_fail(c, "%s: %.*s", sl_kerr_name(kerr), (int)message.len,
                            (const char *)message.ptr);
    return sl__cli_fail(c, "%s: %s", sl_kerr_name(kerr), sl_kerr_message(kerr));
}

const char *sl__cli_str(sl_cli_client_t *c, sl_slice_t s)
{
    if (s.ptr == NULL)
        return NULL;
    const char *out = sl_arena_strndup(&c->arena, (const char *)s.ptr, s.len);
    return out != NULL ? out : "";
}

bool sl__cli_kerr_retriable(int16_t kerr)
{
    switch (kerr) {
    case SL_KERR_LEADER_NOT_AVAILABLE:
    case SL_KERR_NOT_LEADER_OR_FOLLOWER:
    case SL_KERR_NOT_COORDINATOR:
    case SL_KERR_COORDINATOR_NOT_AVAILABLE:
    case SL_KERR_COORDINATOR_LOAD_IN_PROGRESS:
    case SL_KERR_REQUEST_TIMED_OUT:
    case SL_KERR_NOT_CONTROLLER:
    case SL_KERR_FENCED_LEADER_EPOCH:
    case SL_KERR_UNKNOWN_LEADER_EPOCH:
    case SL_KERR_REBALANCE_IN_PROGRESS:
        return true;
    default:
        return false;
    }
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !sl__cli_interrupted)
        ;
}

bool sl__cli_pause(sl_cli_client_t *c)
{
    if (sl_clock_monotonic_ms() + SL_CLI_RETRY_BACKOFF_MS >= c->deadline_ms || sl__cli_interrupted)
        return false;
    sleep_ms(SL_CLI_RETRY_BACKOFF_MS);
    return true;
}

bool sl__cli_backoff(sl_cli_client_t *c, const char *what, int16_t kerr)
{
    if (sl__cli_pause(c))
        return true;
    sl__cli_fail(c, "%s: %s: %s (still failing after %" PRId64 " ms)", what, sl_kerr_name(kerr),
                 sl_kerr_message(kerr), c->args->timeout_ms);
    return false;
}

/* ---- framing --------------------------------------------------------------------------------- */

static int read_exact(sl_cli_client_t *c, sl_cli_conn_t *conn, uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = conn->ops->read_some(conn, data, len, c->deadline_ms);
        if (n < 0)
            return (int)n;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_request(sl_cli_client_t *c, sl_cli_conn_t *conn, int16_t api_key, int16_t version,
                        const void *req)
{
    const sl_api_info_t *api = sl_api_info(api_key);
    SL_ASSERT(api != NULL && req != NULL);
    sl_request_header_t hdr = {.api_key = api_key,
                               .api_version = version,
                               .correlation_id = ++conn->correlation_id,
                               .client_id = sl_slice_from_str(CLIENT_ID)};
    size_t body = sl_message_size(api->request, version, req);
    size_t size = sl_request_header_size(&hdr) + body;
    if (size > INT32_MAX)
        return SL_ELIMIT;
    uint8_t *frame = sl_arena_alloc(&c->arena, size + 4);
    if (frame == NULL)
        return -ENOMEM;
    sl_writer_t w;
    sl_writer_init(&w, frame, size + 4);
    int rc = sl_write_i32(&w, (int32_t)size);
    rc = rc != 0 ? rc : sl_request_header_encode(&w, &hdr);
    rc = rc != 0 ? rc : sl_message_encode(api->request, &w, version, req);
    if (rc != 0)
        return rc;
    SL_ASSERT(sl_writer_left(&w) == 0); /* size() and encode() agree */
    return conn->ops->write_all(conn, frame, size + 4, c->deadline_ms);
}

static int receive_response(sl_cli_client_t *c, sl_cli_conn_t *conn, int16_t api_key,
                            int16_t version, void *resp)
{
    uint8_t size_bytes[4];
    int rc = read_exact(c, conn, size_bytes, sizeof size_bytes);
    if (rc != 0)
        return rc;
    sl_reader_t r;
    int32_t size = 0, correlation_id = 0;
    sl_reader_init(&r, size_bytes, sizeof size_bytes);
    rc = sl_read_i32(&r, &size);
    if (rc != 0 || size < 4 || (size_t)size > SL_CLI_FRAME_BYTES_MAX)
        return SL_EMALFORMED;
    uint8_t *frame = sl_arena_alloc(&c->arena, (size_t)size);
    if (frame == NULL)
        return -ENOMEM;
    rc = read_exact(c, conn, frame, (size_t)size);
    if (rc != 0)
        return rc;
    sl_reader_init(&r, frame, (size_t)size);
    rc = sl_response_header_decode(&r, api_key, version, &correlation_id);
    if (rc != 0 || correlation_id != conn->correlation_id)
        return SL_EMALFORMED;
    return sl_message_decode(sl_api_info(api_key)->response, &r, &c->arena, version, resp);
}

static int transport_fail(sl_cli_client_t *c, sl_cli_conn_t *conn, const char *api, int rc)
{
    conn->ops->close(conn);
    conn->versions_known = false;
    if (rc == -ETIMEDOUT)
        return sl__cli_fail(c, "timed out after %" PRId64 " ms waiting for %s from %s:%" PRId32,
                            c->args->timeout_ms, api, conn->addr.host, conn->addr.port);
    return sl__cli_fail(c, "%s to %s:%" PRId32 " failed: %s", api, conn->addr.host, conn->addr.port,
                        sl_strerror(rc));
}

int sl__cli_call(sl_cli_client_t *c, sl_cli_conn_t *conn, int16_t api_key, int16_t version,
                 const void *req, void *resp)
{
    const sl_api_info_t *api = sl_api_info(api_key);
    SL_ASSERT(api != NULL && conn->fd >= 0);
    int rc = send_request(c, conn, api_key, version, req);
    if (rc == 0 && resp != NULL)
        rc = receive_response(c, conn, api_key, version, resp);
    if (rc != 0)
        return transport_fail(c, conn, api->name, rc);
    return 0;
}

/* ---- ApiVersions ------------------------------------------------------------------------------
 */

static void store_versions(sl_cli_conn_t *conn, const sl_api_versions_response_t *resp)
{
    for (size_t k = 0; k <= SL_API_KEY_MAX; k++)
        conn->versions[k] = (sl_version_range_t){1, 0}; /* empty: not supported */
    for (int32_t i = 0; i < resp->api_keys_count; i++) {
        const sl_api_version_t *v = &resp->api_keys[i];
        const sl_api_info_t *ours = sl_api_info(v->api_key);
        if (ours == NULL)
            continue;
        int16_t ours_max =
            ours->latest_version_unstable ? (int16_t)(ours->version_max - 1) : ours->version_max;
        conn->versions[v->api_key].min = SL_MAX(v->min_version, ours->version_min);
        conn->versions[v->api_key].max = SL_MIN(v->max_version, ours_max);
    }
    conn->versions_known = true;
}

/* ApiVersions v3 first; a broker that does not know v3 answers (at v0) UNSUPPORTED_VERSION, and
 * then v0 is asked, as Kafka's own clients do. */
static int negotiate_versions(sl_cli_client_t *c, sl_cli_conn_t *conn)
{
    static const int16_t tries[] = {3, 0};
    for (size_t i = 0; i < SL_ARRAY_LEN(tries); i++) {
        sl_api_versions_request_t req;
        sl_api_versions_response_t resp;
        sl_api_versions_request_init(&req);
        req.client_software_name = sl_slice_from_str(CLIENT_ID);
        req.client_software_version = sl_slice_from_str(SL_VERSION_STRING);
        int rc = send_request(c, conn, SL_API_API_VERSIONS, tries[i], &req);
        rc = rc != 0 ? rc : receive_response(c, conn, SL_API_API_VERSIONS, tries[i], &resp);
        if (rc == SL_EMALFORMED && tries[i] != 0)
            continue; /* a v0 body where v3 was expected: ask again at v0 */
        if (rc != 0)
            return transport_fail(c, conn, "ApiVersions", rc);
        if (resp.error_code == SL_KERR_UNSUPPORTED_VERSION && tries[i] != 0)
            continue;
        if (resp.error_code != SL_KERR_NONE)
            return sl__cli_fail_kerr(c, resp.error_code, SL_SLICE_NULL);
        store_versions(conn, &resp);
        return 0;
    }
    return sl__cli_fail(c, "%s:%" PRId32 " answers no ApiVersions version this client knows",
                        conn->addr.host, conn->addr.port);
}

static int connect_fail(sl_cli_client_t *c, const sl_cli_address_t *addrs, size_t addr_count,
                        int rc, bool retriable)
{
    char list[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < addr_count && used < sizeof list; i++) {
        int n = snprintf(list + used, sizeof list - used, "%s%s:%" PRId32, i > 0 ? "," : "",
                         addrs[i].host, addrs[i].port);
        used += n > 0 ? (size_t)n : 0;
    }
    if (rc == -ETIMEDOUT || retriable)
        return sl__cli_fail(c,
                            "cannot connect to %s within %" PRId64 " ms (%s); is the broker "
                            "running? (--bootstrap-server, SLUICE_BOOTSTRAP)",
                            list, c->args->timeout_ms,
                            rc == -ETIMEDOUT ? "timed out" : sl_strerror(rc));
    return sl__cli_fail(c, "cannot connect to %s: %s", list, sl_strerror(rc));
}

/* Opens conn to one of addrs (tried in turn, each with a share of the time left, so one dead
 * server cannot use up the deadline) and negotiates versions. Refusals and unreachable hosts are
 * retried until the deadline: a provisioning Job may start before the broker. */
static int conn_open(sl_cli_client_t *c, sl_cli_conn_t *conn, const sl_cli_address_t *addrs,
                     size_t addr_count)
{
    SL_ASSERT(addr_count > 0 && conn->fd < 0);
    uint64_t backoff_ms = SL_CLI_RETRY_BACKOFF_MS;
    for (size_t attempt = 0;; attempt++) {
        uint64_t now = sl_clock_monotonic_ms();
        uint64_t left_ms = c->deadline_ms > now ? c->deadline_ms - now : 0;
        uint64_t share_ms = SL_MAX(left_ms / addr_count, SL_CLI_CONNECT_ATTEMPT_MS_MIN);
        const sl_cli_address_t *addr = &addrs[attempt % addr_count];
        int rc = left_ms == 0 ? -ETIMEDOUT
                              : conn->ops->open(conn, addr, SL_MIN(now + share_ms, c->deadline_ms));
        if (rc == 0)
            return negotiate_versions(c, conn);
        bool retriable = rc == -ECONNREFUSED || rc == -ECONNRESET || rc == -EHOSTUNREACH ||
                         rc == -ENETUNREACH || (rc == -ETIMEDOUT && addr_count > 1);
        bool round_done = (attempt + 1) % addr_count == 0;
        now = sl_clock_monotonic_ms();
        if (!retriable || sl__cli_interrupted ||
            now + (round_done ? backoff_ms : 0) >= c->deadline_ms)
            return connect_fail(c, addrs, addr_count, rc, retriable);
        if (round_done) {
            sleep_ms(backoff_ms);
            backoff_ms = SL_MIN(backoff_ms * 2, SL_CLI_CONNECT_BACKOFF_MS_MAX);
        }
    }
}

int sl__cli_any(sl_cli_client_t *c, sl_cli_conn_t **out)
{
    if (c->bootstrap.fd < 0 || !c->bootstrap.versions_known) {
        c->bootstrap.ops->close(&c->bootstrap);
        int rc = conn_open(c, &c->bootstrap, c->args->bootstrap, c->args->bootstrap_count);
        if (rc != 0)
            return rc;
    }
    *out = &c->bootstrap;
    return 0;
}

int sl__cli_version(sl_cli_client_t *c, sl_cli_conn_t *conn, int16_t api_key, int16_t min,
                    int16_t max, int16_t *out)
{
    SL_ASSERT(api_key >= 0 && api_key <= SL_API_KEY_MAX && conn->versions_known);
    sl_version_range_t broker = conn->versions[api_key];
    int16_t lo = SL_MAX(min, broker.min), hi = SL_MIN(max, broker.max);
    if (lo > hi)
        return sl__cli_fail(c,
                            "UNSUPPORTED_VERSION: %s:%" PRId32 " supports %s v%d-%d, this client "
                            "v%d-%d",
                            conn->addr.host, conn->addr.port, sl_api_info(api_key)->name,
                            broker.min, broker.max, min, max);
    *out = hi;
    return 0;
}

int sl__cli_prepare(sl_cli_client_t *c, int32_t node_id, int16_t api_key, int16_t min, int16_t max,
                    sl_cli_conn_t **conn, int16_t *version)
{
    int rc = node_id == SL_CLI_ANY_NODE ? sl__cli_any(c, conn) : sl__cli_node(c, node_id, conn);
    return rc != 0 ? rc : sl__cli_version(c, *conn, api_key, min, max, version);
}

/* ---- Metadata, node connections, coordinators -------------------------------------------------
 */

static void store_nodes(sl_cli_client_t *c, const sl_metadata_response_t *md)
{
    size_t count = SL_MIN((size_t)SL_MAX(md->brokers_count, 0), SL_CLI_NODES_MAX);
    for (size_t i = 0; i < count; i++) {
        const sl_metadata_response_broker_t *b = &md->brokers[i];
        sl_cli_node_t *n = NULL;
        for (size_t k = 0; k < c->node_count && n == NULL; k++)
            if (c->nodes[k].node_id == b->node_id)
                n = &c->nodes[k];
        if (n == NULL) {
            if (c->node_count == SL_CLI_NODES_MAX)
                return;
            n = &c->nodes[c->node_count++];
        }
        n->node_id = b->node_id;
        size_t host_len = SL_MIN(b->host.len, sizeof n->addr.host - 1);
        memcpy(n->addr.host, b->host.ptr, host_len);
        n->addr.host[host_len] = '\0';
        n->addr.port = b->port;
    }
}

int sl__cli_metadata(sl_cli_client_t *c, const sl_slice_t *names, size_t names_count,
                     sl_metadata_response_t **out, int16_t *version_out)
{
    sl_cli_conn_t *conn = NULL;
    int16_t version = 0;
    /* not sl__cli_prepare: sl__cli_node itself asks Metadata */
    int rc = sl__cli_any(c, &conn);
    rc = rc != 0 ? rc : sl__cli_version(c, conn, SL_API_METADATA, 1, 12, &version);
    if (rc != 0)
        return rc;
    sl_metadata_request_t req;
    sl_metadata_request_init(&req);
    req.allow_auto_topic_creation = false;
    if (names == NULL) {
        req.topics = NULL;
        req.topics_count = -1;
    } else {
        req.topics = sl_arena_alloc(&c->arena, (names_count + 1) * sizeof *req.topics);
        if (req.topics == NULL)
            return sl__cli_fail(c, "out of memory");
        for (size_t i = 0; i < names_count; i++)
            req.topics[i].name = names[i];
        req.topics_count = (int32_t)names_count;
    }
    sl_metadata_response_t *resp = sl_arena_alloc(&c->arena, sizeof *resp);
    if (resp == NULL)
        return sl__cli_fail(c, "out of memory");
    rc = sl__cli_call(c, conn, SL_API_METADATA, version, &req, resp);
    if (rc != 0)
        return rc;
    store_nodes(c, resp);
    *out = resp;
    if (version_out != NULL)
        *version_out = version;
    return 0;
}

int sl__cli_node(sl_cli_client_t *c, int32_t node_id, sl_cli_conn_t **out)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        for (size_t i = 0; i < c->node_count; i++) {
            sl_cli_node_t *n = &c->nodes[i];
            if (n->node_id != node_id)
                continue;
            sl_cli_conn_t *b = &c->bootstrap;
            if (b->fd >= 0 && b->versions_known && b->addr.port == n->addr.port &&
                strcmp(b->addr.host, n->addr.host) == 0) {
                *out = b; /* the bootstrap server is this broker */
                return 0;
            }
            sl_cli_conn_t *conn = &c->conns[i];
            if (conn->fd < 0 || !conn->versions_known) {
                conn->ops->close(conn);
                conn->node_id = node_id;
                int rc = conn_open(c, conn, &n->addr, 1);
                if (rc != 0)
                    return rc;
            }
            *out = conn;
            return 0;
        }
        sl_metadata_response_t *md = NULL;
        sl_slice_t none = SL_SLICE_NULL;
        int rc = sl__cli_metadata(c, &none, 0, &md, NULL);
        if (rc != 0)
            return rc;
    }
    return sl__cli_fail(c, "broker %" PRId32 " is not in the cluster's metadata", node_id);
}

/* One FindCoordinator round trip; *kerr receives the error (0: *node_id, *addr filled). */
static int find_coordinator_once(sl_cli_client_t *c, const char *group_id, int16_t *kerr,
                                 sl_cli_node_t *found)
{
    sl_cli_conn_t *conn = NULL;
    int16_t version = 0;
    int rc = sl__cli_prepare(c, SL_CLI_ANY_NODE, SL_API_FIND_COORDINATOR, 0, 6, &conn, &version);
    if (rc != 0)
        return rc;
    sl_slice_t key = sl_slice_from_str(group_id);
    sl_find_coordinator_request_t req;
    sl_find_coordinator_response_t resp = {0};
    sl_find_coordinator_request_init(&req);
    req.key_type = 0; /* a group */
    if (version >= 4) {
        req.coordinator_keys = &key;
        req.coordinator_keys_count = 1;
    } else {
        req.key = key;
    }
    rc = sl__cli_call(c, conn, SL_API_FIND_COORDINATOR, version, &req, &resp);
    if (rc != 0)
        return rc;
    sl_slice_t host = resp.host;
    *kerr = resp.error_code;
    found->node_id = resp.node_id;
    found->addr.port = resp.port;
    if (version >= 4) {
        if (resp.coordinators_count != 1)
            return sl__cli_fail(c, "FindCoordinator answered %" PRId32 " coordinators for 1 key",
                                resp.coordinators_count);
        *kerr = resp.coordinators[0].error_code;
        found->node_id = resp.coordinators[0].node_id;
        found->addr.port = resp.coordinators[0].port;
        host = resp.coordinators[0].host;
    }
    size_t host_len = host.ptr != NULL ? SL_MIN(host.len, sizeof found->addr.host - 1) : 0;
    if (host_len > 0)
        memcpy(found->addr.host, host.ptr, host_len);
    found->addr.host[host_len] = '\0';
    return 0;
}

int sl__cli_coordinator(sl_cli_client_t *c, const char *group_id, sl_cli_conn_t **out)
{
    for (;;) {
        int16_t kerr = 0;
        sl_cli_node_t found = {0};
        int rc = find_coordinator_once(c, group_id, &kerr, &found);
        if (rc != 0)
            return rc;
        if (kerr == SL_KERR_NONE) {
            bool known = false;
            for (size_t i = 0; i < c->node_count && !known; i++)
                known = c->nodes[i].node_id == found.node_id;
            if (!known && c->node_count < SL_CLI_NODES_MAX)
                c->nodes[c->node_count++] = found;
            return sl__cli_node(c, found.node_id, out);
        }
        if (!sl__cli_kerr_retriable(kerr))
            return sl__cli_fail_kerr(c, kerr, SL_SLICE_NULL);
        if (!sl__cli_backoff(c, "FindCoordinator", kerr))
            return SL_CLI_EXIT_ERROR;
    }
}
