/* raft_wire: the Raft core's messages (sl_raft_msg_t, one group each) to and from Kafka's generated
 * request and response structs (Vote v2 with pre-vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch,
 * DescribeQuorum), many groups per Kafka message: a group is one (topic, partition) in the
 * message's Topics[].Partitions[]. Pure functions: no I/O, no clock, memory from the caller's
 * arena. Invariants: a Fetch answer's records are never copied (the caller attaches bytes or a file
 * range, left as gaps of the writer, as the broker's Fetch does); record batches received are
 * checked (lengths, magic, CRC) before the core sees them, and a bad one is an error for its
 * partition only; decoders never assert on what came from the wire. Kafka's own rules where it has
 * them: ClusterId checked as KRaft does (a request without one is accepted), __cluster_metadata
 * fetched by Kafka's fixed topic id (Uuid.METADATA_TOPIC_ID, 0...01) from Fetch v13 on. */
#ifndef SLUICE_REPLICATION_RAFT_WIRE_H
#define SLUICE_REPLICATION_RAFT_WIRE_H

#include "sluice/protocol.h"
#include "sluice/raft.h"

/* KRaft's metadata partition: topic "__cluster_metadata", partition 0, topic id 0...01
 * (AAAAAAAAAAAAAAAAAAAAAQ), the id Kafka's voters put in and expect in Fetch v13+. */
#define SL_RAFT_WIRE_METADATA_TOPIC "__cluster_metadata"
extern const sl_uuid_t sl_raft_wire_metadata_topic_id;

/* The lowest versions that carry what the core needs: Fetch v12 brings LastFetchedEpoch,
 * DivergingEpoch and CurrentLeader (v13+ names topics by id); Vote v2 brings PreVote (a pre-vote
 * cannot be sent below it; a real vote can). Begin/EndQuorumEpoch and DescribeQuorum: any. */
#define SL_RAFT_WIRE_FETCH_VERSION_MIN 12
#define SL_RAFT_WIRE_PRE_VOTE_VERSION_MIN 2
/* What Kafka 4.0's KRaft follower asks for in one Fetch (MAX_FETCH_SIZE_BYTES). */
#define SL_RAFT_WIRE_FETCH_MAX_BYTES_DEFAULT (8 * 1024 * 1024)

/* One Raft group as the wire names it. topic_name borrows from the host's group registry (or,
 * for a key the wire built, from the frame: valid while the frame is). */
typedef struct {
    const char *topic_name; /* SL_RAFT_WIRE_METADATA_TOPIC for the metadata quorum */
    sl_uuid_t topic_id;     /* sl_raft_wire_metadata_topic_id for it; Fetch v13+ uses only this */
    int32_t partition;
} sl_raft_group_key_t;

typedef struct {
    sl_raft_group_key_t group;
    sl_raft_msg_t msg; /* type, source, destination and correlation id as the core gave or gets */
    /* Request decode: true when the wire answered this partition itself (unknown group, wrong
     * voter): msg is then the error RESPONSE, to be passed to sl_raft_wire_response_encode with
     * the core's answers, and never to sl_raft_receive. */
    bool answered;
    /* Response decode, Fetch: 0, or SL_EMALFORMED when a batch failed its checks; msg then holds
     * only the batches before it (maybe none), which are sound. Log it; the leader resends. */
    int status;
    /* Request decode, Fetch: the byte limit the fetcher asked for this partition (the smaller of
     * MaxBytes and a non-zero PartitionMaxBytes; Kafka's KRaft sends PartitionMaxBytes 0). */
    int32_t records_max_bytes;
} sl_raft_wire_msg_t;

/* Resolves a (topic, partition) of a message to a group this node hosts: fills *key and returns
 * 0, or returns the Kafka error to answer it with: SL_KERR_UNKNOWN_TOPIC_OR_PARTITION (a name or
 * partition it does not host), SL_KERR_UNKNOWN_TOPIC_ID (a Fetch v13+ topic id it does not know,
 * as Kafka's Fetch answers). topic_name is empty when the message names topics by id (Fetch
 * v13+); topic_id is zero when it names them by name. */
typedef int16_t (*sl_raft_wire_find_cb)(void *data, sl_slice_t topic_name,
                                        const sl_uuid_t *topic_id, int32_t partition,
                                        sl_raft_group_key_t *key);

typedef struct {
    int32_t local_id;       /* node.id: destination of what is decoded, source of what is sent */
    const char *cluster_id; /* carried in requests; checked in requests received. NULL: neither */
    sl_raft_wire_find_cb find_group; /* decode: required */
    void *find_data;
    int32_t fetch_max_bytes; /* Fetch requests' MaxBytes (replica.fetch.max.bytes); <= 0: 8 MiB */
} sl_raft_wire_ctx_t;

/* What a decode produced: messages in wire order (arena memory), or a message-level error. */
typedef struct {
    sl_raft_wire_msg_t *msgs;
    size_t count;
    /* Request decode: non-zero when the whole request is refused (INCONSISTENT_CLUSTER_ID,
     * UNSUPPORTED_VERSION for a Fetch below v12): answer it with sl_raft_wire_error_response;
     * no msgs. (A Fetch with ReplicaId < 0 is a consumer's: the host routes it elsewhere.) Response
     * decode: the answer's top-level ErrorCode (e.g. the peer's INCONSISTENT_CLUSTER_ID); no msgs
     * then either. */
    int16_t error_code;
} sl_raft_wire_decoded_t;

/* The Kafka API that carries a message type (SL_API_VOTE, ..., SL_API_FETCH). */
int16_t sl_raft_wire_api_key(sl_raft_msg_type_t type);
/* Whether api_key is one this file maps (Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch). */
bool sl_raft_wire_is_raft_api(int16_t api_key);

/* Fills request (the api's request struct, sl_api_info(key)->request_struct_size bytes, e.g. an
 * sl_vote_request_t) with count >= 1 messages of one request type, all to one destination, for
 * encoding at version. Arrays come from arena; strings borrow msgs[].group. Returns 0,
 * SL_ELIMIT (arena), or SL_EUNSUPPORTED when version cannot carry them (a pre-vote below Vote v2,
 * a Fetch below v12): the caller logs it and does not send. */
int sl_raft_wire_request_encode(const sl_raft_wire_ctx_t *ctx, const sl_raft_wire_msg_t *msgs,
                                size_t count, int16_t version, sl_arena_t *arena, void *request);

/* Decodes a request struct (decoded from a frame at version) into one message per partition:
 * source = the requester as the request names it (Vote: ReplicaId, Begin/EndQuorumEpoch:
 * LeaderId, Fetch: ReplicaState.ReplicaId / ReplicaId), destination = ctx->local_id, correlation
 * id = correlation_id (the Kafka header's: the core's answers carry it back). Partitions of
 * unknown groups come back answered (see sl_raft_wire_msg_t.answered). Returns 0 or SL_ELIMIT;
 * refusals of the whole request are out->error_code. */
int sl_raft_wire_request_decode(const sl_raft_wire_ctx_t *ctx, int16_t api_key, int16_t version,
                                int32_t correlation_id, const void *request, sl_arena_t *arena,
                                sl_raft_wire_decoded_t *out);

/* A Fetch answer's records, attached by the host: bytes in memory or a range of a segment file.
 * Borrowed until the encoding's pieces are sent; never copied. */
typedef struct {
    const uint8_t *bytes; /* NULL for a file range */
    size_t len;           /* 0: no records */
    int fd;               /* file range: the segment's descriptor; -1 for bytes */
    int64_t file_pos;
} sl_raft_wire_records_t;

/* Fills response (the api's response struct) with the answers to ONE request: the core's
 * response messages and the wire's own (answered) ones, of the matching response type. Fetch:
 * records[i] (NULL: none at all) are msgs[i]'s records; with any file range among them the
 * response can only be written by sl_raft_wire_encode_pieces. Returns 0 or SL_ELIMIT. */
int sl_raft_wire_response_encode(const sl_raft_wire_ctx_t *ctx, int16_t api_key,
                                 const sl_raft_wire_msg_t *msgs,
                                 const sl_raft_wire_records_t *records, size_t count,
                                 sl_arena_t *arena, void *response);

/* A whole-request refusal, as KRaft answers one: only the top-level ErrorCode set. */
int sl_raft_wire_error_response(int16_t api_key, int16_t error_code, void *response);

/* Decodes a response struct (to a request this node sent to source_id) into one message per
 * partition: destination = ctx->local_id, correlation id = correlation_id for every message (a
 * host that put several groups' messages into one request restores each group's own id, which
 * it kept when sending). Partitions of groups ctx->find_group does not know are skipped. Fetch
 * records are parsed into sl_raft_batch_t (payload = the batch's bytes, borrowed from the frame)
 * and checked; see sl_raft_wire_msg_t.status. Returns 0 or SL_ELIMIT. */
int sl_raft_wire_response_decode(const sl_raft_wire_ctx_t *ctx, int16_t api_key, int16_t version,
                                 int32_t source_id, int32_t correlation_id, const void *response,
                                 sl_arena_t *arena, sl_raft_wire_decoded_t *out);

/* Parses a records field into whole, checked v2 batches (at most batches_cap): a trailing partial
 * batch (a fetch cut by its byte limit) ends the list silently, as Kafka's fetchers treat it.
 * Returns 0, or SL_EMALFORMED at the first batch that fails its checks (bad length, magic, CRC,
 * record count, a control batch with more than one record); *count has the good ones before it. */
int sl_raft_wire_batches_parse(sl_slice_t records, sl_raft_batch_t *batches, size_t batches_cap,
                               size_t *count);

/* ---- writing a Fetch answer without copying records ------------------------------------------
 * One piece of the answer: bytes in memory or a file range (for sendfile). */
typedef struct {
    const uint8_t *ptr; /* NULL for a file range */
    size_t len;
    int fd; /* -1 for bytes */
    int64_t file_pos;
} sl_raft_wire_piece_t;

/* The record bytes and non-empty records fields of a filled Fetch response: its encoding needs
 * sl_message_size() - *records_bytes bytes of buffer and 2 * *gaps + 1 pieces. */
void sl_raft_wire_fetch_response_records(const sl_fetch_response_t *response, size_t *records_bytes,
                                         size_t *gaps);

/* Encodes a filled Fetch response at version into w (positioned after whatever the caller wrote
 * first: size prefix, response header), leaving the records out, and describes the whole
 * output from `from` (the start of the caller's buffer) as pieces in order: buffer runs and,
 * between them, each partition's records as attached (records/records_count: the array given to
 * sl_raft_wire_response_encode). Gaps come from arena. Returns 0 or SL_ELIMIT. */
int sl_raft_wire_encode_pieces(const sl_fetch_response_t *response, int16_t version,
                               const sl_raft_wire_records_t *records, size_t records_count,
                               sl_writer_t *w, const uint8_t *from, sl_arena_t *arena,
                               sl_raft_wire_piece_t *pieces, size_t pieces_cap,
                               size_t *pieces_count);

/* ---- DescribeQuorum ------------------------------------------------------------------------- */
typedef struct {
    sl_raft_group_key_t group; /* as asked when unknown (topic_name borrowed from the frame) */
    int16_t error_code; /* decode: the find_group verdict; encode: NOT_LEADER_OR_FOLLOWER is set
                           by the encoder when info says this node does not lead */
    sl_raft_quorum_info_t info; /* the host fills it (sl_raft_describe_quorum) when no error */
} sl_raft_wire_quorum_t;

/* One entry per requested partition (arena memory), with the find_group verdict. */
int sl_raft_wire_describe_quorum_decode(const sl_raft_wire_ctx_t *ctx,
                                        const sl_describe_quorum_request_t *request,
                                        sl_arena_t *arena, sl_raft_wire_quorum_t **out,
                                        size_t *count);

/* Fills a DescribeQuorum response (any version) from the entries. Replica times are the core's
 * monotonic milliseconds; Kafka reports wall clock, so each is shifted by wall_now_ms - now_ms
 * (never-fetched: -1; the leader itself: now). nodes/nodes_count (v2's voter listeners) are
 * borrowed; may be NULL/0. Observers are empty (the core does not list them yet). */
int sl_raft_wire_describe_quorum_encode(const sl_raft_wire_ctx_t *ctx,
                                        const sl_raft_wire_quorum_t *quorums, size_t count,
                                        uint64_t now_ms, int64_t wall_now_ms,
                                        const sl_describe_quorum_response_node_t *nodes,
                                        int32_t nodes_count, sl_arena_t *arena,
                                        sl_describe_quorum_response_t *response);

#endif
