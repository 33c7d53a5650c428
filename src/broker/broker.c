/* broker: lifecycle of a running broker: log dir identity, listeners and advertised endpoints,
 * graceful stop. The API handler table lives here too, since ApiVersions must advertise exactly
 * what dispatch answers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker_int.h"

/* Kafka 3.9.0's ranges, min 0, for every API implemented (CLIENTS.md §5). Sorted by key. */
static const sl_handler_t handlers[] = {
    {{SL_API_METADATA, 0, 12}, sl__handle_metadata},
    {{SL_API_API_VERSIONS, 0, 4}, sl__handle_api_versions},
};
static sl_api_support_t supports[SL_ARRAY_LEN(handlers)];

const sl_handler_t *sl__handler_find(int16_t api_key)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(handlers); i++)
        if (handlers[i].support.api_key == api_key)
            return &handlers[i];
    return NULL;
}

const sl_api_support_t *sl_broker_api_support(size_t *count)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(handlers); i++) {
        SL_ASSERT(i == 0 || handlers[i - 1].support.api_key < handlers[i].support.api_key);
        supports[i] = handlers[i].support;
    }
    *count = SL_ARRAY_LEN(handlers);
    return supports;
}

int sl_broker_create(uv_loop_t *loop, const sl_config_t *cfg, sl_broker_t **out)
{
    sl_broker_t *broker = sl_calloc(1, sizeof(*broker));
    if (broker == NULL)
        return -ENOMEM;
    broker->loop = loop;
    broker->cfg = cfg;
    sl_server_limits_t limits = {
        .request_bytes_max = (size_t)cfg->socket_request_max_bytes,
        .idle_timeout_ms =
            cfg->connections_max_idle_ms > 0 ? (uint64_t)cfg->connections_max_idle_ms : 0,
        .conn_bytes_in_flight_max = SL_CONN_BYTES_IN_FLIGHT_MAX,
        /* queued.max.request.bytes: -1 (Kafka's default) means no setting, not no bound */
        .server_bytes_in_flight_max =
            cfg->queued_max_request_bytes > 0
                ? SL_MAX((size_t)cfg->queued_max_request_bytes, SL_CONN_BYTES_IN_FLIGHT_MAX)
                : SL_BROKER_BYTES_IN_FLIGHT_MAX,
        .connections_max = SL_CONNECTIONS_MAX,
    };
    int rc = sl_server_create(loop, &limits, sl__dispatch_frame, broker, &broker->server);
    if (rc != 0) {
        sl_free(broker);
        return rc;
    }
    *out = broker;
    return 0;
}

/* What clients connecting through listener i are told: the advertised listener of the same
 * name, with port 0 meaning "the port actually bound" and an empty host meaning this host. */
static void resolve_advertised(sl_broker_t *broker)
{
    const sl_config_t *cfg = broker->cfg;
    broker->advertised_count = sl_server_listener_count(broker->server);
    for (size_t i = 0; i < broker->advertised_count; i++) {
        const sl_listener_info_t *bound = sl_server_listener(broker->server, i);
        sl_endpoint_t *ep = &broker->advertised[i];
        snprintf(ep->name, sizeof(ep->name), "%s", bound->name);
        snprintf(ep->host, sizeof(ep->host), "%s", cfg->listeners[i].host);
        ep->port = bound->port;
        for (size_t a = 0; a < cfg->advertised_listeners_count; a++) {
            const sl_listener_config_t *adv = &cfg->advertised_listeners[a];
            if (strcmp(adv->name, bound->name) != 0)
                continue;
            snprintf(ep->host, sizeof(ep->host), "%s", adv->host);
            if (adv->port != 0)
                ep->port = adv->port;
        }
        if (ep->host[0] == '\0' || strcmp(ep->host, "0.0.0.0") == 0 || strcmp(ep->host, "::") == 0)
            if (gethostname(ep->host, sizeof(ep->host)) != 0)
                snprintf(ep->host, sizeof(ep->host), "localhost");
        SL_LOG(SL_LOG_INFO, "broker", "advertising listener=%s host=%s port=%u", ep->name, ep->host,
               (unsigned)ep->port);
    }
}

int sl_broker_start(sl_broker_t *broker)
{
    const sl_config_t *cfg = broker->cfg;
    int rc = sl__log_dirs_open(cfg, &broker->cluster_id);
    if (rc != 0)
        return rc;
    sl_uuid_to_base64(&broker->cluster_id, broker->cluster_id_text);
    for (size_t i = 0; i < cfg->listeners_count; i++) {
        const sl_listener_config_t *l = &cfg->listeners[i];
        rc = sl_server_listen(broker->server, l->name, l->host, l->port);
        if (rc != 0) {
            SL_LOG(SL_LOG_ERROR, "broker", "cannot listen listener=%s host=%s port=%u error=\"%s\"",
                   l->name, l->host, (unsigned)l->port, sl_strerror(rc));
            return rc;
        }
    }
    resolve_advertised(broker);
    SL_LOG(SL_LOG_INFO, "broker", "broker started node_id=%d cluster_id=%s version=%s",
           (int)cfg->node_id, broker->cluster_id_text, SL_VERSION_STRING);
    return 0;
}

static void server_stopped(sl_server_t *server, void *data)
{
    (void)server; /* the broker holds the same pointer */
    sl_broker_t *broker = data;
    SL_LOG(SL_LOG_INFO, "broker", "broker stopped");
    if (broker->stopped_cb != NULL)
        broker->stopped_cb(broker, broker->stopped_data);
}

void sl_broker_stop(sl_broker_t *broker, sl_broker_stopped_cb done_cb, void *data)
{
    SL_LOG(SL_LOG_INFO, "broker", "stopping: no new connections, answering requests in flight");
    broker->stopped_cb = done_cb;
    broker->stopped_data = data;
    sl_server_stop(broker->server, 5000, server_stopped, broker);
}

void sl_broker_destroy(sl_broker_t *broker)
{
    if (broker == NULL)
        return;
    sl_server_destroy(broker->server);
    sl_free(broker);
}
