/* Fetch (key 1, versions 4-17): whole record batches from each partition, read through the log's
 * async reads (never blocking the loop), bounded by max.bytes and each partition's max bytes (the
 * first batch found is returned whatever its size, so a consumer never stalls on a large one).
 * When fewer than min.bytes are ready, the request waits in the broker's delayed queue until a
 * partition's high watermark moves or max.wait.ms passes: woken by appends, never by polling.
 * Sessionless: session id 0 in every answer (KIP-227 allows a broker to decline sessions).
 * Zero copy: record data never passes through a response buffer. On a plaintext listener a
 * partition's records come back from the log as a file range; when its pages are in the page cache
 * (mincore) the answer sends them with sendfile(2) from a dup of the segment's descriptor, which
 * keeps a deleted or replaced segment readable until the send is over. A range that is not resident
 * is read by the disk backend instead (off the loop, which sendfile would block), and those bytes,
 * like every read buffer, are written from where the log put them. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../broker_int.h"

typedef struct fetch fetch_t;

/* One partition of the request, its answer, and its place in the partition's waiter list. */
typedef struct fetch_part {
    sl_log_read_t read;
    fetch_t *fetch;
    sl_partition_t *partition; /* NULL once answered with an error */
    sl_fetch_response_partition_data_t *out;
    int64_t offset;
    int32_t partition_max_bytes;
    uint8_t *bytes; /* owned, from the log; NULL for a file range */
    size_t len;
    int fd;           /* owned dup of the segment's descriptor for a file range, else -1 */
    int64_t file_pos; /* where the range starts in the segment */
    bool copy_only;   /* the range was not in the page cache: read it into memory */
    sl_fetch_wait_t wait;
} fetch_part_t;

struct fetch {
    sl_request_t *req;
    const sl_fetch_request_t *in;
    fetch_part_t *parts;
    size_t parts_count;
    size_t next;  /* the next part to read */
    size_t bytes; /* record bytes gathered so far */
    bool any_error;
    bool waiting;
    bool expired;
    bool zero_copy;     /* file ranges allowed: plaintext listener, fetch.sendfile.enable */
    bool in_handler;    /* still inside sl__handle_fetch: answer by returning, not finishing */
    bool answered_sync; /* everything was ready before the handler returned */
    sl_delayed_t delayed;
};

static void read_next(fetch_t *fetch);

static void release_reads(fetch_t *fetch)
{
    for (size_t i = 0; i < fetch->parts_count; i++) {
        fetch_part_t *part = &fetch->parts[i];
        sl_free(part->bytes);
        part->bytes = NULL;
        part->len = 0;
        if (part->fd >= 0)
            (void)close(part->fd); /* a read-only dup: nothing to lose */
        part->fd = -1;
    }
    fetch->bytes = 0;
}

static void fetch_on_free(sl_request_t *req, void *data)
{
    (void)req; /* the fetch lives in its arena */
    release_reads(data);
}

/* Whether the answer carries records for part: the one test fetch_finish (which fills the Records
 * fields) and fetch_respond (which turns each non-empty one into a piece) must share. */
static bool part_has_records(const fetch_part_t *part)
{
    return part->partition != NULL && part->len > 0;
}

static void part_error(fetch_part_t *part, sl_kerr_t error)
{
    if (part->partition != NULL)
        part->partition->topic->metrics.failed_fetch_requests++;
    part->out->error_code = error;
    part->partition = NULL;
    part->fetch->any_error = true;
}

/* Fills every answer from what was read, then sends it. */
static void fetch_finish(fetch_t *fetch)
{
    for (size_t i = 0; i < fetch->parts_count; i++) {
        fetch_part_t *part = &fetch->parts[i];
        sl_fetch_response_partition_data_t *o = part->out;
        if (part->partition == NULL)
            continue;
        sl_log_t *log = part->partition->log;
        o->high_watermark = sl_log_high_watermark(log);
        o->last_stable_offset = o->high_watermark; /* no transactions yet */
        o->log_start_offset = sl_log_start_offset(log);
        /* A file range has no bytes in memory: its slice only carries the length, and
         * fetch_respond leaves it out of the encoding (a gap) and sends the range instead. */
        const uint8_t *data = part->fd >= 0 ? (const uint8_t *)part : part->bytes;
        o->records = part_has_records(part) ? (sl_slice_t){data, part->len} : o->records;
        part->partition->topic->metrics.bytes_out += part->len;
    }
    if (fetch->in_handler) {
        fetch->answered_sync = true; /* dispatch encodes it when the handler returns */
        return;
    }
    sl__request_finish(fetch->req, 0);
}

static void fetch_unwait(fetch_t *fetch)
{
    for (size_t i = 0; i < fetch->parts_count; i++)
        sl__fetch_wait_unlink(&fetch->parts[i].wait);
    sl__delayed_remove(&fetch->req->broker->delayed, &fetch->delayed);
    if (fetch->waiting) {
        SL_ASSERT(fetch->req->broker->fetches_waiting > 0);
        fetch->req->broker->fetches_waiting--;
    }
    fetch->waiting = false;
}

/* New data (or the deadline): read everything again and answer if it is enough now. */
static void fetch_wake(fetch_t *fetch)
{
    fetch_unwait(fetch);
    release_reads(fetch);
    fetch->next = 0;
    read_next(fetch);
}

static void fetch_expired(sl_delayed_t *op)
{
    fetch_t *fetch = SL_CONTAINER_OF(op, fetch_t, delayed);
    fetch->expired = true;
    fetch_wake(fetch);
}

void sl__fetch_wait_woken(sl_fetch_wait_t *wait, bool partition_closing)
{
    fetch_part_t *part = SL_CONTAINER_OF(wait, fetch_part_t, wait);
    if (partition_closing)
        part_error(part, SL_KERR_NOT_LEADER_OR_FOLLOWER);
    fetch_wake(part->fetch);
}

static void reads_done(fetch_t *fetch)
{
    const sl_fetch_request_t *in = fetch->in;
    bool enough = in->min_bytes <= 0 || fetch->bytes >= (size_t)in->min_bytes;
    if (enough || fetch->any_error || fetch->expired || in->max_wait_ms <= 0 ||
        fetch->req->broker->stopping) {
        fetch_finish(fetch);
        return;
    }
    fetch->waiting = true;
    fetch->req->broker->fetches_waiting++;
    for (size_t i = 0; i < fetch->parts_count; i++)
        if (fetch->parts[i].partition != NULL)
            sl__fetch_wait_link(fetch->parts[i].partition, &fetch->parts[i].wait);
    uint64_t remaining = (uint64_t)in->max_wait_ms;
    sl__delayed_add(&fetch->req->broker->delayed, &fetch->delayed, remaining, fetch_expired);
}

/* Whether every page of [pos, pos + len) of fd is in the page cache: a sendfile of a missing page
 * would wait for the disk on the loop thread. One mapping, one mincore, no page touched. */
static bool range_resident(int fd, int64_t pos, size_t len)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        return false;
    int64_t start = pos - pos % page;
    size_t map_len = (size_t)(pos - start) + len;
    size_t pages = (map_len + (size_t)page - 1) / (size_t)page;
    void *map = mmap(NULL, map_len, PROT_READ, MAP_SHARED, fd, (off_t)start);
    if (map == MAP_FAILED)
        return false;
    unsigned char vec[256];
    bool resident = true;
    for (size_t done = 0; done < pages && resident;) {
        size_t n = SL_MIN(pages - done, sizeof(vec));
        if (mincore((uint8_t *)map + done * (size_t)page, n * (size_t)page, vec) != 0) {
            resident = false;
            break;
        }
        for (size_t i = 0; i < n; i++)
            resident = resident && (vec[i] & 1);
        done += n;
    }
    (void)munmap(map, map_len); /* cannot fail for a mapping made here */
    return resident;
}

/* Keeps a file range from the log for sendfile, or returns false to read it into memory instead
 * (pages not in the page cache, or no descriptor left to dup). */
static bool keep_range(fetch_part_t *part, const sl_log_read_t *read, size_t len)
{
    if (!range_resident(read->file_fd, read->file_pos, len))
        return false;
    int fd = dup(read->file_fd);
    if (fd < 0) {
        SL_LOG_RATELIMITED(SL_LOG_WARN, "broker", "fetch falls back to a copy error=\"%s\"",
                           sl_strerror(-errno));
        return false;
    }
    part->fd = fd;
    part->file_pos = read->file_pos;
    return true;
}

static void read_done(sl_log_read_t *read, int status, uint8_t *bytes, size_t len, void *data)
{
    fetch_part_t *part = data;
    SL_ASSERT(&part->read == read);
    fetch_t *fetch = part->fetch;
    if (status == 0 && bytes == NULL && len > 0 && !keep_range(part, read, len)) {
        part->copy_only = true; /* the same read again, through the disk backend */
        read_next(fetch);
        return;
    }
    if (status != 0) {
        sl_free(bytes);
        part_error(part, status == SL_LOG_EOUTOFRANGE ? SL_KERR_OFFSET_OUT_OF_RANGE
                                                      : SL_KERR_KAFKA_STORAGE_ERROR);
    } else {
        part->bytes = bytes;
        part->len = len;
        fetch->bytes += len;
    }
    fetch->next++;
    read_next(fetch);
}

/* Reads the parts one after another, so max.bytes is shared in request order as Kafka does. */
static void read_next(fetch_t *fetch)
{
    size_t budget = (size_t)SL_MAX(fetch->in->max_bytes, 0);
    while (fetch->next < fetch->parts_count) {
        fetch_part_t *part = &fetch->parts[fetch->next];
        sl_log_t *log = part->partition != NULL ? part->partition->log : NULL;
        if (log == NULL || part->offset >= sl_log_high_watermark(log) ||
            (fetch->bytes >= budget && fetch->bytes > 0)) {
            fetch->next++;
            continue;
        }
        size_t left = budget > fetch->bytes ? budget - fetch->bytes : 0;
        size_t max_bytes = SL_MIN(left, (size_t)SL_MAX(part->partition_max_bytes, 0));
        bool min_one = fetch->bytes == 0;
        int rc =
            fetch->zero_copy && !part->copy_only
                ? sl_log_read_file(log, &part->read, part->offset, max_bytes, min_one, read_done,
                                   part)
                : sl_log_read(log, &part->read, part->offset, max_bytes, min_one, read_done, part);
        if (rc == 0)
            return; /* read_done continues */
        part_error(part, rc == SL_LOG_EOUTOFRANGE ? SL_KERR_OFFSET_OUT_OF_RANGE
                                                  : SL_KERR_KAFKA_STORAGE_ERROR);
        fetch->next++;
    }
    reads_done(fetch);
}

/* Sets up one requested partition: its answer at the schema's defaults, then the checks Kafka
 * makes before reading (topic, partition, leader epoch). */
static void resolve_part(fetch_t *fetch, sl_topic_t *topic, sl_kerr_t topic_error,
                         const sl_fetch_request_fetch_partition_t *in, fetch_part_t *part,
                         sl_fetch_response_partition_data_t *out)
{
    sl_fetch_response_partition_data_init(out);
    out->partition_index = in->partition;
    out->high_watermark = -1;
    out->records = (sl_slice_t){(const uint8_t *)"", 0}; /* empty, not null */
    out->aborted_transactions_count = fetch->in->isolation_level == 1 ? 0 : -1;
    *part = (fetch_part_t){.fetch = fetch,
                           .fd = -1,
                           .out = out,
                           .offset = in->fetch_offset,
                           .partition_max_bytes = in->partition_max_bytes};
    /* A partition this broker does not have is answered with an empty aborted-transactions
     * list, as Kafka does; errors found while reading keep the isolation level's form. */
    if (topic == NULL || sl__request_hold(fetch->req, topic) != 0) {
        part_error(part, topic == NULL ? topic_error : SL_KERR_UNKNOWN_SERVER_ERROR);
        out->aborted_transactions_count = 0;
        return;
    }
    topic->metrics.fetch_requests++;
    if (in->partition < 0 || in->partition >= topic->partition_count) {
        topic->metrics.failed_fetch_requests++;
        part_error(part, SL_KERR_UNKNOWN_TOPIC_OR_PARTITION);
        out->aborted_transactions_count = 0;
        return;
    }
    sl_partition_t *p = &topic->partitions[in->partition];
    int32_t leader_epoch;
    sl_kerr_t not_leader = sl__partition_leader_check(fetch->req->broker, p, &leader_epoch);
    if (not_leader != SL_KERR_NONE) { /* consumers read from the leader only */
        topic->metrics.failed_fetch_requests++;
        part_error(part, not_leader);
        /* KIP-951 (v12+): who leads, so the consumer goes there without a Metadata round */
        sl__partition_current_leader(fetch->req->broker, p, &out->current_leader.leader_id,
                                     &out->current_leader.leader_epoch);
        return;
    }
    if (in->current_leader_epoch > leader_epoch) {
        topic->metrics.failed_fetch_requests++;
        part_error(part, SL_KERR_UNKNOWN_LEADER_EPOCH);
        return;
    }
    if (in->current_leader_epoch >= 0 && in->current_leader_epoch < leader_epoch) {
        topic->metrics.failed_fetch_requests++;
        part_error(part, SL_KERR_FENCED_LEADER_EPOCH);
        return;
    }
    part->partition = p;
    /* Past the high watermark but within the log (a new leader's high watermark catching up
     * with the old one's) is empty, not out of range, as Kafka's leader reads. */
    if (in->fetch_offset < sl_log_start_offset(p->log) ||
        in->fetch_offset > sl_log_end_offset(p->log))
        part_error(part, SL_KERR_OFFSET_OUT_OF_RANGE);
}

static int resolve(fetch_t *fetch, sl_fetch_response_t *out)
{
    sl_request_t *req = fetch->req;
    const sl_fetch_request_t *in = fetch->in;
    size_t topics = in->topics_count > 0 ? (size_t)in->topics_count : 0, total = 0;
    for (size_t t = 0; t < topics; t++)
        total += in->topics[t].partitions_count > 0 ? (size_t)in->topics[t].partitions_count : 0;
    out->responses = sl_arena_alloc(&req->arena, (topics + 1) * sizeof(*out->responses));
    fetch->parts = sl_arena_alloc(&req->arena, (total + 1) * sizeof(*fetch->parts));
    if (out->responses == NULL || fetch->parts == NULL)
        return SL_ELIMIT;
    bool by_id = req->header.api_version >= 13;
    for (size_t t = 0; t < topics; t++) {
        const sl_fetch_request_fetch_topic_t *ti = &in->topics[t];
        sl_fetchable_topic_response_t *to = &out->responses[t];
        size_t parts = ti->partitions_count > 0 ? (size_t)ti->partitions_count : 0;
        *to = (sl_fetchable_topic_response_t){.topic = ti->topic, .topic_id = ti->topic_id};
        to->partitions = sl_arena_alloc(&req->arena, (parts + 1) * sizeof(*to->partitions));
        if (to->partitions == NULL)
            return SL_ELIMIT;
        to->partitions_count = (int32_t)parts;
        sl_topic_t *topic = by_id ? sl__topics_find_id(req->broker->topics, &ti->topic_id)
                                  : sl__topics_find(req->broker->topics, ti->topic);
        sl_kerr_t missing = by_id ? SL_KERR_UNKNOWN_TOPIC_ID : SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        for (size_t p = 0; p < parts; p++)
            resolve_part(fetch, topic, missing, &ti->partitions[p],
                         &fetch->parts[fetch->parts_count++], &to->partitions[p]);
    }
    out->responses_count = (int32_t)topics;
    return 0;
}

/* The answer as pieces: the encoded response with each partition's records left out (gaps of the
 * writer), and between them the records, as file ranges or as the log's read buffers. */
static int fetch_respond(sl_request_t *req)
{
    fetch_t *fetch = req->on_free_data;
    int16_t version = req->header.api_version;
    size_t total = sl__response_wire_bytes(req, req->response_desc, version, req->response);
    size_t gaps_count = 0, gap_bytes = 0;
    for (size_t i = 0; i < fetch->parts_count; i++) {
        bool has = part_has_records(&fetch->parts[i]);
        gaps_count += has;
        gap_bytes += has ? fetch->parts[i].len : 0;
    }
    SL_ASSERT(total > gap_bytes);
    uint8_t *out = sl_malloc(total - gap_bytes);
    sl_writer_gap_t *gaps = sl_arena_alloc(&req->arena, (gaps_count + 1) * sizeof(*gaps));
    sl_response_piece_t *pieces = sl_malloc((2 * gaps_count + 1) * sizeof(*pieces));
    if (out == NULL || gaps == NULL || pieces == NULL) {
        sl_free(out);
        sl_free(pieces);
        return -ENOMEM;
    }
    sl_writer_t w = {
        .pos = out, .end = out + total - gap_bytes, .gaps = gaps, .gaps_cap = gaps_count};
    int rc = sl__response_encode(req, &w, total, req->response_desc, version, req->response);
    if (rc != 0) {
        sl_free(out);
        sl_free(pieces);
        return rc;
    }
    SL_ASSERT(w.pos == w.end && w.gaps_count == gaps_count);
    size_t count = 0, next_part = 0;
    const uint8_t *from = out;
    for (size_t g = 0; g < gaps_count; g++) {
        if (gaps[g].at > from)
            pieces[count++] =
                (sl_response_piece_t){.ptr = from, .len = (size_t)(gaps[g].at - from), .fd = -1};
        while (!part_has_records(&fetch->parts[next_part]))
            next_part++;
        fetch_part_t *part = &fetch->parts[next_part++];
        SL_ASSERT(gaps[g].records.len == part->len);
        if (part->fd >= 0) {
            pieces[count++] =
                (sl_response_piece_t){.len = part->len, .fd = part->fd, .pos = part->file_pos};
            part->fd = -1; /* net closes it once sent */
        } else {
            pieces[count++] = (sl_response_piece_t){
                .ptr = part->bytes, .len = part->len, .fd = -1, .owned = part->bytes};
            part->bytes = NULL; /* net frees it once written */
        }
        from = gaps[g].at;
    }
    if (w.end > from)
        pieces[count++] =
            (sl_response_piece_t){.ptr = from, .len = (size_t)(w.end - from), .fd = -1};
    sl_frame_respond_pieces(req->frame, out, pieces, count, total);
    return 0;
}

int sl__handle_fetch(sl_request_t *req, const void *request, void *response)
{
    /* A controller listener's Fetch comes from a replica of the metadata quorum (a consumer's is
     * refused there with INVALID_REQUEST, as KRaft does). */
    if (req->listener_index < SL_LISTENERS_MAX &&
        req->broker->controller_listener[req->listener_index])
        return sl__handle_raft(req, request, response);
    const sl_fetch_request_t *in = request;
    /* A replica's Fetch (a broker id in ReplicaState, or in ReplicaId before v15) on the
     * inter-broker listener goes to the partitions' Raft groups; consumers' are served below. */
    int32_t replica_id =
        req->header.api_version >= 15 ? in->replica_state.replica_id : in->replica_id;
    if (replica_id >= 0 && req->listener_index < SL_LISTENERS_MAX &&
        req->broker->inter_broker_listener[req->listener_index])
        return sl__handle_raft(req, request, response);
    sl_fetch_response_t *out = response;
    out->throttle_time_ms = 0;
    out->session_id = 0; /* no fetch sessions: every fetch is a full one */
    /* No sessions are ever created, so any epoch past the creation one (0) names a session
     * this broker does not have; epoch -1 (close, or sessionless) is a plain full fetch. */
    if (in->session_epoch > 0) {
        out->error_code = SL_KERR_FETCH_SESSION_ID_NOT_FOUND;
        out->responses_count = 0;
        return 0;
    }
    fetch_t *fetch = sl_arena_alloc(&req->arena, sizeof(*fetch));
    if (fetch == NULL)
        return SL_ELIMIT;
    const sl_config_t *cfg = req->broker->cfg;
    *fetch = (fetch_t){.req = req,
                       .in = in,
                       .zero_copy =
                           cfg->fetch_sendfile_enable &&
                           cfg->listeners[req->listener_index].security == SL_SECURITY_PLAINTEXT};
    int rc = resolve(fetch, out);
    if (rc != 0)
        return rc;
    req->on_free = fetch_on_free;
    req->on_free_data = fetch;
    req->respond = fetch_respond;
    req->pending = true;
    fetch->in_handler = true;
    read_next(fetch); /* answers through fetch_finish, possibly before it returns */
    fetch->in_handler = false;
    if (fetch->answered_sync)
        req->pending = false;
    return 0;
}
