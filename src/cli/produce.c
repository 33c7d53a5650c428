/* produce: `sluice produce TOPIC` sends stdin's lines as records: one record per line (the newline
 * removed), split into key and value at the first --key-separator, on --partition, on the key's
 * partition (Kafka's murmur2 partitioner) or, for unkeyed lines, on one partition picked at random
 * per run (like Kafka's sticky partitioner). Lines are batched per partition (one batch v2 each,
 * uncompressed) and a Produce request goes to each leader when a batch fills or stdin ends.
 * Invariant: a record counts as produced only when its leader acknowledged it (acks=0: sent). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

typedef struct {
    int32_t partition;
    int32_t leader_id;
    sl_cli_batch_t batch;
    int64_t first_offset; /* -1 until acknowledged */
    int64_t record_count; /* acknowledged (or sent with acks=0) */
} partition_state_t;

typedef struct {
    sl_cli_client_t *c;
    const char *topic;
    partition_state_t *parts;
    int32_t part_count;
    int32_t sticky_partition;
    size_t pending_bytes;
} producer_t;

static int load_partitions(producer_t *p)
{
    sl_cli_client_t *c = p->c;
    sl_slice_t name = sl_slice_from_str(p->topic);
    for (;;) {
        sl_metadata_response_t *md = NULL;
        int rc = sl__cli_metadata(c, &name, 1, &md, NULL);
        if (rc != 0)
            return rc;
        int16_t kerr =
            md->topics_count == 1 ? md->topics[0].error_code : SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        for (int32_t i = 0; kerr == SL_KERR_NONE && i < md->topics[0].partitions_count; i++)
            if (md->topics[0].partitions[i].leader_id < 0)
                kerr = SL_KERR_LEADER_NOT_AVAILABLE;
        if (kerr == SL_KERR_NONE) {
            const sl_metadata_response_topic_t *t = &md->topics[0];
            if (p->parts == NULL) {
                p->part_count = t->partitions_count;
                p->parts = sl_calloc((size_t)SL_MAX(p->part_count, 1), sizeof *p->parts);
                if (p->parts == NULL)
                    return sl__cli_fail(c, "out of memory");
                for (int32_t i = 0; i < p->part_count; i++) {
                    p->parts[i].partition = i;
                    p->parts[i].first_offset = -1;
                    sl__cli_batch_init(&p->parts[i].batch, sl_clock_realtime_ms());
                }
            }
            for (int32_t i = 0; i < t->partitions_count; i++) {
                int32_t index = t->partitions[i].partition_index;
                if (index >= 0 && index < p->part_count)
                    p->parts[index].leader_id = t->partitions[i].leader_id;
            }
            return 0;
        }
        if (kerr == SL_KERR_UNKNOWN_TOPIC_OR_PARTITION)
            return sl__cli_fail(c, "UNKNOWN_TOPIC_OR_PARTITION: Topic '%s' does not exist",
                                p->topic);
        if (!sl__cli_kerr_retriable(kerr))
            return sl__cli_fail_kerr(c, kerr, SL_SLICE_NULL);
        if (!sl__cli_backoff(c, "Metadata", kerr))
            return SL_CLI_EXIT_ERROR;
    }
}

/* One Produce request with every pending batch led by leader_id; *retry set when a partition must
 * be sent again after a metadata refresh. */
static int send_to_leader(producer_t *p, int32_t leader_id, bool *retry)
{
    sl_cli_client_t *c = p->c;
    sl_cli_conn_t *conn = NULL;
    int16_t version = 0;
    int rc = sl__cli_prepare(c, leader_id, SL_API_PRODUCE, 3, 11, &conn, &version);
    if (rc != 0)
        return rc;
    sl_partition_produce_data_t *data =
        sl_arena_alloc(&c->arena, (size_t)p->part_count * sizeof *data);
    if (data == NULL)
        return sl__cli_fail(c, "out of memory");
    int32_t n = 0;
    for (int32_t i = 0; i < p->part_count; i++) {
        partition_state_t *ps = &p->parts[i];
        if (ps->leader_id != leader_id || ps->batch.record_count == 0)
            continue;
        sl__cli_batch_finish(&ps->batch);
        data[n].index = ps->partition;
        data[n].records = (sl_slice_t){ps->batch.buf.ptr, ps->batch.buf.len};
        n++;
    }
    if (n == 0)
        return 0;
    sl_topic_produce_data_t topic = {
        .name = sl_slice_from_str(p->topic), .partition_data = data, .partition_data_count = n};
    sl_produce_request_t req;
    sl_produce_response_t resp;
    sl_produce_request_init(&req);
    req.acks = c->args->acks;
    req.timeout_ms = (int32_t)SL_MIN(c->args->timeout_ms, INT32_MAX);
    req.topic_data = &topic;
    req.topic_data_count = 1;
    rc = sl__cli_call(c, conn, SL_API_PRODUCE, version, &req, req.acks == 0 ? NULL : &resp);
    if (rc != 0)
        return rc;
    if (req.acks == 0) {
        for (int32_t i = 0; i < n; i++) {
            partition_state_t *ps = &p->parts[data[i].index];
            ps->record_count += ps->batch.record_count;
            ps->batch.record_count = 0;
            ps->batch.buf.len = 0;
        }
        return 0;
    }
    for (int32_t t = 0; t < resp.responses_count; t++)
        for (int32_t i = 0; i < resp.responses[t].partition_responses_count; i++) {
            const sl_partition_produce_response_t *pr = &resp.responses[t].partition_responses[i];
            if (pr->index < 0 || pr->index >= p->part_count)
                continue;
            partition_state_t *ps = &p->parts[pr->index];
            if (pr->error_code == SL_KERR_NONE) {
                if (ps->first_offset < 0)
                    ps->first_offset = pr->base_offset;
                ps->record_count += ps->batch.record_count;
                ps->batch.record_count = 0;
                ps->batch.buf.len = 0;
            } else if (sl__cli_kerr_retriable(pr->error_code)) {
                *retry = true;
                if (!sl__cli_backoff(c, "Produce", pr->error_code))
                    return SL_CLI_EXIT_ERROR;
            } else {
                return sl__cli_fail_kerr(c, pr->error_code, pr->error_message);
            }
        }
    return 0;
}

static int flush(producer_t *p)
{
    sl__cli_client_restart_deadline(p->c);
    for (;;) {
        bool retry = false;
        int32_t leaders_done[SL_CLI_NODES_MAX];
        size_t done = 0;
        for (int32_t i = 0; i < p->part_count; i++) {
            int32_t leader = p->parts[i].leader_id;
            bool seen = p->parts[i].batch.record_count == 0;
            for (size_t k = 0; k < done && !seen; k++)
                seen = leaders_done[k] == leader;
            if (seen || done == SL_CLI_NODES_MAX)
                continue;
            leaders_done[done++] = leader;
            int rc = send_to_leader(p, leader, &retry);
            if (rc != 0)
                return rc;
        }
        sl_arena_reset(&p->c->arena);
        if (!retry)
            break;
        int rc = load_partitions(p); /* the leader moved: ask where it went */
        if (rc != 0)
            return rc;
    }
    p->pending_bytes = 0;
    return 0;
}

static int choose_partition(producer_t *p, sl_slice_t key, int32_t *out)
{
    const sl_cli_args_t *a = p->c->args;
    if (a->partition >= 0) {
        if (a->partition >= p->part_count)
            return sl__cli_fail(p->c,
                                "UNKNOWN_TOPIC_OR_PARTITION: topic %s has %" PRId32
                                " partitions, no partition %" PRId32,
                                p->topic, p->part_count, a->partition);
        *out = a->partition;
    } else if (key.ptr != NULL) {
        *out = sl__cli_partition_for_key(key, p->part_count);
    } else {
        *out = p->sticky_partition;
    }
    return 0;
}

static int produce_line(producer_t *p, const char *line, size_t len, int64_t line_number)
{
    const char *sep = p->c->args->key_separator;
    sl_slice_t key = SL_SLICE_NULL, value = {(const uint8_t *)line, len};
    if (sep != NULL) {
        const char *at = memmem(line, len, sep, strlen(sep));
        if (at == NULL)
            return sl__cli_fail(p->c, "no key separator \"%s\" on line %" PRId64, sep, line_number);
        key = (sl_slice_t){(const uint8_t *)line, (size_t)(at - line)};
        value = (sl_slice_t){(const uint8_t *)at + strlen(sep), len - key.len - strlen(sep)};
    }
    int32_t partition = 0;
    int rc = choose_partition(p, key, &partition);
    if (rc != 0)
        return rc;
    if (sl__cli_batch_append(&p->parts[partition].batch, key, value) != 0)
        return sl__cli_fail(p->c, "out of memory");
    p->pending_bytes += len + 16;
    return p->pending_bytes >= SL_CLI_BATCH_BYTES_MAX ? flush(p) : 0;
}

static int report(producer_t *p)
{
    sl_cli_client_t *c = p->c;
    int64_t total = 0;
    for (int32_t i = 0; i < p->part_count; i++)
        total += p->parts[i].record_count;
    sl_cli_doc_t doc;
    sl_cli_json_t *j = &doc.json;
    sl__cli_doc_init(&doc);
    sl__cli_json_object_begin(j);
    sl__cli_json_key(j, "topic");
    sl__cli_json_cstr(j, p->topic);
    sl__cli_json_key(j, "records");
    sl__cli_json_int(j, total);
    sl__cli_json_key(j, "partitions");
    sl__cli_json_array_begin(j);
    for (int32_t i = 0; i < p->part_count; i++) {
        const partition_state_t *ps = &p->parts[i];
        if (ps->record_count == 0)
            continue;
        sl__cli_json_object_begin(j);
        sl__cli_json_key(j, "partition");
        sl__cli_json_int(j, ps->partition);
        sl__cli_json_key(j, "base_offset");
        if (ps->first_offset >= 0)
            sl__cli_json_int(j, ps->first_offset);
        else
            sl__cli_json_null(j); /* acks=0: the broker does not say */
        sl__cli_json_key(j, "records");
        sl__cli_json_int(j, ps->record_count);
        sl__cli_json_object_end(j);
    }
    sl__cli_json_array_end(j);
    sl__cli_json_object_end(j);
    bool json = c->args->output == SL_CLI_OUTPUT_JSON;
    if (!json)
        fprintf(stderr, "Produced %" PRId64 " records to %s.\n", total, p->topic);
    return sl__cli_doc_finish(c, &doc, json, 0);
}

/* Reads stdin a byte at a time into a bounded line buffer (getc_unlocked is buffered by stdio). */
static int read_lines(producer_t *p)
{
    sl_buf_t line;
    sl_buf_init(&line, SL_CLI_LINE_BYTES_MAX + 1);
    int64_t line_number = 0;
    int rc = 0;
    while (rc == 0 && !sl__cli_interrupted) {
        int ch = getc_unlocked(stdin);
        if (ch != EOF && ch != '\n') {
            uint8_t byte = (uint8_t)ch;
            if (sl_buf_append(&line, &byte, 1) != 0)
                rc = sl__cli_fail(p->c, "line %" PRId64 " is longer than %zu bytes",
                                  line_number + 1, SL_CLI_LINE_BYTES_MAX);
            continue;
        }
        if (ch == EOF && line.len == 0)
            break;
        line_number++;
        rc = produce_line(p, line.len > 0 ? (char *)line.ptr : "", line.len, line_number);
        line.len = 0;
        if (ch == EOF)
            break;
    }
    if (rc == 0 && ferror(stdin))
        rc = sl__cli_fail(p->c, "cannot read stdin: %s", sl_strerror(-errno));
    sl_buf_deinit(&line);
    return rc;
}

int sl__cli_produce(sl_cli_client_t *c)
{
    producer_t p = {.c = c, .topic = c->args->positionals[0]};
    int rc = load_partitions(&p);
    if (rc != 0)
        return rc;
    if (p.part_count <= 0)
        return sl__cli_fail(c, "topic %s has no partitions", p.topic);
    sl_uuid_t random;
    if (sl_uuid_random(&random) != 0)
        random.bytes[0] = 0;
    p.sticky_partition = (int32_t)(random.bytes[0] | random.bytes[1] << 8) % p.part_count;
    rc = read_lines(&p);
    rc = rc != 0 ? rc : flush(&p);
    rc = rc != 0 ? rc : report(&p);
    for (int32_t i = 0; i < p.part_count; i++)
        sl__cli_batch_deinit(&p.parts[i].batch);
    sl_free(p.parts);
    return rc;
}
