/* The Raft APIs (Vote, BeginQuorumEpoch, EndQuorumEpoch, DescribeQuorum, and Fetch arriving on a
 * controller listener) handed to the metadata quorum's host, which answers when every group the
 * request names has answered (a leader holds a replica's Fetch up to its max wait). A Fetch answer
 * with records is written in pieces, the records never copied. Served on the controller listener
 * only (dispatch.c refuses them elsewhere, as Kafka's listeners do). */
#include <errno.h>

#include "../broker_int.h"
#include "replica_manager.h"

typedef struct {
    sl_request_t *req;
    sl_quorum_call_t *call;
    bool in_serve; /* answered inside sl_metadata_quorum_serve: dispatch sends it */
    bool answered;
    int status;
} raft_request_t;

static void raft_call_free(sl_request_t *req, void *data)
{
    (void)req;
    raft_request_t *rr = data;
    sl_quorum_call_free(rr->call);
}

/* The answer as pieces: head and body from one buffer, records as the log read them. */
static int raft_respond_pieces(sl_request_t *req)
{
    raft_request_t *rr = req->on_free_data;
    int16_t version = req->header.api_version;
    size_t total = sl__response_wire_bytes(req, req->response_desc, version, req->response);
    uint8_t head[16];
    size_t head_len = 4 + sl_response_header_size(req->header.api_key, version);
    SL_ASSERT(head_len <= sizeof(head));
    uint32_t size = (uint32_t)(total - 4);
    sl_writer_t w;
    sl_writer_init(&w, head, sizeof(head));
    uint8_t prefix[4] = {(uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8),
                         (uint8_t)size};
    int rc = sl_write_bytes(&w, prefix, 4);
    if (rc == 0)
        rc =
            sl_response_header_encode(&w, req->header.api_key, version, req->header.correlation_id);
    if (rc != 0)
        return rc;
    SL_ASSERT((size_t)(w.pos - head) == head_len);
    uint8_t *buffer = NULL;
    sl_quorum_piece_t *qp = NULL;
    size_t count = 0;
    rc = sl_quorum_call_pieces(rr->call, version, head, head_len, total, &buffer, &qp, &count);
    if (rc != 0)
        return rc;
    sl_response_piece_t *pieces = sl_calloc(SL_MAX(count, 1), sizeof(*pieces));
    if (pieces == NULL) {
        for (size_t i = 0; i < count; i++)
            sl_free(qp[i].owned);
        sl_free(qp);
        sl_free(buffer);
        return -ENOMEM;
    }
    for (size_t i = 0; i < count; i++)
        pieces[i] = (sl_response_piece_t){.ptr = qp[i].ptr,
                                          .len = qp[i].len,
                                          .fd = qp[i].fd,
                                          .pos = qp[i].file_pos,
                                          .owned = qp[i].owned};
    sl_free(qp);
    sl_frame_respond_pieces(req->frame, buffer, pieces, count, total);
    return 0;
}

static void raft_answered(sl_quorum_call_t *call, int status, void *data)
{
    raft_request_t *rr = data;
    sl_request_t *req = rr->req;
    rr->call = call;
    rr->answered = true;
    rr->status = status;
    req->on_free = raft_call_free;
    req->on_free_data = rr;
    if (status == 0 && sl_quorum_call_has_records(call))
        req->respond = raft_respond_pieces;
    if (rr->in_serve)
        return; /* the handler returns it to dispatch */
    sl__request_finish(req, status);
}

int sl__handle_raft(sl_request_t *req, const void *request, void *response)
{
    sl_broker_t *broker = req->broker;
    /* the controller listener serves the metadata quorum; the inter-broker listener the
     * partitions' groups (src/replication/replica_manager.c) */
    bool partitions = !broker->controller_listener[req->listener_index];
    if (partitions ? broker->replicas == NULL : broker->quorum == NULL)
        return SL_EUNSUPPORTED; /* no quorum configured: not served, as Kafka's brokers */
    raft_request_t *rr = sl_arena_alloc(&req->arena, sizeof(*rr));
    if (rr == NULL)
        return SL_ELIMIT;
    *rr = (raft_request_t){.req = req, .in_serve = true};
    req->pending = true;
    int rc = partitions
                 ? sl_replica_manager_serve(broker->replicas, req->header.api_key,
                                            req->header.api_version, req->header.correlation_id,
                                            request, response, &req->arena, raft_answered, rr)
                 : sl_metadata_quorum_serve(broker->quorum, req->header.api_key,
                                            req->header.api_version, req->header.correlation_id,
                                            request, response, &req->arena, raft_answered, rr);
    rr->in_serve = false;
    if (rc != 0 || rr->answered) {
        req->pending = false;
        return rc != 0 ? rc : rr->status;
    }
    return 0; /* raft_answered finishes it */
}
