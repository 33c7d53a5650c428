/* consume: `sluice consume TOPIC` prints a topic's records. It assigns itself every partition (or
 * --partition), starts at the group's committed offsets (--group), else at the beginning
 * (--from-beginning) or the end, fetches from each leader, and stops after --max-messages, after
 * --timeout without a new record, or on SIGINT/SIGTERM; with --group it then commits the positions
 * it reached (a standalone commit, generation -1, as kcat's assign mode does: it does not join the
 * group). Invariant: a record is printed once, in offset order per partition. */
#include <errno.h>
#include <string.h>

#include "cli_int.h"
#include "sluice/record_batch.h"
#include "sluice/records.h"

#define EARLIEST_TIMESTAMP (-2)
#define LATEST_TIMESTAMP (-1)
#define FETCH_WAIT_MS_MAX 500
#define PARTITION_FETCH_BYTES (1 * (int32_t)SL_MiB)

typedef struct {
    int32_t partition;
    int32_t leader_id;
    int64_t position;         /* next offset to print */
    int64_t committed_offset; /* where the group was: commit only what moved */
} assigned_t;

typedef struct {
    sl_cli_client_t *c;
    const char *topic;
    assigned_t *parts;
    int32_t part_count;
    int64_t printed;
    uint64_t last_record_ms;
    sl_buf_t scratch; /* decompression */
    sl_buf_t line;
} consumer_t;

static bool done(const consumer_t *k)
{
    const sl_cli_args_t *a = k->c->args;
    if (sl__cli_interrupted || (a->max_messages > 0 && k->printed >= a->max_messages))
        return true;
    return a->timeout_given &&
           sl_clock_monotonic_ms() - k->last_record_ms >= (uint64_t)a->timeout_ms;
}

/* The partitions to read and their leaders (retried while leaders are being elected). */
static int load_partitions(consumer_t *k)
{
    sl_cli_client_t *c = k->c;
    sl_slice_t name = sl_slice_from_str(k->topic);
    for (;;) {
        sl_metadata_response_t *md = NULL;
        int rc = sl__cli_metadata(c, &name, 1, &md, NULL);
        if (rc != 0)
            return rc;
        const sl_metadata_response_topic_t *t = md->topics_count == 1 ? &md->topics[0] : NULL;
        int16_t kerr = t != NULL ? t->error_code : SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        if (kerr == SL_KERR_UNKNOWN_TOPIC_OR_PARTITION)
            return sl__cli_fail(c, "UNKNOWN_TOPIC_OR_PARTITION: Topic '%s' does not exist",
                                k->topic);
        if (kerr == SL_KERR_NONE && k->parts == NULL) {
            k->parts = sl_calloc((size_t)SL_MAX(t->partitions_count, 1), sizeof *k->parts);
            if (k->parts == NULL)
                return sl__cli_fail(c, "out of memory");
            for (int32_t i = 0; i < t->partitions_count; i++) {
                int32_t index = t->partitions[i].partition_index;
                if (c->args->partition < 0 || c->args->partition == index)
                    k->parts[k->part_count++] = (assigned_t){index, -1, -1, -1};
            }
            if (k->part_count == 0)
                return sl__cli_fail(c,
                                    "UNKNOWN_TOPIC_OR_PARTITION: topic %s has no partition "
                                    "%" PRId32,
                                    k->topic, c->args->partition);
        }
        for (int32_t i = 0; kerr == SL_KERR_NONE && i < t->partitions_count; i++)
            for (int32_t p = 0; p < k->part_count; p++)
                if (k->parts[p].partition == t->partitions[i].partition_index) {
                    k->parts[p].leader_id = t->partitions[i].leader_id;
                    if (k->parts[p].leader_id < 0)
                        kerr = SL_KERR_LEADER_NOT_AVAILABLE;
                }
        if (kerr == SL_KERR_NONE)
            return 0;
        if (!sl__cli_kerr_retriable(kerr))
            return sl__cli_fail_kerr(c, kerr, SL_SLICE_NULL);
        if (!sl__cli_backoff(c, "Metadata", kerr))
            return SL_CLI_EXIT_ERROR;
    }
}

/* Starting positions: committed offsets first, then earliest or latest for the rest. Only the
 * partitions with position < 0 are looked up (all at start; one after OFFSET_OUT_OF_RANGE). */
static int reset_positions(consumer_t *k, bool use_committed)
{
    sl_cli_client_t *c = k->c;
    sl_cli_offset_rows_t rows = {0};
    sl_slice_t topic = sl_slice_from_str(k->topic);
    for (int32_t i = 0; i < k->part_count; i++) {
        sl_cli_offset_row_t *row = NULL;
        if (k->parts[i].position < 0 &&
            sl__cli_offset_row(c, &rows, topic, k->parts[i].partition, &row) != 0)
            return SL_CLI_EXIT_ERROR;
    }
    int rc = 0;
    if (use_committed && c->args->group != NULL)
        rc = sl__cli_group_committed(c, c->args->group, &rows, false);
    int64_t timestamp = c->args->from_beginning ? EARLIEST_TIMESTAMP : LATEST_TIMESTAMP;
    rc = rc != 0 ? rc : sl__cli_list_offsets(c, &rows, timestamp);
    if (rc != 0)
        return rc;
    for (size_t r = 0; r < rows.count; r++)
        for (int32_t i = 0; i < k->part_count; i++) {
            if (k->parts[i].partition != rows.rows[r].partition)
                continue;
            k->parts[i].position = rows.rows[r].committed_offset >= 0
                                       ? rows.rows[r].committed_offset
                                       : rows.rows[r].listed_offset;
            if (use_committed)
                k->parts[i].committed_offset = k->parts[i].position;
            if (k->parts[i].position < 0)
                return sl__cli_fail(c, "no offset to start partition %" PRId32 " at",
                                    k->parts[i].partition);
        }
    return 0;
}

/* ---- printing -------------------------------------------------------------------------------- */

static void append_text(sl_buf_t *line, sl_slice_t s)
{
    int rc = s.ptr != NULL ? sl_buf_append(line, s.ptr, s.len) : sl_buf_append(line, "null", 4);
    (void)rc; /* a line that cannot grow is printed short; the count of records stays right */
}

static void format_text(consumer_t *k, int32_t partition, const sl_record_t *rec)
{
    const sl_cli_args_t *a = k->c->args;
    const char *sep = a->key_separator != NULL ? a->key_separator : "\t";
    sl_buf_t *line = &k->line;
    int rc = 0;
    if (a->print_offsets)
        rc = sl_buf_appendf(line, "%" PRId32 "/%" PRId64 "%s", partition, rec->offset, sep);
    if (a->print_keys) {
        append_text(line, rec->key);
        rc |= sl_buf_append(line, sep, strlen(sep));
    }
    if (a->print_headers) {
        sl_slice_t headers = rec->headers;
        sl_record_header_t h;
        for (int32_t i = 0; i < rec->header_count && sl_record_header_next(&headers, &h) == 0;
             i++) {
            rc |= i > 0 ? sl_buf_append(line, ",", 1) : 0;
            append_text(line, h.key);
            rc |= sl_buf_append(line, ":", 1);
            append_text(line, h.value);
        }
        if (rec->header_count == 0)
            rc |= sl_buf_append(line, "NO_HEADERS", 10);
        rc |= sl_buf_append(line, sep, strlen(sep));
    }
    append_text(line, rec->value);
    (void)rc; /* see append_text */
}

static void format_json(consumer_t *k, int32_t partition, const sl_record_t *rec)
{
    sl_cli_json_t j;
    sl__cli_json_init(&j, &k->line);
    sl__cli_json_object_begin(&j);
    sl__cli_json_key(&j, "partition");
    sl__cli_json_int(&j, partition);
    sl__cli_json_key(&j, "offset");
    sl__cli_json_int(&j, rec->offset);
    sl__cli_json_key(&j, "timestamp");
    sl__cli_json_int(&j, rec->timestamp);
    sl__cli_json_key(&j, "key");
    sl__cli_json_string(&j, rec->key);
    sl__cli_json_key(&j, "value");
    sl__cli_json_string(&j, rec->value);
    sl__cli_json_key(&j, "headers");
    sl__cli_json_array_begin(&j);
    sl_slice_t headers = rec->headers;
    sl_record_header_t h;
    for (int32_t i = 0; i < rec->header_count && sl_record_header_next(&headers, &h) == 0; i++) {
        sl__cli_json_object_begin(&j);
        sl__cli_json_key(&j, "key");
        sl__cli_json_string(&j, h.key);
        sl__cli_json_key(&j, "value");
        sl__cli_json_string(&j, h.value);
        sl__cli_json_object_end(&j);
    }
    sl__cli_json_array_end(&j);
    sl__cli_json_object_end(&j);
}

typedef struct {
    consumer_t *k;
    assigned_t *part;
} batch_ctx_t;

static int print_record(const sl_record_t *rec, void *data)
{
    batch_ctx_t *ctx = data;
    consumer_t *k = ctx->k;
    if (rec->offset < ctx->part->position)
        return 0; /* a compressed batch starts before the position */
    if (done(k))
        return 1;
    k->line.len = 0;
    if (k->c->args->output == SL_CLI_OUTPUT_JSON)
        format_json(k, ctx->part->partition, rec);
    else
        format_text(k, ctx->part->partition, rec);
    if (fwrite(k->line.ptr, 1, k->line.len, stdout) != k->line.len || fputc('\n', stdout) == EOF)
        return -EIO;
    ctx->part->position = rec->offset + 1;
    k->printed++;
    k->last_record_ms = sl_clock_monotonic_ms();
    return 0;
}

/* Prints the records of one partition's fetched bytes (whole batches; a partial last one is
 * fetched again from its start). */
static int print_batches(consumer_t *k, assigned_t *part, sl_slice_t records)
{
    size_t pos = 0;
    while (records.ptr != NULL && records.len - pos >= SL_RECORD_BATCH_HEADER_BYTES && !done(k)) {
        sl_record_batch_t b;
        int rc = sl_record_batch_parse(records.ptr + pos, records.len - pos, &b);
        if (rc == SL_EINCOMPLETE)
            break;
        if (rc != 0)
            return sl__cli_fail(k->c,
                                "partition %" PRId32 ": unreadable batch at offset %" PRId64 ": %s",
                                part->partition, part->position, sl_strerror(rc));
        int64_t next = b.base_offset + b.last_offset_delta + 1;
        if ((b.attributes & SL_RECORD_BATCH_CONTROL) == 0) {
            batch_ctx_t ctx = {k, part};
            rc = sl_records_iterate(records.ptr + pos, records.len - pos, &k->scratch, print_record,
                                    &ctx);
            if (rc < 0)
                return sl__cli_fail(k->c, "partition %" PRId32 ": %s", part->partition,
                                    rc == -EIO ? "cannot write the output" : sl_strerror(rc));
        }
        if (!done(k) && next > part->position)
            part->position = next; /* skip control records and the tail of a stopped batch */
        pos += sl_record_batch_size(&b);
    }
    return 0;
}

/* ---- fetching -------------------------------------------------------------------------------- */

static int fetch_request(consumer_t *k, int32_t leader_id, sl_fetch_response_t *resp, int32_t *sent)
{
    sl_cli_client_t *c = k->c;
    sl_cli_conn_t *conn = NULL;
    int16_t version = 0;
    /* v13+ names topics by id; up to v12 by name, which every broker since 2.x still takes. */
    int rc = sl__cli_prepare(c, leader_id, SL_API_FETCH, 4, 12, &conn, &version);
    if (rc != 0)
        return rc;
    sl_fetch_request_fetch_partition_t *parts =
        sl_arena_alloc(&c->arena, (size_t)k->part_count * sizeof *parts);
    if (parts == NULL)
        return sl__cli_fail(c, "out of memory");
    int32_t n = 0;
    for (int32_t i = 0; i < k->part_count; i++) {
        if (k->parts[i].leader_id != leader_id)
            continue;
        sl_message_init(&sl_fetch_request_fetch_partition_desc, &parts[n]);
        parts[n].partition = k->parts[i].partition;
        parts[n].fetch_offset = k->parts[i].position;
        parts[n].partition_max_bytes = PARTITION_FETCH_BYTES;
        n++;
    }
    *sent = n;
    if (n == 0)
        return 0;
    sl_fetch_request_fetch_topic_t topic;
    sl_message_init(&sl_fetch_request_fetch_topic_desc, &topic);
    topic.topic = sl_slice_from_str(k->topic);
    topic.partitions = parts;
    topic.partitions_count = n;
    sl_fetch_request_t req;
    sl_fetch_request_init(&req);
    req.replica_id = -1;
    req.max_wait_ms = FETCH_WAIT_MS_MAX;
    if (c->args->timeout_given)
        req.max_wait_ms = (int32_t)SL_MIN(c->args->timeout_ms, FETCH_WAIT_MS_MAX);
    req.min_bytes = 1;
    req.max_bytes = (int32_t)SL_CLI_FETCH_BYTES_MAX;
    req.topics = &topic;
    req.topics_count = 1;
    return sl__cli_call(c, conn, SL_API_FETCH, version, &req, resp);
}

static int handle_partition(consumer_t *k, const sl_fetch_response_partition_data_t *pd,
                            bool *refresh)
{
    assigned_t *part = NULL;
    for (int32_t i = 0; i < k->part_count && part == NULL; i++)
        if (k->parts[i].partition == pd->partition_index)
            part = &k->parts[i];
    if (part == NULL)
        return 0;
    if (pd->error_code == SL_KERR_OFFSET_OUT_OF_RANGE) {
        part->position = -1; /* deleted or truncated under us: start over as asked */
        *refresh = true;
        return 0;
    }
    if (sl__cli_kerr_retriable(pd->error_code) ||
        pd->error_code == SL_KERR_UNKNOWN_TOPIC_OR_PARTITION) {
        *refresh = true;
        return sl__cli_backoff(k->c, "Fetch", pd->error_code) ? 0 : SL_CLI_EXIT_ERROR;
    }
    if (pd->error_code != SL_KERR_NONE)
        return sl__cli_fail_kerr(k->c, pd->error_code, SL_SLICE_NULL);
    return print_batches(k, part, pd->records);
}

static int fetch_round(consumer_t *k, bool *refresh)
{
    int32_t leaders_done[SL_CLI_NODES_MAX];
    size_t done_count = 0;
    for (int32_t i = 0; i < k->part_count && !done(k); i++) {
        int32_t leader = k->parts[i].leader_id;
        bool seen = false;
        for (size_t d = 0; d < done_count && !seen; d++)
            seen = leaders_done[d] == leader;
        if (seen || done_count == SL_CLI_NODES_MAX)
            continue;
        leaders_done[done_count++] = leader;
        sl_fetch_response_t resp;
        int32_t sent = 0;
        sl__cli_client_restart_deadline(k->c);
        k->c->deadline_ms += FETCH_WAIT_MS_MAX;
        int rc = fetch_request(k, leader, &resp, &sent);
        if (rc != 0)
            return rc;
        if (sent > 0 && resp.error_code != SL_KERR_NONE)
            return sl__cli_fail_kerr(k->c, resp.error_code, SL_SLICE_NULL);
        for (int32_t t = 0; sent > 0 && t < resp.responses_count; t++)
            for (int32_t p = 0; p < resp.responses[t].partitions_count; p++) {
                rc = handle_partition(k, &resp.responses[t].partitions[p], refresh);
                if (rc != 0)
                    return rc;
            }
    }
    return fflush(stdout) == 0 ? 0 : sl__cli_fail(k->c, "cannot write the output");
}

/* ---- commit ---------------------------------------------------------------------------------- */

static int commit(consumer_t *k)
{
    sl_cli_client_t *c = k->c;
    sl__cli_client_restart_deadline(c);
    for (;;) {
        sl_cli_conn_t *conn = NULL;
        int16_t version = 0;
        int rc = sl__cli_coordinator(c, c->args->group, &conn);
        rc = rc != 0 ? rc : sl__cli_version(c, conn, SL_API_OFFSET_COMMIT, 2, 9, &version);
        if (rc != 0)
            return rc;
        sl_offset_commit_request_partition_t *parts =
            sl_arena_alloc(&c->arena, (size_t)k->part_count * sizeof *parts);
        if (parts == NULL)
            return sl__cli_fail(c, "out of memory");
        int32_t n = 0;
        for (int32_t i = 0; i < k->part_count; i++) {
            if (k->parts[i].position < 0 || k->parts[i].position == k->parts[i].committed_offset)
                continue;
            sl_message_init(&sl_offset_commit_request_partition_desc, &parts[n]);
            parts[n].partition_index = k->parts[i].partition;
            parts[n].committed_offset = k->parts[i].position;
            parts[n].committed_metadata = sl_slice_from_str("");
            n++;
        }
        if (n == 0)
            return 0;
        sl_offset_commit_request_topic_t topic = {
            .name = sl_slice_from_str(k->topic), .partitions = parts, .partitions_count = n};
        sl_offset_commit_request_t req;
        sl_offset_commit_response_t resp;
        sl_offset_commit_request_init(&req);
        req.group_id = sl_slice_from_str(c->args->group);
        req.generation_id_or_member_epoch = -1; /* a standalone commit: no group membership */
        req.member_id = sl_slice_from_str("");
        req.topics = &topic;
        req.topics_count = 1;
        rc = sl__cli_call(c, conn, SL_API_OFFSET_COMMIT, version, &req, &resp);
        if (rc != 0)
            return rc;
        int16_t kerr = SL_KERR_NONE;
        for (int32_t t = 0; t < resp.topics_count; t++)
            for (int32_t p = 0; p < resp.topics[t].partitions_count; p++)
                if (resp.topics[t].partitions[p].error_code != SL_KERR_NONE)
                    kerr = resp.topics[t].partitions[p].error_code;
        if (kerr == SL_KERR_NONE)
            return 0;
        if (!sl__cli_kerr_retriable(kerr))
            return sl__cli_fail_kerr(c, kerr, SL_SLICE_NULL);
        if (!sl__cli_backoff(c, "OffsetCommit", kerr))
            return SL_CLI_EXIT_ERROR;
    }
}

static int consume_loop(consumer_t *k)
{
    int rc = load_partitions(k);
    rc = rc != 0 ? rc : reset_positions(k, true);
    sl_arena_reset(&k->c->arena);
    k->last_record_ms = sl_clock_monotonic_ms();
    while (rc == 0 && !done(k)) {
        bool refresh = false;
        rc = fetch_round(k, &refresh);
        sl_arena_reset(&k->c->arena);
        if (rc == 0 && refresh) {
            sl__cli_client_restart_deadline(k->c);
            rc = load_partitions(k);
            rc = rc != 0 ? rc : reset_positions(k, false);
            sl_arena_reset(&k->c->arena);
        }
    }
    return rc;
}

int sl__cli_consume(sl_cli_client_t *c)
{
    consumer_t k = {.c = c, .topic = c->args->positionals[0]};
    sl_records_scratch_init(&k.scratch);
    sl_buf_init(&k.line, 0);
    int rc = consume_loop(&k);
    if (rc != 0 && sl__cli_interrupted) {
        rc = 0; /* Ctrl-C while waiting for a fetch: the normal way to stop */
        c->error[0] = '\0';
    }
    if (c->args->group != NULL && k.parts != NULL) {
        int commit_rc = commit(&k); /* also after an error: keep what was printed */
        rc = rc != 0 ? rc : commit_rc;
    }
    fprintf(stderr, "Processed a total of %" PRId64 " messages\n", k.printed);
    sl_buf_deinit(&k.line);
    sl_buf_deinit(&k.scratch);
    sl_free(k.parts);
    return rc;
}
