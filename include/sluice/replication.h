/* replication: what the broker sees of the Raft groups it runs. Today that is the metadata quorum
 * (KRaft's __cluster_metadata-0 over controller.quorum.voters): started with the broker when
 * voters are configured, serving the Raft APIs on the controller listener, resigning on SIGTERM.
 * The machinery (peer connections, the Raft host, the log-backed environment, the wire mapping)
 * is in src/replication/ and is what partition replication reuses. */
#ifndef SLUICE_REPLICATION_H
#define SLUICE_REPLICATION_H

#include <uv.h>

#include "sluice/config.h"
#include "sluice/core.h"
#include "sluice/log.h"
#include "sluice/raft.h"

/* KRaft's metadata partition, as Kafka names it on disk and on the wire. */
#define SL_METADATA_TOPIC "__cluster_metadata"
#define SL_METADATA_PARTITION 0

typedef struct sl_metadata_quorum sl_metadata_quorum_t;

/* The quorum as this node sees it: for /metrics, the logs and tests. */
typedef struct {
    bool voter;             /* this node is one of controller.quorum.voters */
    sl_raft_role_t role;    /* sl_raft_role_name() */
    int32_t leader_id;      /* -1 when unknown */
    int32_t epoch;          /* the leader epoch */
    int32_t voted_id;       /* -1 unless it voted in this epoch (not tracked: -1) */
    int64_t high_watermark; /* -1 until known */
    int64_t log_end_offset;
    bool offline;   /* a failed write or flush took the metadata log offline */
    bool caught_up; /* leads, or holds what the leader had committed when it last answered */
} sl_quorum_status_t;

/* Starts the quorum when cfg has controller.quorum.voters (otherwise *out = NULL and 0): opens
 * __cluster_metadata-0 in dir (metadata.log.dir, at dir_path) with its quorum-state file, connects
 * to the other voters, and runs the group on loop. cluster_id is the log dirs' (checked in Raft
 * requests). */
int sl_metadata_quorum_start(uv_loop_t *loop, const sl_config_t *cfg, sl_log_dir_t *dir,
                             const char *dir_path, const char *cluster_id,
                             sl_metadata_quorum_t **out);
void sl_metadata_quorum_status(const sl_metadata_quorum_t *q, sl_quorum_status_t *out);

/* ---- the metadata log as the broker uses it (cluster_metadata.c, controller.c) ---------------
 * One listener hears every change the host reports (role, epoch, leader, high watermark), after
 * the host is done with the group: it may call back into the quorum. NULL to stop hearing. */
void sl_metadata_quorum_set_listener(sl_metadata_quorum_t *q, void (*changed)(void *data),
                                     void *data);
/* Committed batches only: whole batches from the one holding offset, up to max_bytes (at least
 * one), never past the high watermark; as sl_log_read (an offset at the high watermark answers
 * empty through cb). SL_ECLOSED once stopped. */
int sl_metadata_quorum_read(sl_metadata_quorum_t *q, sl_log_read_t *req, int64_t offset,
                            size_t max_bytes, sl_log_read_cb cb, void *data);
/* The active controller's write: one complete v2 record batch of record_count records (from
 * sl_metadata_records_encode_batch; borrowed for the call) appended in the current epoch. 0 and
 * its base offset: it is committed once the high watermark passes its last offset, or lost if
 * leadership goes first. SL_ENOTLEADER when this node does not lead; SL_ECLOSED once stopped. */
int sl_metadata_quorum_propose(sl_metadata_quorum_t *q, int32_t record_count, const void *batch,
                               int64_t *base_offset);

/* ---- serving the Raft APIs --------------------------------------------------------------------
 * One served request is a call: answer(call, status, data) runs exactly once (maybe inside the
 * serve function). status 0: the response struct given is filled; when the call has records (a
 * Fetch answer) it is written with sl_quorum_call_pieces instead of being encoded whole. status
 * < 0: close the connection. The caller frees the call once the response has been handed over. */
typedef struct sl_raft_host_call sl_quorum_call_t;
typedef void (*sl_quorum_answer_cb)(sl_quorum_call_t *call, int status, void *data);

/* Serves one decoded Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch (from a replica) or
 * DescribeQuorum request that arrived on the controller listener; response is the API's response
 * struct (initialised) in arena, the request's arena. */
int sl_metadata_quorum_serve(sl_metadata_quorum_t *q, int16_t api_key, int16_t api_version,
                             int32_t correlation_id, const void *request, void *response,
                             sl_arena_t *arena, sl_quorum_answer_cb answer, void *data);

/* One piece of an answer written in pieces: bytes (owned: sl_free it once sent; NULL: borrowed
 * from the answer's buffer) or a file range (fd owned by the receiver of the piece). The same
 * shape as net's sl_response_piece_t. */
typedef struct {
    const uint8_t *ptr; /* NULL for a file range */
    size_t len;
    int fd; /* -1 for bytes */
    int64_t file_pos;
    void *owned;
} sl_quorum_piece_t;

bool sl_quorum_call_has_records(const sl_quorum_call_t *call);
/* The Fetch answer of a call with records, without copying them: head (size prefix and response
 * header, head_len bytes) then the body, total bytes in all. *buffer (owned by the caller) holds
 * head and body with the records left out; *pieces (owned, sl_free) describe the whole answer in
 * order; the records' memory and file descriptors move to the pieces. */
int sl_quorum_call_pieces(sl_quorum_call_t *call, int16_t version, const uint8_t *head,
                          size_t head_len, size_t total, uint8_t **buffer,
                          sl_quorum_piece_t **pieces, size_t *pieces_count);
void sl_quorum_call_free(sl_quorum_call_t *call);

/* Controlled shutdown: a leader resigns (EndQuorumEpoch to the voters) and the quorum waits a
 * short, bounded time for it to leave, then closes its connections and log; done runs after. */
void sl_metadata_quorum_stop(sl_metadata_quorum_t *q, void (*done)(void *data), void *data);

#endif
