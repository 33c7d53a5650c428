/* raft_log: the log-backed part of a Raft group's environment over sl_log_t (raft_log.h).
 * Appends copy the core's lent batch bytes (one allocation per call, freed when the last write
 * completes), stamp base offset and partition leader epoch (sl_log_append does) and, for batches
 * this node writes as leader, the CRC; flushes are sl_log_flush requests reported to the core;
 * truncations are sl_log_truncate; the quorum state is KRaft's JSON file, replaced durably.
 * Invariants: at most one flush in flight (the core's rule, asserted); an error stops the group
 * for good (rl->error), reported by the next flush completion. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_log.h"
#include "sluice/protocol.h"
#include "sluice/record_batch.h"

#define RAFT_LOG_PATH_BYTES_MAX 4096

struct sl_raft_log {
    sl_log_dir_t *dir;
    sl_log_t *log;
    sl_raft_t *raft;
    char *quorum_state_path; /* NULL: the group keeps no quorum state (tests) */
    bool have_persisted;
    sl_raft_quorum_state_t persisted;
    int32_t voters[SL_RAFT_VOTERS_MAX];
    int32_t voter_count;
    sl_raft_epoch_entry_t *epochs; /* the log's epochs in the core's shape (recovered) */
    size_t epoch_count;
    sl_log_flush_t flush;
    bool flush_in_flight;
    int64_t flush_end;     /* what the core asked the flush in flight to cover */
    int64_t flushed;       /* what the last completed flush reported */
    int appends_in_flight; /* close waits for them */
    int error;             /* first failure; the group is stopped */
};

/* The batches of one log_append call, in flight: the log writes these bytes, so they live until
 * the last of their appends completes. Laid out as this header, count sl_log_append_t, then the
 * batches' bytes back to back. */
typedef struct {
    sl_raft_log_t *rl;
    size_t pending; /* appends still in flight */
    uint8_t *bytes;
} raft_append_block_t;

static void fail(sl_raft_log_t *rl, int err, const char *what)
{
    SL_ASSERT(err < 0);
    if (rl->error != 0)
        return;
    /* A closing dir is the broker stopping, not a fault. */
    SL_LOG(err == SL_ECLOSED ? SL_LOG_INFO : SL_LOG_ERROR, "replication",
           "raft log stopped topic=%s partition=%" PRId32 " op=%s err=%s", sl_log_topic(rl->log),
           sl_log_partition(rl->log), what, sl_strerror(err));
    rl->error = err;
}

/* ---- quorum-state JSON (Kafka's FileQuorumStateStore, data_version 0) ---- */

int sl_raft_quorum_state_encode(const sl_raft_quorum_state_t *state, const int32_t *voters,
                                int32_t voter_count, sl_buf_t *out)
{
    int rc = sl_buf_appendf(out,
                            "{\"clusterId\":\"\",\"leaderId\":%" PRId32 ",\"leaderEpoch\":%" PRId32
                            ",\"votedId\":%" PRId32 ",\"appliedOffset\":0,\"currentVoters\":[",
                            state->leader_id, state->leader_epoch, state->voted_id);
    for (int32_t i = 0; rc == 0 && i < voter_count; i++)
        rc = sl_buf_appendf(out, "%s{\"voterId\":%" PRId32 "}", i ? "," : "", voters[i]);
    if (rc == 0)
        rc = sl_buf_appendf(out, "],\"data_version\":0}");
    return rc;
}

typedef struct {
    const char *p, *end;
    const char *reason;
} json_t;

static void json_space(json_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static bool json_char(json_t *j, char c)
{
    json_space(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

/* A string without escapes (Kafka writes none in this file); out gets at most cap - 1 bytes. */
static bool json_string(json_t *j, char *out, size_t cap)
{
    if (!json_char(j, '"'))
        return false;
    size_t n = 0;
    while (j->p < j->end && *j->p != '"') {
        if (*j->p == '\\' || (unsigned char)*j->p < 0x20)
            return false;
        if (n + 1 < cap)
            out[n++] = *j->p;
        j->p++;
    }
    if (cap > 0)
        out[n] = 0;
    return json_char(j, '"');
}

static bool json_int(json_t *j, int64_t lo, int64_t hi, int64_t *out)
{
    json_space(j);
    const char *s = j->p;
    bool neg = s < j->end && *s == '-';
    if (neg)
        s++;
    if (s == j->end || *s < '0' || *s > '9')
        return false;
    int64_t v = 0;
    for (; s < j->end && *s >= '0' && *s <= '9'; s++) {
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    v = neg ? -v : v;
    if (v < lo || v > hi)
        return false;
    j->p = s;
    *out = v;
    return true;
}

static bool json_null(json_t *j)
{
    json_space(j);
    if (j->end - j->p >= 4 && memcmp(j->p, "null", 4) == 0) {
        j->p += 4;
        return true;
    }
    return false;
}

/* currentVoters: [{"voterId":n,...},...] or null; only checked for shape. */
static bool json_voters(json_t *j)
{
    if (json_null(j))
        return true;
    if (!json_char(j, '['))
        return false;
    if (json_char(j, ']'))
        return true;
    do {
        if (!json_char(j, '{'))
            return false;
        do {
            char key[32];
            int64_t v;
            char ignored[64];
            if (!json_string(j, key, sizeof key) || !json_char(j, ':'))
                return false;
            if (strcmp(key, "voterId") == 0 ? !json_int(j, 0, INT32_MAX, &v)
                                            : !json_string(j, ignored, sizeof ignored))
                return false;
        } while (json_char(j, ','));
        if (!json_char(j, '}'))
            return false;
    } while (json_char(j, ','));
    return json_char(j, ']');
}

int sl_raft_quorum_state_parse(const char *text, size_t len, sl_raft_quorum_state_t *out,
                               const char **reason)
{
    json_t j = {.p = text, .end = text + len};
    bool have_leader = false, have_epoch = false, have_voted = false, have_version = false;
    int64_t leader = 0, epoch = 0, voted = 0, version = -1;
    const char *why = "not a JSON object";
    if (!json_char(&j, '{'))
        goto bad;
    do {
        char key[64], ignored[128];
        int64_t v;
        why = "a field is not well-formed";
        if (!json_string(&j, key, sizeof key) || !json_char(&j, ':'))
            goto bad;
        bool ok;
        if (strcmp(key, "leaderId") == 0)
            ok = have_leader = json_int(&j, -1, INT32_MAX, &leader);
        else if (strcmp(key, "leaderEpoch") == 0)
            ok = have_epoch = json_int(&j, 0, INT32_MAX, &epoch);
        else if (strcmp(key, "votedId") == 0)
            ok = have_voted = json_int(&j, -1, INT32_MAX, &voted);
        else if (strcmp(key, "data_version") == 0)
            ok = have_version = json_int(&j, 0, 1, &version);
        else if (strcmp(key, "appliedOffset") == 0)
            ok = json_int(&j, INT64_MIN + 1, INT64_MAX, &v);
        else if (strcmp(key, "currentVoters") == 0)
            ok = json_voters(&j);
        else if (strcmp(key, "clusterId") == 0 || strcmp(key, "votedDirectoryId") == 0)
            ok = json_string(&j, ignored, sizeof ignored) || json_null(&j);
        else
            ok = false;
        if (!ok) {
            why = "a field has an unexpected name or value";
            goto bad;
        }
    } while (json_char(&j, ','));
    why = "the object does not end where the file does";
    if (!json_char(&j, '}'))
        goto bad;
    json_space(&j);
    if (j.p != j.end)
        goto bad;
    why = "leaderId, leaderEpoch, votedId or data_version is missing";
    if (!have_leader || !have_epoch || !have_voted || !have_version)
        goto bad;
    *out = (sl_raft_quorum_state_t){
        .leader_epoch = (int32_t)epoch, .voted_id = (int32_t)voted, .leader_id = (int32_t)leader};
    return 0;
bad:
    if (reason != NULL)
        *reason = why;
    return SL_ECORRUPT;
}

static int load_quorum_state(sl_raft_log_t *rl)
{
    uint8_t *text = NULL;
    size_t len = 0;
    int rc = sl_log_dir_read_file(rl->dir, rl->quorum_state_path, &text, &len);
    if (rc == -ENOENT)
        return 0; /* a fresh node */
    if (rc < 0) {
        SL_LOG(SL_LOG_ERROR, "replication", "cannot read quorum state path=%s err=%s",
               rl->quorum_state_path, sl_strerror(rc));
        return rc;
    }
    const char *reason = NULL;
    rc = sl_raft_quorum_state_parse((const char *)text, len, &rl->persisted, &reason);
    sl_free(text);
    if (rc < 0) {
        SL_LOG(SL_LOG_ERROR, "replication",
               "damaged quorum state path=%s reason=\"%s\": refusing to start this Raft group (a "
               "forgotten vote could elect two leaders in one epoch); restore the file or remove "
               "it only if this node's vote in its last epoch cannot matter",
               rl->quorum_state_path, reason);
        return rc;
    }
    rl->have_persisted = true;
    return 0;
}

/* ---- open / close ---- */

static int copy_epochs(sl_raft_log_t *rl)
{
    size_t count = 0;
    const sl_log_epoch_t *e = sl_log_leader_epochs(rl->log, &count);
    sl_free(rl->epochs);
    rl->epochs = NULL;
    rl->epoch_count = 0;
    if (count == 0)
        return 0;
    rl->epochs = sl_calloc(count, sizeof *rl->epochs);
    if (rl->epochs == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++)
        rl->epochs[i] =
            (sl_raft_epoch_entry_t){.leader_epoch = e[i].epoch, .start_offset = e[i].start_offset};
    rl->epoch_count = count;
    return 0;
}

int sl_raft_log_open(sl_log_dir_t *dir, const char *topic, int32_t partition,
                     const sl_uuid_t *topic_id, const char *quorum_state_path, sl_raft_log_t **out)
{
    SL_ASSERT(dir != NULL && topic != NULL && out != NULL);
    sl_raft_log_t *rl = sl_calloc(1, sizeof *rl);
    if (rl == NULL)
        return -ENOMEM;
    rl->dir = dir;
    rl->flushed = -1;
    sl_log_config_t cfg;
    sl_log_config_default(&cfg);
    cfg.retention_ms = cfg.retention_bytes = -1; /* no snapshots yet: every record is needed */
    int rc = sl_log_open(dir, topic, partition, topic_id, &cfg, &rl->log);
    if (rc < 0) {
        sl_free(rl);
        return rc;
    }
    rc = sl_log_make_replicated(rl->log);
    if (rc == 0 && quorum_state_path != NULL &&
        (rl->quorum_state_path = sl_strdup(quorum_state_path)) == NULL)
        rc = -ENOMEM;
    if (rc == 0 && rl->quorum_state_path != NULL)
        rc = load_quorum_state(rl);
    if (rc == 0)
        rc = copy_epochs(rl);
    if (rc < 0) {
        (void)sl_raft_log_close(rl);
        return rc;
    }
    SL_LOG(SL_LOG_INFO, "replication",
           "raft log open topic=%s partition=%" PRId32 " log_end_offset=%" PRId64
           " epochs=%zu quorum_state=%s",
           topic, partition, sl_log_end_offset(rl->log), rl->epoch_count,
           rl->have_persisted ? "found" : "none");
    *out = rl;
    return 0;
}

void sl_raft_log_recovered(const sl_raft_log_t *rl, sl_raft_log_state_t *log_state,
                           const sl_raft_quorum_state_t **persisted)
{
    *log_state = (sl_raft_log_state_t){.log_end_offset = sl_log_end_offset(rl->log),
                                       .epochs = rl->epochs,
                                       .epoch_count = rl->epoch_count};
    if (persisted != NULL)
        *persisted = rl->have_persisted ? &rl->persisted : NULL;
}

void sl_raft_log_set_voters(sl_raft_log_t *rl, const int32_t *voters, int32_t voter_count)
{
    SL_ASSERT(voter_count >= 0 && voter_count <= SL_RAFT_VOTERS_MAX);
    memcpy(rl->voters, voters, (size_t)voter_count * sizeof *voters);
    rl->voter_count = voter_count;
}

int sl_raft_log_close(sl_raft_log_t *rl)
{
    if (rl == NULL)
        return 0;
    if (rl->flush_in_flight || rl->appends_in_flight > 0)
        return -EBUSY;
    int rc = sl_log_close(rl->log);
    if (rc == -EBUSY)
        return rc;
    sl_free(rl->quorum_state_path);
    sl_free(rl->epochs);
    sl_free(rl);
    return rc;
}

void sl_raft_log_bind(sl_raft_log_t *rl, sl_raft_t *raft)
{
    rl->raft = raft;
}

sl_log_t *sl_raft_log_log(sl_raft_log_t *rl)
{
    return rl->log;
}

int64_t sl_raft_log_flushed_offset(const sl_raft_log_t *rl)
{
    return rl->flushed;
}

int sl_raft_log_error(const sl_raft_log_t *rl)
{
    return rl->error;
}

void sl_raft_log_set_high_watermark(sl_raft_log_t *rl, int64_t high_watermark)
{
    sl_log_set_high_watermark(rl->log, high_watermark);
}

int sl_raft_log_read(sl_raft_log_t *rl, sl_log_read_t *req, int64_t offset, int64_t end_offset,
                     size_t max_bytes, sl_log_read_cb cb, void *data)
{
    return sl_log_read_upto(rl->log, req, offset, end_offset, max_bytes, true, cb, data);
}

/* ---- the env callbacks ---- */

/* KRaft's LeaderChange control batch, as a new leader writes it first in its epoch: one control
 * record, key {version 0, type 2}, value LeaderChangeMessage v0 {LeaderId, Voters,
 * GrantingVoters} (flexible: compact arrays, empty tagged fields). GrantingVoters names the leader
 * only: the core does not keep who granted the vote past the election. */
static uint8_t *leader_change_batch(sl_raft_log_t *rl, int64_t timestamp, size_t *len_out)
{
    sl_raft_quorum_info_t info = {.leader_id = SL_RAFT_NODE_NONE};
    if (rl->raft != NULL)
        sl_raft_describe_quorum(rl->raft, &info);
    uint8_t value[32 + 5 * SL_RAFT_VOTERS_MAX], record[64 + sizeof value];
    sl_writer_t w;
    sl_writer_init(&w, value, sizeof value);
    int rc = sl_write_i16(&w, 0); /* Version */
    rc = rc ? rc : sl_write_i32(&w, info.leader_id);
    rc = rc ? rc : sl_write_uvarint(&w, (uint32_t)info.voter_count + 1); /* Voters */
    for (int32_t i = 0; rc == 0 && i < info.voter_count; i++) {
        rc = sl_write_i32(&w, info.voters[i].replica_id);
        rc = rc ? rc : sl_write_uvarint(&w, 0); /* tagged fields */
    }
    rc = rc ? rc : sl_write_uvarint(&w, 2); /* GrantingVoters: the leader */
    rc = rc ? rc : sl_write_i32(&w, info.leader_id);
    rc = rc ? rc : sl_write_uvarint(&w, 0);
    rc = rc ? rc : sl_write_uvarint(&w, 0); /* tagged fields */
    size_t value_len = (size_t)(w.pos - value);
    /* The record after its length: attributes, timestampDelta, offsetDelta, the ControlRecordType
     * key {version 0, type 2 = LEADER_CHANGE}, the value, no headers. */
    sl_writer_t r;
    sl_writer_init(&r, record, sizeof record);
    rc = rc ? rc : sl_write_i8(&r, 0);
    rc = rc ? rc : sl_write_varlong(&r, 0);
    rc = rc ? rc : sl_write_varint(&r, 0);
    rc = rc ? rc : sl_write_varint(&r, 4);
    rc = rc ? rc : sl_write_i16(&r, 0);
    rc = rc ? rc : sl_write_i16(&r, 2);
    rc = rc ? rc : sl_write_varint(&r, (int32_t)value_len);
    rc = rc ? rc : sl_write_bytes(&r, value, value_len);
    rc = rc ? rc : sl_write_varint(&r, 0);
    SL_ASSERT(rc == 0); /* sized for SL_RAFT_VOTERS_MAX */
    size_t record_len = (size_t)(r.pos - record);
    size_t len =
        SL_RECORD_BATCH_HEADER_BYTES + sl_uvarint_size((uint32_t)record_len * 2) + record_len;
    uint8_t *b = sl_malloc(len);
    if (b == NULL)
        return NULL;
    sl_writer_init(&w, b, len);
    rc = sl_write_i64(&w, 0); /* baseOffset: stamped at append */
    rc = rc ? rc : sl_write_i32(&w, (int32_t)(len - SL_RECORD_BATCH_LOG_OVERHEAD));
    rc = rc ? rc : sl_write_i32(&w, 0); /* partitionLeaderEpoch: stamped at append */
    rc = rc ? rc : sl_write_i8(&w, 2);  /* magic */
    rc = rc ? rc : sl_write_u32(&w, 0); /* crc: computed at append */
    rc = rc ? rc : sl_write_i16(&w, SL_RECORD_BATCH_CONTROL);
    rc = rc ? rc : sl_write_i32(&w, 0); /* lastOffsetDelta */
    rc = rc ? rc : sl_write_i64(&w, timestamp);
    rc = rc ? rc : sl_write_i64(&w, timestamp);
    rc = rc ? rc : sl_write_i64(&w, -1); /* producerId */
    rc = rc ? rc : sl_write_i16(&w, -1); /* producerEpoch */
    rc = rc ? rc : sl_write_i32(&w, -1); /* baseSequence */
    rc = rc ? rc : sl_write_i32(&w, 1);  /* recordCount */
    rc = rc ? rc : sl_write_varint(&w, (int32_t)record_len);
    rc = rc ? rc : sl_write_bytes(&w, record, record_len);
    SL_ASSERT(rc == 0 && w.pos == b + len);
    *len_out = len;
    return b;
}

static void append_done(sl_log_append_t *req, int status, void *data)
{
    (void)req; /* one of the block's */
    raft_append_block_t *block = data;
    sl_raft_log_t *rl = block->rl;
    rl->appends_in_flight--;
    if (status < 0)
        fail(rl, status, "append");
    if (--block->pending == 0)
        sl_free(block);
}

/* The bytes of one batch: its payload (length from its header), or for the leader's
 * LeaderChange without a payload, one built here (*built, owned by the caller). */
static int batch_source(sl_raft_log_t *rl, const sl_raft_batch_t *b, const uint8_t **src,
                        size_t *len, uint8_t **built)
{
    if (b->payload == NULL && b->control) {
        const sl_clock_ops_t *clock = sl_log_dir_clock(rl->dir);
        *built = leader_change_batch(rl, clock->realtime_ms(clock->data), len);
        *src = *built;
        return *built != NULL ? 0 : -ENOMEM;
    }
    SL_ASSERT(b->payload != NULL); /* the payload convention: a complete v2 RecordBatch */
    sl_record_batch_t hdr;
    int rc = sl_record_batch_parse(b->payload, SIZE_MAX, &hdr);
    if (rc == 0 && hdr.last_offset_delta + 1 != b->record_count)
        rc = SL_EMALFORMED; /* the core counted other offsets than the batch holds */
    *src = b->payload;
    *len = sl_record_batch_size(&hdr);
    return rc;
}

/* Copies the call's batches into one block (the core only lends them): one allocation per call,
 * however many batches a Fetch answer brought. */
static raft_append_block_t *append_block(sl_raft_log_t *rl, const sl_raft_batch_t *batches,
                                         size_t count, int *err)
{
    size_t total = 0, built_len = 0;
    uint8_t *built = NULL; /* a new leader's LeaderChange: one per call at most */
    for (size_t i = 0; i < count && *err == 0; i++) {
        const uint8_t *src;
        size_t len;
        uint8_t *mine = NULL;
        *err = batch_source(rl, &batches[i], &src, &len, &mine);
        if (mine != NULL) {
            SL_ASSERT(built == NULL);
            built = mine;
            built_len = len;
        }
        total += len;
    }
    size_t head = sizeof(raft_append_block_t) + count * sizeof(sl_log_append_t);
    raft_append_block_t *block = *err == 0 ? sl_malloc(head + total) : NULL;
    if (*err == 0 && block == NULL)
        *err = -ENOMEM;
    if (block != NULL) {
        *block = (raft_append_block_t){.rl = rl, .bytes = (uint8_t *)block + head};
        uint8_t *p = block->bytes;
        for (size_t i = 0; i < count; i++) {
            const uint8_t *src = built;
            size_t len = built_len;
            if (batches[i].payload != NULL) {
                sl_record_batch_t hdr;
                int rc = sl_record_batch_parse(batches[i].payload, SIZE_MAX, &hdr);
                SL_ASSERT(rc == 0); /* checked above */
                src = batches[i].payload;
                len = sl_record_batch_size(&hdr);
            }
            memcpy(p, src, len);
            p += len;
        }
    }
    sl_free(built);
    return block;
}

void sl_raft_log_append(void *data, const sl_raft_batch_t *batches, size_t batch_count)
{
    sl_raft_log_t *rl = data;
    if (rl->error != 0 || batch_count == 0)
        return;
    int rc = 0;
    raft_append_block_t *block = append_block(rl, batches, batch_count, &rc);
    if (block == NULL) {
        fail(rl, rc, "append");
        return;
    }
    /* Batches this node writes as leader are its own: their CRC is computed here. Fetched
     * batches were checked on receipt and are kept byte for byte. */
    bool own = rl->raft != NULL && sl_raft_role(rl->raft) == SL_RAFT_LEADER;
    sl_log_append_t *reqs = (sl_log_append_t *)(block + 1);
    uint8_t *p = block->bytes;
    for (size_t i = 0; i < batch_count; i++) {
        const sl_raft_batch_t *b = &batches[i];
        SL_ASSERT(b->base_offset == sl_log_end_offset(rl->log));
        sl_record_batch_t hdr;
        rc = sl_record_batch_parse(p, SIZE_MAX, &hdr);
        SL_ASSERT(rc == 0); /* checked when copied */
        size_t len = sl_record_batch_size(&hdr);
        if (own || b->payload == NULL) {
            sl_record_batch_patch_offsets(p, b->base_offset, b->leader_epoch);
            uint32_t crc = sl_record_batch_crc(p, len);
            sl_writer_t w;
            sl_writer_init(&w, p + SL_RECORD_BATCH_CRC_OFFSET, 4);
            rc = sl_write_u32(&w, crc);
        }
        if (rc == 0)
            rc = sl_log_append(rl->log, &reqs[i], p, len, b->leader_epoch, false, append_done,
                               block, NULL, NULL);
        if (rc < 0) {
            fail(rl, rc, "append");
            break;
        }
        block->pending++;
        rl->appends_in_flight++;
        p += len;
    }
    if (block->pending == 0) /* none went out: no callback will free it */
        sl_free(block);
}

void sl_raft_log_truncate(void *data, int64_t offset)
{
    sl_raft_log_t *rl = data;
    if (rl->error != 0)
        return;
    int rc = sl_log_truncate(rl->log, offset);
    if (rc < 0)
        fail(rl, rc, "truncate");
    else
        rl->flushed = SL_MIN(rl->flushed, offset);
}

static void flush_done(sl_log_flush_t *req, int status, int64_t synced_offset, void *data)
{
    sl_raft_log_t *rl = data;
    SL_ASSERT(req == &rl->flush && rl->flush_in_flight);
    rl->flush_in_flight = false;
    if (status < 0)
        fail(rl, status, "flush");
    int64_t end = SL_MIN(rl->flush_end, synced_offset);
    if (rl->error == 0)
        rl->flushed = end;
    if (rl->raft != NULL)
        sl_raft_on_log_flushed(rl->raft, end, rl->error);
}

void sl_raft_log_flush(void *data, int64_t end_offset)
{
    sl_raft_log_t *rl = data;
    SL_ASSERT(!rl->flush_in_flight);
    rl->flush_end = end_offset;
    /* A stopped group still flushes: the completion is how the core learns it has stopped. */
    int rc = sl_log_flush(rl->log, &rl->flush, flush_done, rl);
    if (rc < 0) { /* the dir is closing: the broker is stopping, nothing completes any more */
        fail(rl, rc, "flush");
        return;
    }
    rl->flush_in_flight = true;
}

void sl_raft_log_quorum_state_save(void *data, const sl_raft_quorum_state_t *state)
{
    sl_raft_log_t *rl = data;
    if (rl->error != 0 || rl->quorum_state_path == NULL)
        return;
    sl_buf_t b;
    sl_buf_init(&b, 0);
    int rc = sl_raft_quorum_state_encode(state, rl->voters, rl->voter_count, &b);
    if (rc == 0)
        rc = sl_log_dir_replace_file(rl->dir, rl->quorum_state_path, b.ptr, b.len);
    sl_buf_deinit(&b);
    if (rc < 0)
        fail(rl, rc, "quorum state");
}

void sl_raft_log_fill_env(sl_raft_log_t *rl, sl_raft_env_t *env)
{
    env->data = rl;
    env->log_append = sl_raft_log_append;
    env->log_truncate = sl_raft_log_truncate;
    env->log_flush = sl_raft_log_flush;
    env->quorum_state_save = sl_raft_log_quorum_state_save;
}
