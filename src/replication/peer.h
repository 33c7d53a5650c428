/* peer: the outbound connections of one node to the other nodes of its cluster, one per remote
 * node id, shared by every Raft group (and later every replica fetcher) that talks to that node.
 * A connection speaks Kafka's framing as a client does: request header v1/v2 with client id
 * "sluice-<node>", an ApiVersions handshake before anything else, correlation ids answered in
 * order. It reconnects by itself with a capped, doubling backoff; requests wait in a bounded queue
 * while it is down and fail (their callback with an error) when it cannot be reached in time.
 * Everything runs on the loop thread. */
#ifndef SLUICE_REPLICATION_PEER_H
#define SLUICE_REPLICATION_PEER_H

#include <uv.h>

#include "sluice/core.h"
#include "sluice/protocol.h"

/* Requests one peer holds at once (waiting for the connection or for their answer). Raft resends
 * whatever is dropped past this, so the bound costs nothing but a retry. */
#define SL_PEER_REQUESTS_MAX 256
/* The largest answer a peer may send (a Fetch answer is bounded by replica.fetch.max.bytes). */
#define SL_PEER_RESPONSE_BYTES_MAX (128 * SL_MiB)

typedef struct sl_peers sl_peers_t;

typedef struct {
    int32_t node_id;                   /* this node: the client id is "sluice-<node_id>" */
    uint32_t reconnect_backoff_ms;     /* first wait after a failed connection (>= 1) */
    uint32_t reconnect_backoff_max_ms; /* the cap of the doubling */
} sl_peers_config_t;

/* The answer to one request. status 0: body is the decoded response struct of the request's API
 * and version (records borrowed from the read buffer), valid only during the call. status < 0:
 * -ETIMEDOUT (no answer in time), SL_ECLOSED (stopped), SL_EUNSUPPORTED (the peer does not serve
 * the API version), or the socket's -errno; body is NULL. The callback may send again. */
typedef void (*sl_peer_response_cb)(void *data, int status, const void *body);

int sl_peers_create(uv_loop_t *loop, const sl_peers_config_t *cfg, sl_peers_t **out);
/* Where node_id listens (controller.quorum.voters now, broker registrations later). Changing the
 * address of a known node drops its connection; the next request connects to the new one. */
int sl_peers_set_address(sl_peers_t *peers, int32_t node_id, const char *host, uint16_t port);
/* Sends request (a generated request struct of api_key/api_version, encoded before this returns)
 * to node_id, connecting first if needed. Returns 0 (cb is called exactly once, never inside this
 * call), SL_ENOTFOUND (no address for node_id), SL_ELIMIT (the peer's queue is full: dropped),
 * SL_ECLOSED (closing) or an encoding error. */
int sl_peers_send(sl_peers_t *peers, int32_t node_id, int16_t api_key, int16_t api_version,
                  const void *request, uint32_t timeout_ms, sl_peer_response_cb cb, void *data);
/* Whether the connection to node_id is up and past its handshake (for metrics and tests). */
bool sl_peers_connected(const sl_peers_t *peers, int32_t node_id);
/* Fails every request with SL_ECLOSED, closes the connections; closed_cb runs once every handle
 * is closed, then peers is freed. */
void sl_peers_close(sl_peers_t *peers, void (*closed_cb)(void *data), void *data);

/* ---- framing, pure (unit-tested without sockets) ----------------------------------------------
 */

/* Appends size prefix, request header (the version the API table gives) and body to out. */
int sl__peer_frame_request(sl_buf_t *out, int16_t api_key, int16_t api_version,
                           int32_t correlation_id, const char *client_id, const void *request);
/* The length of the complete frame at the start of data (prefix included), 0 when more bytes are
 * needed, SL_EMALFORMED/SL_ELIMIT for a size no answer may have. */
int64_t sl__peer_frame_complete(const uint8_t *data, size_t len, size_t max_bytes);
/* Decodes one answer frame (prefix included) to a request of api_key/api_version sent with
 * expected_correlation_id into a response struct in arena. SL_EMALFORMED when the correlation id
 * differs (answers come in request order: anything else is a broken stream). */
int sl__peer_decode_response(const uint8_t *frame, size_t len, int16_t api_key, int16_t api_version,
                             int32_t expected_correlation_id, sl_arena_t *arena, void **body_out);

#endif
